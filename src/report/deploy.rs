//! What `runner deploy` and the application `runner rollback` show: each phase as it ends,
//! hook output as it streams, and the verdict; or one JSON event per line with `--format json`.

use std::time::Duration;

use serde_json::json;

use crate::deploy::health::Probe;
use crate::deploy::run::Reporter;
use crate::engine::journal::PhaseRecord;
use crate::lint::Report;
use crate::report::Sink;
use crate::report::progress::{MigrateOutput, Style};

pub struct DeployOutput {
    sink: Sink,
}

impl DeployOutput {
    pub fn new(style: Style) -> Self {
        DeployOutput {
            sink: Sink::new(style),
        }
    }
}

impl Reporter for DeployOutput {
    fn begin(&mut self, env: &str, version: &str) {
        self.sink.out(
            || format!("deploy {version} to {env}"),
            || json!({"event": "deploy_started", "environment": env, "version": version}),
        );
    }

    fn phase(&mut self, p: &PhaseRecord) {
        self.sink
            .out(|| phase_line(p), || json!({"event": "phase", "phase": p}));
    }

    fn findings(&mut self, report: &Report) {
        self.sink.note(
            || {
                crate::report::findings::human(report)
                    .trim_end()
                    .to_string()
            },
            || json!({"event": "gate_findings", "findings": report.findings}),
        );
    }

    fn probe(&mut self, p: &Probe) {
        let (result, detail) = match p {
            Probe::Pass => ("pass", ""),
            Probe::Fail(why) => ("fail", why.as_str()),
            Probe::NotYet(why) => ("waiting", why.as_str()),
        };
        // People see only the failures; programs see every probe.
        if result == "fail" || self.sink.style() == Style::Json {
            self.sink.note(
                || format!("    health: {detail}"),
                || json!({"event": "health_probe", "result": result, "detail": detail}),
            );
        }
    }

    fn hook_echo(&self) -> Box<dyn Fn(&str) + Sync> {
        match self.sink.style() {
            Style::Json => {
                Box::new(|line: &str| println!("{}", json!({"event": "hook_output", "line": line})))
            }
            Style::Human => Box::new(|line: &str| eprintln!("    | {line}")),
        }
    }

    fn migrations(&self) -> Box<dyn crate::engine::Reporter> {
        Box::new(MigrateOutput::nested(self.sink.style()))
    }

    fn note(&mut self, message: &str) {
        self.sink.note(
            || format!("note: {message}"),
            || json!({"event": "note", "message": message}),
        );
    }

    fn success(&mut self, env: &str, version: &str, took: Duration) {
        self.sink.out(
            || format!("deployed {version} to {env} in {:.1} s", took.as_secs_f64()),
            || json!({"event": "deploy_succeeded", "environment": env, "version": version, "duration_ms": took.as_millis() as u64}),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &str, status: &str, ms: u64, detail: &str) -> PhaseRecord {
        PhaseRecord {
            phase: name.into(),
            status: status.into(),
            duration_ms: ms,
            detail: detail.into(),
        }
    }

    #[test]
    fn deploy_human() {
        let mut out = DeployOutput {
            sink: Sink::capture(Style::Human),
        };
        out.begin("staging", "1.0.0");
        for p in [
            phase("gate", "ok", 2, "7 migration(s) to apply, no lint errors"),
            phase("approval", "not required", 0, ""),
            phase("lock", "taken", 0, ""),
            phase("migrations", "ok", 9, "7 applied"),
            phase("deploy", "ok", 21, ""),
            phase(
                "health",
                "healthy",
                251,
                "after 2 checks in 0.3 s; database ping 0 ms",
            ),
            phase("smoke", "ok", 20, ""),
        ] {
            out.phase(&p);
        }
        out.success("staging", "1.0.0", Duration::from_millis(312));
        out.begin("staging", "2.0.0");
        out.note("the deploy of 1.9.0 to staging (d-1, by ci) stopped at phase health without saying how it ended; recorded as in_doubt: 1.9.0 may be serving");
        out.phase(&phase("deploy", "ok", 18, ""));
        out.probe(&Probe::NotYet("connection refused".into()));
        out.probe(&Probe::Fail("HTTP 503 (unhealthy)".into()));
        out.phase(&phase(
            "health",
            "unhealthy",
            760,
            "3 consecutive failures, last: HTTP 503 (unhealthy)",
        ));
        out.phase(&phase("rollback", "ok", 19, "back to 1.0.0"));
        out.phase(&phase(
            "health after rollback",
            "healthy",
            251,
            "1.0.0 serving again",
        ));
        insta::assert_snapshot!(out.sink.captured());
    }
}
