//! `drop-table`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "drop-table",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "dropping a table breaks the release still using it, and loses its data",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `DROP TABLE` of a table that existed before this migration, unless the migration is
marked `-- runner:phase contract`.

## Why is this bad?
The release still serving traffic may query the table: every such query fails from the moment
the migration commits. And the data is gone: a rollback script can recreate the table, not its
rows.

## Example
```sql
DROP TABLE audit_log;
```

## Use instead
Stop using the table in the release, back it up if its data matters, and drop it in a
migration marked as the contract phase: `runner deploy` runs it only once the new release serves
all traffic and the previous one is stopped.
```sql
-- runner:phase contract
DROP TABLE audit_log;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::DropTable { tables } = op else {
        return None;
    };
    let old: Vec<&str> = tables
        .iter()
        .filter(|t| !ctx.is_new(t) && !ctx.rebuilt.contains(t.as_str()))
        .map(String::as_str)
        .collect();
    if old.is_empty() || ctx.contract {
        return None;
    }
    Hit::new(
        format!("drops table {}, which the release now serving traffic may still use; its rows are lost", old.join(", ")),
        "stop using the table in the release, back it up, and mark this migration `-- runner:phase contract`: it then runs only once the previous release is stopped",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_an_existing_table() {
        for d in [Postgres, Sqlite, Mysql] {
            assert!(fires(&RULE, d, "DROP TABLE IF EXISTS audit_log;").contains("audit_log"));
        }
    }

    #[test]
    fn quiet_on_a_table_created_in_the_same_file_and_on_views() {
        quiet(&RULE, Postgres, "CREATE TABLE tmp (id int);\nDROP TABLE tmp;");
        quiet(&RULE, Postgres, "DROP VIEW order_totals;");
    }

    #[test]
    fn a_table_of_another_schema_is_not_the_one_created() {
        fires(&RULE, Postgres, "CREATE TABLE tenant_new.orders (id int);\nDROP TABLE tenant_old.orders;");
        quiet(&RULE, Postgres, "CREATE TABLE tenant_new.orders (id int);\nDROP TABLE tenant_new.orders;");
        quiet(&RULE, Postgres, "CREATE TABLE orders (id int);\nDROP TABLE public.orders;");
    }

    #[test]
    fn the_sqlite_table_rebuild_keeps_its_rows() {
        quiet(
            &RULE,
            Sqlite,
            "CREATE TABLE customers_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n\
             INSERT INTO customers_new (id, email) SELECT id, email FROM customers;\n\
             DROP TABLE customers;\n\
             ALTER TABLE customers_new RENAME TO customers;",
        );
        // Near miss: the rows are not copied first.
        fires(
            &RULE,
            Sqlite,
            "CREATE TABLE customers_new (id INTEGER PRIMARY KEY);\n\
             DROP TABLE customers;\n\
             ALTER TABLE customers_new RENAME TO customers;",
        );
    }
}
