//! One module per subcommand: each turns parsed arguments into work and output.

mod catalog;
mod check;
mod config;
mod deploy;
mod explain;
mod history;
mod lock;
mod migrate;
mod new;
mod plan;
mod rollback;
mod since;
mod status;
mod verify;

use crate::cli::{Cli, Command, GlobalOptions};
use crate::config::{Config, Overrides};
use crate::error::{ExitCode, Result};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => {
            let config = if args.paths.is_empty() {
                Some(load_config(&cli.global, None, None)?)
            } else {
                Config::load_optional(&overrides(&cli.global, None, None))?
            };
            check::run(config.as_ref(), &args)
        }
        Command::Explain(args) => explain::run(&args),
        Command::Migrate(args) => {
            let config = load_config(
                &cli.global,
                Some(args.env.env.clone()),
                args.env.database_url.clone(),
            )?;
            migrate::run(&config, &args)
        }
        Command::Plan(args) => {
            let config = load_config(
                &cli.global,
                Some(args.env.env.clone()),
                args.env.database_url.clone(),
            )?;
            plan::run(&config, &args)
        }
        Command::Deploy(args) => {
            let config = load_config(&cli.global, None, None)?;
            deploy::run(&config, &args)
        }
        Command::Status(args) => {
            let config = load_config(
                &cli.global,
                Some(args.env.env.clone()),
                args.env.database_url.clone(),
            )?;
            status::run(&config, &args)
        }
        Command::History(args) => {
            let config = load_config(
                &cli.global,
                Some(args.env.env.clone()),
                args.env.database_url.clone(),
            )?;
            history::run(&config, &args)
        }
        Command::Verify(args) => {
            let config = load_config(&cli.global, None, None)?;
            verify::run(&config, &args)
        }
        Command::Rollback(args) => {
            let config = load_config(
                &cli.global,
                Some(args.env.env.clone()),
                args.env.database_url.clone(),
            )?;
            rollback::run(&config, &args)
        }
        Command::Lock(command) => {
            let env = match &command {
                crate::cli::LockCommand::Status(a) => &a.env,
                crate::cli::LockCommand::Release(a) => &a.env,
            };
            let config = load_config(&cli.global, Some(env.env.clone()), env.database_url.clone())?;
            lock::run(&config, &command)
        }
        Command::New(args) => new::run(&load_config(&cli.global, None, None)?, &args),
        Command::Catalog(args) => catalog::run(&load_config(&cli.global, None, None)?, &args),
        Command::Config(args) => {
            let config = load_config(&cli.global, args.env.clone(), args.database_url.clone())?;
            config::run(&config, &args)
        }
    }
}

fn load_config(
    global: &GlobalOptions,
    env: Option<String>,
    database_url: Option<String>,
) -> Result<Config> {
    Ok(Config::load(&overrides(global, env, database_url))?)
}

fn overrides(
    global: &GlobalOptions,
    env: Option<String>,
    database_url: Option<String>,
) -> Overrides {
    Overrides {
        config: global.config.clone(),
        migrations_dir: global.migrations_dir.clone(),
        database_url,
        env,
        ..Overrides::default()
    }
    .with_process_env()
}
