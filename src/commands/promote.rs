//! `runner promote --env E` and `runner abort --env E`: finish or give up a rollout that
//! waits (a paused canary, a previous release kept running).

use crate::catalog::Catalog;
use crate::cli::{AbortArgs, ProgressFormat, PromoteArgs};
use crate::config::Config;
use crate::deploy::approval::require;
use crate::deploy::promote::{self, PromoteOptions};
use crate::error::{ExitCode, Result};
use crate::report::deploy::DeployOutput;
use crate::report::progress::Style;

fn output(format: ProgressFormat) -> DeployOutput {
    DeployOutput::new(match format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    })
}

pub fn promote(config: &Config, args: &PromoteArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let approved_by = require(env, args.approve, "promote in")?;
    let options = PromoteOptions {
        full: args.full,
        approved_by,
        lock_wait: args.lock_wait,
    };
    Ok(
        match promote::promote(config, &catalog, env, &options, &mut output(args.format))? {
            crate::deploy::Outcome::Paused => ExitCode::Waiting,
            crate::deploy::Outcome::Deployed => ExitCode::Success,
        },
    )
}

pub fn abort(config: &Config, args: &AbortArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let approved_by = require(env, args.approve, "abort the canary in")?;
    promote::abort(
        config,
        env,
        args.lock_wait,
        approved_by,
        &mut output(args.format),
    )?;
    Ok(ExitCode::Success)
}
