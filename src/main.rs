//! The `runner` binary: parse arguments, run the command, print an error once, exit with its code.

use clap::Parser;

use runner::cli::Cli;
use runner::config::redact_text;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match runner::commands::run(cli) {
        Ok(code) => code.into(),
        Err(error) => {
            // Scrub once more: an error may quote text that came from a database or a parser.
            eprintln!("error: {}", redact_text(&error.to_string()));
            error.exit_code().into()
        }
    }
}
