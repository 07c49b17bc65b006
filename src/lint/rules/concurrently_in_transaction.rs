//! `concurrently-in-transaction`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "concurrently-in-transaction",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "CONCURRENTLY cannot run inside a transaction block",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` and `REINDEX ... CONCURRENTLY`
inside an explicit `BEGIN ... COMMIT` block.

## Why is this bad?
PostgreSQL refuses them in a transaction block ("cannot run inside a transaction block"): the
migration fails at deploy time. runner already runs a file holding CONCURRENTLY statement by
statement, outside any transaction; an explicit BEGIN defeats that.

## Example
```sql
BEGIN;
CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
COMMIT;
```

## Use instead
Drop the BEGIN/COMMIT, and keep CONCURRENTLY statements in files of their own:
```sql
CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let what = match op {
        Op::CreateIndex {
            concurrently: true,
            ..
        } => "CREATE INDEX CONCURRENTLY",
        Op::DropIndex {
            concurrently: true,
            ..
        } => "DROP INDEX CONCURRENTLY",
        Op::Reindex {
            concurrently: true,
            ..
        } => "REINDEX CONCURRENTLY",
        _ => return None,
    };
    if !ctx.explicit_transaction {
        return None;
    }
    Hit::new(
        format!("{what} inside BEGIN ... COMMIT: PostgreSQL refuses it in a transaction block"),
        "remove the explicit BEGIN/COMMIT; runner runs CONCURRENTLY statements outside a transaction",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_inside_an_explicit_block() {
        fires(&RULE, Postgres, "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;");
        fires(&RULE, Postgres, "START TRANSACTION;\nREINDEX INDEX CONCURRENTLY i;\nCOMMIT;");
    }

    #[test]
    fn quiet_outside_a_block() {
        quiet(&RULE, Postgres, "CREATE INDEX CONCURRENTLY i ON t (a);");
        quiet(&RULE, Postgres, "BEGIN;\nCOMMIT;\nDROP INDEX CONCURRENTLY i;");
    }
}
