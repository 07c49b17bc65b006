//! `drop-column`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "drop-column",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "dropping a column breaks the release still reading it",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ALTER TABLE ... DROP COLUMN` on a table that existed before this migration, unless the
migration is marked `-- runner:phase contract`.

## Why is this bad?
Migrations run before the new release replaces the old one. Until every old instance is gone,
the old code still selects, inserts and updates that column, and each such query now fails.
ORMs that list every column in their SELECTs fail on every read of the table.

## Example
```sql
ALTER TABLE users DROP COLUMN legacy_name;
```

## Use instead
Expand, then contract. Ship a release that no longer reads or writes the column, and drop the
column in a migration marked as the contract phase: `runner deploy` runs it only once the new
release serves all traffic and the previous one is stopped.
```sql
-- runner:phase contract
ALTER TABLE users DROP COLUMN legacy_name;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::DropColumn { table, column } = op else {
        return None;
    };
    if ctx.is_new(table) || ctx.contract {
        return None;
    }
    Hit::new(
        format!("drops column {table}.{column}, which the release now serving traffic may still read or write"),
        "stop using the column in the release, and mark this migration `-- runner:phase contract`: it then runs only once the previous release is stopped",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn quiet_in_a_contract_migration() {
        let contract = crate::catalog::Directives {
            phase: Some(crate::catalog::Phase::Contract),
            ..Default::default()
        };
        let findings = crate::lint::lint_text(
            "V2__drop.sql",
            "ALTER TABLE users DROP COLUMN legacy_name;",
            Postgres,
            &contract,
        );
        assert!(findings.iter().all(|f| f.rule.id() != RULE.id), "{findings:?}");
        let expand = crate::lint::lint_text(
            "V2__drop.sql",
            "ALTER TABLE users DROP COLUMN legacy_name;",
            Postgres,
            &Default::default(),
        );
        let hit = expand.iter().find(|f| f.rule.id() == RULE.id).expect("fires");
        assert!(hit.help.contains("`-- runner:phase contract`"), "{hit:?}");
    }

    #[test]
    fn fires_on_an_existing_table_in_every_dialect() {
        for d in [Postgres, Sqlite, Mysql] {
            let msg = fires(&RULE, d, "ALTER TABLE users DROP COLUMN email;");
            assert!(msg.contains("users.email"), "{msg}");
        }
    }

    #[test]
    fn quiet_on_a_table_created_in_the_same_file_and_on_other_drops() {
        quiet(&RULE, Postgres, "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;");
        quiet(&RULE, Postgres, "ALTER TABLE users DROP CONSTRAINT users_email_key;");
    }
}
