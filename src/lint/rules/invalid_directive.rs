//! `invalid-directive`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "invalid-directive",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a -- runner: directive that cannot be honoured",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags `-- runner:` directives runner cannot honour: an unknown name, `irreversible` without a
reason, a phase other than `expand` or `contract`, a file-level directive below the first
statement, a directive given twice, `irreversible` or `phase` in a rollback file, and
`irreversible` on a migration that has a `.down.sql`.

## Why is this bad?
A misspelt `-- runner:no-transacton` is otherwise a comment: the file would run in a
transaction it was written to avoid. A directive must either work or fail loudly.

## Example
```sql
-- runner:irreversible
-- runner:phase cleanup
DROP TABLE legacy;
```

## Use instead
```sql
-- runner:irreversible legacy held no rows since 2024
-- runner:phase contract
DROP TABLE legacy;
```
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_each_bad_directive() {
        assert_eq!(folder_findings("bad_directives", "invalid-directive").len(), 4);
        assert_eq!(folder_findings("irreversible_with_rollback", "invalid-directive").len(), 1);
    }

    #[test]
    fn quiet_on_valid_directives() {
        assert!(folder_findings("valid", "invalid-directive").is_empty());
    }
}
