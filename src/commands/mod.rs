//! One module per subcommand: each turns parsed arguments into work and output.

mod adopt;
mod catalog;
mod check;
mod config;
mod dashboard;
mod deploy;
mod explain;
pub(crate) mod flag;
mod history;
mod init;
mod lock;
mod migrate;
mod new;
mod plan;
mod promote;
mod recover;
mod rollback;
mod shell;
mod since;
mod status;
mod verify;
mod wait;

use crate::cli::{Cli, Command, EnvArgs, GlobalOptions};
use crate::config::{Config, Overrides};
use crate::error::{ExitCode, Result};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let global = &cli.global;
    // A command that works on one environment applies --database-url and
    // RUNNER_DATABASE_URL to it.
    let for_env =
        |env: &EnvArgs| load_config(global, Some(env.env.clone()), env.database_url.clone());
    let plain = || load_config(global, None, None);
    match cli.command {
        Command::Check(args) => {
            let given = overrides(global, None, None);
            let config = if args.paths.is_empty() {
                Some(plain()?)
            } else {
                Config::load_optional(&given)?
            };
            let flag = args.dialect.map(crate::config::Dialect::from);
            let dialect = crate::config::dialect_given(flag, config.as_ref(), &given)?;
            check::run(config.as_ref(), dialect, &args)
        }
        Command::Explain(args) => explain::run(&args),
        Command::Migrate(args) => migrate::run(&for_env(&args.env)?, &args),
        Command::Plan(args) => plan::run(&for_env(&args.env)?, &args),
        Command::Deploy(args) => deploy::run(&plain()?, &args),
        Command::Promote(args) => promote::promote(&for_env(&args.env)?, &args),
        Command::Abort(args) => promote::abort(&for_env(&args.env)?, &args),
        Command::Status(args) => status::run(&for_env(&args.env)?, &args),
        Command::Wait(args) => wait::run(&for_env(&args.env)?, &args),
        Command::History(args) => history::run(&for_env(&args.env)?, &args),
        Command::Verify(args) => verify::run(&plain()?, &args),
        Command::Rollback(args) => rollback::run(&for_env(&args.env)?, &args),
        Command::Recover(args) => recover::run(&for_env(&args.env)?, &args),
        Command::Adopt(args) => adopt::run(&for_env(&args.env)?, &args),
        Command::Dashboard(args) => dashboard::run(&plain()?, &args),
        Command::Lock(command) => {
            let env = match &command {
                crate::cli::LockCommand::Status(a) => &a.env,
                crate::cli::LockCommand::Release(a) => &a.env,
            };
            lock::run(&for_env(env)?, &command)
        }
        Command::Flag(command) => flag::run(&plain()?, &command),
        Command::New(args) => new::run(&plain()?, &args),
        Command::Catalog(args) => catalog::run(&plain()?, &args),
        Command::Completions(args) => shell::completions(args.shell),
        Command::Man => shell::man(),
        Command::Init(args) => init::run(&args),
        Command::Config(args) => {
            let config = load_config(global, args.env.clone(), args.database_url.clone())?;
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
