//! Prometheus text scraped from each server's `/metrics` (parsed by `prometheus-parse`), read
//! twice, a window apart: counters and histograms as deltas (a counter that went down was
//! reset: its new value is the delta, as Prometheus takes it), gauges as they end.
//!
//! Names follow the common conventions: `http_requests_total` with a `status` (or `code`)
//! label, the `http_request_duration_seconds` histogram, `process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, a `queue_depth` gauge and an `active_users` gauge.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use super::{Group, Values, Variant};
use crate::config::MetricName;

/// One server's reading.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    requests: Option<f64>,
    errors: f64,
    /// Cumulative bucket counts by upper bound.
    buckets: BTreeMap<u64, (f64, f64)>,
    cpu_seconds: Option<f64>,
    memory_bytes: Option<f64>,
    queue_depth: Option<f64>,
    active_users: Option<f64>,
    /// Series labelled with the flag of the variant asked for were found.
    pub labelled: bool,
}

/// Readings by URL.
pub type Readings = BTreeMap<String, Reading>;

/// The URLs to read for `group`: one per server when the URL names the server.
pub fn targets(url: &str, group: &Group, addresses: &BTreeMap<String, String>) -> Vec<String> {
    let per_server = ["{address}", "{host}", "{port}"]
        .iter()
        .any(|p| url.contains(p));
    if !per_server || group.servers.is_empty() {
        return vec![url.to_string()];
    }
    group
        .servers
        .iter()
        .filter_map(|s| addresses.get(s))
        .map(|address| {
            let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
            url.replace("{address}", address)
                .replace("{host}", host)
                .replace("{port}", port)
        })
        .collect()
}

/// Scrapes every target; any that cannot be read makes the whole reading an error. With
/// `variant`, only the requests of that variant count.
pub fn read(urls: &[String], variant: Option<&Variant>) -> Result<Readings, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    urls.iter()
        .map(|url| {
            let text = agent
                .get(url)
                .call()
                .map_err(|e| format!("{url}: {e}"))?
                .body_mut()
                .read_to_string()
                .map_err(|e| format!("{url}: {e}"))?;
            Ok((
                url.clone(),
                parse(&text, variant).map_err(|e| format!("{url}: {e}"))?,
            ))
        })
        .collect()
}

/// One server's text, summed over every series of each metric (with `variant`, over the
/// request series of that variant only).
pub fn parse(text: &str, variant: Option<&Variant>) -> Result<Reading, String> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("not Prometheus text: {e}"))?;
    let mut r = Reading::default();
    let add = |slot: &mut Option<f64>, x: f64| *slot = Some(slot.unwrap_or(0.0) + x);
    for s in &scrape.samples {
        if let Some(v) = variant {
            if s.labels.get("feature_flag_key") != Some(v.flag.as_str()) {
                continue;
            }
            r.labelled = true;
            let served = s
                .labels
                .get("feature_flag_result_variant")
                .or_else(|| s.labels.get("feature_flag_variant"));
            if served != Some(v.variant.as_str()) {
                continue;
            }
        }
        let single = match &s.value {
            Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => Some(*x),
            _ => None,
        };
        match (s.metric.as_str(), single, &s.value) {
            ("http_requests_total", Some(x), _) => {
                add(&mut r.requests, x);
                let status = s.labels.get("status").or_else(|| s.labels.get("code"));
                if status.is_some_and(|c| c.starts_with('5')) {
                    r.errors += x;
                }
            }
            ("http_request_duration_seconds", _, Value::Histogram(buckets)) => {
                for b in buckets {
                    // Keyed by the bound's bits: f64 is not Ord; +Inf sorts last.
                    let entry = r
                        .buckets
                        .entry(order_key(b.less_than))
                        .or_insert((b.less_than, 0.0));
                    entry.1 += b.count;
                }
            }
            ("process_cpu_seconds_total", Some(x), _) => add(&mut r.cpu_seconds, x),
            ("process_resident_memory_bytes", Some(x), _) => add(&mut r.memory_bytes, x),
            ("queue_depth", Some(x), _) => add(&mut r.queue_depth, x),
            ("active_users", Some(x), _) => add(&mut r.active_users, x),
            _ => {}
        }
    }
    Ok(r)
}

/// A sort key for non-negative bounds (and +Inf): their bits order like the numbers.
fn order_key(bound: f64) -> u64 {
    if bound.is_infinite() {
        u64::MAX
    } else {
        bound.max(0.0).to_bits()
    }
}

fn delta(before: f64, after: f64) -> f64 {
    if after >= before {
        after - before
    } else {
        after
    }
}

/// What a group's servers did between two readings (with `variant`: its requests only).
pub fn values(
    before: &Readings,
    after: &Readings,
    window: Duration,
    variant: Option<&Variant>,
) -> Values {
    let mut v = Values::default();
    let (mut requests, mut errors) = (None::<f64>, 0.0);
    let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    let (mut cpu, mut memory, mut queue, mut users) =
        (None::<f64>, None::<f64>, None::<f64>, None::<f64>);
    let servers = after.len().max(1) as f64;
    for (url, a) in after {
        let b = before.get(url).cloned().unwrap_or_default();
        if let Some(total) = a.requests {
            *requests.get_or_insert(0.0) += delta(b.requests.unwrap_or(0.0), total);
            errors += delta(b.errors, a.errors);
        }
        for (key, (bound, count)) in &a.buckets {
            let was = b.buckets.get(key).map_or(0.0, |x| x.1);
            buckets.entry(*key).or_insert((*bound, 0.0)).1 += delta(was, *count);
        }
        if let Some(c) = a.cpu_seconds {
            *cpu.get_or_insert(0.0) +=
                delta(b.cpu_seconds.unwrap_or(0.0), c) / window.as_secs_f64().max(0.001) / servers;
        }
        if let Some(m) = a.memory_bytes {
            memory = Some(memory.unwrap_or(0.0).max(m));
        }
        if let Some(q) = a.queue_depth {
            queue = Some(queue.unwrap_or(0.0).max(q));
        }
        if let Some(u) = a.active_users {
            *users.get_or_insert(0.0) += u;
        }
    }
    v.requests = requests;
    v.error_rate = requests.filter(|r| *r > 0.0).map(|r| errors / r);
    v.buckets = buckets.into_values().collect::<Vec<_>>();
    v.p99 = quantile(0.99, &v.buckets);
    v.cpu = cpu;
    v.memory_bytes = memory;
    v.queue_depth = queue;
    v.active_users = users;
    describe_queries(&mut v, variant);
    v
}

/// Says what each value is computed from (the scrape's "queries"); for a flag's variant, which
/// series, and which metrics a variant cannot have apart.
fn describe_queries(v: &mut Values, variant: Option<&Variant>) {
    for (m, q) in [
        (
            MetricName::ErrorRate,
            "Δhttp_requests_total{status=~\"5..\"} / Δhttp_requests_total",
        ),
        (
            MetricName::P99,
            "0.99 quantile of Δhttp_request_duration_seconds buckets",
        ),
        (
            MetricName::Cpu,
            "Δprocess_cpu_seconds_total / window, per server",
        ),
        (
            MetricName::Memory,
            "max process_resident_memory_bytes / memory_limit",
        ),
        (MetricName::QueueDepth, "max queue_depth"),
    ] {
        v.queries.insert(m, q.to_string());
    }
    let Some(variant) = variant else {
        return;
    };
    let only = format!(
        "{{feature_flag_key=\"{}\", feature_flag_result_variant=\"{}\"}}",
        variant.flag, variant.variant
    );
    for m in [MetricName::ErrorRate, MetricName::P99] {
        if let Some(q) = v.queries.get_mut(&m) {
            q.push_str(&format!(" of the series {only}"));
        }
    }
    // The same processes serve every variant.
    for m in [MetricName::Cpu, MetricName::Memory, MetricName::QueueDepth] {
        v.unmeasured
            .insert(m, "the same processes serve every variant".into());
    }
    if v.p99.is_none() {
        v.unmeasured.insert(
            MetricName::P99,
            "the app does not label its latency histogram by variant".into(),
        );
    }
}

/// The `q` quantile of cumulative buckets `(upper bound, count)`, interpolated linearly in
/// the bucket it falls in, as Prometheus's `histogram_quantile` does. None without counts.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                // In the +Inf bucket: the highest finite bound is all that is known.
                return Some(lower.0);
            }
            let within = count - lower.1;
            let fraction = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * fraction);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE http_requests_total counter\n\
        http_requests_total{version=\"1\",status=\"200\"} 95\n\
        http_requests_total{version=\"1\",status=\"500\"} 5\n\
        # TYPE http_request_duration_seconds histogram\n\
        http_request_duration_seconds_bucket{le=\"0.1\"} 90\n\
        http_request_duration_seconds_bucket{le=\"0.5\"} 99\n\
        http_request_duration_seconds_bucket{le=\"+Inf\"} 100\n\
        http_request_duration_seconds_sum 4\n\
        http_request_duration_seconds_count 100\n\
        # TYPE process_cpu_seconds_total counter\n\
        process_cpu_seconds_total 2.5\n\
        # TYPE queue_depth gauge\n\
        queue_depth 7\n";

    #[test]
    fn a_variant_counts_only_its_own_requests() {
        let text = "# TYPE http_requests_total counter\n\
            http_requests_total{feature_flag_key=\"new-checkout\",feature_flag_result_variant=\"on\",status=\"500\"} 3\n\
            http_requests_total{feature_flag_key=\"new-checkout\",feature_flag_result_variant=\"on\",status=\"200\"} 7\n\
            http_requests_total{feature_flag_key=\"new-checkout\",feature_flag_result_variant=\"off\",status=\"200\"} 90\n\
            http_requests_total{status=\"200\"} 1000\n\
            # TYPE process_cpu_seconds_total counter\n\
            process_cpu_seconds_total 2.5\n";
        let on = Variant {
            flag: "new-checkout".into(),
            variant: "on".into(),
        };
        let reading = parse(text, Some(&on)).unwrap();
        assert!(reading.labelled);
        let before: Readings = [("u".to_string(), Reading::default())].into();
        let after: Readings = [("u".to_string(), reading)].into();
        let v = values(&before, &after, Duration::from_secs(10), Some(&on));
        assert_eq!((v.requests, v.error_rate), (Some(10.0), Some(0.3)));
        assert!(v.unmeasured.contains_key(&MetricName::Cpu));
        assert!(v.unmeasured.contains_key(&MetricName::P99));
        let other = Variant {
            flag: "dark-mode".into(),
            variant: "on".into(),
        };
        assert!(!parse(text, Some(&other)).unwrap().labelled);
    }

    #[test]
    fn deltas_over_a_window_give_rates_and_quantiles() {
        let before: Readings = [("u".to_string(), Reading::default())].into();
        let after: Readings = [("u".to_string(), parse(TEXT, None).unwrap())].into();
        let v = values(&before, &after, Duration::from_secs(10), None);
        assert_eq!(v.requests, Some(100.0));
        assert_eq!(v.error_rate, Some(0.05));
        assert!((v.p99.unwrap() - 0.5).abs() < 1e-9, "{:?}", v.p99);
        assert!((v.cpu.unwrap() - 0.25).abs() < 1e-9);
        assert_eq!(v.queue_depth, Some(7.0));
    }

    #[test]
    fn a_reset_counter_counts_from_zero_and_no_requests_is_no_error_rate() {
        let mut high = Reading {
            requests: Some(1000.0),
            errors: 10.0,
            ..Reading::default()
        };
        let after: Readings = [("u".to_string(), parse(TEXT, None).unwrap())].into();
        let before: Readings = [("u".to_string(), high.clone())].into();
        assert_eq!(
            values(&before, &after, Duration::from_secs(1), None).requests,
            Some(100.0)
        );
        high.requests = Some(0.0);
        let empty: Readings = [(
            "u".to_string(),
            Reading {
                requests: Some(0.0),
                ..Reading::default()
            },
        )]
        .into();
        assert_eq!(
            values(&empty, &empty, Duration::from_secs(1), None).error_rate,
            None
        );
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let b = [(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.99, &b).unwrap() - 0.198).abs() < 1e-9);
        assert_eq!(quantile(0.99, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(
            quantile(0.99, &[(0.1, 0.0), (f64::INFINITY, 5.0)]),
            Some(0.1)
        );
    }
}
