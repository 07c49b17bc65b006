//! `invalid-migration-name`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "invalid-migration-name",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a .sql file runner will not run because of its name or place",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags `.sql` files in the migrations folder whose name is not `V{version}__{name}.sql` or
`V{version}__{name}.down.sql`: a `U` (undo) or `R` (repeatable) prefix, an `.up.sql` suffix, a
single underscore, a lower-case `v`, a dotted version, a name with `-` or spaces, and `.sql`
files in subfolders.

## Why is this bad?
refinery skips names it does not match, so the migration never runs and nobody notices; worse,
it runs a `U` file forward as an "unversioned" migration, so a Flyway-style undo script is
applied as if it were a change.

## Example
```
migrations/U0042__add_status.sql
migrations/V0043_add_coupon.sql
migrations/2026/V0044__add_index.sql
```

## Use instead
```
migrations/V0042__add_status.down.sql
migrations/V0043__add_coupon.sql
migrations/V0044__add_index.sql
```
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_each_bad_name_and_subfolder() {
        assert_eq!(folder_findings("bad_names", "invalid-migration-name").len(), 5);
        assert_eq!(folder_findings("undo_prefix", "invalid-migration-name").len(), 1);
        assert_eq!(folder_findings("subfolder", "invalid-migration-name").len(), 1);
    }

    #[test]
    fn quiet_on_valid_names() {
        assert!(folder_findings("valid", "invalid-migration-name").is_empty());
    }
}
