//! Health checks of a deploy: HTTP GET on the configured URL every `interval` until
//! `healthy_after` consecutive passes; `unhealthy_after` consecutive definite failures (a
//! non-2xx answer or an unhealthy status) fail it, and so does `timeout` when the app never
//! answers. A pass is a 2xx whose JSON, if any, has `status` healthy or ok and, when it has one,
//! `version` equal to the deployed version.

use std::time::{Duration, Instant};

use crate::config::Health;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Pass,
    /// A definite failure: non-2xx, or an unhealthy status.
    Fail(String),
    /// No usable answer yet: no connection, or another version still answering.
    NotYet(String),
}

/// How a health wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy {
        after: Duration,
    },
    Unhealthy {
        reason: String,
        first_failure: Duration,
    },
    TimedOut {
        last: String,
    },
    /// A signal asked the run to stop waiting.
    Interrupted,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Healthy { after } => write!(f, "healthy after {:.1} s", after.as_secs_f64()),
            Verdict::Unhealthy { reason, .. } => write!(f, "unhealthy: {reason}"),
            Verdict::TimedOut { last } => write!(f, "no healthy answer in time (last: {last})"),
            Verdict::Interrupted => write!(f, "stopped waiting: interrupted"),
        }
    }
}

pub fn probe(url: &str, version: Option<&str>, timeout: Duration) -> Probe {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = match agent.get(url).call() {
        Ok(r) => r,
        Err(e) => return Probe::NotYet(e.to_string()),
    };
    let status = response.status();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if !status.is_success() {
        return Probe::Fail(format!(
            "HTTP {}{}",
            status.as_u16(),
            field("status")
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ));
    }
    if let Some(s) = field("status")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "healthy" | "ok" | "pass" | "up"
        )
    {
        return Probe::Fail(format!("status {s}"));
    }
    match (version, field("version")) {
        (Some(want), Some(got)) if want != got => {
            Probe::NotYet(format!("version {got} answers, waiting for {want}"))
        }
        _ => Probe::Pass,
    }
}

/// Polls `health.url` until a verdict, or until `interrupt_at` signals have arrived (see
/// `runtime::watch_interrupts`; `usize::MAX` never stops). `on_probe` hears each probe.
pub fn wait(
    health: &Health,
    version: Option<&str>,
    interrupt_at: usize,
    on_probe: &mut dyn FnMut(&Probe),
) -> Verdict {
    wait_on(health, &health.url, version, interrupt_at, on_probe)
}

/// `wait` on another URL with the same settings (a server checked directly).
pub fn wait_on(
    health: &Health,
    url: &str,
    version: Option<&str>,
    interrupt_at: usize,
    on_probe: &mut dyn FnMut(&Probe),
) -> Verdict {
    let started = Instant::now();
    let mut passes = 0;
    let mut failures = 0;
    let mut first_failure: Option<Duration> = None;
    let mut last = String::from("no answer yet");
    loop {
        let request_timeout = health
            .interval
            .max(Duration::from_secs(2))
            .min(health.timeout);
        if crate::runtime::interrupts() >= interrupt_at {
            return Verdict::Interrupted;
        }
        let p = probe(url, version, request_timeout);
        on_probe(&p);
        match &p {
            Probe::Pass => {
                passes += 1;
                failures = 0;
                if passes >= health.healthy_after {
                    return Verdict::Healthy {
                        after: started.elapsed(),
                    };
                }
            }
            Probe::Fail(why) => {
                passes = 0;
                failures += 1;
                first_failure.get_or_insert(started.elapsed());
                last = why.clone();
                if failures >= health.unhealthy_after {
                    return Verdict::Unhealthy {
                        reason: format!("{failures} consecutive failures, last: {why}"),
                        first_failure: first_failure.unwrap_or_default(),
                    };
                }
            }
            Probe::NotYet(why) => {
                passes = 0;
                last = why.clone();
            }
        }
        if started.elapsed() >= health.timeout {
            return Verdict::TimedOut { last };
        }
        crate::runtime::sleep_unless_interrupted(
            health
                .interval
                .min(health.timeout.saturating_sub(started.elapsed())),
            interrupt_at,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A one-request HTTP server on 127.0.0.1 answering `status` and `body`.
    fn serve(status: &'static str, body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn a_2xx_with_a_healthy_status_and_the_right_version_passes() {
        assert_eq!(
            probe(
                &serve("200 OK", r#"{"status":"healthy","version":"1.2"}"#),
                Some("1.2"),
                T
            ),
            Probe::Pass
        );
        assert_eq!(
            probe(&serve("200 OK", "plain ok"), Some("1.2"), T),
            Probe::Pass
        );
        assert_eq!(probe(&serve("204 No Content", ""), None, T), Probe::Pass);
    }

    #[test]
    fn non_2xx_and_unhealthy_statuses_are_definite_failures() {
        assert!(
            matches!(probe(&serve("503 Service Unavailable", r#"{"status":"unhealthy"}"#), None, T), Probe::Fail(why) if why == "HTTP 503 (unhealthy)")
        );
        assert!(
            matches!(probe(&serve("200 OK", r#"{"status":"degraded"}"#), None, T), Probe::Fail(why) if why == "status degraded")
        );
    }

    #[test]
    fn another_version_or_no_answer_is_not_yet_a_verdict() {
        assert!(matches!(
            probe(
                &serve("200 OK", r#"{"status":"ok","version":"1.1"}"#),
                Some("1.2"),
                T
            ),
            Probe::NotYet(_)
        ));
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(
            probe(&format!("http://{closed}/health"), None, T),
            Probe::NotYet(_)
        ));
    }
}
