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
use super::statements::{
    committed_of, first_statements, outside_transaction, statement_range, stored_script,
};
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
    for row in rows {
        if matches!(
            row.state,
            State::Applied | State::RolledBack | State::Applying
        ) {
            continue;
        }
        let file = catalog.migrations.iter().find(|m| m.version == row.version);
        let seen = Seen::of(row, file, env, conn.dialect());
        let (explanation, offers) = match row.state {
            State::FailedClean => seen.failed_clean(),
            State::FailedPartial if row.in_flight.is_some() => seen.in_flight(),
            State::FailedPartial => seen.failed_partial(conn).await?,
            State::RollingBack | State::RollbackFailed => seen.rollback_stopped(),
            State::Applied | State::RolledBack | State::Applying => continue,
        };
        problems.push(Problem {
            version: row.version,
            label: file.map_or_else(
                || format!("V{} {}", row.version, row.name),
                Migration::label,
            ),
            state: row.state,
            explanation,
            offers,
        });
    }
    Ok(problems)
}

/// One migration's row as `diagnose` reads it: its statements, its error, how far it got.
struct Seen<'a> {
    row: &'a HistoryRow,
    file: Option<&'a Migration>,
    env: &'a Environment,
    dialect: crate::config::Dialect,
    statements: Vec<String>,
    error: String,
    /// Statements committed.
    done: usize,
}

/// What happened, in sentences, and what can be done about it.
type Diagnosis = (Vec<String>, Vec<Offer>);

impl<'a> Seen<'a> {
    fn of(
        row: &'a HistoryRow,
        file: Option<&'a Migration>,
        env: &'a Environment,
        dialect: crate::config::Dialect,
    ) -> Self {
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
        Seen {
            row,
            file,
            env,
            dialect,
            statements,
            error,
            done: usize::try_from(row.statements_done).unwrap_or(0),
        }
    }

    fn offer(&self, action: Action, what: &str) -> Offer {
        Offer {
            command: action.command(At::of(self.env)),
            action,
            what: what.to_string(),
        }
    }

    fn mark(&self, state: Marked, reason: &str, what: &str) -> Offer {
        let action = Action::Mark {
            version: self.row.version,
            state,
            reason: reason.into(),
        };
        self.offer(action, what)
    }

    fn failed_clean(&self) -> Diagnosis {
        let (row, v) = (self.row, self.row.version);
        let explanation = vec![
            format!(
                "it failed at statement {} of {}: {}",
                row.error_statement.unwrap_or(1),
                row.statements_total,
                self.error
            ),
            "nothing of it is committed: the database is as before it".to_string(),
        ];
        let offers = vec![
            self.offer(
                Action::Retry { version: v },
                "run it again once the cause is fixed (the file may be edited)",
            ),
            self.mark(
                Marked::Applied,
                "applied by hand",
                "a person applied it by hand: record it as applied",
            ),
        ];
        (explanation, offers)
    }

    /// Stopped with a statement outside a transaction whose effect the catalog cannot show.
    fn in_flight(&self) -> Diagnosis {
        let (v, done) = (self.row.version, self.done);
        let k = self.row.in_flight.unwrap_or(0);
        let text = self
            .statements
            .get(usize::try_from(k - 1).unwrap_or(0))
            .map_or(String::new(), |s| short(s));
        let explanation = vec![
            format!(
                "statement {k} (`{text}`) was running outside a transaction when the run stopped, and whether it took effect cannot be read from the catalog"
            ),
            format!(
                "{}; check the database, then say which it is",
                committed_of("", done, "")
            ),
        ];
        let offers = vec![
            self.offer(
                Action::Statement {
                    version: v,
                    ran: true,
                },
                "it took effect: count it done (then resume)",
            ),
            self.offer(
                Action::Statement {
                    version: v,
                    ran: false,
                },
                "it did not: it runs again on resume",
            ),
        ];
        (explanation, offers)
    }

    async fn failed_partial(&self, conn: &mut Conn) -> Result<Diagnosis> {
        let (row, v, done) = (self.row, self.row.version, self.done);
        let committed: Vec<String> = self
            .statements
            .iter()
            .take(done)
            .enumerate()
            .map(|(i, s)| format!("{}. {}", i + 1, short(s)))
            .collect();
        let mut explanation = vec![
            format!(
                "it stopped at statement {} of {}: {}",
                done + 1,
                row.statements_total,
                self.error
            ),
            format!(
                "committed: {}: {}",
                first_statements("", done),
                committed.join("; ")
            ),
            format!(
                "not committed: {}",
                statement_range("", done + 1, row.statements_total)
            ),
        ];
        let mut offers = Vec::new();
        if let Some(Effect::CreatesIndex(name)) = self
            .statements
            .get(done)
            .and_then(|s| outside_transaction(s, self.dialect))
            && index_state(conn, &name)
                .await
                .map_err(|e| db("read the catalog", e))?
                == IndexState::Invalid
        {
            explanation.push(format!(
                "the database now has the INVALID index {name}, left by the failed CREATE INDEX CONCURRENTLY: it is not used by queries but slows writes"
            ));
            offers.push(self.offer(
                Action::DropInvalidIndex { version: v },
                "drop it now (resume also drops and rebuilds it)",
            ));
        }
        offers.push(self.offer(
            Action::Resume { version: v },
            &format!(
                "continue at statement {} once the cause is fixed (do not change {})",
                done + 1,
                first_statements("", done)
            ),
        ));
        match super::rollback::committed_undo(row, self.dialect) {
            Ok(sql) => offers.push(self.offer(
                Action::Rollback {
                    version: v,
                    use_file: false,
                },
                &format!(
                    "undo exactly the {done} statement(s) that committed: {}",
                    sql.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            )),
            Err(u) => explanation.push(format!(
                "statement {} ({}) has no inverse runner can derive: {}; to undo {}, put exactly their undo in the .down.sql, then `{}`",
                u.statement,
                u.text,
                u.why,
                first_statements("", done),
                hints::recover_rollback_file(At::of(self.env), v)
            )),
        }
        offers.push(self.mark(
            Marked::Applied,
            "finished by hand",
            "a person finished it by hand: record it as applied",
        ));
        Ok((explanation, offers))
    }

    fn rollback_stopped(&self) -> Diagnosis {
        let row = self.row;
        // A rollback statement outside a transaction whose effect the catalog cannot show
        // (left in flight by `settle`): a person says which it was before anything runs it
        // again.
        if let Some(k) = row.rollback_in_flight {
            return self.rollback_in_flight(k);
        }
        let explanation = vec![format!(
            "its rollback {}: {} of {} rollback statements are committed; {}",
            if row.state == State::RollingBack {
                "was stopped part-way"
            } else {
                "failed"
            },
            row.rollback_done,
            row.rollback_total.map_or("?".into(), |t| t.to_string()),
            self.error
        )];
        let mut offers = Vec::new();
        rollback_offers(&mut offers, row, self.file, &|a, w| self.offer(a, w));
        offers.push(self.mark(
            Marked::RolledBack,
            "rolled back by hand",
            "a person finished the rollback by hand: record it as rolled back",
        ));
        (explanation, offers)
    }
}

impl Seen<'_> {
    /// A stopped rollback whose statement `k` was running outside a transaction, its effect
    /// not readable from the catalog.
    fn rollback_in_flight(&self, k: i64) -> Diagnosis {
        let (row, v) = (self.row, self.row.version);
        let text = row
            .rollback_sql
            .as_deref()
            .and_then(|sql| stored_script(sql, FileRole::Rollback, self.dialect).ok())
            .and_then(|s| {
                s.statements
                    .get(usize::try_from(k - 1).ok()?)
                    .map(|s| short(s))
            })
            .unwrap_or_default();
        let explanation = vec![
            format!(
                "its rollback stopped while rollback statement {k} (`{text}`) ran outside a transaction, and whether it took effect cannot be read from the catalog"
            ),
            format!(
                "{}; check the database, then say which it is (running it again could repeat it)",
                committed_of("rollback ", k - 1, "")
            ),
        ];
        let offers = vec![
            self.offer(
                Action::Statement {
                    version: v,
                    ran: true,
                },
                "it took effect: count it done (then continue the rollback, or it is rolled back if it was the last)",
            ),
            self.offer(
                Action::Statement {
                    version: v,
                    ran: false,
                },
                "it did not: the rollback runs it again when it continues",
            ),
        ];
        (explanation, offers)
    }
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

/// Runs `action` (call with the lock held), showing a migration's progress on the first
/// reporter, a rollback's on the second. Returns what was done, in words.
pub async fn act(
    conn: &mut Conn,
    cx: &Context<'_>,
    rows: &[HistoryRow],
    action: &Action,
    (migrate_reporter, rollback_reporter): (&mut dyn Reporter, &mut dyn RollbackReporter),
) -> Result<String> {
    let v = action.version();
    let label = cx
        .catalog
        .migrations
        .iter()
        .find(|m| m.version == v)
        .map_or_else(|| format!("V{v}"), Migration::label);
    let Some(row) = rows.iter().find(|r| r.version == v) else {
        return Err(Error::Usage(format!(
            "{label} has no history in {}: there is nothing to recover",
            cx.env.name
        )));
    };
    let prefix = &cx.config.history_prefix;
    let previous = super::previous_history(cx.config, &cx.env.name, prefix).await?;
    let on = Subject {
        cx,
        row,
        label,
        previous,
    };
    match action {
        Action::Retry { .. } => retry(conn, &on, migrate_reporter).await,
        Action::Resume { .. } => resume(conn, &on, migrate_reporter).await,
        Action::Rollback { use_file, .. } => {
            roll_back(conn, &on, *use_file, rollback_reporter).await
        }
        Action::Mark { state, reason, .. } => mark(conn, &on, *state, reason).await,
        Action::DropInvalidIndex { .. } => drop_invalid_index(conn, &on).await,
        Action::Statement { ran, .. } => settle_statement(conn, &on, *ran).await,
    }
}

/// The migration an action works on: its history row and its label.
struct Subject<'a> {
    cx: &'a Context<'a>,
    row: &'a HistoryRow,
    label: String,
    /// The history of the environment before this one in the pipeline, for the gate.
    previous: Option<super::plan::Previous>,
}

impl Subject<'_> {
    /// The refusal of an action the row's state does not allow.
    fn wrong_state(&self, wanted: &str) -> Result<String> {
        Err(Error::Usage(format!(
            "{} is {} in {}, not {wanted}: `{}` lists what can be done",
            self.label,
            self.row.state,
            self.cx.env.name,
            hints::recover(&self.cx.env.name)
        )))
    }

    fn version(&self) -> crate::catalog::Version {
        crate::catalog::Version::try_from(self.row.version).unwrap_or(0)
    }

    /// Migrates up to this migration (resuming it when `resume`), under the lock held.
    async fn migrate(
        &self,
        conn: &mut Conn,
        resume: bool,
        reporter: &mut dyn Reporter,
    ) -> Result<super::Applied> {
        let (cx, version) = (self.cx, self.version());
        let options = MigrateOptions {
            request: Request {
                target: Some(version),
                resume: resume.then_some(version),
                ..Request::default()
            },
            baseline: None,
            lock_wait: cx.lock_wait,
            limits: Limits::of(cx.env),
            run: cx.run.clone(),
            approved_by: None,
        };
        let target = super::Target {
            env: cx.env,
            catalog: cx.catalog,
            previous: self.previous.as_ref(),
            prefix: &cx.config.history_prefix,
        };
        migrate_locked(conn, target, &options, reporter).await
    }
}

async fn retry(conn: &mut Conn, on: &Subject<'_>, reporter: &mut dyn Reporter) -> Result<String> {
    if on.row.state != State::FailedClean {
        return on.wrong_state("failed_clean");
    }
    let applied = on.migrate(conn, false, reporter).await?;
    Ok(format!(
        "retried: {} migration(s) applied",
        applied.versions.len()
    ))
}

async fn resume(conn: &mut Conn, on: &Subject<'_>, reporter: &mut dyn Reporter) -> Result<String> {
    if on.row.state != State::FailedPartial {
        return on.wrong_state("failed_partial");
    }
    on.migrate(conn, true, reporter).await?;
    Ok(format!("resumed: {} is applied", on.label))
}

async fn roll_back(
    conn: &mut Conn,
    on: &Subject<'_>,
    use_file: bool,
    reporter: &mut dyn RollbackReporter,
) -> Result<String> {
    if !matches!(
        on.row.state,
        State::FailedPartial | State::RollingBack | State::RollbackFailed
    ) {
        return on.wrong_state("failed_partial, rolling_back or rollback_failed");
    }
    let cx = on.cx;
    let options = RollbackOptions {
        target: Target::Only(on.version()),
        use_file,
        lock_wait: cx.lock_wait,
        limits: Limits::of(cx.env),
        run: cx.run.clone(),
        approved_by: None,
    };
    rollback_locked(conn, (cx.config, cx.env, cx.catalog), &options, reporter).await?;
    Ok(format!("rolled back: {} is rolled_back", on.label))
}

async fn mark(conn: &mut Conn, on: &Subject<'_>, state: Marked, reason: &str) -> Result<String> {
    if reason.trim().is_empty() {
        return Err(Error::Usage(
            "--mark needs --reason TEXT: why the history may say so is recorded with who said it"
                .into(),
        ));
    }
    let (row, v) = (on.row, on.row.version);
    let file = on.cx.catalog.migrations.iter().find(|m| m.version == v);
    let (new_state, total) = match state {
        Marked::Applied => (
            State::Applied,
            file.and_then(|m| super::statements::script(&m.forward, conn.dialect()).ok())
                .map_or(row.statements_total, |s| s.statements.len() as i64),
        ),
        Marked::RolledBack => (State::RolledBack, row.statements_done),
    };
    History::new(&on.cx.config.history_prefix, conn.dialect())
        .mark_by_hand(conn, v, new_state, total, file.map(|m| &m.forward))
        .await
        .map_err(|e| db("record the mark", e))?;
    Ok(format!(
        "marked: {} is {new_state} by hand ({reason})",
        on.label
    ))
}

async fn drop_invalid_index(conn: &mut Conn, on: &Subject<'_>) -> Result<String> {
    let done = usize::try_from(on.row.statements_done).unwrap_or(0);
    let statement = stored_script(&on.row.applied_sql, FileRole::Forward, conn.dialect())
        .ok()
        .and_then(|s| s.statements.get(done).cloned())
        .unwrap_or_default();
    let Some(Effect::CreatesIndex(name)) = outside_transaction(&statement, conn.dialect()) else {
        return on.wrong_state("stopped at a CREATE INDEX CONCURRENTLY");
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

/// Records whether the statement in flight took effect (`ran`): a migration's statement, or
/// a rollback's (a stopped rollback whose in-flight statement the catalog cannot show).
async fn settle_statement(conn: &mut Conn, on: &Subject<'_>, ran: bool) -> Result<String> {
    let history = History::new(&on.cx.config.history_prefix, conn.dialect());
    let rolling_back = matches!(on.row.state, State::RollingBack | State::RollbackFailed);
    let (k, mark, of) = match (on.row.in_flight, on.row.rollback_in_flight) {
        (Some(k), _) => (k, Mark::Done(if ran { k } else { k - 1 }), ""),
        (None, Some(k)) if rolling_back => (
            k,
            Mark::RollbackDone(if ran { k } else { k - 1 }),
            "rollback ",
        ),
        _ => return on.wrong_state("stopped with a statement in flight"),
    };
    let done = if ran { k } else { k - 1 };
    history
        .mark(conn, on.row.version, mark)
        .await
        .map_err(|e| db("record the statement", e))?;
    let mut said = format!(
        "recorded: {of}statement {k} of {} {}; {}",
        on.label,
        if ran {
            "took effect"
        } else {
            "did not take effect"
        },
        committed_of(of, done, "")
    );
    // The rollback's last statement took effect: the migration is rolled back (as when the
    // catalog shows it, `settle`).
    if !of.is_empty() && ran && on.row.rollback_total == Some(k) {
        history
            .set_state(conn, on.row.version, State::RolledBack)
            .await
            .map_err(|e| db("record the rollback", e))?;
        said.push_str(&format!(
            "; all {k} rollback statement(s) committed: recorded rolled_back"
        ));
    }
    Ok(said)
}
