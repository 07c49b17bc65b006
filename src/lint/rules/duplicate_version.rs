//! `duplicate-version`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "duplicate-version",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "two migrations with one version",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags two forward migrations with the same version, such as `V42__a.sql` and `V0042__b.sql`.

## Why is this bad?
The order between them is undefined, the history can record only one of them under that
version, and databases that applied one will refuse or skip the other. It happens when two
branches each add "the next" migration.

## Example
```
migrations/V0042__add_status.sql
migrations/V0042__add_coupon.sql
```

## Use instead
Renumber the one that has not been applied anywhere yet to the next free version:
```
migrations/V0043__add_coupon.sql
```
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_both_files_of_a_duplicate_version() {
        assert_eq!(folder_findings("duplicate_version", "duplicate-version").len(), 2);
    }

    #[test]
    fn quiet_when_versions_are_unique() {
        assert!(folder_findings("valid", "duplicate-version").is_empty());
    }
}
