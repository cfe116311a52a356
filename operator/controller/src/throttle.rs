//! Throttling by the API server: a `429 Too Many Requests` (API Priority and Fairness, or
//! `--max-requests-inflight`) is a request to wait, not a failure of the object.
//!
//! kube's client already retries a 429 itself (up to 15 times, waiting at least the answer's
//! `Retry-After`). When that is not enough, the reconcile stops where it is, writes no status
//! (so nothing reports `ERROR` for a throttle) and is retried after the server's
//! `retryAfterSeconds`, bounded by [`MIN_WAIT`] and [`MAX_WAIT`], without counting as a
//! failure toward the backoff or `--dynamic-controller-default-queue-max-retries`.

use std::time::Duration;

/// The shortest wait after a throttled reconcile.
pub const MIN_WAIT: Duration = Duration::from_secs(1);
/// The longest wait after a throttled reconcile, whatever the server asks.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How long the API server asked to wait when `error` is a 429 (its `retryAfterSeconds`,
/// bounded by [`MIN_WAIT`] and [`MAX_WAIT`]); `None` for any other error.
pub fn retry_after(error: &kube::Error) -> Option<Duration> {
    let kube::Error::Api(status) = error else {
        return None;
    };
    if status.code != 429 {
        return None;
    }
    let asked = status
        .details
        .as_ref()
        .map_or(0, |details| details.retry_after_seconds);
    Some(Duration::from_secs(u64::from(asked)).clamp(MIN_WAIT, MAX_WAIT))
}

/// [`retry_after`] of the API error behind a reconcile error.
pub fn throttled(error: &crate::Error) -> Option<Duration> {
    match error {
        crate::Error::Kube { source, .. } | crate::Error::UnknownKind { source, .. } => {
            retry_after(source)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u32>) -> kube::Error {
        let mut status = serde_json::json!({
            "status": "Failure", "code": code, "reason": "TooManyRequests",
            "message": "Too many requests, please try again later.",
        });
        if let Some(seconds) = retry_after {
            status["details"] = serde_json::json!({"retryAfterSeconds": seconds});
        }
        kube::Error::Api(Box::new(serde_json::from_value(status).unwrap()))
    }

    #[test]
    fn a_429_waits_what_the_server_asks_within_bounds() {
        assert_eq!(
            retry_after(&status(429, Some(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(&status(429, None)), Some(MIN_WAIT));
        assert_eq!(retry_after(&status(429, Some(0))), Some(MIN_WAIT));
        assert_eq!(retry_after(&status(429, Some(3600))), Some(MAX_WAIT));
        assert_eq!(retry_after(&status(500, Some(3))), None);
        assert_eq!(retry_after(&status(409, None)), None);
        let wrapped = crate::error::kube_err("applying ConfigMap a")(status(429, Some(2)));
        assert_eq!(throttled(&wrapped), Some(Duration::from_secs(2)));
        assert_eq!(throttled(&crate::Error::Panic("x".into())), None);
    }
}
