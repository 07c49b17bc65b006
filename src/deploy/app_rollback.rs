//! `runner rollback --env E [--version X]`: the application back to an earlier release through
//! the rollback hook, health-checked like a deploy (unless forced), recorded in the journal.

use std::time::{Duration, Instant};

use super::health::{self, Verdict};
use super::journal::{self, Entry};
use super::output::DeployOutput;
use super::{hooks, validate_version};
use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::Conn;
use crate::db::Limits;
use crate::db::lock;
use crate::engine;
use crate::engine::history::{History, State};
use crate::engine::rollback::{RollbackOptions, Target, rollback_locked};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct AppRollbackOptions {
    /// The release to go back to; default: the one before the current.
    pub version: Option<String>,
    /// Skip the health checks (recorded as forced).
    pub force: bool,
    /// Also roll back the migrations the undone deploys applied.
    pub with_migrations: bool,
    pub lock_wait: Duration,
    pub approved_by: Option<String>,
}

pub async fn app_rollback(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &AppRollbackOptions,
    out: &mut DeployOutput,
) -> Result<()> {
    if let Some(v) = &options.version {
        validate_version(v)?;
    }
    let Some(argv) = env.rollback.clone() else {
        return Err(Error::Usage(format!(
            "environments.{}.rollback is not set in runner.toml: runner needs a rollback hook",
            env.name
        )));
    };
    let mut conn = engine::open(env, "rollback").await?;
    let command = format!("runner rollback --env {}", env.name);
    let held = lock::acquire(
        &mut conn,
        &env.database_url.value,
        options.lock_wait,
        &command,
        |_, _| {},
    )
    .await?;
    let result = locked(config, env, catalog, options, &argv, &mut conn, out).await;
    lock::release(&mut conn, held).await;
    conn.close().await;
    result
}

async fn locked(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    options: &AppRollbackOptions,
    argv: &[String],
    conn: &mut Conn,
    out: &mut DeployOutput,
) -> Result<()> {
    let history = History::new(&config.history_prefix, conn.dialect());
    history
        .ensure(conn)
        .await
        .map_err(|e| engine::db("create the history tables", e))?;
    let entries = journal::entries(conn, &history, &env.name)
        .await
        .map_err(|e| engine::db("read the deploy journal", e))?;
    let Some(current) = journal::current_version(&entries).cloned() else {
        return Err(Error::Usage(format!(
            "nothing has been deployed to {} yet: there is nothing to roll back",
            env.name
        )));
    };
    let succeeded: Vec<&Entry> = entries.iter().filter(|e| e.result == "succeeded").collect();
    let target = match &options.version {
        Some(v) if *v == current.version => {
            return Err(Error::Usage(format!(
                "{v} is already the version serving {}",
                env.name
            )));
        }
        Some(v) if succeeded.iter().any(|e| e.version == *v) => v.clone(),
        Some(v) => {
            return Err(Error::Usage(format!(
                "{v} never ran successfully in {}: roll back only to a version that did (`runner history --env {}` lists them)",
                env.name, env.name
            )));
        }
        None => match succeeded.iter().find(|e| e.version != current.version) {
            Some(e) => e.version.clone(),
            None => {
                return Err(Error::Usage(format!(
                    "{} has had no other successful version than {}: nothing to roll back to",
                    env.name, current.version
                )));
            }
        },
    };
    out.begin(
        &env.name,
        &format!("{target} (rollback from {})", current.version),
    );

    let info = crate::runtime::run_info(&env.name, Some(target.clone()));
    let started = Instant::now();
    let mut entry = Entry {
        previous_version: Some(current.version.clone()),
        forced: options.force,
        approved_by: options.approved_by.clone(),
        ..Entry::begin(&info.deploy_id, &env.name, "rollback", &target, &info.actor)
    };
    journal::start(conn, &history, &entry)
        .await
        .map_err(|e| engine::db("write the deploy journal", e))?;

    let mut failure: Option<String> = None;
    if options.with_migrations {
        let t = Instant::now();
        // The deploys being undone: every successful deploy newer than the target's.
        let target_at = succeeded
            .iter()
            .find(|e| e.version == target)
            .map(|e| e.started_at.clone())
            .unwrap_or_default();
        let undone: Vec<i64> = entries
            .iter()
            .filter(|e| e.kind == "deploy" && e.started_at > target_at)
            .flat_map(|e| e.migrations.iter().copied())
            .collect();
        match roll_back_migrations(config, env, catalog, conn, &undone, &info).await {
            Ok(n) => {
                entry.migrations = undone.clone();
                out.record(
                    &mut entry,
                    "migrations rollback",
                    "ok",
                    t,
                    format!("{n} rolled back"),
                );
            }
            Err(e) => {
                out.record(
                    &mut entry,
                    "migrations rollback",
                    "failed",
                    t,
                    e.to_string(),
                );
                failure = Some(e.to_string());
            }
        }
    }

    if failure.is_none() {
        let t = Instant::now();
        let ctx = hooks::HookContext {
            environment: &env.name,
            version: &current.version,
            previous_version: &target,
            deploy_id: &entry.id,
            phase: "rollback",
        };
        let echo = out.hook_echo();
        let hook = hooks::run(
            argv,
            &ctx,
            &config.root,
            &hooks::Secrets::of(config),
            config.hook_timeout,
            &echo,
        );
        entry.hook_output = Some(hook.last_lines.join("\n"));
        if hook.success {
            out.record(&mut entry, "rollback", "ok", t, format!("to {target}"));
        } else {
            out.record(&mut entry, "rollback", "failed", t, hook.status.clone());
            failure = Some(format!("the rollback hook failed ({})", hook.status));
        }
    }

    if failure.is_none() {
        let t = Instant::now();
        match (&env.health, options.force) {
            (_, true) => out.record(&mut entry, "health", "skipped (forced)", t, String::new()),
            (None, false) => out.record(&mut entry, "health", "not configured", t, String::new()),
            (Some(h), false) => match health::wait(h, Some(&target), &mut |p| out.probe(p)) {
                Verdict::Healthy { after } => out.record(
                    &mut entry,
                    "health",
                    "healthy",
                    t,
                    format!("in {:.1} s", after.as_secs_f64()),
                ),
                other => {
                    out.record(&mut entry, "health", "failed", t, format!("{other:?}"));
                    failure = Some(format!("{target} did not become healthy"));
                }
            },
        }
    }

    entry.duration_ms = Some(started.elapsed().as_millis() as i64);
    entry.result = if failure.is_none() {
        "succeeded"
    } else {
        "rollback_failed"
    }
    .into();
    entry.error = failure.clone();
    let _ = journal::finish(conn, &history, &entry).await;
    let detail = format!(
        "application rolled back from {} to {target}{}{}",
        current.version,
        if options.force {
            " (forced: no health check)"
        } else {
            ""
        },
        failure
            .as_deref()
            .map(|f| format!(": FAILED, {f}"))
            .unwrap_or_default()
    );
    let _ = history
        .event(
            conn,
            &info,
            None,
            if failure.is_none() {
                "app_rolled_back"
            } else {
                "app_rollback_failed"
            },
            &detail,
        )
        .await;
    match failure {
        None => {
            out.success(&env.name, &target, started.elapsed());
            Ok(())
        }
        Some(why) => Err(Error::RollbackFailed {
            message: format!(
                "rolling {} back to {target} failed: {why}\n  next: check the app by hand; `runner status --env {}` shows what is recorded",
                env.name, env.name
            ),
        }),
    }
}

/// Rolls back exactly `versions` (newest first), which must be the newest applied ones.
async fn roll_back_migrations(
    config: &Config,
    env: &Environment,
    catalog: &Catalog,
    conn: &mut Conn,
    versions: &[i64],
    info: &crate::engine::history::RunInfo,
) -> Result<usize> {
    if versions.is_empty() {
        return Ok(0);
    }
    let history = History::new(&config.history_prefix, conn.dialect());
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
    let newest: Vec<i64> = applied.iter().take(versions.len()).copied().collect();
    let mut wanted: Vec<i64> = versions.to_vec();
    wanted.sort_unstable_by(|a, b| b.cmp(a));
    if newest != wanted {
        return Err(Error::Usage(format!(
            "the migrations of the undone deploys ({wanted:?}) are not the newest applied ones ({newest:?}): roll them back with `runner rollback --to`"
        )));
    }
    let options = RollbackOptions {
        target: Target::Steps(versions.len()),
        use_file: false,
        lock_wait: Duration::from_secs(1),
        limits: Limits::of(env),
        run: info.clone(),
        approved_by: None,
    };
    rollback_locked(
        conn,
        config,
        env,
        catalog,
        &options,
        &mut crate::engine::rollback::Silent,
    )
    .await
}
