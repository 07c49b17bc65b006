//! `runner rollback --env E --to VERSION | --steps N`: undo applied migrations.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::cli::{ProgressFormat, RollbackArgs};
use crate::config::{Config, Environment};
use crate::engine::apply::Limits;
use crate::engine::conn::DbError;
use crate::engine::rollback::{self, RollbackOptions, RollbackReporter, Target};
use crate::error::{Error, ExitCode, Result};

use super::{block_on, run_info};

pub fn run(config: &Config, args: &RollbackArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::load(&config.migrations_dir.value)?;
    approve(env, args.approve, "roll back migrations of")?;
    let target = match (args.to, args.steps) {
        (Some(v), _) => Target::To(v),
        (None, Some(n)) => Target::Steps(n),
        (None, None) => return Err(Error::Usage("give --to VERSION or --steps N".into())),
    };
    let options = RollbackOptions {
        target,
        use_file: args.use_file,
        lock_wait: args.lock_wait,
        limits: Limits {
            lock_timeout: env.lock_timeout,
            statement_timeout: env.statement_timeout,
            retries: env.lock_retries,
            retry_delay: Duration::from_millis(200),
        },
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

/// An environment with requires_approval needs --approve, or its name typed at a terminal.
/// A run with no terminal and no --approve is refused.
pub fn approve(env: &Environment, approved: bool, action: &str) -> Result<()> {
    if !env.requires_approval || approved {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{} requires approval: pass --approve (who approved is recorded), or run this in a terminal and type the environment's name",
            env.name
        )));
    }
    eprint!(
        "about to {action} {}: type `{}` to confirm: ",
        env.name, env.name
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("stdin", e))?;
    if line.trim() == env.name {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "not confirmed: `{}` is not `{}`; nothing was done",
            line.trim(),
            env.name
        )))
    }
}

/// Who approved: RUNNER_APPROVED_BY, else the user running runner.
pub fn approver(actor: &str) -> String {
    std::env::var("RUNNER_APPROVED_BY")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| actor.to_string())
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
