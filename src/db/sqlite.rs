//! SQLite: an OS file lock beside the database (the OS frees it with the process), limits as
//! `busy_timeout` set before `BEGIN IMMEDIATE`, SQLite's result codes, and the catalog read
//! from `sqlite_master` and `pragma_table_xinfo`.

use super::snapshot::COLUMN_ORDER;
use super::{
    Backend, ColumnType, DbError, Effect, ForeignKeyGuard, Limits, LockMethod, SnapshotQuery,
};

pub struct Sqlite;

impl Backend for Sqlite {
    fn split(&self, sql: &str) -> Result<Vec<String>, String> {
        Ok(crate::lint::split::split(sql)
            .into_iter()
            .map(|c| c.text.to_string())
            .collect())
    }

    fn outside_transaction(&self, statement: &str) -> Option<Effect> {
        // VACUUM refuses a transaction; a pragma inside one is silently ignored (foreign_keys)
        // or refused (journal_mode).
        let first = super::first_word(statement);
        matches!(first.as_str(), "VACUUM" | "PRAGMA").then_some(Effect::Repeatable)
    }

    fn lock(&self) -> LockMethod {
        LockMethod::File
    }

    fn lock_description(&self, limits: &Limits) -> String {
        format!(
            "file lock beside the database (.runner-lock), then BEGIN IMMEDIATE per migration with busy_timeout {} and up to {} retries",
            humantime::format_duration(limits.lock_timeout),
            limits.retries
        )
    }

    fn limits_sql(&self, limits: &Limits, _in_transaction: bool) -> String {
        format!("PRAGMA busy_timeout = {}", limits.lock_timeout.as_millis())
    }

    fn reset_limits_sql(&self) -> Option<&'static str> {
        None
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }

    fn limits_before_begin(&self) -> bool {
        true
    }

    /// SQLite's documented procedure for schema changes that rebuild a table: foreign keys
    /// off for the transaction, `PRAGMA foreign_key_check` before it commits.
    fn foreign_keys(&self) -> Option<ForeignKeyGuard> {
        Some(ForeignKeyGuard {
            off: "PRAGMA foreign_keys = OFF",
            check: "SELECT \"table\", CAST(rowid AS TEXT), parent, CAST(fkid AS TEXT) FROM pragma_foreign_key_check",
            on: "PRAGMA foreign_keys = ON",
        })
    }

    fn now_sql(&self) -> &'static str {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    }

    fn column_type(&self, column: ColumnType) -> &'static str {
        match column {
            ColumnType::Int | ColumnType::BigInt => "INTEGER",
            ColumnType::Text | ColumnType::Timestamp => "TEXT",
            ColumnType::Serial => "INTEGER PRIMARY KEY AUTOINCREMENT",
        }
    }

    fn append_only_sql(&self, e: &str) -> String {
        format!(
            "CREATE TRIGGER IF NOT EXISTS {e}_no_update BEFORE UPDATE ON {e}
                BEGIN SELECT RAISE(ABORT, '{e} is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS {e}_no_delete BEFORE DELETE ON {e}
                BEGIN SELECT RAISE(ABORT, '{e} is append-only'); END;"
        )
    }

    fn columns_sql(&self) -> &'static str {
        "SELECT name FROM pragma_table_info($1)"
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
    }

    fn as_text(&self, column: &str) -> String {
        column.to_string()
    }

    fn as_bigint(&self, column: &str) -> String {
        column.to_string()
    }

    /// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
    fn is_lock_timeout(&self, error: &DbError) -> bool {
        error
            .code
            .as_deref()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6))
    }

    fn index_validity_sql(&self) -> Option<&'static str> {
        None
    }

    fn snapshot_queries(&self) -> Vec<SnapshotQuery> {
        vec![
            SnapshotQuery {
                sql: "SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'".into(),
                normalize: true,
            },
            SnapshotQuery::canonical("SELECT 'column ' || m.name || '.' || p.name,
                    p.type || CASE WHEN p.\"notnull\" THEN ' not null' ELSE ' null' END
                    || coalesce(' default ' || p.dflt_value, '')
                    || CASE WHEN p.pk > 0 THEN ' primary key' ELSE '' END
                    || CASE WHEN p.hidden > 0 THEN ' generated' ELSE '' END
             FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"),
            SnapshotQuery::canonical(format!(
                "SELECT '{COLUMN_ORDER}' || m.name, group_concat(p.name, ', ')
                 FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' GROUP BY m.name"
            )),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_are_lock_timeouts() {
        let e = |code: &str| DbError {
            code: Some(code.into()),
            ..DbError::other("")
        };
        assert!(Sqlite.is_lock_timeout(&e("5")));
        assert!(Sqlite.is_lock_timeout(&e("517")));
        assert!(!Sqlite.is_lock_timeout(&e("19")));
        assert!(super::super::postgres::Postgres.is_lock_timeout(&e("55P03")));
        assert!(!super::super::postgres::Postgres.is_lock_timeout(&e("25006")));
    }
}
