//! `runner status --env E`: the post-deploy dashboard.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::catalog::Catalog;
use crate::cli::{Format, StatusArgs};
use crate::config::Config;
use crate::db::{Conn, lock};
use crate::deploy::{health, journal, ping};
use crate::engine;
use crate::engine::history::{History, State};
use crate::engine::plan::{self, Request};
use crate::error::{ExitCode, Result};

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
    let (entries, db_latency, applied, pending, holder, unfinished) = block_on(async {
        if !Conn::exists(&env.database_url.value) {
            return Ok((
                Vec::new(),
                None,
                0,
                catalog.migrations.len(),
                None,
                Vec::new(),
            ));
        }
        let mut conn = engine::open(env, "status").await?;
        let history = History::new(&config.history_prefix, conn.dialect());
        let entries = journal::entries(&mut conn, &history, &env.name)
            .await
            .unwrap_or_default();
        let latency = ping(&mut conn).await.ok();
        let rows = engine::read_rows(&mut conn, &history).await?;
        let applied = rows.iter().filter(|r| r.state == State::Applied).count();
        let unfinished: Vec<_> = rows
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
        let holder = lock::holder(&mut conn, &env.database_url.value)
            .await
            .ok()
            .flatten();
        conn.close().await;
        // A migration that did not finish is not pending: it is shown on its own line.
        let pending = plan
            .steps
            .iter()
            .filter(|s| {
                !unfinished
                    .iter()
                    .any(|r| r.version == i64::from(s.migration.version))
            })
            .count();
        Ok::<_, crate::error::Error>((entries, latency, applied, pending, holder, unfinished))
    })?;
    let current = journal::current_version(&entries);
    let previous = current.and_then(|c| {
        entries
            .iter()
            .filter(|e| e.result == "succeeded" && e.version != c.version)
            .map(|e| e.version.clone())
            .next()
    });
    let last = entries.first();
    let health_now = env.health.as_ref().map(|h| {
        let t = Instant::now();
        let probe = health::probe(&h.url, None, Duration::from_secs(5));
        (probe, t.elapsed())
    });
    let metrics = env.metrics.as_ref().map(|url| read_metrics(url));

    if args.format == Format::Json {
        let doc = json!({
            "environment": env.name,
            "current_version": current.map(|c| &c.version),
            "previous_version": previous,
            "last_deploy": last,
            "health": health_now.as_ref().map(|(p, t)| {
                let (result, detail) = match p {
                    health::Probe::Pass => ("healthy", String::new()),
                    health::Probe::Fail(why) => ("unhealthy", why.clone()),
                    health::Probe::NotYet(why) => ("no answer", why.clone()),
                };
                json!({"result": result, "detail": detail, "latency_ms": t.as_millis() as u64})
            }),
            "database_latency_ms": db_latency.map(|d| d.as_millis() as u64),
            "migrations": {"applied": applied, "pending": pending, "unfinished": unfinished.iter().map(|r| json!({
                "version": r.version, "name": r.name, "state": r.state.name(), "detail": unfinished_detail(r),
            })).collect::<Vec<_>>()},
            "lock_holder": holder,
            "metrics": metrics.as_ref().map(|m| m.iter().map(|(label, value, alert)| json!({"threshold": label, "value": value, "alert": alert})).collect::<Vec<_>>()),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(ExitCode::Success);
    }
    println!("{} ({})", env.name, env.database_url.value.redacted());
    println!(
        "  version:     {} (previous: {})",
        current.map_or("none deployed", |c| c.version.as_str()),
        previous.as_deref().unwrap_or("none")
    );
    if let Some(e) = last {
        println!(
            "  last {}:  {} {} at {} by {}, {}{}",
            e.kind,
            e.version,
            if e.forced {
                format!("{} (forced)", e.result)
            } else {
                e.result.clone()
            },
            e.started_at,
            e.approved_by.as_ref().map_or(e.actor.clone(), |a| format!(
                "{} (approved by {a})",
                e.actor
            )),
            e.duration_ms.map_or("still running".into(), |ms| format!(
                "{:.1} s",
                ms as f64 / 1000.0
            )),
            e.error
                .as_ref()
                .map(|err| format!(" ({err})"))
                .unwrap_or_default()
        );
        let phases: Vec<String> = e
            .phases
            .iter()
            .map(|p| format!("{} {} ms", p.phase, p.duration_ms))
            .collect();
        if !phases.is_empty() {
            println!("  phases:      {}", phases.join(", "));
        }
    }
    match &health_now {
        Some((p, t)) => println!(
            "  health now:  {} ({} ms)",
            match p {
                health::Probe::Pass => "healthy".to_string(),
                health::Probe::Fail(why) => format!("UNHEALTHY: {why}"),
                health::Probe::NotYet(why) => format!("no answer: {why}"),
            },
            t.as_millis()
        ),
        None => println!("  health now:  no health check configured"),
    }
    println!(
        "  database:    {}",
        db_latency.map_or("not reachable or not created yet".into(), |d| format!(
            "{} ms",
            d.as_millis()
        ))
    );
    println!("  migrations:  {applied} applied, {pending} pending");
    for r in &unfinished {
        println!(
            "    V{} {}: {} ({})",
            r.version,
            r.name,
            r.state,
            unfinished_detail(r)
        );
    }
    println!(
        "  lock:        {}",
        holder.map_or("free".into(), |h| format!("held by {h}"))
    );
    if let Some(metrics) = metrics {
        println!("  metrics:");
        for (label, value, alert) in metrics {
            println!(
                "    {:<20} {:<8} {}",
                label,
                value.map_or("n/a".into(), |v| format!("{v}")),
                if alert { "ALERT" } else { "ok" }
            );
        }
    }
    Ok(ExitCode::Success)
}

/// What a migration left in a non-final state has done so far.
fn unfinished_detail(r: &crate::engine::history::HistoryRow) -> String {
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

/// Each threshold with the metric's value and whether it is crossed.
fn read_metrics(url: &str) -> Vec<(&'static str, Option<f64>, bool)> {
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
            (*label, value, value.is_some_and(|v| v > *threshold))
        })
        .collect()
}
