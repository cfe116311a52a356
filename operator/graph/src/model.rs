//! The compiled graph: what an RGD becomes once checked, shared read-only by every reconcile.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use serde_json::Value;

use crate::error::Warning;
use crate::expr::CompiledExpr;
use crate::path::FieldPath;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// One object created from `template`.
    Resource,
    /// A `forEach` collection: one object per item of the cartesian product.
    Collection,
    /// `externalRef` by name: one object read, never written.
    External,
    /// `externalRef` by selector: a list of objects read, never written.
    ExternalCollection,
}

impl NodeKind {
    /// Whether kro writes objects for this node.
    pub fn is_managed(self) -> bool {
        matches!(self, NodeKind::Resource | NodeKind::Collection)
    }
    /// Whether other nodes see this node as a list.
    pub fn is_list(self) -> bool {
        matches!(self, NodeKind::Collection | NodeKind::ExternalCollection)
    }
}

/// A part of a string template.
#[derive(Debug, Clone)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// An expression whose value must be a string.
    Expr(CompiledExpr),
}

/// How a field's value is computed.
#[derive(Debug, Clone)]
pub enum CompiledValue {
    /// `${expr}`: the field takes the expression's value and type.
    Expr(CompiledExpr),
    /// `a-${x}-b`: the concatenation of the parts.
    Template(Vec<TemplatePart>),
}

impl CompiledValue {
    /// The expressions, in order.
    pub fn expressions(&self) -> Vec<&CompiledExpr> {
        match self {
            CompiledValue::Expr(expr) => vec![expr],
            CompiledValue::Template(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    TemplatePart::Expr(expr) => Some(expr),
                    TemplatePart::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// A templated field and how to compute it.
#[derive(Debug, Clone)]
pub struct TemplateField {
    /// Where it is in the object.
    pub path: FieldPath,
    /// How to compute it.
    pub value: CompiledValue,
}

/// One `forEach` dimension.
#[derive(Debug, Clone)]
pub struct ForEachDimension {
    /// The iterator variable.
    pub name: String,
    /// The list expression.
    pub expr: CompiledExpr,
}

/// A resource of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// `spec.resources[].id`.
    pub id: String,
    /// Position in `spec.resources`.
    pub index: usize,
    /// Resource, collection or external reference.
    pub kind: NodeKind,
    /// `apiVersion` of the objects.
    pub api_version: String,
    /// `kind` of the objects.
    pub object_kind: String,
    /// Whether the objects are namespaced.
    pub namespaced: bool,
    /// The kind's OpenAPI schema when known (`None`: checked structurally only).
    pub schema: Option<Arc<JSONSchemaProps>>,
    /// The template (for external refs: `{apiVersion, kind, metadata}` built from the ref).
    pub template: Value,
    /// Every templated field of `template`, in document order.
    pub fields: Vec<TemplateField>,
    /// `includeWhen`, all must be true.
    pub include_when: Vec<CompiledExpr>,
    /// `readyWhen`, all must be true (for collections evaluated per item with `each`).
    pub ready_when: Vec<CompiledExpr>,
    /// `forEach` dimensions (empty unless [`NodeKind::Collection`]).
    pub for_each: Vec<ForEachDimension>,
    /// Ids of the nodes this node reads, in `spec.resources` order.
    pub dependencies: Vec<String>,
    /// Deletion wave (`internal.kro.run/apply-order`): dependents have higher numbers.
    pub apply_order: u32,
    /// `deletionPolicy`: whether the node's objects are deleted or orphaned when the instance
    /// is deleted or they leave the graph.
    pub deletion_policy: kro_api::DeletionPolicy,
    /// `adoptionPolicy`: whether an existing object no ApplySet owns may be taken over.
    pub adoption_policy: kro_api::AdoptionPolicy,
    /// `externalFields`, each as its keys (`["spec", "replicas"]`): set when an object is
    /// created, left to another field manager afterwards.
    pub external_fields: Vec<Vec<String>>,
    /// The field paths any expression of the graph reads from this node's objects (its
    /// `readyWhen` on `each` included); an empty path means the whole object.
    pub reads: Vec<Vec<String>>,
}

impl Node {
    /// The parts of an observed `object` of this node that some expression reads; everything
    /// else is dropped, which makes converting it to CEL cheaper without changing any result.
    pub fn readable_part(&self, object: &Value) -> Value {
        prune(object, &self.reads, 0)
    }
}

/// The kind generated for instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceKind {
    /// API group (default `kro.run`).
    pub group: String,
    /// Version name (`v1alpha1`).
    pub version: String,
    /// Kind (`WebApp`).
    pub kind: String,
    /// Whether instances are namespaced.
    pub namespaced: bool,
}

impl InstanceKind {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

/// Everything known about a compiled RGD. Reach it through [`CompiledGraph`].
#[derive(Debug)]
pub struct GraphData {
    /// `metadata.name` of the RGD (empty when not given).
    pub name: String,
    /// The instance kind.
    pub instance: InstanceKind,
    /// The generated instance CRD (always present on a successfully compiled graph).
    pub crd: Option<CustomResourceDefinition>,
    /// OpenAPI schema of the instance without status (the type of `schema`), when known.
    pub instance_schema: Option<Arc<JSONSchemaProps>>,
    /// The nodes in topological order.
    pub nodes: Vec<Node>,
    /// `status` fields projected from expressions.
    pub status_fields: Vec<TemplateField>,
    /// The author's `status.conditions` expressions (each a condition or a list of them);
    /// when present they replace kro's built-in conditions on the instance.
    pub status_conditions: Vec<CompiledExpr>,
    /// Node ids in topological order (what kro writes to `status.topologicalOrder`).
    pub topological_order: Vec<String>,
    /// Findings that did not stop compilation.
    pub warnings: Vec<Warning>,
}

impl GraphData {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.id == id)
    }

    /// What kro writes to the RGD's `status.resources`: the nodes with at least one
    /// dependency, in topological order.
    pub fn resource_information(&self) -> Vec<kro_api::ResourceInformation> {
        self.nodes
            .iter()
            .filter(|node| !node.dependencies.is_empty())
            .map(|node| kro_api::ResourceInformation {
                id: node.id.clone(),
                dependencies: node
                    .dependencies
                    .iter()
                    .map(|dep| kro_api::Dependency { id: dep.clone() })
                    .collect(),
            })
            .collect()
    }
}

/// A compiled RGD; cloning is cheap (one `Arc`).
#[derive(Debug, Clone)]
pub struct CompiledGraph(pub(crate) Arc<GraphData>);

impl CompiledGraph {
    /// Wraps graph data (for tests and tools that build graphs by hand).
    pub fn from_data(data: GraphData) -> Self {
        Self(Arc::new(data))
    }
}

impl Deref for CompiledGraph {
    type Target = GraphData;
    fn deref(&self) -> &GraphData {
        &self.0
    }
}

fn prune(value: &Value, paths: &[Vec<String>], depth: usize) -> Value {
    if paths.is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    if paths.iter().any(|path| path.len() <= depth) {
        return value.clone();
    }
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = serde_json::Map::new();
    let mut keys: Vec<&str> = paths.iter().map(|path| path[depth].as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        if let Some(child) = map.get(key) {
            let sub: Vec<Vec<String>> = paths
                .iter()
                .filter(|path| path[depth] == key)
                .cloned()
                .collect();
            out.insert(key.to_string(), prune(child, &sub, depth + 1));
        }
    }
    Value::Object(out)
}

/// Collects, per node id, the paths every expression of the graph reads from it.
pub(crate) fn collect_reads(
    nodes: &[Node],
    status_fields: &[TemplateField],
    status_conditions: &[CompiledExpr],
) -> BTreeMap<String, Vec<Vec<String>>> {
    let ids: Vec<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut add = |expr: &CompiledExpr, each_of: Option<&str>| {
        for path in &expr.references().paths {
            let root = match (path.root.as_str(), each_of) {
                ("each", Some(id)) => id,
                (root, _) if ids.contains(&root) => root,
                _ => continue,
            };
            let entry = out.entry(root.to_string()).or_default();
            if !entry.contains(&path.fields) {
                entry.push(path.fields.clone());
            }
        }
    };
    for node in nodes {
        for field in &node.fields {
            for expr in field.value.expressions() {
                add(expr, None);
            }
        }
        for expr in node
            .include_when
            .iter()
            .chain(node.for_each.iter().map(|dim| &dim.expr))
        {
            add(expr, None);
        }
        for expr in &node.ready_when {
            add(expr, Some(node.id.as_str()));
        }
    }
    for field in status_fields {
        for expr in field.value.expressions() {
            add(expr, None);
        }
    }
    for expr in status_conditions {
        add(expr, None);
    }
    out
}
