//! Where "now" comes from: the system clock in the controllers, a fixed one in tests, so that
//! the `lastTransitionTime` a reconcile stamps can be asserted.

use std::sync::Mutex;
use std::sync::PoisonError;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Time;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        Time(Timestamp::now())
    }
}

/// A clock that says what it is told: fixed at one instant until [`FixedClock::set`].
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<Timestamp>,
}

impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Time {
        Time(*self.now.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_says_what_it_is_told() {
        let t1: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let t2: Timestamp = "2026-01-02T03:04:06Z".parse().unwrap();
        let clock = FixedClock::new(t1);
        assert_eq!(clock.now(), Time(t1));
        assert_eq!(clock.now(), Time(t1));
        clock.set(t2);
        assert_eq!(clock.now(), Time(t2));
        let wire = serde_json::to_value(clock.now()).unwrap();
        assert_eq!(wire, "2026-01-02T03:04:06Z");
        assert!(SystemClock.now() > Time(t1));
    }
}
