//! The deploy journal, `<prefix>deploys`: one row per deploy or application rollback, written
//! before runner touches anything (the intent: release X replacing Y, who, which phase) and
//! kept current while the run works (its phase, and a heartbeat that holds its lease). At the
//! end it holds the phases with their durations, the last lines of hook output, the
//! migrations it applied, and how it ended. What is serving is derived from it (`record`).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Conn, DbError};
use crate::engine::history::History;
use crate::on_conn;

/// What a journal row records: a release reaching an environment (a deploy, an application
/// rollback), or a change to its database alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Deploy,
    /// The application back to an earlier release.
    Rollback,
    Migrate,
    MigrationsRollback,
    Recover,
    LockRelease,
    /// `runner promote` of a release already serving all traffic: the previous release
    /// stopped, its contract migrations run.
    Promote,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Deploy,
        Kind::Rollback,
        Kind::Migrate,
        Kind::MigrationsRollback,
        Kind::Recover,
        Kind::LockRelease,
        Kind::Promote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy",
            Kind::Rollback => "rollback",
            Kind::Migrate => "migrate",
            Kind::MigrationsRollback => "migrations_rollback",
            Kind::Recover => "recover",
            Kind::LockRelease => "lock_release",
            Kind::Promote => "promote",
        }
    }

    fn parse(s: &str) -> Kind {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .unwrap_or(Kind::Deploy)
    }

    /// Whether a row of this kind changes which release serves.
    pub fn is_release(self) -> bool {
        matches!(self, Kind::Deploy | Kind::Rollback)
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Running,
    Succeeded,
    /// The release failed after the app was touched, and the previous one is serving again.
    RolledBack,
    /// It stopped before the app was touched (gate, migrations...): nothing changed there.
    Failed,
    /// Putting the previous release back failed too: what serves is not known.
    RollbackFailed,
    /// SIGINT/SIGTERM: it stopped, and the previous release serves (or the app was never
    /// touched). Also a run found dead before it touched the app.
    Interrupted,
    /// It stopped without knowing what serves: a second signal, or found dead (SIGKILL, a lost
    /// machine) after it touched the app.
    InDoubt,
    /// A canary held at a step until `runner promote` or `runner abort`: the lock is free,
    /// the stable release serves the rest of the traffic.
    Paused,
}

impl RunResult {
    pub fn name(self) -> &'static str {
        match self {
            RunResult::Running => "running",
            RunResult::Succeeded => "succeeded",
            RunResult::RolledBack => "rolled_back",
            RunResult::Failed => "failed",
            RunResult::RollbackFailed => "rollback_failed",
            RunResult::Interrupted => "interrupted",
            RunResult::InDoubt => "in_doubt",
            RunResult::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> RunResult {
        [
            RunResult::Running,
            RunResult::Succeeded,
            RunResult::RolledBack,
            RunResult::Failed,
            RunResult::RollbackFailed,
            RunResult::Interrupted,
            RunResult::Paused,
        ]
        .into_iter()
        .find(|r| r.name() == s)
        .unwrap_or(RunResult::InDoubt)
    }
}

impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One phase of a run, as it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhaseRecord {
    pub phase: String,
    pub status: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One journal row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub environment: String,
    pub kind: Kind,
    pub version: String,
    pub previous_version: Option<String>,
    pub result: RunResult,
    pub forced: bool,
    pub approved_by: Option<String>,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub phases: Vec<PhaseRecord>,
    pub hook_output: Option<String>,
    pub error: Option<String>,
    pub migrations: Vec<i64>,
    /// From the first failing health check to the previous version healthy again.
    pub recovery_ms: Option<i64>,
    /// The phase the run is in (or was in when it stopped).
    pub phase: Option<String>,
    /// When the running process last renewed its lease (RFC 3339, its own clock).
    pub heartbeat_at: Option<String>,
    /// How long the lease lasts after each heartbeat.
    pub lease_ms: Option<i64>,
    pub strategy: Option<String>,
    /// What the run wants the router to hold (weights, JSON), re-applied after a reload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// Contract migrations this deploy held back: they wait until the previous release is
    /// stopped (contract debt).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<i64>,
    /// Every evaluation of the release's metrics during the run (canary steps, the watch).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<crate::analysis::Evaluation>,
}

impl Entry {
    /// A journal row for a deploy or rollback that is starting now.
    pub fn begin(id: &str, environment: &str, kind: Kind, version: &str, actor: &str) -> Entry {
        Entry {
            id: id.to_string(),
            environment: environment.to_string(),
            kind,
            version: version.to_string(),
            previous_version: None,
            result: RunResult::Running,
            forced: false,
            approved_by: None,
            actor: actor.to_string(),
            started_at: crate::runtime::timestamp_now(),
            finished_at: None,
            duration_ms: None,
            phases: Vec::new(),
            hook_output: None,
            error: None,
            migrations: Vec::new(),
            recovery_ms: None,
            phase: None,
            heartbeat_at: None,
            lease_ms: None,
            strategy: None,
            desired: None,
            held: Vec::new(),
            analysis: Vec::new(),
        }
    }
}

pub async fn start(conn: &mut Conn, history: &History, entry: &Entry) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO {} (id, environment, kind, version, previous_version, result, forced, approved_by, actor, started_at,
                         phase, heartbeat_at, lease_ms, strategy)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}, $10, $11, $12, $13)",
        history.deploys,
        history.now()
    );
    conn.exec(
        sql,
        vec![
            entry.id.clone().into(),
            entry.environment.clone().into(),
            entry.kind.name().into(),
            entry.version.clone().into(),
            entry.previous_version.clone().into(),
            entry.result.name().into(),
            i64::from(entry.forced).into(),
            entry.approved_by.clone().into(),
            entry.actor.clone().into(),
            entry.phase.clone().into(),
            Some(crate::runtime::timestamp_now()).into(),
            entry.lease_ms.into(),
            entry.strategy.clone().into(),
        ],
    )
    .await
    .map(drop)
}

pub async fn finish(conn: &mut Conn, history: &History, entry: &Entry) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET result = $1, finished_at = {}, duration_ms = $2, phases = $3, hook_output = $4,
             error = $5, migrations = $6, recovery_ms = $7, forced = $8, phase = $9, held = $10,
             analysis = $11
         WHERE id = $12",
        history.deploys,
        history.now()
    );
    conn.exec(
        sql,
        vec![
            entry.result.name().into(),
            entry.duration_ms.into(),
            phases_json(entry).into(),
            entry.hook_output.clone().into(),
            entry.error.clone().into(),
            serde_json::to_string(&entry.migrations)
                .unwrap_or_default()
                .into(),
            entry.recovery_ms.into(),
            i64::from(entry.forced).into(),
            entry.phase.clone().into(),
            serde_json::to_string(&entry.held)
                .unwrap_or_default()
                .into(),
            analysis_json(entry).into(),
            entry.id.clone().into(),
        ],
    )
    .await
    .map(drop)
}

/// The phases column of a row.
fn phases_json(entry: &Entry) -> String {
    serde_json::to_string(&entry.phases).unwrap_or_default()
}

/// The analysis column of a row (NULL while nothing was measured).
fn analysis_json(entry: &Entry) -> Option<String> {
    (!entry.analysis.is_empty()).then(|| serde_json::to_string(&entry.analysis).unwrap_or_default())
}

/// Renews a running row's lease, with what it wants the router to hold (a phase change
/// renews it through `progress`).
pub async fn heartbeat(
    conn: &mut Conn,
    history: &History,
    id: &str,
    desired: Option<&str>,
) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET heartbeat_at = $1, desired = coalesce($2, desired)
         WHERE id = $3 AND result = 'running'",
        history.deploys
    );
    conn.exec(
        sql,
        vec![
            crate::runtime::timestamp_now().into(),
            desired.map(str::to_string).into(),
            id.into(),
        ],
    )
    .await
    .map(drop)
}

/// Renews a running row's lease with where the run is: its phase, the phases it ended and the
/// evaluations of its metrics so far (what `runner status` and the dashboard show live).
pub async fn progress(conn: &mut Conn, history: &History, entry: &Entry) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET heartbeat_at = $1, phase = coalesce($2, phase), phases = $3, analysis = coalesce($4, analysis)
         WHERE id = $5 AND result = 'running'",
        history.deploys
    );
    conn.exec(
        sql,
        vec![
            crate::runtime::timestamp_now().into(),
            entry.phase.clone().into(),
            phases_json(entry).into(),
            analysis_json(entry).into(),
            entry.id.clone().into(),
        ],
    )
    .await
    .map(drop)
}

/// Closes a row whose run is gone (its lock free, or its lease long expired).
pub async fn close_dead(
    conn: &mut Conn,
    history: &History,
    id: &str,
    result: RunResult,
    error: &str,
) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET result = $1, error = $2, finished_at = {} WHERE id = $3 AND result = 'running'",
        history.deploys,
        history.now()
    );
    conn.exec(sql, vec![result.name().into(), error.into(), id.into()])
        .await
        .map(drop)
}

/// Every row of an environment, newest first (none when the journal does not exist yet).
pub async fn entries(
    conn: &mut Conn,
    history: &History,
    environment: &str,
) -> Result<Vec<Entry>, DbError> {
    read(conn, history, environment, &Rows::All).await
}

/// The newest `limit` rows of an environment, newest first.
pub async fn latest(
    conn: &mut Conn,
    history: &History,
    environment: &str,
    limit: usize,
) -> Result<Vec<Entry>, DbError> {
    read(conn, history, environment, &Rows::Latest(limit)).await
}

/// Which rows of an environment a read takes.
enum Rows {
    All,
    Latest(usize),
    /// Rows still running or paused, and these ids.
    Open(Vec<String>),
}

/// The SELECT of `read`: the environment as $1, and for `Rows::Open` the ids after it.
/// Columns an older runner's table lacks (not in `present`) read as NULL.
fn select_sql(history: &History, present: &[String], rows: &Rows) -> String {
    let backend = history.backend();
    let optional = |column: &str, ty: &str| {
        if present.iter().any(|p| p == column) {
            column.to_string()
        } else {
            format!("CAST(NULL AS {ty}) AS {column}")
        }
    };
    format!(
        "SELECT id, environment, kind, version, previous_version, result, {}, approved_by, actor,
                {}, {}, duration_ms, phases, hook_output, error, migrations, recovery_ms,
                {}, {}, {}, {}, {}, {}, {}
         FROM {} WHERE environment = $1{} ORDER BY started_at DESC, id DESC{}",
        backend.as_bigint("forced"),
        backend.as_text("started_at"),
        backend.as_text("finished_at"),
        optional("phase", "TEXT"),
        optional("heartbeat_at", "TEXT"),
        optional("lease_ms", "BIGINT"),
        optional("strategy", "TEXT"),
        optional("desired", "TEXT"),
        optional("held", "TEXT"),
        optional("analysis", "TEXT"),
        history.deploys,
        match rows {
            Rows::All | Rows::Latest(_) => String::new(),
            // Placeholders are numbered after $1 (the environment).
            Rows::Open(ids) => format!(
                " AND (result IN ('running', 'paused'){})",
                (0..ids.len())
                    .map(|i| format!(" OR id = ${}", i + 2))
                    .collect::<String>()
            ),
        },
        match rows {
            Rows::Latest(n) => format!(" LIMIT {n}"),
            _ => String::new(),
        }
    )
}

async fn read(
    conn: &mut Conn,
    history: &History,
    environment: &str,
    rows: &Rows,
) -> Result<Vec<Entry>, DbError> {
    if !history.table_exists(conn, &history.deploys.clone()).await? {
        return Ok(Vec::new());
    }
    // A journal written by an older runner lacks the columns of the lease; read them as NULL
    // (reading commands do not upgrade the tables: they do not hold the lock).
    let present = history.columns(conn, &history.deploys.clone()).await?;
    let sql = select_sql(history, &present, rows);
    let mut binds = vec![environment.to_string()];
    if let Rows::Open(ids) = rows {
        binds.extend(ids.iter().cloned());
    }
    let sql = conn.native(&sql);
    on_conn!(conn, c => {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(c).await.map_err(|e| DbError::from_sqlx(&e))?;
        rows.iter().map(|r| -> Result<Entry, sqlx::Error> {
            let phases: String = r.try_get("phases")?;
            let migrations: String = r.try_get("migrations")?;
            let forced: i64 = r.try_get("forced")?;
            let kind: String = r.try_get("kind")?;
            let result: String = r.try_get("result")?;
            Ok(Entry {
                id: r.try_get("id")?,
                environment: r.try_get("environment")?,
                kind: Kind::parse(&kind),
                version: r.try_get("version")?,
                previous_version: r.try_get("previous_version")?,
                result: RunResult::parse(&result),
                forced: forced != 0,
                approved_by: r.try_get("approved_by")?,
                actor: r.try_get("actor")?,
                started_at: r.try_get("started_at")?,
                finished_at: r.try_get("finished_at")?,
                duration_ms: r.try_get("duration_ms")?,
                phases: serde_json::from_str(&phases).unwrap_or_default(),
                hook_output: r.try_get("hook_output")?,
                error: r.try_get("error")?,
                migrations: serde_json::from_str(&migrations).unwrap_or_default(),
                recovery_ms: r.try_get("recovery_ms")?,
                phase: r.try_get("phase")?,
                heartbeat_at: r.try_get("heartbeat_at")?,
                lease_ms: r.try_get("lease_ms")?,
                strategy: r.try_get("strategy")?,
                desired: r.try_get("desired")?,
                held: r
                    .try_get::<Option<String>, _>("held")?
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
                analysis: r
                    .try_get::<Option<String>, _>("analysis")?
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
            })
        }).collect::<Result<Vec<_>, _>>().map_err(|e| DbError::from_sqlx(&e))
    })
}

/// An environment's journal kept in memory by a long-lived reader (the web dashboard), brought
/// up to date by reading only the rows that can have changed. A finished row never changes
/// again (only running and paused rows are updated, and rows are never removed), so a refresh
/// reads the newest rows, those running or paused now, and those it last saw so; when the
/// count of rows then disagrees (more new rows than it looks at, or rows removed by hand) it
/// reads everything again.
#[derive(Default)]
pub struct Cached {
    entries: std::sync::Arc<Vec<Entry>>,
}

/// How many of the newest rows a refresh reads.
const NEWEST: usize = 32;

impl Cached {
    /// The rows, newest first, as `entries` returns them.
    pub async fn refresh(
        &mut self,
        conn: &mut Conn,
        history: &History,
        environment: &str,
    ) -> Result<std::sync::Arc<Vec<Entry>>, DbError> {
        let open: Vec<String> = self
            .entries
            .iter()
            .filter(|e| matches!(e.result, RunResult::Running | RunResult::Paused))
            .map(|e| e.id.clone())
            .collect();
        if self.entries.is_empty() || open.len() > NEWEST {
            self.entries = entries(conn, history, environment).await?.into();
            return Ok(self.entries.clone());
        }
        let mut changed: std::collections::HashMap<String, Entry> =
            read(conn, history, environment, &Rows::Latest(NEWEST))
                .await?
                .into_iter()
                .chain(read(conn, history, environment, &Rows::Open(open)).await?)
                .map(|e| (e.id.clone(), e))
                .collect();
        // Rows read again as they were are dropped first: the entries are copied only when
        // one changed (a reader of the last refresh may still hold them).
        for e in self.entries.iter() {
            if changed.get(&e.id) == Some(e) {
                changed.remove(&e.id);
            }
        }
        if changed.is_empty() {
            return self.count_agrees(conn, history, environment).await;
        }
        let held = std::sync::Arc::make_mut(&mut self.entries);
        for e in held.iter_mut() {
            if let Some(fresh) = changed.remove(&e.id) {
                *e = fresh;
            }
        }
        let added = !changed.is_empty();
        held.extend(changed.into_values());
        if added {
            held.sort_by(|a, b| {
                (b.started_at.as_str(), b.id.as_str()).cmp(&(a.started_at.as_str(), a.id.as_str()))
            });
        }
        self.count_agrees(conn, history, environment).await
    }

    /// The rows, read whole again when their count is not the journal's.
    async fn count_agrees(
        &mut self,
        conn: &mut Conn,
        history: &History,
        environment: &str,
    ) -> Result<std::sync::Arc<Vec<Entry>>, DbError> {
        let count = conn
            .fetch_one_text(
                &format!(
                    "SELECT CAST(count(*) AS {}) FROM {} WHERE environment = $1",
                    history.backend().cast_text(),
                    history.deploys
                ),
                vec![environment.into()],
            )
            .await?;
        if count
            .as_deref()
            .and_then(|c| c.trim().parse::<usize>().ok())
            != Some(self.entries.len())
        {
            self.entries = entries(conn, history, environment).await?.into();
        }
        Ok(self.entries.clone())
    }
}

/// A journal row for a command that changes an environment's database without deploying
/// (migrate, a migrations rollback, recover, a forced lock release): written when it starts,
/// so `runner history` shows it even when it is killed, and finished with how it ended.
pub struct CommandRecord {
    entry: Entry,
    started: std::time::Instant,
}

impl CommandRecord {
    /// Call with the lock held and the history tables ready. `(kind, what)`: the command and
    /// what it works on (`to V5`, `V3`), as the journal shows them.
    pub async fn begin(
        conn: &mut Conn,
        history: &History,
        (kind, what): (Kind, &str),
        info: &crate::runtime::RunInfo,
        approved_by: Option<String>,
    ) -> Result<CommandRecord, DbError> {
        let mut entry = Entry::begin(&info.deploy_id, &info.environment, kind, what, &info.actor);
        entry.approved_by = approved_by;
        start(conn, history, &entry).await?;
        Ok(CommandRecord {
            entry,
            started: std::time::Instant::now(),
        })
    }

    /// Records how the command ended, and the migrations it applied or rolled back.
    pub async fn end<T>(
        mut self,
        conn: &mut Conn,
        history: &History,
        result: &crate::error::Result<T>,
        migrations: Vec<i64>,
    ) {
        self.entry.result = match result {
            Ok(_) => RunResult::Succeeded,
            Err(crate::error::Error::Interrupted { .. }) => RunResult::Interrupted,
            Err(_) => RunResult::Failed,
        };
        self.entry.error = result
            .as_ref()
            .err()
            .map(|e| crate::config::redact_text(&e.to_string()));
        self.entry.migrations = migrations;
        self.entry.duration_ms = Some(self.started.elapsed().as_millis() as i64);
        // Best effort: the migrations' own rows and events already say what happened.
        let _ = finish(conn, history, &self.entry).await;
    }
}

/// Takes over a paused row (a canary held at a step): running again, under a new lease, for
/// `runner promote` or `runner abort`. False when it was not paused any more.
pub async fn resume(conn: &mut Conn, history: &History, id: &str) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE {} SET result = 'running', heartbeat_at = $1, finished_at = NULL
         WHERE id = $2 AND result = 'paused'",
        history.deploys
    );
    conn.exec(sql, vec![crate::runtime::timestamp_now().into(), id.into()])
        .await
        .map(|n| n > 0)
}

/// Records the query set (JSON) of `release` on its latest successful deploy in `environment`.
pub async fn record_queries(
    conn: &mut Conn,
    history: &History,
    environment: &str,
    release: &str,
    queries: &str,
) -> Result<(), DbError> {
    let id = conn
        .fetch_one_text(
            &format!(
                "SELECT id FROM {} WHERE environment = $1 AND version = $2 AND kind = 'deploy' AND result IN ('succeeded', 'paused') ORDER BY started_at DESC, id DESC LIMIT 1",
                history.deploys
            ),
            vec![environment.into(), release.into()],
        )
        .await?;
    let Some(id) = id else {
        return Ok(());
    };
    conn.exec(
        format!("UPDATE {} SET queries = $1 WHERE id = $2", history.deploys),
        vec![queries.into(), id.into()],
    )
    .await
    .map(drop)
}

/// The query set (JSON) recorded for `release`'s latest deploy in `environment`, if any.
pub async fn queries_of(
    conn: &mut Conn,
    history: &History,
    environment: &str,
    release: &str,
) -> Result<Option<String>, DbError> {
    if !history.table_exists(conn, &history.deploys.clone()).await?
        || !history
            .columns(conn, &history.deploys.clone())
            .await?
            .iter()
            .any(|c| c == "queries")
    {
        return Ok(None);
    }
    conn.fetch_one_text(
        &format!(
            "SELECT queries FROM {} WHERE environment = $1 AND version = $2 AND kind = 'deploy' AND queries IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 1",
            history.deploys
        ),
        vec![environment.into(), release.into()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, version: &str, result: RunResult) -> Entry {
        let mut e = Entry::begin(id, "production", Kind::Deploy, version, "tester");
        e.result = result;
        e
    }

    /// Refreshes `cached` and checks it against a whole read of production's journal (ids and
    /// results, in order); returns what the cache gave.
    async fn refreshed(
        cached: &mut Cached,
        conn: &mut Conn,
        history: &History,
    ) -> std::sync::Arc<Vec<Entry>> {
        let got = cached.refresh(conn, history, "production").await.unwrap();
        let whole = entries(conn, history, "production").await.unwrap();
        let ids = |x: &[Entry]| {
            x.iter()
                .map(|e| (e.id.clone(), e.result))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&got), ids(&whole));
        got
    }

    /// The cache agrees with a whole read after every kind of change the journal sees: new
    /// rows, a running row finishing, a paused row resumed, more new rows than a refresh looks
    /// at, a row removed by hand.
    #[test]
    fn the_cached_journal_is_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::DatabaseUrl::parse("sqlite://journal.db", dir.path()).unwrap();
        crate::runtime::block_on(async {
            let mut conn = Conn::open(&url, "test").await?;
            let history = History::new("runner_", conn.dialect());
            history.ensure(&mut conn).await.unwrap();
            let mut cached = Cached::default();
            let mut n = 0;
            let mut add = async |conn: &mut Conn, result: RunResult| {
                n += 1;
                let e = run(&format!("run-{n:03}"), &format!("1.{n}.0"), result);
                start(conn, &history, &e).await.unwrap();
                if result != RunResult::Running {
                    finish(conn, &history, &e).await.unwrap();
                }
                e
            };
            for _ in 0..5 {
                add(&mut conn, RunResult::Succeeded).await;
            }
            let long = add(&mut conn, RunResult::Running).await;
            let paused = add(&mut conn, RunResult::Paused).await;
            refreshed(&mut cached, &mut conn, &history).await;
            for _ in 0..3 {
                add(&mut conn, RunResult::Succeeded).await;
            }
            let mut done = long.clone();
            done.result = RunResult::Failed;
            finish(&mut conn, &history, &done).await.unwrap();
            assert!(resume(&mut conn, &history, &paused.id).await.unwrap());
            let got = refreshed(&mut cached, &mut conn, &history).await;
            assert_eq!(
                got.iter().find(|e| e.id == long.id).unwrap().result,
                RunResult::Failed
            );
            assert_eq!(
                got.iter().find(|e| e.id == paused.id).unwrap().result,
                RunResult::Running
            );
            for _ in 0..(NEWEST + 5) {
                add(&mut conn, RunResult::Succeeded).await;
            }
            refreshed(&mut cached, &mut conn, &history).await;
            conn.execute("DELETE FROM runner_deploys WHERE id = 'run-002'")
                .await
                .unwrap();
            let got = refreshed(&mut cached, &mut conn, &history).await;
            assert!(!got.iter().any(|e| e.id == "run-002"));
            conn.close().await;
            Ok(())
        })
        .unwrap();
    }
}
