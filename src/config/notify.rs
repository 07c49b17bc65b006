//! `[notify]`: the webhooks told of deploy events, their format, and which events.

use std::time::Duration;

use super::ConfigError;
use super::reader::Reader;

pub(super) fn notify(
    reader: &Reader<'_>,
    t: &super::file::NotifyTable,
) -> Result<super::Notify, ConfigError> {
    let mut webhooks = Vec::new();
    for w in &t.webhooks {
        let (url, _) = reader.text(&w.url, "notify.webhooks.url")?;
        let parsed = url::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(parsed) = parsed else {
            return Err(reader.error_at(
                w.url.span().start,
                "notify.webhooks.url is not an http(s) URL; write e.g. \"https://hooks.slack.com/services/...\"",
            ));
        };
        let shown = format!(
            "{}://{}{}/…",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let format = match &w.format {
            None => super::WebhookFormat::Json,
            Some(f) => {
                match reader.text(f, "notify.webhooks.format")?.0.as_str() {
                    "json" => super::WebhookFormat::Json,
                    "slack" => super::WebhookFormat::Slack,
                    other => {
                        return Err(reader.error_at(
                        f.span().start,
                        format!("notify.webhooks.format: `{other}` is not a format; use json or slack"),
                    ));
                    }
                }
            }
        };
        webhooks.push(super::Webhook { url, shown, format });
    }
    let timeout = match &t.timeout {
        Some(d) => reader
            .duration(d, "notify.timeout")?
            .unwrap_or(Duration::from_secs(5)),
        None => Duration::from_secs(5),
    };
    let mut events: Vec<String> = super::NOTIFY_EVENTS.iter().map(|e| e.to_string()).collect();
    if let Some(list) = &t.events {
        events.clear();
        for e in list.get_ref() {
            let (name, _) = reader.text(e, "notify.events")?;
            if !super::NOTIFY_EVENTS.contains(&name.as_str()) {
                return Err(reader.error_at(
                    e.span().start,
                    format!(
                        "notify.events: `{name}` is not an event; use {}",
                        super::NOTIFY_EVENTS.join(", ")
                    ),
                ));
            }
            events.push(name);
        }
    }
    Ok(super::Notify {
        webhooks,
        timeout,
        retries: t.retries.as_ref().map_or(2, |r| *r.get_ref()),
        events,
    })
}
