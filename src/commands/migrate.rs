//! `runner migrate --env E`: apply pending migrations behind the lock.

use crate::catalog::Catalog;
use crate::cli::{MigrateArgs, ProgressFormat};
use crate::config::Config;
use crate::db::Limits;
use crate::engine::Reporter as _;
use crate::engine::plan::{Contract, Request};
use crate::engine::{self, MigrateOptions, version_set};
use crate::error::{ExitCode, Result};
use crate::report::progress::{MigrateOutput, Style};

use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, args: &MigrateArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let approved_by = crate::deploy::approval::require(env, args.approve, "migrate")?;
    let options = MigrateOptions {
        request: Request {
            target: args.target,
            allow_out_of_order: version_set(&args.allow_out_of_order),
            resume: args.resume,
            contract: if args.contract || args.resume.is_some() {
                Contract::Run
            } else {
                Contract::Hold(Default::default())
            },
        },
        baseline: args.baseline,
        lock_wait: args.lock_wait,
        limits: Limits {
            lock_timeout: args.lock_timeout.unwrap_or(env.lock_timeout),
            statement_timeout: args.statement_timeout.or(env.statement_timeout),
            retries: args.lock_retries.unwrap_or(env.lock_retries),
            ..Limits::of(env)
        },
        run: run_info(&env.name, args.release.clone()),
        approved_by,
    };
    let style = match args.format {
        ProgressFormat::Human => Style::Human,
        ProgressFormat::Json => Style::Json,
    };
    let mut output = MigrateOutput::new(style);
    crate::runtime::watch_interrupts()?;
    crate::runtime::exit_at_signal(2);
    // The gate's parses are made while runner connects and takes the lock (no gate: none).
    let dialect = env.database_url.value.dialect();
    let applied = std::thread::scope(|scope| {
        if options.baseline.is_none() {
            scope.spawn(|| crate::lint::parse::warm(&catalog, dialect));
        }
        block_on(engine::migrate(
            config,
            env,
            &catalog,
            &options,
            &mut output,
        ))
    })?;
    if let Some((version, label)) = applied.held.first() {
        output.warning(&format!(
            "{label} is a contract migration: it removes what the previous release may still use, so it and the {} after it wait. They run in the next deploy of {e} with --with-migrations once the previous release is stopped{}; when no earlier release runs any more, `{}` applies them now (V{version} first)",
            applied.held.len() - 1,
            // Only a routed strategy keeps a previous release running for promote to stop.
            if env.strategy().routed() {
                format!(
                    " (or `{}`)",
                    crate::hints::promote(crate::hints::At::of(env))
                )
            } else {
                String::new()
            },
            crate::hints::migrate_contract(crate::hints::At::of(env)),
            e = env.name
        ));
    }
    Ok(ExitCode::Success)
}
