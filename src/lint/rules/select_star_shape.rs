//! `select-star-shape`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "select-star-shape",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "a `SELECT *` of the serving release returns other columns after the migration (check --verify)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
With `runner check --verify`, warns when a query of the serving release that reads `*` returns
a different list of columns after a migration of the change (one added, for instance).

## Why is this bad?
A pooled connection keeps the statements it prepared. On PostgreSQL, when the result of a
prepared `SELECT *` changes, its next execution fails with "cached plan must not change result
type" (reported against npgsql, pgbouncer and sqlx), until the statement is prepared again.

## Example
```
ALTER TABLE users ADD COLUMN nickname text;  -- the release runs SELECT * FROM users WHERE id = $1
```

## Use instead
Name the columns the query reads, in a release deployed before the migration.
"#;
