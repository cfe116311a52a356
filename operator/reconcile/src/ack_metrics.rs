//! ACK's controller metrics, under ACK's names, for the AWS controllers: every AWS API call
//! counted in `ack_outbound_api_requests_total{service,op_type,op_id}`, and the ones that
//! failed in `ack_outbound_api_requests_error_total{service,op_id,status_code}`. Process-wide,
//! registered with the operator's other metrics on `/metrics`.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `{service,op_type,op_id}` of `ack_outbound_api_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The AWS service's controller: `s3`, `rds`, `ec2`, `iam`, `sts`.
    pub service: String,
    /// ACK's operation type: `CREATE`, `READ_ONE`, `READ_MANY`, `UPDATE` or `DELETE`.
    pub op_type: String,
    /// The AWS API call, e.g. `CreateBucket`.
    pub op_id: String,
}

/// `{service,op_id,status_code}` of `ack_outbound_api_requests_error_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// As in [`CallLabels`].
    pub service: String,
    /// As in [`CallLabels`].
    pub op_id: String,
    /// ACK's fault class: `-1` no AWS answer (connection, timeout), `1` a server fault (5xx),
    /// `2` a client fault (4xx), `0` an answer of neither.
    pub status_code: String,
}

/// The two families.
#[derive(Debug, Default)]
pub struct AckMetrics {
    /// `ack_outbound_api_requests_total`.
    pub requests: Family<CallLabels, Counter>,
    /// `ack_outbound_api_requests_error_total`.
    pub errors: Family<ErrorLabels, Counter>,
}

/// The process's ACK metrics.
pub static ACK: LazyLock<AckMetrics> = LazyLock::new(AckMetrics::default);

/// Adds the two families to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(
        "ack_outbound_api_requests",
        "Total number of outbound AWS API requests",
        ACK.requests.clone(),
    );
    registry.register(
        "ack_outbound_api_requests_error",
        "Total number of outbound AWS API requests that returned an error",
        ACK.errors.clone(),
    );
}

/// The two families in Prometheus's text format, as `/metrics` shows them.
pub fn encode() -> String {
    let mut registry = Registry::default();
    register(&mut registry);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// One AWS API call of `service` answered: `op_id` (`CreateBucket`), and, if it failed, the
/// HTTP status of the answer (`None`: there was none).
pub fn outbound(service: &str, op_id: &str, failed: Option<Option<u16>>) {
    ACK.requests
        .get_or_create(&CallLabels {
            service: service.into(),
            op_type: op_type(op_id).into(),
            op_id: op_id.into(),
        })
        .inc();
    if let Some(status) = failed {
        ACK.errors
            .get_or_create(&ErrorLabels {
                service: service.into(),
                op_id: op_id.into(),
                status_code: fault_class(status).into(),
            })
            .inc();
    }
}

/// ACK's operation type of an AWS call, from its verb: ACK labels each call with the resource
/// manager step that sent it; kro-rs's steps send the same calls, so the verb says which.
pub fn op_type(op_id: &str) -> &'static str {
    const CREATE: &[&str] = &["Create", "Allocate", "Restore"];
    const DELETE: &[&str] = &["Delete", "Release"];
    const READ_MANY: &[&str] = &["List", "DescribeDB", "DescribeVpcs", "DescribeSubnets"];
    const READ: &[&str] = &["Describe", "Get", "Head"];
    let starts = |verbs: &[&str]| verbs.iter().any(|verb| op_id.starts_with(verb));
    if starts(CREATE) {
        "CREATE"
    } else if starts(DELETE) {
        "DELETE"
    } else if starts(READ_MANY) {
        "READ_MANY"
    } else if starts(READ) {
        "READ_ONE"
    } else {
        "UPDATE"
    }
}

/// ACK's `status_code` label of a failed call whose answer had `status` (`None`: no answer).
fn fault_class(status: Option<u16>) -> &'static str {
    match status {
        None => "-1",
        Some(500..=599) => "1",
        Some(400..=499) => "2",
        Some(_) => "0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_get_ack_op_types_by_verb() {
        for (op, kind) in [
            ("CreateBucket", "CREATE"),
            ("AllocateAddress", "CREATE"),
            ("RestoreDBClusterFromSnapshot", "CREATE"),
            ("DeleteDBInstance", "DELETE"),
            ("ReleaseAddress", "DELETE"),
            ("DescribeDBInstances", "READ_MANY"),
            ("ListAttachedRolePolicies", "READ_MANY"),
            ("GetBucketTagging", "READ_ONE"),
            ("HeadBucket", "READ_ONE"),
            ("DescribeSecurityGroupRules", "READ_ONE"),
            ("PutBucketTagging", "UPDATE"),
            ("ModifyDBInstance", "UPDATE"),
            ("AuthorizeSecurityGroupIngress", "UPDATE"),
        ] {
            assert_eq!(op_type(op), kind, "{op}");
        }
    }

    #[test]
    fn failures_are_counted_by_fault_class_and_encoded_under_ack_names() {
        outbound("s3", "HeadBucket", Some(Some(404)));
        outbound("s3", "HeadBucket", Some(Some(503)));
        outbound("s3", "HeadBucket", Some(None));
        outbound("s3", "CreateBucket", None);
        let text = encode();
        for line in [
            r#"ack_outbound_api_requests_total{service="s3",op_type="CREATE",op_id="CreateBucket"} "#,
            r#"ack_outbound_api_requests_total{service="s3",op_type="READ_ONE",op_id="HeadBucket"} "#,
            r#"ack_outbound_api_requests_error_total{service="s3",op_id="HeadBucket",status_code="2"} "#,
            r#"ack_outbound_api_requests_error_total{service="s3",op_id="HeadBucket",status_code="1"} "#,
            r#"ack_outbound_api_requests_error_total{service="s3",op_id="HeadBucket",status_code="-1"} "#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains(r#"op_id="CreateBucket",status_code"#),
            "{text}"
        );
    }
}
