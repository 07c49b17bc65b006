//! `rename-table`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "rename-table",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "renaming a table breaks the release still using the old name",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ALTER TABLE ... RENAME TO` and MySQL's `RENAME TABLE` of a table that existed before
this migration.

## Why is this bad?
Every query of the release serving traffic names the old table and fails once the rename
commits, until the new release is everywhere.

## Example
```sql
ALTER TABLE customers RENAME TO accounts;
```

## Use instead
Create the new table (or a view with the new name over the old table), move readers and
writers over in releases, then drop the old name in a contract migration:
```sql
CREATE VIEW accounts AS SELECT * FROM customers;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::RenameTable { from, to } = op else {
        return None;
    };
    if ctx.is_new(from) {
        return None;
    }
    Hit::new(
        format!("renames table {from} to {to}: the release now serving traffic still uses {from}"),
        format!("expose {to} as a view over {from} (or copy the data), move the code over, then drop {from} in a contract migration"),
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_rename_table() {
        for d in [Postgres, Sqlite, Mysql] {
            fires(&RULE, d, "ALTER TABLE customers RENAME TO accounts;");
        }
        fires(&RULE, Mysql, "RENAME TABLE customers TO accounts;");
    }

    #[test]
    fn quiet_on_a_table_created_in_the_same_file_and_on_renaming_an_index() {
        quiet(&RULE, Postgres, "CREATE TABLE t_new (id int);\nALTER TABLE t_new RENAME TO t;");
        quiet(&RULE, Postgres, "ALTER INDEX users_email_idx RENAME TO users_email_key;");
    }
}
