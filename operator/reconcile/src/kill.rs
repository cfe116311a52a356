//! Kill points: a test-only hook that stops the operator at a named place of a reconcile, so
//! the crash suite (e2e `kill_points`) can SIGKILL it there and check that a restarted operator
//! converges. Environment variable `KRO_KILL_POINTS` holds comma-separated point names, each
//! optionally `name@N` (stop at the Nth time the point is reached; the first by default). It is
//! read once. Unset or empty, [`kill_point`] is one load of an initialised `OnceLock` and a
//! check that the list is empty.
//!
//! Reaching an armed point writes one line `kill point reached: <name>` to stderr (not through
//! `tracing`, so no log setting hides it), flushes it, and parks the calling thread for good:
//! that reconcile makes no further write, and the test kills the process.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the armed points.
pub const KILL_POINTS_ENV: &str = "KRO_KILL_POINTS";

/// The line written to stderr when an armed point is reached, before the point's name.
pub const KILL_POINT_REACHED: &str = "kill point reached: ";

/// One armed point: its name, the hit it stops at, and how often it was reached.
#[derive(Debug)]
struct Armed {
    name: String,
    nth: u64,
    hits: AtomicU64,
}

static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();

/// Parses `KRO_KILL_POINTS`' value: `a,b@3` arms `a` at its first hit and `b` at its third. An
/// entry whose count is not a positive number is armed at its first hit.
fn parse(value: &str) -> Vec<Armed> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, nth) = match entry.rsplit_once('@') {
                Some((name, nth)) => (name, nth.parse::<u64>().unwrap_or(1).max(1)),
                None => (entry, 1),
            };
            Armed {
                name: name.to_string(),
                nth,
                hits: AtomicU64::new(0),
            }
        })
        .collect()
}

/// Whether this reach of `name` is the one to stop at.
fn fires(armed: &[Armed], name: &str) -> bool {
    armed
        .iter()
        .filter(|point| point.name == name)
        .any(|point| point.hits.fetch_add(1, Ordering::Relaxed) + 1 == point.nth)
}

/// A named place in a reconcile where the crash suite may stop the operator (see the module
/// documentation). Does nothing unless `KRO_KILL_POINTS` arms `name`.
pub fn kill_point(name: &str) {
    let armed = ARMED.get_or_init(|| {
        std::env::var(KILL_POINTS_ENV)
            .map(|value| parse(&value))
            .unwrap_or_default()
    });
    if armed.is_empty() || !fires(armed, name) {
        return;
    }
    // One write of the whole line, so no other thread's output lands inside it.
    let line = format!("{KILL_POINT_REACHED}{name}\n");
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(line.as_bytes());
    let _ = stderr.flush();
    drop(stderr);
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_fire_at_their_nth_hit_only() {
        let armed = parse(" a , b@3,,c@x ");
        let names: Vec<(&str, u64)> = armed.iter().map(|p| (p.name.as_str(), p.nth)).collect();
        assert_eq!(names, [("a", 1), ("b", 3), ("c", 1)]);
        assert!(!fires(&armed, "other"));
        assert!(fires(&armed, "a"));
        assert!(!fires(&armed, "a"), "a point fires once");
        assert!(!fires(&armed, "b"));
        assert!(!fires(&armed, "b"));
        assert!(fires(&armed, "b"));
        assert!(!fires(&armed, "b"));
    }

    #[test]
    fn nothing_is_armed_without_the_variable() {
        assert!(parse("").is_empty());
        assert!(!fires(&[], "instance/after-finalizer"));
    }
}
