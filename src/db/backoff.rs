//! Exponential backoff with jitter, for lock polling and lock-timeout retries: many runners
//! waiting on one lock must not wake up in step.

use std::time::Duration;

pub struct Backoff {
    next: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        Backoff {
            next: initial,
            max,
            rng: seed | 1,
        }
    }

    /// The next delay: the current step, jittered by ±25%; the step then doubles up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = 0.75 + 0.5 * self.random();
        base.mul_f64(jitter)
    }

    /// xorshift64: enough to spread wake-ups, no dependency.
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..6).map(|_| b.next_delay()).collect();
        let steps = [100, 200, 400, 400, 400, 400];
        for (d, step) in delays.iter().zip(steps) {
            let step = Duration::from_millis(step);
            assert!(
                *d >= step.mul_f64(0.75) && *d <= step.mul_f64(1.25),
                "{d:?} vs {step:?}"
            );
        }
    }
}
