//! `runner deploy [--env E] --version X [--with-migrations]`: the main job.

use crate::catalog::Catalog;
use crate::cli::{DeployArgs, ProgressFormat};
use crate::config::Config;
use crate::deploy::{self, DeployOptions};
use crate::error::{ExitCode, Result};
use crate::report::deploy::DeployOutput;
use crate::report::progress::Style;

pub fn run(config: &Config, args: &DeployArgs) -> Result<ExitCode> {
    let catalog = Catalog::of_config(config)?;
    let environments = match &args.env {
        Some(env) => vec![config.environment(env)?.name.clone()],
        None => {
            for name in &config.pipeline.value {
                config.environment(name)?;
            }
            config.pipeline.value.clone()
        }
    };
    let options = DeployOptions {
        version: args.version.clone(),
        with_migrations: args.with_migrations,
        allow_pending: args.allow_pending,
        approve: args.approve,
        rollback_migrations: args.rollback_migrations,
        lock_wait: args.lock_wait,
        watch: args.watch,
    };
    if args.dry_run {
        let previews = crate::runtime::block_on(deploy::preflight::preview(
            config,
            &catalog,
            &environments,
            &options,
        ))?;
        crate::report::out::text(&crate::report::dry_run::deploy(&options, &previews));
        return Ok(match previews.iter().all(|p| p.problems.is_empty()) {
            true => ExitCode::Success,
            false => ExitCode::Usage,
        });
    }
    let mut out = DeployOutput::new(match args.format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    });
    Ok(
        match deploy::deploy(config, &catalog, &environments, &options, &mut out)? {
            deploy::Outcome::Paused => ExitCode::Waiting,
            deploy::Outcome::Deployed => ExitCode::Success,
        },
    )
}
