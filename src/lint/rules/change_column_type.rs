//! `change-column-type`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::config::Dialect;
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
column in a contract migration.

Widening a column the migrations before this one created is not flagged: a longer `varchar`,
`varchar` to `text`, to an unbounded `varchar` (PostgreSQL), more digits for a `numeric`
with the same scale; nor is allowing NULL where it was not. Every value the running release
writes still fits, and PostgreSQL does it without a rewrite (on MySQL, `mysql-table-copy`
says whether the table is copied). Making a column NOT NULL through MySQL's `MODIFY` is
flagged. Other changes you know to be safe can be suppressed with a reason:
```sql
-- runner:allow change-column-type citext to text: same storage, no rewrite
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
    // Widening (a longer varchar, varchar to text on PostgreSQL, more digits for the same
    // scale) keeps every value the running release writes valid; PostgreSQL does it without
    // a rewrite (MySQL's table copy is mysql-table-copy's business).
    if let Some(existing) = ctx.schema.table(table).and_then(|t| t.column(column))
        && (same_type(&existing.ty, new_type)
            || widens(&existing.ty, new_type, ctx.dialect == Some(Dialect::Postgres)))
    {
        // The type holds every value; what is left is the nullability MySQL restates. NULL
        // allowed where it was not breaks nothing; NOT NULL where NULL was allowed fails on
        // the NULLs already there and on those the running release still writes.
        if *not_null == Some(true) && !existing.not_null {
            return Hit::new(
                format!("makes {table}.{column} NOT NULL: it fails on any NULL already there, and the running release may still write NULL"),
                "backfill the NULLs in batches and make sure the release writes a value first; then add NOT NULL in a later migration",
            );
        }
        return None;
    }
    // On MySQL the table copy is mysql-table-copy's finding; this one is about the release.
    let rewrite = match ctx.dialect {
        Some(Dialect::Mysql) => "",
        _ => "the table may be rewritten under an exclusive lock, and ",
    };
    Hit::new(
        format!("changes the type of {table}.{column} to {new_type}: {rewrite}the running release may send or expect the old type"),
        "add a column of the new type, backfill it in batches, switch reads, then drop the old column in a contract migration",
    )
}

/// A type's canonical base and its numeric arguments: `varchar(40)` is ("varchar", [40]).
fn shape(ty: &str) -> (String, Vec<u64>) {
    let canonical = canonical(ty);
    match canonical.split_once('(') {
        Some((base, args)) => (
            base.to_string(),
            args.trim_end_matches(')')
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect(),
        ),
        None => (canonical, Vec::new()),
    }
}

/// Whether `new` holds every value of `old` as it is: a varchar at least as long, text for a
/// varchar, (on PostgreSQL) an unbounded varchar or numeric, a numeric with more digits and
/// the same scale.
pub(super) fn widens(old: &str, new: &str, postgres: bool) -> bool {
    let (old_base, old_args) = shape(old);
    let (new_base, new_args) = shape(new);
    match (old_base.as_str(), new_base.as_str()) {
        ("varchar", "varchar") => match (old_args.first(), new_args.first()) {
            (Some(n), Some(m)) => m >= n,
            (_, None) => postgres,
            (None, Some(_)) => false,
        },
        // MySQL's TEXT holds as many bytes as the longest VARCHAR.
        ("varchar", "text") => true,
        ("numeric", "numeric") => match (old_args.as_slice(), new_args.as_slice()) {
            ([p, s], [p2, s2]) => s2 == s && p2 >= p,
            ([p], [p2]) => p2 >= p,
            (_, []) => postgres,
            _ => false,
        },
        _ => false,
    }
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
    fn widening_a_known_column_keeps_the_running_release_working() {
        let before = "CREATE TABLE t (code VARCHAR(32), amount NUMERIC(10, 2), note VARCHAR(20) NOT NULL);";
        quiet_after(&RULE, Postgres, before, "ALTER TABLE t ALTER COLUMN code TYPE varchar(64);");
        quiet_after(&RULE, Postgres, before, "ALTER TABLE t ALTER COLUMN code TYPE text;");
        quiet_after(&RULE, Postgres, before, "ALTER TABLE t ALTER COLUMN amount TYPE numeric(14, 2);");
        quiet_after(&RULE, Mysql, before, "ALTER TABLE t MODIFY COLUMN code VARCHAR(39) NULL;");
        // NULL allowed where it was not: nothing the running release writes breaks.
        quiet_after(&RULE, Mysql, before, "ALTER TABLE t MODIFY COLUMN note VARCHAR(20) NULL;");
        // Near misses: narrower, another scale, another type, NOT NULL added.
        fires_after(&RULE, Postgres, before, "ALTER TABLE t ALTER COLUMN code TYPE varchar(16);");
        fires_after(&RULE, Postgres, before, "ALTER TABLE t ALTER COLUMN amount TYPE numeric(14, 3);");
        quiet_after(&RULE, Mysql, before, "ALTER TABLE t MODIFY COLUMN code TEXT;");
        fires_after(&RULE, Mysql, before, "ALTER TABLE t MODIFY COLUMN code INT;");
        let msg = fires_after(&RULE, Mysql, before, "ALTER TABLE t MODIFY COLUMN code VARCHAR(40) NOT NULL;");
        assert!(msg.contains("makes t.code NOT NULL"), "{msg}");
    }

    #[test]
    fn a_change_column_that_only_renames_is_not_a_type_change() {
        let before = "CREATE TABLE orders (a INTEGER NOT NULL, b INT);";
        quiet_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a renamed INT NOT NULL;");
        quiet_after(&RULE, Mysql, before, "ALTER TABLE orders MODIFY COLUMN b INTEGER;");
        // Relaxing NOT NULL breaks nothing.
        quiet_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a a INT NULL;");
        // Near misses: the type changes, or NOT NULL is added.
        fires_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN a renamed BIGINT NOT NULL;");
        fires_after(&RULE, Mysql, before, "ALTER TABLE orders CHANGE COLUMN b b INT NOT NULL;");
        // A table runner never saw created may have any columns: still flagged.
        fires(&RULE, Mysql, "ALTER TABLE orders CHANGE COLUMN a a INT NOT NULL;");
    }

    #[test]
    fn quiet_on_defaults_and_new_tables() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;");
    }
}
