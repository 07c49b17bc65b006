//! `runner status`: what serves an environment (or that it is in doubt), the last run, health
//! now, the database, the migrations (every unfinished one named), the lock and the metrics.

use serde::Serialize;
use serde_json::json;

use crate::analysis::{Evaluation, Verdict};
use crate::db::lock::Holder;
use crate::deploy::health::Probe;
use crate::deploy::record::Serving;
use crate::engine::history::{HistoryRow, State};
use crate::engine::journal::Entry;
use crate::hints;

/// Everything `runner status` shows, gathered by the command.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub environment: String,
    /// Changes need `--approve` (the commands it prints carry it).
    #[serde(skip)]
    pub protected: bool,
    /// The database URL, password redacted.
    pub database: String,
    pub serving: Serving,
    pub last: Option<Entry>,
    pub health: Option<HealthNow>,
    pub database_latency_ms: Option<u64>,
    pub applied: usize,
    pub pending: usize,
    #[serde(skip)]
    pub unfinished: Vec<HistoryRow>,
    pub lock_holder: Option<Holder>,
    /// The serving release's measurements now (a canary's and the stable one's when a canary
    /// waits).
    pub analysis: Option<Evaluation>,
    /// Where they were read, and over how long.
    pub analysis_source: Option<String>,
    /// The post-deploy checklist, each item with its evidence.
    pub checklist: Vec<CheckItem>,
    /// Feature flags that are debt: at 100 % everywhere too long, or read by the code but
    /// defined nowhere.
    pub flag_debt: Vec<String>,
    /// The servers of a routed environment: recorded, and as the router has them now.
    pub servers: Vec<ServerNow>,
    /// The router could not be read, or differs from runner's record.
    pub router_note: Option<String>,
    /// Contract migrations waiting for the previous release to stop.
    pub contract_debt: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerNow {
    pub name: String,
    pub slot: Option<String>,
    /// The release runner recorded for it.
    pub release: Option<String>,
    pub stopped: bool,
    pub kept_until: Option<String>,
    /// What runner's record says the router should hold.
    pub recorded: Option<crate::deploy::router::Want>,
    /// What the router holds now.
    pub router: Option<crate::deploy::router::Seen>,
    #[serde(skip)]
    pub health: Option<HealthNow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthNow {
    #[serde(skip)]
    pub probe: Probe,
    pub latency_ms: u64,
}

/// One item of the post-deploy checklist.
#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    pub item: String,
    pub verdict: Verdict,
    pub evidence: String,
}

impl StatusView {
    /// Health fails or a metric breaches its threshold: `runner status` exits 1.
    pub fn alarming(&self) -> bool {
        let health_fails = |h: &HealthNow| !matches!(h.probe, Probe::Pass);
        self.health.as_ref().is_some_and(health_fails)
            || self
                .servers
                .iter()
                .filter(|s| s.router.is_some_and(|r| r.weight > 0))
                .filter_map(|s| s.health.as_ref())
                .any(health_fails)
            || self
                .analysis
                .as_ref()
                .is_some_and(|a| a.measurements.iter().any(|m| m.verdict == Verdict::Fail))
    }
}

/// The mark of a verdict on the dashboard.
fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Inconclusive | Verdict::Error => "?",
        Verdict::Off => "-",
    }
}

/// What a migration left in a non-final state has done so far.
pub fn unfinished_detail(r: &HistoryRow) -> String {
    let mut parts = vec![match r.state {
        State::RollingBack | State::RollbackFailed => format!(
            "{} of {} rollback statements committed",
            r.rollback_done,
            r.rollback_total.map_or("?".into(), |t| t.to_string())
        ),
        _ => format!(
            "{} of {} statements committed",
            r.statements_done, r.statements_total
        ),
    }];
    if let Some(k) = r.in_flight.or(r.rollback_in_flight) {
        parts.push(format!("statement {k} was running when its run stopped"));
    }
    if let Some(message) = &r.error_message {
        parts.push(format!(
            "statement {} failed: {message}",
            r.error_statement.unwrap_or(0)
        ));
    }
    parts.join("; ")
}

fn probe_text(h: &HealthNow) -> String {
    match &h.probe {
        Probe::Pass => "healthy".to_string(),
        Probe::Fail(why) => format!("UNHEALTHY: {why}"),
        Probe::NotYet(why) => format!("no answer: {why}"),
    }
}

/// `green (slot green) 1.1.0  weight 256 ready, 3 in flight  healthy (2 ms)`.
fn server_line(v: &ServerNow) -> String {
    let slot = v
        .slot
        .as_ref()
        .map(|s| format!(" (slot {s})"))
        .unwrap_or_default();
    let mut release = v
        .release
        .clone()
        .unwrap_or_else(|| "release unknown".into());
    if v.stopped {
        release.push_str(" stopped");
    } else if let Some(until) = &v.kept_until {
        release.push_str(&format!(" kept running until {until}"));
    }
    let router = match (&v.router, &v.recorded) {
        (Some(seen), Some(want)) if seen.want() != *want => format!(
            "router {} {}, DIFFERS from runner's record ({want})",
            seen.want(),
            if seen.up { "up" } else { "DOWN" }
        ),
        (Some(seen), _) => format!(
            "{}, {} in flight{}",
            seen.want(),
            seen.sessions,
            if seen.up {
                ""
            } else {
                ", router finds it DOWN"
            }
        ),
        (None, Some(want)) => format!("recorded {want}, router not read"),
        (None, None) => "not in the router".into(),
    };
    let health = v
        .health
        .as_ref()
        .map(|h| format!("  {} ({} ms)", probe_text(h), h.latency_ms))
        .unwrap_or_default();
    format!("{}{slot} {release}  {router}{health}", v.name)
}

fn health_json(h: &HealthNow) -> serde_json::Value {
    let (result, detail) = match &h.probe {
        Probe::Pass => ("healthy", String::new()),
        Probe::Fail(why) => ("unhealthy", why.clone()),
        Probe::NotYet(why) => ("no answer", why.clone()),
    };
    json!({"result": result, "detail": detail, "latency_ms": h.latency_ms})
}

/// `human` as `status --watch` redraws it, with how to stop.
pub fn watched(view: &StatusView) -> String {
    format!("{}\n(refreshing; Ctrl-C stops)\n", human(view))
}

pub fn json(view: &StatusView) -> serde_json::Value {
    let s = &view.serving;
    json!({
        "environment": view.environment,
        "current_version": s.release,
        "in_doubt": s.doubt,
        "running": s.running,
        "previous_version": s.rollback_target,
        "last_deploy": view.last,
        "health": view.health.as_ref().map(health_json),
        "database_latency_ms": view.database_latency_ms,
        "migrations": {"applied": view.applied, "pending": view.pending, "unfinished": view.unfinished.iter().map(|r| json!({
            "version": r.version, "name": r.name, "state": r.state.name(), "detail": unfinished_detail(r),
            "row": r,
        })).collect::<Vec<_>>()},
        "lock_holder": view.lock_holder,
        "analysis": view.analysis,
        "analysis_source": view.analysis_source,
        "checklist": view.checklist,
        "flag_debt": view.flag_debt,
        "alarming": view.alarming(),
        "paused": s.paused,
        "servers": view.servers.iter().map(|v| {
            let mut server = serde_json::to_value(v).unwrap_or_default();
            if let Some(h) = &v.health {
                server["health"] = health_json(h);
            }
            server
        }).collect::<Vec<_>>(),
        "router_note": view.router_note,
        "contract_debt": view.contract_debt,
    })
}

pub fn human(view: &StatusView) -> String {
    let mut out = format!("{} ({})\n", view.environment, view.database);
    let at = hints::At {
        env: &view.environment,
        protected: view.protected,
    };
    release_lines(&mut out, view, at);
    fleet_lines(&mut out, view, at);
    database_lines(&mut out, view);
    measured_lines(&mut out, view);
    out
}

/// What serves, what runs, the last run and its phases, a paused canary.
fn release_lines(out: &mut String, view: &StatusView, at: hints::At<'_>) {
    let s = &view.serving;
    let previous = s.rollback_target.as_deref().unwrap_or("none");
    match (&s.doubt, &s.release) {
        (Some(doubt), last) => {
            out.push_str(&format!("  version:     IN DOUBT: {doubt}\n"));
            out.push_str(&format!(
                "               last release that succeeded: {}; `{}` puts it back\n",
                last.as_deref().unwrap_or("none"),
                hints::rollback(at)
            ));
        }
        (None, Some(v)) => {
            out.push_str(&format!("  version:     {v} (previous: {previous})\n"));
        }
        (None, None) => out.push_str("  version:     none deployed (previous: none)\n"),
    }
    if let Some(r) = &s.running {
        out.push_str(&format!(
            "  running:     {} of {} by {} ({}), phase {}{}\n",
            r.kind.name(),
            r.release,
            r.actor,
            r.deploy_id,
            r.phase,
            if r.stale {
                "; its lease ran out: it holds the lock but stopped renewing (a hung or lost machine?); `runner lock release --force` ends it"
            } else {
                ""
            }
        ));
    }
    if let Some(e) = &view.last {
        let result = if e.forced {
            format!("{} (forced)", e.result)
        } else {
            e.result.to_string()
        };
        let by = e.approved_by.as_ref().map_or(e.actor.clone(), |a| {
            format!("{} (approved by {a})", e.actor)
        });
        let took = e.duration_ms.map_or("still running".into(), |ms| {
            format!("{:.1} s", ms as f64 / 1000.0)
        });
        let error = e
            .error
            .as_ref()
            .map(|err| format!(" ({err})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  last {}:  {} {result} at {} by {by}, {took}{error}\n",
            e.kind.name(),
            e.version,
            e.started_at
        ));
        let phases: Vec<String> = e
            .phases
            .iter()
            .map(|p| format!("{} {} ms", p.phase, p.duration_ms))
            .collect();
        if !phases.is_empty() {
            out.push_str(&format!("  phases:      {}\n", phases.join(", ")));
        }
    }
    if let Some(p) = &s.paused {
        out.push_str(&format!(
            "  canary:      {} PAUSED at {}% (deploy {} by {}); `{}` goes on, `{}` gives the traffic back\n",
            p.release,
            p.percent,
            p.deploy_id,
            p.actor,
            hints::promote(at),
            hints::abort(at)
        ));
    }
}

/// The servers, the router, contract migrations waiting, the health check now.
fn fleet_lines(out: &mut String, view: &StatusView, at: hints::At<'_>) {
    if !view.servers.is_empty() {
        out.push_str("  servers:\n");
        for v in &view.servers {
            out.push_str(&format!("    {}\n", server_line(v)));
        }
    }
    if let Some(note) = &view.router_note {
        out.push_str(&format!("  router:      {note}\n"));
    }
    if !view.contract_debt.is_empty() {
        out.push_str(&format!(
            "  contract debt: {} wait for the previous release to stop; `{}` stops it and runs them\n",
            view.contract_debt.join(", "),
            hints::promote(at)
        ));
    }
    match &view.health {
        Some(h) => out.push_str(&format!(
            "  health now:  {} ({} ms)\n",
            match &h.probe {
                Probe::Pass => "healthy".to_string(),
                Probe::Fail(why) => format!("UNHEALTHY: {why}"),
                Probe::NotYet(why) => format!("no answer: {why}"),
            },
            h.latency_ms
        )),
        None if !view.servers.is_empty() => {}
        None => out.push_str("  health now:  no health check configured\n"),
    }
}

/// The database: its latency, the migrations, those unfinished, the lock.
fn database_lines(out: &mut String, view: &StatusView) {
    out.push_str(&format!(
        "  database:    {}\n",
        view.database_latency_ms
            .map_or("not reachable or not created yet".into(), |ms| format!(
                "{ms} ms"
            ))
    ));
    out.push_str(&format!(
        "  migrations:  {} applied, {} pending\n",
        view.applied, view.pending
    ));
    for r in &view.unfinished {
        out.push_str(&format!(
            "    V{} {}: {} ({})\n",
            r.version,
            r.name,
            r.state,
            unfinished_detail(r)
        ));
    }
    out.push_str(&format!(
        "  lock:        {}\n",
        view.lock_holder
            .as_ref()
            .map_or("free".into(), |h| format!("held by {h}"))
    ));
}

/// The metrics dashboard, the flag debt and the post-deploy checklist.
fn measured_lines(out: &mut String, view: &StatusView) {
    if let Some(a) = &view.analysis {
        out.push_str(&format!(
            "  dashboard ({}, over {:.1} s):\n",
            view.analysis_source.as_deref().unwrap_or("metrics"),
            a.window_ms as f64 / 1000.0
        ));
        for m in &a.measurements {
            let unit = m.metric.unit();
            let value = m.value.map_or("-".to_string(), |v| unit.show(v));
            let threshold = m
                .threshold
                .map_or("off".to_string(), |t| format!("threshold {}", unit.show(t)));
            let role = if a.measurements.iter().any(|x| x.role != m.role) {
                format!(" ({} {})", m.role, m.release)
            } else {
                String::new()
            };
            let why = match m.verdict {
                Verdict::Pass | Verdict::Fail => String::new(),
                _ => format!("  {}", m.why),
            };
            out.push_str(&format!(
                "    {} {:<26} {:>10}  {threshold}{why}\n",
                mark(m.verdict),
                format!("{}{role}", m.metric.label()),
                value
            ));
        }
        for (label, value) in &a.shown {
            out.push_str(&format!("    · {label:<26} {value:>10.0}\n"));
        }
    } else if let Some(source) = &view.analysis_source {
        out.push_str(&format!("  dashboard:   {source}\n"));
    }
    for debt in &view.flag_debt {
        out.push_str(&format!("  flag debt:   {debt}\n"));
    }
    if !view.checklist.is_empty() {
        out.push_str("  post-deploy checklist:\n");
        for c in &view.checklist {
            out.push_str(&format!(
                "    {} {:<28} {}\n",
                mark(c.verdict),
                c.item,
                c.evidence
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::Doubt;
    use crate::engine::history::Mode;
    use crate::engine::journal::{Kind, PhaseRecord, RunResult};

    fn entry() -> Entry {
        let mut e = Entry::begin("18c2-1f", "production", Kind::Deploy, "1.5.0", "ci@build-7");
        e.started_at = "2026-11-30T10:00:00.000Z".into();
        e.result = RunResult::Succeeded;
        e.previous_version = Some("1.4.0".into());
        e.approved_by = Some("alice".into());
        e.duration_ms = Some(1_250);
        e.phases = vec![
            PhaseRecord {
                phase: "gate".into(),
                status: "ok".into(),
                duration_ms: 3,
                detail: String::new(),
            },
            PhaseRecord {
                phase: "deploy".into(),
                status: "ok".into(),
                duration_ms: 120,
                detail: String::new(),
            },
        ];
        e
    }

    fn partial() -> HistoryRow {
        HistoryRow {
            version: 12,
            name: "add_region".into(),
            state: State::FailedPartial,
            mode: Mode::Statement,
            sha256: String::new(),
            normalized_sha256: String::new(),
            refinery_checksum: String::new(),
            applied_sql: String::new(),
            rollback_sql: None,
            statements_total: 3,
            statements_done: 1,
            error_statement: Some(2),
            error_sqlstate: Some("42P01".into()),
            error_message: Some("relation \"regions\" does not exist".into()),
            attempts: 1,
            started_at: String::new(),
            finished_at: None,
            duration_ms: None,
            deploy_id: None,
            environment: "production".into(),
            release: None,
            applied_by: "ci".into(),
            in_flight: None,
            rollback_done: 0,
            rollback_total: None,
            rollback_in_flight: None,
            rollback_target: None,
        }
    }

    fn evaluation() -> Evaluation {
        use crate::analysis::Measurement;
        use crate::config::MetricName;
        let m = |metric: MetricName,
                 value: Option<f64>,
                 threshold: Option<f64>,
                 verdict: Verdict,
                 why: &str| Measurement {
            metric,
            role: "release".into(),
            release: "1.5.0".into(),
            source: "http://127.0.0.1:8081/metrics".into(),
            query: String::new(),
            value,
            threshold,
            verdict,
            why: why.into(),
        };
        Evaluation {
            at: "2026-11-30T10:00:05Z".into(),
            window_ms: 2000,
            verdict: Verdict::Fail,
            measurements: vec![
                m(
                    MetricName::ErrorRate,
                    Some(0.0012),
                    Some(0.01),
                    Verdict::Pass,
                    "",
                ),
                m(
                    MetricName::P99,
                    Some(0.74),
                    Some(0.5),
                    Verdict::Fail,
                    "740 ms > 500 ms threshold",
                ),
                m(MetricName::Cpu, Some(0.031), Some(0.8), Verdict::Pass, ""),
                m(
                    MetricName::Memory,
                    None,
                    Some(0.85),
                    Verdict::Off,
                    "no memory_limit to measure against",
                ),
                m(
                    MetricName::QueueDepth,
                    None,
                    Some(1000.0),
                    Verdict::Inconclusive,
                    "no data",
                ),
            ],
            shown: [("active users (release)".to_string(), 12.0)].into(),
        }
    }

    fn view() -> StatusView {
        StatusView {
            protected: false,
            environment: "production".into(),
            database: "postgres://app:***@db:5432/shop".into(),
            serving: Serving {
                release: Some("1.5.0".into()),
                rollback_target: Some("1.4.0".into()),
                ..Serving::default()
            },
            last: Some(entry()),
            health: Some(HealthNow {
                probe: Probe::Pass,
                latency_ms: 4,
            }),
            database_latency_ms: Some(1),
            applied: 11,
            pending: 2,
            unfinished: vec![partial()],
            lock_holder: None,
            analysis: Some(evaluation()),
            analysis_source: Some("http://127.0.0.1:8081/metrics".into()),
            checklist: vec![
                CheckItem {
                    item: "health passing".into(),
                    verdict: Verdict::Pass,
                    evidence: "healthy (4 ms)".into(),
                },
                CheckItem {
                    item: "error rate normal".into(),
                    verdict: Verdict::Pass,
                    evidence: "0.12 % <= 1 % threshold".into(),
                },
                CheckItem {
                    item: "on-call notified".into(),
                    verdict: Verdict::Fail,
                    evidence: "no [notify] webhook configured".into(),
                },
            ],
            servers: Vec::new(),
            router_note: None,
            contract_debt: Vec::new(),
            flag_debt: Vec::new(),
        }
    }

    #[test]
    fn status_human() {
        insta::assert_snapshot!(human(&view()));
    }

    #[test]
    fn status_json() {
        insta::assert_snapshot!(serde_json::to_string_pretty(&json(&view())).unwrap());
    }

    #[test]
    fn status_human_in_doubt() {
        let mut v = view();
        v.serving.doubt = Some(Doubt {
            release: "1.6.0".into(),
            deploy_id: "18c3-20".into(),
            kind: Kind::Deploy,
            phase: "health".into(),
            result: RunResult::Running,
            why: "killed, or its machine lost".into(),
        });
        v.serving.rollback_target = Some("1.5.0".into());
        v.health = Some(HealthNow {
            probe: Probe::NotYet("connection refused".into()),
            latency_ms: 1,
        });
        v.unfinished.clear();
        insta::assert_snapshot!(human(&v));
    }

    #[test]
    fn status_human_routed_with_a_paused_canary() {
        use crate::deploy::router::{Admin, Seen, Want};
        let mut v = view();
        v.health = None;
        v.serving.paused = Some(crate::deploy::record::Paused {
            release: "1.6.0".into(),
            deploy_id: "18c3-21".into(),
            percent: 25,
            actor: "ci".into(),
        });
        let server = |name: &str, release: &str, weight: u32, seen: u32| ServerNow {
            name: name.into(),
            slot: Some(name.into()),
            release: Some(release.into()),
            stopped: false,
            kept_until: None,
            recorded: Some(Want::ready(weight)),
            router: Some(Seen {
                weight: seen,
                admin: Admin::Ready,
                up: true,
                sessions: 2,
            }),
            health: Some(HealthNow {
                probe: Probe::Pass,
                latency_ms: 3,
            }),
        };
        v.servers = vec![
            server("blue", "1.5.0", 192, 192),
            server("green", "1.6.0", 64, 1),
        ];
        v.router_note = Some("does not hold runner's record for green (reloaded or changed by hand?); the next deploy, rollback or promote re-applies it".into());
        v.contract_debt = vec!["V0012 drop_legacy_total".into()];
        insta::assert_snapshot!(human(&v));
    }
}
