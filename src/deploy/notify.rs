//! On-call hears of deploys: `[notify]` webhooks (runner's JSON event, or a Slack-compatible
//! `{"text": ...}`), each sent from its own thread with a timeout and retries, so a dead
//! webhook never blocks or fails a deploy. At the end of the run the deliveries are collected
//! (waiting at most the timeout) and recorded as the `notify` phase: the deploy record says
//! whether on-call was notified. Nothing sent carries a password: every text is redacted.
//! In GitHub Actions, the run also writes a job summary (`$GITHUB_STEP_SUMMARY`).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::{Notify, Webhook, WebhookFormat, redact_text};

/// What one event is about.
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    pub environment: String,
    pub kind: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub deploy_id: String,
    pub actor: String,
    pub strategy: Option<String>,
    pub detail: String,
}

/// One delivery's outcome.
struct Delivery {
    event: String,
    webhook: String,
    result: Result<u32, String>,
}

/// Sends events as they happen and collects the deliveries at the end.
pub struct Notifier {
    config: Notify,
    sent: usize,
    done: Sender<Delivery>,
    results: Receiver<Delivery>,
}

impl Notifier {
    pub fn new(config: &Notify) -> Notifier {
        let (done, results) = channel();
        Notifier {
            config: config.clone(),
            sent: 0,
            done,
            results,
        }
    }

    /// Sends `e` to every webhook, each from its own thread; returns at once.
    pub fn send(&mut self, e: &Event) {
        if !self.config.events.contains(&e.event) {
            return;
        }
        for webhook in &self.config.webhooks {
            self.sent += 1;
            let (webhook, body) = (webhook.clone(), payload(webhook.format, e));
            let (timeout, retries, done) =
                (self.config.timeout, self.config.retries, self.done.clone());
            let event = e.event.clone();
            std::thread::spawn(move || {
                let result = deliver(&webhook, &body, timeout, retries);
                let _ = done.send(Delivery {
                    event,
                    webhook: webhook.shown.clone(),
                    result,
                });
            });
        }
    }

    /// Waits for the deliveries (at most the time one can take) and says how they went:
    /// `(all delivered, detail)`; `None` when nothing was sent.
    pub fn settle(&mut self) -> Option<(bool, String)> {
        if self.sent == 0 {
            return None;
        }
        let budget = self.config.timeout * (self.config.retries + 1) + Duration::from_secs(1);
        let deadline = Instant::now() + budget;
        let mut delivered = Vec::new();
        let mut failed = Vec::new();
        for _ in 0..self.sent {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.results.recv_timeout(left) {
                Ok(d) => match d.result {
                    Ok(_) => delivered.push(format!("{} to {}", d.event, d.webhook)),
                    Err(why) => failed.push(format!("{} to {}: {why}", d.event, d.webhook)),
                },
                Err(_) => failed.push("a delivery still running at the end of the run".into()),
            }
        }
        let waiting = self.sent;
        self.sent = 0;
        let mut detail = format!("{} of {waiting} delivered", delivered.len());
        if !delivered.is_empty() {
            detail.push_str(&format!(" ({})", delivered.join(", ")));
        }
        if !failed.is_empty() {
            detail.push_str(&format!("; not delivered: {}", failed.join("; ")));
        }
        Some((failed.is_empty(), detail))
    }
}

fn payload(format: WebhookFormat, e: &Event) -> String {
    let detail = redact_text(&e.detail);
    match format {
        WebhookFormat::Json => json!({
            "event": e.event,
            "environment": e.environment,
            "kind": e.kind,
            "version": e.version,
            "previous_version": e.previous_version,
            "deploy_id": e.deploy_id,
            "actor": e.actor,
            "strategy": e.strategy,
            "detail": detail,
            "at": crate::runtime::timestamp_now(),
        })
        .to_string(),
        WebhookFormat::Slack => {
            let icon = match e.event.as_str() {
                "deploy_succeeded" => ":white_check_mark:",
                "deploy_started" => ":rocket:",
                "deploy_rolled_back" => ":leftwards_arrow_with_hook:",
                _ => ":rotating_light:",
            };
            let what = e.event.replace('_', " ");
            let mut text = format!(
                "{icon} {what}: {} {} to {} by {}",
                e.kind, e.version, e.environment, e.actor
            );
            if let Some(p) = &e.previous_version {
                text.push_str(&format!(" (previous {p})"));
            }
            if !detail.is_empty() {
                text.push_str(&format!("\n{detail}"));
            }
            json!({ "text": text }).to_string()
        }
    }
}

/// POSTs `body`, retrying on a failure with a short backoff; the status on success.
fn deliver(webhook: &Webhook, body: &str, timeout: Duration, retries: u32) -> Result<u32, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut last = String::new();
    for attempt in 0..=retries {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
        }
        match agent
            .post(&webhook.url)
            .header("Content-Type", "application/json")
            .send(body)
        {
            Ok(r) if r.status().is_success() => return Ok(u32::from(r.status().as_u16())),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            // The error may quote the URL, and a webhook's URL is a secret.
            Err(e) => last = redact_url(&e.to_string(), &webhook.url, &webhook.shown),
        }
    }
    Err(format!("{last} after {} attempt(s)", retries + 1))
}

fn redact_url(text: &str, url: &str, shown: &str) -> String {
    text.replace(url, shown)
}

/// Appends the run to the GitHub Actions job summary, when there is one.
pub fn github_summary(e: &Event, result: &str, phases: &[crate::engine::journal::PhaseRecord]) {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let mut md = format!(
        "### runner: {} {} to {} — {result}\n\n| phase | status | detail | ms |\n|---|---|---|---|\n",
        e.kind, e.version, e.environment
    );
    for p in phases {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.phase,
            p.status,
            redact_text(&p.detail).replace('|', "\\|"),
            p.duration_ms
        ));
    }
    md.push('\n');
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = f.write_all(md.as_bytes());
    }
}
