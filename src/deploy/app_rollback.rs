//! `runner rollback --env E [--version X]`: the application back to an earlier release through
//! the environment's strategy (the rollback hook, health-checked unless forced), recorded in
//! the journal like a deploy. With `--with-migrations`, the application goes back first and the
//! migrations of the undone deploys after it, so the newer release never runs without its
//! columns.

use std::time::Duration;

use super::record::validate_version;
use super::record::{self, Lease};
use super::run::{Phase, Reporter, Run, Status};
use super::strategy::{AnyStrategy, Strategy};
use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::engine;
use crate::engine::history::{History, State};
use crate::engine::journal::{Entry, Kind, RunResult};
use crate::error::{Error, Result};
use crate::hints::{self, At};

#[derive(Debug, Clone)]
pub struct AppRollbackOptions {
    /// The release to go back to; default: the one deployed before the serving one, or, when
    /// what serves is in doubt, the last release that succeeded.
    pub version: Option<String>,
    /// Skip the health checks (recorded as forced).
    pub force: bool,
    /// Also roll back the migrations the undone deploys applied.
    pub with_migrations: bool,
    pub lock_wait: Duration,
    pub approved_by: Option<String>,
}

pub fn app_rollback(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &AppRollbackOptions,
    out: &mut dyn Reporter,
) -> Result<()> {
    if let Some(v) = &options.version {
        validate_version(v)?;
    }
    // Routed strategies switch back to a slot still running the release, or deploy it with
    // the deploy hook; all-at-once needs the rollback hook.
    if env.rollback.is_none() && !env.strategy().routed() {
        return Err(Error::Usage(format!(
            "environments.{}.rollback is not set in runner.toml: runner needs a rollback hook",
            env.name
        )));
    }
    crate::runtime::watch_interrupts()?;
    crate::runtime::block_on(async {
        let mut conn = engine::open(env, "rollback").await?;
        let mut run = Run::new((config, env), (Kind::Rollback, ""), conn.dialect(), out);
        let command = format!("runner rollback --env {}", env.name);
        let result = lock::with_lock(
            &mut conn,
            env,
            (options.lock_wait, &command),
            &mut (),
            async |conn, _| roll_back_with_lock_held(&mut run, conn, catalog, options).await,
        )
        .await;
        conn.close().await;
        result
    })
}

/// `runner rollback --dry-run` of the application: (from, to, migrations it would undo with
/// --with-migrations), read from the deploy journal without the lock, or `None` when the
/// release asked for already serves; or why it would refuse.
pub fn preview(
    config: &Config,
    env: &Environment,
    options: &AppRollbackOptions,
) -> Result<Option<(String, String, Vec<i64>)>> {
    crate::runtime::block_on(async {
        let mut conn = engine::open(env, "rollback --dry-run").await?;
        let history = crate::engine::history::History::new(&config.history_prefix, conn.dialect());
        let entries = crate::engine::journal::entries(&mut conn, &history, &env.name)
            .await
            .map_err(|e| crate::engine::db("read the deploy journal", e));
        let holder = lock::holder(&mut conn, &env.database_url.value)
            .await
            .ok()
            .flatten();
        conn.close().await;
        let entries = entries?;
        let liveness = match holder {
            Some(_) => record::Liveness::LockHeld,
            None => record::Liveness::LockFree,
        };
        let serving = record::serving(&entries, liveness, std::time::SystemTime::now());
        let Some((current, target)) =
            choose_target(&entries, &serving, env, options.version.as_ref())?
        else {
            return Ok(None);
        };
        let undone = match options.with_migrations {
            true => undone_migrations(&entries, &target),
            false => Vec::new(),
        };
        Ok(Some((current, target, undone)))
    })
}

/// From which release to which a rollback goes, or `None` when `version` already serves;
/// refused when nothing succeeded yet, a canary is paused, or `version` never succeeded.
fn choose_target(
    entries: &[Entry],
    serving: &record::Serving,
    env: &Environment,
    version: Option<&String>,
) -> Result<Option<(String, String)>> {
    let Some(last_good) = serving.release.clone() else {
        return Err(Error::Usage(format!(
            "nothing has been deployed to {} successfully yet: there is nothing to roll back to",
            env.name
        )));
    };
    if let Some(paused) = &serving.paused {
        return Err(Error::Usage(format!(
            "a canary of {} is paused at {}% in {}: `{}` gives all traffic back to {}; roll back after that",
            paused.release,
            paused.percent,
            env.name,
            hints::abort(At::of(env)),
            last_good
        )));
    }
    // What serves now, as far as anyone knows: the release in doubt, or the last good one.
    let current = serving
        .doubt
        .as_ref()
        .map_or(last_good.clone(), |d| d.release.clone());
    let target = match version {
        Some(v) if *v == last_good && serving.doubt.is_none() => return Ok(None),
        Some(v) if record::ever_succeeded(entries, v) => v.clone(),
        Some(v) => {
            return Err(Error::Usage(format!(
                "{v} never ran successfully in {}: roll back only to a version that did (`runner history --env {}` lists them)",
                env.name, env.name
            )));
        }
        None => serving.rollback_target.clone().ok_or_else(|| {
            Error::Usage(format!(
                "{} has no release deployed before {current}: nothing to roll back to",
                env.name
            ))
        })?,
    };
    Ok(Some((current, target)))
}

async fn roll_back_with_lock_held(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &AppRollbackOptions,
) -> Result<()> {
    let env = run.env;
    let (entries, serving) = run.reconcile(conn, "runner rollback").await?;
    let Some((current, target)) = choose_target(&entries, &serving, env, options.version.as_ref())?
    else {
        run.out.note(&format!(
            "{} is already serving {}; nothing to do",
            options.version.clone().unwrap_or_default(),
            env.name
        ));
        return Ok(());
    };
    if let Some(doubt) = &serving.doubt {
        run.out.note(&format!("{doubt}; putting {target} back"));
    }
    let routed = if env.strategy().routed() {
        let (routed, note) = super::fleet::Routed::reconcile(env, &entries, &run.config.root)?;
        if let Some(note) = note {
            run.out.note(&note);
        }
        Some(routed)
    } else {
        None
    };
    let _lease = announce(run, conn, options, &current, &target).await?;

    // The application first: the release being undone may need its columns until it is gone.
    let mut strategy = AnyStrategy::of(env, routed);
    revert_app(run, conn, &mut strategy, &target, &current).await?;
    // Then the migrations of the deploys being undone.
    let migrations_failure = match options.with_migrations {
        true => revert_migrations(run, conn, catalog, &entries, &target).await?,
        false => None,
    };

    // The application serves the target either way: the journal says so.
    let forced = if options.force {
        " (forced: no health check)"
    } else {
        ""
    };
    run.finish(
        conn,
        RunResult::Succeeded,
        migrations_failure
            .as_ref()
            .map(|f| format!("the migrations could not be rolled back: {f}")),
        "app_rolled_back",
    )
    .await;
    run.event(
        conn,
        "app_rolled_back",
        &format!("application rolled back from {current} to {target}{forced}"),
    )
    .await;
    if let Some(f) = migrations_failure {
        return Err(Error::RollbackFailed {
            message: format!(
                "{} is back on {target}, but rolling back the migrations of the undone deploys failed: {f}\n  next: `{}` says what each migration left and how to go on",
                env.name,
                hints::recover(&env.name)
            ),
        });
    }
    let took = run.started.elapsed();
    run.out.success(&env.name, &target, took);
    Ok(())
}

/// Writes the run's intent (`target` replacing `current`, forced or not, approved by whom)
/// before anything is touched, and starts the lease that keeps it alive while it works.
async fn announce(
    run: &mut Run<'_>,
    conn: &mut Conn,
    options: &AppRollbackOptions,
    current: &str,
    target: &str,
) -> Result<Lease> {
    let env = run.env;
    run.entry.version = target.to_string();
    run.info.release = Some(target.to_string());
    run.entry.previous_version = Some(current.to_string());
    run.entry.forced = options.force;
    run.entry.approved_by = options.approved_by.clone();
    run.entry.strategy = Some(env.strategy().name().to_string());
    run.out
        .begin(&env.name, &format!("{target} (rollback from {current})"));
    run.entry.phase = Some("intent".into());
    run.begin(conn).await?;
    Ok(Lease::start(
        env,
        &run.config.history_prefix,
        &run.entry.id,
        run.config.lease,
    ))
}

/// Puts `target` back in place of `current` through the strategy (the router's record saved
/// first). A failure ends the run: in doubt when a signal stopped it, failed otherwise.
async fn revert_app(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    target: &str,
    current: &str,
) -> Result<()> {
    let env = run.env;
    let mut reverted = Ok(());
    if let Some(routed) = strategy.routed() {
        reverted = routed.save(run, conn).await;
    }
    if reverted.is_ok() {
        reverted = strategy.revert(run, conn, target, current).await;
    }
    let Err(failure) = reverted else {
        return Ok(());
    };
    let (result, next) = if failure.interrupted {
        (RunResult::InDoubt, "what serves is in doubt")
    } else {
        (RunResult::RollbackFailed, "check the app by hand")
    };
    run.finish(
        conn,
        result,
        Some(failure.why.clone()),
        "app_rollback_failed",
    )
    .await;
    let message = format!(
        "rolling {} back to {target} failed: {}\n  next: {next}; `{}` shows what is recorded, and `{}` tries again",
        env.name,
        failure.why,
        hints::status(&env.name),
        hints::rollback_to(At::of(env), target)
    );
    Err(if failure.interrupted {
        Error::Interrupted { message }
    } else {
        Error::RollbackFailed { message }
    })
}

/// Rolls back the migrations of the deploys newer than `target`, as a phase of the run.
/// Returns why they could not be, when they could not: the app serves `target` either way.
async fn revert_migrations(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    entries: &[Entry],
    target: &str,
) -> Result<Option<String>> {
    let t = run.enter(conn, Phase::MigrationsRollback).await?;
    let undone = undone_migrations(entries, target);
    match roll_back_migrations(run, conn, catalog, &undone).await {
        Ok(n) => {
            run.entry.migrations = undone;
            run.phase(
                Phase::MigrationsRollback,
                Status::Ok,
                t,
                format!("{n} rolled back"),
            );
            Ok(None)
        }
        Err(e) => {
            run.phase(Phase::MigrationsRollback, Status::Failed, t, e.to_string());
            Ok(Some(e.to_string()))
        }
    }
}

/// The migrations applied by the deploys newer than the target's last successful deploy
/// (whatever became of those deploys: a failed release's expand migrations stay).
fn undone_migrations(entries: &[Entry], target: &str) -> Vec<i64> {
    let target_at = entries
        .iter()
        .find(|e| e.kind == Kind::Deploy && e.version == target && e.result == RunResult::Succeeded)
        .map(|e| e.started_at.clone())
        .unwrap_or_default();
    entries
        .iter()
        .filter(|e| e.kind == Kind::Deploy && e.started_at > target_at)
        .flat_map(|e| e.migrations.iter().copied())
        .collect()
}

/// Rolls back exactly `versions` (newest first) of those still applied, which must be the
/// newest applied ones.
async fn roll_back_migrations(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    versions: &[i64],
) -> Result<usize> {
    let history = History::new(&run.config.history_prefix, conn.dialect());
    let rows = history
        .rows(conn)
        .await
        .map_err(|e| engine::db("read the history", e))?;
    let mut applied: Vec<i64> = rows
        .iter()
        .filter(|r| r.state == State::Applied)
        .map(|r| r.version)
        .collect();
    applied.sort_unstable_by(|a, b| b.cmp(a));
    let mut wanted: Vec<i64> = versions
        .iter()
        .copied()
        .filter(|v| applied.contains(v))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    wanted.sort_unstable_by(|a, b| b.cmp(a));
    let newest: Vec<i64> = applied.iter().take(wanted.len()).copied().collect();
    if newest != wanted {
        return Err(Error::Usage(format!(
            "the migrations of the undone deploys ({wanted:?}) are not the newest applied ones ({newest:?}): roll them back with `runner rollback --env {} --to VERSION`",
            run.env.name
        )));
    }
    crate::engine::rollback::newest_locked(
        conn,
        (run.config, run.env, catalog),
        wanted.len(),
        &run.info,
    )
    .await
}
