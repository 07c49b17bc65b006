//! `runner catalog`: the migrations as runner sees them, with their pairing and checksums.

use serde_json::json;

use super::table::Table;
use crate::catalog::{Catalog, Layout, Migration, RollbackStatus};

pub fn human(catalog: &Catalog) -> String {
    if catalog.migrations.is_empty() {
        return String::new();
    }
    let mut table = Table::new([
        "VERSION",
        "NAME",
        "MODE",
        "PHASE",
        "ROLLBACK",
        "SHA256",
        "NORMALIZED",
        if catalog.layout == Layout::Runner {
            "REFINERY"
        } else {
            "FILE"
        },
    ]);
    for m in &catalog.migrations {
        table.row([
            m.version_label(),
            m.name.clone(),
            mode(m).to_string(),
            m.directives().phase.map_or("-", |p| p.name()).to_string(),
            match m.rollback_status() {
                RollbackStatus::Paired => "paired".to_string(),
                RollbackStatus::Irreversible(reason) => format!("irreversible: {reason}"),
                RollbackStatus::Missing => "MISSING".to_string(),
            },
            m.forward.checksums.sha256[..12].to_string(),
            m.forward.checksums.normalized_sha256[..12].to_string(),
            if catalog.layout == Layout::Runner {
                format!("{:016x}", m.refinery_checksum)
            } else {
                m.forward.file_name.clone()
            },
        ]);
    }
    let mut out = table.render();
    let count = |s: fn(&RollbackStatus) -> bool| {
        catalog
            .migrations
            .iter()
            .filter(|m| s(&m.rollback_status()))
            .count()
    };
    let total = catalog.migrations.len();
    if catalog.layout != Layout::Runner {
        out.push_str(&format!(
            "\nread in place in {}'s layout ({})",
            catalog.layout.name(),
            catalog.layout.pattern()
        ));
    }
    out.push_str(&format!(
        "\n{total} migration{}: {} paired, {} irreversible, {} missing a rollback\n",
        if total == 1 { "" } else { "s" },
        count(|s| *s == RollbackStatus::Paired),
        count(|s| matches!(s, RollbackStatus::Irreversible(_))),
        count(|s| *s == RollbackStatus::Missing),
    ));
    out
}

fn mode(m: &Migration) -> &'static str {
    if m.directives().no_transaction {
        "no-transaction"
    } else {
        "transaction"
    }
}

pub fn json(catalog: &Catalog) -> serde_json::Value {
    let migrations: Vec<_> = catalog
        .migrations
        .iter()
        .map(|m| {
            json!({
                "version": m.version,
                "name": m.name,
                "file": m.forward.file_name,
                "tool_id": m.tool_id,
                "mode": mode(m),
                "phase": m.directives().phase,
                "rollback": m.rollback_status(),
                "rollback_file": m.rollback.as_ref().map(|r| &r.file_name),
                "checksums": {
                    "sha256": m.forward.checksums.sha256,
                    "normalized_sha256": m.forward.checksums.normalized_sha256,
                    "refinery": m.refinery_checksum.to_string(),
                },
                "rollback_checksums": m.rollback.as_ref().map(|r| &r.checksums),
            })
        })
        .collect();
    json!({
        "dir": catalog.dir.display().to_string(),
        "layout": catalog.layout,
        "migrations": migrations,
        "problems": catalog.problems,
    })
}

/// The warning for a migration without a rollback, and the two ways to settle it.
pub fn no_rollback(file_name: &str) -> String {
    format!(
        "{file_name} has no rollback: write {} or mark it `-- runner:irreversible <reason>`",
        file_name.replace(".sql", ".down.sql")
    )
}
