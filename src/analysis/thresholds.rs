//! A group's measurements judged: against the environment's thresholds, a canary against the
//! stable release measured in the same window, and early, as soon as the evidence over a
//! threshold is decisive (`sequential`).

use std::time::Duration;

use super::{Group, Measurement, Values, Verdict, sequential};
use crate::config::{MetricName, Metrics};

/// The error rate and p99 of a group that are decisively over their thresholds already.
pub(super) fn early_failures(
    metrics: &Metrics,
    group: &Group,
    v: &Values,
    source: &str,
    window: Duration,
) -> Vec<Measurement> {
    let Some(n) = v.requests else {
        return Vec::new();
    };
    let min = metrics.min_requests as f64;
    let mut out = Vec::new();
    let mut fail = |metric: MetricName, value: Option<f64>, bad: f64, limit: f64, what: &str| {
        if !sequential::decisively_over(bad, n, limit, min) {
            return;
        }
        let lower = sequential::wilson_lower(bad, n, sequential::Z);
        let unit = metric.unit();
        let threshold = metrics.threshold(metric).unwrap_or(limit);
        let shown = value.map_or("?".to_string(), |x| unit.show(x));
        out.push(Measurement {
            metric,
            role: group.role.clone(),
            release: group.release.clone(),
            source: source.to_string(),
            query: v.queries.get(&metric).cloned().unwrap_or_default(),
            value,
            threshold: metrics.threshold(metric),
            verdict: Verdict::Fail,
            why: format!(
                "{shown} > {} threshold, decided before the window's end: {bad:.0} of {n:.0} requests {what} in the first {:.1} s, and even the cautious lower bound of that share, {:.2} %, is over {:.2} % (Wilson, z = {})",
                unit.show(threshold),
                window.as_secs_f64(),
                lower * 100.0,
                limit * 100.0,
                sequential::Z
            ),
        });
    };
    if let (Some(t), Some(rate)) = (metrics.threshold(MetricName::ErrorRate), v.error_rate) {
        fail(
            MetricName::ErrorRate,
            Some(rate),
            (rate * n).round(),
            t,
            "failed",
        );
    }
    if let Some(t) = metrics.threshold(MetricName::P99)
        && let Some(slow) = sequential::slower_than(&v.buckets, n, t)
    {
        let what = format!(
            "took longer than the p99 threshold {}",
            MetricName::P99.unit().show(t)
        );
        fail(MetricName::P99, v.p99, slow, 0.01, &what);
    }
    out
}

/// Judges one group's values against the thresholds, and a canary against the stable release.
pub(super) fn judge(
    metrics: &Metrics,
    group: &Group,
    v: &Values,
    stable: Option<&Values>,
    source: &str,
) -> Vec<Measurement> {
    MetricName::ALL
        .iter()
        .map(|&m| {
            let threshold = metrics.threshold(m);
            let value = value_of(m, v, metrics);
            let (verdict, why) = verdict(m, metrics, v, threshold, value);
            let mut out = Measurement {
                metric: m,
                role: group.role.clone(),
                release: group.release.clone(),
                source: source.to_string(),
                query: v.queries.get(&m).cloned().unwrap_or_default(),
                value,
                threshold,
                verdict,
                why,
            };
            if let Some(base) = stable.and_then(|s| match m {
                MetricName::ErrorRate => s.error_rate,
                MetricName::P99 => s.p99,
                _ => None,
            }) {
                against_stable(&mut out, base);
            }
            out
        })
        .collect()
}

/// The group's value of metric `m` (memory as a share of `memory_limit` when only bytes are
/// measured).
fn value_of(m: MetricName, v: &Values, metrics: &Metrics) -> Option<f64> {
    match m {
        MetricName::ErrorRate => v.error_rate,
        MetricName::P99 => v.p99,
        MetricName::Cpu => v.cpu,
        MetricName::Memory => v.memory_ratio.or_else(|| {
            v.memory_bytes
                .zip(metrics.memory_limit)
                .map(|(b, limit)| b / limit as f64)
        }),
        MetricName::QueueDepth => v.queue_depth,
    }
}

/// A value against its threshold: off, inconclusive (too few requests, no data), failed or
/// passed, and why.
fn verdict(
    m: MetricName,
    metrics: &Metrics,
    v: &Values,
    threshold: Option<f64>,
    value: Option<f64>,
) -> (Verdict, String) {
    let unit = m.unit();
    let few = v.requests.is_none_or(|r| r < metrics.min_requests as f64);
    match (threshold, value) {
        (None, _) => (Verdict::Off, "threshold off".to_string()),
        (Some(_), _) if v.unmeasured.contains_key(&m) => (Verdict::Off, v.unmeasured[&m].clone()),
        (Some(_), None)
            if m == MetricName::Memory
                && metrics.memory_limit.is_none()
                && v.memory_ratio.is_none() =>
        {
            (
                Verdict::Off,
                "no memory_limit to measure against".to_string(),
            )
        }
        (Some(_), _) if few && matches!(m, MetricName::ErrorRate | MetricName::P99) => (
            Verdict::Inconclusive,
            format!(
                "fewer than {} requests in the window ({})",
                metrics.min_requests,
                v.requests.map_or("none".to_string(), |r| format!("{r:.0}"))
            ),
        ),
        (Some(_), None) => (Verdict::Inconclusive, "no data".to_string()),
        (Some(_), Some(x)) if x.is_nan() => (Verdict::Inconclusive, "NaN".to_string()),
        (Some(t), Some(x)) if x > t => (
            Verdict::Fail,
            format!("{} > {} threshold", unit.show(x), unit.show(t)),
        ),
        (Some(t), Some(x)) => (
            Verdict::Pass,
            format!("{} <= {} threshold", unit.show(x), unit.show(t)),
        ),
    }
}

/// A canary's passing error rate or p99 against the stable release's `base` in the same
/// window: failed beyond 1.5 x, and at least half the threshold more.
fn against_stable(out: &mut Measurement, base: f64) {
    if out.verdict != Verdict::Pass || base.is_nan() {
        return;
    }
    let (Some(t), Some(x)) = (out.threshold, out.value) else {
        return;
    };
    if x > (base * 1.5).max(base + t * 0.5) {
        let unit = out.metric.unit();
        out.verdict = Verdict::Fail;
        out.why = format!(
            "{} against {} for the stable release in the same window (allowed: 1.5 x, and at least half the threshold more)",
            unit.show(x),
            unit.show(base)
        );
    }
}
