//! kro's `Condition` type and the condition types, reasons and messages kro writes on RGDs,
//! GraphRevisions and instances.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// Status of a condition, as in `metav1.ConditionStatus`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// kro cannot tell yet whether the condition holds.
    Unknown,
}

impl ConditionStatus {
    /// The wire form: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `status.conditions` on an RGD, a GraphRevision or an instance.
///
/// This is kro's own condition shape (not `metav1.Condition`): `reason` and `message` are
/// optional, and `observedGeneration` is left out of the wire form when it is zero.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready` or `GraphAccepted` (see [`types`]).
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// One CamelCase word saying why the condition has its status (see [`reasons`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A sentence for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` the condition was computed from (0 = not set).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub observed_generation: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Condition {
    /// A condition with the given type, status, reason and message, without a transition time
    /// or observed generation (the controller stamps those when it sets the condition).
    pub fn new(
        type_: impl Into<String>,
        status: ConditionStatus,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Condition {
            type_: type_.into(),
            status,
            last_transition_time: None,
            reason: Some(reason.into()),
            message: Some(message.into()),
            observed_generation: 0,
        }
    }

    /// Whether this condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// Condition types kro uses.
pub mod types {
    /// Root condition of RGDs, GraphRevisions and instances: `True` when every dependent
    /// condition is `True`; otherwise mirrors the most unhealthy dependent.
    pub const READY: &str = "Ready";

    /// RGD: the latest GraphRevision is compiled and active in the registry.
    pub const GRAPH_REVISIONS_RESOLVED: &str = "GraphRevisionsResolved";
    /// RGD: the resource graph and the schema are valid.
    pub const GRAPH_ACCEPTED: &str = "GraphAccepted";
    /// RGD: the generated instance CRD is created and established.
    pub const KIND_READY: &str = "KindReady";
    /// RGD: the dynamic controller for the instance kind is running.
    pub const CONTROLLER_READY: &str = "ControllerReady";
    /// RGD: pre-v0.9 name of `GraphAccepted`; kro removes it when it writes status.
    pub const LEGACY_RESOURCE_GRAPH_ACCEPTED: &str = "ResourceGraphAccepted";

    /// GraphRevision: the snapshot compiled and was verified.
    pub const GRAPH_VERIFIED: &str = "GraphVerified";

    /// Instance: the finalizer and labels are in place.
    pub const INSTANCE_MANAGED: &str = "InstanceManaged";
    /// Instance: a compiled graph was resolved for the instance.
    pub const GRAPH_RESOLVED: &str = "GraphResolved";
    /// Instance: every resource is created and ready.
    pub const RESOURCES_READY: &str = "ResourcesReady";

    /// The dependent conditions whose conjunction is an RGD's `Ready`.
    pub const RGD_DEPENDENTS: [&str; 4] = [
        GRAPH_REVISIONS_RESOLVED,
        GRAPH_ACCEPTED,
        KIND_READY,
        CONTROLLER_READY,
    ];
    /// The dependent conditions whose conjunction is an instance's `Ready`.
    pub const INSTANCE_DEPENDENTS: [&str; 3] = [INSTANCE_MANAGED, GRAPH_RESOLVED, RESOURCES_READY];
}

/// Condition reasons kro uses.
pub mod reasons {
    /// Root `Ready=True` on RGDs, GraphRevisions and instances.
    pub const READY: &str = "Ready";

    /// RGD `GraphRevisionsResolved=True`; also instance `GraphResolved=True`.
    pub const RESOLVED: &str = "Resolved";
    /// RGD `GraphRevisionsResolved=Unknown`: terminating GraphRevisions have not gone yet.
    pub const WAITING_FOR_GRAPH_REVISION_SETTLEMENT: &str = "WaitingForGraphRevisionSettlement";
    /// RGD `GraphRevisionsResolved=Unknown`: the latest revision is not in the registry yet.
    pub const WAITING_FOR_GRAPH_REVISION_WARMUP: &str = "WaitingForGraphRevisionWarmup";
    /// RGD `GraphRevisionsResolved=Unknown`: the latest revision is issued, not yet compiled.
    pub const WAITING_FOR_GRAPH_REVISION_COMPILATION: &str = "WaitingForGraphRevisionCompilation";
    /// RGD `GraphRevisionsResolved=False` or `KindReady=False`.
    pub const FAILED: &str = "Failed";
    /// RGD `GraphAccepted=True`.
    pub const VALID: &str = "Valid";
    /// RGD `GraphAccepted=False`; the message is the build error.
    pub const INVALID_RESOURCE_GRAPH: &str = "InvalidResourceGraph";
    /// RGD `ControllerReady=True`.
    pub const RUNNING: &str = "Running";
    /// RGD `ControllerReady=False`: the instance controller could not start.
    pub const FAILED_TO_START: &str = "FailedToStart";
    /// RGD `ControllerReady=False`: the labeller could not be set up.
    pub const FAILED_LABELER_SETUP: &str = "FailedLabelerSetup";

    /// GraphRevision `GraphVerified=True`.
    pub const VERIFIED: &str = "Verified";
    /// GraphRevision `GraphVerified=False`.
    pub const INVALID_GRAPH: &str = "InvalidGraph";

    /// Instance `InstanceManaged=True`.
    pub const MANAGED: &str = "Managed";
    /// Instance `InstanceManaged=False`.
    pub const MANAGEMENT_FAILED: &str = "ManagementFailed";
    /// Instance `GraphResolved=False`.
    pub const RESOLUTION_FAILED: &str = "ResolutionFailed";
    /// Instance `ResourcesReady=True`.
    pub const ALL_RESOURCES_READY: &str = "AllResourcesReady";
    /// Instance `ResourcesReady=False`: a resource failed or is not ready yet.
    pub const NOT_READY: &str = "NotReady";
    /// Instance `ResourcesReady=False`: a managed resource is being deleted.
    pub const RESOURCE_DELETING: &str = "ResourceDeleting";
    /// Instance `ResourcesReady=False`: the instance carries `kro.run/reconcile: suspended`.
    pub const RECONCILIATION_SUSPENDED: &str = "ReconciliationSuspended";
    /// Instance `ResourcesReady=Unknown` while the instance is being deleted.
    pub const UNDER_DELETION: &str = "UnderDeletion";
}

/// Fixed condition messages kro writes (messages that embed values are built by the caller).
pub mod messages {
    /// RGD `GraphAccepted=True`.
    pub const GRAPH_ACCEPTED: &str = "resource graph and schema are valid";
    /// RGD `ControllerReady=True`.
    pub const CONTROLLER_RUNNING: &str = "controller is running";
    /// RGD `GraphRevisionsResolved=Unknown` while terminating revisions settle.
    pub const WAITING_FOR_TERMINATING_REVISIONS: &str =
        "waiting for terminating graph revisions to settle";
    /// RGD `GraphRevisionsResolved=Unknown` while the registry warms up.
    pub const WAITING_FOR_WARMUP: &str =
        "waiting for the latest graph revision to warm the in-memory registry";
    /// GraphRevision `GraphVerified=True`.
    pub const GRAPH_VERIFIED: &str = "graph revision compiled and verified";
    /// Instance `InstanceManaged=True`.
    pub const INSTANCE_MANAGED: &str = "instance is properly managed with finalizers and labels";
    /// Instance `GraphResolved=True`.
    pub const GRAPH_RESOLVED: &str = "runtime graph created and all resources resolved";
    /// Instance `ResourcesReady=True`.
    pub const ALL_RESOURCES_READY: &str = "all resources are created and ready";

    /// RGD `GraphRevisionsResolved=True`: `revision N compiled and active`.
    pub fn revision_active(revision: i64) -> String {
        format!("revision {revision} compiled and active")
    }
    /// RGD `KindReady=True`: `kind <Kind> has been accepted and ready`.
    pub fn kind_ready(kind: &str) -> String {
        format!("kind {kind} has been accepted and ready")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape_matches_kro() {
        let c = Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            messages::GRAPH_ACCEPTED,
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({
                "type": "GraphAccepted",
                "status": "True",
                "reason": "Valid",
                "message": "resource graph and schema are valid"
            })
        );
        let full: Condition = serde_json::from_value(json!({
            "type": "Ready", "status": "Unknown", "lastTransitionTime": "2026-01-02T03:04:05Z",
            "observedGeneration": 7
        }))
        .unwrap();
        assert_eq!(full.status, ConditionStatus::Unknown);
        assert_eq!((full.reason, full.message), (None, None));
        assert_eq!(full.observed_generation, 7);
        assert!(full.last_transition_time.is_some());
        assert!(
            serde_json::from_value::<Condition>(json!({"type": "X", "status": "yes"})).is_err()
        );
    }

    #[test]
    fn dynamic_messages() {
        assert_eq!(
            messages::revision_active(3),
            "revision 3 compiled and active"
        );
        assert_eq!(
            messages::kind_ready("WebApp"),
            "kind WebApp has been accepted and ready"
        );
    }
}
