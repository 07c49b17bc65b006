//! `runner status`: what serves an environment (or that it is in doubt), the last run, health
//! now, the database, the migrations (every unfinished one named), the lock and the metrics.

use serde::Serialize;
use serde_json::json;

use crate::db::lock::Holder;
use crate::deploy::health::Probe;
use crate::deploy::record::Serving;
use crate::engine::history::{HistoryRow, State};
use crate::engine::journal::Entry;

/// Everything `runner status` shows, gathered by the command.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub environment: String,
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
    pub metrics: Option<Vec<MetricNow>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthNow {
    #[serde(skip)]
    pub probe: Probe,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricNow {
    pub threshold: String,
    pub value: Option<f64>,
    pub alert: bool,
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

fn health_json(h: &HealthNow) -> serde_json::Value {
    let (result, detail) = match &h.probe {
        Probe::Pass => ("healthy", String::new()),
        Probe::Fail(why) => ("unhealthy", why.clone()),
        Probe::NotYet(why) => ("no answer", why.clone()),
    };
    json!({"result": result, "detail": detail, "latency_ms": h.latency_ms})
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
        "metrics": view.metrics,
    })
}

pub fn human(view: &StatusView) -> String {
    let mut out = format!("{} ({})\n", view.environment, view.database);
    let s = &view.serving;
    let previous = s.rollback_target.as_deref().unwrap_or("none");
    match (&s.doubt, &s.release) {
        (Some(doubt), last) => {
            out.push_str(&format!("  version:     IN DOUBT: {doubt}\n"));
            out.push_str(&format!(
                "               last release that succeeded: {}; `runner rollback --env {}` puts it back\n",
                last.as_deref().unwrap_or("none"),
                view.environment
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
        None => out.push_str("  health now:  no health check configured\n"),
    }
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
    if let Some(metrics) = &view.metrics {
        out.push_str("  metrics:\n");
        for m in metrics {
            out.push_str(&format!(
                "    {:<20} {:<8} {}\n",
                m.threshold,
                m.value.map_or("n/a".into(), |v| format!("{v}")),
                if m.alert { "ALERT" } else { "ok" }
            ));
        }
    }
    out
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

    fn view() -> StatusView {
        StatusView {
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
            metrics: Some(vec![MetricNow {
                threshold: "error rate > 1 %".into(),
                value: Some(0.001),
                alert: false,
            }]),
        }
    }

    #[test]
    fn status_human() {
        insta::assert_snapshot!(human(&view()));
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
}
