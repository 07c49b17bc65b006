//! `add-unique-constraint`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-unique-constraint",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "a UNIQUE constraint builds its index while blocking writes",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD CONSTRAINT ... UNIQUE` that is not `USING INDEX`, and `ADD COLUMN ... UNIQUE`, on a
table that existed before this migration.

## Why is this bad?
The constraint builds a unique index inside the ALTER TABLE, holding an ACCESS EXCLUSIVE lock
for the whole build: the table is unusable meanwhile.

## Example
```sql
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
```

## Use instead
Build the index concurrently, then attach it, which is instant:
```sql
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
-- next migration:
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let (table, what) = match op {
        Op::AddConstraint {
            table,
            kind: ConstraintKind::Unique,
            using_index: false,
            name,
            ..
        } => (table, name.clone().unwrap_or_else(|| "a UNIQUE constraint".into())),
        Op::AddColumn(c) if c.unique && !c.primary_key => {
            (&c.table, format!("column {} with UNIQUE", c.column))
        }
        _ => return None,
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("adds {what} to {table}: its index is built under an exclusive lock"),
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_unique_without_an_index() {
        fires(&RULE, Postgres, "ALTER TABLE users ADD CONSTRAINT k UNIQUE (email);");
        fires(&RULE, Postgres, "ALTER TABLE users ADD COLUMN handle text UNIQUE;");
    }

    #[test]
    fn quiet_with_using_index_or_on_a_new_table() {
        quiet(&RULE, Postgres, "ALTER TABLE users ADD CONSTRAINT k UNIQUE USING INDEX k;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT k UNIQUE (a);");
    }
}
