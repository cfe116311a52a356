//! Panic containment for one reconcile: a panic becomes a [`Panicked`] error, counted and logged
//! once, so one broken object never takes its controller (or the process) down.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// A reconcile that panicked (a bug); the panic was contained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked {
    /// The panic's message (see [`panic_message`]).
    pub message: String,
}

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reconcile panicked: {}", self.message)
    }
}

impl std::error::Error for Panicked {}

/// The message of a caught panic payload: the `&str` or `String` given to `panic!`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `reconcile` to completion; a panic in it is returned as [`Panicked`] after calling
/// `count_panic` once (the caller's metric, e.g. `|| panics.get_or_create(&labels).inc()`) and
/// logging it once at error level with `object` (what was being reconciled).
///
/// The future is polled under `AssertUnwindSafe`: whatever it shared with others is behind
/// locks that do not poison (or that callers recover from), and its own state is dropped.
pub async fn guard<F>(
    object: &str,
    count_panic: impl FnOnce(),
    reconcile: F,
) -> Result<F::Output, Panicked>
where
    F: Future,
{
    match AssertUnwindSafe(reconcile).catch_unwind().await {
        Ok(output) => Ok(output),
        Err(payload) => {
            let message = panic_message(&*payload);
            count_panic();
            tracing::error!(object, panic = %message, "reconcile panicked");
            Err(Panicked { message })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn panic_messages() {
        let a: Box<dyn Any + Send> = Box::new("boom");
        let b: Box<dyn Any + Send> = Box::new(String::from("bang"));
        let c: Box<dyn Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(&*a), "boom");
        assert_eq!(panic_message(&*b), "bang");
        assert_eq!(panic_message(&*c), "unknown panic payload");
    }

    #[tokio::test]
    async fn a_panic_is_an_error_counted_once() {
        let panics = Cell::new(0);
        let ok = guard("ns/a", || panics.set(panics.get() + 1), async { 7 }).await;
        assert_eq!(ok, Ok(7));
        assert_eq!(panics.get(), 0);
        let boom = guard("ns/a", || panics.set(panics.get() + 1), async {
            if true {
                panic!("object {} broke", "a");
            }
            0
        })
        .await;
        assert_eq!(
            boom,
            Err(Panicked {
                message: "object a broke".into()
            })
        );
        assert_eq!(panics.get(), 1);
        assert_eq!(
            boom.unwrap_err().to_string(),
            "reconcile panicked: object a broke"
        );
    }
}
