//! `drop-schema`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "drop-schema",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "dropping a schema or database removes everything in it",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `DROP SCHEMA` and `DROP DATABASE`.

## Why is this bad?
Every table, view, function and row in the schema or database goes with it, in one statement,
while the release serving traffic still uses them. No rollback script brings the data back.

## Example
```sql
DROP SCHEMA reporting CASCADE;
```

## Use instead
Move what is still needed out first, stop using the rest, and drop the objects one by one in
contract migrations, or do it by hand outside the deploy path. If it is really intended:
```sql
-- runner:allow drop-schema the reporting schema moved to the warehouse in OPS-7
DROP SCHEMA reporting CASCADE;
```
"#;

fn check(op: &Op, _ctx: &Context) -> Option<Hit> {
    let what = match op {
        Op::DropSchema { names } => format!("schema {}", names.join(", ")),
        Op::DropDatabase { name } => format!("database {name}"),
        _ => return None,
    };
    Hit::new(
        format!("drops {what} and everything in it"),
        "move what is still used elsewhere and drop objects one by one in contract migrations, or do it outside the deploy path",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_drop_schema_and_drop_database() {
        assert!(fires(&RULE, Postgres, "DROP SCHEMA reporting CASCADE;").contains("reporting"));
        assert!(fires(&RULE, Postgres, "DROP DATABASE shop;").contains("database shop"));
        fires(&RULE, Mysql, "DROP DATABASE shop;");
    }

    #[test]
    fn quiet_on_creating_a_schema() {
        quiet(&RULE, Postgres, "CREATE SCHEMA IF NOT EXISTS reporting;");
    }
}
