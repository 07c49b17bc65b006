//! `runner status --env E`: the post-deploy dashboard.

use std::time::{Duration, Instant, SystemTime};

use crate::catalog::Catalog;
use crate::cli::{Format, StatusArgs};
use crate::config::Config;
use crate::db::{Conn, lock};
use crate::deploy::checks::ping;
use crate::deploy::health;
use crate::deploy::record::{self, Liveness};
use crate::engine;
use crate::engine::history::{History, State};
use crate::engine::journal;
use crate::engine::plan::{self, Request};
use crate::error::{ExitCode, Result};
use crate::report::status::{self, HealthNow, MetricNow, ServerNow, StatusView};
use crate::runtime::block_on;

/// The seed's alert thresholds: metric name, label, threshold, scale for display.
const THRESHOLDS: &[(&str, &str, f64)] = &[
    ("http_error_rate", "error rate > 1 %", 0.01),
    ("http_request_duration_p99_seconds", "p99 > 500 ms", 0.5),
    ("process_cpu_ratio", "CPU > 80 %", 0.8),
    ("process_memory_ratio", "memory > 85 %", 0.85),
    ("queue_depth", "queue depth > 1000", 1000.0),
];

pub fn run(config: &Config, args: &StatusArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::load(&config.migrations_dir.value)?;
    let mut view = StatusView {
        environment: env.name.clone(),
        database: env.database_url.value.redacted(),
        serving: Default::default(),
        last: None,
        health: None,
        database_latency_ms: None,
        applied: 0,
        pending: catalog.migrations.len(),
        unfinished: Vec::new(),
        lock_holder: None,
        metrics: None,
        servers: Vec::new(),
        router_note: None,
        contract_debt: Vec::new(),
    };
    let mut fleet = None;
    if Conn::exists(&env.database_url.value) {
        block_on(async {
            let mut conn = engine::open(env, "status").await?;
            let history = History::new(&config.history_prefix, conn.dialect());
            let entries = journal::entries(&mut conn, &history, &env.name)
                .await
                .unwrap_or_default();
            view.database_latency_ms = ping(&mut conn).await.ok().map(|d| d.as_millis() as u64);
            let rows = engine::read_rows(&mut conn, &history).await?;
            view.applied = rows.iter().filter(|r| r.state == State::Applied).count();
            view.unfinished = rows
                .iter()
                .filter(|r| !r.state.is_final())
                .cloned()
                .collect();
            let plan = plan::plan(
                &catalog,
                &rows,
                conn.dialect(),
                &Request::default(),
                &env.name,
                None,
            );
            // A migration that did not finish is not pending: it is shown on its own line.
            view.pending = plan
                .steps
                .iter()
                .filter(|s| {
                    !view
                        .unfinished
                        .iter()
                        .any(|r| r.version == i64::from(s.migration.version))
                })
                .count();
            view.lock_holder = lock::holder(&mut conn, &env.database_url.value)
                .await
                .ok()
                .flatten();
            let liveness = match view.lock_holder {
                Some(_) => Liveness::LockHeld,
                None => Liveness::LockFree,
            };
            view.serving = record::serving(&entries, liveness, SystemTime::now());
            {
                view.contract_debt = crate::deploy::contract_waiting(&entries, &view.serving)
                    .into_iter()
                    .filter(|v| {
                        !rows
                            .iter()
                            .any(|r| r.version == *v && r.state == State::Applied)
                    })
                    .map(|v| {
                        catalog
                            .migrations
                            .iter()
                            .find(|m| i64::from(m.version) == v)
                            .map_or(format!("V{v}"), |m| m.label())
                    })
                    .collect();
            }
            fleet = crate::deploy::fleet::Fleet::recorded(&entries);
            view.last = entries.into_iter().next();
            conn.close().await;
            Ok::<_, crate::error::Error>(())
        })?;
    }
    let probe_now = |url: &str| {
        let t = Instant::now();
        let probe = health::probe(url, None, Duration::from_secs(5));
        HealthNow {
            probe,
            latency_ms: t.elapsed().as_millis() as u64,
        }
    };
    if env.strategy().routed() {
        servers(env, fleet.as_ref(), &mut view, &probe_now);
    } else {
        view.health = env.health.as_ref().map(|h| probe_now(&h.url));
    }
    view.metrics = env.metrics.as_ref().map(|url| read_metrics(url));
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status::json(&view)).unwrap_or_default()
        ),
        Format::Table => print!("{}", status::human(&view)),
    }
    Ok(ExitCode::Success)
}

/// The servers of a routed environment: runner's record, the router now, each one's health.
fn servers(
    env: &crate::config::Environment,
    fleet: Option<&crate::deploy::fleet::Fleet>,
    view: &mut StatusView,
    probe_now: &dyn Fn(&str) -> HealthNow,
) {
    let seen = env.rollout.router.as_ref().map(|r| {
        let mut router = crate::deploy::router::open(r);
        router.read().map_err(|e| e.to_string())
    });
    let seen = match seen {
        Some(Ok(seen)) => Some(seen),
        Some(Err(e)) => {
            view.router_note = Some(format!("cannot be read: {e}"));
            None
        }
        None => None,
    };
    if let (Some(fleet), Some(seen)) = (fleet, &seen) {
        let differs = crate::deploy::fleet::drift(fleet, seen);
        if !differs.is_empty() {
            view.router_note = Some(format!(
                "does not hold runner's record for {} (reloaded or changed by hand?); the next deploy, rollback or promote re-applies it",
                differs
                    .iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for s in &env.rollout.servers {
        let member = fleet.and_then(|f| f.servers.get(&s.name));
        view.servers.push(ServerNow {
            name: s.name.clone(),
            slot: s.slot.clone(),
            release: member.and_then(|m| m.release.clone()),
            stopped: member.is_some_and(|m| m.stopped),
            kept_until: member.and_then(|m| m.kept_until.clone()),
            recorded: member.map(|m| m.want),
            router: seen.as_ref().and_then(|x| x.get(&s.name).copied()),
            health: env
                .health
                .as_ref()
                .filter(|_| !member.is_some_and(|m| m.stopped))
                .map(|h| probe_now(&crate::deploy::checks::server_url(&h.url, s))),
        });
    }
}

/// Each threshold with the metric's value and whether it is crossed.
fn read_metrics(url: &str) -> Vec<MetricNow> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let text = agent
        .get(url)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    THRESHOLDS
        .iter()
        .map(|(name, label, threshold)| {
            let value = text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
                let (metric, value) = l.rsplit_once(' ')?;
                (metric.split('{').next() == Some(name))
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            });
            MetricNow {
                threshold: label.to_string(),
                value,
                alert: value.is_some_and(|v| v > *threshold),
            }
        })
        .collect()
}
