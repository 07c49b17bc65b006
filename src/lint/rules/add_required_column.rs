//! `add-required-column`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{DefaultKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-required-column",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a NOT NULL column without a default breaks inserts of the running release",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD COLUMN ... NOT NULL` without a `DEFAULT` on a table that existed before this
migration.

## Why is this bad?
If the table has rows, the statement fails (SQLite refuses it outright). If it is empty, it
succeeds, and then every INSERT of the release serving traffic, which does not know the column,
fails with a NOT NULL violation.

## Example
```sql
ALTER TABLE orders ADD COLUMN currency text NOT NULL;
```

## Use instead
Give it a default, so old inserts keep working (a constant default adds no rewrite in
PostgreSQL 11+):
```sql
ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
```
Or add it nullable, backfill, and set NOT NULL once every release writes it.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::AddColumn(c) = op else {
        return None;
    };
    if !c.not_null
        || c.default != DefaultKind::None
        || c.generated.is_some()
        || c.primary_key
        || ctx.is_new(&c.table)
    {
        return None;
    }
    Hit::new(
        format!("adds {}.{} as NOT NULL without a default: inserts from the release now serving traffic will fail", c.table, c.column),
        format!("add a DEFAULT to {}, or add it nullable, backfill, and set NOT NULL later", c.column),
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_without_a_default() {
        for d in [Postgres, Sqlite, Mysql] {
            fires(&RULE, d, "ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL;");
        }
    }

    #[test]
    fn quiet_with_a_default_nullable_or_on_a_new_table() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';");
        quiet(&RULE, Postgres, "ALTER TABLE orders ADD COLUMN currency text;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int NOT NULL;");
        quiet(&RULE, Postgres, "ALTER TABLE orders ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY NOT NULL;");
    }
}
