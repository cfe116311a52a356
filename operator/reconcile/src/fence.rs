//! The leader's write fence: with leader election, a replica may write only while its hold on
//! the Lease is certain. Each successful renewal of the Lease (a write the API server accepted)
//! makes the hold certain until the time that write was *sent* plus
//! `--leader-election-renew-deadline`, which is shorter than `--leader-election-lease-duration`,
//! the time a standby waits after the last renewal before it takes the Lease. So a leader that
//! stopped renewing (paused, partitioned, starved) stops writing before any other replica can
//! start: there are never two writers. client-go's leader elector gives up at the renew
//! deadline in the same way; here the check is made on every write, so a write that was
//! already queued when the process was frozen is refused when it wakes, instead of sent.
//!
//! Monotonic time ([`Instant`]) is used: a wall-clock step does not extend the hold. Before the
//! first renewal (setup before the election) nothing is fenced; the controllers that write do
//! not run before the Lease is held.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A replica's certain hold on the leader Lease (see the module documentation). Clones share
/// one state.
#[derive(Debug, Clone)]
pub struct LeaderFence {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    renew_deadline: Duration,
    /// When the newest accepted renewal was sent.
    renewed: Mutex<Option<Instant>>,
}

/// A write refused because the Lease was not renewed within the renew deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLeading {
    /// Time since the newest accepted renewal was sent.
    pub since_renewal: Duration,
    /// `--leader-election-renew-deadline`.
    pub renew_deadline: Duration,
}

impl std::fmt::Display for NotLeading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "write refused: this replica may no longer be the leader (the leader Lease was last \
             renewed {:.1}s ago, beyond --leader-election-renew-deadline {}s)",
            self.since_renewal.as_secs_f64(),
            self.renew_deadline.as_secs_f64()
        )
    }
}

impl std::error::Error for NotLeading {}

impl LeaderFence {
    /// A fence closing `renew_deadline` after the newest accepted renewal was sent.
    pub fn new(renew_deadline: Duration) -> Self {
        LeaderFence {
            inner: Arc::new(Inner {
                renew_deadline,
                renewed: Mutex::new(None),
            }),
        }
    }

    /// Records that a renewal sent at `sent` was accepted by the API server.
    pub fn renewed(&self, sent: Instant) {
        if let Ok(mut renewed) = self.inner.renewed.lock() {
            *renewed = Some(renewed.map_or(sent, |before| before.max(sent)));
        }
    }

    /// Whether a write may be sent now: `Err` names how long ago the Lease was renewed.
    pub fn check(&self) -> Result<(), NotLeading> {
        self.check_at(Instant::now())
    }

    fn check_at(&self, now: Instant) -> Result<(), NotLeading> {
        let renewed = self.inner.renewed.lock().map(|r| *r).unwrap_or(None);
        match renewed {
            None => Ok(()),
            Some(sent) => {
                let since_renewal = now.saturating_duration_since(sent);
                if since_renewal < self.inner.renew_deadline {
                    Ok(())
                } else {
                    Err(NotLeading {
                        since_renewal,
                        renew_deadline: self.inner.renew_deadline,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_before_the_election_then_only_within_the_deadline_of_the_newest_renewal() {
        let fence = LeaderFence::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(fence.check_at(start + Duration::from_secs(3600)), Ok(()));
        fence.renewed(start);
        assert_eq!(fence.check_at(start + Duration::from_secs(9)), Ok(()));
        let refused = fence.check_at(start + Duration::from_secs(10)).unwrap_err();
        assert_eq!(refused.since_renewal, Duration::from_secs(10));
        assert!(
            refused
                .to_string()
                .contains("beyond --leader-election-renew-deadline 10s"),
            "{refused}"
        );
        // A later renewal reopens it; an answer to an older one arriving late does not move
        // the hold back.
        fence.renewed(start + Duration::from_secs(8));
        fence.renewed(start + Duration::from_secs(2));
        assert_eq!(fence.check_at(start + Duration::from_secs(17)), Ok(()));
        assert!(fence.check_at(start + Duration::from_secs(18)).is_err());
        // Clones share the state.
        let clone = fence.clone();
        clone.renewed(start + Duration::from_secs(30));
        assert_eq!(fence.check_at(start + Duration::from_secs(35)), Ok(()));
    }
}
