//! `add-column-rewrite`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{DefaultKind, Generated, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-column-rewrite",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "ADD COLUMN with a volatile default, serial, identity or stored generated value rewrites the table",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD COLUMN` on a table that existed before this migration when the new column needs a
value computed row by row: a volatile default (`clock_timestamp()`, `random()`,
`gen_random_uuid()`, `nextval(...)`, or any function not known to be stable; user functions are
volatile unless declared otherwise), a `serial`/`bigserial` type, `GENERATED ... AS IDENTITY`, or
`GENERATED ALWAYS AS (...) STORED`.

A constant default, or a stable one such as `now()` or `CURRENT_TIMESTAMP`, is evaluated once
and stored in the catalog (PostgreSQL 11+): no rewrite, and no finding.

## Why is this bad?
PostgreSQL rewrites the whole table and all its indexes to fill the column, holding an ACCESS
EXCLUSIVE lock: every read and write of the table waits for minutes on a large table.

## Example
```sql
ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
```

## Use instead
Add the column without the default (or with a constant one), set the default for new rows, and
backfill existing rows in batches:
```sql
ALTER TABLE orders ADD COLUMN public_id uuid;
ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
-- then a batched backfill: UPDATE orders SET public_id = gen_random_uuid()
--   WHERE id BETWEEN $1 AND $2 AND public_id IS NULL;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::AddColumn(c) = op else {
        return None;
    };
    if ctx.is_new(&c.table) {
        return None;
    }
    let why = match (&c.generated, &c.default) {
        (Some(Generated::Serial), _) => "a serial type fills it from a sequence".to_string(),
        (Some(Generated::Identity), _) => "an identity fills it row by row".to_string(),
        (Some(Generated::Stored), _) => "a stored generated value is computed for every row".to_string(),
        (None, DefaultKind::Volatile(f)) => format!("its default {f}() is volatile"),
        _ => return None,
    };
    Hit::new(
        format!("adds {}.{}, and {why}: the table is rewritten under an exclusive lock", c.table, c.column),
        "add the column without that default, SET DEFAULT for new rows, and backfill existing rows in batches",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_volatile_defaults_serials_identities_and_stored_columns() {
        for sql in [
            "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp();",
            "ALTER TABLE t ADD COLUMN c float8 DEFAULT random();",
            "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();",
            "ALTER TABLE t ADD COLUMN c bigint DEFAULT nextval('t_c_seq');",
            "ALTER TABLE t ADD COLUMN c bigserial;",
            "ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY;",
            "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED;",
        ] {
            fires(&RULE, Postgres, sql);
        }
    }

    #[test]
    fn quiet_on_now_constants_virtual_columns_and_new_tables() {
        for sql in [
            "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();",
            "ALTER TABLE t ADD COLUMN c timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP;",
            "ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT 'new';",
            "ALTER TABLE t ADD COLUMN c int DEFAULT 0;",
            "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) VIRTUAL;",
            "CREATE TABLE t2 (a int);\nALTER TABLE t2 ADD COLUMN c uuid DEFAULT gen_random_uuid();",
        ] {
            quiet(&RULE, Postgres, sql);
        }
    }
}
