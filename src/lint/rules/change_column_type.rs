//! `change-column-type`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "change-column-type",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "changing a column's type rewrites the table and can break the running release",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ALTER COLUMN ... TYPE` / `SET DATA TYPE` (and MySQL's `MODIFY`/`CHANGE COLUMN`) on a
table that existed before this migration.

## Why is this bad?
Most type changes rewrite the whole table and every index on it while holding an ACCESS
EXCLUSIVE lock (PostgreSQL) or copying the table (MySQL): reads and writes queue for the whole
rewrite. And the release serving traffic may send values the new type rejects, or read values
its code cannot handle.

## Example
```sql
ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);
```

## Use instead
Add a column of the new type, write both, backfill in batches, switch reads, then drop the old
column in a contract migration. Changes PostgreSQL does without a rewrite (such as widening a
`varchar(n)` or `varchar` to `text`) can be suppressed with a reason:
```sql
-- runner:allow change-column-type varchar(100) to text is binary-compatible: no rewrite
ALTER TABLE users ALTER COLUMN email TYPE text;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::ChangeColumnType {
        table,
        column,
        new_type,
    } = op
    else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("changes the type of {table}.{column} to {new_type}: the table may be rewritten under an exclusive lock, and the running release may send or expect the old type"),
        "add a column of the new type, backfill it in batches, switch reads, then drop the old column in a contract migration",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_type_changes() {
        let msg = fires(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total TYPE bigint;");
        assert!(msg.contains("orders.total to int8"), "{msg}");
        fires(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total SET DATA TYPE bigint;");
        fires(&RULE, Mysql, "ALTER TABLE orders MODIFY COLUMN total BIGINT;");
    }

    #[test]
    fn quiet_on_defaults_and_new_tables() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;");
    }
}
