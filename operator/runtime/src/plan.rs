//! What the runtime hands the controller: observed input and the resulting plan.

use std::collections::BTreeMap;

use kro_api::{Condition, InstanceState, NodeState};
use serde::Serialize;
use serde_json::Value;

/// What the controller read from the cluster for one node.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservedNode {
    /// A single object (resource or externalRef by name).
    Object(Value),
    /// The items of a forEach collection (found by label) or of an externalRef by selector.
    List(Vec<Value>),
}

/// Objects read from the cluster, by node id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// By node id.
    pub nodes: BTreeMap<String, ObservedNode>,
}

impl Observed {
    /// Nothing observed yet (first reconcile).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the object of a single node.
    pub fn insert(&mut self, id: impl Into<String>, object: Value) -> &mut Self {
        self.nodes.insert(id.into(), ObservedNode::Object(object));
        self
    }

    /// Records the items of a collection or selector-based externalRef.
    pub fn insert_list(&mut self, id: impl Into<String>, items: Vec<Value>) -> &mut Self {
        self.nodes.insert(id.into(), ObservedNode::List(items));
        self
    }
}

/// An object to server-side apply, fully resolved, with kro's labels and annotations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredObject {
    /// The node it comes from.
    pub node_id: String,
    /// Position in its collection (forEach items only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_index: Option<usize>,
    /// The object.
    pub object: Value,
}

impl DesiredObject {
    /// `apiVersion` of the object.
    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// `kind` of the object.
    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// `metadata.namespace`, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    }
    /// Its identity.
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
            node_id: self.node_id.clone(),
        }
    }
}

/// Identity of an object kro applied (for pruning).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace` (None for cluster-scoped objects).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The `kro.run/node-id` label.
    pub node_id: String,
}

/// How to find an externalRef.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRead {
    /// The node.
    pub node_id: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace to read in (None: cluster-scoped, or all namespaces for a selector).
    pub namespace: Option<String>,
    /// GET by name…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// …or LIST by this label selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
}

/// Where one node stands after evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The node id.
    pub id: String,
    /// kro's node state.
    pub state: NodeState,
    /// Whether dependents may use it (ready, or skipped).
    pub ready: bool,
    /// Why it is not ready / skipped / failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The parent (instance) ApplySet metadata kro writes before applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplySetParent {
    /// `applyset.kubernetes.io/id` label value.
    pub id: String,
    /// `applyset.kubernetes.io/contains-group-kinds` annotation value.
    pub contains_group_kinds: String,
    /// `applyset.kubernetes.io/additional-namespaces` annotation value.
    pub additional_namespaces: String,
}

/// Everything the controller must do for one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Objects to apply, in topological order (collection items in order).
    pub apply: Vec<DesiredObject>,
    /// External references to read (their results feed the next evaluation).
    pub external_reads: Vec<ExternalRead>,
    /// Every node, in topological order.
    pub nodes: Vec<NodeStatus>,
    /// ApplySet metadata for the instance.
    pub applyset: ApplySetParent,
    /// `status.state`.
    pub state: InstanceState,
    /// `status.conditions` (without lastTransitionTime; the controller stamps them with `kro_api::Conditions::merge`).
    pub conditions: Vec<Condition>,
    /// The full `status` to write: projected fields, `state` and `conditions`.
    pub status: Value,
    /// Whether pruning is safe (nothing waited on data and nothing failed).
    pub prune_allowed: bool,
    /// Whether the controller should reconcile again soon (something waits on data).
    pub requeue: bool,
    /// Set when the evaluation stopped before the end (a budget or the deadline): then nothing
    /// is to be applied or read, and the status says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
}

/// Why and where an evaluation stopped before the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    /// What stopped it.
    pub by: StoppedBy,
    /// The node being evaluated (or `status` for the projected status fields).
    pub at: String,
    /// What the user reads: the bound, the flag and what to change.
    pub message: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What stopped an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StoppedBy {
    /// `--instance-max-objects` or `--instance-max-desired-bytes`: the same input stops the
    /// same way until the instance (or the flag) changes.
    Budget,
    /// `--instance-evaluation-timeout`: retried with backoff.
    Deadline,
}

impl Plan {
    /// The status of a node.
    pub fn node(&self, id: &str) -> Option<&NodeStatus> {
        self.nodes.iter().find(|node| node.id == id)
    }
}
