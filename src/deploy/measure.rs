//! The analysis acting on a rollout: which servers each measurement is about, a canary step
//! gated by its metrics (against the thresholds and the stable release), and the watch window
//! after a deploy. Every evaluation goes to the run's journal row (`runner history --show`).

use std::time::{Duration, Instant};

use super::fleet::Fleet;
use super::record::Serving;
use super::run::{Phase, Run, Status};
use super::step::{Failure, enter};
use crate::analysis::{Analysis, Group, Verdict, Window};
use crate::config::{Environment, Metrics};
use crate::db::Conn;

/// The groups `runner status` measures: the serving release (on the servers taking traffic),
/// and a paused canary beside it.
pub fn analysis_groups(env: &Environment, serving: &Serving, fleet: Option<&Fleet>) -> Vec<Group> {
    let release = serving
        .doubt
        .as_ref()
        .map(|d| d.release.clone())
        .or_else(|| serving.release.clone());
    let Some(release) = release else {
        return Vec::new();
    };
    if !env.strategy().routed() {
        return vec![group("release", &release, Vec::new())];
    }
    let on = |r: &str| -> Vec<String> {
        fleet
            .map(|f| {
                f.servers
                    .iter()
                    .filter(|(_, m)| m.release.as_deref() == Some(r) && m.want.takes_traffic())
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    match &serving.paused {
        Some(p) => vec![
            group("canary", &p.release, on(&p.release)),
            group("stable", &release, on(&release)),
        ],
        None => vec![group("release", &release, on(&release))],
    }
}

pub fn group(role: &str, release: &str, servers: Vec<String>) -> Group {
    Group {
        role: role.into(),
        release: release.into(),
        servers,
        variant: None,
    }
}

/// How observing a step or a watch window ended.
pub enum Observed {
    /// Every check passed to the end.
    Passed(String),
    /// Nothing failed, but the metrics never passed (no data, too few requests).
    Inconclusive(String),
}

/// Watches `groups` for `span`: the first group's servers are health-checked directly every
/// interval, and, with metrics, each `window` is an evaluation judged against the limits. A
/// failure (health, or the analysis) ends it as a `Failure` naming the metric, value and
/// threshold.
pub async fn observe(
    run: &mut Run<'_>,
    conn: &mut Conn,
    groups: Vec<Group>,
    servers: &[crate::config::Server],
    (span, label): (Duration, &str),
) -> Result<Observed, Failure> {
    let metrics: Option<Metrics> = run.env.metrics.clone();
    let health = run.env.health.clone();
    let started = Instant::now();
    let mut analysis = Analysis::default();
    let mut window = metrics
        .as_ref()
        .map(|m| Window::open(run.env, m, groups.clone()));
    let mut failures = vec![0u32; servers.len()];
    let mut probes = 0u64;
    let mut last_peek = Instant::now();
    let tick = health
        .as_ref()
        .map_or(Duration::from_millis(250), |h| h.interval);
    loop {
        // Health of each server, directly.
        if let Some(h) = &health {
            let version = &groups[0].release;
            probes += probe_servers(run, h, (servers, &mut failures), version, label)?;
        }
        let done = started.elapsed() >= span;
        // Between the ends of windows, a look once a second: decisive evidence fails the window
        // early (`analysis::sequential`); a pass needs the whole window.
        if let Some(w) = &window
            && !done
            && w.elapsed() >= Duration::from_secs(1)
            && last_peek.elapsed() >= Duration::from_secs(1)
        {
            last_peek = Instant::now();
            peek(run, conn, w, label).await?;
        }
        // An evaluation at the end of each window, and at the end of the span.
        if let (Some(m), Some(w)) = (&metrics, &window)
            && (w.elapsed() >= m.window || (done && w.elapsed() >= Duration::from_secs(1)))
        {
            let Some(w) = window.take() else { break };
            let evaluation = w.close();
            let summary = evaluation.summary();
            run.entry.analysis.push(evaluation.clone());
            run.record_progress(conn).await;
            let limit = analysis.add(m, evaluation);
            if let Some(verdict) = limit {
                let why = match verdict {
                    Verdict::Fail => format!(
                        "the analysis failed during {label}: {}",
                        failures_of(&analysis)
                    ),
                    _ => format!("the metrics could not be read during {label}: {summary}"),
                };
                return Err(breach(run, conn, why).await);
            }
            if !done {
                window = Some(Window::open(run.env, m, groups.clone()));
            }
        }
        if done {
            break;
        }
        let left = span.saturating_sub(started.elapsed());
        if crate::runtime::sleep_unless_interrupted(
            tick.min(left).max(Duration::from_millis(10)),
            1,
        ) {
            return Err(Failure::interrupted(format!("interrupted during {label}")));
        }
    }
    let health_note = if health.is_some() {
        format!("{probes} health checks passed")
    } else {
        "no health check configured".to_string()
    };
    Ok(observed(&health_note, metrics.as_ref(), &analysis))
}

/// A look into the open window: decisive evidence fails it before its end.
async fn peek(run: &mut Run<'_>, conn: &mut Conn, w: &Window, label: &str) -> Result<(), Failure> {
    let Some(evaluation) = w.peek() else {
        return Ok(());
    };
    let why = format!(
        "the analysis failed during {label}, before the window's end: {}",
        evaluation.failures().join("; ")
    );
    run.entry.analysis.push(evaluation);
    Err(breach(run, conn, why).await)
}

/// A breach of the metrics: recorded as an event, the on-call told, the step failed.
async fn breach(run: &mut Run<'_>, conn: &mut Conn, why: String) -> Failure {
    run.event(conn, "metric_breach", &why).await;
    run.notify("metric_breach", &why);
    Failure::new(why)
}

/// One health check of each server; a server failing `unhealthy_after` checks in a row fails
/// the step. `failures` counts each server's failures in a row. Returns the checks made.
fn probe_servers(
    run: &mut Run<'_>,
    h: &crate::config::Health,
    (servers, failures): (&[crate::config::Server], &mut [u32]),
    version: &str,
    label: &str,
) -> Result<u64, Failure> {
    for (i, server) in servers.iter().enumerate() {
        let url = super::checks::server_url(&h.url, server);
        let p = super::health::probe(&url, Some(version), h.interval.max(Duration::from_secs(1)));
        if p == super::health::Probe::Pass {
            failures[i] = 0;
            continue;
        }
        run.out.probe(&p);
        failures[i] += 1;
        if failures[i] >= h.unhealthy_after {
            return Err(Failure::new(format!(
                "{version} on {} failed its health checks during {label}: {p:?}",
                server.name
            )));
        }
    }
    Ok(servers.len() as u64)
}

/// How a span that no check failed ended: passed when the metrics passed (or none are
/// configured), inconclusive otherwise.
fn observed(health_note: &str, metrics: Option<&Metrics>, analysis: &Analysis) -> Observed {
    match metrics {
        None => Observed::Passed(format!("{health_note}; no metrics configured")),
        Some(m) => match analysis.verdict(m) {
            Verdict::Pass => Observed::Passed(format!(
                "{health_note}; metrics {}",
                analysis.last().map(|e| e.summary()).unwrap_or_default()
            )),
            _ => Observed::Inconclusive(format!(
                "{health_note}; metrics {}",
                analysis
                    .last()
                    .map(|e| e.summary())
                    .unwrap_or_else(|| "not evaluated: the span was shorter than a second".into())
            )),
        },
    }
}

fn failures_of(a: &Analysis) -> String {
    a.evaluations
        .iter()
        .rev()
        .find(|e| e.verdict == Verdict::Fail)
        .map(|e| e.failures().join("; "))
        .unwrap_or_default()
}

/// The watch window after a deploy reached all traffic: the new release observed for `span`;
/// a breach is a failure (the previous release is put back).
pub async fn watch(
    run: &mut Run<'_>,
    conn: &mut Conn,
    groups: Vec<Group>,
    servers: &[crate::config::Server],
    span: Duration,
) -> Result<(), Failure> {
    let t = enter(run, conn, Phase::Watch).await?;
    let label = format!("the {} watch", humantime::format_duration(span));
    match observe(run, conn, groups, servers, (span, &label)).await {
        Ok(Observed::Passed(detail)) => {
            run.phase(Phase::Watch, Status::Ok, t, detail);
            Ok(())
        }
        Ok(Observed::Inconclusive(detail)) => {
            // Nothing breached; the record says the metrics never passed.
            run.phase(Phase::Watch, Status::Inconclusive, t, detail);
            Ok(())
        }
        Err(f) => {
            let status = if f.interrupted {
                Status::Interrupted
            } else {
                Status::Failed
            };
            run.phase(Phase::Watch, status, t, f.why.clone());
            Err(f)
        }
    }
}
