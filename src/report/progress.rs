//! What `runner migrate` shows while it works: an indicatif progress bar on a terminal, plain
//! lines (`applied V0003 add_email (12 ms)`) otherwise, or one JSON event per line.
//!
//! Results go to stdout; waiting, retries and warnings to stderr.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::db::DbError;
use crate::db::lock::{Holder, LockWatcher};
use crate::engine::plan::{Classified, Step};
use crate::engine::{Reporter, apply::Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Human,
    Json,
}

pub struct MigrateOutput {
    style: Style,
    bar: Option<ProgressBar>,
    last_wait_note: Option<Duration>,
    last_gap_note: Option<Duration>,
    /// Put before each result line: a deploy nests migrations under its phase.
    indent: &'static str,
}

impl MigrateOutput {
    pub fn new(style: Style) -> Self {
        MigrateOutput {
            style,
            bar: None,
            last_wait_note: None,
            last_gap_note: None,
            indent: "",
        }
    }

    /// Output for the migrations phase of a deploy: result lines indented under it.
    pub fn nested(style: Style) -> Self {
        MigrateOutput {
            style,
            bar: None,
            last_wait_note: None,
            last_gap_note: None,
            indent: "    ",
        }
    }

    fn json(&self, value: serde_json::Value) {
        println!("{value}");
    }

    /// A result line on stdout, above the bar when there is one.
    fn line(&self, text: &str) {
        let indent = self.indent;
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{indent}{text}")),
            None => println!("{indent}{text}"),
        }
    }

    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

fn label_json(step: &Step<'_>) -> (i64, String) {
    (step.migration.version, step.migration.name.clone())
}

impl Progress for MigrateOutput {
    fn statement_done(&mut self, step: &Step<'_>, done: usize, total: usize) {
        if let Some(bar) = &self.bar
            && total > 1
        {
            bar.set_message(format!("{} (statement {done}/{total})", step.label()));
        }
        if self.style == Style::Json && step.script.statements.len() > 1 {
            let (version, name) = label_json(step);
            self.json(json!({"event": "statement_done", "version": version, "name": name, "done": done, "total": total}));
        }
    }

    fn waiting_for_gap(
        &mut self,
        step: &Step<'_>,
        holder: &crate::engine::gap::Holder,
        waited: Duration,
    ) {
        // Once a second, not at every poll.
        let due = self
            .last_gap_note
            .is_none_or(|last| waited < last || waited >= last + Duration::from_secs(1));
        if !due {
            return;
        }
        self.last_gap_note = Some(waited);
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} waits for a gap: pid {}",
                step.label(),
                holder.pid
            ));
        }
        match self.style {
            Style::Json => {
                let (version, name) = label_json(step);
                self.json(json!({"event": "waiting_for_gap", "version": version, "name": name,
                    "waited_ms": waited.as_millis() as u64, "holder": holder.to_string()}));
            }
            Style::Human => self.note(&format!(
                "{} waits for a gap ({:.0} s so far), not queueing live queries behind it: {holder}",
                step.label(),
                waited.as_secs_f64()
            )),
        }
    }

    fn retrying(&mut self, step: &Step<'_>, attempt: u32, delay: Duration, error: &DbError) {
        match self.style {
            Style::Json => {
                let (version, name) = label_json(step);
                self.json(json!({"event": "retrying", "version": version, "name": name, "attempt": attempt,
                    "delay_ms": delay.as_millis() as u64, "error": error.to_string()}));
            }
            Style::Human => self.note(&format!(
                "{} hit a lock timeout ({}); retry {attempt} in {} ms",
                step.label(),
                error.message,
                delay.as_millis()
            )),
        }
    }
}

impl LockWatcher for MigrateOutput {
    fn lock_waiting(&mut self, waited: Duration, holder: Option<&Holder>) {
        let due = self
            .last_wait_note
            .is_none_or(|last| waited >= last + Duration::from_secs(5));
        if !due {
            return;
        }
        self.last_wait_note = Some(waited);
        let who = holder.map_or("another run".to_string(), |h| h.to_string());
        match self.style {
            Style::Json => self.json(json!({"event": "lock_waiting", "waited_ms": waited.as_millis() as u64, "holder": who})),
            Style::Human => self.note(&format!("waiting for the migration lock, held by {who}")),
        }
    }

    fn lock_taken(&mut self, waited: Duration) {
        if self.style == Style::Json {
            self.json(json!({"event": "lock_taken", "waited_ms": waited.as_millis() as u64}));
        }
    }
}

impl Reporter for MigrateOutput {
    fn findings(&mut self, report: &crate::lint::Report) {
        match self.style {
            Style::Json => {
                self.json(json!({"event": "gate_findings", "findings": report.findings}))
            }
            // The same lines `runner check` prints, on stdout as there.
            Style::Human => print!("{}", crate::report::findings::human(report)),
        }
    }

    fn warning(&mut self, message: &str) {
        match self.style {
            Style::Json => self.json(json!({"event": "warning", "message": message})),
            Style::Human => self.note(&format!("warning: {message}")),
        }
    }

    fn classified(&mut self, c: &Classified) {
        match self.style {
            Style::Json => self.json(json!({"event": "classified", "run": c})),
            Style::Human => self.note(&format!(
                "V{} {} was found half-run by an earlier runner that died: now {} ({})",
                c.version, c.name, c.state, c.reason
            )),
        }
    }

    fn pending(&mut self, steps: &[Step<'_>]) {
        match self.style {
            Style::Json => self.json(json!({"event": "pending", "count": steps.len()})),
            Style::Human if steps.is_empty() => {
                self.line("nothing to apply: the database is up to date")
            }
            Style::Human if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::with_draw_target(
                    Some(steps.len() as u64),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
            }
            Style::Human => {}
        }
    }

    fn started(&mut self, step: &Step<'_>) {
        if let Some(bar) = &self.bar {
            bar.set_message(step.label());
        }
        if self.style == Style::Json {
            let (version, name) = label_json(step);
            self.json(json!({"event": "started", "version": version, "name": name,
                "mode": step.script.mode, "statements": step.script.statements.len()}));
        }
    }

    fn applied(&mut self, step: &Step<'_>, took: Duration) {
        match self.style {
            Style::Json => {
                let (version, name) = label_json(step);
                self.json(json!({"event": "applied", "version": version, "name": name, "duration_ms": took.as_millis() as u64}));
            }
            Style::Human => {
                self.line(&format!(
                    "applied {} ({} ms)",
                    step.label(),
                    took.as_millis()
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
        }
    }

    fn baselined(&mut self, label: &str) {
        match self.style {
            Style::Json => self.json(json!({"event": "baselined", "migration": label})),
            Style::Human => self.line(&format!("recorded {label} as applied (baseline, not run)")),
        }
    }

    fn finished(&mut self, applied: usize, took: Duration) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        match self.style {
            Style::Json => self.json(json!({"event": "finished", "applied": applied, "duration_ms": took.as_millis() as u64})),
            Style::Human if applied > 0 => self.line(&format!(
                "{applied} migration{} applied in {} ms",
                if applied == 1 { "" } else { "s" },
                took.as_millis()
            )),
            Style::Human => {}
        }
    }
}

impl Drop for MigrateOutput {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
