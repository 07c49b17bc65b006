//! The deploy journal, `<prefix>deploys`: one row per deploy or application rollback, with
//! its phases and their durations, the last lines of hook output, the migrations it applied,
//! and how it ended.

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Conn, DbError};
use crate::engine::history::History;
use crate::on_conn;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Phase {
    pub phase: String,
    pub status: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One journal row.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub environment: String,
    /// `deploy` or `rollback`.
    pub kind: String,
    pub version: String,
    pub previous_version: Option<String>,
    /// running, succeeded, rolled_back, failed, rollback_failed.
    pub result: String,
    pub forced: bool,
    pub approved_by: Option<String>,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub phases: Vec<Phase>,
    pub hook_output: Option<String>,
    pub error: Option<String>,
    pub migrations: Vec<i64>,
    /// From the first failing health check to the previous version healthy again.
    pub recovery_ms: Option<i64>,
}

impl Entry {
    /// A journal row for a deploy or rollback that is starting now.
    pub fn begin(id: &str, environment: &str, kind: &str, version: &str, actor: &str) -> Entry {
        Entry {
            id: id.to_string(),
            environment: environment.to_string(),
            kind: kind.to_string(),
            version: version.to_string(),
            previous_version: None,
            result: "running".into(),
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
        }
    }
}

pub async fn start(conn: &mut Conn, history: &History, entry: &Entry) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO {} (id, environment, kind, version, previous_version, result, forced, approved_by, actor, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {})",
        history.deploys,
        history.now()
    );
    conn.exec(
        sql,
        vec![
            entry.id.clone().into(),
            entry.environment.clone().into(),
            entry.kind.clone().into(),
            entry.version.clone().into(),
            entry.previous_version.clone().into(),
            entry.result.clone().into(),
            i64::from(entry.forced).into(),
            entry.approved_by.clone().into(),
            entry.actor.clone().into(),
        ],
    )
    .await
    .map(drop)
}

pub async fn finish(conn: &mut Conn, history: &History, entry: &Entry) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET result = $1, finished_at = {}, duration_ms = $2, phases = $3, hook_output = $4,
             error = $5, migrations = $6, recovery_ms = $7, forced = $8 WHERE id = $9",
        history.deploys,
        history.now()
    );
    conn.exec(
        sql,
        vec![
            entry.result.clone().into(),
            entry.duration_ms.into(),
            serde_json::to_string(&entry.phases)
                .unwrap_or_default()
                .into(),
            entry.hook_output.clone().into(),
            entry.error.clone().into(),
            serde_json::to_string(&entry.migrations)
                .unwrap_or_default()
                .into(),
            entry.recovery_ms.into(),
            i64::from(entry.forced).into(),
            entry.id.clone().into(),
        ],
    )
    .await
    .map(drop)
}

/// Every row of an environment, newest first (none when the journal does not exist yet).
pub async fn entries(
    conn: &mut Conn,
    history: &History,
    environment: &str,
) -> Result<Vec<Entry>, DbError> {
    if !history.table_exists(conn, &history.deploys.clone()).await? {
        return Ok(Vec::new());
    }
    let backend = history.backend();
    let sql = format!(
        "SELECT id, environment, kind, version, previous_version, result, {}, approved_by, actor,
                {}, {}, duration_ms, phases, hook_output, error, migrations, recovery_ms
         FROM {} WHERE environment = $1 ORDER BY started_at DESC, id DESC",
        backend.as_bigint("forced"),
        backend.as_text("started_at"),
        backend.as_text("finished_at"),
        history.deploys
    );
    let env = environment.to_string();
    on_conn!(conn, c => {
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(env).fetch_all(c).await.map_err(|e| DbError::from_sqlx(&e))?;
        rows.iter().map(|r| -> Result<Entry, sqlx::Error> {
            let phases: String = r.try_get("phases")?;
            let migrations: String = r.try_get("migrations")?;
            let forced: i64 = r.try_get("forced")?;
            Ok(Entry {
                id: r.try_get("id")?,
                environment: r.try_get("environment")?,
                kind: r.try_get("kind")?,
                version: r.try_get("version")?,
                previous_version: r.try_get("previous_version")?,
                result: r.try_get("result")?,
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
            })
        }).collect::<Result<Vec<_>, _>>().map_err(|e| DbError::from_sqlx(&e))
    })
}

/// The version serving now: the newest succeeded deploy or rollback.
pub fn current_version(entries: &[Entry]) -> Option<&Entry> {
    entries.iter().find(|e| e.result == "succeeded")
}
