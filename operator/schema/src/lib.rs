//! SimpleSchema → OpenAPI v3: turns an RGD's `spec.schema` into the instance CRD.
//!
//! - [`simple_schema_to_openapi`] / [`spec_schema`]: the instance `spec` schema from SimpleSchema
//!   (types, markers, custom types).
//! - [`status_schema`]: the instance `status` schema from the inferred types of the status
//!   expressions, plus kro's `state` and `conditions`.
//! - [`instance_crd`] / [`build_instance_crd`]: the generated CRD.
//! - [`compat`]: the breaking-change check run before a CRD update.
//!
//! Modules, each using only those before it: `error` → `types`, `markers`, `pluralize`,
//! `status`, `compat` → `transform` → `crd`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compat;
pub mod crd;
pub mod error;
pub mod markers;
pub mod pluralize;
pub mod status;
pub mod transform;
pub mod types;

pub use compat::{
    Change, ChangeType, CompatReport, breaking_changes, compare_crds, compare_schemas,
};
pub use crd::{
    CrdNames, CrdOwner, KRO_CATEGORY, build_instance_crd, categories, crd_names,
    default_printer_columns, instance_crd, instance_schema,
};
pub use error::{ErrorKind, MarkerSyntaxError, SchemaError, SchemaErrors};
pub use markers::{Marker, MarkerKind, parse_markers};
pub use pluralize::pluralize;
pub use status::{default_conditions_schema, default_state_schema, status_schema};
pub use transform::{parse_field, simple_schema_to_openapi, spec_schema};
pub use types::{TypeExpr, parse_type};
