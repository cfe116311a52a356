//! Per-object backoff: consecutive failures counted by object key ([`Failures`]) and the
//! exponential delay before the next retry ([`Backoff`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Exponential backoff: `base` after the first failure, doubling with each further one,
/// never more than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after one failure (and after zero, for callers that count from 0).
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after `failures` consecutive failures: `base * 2^(failures-1)`, capped at
    /// `max`; `failures` 0 counts as 1. Never overflows.
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Consecutive failures per object key (e.g. `rgd/web` or `Bucket/ns/b1`), shared by the
/// reconciles of a controller. A poisoned lock is recovered, never a panic.
#[derive(Debug, Default)]
pub struct Failures {
    counts: Mutex<HashMap<String, u32>>,
}

impl Failures {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more consecutive failure of `key` and returns the count (1 for the first).
    pub fn record(&self, key: &str) -> u32 {
        let mut counts = self.counts();
        let count = counts.entry(key.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Forgets the failures of `key` after a success.
    pub fn clear(&self, key: &str) {
        self.counts().remove(key);
    }

    /// The current count of `key` (0 when it has not failed since its last success).
    pub fn count(&self, key: &str) -> u32 {
        self.counts().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_caps() {
        // The kro controllers' numbers (--dynamic-controller-rate-limiter-*: 200ms, 1000s).
        let kro = Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(1000),
        };
        for (n, want) in [(1, 200), (2, 400), (3, 800), (4, 1600), (40, 1_000_000)] {
            assert_eq!(kro.delay(n), Duration::from_millis(want), "{n}");
        }
        // The ACK controllers' table.
        let s = Duration::from_secs;
        let ack = Backoff {
            base: s(1),
            max: s(30),
        };
        let got: Vec<_> = (1..=8).map(|a| ack.delay(a)).collect();
        assert_eq!(
            got,
            vec![s(1), s(2), s(4), s(8), s(16), s(30), s(30), s(30)]
        );
        assert_eq!(ack.delay(0), s(1));
        assert_eq!(ack.delay(1000), s(30));
        assert_eq!(ack.delay(u32::MAX), s(30));
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(huge.delay(40), Duration::MAX);
    }

    #[test]
    fn failures_count_per_key_until_cleared() {
        let failures = Failures::new();
        assert_eq!(failures.record("a"), 1);
        assert_eq!(failures.record("a"), 2);
        assert_eq!(failures.record("b"), 1);
        assert_eq!(failures.count("a"), 2);
        failures.clear("a");
        assert_eq!(failures.count("a"), 0);
        assert_eq!(failures.record("a"), 1);
        assert_eq!(failures.count("b"), 1);
    }

    #[test]
    fn a_poisoned_lock_still_counts() {
        let failures = std::sync::Arc::new(Failures::new());
        failures.record("a");
        let poisoner = failures.clone();
        let _ = std::thread::spawn(move || {
            let _held = poisoner.counts.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(failures.counts.is_poisoned());
        assert_eq!(failures.record("a"), 2);
        failures.clear("a");
        assert_eq!(failures.count("a"), 0);
    }
}
