//! `mysql-table-copy`

use super::{Check, Context, Hit, MYSQL, RuleDef};
use crate::lint::finding::Severity;
use crate::lint::model::{ConstraintKind, Op};

pub const RULE: RuleDef = RuleDef {
    id: "mysql-table-copy",
    severity: Severity::Error,
    dialects: MYSQL,
    summary: "an ALTER TABLE that MySQL does by copying the table, writes blocked",
    doc: DOC,
    check: Check::Statement(check),
};

const DOC: &str = r#"## What it does
Flags MySQL `ALTER TABLE` operations on an existing table that the server performs by copying
or rebuilding the table unless asked otherwise: changing a column's type, adding or dropping
the primary key, adding an AUTO_INCREMENT or STORED generated column, and adding a column where
the server version cannot do it instantly: anywhere but at the end (`FIRST`, `AFTER`) before
MySQL 8.0.29 and MariaDB 10.4, anywhere at all before MySQL 8.0.12 and MariaDB 10.3. The
version is `[lint] mysql_version` (e.g. `"8.0.28"`, `"mariadb 10.11"`; default MySQL 8.4). It
is quiet when the statement says `ALGORITHM=INSTANT`, or `ALGORITHM=INPLACE, LOCK=NONE`.

## Why is this bad?
A table copy rewrites every row and index; on a large, busy table the writes queue for minutes
or hours, and the release serving traffic times out.

## Example
```sql
ALTER TABLE orders MODIFY total BIGINT NOT NULL;
```

## Use instead
Ask for an online algorithm, so that the server refuses the change (an error, nothing locked)
rather than copy the table:
```sql
ALTER TABLE orders ADD COLUMN note VARCHAR(100), ALGORITHM = INSTANT;
ALTER TABLE orders ADD INDEX orders_status (status), ALGORITHM = INPLACE, LOCK = NONE;
```
A change that truly needs a copy (a type change) goes through an online schema change tool
(gh-ost, pt-online-schema-change), or the expand/contract pattern: add a column of the new type,
backfill it in batches, switch reads, drop the old one in a contract migration.
"#;

fn check(op: &Op, ctx: &Context) -> Option<Hit> {
    let version = ctx.mysql_version;
    let (table, what) = match op {
        Op::MysqlAddColumn {
            table,
            column,
            position,
        } => match position {
            _ if version.instant_add_anywhere() => return None,
            None if version.instant_add_at_end() => return None,
            None => (
                table,
                format!("adds column {column} ({version} adds no column instantly; MySQL 8.0.12 and MariaDB 10.3 add one at the end)"),
            ),
            Some(position) => (
                table,
                format!("adds column {column} {position} ({version} adds a column instantly only at the end; MySQL 8.0.29 and MariaDB 10.4 anywhere)"),
            ),
        },
        Op::TableCopy { table, what } => (table, what.clone()),
        Op::AddConstraint {
            table,
            kind: ConstraintKind::PrimaryKey,
            ..
        } => (table, "adds a primary key".to_string()),
        Op::ChangeColumnType {
            table,
            column,
            new_type,
            not_null,
        } => {
            let existing = ctx.schema.table(table).and_then(|t| t.column(column));
            if existing.is_some_and(|e| {
                (super::change_column_type::same_type(&e.ty, new_type)
                    || varchar_in_place(&e.ty, new_type))
                    && not_null.is_none_or(|n| n == e.not_null)
            }) {
                return None;
            }
            (table, format!("changes {column} to {new_type}"))
        }
        _ => return None,
    };
    if ctx.online_alter || ctx.is_new(table) {
        return None;
    }
    Hit::new(
        format!("{what} on {table}: MySQL copies or rebuilds the whole table for it"),
        "add `, ALGORITHM = INPLACE, LOCK = NONE` (or `ALGORITHM = INSTANT`) so the server refuses rather than copies; for a change that needs a copy, use an online schema change tool or expand/contract",
    )
}

/// A longer VARCHAR whose length prefix keeps its size: MySQL extends it in place, without a
/// copy. Counted in utf8mb4 (4 bytes a character: up to 63 characters take one length byte).
fn varchar_in_place(old: &str, new: &str) -> bool {
    let length = |ty: &str| -> Option<u64> {
        let ty = ty.to_ascii_lowercase().replace(' ', "");
        let rest = ty
            .strip_prefix("varchar(")
            .or_else(|| ty.strip_prefix("charactervarying("))?;
        rest.trim_end_matches(')').parse().ok()
    };
    match (length(old), length(new)) {
        (Some(n), Some(m)) => m >= n && ((n * 4 <= 255) == (m * 4 <= 255)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::Mysql;
    use crate::lint::rules::testing::{findings_opts, fires, quiet};

    #[test]
    fn fires_on_copying_alters_of_existing_tables() {
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL;").contains("changes total to bigint"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders DROP PRIMARY KEY;").contains("drops the primary key"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders ADD PRIMARY KEY (id);").contains("adds a primary key"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN id2 INT AUTO_INCREMENT;").contains("adds AUTO_INCREMENT column id2"));
        assert!(fires(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN t INT AS (a + 1) STORED;").contains("adds STORED generated column t"));
        // INPLACE alone may still block writes.
        fires(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL, ALGORITHM = INPLACE;");
    }

    #[test]
    fn quiet_with_an_online_algorithm_on_new_tables_and_at_the_end() {
        quiet(&RULE, Mysql, "ALTER TABLE orders MODIFY total BIGINT NOT NULL, ALGORITHM = INPLACE, LOCK = NONE;");
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT FIRST, ALGORITHM = INSTANT;");
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT;");
        quiet(&RULE, Mysql, "CREATE TABLE t (id INT);\nALTER TABLE t MODIFY id BIGINT;");
        // MySQL 8.4 (the default) adds a column instantly anywhere; so does a virtual one.
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN note TEXT AFTER id;");
        quiet(&RULE, Mysql, "ALTER TABLE orders ADD COLUMN t INT AS (a + 1) VIRTUAL;");
    }

    #[test]
    fn a_longer_varchar_with_the_same_length_prefix_is_in_place() {
        use crate::lint::rules::testing::{findings_after, quiet_after};
        let before = "CREATE TABLE sessions (token VARCHAR(32), note VARCHAR(100));";
        quiet_after(&RULE, Mysql, before, "ALTER TABLE sessions MODIFY COLUMN token varchar(39) NULL;");
        quiet_after(&RULE, Mysql, before, "ALTER TABLE sessions MODIFY COLUMN note varchar(200) NULL;");
        // Crossing 63 characters (255 bytes in utf8mb4) adds a length byte: a copy.
        assert_eq!(findings_after(&RULE, Mysql, before, "ALTER TABLE sessions MODIFY COLUMN token varchar(64) NULL;").len(), 1);
        // Nullability restated differently: a rebuild.
        assert_eq!(findings_after(&RULE, Mysql, before, "ALTER TABLE sessions MODIFY COLUMN token varchar(39) NOT NULL;").len(), 1);
    }

    /// Which column additions are instant depends on `[lint] mysql_version`.
    #[test]
    fn adding_a_column_follows_the_configured_server_version() {
        let on = |version: &str, sql: &str| {
            let options = crate::lint::Options {
                mysql_version: crate::lint::MysqlVersion::parse(version).unwrap(),
                ..crate::lint::Options::new(Mysql)
            };
            findings_opts(&RULE, &options, sql)
                .into_iter()
                .map(|f| f.message)
                .collect::<Vec<_>>()
        };
        let after = "ALTER TABLE orders ADD COLUMN note TEXT AFTER id;";
        let end = "ALTER TABLE orders ADD COLUMN note TEXT;";
        assert!(on("8.0.28", after)[0].contains("adds column note AFTER id (MySQL 8.0.28 adds a column instantly only at the end"));
        assert!(on("8.0.28", end).is_empty());
        assert!(on("8.0.29", after).is_empty());
        assert!(on("mariadb 10.3", after)[0].contains("MariaDB 10.3.0"));
        assert!(on("10.4.32-MariaDB", after).is_empty());
        assert!(on("5.7.44", end)[0].contains("MySQL 5.7.44 adds no column instantly"));
        assert!(on("mariadb 10.2", end).len() == 1);
        assert!(on("8.0.28", "ALTER TABLE orders ADD COLUMN note TEXT AFTER id, ALGORITHM = INPLACE, LOCK = NONE;").is_empty());
    }

    #[test]
    fn versions_read_as_select_version_says_them() {
        use crate::lint::MysqlVersion;
        let v = |t: &str| MysqlVersion::parse(t).map(|v| v.to_string());
        assert_eq!(v("8.0.28").as_deref(), Some("MySQL 8.0.28"));
        assert_eq!(v("mysql 8.4").as_deref(), Some("MySQL 8.4.0"));
        assert_eq!(v("10.11.6-MariaDB-0+deb12u1").as_deref(), Some("MariaDB 10.11.6"));
        assert_eq!(v("MariaDB 11.4").as_deref(), Some("MariaDB 11.4.0"));
        assert_eq!(v("5.5-mariadb").as_deref(), Some("MariaDB 5.5.0"));
        assert_eq!(v("postgres 15"), None);
        assert_eq!(v("3.0"), None);
    }
}
