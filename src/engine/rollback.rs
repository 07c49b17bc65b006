//! `runner rollback --env E --to VERSION | --steps N`: runs the rollback SQL stored at apply
//! time, newest first, behind the migration lock, with states rolling_back → rolled_back or
//! rollback_failed and every step in the audit log.

use std::time::{Duration, Instant};

use similar::TextDiff;

use super::apply::{Counter, Recorded, run_statement};
use super::history::{Failure, History, HistoryRow, Mode, RunInfo, State};
use super::statements::{changed_prefix, stored_script};
use super::{db, open};
use crate::catalog::directives::FileRole;
use crate::catalog::{Catalog, Version};
use crate::config::{Config, Environment};
use crate::db::Limits;
use crate::db::backoff::Backoff;
use crate::db::lock;
use crate::db::{Conn, DbError};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum Target {
    /// Down to and excluding this version.
    To(Version),
    /// This one migration only, also when it stopped part-way (failed_partial): what
    /// `runner recover --rollback` undoes.
    Only(Version),
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
    /// Something the person should know before the rollback runs.
    fn note(&mut self, message: &str);
    fn rolled_back(&mut self, label: &str, took: Duration);
    fn retrying(&mut self, label: &str, attempt: u32, delay: Duration, error: &DbError);
}

/// A reporter that says nothing, for callers that record the outcome themselves.
pub struct Silent;

impl RollbackReporter for Silent {
    fn file_differs(&mut self, _: &str, _: &str) {}
    fn note(&mut self, _: &str) {}
    fn rolled_back(&mut self, _: &str, _: Duration) {}
    fn retrying(&mut self, _: &str, _: u32, _: Duration, _: &DbError) {}
}

/// One migration to undo.
struct Undo {
    row: HistoryRow,
    label: String,
    sql: String,
    /// A statement-mode rollback a stopped run left rolling_back continues here (0-based).
    resume_from: usize,
}

/// `runner rollback --dry-run` of migrations: the ones a rollback would undo, newest first,
/// and the version it stops at, read without the lock; or why it would refuse.
pub async fn preview(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &RollbackOptions,
) -> Result<(Vec<String>, i64)> {
    let mut conn = open(env, "rollback --dry-run").await?;
    let history = History::new(&config.history_prefix, conn.dialect());
    let rows = super::read_rows(&mut conn, &history).await;
    let dialect = conn.dialect();
    conn.close().await;
    let (undo, target) = choose(
        (&rows?, catalog),
        dialect,
        options,
        crate::hints::At::of(env),
        &mut Silent,
    )?;
    if undo.is_empty() {
        return Err(nothing_to_roll_back(&env.name));
    }
    Ok((undo.into_iter().map(|u| u.label).collect(), target))
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
    let result = lock::with_lock(
        &mut conn,
        env,
        (options.lock_wait, &command),
        &mut (),
        async |conn, _| {
            let history = History::new(&config.history_prefix, conn.dialect());
            history
                .ensure(conn)
                .await
                .map_err(|e| db("create the history tables", e))?;
            let what = match options.target {
                Target::To(v) => format!("to V{v}"),
                Target::Only(v) => format!("V{v}"),
                Target::Steps(n) => format!("{n} step(s)"),
            };
            let record = super::journal::CommandRecord::begin(
                conn,
                &history,
                (super::journal::Kind::MigrationsRollback, &what),
                &options.run,
                options.approved_by.clone(),
            )
            .await
            .map_err(|e| db("write the journal", e))?;
            let result = rollback_locked(conn, (config, env, catalog), options, reporter).await;
            record.end(conn, &history, &result, Vec::new()).await;
            result
        },
    )
    .await;
    conn.close().await;
    result
}

/// Rolls back the newest `n` applied migrations, quietly, on a connection that holds the
/// lock: the migrations rollback of a failed deploy or of an application rollback.
pub async fn newest_locked(
    conn: &mut Conn,
    (config, env, catalog): (&Config, &Environment, &Catalog),
    n: usize,
    run: &RunInfo,
) -> Result<usize> {
    let options = RollbackOptions {
        target: Target::Steps(n),
        use_file: false,
        lock_wait: Duration::from_secs(1),
        limits: Limits::of(env),
        run: run.clone(),
        approved_by: None,
    };
    rollback_locked(conn, (config, env, catalog), &options, &mut Silent).await
}

/// `rollback` on a connection that already holds the lock.
pub async fn rollback_locked(
    conn: &mut Conn,
    (config, env, catalog): (&Config, &Environment, &Catalog),
    options: &RollbackOptions,
    reporter: &mut dyn RollbackReporter,
) -> Result<usize> {
    let history = History::new(&config.history_prefix, conn.dialect());
    history
        .ensure(conn)
        .await
        .map_err(|e| db("create the history tables", e))?;
    // The rollbacks a settled statement belonged to.
    let mut settled = Vec::new();
    let rows = super::read_settled(conn, &history, &mut |s| {
        reporter.note(&s.detail);
        if s.rollback {
            settled.push(s.version);
        }
    })
    .await?;
    let (undo, target) = choose(
        (&rows, catalog),
        conn.dialect(),
        options,
        crate::hints::At::of(env),
        reporter,
    )?;
    if undo.is_empty() {
        // The catalog showed an interrupted rollback's last statement took effect, and that
        // was all there was to do: this run finished it.
        let finished = rows
            .iter()
            .filter(|r| settled.contains(&r.version) && r.state == State::RolledBack)
            .count();
        if finished > 0 {
            return Ok(finished);
        }
        return Err(nothing_to_roll_back(&env.name));
    }
    if let Some(refusal) = undecided_statement(&undo, env) {
        return Err(refusal);
    }
    schedule(conn, &history, options, (&undo, target)).await?;
    let mut done = 0;
    for u in &undo {
        let started = Instant::now();
        history
            .audit(
                conn,
                &options.run,
                Some(u.row.version),
                "rollback_started",
                &format!("{} rolling back", u.label),
            )
            .await;
        let recorded = Recorded {
            history: &history,
            run: &options.run,
            limits: &options.limits,
        };
        match run_rollback(conn, recorded, u, reporter).await {
            Ok(()) => {
                done += 1;
                mirror(conn, catalog, u.row.version, false, started.elapsed()).await?;
                reporter.rolled_back(&u.label, started.elapsed());
            }
            Err(stop) => {
                let so_far = SoFar {
                    env,
                    catalog,
                    options,
                    target,
                    done,
                };
                return Err(so_far.failed(conn, &history, u, started, stop).await);
            }
        }
    }
    Ok(done)
}

/// Records the run's target and the migrations it will undo (in place of an earlier
/// unfinished run's), and who approved it.
async fn schedule(
    conn: &mut Conn,
    history: &History,
    options: &RollbackOptions,
    (undo, target): (&[Undo], i64),
) -> Result<()> {
    let versions: Vec<i64> = undo.iter().map(|u| u.row.version).collect();
    let record = async {
        history.clear_rollback_target(conn).await?;
        history.schedule_rollback(conn, &versions, target).await
    };
    record
        .await
        .map_err(|e| db("record the rollback's target", e))?;
    if let Some(who) = &options.approved_by {
        let detail = format!("rollback of {} migration(s) approved by {who}", undo.len());
        history
            .event(conn, &options.run, None, "rollback_approved", &detail)
            .await
            .map_err(|e| db("record the approval", e))?;
    }
    Ok(())
}

/// Where a rollback run stands when one of its migrations fails.
struct SoFar<'a> {
    env: &'a Environment,
    catalog: &'a Catalog,
    options: &'a RollbackOptions,
    /// The version the run rolls back to.
    target: i64,
    /// Migrations rolled back before this one.
    done: usize,
}

impl SoFar<'_> {
    /// The failure of `u`'s rollback at `statement` (`committed` of `total` committed):
    /// recorded rollback_failed with its `rollback_failed` event, and the error that says what
    /// committed and the command that continues; a lost connection is said as such.
    async fn failed(
        &self,
        conn: &mut Conn,
        history: &History,
        u: &Undo,
        started: Instant,
        (statement, committed, total, error): (usize, usize, usize, DbError),
    ) -> Error {
        let (done, target) = (self.done, self.target);
        if error.connection_lost {
            return Error::ConnectionLost {
                during: format!("the rollback of {}", u.label),
                error,
                next: format!(
                    "each rollback statement commits with its progress, so the history says exactly what ran; once the database answers, `{}` says where it stopped and how to continue",
                    crate::hints::recover(&self.env.name)
                ),
            };
        }
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
                "{} (recorded): the schema is between {} and the version before it",
                super::statements::committed_of(
                    "",
                    committed,
                    &format!(" of its {total}-statement rollback")
                ),
                u.label
            )
        };
        let down = self
            .catalog
            .migrations
            .iter()
            .find(|m| m.version == u.row.version)
            .map_or("rollback script".to_string(), |m| match &m.rollback {
                Some(down) => down.file_name.clone(),
                None => m.forward.file_name.replace(".sql", ".down.sql"),
            });
        let message = format!(
            "the rollback of {} failed at statement {statement}: {error}\n  state: {} is rollback_failed; {state}; {done} migration(s) before it were rolled back\n  next: fix the cause (or correct {down}, keeping its first {committed} statement(s)), then `{}` continues from statement {}",
            u.label,
            u.label,
            match self.options.target {
                Target::Only(v) =>
                    crate::hints::recover_rollback_file(crate::hints::At::of(self.env), v),
                _ => crate::hints::rollback_migrations_to(
                    crate::hints::At::of(self.env),
                    target,
                    true
                ),
            },
            committed + 1,
        );
        history
            .audit(
                conn,
                &self.options.run,
                Some(u.row.version),
                "rollback_failed",
                &message,
            )
            .await;
        Error::RollbackFailed { message }
    }
}

/// The inverse of the statements a partially applied migration committed, as one script.
pub(crate) fn committed_undo(
    row: &HistoryRow,
    dialect: crate::config::Dialect,
) -> std::result::Result<String, crate::lint::undo::Underivable> {
    let done = usize::try_from(row.statements_done).unwrap_or(0);
    let statements = super::statements::stored_script(
        &row.applied_sql,
        crate::catalog::directives::FileRole::Forward,
        dialect,
    )
    .map(|s| s.statements)
    .unwrap_or_default();
    let committed: Vec<String> = statements.into_iter().take(done).collect();
    let inverse = crate::lint::undo::undo(&committed, dialect)?;
    Ok(inverse
        .iter()
        .map(|s| format!("{s};\n"))
        .collect::<String>())
}

fn indent(sql: &str) -> String {
    sql.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The refusal of a rollback with a statement still in flight after `read_settled`: its effect
/// is one the catalog cannot show, and running the rollback on would run it again. A person says
/// first whether it took effect, as for a migration's statement. (A dry run, which settles
/// nothing, lists it.)
fn undecided_statement(undo: &[Undo], env: &Environment) -> Option<Error> {
    let (u, k) = undo
        .iter()
        .find_map(|u| Some((u, u.row.rollback_in_flight?)))?;
    let at = crate::hints::At::of(env);
    Some(Error::Refused {
        environment: env.name.clone(),
        problems: vec![format!(
            "{}: its rollback stopped while rollback statement {k} ran outside a transaction, and whether it took effect cannot be read from the catalog; check the database, then say which: `{}` or `{}`",
            u.label,
            crate::hints::statement_outcome(at, u.row.version, true),
            crate::hints::statement_outcome(at, u.row.version, false)
        )],
    })
}

/// The refusal of a rollback with nothing to undo.
fn nothing_to_roll_back(env: &str) -> Error {
    Error::Refused {
        environment: env.to_string(),
        problems: vec![format!(
            "nothing to roll back in {env}: no applied migration matches"
        )],
    }
}

/// The migrations to undo, newest first (none: nothing matches), and the version the run
/// goes down to (it stays applied); or every reason to refuse.
fn choose(
    (rows, catalog): (&[HistoryRow], &Catalog),
    dialect: crate::config::Dialect,
    options: &RollbackOptions,
    at: crate::hints::At<'_>,
    reporter: &mut dyn RollbackReporter,
) -> Result<(Vec<Undo>, i64)> {
    let env = at.env;
    let mut problems = half_run(rows, options, env);
    let target = continued_target(rows, options, env, reporter);
    let (chosen, target_version) = chosen_rows(rows, target, env, &mut problems);
    let mut undo = Vec::new();
    for row in chosen {
        let reading = Reading {
            catalog,
            options,
            dialect,
            at,
        };
        match reading.undo_of(row, reporter) {
            Ok(u) => undo.push(u),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Refused {
            environment: env.to_string(),
            problems,
        });
    }
    Ok((undo, target_version))
}

/// Migrations other than the one named by `--only` that did not finish applying: a
/// rollback waits until `runner recover` settles them.
fn half_run(rows: &[HistoryRow], options: &RollbackOptions, env: &str) -> Vec<String> {
    let only = match options.target {
        Target::Only(v) => Some(v),
        _ => None,
    };
    rows.iter()
        .filter(|r| Some(r.version) != only)
        .filter(|r| matches!(r.state, State::Applying | State::FailedPartial))
        .map(|row| {
            format!(
                "V{} {} is {}: it did not finish applying; `{}` says what committed and how to continue or undo it",
                row.version,
                row.name,
                row.state,
                crate::hints::recover(env)
            )
        })
        .collect()
}

/// The target, where a run that stopped part-way recorded where it was going: --steps
/// then counts from where that run began, not from where it stopped.
fn continued_target(
    rows: &[HistoryRow],
    options: &RollbackOptions,
    env: &str,
    reporter: &mut dyn RollbackReporter,
) -> Target {
    let unfinished = rows
        .iter()
        .filter(|r| r.state.is_open_for_rollback())
        .filter_map(|r| r.rollback_target)
        .max();
    match (options.target.clone(), unfinished) {
        (Target::Steps(n), Some(t)) => {
            reporter.note(&format!(
                "an earlier rollback of {env} stopped before reaching V{t}; --steps {n} continues it to V{t} (use --to to go elsewhere)"
            ));
            Target::To(Version::try_from(t).unwrap_or(0))
        }
        (target, _) => target,
    }
}

/// The rows `target` rolls back, newest first, and the version the database is at after.
fn chosen_rows<'r>(
    rows: &'r [HistoryRow],
    target: Target,
    env: &str,
    problems: &mut Vec<String>,
) -> (Vec<&'r HistoryRow>, i64) {
    let mut open: Vec<&HistoryRow> = rows
        .iter()
        .filter(|r| r.state.is_open_for_rollback())
        .collect();
    open.sort_by_key(|r| std::cmp::Reverse(r.version));
    match target {
        Target::To(v) => {
            if !rows
                .iter()
                .any(|r| r.version == v && r.state == State::Applied)
                && v != 0
            {
                problems.push(format!(
                    "--to {v}: V{v} is not an applied migration in {env}"
                ));
            }
            (open.iter().copied().filter(|r| r.version > v).collect(), v)
        }
        Target::Steps(n) => (
            open.iter().copied().take(n).collect(),
            open.get(n).map_or(0, |r| r.version),
        ),
        Target::Only(v) => {
            let row = rows.iter().find(|r| {
                r.version == v
                    && (r.state.is_open_for_rollback() || r.state == State::FailedPartial)
            });
            if row.is_none() {
                problems.push(format!(
                    "V{v} is neither applied nor stopped part-way in {env}: nothing of it to roll back"
                ));
            }
            (row.into_iter().collect(), v - 1)
        }
    }
}

/// What a rollback reads a row's undo from: the catalog (with --use-file), the options, the
/// dialect, where it runs.
struct Reading<'a> {
    catalog: &'a Catalog,
    options: &'a RollbackOptions,
    dialect: crate::config::Dialect,
    at: crate::hints::At<'a>,
}

impl Reading<'_> {
    /// The undo of a migration stopped part-way: only statements 1..k committed, so undo
    /// exactly those, not the whole rollback file (which would also undo what never ran, and
    /// fail on it).
    fn partial_undo(
        &self,
        row: &HistoryRow,
        label: &str,
        reporter: &mut dyn RollbackReporter,
    ) -> std::result::Result<String, String> {
        match committed_undo(row, self.dialect) {
            Ok(sql) => {
                reporter.note(&format!(
                    "{label}: {} committed; runner undoes exactly that with:\n{}",
                    super::statements::first_statements("", row.statements_done),
                    indent(&sql)
                ));
                Ok(sql)
            }
            Err(u) => Err(format!(
                "{label}: statement {} of the {} that committed has no inverse runner can derive ({}): {}. Write a .down.sql that undoes {} only, then `{}` runs it",
                u.statement,
                row.statements_done,
                u.why,
                u.text,
                super::statements::first_statements("", row.statements_done),
                crate::hints::recover_rollback_file(self.at, row.version)
            )),
        }
    }

    /// The rollback of `row`: the stored one, the .down.sql on disk (--use-file), or for a
    /// migration stopped part-way the inverse of exactly what committed; the problem when
    /// there is none, or when it changes rollback statements already committed.
    fn undo_of(
        &self,
        row: &HistoryRow,
        reporter: &mut dyn RollbackReporter,
    ) -> std::result::Result<Undo, String> {
        let file = self
            .catalog
            .migrations
            .iter()
            .find(|m| m.version == row.version);
        let label = file.map_or_else(|| format!("V{} {}", row.version, row.name), |m| m.label());
        let sql = if self.options.use_file {
            file.and_then(|m| m.rollback.as_ref()).map(|down| {
                if let Some(stored) = &row.rollback_sql
                    && stored != &down.sql
                {
                    let diff = TextDiff::from_lines(stored.as_str(), down.sql.as_str())
                        .unified_diff()
                        .header("stored at apply time", "on disk")
                        .to_string();
                    reporter.file_differs(&label, diff.trim_end());
                }
                down.sql.clone()
            })
        } else if row.state == State::FailedPartial {
            Some(self.partial_undo(row, &label, reporter)?)
        } else {
            row.rollback_sql.clone()
        };
        // A rollback a stopped or failed run left part-way continues after what it committed.
        let resume_from = match row.state {
            State::RollingBack | State::RollbackFailed => {
                usize::try_from(row.rollback_done).unwrap_or(0)
            }
            _ => 0,
        };
        if let (Some(sql), Some(stored)) = (&sql, &row.rollback_sql)
            && resume_from > 0
            && let Some(diff) = changed_prefix(stored, sql, resume_from, self.dialect)
        {
            return Err(format!(
                "{label}: {} of its rollback committed, and the rollback now given changes that; keep it as it ran (fix only later statements):\n{diff}",
                super::statements::first_statements("", resume_from)
            ));
        }
        match sql {
            Some(sql) => Ok(Undo {
                row: row.clone(),
                label,
                sql,
                resume_from,
            }),
            None => Err(format!(
                "{label} cannot be rolled back: it {} — runner will not pass it; roll back to {} or later",
                if self.options.use_file {
                    "has no .down.sql on disk"
                } else {
                    "was applied without a rollback (irreversible)"
                },
                row.version
            )),
        }
    }
}

/// `[migrations] mirror`: the tool's row for a migration runner applied or rolled back.
pub(crate) async fn mirror(
    conn: &mut Conn,
    catalog: &Catalog,
    version: i64,
    applied: bool,
    took: Duration,
) -> Result<()> {
    let (Some(layout), Some(m)) = (
        catalog.mirror,
        catalog.migrations.iter().find(|m| m.version == version),
    ) else {
        return Ok(());
    };
    let ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
    super::adopt::mirror(conn, layout, catalog, m, applied.then_some(ms))
        .await
        .map_err(|e| {
            super::db(
                &format!(
                    "write {}'s history row of {} ([migrations] mirror)",
                    layout.name(),
                    m.label()
                ),
                e,
            )
        })
}

/// Runs one rollback script. A transactional rollback goes from applied to rolled_back in one
/// commit (a crash leaves it applied) and is retried as a whole after a lock timeout; a
/// statement-mode rollback says rolling_back first, then records each statement with it
/// (see `apply::run_statement`), so a stopped run continues where it was. Err: (failing
/// statement, statements committed, total statements, error).
async fn run_rollback(
    conn: &mut Conn,
    recorded: Recorded<'_>,
    u: &Undo,
    reporter: &mut dyn RollbackReporter,
) -> std::result::Result<(), (usize, usize, usize, DbError)> {
    let Recorded {
        history,
        run,
        limits,
    } = recorded;
    let dialect = conn.dialect();
    let script = stored_script(&u.sql, FileRole::Rollback, dialect)
        .map_err(|why| (0, 0, 0, DbError::other(format!("cannot be parsed: {why}"))))?;
    let total = script.statements.len();
    let result = match script.mode {
        Mode::Statement => {
            statement_mode(conn, (history, limits), u, &script.statements, reporter).await
        }
        _ => {
            let mut backoff = Backoff::new(limits.retry_delay, Duration::from_secs(10));
            let mut attempt = 0u32;
            loop {
                match transactional(conn, history, u, &script.statements, limits).await {
                    Err((_, error))
                        if conn.backend().is_lock_timeout(&error) && attempt < limits.retries =>
                    {
                        attempt += 1;
                        let delay = backoff.next_delay();
                        reporter.retrying(&u.label, attempt, delay, &error);
                        tokio::time::sleep(delay).await;
                    }
                    Err((statement, error)) => break Err((statement, 0, error)),
                    Ok(()) => break Ok(()),
                }
            }
        }
    };
    match result {
        Ok(()) => {
            history
                .audit(
                    conn,
                    run,
                    Some(u.row.version),
                    "rolled_back",
                    &format!("{} rolled back ({})", u.label, script.mode.name()),
                )
                .await;
            Ok(())
        }
        Err((statement, committed, error)) => Err((statement, committed, total, error)),
    }
}

/// A statement-mode rollback from where an earlier run stopped. Err: (failing statement,
/// statements committed, error).
async fn statement_mode(
    conn: &mut Conn,
    (history, limits): (&History, &Limits),
    u: &Undo,
    statements: &[String],
    reporter: &mut dyn RollbackReporter,
) -> std::result::Result<(), (usize, usize, DbError)> {
    let total = statements.len();
    let version = u.row.version;
    history
        .rollback_started(conn, version, total as i64)
        .await
        .map_err(|e| (0, u.resume_from, e))?;
    for (i, statement) in statements.iter().enumerate().skip(u.resume_from) {
        let at = super::apply::At {
            history,
            counter: Counter::Rollback(version),
            index: i,
            marks: super::apply::Marks::default(),
        };
        run_statement(conn, at, statement, limits, &mut |wait| match wait {
            super::apply::Wait::Retry {
                attempt,
                delay,
                error,
            } => reporter.retrying(&u.label, attempt, delay, error),
            super::apply::Wait::Gap { holder, .. } => reporter.note(&format!(
                "the rollback of {} waits for a gap: {holder}",
                u.label
            )),
        })
        .await
        .map_err(|failed| (i + 1, i, failed.error))?;
    }
    history
        .set_state(conn, version, State::RolledBack)
        .await
        .map_err(|e| (total, total, e))
}

async fn transactional(
    conn: &mut Conn,
    history: &History,
    u: &Undo,
    statements: &[String],
    limits: &Limits,
) -> std::result::Result<(), (usize, DbError)> {
    conn.begin(limits).await.map_err(|e| (0, e))?;
    for (i, statement) in statements.iter().enumerate() {
        if let Err(e) = conn.execute(statement).await {
            conn.rollback().await;
            return Err((i + 1, e));
        }
    }
    if let Err(e) = history
        .set_state(conn, u.row.version, State::RolledBack)
        .await
    {
        conn.rollback().await;
        return Err((statements.len(), e));
    }
    conn.commit().await.map_err(|e| (statements.len(), e))
}
