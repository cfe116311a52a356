//! The ACK runtime shared by every kind: conditions, annotations, finalizers, error
//! classification, references and the generic reconcile driver.

pub mod annotations;
pub mod condition;
#[cfg(test)]
mod delta_props;
pub mod error;
pub(crate) mod events;
pub(crate) mod metrics;
pub(crate) mod ownership;
pub(crate) mod refs;
pub(crate) mod runtime;
pub mod types;
pub(crate) mod undecodable;
