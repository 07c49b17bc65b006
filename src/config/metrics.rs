//! `metrics` of an environment: where runner reads the release's measurements from, and the
//! thresholds they are judged against. `metrics = "http://host/metrics"` is the short form (a
//! Prometheus text endpoint, default thresholds); `[environments.E.metrics]` says more.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::reader::Reader;

/// The five measurements runner judges a release by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    ErrorRate,
    P99,
    Cpu,
    Memory,
    QueueDepth,
}

/// How a metric's values are written for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A ratio, shown as a percentage (0.0025 -> 0.25 %).
    Ratio,
    /// Seconds, shown in ms or s.
    Seconds,
    Count,
}

impl MetricName {
    pub const ALL: [MetricName; 5] = [
        MetricName::ErrorRate,
        MetricName::P99,
        MetricName::Cpu,
        MetricName::Memory,
        MetricName::QueueDepth,
    ];

    pub fn key(self) -> &'static str {
        match self {
            MetricName::ErrorRate => "error_rate",
            MetricName::P99 => "p99",
            MetricName::Cpu => "cpu",
            MetricName::Memory => "memory",
            MetricName::QueueDepth => "queue_depth",
        }
    }

    /// As the dashboard names it.
    pub fn label(self) -> &'static str {
        match self {
            MetricName::ErrorRate => "error rate",
            MetricName::P99 => "p99 latency",
            MetricName::Cpu => "CPU",
            MetricName::Memory => "memory",
            MetricName::QueueDepth => "queue depth",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            MetricName::ErrorRate | MetricName::Cpu | MetricName::Memory => Unit::Ratio,
            MetricName::P99 => Unit::Seconds,
            MetricName::QueueDepth => Unit::Count,
        }
    }

    /// The workflow's alert thresholds: error rate > 1 %, p99 > 500 ms, CPU > 80 %, memory >
    /// 85 %, queue depth > 1000.
    pub fn default_threshold(self) -> f64 {
        match self {
            MetricName::ErrorRate => 0.01,
            MetricName::P99 => 0.5,
            MetricName::Cpu => 0.8,
            MetricName::Memory => 0.85,
            MetricName::QueueDepth => 1000.0,
        }
    }
}

impl Unit {
    /// `value` as people read it: `0.25 %`, `120 ms`, `1.2 s`, `1000`.
    pub fn show(self, value: f64) -> String {
        if value.is_nan() {
            return "NaN".into();
        }
        match self {
            Unit::Ratio => {
                let pct = value * 100.0;
                if pct != 0.0 && pct.abs() < 0.1 {
                    format!("{pct:.3} %")
                } else if pct.fract() == 0.0 {
                    format!("{pct:.0} %")
                } else {
                    format!("{pct:.2} %")
                }
            }
            Unit::Seconds if value < 1.0 => format!("{:.0} ms", value * 1000.0),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Count if value.fract() == 0.0 => format!("{value:.0}"),
            Unit::Count => format!("{value:.1}"),
        }
    }
}

/// Where the measurements come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MetricsSource {
    /// Prometheus text scraped from this URL (`{address}`, `{host}`, `{port}`: per server).
    Scrape { url: String },
    /// The Prometheus HTTP API, a PromQL query per metric (`{version}`, `{env}`, `{window}`
    /// filled in).
    Prometheus {
        url: String,
        queries: BTreeMap<String, String>,
    },
    /// HAProxy's counters per server (the environment's router).
    Haproxy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub source: MetricsSource,
    /// The span each evaluation measures.
    #[serde(with = "super::humantime_serde")]
    pub window: Duration,
    /// Fewer requests than this in a window: inconclusive.
    pub min_requests: u64,
    /// Failed evaluations that fail an analysis.
    pub failure_limit: u32,
    /// Consecutive evaluations whose source could not be read that fail an analysis.
    pub error_limit: u32,
    /// What memory is measured against (bytes).
    pub memory_limit: Option<u64>,
    /// Each metric's threshold in its unit; `None`: off.
    pub thresholds: BTreeMap<MetricName, Option<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsTable {
    scrape: Option<String>,
    prometheus: Option<String>,
    haproxy: Option<bool>,
    window: Option<String>,
    min_requests: Option<u64>,
    failure_limit: Option<u32>,
    error_limit: Option<u32>,
    memory_limit: Option<String>,
    error_rate: Option<toml::Value>,
    p99: Option<toml::Value>,
    cpu: Option<toml::Value>,
    memory: Option<toml::Value>,
    queue_depth: Option<toml::Value>,
    #[serde(default)]
    queries: BTreeMap<String, String>,
}

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

impl Metrics {
    pub fn scrape(url: String) -> Metrics {
        Metrics {
            source: MetricsSource::Scrape { url },
            window: DEFAULT_WINDOW,
            min_requests: 20,
            failure_limit: 1,
            error_limit: 2,
            memory_limit: None,
            thresholds: MetricName::ALL
                .iter()
                .map(|m| (*m, Some(m.default_threshold())))
                .collect(),
        }
    }

    pub fn threshold(&self, m: MetricName) -> Option<f64> {
        self.thresholds.get(&m).copied().flatten()
    }
}

/// Reads `metrics` (a URL, or a table) of environment `env`.
pub(super) fn metrics(
    reader: &Reader<'_>,
    env: &str,
    value: &toml::Spanned<toml::Value>,
) -> Result<Metrics, ConfigError> {
    let at = Place {
        reader,
        offset: value.span().start,
        key: format!("environments.{env}.metrics"),
    };
    let table: MetricsTable = match value.get_ref() {
        toml::Value::String(url) => MetricsTable {
            scrape: Some(url.clone()),
            ..MetricsTable::default()
        },
        other => other
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| at.err(format!("{}: {}", at.key, e.message().trim())))?,
    };
    let mut metrics = Metrics {
        source: source(&table, &at)?,
        ..Metrics::scrape(String::new())
    };
    limits(&table, &mut metrics, &at)?;
    Ok(metrics)
}

/// Where the `metrics` setting is, for its errors.
struct Place<'r> {
    reader: &'r Reader<'r>,
    offset: usize,
    key: String,
}

impl Place<'_> {
    fn err(&self, message: String) -> ConfigError {
        self.reader.error_at(self.offset, message)
    }

    /// The URL of `metrics.<k>`, its variables filled in, checked to be http(s) (with its
    /// `{address}` placeholders).
    fn url(&self, url: &str, k: &str) -> Result<String, ConfigError> {
        let key = &self.key;
        let url = self.reader.fill(url, self.offset, &format!("{key}.{k}"))?;
        let sample = url
            .replace("{address}", "127.0.0.1:1")
            .replace("{host}", "127.0.0.1")
            .replace("{port}", "1");
        match url::Url::parse(&sample) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url),
            _ => Err(self.err(format!(
                "{key}.{k}: `{url}` is not an http(s) URL; write e.g. \"http://{{address}}/metrics\""
            ))),
        }
    }
}

/// Where the metrics come from: exactly one of scrape, prometheus (with its queries) and
/// haproxy.
fn source(table: &MetricsTable, at: &Place<'_>) -> Result<MetricsSource, ConfigError> {
    let key = &at.key;
    let sources = [
        table.scrape.is_some(),
        table.prometheus.is_some(),
        table.haproxy == Some(true),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(at.err(format!(
            "{key}: give exactly one source: scrape = \"http://{{address}}/metrics\" (Prometheus text), prometheus = \"http://127.0.0.1:9090\" (its HTTP API), or haproxy = true (the router's counters)"
        )));
    }
    let source = if let Some(url) = &table.scrape {
        MetricsSource::Scrape {
            url: at.url(url, "scrape")?,
        }
    } else if let Some(url) = &table.prometheus {
        prometheus(table, url, at)?
    } else {
        MetricsSource::Haproxy
    };
    if !table.queries.is_empty() && !matches!(source, MetricsSource::Prometheus { .. }) {
        return Err(at.err(format!(
            "{key}.queries: PromQL queries need the Prometheus source (prometheus = \"http://...:9090\")"
        )));
    }
    Ok(source)
}

/// Prometheus's HTTP API at `url`, with the PromQL queries the table names.
fn prometheus(
    table: &MetricsTable,
    url: &str,
    at: &Place<'_>,
) -> Result<MetricsSource, ConfigError> {
    let url = at.url(url, "prometheus")?;
    for name in table.queries.keys() {
        if !MetricName::ALL.iter().any(|m| m.key() == name)
            && name != "requests"
            && name != "active_users"
        {
            return Err(at.err(format!(
                "{}.queries.{name}: not a metric runner measures; use error_rate, p99, cpu, memory, queue_depth, requests or active_users",
                at.key
            )));
        }
    }
    Ok(MetricsSource::Prometheus {
        url,
        queries: table.queries.clone(),
    })
}

/// The window, the counts and the thresholds the table sets (the defaults stay otherwise).
fn limits(table: &MetricsTable, metrics: &mut Metrics, at: &Place<'_>) -> Result<(), ConfigError> {
    let key = &at.key;
    if let Some(w) = &table.window {
        metrics.window = humantime::parse_duration(w)
            .ok()
            .filter(|d| *d >= Duration::from_secs(1))
            .ok_or_else(|| {
                at.err(format!(
                    "{key}.window: `{w}` is not a duration of 1s or more; write e.g. \"30s\""
                ))
            })?;
    }
    if let Some(n) = table.min_requests {
        metrics.min_requests = n;
    }
    for (value, k, slot) in [
        (
            table.failure_limit,
            "failure_limit",
            &mut metrics.failure_limit,
        ),
        (table.error_limit, "error_limit", &mut metrics.error_limit),
    ] {
        match value {
            Some(0) => return Err(at.err(format!("{key}.{k} must be at least 1"))),
            Some(n) => *slot = n,
            None => {}
        }
    }
    if let Some(m) = &table.memory_limit {
        metrics.memory_limit = Some(bytes(m).ok_or_else(|| {
            at.err(format!(
                "{key}.memory_limit: `{m}` is not a size; write e.g. \"512MiB\" or \"2GB\""
            ))
        })?);
    }
    for (name, value) in [
        (MetricName::ErrorRate, &table.error_rate),
        (MetricName::P99, &table.p99),
        (MetricName::Cpu, &table.cpu),
        (MetricName::Memory, &table.memory),
        (MetricName::QueueDepth, &table.queue_depth),
    ] {
        if let Some(v) = value {
            let parsed =
                threshold(name, v).map_err(|why| at.err(format!("{key}.{}: {why}", name.key())))?;
            metrics.thresholds.insert(name, parsed);
        }
    }
    Ok(())
}

/// A threshold as people write it: `"1%"`, `"500ms"`, `1000`, or `"off"`.
fn threshold(name: MetricName, v: &toml::Value) -> Result<Option<f64>, String> {
    if v.as_str() == Some("off") {
        return Ok(None);
    }
    let example = match name.unit() {
        Unit::Ratio => "\"1%\"",
        Unit::Seconds => "\"500ms\"",
        Unit::Count => "1000",
    };
    let shown = match v {
        toml::Value::String(s) => format!("\"{s}\""),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(n) => n.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => "this value".to_string(),
    };
    let bad = || format!("{shown} is not a threshold; write e.g. {example}, or \"off\"");
    match (name.unit(), v) {
        (Unit::Ratio, toml::Value::String(s)) => s
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| (0.0..=100.0).contains(p))
            .map(|p| Some(p / 100.0))
            .ok_or_else(bad),
        (Unit::Seconds, toml::Value::String(s)) => humantime::parse_duration(s)
            .map(|d| Some(d.as_secs_f64()))
            .map_err(|_| bad()),
        (Unit::Count, toml::Value::Integer(n)) if *n >= 0 => Ok(Some(*n as f64)),
        (Unit::Count, toml::Value::Float(n)) if *n >= 0.0 => Ok(Some(*n)),
        _ => Err(bad()),
    }
}

/// `512MiB`, `2GB`, `1048576`: bytes.
fn bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_as_people_read_them() {
        assert_eq!(Unit::Ratio.show(0.0025), "0.25 %");
        assert_eq!(Unit::Ratio.show(0.01), "1 %");
        assert_eq!(Unit::Ratio.show(0.0), "0 %");
        assert_eq!(Unit::Seconds.show(0.12), "120 ms");
        assert_eq!(Unit::Seconds.show(1.5), "1.50 s");
        assert_eq!(Unit::Count.show(1000.0), "1000");
        assert_eq!(Unit::Ratio.show(f64::NAN), "NaN");
    }

    #[test]
    fn thresholds_and_sizes_are_read_in_their_units() {
        let s = |t: &str| toml::Value::String(t.into());
        assert_eq!(threshold(MetricName::ErrorRate, &s("1%")), Ok(Some(0.01)));
        assert_eq!(threshold(MetricName::P99, &s("500ms")), Ok(Some(0.5)));
        assert_eq!(
            threshold(MetricName::QueueDepth, &toml::Value::Integer(1000)),
            Ok(Some(1000.0))
        );
        assert_eq!(threshold(MetricName::Cpu, &s("off")), Ok(None));
        assert!(
            threshold(MetricName::ErrorRate, &s("0.01"))
                .unwrap_err()
                .contains("\"1%\"")
        );
        assert_eq!(bytes("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(bytes("2GB"), Some(2_000_000_000));
        assert_eq!(bytes("lots"), None);
    }
}
