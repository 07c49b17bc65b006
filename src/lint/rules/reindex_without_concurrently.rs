//! `reindex-without-concurrently`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "reindex-without-concurrently",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "REINDEX without CONCURRENTLY blocks writes to the table for the whole rebuild",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `REINDEX` (of an index, a table, a schema or the database) without `CONCURRENTLY`.

## Why is this bad?
A plain REINDEX takes a SHARE lock on the table (and an ACCESS EXCLUSIVE lock on the index
being rebuilt): every INSERT, UPDATE and DELETE waits until the rebuild ends, and queries that
would use the index wait too.

## Example
```sql
REINDEX INDEX orders_status_idx;
```

## Use instead
PostgreSQL 12 and later rebuild concurrently; runner sees CONCURRENTLY and runs the file
statement by statement, outside a transaction:
```sql
REINDEX INDEX CONCURRENTLY orders_status_idx;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::Reindex {
        concurrently: false,
        target,
    } = op
    else {
        return None;
    };
    let help = if ctx.postgres_version >= 12 {
        "use REINDEX ... CONCURRENTLY (PostgreSQL 12+); runner then runs the file outside a transaction"
    } else {
        "PostgreSQL before 12 has no REINDEX CONCURRENTLY: build a new index CONCURRENTLY, then drop the old one CONCURRENTLY"
    };
    Hit::new(
        format!("REINDEX {target} without CONCURRENTLY: writes to the table are blocked until the rebuild ends"),
        help,
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_plain_reindex() {
        let msg = fires(&RULE, Postgres, "REINDEX INDEX orders_status_idx;");
        assert!(msg.contains("REINDEX INDEX orders_status_idx"), "{msg}");
        fires(&RULE, Postgres, "REINDEX TABLE app.orders;");
    }

    #[test]
    fn quiet_when_concurrent_or_not_postgres() {
        quiet(&RULE, Postgres, "REINDEX INDEX CONCURRENTLY orders_status_idx;");
        quiet(&RULE, Postgres, "REINDEX (CONCURRENTLY) TABLE orders;");
        quiet(&RULE, Sqlite, "REINDEX orders_status_idx;");
    }
}
