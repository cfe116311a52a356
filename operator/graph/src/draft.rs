//! A resource node while the compiler builds it: `compile` fills it in from the RGD, `typecheck`
//! reads it and records the output type of each expression, and it ends as a [`Node`].

use std::collections::BTreeSet;

use serde_json::Value;

use crate::expr::CompiledExpr;
use crate::input::ResourceInput;
use crate::model::{ForEachDimension, Node, NodeKind, TemplateField};
use crate::schemas::ResolvedKind;

/// A node being built from one `spec.resources[]` entry.
pub(crate) struct Draft {
    /// The entry as written in the RGD.
    pub(crate) input: ResourceInput,
    /// Resource, collection or external reference.
    pub(crate) kind: NodeKind,
    /// `apiVersion` of the objects.
    pub(crate) api_version: String,
    /// `kind` of the objects.
    pub(crate) object_kind: String,
    /// Whether the objects are namespaced.
    pub(crate) namespaced: bool,
    /// The kind's schema, when the schema source knows it.
    pub(crate) resolved: Option<ResolvedKind>,
    /// The template (for external refs the `{apiVersion, kind, metadata}` built from the ref).
    pub(crate) template: Value,
    /// Every templated field of `template`.
    pub(crate) fields: Vec<TemplateField>,
    /// `includeWhen` conditions.
    pub(crate) include_when: Vec<CompiledExpr>,
    /// `readyWhen` conditions.
    pub(crate) ready_when: Vec<CompiledExpr>,
    /// `forEach` dimensions.
    pub(crate) for_each: Vec<ForEachDimension>,
    /// Ids of the nodes this node reads.
    pub(crate) deps: BTreeSet<String>,
    /// False when the node could not be built well enough to go further.
    ok: bool,
}

impl Draft {
    /// An empty draft for `input`: a plain resource, namespaced, nothing read yet.
    pub(crate) fn new(input: &ResourceInput) -> Draft {
        Draft {
            input: input.clone(),
            kind: NodeKind::Resource,
            api_version: String::new(),
            object_kind: String::new(),
            namespaced: true,
            resolved: None,
            template: Value::Null,
            fields: Vec::new(),
            include_when: Vec::new(),
            ready_when: Vec::new(),
            for_each: Vec::new(),
            deps: BTreeSet::new(),
            ok: true,
        }
    }

    /// `spec.resources[].id`.
    pub(crate) fn id(&self) -> &str {
        &self.input.id
    }

    /// Whether the node was built well enough to check its expressions.
    pub(crate) fn is_ok(&self) -> bool {
        self.ok
    }

    /// Marks the node as too broken to check further (its errors are already reported).
    pub(crate) fn reject(&mut self) {
        self.ok = false;
    }

    /// The finished node, with its dependencies in `spec.resources` order and its apply order.
    pub(crate) fn into_node(self, dependencies: Vec<String>, apply_order: u32) -> Node {
        let deletion_policy = self.input.deletion_policy.unwrap_or_default();
        let adoption_policy = self.input.adoption_policy.unwrap_or_default();
        let external_fields = self
            .input
            .external_fields
            .iter()
            .filter_map(|path| crate::external_fields::parse(path).ok())
            .collect();
        Node {
            id: self.input.id,
            index: self.input.index,
            kind: self.kind,
            api_version: self.api_version,
            object_kind: self.object_kind,
            namespaced: self.namespaced,
            schema: self.resolved.map(|resolved| resolved.schema),
            template: self.template,
            fields: self.fields,
            include_when: self.include_when,
            ready_when: self.ready_when,
            for_each: self.for_each,
            dependencies,
            apply_order,
            deletion_policy,
            adoption_policy,
            external_fields,
            reads: Vec::new(),
        }
    }
}
