//! What `runner deploy` and the application `runner rollback` show: each phase as it ends,
//! hook output as it streams, and the verdict; or one JSON event per line with `--format json`.

use std::time::Duration;

use serde_json::json;

use crate::deploy::health::Probe;
use crate::deploy::journal::PhaseRecord;
use crate::deploy::run::Reporter;
use crate::lint::Report;
use crate::report::progress::{MigrateOutput, Style};

pub struct DeployOutput {
    style: Style,
}

impl DeployOutput {
    pub fn new(style: Style) -> Self {
        DeployOutput { style }
    }
}

impl Reporter for DeployOutput {
    fn begin(&mut self, env: &str, version: &str) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "deploy_started", "environment": env, "version": version})
            ),
            Style::Human => println!("deploy {version} to {env}"),
        }
    }

    fn phase(&mut self, p: &PhaseRecord) {
        match self.style {
            Style::Json => println!("{}", json!({"event": "phase", "phase": p})),
            Style::Human => println!("{}", phase_line(p)),
        }
    }

    fn findings(&mut self, report: &Report) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "gate_findings", "findings": report.findings})
            ),
            Style::Human => eprint!("{}", crate::report::findings::human(report)),
        }
    }

    fn probe(&mut self, p: &Probe) {
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

    fn hook_echo(&self) -> Box<dyn Fn(&str) + Sync> {
        match self.style {
            Style::Json => {
                Box::new(|line: &str| println!("{}", json!({"event": "hook_output", "line": line})))
            }
            Style::Human => Box::new(|line: &str| eprintln!("    | {line}")),
        }
    }

    fn migrations(&self) -> Box<dyn crate::engine::Reporter> {
        Box::new(MigrateOutput::nested(self.style))
    }

    fn note(&mut self, message: &str) {
        match self.style {
            Style::Json => println!("{}", json!({"event": "note", "message": message})),
            Style::Human => eprintln!("note: {message}"),
        }
    }

    fn success(&mut self, env: &str, version: &str, took: Duration) {
        match self.style {
            Style::Json => println!(
                "{}",
                json!({"event": "deploy_succeeded", "environment": env, "version": version, "duration_ms": took.as_millis() as u64})
            ),
            Style::Human => println!("deployed {version} to {env} in {:.1} s", took.as_secs_f64()),
        }
    }
}

/// One phase as a person reads it: name, status, detail, duration.
pub fn phase_line(p: &PhaseRecord) -> String {
    let detail = if p.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", p.detail)
    };
    format!(
        "  {:<22} {}{detail} ({} ms)",
        p.phase, p.status, p.duration_ms
    )
}
