//! What every kro-rs reconciler needs once, shared by the kro controllers (`kro-controller`)
//! and the ACK controllers (`kro-aws`): a panic guard, event publishing, per-object backoff and
//! a clock.
//!
//! - [`guard`] runs one reconcile so that a panic becomes an error ([`Panicked`]), counted and
//!   logged once, instead of taking the controller down.
//! - [`events`] publishes Kubernetes events with notes cut to what events.k8s.io accepts.
//! - [`backoff`] counts consecutive failures per object ([`Failures`]) and turns a count into a
//!   delay ([`Backoff`]).
//! - [`bucket`] is a token bucket ([`TokenBucket`]) for rate limits over many objects or
//!   requests.
//! - [`clock`] is where "now" comes from ([`Clock`]), so condition stamping is testable.
//! - [`kill`] is the crash suite's test hook ([`kill_point`], armed by `KRO_KILL_POINTS`).
//! - [`fence`] is the leader's write fence ([`LeaderFence`]): no write once the Lease may have
//!   passed to another replica.
//! - [`shutdown`] bounds a controller's graceful shutdown ([`abandon`]), which kube's runner
//!   would hold forever for a watch that never listed.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod ack_metrics;
pub mod backoff;
pub mod bucket;
pub mod clock;
pub mod events;
pub mod fence;
pub mod guard;
pub mod kill;
pub mod shutdown;
pub mod undecodable;

pub use backoff::{Backoff, Failures};
pub use bucket::TokenBucket;
pub use clock::{Clock, FixedClock, SystemClock};
pub use events::publish;
pub use fence::{LeaderFence, NotLeading};
pub use guard::{Panicked, guard, panic_message};
pub use kill::kill_point;
pub use shutdown::abandon;
