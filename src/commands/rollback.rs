//! `runner rollback --env E --to VERSION | --steps N`: undo applied migrations.

use crate::catalog::Catalog;
use crate::cli::{ProgressFormat, RollbackArgs};
use crate::config::Config;
use crate::db::Limits;
use crate::deploy::app_rollback::{AppRollbackOptions, app_rollback};
use crate::deploy::approval::{confirm, require};
use crate::engine::rollback::{self, RollbackOptions, Target};
use crate::error::{Error, ExitCode, Result};
use crate::report::deploy::DeployOutput;
use crate::report::progress::Style;
use crate::report::rollback::RollbackOutput;

use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, args: &RollbackArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let target = match (args.to, args.steps) {
        (Some(v), _) => Target::To(v),
        (None, Some(n)) => Target::Steps(n),
        // --use-file is about rollback scripts: it never means the application.
        (None, None) if args.use_file => {
            return Err(Error::Usage(format!(
                "--use-file runs .down.sql files: say how far with --to VERSION or --steps N, e.g. `runner rollback --env {} --steps 1 --use-file`; without them, runner rollback puts the application back",
                env.name
            )));
        }
        (None, None) => return app(config, env, &catalog, args),
    };
    let approved_by = match args.dry_run {
        true => None,
        false => require(env, args.approve, "roll back migrations of")?,
    };
    let options = RollbackOptions {
        target,
        use_file: args.use_file,
        lock_wait: args.lock_wait,
        limits: Limits::of(env),
        run: run_info(&env.name, None),
        approved_by,
    };
    if args.dry_run {
        let (undo, stop) = block_on(rollback::preview(config, env, &catalog, &options))?;
        crate::report::out::text(&crate::report::dry_run::migrations_rollback(
            env,
            &undo,
            stop,
            args.approve,
        ));
        return Ok(ExitCode::Success);
    }
    let mut output = RollbackOutput::new(match args.format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    });
    let done = block_on(rollback::rollback(
        config,
        env,
        &catalog,
        &options,
        &mut output,
    ))?;
    output.finished(done, &env.name);
    Ok(ExitCode::Success)
}

/// The application rollback: to --version, or to the release before the current one.
fn app(
    config: &Config,
    env: &crate::config::Environment,
    catalog: &Catalog,
    args: &RollbackArgs,
) -> Result<ExitCode> {
    if args.dry_run {
        let options = AppRollbackOptions {
            version: args.version.clone(),
            force: args.force,
            with_migrations: args.with_migrations,
            lock_wait: args.lock_wait,
            approved_by: None,
        };
        let plan = crate::deploy::app_rollback::preview(config, env, &options)?;
        crate::report::out::text(&crate::report::dry_run::app_rollback(
            env,
            plan.as_ref(),
            args,
        ));
        return Ok(ExitCode::Success);
    }
    let approved_by = require(env, args.approve, "roll back the application of")?;
    if args.force {
        confirm(
            &format!("--force rolls {} back without health checks", env.name),
            args.yes,
        )?;
    }
    let options = AppRollbackOptions {
        version: args.version.clone(),
        force: args.force,
        with_migrations: args.with_migrations,
        lock_wait: args.lock_wait,
        approved_by,
    };
    let mut out = DeployOutput::new(match args.format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    });
    app_rollback(config, env, catalog, &options, &mut out)?;
    Ok(ExitCode::Success)
}
