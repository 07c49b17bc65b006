//! `runner history`: the deploy journal, newest first.

use super::table::Table;
use crate::engine::journal::Entry;

pub fn human(environment: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("no deploys recorded for {environment} yet\n");
    }
    let mut table = Table::new([
        "STARTED", "KIND", "VERSION", "FROM", "RESULT", "DURATION", "BY",
    ]);
    for e in entries {
        table.row([
            e.started_at.clone(),
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
