//! Errors of one reconcile; each says what failed and where to look.

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done, e.g. `applying Deployment default/web`.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A kind the graph uses is not served by the API server.
    #[error(
        "kind {kind} in {api_version} is not served by the API server ({source}); install its CRD or fix apiVersion/kind"
    )]
    UnknownKind {
        /// apiVersion.
        api_version: String,
        /// kind.
        kind: String,
        /// The discovery error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be (de)serialized.
    #[error("cannot convert {what}: {source}")]
    Serialization {
        /// What.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Some children could not be applied or pruned (each entry names the node and object).
    #[error("resource reconciliation failed: {0}")]
    Children(String),
    /// A generated CRD never became Established.
    #[error("CRD {0} did not become Established within 60s; check the API server logs")]
    NotEstablished(String),
    /// The reconcile panicked (a bug); the panic was contained.
    #[error("reconcile panicked: {0}")]
    Panic(String),
}

/// `map_err` helper: wraps a kube error with what was being done.
pub fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Kube { action, source }
}

/// The message of a caught panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        let a: Box<dyn std::any::Any + Send> = Box::new("boom");
        let b: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        let c: Box<dyn std::any::Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(&*a), "boom");
        assert_eq!(panic_message(&*b), "bang");
        assert_eq!(panic_message(&*c), "unknown panic payload");
    }
}
