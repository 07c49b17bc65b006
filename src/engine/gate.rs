//! The gate before migrations run: what is pending for an environment, and the lint of
//! exactly those files. `runner plan` shows it; `runner deploy` stops on its errors.

use std::collections::HashSet;

use super::history::History;
use super::plan::{self, Plan, Previous, Request};
use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::Conn;
use crate::error::Result;
use crate::lint::{self, Report};

/// The pending migrations of an environment and the lint of their files.
pub struct Gate<'a> {
    pub plan: Plan<'a>,
    pub lint: Report,
}

impl Gate<'_> {
    /// The versions that would be applied.
    pub fn pending(&self) -> Vec<i64> {
        self.plan
            .steps
            .iter()
            .map(|s| s.migration.version)
            .collect()
    }

    /// The pending versions a new release may need: those before the first contract
    /// migration (a contract migration removes what old releases use; no release needs it).
    pub fn needed(&self) -> Vec<i64> {
        self.plan
            .steps
            .iter()
            .take_while(|s| s.migration.directives().phase != Some(crate::catalog::Phase::Contract))
            .map(|s| s.migration.version)
            .collect()
    }
}

/// Plans `request` on the database behind `conn` (without creating runner's tables) and
/// lints the files it would apply. `conn` is `None` for a database that does not exist yet.
pub async fn gate<'a>(
    conn: Option<&mut Conn>,
    (config, env, catalog): (&Config, &Environment, &'a Catalog),
    request: &Request,
    previous: Option<&Previous>,
) -> Result<Gate<'a>> {
    let dialect = env.database_url.value.dialect();
    let rows = match conn {
        Some(conn) => {
            let history = History::new(&config.history_prefix, dialect);
            super::read_rows(conn, &history).await?
        }
        None => Vec::new(),
    };
    let plan = plan::plan(
        (catalog, &rows),
        dialect,
        request,
        crate::hints::At::of(env),
        previous,
    );
    let files: HashSet<String> = plan
        .steps
        .iter()
        .map(|s| s.migration.forward.file_name.clone())
        .collect();
    let options = lint::Options {
        keep_parses: true,
        ..lint::Options::from_config(config, dialect, Some(files))?
    };
    let lint = lint::check_catalog(catalog, &options);
    Ok(Gate { plan, lint })
}
