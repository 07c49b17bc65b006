//! `runner catalog`: the migrations as runner sees them.

use crate::catalog::{Catalog, RollbackStatus};
use crate::cli::{CatalogArgs, Format};
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};
use crate::report;

pub fn run(config: &Config, args: &CatalogArgs) -> Result<ExitCode> {
    let dir = &config.migrations_dir.value;
    let catalog = Catalog::scan_as(dir, config.layout)?;
    match args.format {
        Format::Table => print!("{}", report::catalog::human(&catalog)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::catalog::json(&catalog)).unwrap_or_default()
        ),
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
