//! `missing-rollback`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "missing-rollback",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a migration with no rollback script and no irreversible directive",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags a forward migration `V{n}__{name}.sql` that has no `V{n}__{name}.down.sql` beside it and
does not say `-- runner:irreversible <reason>`.

## Why is this bad?
When the deploy fails at 2 a.m., a rollback script written in a hurry, untested, against a
half-migrated production database, is how a bad deploy becomes an outage. Every migration
either has a rollback written and reviewed with it (and proven by `runner verify`), or says
plainly that it cannot be undone.

## Example
```
migrations/V0042__add_status.sql        (no V0042__add_status.down.sql)
```

## Use instead
```
migrations/V0042__add_status.sql
migrations/V0042__add_status.down.sql   ALTER TABLE orders DROP COLUMN status;
```
or, at the top of the forward file:
```sql
-- runner:irreversible the old audit rows are deleted for good (GDPR request 118)
```
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_a_migration_without_a_rollback() {
        let found = folder_findings("missing_rollback", "missing-rollback");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("V0001__create_users.down.sql"));
    }

    #[test]
    fn quiet_for_paired_and_irreversible_migrations() {
        assert!(folder_findings("valid", "missing-rollback").is_empty());
    }
}
