//! Errors of one reconcile; each says what failed and where to look.

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("{action}: {}", describe(source))]
    Kube {
        /// What was being done, e.g. `applying Deployment default/web`.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A kind the graph uses is not served by the API server.
    #[error(
        "kind {kind} in {api_version} is not served by the API server ({}); install its CRD or fix apiVersion/kind",
        describe(source)
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

/// A kube error as a user should read it in a status or an event: for a refusal by the API
/// server, its own message (which names the object and the field) with reason and code, not
/// kube's debug dump of the whole Status.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(response) if !response.message.is_empty() => {
            format!(
                "{} ({}, {})",
                response.message, response.reason, response.code
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_refusals_read_as_the_apiservers_message() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 422, "reason": "Invalid",
            "message": "ConfigMap \"Not_A_Name\" is invalid: metadata.name: Invalid value",
            "details": {"name": "Not_A_Name", "kind": "ConfigMap"},
        }))
        .expect("a Status");
        let e = kube::Error::Api(Box::new(status));
        let text = describe(&e);
        assert_eq!(
            text,
            "ConfigMap \"Not_A_Name\" is invalid: metadata.name: Invalid value (Invalid, 422)"
        );
        let wrapped = kube_err("applying ConfigMap Not_A_Name")(e).to_string();
        assert!(!wrapped.contains("Status {"), "{wrapped}");
        assert!(
            wrapped.starts_with("applying ConfigMap Not_A_Name: ConfigMap"),
            "{wrapped}"
        );
    }
}
