//! `add-primary-key`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-primary-key",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "a primary key builds its index (and may scan for NOT NULL) under an exclusive lock",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD PRIMARY KEY` that is not `USING INDEX`, and `ADD COLUMN ... PRIMARY KEY`, on a table
that existed before this migration.

## Why is this bad?
PostgreSQL builds the unique index inside the ALTER TABLE, and sets the key columns NOT NULL
with a scan, all under an ACCESS EXCLUSIVE lock: the table is unusable until it finishes.

## Example
```sql
ALTER TABLE events ADD PRIMARY KEY (id);
```

## Use instead
```sql
CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id);
-- next migration (id already NOT NULL, or proven by a validated CHECK):
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let (table, what) = match op {
        Op::AddConstraint {
            table,
            kind: ConstraintKind::PrimaryKey,
            using_index: false,
            ..
        } => (table, "a primary key".to_string()),
        Op::AddColumn(c) if c.primary_key => {
            (&c.table, format!("column {} as the primary key", c.column))
        }
        _ => return None,
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("adds {what} to {table}: its index is built under an exclusive lock"),
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_primary_key_without_an_index() {
        fires(&RULE, Postgres, "ALTER TABLE events ADD PRIMARY KEY (id);");
        fires(&RULE, Postgres, "ALTER TABLE events ADD COLUMN id bigint PRIMARY KEY;");
    }

    #[test]
    fn quiet_with_using_index_or_on_a_new_table() {
        quiet(&RULE, Postgres, "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;");
        quiet(&RULE, Postgres, "CREATE TABLE t (id int);\nALTER TABLE t ADD PRIMARY KEY (id);");
    }
}
