//! `runner catalog`: the migrations as runner sees them.

use serde_json::json;

use crate::catalog::{Catalog, Migration, RollbackStatus};
use crate::cli::{CatalogArgs, Format};
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};
use crate::report::table::Table;

pub fn run(config: &Config, args: &CatalogArgs) -> Result<ExitCode> {
    let dir = &config.migrations_dir.value;
    let catalog = Catalog::scan(dir)?;
    match args.format {
        Format::Table => print_table(&catalog),
        Format::Json => print_json(&catalog),
    }
    for problem in catalog.problems.iter().filter(|p| !p.is_error()) {
        eprintln!("warning: {problem}");
    }
    if catalog.has_errors() {
        return Err(Error::Catalog(crate::catalog::CatalogError::Problems {
            dir: dir.clone(),
            problems: catalog.problems,
        }));
    }
    if catalog.migrations.is_empty() {
        return Err(Error::Catalog(crate::catalog::CatalogError::Dir {
            dir: dir.clone(),
            reason: "holds no migration; create the first with `runner new NAME`".into(),
        }));
    }
    for m in &catalog.migrations {
        if m.rollback_status() == RollbackStatus::Missing {
            eprintln!(
                "warning: {} has no rollback: write {} or mark it `-- runner:irreversible <reason>`",
                m.forward.file_name,
                m.forward.file_name.replace(".sql", ".down.sql")
            );
        }
    }
    Ok(ExitCode::Success)
}

fn print_table(catalog: &Catalog) {
    if catalog.migrations.is_empty() {
        return;
    }
    let mut table = Table::new([
        "VERSION",
        "NAME",
        "MODE",
        "PHASE",
        "ROLLBACK",
        "SHA256",
        "NORMALIZED",
        "REFINERY",
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
            format!("{:016x}", m.refinery_checksum),
        ]);
    }
    print!("{}", table.render());
    let count = |s: fn(&RollbackStatus) -> bool| {
        catalog
            .migrations
            .iter()
            .filter(|m| s(&m.rollback_status()))
            .count()
    };
    let total = catalog.migrations.len();
    println!(
        "\n{total} migration{}: {} paired, {} irreversible, {} missing a rollback",
        if total == 1 { "" } else { "s" },
        count(|s| *s == RollbackStatus::Paired),
        count(|s| matches!(s, RollbackStatus::Irreversible(_))),
        count(|s| *s == RollbackStatus::Missing),
    );
}

fn mode(m: &Migration) -> &'static str {
    if m.directives().no_transaction {
        "no-transaction"
    } else {
        "transaction"
    }
}

fn print_json(catalog: &Catalog) {
    let migrations: Vec<_> = catalog
        .migrations
        .iter()
        .map(|m| {
            json!({
                "version": m.version,
                "name": m.name,
                "file": m.forward.file_name,
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
    let doc = json!({
        "dir": catalog.dir.display().to_string(),
        "migrations": migrations,
        "problems": catalog.problems,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}
