//! `truncate`

use super::{ALL_DIALECTS, Check, Context, Hit, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::Op;

pub const RULE: RuleDef = RuleDef {
    id: "truncate",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "TRUNCATE deletes every row, and no rollback brings them back",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags `TRUNCATE` of a table that existed before this migration.

## Why is this bad?
Every row is gone the moment it commits, under an ACCESS EXCLUSIVE lock; no rollback script can
restore them, and the release serving traffic suddenly sees an empty table. TRUNCATE in a
migration is nearly always a leftover from development.

## Example
```sql
TRUNCATE sessions;
```

## Use instead
Delete what must go in batches, with a WHERE clause, from a job outside the migration; or, if
emptying the table is really the point, say why:
```sql
-- runner:allow truncate sessions are recreated at login; emptying them logs everyone out on purpose
TRUNCATE sessions;
```
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let Op::Truncate { tables } = op else {
        return None;
    };
    let old: Vec<&str> = tables
        .iter()
        .filter(|t| !ctx.is_new(t))
        .map(String::as_str)
        .collect();
    if old.is_empty() {
        return None;
    }
    Hit::new(
        format!("truncates {}: every row is deleted and cannot be rolled back", old.join(", ")),
        "delete in batches with a WHERE clause outside the migration, or suppress with `-- runner:allow truncate <reason>`",
    )
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_on_plain_truncate() {
        fires(&RULE, Postgres, "TRUNCATE sessions;");
        fires(&RULE, Postgres, "TRUNCATE TABLE a, b RESTART IDENTITY;");
        fires(&RULE, Mysql, "TRUNCATE TABLE sessions;");
    }

    #[test]
    fn quiet_on_a_table_created_in_the_same_file_and_on_a_delete() {
        quiet(&RULE, Postgres, "CREATE TABLE staging (id int);\nTRUNCATE staging;");
        quiet(&RULE, Postgres, "DELETE FROM sessions WHERE expires_at < now();");
    }
}
