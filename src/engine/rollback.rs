//! `runner rollback --env E --to VERSION | --steps N`: runs the rollback SQL stored at apply
//! time, newest first, behind the migration lock, with states rolling_back → rolled_back or
//! rollback_failed and every step in the audit log.

use std::time::{Duration, Instant};

use similar::TextDiff;

use super::apply::{Limits, session_settings};
use super::backoff::Backoff;
use super::conn::{Conn, DbError};
use super::history::{Failure, History, HistoryRow, Mode, RunInfo, State};
use super::statements::script;
use super::{db, lock, open};
use crate::catalog::directives::{self, FileRole};
use crate::catalog::{Catalog, Checksums, SqlFile, Version};
use crate::config::{Config, Dialect, Environment};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum Target {
    /// Down to and excluding this version.
    To(Version),
    /// The newest N applied migrations.
    Steps(usize),
}

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub target: Target,
    /// Run the current .down.sql instead of the rollback stored at apply time.
    pub use_file: bool,
    pub lock_wait: Duration,
    pub limits: Limits,
    pub run: RunInfo,
    /// Who approved, for environments that require approval.
    pub approved_by: Option<String>,
}

/// What the caller hears while rollbacks run.
pub trait RollbackReporter {
    /// The stored rollback and the file on disk differ (`--use-file`).
    fn file_differs(&mut self, label: &str, diff: &str);
    fn rolled_back(&mut self, label: &str, took: Duration);
    fn retrying(&mut self, label: &str, attempt: u32, delay: Duration, error: &DbError);
}

/// A reporter that says nothing, for callers that record the outcome themselves.
pub struct Silent;

impl RollbackReporter for Silent {
    fn file_differs(&mut self, _: &str, _: &str) {}
    fn rolled_back(&mut self, _: &str, _: Duration) {}
    fn retrying(&mut self, _: &str, _: u32, _: Duration, _: &DbError) {}
}

/// One migration to undo.
struct Undo {
    row: HistoryRow,
    label: String,
    sql: String,
}

pub async fn rollback(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &RollbackOptions,
    reporter: &mut dyn RollbackReporter,
) -> Result<usize> {
    let mut conn = open(env, "rollback").await?;
    let command = format!("runner rollback --env {}", env.name);
    let lock = lock::acquire(
        &mut conn,
        &env.database_url.value,
        options.lock_wait,
        &command,
        |_, _| {},
    )
    .await?;
    let result = rollback_locked(&mut conn, config, env, catalog, options, reporter).await;
    lock::release(&mut conn, lock).await;
    conn.close().await;
    result
}

/// `rollback` on a connection that already holds the lock.
pub async fn rollback_locked(
    conn: &mut Conn,
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &RollbackOptions,
    reporter: &mut dyn RollbackReporter,
) -> Result<usize> {
    let history = History::new(&config.history_prefix, conn.dialect());
    let rows = super::read_rows(conn, &history).await?;
    let undo = choose(&rows, catalog, options, &env.name, reporter)?;
    if let Some(who) = &options.approved_by {
        let detail = format!("rollback of {} migration(s) approved by {who}", undo.len());
        history
            .event(conn, &options.run, None, "rollback_approved", &detail)
            .await
            .map_err(|e| db("record the approval", e))?;
    }
    let mut done = 0;
    for u in &undo {
        let started = Instant::now();
        let _ = history
            .event(
                conn,
                &options.run,
                Some(u.row.version),
                "rollback_started",
                &format!("{} rolling back", u.label),
            )
            .await;
        match run_rollback(conn, &history, &options.run, u, &options.limits, reporter).await {
            Ok(()) => {
                done += 1;
                reporter.rolled_back(&u.label, started.elapsed());
            }
            Err((statement, committed, total, error)) => {
                let failure = Failure {
                    statement: statement as i64,
                    statements_done: u.row.statements_done,
                    error: error.clone(),
                    duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
                };
                let _ = history
                    .fail(conn, u.row.version, State::RollbackFailed, &failure)
                    .await;
                let state = if committed == 0 {
                    format!(
                        "nothing of its rollback is committed: the schema is still that of {} applied",
                        u.label
                    )
                } else {
                    format!(
                        "statements 1 to {committed} of its {total}-statement rollback are committed: the schema is between {} and the version before it",
                        u.label
                    )
                };
                let message = format!(
                    "the rollback of {} failed at statement {statement}: {error}\n  state: {} is rollback_failed; {state}; {done} migration(s) before it were rolled back\n  next: fix the cause, then finish by hand (the rollback SQL is in the history: rollback_sql of version {}) and record it, or re-run `runner rollback --env {} --use-file` with a corrected {}",
                    u.label,
                    u.label,
                    u.row.version,
                    env.name,
                    catalog
                        .migrations
                        .iter()
                        .find(|m| i64::from(m.version) == u.row.version)
                        .map_or("rollback script".to_string(), |m| m
                            .forward
                            .file_name
                            .replace(".sql", ".down.sql")),
                );
                let _ = history
                    .event(
                        conn,
                        &options.run,
                        Some(u.row.version),
                        "rollback_failed",
                        &message,
                    )
                    .await;
                return Err(Error::RollbackFailed { message });
            }
        }
    }
    Ok(done)
}

/// The migrations to undo, newest first, or every reason to refuse.
fn choose(
    rows: &[HistoryRow],
    catalog: &Catalog,
    options: &RollbackOptions,
    env: &str,
    reporter: &mut dyn RollbackReporter,
) -> Result<Vec<Undo>> {
    let mut problems = Vec::new();
    for row in rows {
        if matches!(
            row.state,
            State::Applying | State::FailedPartial | State::RollingBack | State::RollbackFailed
        ) {
            problems.push(format!(
                "V{} {} is {}: a person must look at it before anything is rolled back",
                row.version, row.name, row.state
            ));
        }
    }
    let mut applied: Vec<&HistoryRow> = rows.iter().filter(|r| r.state == State::Applied).collect();
    applied.sort_by_key(|r| std::cmp::Reverse(r.version));
    let chosen: Vec<&HistoryRow> = match options.target {
        Target::To(v) => {
            if !rows
                .iter()
                .any(|r| r.version == i64::from(v) && r.state == State::Applied)
                && v != 0
            {
                problems.push(format!(
                    "--to {v}: V{v} is not an applied migration in {env}"
                ));
            }
            applied
                .into_iter()
                .filter(|r| r.version > i64::from(v))
                .collect()
        }
        Target::Steps(n) => applied.into_iter().take(n).collect(),
    };
    let mut undo = Vec::new();
    for row in chosen {
        let file = catalog
            .migrations
            .iter()
            .find(|m| i64::from(m.version) == row.version);
        let label = file.map_or_else(|| format!("V{} {}", row.version, row.name), |m| m.label());
        let sql = if options.use_file {
            match file.and_then(|m| m.rollback.as_ref()) {
                Some(down) => {
                    if let Some(stored) = &row.rollback_sql
                        && stored != &down.sql
                    {
                        let diff = TextDiff::from_lines(stored.as_str(), down.sql.as_str())
                            .unified_diff()
                            .header("stored at apply time", "on disk")
                            .to_string();
                        reporter.file_differs(&label, diff.trim_end());
                    }
                    Some(down.sql.clone())
                }
                None => None,
            }
        } else {
            row.rollback_sql.clone()
        };
        match sql {
            Some(sql) => undo.push(Undo { row: row.clone(), label, sql }),
            None => problems.push(format!(
                "{label} cannot be rolled back: it {} — runner will not pass it; roll back to {} or later",
                if options.use_file { "has no .down.sql on disk" } else { "was applied without a rollback (irreversible)" },
                row.version
            )),
        }
    }
    if undo.is_empty() && problems.is_empty() {
        problems.push(format!(
            "nothing to roll back in {env}: no applied migration matches"
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Refused {
            environment: env.to_string(),
            problems,
        });
    }
    Ok(undo)
}

/// Runs one rollback script with lock-timeout retries. Err: (failing statement, statements
/// committed, total statements, error).
async fn run_rollback(
    conn: &mut Conn,
    history: &History,
    run: &RunInfo,
    u: &Undo,
    limits: &Limits,
    reporter: &mut dyn RollbackReporter,
) -> std::result::Result<(), (usize, usize, usize, DbError)> {
    let dialect = conn.dialect();
    let (directives, _) = directives::parse(&u.sql, FileRole::Rollback);
    let file = SqlFile {
        file_name: format!("V{}__{}.down.sql", u.row.version, u.row.name),
        path: Default::default(),
        checksums: Checksums::of(&u.sql),
        directives,
        sql: u.sql.clone(),
    };
    let script = script(&file, dialect).map_err(|why| {
        (
            0,
            0,
            0,
            DbError {
                code: None,
                message: format!("cannot be parsed: {why}"),
            },
        )
    })?;
    let total = script.statements.len();
    let mut backoff = Backoff::new(limits.retry_delay, Duration::from_secs(10));
    let mut attempt = 0u32;
    let mut committed = 0usize;
    loop {
        let result = match script.mode {
            Mode::Statement => {
                // Each statement commits on its own: say so first, so that a run killed half-way
                // leaves `rolling_back` for a person to see. (A transactional rollback goes from
                // applied to rolled_back in one commit, and a crash leaves it applied.)
                if committed == 0
                    && let Err(e) = history
                        .set_state(conn, u.row.version, State::RollingBack)
                        .await
                {
                    return Err((0, 0, total, e));
                }
                let mut r = Ok(());
                for (i, statement) in script.statements.iter().enumerate().skip(committed) {
                    if let Err(e) = session_settings(conn, limits, false).await {
                        r = Err((i + 1, e));
                        break;
                    }
                    match conn.execute(statement).await {
                        Ok(()) => committed = i + 1,
                        Err(e) => {
                            r = Err((i + 1, e));
                            break;
                        }
                    }
                }
                if r.is_ok() {
                    r = history
                        .set_state(conn, u.row.version, State::RolledBack)
                        .await
                        .map_err(|e| (total, e));
                }
                r
            }
            _ => transactional(conn, history, u, &script.statements, limits).await,
        };
        let (statement, error) = match result {
            Ok(()) => {
                let _ = history
                    .event(
                        conn,
                        run,
                        Some(u.row.version),
                        "rolled_back",
                        &format!("{} rolled back ({})", u.label, script.mode.name()),
                    )
                    .await;
                return Ok(());
            }
            Err(e) => e,
        };
        if error.is_lock_timeout(dialect) && attempt < limits.retries {
            attempt += 1;
            let delay = backoff.next_delay();
            reporter.retrying(&u.label, attempt, delay, &error);
            tokio::time::sleep(delay).await;
            continue;
        }
        return Err((statement, committed, total, error));
    }
}

async fn transactional(
    conn: &mut Conn,
    history: &History,
    u: &Undo,
    statements: &[String],
    limits: &Limits,
) -> std::result::Result<(), (usize, DbError)> {
    let begin = async {
        match conn.dialect() {
            Dialect::Sqlite => {
                session_settings(conn, limits, false).await?;
                conn.execute("BEGIN IMMEDIATE").await
            }
            _ => {
                conn.execute("BEGIN").await?;
                session_settings(conn, limits, true).await
            }
        }
    };
    begin.await.map_err(|e| (0, e))?;
    for (i, statement) in statements.iter().enumerate() {
        if let Err(e) = conn.execute(statement).await {
            let _ = conn.execute("ROLLBACK").await;
            return Err((i + 1, e));
        }
    }
    if let Err(e) = history
        .set_state(conn, u.row.version, State::RolledBack)
        .await
    {
        let _ = conn.execute("ROLLBACK").await;
        return Err((statements.len(), e));
    }
    conn.execute("COMMIT")
        .await
        .map_err(|e| (statements.len(), e))
}
