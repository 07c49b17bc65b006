//! `add-check-without-not-valid`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-check-without-not-valid",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "a validated CHECK scans the table under an exclusive lock",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD CONSTRAINT ... CHECK` without `NOT VALID` on a table that existed before this
migration.

## Why is this bad?
PostgreSQL checks every existing row while holding an ACCESS EXCLUSIVE lock: all reads and
writes of the table wait for the scan.

## Example
```sql
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);
```

## Use instead
```sql
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
-- next migration:
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::AddConstraint {
        table,
        kind: ConstraintKind::Check,
        not_valid: false,
        name,
        ..
    } = op
    else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    let name = name.as_deref().unwrap_or("a CHECK constraint");
    Hit::new(
        format!("adds {name} to {table} without NOT VALID: every row is checked under an exclusive lock"),
        "add the CHECK NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_validated_check() {
        fires(&RULE, Postgres, "ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0);");
    }

    #[test]
    fn quiet_when_not_valid_or_on_a_new_table() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0) NOT VALID;");
        quiet(&RULE, Postgres, "CREATE TABLE t (n int);\nALTER TABLE t ADD CONSTRAINT pos CHECK (n >= 0);");
    }
}
