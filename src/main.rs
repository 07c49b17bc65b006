//! The `runner` binary: parse arguments, run the command, print an error once, exit with its code.

use clap::Parser;

use runner::cli::Cli;
use runner::config::redact_text;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, which turns `runner explain | head` into a panic on the next
    // print. Restore the default: the process ends quietly when its reader goes away.
    // SAFETY: called before any other thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
