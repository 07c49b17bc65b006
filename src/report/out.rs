//! The one route from a command to the terminal: results on stdout, warnings, notes and
//! prompts on stderr. Commands render with the printers of `report` and hand the text here;
//! no file of `commands/` writes to stdout or stderr itself.

use std::fmt::Display;
use std::io::Write;

/// Rendered text, as it is (printers end their lines themselves).
pub fn text(text: &str) {
    print!("{text}");
}

/// One line of result.
pub fn line(line: impl Display) {
    println!("{line}");
}

/// A JSON document for programs, pretty-printed.
pub fn json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A JSON document on one line (an event in a stream of them).
pub fn json_line(value: &serde_json::Value) {
    println!("{value}");
}

pub fn warning(text: impl Display) {
    eprintln!("warning: {text}");
}

pub fn note(text: impl Display) {
    eprintln!("note: {text}");
}

pub fn error(text: impl Display) {
    eprintln!("error: {text}");
}

/// A line for the person at the terminal, beside the results (a summary, a menu).
pub fn aside(text: impl Display) {
    eprintln!("{text}");
}

/// A question on stderr, the answer read from stdin by the caller.
pub fn prompt(text: impl Display) {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
}

/// A screen redrawn in place (`status --watch`).
pub fn redraw(text: &str) {
    print!("\x1b[H\x1b[2J{text}");
    let _ = std::io::stdout().flush();
}
