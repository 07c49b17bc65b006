//! One module per subcommand: each turns parsed arguments into work and output.

mod catalog;
mod check;
mod config;
mod explain;
mod new;

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
