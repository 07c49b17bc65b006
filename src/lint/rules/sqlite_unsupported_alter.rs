//! `sqlite-unsupported-alter`

use super::{Check, Context, Hit, RuleDef, SQLITE};
use crate::lint::finding::Severity;
use crate::lint::model::{DefaultKind, Generated, Op};

pub const RULE: RuleDef = RuleDef {
    id: "sqlite-unsupported-alter",
    severity: Severity::Error,
    dialects: SQLITE,
    summary: "an ADD COLUMN that SQLite rejects at run time",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags the `ALTER TABLE ... ADD COLUMN` forms SQLite parses but refuses to run: a column with
PRIMARY KEY or UNIQUE, a default that is not a constant (CURRENT_TIMESTAMP, CURRENT_DATE,
CURRENT_TIME, an expression in parentheses, a function call), and a STORED generated column.

## Why is this bad?
The file passes review and every parser, then fails on the first database it is applied to:
"Cannot add a UNIQUE column", "Cannot add a column with non-constant default".

## Example
```sql
ALTER TABLE customers ADD COLUMN updated_at TEXT DEFAULT CURRENT_TIMESTAMP;
```

## Use instead
Add the column with a constant default (or none) and fill it from the application or an
UPDATE; enforce uniqueness with an index:
```sql
ALTER TABLE customers ADD COLUMN updated_at TEXT;
CREATE UNIQUE INDEX customers_handle_key ON customers (handle);
```
"#;

fn check(op: &Op, _ctx: &Context) -> Option<Hit> {
    let Op::AddColumn(c) = op else {
        return None;
    };
    let why = if c.primary_key {
        "a PRIMARY KEY column"
    } else if c.unique {
        "a UNIQUE column"
    } else if matches!(c.default, DefaultKind::Stable | DefaultKind::Volatile(_)) {
        "a column with a non-constant default"
    } else if c.generated == Some(Generated::Stored) {
        "a STORED generated column"
    } else {
        return None;
    };
    Hit::new(
        format!("adds {}.{}: SQLite cannot add {why} and rejects this at run time", c.table, c.column),
        "add the column without it (a constant default is fine), then fill it or index it separately",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_what_sqlite_refuses() {
        for sql in [
            "ALTER TABLE t ADD COLUMN c TEXT DEFAULT CURRENT_TIMESTAMP;",
            "ALTER TABLE t ADD COLUMN c INTEGER DEFAULT (1 + 1);",
            "ALTER TABLE t ADD COLUMN c TEXT UNIQUE;",
            "ALTER TABLE t ADD COLUMN c INTEGER PRIMARY KEY;",
            "ALTER TABLE t ADD COLUMN c INTEGER GENERATED ALWAYS AS (a * 2) STORED;",
        ] {
            fires(&RULE, Sqlite, sql);
        }
    }

    #[test]
    fn quiet_on_constant_defaults_and_in_postgres() {
        quiet(&RULE, Sqlite, "ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'x';");
        quiet(&RULE, Sqlite, "ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT -1;");
        quiet(&RULE, Sqlite, "ALTER TABLE t ADD COLUMN c INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL;");
        quiet(&RULE, Postgres, "ALTER TABLE t ADD COLUMN c text DEFAULT CURRENT_TIMESTAMP;");
    }
}
