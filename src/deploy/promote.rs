//! `runner promote --env E` and `runner abort --env E`: the end of a rollout that runner left
//! waiting. Promote takes a paused canary to its next step (or, `--full`, to 100 %), retires
//! the stable release and runs the contract migrations; for a release that already serves all
//! traffic, it stops the previous release kept warm (blue-green) and pays the contract debt.
//! Abort gives a paused canary's traffic back to the stable release, drains and stops it.
//! Both work behind the migration lock and are recorded like deploys.

use crate::hints::{self, At};
use std::time::{Duration, Instant};

use super::fleet::Routed;
use super::record::{Lease, Serving};
use super::rollout::{Outcome, finish_rollout, pause, watch_release};
use super::run::{Phase, Reporter, Run, Status};
use super::strategy::{AnyStrategy, Shifted, Strategy};
use super::{DeployOptions, contract, revert};
use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::engine::journal::{self, Entry, Kind, RunResult};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// Straight to 100 %, skipping the steps left.
    pub full: bool,
    /// Who approved, in an environment with requires_approval.
    pub approved_by: Option<String>,
    pub lock_wait: Duration,
}

/// `runner promote`.
pub fn promote(
    config: &Config,
    catalog: &Catalog,
    env: &Environment,
    options: &PromoteOptions,
    out: &mut dyn Reporter,
) -> Result<Outcome> {
    crate::runtime::watch_interrupts()?;
    crate::runtime::block_on(under_lock(
        config,
        env,
        (options.lock_wait, "runner promote"),
        out,
        async |run, conn, entries, serving| match &serving.paused {
            Some(p) => {
                let (id, percent) = (p.deploy_id.clone(), p.percent);
                continue_canary(run, conn, (catalog, entries), (&id, percent), options).await
            }
            None => {
                run.entry.approved_by = options.approved_by.clone();
                retire_kept(run, conn, catalog, entries, serving)
                    .await
                    .map(|()| Outcome::Deployed)
            }
        },
    ))
}

/// `runner abort`.
pub fn abort(
    config: &Config,
    env: &Environment,
    lock_wait: Duration,
    approved_by: Option<String>,
    out: &mut dyn Reporter,
) -> Result<()> {
    crate::runtime::watch_interrupts()?;
    crate::runtime::block_on(under_lock(
        config,
        env,
        (lock_wait, "runner abort"),
        out,
        async |run, conn, entries, serving| {
            run.entry.approved_by = approved_by;
            let Some(p) = &serving.paused else {
                return Err(Error::Usage(format!(
                    "no canary is paused in {}: nothing to abort. A deploy still running stops at Ctrl-C, which puts the previous release back; `{}` puts back an earlier release",
                    run.env.name,
                    hints::rollback(At::of(run.env))
                )));
            };
            let (id, percent) = (p.deploy_id.clone(), p.percent);
            let mut strategy = take_over(run, conn, entries, &id).await?;
            let stable = run.entry.previous_version.clone().unwrap_or_default();
            let canary = run.entry.version.clone();
            if let AnyStrategy::Canary(c) = &mut strategy {
                c.resume(&canary, percent, false).map_err(Error::Usage)?;
            }
            run.out.begin(
                &run.env.name,
                &format!("abort of canary {canary} at {percent}%"),
            );
            let who = run.info.actor.clone();
            match strategy.revert(run, conn, &stable, &canary).await {
                Ok(()) => {
                    let why = format!("aborted by {who} at {percent}%");
                    run.finish(
                        conn,
                        RunResult::RolledBack,
                        Some(why.clone()),
                        "deploy_aborted",
                    )
                    .await;
                    run.out.note(&format!(
                        "{why}: {stable} serves all of {} again",
                        run.env.name
                    ));
                    Ok(())
                }
                Err(f) => {
                    let message = format!(
                        "aborting canary {canary} in {} failed: {}\n  next: `{}` shows what is recorded; `{}` tries again",
                        run.env.name,
                        f.why,
                        hints::status(&run.env.name),
                        hints::rollback_to(At::of(run.env), &stable)
                    );
                    run.finish(
                        conn,
                        RunResult::RollbackFailed,
                        Some(f.why),
                        "deploy_abort_failed",
                    )
                    .await;
                    Err(Error::RollbackFailed { message })
                }
            }
        },
    ))
}

/// Opens the environment, takes the lock, reads the journal and the router, then `work`.
async fn under_lock<T>(
    config: &Config,
    env: &Environment,
    (lock_wait, command): (Duration, &str),
    out: &mut dyn Reporter,
    work: impl AsyncFnOnce(&mut Run<'_>, &mut Conn, &[Entry], &Serving) -> Result<T>,
) -> Result<T> {
    if !env.strategy().routed() {
        return Err(Error::Usage(format!(
            "{command}: {} uses strategy {}, which has no steps to promote or abort (blue-green, canary and rolling do)",
            env.name,
            env.strategy().name()
        )));
    }
    let mut conn = crate::engine::open(env, "promote").await?;
    let mut run = Run::new((config, env), (Kind::Promote, ""), conn.dialect(), out);
    let command_line = format!("{command} --env {}", env.name);
    let result = lock::with_lock(
        &mut conn,
        env,
        (lock_wait, &command_line),
        &mut (),
        async |conn, _| {
            let (entries, serving) = run.reconcile(conn, command).await?;
            work(&mut run, conn, &entries, &serving).await
        },
    )
    .await;
    conn.close().await;
    result
}

/// The paused row taken over (running again, under a lease) and its strategy.
async fn take_over(
    run: &mut Run<'_>,
    conn: &mut Conn,
    entries: &[Entry],
    id: &str,
) -> Result<AnyStrategy> {
    let env = run.env;
    let Some(entry) = entries.iter().find(|e| e.id == id).cloned() else {
        return Err(Error::Usage(format!(
            "the paused deploy {id} is not in the journal"
        )));
    };
    let (routed, note) = Routed::reconcile(env, entries, &run.config.root)?;
    if let Some(note) = note {
        run.out.note(&note);
        run.event(conn, "router_reconciled", &note).await;
    }
    let resumed = journal::resume(conn, &run.history, id)
        .await
        .map_err(|e| crate::engine::db("take over the paused deploy", e))?;
    if !resumed {
        return Err(Error::Usage(format!(
            "the deploy {id} is not paused any more"
        )));
    }
    run.info.deploy_id = entry.id.clone();
    run.info.release = Some(entry.version.clone());
    run.entry = Entry {
        result: RunResult::Running,
        ..entry
    };
    Ok(AnyStrategy::of(env, Some(routed)))
}

async fn continue_canary(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (catalog, entries): (&Catalog, &[Entry]),
    (id, percent): (&str, u32),
    options: &PromoteOptions,
) -> Result<Outcome> {
    let full = options.full;
    let mut strategy = take_over(run, conn, entries, id).await?;
    let _lease = Lease::start(run.env, &run.config.history_prefix, id, run.config.lease);
    let canary = run.entry.version.clone();
    run.out.begin(
        &run.env.name,
        &format!("promote of canary {canary} from {percent}%"),
    );
    let who = options
        .approved_by
        .clone()
        .map_or(run.info.actor.clone(), |a| {
            format!("{} (approved by {a})", run.info.actor)
        });
    run.event(
        conn,
        "deploy_promoted",
        &format!("canary {canary} promoted from {percent}% by {who}"),
    )
    .await;
    if let AnyStrategy::Canary(c) = &mut strategy {
        c.resume(&canary, percent, full).map_err(Error::Usage)?;
    }
    // What a revert after a failure is told of this run: the canary, already approved.
    let options = DeployOptions {
        version: canary.clone(),
        with_migrations: false,
        allow_pending: false,
        approve: true,
        rollback_migrations: false,
        lock_wait: Duration::ZERO,
        watch: None,
    };
    match strategy.shift(run, conn, &canary).await {
        Ok(Shifted::Paused(p)) => pause(run, conn, p).await,
        Ok(Shifted::Done) => {
            if let Some(span) = run.config.watch
                && let Err(failure) = watch_release(run, conn, &mut strategy, span).await
            {
                return revert::after_failure(
                    run,
                    conn,
                    &mut strategy,
                    (catalog, &options),
                    failure,
                )
                .await
                .map(|()| Outcome::Deployed);
            }
            let previous = crate::engine::previous_history(
                run.config,
                &run.env.name,
                &run.config.history_prefix,
            )
            .await?;
            finish_rollout(run, conn, &mut strategy, catalog, previous.as_ref())
                .await
                .map(|_| Outcome::Deployed)
        }
        Err(failure) => {
            revert::after_failure(run, conn, &mut strategy, (catalog, &options), failure)
                .await
                .map(|()| Outcome::Deployed)
        }
    }
}

/// The servers still running an earlier release, kept warm but taking no traffic.
fn kept_warm(routed: &Routed, release: &str) -> Vec<String> {
    routed
        .fleet
        .servers
        .iter()
        .filter(|(_, m)| {
            !m.want.takes_traffic()
                && m.release.is_some()
                && !m.stopped
                && m.release.as_deref() != Some(release)
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// Applies the contract migrations that waited for the release to serve alone.
async fn pay_debt(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    debt: &[i64],
) -> Result<()> {
    let env = run.env;
    let previous =
        crate::engine::previous_history(run.config, &env.name, &run.config.history_prefix).await?;
    let policy = contract::expand_policy(debt, true);
    contract::migrate(
        run,
        conn,
        (catalog, previous.as_ref()),
        policy,
        Phase::Contract,
    )
    .await
    .map(drop)
}

/// A release serving all traffic: the previous release kept warm stopped, the contract debt
/// paid.
async fn retire_kept(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    entries: &[Entry],
    serving: &Serving,
) -> Result<()> {
    let env = run.env;
    let Some(release) = serving.release.clone() else {
        return Err(Error::Usage(format!(
            "nothing has been deployed to {} successfully yet: nothing to promote",
            env.name
        )));
    };
    let (mut routed, note) = Routed::reconcile(env, entries, &run.config.root)?;
    let kept = kept_warm(&routed, &release);
    let debt = contract::debt(entries, &release);
    if kept.is_empty() && debt.is_empty() {
        if let Some(note) = &note {
            run.out.note(note);
        }
        run.out.note(&format!(
            "nothing to promote: {release} serves all of {}, no earlier release is kept running, and no contract migration waits",
            env.name
        ));
        return Ok(());
    }
    run.entry.version = release.clone();
    run.info.release = Some(release.clone());
    run.entry.strategy = Some(env.strategy().name().to_string());
    run.entry.phase = Some("intent".into());
    run.begin(conn).await?;
    let _lease = Lease::start(
        env,
        &run.config.history_prefix,
        &run.entry.id,
        run.config.lease,
    );
    run.out.begin(&env.name, &format!("promote of {release}"));
    if let Some(note) = note {
        run.out.note(&note);
    }
    if let Err(f) = routed.save(run, conn).await {
        return run.fail(conn, RunResult::Failed, Error::Usage(f.why)).await;
    }
    if !kept.is_empty()
        && let Err(f) = routed.stop(run, conn, &kept).await
    {
        let error = Error::Usage(format!("stopping the previous release failed: {}", f.why));
        return run.fail(conn, RunResult::Failed, error).await;
    }
    if !debt.is_empty()
        && let Err(e) = pay_debt(run, conn, catalog, &debt).await
    {
        return run.fail(conn, RunResult::Failed, e).await;
    }
    let t = Instant::now();
    run.phase(
        Phase::Stop,
        Status::Ok,
        t,
        format!("{release} serves alone"),
    );
    run.finish(conn, RunResult::Succeeded, None, "promoted")
        .await;
    run.out.success(&env.name, &release, run.started.elapsed());
    Ok(())
}
