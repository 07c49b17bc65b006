//! `mysql-table-copy`

use super::{Check, Context, Hit, MYSQL, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "mysql-table-copy",
    severity: Severity::Error,
    dialects: MYSQL,
    summary: "an ALTER TABLE that MySQL does by copying the table, writes blocked",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags MySQL `ALTER TABLE` operations on an existing table that the server performs by copying
the table (ALGORITHM=COPY, writes blocked until the copy is done) unless asked otherwise:
changing a column's type, adding or dropping the primary key, adding a column anywhere but at
the end (`FIRST`, `AFTER`). It is quiet when the statement says `ALGORITHM=INSTANT`, or
`ALGORITHM=INPLACE, LOCK=NONE`.

## Why is this bad?
A table copy rewrites every row and index; on a large, busy table the writes queue for minutes
or hours, and the release serving traffic times out.

## Example
```sql
ALTER TABLE orders MODIFY total BIGINT NOT NULL;
```

## Use instead
Ask for an online algorithm, so that the server refuses the change (an error, nothing locked)
rather than copy the table:
```sql
ALTER TABLE orders ADD COLUMN note VARCHAR(100), ALGORITHM = INSTANT;
ALTER TABLE orders ADD INDEX orders_status (status), ALGORITHM = INPLACE, LOCK = NONE;
```
A change that truly needs a copy (a type change) goes through an online schema change tool
(gh-ost, pt-online-schema-change), or the expand/contract pattern: add a column of the new type,
backfill it in batches, switch reads, drop the old one in a contract migration.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let (table, what) = match op {
        Op::TableCopy { table, what } => (table, what.clone()),
        Op::AddConstraint {
            table,
            kind: ConstraintKind::PrimaryKey,
            ..
        } => (table, "adds a primary key".to_string()),
        Op::ChangeColumnType {
            table,
            column,
            new_type,
            not_null,
        } => {
            let existing = ctx.schema.table(table).and_then(|t| t.column(column));
            if existing.is_some_and(|e| {
                super::change_column_type::same_type(&e.ty, new_type)
                    && not_null.is_none_or(|n| n == e.not_null)
            }) {
                return None;
            }
            (table, format!("changes {column} to {new_type}"))
        }
        _ => return None,
    };
    if ctx.online_alter || ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("{what} on {table}: MySQL copies the whole table for it, with writes blocked until the copy is done"),
        "add `, ALGORITHM = INPLACE, LOCK = NONE` (or `ALGORITHM = INSTANT`) so the server refuses rather than copies; for a change that needs a copy, use an online schema change tool or expand/contract",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::Mysql;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_copying_alters_of_existing_tables() {
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL;").contains("changes total to bigint"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders DROP PRIMARY KEY;").contains("drops the primary key"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders ADD PRIMARY KEY (id);").contains("adds a primary key"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT AFTER id;").contains("not at the end"));
        // INPLACE alone may still block writes.
        fires(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL, ALGORITHM = INPLACE;");
    }

    #[test]
    fn quiet_with_an_online_algorithm_on_new_tables_and_at_the_end() {
        quiet(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL, ALGORITHM = INPLACE, LOCK = NONE;");
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT FIRST, ALGORITHM = INSTANT;");
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT;");
        quiet(&RULE, Mysql, "CREATE TABLE t (id INT);\nALTER TABLE t MODIFY id BIGINT;");
    }
}
