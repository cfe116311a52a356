//! Pure per-instance evaluation: from a compiled graph, an instance and observed objects, the plan.
//!
//! [`evaluate`] walks the graph in topological order and returns a [`Plan`]: the objects to
//! apply (with kro's labels and annotations), externalRefs to read, per-node state, and the
//! instance status. [`prune`] lists previously applied objects that dropped out. No IO.
//!
//! Every evaluation is bounded ([`Options`]): desired objects and their bytes across all nodes
//! (counted as they are built), and an optional wall-clock [`EvaluationDeadline`] that CEL
//! itself checks; a plan stopped by either has nothing to apply and says why ([`Stopped`]).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod evaluate;
mod limits;
pub mod metadata;
pub mod offline;
mod plan;
mod prune;

pub use evaluate::{Options, evaluate, evaluate_with, readiness_of};
pub use limits::{DEFAULT_MAX_DESIRED_BYTES, DEFAULT_MAX_OBJECTS, EvaluationDeadline, json_size};
pub use metadata::InstanceIdentity;
pub use plan::{
    ApplySetParent, DesiredObject, ExternalRead, NodeStatus, ObjectRef, Observed, ObservedNode,
    Plan, Stopped, StoppedBy,
};
pub use prune::prune;
