//! The Prometheus HTTP API: one instant query (`/api/v1/query`) per metric, each over the
//! window, for one release's series (`{version}` in the query). An empty result is no data;
//! NaN stays NaN (the judge calls both inconclusive).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Group, Values};
use crate::config::MetricName;

/// The default queries, for apps that label their series with `version` (and for the demo
/// app). `{window}` is the window in seconds (`30s`).
fn default_query(name: &str) -> &'static str {
    match name {
        "requests" => r#"sum(increase(http_requests_total{version="{version}"}[{window}]))"#,
        "error_rate" => {
            // `or vector(0)`: no 5xx series at all is no errors, not no data.
            r#"(sum(increase(http_requests_total{version="{version}",status=~"5.."}[{window}])) or vector(0)) / sum(increase(http_requests_total{version="{version}"}[{window}]))"#
        }
        "p99" => {
            r#"histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket{version="{version}"}[{window}])))"#
        }
        "cpu" => r#"max(rate(process_cpu_seconds_total{version="{version}"}[{window}]))"#,
        "memory" => r#"max(process_resident_memory_bytes{version="{version}"})"#,
        "queue_depth" => r#"max(queue_depth{version="{version}"})"#,
        "active_users" => r#"sum(active_users{version="{version}"})"#,
        _ => "",
    }
}

/// Runs the queries (at Prometheus's `url`) for `group` of `env` over `window`; memory as a
/// share of `memory_limit`.
pub fn values(
    (url, queries): (&str, &BTreeMap<String, String>),
    group: &Group,
    env: &str,
    window: Duration,
    memory_limit: Option<u64>,
) -> Result<Values, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let window = format!("{}s", window.as_secs().max(1));
    let query_of = |name: &str| {
        queries
            .get(name)
            .map_or(default_query(name), String::as_str)
            .replace("{version}", &group.release)
            .replace("{env}", env)
            .replace("{window}", &window)
    };
    let run = |name: &str| -> Result<(String, Option<f64>), String> {
        let q = query_of(name);
        Ok((q.clone(), instant(&agent, url, &q)?))
    };
    let mut v = Values {
        requests: run("requests")?.1,
        ..Values::default()
    };
    for (m, slot) in [
        (MetricName::ErrorRate, &mut v.error_rate),
        (MetricName::P99, &mut v.p99),
        (MetricName::Cpu, &mut v.cpu),
        (MetricName::QueueDepth, &mut v.queue_depth),
    ] {
        let (q, value) = run(m.key())?;
        *slot = value;
        v.queries.insert(m, q);
    }
    let (q, memory) = run("memory")?;
    if queries.contains_key("memory") {
        // The user's query says what memory is: a ratio.
        v.memory_ratio = memory;
    } else {
        v.memory_bytes = memory;
        if memory_limit.is_some() {
            v.queries
                .insert(MetricName::Memory, format!("{q} / memory_limit"));
        }
    }
    v.queries.entry(MetricName::Memory).or_insert(q);
    v.active_users = run("active_users")?.1;
    Ok(v)
}

/// One instant query: its single value, `None` for an empty result.
fn instant(agent: &ureq::Agent, url: &str, query: &str) -> Result<Option<f64>, String> {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let mut response = agent
        .get(&endpoint)
        .query("query", query)
        .call()
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
        format!(
            "{endpoint}: HTTP {status}, not the Prometheus API: {}",
            body.chars().take(200).collect::<String>()
        )
    })?;
    if json["status"] != "success" {
        return Err(format!(
            "{endpoint}: the query `{query}` failed: {}",
            json["error"].as_str().unwrap_or("unknown error")
        ));
    }
    let data = &json["data"];
    let value = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .and_then(|r| r.first())
            .map(|first| first["value"][1].clone()),
        Some("scalar") => Some(data["result"][1].clone()),
        other => {
            return Err(format!(
                "{endpoint}: the query `{query}` returned a {} where one number was expected",
                other.unwrap_or("result")
            ));
        }
    };
    Ok(value.and_then(|v| v.as_str().map(parse_float)))
}

/// Prometheus writes numbers as strings, with `NaN` and `+Inf`.
fn parse_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        n => n.parse().unwrap_or(f64::NAN),
    }
}
