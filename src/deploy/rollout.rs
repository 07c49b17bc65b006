//! After the new release serves all traffic, the same for `runner deploy` and `runner promote`
//! (a canary's later steps): the watch window, the previous release retired and the contract
//! migrations run (`finish_rollout`), or a canary held at a step (`pause`).

use std::time::{Duration, Instant};

use super::run::{Phase, Run, Status};
use super::strategy::{self, AnyStrategy, Strategy};
use super::{contract, measure, step};
use crate::catalog::Catalog;
use crate::db::Conn;
use crate::engine::journal::RunResult;
use crate::engine::plan::Previous;
use crate::error::Result;
use crate::hints::{self, At};

/// How a deploy to one environment ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The release serves all traffic.
    Deployed,
    /// A canary held at a step: the pipeline waits for `runner promote`.
    Paused,
}

/// The watch window: the new release, serving all traffic, observed for `span` (health of
/// its servers, and its metrics against the thresholds) while the previous one can still
/// take the traffic back.
pub async fn watch_release(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    span: Duration,
) -> std::result::Result<(), step::Failure> {
    let release = run.entry.version.clone();
    let (servers, names) = match strategy.routed() {
        Some(routed) => {
            let names: Vec<String> = routed
                .fleet
                .servers
                .iter()
                .filter(|(_, m)| m.release.as_deref() == Some(&release) && m.want.takes_traffic())
                .map(|(n, _)| n.clone())
                .collect();
            let servers = names
                .iter()
                .filter_map(|n| routed.server(n).cloned())
                .collect();
            (servers, names)
        }
        // One endpoint: its health URL as it is.
        None => (
            vec![crate::config::Server {
                name: run.env.name.clone(),
                address: String::new(),
                slot: None,
            }],
            Vec::new(),
        ),
    };
    let groups = vec![measure::group("release", &release, names)];
    measure::watch(run, conn, groups, &servers, span).await
}

/// After the new release serves all traffic: the previous release retired, the contract
/// migrations run once it is stopped (or held as debt), success recorded.
pub async fn finish_rollout(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    catalog: &Catalog,
    previous_history: Option<&Previous>,
) -> Result<Outcome> {
    let env = run.env;
    let version = run.entry.version.clone();
    let retired = match strategy.retire(run, conn).await {
        Ok(r) => r,
        Err(f) => {
            // The new release serves; only the old one's leaving failed: say so, keep success.
            run.out.note(&format!(
                "{version} serves all traffic, but taking the previous release out failed: {}",
                f.why
            ));
            strategy::Retired {
                stopped: false,
                detail: f.why,
            }
        }
    };
    let held = std::mem::take(&mut run.entry.held);
    if !held.is_empty() {
        if retired.stopped {
            let applied = contract::migrate(
                run,
                conn,
                (catalog, previous_history),
                crate::engine::plan::Contract::Run,
                Phase::Contract,
            )
            .await;
            if let Err(e) = applied {
                let why = format!("the contract migrations failed: {e}");
                run.finish(conn, RunResult::Succeeded, Some(why), "deploy_succeeded")
                    .await;
                return Err(e);
            }
        } else {
            let labels: Vec<(i64, String)> = held
                .iter()
                .map(|v| {
                    let label = catalog
                        .migrations
                        .iter()
                        .find(|m| m.version == *v)
                        .map_or(format!("V{v}"), |m| m.label());
                    (*v, label)
                })
                .collect();
            contract::hold(
                run,
                &labels,
                &format!(
                    "the previous release still runs: {}; `{}` stops it and runs them",
                    retired.detail,
                    hints::promote(At::of(env))
                ),
            );
        }
    }
    if !retired.stopped {
        run.phase(
            Phase::Stop,
            Status::Kept,
            Instant::now(),
            retired.detail.clone(),
        );
    }
    run.finish(conn, RunResult::Succeeded, None, "deploy_succeeded")
        .await;
    let took = run.started.elapsed();
    run.out.success(&env.name, &version, took);
    Ok(Outcome::Deployed)
}

/// A canary held at `percent` until `runner promote` or `runner abort`: the row says so, and
/// the lock is given back.
pub async fn pause(run: &mut Run<'_>, conn: &mut Conn, percent: u32) -> Result<Outcome> {
    let env = run.env;
    run.entry.phase = Some(format!("canary {percent}%"));
    run.phase(
        Phase::Pause,
        Status::Paused,
        Instant::now(),
        format!("canary {percent}%: until `runner promote` or `runner abort`"),
    );
    run.finish(conn, RunResult::Paused, None, "deploy_paused")
        .await;
    run.out.note(&format!(
        "{} serves {percent}% of {} and {} the rest. `{}` takes the next step; `{}` gives all traffic back to {}",
        run.entry.version,
        env.name,
        run.entry.previous_version.as_deref().unwrap_or("the stable release"),
        hints::promote(At::of(env)),
        hints::abort(At::of(env)),
        run.entry.previous_version.as_deref().unwrap_or("the stable release"),
    ));
    Ok(Outcome::Paused)
}
