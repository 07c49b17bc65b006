//! `add-foreign-key-without-not-valid`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "add-foreign-key-without-not-valid",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "a validated foreign key scans the table while blocking writes to both tables",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID`, and an inline `REFERENCES` on
`ADD COLUMN`, on a table that existed before this migration.

## Why is this bad?
Adding a validated foreign key checks every row while holding SHARE ROW EXCLUSIVE locks on
both the table and the referenced table: writes to both wait for the whole scan.

## Example
```sql
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
```

## Use instead
Add it NOT VALID (new rows are checked at once, no scan), then validate in a later migration
or a later transaction, which takes only a SHARE UPDATE EXCLUSIVE lock:
```sql
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
-- next migration (or a -- runner:no-transaction file):
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
```
For a new column, add the column first, then the constraint NOT VALID.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let (table, what) = match op {
        Op::AddConstraint {
            table,
            kind: ConstraintKind::ForeignKey,
            not_valid: false,
            name,
            ..
        } => (table, format!("foreign key {}", name.as_deref().unwrap_or(""))),
        Op::AddColumn(c) if c.references => {
            (&c.table, format!("column {} with an inline REFERENCES", c.column))
        }
        _ => return None,
    };
    if ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("adds {} to {table} without NOT VALID: every row is checked while writes to {table} and the referenced table wait", what.trim_end()),
        "add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_a_validated_foreign_key_and_an_inline_reference() {
        fires(&RULE, Postgres, "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id);");
        fires(&RULE, Postgres, "ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);");
    }

    #[test]
    fn quiet_when_not_valid_or_on_a_new_table() {
        quiet(&RULE, Postgres, "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;");
        quiet(&RULE, Postgres, "CREATE TABLE t (id int, c int);\nALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id);");
        quiet(&RULE, Postgres, "CREATE TABLE t (id int, c int REFERENCES customers (id));");
    }
}
