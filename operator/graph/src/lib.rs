//! Compiles a ResourceGraphDefinition: `${}` scanning, references, the DAG and its order.
//!
//! The entry point is [`compile`] (or [`compile_rgd`] for the typed kro-api object): it checks
//! every rule kro enforces and returns a [`CompiledGraph`] (cheap to clone) or every error found.
//!
//! Modules, each using only those before it: `error`, `expr`, `names`, `scan`, `schemas`, `dag`
//! → `path`, `input` → `model` → `draft` (a node being built) → `typecheck` → `compile`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compile;
pub mod confine;
pub mod dag;
mod draft;
pub mod error;
pub mod expr;
pub mod external_fields;
pub mod input;
pub mod model;
pub mod names;
pub mod path;
pub mod scan;
pub mod schemas;
mod typecheck;

pub use compile::{CompileOptions, compile, compile_rgd};
pub use dag::{CycleError, Dag};
pub use error::{CompileErrors, ErrorCode, GraphError, Warning};
pub use expr::CompiledExpr;
pub use kro_cel::{CelError, CelType, References};
pub use model::{
    CompiledGraph, CompiledValue, ForEachDimension, GraphData, InstanceKind, Node, NodeKind,
    TemplateField, TemplatePart,
};
pub use path::{FieldPath, Segment};
pub use schemas::{NoSchemas, ResolvedKind, SchemaSource, SchemaStore};
