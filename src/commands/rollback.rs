//! `runner rollback --env E --to VERSION | --steps N`: undo applied migrations.

use std::time::Duration;

use crate::catalog::Catalog;
use crate::cli::{ProgressFormat, RollbackArgs};
use crate::config::Config;
use crate::db::DbError;
use crate::db::Limits;
use crate::deploy::app_rollback::{AppRollbackOptions, app_rollback};
use crate::deploy::approval::{approve, approver, confirm};
use crate::engine::rollback::{self, RollbackOptions, RollbackReporter, Target};
use crate::error::{ExitCode, Result};
use crate::report::deploy::DeployOutput;
use crate::report::progress::Style;

use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, args: &RollbackArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::load(&config.migrations_dir.value)?;
    let target = match (args.to, args.steps) {
        (Some(v), _) => Target::To(v),
        (None, Some(n)) => Target::Steps(n),
        (None, None) => return app(config, env, &catalog, args),
    };
    approve(env, args.approve, "roll back migrations of")?;
    let options = RollbackOptions {
        target,
        use_file: args.use_file,
        lock_wait: args.lock_wait,
        limits: Limits::of(env),
        run: run_info(&env.name, None),
        approved_by: env
            .requires_approval
            .then(|| approver(&run_info(&env.name, None).actor)),
    };
    let mut output = Output {
        json: args.format == ProgressFormat::Json,
    };
    let done = block_on(rollback::rollback(
        config,
        env,
        &catalog,
        &options,
        &mut output,
    ))?;
    if !output.json {
        println!(
            "{done} migration{} rolled back in {}",
            if done == 1 { "" } else { "s" },
            env.name
        );
    }
    Ok(ExitCode::Success)
}

/// The application rollback: to --version, or to the release before the current one.
fn app(
    config: &Config,
    env: &crate::config::Environment,
    catalog: &Catalog,
    args: &RollbackArgs,
) -> Result<ExitCode> {
    approve(env, args.approve, "roll back the application of")?;
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
        approved_by: env
            .requires_approval
            .then(|| approver(&run_info(&env.name, None).actor)),
    };
    let mut out = DeployOutput::new(match args.format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    });
    app_rollback(config, env, catalog, &options, &mut out)?;
    Ok(ExitCode::Success)
}

struct Output {
    json: bool,
}

impl RollbackReporter for Output {
    fn file_differs(&mut self, label: &str, diff: &str) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"event": "rollback_file_differs", "migration": label, "diff": diff})
            );
        } else {
            eprintln!(
                "note: the rollback of {label} on disk differs from the one stored when it was applied; running the file:\n{diff}"
            );
        }
    }

    fn note(&mut self, message: &str) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"event": "note", "message": message})
            );
        } else {
            eprintln!("note: {message}");
        }
    }

    fn rolled_back(&mut self, label: &str, took: Duration) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"event": "rolled_back", "migration": label, "duration_ms": took.as_millis() as u64})
            );
        } else {
            println!("rolled back {label} ({} ms)", took.as_millis());
        }
    }

    fn retrying(&mut self, label: &str, attempt: u32, delay: Duration, error: &DbError) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"event": "retrying", "migration": label, "attempt": attempt, "delay_ms": delay.as_millis() as u64, "error": error.to_string()})
            );
        } else {
            eprintln!(
                "the rollback of {label} hit a lock timeout ({}); retry {attempt} in {} ms",
                error.message,
                delay.as_millis()
            );
        }
    }
}
