//! What `runner deploy` shows: each phase as it ends, hook output as it streams, and the
//! verdict; or one JSON event per line with `--format json`.

use std::time::Duration;

use serde_json::json;

use super::health::Probe;
use super::journal::Phase;
use crate::lint::Report;
use crate::report::progress::{MigrateOutput, Style};

pub struct DeployOutput {
    style: Style,
}

impl DeployOutput {
    pub fn new(style: Style) -> Self {
        DeployOutput { style }
    }

    pub fn begin(&mut self, env: &str, version: &str) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "deploy_started", "environment": env, "version": version})
            ),
            Style::Human => println!("deploy {version} to {env}"),
        }
    }

    pub fn phase(&mut self, p: &Phase) {
        match self.style {
            Style::Json => println!("{}", json!({"event": "phase", "phase": p})),
            Style::Human => {
                let detail = if p.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", p.detail)
                };
                println!(
                    "  {:<22} {}{detail} ({} ms)",
                    p.phase, p.status, p.duration_ms
                );
            }
        }
    }

    /// Shows a phase that ended and adds it to the journal entry.
    pub fn record(
        &mut self,
        entry: &mut super::journal::Entry,
        phase: &str,
        status: &str,
        since: std::time::Instant,
        detail: String,
    ) {
        let p = Phase {
            phase: phase.into(),
            status: status.into(),
            duration_ms: since.elapsed().as_millis() as u64,
            detail,
        };
        self.phase(&p);
        entry.phases.push(p);
    }

    pub fn findings(&mut self, report: &Report) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "gate_findings", "findings": report.findings})
            ),
            Style::Human => eprint!("{}", crate::report::findings::human(report)),
        }
    }

    pub fn probe(&mut self, p: &Probe) {
        match (self.style, p) {
            (Style::Json, Probe::Pass) => {
                println!("{}", json!({"event": "health_probe", "result": "pass"}))
            }
            (Style::Json, Probe::Fail(why)) => println!(
                "{}",
                json!({"event": "health_probe", "result": "fail", "detail": why})
            ),
            (Style::Json, Probe::NotYet(why)) => println!(
                "{}",
                json!({"event": "health_probe", "result": "waiting", "detail": why})
            ),
            (Style::Human, Probe::Fail(why)) => eprintln!("    health: {why}"),
            (Style::Human, _) => {}
        }
    }

    /// Prints each line of hook output as it arrives.
    pub fn hook_echo(&self) -> Box<dyn Fn(&str) + Sync> {
        match self.style {
            Style::Json => {
                Box::new(|line: &str| println!("{}", json!({"event": "hook_output", "line": line})))
            }
            Style::Human => Box::new(|line: &str| eprintln!("    | {line}")),
        }
    }

    pub fn migrate_reporter(&self) -> MigrateOutput {
        MigrateOutput::nested(self.style)
    }

    pub fn success(&mut self, env: &str, version: &str, took: Duration) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "deploy_succeeded", "environment": env, "version": version, "duration_ms": took.as_millis() as u64})
            ),
            Style::Human => println!("deployed {version} to {env} in {:.1} s", took.as_secs_f64()),
        }
    }
}
