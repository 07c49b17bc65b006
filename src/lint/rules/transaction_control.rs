//! `transaction-control`

use super::{Check, Context, Hit, POSTGRES, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{Op, TransactionKind};

pub const RULE: RuleDef = RuleDef {
    id: "transaction-control",
    severity: Severity::Error,
    dialects: POSTGRES,
    summary: "BEGIN/COMMIT/ROLLBACK in a file runner runs in its own transaction",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags explicit `BEGIN`, `START TRANSACTION`, `COMMIT` and `ROLLBACK` in a migration that runner
wraps in its own transaction (every file without `-- runner:no-transaction` and without a
CONCURRENTLY statement). SAVEPOINTs are fine.

## Why is this bad?
runner applies the file and records it in the history in one transaction, so that a failure
leaves nothing behind. A COMMIT inside the file commits half the migration early, outside
that guarantee: if a later statement fails, the history says "failed, nothing applied" while
part of it is applied. A ROLLBACK silently undoes the work and the history row with it.

## Example
```sql
BEGIN;
ALTER TABLE orders ADD COLUMN note text;
COMMIT;
```

## Use instead
Leave the transaction to runner:
```sql
ALTER TABLE orders ADD COLUMN note text;
```
If the file really needs its own transaction boundaries, mark it `-- runner:no-transaction`.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::Transaction(kind) = op else {
        return None;
    };
    if !ctx.file_transaction || *kind == TransactionKind::Savepoint {
        return None;
    }
    let word = match kind {
        TransactionKind::Begin => "BEGIN",
        TransactionKind::Commit => "COMMIT",
        _ => "ROLLBACK",
    };
    Hit::new(
        format!("{word} in a file runner already runs in one transaction with its history row"),
        "remove it and let runner own the transaction, or mark the file `-- runner:no-transaction`",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::catalog::Directives;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{findings, findings_with};

    #[test]
    fn fires_on_each_explicit_control_statement() {
        let found = findings(&RULE, Postgres, "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT;\nROLLBACK;");
        assert_eq!(found.len(), 3);
        assert_eq!(found[1].line, 3);
    }

    #[test]
    fn quiet_in_no_transaction_files_and_for_savepoints() {
        let no_tx = Directives {
            no_transaction: true,
            ..Directives::default()
        };
        assert!(findings_with(&RULE, Postgres, "BEGIN;\nSELECT 1;\nCOMMIT;", &no_tx).is_empty());
        assert!(findings(&RULE, Postgres, "SAVEPOINT a;\nRELEASE SAVEPOINT a;").is_empty());
    }
}
