//! `runner adopt`: which rows of the other tool's history became which migrations.

use super::table::Table;
use crate::engine::adopt::Outcome;

pub fn human(env: &str, outcome: &Outcome, migrate: &str) -> String {
    let mut out = String::new();
    for (tool, rows) in &outcome.tools {
        out.push_str(&format!(
            "adopt {env}: {} ({}) applied {} migration(s) runner's history does not have\n",
            tool.table(),
            tool.name(),
            rows.len()
        ));
        let mut t = Table::new(["MIGRATION", "FROM"]);
        for (label, from) in rows {
            t.row([label.clone(), from.clone()]);
        }
        for line in t.render().lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    let proven = match outcome.proven {
        0 => String::new(),
        n => format!(", {n} checksum(s) of the tool proven against the files"),
    };
    let already = match outcome.already {
        0 => String::new(),
        n => format!(", {n} already in runner's history"),
    };
    if outcome.adopted() == 0 {
        out.push_str(&format!(
            "nothing to adopt in {env}: runner's history already holds every migration the other tool applied{already}; `{migrate}` applies what is pending\n"
        ));
    } else if outcome.recorded {
        out.push_str(&format!(
            "adopted {} migration(s) into runner's history (mode adopted, audited){proven}{already}; the tool's own table is unchanged. `{migrate}` applies only what is pending\n",
            outcome.adopted()
        ));
    } else {
        out.push_str(&format!(
            "dry run: {} migration(s) would be adopted{proven}{already}; nothing was changed\n",
            outcome.adopted()
        ));
    }
    out
}
