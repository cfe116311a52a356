//! Pure per-instance evaluation: from a compiled graph, an instance and observed objects, the plan.
//!
//! [`evaluate`] walks the graph in topological order and returns a [`Plan`]: the objects to
//! apply (with kro's labels and annotations), externalRefs to read, per-node state, and the
//! instance status. [`prune`] lists previously applied objects that dropped out. No IO.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod evaluate;
pub mod metadata;
pub mod offline;
mod plan;
mod prune;

pub use evaluate::{Options, evaluate, evaluate_with, readiness_of};
pub use metadata::InstanceIdentity;
pub use plan::{
    ApplySetParent, DesiredObject, ExternalRead, NodeStatus, ObjectRef, Observed, ObservedNode,
    Plan,
};
pub use prune::prune;
