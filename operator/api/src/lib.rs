//! kro-rs API types: the `ResourceGraphDefinition` and `GraphRevision` kinds, their conditions, and the labels,
//! annotations, finalizers and field manager that kro writes.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod condition;
pub mod crds;
pub mod decode;
pub mod graph_revision;
pub mod metadata;
pub mod rgd;
pub mod state;

pub use condition::{Condition, ConditionStatus, Conditions};
pub use graph_revision::{
    GraphRevision, GraphRevisionSpec, GraphRevisionStatus, ResourceGraphDefinitionSnapshot,
};
pub use rgd::{
    AdoptionPolicy, CrdMetadata, DeletionPolicy, Dependency, ExternalRef, ExternalRefMetadata,
    Resource, ResourceGraphDefinition, ResourceGraphDefinitionSpec, ResourceGraphDefinitionStatus,
    ResourceInformation, ResourceScope, Schema,
};
pub use state::{InstanceState, NodeState, ResourceGraphDefinitionState};

/// API group of the ResourceGraphDefinition kind and of generated instance kinds.
pub const GROUP: &str = "kro.run";
/// Served and stored version of the ResourceGraphDefinition kind.
pub const VERSION: &str = "v1alpha1";
/// Field manager used for every server-side apply kro performs.
pub const FIELD_MANAGER: &str = "kro.run/applyset";
