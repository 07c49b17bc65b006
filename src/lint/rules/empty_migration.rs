//! `empty-migration`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "empty-migration",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a forward migration with no statement (only comments), such as an untouched `runner new` template",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags a forward migration that holds no SQL statement: only comments and whitespace, as
`runner new` writes it before you fill it in.

## Why is this bad?
Applied, it would be recorded as done while changing nothing. The change it was meant to hold
then never runs anywhere, and its version is taken: the SQL written into it later is refused as
an edit of an applied migration.

## Example
```sql
-- V0012__add_status.sql
-- Write the forward migration here.
```

## Use instead
Write the migration's statements, or delete the file (and its `.down.sql`) until you do.

```sql
ALTER TABLE orders ADD COLUMN status text;
```
"#;

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::config::Dialect;
    use crate::lint::{Options, check_catalog};

    fn findings(forward: &str) -> usize {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V1__a.sql"), forward).unwrap();
        std::fs::write(dir.path().join("V1__a.down.sql"), "-- nothing to undo\n").unwrap();
        let catalog = Catalog::scan(dir.path()).unwrap();
        check_catalog(&catalog, &Options::new(Dialect::Postgres))
            .findings
            .iter()
            .filter(|f| f.rule.id() == "empty-migration")
            .count()
    }

    #[test]
    fn fires_on_a_file_of_comments_only() {
        assert_eq!(findings("-- Write the forward migration here.\n\n/* later */\n"), 1);
    }

    #[test]
    fn quiet_on_a_file_with_a_statement() {
        assert_eq!(findings("-- add it\nCREATE TABLE a (id int);\n"), 0);
    }
}
