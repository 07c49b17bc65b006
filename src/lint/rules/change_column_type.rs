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
        not_null,
    } = op
    else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    // MySQL's CHANGE COLUMN restates the column: with the type and nullability it already
    // has, it only renames (rename-column speaks for that).
    if let Some(existing) = ctx.schema.table(table).and_then(|t| t.column(column))
        && same_type(&existing.ty, new_type)
        && not_null.is_none_or(|n| n == existing.not_null)
    {
        return None;
    }
    Hit::new(
        format!("changes the type of {table}.{column} to {new_type}: the table may be rewritten under an exclusive lock, and the running release may send or expect the old type"),
        "add a column of the new type, backfill it in batches, switch reads, then drop the old column in a contract migration",
    )
}

/// Whether two spellings name the same SQL type (`int` and `integer`, `int8` and `bigint`).
pub(super) fn same_type(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

fn canonical(ty: &str) -> String {
    let ty = ty.to_ascii_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    let (base, rest) = match ty.find('(') {
        Some(i) => (ty[..i].trim().to_string(), ty[i..].replace(' ', "")),
        None => (ty.clone(), String::new()),
    };
    let base = match base.as_str() {
        "int" | "integer" | "int4" => "integer",
        "bigint" | "int8" => "bigint",
        "smallint" | "int2" => "smallint",
        "bool" | "boolean" => "boolean",
        "float8" | "double precision" | "double" => "double",
        "float4" | "real" => "real",
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "char",
        "decimal" | "numeric" => "numeric",
        other => other,
    };
    format!("{base}{rest}")
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, fires_after, quiet, quiet_after};

    #[test]
    fn fires_on_type_changes() {
        let msg = fires(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total TYPE bigint;");
        assert!(msg.contains("orders.total to int8"), "{msg}");
        fires(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total SET DATA TYPE bigint;");
        fires(&RULE, Mysql, "ALTER TABLE orders MODIFY COLUMN total BIGINT;");
    }

    #[test]
    fn a_change_column_that_only_renames_is_not_a_type_change() {
        let before = "CREATE TABLE orders (a INTEGER NOT NULL, b INT);";
        quiet_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a renamed INT NOT NULL;");
        quiet_after(&RULE, Mysql, before, "ALTER TABLE orders MODIFY COLUMN b INTEGER;");
        // Near misses: the type or the nullability changes.
        fires_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a renamed BIGINT NOT NULL;");
        fires_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a a INT NULL;");
        // A table runner never saw created may have any columns: still flagged.
        fires(&RULE, Mysql, "ALTER TABLE orders CHANGE COLUMN a a INT NOT NULL;");
    }

    #[test]
    fn quiet_on_defaults_and_new_tables() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;");
    }
}
