//! Every printer of runner: what each command shows people (aligned tables, phase lines,
//! progress bars) and programs (JSON). Commands gather the data; these turn it into text.
//! Each printer is snapshot-tested on fixed data.

pub mod adopt;
pub mod catalog;
pub mod config;
pub mod deploy;
pub mod dry_run;
pub mod explain;
pub mod findings;
pub mod flag;
pub mod history;
pub mod lock;
pub mod out;
pub mod plan;
pub mod progress;
pub mod recover;
pub mod rollback;
pub mod setup;
pub mod status;
pub mod table;
pub mod verify;
pub mod wait;

pub use crate::catalog::shown;
pub use progress::Style;

/// Where an event printer writes: results to stdout, notes to stderr; or, in tests, into a
/// buffer a snapshot reads.
pub struct Sink {
    style: Style,
    captured: Option<Vec<String>>,
}

impl Sink {
    pub fn new(style: Style) -> Sink {
        Sink {
            style,
            captured: None,
        }
    }

    /// A sink that keeps what it would print (stderr lines marked `!`).
    #[cfg(test)]
    pub fn capture(style: Style) -> Sink {
        Sink {
            style,
            captured: Some(Vec::new()),
        }
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// A result: `human` for people, `json` as one JSON line.
    pub fn out(
        &mut self,
        human: impl FnOnce() -> String,
        json: impl FnOnce() -> serde_json::Value,
    ) {
        let text = match self.style {
            Style::Human => human(),
            Style::Json => json().to_string(),
        };
        match &mut self.captured {
            Some(lines) => lines.push(text),
            None => println!("{text}"),
        }
    }

    /// A note for people (stderr), or a JSON line (stdout) for programs.
    pub fn note(
        &mut self,
        human: impl FnOnce() -> String,
        json: impl FnOnce() -> serde_json::Value,
    ) {
        match (self.style, &mut self.captured) {
            (Style::Json, _) => self.out(String::new, json),
            (Style::Human, Some(lines)) => lines.push(format!("! {}", human())),
            (Style::Human, None) => eprintln!("{}", human()),
        }
    }

    /// What a capturing sink kept, one line each.
    #[cfg(test)]
    pub fn captured(&self) -> String {
        self.captured
            .as_ref()
            .map(|l| l.join("\n"))
            .unwrap_or_default()
    }
}
