//! The history tables in the target database: `<prefix>migrations` (one row per version, with
//! its state, checksums, the SQL applied and its rollback as they were at apply time, progress
//! and error) and `<prefix>events` (the append-only audit log).
//!
//! They are created on first use, after the lock is taken, so concurrent runners never race
//! on the DDL.

use sqlx::{AssertSqlSafe, Row};

use super::schema;
pub use super::state::{Mark, Mode, State};
use crate::config::Dialect;
use crate::db::{Backend, Call, Conn, DbError, HistoryNames, Value};
use crate::on_conn;
pub use crate::runtime::RunInfo;

/// How `upsert` writes a row: its state and attempts, `finished` (statements done and
/// duration) for a row written once at its end, and the statement already in flight.
struct Upsert<'a> {
    state: State,
    attempts: i64,
    finished: Option<(i64, i64)>,
    in_flight: Option<i64>,
    /// An audit event written by the same statement, where the database can (PostgreSQL: a
    /// data-modifying CTE): its kind, and its detail's text before and after the migration's
    /// duration in milliseconds (as written to the row, `plus_query` included). `None`: the
    /// caller writes its event.
    event: Option<(&'a str, (&'a str, &'a str))>,
    /// SQL for the milliseconds since the server received the query this statement is part
    /// of, added to the duration in `finished` (`Backend::query_elapsed_ms`): the row is sent
    /// in one query with the migration's last statement, whose time only the server knows.
    plus_query: Option<&'static str>,
}

impl Upsert<'_> {
    /// A row's start (applying), first attempt of this run, `in_flight` already marked.
    fn first_attempt(in_flight: Option<i64>) -> Self {
        Upsert {
            state: State::Applying,
            attempts: 1,
            finished: None,
            in_flight,
            event: None,
            plus_query: None,
        }
    }
}

/// One row of `<prefix>migrations`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    pub version: i64,
    pub name: String,
    pub state: State,
    pub mode: Mode,
    pub sha256: String,
    pub normalized_sha256: String,
    pub refinery_checksum: String,
    pub applied_sql: String,
    pub rollback_sql: Option<String>,
    pub statements_total: i64,
    pub statements_done: i64,
    pub error_statement: Option<i64>,
    pub error_sqlstate: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub deploy_id: Option<String>,
    pub environment: String,
    pub release: Option<String>,
    pub applied_by: String,
    /// A statement (1-based) started outside a transaction whose end was never recorded: the
    /// run stopped while it ran, and the catalog must tell whether it took effect.
    pub in_flight: Option<i64>,
    /// Statements of the rollback committed so far (statement-mode rollbacks), of
    /// `rollback_total`.
    pub rollback_done: i64,
    pub rollback_total: Option<i64>,
    pub rollback_in_flight: Option<i64>,
    /// The version an unfinished rollback run goes down to (it stays applied): a re-run of
    /// `rollback --steps N` continues to it instead of counting N again.
    pub rollback_target: Option<i64>,
}

/// What a run writes into a new or retried row.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub version: i64,
    pub name: &'a str,
    pub mode: Mode,
    pub sha256: &'a str,
    pub normalized_sha256: &'a str,
    pub refinery_checksum: u64,
    pub applied_sql: &'a str,
    pub rollback_sql: Option<&'a str>,
    pub statements_total: i64,
}

impl<'a> NewRow<'a> {
    /// The row of a migration recorded without running it (`--baseline`, `runner adopt`):
    /// its file's checksums and text, no statements.
    pub fn recorded(m: &'a crate::catalog::Migration, mode: Mode) -> NewRow<'a> {
        NewRow {
            version: m.version,
            name: &m.name,
            mode,
            sha256: &m.forward.checksums.sha256,
            normalized_sha256: &m.forward.checksums.normalized_sha256,
            refinery_checksum: m.refinery_checksum,
            applied_sql: &m.forward.sql,
            rollback_sql: m.rollback.as_ref().map(|r| r.sql.as_str()),
            statements_total: 0,
        }
    }
}

/// The history of one database, with its table names.
pub struct History {
    pub migrations: String,
    pub events: String,
    pub deploys: String,
    names: HistoryNames,
    backend: &'static dyn Backend,
}

impl History {
    pub fn new(prefix: &str, dialect: Dialect) -> History {
        let names = HistoryNames::new(prefix);
        History {
            migrations: names.migrations.clone(),
            events: names.events.clone(),
            deploys: names.deploys.clone(),
            names,
            backend: crate::db::backend(dialect),
        }
    }

    pub fn now(&self) -> &'static str {
        self.backend.now_sql()
    }

    pub fn backend(&self) -> &'static dyn Backend {
        self.backend
    }

    /// Creates the tables when missing, and adds the columns an older runner's tables lack.
    /// Call with the lock held.
    pub async fn ensure(&self, conn: &mut Conn) -> Result<(), DbError> {
        if conn.ensured.contains(&self.names.migrations) {
            return Ok(());
        }
        // Tables this call creates have every column, in the right character set, and no
        // index yet: only tables that were there already are checked and brought up to date.
        let tables = schema::tables(&self.names).map(|(t, _)| t);
        let fresh = !conn.tables_exist(&tables).await?.contains(&true);
        conn.execute(&schema::create_sql(self.backend, &self.names))
            .await?;
        for (table, columns) in schema::tables(&self.names).into_iter().filter(|_| !fresh) {
            if let Some((count, convert)) = self.backend.narrow_text() {
                // A table an older runner created in the database's default character set
                // (latin1 on MariaDB): converted, losslessly, so a file's text fits.
                let narrow = conn
                    .fetch_one_text(
                        &format!("SELECT CAST(({count}) AS {})", self.backend.cast_text()),
                        vec![table.into()],
                    )
                    .await?;
                if narrow.is_some_and(|n| n.trim() != "0") {
                    conn.execute(&convert.replace("{table}", table)).await?;
                }
            }
            let present = self.columns(conn, table).await?;
            for column in columns
                .iter()
                .filter(|c| !present.iter().any(|p| p == c.name))
            {
                conn.execute(&format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    column.sql(self.backend)
                ))
                .await?;
            }
        }
        // The journal is read newest first per environment (`status`, the dashboard): an
        // index keeps that read from sorting the whole journal.
        // Named after the table without its schema (an index lives in its table's schema).
        let table = self.names.deploys.rsplit('.').next().unwrap_or_default();
        let index = format!("{table}_by_environment");
        let missing = if self.backend.if_not_exists_index().is_empty() && !fresh {
            conn.fetch_one_text(
                &format!(
                    "SELECT CAST(({}) AS {})",
                    self.backend.index_exists_sql(),
                    self.backend.cast_text()
                ),
                vec![index.clone().into(), table.into()],
            )
            .await?
            .is_some_and(|c| c.trim() == "0")
        } else {
            true
        };
        if missing {
            conn.execute(&format!(
                "CREATE INDEX {}{} ON {} ({}, {})",
                self.backend.if_not_exists_index(),
                self.backend.ident(&index),
                self.names.deploys,
                self.backend.index_column("environment"),
                self.backend.ident("started_at"),
            ))
            .await?;
        }
        conn.ensured.push(self.names.migrations.clone());
        Ok(())
    }

    /// The column names of one of runner's tables.
    pub async fn columns(&self, conn: &mut Conn, table: &str) -> Result<Vec<String>, DbError> {
        Ok(conn
            .fetch_text(self.backend.columns_sql(), vec![table.into()])
            .await?
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect())
    }

    /// Whether the tables exist (`runner plan` must not create them).
    pub async fn exists(&self, conn: &mut Conn) -> Result<bool, DbError> {
        self.table_exists(conn, &self.migrations.clone()).await
    }

    pub async fn table_exists(&self, conn: &mut Conn, table: &str) -> Result<bool, DbError> {
        let count = conn
            .fetch_one_text(
                &format!(
                    "SELECT CAST(({}) AS {})",
                    self.backend.table_exists_sql(),
                    self.backend.cast_text()
                ),
                vec![table.into()],
            )
            .await?;
        Ok(count.is_some_and(|c| c != "0"))
    }

    /// Every row, by version.
    pub async fn rows(&self, conn: &mut Conn) -> Result<Vec<HistoryRow>, DbError> {
        let ts = |col: &str| self.backend.as_text(col);
        let int = |col: &str| self.backend.as_bigint(col);
        // Tables of an older runner lack the later columns: read them as NULL or 0 (reading
        // commands do not upgrade the tables: they do not hold the lock).
        let present = self.columns(conn, &self.migrations.clone()).await?;
        let later = |col: &str, missing: &str| {
            if present.iter().any(|p| p == col) {
                int(col)
            } else {
                format!("CAST({missing} AS BIGINT) AS {col}")
            }
        };
        let sql = format!(
            "SELECT version, name, state, mode, sha256, normalized_sha256, refinery_checksum,
                    applied_sql, rollback_sql, {}, {}, {}, error_sqlstate, error_message, {},
                    {}, {}, duration_ms, deploy_id, environment, {release}, applied_by,
                    {}, {}, {}, {}, {}
             FROM {} ORDER BY version",
            int("statements_total"),
            int("statements_done"),
            int("error_statement"),
            int("attempts"),
            ts("started_at"),
            ts("finished_at"),
            later("in_flight", "NULL"),
            later("rollback_done", "0"),
            later("rollback_total", "NULL"),
            later("rollback_in_flight", "NULL"),
            later("rollback_target", "NULL"),
            self.migrations,
            release = self.backend.ident("release"),
        );
        on_conn!(conn, c => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(c).await.map_err(|e| DbError::from_sqlx(&e))?;
            rows.iter().map(|r| -> Result<HistoryRow, sqlx::Error> {
                let state: String = r.try_get("state")?;
                let mode: String = r.try_get("mode")?;
                Ok(HistoryRow {
                    version: r.try_get("version")?,
                    name: r.try_get("name")?,
                    state: State::parse(&state).unwrap_or(State::FailedPartial),
                    mode: Mode::parse(&mode),
                    sha256: r.try_get("sha256")?,
                    normalized_sha256: r.try_get("normalized_sha256")?,
                    refinery_checksum: r.try_get("refinery_checksum")?,
                    applied_sql: r.try_get("applied_sql")?,
                    rollback_sql: r.try_get("rollback_sql")?,
                    statements_total: r.try_get("statements_total")?,
                    statements_done: r.try_get("statements_done")?,
                    error_statement: r.try_get("error_statement")?,
                    error_sqlstate: r.try_get("error_sqlstate")?,
                    error_message: r.try_get("error_message")?,
                    attempts: r.try_get("attempts")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    deploy_id: r.try_get("deploy_id")?,
                    environment: r.try_get("environment")?,
                    release: r.try_get("release")?,
                    applied_by: r.try_get("applied_by")?,
                    in_flight: r.try_get("in_flight")?,
                    rollback_done: r.try_get("rollback_done")?,
                    rollback_total: r.try_get("rollback_total")?,
                    rollback_in_flight: r.try_get("rollback_in_flight")?,
                    rollback_target: r.try_get("rollback_target")?,
                })
            }).collect::<Result<Vec<_>, _>>().map_err(|e| DbError::from_sqlx(&e))
        })
    }

    /// Writes the row of a migration about to run, in `state` (a retry of a failed run
    /// replaces the old row). `attempts` is how many tries this run has made, added to those of
    /// earlier runs.
    pub async fn start(
        &self,
        conn: &mut Conn,
        row: &NewRow<'_>,
        run: &RunInfo,
        state: State,
        attempts: i64,
    ) -> Result<(), DbError> {
        let how = Upsert {
            state,
            attempts,
            finished: None,
            in_flight: None,
            event: None,
            plus_query: None,
        };
        self.upsert(conn, row, run, how).await
    }

    /// `start`, with the first statement already marked in flight (`Mark::InFlight`): one
    /// write where two would commit twice.
    pub async fn start_in_flight(
        &self,
        conn: &mut Conn,
        row: &NewRow<'_>,
        run: &RunInfo,
        state: State,
        (attempts, in_flight): (i64, Option<i64>),
    ) -> Result<(), DbError> {
        let how = Upsert {
            state,
            attempts,
            finished: None,
            in_flight,
            event: None,
            plus_query: None,
        };
        self.upsert(conn, row, run, how).await
    }

    /// The row of a migration that ran whole inside the transaction this writes in: written
    /// once, finished (all its statements, after `attempts`, in `duration_ms`), where `start`
    /// and `finish` would take two round trips. Nobody outside the transaction could have seen it `applying`.
    /// With its `migration_applied` audit event, in the caller's transaction. (PostgreSQL
    /// writes both in one prepared statement sent with the last statement instead:
    /// `applied_with_last_statement`.)
    pub async fn applied_in_transaction(
        &self,
        conn: &mut Conn,
        row: &NewRow<'_>,
        run: &RunInfo,
        (attempts, duration_ms): (i64, i64),
        detail: &str,
    ) -> Result<(), DbError> {
        let how = Upsert {
            state: State::Applied,
            attempts,
            finished: Some((row.statements_total, duration_ms)),
            in_flight: None,
            event: None,
            plus_query: None,
        };
        self.upsert(conn, row, run, how).await?;
        self.event(conn, run, Some(row.version), "migration_applied", detail)
            .await
    }

    /// `applied_in_transaction` (the row and its event in one statement) as a prepared
    /// statement's call, to send in one query after the migration's last statement and before
    /// the COMMIT: one round trip for the three, planned once per session. `Some` where the
    /// server can time that statement (`Backend::query_elapsed_ms`) and prepare by name
    /// (PostgreSQL); the row's duration is `ms_before` (until the query was sent) plus that
    /// time, and the event's detail is `detail` around it.
    pub fn applied_with_last_statement(
        &self,
        row: &NewRow<'_>,
        run: &RunInfo,
        attempts: i64,
        ms_before: i64,
        detail: (&str, &str),
    ) -> Option<Call> {
        let plus_query = Some(self.backend.query_elapsed_ms()?);
        let how = Upsert {
            state: State::Applied,
            attempts,
            finished: Some((row.statements_total, ms_before)),
            in_flight: None,
            event: Some(("migration_applied", detail)),
            plus_query,
        };
        let (sql, values) = self.upsert_query(row, run, how);
        // Named after the tables it writes: a session may hold another prefix's history.
        let name: String = format!("{}_applied", self.migrations)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        self.backend.prepared_call(&name, &sql, &values)
    }

    /// A row taken over from another tool's history (`runner adopt`), applied without
    /// running, with its `migration_adopted` event; in the caller's transaction.
    pub async fn adopted(
        &self,
        conn: &mut Conn,
        row: &NewRow<'_>,
        run: &RunInfo,
        detail: &str,
    ) -> Result<(), DbError> {
        let how = Upsert {
            state: State::Applied,
            attempts: 0,
            finished: Some((0, 0)),
            in_flight: None,
            event: None,
            plus_query: None,
        };
        self.upsert(conn, row, run, how).await?;
        self.event(conn, run, Some(row.version), "migration_adopted", detail)
            .await
    }

    async fn upsert(
        &self,
        conn: &mut Conn,
        row: &NewRow<'_>,
        run: &RunInfo,
        how: Upsert<'_>,
    ) -> Result<(), DbError> {
        let (sql, values) = self.upsert_query(row, run, how);
        conn.exec(sql, values).await.map(drop)
    }

    /// MySQL: `start_in_flight` (state applying, first attempt) as SQL text with literals, to
    /// send in one query with the migration's first statement or with the previous
    /// migration's last transaction (`crate::db::inline`).
    pub fn start_sql(&self, row: &NewRow<'_>, run: &RunInfo, in_flight: Option<i64>) -> String {
        let (sql, values) = self.upsert_query(row, run, Upsert::first_attempt(in_flight));
        crate::db::inline(self.backend, &sql, &values)
    }

    fn upsert_query(
        &self,
        row: &NewRow<'_>,
        run: &RunInfo,
        how: Upsert<'_>,
    ) -> (String, Vec<Value>) {
        let (tuple, mut values) = self.row_tuple(row, run, &how, 0);
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {tuple} {}",
            self.migrations,
            self.row_columns(),
            self.row_assignments(self.now(), &self.backend.excluded("duration_ms")),
        );
        let sql = match how.event {
            None => sql,
            Some((kind, detail)) => self.with_event(sql, &mut values, run, kind, detail),
        };
        (sql, values)
    }

    /// The columns a history row's INSERT writes, in the order of `row_tuple`.
    fn row_columns(&self) -> String {
        format!(
            "version, name, state, mode, sha256, normalized_sha256, refinery_checksum,
                 applied_sql, rollback_sql, statements_total, statements_done, attempts, started_at,
                 deploy_id, environment, {}, applied_by, in_flight, finished_at, duration_ms",
            self.backend.ident("release")
        )
    }

    /// One row's VALUES tuple (for `row_columns`), its parameters numbered after `base`, and
    /// their values.
    fn row_tuple(
        &self,
        row: &NewRow<'_>,
        run: &RunInfo,
        how: &Upsert<'_>,
        base: usize,
    ) -> (String, Vec<Value>) {
        let p = |i: usize| format!("${}", base + i);
        // A literal: a small integer runner computed, never input.
        let in_flight = how.in_flight.map_or("NULL".to_string(), |n| n.to_string());
        let now = self.now();
        // statements_done, finished_at, duration_ms.
        let (done, finished_at, duration) = match how.finished {
            Some(_) => (
                p(16),
                now,
                match how.plus_query {
                    Some(elapsed) => format!("({} + {elapsed})", p(17)),
                    None => p(17),
                },
            ),
            None => ("0".to_string(), "NULL", "NULL".to_string()),
        };
        let tuple = format!(
            "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {done}, {}, {now}, {}, {}, {}, {}, {in_flight},
                 {finished_at}, {duration})",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(15),
            p(11),
            p(12),
            p(13),
            p(14),
        );
        let mut values = vec![
            row.version.into(),
            row.name.into(),
            how.state.name().into(),
            row.mode.name().into(),
            row.sha256.into(),
            row.normalized_sha256.into(),
            row.refinery_checksum.to_string().into(),
            row.applied_sql.into(),
            row.rollback_sql.map(str::to_string).into(),
            row.statements_total.into(),
            run.deploy_id.clone().into(),
            run.environment.clone().into(),
            run.release.clone().into(),
            run.actor.clone().into(),
            how.attempts.into(),
        ];
        if let Some((done, duration_ms)) = how.finished {
            values.push(done.into());
            values.push(duration_ms.into());
        }
        (tuple, values)
    }

    /// The conflict clause of a history row's INSERT: an existing row (an earlier failed
    /// run's) takes the proposed row's values, its errors and rollback progress cleared, its
    /// attempts added up, and `started_at` and `duration_ms` set to the SQL given (the
    /// duration assigned first: it may read the row's `started_at` before that changes).
    fn row_assignments(&self, started_at: &str, duration_ms: &str) -> String {
        let b = self.backend;
        let x = |c: &str| format!("{} = {}", b.ident(c), b.excluded(c));
        let taken = [
            "name",
            "state",
            "mode",
            "sha256",
            "normalized_sha256",
            "refinery_checksum",
            "applied_sql",
            "rollback_sql",
            "statements_total",
            "statements_done",
            "finished_at",
            "in_flight",
            "deploy_id",
            "environment",
            "release",
            "applied_by",
        ]
        .map(x)
        .join(", ");
        format!(
            "{} {taken}, error_statement = NULL, error_sqlstate = NULL, error_message = NULL,
                 duration_ms = {duration_ms}, attempts = {m}.attempts + {attempts}, started_at = {started_at}, rollback_done = 0,
                 rollback_total = NULL, rollback_in_flight = NULL, rollback_target = NULL",
            b.on_conflict("version"),
            m = self.migrations,
            attempts = b.excluded("attempts"),
        )
    }

    /// The `INSERT` of a history row made a data-modifying CTE that also writes its audit
    /// event (PostgreSQL), the event's detail around the duration the row holds.
    fn with_event(
        &self,
        sql: String,
        values: &mut Vec<Value>,
        run: &RunInfo,
        kind: &str,
        (before, after): (&str, &str),
    ) -> String {
        let n = values.len();
        values.extend([
            run.environment.clone().into(),
            run.deploy_id.clone().into(),
            kind.into(),
            before.into(),
            run.actor.clone().into(),
            after.into(),
        ]);
        // The duration as the row holds it: evaluated again, the server's clock would have
        // moved on.
        let detail = format!(
            "${} || CAST(written.duration_ms AS {}) || ${}",
            n + 4,
            self.backend.cast_text(),
            n + 6
        );
        format!(
            "WITH written AS ({sql} RETURNING version, duration_ms)
                     INSERT INTO {} (environment, deploy_id, version, kind, detail, actor)
                     SELECT ${}, ${}, written.version, ${}, {detail}, ${} FROM written",
            self.events,
            n + 1,
            n + 2,
            n + 3,
            n + 5
        )
    }

    /// `UPDATE <migrations> SET <assignments> WHERE version = <version>`, the assignments'
    /// parameters numbered from $1.
    async fn update(
        &self,
        conn: &mut Conn,
        version: i64,
        assignments: &str,
        mut values: Vec<Value>,
    ) -> Result<(), DbError> {
        let sql = format!(
            "UPDATE {} SET {assignments} WHERE version = ${}",
            self.migrations,
            values.len() + 1
        );
        values.push(version.into());
        conn.exec(sql, values).await.map(drop)
    }

    /// Records how far a migration (or its rollback) got: see `Mark`.
    pub async fn mark(&self, conn: &mut Conn, version: i64, mark: Mark) -> Result<(), DbError> {
        let (set, n) = match mark {
            Mark::DoneThenInFlight(n, next) => {
                let values = vec![n.into(), next.into()];
                return self
                    .update(
                        conn,
                        version,
                        "statements_done = $1, in_flight = $2",
                        values,
                    )
                    .await;
            }
            Mark::Done(n) => ("statements_done = $1, in_flight = NULL", n),
            Mark::InFlight(n) => ("in_flight = $1", n),
            Mark::RollbackDone(n) => ("rollback_done = $1, rollback_in_flight = NULL", n),
            Mark::RollbackInFlight(n) => ("rollback_in_flight = $1", n),
        };
        self.update(conn, version, set, vec![n.into()]).await
    }

    /// A rollback starts (or continues): state rolling_back, with its statement count.
    pub async fn rollback_started(
        &self,
        conn: &mut Conn,
        version: i64,
        total: i64,
    ) -> Result<(), DbError> {
        let set = "state = $1, rollback_total = $2";
        let values = vec![State::RollingBack.name().into(), total.into()];
        self.update(conn, version, set, values).await
    }

    /// Records the target of a rollback run on every migration it will undo, before it
    /// undoes any: a re-run after a stop continues to the same target.
    pub async fn schedule_rollback(
        &self,
        conn: &mut Conn,
        versions: &[i64],
        target: i64,
    ) -> Result<(), DbError> {
        for version in versions {
            let set = "rollback_target = $1";
            self.update(conn, *version, set, vec![target.into()])
                .await?;
        }
        Ok(())
    }

    /// Forgets the target of an unfinished rollback run (a forward run, or an explicit
    /// `--to`, replaces it).
    pub async fn clear_rollback_target(&self, conn: &mut Conn) -> Result<(), DbError> {
        let sql = format!(
            "UPDATE {} SET rollback_target = NULL WHERE rollback_target IS NOT NULL",
            self.migrations
        );
        conn.exec(sql, Vec::new()).await.map(drop)
    }

    /// Marks a row finished in `state` (applied, rolled_back), with its duration.
    pub async fn finish(
        &self,
        conn: &mut Conn,
        version: i64,
        state: State,
        done: i64,
        duration_ms: i64,
    ) -> Result<(), DbError> {
        let set = format!(
            "state = $1, statements_done = $2, finished_at = {}, duration_ms = $3, in_flight = NULL",
            self.now()
        );
        let values = vec![state.name().into(), done.into(), duration_ms.into()];
        self.update(conn, version, &set, values).await
    }

    /// MySQL: the row's end (applied, `done` statements, its duration `mysql_took`) as SQL
    /// text with literals, sent with the COMMIT in one query (prepared statements cannot share
    /// a query there).
    pub fn finish_applied_sql(&self, version: i64, done: i64) -> String {
        format!(
            "UPDATE {m} SET state = '{applied}', statements_done = {done}, finished_at = {now}, duration_ms = {took}, in_flight = NULL WHERE version = {version}",
            m = self.migrations,
            applied = State::Applied.name(),
            now = self.now(),
            took = self.mysql_took(),
        )
    }

    /// MySQL: the milliseconds since the row's `started_at` (written when this run started the
    /// migration), by the server's clock, when the statement that ends the row runs. The query
    /// that ends a row may run the migration's last statements first, so a duration taken
    /// before it was sent would leave them out. Kept in `@runner_took` for the event
    /// (`applied_event_sql`), which then reads no row.
    fn mysql_took(&self) -> String {
        format!(
            "(@runner_took := TIMESTAMPDIFF(MICROSECOND, {}.started_at, {}) DIV 1000)",
            self.migrations,
            self.now()
        )
    }

    /// MySQL: `finish_applied_sql` of `ended` (its row and `done` statements) and `start_sql`
    /// of `next` (its row and in-flight mark) in one statement: a two-row upsert, one
    /// statement where two would each be parsed and run. The ended row exists (its start
    /// committed before its first statement ran, in this run), proposes its own values again,
    /// and keeps its `started_at` and attempts; the rows tell apart by state.
    pub fn finish_then_start_sql(
        &self,
        run: &RunInfo,
        (ended, done): (&NewRow<'_>, i64),
        (next, in_flight): (&NewRow<'_>, Option<i64>),
    ) -> String {
        let end = Upsert {
            state: State::Applied,
            attempts: 0,
            finished: Some((done, 0)),
            in_flight: None,
            event: None,
            plus_query: None,
        };
        let start = Upsert::first_attempt(in_flight);
        let (first, mut values) = self.row_tuple(ended, run, &end, 0);
        let (second, more) = self.row_tuple(next, run, &start, values.len());
        values.extend(more);
        let applied = |then: String, otherwise: String| {
            format!(
                "CASE WHEN {} = '{}' THEN {then} ELSE {otherwise} END",
                self.backend.excluded("state"),
                State::Applied.name(),
            )
        };
        let started_at = applied(
            format!("{}.started_at", self.migrations),
            self.now().to_string(),
        );
        let took = applied(self.mysql_took(), self.backend.excluded("duration_ms"));
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {first}, {second} {}",
            self.migrations,
            self.row_columns(),
            self.row_assignments(&started_at, &took),
        );
        crate::db::inline(self.backend, &sql, &values)
    }

    /// MySQL: a migration's `migration_applied` event as SQL text with literals (strings as
    /// hex literals, exact in every `sql_mode`), after `finish_applied_sql` or
    /// `finish_then_start_sql` in the same transaction: its detail is `before`, the duration
    /// the row's end just wrote (`mysql_took`), then `after`.
    pub fn applied_event_sql(
        &self,
        run: &RunInfo,
        version: i64,
        (before, after): (&str, &str),
    ) -> String {
        let text = |t: &str| self.backend.text_literal(t);
        format!(
            "INSERT INTO {} (environment, deploy_id, version, kind, detail, actor) VALUES ({}, {}, {version}, 'migration_applied', CONCAT({}, @runner_took, {}), {})",
            self.events,
            text(&run.environment),
            text(&run.deploy_id),
            text(before),
            text(after),
            text(&run.actor),
        )
    }

    /// Marks a row failed, with the statement (1-based) that failed and the database's error.
    pub async fn fail(
        &self,
        conn: &mut Conn,
        version: i64,
        state: State,
        failure: &Failure,
    ) -> Result<(), DbError> {
        let set = format!(
            "state = $1, statements_done = $2, error_statement = $3, error_sqlstate = $4,
             error_message = $5, finished_at = {}, duration_ms = $6, in_flight = NULL",
            self.now()
        );
        let values = vec![
            state.name().into(),
            failure.statements_done.into(),
            failure.statement.into(),
            failure.error.code.clone().into(),
            failure.error.message.clone().into(),
            failure.duration_ms.into(),
        ];
        self.update(conn, version, &set, values).await
    }

    /// Records a migration a person finished by hand: its state, how many statements count
    /// as done, no error; marked applied, it takes the file's SQL and checksums (what the person
    /// applied), so the next run compares against them.
    pub async fn mark_by_hand(
        &self,
        conn: &mut Conn,
        version: i64,
        state: State,
        done: i64,
        file: Option<&crate::catalog::SqlFile>,
    ) -> Result<(), DbError> {
        let set = format!(
            "state = $1, statements_done = $2, in_flight = NULL, rollback_in_flight = NULL,
             error_statement = NULL, error_sqlstate = NULL, error_message = NULL,
             finished_at = {}",
            self.now()
        );
        self.update(conn, version, &set, vec![state.name().into(), done.into()])
            .await?;
        if let (State::Applied, Some(file)) = (state, file) {
            let set =
                "applied_sql = $1, sha256 = $2, normalized_sha256 = $3, statements_total = $4";
            let values = vec![
                file.sql.clone().into(),
                file.checksums.sha256.clone().into(),
                file.checksums.normalized_sha256.clone().into(),
                done.into(),
            ];
            self.update(conn, version, set, values).await?;
        }
        Ok(())
    }

    /// Sets a row's state alone (classifying an interrupted run, rollback states).
    pub async fn set_state(
        &self,
        conn: &mut Conn,
        version: i64,
        state: State,
    ) -> Result<(), DbError> {
        let set = "state = $1";
        self.update(conn, version, set, vec![state.name().into()])
            .await
    }

    /// `event`, best effort: the one way to write an audit event that must not stop the
    /// work it describes. The history row (or the deploy journal) already records the outcome,
    /// and a run must not fail, or stop putting things back, because the audit log could not
    /// be written (the connection lost with the failure it reports, most often).
    pub async fn audit(
        &self,
        conn: &mut Conn,
        run: &RunInfo,
        version: Option<i64>,
        kind: &str,
        detail: &str,
    ) {
        let _ = self.event(conn, run, version, kind, detail).await;
    }

    /// Appends to the audit log.
    pub async fn event(
        &self,
        conn: &mut Conn,
        run: &RunInfo,
        version: Option<i64>,
        kind: &str,
        detail: &str,
    ) -> Result<(), DbError> {
        let sql = format!(
            "INSERT INTO {} (environment, deploy_id, version, kind, detail, actor) VALUES ($1, $2, $3, $4, $5, $6)",
            self.events
        );
        let values = vec![
            run.environment.clone().into(),
            run.deploy_id.clone().into(),
            version.into(),
            kind.into(),
            detail.into(),
            run.actor.clone().into(),
        ];
        conn.exec(sql, values).await.map(drop)
    }
}

/// Why a migration stopped: which statement, what the database said, what was committed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 1-based index of the failing statement.
    pub statement: i64,
    pub statements_done: i64,
    pub error: DbError,
    pub duration_ms: i64,
}
