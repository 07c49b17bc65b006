//! `runner recover`: what failed migrations left behind, in plain words, and the actions safe
//! for each state. Every action runs with the lock held, is audited, and ends with the state
//! and the next command.
//!
//! | state | what it means | actions |
//! |---|---|---|
//! | failed_clean | nothing of it is committed | retry (the file may be edited), mark applied |
//! | failed_partial | statements 1..k committed | resume at k+1, roll back what committed, mark |
//! | a statement in flight the catalog cannot read | a person must say | statement done / not done |
//! | rolling_back, rollback_failed | part of its rollback committed | continue the rollback, mark |

use serde::Serialize;

use super::history::{History, HistoryRow, Mark, State};
use super::plan::Request;
use super::rollback::{RollbackOptions, RollbackReporter, Target, rollback_locked};
use super::statements::{outside_transaction, stored_script};
use super::{MigrateOptions, Reporter, db, migrate_locked};
use crate::catalog::directives::FileRole;
use crate::catalog::{Catalog, Migration};
use crate::config::{Config, Environment};
use crate::db::Effect;
use crate::db::{Conn, IndexState, Limits, index_state};
use crate::error::{Error, Result};
use crate::hints::{self, At};
use crate::runtime::RunInfo;

/// What a person (or a script) can ask `runner recover` to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Run a failed_clean migration again.
    Retry { version: i64 },
    /// Continue a failed_partial migration at its first statement not committed.
    Resume { version: i64 },
    /// Undo what a partial migration (or a stopped rollback) committed, with its stored
    /// rollback or the .down.sql on disk.
    Rollback { version: i64, use_file: bool },
    /// A person finished it by hand: record it as applied or rolled back.
    Mark {
        version: i64,
        state: Marked,
        reason: String,
    },
    /// Drop the INVALID index a failed CREATE INDEX CONCURRENTLY left.
    DropInvalidIndex { version: i64 },
    /// Say whether the statement in flight when a run stopped took effect.
    Statement { version: i64, ran: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marked {
    Applied,
    RolledBack,
}

impl Action {
    pub fn version(&self) -> i64 {
        match self {
            Action::Retry { version }
            | Action::Resume { version }
            | Action::Rollback { version, .. }
            | Action::Mark { version, .. }
            | Action::DropInvalidIndex { version }
            | Action::Statement { version, .. } => *version,
        }
    }

    /// The command that asks for this action (with `--approve` where the environment needs it).
    pub fn command(&self, at: At<'_>) -> String {
        match self {
            Action::Retry { version } => hints::retry(at, *version),
            Action::Resume { version } => hints::resume(at, *version),
            Action::Rollback {
                version,
                use_file: false,
            } => hints::recover_rollback(at, *version),
            Action::Rollback {
                version,
                use_file: true,
            } => hints::recover_rollback_file(at, *version),
            Action::Mark {
                version,
                state,
                reason,
            } => hints::mark(at, *version, *state, reason),
            Action::DropInvalidIndex { version } => hints::drop_invalid_index(at, *version),
            Action::Statement { version, ran } => hints::statement_outcome(at, *version, *ran),
        }
    }
}

/// One action offered for a problem, with what it does.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub action: Action,
    pub command: String,
    pub what: String,
}

/// One migration that did not end where it should, explained.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub version: i64,
    pub label: String,
    pub state: State,
    /// Plain words: what failed, what committed, what the database looks like now.
    pub explanation: Vec<String>,
    pub offers: Vec<Offer>,
}

fn short(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 90 {
        format!("{}...", one.chars().take(87).collect::<String>())
    } else {
        one
    }
}

/// The problems of an environment (call with the lock held, after rows left `applying` by a
/// dead run were recorded as what they are).
pub async fn diagnose(
    conn: &mut Conn,
    catalog: &Catalog,
    env: &Environment,
    rows: &[HistoryRow],
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let dialect = conn.dialect();
    for row in rows {
        if matches!(
            row.state,
            State::Applied | State::RolledBack | State::Applying
        ) {
            continue;
        }
        let file = catalog.migrations.iter().find(|m| m.version == row.version);
        let label = file.map_or_else(
            || format!("V{} {}", row.version, row.name),
            Migration::label,
        );
        let v = row.version;
        let offer = |action: Action, what: &str| Offer {
            command: action.command(At::of(env)),
            action,
            what: what.to_string(),
        };
        let statements = stored_script(&row.applied_sql, FileRole::Forward, dialect)
            .map(|s| s.statements)
            .unwrap_or_default();
        let error = match &row.error_message {
            Some(message) => crate::db::DbError {
                code: row.error_sqlstate.clone(),
                ..crate::db::DbError::other(message.clone())
            }
            .to_string(),
            None => "no error was recorded (the run was stopped)".into(),
        };
        let mut explanation = Vec::new();
        let mut offers = Vec::new();
        let done = usize::try_from(row.statements_done).unwrap_or(0);
        match row.state {
            State::FailedClean => {
                explanation.push(format!(
                    "it failed at statement {} of {}: {error}",
                    row.error_statement.unwrap_or(1),
                    row.statements_total
                ));
                explanation
                    .push("nothing of it is committed: the database is as before it".to_string());
                offers.push(offer(
                    Action::Retry { version: v },
                    "run it again once the cause is fixed (the file may be edited)",
                ));
                offers.push(offer(
                    Action::Mark {
                        version: v,
                        state: Marked::Applied,
                        reason: "applied by hand".into(),
                    },
                    "a person applied it by hand: record it as applied",
                ));
            }
            State::FailedPartial if row.in_flight.is_some() => {
                let k = row.in_flight.unwrap_or(0);
                let text = statements
                    .get(usize::try_from(k - 1).unwrap_or(0))
                    .map_or(String::new(), |s| short(s));
                explanation.push(format!(
                    "statement {k} (`{text}`) was running outside a transaction when the run stopped, and whether it took effect cannot be read from the catalog"
                ));
                explanation.push(format!(
                    "statements 1 to {done} are committed; check the database, then say which it is"
                ));
                offers.push(offer(
                    Action::Statement {
                        version: v,
                        ran: true,
                    },
                    "it took effect: count it done (then resume)",
                ));
                offers.push(offer(
                    Action::Statement {
                        version: v,
                        ran: false,
                    },
                    "it did not: it runs again on resume",
                ));
            }
            State::FailedPartial => {
                explanation.push(format!(
                    "it stopped at statement {} of {}: {error}",
                    done + 1,
                    row.statements_total
                ));
                let committed: Vec<String> = statements
                    .iter()
                    .take(done)
                    .enumerate()
                    .map(|(i, s)| format!("{}. {}", i + 1, short(s)))
                    .collect();
                explanation.push(format!(
                    "committed: statements 1 to {done}: {}",
                    committed.join("; ")
                ));
                explanation.push(format!(
                    "not committed: statements {} to {}",
                    done + 1,
                    row.statements_total
                ));
                if let Some(Effect::CreatesIndex(name)) = statements
                    .get(done)
                    .and_then(|s| outside_transaction(s, dialect))
                    && index_state(conn, &name)
                        .await
                        .map_err(|e| db("read the catalog", e))?
                        == IndexState::Invalid
                {
                    explanation.push(format!(
                        "the database now has the INVALID index {name}, left by the failed CREATE INDEX CONCURRENTLY: it is not used by queries but slows writes"
                    ));
                    offers.push(offer(
                        Action::DropInvalidIndex { version: v },
                        "drop it now (resume also drops and rebuilds it)",
                    ));
                }
                offers.push(offer(
                    Action::Resume { version: v },
                    &format!(
                        "continue at statement {} once the cause is fixed (statements 1 to {done} must stay as they ran)",
                        done + 1
                    ),
                ));
                match super::rollback::committed_undo(row, dialect) {
                    Ok(sql) => offers.push(offer(
                        Action::Rollback {
                            version: v,
                            use_file: false,
                        },
                        &format!(
                            "undo exactly the {done} statement(s) that committed: {}",
                            sql.split_whitespace().collect::<Vec<_>>().join(" ")
                        ),
                    )),
                    Err(u) => {
                        explanation.push(format!(
                            "statement {} ({}) has no inverse runner can derive: {}; to undo statements 1 to {done}, put exactly their undo in the .down.sql, then `{}`",
                            u.statement,
                            u.text,
                            u.why,
                            hints::recover_rollback_file(At::of(env), v)
                        ));
                    }
                }
                offers.push(offer(
                    Action::Mark {
                        version: v,
                        state: Marked::Applied,
                        reason: "finished by hand".into(),
                    },
                    "a person finished it by hand: record it as applied",
                ));
            }
            State::RollingBack | State::RollbackFailed => {
                explanation.push(format!(
                    "its rollback {}: {} of {} rollback statements are committed; {error}",
                    if row.state == State::RollingBack {
                        "was stopped part-way"
                    } else {
                        "failed"
                    },
                    row.rollback_done,
                    row.rollback_total.map_or("?".into(), |t| t.to_string())
                ));
                rollback_offers(&mut offers, row, file, &offer);
                offers.push(offer(
                    Action::Mark {
                        version: v,
                        state: Marked::RolledBack,
                        reason: "rolled back by hand".into(),
                    },
                    "a person finished the rollback by hand: record it as rolled back",
                ));
            }
            State::Applied | State::RolledBack | State::Applying => continue,
        }
        problems.push(Problem {
            version: v,
            label,
            state: row.state,
            explanation,
            offers,
        });
    }
    Ok(problems)
}

/// Rolling back with the stored rollback, and with the .down.sql on disk when it differs.
fn rollback_offers(
    offers: &mut Vec<Offer>,
    row: &HistoryRow,
    file: Option<&Migration>,
    offer: &dyn Fn(Action, &str) -> Offer,
) {
    let v = row.version;
    let on_disk = file
        .and_then(|m| m.rollback.as_ref())
        .map(|r| r.sql.as_str());
    if row.rollback_sql.is_some() {
        offers.push(offer(
            Action::Rollback {
                version: v,
                use_file: false,
            },
            "undo what it committed with the rollback stored when it ran",
        ));
    }
    if on_disk.is_some() && on_disk != row.rollback_sql.as_deref() {
        offers.push(offer(
            Action::Rollback {
                version: v,
                use_file: true,
            },
            "undo it with the .down.sql on disk (a corrected rollback; shown as a diff first)",
        ));
    }
}

/// What an action needs besides the connection.
pub struct Context<'a> {
    pub config: &'a Config,
    pub env: &'a Environment,
    pub catalog: &'a Catalog,
    pub run: &'a RunInfo,
    pub lock_wait: std::time::Duration,
}

/// Runs `action` (call with the lock held). Returns what was done, in words.
pub async fn act(
    conn: &mut Conn,
    cx: &Context<'_>,
    rows: &[HistoryRow],
    action: &Action,
    migrate_reporter: &mut dyn Reporter,
    rollback_reporter: &mut dyn RollbackReporter,
) -> Result<String> {
    let history = History::new(&cx.config.history_prefix, conn.dialect());
    let v = action.version();
    let env = cx.env;
    let label = cx
        .catalog
        .migrations
        .iter()
        .find(|m| m.version == v)
        .map_or_else(|| format!("V{v}"), Migration::label);
    let Some(row) = rows.iter().find(|r| r.version == v) else {
        return Err(Error::Usage(format!(
            "{label} has no history in {}: there is nothing to recover",
            env.name
        )));
    };
    let wrong_state = |wanted: &str| {
        Err(Error::Usage(format!(
            "{label} is {} in {}, not {wanted}: `{}` lists what can be done",
            row.state,
            env.name,
            hints::recover(&env.name)
        )))
    };
    let version = crate::catalog::Version::try_from(v).unwrap_or(0);
    let migrate = |request: Request| MigrateOptions {
        request,
        baseline: None,
        lock_wait: cx.lock_wait,
        limits: Limits::of(env),
        run: cx.run.clone(),
        approved_by: None,
    };
    let previous = super::previous_history(cx.config, &env.name, &cx.config.history_prefix).await?;
    match action {
        Action::Retry { .. } => {
            if row.state != State::FailedClean {
                return wrong_state("failed_clean");
            }
            let options = migrate(Request {
                target: Some(version),
                ..Request::default()
            });
            let applied = migrate_locked(
                conn,
                env,
                cx.catalog,
                &options,
                previous.as_ref(),
                &cx.config.history_prefix,
                migrate_reporter,
            )
            .await?;
            Ok(format!(
                "retried: {} migration(s) applied",
                applied.versions.len()
            ))
        }
        Action::Resume { .. } => {
            if row.state != State::FailedPartial {
                return wrong_state("failed_partial");
            }
            let options = migrate(Request {
                target: Some(version),
                resume: Some(version),
                ..Request::default()
            });
            migrate_locked(
                conn,
                env,
                cx.catalog,
                &options,
                previous.as_ref(),
                &cx.config.history_prefix,
                migrate_reporter,
            )
            .await?;
            Ok(format!("resumed: {label} is applied"))
        }
        Action::Rollback { use_file, .. } => {
            if !matches!(
                row.state,
                State::FailedPartial | State::RollingBack | State::RollbackFailed
            ) {
                return wrong_state("failed_partial, rolling_back or rollback_failed");
            }
            let options = RollbackOptions {
                target: Target::Only(version),
                use_file: *use_file,
                lock_wait: cx.lock_wait,
                limits: Limits::of(env),
                run: cx.run.clone(),
                approved_by: None,
            };
            rollback_locked(
                conn,
                cx.config,
                env,
                cx.catalog,
                &options,
                rollback_reporter,
            )
            .await?;
            Ok(format!("rolled back: {label} is rolled_back"))
        }
        Action::Mark { state, reason, .. } => {
            if reason.trim().is_empty() {
                return Err(Error::Usage(
                    "--mark needs --reason TEXT: why the history may say so is recorded with who said it".into(),
                ));
            }
            let file = cx.catalog.migrations.iter().find(|m| m.version == v);
            let (new_state, total) = match state {
                Marked::Applied => (
                    State::Applied,
                    file.and_then(|m| super::statements::script(&m.forward, conn.dialect()).ok())
                        .map_or(row.statements_total, |s| s.statements.len() as i64),
                ),
                Marked::RolledBack => (State::RolledBack, row.statements_done),
            };
            history
                .mark_by_hand(conn, v, new_state, total, file.map(|m| &m.forward))
                .await
                .map_err(|e| db("record the mark", e))?;
            Ok(format!("marked: {label} is {new_state} by hand ({reason})"))
        }
        Action::DropInvalidIndex { .. } => {
            let done = usize::try_from(row.statements_done).unwrap_or(0);
            let statement = stored_script(&row.applied_sql, FileRole::Forward, conn.dialect())
                .ok()
                .and_then(|s| s.statements.get(done).cloned())
                .unwrap_or_default();
            let Some(Effect::CreatesIndex(name)) = outside_transaction(&statement, conn.dialect())
            else {
                return wrong_state("stopped at a CREATE INDEX CONCURRENTLY");
            };
            match index_state(conn, &name)
                .await
                .map_err(|e| db("read the catalog", e))?
            {
                IndexState::Invalid => {
                    conn.execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                        .await
                        .map_err(|e| db(&format!("drop the INVALID index {name}"), e))?;
                    Ok(format!("dropped the INVALID index {name}"))
                }
                other => Err(Error::Usage(format!(
                    "the index {name} is {} , not INVALID: nothing to drop",
                    match other {
                        IndexState::Missing => "missing",
                        _ => "valid",
                    }
                ))),
            }
        }
        Action::Statement { ran, .. } => {
            let Some(k) = row.in_flight else {
                return wrong_state("stopped with a statement in flight");
            };
            let done = if *ran { k } else { k - 1 };
            history
                .mark(conn, v, Mark::Done(done))
                .await
                .map_err(|e| db("record the statement", e))?;
            Ok(format!(
                "recorded: statement {k} of {label} {}; statements 1 to {done} count as committed",
                if *ran {
                    "took effect"
                } else {
                    "did not take effect"
                }
            ))
        }
    }
}
