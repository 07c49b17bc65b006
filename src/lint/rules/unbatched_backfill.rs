//! `unbatched-backfill`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "unbatched-backfill",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "UPDATE or DELETE without WHERE locks every row of the table in one transaction",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `UPDATE` and `DELETE` without a `WHERE` clause on a table that existed before this
migration.

## Why is this bad?
One statement touches every row: it holds a row lock on each until the migration commits, so
every concurrent write to the table waits; it writes a new version of every row (bloat, a WAL
burst that replicas must replay); and on a large table it runs for minutes inside the deploy.

## Example
```sql
UPDATE orders SET currency = 'EUR';
```

## Use instead
Backfill in batches, each in its own short transaction, outside the schema migration (a job,
or a `-- runner:no-transaction` migration with bounded statements):
```sql
UPDATE orders SET currency = 'EUR'
WHERE id IN (SELECT id FROM orders WHERE currency IS NULL LIMIT 10000);
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let (verb, table) = match op {
        Op::Update {
            table,
            has_where: false,
        } => ("updates", table),
        Op::Delete {
            table,
            has_where: false,
        } => ("deletes", table),
        _ => return None,
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("{verb} every row of {table} in one statement: each row stays locked until the migration commits"),
        "backfill in batches of bounded size (WHERE id IN (... LIMIT n)), each in its own transaction",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_update_and_delete_without_where() {
        fires(&RULE, Postgres, "UPDATE orders SET currency = 'EUR';");
        fires(&RULE, Postgres, "DELETE FROM sessions;");
    }

    #[test]
    fn quiet_with_a_where_or_on_a_new_table_or_inside_a_function() {
        quiet(&RULE, Postgres, "UPDATE orders SET currency = 'EUR' WHERE id < 1000;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nUPDATE t SET a = 1;");
        quiet(&RULE, Postgres, "CREATE FUNCTION f() RETURNS void AS $$ UPDATE orders SET n = 0; $$ LANGUAGE sql;");
    }
}
