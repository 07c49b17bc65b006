//! `query-breaks`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "query-breaks",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a query of the release still serving no longer prepares after the migration (check --verify)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
With `runner check --verify`, prepares the queries of the release that will still be serving
(sqlx's `.sqlx/query-*.json`, or the SQL files `[compat] queries` names, as they are at
`--since REF`) on a scratch database: on the schema before this change's migrations, then after
each of them. A query that prepared before and fails after a migration is reported on that
migration, with the database's error and the query's file and line.

## Why is this bad?
During a deploy the old release keeps serving while the migrations run, and for as long as a
canary or a blue-green switch takes. Every request that runs the query fails: the database
itself says so, no rule has to guess (an ambiguous column after an ADD COLUMN, a renamed table).

## Example
```
-- migrations/V0008__add_created_at.sql
ALTER TABLE orders ADD COLUMN created_at timestamptz;
-- the serving release runs: SELECT id FROM users JOIN orders ON orders.user_id = users.id WHERE created_at > $1
-- 42702: column reference "created_at" is ambiguous
```

## Use instead
Qualify the column in the release first (`users.created_at`), deploy it, then migrate; or name
the new column so it clashes with nothing the serving release reads.
"#;
