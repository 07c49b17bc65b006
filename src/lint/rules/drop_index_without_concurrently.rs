//! `drop-index-without-concurrently`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "drop-index-without-concurrently",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "DROP INDEX without CONCURRENTLY blocks reads and writes of the table",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `DROP INDEX` without `CONCURRENTLY`, unless the index was created earlier in the same
file.

## Why is this bad?
A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table. If a long query holds
the table, the DROP waits, and every query that arrives after it waits behind it.

## Example
```sql
DROP INDEX orders_status_idx;
```

## Use instead
```sql
DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;
```
runner runs a file with CONCURRENTLY statement by statement, outside a transaction.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::DropIndex {
        names,
        concurrently: false,
        ..
    } = op
    else {
        return None;
    };
    let old: Vec<&str> = names
        .iter()
        .filter(|n| !ctx.created_indexes.contains(&ctx.schema.resolve(n)))
        .map(String::as_str)
        .collect();
    if old.is_empty() {
        return None;
    }
    Hit::new(
        format!("drops index {} without CONCURRENTLY: its table is locked against reads and writes meanwhile", old.join(", ")),
        "use DROP INDEX CONCURRENTLY; runner then runs the file outside a transaction",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_plain_drop_index() {
        fires(&RULE, Postgres, "DROP INDEX orders_status_idx;");
    }

    #[test]
    fn quiet_when_concurrent_or_created_in_the_same_file() {
        quiet(&RULE, Postgres, "DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nDROP INDEX t_a;");
        quiet(&RULE, Sqlite, "DROP INDEX orders_status_idx;");
    }
}
