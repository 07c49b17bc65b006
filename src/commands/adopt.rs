//! `runner adopt --env E`: take over another tool's history table, with proof.

use crate::catalog::Catalog;
use crate::cli::AdoptArgs;
use crate::config::Config;
use crate::db::{Limits, lock};
use crate::deploy::approval;
use crate::engine::history::History;
use crate::engine::{self, adopt, db};
use crate::error::{ExitCode, Result};
use crate::hints::{self, At};
use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, args: &AdoptArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let approved_by = match args.dry_run {
        true => None,
        false => approval::require(env, args.approve, "adopt")?,
    };
    let mut run = run_info(&env.name, None);
    if let Some(approver) = approved_by.filter(|a| *a != run.actor) {
        run.actor = format!("{} (approved by {approver})", run.actor);
    }
    let outcome = block_on(async {
        let mut conn = engine::open(env, "adopt").await?;
        let command = format!("runner adopt --env {}", env.name);
        let result = lock::with_lock(
            &mut conn,
            env,
            (args.lock_wait, &command),
            &mut (),
            async |conn, _| {
                let history = History::new(&config.history_prefix, conn.dialect());
                if !args.dry_run {
                    history
                        .ensure(conn)
                        .await
                        .map_err(|e| db("create the history tables", e))?;
                }
                let limits = Limits::of(env);
                let write = if args.dry_run {
                    adopt::Write::DryRun
                } else {
                    adopt::Write::Record(&limits)
                };
                adopt::adopt(conn, &history, &run, &catalog, write).await
            },
        )
        .await;
        conn.close().await;
        result
    })?;
    crate::report::out::text(&crate::report::adopt::human(
        &env.name,
        &outcome,
        &hints::migrate(At::of(env)),
    ));
    Ok(ExitCode::Success)
}
