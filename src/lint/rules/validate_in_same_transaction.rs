//! `validate-in-same-transaction`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "validate-in-same-transaction",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "VALIDATE in the transaction that added the NOT VALID constraint keeps its exclusive lock",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `VALIDATE CONSTRAINT` of a constraint added `NOT VALID` earlier in the same file, when
both run in one transaction: runner's transaction around the file, or an explicit BEGIN block.

## Why is this bad?
NOT VALID exists so that the short, exclusive ADD commits first and the long VALIDATE scan runs
later under a weaker lock. In one transaction, the ADD's lock is held until COMMIT, through the
whole scan: the same outage as adding the constraint validated.

## Example
```sql
ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT fk;
```

## Use instead
Validate in the next migration; or mark the file `-- runner:no-transaction` so each statement
commits on its own:
```sql
-- V0043__validate_orders_customer_fk.sql
ALTER TABLE orders VALIDATE CONSTRAINT fk;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::ValidateConstraint { table, name } = op else {
        return None;
    };
    let added_in = ctx.not_valid.get(&(table.clone(), name.clone()))?;
    if *added_in != ctx.transaction {
        return None;
    }
    Hit::new(
        format!("validates {name} on {table} in the same transaction that added it NOT VALID: the exclusive lock is held through the whole scan"),
        "move the VALIDATE CONSTRAINT to the next migration, or mark this file `-- runner:no-transaction`",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::catalog::Directives;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, findings_with, quiet};

    const BOTH: &str = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT fk;";

    #[test]
    fn fires_when_both_run_in_runners_transaction_or_an_explicit_one() {
        fires(&RULE, Postgres, BOTH);
        let no_tx = Directives {
            no_transaction: true,
            ..Directives::default()
        };
        let explicit = format!("BEGIN;\n{BOTH}\nCOMMIT;");
        assert_eq!(findings_with(&RULE, Postgres, &explicit, &no_tx).len(), 1);
    }

    #[test]
    fn quiet_for_a_separate_migration_or_a_no_transaction_file() {
        quiet(&RULE, Postgres, "ALTER TABLE orders VALIDATE CONSTRAINT fk;");
        let no_tx = Directives {
            no_transaction: true,
            ..Directives::default()
        };
        assert!(findings_with(&RULE, Postgres, BOTH, &no_tx).is_empty());
    }
}
