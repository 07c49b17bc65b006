//! The databases runner works on: one dedicated connection per run, and one backend per
//! database product that knows its SQL (the lock, session limits, history DDL, error classes,
//! catalog snapshot queries), so the engine above is written once.
//!
//! sqlx is the only driver. runner holds one connection per run, not a pool: the lock, the
//! migrations and the history writes share its fate, so a crash frees the lock with the
//! connection and nothing else can sneak in between them.

pub mod backoff;
mod effect;
pub mod lock;
mod mysql;
mod postgres;
pub mod snapshot;
mod sqlite;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

pub use crate::error::DbError;
pub use effect::{Effect, Expect, Part};

use crate::config::{DatabaseUrl, Dialect};
use crate::error::{Error, Result};

/// One database connection of a run (not a pool: the lock, the migrations and the history
/// share its fate), and the session limits last set on it.
pub struct Conn {
    pub(crate) driver: Driver,
    /// The SQL of the session-level limits in force (`set_limits`), so setting the same ones
    /// again costs no round trip.
    session_limits: Option<String>,
    /// The history tables (by their migrations table's name) that `History::ensure` brought up
    /// to date on this connection: once is enough for a connection's life.
    pub(crate) ensured: Vec<String>,
    /// The in-flight statements whose effect the catalog could not show that this connection's
    /// history reads already reported (version, of the rollback, statement): said once.
    pub(crate) undecided_told: Vec<(i64, bool, i64)>,
    /// Statements prepared by name on this session (`Conn::call`).
    prepared: Vec<String>,
}

/// A statement runner prepares once per session and executes by name, with literal
/// arguments, inside a query that holds other statements too (`Backend::prepared_call`).
pub struct Call {
    pub name: String,
    /// `PREPARE name (types) AS ...`, sent once per session.
    pub prepare: String,
    /// `EXECUTE name (literals)`.
    pub execute: String,
}

pub enum Driver {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
    Mysql(MySqlConnection),
}

impl From<Driver> for Conn {
    fn from(driver: Driver) -> Conn {
        Conn {
            driver,
            session_limits: None,
            ensured: Vec::new(),
            undecided_told: Vec::new(),
            prepared: Vec::new(),
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection, whatever the dialect: the same
/// sqlx code compiles once per driver.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match &mut $conn.driver {
            $crate::db::Driver::Postgres($c) => $body,
            $crate::db::Driver::Sqlite($c) => $body,
            $crate::db::Driver::Mysql($c) => $body,
        }
    };
}

/// What runner knows of one database product. Everything here is SQL text or a
/// classification; the operations run on `Conn` with it, so each is written once.
pub trait Backend: Sync {
    /// How the migration lock is held.
    fn lock(&self) -> LockMethod;
    /// The lock and how each migration runs under it, for `runner plan`.
    fn lock_description(&self, limits: &Limits) -> String;

    /// SQL that sets the limits every migration statement runs under (lock wait, statement
    /// run time). `in_transaction` scopes them to the open transaction.
    fn limits_sql(&self, limits: &Limits, in_transaction: bool) -> String;
    /// SQL that puts the limits back to the session's defaults, if any is needed.
    fn reset_limits_sql(&self) -> Option<&'static str>;
    /// Opens a migration's transaction. SQLite waits on its busy timeout in `BEGIN IMMEDIATE`,
    /// so its limits go before it; PostgreSQL's go inside, as `SET LOCAL`.
    fn begin_sql(&self) -> &'static str;
    fn limits_before_begin(&self) -> bool;
    /// What a migration's transaction needs around it beyond BEGIN and COMMIT: SQLite turns
    /// foreign keys off for it (its documented table-rebuild procedure) and checks them before
    /// it commits.
    fn foreign_keys(&self) -> Option<ForeignKeyGuard> {
        None
    }

    /// The current time as an SQL expression, to millisecond precision.
    fn now_sql(&self) -> &'static str;
    /// The SQL type of a column of runner's tables (`engine::schema` defines them).
    fn column_type(&self, column: ColumnType) -> &'static str;
    /// A text column that is a key (MySQL cannot index LONGTEXT).
    fn key_text_type(&self) -> &'static str {
        self.column_type(ColumnType::Text)
    }
    /// The type to `CAST(... AS ...)` to for text.
    fn cast_text(&self) -> &'static str {
        "TEXT"
    }
    /// What follows `INSERT ... VALUES (...)` to update the row with the same `key` instead.
    fn on_conflict(&self, key: &str) -> String {
        format!("ON CONFLICT ({key}) DO UPDATE SET")
    }
    /// The value `column` would have had in the row the INSERT proposed.
    fn excluded(&self, column: &str) -> String {
        format!("excluded.{column}")
    }
    /// A column name as SQL: quoted where the database reserves the word.
    fn ident(&self, name: &str) -> String {
        name.to_string()
    }
    /// Triggers that keep the audit log `events` append-only.
    fn append_only_sql(&self, events: &str) -> String;
    /// Column names of table `$1`.
    fn columns_sql(&self) -> &'static str;
    /// What follows the column list of runner's `CREATE TABLE`s (MySQL: a character set that
    /// holds any text a migration file may contain, whatever the database's default).
    fn table_options(&self) -> &'static str {
        ""
    }
    /// `count(*)` of text columns of table `$1` whose character set cannot hold all of
    /// Unicode, and the statement (with `{table}`) that converts them; MySQL only.
    fn narrow_text(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// SQL for the milliseconds (bigint) since the server received the current query, where
    /// the database can tell.
    fn query_elapsed_ms(&self) -> Option<&'static str> {
        None
    }
    /// `sql` (with `$n` parameters) prepared by `name`, and executed with `values` as
    /// literals, where the database has SQL-level prepared statements (PostgreSQL): one
    /// planning per session for a statement sent as text in a query with others.
    fn prepared_call(&self, _name: &str, _sql: &str, _values: &[Value]) -> Option<Call> {
        None
    }
    /// `text` as a string literal that reads back exactly, whatever the session's settings.
    fn text_literal(&self, text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }
    /// `count(*)` of tables named `$1` that the session can see.
    fn table_exists_sql(&self) -> &'static str;
    /// `count(*)` of indexes named `$1` on table `$2`, where the dialect lacks
    /// `CREATE INDEX IF NOT EXISTS` (`if_not_exists_index` is empty).
    fn index_exists_sql(&self) -> &'static str {
        "SELECT 1"
    }
    fn if_not_exists_index(&self) -> &'static str {
        "IF NOT EXISTS "
    }
    /// A text column as an index names it (MySQL indexes a prefix of a TEXT column).
    fn index_column(&self, column: &str) -> String {
        self.ident(column)
    }
    /// `column` read back as text (timestamps), and as a 64-bit integer.
    fn as_text(&self, column: &str) -> String;
    fn as_bigint(&self, column: &str) -> String;

    /// The statements of a migration file, in order, as the database will be sent them
    /// (PostgreSQL's own parser; runner's splitter, which knows trigger bodies and MySQL's
    /// `DELIMITER` lines, elsewhere). `Err` with the parser's message.
    fn split(&self, sql: &str) -> Result<Vec<String>, String>;
    /// Whether DDL runs inside a transaction and rolls back with it. Not on MySQL: each DDL
    /// statement commits by itself, so a file is never one transaction there, and runner
    /// writes a file's progress rows around its statements instead.
    fn transactional_ddl(&self) -> bool {
        true
    }
    /// `None` when `statement` can run inside a transaction (and so commit together with its
    /// progress row); otherwise how to tell afterwards whether it took effect.
    fn outside_transaction(&self, statement: &str) -> Option<Effect>;
    /// Whether runner reads which sessions hold the locks a statement will wait for, to wait
    /// for a gap between them (`engine::gap`); PostgreSQL only, from `pg_locks`.
    fn reads_table_locks(&self) -> bool {
        false
    }
    /// `true`/`false` as SQL.
    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "1" } else { "0" }
    }
    /// Bytes as an SQL literal.
    fn bytes_literal(&self, bytes: &[u8]) -> String {
        format!("X'{}'", hex::encode(bytes))
    }
    /// A bytes expression as lower-case hex text.
    fn hex_of(&self, expr: &str) -> String {
        format!("LOWER(HEX({expr}))")
    }

    /// Scratch databases (`runner verify`), as sqlx's `MigrateDatabase` makes them: `None`
    /// where a database is a file (SQLite: a file in a temp folder), else what to say when
    /// no server to make one on was given.
    fn scratch_needs_server(&self) -> Option<&'static str> {
        None
    }
    fn create_database_sql(&self, name: &str) -> String {
        format!("CREATE DATABASE {name}")
    }
    /// Drops a scratch database, ending the sessions still on it where the database can.
    fn drop_database_sql(&self, name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name}")
    }

    /// A lock wait that gave up (the statement can be retried).
    fn is_lock_timeout(&self, error: &DbError) -> bool;

    /// `(object, description)` queries whose rows together describe the schema.
    fn snapshot_queries(&self) -> Vec<SnapshotQuery>;
    /// Whether the index named `$1` (SQL text, maybe qualified) is valid, as 'true'/'false';
    /// no row when it does not exist. `None`: the database has no concurrent index builds.
    fn index_validity_sql(&self) -> Option<&'static str>;
}

/// A statement's first word, upper-case: what the backends classify a statement by when a
/// parse would tell no more.
fn first_word(statement: &str) -> String {
    statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// A catalog query of a schema snapshot.
pub struct SnapshotQuery {
    pub sql: String,
    /// The descriptions are SQL text as written by a person (SQLite keeps the CREATE
    /// statement): compare them with whitespace and comments normalized.
    pub normalize: bool,
}

impl SnapshotQuery {
    pub fn canonical(sql: impl Into<String>) -> Self {
        SnapshotQuery {
            sql: sql.into(),
            normalize: false,
        }
    }
}

/// What the catalog says of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    Missing,
    Valid,
    /// Left by a CREATE INDEX CONCURRENTLY that failed or was interrupted.
    Invalid,
}

/// The state of an index named as SQL text (quoted, maybe schema-qualified), found through
/// the search path like the statement that made it.
pub async fn index_state(conn: &mut Conn, name: &str) -> Result<IndexState, DbError> {
    let Some(sql) = conn.backend().index_validity_sql() else {
        return Ok(IndexState::Missing);
    };
    Ok(
        match conn
            .fetch_one_text(sql, vec![name.into()])
            .await?
            .as_deref()
        {
            None => IndexState::Missing,
            Some("true") => IndexState::Valid,
            Some(_) => IndexState::Invalid,
        },
    )
}

/// Foreign keys off around a migration's transaction, checked before it commits.
pub struct ForeignKeyGuard {
    /// Run before BEGIN (it has no effect inside a transaction).
    pub off: &'static str,
    /// Rows that violate a foreign key: (table, rowid, parent table, constraint index).
    pub check: &'static str,
    /// Run after COMMIT or ROLLBACK.
    pub on: &'static str,
}

/// How a backend holds the migration lock.
pub enum LockMethod {
    /// A lock of the session: polled with `try_sql` (one boolean-like row: taken or not),
    /// freed by `release_sql` or with the session. `holder_sql` names who holds it (pid,
    /// who, host, state, query, since, as text); `terminate_sql` ends a holder's session.
    Session {
        try_sql: String,
        release_sql: String,
        holder_sql: String,
        terminate_sql: fn(i64) -> String,
    },
    /// An OS file lock on `<database>.runner-lock`, freed when the process ends.
    File,
}

/// The names of runner's tables in a database.
#[derive(Debug, Clone)]
pub struct HistoryNames {
    pub migrations: String,
    pub events: String,
    pub deploys: String,
}

impl HistoryNames {
    pub fn new(prefix: &str) -> Self {
        HistoryNames {
            migrations: format!("{prefix}migrations"),
            events: format!("{prefix}events"),
            deploys: format!("{prefix}deploys"),
        }
    }
}

/// Types of the columns of runner's tables.
#[derive(Debug, Clone, Copy)]
pub enum ColumnType {
    Int,
    BigInt,
    Text,
    /// A point in time (PostgreSQL timestamptz; SQLite text, RFC 3339).
    Timestamp,
    /// A generated row id, the table's key.
    Serial,
}

/// How statements run: how long one may wait for a lock or run, and how often a lock
/// timeout is retried.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub lock_timeout: Duration,
    pub statement_timeout: Option<Duration>,
    /// Retries after a lock timeout (the first try not counted).
    pub retries: u32,
    /// First delay between retries; it doubles, with jitter, up to 30 s.
    pub retry_delay: Duration,
    /// How long a statement waits for a gap (no session holding a conflicting lock for longer
    /// than `lock_timeout`) before it is tried anyway (`engine::gap`).
    pub gap_wait: Duration,
}

impl Default for Limits {
    /// runner's defaults: 5 s lock waits, no statement limit, no retries.
    fn default() -> Limits {
        Limits {
            lock_timeout: crate::config::DEFAULT_LOCK_TIMEOUT,
            statement_timeout: None,
            retries: 0,
            retry_delay: Duration::from_millis(200),
            gap_wait: Duration::ZERO,
        }
    }
}

impl Limits {
    /// An environment's limits from runner.toml; retries start 200 ms apart.
    pub fn of(env: &crate::config::Environment) -> Limits {
        Limits {
            lock_timeout: env.lock_timeout,
            statement_timeout: env.statement_timeout,
            retries: env.lock_retries,
            retry_delay: Duration::from_millis(200),
            gap_wait: env.gap_wait,
        }
    }
}

/// The backend of a dialect.
pub fn backend(dialect: Dialect) -> &'static dyn Backend {
    match dialect {
        Dialect::Postgres => &postgres::Postgres,
        Dialect::Sqlite => &sqlite::Sqlite,
        Dialect::Mysql => &mysql::Mysql,
    }
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
                Ok(Driver::Postgres(conn).into())
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
                Ok(Driver::Sqlite(options.connect().await.map_err(fail)?).into())
            }
            Dialect::Mysql => {
                let options = MySqlConnectOptions::from_str(url.expose()).map_err(fail)?;
                let mut conn = options.connect().await.map_err(fail)?;
                // Timestamps in runner's tables are UTC, whatever the server's zone.
                sqlx::raw_sql("SET time_zone = '+00:00'")
                    .execute(&mut conn)
                    .await
                    .map_err(fail)?;
                Ok(Driver::Mysql(conn).into())
            }
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
        match &self.driver {
            Driver::Postgres(_) => Dialect::Postgres,
            Driver::Sqlite(_) => Dialect::Sqlite,
            Driver::Mysql(_) => Dialect::Mysql,
        }
    }

    pub fn backend(&self) -> &'static dyn Backend {
        backend(self.dialect())
    }

    /// Commits a migration's transaction; on SQLite, only when no foreign key is violated (the
    /// violating rows are named and the transaction rolled back).
    pub async fn commit(&mut self) -> Result<(), DbError> {
        let Some(guard) = self.backend().foreign_keys() else {
            return self.execute("COMMIT").await;
        };
        let violations = self.fetch_text(guard.check, Vec::new()).await;
        let result = match violations {
            Ok(rows) if rows.is_empty() => self.execute("COMMIT").await,
            Ok(rows) => {
                let _ = self.execute("ROLLBACK").await;
                let named: Vec<String> = rows
                    .iter()
                    .take(10)
                    .map(|r| {
                        let cell = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                        format!(
                            "{} row {} references a missing row of {}",
                            cell(0),
                            cell(1),
                            cell(2)
                        )
                    })
                    .collect();
                Err(DbError {
                    code: Some("787".into()),
                    ..DbError::other(format!(
                        "FOREIGN KEY constraint failed at commit: {} violation(s): {}",
                        rows.len(),
                        named.join("; ")
                    ))
                })
            }
            Err(e) => Err(e),
        };
        let _ = self.execute(guard.on).await;
        result
    }

    /// Rolls a migration's transaction back (and turns SQLite's foreign keys on again).
    pub async fn rollback(&mut self) {
        let _ = self.execute("ROLLBACK").await;
        if let Some(guard) = self.backend().foreign_keys() {
            let _ = self.execute(guard.on).await;
        }
    }

    /// Whether each of `tables` exists (`Backend::table_exists_sql`), in one query.
    pub async fn tables_exist(&mut self, tables: &[&str]) -> Result<Vec<bool>, DbError> {
        let backend = self.backend();
        let columns: Vec<String> = (1..=tables.len())
            .map(|n| {
                let one = backend.table_exists_sql().replace("$1", &format!("${n}"));
                format!("CAST(({one}) AS {})", backend.cast_text())
            })
            .collect();
        let row = self
            .fetch_text(
                &format!("SELECT {}", columns.join(", ")),
                tables.iter().map(|t| (*t).into()).collect(),
            )
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        // A count the database did not give is taken as a table that exists: the callers
        // then check it rather than skip it.
        Ok((0..tables.len())
            .map(|i| {
                row.get(i)
                    .cloned()
                    .flatten()
                    .is_none_or(|c| c.trim() != "0")
            })
            .collect())
    }

    /// Rows of a query whose columns are all text (or NULL): the generic read the backends'
    /// catalog and lock queries use.
    pub async fn fetch_text(
        &mut self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        use sqlx::Row;
        let (sql, values) = self.placeholders(sql, values);
        on_conn!(self, c => {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for v in values {
                q = match v {
                    Value::Int(i) => q.bind(i),
                    Value::Text(t) => q.bind(t),
                };
            }
            let rows = q.fetch_all(c).await.map_err(|e| DbError::from_sqlx(&e))?;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DbError::from_sqlx(&e))
        })
    }

    /// The first column of the first row, as text.
    pub async fn fetch_one_text(
        &mut self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Option<String>, DbError> {
        Ok(self
            .fetch_text(sql, values)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten()))
    }

    /// Sets the limits statements run under (see `Backend::limits_sql`).
    pub async fn set_limits(
        &mut self,
        limits: &Limits,
        in_transaction: bool,
    ) -> Result<(), DbError> {
        let sql = self.backend().limits_sql(limits, in_transaction);
        if in_transaction {
            return self.execute(&sql).await;
        }
        if self.session_limits.as_deref() == Some(sql.as_str()) {
            return Ok(());
        }
        self.session_limits = None;
        self.execute(&sql).await?;
        self.session_limits = Some(sql);
        Ok(())
    }

    /// Puts the limits back to the session's defaults.
    pub async fn reset_limits(&mut self) -> Result<(), DbError> {
        self.session_limits = None;
        match self.backend().reset_limits_sql() {
            Some(sql) => self.execute(sql).await,
            None => Ok(()),
        }
    }

    /// Opens a migration's transaction with the limits scoped to it (and, on SQLite, foreign
    /// keys off until `commit` or `rollback`).
    pub async fn begin(&mut self, limits: &Limits) -> Result<(), DbError> {
        self.open_transaction(limits, None).await
    }

    /// `begin`, then `first` (SQL text, no parameters), in one round trip where the database
    /// takes several statements in one query (not SQLite, whose transaction guards run apart).
    pub async fn begin_with(&mut self, limits: &Limits, first: &str) -> Result<(), DbError> {
        self.open_transaction(limits, Some(first)).await
    }

    async fn open_transaction(
        &mut self,
        limits: &Limits,
        first: Option<&str>,
    ) -> Result<(), DbError> {
        let backend = self.backend();
        if let Some(guard) = backend.foreign_keys() {
            self.execute(guard.off).await?;
        }
        let begin = if backend.limits_before_begin() {
            self.set_limits(limits, false).await?;
            backend.begin_sql().to_string()
        } else {
            // One round trip: the transaction opens and takes its limits.
            format!(
                "{}; {}",
                backend.begin_sql(),
                backend.limits_sql(limits, true)
            )
        };
        match first {
            Some(first) if backend.foreign_keys().is_none() => {
                self.execute(&format!("{begin};\n{first}")).await
            }
            Some(first) => {
                self.execute(&begin).await?;
                self.execute(first).await
            }
            None => self.execute(&begin).await,
        }
    }

    /// Prepares `call` on this session unless it already is, so its EXECUTE can go in a
    /// query with other statements.
    pub async fn prepare_once(&mut self, call: &Call) -> Result<(), DbError> {
        if !self.prepared.contains(&call.name) {
            self.execute(&call.prepare).await?;
            self.prepared.push(call.name.clone());
        }
        Ok(())
    }

    /// Runs SQL text as is (one or more statements, no parameters).
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        let sql = AssertSqlSafe(sql.to_string());
        on_conn!(self, c => sqlx::raw_sql(sql).execute(c).await.map(|_| ()))
            .map_err(|e| DbError::from_sqlx(&e))
    }

    /// Runs SQL text of several statements, as `execute`; a failure also says how many of
    /// them completed before it (each statement's result counted as it arrives; MySQL stops
    /// at the first error, so the one after them failed and none later ran).
    pub async fn execute_counted(&mut self, sql: &str) -> Result<(), (usize, DbError)> {
        use futures_util::TryStreamExt;
        let sql = AssertSqlSafe(sql.to_string());
        let mut completed = 0;
        let result = on_conn!(self, c => {
            let mut results = sqlx::raw_sql(sql).fetch_many(c);
            loop {
                match results.try_next().await {
                    Ok(Some(sqlx::Either::Left(_))) => completed += 1,
                    Ok(Some(sqlx::Either::Right(_))) => {}
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        });
        result.map_err(|e| (completed, DbError::from_sqlx(&e)))
    }

    /// Runs one parameterized statement (`$1`, `$2`, ... in both dialects).
    pub async fn exec(&mut self, sql: String, values: Vec<Value>) -> Result<u64, DbError> {
        let (sql, values) = self.placeholders(&sql, values);
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

    /// `sql` with runner's `$n` placeholders as this database takes them, for a statement whose
    /// parameters appear once each, in order.
    pub fn native(&self, sql: &str) -> String {
        self.placeholders(sql, Vec::new()).0
    }

    /// runner writes `$1`, `$2`, ...; MySQL takes `?` in order: rewritten, the values
    /// repeated and reordered to match.
    fn placeholders(&self, sql: &str, values: Vec<Value>) -> (String, Vec<Value>) {
        if self.dialect() != Dialect::Mysql {
            return (sql.to_string(), values);
        }
        let (sql, order) = question_marks(sql);
        let values = order
            .into_iter()
            .filter_map(|i| values.get(i).cloned())
            .collect();
        (sql, values)
    }

    pub async fn close(self) {
        let _ = match self.driver {
            Driver::Postgres(c) => c.close().await,
            Driver::Sqlite(c) => c.close().await,
            Driver::Mysql(c) => c.close().await,
        };
    }
}

/// `$n` placeholders outside quotes turned into `?`, with the 0-based value index of each.
fn question_marks(sql: &str) -> (String, Vec<usize>) {
    let mut order = Vec::new();
    let out = replace_placeholders(sql, |i| {
        order.push(i);
        "?".to_string()
    });
    (out, order)
}

/// `sql` with each `$n` outside quotes replaced by `with(n - 1)`. Scanned as bytes: a quote
/// or `$` byte is never part of a longer UTF-8 character.
fn replace_placeholders(sql: &str, mut with: impl FnMut(usize) -> String) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut quote, mut copied, mut i) = (None::<u8>, 0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if matches!(b, b'\'' | b'"' | b'`') => quote = Some(b),
            None if b == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let n = sql[i + 1..i + 1 + digits].parse::<usize>().unwrap_or(1);
                out.push_str(&sql[copied..i]);
                out.push_str(&with(n.saturating_sub(1)));
                copied = i + 1 + digits;
                i = copied;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    out
}

/// `sql` with its `$n` placeholders (outside quotes) replaced by literals of `values`
/// (`Backend::text_literal`; numbers as they are; NULL). For the few writes runner sends in
/// one query with others, where a prepared statement cannot go.
pub fn inline(backend: &dyn Backend, sql: &str, values: &[Value]) -> String {
    replace_placeholders(sql, |i| {
        values
            .get(i)
            .map_or("NULL".to_string(), |v| literal(backend, v))
    })
}

/// `value` as a literal of `backend`'s SQL.
pub fn literal(backend: &dyn Backend, value: &Value) -> String {
    match value {
        Value::Int(Some(n)) => n.to_string(),
        Value::Text(Some(t)) => backend.text_literal(t),
        _ => "NULL".to_string(),
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

#[cfg(test)]
mod tests {
    use super::question_marks;

    #[test]
    fn dollar_placeholders_become_question_marks_in_order() {
        assert_eq!(
            question_marks("UPDATE t SET a = $2, b = '$1' WHERE id = $1 AND x = $2"),
            (
                "UPDATE t SET a = ?, b = '$1' WHERE id = ? AND x = ?".to_string(),
                vec![1, 0, 1]
            )
        );
    }
}
