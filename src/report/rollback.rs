//! `runner rollback --to/--steps`: each migration rolled back, notes and retries.

use std::time::Duration;

use serde_json::json;

use super::{Sink, Style};
use crate::db::DbError;
use crate::engine::rollback::RollbackReporter;

pub struct RollbackOutput {
    sink: Sink,
}

impl RollbackOutput {
    pub fn new(style: Style) -> Self {
        RollbackOutput {
            sink: Sink::new(style),
        }
    }

    /// The closing line: how many migrations were rolled back where.
    pub fn finished(&mut self, done: usize, environment: &str) {
        if self.sink.style() == Style::Human {
            self.sink.out(
                || {
                    format!(
                        "{done} migration{} rolled back in {environment}",
                        if done == 1 { "" } else { "s" }
                    )
                },
                || json!({}),
            );
        }
    }
}

impl RollbackReporter for RollbackOutput {
    fn file_differs(&mut self, label: &str, diff: &str) {
        self.sink.note(
            || format!("note: the rollback of {label} on disk differs from the one stored when it was applied; running the file:\n{diff}"),
            || json!({"event": "rollback_file_differs", "migration": label, "diff": diff}),
        );
    }

    fn note(&mut self, message: &str) {
        self.sink.note(
            || format!("note: {message}"),
            || json!({"event": "note", "message": message}),
        );
    }

    fn rolled_back(&mut self, label: &str, took: Duration) {
        self.sink.out(
            || format!("rolled back {label} ({} ms)", took.as_millis()),
            || json!({"event": "rolled_back", "migration": label, "duration_ms": took.as_millis() as u64}),
        );
    }

    fn retrying(&mut self, label: &str, attempt: u32, delay: Duration, error: &DbError) {
        self.sink.note(
            || format!(
                "the rollback of {label} hit a lock timeout ({}); retry {attempt} in {} ms",
                error.message,
                delay.as_millis()
            ),
            || json!({"event": "retrying", "migration": label, "attempt": attempt, "delay_ms": delay.as_millis() as u64, "error": error.to_string()}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_human() {
        let mut out = RollbackOutput {
            sink: Sink::capture(Style::Human),
        };
        out.note("an earlier rollback of staging stopped before reaching V2; --steps 3 continues it to V2 (use --to to go elsewhere)");
        out.file_differs(
            "V0004 totals",
            "--- stored at apply time\n+++ on disk\n@@ -1 +1 @@\n-DROP VIEW totls;\n+DROP VIEW totals;",
        );
        let error = DbError {
            code: Some("55P03".into()),
            ..DbError::other("canceling statement due to lock timeout")
        };
        out.retrying("V0004 totals", 1, Duration::from_millis(200), &error);
        out.rolled_back("V0004 totals", Duration::from_millis(12));
        out.rolled_back("V0003 orders", Duration::from_millis(3));
        out.finished(2, "staging");
        insta::assert_snapshot!(out.sink.captured());
    }
}
