//! Approval for environments with `requires_approval`: `--approve`, or the environment's name
//! typed at a terminal. A run with no terminal and no `--approve` is refused; who approved is
//! recorded (RUNNER_APPROVED_BY, else the user).

use std::io::{BufRead, IsTerminal, Write};

use crate::config::Environment;
use crate::error::{Error, Result};

pub fn approve(env: &Environment, approved: bool, action: &str) -> Result<()> {
    if !env.requires_approval || approved {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{} requires approval: pass --approve (who approved is recorded: RUNNER_APPROVED_BY or your user), or run this in a terminal and type the environment's name",
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

/// A typed yes for an action that skips a safety net (`--force`), unless `--yes` was given.
pub fn confirm(what: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{what}: pass --yes to confirm when there is no terminal"
        )));
    }
    eprint!("{what}: type `yes` to confirm: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("stdin", e))?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Usage("not confirmed; nothing was done".into()))
    }
}

/// For a change of `env`: refused unless approved when the environment requires it; then who
/// approved (`None` when no approval is required), to record with the change.
pub fn require(env: &Environment, approved: bool, action: &str) -> Result<Option<String>> {
    if !env.requires_approval {
        return Ok(None);
    }
    approve(env, approved, action)?;
    Ok(Some(approver(&crate::runtime::actor())))
}

/// Who approved: RUNNER_APPROVED_BY, else the user running runner.
pub fn approver(actor: &str) -> String {
    std::env::var("RUNNER_APPROVED_BY")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| actor.to_string())
}
