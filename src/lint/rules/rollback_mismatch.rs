//! `rollback-mismatch`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "rollback-mismatch",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "the rollback does not undo its migration (runner verify, check --verify)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Reported by `runner verify` and `runner check --verify`, which apply each migration on a
scratch database, run its rollback, and compare the schema with the one before the migration;
then apply the migration again. Fires when an object differs (named, with before and after),
when the rollback script fails, or when the migration fails on its second run.

## Why is this bad?
A rollback is written once and run for the first time during an incident. One that forgets an
index, drops the wrong column, leaves a constraint NOT VALID or changes a default turns the
rollback of a bad deploy into a second bad deploy.

## Example
```sql
-- V0042__add_status.sql
ALTER TABLE orders ADD COLUMN status text;
CREATE INDEX orders_created_at_idx ON orders (created_at);
-- V0042__add_status.down.sql: forgets the index
ALTER TABLE orders DROP COLUMN status;
```
runner verify: `index public.orders_created_at_idx: before (absent), after CREATE INDEX ...`

## Use instead
Undo exactly what the migration does, newest first:
```sql
DROP INDEX orders_created_at_idx;
ALTER TABLE orders DROP COLUMN status;
```
"#;
