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
    /// The evaluation stopped at an instance budget or at its deadline (the status says
    /// which); retried with backoff.
    #[error("evaluation stopped at {0}")]
    EvaluationStopped(kro_runtime::Stopped),
}

/// `map_err` helper: wraps a kube error with what was being done.
pub fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Kube { action, source }
}

/// A kube error as a user should read it in a status or an event: for a refusal by the API
/// server, its own message (which names the object and the field) with reason and code, not
/// kube's debug dump of the whole Status. The values the API server quotes from the request
/// (`Invalid value: "..."`, which may be Secret data) are shown by type and size only.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(response) if !response.message.is_empty() => {
            format!(
                "{} ({}, {})",
                redact_values(&response.message),
                response.reason,
                response.code
            )
        }
        other => redact_values(&other.to_string()),
    }
}

/// Where kube-apiserver's field errors quote a value of the request.
const VALUE_MARKERS: [&str; 3] = [
    "Invalid value: ",
    "Unsupported value: ",
    "Duplicate value: ",
];

/// `message` with every value after a [`VALUE_MARKERS`] marker replaced by its type and size:
/// `Invalid value: "hunter2": ...` reads `Invalid value: (a string of 7 bytes): ...`.
pub fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let next = VALUE_MARKERS
            .iter()
            .filter_map(|marker| rest.find(marker).map(|at| (at, marker.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let (described, taken) = quoted_value(rest);
        out.push('(');
        out.push_str(&described);
        out.push(')');
        rest = &rest[taken..];
    }
}

/// The value at the start of `text` (Go-quoted, or bare up to the next `": "`), described, and
/// how many bytes of `text` it takes.
fn quoted_value(text: &str) -> (String, usize) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if let Some(inner) = text.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return (format!("a string of {i} byte{}", plural(i)), i + 2),
                _ => {}
            }
        }
        return ("a value".to_string(), text.len());
    }
    let end = text.find(": ").unwrap_or(text.len());
    let token = text[..end].trim();
    let described = if token.parse::<i64>().is_ok() {
        "an int".to_string()
    } else if token.parse::<f64>().is_ok() {
        "a double".to_string()
    } else if token == "true" || token == "false" {
        "a bool".to_string()
    } else if token == "null" || token == "<nil>" {
        "null".to_string()
    } else {
        format!("a value of {} byte{}", token.len(), plural(token.len()))
    };
    (described, end)
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
        let secret: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 422, "reason": "Invalid",
            "message": "Secret \"db\" is invalid: [data[pass word]: Invalid value: \"pass word\": a valid config key must consist of alphanumeric characters, spec.replicas: Invalid value: -3: must be greater than or equal to 0, type: Unsupported value: \"s3cr\\\"et\": supported values: \"Opaque\"]",
        }))
        .expect("a Status");
        let text = describe(&kube::Error::Api(Box::new(secret)));
        assert_eq!(
            text,
            "Secret \"db\" is invalid: [data[pass word]: Invalid value: (a string of 9 bytes): a valid config key must consist of alphanumeric characters, spec.replicas: Invalid value: (an int): must be greater than or equal to 0, type: Unsupported value: (a string of 8 bytes): supported values: \"Opaque\"] (Invalid, 422)"
        );
        let wrapped = kube_err("applying ConfigMap Not_A_Name")(e).to_string();
        assert!(!wrapped.contains("Status {"), "{wrapped}");
        assert!(
            wrapped.starts_with("applying ConfigMap Not_A_Name: ConfigMap"),
            "{wrapped}"
        );
    }
}
