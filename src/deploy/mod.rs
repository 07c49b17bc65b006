//! `runner deploy`: the main job. For each environment of the pipeline: gate, approval, lock,
//! the intent written to the journal, migrations, then the environment's strategy (release,
//! check, shift traffic), success; each phase timed and recorded in the deploy journal and the
//! audit log. A failure after the app was touched puts the previous release back (`revert`).
//! SIGINT/SIGTERM stop at a safe point and put the previous release back; a run that dies
//! without a word (SIGKILL) is found by the next command through its lease (`record`).

pub mod app_rollback;
pub mod approval;
pub mod checks;
mod contract;
pub use contract::waiting as contract_waiting;
pub mod fleet;
pub mod health;
pub mod hooks;
pub mod measure;
pub mod notify;
pub use measure::analysis_groups;
mod pipeline;
pub mod preflight;
pub mod promote;
pub mod record;
mod revert;
pub mod rollout;
pub mod router;
pub mod run;
pub mod step;
pub mod strategy;

use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::engine;
use crate::engine::journal::{Kind, RunResult};
use crate::engine::plan::{Previous, Request};
use crate::error::{Error, Result};
use crate::hints::{self, At};
use record::Lease;
pub use rollout::Outcome;
use rollout::{finish_rollout, pause, watch_release};
use run::{Phase, Reporter, Run, Status};
use strategy::{AnyStrategy, Strategy};

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub version: String,
    pub with_migrations: bool,
    /// Deploy although migrations are pending (recorded in the journal).
    pub allow_pending: bool,
    pub approve: bool,
    pub rollback_migrations: bool,
    pub lock_wait: Duration,
    /// Watch the new release this long once it serves all traffic; a breach puts the
    /// previous one back (`--watch`, else `[deploy] watch`).
    pub watch: Option<Duration>,
}

/// Deploys to each environment in turn, stopping at the first failure (or paused canary).
/// Everything that can refuse any of them is checked first (`preflight`): a refusal changes
/// nothing anywhere. Returns `Outcome::Paused` when a canary waits for `runner promote`.
pub fn deploy(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
    out: &mut dyn Reporter,
) -> Result<Outcome> {
    record::validate_version(&options.version)?;
    for name in environments {
        let env = config.environment(name)?;
        if env.deploy.is_none() {
            return Err(Error::Usage(format!(
                "environments.{name}.deploy is not set in runner.toml: runner needs a deploy hook, e.g. deploy = [\"scripts/deploy.sh\", \"{{env}}\", \"{{version}}\"]"
            )));
        }
    }
    crate::runtime::block_on(preflight::check(config, catalog, environments, options))?;
    crate::runtime::watch_interrupts()?;
    // The release's queries, recorded with each environment it reaches, so the next deploy
    // can prepare them against a migrated schema before that environment is touched.
    let queries = crate::compat::load(
        &config.root,
        &config.compat,
        config.dialect.value,
        crate::compat::Tree::Working,
    )?;
    for (i, name) in environments.iter().enumerate() {
        let env = config.environment(name)?;
        if i > 0 && options.with_migrations {
            serving_release_gate(config, environments, i, &options.version)?;
        }
        let outcome = crate::runtime::block_on(deploy_env(config, catalog, env, options, out));
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) if i > 0 => {
                return Err(partly_changed(
                    e,
                    &environments[..i],
                    &environments[i..],
                    &options.version,
                ));
            }
            Err(e) => return Err(e),
        };
        if !queries.is_empty() {
            record_queries(config, env, &options.version, &queries, out);
        }
        if outcome == Outcome::Paused {
            if i + 1 < environments.len() {
                out.note(&format!(
                    "{} waits: {} goes on once the canary in {name} is promoted to 100% (`{}`)",
                    environments[i + 1..].join(", "),
                    options.version,
                    hints::promote(At::of(env))
                ));
            }
            return Ok(Outcome::Paused);
        }
    }
    Ok(Outcome::Deployed)
}

/// Before environment `i` of a pipeline: the queries of the release serving there, prepared on
/// the schema environment `i - 1` was migrated to. A break is refused there (saying which
/// environments this run already changed).
fn serving_release_gate(
    config: &Config,
    environments: &[String],
    i: usize,
    version: &str,
) -> Result<()> {
    let migrated = config.environment(&environments[i - 1])?;
    let env = config.environment(&environments[i])?;
    let problems = crate::runtime::block_on(crate::compat::release::gate(config, migrated, env))
        .unwrap_or_else(|e| vec![e.to_string()]);
    if problems.is_empty() {
        return Ok(());
    }
    let refused = Error::Refused {
        environment: env.name.clone(),
        problems,
    };
    Err(partly_changed(
        refused,
        &environments[..i],
        &environments[i..],
        version,
    ))
}

/// Records the release's queries with the environment it reached, so the next deploy can
/// prepare them there (best effort: a failure is a note).
fn record_queries(
    config: &Config,
    env: &crate::config::Environment,
    version: &str,
    queries: &[crate::compat::Query],
    out: &mut dyn Reporter,
) {
    let recorded = crate::runtime::block_on(crate::compat::release::record(
        config, env, version, queries,
    ));
    if let Err(e) = recorded {
        out.note(&format!(
            "the queries of {version} were not recorded in {} (the next deploy cannot check them there): {e}",
            env.name
        ));
    }
}

/// A later environment failed after earlier ones were deployed: the error says which changed,
/// and a refusal there no longer claims (exit 2) that nothing changed.
fn partly_changed(e: Error, changed: &[String], rest: &[String], version: &str) -> Error {
    let note = format!(
        "this run deployed {version} to {} before {} failed; {} did not get it",
        changed.join(", "),
        rest[0],
        rest.join(", ")
    );
    match e {
        Error::Refused { .. } | Error::Usage(_) | Error::Config(_) | Error::Database { .. } => {
            Error::PartlyDeployed {
                message: format!("{e}\n  {note}"),
            }
        }
        Error::DeployRolledBack { message } => Error::DeployRolledBack {
            message: format!("{message}\n  {note}"),
        },
        Error::MigrationFailed { message } => Error::MigrationFailed {
            message: format!("{message}\n  {note}"),
        },
        Error::RollbackFailed { message } => Error::RollbackFailed {
            message: format!("{message}\n  {note}"),
        },
        Error::Interrupted { message } => Error::Interrupted {
            message: format!("{message}\n  {note}"),
        },
        other => Error::PartlyDeployed {
            message: format!("{other}\n  {note}"),
        },
    }
}

async fn deploy_env(
    config: &Config,
    catalog: &Catalog,
    env: &Environment,
    options: &DeployOptions,
    out: &mut dyn Reporter,
) -> Result<Outcome> {
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
        (config, env),
        (Kind::Deploy, &options.version),
        conn.dialect(),
        out,
    );
    let result = gate_then_lock(&mut run, &mut conn, catalog, options, previous_history).await;
    conn.close().await;
    result
}

/// The gate: `runner check` on the migrations this deploy would apply, and a refusal when
/// migrations are pending that it does not apply (unless `--allow-pending`). Returns whether
/// any are pending, and the phase's detail.
async fn gate_phase(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &DeployOptions,
) -> Result<(bool, String)> {
    let env = run.env;
    let t = Instant::now();
    let gate = engine::gate::gate(
        Some(&mut *conn),
        (run.config, env, catalog),
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
    let pending = gate.needed();
    let labels: Vec<String> = gate
        .plan
        .steps
        .iter()
        .take(pending.len())
        .map(|s| s.label())
        .collect();
    let detail = match (pending.len(), options.with_migrations) {
        (_, true) => format!(
            "{} migration(s) to apply, no lint errors",
            gate.pending().len()
        ),
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
                problems: vec![preflight::pending_refusal(env, &labels, options)],
            });
        }
    };
    run.phase(Phase::Gate, Status::Ok, t, detail.clone());
    Ok((!pending.is_empty(), detail))
}

/// Gate, approval and lock: nothing is recorded or touched before the lock is held.
async fn gate_then_lock(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &DeployOptions,
    previous_history: Option<Previous>,
) -> Result<Outcome> {
    let env = run.env;
    // 1. gate: runner check on the migrations this deploy would apply.
    let (any_pending, detail) = gate_phase(run, conn, catalog, options).await?;

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
    let allow_pending = (!options.with_migrations && any_pending).then_some(detail);
    lock::with_lock(
        conn,
        env,
        (options.lock_wait, &command),
        &mut (),
        async |conn, _| {
            run.phase(Phase::Lock, Status::Taken, t, String::new());
            let migrations = (catalog, previous_history.as_ref());
            deploy_with_lock_held(run, conn, migrations, options, allow_pending).await
        },
    )
    .await
}

/// The deploy once the lock is held: `migrations` are the folder and the history of the
/// environment before this one in the pipeline.
async fn deploy_with_lock_held(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (catalog, previous_history): (&Catalog, Option<&Previous>),
    options: &DeployOptions,
    allow_pending: Option<String>,
) -> Result<Outcome> {
    let env = run.env;
    let (entries, previous, routed) = reconcile(run, conn).await?;
    // The intent, before anything is touched: release X replacing Y, by whom.
    let _lease = announce(run, conn, options, previous.as_deref(), allow_pending).await?;
    let mut strategy = AnyStrategy::of(env, routed);
    if let Some(routed) = strategy.routed() {
        // The record of what runs where, in this run's row from its start.
        if let Err(f) = routed.save(run, conn).await {
            return run.fail(conn, RunResult::Failed, Error::Usage(f.why)).await;
        }
    }
    let serving = previous.as_deref().unwrap_or("nothing deployed before");

    // 4. make room: a release kept warm where the new one goes is stopped, so the serving
    // release serves alone and its contract debt may be paid.
    if let Err(failure) = strategy.prepare(run, conn).await {
        let error = Error::Usage(format!(
            "deploying {} to {} stopped before the release: {}; {serving} is still serving",
            options.version, env.name, failure.why,
        ));
        return run.fail(conn, RunResult::Failed, error).await;
    }

    // 5. migrations: expand, before any traffic moves.
    if options.with_migrations {
        let migrations = (catalog, previous_history);
        expand(run, conn, migrations, &entries, previous.as_deref()).await?;
    }
    if crate::runtime::interrupted() {
        let error = Error::Interrupted {
            message: format!(
                "the deploy of {} to {} stopped before the app was touched; {serving} is still serving",
                options.version, env.name,
            ),
        };
        return run.fail(conn, RunResult::Interrupted, error).await;
    }
    let from = previous.clone().unwrap_or_default();
    roll_out(
        run,
        conn,
        &mut strategy,
        (catalog, previous_history),
        (options, &from),
    )
    .await
}

/// Reads what serves (closing what dead runs left), refuses while a canary is paused, and
/// reconciles the router's record. Returns the journal, the release serving, and the
/// router of a routed strategy.
async fn reconcile(
    run: &mut Run<'_>,
    conn: &mut Conn,
) -> Result<(
    Vec<crate::engine::journal::Entry>,
    Option<String>,
    Option<fleet::Routed>,
)> {
    let env = run.env;
    let (entries, serving) = run.reconcile(conn, "runner deploy").await?;
    if let Some(paused) = &serving.paused {
        return Err(Error::Refused {
            environment: env.name.clone(),
            problems: vec![preflight::paused_refusal(paused, env)],
        });
    }
    if let Some(doubt) = &serving.doubt {
        run.out.note(&format!(
            "{doubt}; this deploy replaces it, and if it fails, {} is put back",
            serving
                .release
                .as_deref()
                .unwrap_or("no earlier release (none succeeded)")
        ));
    }
    let routed = if env.strategy().routed() {
        let (routed, note) = fleet::Routed::reconcile(env, &entries, &run.config.root)?;
        if let Some(note) = note {
            run.out.note(&note);
            run.event(conn, "router_reconciled", &note).await;
        }
        Some(routed)
    } else {
        None
    };
    Ok((entries, serving.release, routed))
}

/// Writes the run's intent (release X replacing `previous`, by whom, with which strategy)
/// and its audit events, and starts the lease that keeps it alive while it works.
async fn announce(
    run: &mut Run<'_>,
    conn: &mut Conn,
    options: &DeployOptions,
    previous: Option<&str>,
    allow_pending: Option<String>,
) -> Result<Lease> {
    let (env, config) = (run.env, run.config);
    run.entry.previous_version = previous.map(str::to_string);
    run.entry.strategy = Some(env.strategy().name().to_string());
    run.entry.phase = Some("intent".into());
    run.begin(conn).await?;
    let lease = Lease::start(env, &config.history_prefix, &run.entry.id, config.lease);
    run.event(
        conn,
        "deploy_started",
        &format!(
            "deploy {} (previous {}) with {}",
            options.version,
            previous.unwrap_or("none"),
            env.strategy().name()
        ),
    )
    .await;
    if let Some(detail) = &allow_pending {
        run.event(conn, "deploy_allow_pending", detail).await;
    }
    run.notify("deploy_started", "");
    Ok(lease)
}

/// The expand migrations, before any traffic moves; the contract ones are held while the
/// previous release still runs.
async fn expand(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (catalog, previous_history): (&Catalog, Option<&Previous>),
    entries: &[crate::engine::journal::Entry],
    previous: Option<&str>,
) -> Result<()> {
    let debt = previous
        .map(|p| contract::debt(entries, p))
        .unwrap_or_default();
    let policy = contract::expand_policy(&debt, true);
    let applied = contract::migrate(
        run,
        conn,
        (catalog, previous_history),
        policy,
        Phase::Migrations,
    )
    .await;
    match applied {
        Ok(applied) => {
            run.entry.held = applied.held.iter().map(|(v, _)| *v).collect();
            Ok(())
        }
        Err(e) => {
            let result = match e {
                Error::Interrupted { .. } => RunResult::Interrupted,
                _ => RunResult::Failed,
            };
            run.fail(conn, result, e).await
        }
    }
}

/// Steps 6-8, the strategy: release, check, shift traffic, watch, finish. A failure puts
/// the previous release (`from`) back.
async fn roll_out(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    (catalog, previous_history): (&Catalog, Option<&Previous>),
    (options, from): (&DeployOptions, &str),
) -> Result<Outcome> {
    let to = options.version.clone();
    let mut step = strategy.release(run, conn, &to, from).await;
    if step.is_ok() {
        step = strategy.check(run, conn, &to, from).await;
    }
    let shifted = match step {
        Ok(()) => strategy.shift(run, conn, &to).await,
        Err(f) => Err(f),
    };
    let shifted = match shifted {
        Ok(s) => s,
        Err(failure) => {
            return revert::after_failure(run, conn, strategy, (catalog, options), failure).await;
        }
    };
    if let strategy::Shifted::Paused(percent) = shifted {
        return pause(run, conn, percent).await;
    }
    if let Some(span) = options.watch.or(run.config.watch)
        && let Err(failure) = watch_release(run, conn, strategy, span).await
    {
        return revert::after_failure(run, conn, strategy, (catalog, options), failure).await;
    }
    finish_rollout(run, conn, strategy, catalog, previous_history).await
}
