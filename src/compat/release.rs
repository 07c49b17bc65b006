//! The deploy's half of the query check: each deployed release's queries are recorded in its
//! deploy record with the result shapes its environment's schema gave them; before the next
//! environment of a pipeline is touched, the queries of the release serving it are prepared on
//! the environment just migrated (staging), and a query that breaks stops the deploy there.

use serde::{Deserialize, Serialize};

use super::shape::{Column, Shape, compare, describe};
use super::sources::Query;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::deploy::record::{self, Liveness};
use crate::engine::history::History;
use crate::engine::{self, db, journal};
use crate::error::Result;

/// A query as recorded with its release: the text and the columns it returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    source: String,
    line: usize,
    sql: String,
    #[serde(default)]
    params: Vec<String>,
    columns: Vec<Column>,
}

impl Recorded {
    fn query(&self) -> Query {
        Query {
            source: self.source.clone(),
            line: self.line,
            sql: self.sql.clone(),
            params: self.params.clone(),
        }
    }
}

/// After `release` was deployed to `env`: its queries, with the shapes `env`'s schema gives
/// them, in its deploy record. Returns how many were recorded.
pub async fn record(
    config: &Config,
    env: &Environment,
    release: &str,
    queries: &[Query],
) -> Result<usize> {
    let mut conn = engine::open(env, "deploy").await?;
    let mut recorded = Vec::new();
    for q in queries {
        // A query that does not prepare here is one the release does not run against this
        // database (another database's, or dead code): nothing to compare later.
        if let Ok(shape) = describe(&mut conn, q).await {
            recorded.push(Recorded {
                source: q.source.clone(),
                line: q.line,
                sql: q.sql.clone(),
                params: q.params.clone(),
                columns: shape.columns,
            });
        }
    }
    let history = History::new(&config.history_prefix, conn.dialect());
    let json = serde_json::to_string(&recorded).unwrap_or_default();
    let written = journal::record_queries(&mut conn, &history, &env.name, release, &json).await;
    conn.close().await;
    written.map_err(|e| db("record the release's queries", e))?;
    Ok(recorded.len())
}

/// What a database has seen (pg_stat_statements), described on that database itself: the
/// shapes the serving release gets today.
async fn seen_by(conn: &mut Conn) -> Vec<Recorded> {
    let mut seen = Vec::new();
    for q in super::sources::from_statistics(conn)
        .await
        .unwrap_or_default()
    {
        if let Ok(shape) = describe(conn, &q).await {
            seen.push(Recorded {
                source: q.source,
                line: q.line,
                sql: q.sql,
                params: q.params,
                columns: shape.columns,
            });
        }
    }
    seen
}

/// Before `next` is touched: the queries of the release serving `next`, prepared on
/// `migrated`'s schema (the environment this run just migrated). Each problem names the query,
/// the release and what the database said; empty when none breaks (or none was recorded).
pub async fn gate(
    config: &Config,
    migrated: &Environment,
    next: &Environment,
) -> Result<Vec<String>> {
    let mut conn = engine::open(next, "deploy").await?;
    let history = History::new(&config.history_prefix, conn.dialect());
    let entries = journal::entries(&mut conn, &history, &next.name)
        .await
        .map_err(|e| db("read the deploy journal", e));
    let holder = lock::holder(&mut conn, &next.database_url.value)
        .await
        .ok()
        .flatten();
    let liveness = match holder {
        Some(_) => Liveness::LockHeld,
        None => Liveness::LockFree,
    };
    let serving = entries
        .as_ref()
        .ok()
        .and_then(|e| record::serving(e, liveness, std::time::SystemTime::now()).release);
    let recorded = match &serving {
        Some(release) => journal::queries_of(&mut conn, &history, &next.name, release)
            .await
            .map_err(|e| db("read the serving release's queries", e)),
        None => Ok(None),
    };
    let seen = seen_by(&mut conn).await;
    conn.close().await;
    let release = serving.unwrap_or_else(|| "the release it serves".to_string());
    let mut recorded: Vec<Recorded> = match recorded? {
        Some(json) => serde_json::from_str(&json).unwrap_or_default(),
        None => Vec::new(),
    };
    recorded.extend(seen);
    if recorded.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = engine::open(migrated, "deploy").await?;
    let mut problems = Vec::new();
    for r in &recorded {
        let q = r.query();
        let before = Shape {
            columns: r.columns.clone(),
        };
        let problem = match describe(&mut conn, &q).await {
            Err(e) => Some(format!("no longer prepares: {e}")),
            Ok(after) => compare(&before, &after, q.selects_star())
                .filter(|(error, _)| *error)
                .map(|(_, why)| why),
        };
        if let Some(why) = problem {
            problems.push(format!(
                "{} serves {release}, whose query {} breaks on {}'s migrated schema: {why}. {} was not touched; runner check --verify, given --since at the commit of {release}, names the migration that breaks it",
                next.name,
                q.shown(),
                migrated.name,
                next.name
            ));
        }
    }
    conn.close().await;
    Ok(problems)
}
