//! `not-a-migration`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "not-a-migration",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "a file in the migrations folder that is not SQL (warning)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Warns about files in the migrations folder that do not end in `.sql`, such as a `README.md`.
Hidden files (`.gitkeep`) are ignored without a warning.

## Why is this bad?
It is not harmful, but a migration saved as `V0042__x.sql.txt` or `V0042__x.psql` would never
run: the warning makes sure it is seen.

## Example
```
migrations/V0042__add_status.psql
```

## Use instead
Rename migrations to `.sql`; keep notes elsewhere, or accept the warning.
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn warns_on_a_non_sql_file() {
        assert_eq!(folder_findings("valid", "not-a-migration").len(), 1);
    }

    #[test]
    fn quiet_when_only_migrations_are_present() {
        assert!(folder_findings("duplicate_version", "not-a-migration").is_empty());
    }
}
