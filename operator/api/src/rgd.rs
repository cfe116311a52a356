//! The `ResourceGraphDefinition` kind (`kro.run/v1alpha1`, cluster-scoped, short name `rgd`):
//! every field of kro's spec and status.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::state::ResourceGraphDefinitionState;

/// Desired state of a ResourceGraphDefinition: the schema of the generated kind and the
/// resources every instance of it is made of.
///
/// The CRD of this kind is built by hand in [`crate::crds`] (so it matches kro's CRD field for
/// field); the derive only provides the `kube::Resource` plumbing.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kro.run",
    version = "v1alpha1",
    kind = "ResourceGraphDefinition",
    plural = "resourcegraphdefinitions",
    shortname = "rgd",
    status = "ResourceGraphDefinitionStatus",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGraphDefinitionSpec {
    /// The generated kind: identity, SimpleSchema of its spec, types, status projections.
    pub schema: Schema,
    /// The resources of the graph, in the author's order (order breaks ties in the topological
    /// order). May be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

/// `spec.schema`: the generated instance kind.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// Kind of the generated CRD, `^[A-Z][a-zA-Z0-9]{0,62}$`. Immutable.
    pub kind: String,
    /// Version of the generated CRD, `^v[0-9]+(alpha[0-9]+|beta[0-9]+)?$`. Immutable.
    pub api_version: String,
    /// API group of the generated CRD; `kro.run` when omitted. Immutable.
    #[serde(default = "default_group")]
    pub group: String,
    /// SimpleSchema of the instance `spec` (free-form map of field → type string or nested map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Named custom SimpleSchema types that `spec` may reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<serde_json::Value>,
    /// Instance status fields, each a `${...}` CEL projection (plus an optional `conditions`
    /// list of `runtime.newCondition(...)` expressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// Scope of the generated CRD; `Namespaced` when omitted. Immutable.
    #[serde(default)]
    pub scope: ResourceScope,
    /// Printer columns of the generated CRD; when set they replace kro's default columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_printer_columns: Vec<CustomResourceColumnDefinition>,
    /// `names.shortNames` of the generated CRD.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// `names.categories` of the generated CRD.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Labels and annotations copied onto the generated CRD (kro's own labels win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<CrdMetadata>,
}

/// The default of `spec.schema.group`.
pub fn default_group() -> String {
    crate::GROUP.to_string()
}

impl Schema {
    /// `<group>/<apiVersion>` of the generated kind.
    pub fn gv(&self) -> String {
        format!("{}/{}", self.group, self.api_version)
    }
}

/// `spec.schema.scope`: scope of the generated CRD.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ResourceScope {
    /// Instances live in a namespace (the default).
    #[default]
    Namespaced,
    /// Instances are cluster-scoped.
    Cluster,
}

impl ResourceScope {
    /// The wire form (`Namespaced` / `Cluster`), as in a CRD's `spec.scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespaced => "Namespaced",
            Self::Cluster => "Cluster",
        }
    }
}

impl std::fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `spec.schema.metadata`: metadata put on the generated CRD.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CrdMetadata {
    /// Labels for the generated CRD.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations for the generated CRD.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One `spec.resources[]` entry: a node of the graph. Exactly one of `template` and
/// `externalRef` is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Node id, lower camelCase (`^[a-z][a-zA-Z0-9]*$`), unique, not reserved; the name other
    /// expressions use to refer to this resource.
    pub id: String,
    /// Manifest to create, with `${...}` CEL expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
    /// A read-only reference to an existing object instead of a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<ExternalRef>,
    /// Standalone `${...}` expressions that must all be true for the resource to be ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_when: Vec<String>,
    /// Standalone `${...}` expressions that must all be true for the resource to exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_when: Vec<String>,
    /// Collection dimensions: each entry maps one iterator name to a `${...}` list expression;
    /// several entries expand to their cartesian product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_each: Vec<BTreeMap<String, String>>,
    /// What happens to the resource's objects when the instance is deleted or they drop out of
    /// the graph: [`DeletionPolicy`] (`Delete`, the default, or `Orphan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<String>,
    /// Whether an existing object that no ApplySet owns may be taken over:
    /// [`AdoptionPolicy`] (`Never`, the default, or `AdoptOrCreate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption_policy: Option<String>,
    /// Field paths of the template handed to another field manager (kro v0.10), such as
    /// `spec.replicas` under an HPA: set when the object is created, never set nor reverted
    /// afterwards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_fields: Vec<String>,
}

/// `spec.resources[].deletionPolicy`: what kro does with a resource's objects when the instance
/// is deleted, or when they leave the graph (prune, `includeWhen` turning false, forEach
/// shrinking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Delete them (kro's default).
    #[default]
    Delete,
    /// Leave them in the cluster without kro's labels, so nothing deletes them later.
    Orphan,
}

impl DeletionPolicy {
    /// The values the field accepts (`Orphaned` is kro's documentation's spelling of `Orphan`).
    pub const ACCEPTED: [&str; 3] = ["Delete", "Orphan", "Orphaned"];

    /// Parses the field's value; `None` for anything but [`Self::ACCEPTED`].
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Delete" => Some(Self::Delete),
            "Orphan" | "Orphaned" => Some(Self::Orphan),
            _ => None,
        }
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Orphan => "Orphan",
        }
    }
}

/// `spec.resources[].adoptionPolicy` (kro-rs; kro has no such field): whether kro may take over
/// an object that already exists and that no ApplySet owns. An object of another ApplySet is
/// never taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AdoptionPolicy {
    /// Refuse: the resource reports a conflict and the object is left untouched (the default).
    #[default]
    Never,
    /// Take the existing object over (recorded as `internal.kro.run/adopted` on it; released,
    /// never deleted, when the instance goes), or create it when it does not exist.
    AdoptOrCreate,
}

impl AdoptionPolicy {
    /// The values the field accepts.
    pub const ACCEPTED: [&str; 2] = ["Never", "AdoptOrCreate"];

    /// Parses the field's value; `None` for anything but [`Self::ACCEPTED`].
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Never" => Some(Self::Never),
            "AdoptOrCreate" => Some(Self::AdoptOrCreate),
            _ => None,
        }
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "Never",
            Self::AdoptOrCreate => "AdoptOrCreate",
        }
    }
}

/// `spec.resources[].externalRef`: an existing object kro reads but never changes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// API version of the referenced object, e.g. `v1` or `apps/v1`.
    pub api_version: String,
    /// Kind of the referenced object.
    pub kind: String,
    /// Which object(s): exactly one of `name` and `selector`.
    pub metadata: ExternalRefMetadata,
}

/// `spec.resources[].externalRef.metadata`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRefMetadata {
    /// Name of the referenced object (may contain `${...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace; defaults to the instance's namespace for a named reference, and means
    /// "all namespaces" when empty for a selector (may contain `${...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Label selector (`matchLabels` / `matchExpressions`, values may contain `${...}`), or a
    /// standalone `${...}` expression returning one. Selects a collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<serde_json::Value>,
}

/// Observed state of a ResourceGraphDefinition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGraphDefinitionStatus {
    /// `Active` or `Inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ResourceGraphDefinitionState>,
    /// Resource ids in topological order (the instance itself excluded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topological_order: Vec<String>,
    /// `GraphRevisionsResolved`, `GraphAccepted`, `KindReady`, `ControllerReady`, and root
    /// `Ready` last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Nodes that have at least one dependency, in topological order, with their dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceInformation>,
    /// Highest GraphRevision number ever issued for this RGD (0 = none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_issued_revision: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `status.resources[]`: one node and the nodes it depends on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInformation {
    /// The node's id.
    #[serde(default)]
    pub id: String,
    /// The nodes its expressions refer to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// `status.resources[].dependencies[]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// Id of the resource depended on.
    #[serde(default)]
    pub id: String,
}
