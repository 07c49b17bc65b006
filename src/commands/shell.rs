//! `runner completions SHELL` and `runner man`: generated from the clap definitions, so they
//! never fall behind the command line they describe.

use clap::CommandFactory;

use crate::cli::{Cli, Shell};
use crate::error::{Error, ExitCode, Result};

pub fn completions(shell: Shell) -> Result<ExitCode> {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "runner", &mut std::io::stdout());
    Ok(ExitCode::Success)
}

pub fn man() -> Result<ExitCode> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    page.render(&mut out)
        .map_err(|e| Error::io("the man page", e))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::Success)
}
