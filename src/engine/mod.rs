//! The migration engine: connect, lock, validate, apply, record.
//!
//! refinery is the catalog only; runner is the one executor, on one dedicated sqlx
//! connection per run (DESIGN §3).

pub mod adopt;
pub mod apply;
pub mod gap;
pub mod gate;
pub mod history;
pub mod journal;
pub mod plan;
pub mod recover;
pub mod rollback;
pub mod schema;
pub mod settle;
pub mod state;
pub mod statements;
pub mod verify;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, Version};
use crate::config::{Config, Environment};
use crate::db::Limits;
use crate::db::{Conn, DbError, lock};
use crate::error::{Error, Result};
use crate::hints::{self, At};
use apply::{Progress, Stopped};
use history::{History, HistoryRow, Mode, NewRow, RunInfo, State};
use plan::{Plan, Previous, Request, Step};

/// Everything `runner migrate` was asked.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub request: Request,
    pub baseline: Option<Version>,
    pub lock_wait: Duration,
    pub limits: Limits,
    pub run: RunInfo,
    /// Who approved, for an environment that requires approval.
    pub approved_by: Option<String>,
}

/// What the engine tells the outside world while it works.
pub trait Reporter: Progress + lock::LockWatcher {
    fn warning(&mut self, message: &str);
    fn classified(&mut self, c: &plan::Classified);
    fn pending(&mut self, steps: &[Step<'_>]);
    fn started(&mut self, step: &Step<'_>);
    fn applied(&mut self, step: &Step<'_>, took: Duration);
    fn baselined(&mut self, label: &str);
    fn finished(&mut self, applied: usize, took: Duration);
    /// The lint gate's findings on the files to apply, when it refuses them.
    fn findings(&mut self, report: &crate::lint::Report);
}

/// The database of an environment, opened for this command.
pub async fn open(env: &Environment, command: &str) -> Result<Conn> {
    let app = format!(
        "runner {command} env={} host={} pid={}",
        env.name,
        crate::runtime::hostname(),
        std::process::id()
    );
    // PostgreSQL truncates application_name at 63 bytes.
    let app: String = app.chars().take(63).collect();
    Conn::open(&env.database_url.value, &app).await
}

/// The history of the environment before `env` in the pipeline, if `env` is not first.
pub async fn previous_history(
    config: &Config,
    env: &str,
    prefix: &str,
) -> Result<Option<Previous>> {
    let pipeline = &config.pipeline.value;
    let Some(index) = pipeline.iter().position(|e| e == env).filter(|&i| i > 0) else {
        return Ok(None);
    };
    let name = &pipeline[index - 1];
    let previous = config.environment(name).map_err(|e| {
        Error::Usage(format!(
            "{env} gets only what {name} got first, so runner reads {name}'s database to prove it, and cannot: {e}. Set it for this command too (a read: nothing is changed in {name})"
        ))
    })?;
    if !Conn::exists(&previous.database_url.value) {
        return Ok(Some(Previous {
            environment: name.clone(),
            rows: Vec::new(),
        }));
    }
    let mut conn = open(previous, "check-previous").await?;
    let history = History::new(prefix, conn.dialect());
    let rows = read_rows(&mut conn, &history).await?;
    conn.close().await;
    Ok(Some(Previous {
        environment: name.clone(),
        rows,
    }))
}

/// The history rows after settling statements that were in flight when a run stopped (call
/// with the lock held); each one settled is reported.
pub async fn read_settled(
    conn: &mut Conn,
    history: &History,
    warn: &mut dyn FnMut(&settle::Settled),
) -> Result<Vec<HistoryRow>> {
    let rows = history
        .rows(conn)
        .await
        .map_err(|e| db("read the history", e))?;
    let settled = settle::settle(conn, history, &rows)
        .await
        .map_err(|e| db("settle an interrupted statement", e))?;
    if settled.is_empty() {
        return Ok(rows);
    }
    for s in settled.iter().filter(|s| first_telling(conn, s)) {
        warn(s);
    }
    history
        .rows(conn)
        .await
        .map_err(|e| db("read the history", e))
}

/// Whether `s` is new to this connection. One the catalog cannot decide stays in flight, and
/// a command that reads the history again (recover, then the rollback it runs) would say it
/// again; one decided is recorded, so it is never found twice.
fn first_telling(conn: &mut Conn, s: &settle::Settled) -> bool {
    if s.took_effect.is_some() {
        return true;
    }
    let key = (s.version, s.rollback, s.statement);
    if conn.undecided_told.contains(&key) {
        return false;
    }
    conn.undecided_told.push(key);
    true
}

/// The history rows, or none when runner never ran against this database.
pub async fn read_rows(conn: &mut Conn, history: &History) -> Result<Vec<HistoryRow>> {
    let exists = history
        .exists(conn)
        .await
        .map_err(|e| db("read the history", e))?;
    if !exists {
        return Ok(Vec::new());
    }
    history
        .rows(conn)
        .await
        .map_err(|e| db("read the history", e))
}

pub(crate) fn db(what: &str, source: DbError) -> Error {
    Error::Database {
        context: format!("could not {what}"),
        source,
    }
}

/// What a migrate run did: the versions it applied, and the pending ones it held back
/// (a contract migration and those after it) as (version, label).
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub versions: Vec<i64>,
    pub held: Vec<(i64, String)>,
}

/// `runner migrate`: lock, validate, apply, record, unlock.
pub async fn migrate(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &MigrateOptions,
    reporter: &mut dyn Reporter,
) -> Result<Applied> {
    let started = Instant::now();
    let prefix = config.history_prefix.clone();
    let previous = previous_history(config, &env.name, &prefix).await?;
    let mut conn = open(env, "migrate").await?;
    let command = format!("runner migrate --env {}", env.name);
    let result = lock::with_lock(
        &mut conn,
        env,
        (options.lock_wait, &command),
        reporter,
        async |conn, reporter| {
            let history = History::new(&prefix, conn.dialect());
            history
                .ensure(conn)
                .await
                .map_err(|e| db("create the history tables", e))?;
            if options.baseline.is_none() {
                lint_gate(
                    conn,
                    (config, env, catalog),
                    options,
                    previous.as_ref(),
                    reporter,
                )
                .await?;
            }
            let what = options
                .request
                .target
                .map_or("latest".to_string(), |t| format!("to V{t}"));
            let record = journal::CommandRecord::begin(
                conn,
                &history,
                (journal::Kind::Migrate, &what),
                &options.run,
                options.approved_by.clone(),
            )
            .await
            .map_err(|e| db("write the journal", e))?;
            let target = Target {
                env,
                catalog,
                previous: previous.as_ref(),
                prefix: &prefix,
            };
            let result = migrate_locked(conn, target, options, reporter).await;
            let versions = result
                .as_ref()
                .map(|a| a.versions.clone())
                .unwrap_or_default();
            record.end(conn, &history, &result, versions).await;
            result
        },
    )
    .await;
    conn.close().await;
    let applied = result?;
    reporter.finished(applied.versions.len(), started.elapsed());
    Ok(applied)
}

/// The one lint gate (check, plan, migrate and deploy): nothing is applied while a file to
/// apply has an error; a suppression with its reason is the way through.
async fn lint_gate(
    conn: &mut Conn,
    (config, env, catalog): (&Config, &Environment, &Catalog),
    options: &MigrateOptions,
    previous: Option<&Previous>,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let gate = gate::gate(
        Some(&mut *conn),
        (config, env, catalog),
        &options.request,
        previous,
    )
    .await?;
    if gate.lint.errors() > 0 {
        reporter.findings(&gate.lint);
        return Err(Error::GateFailed {
            environment: env.name.clone(),
            errors: gate.lint.errors(),
        });
    }
    Ok(())
}

/// What a run migrates: an environment and the migrations folder, with the history of the
/// environment before it in the pipeline (`[deploy] require_previous`) and the prefix of the
/// history tables.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub env: &'a Environment,
    pub catalog: &'a Catalog,
    pub previous: Option<&'a Previous>,
    pub prefix: &'a str,
}

/// `migrate` on a connection that already holds the lock (a deploy holds it throughout).
/// Returns the versions applied.
pub async fn migrate_locked(
    conn: &mut Conn,
    target: Target<'_>,
    options: &MigrateOptions,
    reporter: &mut dyn Reporter,
) -> Result<Applied> {
    let result = migrate_steps(conn, target, options, reporter).await;
    // Statements set the session's limits once for the whole run (`Conn::set_limits`); what
    // runs after the migrations gets the session's own back.
    let _ = conn.reset_limits().await;
    result
}

async fn migrate_steps(
    conn: &mut Conn,
    target: Target<'_>,
    options: &MigrateOptions,
    reporter: &mut dyn Reporter,
) -> Result<Applied> {
    let Target {
        env,
        catalog,
        previous,
        prefix,
    } = target;
    let history = History::new(prefix, conn.dialect());
    history
        .ensure(conn)
        .await
        .map_err(|e| db("create the history tables", e))?;
    let rows = ready_rows(conn, &history, env, catalog, reporter).await?;
    let run = &options.run;
    if let Some(version) = options.baseline {
        baseline(conn, (&history, run), catalog, (&rows, version), reporter).await?;
        return Ok(Applied::default());
    }

    let plan = plan::plan(
        (catalog, &rows),
        conn.dialect(),
        &options.request,
        crate::hints::At::of(env),
        previous,
    );
    announce(conn, (&history, run), env, (&rows, &plan), reporter).await?;
    // Where each statement runs (its effect) is worked out for every step at once, on every
    // core, rather than one step at a time between the queries.
    crate::runtime::in_parallel(&plan.steps, |step| {
        step.script.effects();
    });

    let mut applied = Vec::new();
    // Whether the previous migration's last transaction wrote this one's start: then the
    // signal check at its first statement records the stop (a row must not stay `applying`).
    let mut started = false;
    for (i, step) in plan.steps.iter().enumerate() {
        if crate::runtime::interrupted() && !started {
            return Err(stopped_before(step, (applied.len(), plan.steps.len()), env));
        }
        reporter.started(step);
        let chain = apply::Chain {
            started,
            next: plan.steps.get(i + 1),
        };
        let job = apply::Recorded {
            history: &history,
            run,
            limits: &options.limits,
        };
        match apply::apply(conn, job, step, chain, reporter).await {
            Ok(done) => {
                applied.push(step.migration.version);
                started = done.next_started;
                let next = plan.steps.get(i + 1).filter(|_| started);
                mirror_applied(conn, (&history, catalog), step, &done, next).await?;
                reporter.applied(step, done.took);
            }
            Err(stopped) => {
                let at = Halt {
                    step,
                    plan: &plan,
                    applied: applied.len(),
                    env,
                    previous,
                };
                return Err(at.error(conn, &history, run, stopped).await);
            }
        }
    }
    Ok(Applied {
        versions: applied,
        held: plan.held.clone(),
    })
}

/// A run stopped by a signal between two migrations, before `step`: `done` of `total` applied.
fn stopped_before(step: &Step<'_>, (done, total): (usize, usize), env: &Environment) -> Error {
    Error::Interrupted {
        message: format!(
            "stopped before {}: {done} of {total} migration(s) applied by this run; `{}` applies the rest",
            step.label(),
            hints::migrate(At::of(env))
        ),
    }
}

/// `[migrations] mirror` of a migration just applied. When it fails, the run stops there, and
/// the next migration's start (`next`), written with this one's end, is taken back.
async fn mirror_applied(
    conn: &mut Conn,
    (history, catalog): (&History, &Catalog),
    step: &Step<'_>,
    done: &apply::Applied,
    next: Option<&Step<'_>>,
) -> Result<()> {
    let mirrored = rollback::mirror(conn, catalog, step.migration.version, true, done.took).await;
    if let Err(e) = mirrored {
        if let Some(next) = next {
            unstart(conn, history, next).await;
        }
        return Err(e);
    }
    Ok(())
}

/// The history rows, settled, once nothing stands in the way of a run: another tool's
/// history that runner's does not hold is a refusal (a migration could run twice), and a
/// mirrored history is brought up to date.
async fn ready_rows(
    conn: &mut Conn,
    history: &History,
    env: &Environment,
    catalog: &Catalog,
    reporter: &mut dyn Reporter,
) -> Result<Vec<HistoryRow>> {
    let rows = read_settled(conn, history, &mut |s| reporter.warning(&s.detail)).await?;
    if let Some(problem) = adopt::untaken(conn, catalog, &rows, At::of(env))
        .await
        .map_err(|e| db("read other tools' history tables", e))?
    {
        return Err(Error::Refused {
            environment: env.name.clone(),
            problems: vec![problem],
        });
    }
    let synced = adopt::sync_mirror(conn, catalog, &rows)
        .await
        .map_err(|e| {
            db(
                "bring the mirrored history up to date ([migrations] mirror)",
                e,
            )
        })?;
    if synced > 0 {
        reporter.warning(&format!(
            "[migrations] mirror: wrote {synced} row(s) of {} so it holds what runner's history holds",
            catalog.mirror.map_or("", |l| l.name())
        ));
    }
    Ok(rows)
}

/// Before the first migration: what dead runs left recorded, the plan's classifications and
/// warnings said, a refusal on its problems, an abandoned rollback cleared, and the
/// `migrate_started` event.
async fn announce(
    conn: &mut Conn,
    (history, run): (&History, &RunInfo),
    env: &Environment,
    (rows, plan): (&[HistoryRow], &Plan<'_>),
    reporter: &mut dyn Reporter,
) -> Result<()> {
    record_interrupted(conn, history, run, &plan.classified).await?;
    for c in &plan.classified {
        reporter.classified(c);
    }
    for warning in &plan.warnings {
        reporter.warning(warning);
    }
    refuse_on_problems(plan, &env.name)?;
    if rows
        .iter()
        .any(|r| r.state == State::Applied && r.rollback_target.is_some())
    {
        reporter.warning(
            "an earlier `runner rollback` stopped before its target; this forward run abandons it",
        );
        history
            .clear_rollback_target(conn)
            .await
            .map_err(|e| db("clear the unfinished rollback", e))?;
    }
    reporter.pending(&plan.steps);
    history
        .audit(
            conn,
            run,
            None,
            "migrate_started",
            &format!("{} pending", plan.steps.len()),
        )
        .await;
    Ok(())
}

/// Where a run of migrations stopped: the step, the plan, how many it applied before.
struct Halt<'a> {
    step: &'a Step<'a>,
    plan: &'a Plan<'a>,
    applied: usize,
    env: &'a Environment,
    previous: Option<&'a Previous>,
}

impl Halt<'_> {
    /// The error a stopped migration ends the run with: interrupted, connection lost, or
    /// failed (with its `migration_failed` event).
    async fn error(
        &self,
        conn: &mut Conn,
        history: &History,
        run: &RunInfo,
        stopped: Stopped,
    ) -> Error {
        let (step, env) = (self.step, self.env);
        match stopped {
            stopped if stopped.interrupted => {
                let done = stopped.failure.statements_done;
                let message = if stopped.state == State::FailedPartial {
                    format!(
                        "{} stopped after statement {done} of {} (failed_partial, recorded); `{}` continues from statement {}",
                        step.label(),
                        step.script.statements.len(),
                        hints::resume(At::of(env), step.migration.version),
                        done + 1
                    )
                } else {
                    format!(
                        "{} was stopped before anything of it committed; `{}` applies it",
                        step.label(),
                        hints::migrate(At::of(env))
                    )
                };
                Error::Interrupted { message }
            }
            stopped if stopped.failure.error.connection_lost => Error::ConnectionLost {
                during: format!(
                    "{} (statement {} of {})",
                    step.label(),
                    stopped.failure.statement,
                    step.script.statements.len()
                ),
                error: stopped.failure.error,
                next: format!(
                    "this is not a failed migration: each commit carries its own history record, so nothing is lost or counted twice. Once the database answers, `{}` reads what committed and says how to continue",
                    hints::migrate(At::of(env))
                ),
            },
            stopped => {
                // Applied with this content in the environment before this one: the file must
                // stay as it is (production gets exactly what staging got).
                let ran_before = self.previous.filter(|p| {
                    p.rows.iter().any(|r| {
                        r.version == step.migration.version
                            && r.state == State::Applied
                            && r.sha256 == step.migration.forward.checksums.sha256
                    })
                });
                let later = self.plan.steps.len().saturating_sub(self.applied + 1);
                let message = failure_message(
                    step,
                    &stopped,
                    (self.applied, later),
                    env,
                    ran_before.map(|p| p.environment.as_str()),
                );
                history
                    .audit(
                        conn,
                        run,
                        Some(step.migration.version),
                        "migration_failed",
                        &message,
                    )
                    .await;
                Error::MigrationFailed { message }
            }
        }
    }
}

/// The start of a migration that will not run after all (the run stopped between two
/// migrations after the first one's last transaction wrote it): recorded failed_clean with
/// nothing done, as a stop before its first statement records it; best effort, as the next
/// run settles it anyway.
async fn unstart(conn: &mut Conn, history: &History, step: &plan::Step<'_>) {
    let failure = history::Failure {
        statement: 1,
        statements_done: 0,
        error: crate::db::DbError::other("the run stopped before this migration's first statement"),
        duration_ms: 0,
    };
    let _ = history
        .fail(conn, step.migration.version, State::FailedClean, &failure)
        .await;
}

/// Records the rows a dead run left `applying` as what they are now known to be (call with
/// the lock held: whoever wrote them is gone).
pub async fn record_interrupted(
    conn: &mut Conn,
    history: &History,
    run: &RunInfo,
    classified: &[plan::Classified],
) -> Result<()> {
    for c in classified {
        let state = State::parse(c.state).unwrap_or(State::FailedPartial);
        history
            .set_state(conn, c.version, state)
            .await
            .map_err(|e| db("record an interrupted run", e))?;
        let detail = format!(
            "V{} {} was found applying with the lock free: {} ({})",
            c.version, c.name, c.state, c.reason
        );
        history
            .audit(
                conn,
                run,
                Some(c.version),
                "interrupted_run_classified",
                &detail,
            )
            .await;
    }
    Ok(())
}

fn refuse_on_problems(plan: &Plan<'_>, env: &str) -> Result<()> {
    if plan.problems.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        environment: env.to_string(),
        problems: plan.problems.clone(),
    })
}

/// The error of a failed migration: which statement failed, what was committed (`applied`
/// migrations before it in this run, `later` ones not attempted), what next.
fn failure_message(
    step: &Step<'_>,
    stopped: &Stopped,
    (applied, later): (usize, usize),
    environment: &Environment,
    ran_before: Option<&str>,
) -> String {
    let f = &stopped.failure;
    let total = step.script.statements.len();
    let statement: String = stopped
        .statement_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let statement: String = statement.chars().take(200).collect();
    let mut out = format!(
        "{} failed at statement {} of {total}: {}\n  statement: {statement}",
        step.label(),
        f.statement,
        f.error
    );
    let earlier = if applied == 0 {
        "no other migration was applied by this run".to_string()
    } else {
        format!("the {applied} migration(s) before it in this run stay applied")
    };
    let committed = match stopped.state {
        State::FailedPartial => format!(
            "{} (state failed_partial)",
            statements::committed_of("", f.statements_done, &format!(" of {}", step.label()))
        ),
        _ if step.script.mode == Mode::Statement => format!(
            "nothing of {} is committed (state failed_clean)",
            step.label()
        ),
        _ => format!(
            "nothing of {}: its transaction was rolled back (state failed_clean)",
            step.label()
        ),
    };
    out.push_str(&format!(
        "\n  committed: {committed}; {earlier}; {later} later migration(s) not attempted"
    ));
    if let Some(leftover) = &stopped.leftover {
        out.push_str(&format!("\n  left behind: {leftover}"));
    }
    let next = next_after_failure(step, stopped, environment, ran_before);
    out.push_str(&format!("\n  next: {next}"));
    out
}

/// What to do after a migration failed: fix, then the command that resumes or retries it.
fn next_after_failure(
    step: &Step<'_>,
    stopped: &Stopped,
    environment: &Environment,
    ran_before: Option<&str>,
) -> String {
    let (f, env) = (&stopped.failure, environment.name.as_str());
    let dialect = environment.database_url.value.dialect();
    let v = step.migration.version;
    let at = At::of(environment);
    let fix = match ran_before {
        Some(before) => format!(
            "fix the cause in {env}'s data or schema (the file must stay as {before} ran it; to change it, add a new migration)"
        ),
        None => "fix the cause".to_string(),
    };
    match stopped.state {
        State::FailedPartial => format!(
            "{fix}, then `{}` continues from statement {} (`{}` shows the other ways out)",
            hints::resume(at, v),
            f.statements_done + 1,
            hints::recover(env)
        ),
        _ if crate::db::backend(dialect).is_lock_timeout(&f.error) => {
            format!(
                "another session held a lock on the table through every retry (on PostgreSQL, pg_locks and pg_stat_activity show which); run `{}` again once it is gone, or raise lock_retries",
                hints::migrate(at)
            )
        }
        _ if ran_before.is_some() => {
            format!("{fix}, then `{}` runs it again", hints::retry(at, v))
        }
        _ => format!(
            "fix {} or the cause, then `{}` runs it again",
            step.migration.forward.file_name,
            hints::retry(at, v)
        ),
    }
}

async fn baseline(
    conn: &mut Conn,
    (history, run): (&History, &RunInfo),
    catalog: &Catalog,
    (rows, version): (&[HistoryRow], Version),
    reporter: &mut dyn Reporter,
) -> Result<usize> {
    if !rows.is_empty() {
        return Err(Error::Usage(format!(
            "--baseline {version}: the history of {} already has {} row(s); a baseline is for a database runner has never migrated",
            run.environment,
            rows.len()
        )));
    }
    if !catalog.migrations.iter().any(|m| m.version == version) {
        return Err(Error::Usage(format!(
            "--baseline {version}: there is no migration with version {version}"
        )));
    }
    let mut count = 0;
    for m in catalog.migrations.iter().filter(|m| m.version <= version) {
        let row = NewRow::recorded(m, Mode::Baseline);
        history
            .start(conn, &row, run, State::Applied, 1)
            .await
            .map_err(|e| db("record the baseline", e))?;
        history
            .finish(conn, row.version, State::Applied, 0, 0)
            .await
            .map_err(|e| db("record the baseline", e))?;
        reporter.baselined(&m.label());
        count += 1;
    }
    let detail = format!("recorded as at V{version} without running anything ({count} migrations)");
    history
        .event(conn, run, Some(version), "baseline", &detail)
        .await
        .map_err(|e| db("record the baseline", e))?;
    Ok(count)
}

/// Versions as given on the command line, for `--allow-out-of-order`.
pub fn version_set(versions: &[Version]) -> HashSet<Version> {
    versions.iter().copied().collect()
}
