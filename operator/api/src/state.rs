//! The `status.state` values of RGDs and instances, and the per-node states kro tracks while
//! reconciling an instance.

use serde::{Deserialize, Serialize};

/// `status.state` of a ResourceGraphDefinition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceGraphDefinitionState {
    /// `GraphAccepted`, `KindReady` and `ControllerReady` are all `True`: the kind is served.
    Active,
    /// Anything else.
    Inactive,
}

impl ResourceGraphDefinitionState {
    /// The wire form (`Active` / `Inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

/// `status.state` of an instance of a generated kind.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Root `Ready` is `True` for the current generation: every node is synced or skipped.
    #[serde(rename = "ACTIVE")]
    Active,
    /// Reconciliation is ongoing (resources pending, waiting for readiness).
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    /// Reconciliation hit an error (graph resolution failed, CEL error, apply error...).
    #[serde(rename = "ERROR")]
    Error,
    /// The instance is being deleted and kro is removing its resources.
    #[serde(rename = "DELETING")]
    Deleting,
    /// Deprecated: kept because older kro versions wrote it; kro no longer sets it.
    #[serde(rename = "FAILED")]
    Failed,
}

impl InstanceState {
    /// The wire form (`ACTIVE`, `IN_PROGRESS`, `ERROR`, `DELETING`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::InProgress => "IN_PROGRESS",
            Self::Error => "ERROR",
            Self::Deleting => "DELETING",
            Self::Failed => "FAILED",
        }
    }
}

/// State of one node (resource) during an instance reconcile.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Being resolved or applied.
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    /// Being deleted.
    #[serde(rename = "DELETING")]
    Deleting,
    /// Excluded by `includeWhen` (or because a dependency was excluded).
    #[serde(rename = "SKIPPED")]
    Skipped,
    /// Failed.
    #[serde(rename = "ERROR")]
    Error,
    /// Applied and ready.
    #[serde(rename = "SYNCED")]
    Synced,
    /// Deleted.
    #[serde(rename = "DELETED")]
    Deleted,
    /// Applied, but `readyWhen` is not satisfied yet.
    #[serde(rename = "WAITING_FOR_READINESS")]
    WaitingForReadiness,
}

impl NodeState {
    /// The wire form, e.g. `WAITING_FOR_READINESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Deleting => "DELETING",
            Self::Skipped => "SKIPPED",
            Self::Error => "ERROR",
            Self::Synced => "SYNCED",
            Self::Deleted => "DELETED",
            Self::WaitingForReadiness => "WAITING_FOR_READINESS",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(ResourceGraphDefinitionState, InstanceState, NodeState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_match_serde() {
        for s in [
            InstanceState::Active,
            InstanceState::InProgress,
            InstanceState::Error,
            InstanceState::Deleting,
            InstanceState::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for s in [
            NodeState::InProgress,
            NodeState::Deleting,
            NodeState::Skipped,
            NodeState::Error,
            NodeState::Synced,
            NodeState::Deleted,
            NodeState::WaitingForReadiness,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for s in [
            ResourceGraphDefinitionState::Active,
            ResourceGraphDefinitionState::Inactive,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(
            serde_json::from_str::<InstanceState>("\"IN_PROGRESS\"").unwrap(),
            InstanceState::InProgress
        );
    }
}
