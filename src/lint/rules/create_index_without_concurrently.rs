//! `create-index-without-concurrently`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "create-index-without-concurrently",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "CREATE INDEX without CONCURRENTLY blocks all writes to the table while it builds",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `CREATE INDEX` without `CONCURRENTLY` on a table that existed before this migration.

## Why is this bad?
A plain CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits
until the whole index is built, minutes on a large table.

## Example
```sql
CREATE INDEX orders_status_idx ON orders (status);
```

## Use instead
Build it concurrently. runner sees CONCURRENTLY and runs the file statement by statement,
outside a transaction, as PostgreSQL requires:
```sql
CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
```
An index on a table created earlier in the same file is fine: nobody uses that table yet.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::CreateIndex {
        table,
        name,
        concurrently: false,
        ..
    } = op
    else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    let name = name.as_deref().unwrap_or("an index");
    Hit::new(
        format!("creates {name} on {table} without CONCURRENTLY: writes to {table} are blocked until it is built"),
        "use CREATE INDEX CONCURRENTLY; runner then runs the file outside a transaction",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_plain_index_of_an_existing_table() {
        fires(&RULE, Postgres, "CREATE INDEX orders_status_idx ON orders (status);");
        fires(&RULE, Postgres, "CREATE UNIQUE INDEX ON orders (ref);");
    }

    #[test]
    fn quiet_when_concurrent_on_a_new_table_or_in_sqlite() {
        quiet(&RULE, Postgres, "CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nCREATE INDEX t_a_idx ON t (a);");
        quiet(&RULE, Sqlite, "CREATE INDEX orders_status_idx ON orders (status);");
    }
}
