//! A token bucket ([`TokenBucket`]): `rate` tokens a second, at most `burst` saved up. Taking a
//! token never fails: when the bucket is empty the caller is told how long to wait for its
//! token, and the next caller waits behind it (the reservation semantics of Go's
//! `golang.org/x/time/rate`, which client-go's client throttle and controller-runtime's queue
//! rate limiter are built on).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Tokens refilled at `rate` a second, holding `burst` at most; starts full.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens at `at`; below zero when tokens are promised to callers still waiting.
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens (at least one) refilled at `rate` a second. A rate that
    /// is not positive and finite never makes anyone wait (no limit).
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            state: Mutex::new(State {
                tokens: burst,
                at: Instant::now(),
            }),
        }
    }

    /// Whether this bucket limits anything.
    pub fn is_limited(&self) -> bool {
        self.rate.is_finite() && self.rate > 0.0
    }

    /// Takes one token now: how long the caller must wait before using it (zero when one
    /// was in the bucket).
    pub fn reserve(&self) -> Duration {
        self.reserve_at(Instant::now())
    }

    /// [`Self::reserve`] at `now` (for tests).
    pub fn reserve_at(&self, now: Instant) -> Duration {
        if !self.is_limited() {
            return Duration::ZERO;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.burst);
        state.at = state.at.max(now);
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces_at_the_rate() {
        let bucket = TokenBucket::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(bucket.reserve_at(start), Duration::ZERO);
        }
        // Empty: the 4th waits one token (100 ms), the 5th two.
        assert_eq!(bucket.reserve_at(start), Duration::from_millis(100));
        assert_eq!(bucket.reserve_at(start), Duration::from_millis(200));
        // A second later the debt is paid and 8 tokens are back, capped at the burst of 3.
        let later = start + Duration::from_secs(1);
        for _ in 0..3 {
            assert_eq!(bucket.reserve_at(later), Duration::ZERO);
        }
        assert_eq!(bucket.reserve_at(later), Duration::from_millis(100));
    }

    #[test]
    fn no_rate_means_no_limit() {
        for rate in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let bucket = TokenBucket::new(rate, 1);
            assert!(!bucket.is_limited());
            for _ in 0..100 {
                assert_eq!(bucket.reserve(), Duration::ZERO);
            }
        }
    }
}
