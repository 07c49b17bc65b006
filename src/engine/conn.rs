//! The one dedicated database connection a run works on.
//!
//! sqlx is the only driver. runner holds one connection per run, not a pool: the lock, the
//! migrations and the history writes share its fate, so a crash frees the lock with the
//! connection and nothing else can sneak in between them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::config::{DatabaseUrl, Dialect};
pub use crate::error::DbError;
use crate::error::{Error, Result};

pub enum Conn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection, whatever the dialect: the same
/// sqlx code compiles once per driver.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::engine::conn::Conn::Postgres($c) => $body,
            $crate::engine::conn::Conn::Sqlite($c) => $body,
        }
    };
}

impl Conn {
    /// Connects to `url`. For SQLite the file (and its folder) is created when missing.
    pub async fn open(url: &DatabaseUrl, application_name: &str) -> Result<Conn> {
        let fail = |e: sqlx::Error| Error::Database {
            context: format!("cannot connect to {}", url.redacted()),
            source: DbError::from_sqlx(&e),
        };
        match url.dialect() {
            Dialect::Postgres => {
                let options = PgConnectOptions::from_str(url.expose())
                    .map_err(fail)?
                    .application_name(application_name);
                let mut conn = options.connect().await.map_err(fail)?;
                // PostgreSQL 14+: notice a client that died mid-statement within a second, so
                // its transaction and the migration lock are freed at once. Older servers
                // lack the setting; that is fine.
                let _ = sqlx::raw_sql("SET client_connection_check_interval = 1000")
                    .execute(&mut conn)
                    .await;
                Ok(Conn::Postgres(conn))
            }
            Dialect::Sqlite => {
                let options = SqliteConnectOptions::from_str(url.expose())
                    .map_err(fail)?
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(5));
                if let Some(dir) = options.get_filename().parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.exists()
                {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
                Ok(Conn::Sqlite(options.connect().await.map_err(fail)?))
            }
            Dialect::Mysql => Err(Error::Usage(
                "MySQL is not supported by runner migrate yet; PostgreSQL and SQLite are".into(),
            )),
        }
    }

    /// Whether the database exists yet. Only a SQLite file can be missing; reading commands
    /// (`plan`, the staging-before-production check) must not create it.
    pub fn exists(url: &DatabaseUrl) -> bool {
        match url.dialect() {
            Dialect::Sqlite => SqliteConnectOptions::from_str(url.expose())
                .map(|o| {
                    let path = o.get_filename();
                    path.as_os_str() == ":memory:" || path.exists()
                })
                .unwrap_or(false),
            _ => true,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs SQL text as is (one or more statements, no parameters).
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        let sql = AssertSqlSafe(sql.to_string());
        on_conn!(self, c => sqlx::raw_sql(sql).execute(c).await.map(|_| ()))
            .map_err(|e| DbError::from_sqlx(&e))
    }

    /// Runs one parameterized statement (`$1`, `$2`, ... in both dialects).
    pub async fn exec(&mut self, sql: String, values: Vec<Value>) -> Result<u64, DbError> {
        on_conn!(self, c => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for v in values {
                q = match v {
                    Value::Int(i) => q.bind(i),
                    Value::Text(t) => q.bind(t),
                };
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })
        .map_err(|e| DbError::from_sqlx(&e))
    }

    pub async fn close(self) {
        let _ = on_conn!(self, c => c.close().await);
    }
}

/// A value bound to a statement parameter.
#[derive(Debug, Clone)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

/// Quotes a string literal for SQL text: the only place runner builds SQL from a value.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}
