//! `set-not-null`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "set-not-null",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "SET NOT NULL scans the table under an exclusive lock and breaks writers of NULL",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `ALTER COLUMN ... SET NOT NULL` on a table that existed before this migration.

## Why is this bad?
PostgreSQL scans the whole table to prove there is no NULL, holding an ACCESS EXCLUSIVE lock:
every read and write of the table waits for the scan. And the release serving traffic may
still insert NULL there, which now fails.

## Example
```sql
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
```

## Use instead
Once every release writes the column, add a NOT VALID check, validate it (a weaker lock), and
then SET NOT NULL uses the validated check instead of scanning (PostgreSQL 12+):
```sql
ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
-- in a later migration:
ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
-- runner:allow set-not-null proven by the validated users_email_not_null check
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::SetNotNull { table, column } = op else {
        return None;
    };
    if ctx.is_new(table) {
        return None;
    }
    let known = ctx.schema.table(table);
    if known
        .and_then(|t| t.column(column))
        .is_some_and(|c| c.not_null)
    {
        // Already NOT NULL: nothing changes.
        return None;
    }
    let proven = known.is_some_and(|t| t.not_null_checks.get(column) == Some(&true));
    if proven && ctx.dialect == Some(crate::config::Dialect::Postgres) && ctx.postgres_version >= 12 {
        return Hit::new(
            format!("sets {table}.{column} NOT NULL: PostgreSQL {}+ uses the validated CHECK ({column} IS NOT NULL) instead of scanning, but writers of NULL in the running release now fail", 12),
            "once every release serving traffic writes the column, suppress this with a reason: `-- runner:allow set-not-null <reason>`",
        );
    }
    Hit::new(
        format!("sets {table}.{column} NOT NULL: the table is scanned under an exclusive lock, and writers of NULL in the running release fail"),
        format!("add CHECK ({column} IS NOT NULL) NOT VALID, validate it in a later migration, then set NOT NULL"),
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, fires_after, quiet, quiet_after};

    #[test]
    fn fires_on_set_not_null() {
        fires(&RULE, Postgres, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
    }

    #[test]
    fn a_column_already_not_null_is_not_flagged() {
        quiet_after(&RULE, Postgres, "CREATE TABLE users (email text NOT NULL);", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
        quiet_after(&RULE, Postgres, "CREATE TABLE users (email text);\nALTER TABLE users ALTER COLUMN email SET NOT NULL;", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
        fires_after(&RULE, Postgres, "CREATE TABLE users (email text);", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
    }

    #[test]
    fn after_a_validated_check_on_postgres_12_only_compatibility_is_said() {
        let before = "CREATE TABLE users (email text);\nALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;";
        let msg = fires_after(&RULE, Postgres, before, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
        assert!(msg.contains("instead of scanning"), "{msg}");
        assert!(!msg.contains("scanned under an exclusive lock"), "{msg}");
        // Not validated yet: the scan remains.
        let before = "CREATE TABLE users (email text);\nALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;";
        let msg = fires_after(&RULE, Postgres, before, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
        assert!(msg.contains("scanned under an exclusive lock"), "{msg}");
    }

    #[test]
    fn quiet_on_drop_not_null_and_new_tables() {
        quiet(&RULE, Postgres, "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;");
        quiet(&RULE, Postgres, "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;");
    }
}
