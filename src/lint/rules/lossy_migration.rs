//! `lossy-migration`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "lossy-migration",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "the migration destroys data its rollback cannot restore (warning; runner verify)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Reported by `runner verify` and `runner check --verify` for a migration whose forward script
drops a column, table or schema, truncates, deletes rows, or changes a column's type. Its
rollback may restore the schema exactly; it cannot restore the rows or values. A warning, or an
error with `runner verify --strict`.

## Why is this bad?
"We can roll back" is true of the schema and false of the data: after the rollback the column
is back, empty.

## Example
```sql
ALTER TABLE users DROP COLUMN legacy_name;
```

## Use instead
Keep destructive steps in contract migrations that run after the release that stopped using the
data has proven itself, with a backup, and mark them for what they are:
```sql
-- runner:phase contract
-- runner:irreversible legacy_name archived to the warehouse in OPS-12
ALTER TABLE users DROP COLUMN legacy_name;
```
"#;
