//! `runner deploy`: the main job. For each environment of the pipeline: gate, approval, lock,
//! the intent written to the journal, migrations, then the environment's strategy (release,
//! check, shift traffic), success; each phase timed and recorded in the deploy journal and the
//! audit log. A failure after the app was touched puts the previous release back (`revert`).
//! SIGINT/SIGTERM stop at a safe point and put the previous release back; a run that dies
//! without a word (SIGKILL) is found by the next command through its lease (`record`).

pub mod app_rollback;
pub mod approval;
pub mod checks;
pub mod health;
pub mod hooks;
mod pipeline;
pub mod record;
mod revert;
pub mod run;
pub mod strategy;

use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::{Conn, Limits, lock};
use crate::engine::journal::{Kind, RunResult};
use crate::engine::plan::{Previous, Request};
use crate::engine::{self, MigrateOptions};
use crate::error::{Error, Result};
use record::Lease;
use run::{Phase, Reporter, Run, Status};
use strategy::{Chosen, Strategy};

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub version: String,
    pub with_migrations: bool,
    /// Deploy although migrations are pending (recorded in the journal).
    pub allow_pending: bool,
    pub approve: bool,
    pub rollback_migrations: bool,
    pub lock_wait: Duration,
}

/// Release versions: letters, digits, `.`, `_` and `-`, as DESIGN §6 requires (they reach
/// hooks and file names).
pub fn validate_version(version: &str) -> Result<()> {
    let ok = !version.is_empty()
        && version.len() <= 128
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "`{version}` is not a release version: use letters, digits, `.`, `_` and `-` (e.g. 1.4.2 or 2026-11-26.3)"
        )))
    }
}

/// Deploys to each environment in turn, stopping at the first failure.
pub fn deploy(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
    out: &mut dyn Reporter,
) -> Result<()> {
    validate_version(&options.version)?;
    for name in environments {
        let env = config.environment(name)?;
        if env.deploy.is_none() {
            return Err(Error::Usage(format!(
                "environments.{name}.deploy is not set in runner.toml: runner needs a deploy hook, e.g. deploy = [\"scripts/deploy.sh\", \"{{env}}\", \"{{version}}\"]"
            )));
        }
    }
    crate::runtime::watch_interrupts()?;
    for name in environments {
        let env = config.environment(name)?;
        crate::runtime::block_on(deploy_env(config, catalog, env, options, out))?;
    }
    Ok(())
}

async fn deploy_env(
    config: &Config,
    catalog: &Catalog,
    env: &Environment,
    options: &DeployOptions,
    out: &mut dyn Reporter,
) -> Result<()> {
    out.begin(&env.name, &options.version);
    // Production gets only what the environment before it got.
    let previous_history =
        engine::previous_history(config, &env.name, &config.history_prefix).await?;
    if let Some(prev) = pipeline::previous_environment(config, &env.name) {
        pipeline::require_deployed_before(config, &prev, &options.version, &config.history_prefix)
            .await?;
    }
    let mut conn = engine::open(env, "deploy").await?;
    let mut run = Run::new(
        config,
        env,
        Kind::Deploy,
        &options.version,
        conn.dialect(),
        out,
    );
    let result = gate_then_lock(&mut run, &mut conn, catalog, options, previous_history).await;
    conn.close().await;
    result
}

/// Gate, approval and lock: nothing is recorded or touched before the lock is held.
async fn gate_then_lock(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &DeployOptions,
    previous_history: Option<Previous>,
) -> Result<()> {
    let env = run.env;
    // 1. gate: runner check on the migrations this deploy would apply.
    let t = Instant::now();
    let gate = engine::gate::gate(
        Some(&mut *conn),
        run.config,
        env,
        catalog,
        &Request::default(),
        None,
    )
    .await?;
    if gate.lint.errors() > 0 {
        let detail = format!("{} lint error(s)", gate.lint.errors());
        run.phase(Phase::Gate, Status::Failed, t, detail);
        run.out.findings(&gate.lint);
        return Err(Error::GateFailed {
            environment: env.name.clone(),
            errors: gate.lint.errors(),
        });
    }
    let pending = gate.pending();
    let labels: Vec<String> = gate.plan.steps.iter().map(|s| s.label()).collect();
    let detail = match (pending.len(), options.with_migrations) {
        (n, true) => format!("{n} migration(s) to apply, no lint errors"),
        (0, false) => "no migration pending".to_string(),
        (n, false) if options.allow_pending => format!(
            "{n} migration(s) pending, deployed without them (--allow-pending): {}",
            labels.join(", ")
        ),
        (n, false) => {
            run.phase(
                Phase::Gate,
                Status::Failed,
                t,
                format!("{n} migration(s) pending"),
            );
            return Err(Error::Refused {
                environment: env.name.clone(),
                problems: vec![format!(
                    "{n} migration(s) are pending in {} ({}), and release {} may need them. Deploy with them: `runner deploy --env {} --version {} --with-migrations`; or, when this release does not need them, deploy without them: `runner deploy --env {} --version {} --allow-pending` (recorded in the journal)",
                    env.name,
                    labels.join(", "),
                    options.version,
                    env.name,
                    options.version,
                    env.name,
                    options.version
                )],
            });
        }
    };
    run.phase(Phase::Gate, Status::Ok, t, detail.clone());

    // 2. approval.
    let t = Instant::now();
    if env.requires_approval {
        approval::approve(env, options.approve, "deploy to")?;
        let who = approval::approver(&run.info.actor);
        run.entry.approved_by = Some(who.clone());
        run.phase(Phase::Approval, Status::Approved, t, format!("by {who}"));
    } else {
        run.phase(Phase::Approval, Status::NotRequired, t, String::new());
    }

    // 3. the lock, held for the whole deploy.
    let t = Instant::now();
    let command = format!(
        "runner deploy --env {} --version {}",
        env.name, options.version
    );
    let allow_pending = (!options.with_migrations && !pending.is_empty()).then_some(detail);
    lock::with_lock(
        conn,
        env,
        options.lock_wait,
        &command,
        &mut (),
        async |conn, _| {
            run.phase(Phase::Lock, Status::Taken, t, String::new());
            locked(
                run,
                conn,
                catalog,
                options,
                previous_history.as_ref(),
                allow_pending,
            )
            .await
        },
    )
    .await
}

async fn locked(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &DeployOptions,
    previous_history: Option<&Previous>,
    allow_pending: Option<String>,
) -> Result<()> {
    let env = run.env;
    let config = run.config;
    let (_, serving) = run.reconcile(conn, "runner deploy").await?;
    if let Some(doubt) = &serving.doubt {
        run.out.note(&format!(
            "{doubt}; this deploy replaces it, and if it fails, {} is put back",
            serving
                .release
                .as_deref()
                .unwrap_or("no earlier release (none succeeded)")
        ));
    }
    let previous = serving.release.clone();
    run.entry.previous_version = previous.clone();
    run.entry.strategy = Some(env.strategy.name().to_string());
    // The intent, before anything is touched: release X replacing Y, by whom.
    run.entry.phase = Some("intent".into());
    run.begin(conn).await?;
    let _lease = Lease::start(env, &config.history_prefix, &run.entry.id, config.lease);
    run.event(
        conn,
        "deploy_started",
        &format!(
            "deploy {} (previous {}) with {}",
            options.version,
            previous.as_deref().unwrap_or("none"),
            env.strategy.name()
        ),
    )
    .await;
    if let Some(detail) = &allow_pending {
        run.event(conn, "deploy_allow_pending", detail).await;
    }

    // 4. migrations (expand: before any traffic moves).
    if options.with_migrations {
        let t = run.enter(conn, Phase::Migrations).await?;
        let migrate = MigrateOptions {
            request: Request::default(),
            baseline: None,
            lock_wait: options.lock_wait,
            limits: Limits::of(env),
            run: run.info.clone(),
            approved_by: run.entry.approved_by.clone(),
        };
        let mut reporter = run.out.migrations();
        let applied = engine::migrate_locked(
            conn,
            env,
            catalog,
            &migrate,
            previous_history,
            &config.history_prefix,
            reporter.as_mut(),
        )
        .await;
        match applied {
            Ok(applied) => {
                run.entry.migrations = applied.clone();
                let detail = format!("{} applied", applied.len());
                run.phase(Phase::Migrations, Status::Ok, t, detail);
            }
            Err(e) => {
                let (status, result) = match e {
                    Error::Interrupted { .. } => (Status::Interrupted, RunResult::Interrupted),
                    _ => (Status::Failed, RunResult::Failed),
                };
                run.phase(Phase::Migrations, status, t, String::new());
                return run.fail(conn, result, e).await;
            }
        }
    }
    if crate::runtime::interrupted() {
        let error = Error::Interrupted {
            message: format!(
                "the deploy of {} to {} stopped before the app was touched; {} is still serving",
                options.version,
                env.name,
                previous.as_deref().unwrap_or("nothing deployed before")
            ),
        };
        return run.fail(conn, RunResult::Interrupted, error).await;
    }

    // 5-7. the strategy: release, check, shift. A failure puts the previous release back.
    let mut strategy = Chosen::of(env.strategy);
    let from = previous.clone().unwrap_or_default();
    let to = options.version.clone();
    let mut step = strategy.release(run, conn, &to, &from).await;
    if step.is_ok() {
        step = strategy.check(run, conn, &to, &from).await;
    }
    if step.is_ok() {
        step = strategy.shift(run, conn, &to).await;
    }
    if let Err(failure) = step {
        return revert::after_failure(run, conn, &mut strategy, catalog, options, failure).await;
    }

    // 8. success.
    run.finish(conn, RunResult::Succeeded, None, "deploy_succeeded")
        .await;
    let took = run.started.elapsed();
    run.out.success(&env.name, &options.version, took);
    Ok(())
}
