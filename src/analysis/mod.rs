//! Metrics that act: a release judged by its error rate, p99 latency, CPU, memory and queue
//! depth over a window, from the environment's source (Prometheus text scraped per server, the
//! Prometheus HTTP API, or HAProxy's counters). Verdicts are honest: a metric with no data,
//! NaN or too few requests is inconclusive, a source that cannot be read is an error, and
//! neither ever counts as a pass. A canary is judged against the thresholds and against the
//! stable release measured in the same window. Every measurement is kept with its source,
//! query, value, threshold and verdict, for the deploy record.
//!
//! Used by the canary steps and the post-deploy watch (`deploy`) and by `runner status`.

mod promql;
mod scrape;
pub mod sequential;
mod thresholds;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::haproxy;
use thresholds::{early_failures, judge};

use crate::config::{Environment, MetricName, Metrics, MetricsSource, Server};

/// How one measurement, an evaluation or an analysis came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// No data, NaN, or too few requests: not a pass.
    Inconclusive,
    /// The source could not be read.
    Error,
    /// Not judged: the threshold is off, or the source does not measure it.
    Off,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
            Verdict::Off => "off",
        }
    }

    /// The worst of several: fail, then error, then inconclusive, then pass.
    fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let rank = |v: &Verdict| match v {
            Verdict::Fail => 4,
            Verdict::Error => 3,
            Verdict::Inconclusive => 2,
            Verdict::Pass => 1,
            Verdict::Off => 0,
        };
        verdicts
            .into_iter()
            .max_by_key(rank)
            .filter(|v| *v != Verdict::Off)
            .unwrap_or(Verdict::Inconclusive)
    }
}

/// Which servers (or which release's series) a measurement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// `canary`, `stable` or `release`.
    pub role: String,
    pub release: String,
    /// The servers measured (empty: the environment's single endpoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// Only the requests served one variant of a feature flag (a flag's ramp, when the app
    /// labels its request metrics by variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
}

/// The requests a flag gave one variant: series labelled `feature_flag_key` = `flag` and
/// `feature_flag_result_variant` (or `feature_flag_variant`) = `variant`, the OpenTelemetry
/// semantic conventions' attributes as Prometheus labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub flag: String,
    pub variant: String,
}

/// One metric of one group in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub metric: MetricName,
    pub role: String,
    pub release: String,
    /// Where it was read: a URL, `prometheus URL`, `haproxy SOCKET`.
    pub source: String,
    /// The PromQL query, or how the value was computed.
    pub query: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub verdict: Verdict,
    /// Why, in words: `5.00 % > 1 %`, `fewer than 20 requests (12)`.
    pub why: String,
}

impl Measurement {
    /// `error rate of 1.1.0 (canary): 5.00 % > 1 % threshold`.
    pub fn describe(&self) -> String {
        format!(
            "{} of {} ({}): {}",
            self.metric.label(),
            self.release,
            self.role,
            self.why
        )
    }
}

/// One window's measurements of every group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// When the window ended (RFC 3339).
    pub at: String,
    pub window_ms: u64,
    pub verdict: Verdict,
    pub measurements: Vec<Measurement>,
    /// Extra readings shown but not judged (active users), by group role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shown: BTreeMap<String, f64>,
}

impl Evaluation {
    /// The measurements that failed, in words.
    pub fn failures(&self) -> Vec<String> {
        self.measurements
            .iter()
            .filter(|m| m.verdict == Verdict::Fail)
            .map(Measurement::describe)
            .collect()
    }

    /// One line: `fail: error rate of 1.1.0 (canary): 5.00 % > 1 %; ...`.
    pub fn summary(&self) -> String {
        let of = |v: Verdict| -> Vec<String> {
            self.measurements
                .iter()
                .filter(|m| m.verdict == v)
                .map(Measurement::describe)
                .collect()
        };
        let reasons = match self.verdict {
            Verdict::Fail => of(Verdict::Fail),
            Verdict::Error => of(Verdict::Error),
            Verdict::Inconclusive => of(Verdict::Inconclusive),
            _ => {
                let passed = self
                    .measurements
                    .iter()
                    .filter(|m| m.verdict == Verdict::Pass)
                    .count();
                vec![format!("{passed} measurement(s) within their thresholds")]
            }
        };
        format!("{}: {}", self.verdict.name(), reasons.join("; "))
    }
}

/// What one source read for one group over a window, in base units (ratios, seconds, bytes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub requests: Option<f64>,
    pub error_rate: Option<f64>,
    pub p99: Option<f64>,
    pub cpu: Option<f64>,
    pub memory_bytes: Option<f64>,
    /// A memory ratio read directly (a PromQL query of the user's).
    pub memory_ratio: Option<f64>,
    pub queue_depth: Option<f64>,
    pub active_users: Option<f64>,
    /// The latency histogram over the window: (upper bound in seconds, requests within it),
    /// cumulative; for the share of requests slower than the p99 threshold.
    pub buckets: Vec<(f64, f64)>,
    /// How each metric was computed (its query), by metric.
    pub queries: BTreeMap<MetricName, String>,
    /// Metrics this source does not measure, with why.
    pub unmeasured: BTreeMap<MetricName, String>,
}

/// A window being measured: opened, then closed into an evaluation.
pub struct Window {
    metrics: Metrics,
    groups: Vec<Group>,
    addresses: BTreeMap<String, String>,
    router_socket: Option<(std::path::PathBuf, String)>,
    env: String,
    opened: Instant,
    before: Result<Vec<Snapshot>, String>,
}

/// A flag's two variants as the groups to judge, the new one (`on`) as a canary against
/// `off` in the same window on the same servers, when the app labels its request metrics by
/// variant (scraped directly); `None` otherwise: the ramp is judged overall.
pub fn by_variant(
    env: &Environment,
    metrics: &Metrics,
    overall: &[Group],
    flag: &str,
) -> Option<Vec<Group>> {
    let MetricsSource::Scrape { url } = &metrics.source else {
        return None;
    };
    let mut servers: Vec<String> = overall.iter().flat_map(|g| g.servers.clone()).collect();
    servers.sort();
    servers.dedup();
    let variant = |v: &str| Variant {
        flag: flag.to_string(),
        variant: v.to_string(),
    };
    let group = |role: &str, v: &str| Group {
        role: role.into(),
        release: format!("{flag}={v}"),
        servers: servers.clone(),
        variant: Some(variant(v)),
    };
    let addresses = env
        .rollout
        .servers
        .iter()
        .map(|s| (s.name.clone(), s.address.clone()))
        .collect();
    let canary = group("canary", "on");
    let readings = scrape::read(
        &scrape::targets(url, &canary, &addresses),
        canary.variant.as_ref(),
    )
    .ok()?;
    readings
        .values()
        .any(|r| r.labelled)
        .then(|| vec![canary, group("stable", "off")])
}

/// What a source read at the start of a window.
enum Snapshot {
    Scrape(scrape::Readings),
    Haproxy(BTreeMap<String, haproxy::StatRow>),
    Nothing,
}

impl Window {
    /// Starts measuring `groups` of `env` now.
    pub fn open(env: &Environment, metrics: &Metrics, groups: Vec<Group>) -> Window {
        let addresses = env
            .rollout
            .servers
            .iter()
            .map(|s: &Server| (s.name.clone(), s.address.clone()))
            .collect();
        let router_socket = env
            .rollout
            .router
            .as_ref()
            .filter(|r| r.kind == crate::config::RouterKind::Haproxy)
            .map(|r| (r.socket.clone(), r.backend.clone()));
        let mut w = Window {
            metrics: metrics.clone(),
            groups,
            addresses,
            router_socket,
            env: env.name.clone(),
            opened: Instant::now(),
            before: Ok(Vec::new()),
        };
        w.before = w.groups.iter().map(|g| w.snapshot(g)).collect();
        w
    }

    fn snapshot(&self, group: &Group) -> Result<Snapshot, String> {
        match &self.metrics.source {
            MetricsSource::Scrape { url } => scrape::read(
                &scrape::targets(url, group, &self.addresses),
                group.variant.as_ref(),
            )
            .map(Snapshot::Scrape),
            MetricsSource::Haproxy => {
                let (socket, backend) = self
                    .router_socket
                    .as_ref()
                    .ok_or("haproxy = true needs the environment's router to be HAProxy")?;
                haproxy::Runtime::new(socket)
                    .stat(backend)
                    .map(Snapshot::Haproxy)
            }
            MetricsSource::Prometheus { .. } => Ok(Snapshot::Nothing),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Looks at the window before its end: a failing evaluation when the evidence is already
    /// decisive (`sequential`), `None` otherwise (it never passes early). Only sources whose
    /// counts can be read at any moment (a direct scrape, HAProxy's counters) are looked at.
    pub fn peek(&self) -> Option<Evaluation> {
        if matches!(self.metrics.source, MetricsSource::Prometheus { .. }) {
            return None;
        }
        let window = self.opened.elapsed();
        let snapshots = self.before.as_ref().ok()?;
        let source = self.source_name();
        let mut measurements = Vec::new();
        for (i, group) in self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.role != "stable")
        {
            let Ok(v) = self.read(group, snapshots.get(i), window) else {
                continue;
            };
            measurements.extend(early_failures(&self.metrics, group, &v, &source, window));
        }
        if measurements.is_empty() {
            return None;
        }
        Some(Evaluation {
            at: crate::runtime::timestamp_now(),
            window_ms: window.as_millis() as u64,
            verdict: Verdict::Fail,
            measurements,
            shown: BTreeMap::new(),
        })
    }

    /// Ends the window: reads each group again and judges it.
    pub fn close(self) -> Evaluation {
        let mut window = self.opened.elapsed();
        if matches!(self.metrics.source, MetricsSource::Prometheus { .. })
            && window < Duration::from_secs(1)
        {
            window = self.metrics.window;
        }
        let source = self.source_name();
        let mut measurements = Vec::new();
        let mut shown = BTreeMap::new();
        let before = self.before.as_ref();
        let mut values: Vec<(Group, Result<Values, String>)> = Vec::new();
        for (i, group) in self.groups.iter().enumerate() {
            let read = match before {
                Err(e) => Err(e.clone()),
                Ok(snapshots) => self.read(group, snapshots.get(i), window),
            };
            values.push((group.clone(), read));
        }
        let stable = values
            .iter()
            .find(|(g, _)| g.role == "stable")
            .and_then(|(_, v)| v.as_ref().ok())
            .cloned();
        for (group, read) in &values {
            match read {
                Ok(v) => {
                    if let Some(users) = v.active_users {
                        shown.insert(format!("active users ({})", group.role), users);
                    }
                    let compare = (group.role == "canary")
                        .then_some(stable.as_ref())
                        .flatten();
                    measurements.extend(judge(&self.metrics, group, v, compare, &source));
                }
                Err(e) => measurements.extend(MetricName::ALL.iter().map(|m| Measurement {
                    metric: *m,
                    role: group.role.clone(),
                    release: group.release.clone(),
                    source: source.clone(),
                    query: String::new(),
                    value: None,
                    threshold: self.metrics.threshold(*m),
                    verdict: Verdict::Error,
                    why: format!("cannot read {source}: {e}"),
                })),
            }
        }
        let verdict = Verdict::worst(measurements.iter().map(|m| m.verdict));
        Evaluation {
            at: crate::runtime::timestamp_now(),
            window_ms: window.as_millis() as u64,
            verdict,
            measurements,
            shown,
        }
    }

    fn source_name(&self) -> String {
        match &self.metrics.source {
            MetricsSource::Scrape { url } => url.clone(),
            MetricsSource::Prometheus { url, .. } => format!("prometheus {url}"),
            MetricsSource::Haproxy => match &self.router_socket {
                Some((socket, backend)) => {
                    format!("haproxy {} backend {backend}", socket.display())
                }
                None => "haproxy".into(),
            },
        }
    }

    fn read(
        &self,
        group: &Group,
        before: Option<&Snapshot>,
        window: Duration,
    ) -> Result<Values, String> {
        match (&self.metrics.source, before) {
            (MetricsSource::Scrape { url }, Some(Snapshot::Scrape(before))) => {
                let targets = scrape::targets(url, group, &self.addresses);
                let after = scrape::read(&targets, group.variant.as_ref())?;
                Ok(scrape::values(
                    before,
                    &after,
                    window,
                    group.variant.as_ref(),
                ))
            }
            (MetricsSource::Haproxy, Some(Snapshot::Haproxy(before))) => {
                let (socket, backend) = self
                    .router_socket
                    .as_ref()
                    .ok_or("haproxy = true needs the environment's router to be HAProxy")?;
                let after = haproxy::Runtime::new(socket).stat(backend)?;
                Ok(haproxy_values(before, &after, group))
            }
            (MetricsSource::Prometheus { url, queries }, _) => {
                // Over the time waited; a window closed at once (a status) looks back over
                // the configured window.
                let span = if window >= Duration::from_secs(1) {
                    window
                } else {
                    self.metrics.window
                };
                promql::values(
                    (url, queries),
                    group,
                    &self.env,
                    span,
                    self.metrics.memory_limit,
                )
            }
            _ => Err("the window was not opened".into()),
        }
    }
}

/// Per-server response counters of HAProxy over a window: error rate and queue.
fn haproxy_values(
    before: &BTreeMap<String, haproxy::StatRow>,
    after: &BTreeMap<String, haproxy::StatRow>,
    group: &Group,
) -> Values {
    let statuses = [
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
    ];
    let delta = |server: &str, column: &str| {
        let b = before
            .get(server)
            .map_or(0.0, |r| haproxy::number(r, column));
        let a = after
            .get(server)
            .map_or(0.0, |r| haproxy::number(r, column));
        if a >= b { a - b } else { a }
    };
    let (mut requests, mut errors, mut queue) = (0.0, 0.0, 0.0f64);
    for s in &group.servers {
        requests += statuses.iter().map(|c| delta(s, c)).sum::<f64>();
        errors += delta(s, "hrsp_5xx");
        queue = queue.max(after.get(s).map_or(0.0, |r| haproxy::number(r, "qcur")));
    }
    let mut v = Values {
        requests: Some(requests),
        error_rate: (requests > 0.0).then(|| errors / requests),
        queue_depth: Some(queue),
        ..Values::default()
    };
    v.queries.insert(
        MetricName::ErrorRate,
        "Δhrsp_5xx / Δ(hrsp_1xx..hrsp_other) per server of show stat".into(),
    );
    v.queries
        .insert(MetricName::QueueDepth, "max qcur of show stat".into());
    for m in [MetricName::P99, MetricName::Cpu, MetricName::Memory] {
        v.unmeasured.insert(m, "HAProxy does not measure it".into());
    }
    v
}

/// Evaluations over a canary step or a watch window, against the failure and error limits.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub evaluations: Vec<Evaluation>,
    failures: u32,
    consecutive_errors: u32,
}

impl Analysis {
    /// Adds an evaluation; `Some(Fail)` or `Some(Error)` once a limit is reached.
    pub fn add(&mut self, metrics: &Metrics, e: Evaluation) -> Option<Verdict> {
        match e.verdict {
            Verdict::Fail => {
                self.failures += 1;
                self.consecutive_errors = 0;
            }
            Verdict::Error => self.consecutive_errors += 1,
            _ => self.consecutive_errors = 0,
        }
        self.evaluations.push(e);
        if self.failures >= metrics.failure_limit {
            Some(Verdict::Fail)
        } else if self.consecutive_errors >= metrics.error_limit {
            Some(Verdict::Error)
        } else {
            None
        }
    }

    /// The analysis so far: fail or error at their limits; pass when the last evaluation
    /// passed; otherwise inconclusive (never a pass).
    pub fn verdict(&self, metrics: &Metrics) -> Verdict {
        if self.failures >= metrics.failure_limit {
            return Verdict::Fail;
        }
        if self.consecutive_errors >= metrics.error_limit {
            return Verdict::Error;
        }
        match self.evaluations.last().map(|e| e.verdict) {
            Some(Verdict::Pass) => Verdict::Pass,
            _ => Verdict::Inconclusive,
        }
    }

    pub fn last(&self) -> Option<&Evaluation> {
        self.evaluations.last()
    }
}
