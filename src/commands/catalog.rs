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
        Format::Table => report::out::text(&report::catalog::human(&catalog)),
        Format::Json => report::out::json(&report::catalog::json(&catalog)),
    }
    for problem in catalog.problems.iter().filter(|p| !p.is_error()) {
        report::out::warning(problem);
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
            report::out::warning(report::catalog::no_rollback(&m.forward.file_name));
        }
    }
    Ok(ExitCode::Success)
}
