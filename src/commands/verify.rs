//! `runner verify`: prove each rollback on a scratch database.

use std::collections::HashSet;
use std::time::Instant;

use crate::catalog::{Catalog, Version};
use crate::cli::{Format, VerifyArgs};
use crate::config::{Config, DatabaseUrl, Dialect, Source};
use crate::engine::verify::{self, Verified, VerifyProgress};
use crate::error::{Error, ExitCode, Result};
use crate::report::verify::VerifyOutput;

use super::since;
use crate::runtime::block_on;

pub fn run(config: &Config, args: &VerifyArgs) -> Result<ExitCode> {
    let catalog = Catalog::of_config(config)?;
    let server = server_url(config, args.database_url.as_deref(), args.env.as_deref())?;
    let dialect = scratch_dialect(config, server.as_ref())?;
    let mut scope: Option<HashSet<Version>> =
        (!args.versions.is_empty()).then(|| args.versions.iter().copied().collect());
    for v in args.versions.iter() {
        if !catalog.migrations.iter().any(|m| m.version == *v) {
            return Err(Error::Usage(format!(
                "there is no migration with version {v}"
            )));
        }
    }
    if let Some(reference) = &args.since {
        let changed = since::changed_since(&catalog.dir, reference)?;
        let versions: HashSet<Version> = catalog.versions_of(&changed);
        scope = Some(match scope {
            Some(s) => s.intersection(&versions).copied().collect(),
            None => versions,
        });
    }
    let started = Instant::now();
    let mut output = VerifyOutput::new(args.format == Format::Json);
    let results = run_verify(
        dialect,
        server.as_ref(),
        &catalog,
        scope.as_ref(),
        &mut output,
    )?;
    output.finish(&results, args.strict, started.elapsed());
    let failed = results.iter().any(Verified::failed)
        || (args.strict && results.iter().any(|r| !r.lossy.is_empty()));
    Ok(if failed {
        ExitCode::CheckFailed
    } else {
        ExitCode::Success
    })
}

/// The server for a PostgreSQL scratch database: --database-url, else --env's URL.
pub fn server_url(
    config: &Config,
    database_url: Option<&str>,
    env: Option<&str>,
) -> Result<Option<DatabaseUrl>> {
    if let Some(raw) = database_url {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        return DatabaseUrl::parse(raw, &cwd)
            .map(Some)
            .map_err(|why| Error::Usage(format!("--database-url {why}")));
    }
    match env {
        Some(name) => Ok(Some(config.environment(name)?.database_url.value.clone())),
        // One environment: its server is the one to use.
        None if config.environments.len() == 1 && config.unresolved.is_empty() => Ok(config
            .environments
            .values()
            .next()
            .map(|e| e.database_url.value.clone())),
        None => Ok(None),
    }
}

/// The dialect to verify in: the configured one, which the server must speak; when nothing set
/// the dialect, the server's.
fn scratch_dialect(config: &Config, server: Option<&DatabaseUrl>) -> Result<Dialect> {
    let setting = &config.dialect;
    match server {
        Some(url) if url.dialect() != setting.value => {
            if setting.source == Source::Default {
                return Ok(url.dialect());
            }
            let fix = match setting.value {
                Dialect::Sqlite => {
                    "leave out --database-url (SQLite verifies on a scratch file)".to_string()
                }
                other => format!("give a {} server", other.name()),
            };
            Err(Error::Usage(format!(
                "the scratch server is a {} database, but the migrations are {} ({}); \
                 {fix}, or --config for the project these migrations belong to",
                url.dialect().name(),
                setting.value.name(),
                setting.source,
            )))
        }
        _ => Ok(setting.value),
    }
}

/// Verifies on a scratch database, removed whatever happens, Ctrl-C included.
pub fn run_verify(
    dialect: Dialect,
    server: Option<&DatabaseUrl>,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    progress: &mut dyn VerifyProgress,
) -> Result<Vec<Verified>> {
    crate::runtime::watch_interrupts()?;
    block_on(verify::on_scratch(
        dialect, server, catalog, scope, progress,
    ))
}
