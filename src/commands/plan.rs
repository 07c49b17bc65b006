//! `runner plan --env E`: what migrate would do, changing nothing.

use crate::catalog::Catalog;
use crate::cli::{Format, PlanArgs};
use crate::config::Config;
use crate::db::{Conn, Limits, lock};
use crate::engine::history::History;
use crate::engine::plan::{Contract, Request};
use crate::engine::{self, version_set};
use crate::engine::{adopt, gate};
use crate::error::{Error, ExitCode, Result};
use crate::hints::At;
use crate::report::plan::{self, PlanView};
use crate::runtime::block_on;

pub fn run(config: &Config, args: &PlanArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let request = Request {
        target: args.target,
        allow_out_of_order: version_set(&args.allow_out_of_order),
        resume: args.resume,
        // As `runner migrate` would: contract migrations wait.
        contract: if args.resume.is_some() {
            Contract::Run
        } else {
            Contract::Hold(Default::default())
        },
    };
    let (mut gate, holder, untaken) = block_on(async {
        let previous = engine::previous_history(config, &env.name, &config.history_prefix).await?;
        // A database that does not exist yet is planned from an empty history, not created.
        let mut conn = match Conn::exists(&env.database_url.value) {
            true => Some(engine::open(env, "plan").await?),
            false => None,
        };
        let gate = gate::gate(
            conn.as_mut(),
            (config, env, &catalog),
            &request,
            previous.as_ref(),
        )
        .await?;
        let holder = match conn.as_mut() {
            Some(conn) => lock::holder(conn, &env.database_url.value).await?,
            None => None,
        };
        // As `runner migrate` would: another tool's history runner's does not hold stops it.
        let untaken = match conn.as_mut() {
            Some(conn) => {
                let history = History::new(&config.history_prefix, conn.dialect());
                let rows = engine::read_rows(conn, &history).await?;
                adopt::untaken(conn, &catalog, &rows, At::of(env))
                    .await
                    .map_err(|e| engine::db("read other tools' history tables", e))?
            }
            None => None,
        };
        if let Some(conn) = conn {
            conn.close().await;
        }
        Ok::<_, Error>((gate, holder, untaken))
    })?;
    gate.plan.problems.extend(untaken);
    let dialect = env.database_url.value.dialect();
    let view = PlanView {
        protected: env.requires_approval,
        environment: &env.name,
        database: env.database_url.value.redacted(),
        lock: crate::db::backend(dialect).lock_description(&Limits::of(env)),
        holder,
        plan: &gate.plan,
        lint: &gate.lint,
    };
    match args.format {
        Format::Json => crate::report::out::json(&plan::json(&view)),
        Format::Table => crate::report::out::text(&plan::human(&view)),
    }
    Ok(if gate.plan.problems.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Usage
    })
}
