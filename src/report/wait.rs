//! `runner wait`: what it waits for, and how the run it waited for ended.

use std::time::Duration;

use crate::deploy::record::Serving;
use crate::engine::journal::{Entry, RunResult};

/// What serves when nothing is in progress.
pub fn settled(environment: &str, serving: &Serving) -> String {
    match (&serving.doubt, &serving.release) {
        (Some(doubt), _) => format!("{environment}: nothing in progress; IN DOUBT: {doubt}"),
        (None, Some(release)) => format!("{environment}: nothing in progress; {release} serves"),
        (None, None) => format!("{environment}: nothing in progress; no release deployed yet"),
    }
}

/// The run in progress, `what` it is doing, and for how long `wait` waits for it.
pub fn waiting(environment: &str, what: &str, id: &str, timeout: Duration) -> String {
    format!(
        "{environment}: {what} (deploy {id}); waiting up to {}",
        humantime::format_duration(timeout)
    )
}

pub fn timed_out(environment: &str, what: &str, timeout: Duration) -> String {
    format!(
        "{environment}: still waiting after {}: {what}; nothing was changed",
        humantime::format_duration(timeout)
    )
}

/// How the run `entry` ended, with what serves now.
pub fn ended(environment: &str, entry: &Entry, serving: &Serving) -> String {
    let serves = serving.release.as_deref().unwrap_or("no release");
    let why = entry.error.as_deref().unwrap_or("");
    let text = match entry.result {
        RunResult::Succeeded => format!("{} serves all traffic (succeeded)", entry.version),
        RunResult::RolledBack | RunResult::Failed => format!(
            "{} did not go on ({}): {serves} serves; {why}",
            entry.version, entry.result
        ),
        RunResult::RollbackFailed => format!(
            "{} failed and putting the previous release back failed too: {why}",
            entry.version
        ),
        RunResult::Running | RunResult::InDoubt | RunResult::Interrupted | RunResult::Paused => {
            format!(
                "its run stopped without finishing; {serves} was the last release that succeeded {why}"
            )
        }
    };
    format!("{environment}: {}", text.trim_end())
}
