//! `runner status --env E`: the post-deploy dashboard.

use std::time::{Duration, Instant, SystemTime};

use crate::analysis;
use crate::catalog::Catalog;
use crate::cli::{Format, StatusArgs};
use crate::config::Config;
use crate::db::{Conn, lock};
use crate::deploy::checks::ping;
use crate::deploy::health;
use crate::deploy::record::{self, Liveness};
use crate::engine;
use crate::engine::history::{History, HistoryRow, State};
use crate::engine::journal;
use crate::engine::plan::{self, Request};
use crate::error::{ExitCode, Result};
use crate::report::status::{self, CheckItem, HealthNow, ServerNow, StatusView};
use crate::runtime::block_on;

pub fn run(config: &Config, args: &StatusArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    if let Some(until) = args.watch {
        return watch(config, env, &catalog, args, until);
    }
    let view = gather(config, env, &catalog, args.window)?;
    match args.format {
        Format::Json => crate::report::out::json(&status::json(&view)),
        Format::Table => crate::report::out::text(&status::human(&view)),
    }
    Ok(if view.alarming() {
        ExitCode::CheckFailed
    } else {
        ExitCode::Success
    })
}

/// The dashboard refreshed in place until Ctrl-C.
fn watch(
    config: &Config,
    env: &crate::config::Environment,
    catalog: &Catalog,
    args: &StatusArgs,
    until: Option<Duration>,
) -> Result<ExitCode> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || args.format == Format::Json {
        return Err(crate::error::Error::Usage(
            "--watch refreshes a terminal; for a program, run `runner status --format json` on a schedule".into(),
        ));
    }
    crate::runtime::watch_interrupts()?;
    let started = std::time::Instant::now();
    loop {
        let view = gather(config, env, catalog, args.window)?;
        // Home, clear, then the dashboard: one redraw per refresh.
        crate::report::out::redraw(&status::watched(&view));
        if crate::runtime::sleep_unless_interrupted(Duration::from_secs(2), 1)
            || until.is_some_and(|u| started.elapsed() >= u)
        {
            return Ok(ExitCode::Success);
        }
    }
}

fn gather(
    config: &Config,
    env: &crate::config::Environment,
    catalog: &Catalog,
    window: Duration,
) -> Result<StatusView> {
    let mut recorded = recorded(config, env, catalog, None)?;
    let now = live(config, env, &recorded, window);
    now.put(&mut recorded.view);
    Ok(conclude(env, recorded))
}

/// What the environment's database and runner's journal hold: fast (no probe, no metrics).
pub(crate) struct Recorded {
    pub(crate) view: StatusView,
    entries: std::sync::Arc<Vec<crate::engine::journal::Entry>>,
    fleet: Option<crate::deploy::fleet::Fleet>,
}

/// What is measured now: the servers and the router, health probes, the metrics over
/// `window`, the flags' debt (a walk of the code). Slow; the web dashboard samples it in the
/// background while a page is open.
#[derive(Clone, Default)]
pub(crate) struct Live {
    health: Option<HealthNow>,
    servers: Vec<ServerNow>,
    router_note: Option<String>,
    analysis: Option<analysis::Evaluation>,
    analysis_source: Option<String>,
    flag_debt: Vec<String>,
}

impl Live {
    pub(crate) fn put(self, view: &mut StatusView) {
        view.health = self.health;
        view.servers = self.servers;
        view.router_note = self.router_note;
        view.analysis = self.analysis;
        view.analysis_source = self.analysis_source;
        view.flag_debt = self.flag_debt;
    }
}

/// The status of `env` before anything is read: nothing applied, every migration pending.
fn empty_view(env: &crate::config::Environment, catalog: &Catalog) -> StatusView {
    StatusView {
        protected: env.requires_approval,
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
        analysis: None,
        analysis_source: None,
        checklist: Vec::new(),
        flag_debt: Vec::new(),
        servers: Vec::new(),
        router_note: None,
        contract_debt: Vec::new(),
    }
}

/// The contract migrations waiting for the release serving to be the only one, not applied
/// yet, as labels.
fn contract_debt(
    entries: &[journal::Entry],
    serving: &record::Serving,
    rows: &[HistoryRow],
    catalog: &Catalog,
) -> Vec<String> {
    crate::deploy::contract_waiting(entries, serving)
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
                .find(|m| m.version == v)
                .map_or(format!("V{v}"), |m| m.label())
        })
        .collect()
}

/// The recorded part of the status of `env`; with `cached`, the journal is brought up to date
/// there instead of read whole.
pub(crate) fn recorded(
    config: &Config,
    env: &crate::config::Environment,
    catalog: &Catalog,
    cached: Option<&tokio::sync::Mutex<journal::Cached>>,
) -> Result<Recorded> {
    let mut view = empty_view(env, catalog);
    let mut fleet = None;
    let mut entries = std::sync::Arc::default();
    if Conn::exists(&env.database_url.value) {
        block_on(async {
            let mut conn = engine::open(env, "status").await?;
            let history = History::new(&config.history_prefix, conn.dialect());
            entries = match cached {
                Some(cached) => {
                    let mut cached = cached.lock().await;
                    cached.refresh(&mut conn, &history, &env.name).await
                }
                None => journal::entries(&mut conn, &history, &env.name)
                    .await
                    .map(std::sync::Arc::new),
            }
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
                (catalog, &rows),
                conn.dialect(),
                &Request::default(),
                crate::hints::At::of(env),
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
                        .any(|r| r.version == s.migration.version)
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
            view.contract_debt = contract_debt(&entries, &view.serving, &rows, catalog);
            fleet = crate::deploy::fleet::Fleet::recorded(&entries);
            view.last = entries.first().cloned();
            conn.close().await;
            Ok::<_, crate::error::Error>(())
        })?;
    }
    Ok(Recorded {
        view,
        entries,
        fleet,
    })
}

/// The measured part of the status of `env`, for what `recorded` found.
pub(crate) fn live(
    config: &Config,
    env: &crate::config::Environment,
    recorded: &Recorded,
    window: Duration,
) -> Live {
    let mut now = Live::default();
    let fleet = recorded.fleet.as_ref();
    let serving = &recorded.view.serving;
    let probe_now = |url: &str| {
        let t = Instant::now();
        let probe = health::probe(url, None, Duration::from_secs(5));
        HealthNow {
            probe,
            latency_ms: t.elapsed().as_millis() as u64,
        }
    };
    if env.strategy().routed() {
        servers(env, fleet, &mut now, &probe_now);
    } else {
        now.health = env.health.as_ref().map(|h| probe_now(&h.url));
    }
    if let Some(metrics) = &env.metrics {
        let groups = crate::deploy::analysis_groups(env, serving, fleet);
        if groups.is_empty() {
            now.analysis_source = Some("nothing serves yet: no metrics to read".into());
        } else {
            let window = match metrics.source {
                crate::config::MetricsSource::Prometheus { .. } => metrics.window,
                _ => window,
            };
            let open = analysis::Window::open(env, metrics, groups);
            if !matches!(
                metrics.source,
                crate::config::MetricsSource::Prometheus { .. }
            ) {
                std::thread::sleep(window);
            }
            let evaluation = open.close();
            now.analysis_source = evaluation.measurements.first().map(|m| m.source.clone());
            now.analysis = Some(evaluation);
        }
    }
    now.flag_debt = crate::flags::debt::stale(config)
        .into_iter()
        .map(|(key, age)| {
            format!(
                "{key} has been at 100 % everywhere for {} days: remove its reads, then `{}`",
                age.as_secs() / 86_400,
                crate::flags::debt::remove_command(config, &key)
            )
        })
        .chain(
            crate::flags::debt::unknown_in_code(config)
                .into_iter()
                .map(|r| {
                    format!(
                        "the code reads flag {}, which no flag file defines ({r})",
                        r.key
                    )
                }),
        )
        .collect();
    now
}

/// The status of `env`: what was recorded, what was measured, and the checklist of both.
pub(crate) fn conclude(env: &crate::config::Environment, recorded: Recorded) -> StatusView {
    let mut view = recorded.view;
    view.checklist = checklist(env, &view, &recorded.entries);
    view
}

/// The post-deploy checklist of the workflow, each item with its evidence.
fn checklist(
    env: &crate::config::Environment,
    view: &StatusView,
    entries: &[crate::engine::journal::Entry],
) -> Vec<CheckItem> {
    use crate::config::MetricName;
    use crate::engine::journal::{Kind, RunResult};
    let serving = view.serving.release.clone().unwrap_or_default();
    // The deploy that put the serving release in place: its smoke runs and notification.
    let deploy = entries.iter().find(|e| {
        e.kind == Kind::Deploy && e.version == serving && e.result == RunResult::Succeeded
    });
    vec![
        health_item(view),
        measured_item(view, MetricName::ErrorRate, "error rate normal"),
        measured_item(view, MetricName::P99, "response times acceptable"),
        smoke_item(env, deploy, &serving),
        metrics_item(view),
        notified_item(deploy),
    ]
}

fn check_item(item: &str, verdict: analysis::Verdict, evidence: String) -> CheckItem {
    CheckItem {
        item: item.into(),
        verdict,
        evidence,
    }
}

/// Every server taking traffic (or the one endpoint) healthy now.
fn health_item(view: &StatusView) -> CheckItem {
    use analysis::Verdict;
    let probes: Vec<&HealthNow> = view
        .health
        .iter()
        .chain(
            view.servers
                .iter()
                .filter(|s| s.router.is_some_and(|r| r.weight > 0))
                .filter_map(|s| s.health.as_ref()),
        )
        .collect();
    if probes.is_empty() {
        return check_item(
            "health passing",
            Verdict::Off,
            "no health check configured".into(),
        );
    }
    let healthy = probes
        .iter()
        .filter(|p| matches!(p.probe, health::Probe::Pass))
        .count();
    let verdict = if healthy == probes.len() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    check_item(
        "health passing",
        verdict,
        format!(
            "{healthy} of {} server(s) taking traffic healthy now",
            probes.len()
        ),
    )
}

/// One metric's verdict now: the worst of the groups (a canary's before the stable's when
/// they tie).
fn measured_item(view: &StatusView, name: crate::config::MetricName, label: &str) -> CheckItem {
    use analysis::Verdict;
    let found: Vec<&analysis::Measurement> = view
        .analysis
        .iter()
        .flat_map(|a| a.measurements.iter())
        .filter(|m| m.metric == name)
        .collect();
    let rank = |v: Verdict| match v {
        Verdict::Fail => 4,
        Verdict::Error => 3,
        Verdict::Inconclusive => 2,
        Verdict::Pass => 1,
        Verdict::Off => 0,
    };
    match found.iter().rev().max_by_key(|m| rank(m.verdict)) {
        Some(m) => check_item(label, m.verdict, m.why.clone()),
        None => check_item(label, Verdict::Off, "no metrics configured".into()),
    }
}

/// The smoke runs recorded in the deploy of the serving release.
fn smoke_item(
    env: &crate::config::Environment,
    deploy: Option<&crate::engine::journal::Entry>,
    serving: &str,
) -> CheckItem {
    use analysis::Verdict;
    let smoke: Vec<&crate::engine::journal::PhaseRecord> = deploy
        .map(|d| d.phases.iter().filter(|p| p.phase == "smoke").collect())
        .unwrap_or_default();
    let label = "smoke tests (key flows)";
    match (&env.smoke, smoke.is_empty()) {
        (None, _) => check_item(label, Verdict::Off, "no smoke hook configured".into()),
        (Some(_), true) => check_item(
            label,
            Verdict::Inconclusive,
            format!("no smoke run recorded for {serving}"),
        ),
        (Some(_), false) => {
            let ok = smoke.iter().all(|p| p.status == "ok");
            check_item(
                label,
                if ok { Verdict::Pass } else { Verdict::Fail },
                format!(
                    "{} smoke run(s) {} in the deploy of {serving}",
                    smoke.len(),
                    if ok { "passed" } else { "FAILED" }
                ),
            )
        }
    }
}

/// The last analysis: how many measurements are within their thresholds.
fn metrics_item(view: &StatusView) -> CheckItem {
    use analysis::Verdict;
    let Some(a) = &view.analysis else {
        return check_item(
            "metrics green",
            Verdict::Off,
            "no metrics configured".into(),
        );
    };
    let judged: Vec<_> = a
        .measurements
        .iter()
        .filter(|m| m.verdict != Verdict::Off)
        .collect();
    let passed = judged.iter().filter(|m| m.verdict == Verdict::Pass).count();
    check_item(
        "metrics green",
        a.verdict,
        format!(
            "{passed} of {} measurement(s) within their thresholds",
            judged.len()
        ),
    )
}

/// Whether the deploy of the serving release told the on-call.
fn notified_item(deploy: Option<&crate::engine::journal::Entry>) -> CheckItem {
    use analysis::Verdict;
    let notified = deploy.and_then(|d| d.phases.iter().rev().find(|p| p.phase == "notify"));
    match notified {
        Some(p) if p.status == "ok" => {
            check_item("on-call notified", Verdict::Pass, p.detail.clone())
        }
        Some(p) => check_item("on-call notified", Verdict::Fail, p.detail.clone()),
        None => check_item(
            "on-call notified",
            Verdict::Fail,
            "no notification recorded ([notify] webhooks in runner.toml)".into(),
        ),
    }
}

/// The servers of a routed environment: runner's record, the router now, each one's health.
fn servers(
    env: &crate::config::Environment,
    fleet: Option<&crate::deploy::fleet::Fleet>,
    view: &mut Live,
    probe_now: &dyn Fn(&str) -> HealthNow,
) {
    let seen = env.rollout.router.as_ref().map(|r| {
        let mut router = crate::deploy::router::open(r, &env.rollout.servers);
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
            // Servers taking traffic, and those keeping a release warm; not an idle one.
            health: env
                .health
                .as_ref()
                .filter(|_| {
                    member.is_some_and(|m| {
                        m.want.takes_traffic() || (m.release.is_some() && !m.stopped)
                    })
                })
                .map(|h| probe_now(&crate::deploy::checks::server_url(&h.url, s))),
        });
    }
}
