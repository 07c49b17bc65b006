//! `runner history`: the deploy journal, newest first.

use super::table::Table;
use crate::engine::journal::Entry;

pub fn human(environment: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("no deploys recorded for {environment} yet\n");
    }
    let mut table = Table::new([
        "STARTED", "ID", "KIND", "VERSION", "FROM", "RESULT", "DURATION", "BY",
    ]);
    for e in entries {
        table.row([
            e.started_at.clone(),
            e.id.clone(),
            e.kind.name().to_string(),
            e.version.clone(),
            e.previous_version.clone().unwrap_or_else(|| "-".into()),
            if e.forced {
                format!("{} (forced)", e.result)
            } else {
                e.result.name().to_string()
            },
            e.duration_ms
                .map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
            e.approved_by.clone().map_or(e.actor.clone(), |a| {
                format!("{} (approved by {a})", e.actor)
            }),
        ]);
    }
    table.render()
}

/// Evaluation `n` of a run's analysis: its verdict, and each metric's line.
fn analysis(out: &mut String, n: usize, a: &crate::analysis::Evaluation) {
    out.push_str(&format!(
        "  analysis {n} at {} over {:.1} s: {}\n",
        a.at,
        a.window_ms as f64 / 1000.0,
        a.verdict.name()
    ));
    for m in &a.measurements {
        out.push_str(&format!(
            "    {:<13} {:<12} {} {:<6} {}{}\n",
            m.metric.label(),
            format!("{} {}", m.role, m.release),
            m.metric.unit().show(m.value.unwrap_or(f64::NAN)),
            m.verdict.name(),
            m.why,
            if m.query.is_empty() {
                String::new()
            } else {
                format!("  [{}: {}]", m.source, m.query)
            }
        ));
    }
}

/// One run in full (`runner history --show ID`).
pub fn detail(e: &Entry) -> String {
    let mut out = format!(
        "{} {} of {} in {} ({}): {}\n",
        e.id,
        e.kind.name(),
        e.version,
        e.environment,
        e.strategy.as_deref().unwrap_or("all-at-once"),
        e.result
    );
    out.push_str(&format!(
        "  by {}{} at {}{}\n",
        e.actor,
        e.approved_by
            .as_ref()
            .map(|a| format!(" (approved by {a})"))
            .unwrap_or_default(),
        e.started_at,
        e.duration_ms
            .map(|ms| format!(", {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default()
    ));
    if let Some(p) = &e.previous_version {
        out.push_str(&format!("  replacing {p}\n"));
    }
    for p in &e.phases {
        let detail = if p.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", p.detail)
        };
        out.push_str(&format!(
            "  {:<22} {}{detail} ({} ms)\n",
            p.phase, p.status, p.duration_ms
        ));
    }
    if !e.migrations.is_empty() {
        let list: Vec<String> = e.migrations.iter().map(|v| format!("V{v}")).collect();
        out.push_str(&format!("  migrations applied: {}\n", list.join(", ")));
    }
    if !e.held.is_empty() {
        let list: Vec<String> = e.held.iter().map(|v| format!("V{v}")).collect();
        out.push_str(&format!(
            "  contract migrations held: {}\n",
            list.join(", ")
        ));
    }
    for (i, a) in e.analysis.iter().enumerate() {
        analysis(&mut out, i + 1, a);
    }
    if let Some(ms) = e.recovery_ms {
        out.push_str(&format!("  recovered in {ms} ms\n"));
    }
    if let Some(error) = &e.error {
        out.push_str(&format!("  error: {error}\n"));
    }
    if let Some(hooks) = &e.hook_output {
        out.push_str("  hook output (last lines):\n");
        for line in hooks.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}
