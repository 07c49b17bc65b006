//! `rename-column`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "rename-column",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "renaming a column breaks the release still using the old name",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ALTER TABLE ... RENAME COLUMN` (and MySQL's `CHANGE COLUMN` to a new name) on a table
that existed before this migration.

## Why is this bad?
A rename is a drop and an add for every query that names the column: the release serving
traffic uses the old name until the deploy finishes, and each of its queries fails.

## Example
```sql
ALTER TABLE users RENAME COLUMN name TO full_name;
```

## Use instead
Add the new column, write both, backfill in batches, switch reads, then drop the old column in
a later contract migration:
```sql
ALTER TABLE users ADD COLUMN full_name text;
-- release N writes both columns; a batched job copies name into full_name;
-- release N+1 reads full_name; a contract migration drops name.
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::RenameColumn { table, from, to } = op else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("renames column {table}.{from} to {to}: the release now serving traffic still uses {from}"),
        format!("add {to}, write both, backfill in batches, switch reads, then drop {from} in a contract migration"),
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_rename_column() {
        for d in [Postgres, Sqlite, Mysql] {
            fires(&RULE, d, "ALTER TABLE users RENAME COLUMN name TO full_name;");
        }
        fires(&RULE, Mysql, "ALTER TABLE users CHANGE COLUMN name full_name VARCHAR(100);");
    }

    #[test]
    fn quiet_on_a_new_table_and_on_change_column_keeping_the_name() {
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;");
        quiet(&RULE, Mysql, "ALTER TABLE users CHANGE COLUMN name name VARCHAR(200);");
    }
}
