//! kro's `Condition` type, the [`Conditions`] list that owns `lastTransitionTime` (kept while a
//! status holds, stamped otherwise), and the condition types, reasons and messages kro writes on
//! RGDs, GraphRevisions and instances. The ACK kinds use the same types (ACK's condition is this
//! shape without `observedGeneration`, which is left out when zero).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
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

    /// A condition with only a type and a status (no reason, message, time or generation), as
    /// ACK writes most of its conditions; add the rest with [`Condition::with_reason`] and
    /// [`Condition::with_message`].
    pub fn with_status(type_: impl Into<String>, status: ConditionStatus) -> Self {
        Condition {
            type_: type_.into(),
            status,
            last_transition_time: None,
            reason: None,
            message: None,
            observed_generation: 0,
        }
    }

    /// This condition with `reason`.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// This condition with `message`.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// This condition computed from `generation` (0 = not recorded).
    #[must_use]
    pub fn with_generation(mut self, generation: i64) -> Self {
        self.observed_generation = generation;
        self
    }

    /// Root `Ready=True` (reason `Ready`, empty message).
    pub fn ready() -> Self {
        Condition::new(types::READY, ConditionStatus::True, reasons::READY, "")
    }

    /// `type_=False` with reason `NotReady`: a resource failed, is not ready yet, or the
    /// reconcile failed (`message` says which).
    pub fn not_ready(type_: impl Into<String>, message: impl Into<String>) -> Self {
        Condition::new(type_, ConditionStatus::False, reasons::NOT_READY, message)
    }

    /// Instance `ResourcesReady=False`, reason `ReconciliationSuspended`: the instance carries
    /// `kro.run/reconcile: suspended`.
    pub fn suspended() -> Self {
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            reasons::RECONCILIATION_SUSPENDED,
            messages::RECONCILIATION_SUSPENDED,
        )
    }

    /// `type_=Unknown`, reason `UnderDeletion`: the instance is being deleted.
    pub fn under_deletion(type_: impl Into<String>, message: impl Into<String>) -> Self {
        Condition::new(
            type_,
            ConditionStatus::Unknown,
            reasons::UNDER_DELETION,
            message,
        )
    }

    /// `type_=False`, reason `Failed` (RGD `GraphRevisionsResolved` or `KindReady`).
    pub fn failed(type_: impl Into<String>, message: impl Into<String>) -> Self {
        Condition::new(type_, ConditionStatus::False, reasons::FAILED, message)
    }

    /// RGD `GraphRevisionsResolved=True`: revision `revision` is compiled and active.
    pub fn revisions_resolved(revision: i64) -> Self {
        Condition::new(
            types::GRAPH_REVISIONS_RESOLVED,
            ConditionStatus::True,
            reasons::RESOLVED,
            messages::revision_active(revision),
        )
    }

    /// RGD `GraphAccepted=True`.
    pub fn graph_accepted() -> Self {
        Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            messages::GRAPH_ACCEPTED,
        )
    }

    /// RGD `GraphAccepted=False`, reason `InvalidResourceGraph`; `message` is the build error.
    pub fn invalid_graph(message: impl Into<String>) -> Self {
        Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::False,
            reasons::INVALID_RESOURCE_GRAPH,
            message,
        )
    }

    /// RGD `KindReady=True` for the generated `kind`.
    pub fn kind_ready(kind: &str) -> Self {
        Condition::new(
            types::KIND_READY,
            ConditionStatus::True,
            reasons::READY,
            messages::kind_ready(kind),
        )
    }

    /// RGD `ControllerReady=True`.
    pub fn controller_running() -> Self {
        Condition::new(
            types::CONTROLLER_READY,
            ConditionStatus::True,
            reasons::RUNNING,
            messages::CONTROLLER_RUNNING,
        )
    }

    /// A condition of type `type_` that says what `other` says (status, reason, message), as a
    /// root `Ready` mirrors its most unhealthy dependent; no time or generation.
    pub fn mirroring(type_: impl Into<String>, other: &Condition) -> Self {
        Condition {
            type_: type_.into(),
            last_transition_time: None,
            observed_generation: 0,
            ..other.clone()
        }
    }

    /// Whether this condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }

    /// `lastTransitionTime` for this condition replacing `previous`: the previous time while the
    /// status holds (and the previous had one), `now` otherwise.
    fn stamp(&mut self, previous: Option<&Condition>, now: &Time) {
        self.last_transition_time = match previous {
            Some(old) if old.status == self.status && old.last_transition_time.is_some() => {
                old.last_transition_time.clone()
            }
            _ => Some(now.clone()),
        };
    }
}

/// The `status.conditions` list of one object, owning the rule every controller follows:
/// `lastTransitionTime` is kept while a condition's status holds and stamped with `now` when it
/// changes (or the condition is new). Serializes as the plain list.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Conditions(Vec<Condition>);

impl Conditions {
    /// No conditions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The conditions of an object's `status.conditions` (`object` is the whole object).
    /// Tolerant: no status, a non-list, or entries that are not conditions (skipped) read as
    /// what could be read.
    pub fn from_status(object: &Value) -> Self {
        Self::from_list(object.pointer("/status/conditions"))
    }

    /// The conditions of a `conditions` list value, as tolerant as [`Conditions::from_status`].
    pub fn from_list(list: Option<&Value>) -> Self {
        let Some(Value::Array(items)) = list else {
            return Self::default();
        };
        Conditions(
            items
                .iter()
                .filter_map(|item| Condition::deserialize(item).ok())
                .collect(),
        )
    }

    /// `fresh`, a freshly computed list in its own order (generations as they are), with each
    /// `lastTransitionTime` carried over from the same type in `previous` while its status holds
    /// and stamped `now` otherwise. Conditions only in `previous` are dropped.
    pub fn merge(
        previous: &[Condition],
        fresh: impl IntoIterator<Item = Condition>,
        now: &Time,
    ) -> Self {
        Conditions(
            fresh
                .into_iter()
                .map(|mut condition| {
                    let old = previous.iter().find(|p| p.type_ == condition.type_);
                    condition.stamp(old, now);
                    condition
                })
                .collect(),
        )
    }

    /// Sets `condition` computed from `generation` (0 = not recorded): it replaces the
    /// condition of its type in place (keeping its time while the status holds) or is
    /// appended, stamped `now`.
    pub fn set(&mut self, condition: Condition, generation: i64, now: &Time) {
        let mut condition = condition.with_generation(generation);
        match self.0.iter_mut().find(|c| c.type_ == condition.type_) {
            Some(old) => {
                condition.stamp(Some(old), now);
                *old = condition;
            }
            None => {
                condition.stamp(None, now);
                self.0.push(condition);
            }
        }
    }

    /// The condition of type `type_`.
    pub fn get(&self, type_: &str) -> Option<&Condition> {
        self.0.iter().find(|c| c.type_ == type_)
    }

    /// The status of the condition of type `type_`.
    pub fn status_of(&self, type_: &str) -> Option<ConditionStatus> {
        self.get(type_).map(|c| c.status)
    }

    /// Whether the condition of type `type_` is present and `True`.
    pub fn is_true(&self, type_: &str) -> bool {
        self.get(type_).is_some_and(Condition::is_true)
    }

    /// The list, for a status object.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect(),
        )
    }

    /// The conditions as a slice.
    pub fn as_slice(&self) -> &[Condition] {
        &self.0
    }

    /// The conditions as a vector.
    pub fn into_vec(self) -> Vec<Condition> {
        self.0
    }
}

impl std::ops::Deref for Conditions {
    type Target = [Condition];

    fn deref(&self) -> &[Condition] {
        &self.0
    }
}

impl From<Vec<Condition>> for Conditions {
    fn from(conditions: Vec<Condition>) -> Self {
        Conditions(conditions)
    }
}

impl From<Conditions> for Vec<Condition> {
    fn from(conditions: Conditions) -> Self {
        conditions.0
    }
}

impl FromIterator<Condition> for Conditions {
    fn from_iter<I: IntoIterator<Item = Condition>>(iter: I) -> Self {
        Conditions(iter.into_iter().collect())
    }
}

impl IntoIterator for Conditions {
    type Item = Condition;
    type IntoIter = std::vec::IntoIter<Condition>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Conditions {
    type Item = &'a Condition;
    type IntoIter = std::slice::Iter<'a, Condition>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
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
    /// Instance `ResourcesReady=False` while `kro.run/reconcile: suspended` is set.
    pub const RECONCILIATION_SUSPENDED: &str =
        "reconciliation is suspended by the kro.run/reconcile annotation";

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

    fn at(text: &str) -> Time {
        Time(text.parse().unwrap())
    }

    #[test]
    fn set_keeps_the_transition_time_while_the_status_holds() {
        let (t1, t2) = (at("2026-01-01T00:00:00Z"), at("2026-02-02T00:00:00Z"));
        let mut conditions = Conditions::new();
        conditions.set(Condition::under_deletion(types::READY, "m"), 2, &t1);
        let first = conditions.clone();
        conditions.set(Condition::under_deletion(types::READY, "m2"), 2, &t2);
        assert_eq!(conditions[0].last_transition_time, Some(t1.clone()));
        assert_eq!(conditions[0].message.as_deref(), Some("m2"));
        assert_eq!(conditions[0].observed_generation, 2);
        conditions.set(Condition::not_ready(types::READY, "x"), 3, &t2);
        assert_eq!(conditions.len(), 1, "replaced in place");
        assert_eq!(conditions[0].status, ConditionStatus::False);
        assert_eq!(conditions[0].last_transition_time, Some(t2.clone()));
        conditions.set(Condition::suspended(), 3, &t2);
        assert_eq!(conditions.len(), 2, "a new type is appended");
        assert_eq!(
            conditions.to_value()[1],
            json!({"type": "ResourcesReady", "status": "False",
                   "lastTransitionTime": "2026-02-02T00:00:00Z",
                   "reason": "ReconciliationSuspended",
                   "message": "reconciliation is suspended by the kro.run/reconcile annotation",
                   "observedGeneration": 3})
        );
        assert_ne!(first, conditions);
    }

    #[test]
    fn merge_stamps_only_what_changed_and_keeps_the_fresh_order() {
        let (t1, t2) = (at("2026-01-01T00:00:00Z"), at("2026-02-02T00:00:00Z"));
        let fresh = || vec![Condition::graph_accepted(), Condition::ready()];
        let first = Conditions::merge(&[], fresh(), &t1);
        assert!(
            first
                .iter()
                .all(|c| c.last_transition_time == Some(t1.clone()))
        );
        assert_eq!(Conditions::merge(&first, fresh(), &t2), first);
        let flipped = Conditions::merge(
            &first,
            vec![
                Condition::not_ready(types::READY, "x"),
                Condition::graph_accepted(),
            ],
            &t2,
        );
        assert_eq!(flipped[0].type_, types::READY);
        assert_eq!(flipped[0].last_transition_time, Some(t2.clone()));
        assert_eq!(flipped[1].last_transition_time, Some(t1.clone()));
        // A previous condition without a time is stamped.
        let untimed = vec![Condition::ready()];
        let merged = Conditions::merge(&untimed, vec![Condition::ready()], &t2);
        assert_eq!(merged[0].last_transition_time, Some(t2));
        // Dropped from fresh: dropped.
        assert_eq!(Conditions::merge(&first, Vec::new(), &t1).len(), 0);
    }

    #[test]
    fn from_status_is_tolerant_and_round_trips() {
        let object = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"},
            {"type": "X", "status": "yes"},
            "garbage",
            {"type": "GraphAccepted", "status": "False", "reason": "InvalidResourceGraph",
             "observedGeneration": 4}
        ]}});
        let conditions = Conditions::from_status(&object);
        assert_eq!(conditions.len(), 2);
        assert!(conditions.is_true(types::READY));
        assert_eq!(
            conditions.status_of(types::GRAPH_ACCEPTED),
            Some(ConditionStatus::False)
        );
        assert_eq!(conditions.get("X"), None);
        assert_eq!(
            conditions.to_value(),
            json!([
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"},
                {"type": "GraphAccepted", "status": "False", "reason": "InvalidResourceGraph",
                 "observedGeneration": 4}
            ])
        );
        assert_eq!(
            serde_json::to_value(&conditions).unwrap(),
            conditions.to_value()
        );
        for garbage in [
            json!(null),
            json!({}),
            json!({"status": 1}),
            json!({"status": {"conditions": {}}}),
        ] {
            assert!(Conditions::from_status(&garbage).is_empty(), "{garbage}");
        }
    }

    #[test]
    fn named_transitions() {
        let cases = [
            (Condition::ready(), "Ready", "True", "Ready", ""),
            (
                Condition::not_ready("ResourcesReady", "m"),
                "ResourcesReady",
                "False",
                "NotReady",
                "m",
            ),
            (
                Condition::under_deletion("Ready", "m"),
                "Ready",
                "Unknown",
                "UnderDeletion",
                "m",
            ),
            (
                Condition::failed("KindReady", "m"),
                "KindReady",
                "False",
                "Failed",
                "m",
            ),
            (
                Condition::invalid_graph("m"),
                "GraphAccepted",
                "False",
                "InvalidResourceGraph",
                "m",
            ),
            (
                Condition::graph_accepted(),
                "GraphAccepted",
                "True",
                "Valid",
                messages::GRAPH_ACCEPTED,
            ),
            (
                Condition::kind_ready("Web"),
                "KindReady",
                "True",
                "Ready",
                "kind Web has been accepted and ready",
            ),
            (
                Condition::controller_running(),
                "ControllerReady",
                "True",
                "Running",
                messages::CONTROLLER_RUNNING,
            ),
            (
                Condition::revisions_resolved(2),
                "GraphRevisionsResolved",
                "True",
                "Resolved",
                "revision 2 compiled and active",
            ),
        ];
        for (c, type_, status, reason, message) in cases {
            assert_eq!(
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref(),
                    c.message.as_deref()
                ),
                (type_, status, Some(reason), Some(message))
            );
        }
        let mirrored = Condition::mirroring(
            "Ready",
            &Condition::failed("KindReady", "m").with_generation(3),
        );
        assert_eq!(mirrored, Condition::failed("Ready", "m"));
        let bare = Condition::with_status("ACK.ResourceSynced", ConditionStatus::True);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"type": "ACK.ResourceSynced", "status": "True"})
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
