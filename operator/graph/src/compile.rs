//! The RGD compiler: validates every rule kro enforces, extracts and compiles every expression,
//! builds the DAG and returns a [`CompiledGraph`], or every error found.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::dag::Dag;
use crate::error::{CompileErrors, ErrorCode, GraphError, Warning};
use crate::expr::CompiledExpr;
use crate::input::{ResourceInput, RgdInput, read_rgd};
use crate::model::{
    CompiledGraph, CompiledValue, ForEachDimension, GraphData, InstanceKind, Node, NodeKind,
    TemplateField, TemplatePart,
};
use crate::names::{self, EACH_VAR, RUNTIME_VAR, SCHEMA_VAR};
use crate::path::{FieldPath, walk};
use crate::scan::{self, FieldValue, Part};
use crate::schemas::{ResolvedKind, SchemaSource, default_namespaced, group_of};
use crate::typecheck;

/// Limits and feature gates of the compiler (kro's controller flags).
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// `--rgd-max-collection-dimension-size` (default 10).
    pub max_collection_dimensions: usize,
    /// The `CELOmitFunction` feature gate (default off).
    pub omit_enabled: bool,
    /// The kro version written in the generated CRD's labels.
    pub kro_version: String,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            max_collection_dimensions: 10,
            omit_enabled: false,
            kro_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Compiles an RGD given as a JSON value (a whole `ResourceGraphDefinition` or its `spec`).
pub fn compile(
    rgd: &Value,
    schemas: &dyn SchemaSource,
    options: &CompileOptions,
) -> Result<CompiledGraph, CompileErrors> {
    let (input, errors) = read_rgd(rgd);
    Compiler {
        schemas,
        options,
        errors,
        warnings: Vec::new(),
    }
    .run(input)
}

/// Compiles a typed RGD from kro-api.
pub fn compile_rgd(
    rgd: &kro_api::ResourceGraphDefinition,
    schemas: &dyn SchemaSource,
    options: &CompileOptions,
) -> Result<CompiledGraph, CompileErrors> {
    match serde_json::to_value(rgd) {
        Ok(v) => compile(&v, schemas, options),
        Err(e) => Err(CompileErrors {
            errors: vec![GraphError::new(
                ErrorCode::InvalidDocument,
                format!("cannot serialize the ResourceGraphDefinition: {e}"),
            )],
            warnings: Vec::new(),
        }),
    }
}

struct Compiler<'a> {
    schemas: &'a dyn SchemaSource,
    options: &'a CompileOptions,
    errors: Vec<GraphError>,
    warnings: Vec<Warning>,
}

/// A node being built.
pub(crate) struct Draft {
    pub(crate) input: ResourceInput,
    pub(crate) kind: NodeKind,
    pub(crate) api_version: String,
    pub(crate) object_kind: String,
    pub(crate) namespaced: bool,
    pub(crate) resolved: Option<ResolvedKind>,
    pub(crate) template: Value,
    pub(crate) fields: Vec<TemplateField>,
    pub(crate) include_when: Vec<CompiledExpr>,
    pub(crate) ready_when: Vec<CompiledExpr>,
    pub(crate) for_each: Vec<ForEachDimension>,
    pub(crate) deps: BTreeSet<String>,
    /// False when the node could not be built well enough to go further.
    pub(crate) ok: bool,
}

fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

impl Compiler<'_> {
    fn err(&mut self, e: GraphError) {
        self.errors.push(e);
    }

    fn run(mut self, input: RgdInput) -> Result<CompiledGraph, CompileErrors> {
        let instance = self.check_schema(&input);
        let ids = self.check_ids(&input);
        for r in &input.resources {
            self.check_for_each_names(r, &ids);
        }

        let mut drafts: Vec<Draft> = input
            .resources
            .iter()
            .map(|r| self.build_node(r, instance.namespaced))
            .collect();

        // References and dependencies.
        for d in drafts.iter_mut() {
            if d.ok {
                self.resolve_references(d, &ids);
            }
        }

        let mut dag = Dag::new(drafts.iter().map(|d| d.input.id.clone()));
        for d in &drafts {
            dag.add_dependencies(&d.input.id, d.deps.iter().map(String::as_str));
        }
        let order = match dag.topological_order() {
            Ok(o) => o,
            Err(c) => {
                self.err(
                    GraphError::new(
                        ErrorCode::Cycle,
                        format!("failed to build dependency graph: {c}"),
                    )
                    .hint("break the cycle: one of these resources must not read the other"),
                );
                Vec::new()
            }
        };

        let mut status_fields = self.build_status(&input, &ids);
        let mut status_conditions = self.build_status_conditions(&input, &ids);

        // Static type checks.
        let mut crd = None;
        let mut instance_schema = None;
        match typecheck::instance_spec(&input.schema.raw) {
            Ok((schema, spec)) => {
                let schema_type = typecheck::schema_type(&spec);
                instance_schema = Some(Arc::new(spec));
                self.errors.extend(typecheck::check_literals(&drafts));
                self.errors
                    .extend(typecheck::check_nodes(&mut drafts, &schema_type));
                let (status_schemas, errs) =
                    typecheck::check_status(&mut status_fields, &drafts, &schema_type);
                self.errors.extend(errs);
                self.errors.extend(typecheck::check_status_conditions(
                    &mut status_conditions,
                    &drafts,
                    &schema_type,
                ));
                if self.errors.is_empty() {
                    let owner = kro_schema::CrdOwner {
                        rgd_name: &input.name,
                        rgd_uid: input.uid.as_str(),
                        kro_version: &self.options.kro_version,
                    };
                    match kro_schema::build_instance_crd(&schema, status_schemas, &owner) {
                        Ok(c) => crd = Some(c),
                        Err(errs) => {
                            for e in errs.0 {
                                self.err(
                                    GraphError::new(ErrorCode::SimpleSchema, e.to_string())
                                        .at(e.path.clone()),
                                );
                            }
                        }
                    }
                }
            }
            Err(errs) => self.errors.extend(errs),
        }

        if !self.errors.is_empty() {
            return Err(CompileErrors {
                errors: self.errors,
                warnings: self.warnings,
            });
        }

        let apply_orders: BTreeMap<String, u32> =
            dag.apply_orders().unwrap_or_default().into_iter().collect();
        let index_of: BTreeMap<String, usize> = drafts
            .iter()
            .map(|d| (d.input.id.clone(), d.input.index))
            .collect();
        let mut by_id: BTreeMap<String, Draft> =
            drafts.drain(..).map(|d| (d.input.id.clone(), d)).collect();
        let mut nodes = Vec::with_capacity(order.len());
        for id in &order {
            let Some(d) = by_id.remove(id) else { continue };
            let mut dependencies: Vec<String> = d.deps.iter().cloned().collect();
            dependencies.sort_by_key(|x| index_of.get(x).copied().unwrap_or(usize::MAX));
            nodes.push(Node {
                id: id.clone(),
                index: d.input.index,
                kind: d.kind,
                api_version: d.api_version,
                object_kind: d.object_kind,
                namespaced: d.namespaced,
                schema: d.resolved.map(|r| r.schema),
                template: d.template,
                fields: d.fields,
                include_when: d.include_when,
                ready_when: d.ready_when,
                for_each: d.for_each,
                dependencies,
                apply_order: apply_orders.get(id).copied().unwrap_or(1),
                reads: Vec::new(),
            });
        }

        let status_conditions: Vec<CompiledExpr> =
            status_conditions.into_iter().map(|(_, e)| e).collect();
        let mut reads = crate::model::collect_reads(&nodes, &status_fields, &status_conditions);
        for n in nodes.iter_mut() {
            n.reads = reads.remove(&n.id).unwrap_or_default();
        }
        Ok(CompiledGraph(Arc::new(GraphData {
            name: input.name,
            instance,
            crd,
            instance_schema,
            nodes,
            status_fields,
            status_conditions,
            topological_order: order,
            warnings: self.warnings,
        })))
    }

    fn check_schema(&mut self, input: &RgdInput) -> InstanceKind {
        let s = &input.schema;
        if !s.kind.is_empty() && !names::is_upper_camel(&s.kind) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidSchema,
                    format!(
                        "naming convention violation: kind '{}' is not a valid KRO kind name: must be UpperCamelCase",
                        s.kind
                    ),
                )
                .at("spec.schema.kind"),
            );
        }
        if !s.api_version.is_empty() && !names::is_kube_version(&s.api_version) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidSchema,
                    format!(
                        "version {} is not a valid Kubernetes version",
                        s.api_version
                    ),
                )
                .at("spec.schema.apiVersion")
                .hint("use v1, v1alpha1, v2beta1, …"),
            );
        }
        InstanceKind {
            group: s.group.clone(),
            version: s.api_version.clone(),
            kind: s.kind.clone(),
            namespaced: !s.cluster_scoped,
        }
    }

    /// Every resource id that is usable in expressions (duplicates count once).
    fn check_ids(&mut self, input: &RgdInput) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for r in &input.resources {
            if r.id.is_empty() {
                continue;
            }
            let at = format!("spec.resources[{}].id", r.index);
            if names::is_reserved(&r.id) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: id {} is a reserved keyword in KRO",
                            r.id
                        ),
                    )
                    .resource(&r.id)
                    .at(&at)
                    .hint(format!("rename it, for example to my{}", capitalize(&r.id))),
                );
            } else if !names::is_lower_camel(&r.id) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: id {} is not a valid KRO resource id: must be lower camelCase",
                            r.id
                        ),
                    )
                    .resource(&r.id)
                    .at(&at)
                    .hint("use letters and digits only, starting with a lowercase letter"),
                );
            }
            if !seen.insert(r.id.clone()) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: found duplicate resource IDs {}",
                            r.id
                        ),
                    )
                    .resource(&r.id)
                    .at(&at),
                );
            }
        }
        seen
    }

    fn check_for_each_names(&mut self, r: &ResourceInput, ids: &BTreeSet<String>) {
        let id = &r.id;
        if r.for_each.len() > self.options.max_collection_dimensions {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidForEach,
                    format!(
                        "resource {id:?}: forEach cannot have more than {} dimensions, got {}",
                        self.options.max_collection_dimensions,
                        r.for_each.len()
                    ),
                )
                .resource(id)
                .at("forEach"),
            );
        }
        let mut seen = BTreeSet::new();
        for (name, _) in &r.for_each {
            let msg = if !names::is_lower_camel(name) {
                Some(format!(
                    "resource {id:?}: forEach iterator name {name:?} is not valid: must be lowerCamelCase"
                ))
            } else if names::is_reserved(name) {
                Some(format!(
                    "resource {id:?}: forEach iterator name {name:?} is a reserved keyword"
                ))
            } else if ids.contains(name) {
                Some(format!(
                    "resource {id:?}: forEach iterator name {name:?} conflicts with resource ID"
                ))
            } else if !seen.insert(name.clone()) {
                Some(format!(
                    "resource {id:?}: duplicate forEach iterator name {name:?}"
                ))
            } else {
                None
            };
            if let Some(m) = msg {
                self.err(
                    GraphError::new(ErrorCode::InvalidForEach, m)
                        .resource(id)
                        .at(format!("forEach.{name}")),
                );
            }
        }
    }

    fn compile_expr(&mut self, id: &str, at: &str, src: &str) -> Option<CompiledExpr> {
        match CompiledExpr::compile(src) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(
                    GraphError::new(
                        ErrorCode::CelSyntax,
                        format!("failed to validate resource {id:?}: {e} at path {at:?}"),
                    )
                    .resource(id)
                    .at(at),
                );
                None
            }
        }
    }

    fn compile_value(&mut self, id: &str, at: &str, v: &FieldValue) -> Option<CompiledValue> {
        match v {
            FieldValue::Literal => None,
            FieldValue::Standalone(e) => self.compile_expr(id, at, e).map(CompiledValue::Expr),
            FieldValue::Template(parts) => {
                let mut out = Vec::new();
                let mut ok = true;
                for p in parts {
                    match p {
                        Part::Text(t) => out.push(TemplatePart::Text(t.clone())),
                        Part::Expr(e) => match self.compile_expr(id, at, e) {
                            Some(c) => out.push(TemplatePart::Expr(c)),
                            None => ok = false,
                        },
                    }
                }
                ok.then_some(CompiledValue::Template(out))
            }
        }
    }

    fn conditions(&mut self, id: &str, what: &str, items: &[String]) -> Vec<CompiledExpr> {
        let mut out = Vec::new();
        for (i, s) in items.iter().enumerate() {
            let at = format!("{what}[{i}]");
            match scan::standalone(s) {
                Ok(Some(e)) => {
                    if let Some(c) = self.compile_expr(id, &at, &e) {
                        out.push(c);
                    }
                }
                Ok(None) => self.err(
                    GraphError::new(
                        ErrorCode::InvalidExpression,
                        format!(
                            "resource {id:?}: failed to parse {what} expressions: only standalone expressions are allowed: {s:?}"
                        ),
                    )
                    .resource(id)
                    .at(&at)
                    .hint("write the whole condition as one ${…}, e.g. \"${a == b}\""),
                ),
                Err(e) => self.err(
                    GraphError::new(
                        ErrorCode::InvalidExpression,
                        format!("resource {id:?}: failed to parse {what} expressions: {e}"),
                    )
                    .resource(id)
                    .at(&at),
                ),
            }
        }
        out
    }

    fn build_node(&mut self, r: &ResourceInput, instance_namespaced: bool) -> Draft {
        let id = r.id.clone();
        let mut d = Draft {
            input: r.clone(),
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
        };
        let has_t = r.template.is_some();
        let has_x = r.external_ref.is_some();
        let combo = if !has_t && !has_x {
            Some("exactly one of template or externalRef must be provided")
        } else if has_t && has_x {
            Some("cannot use externalRef with template")
        } else if has_x && !r.for_each.is_empty() {
            Some("cannot use externalRef with forEach")
        } else {
            None
        };
        if let Some(c) = combo {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidCombination,
                    format!("invalid combination of resource fields: resource {id:?}: {c}"),
                )
                .resource(&id)
                .at(format!("spec.resources[{}]", r.index)),
            );
            d.ok = false;
            return d;
        }

        let obj = if let Some(t) = &r.template {
            t.clone()
        } else {
            match self.external_template(&id, r.external_ref.as_ref()) {
                Some((o, selector)) => {
                    d.kind = if selector {
                        NodeKind::ExternalCollection
                    } else {
                        NodeKind::External
                    };
                    o
                }
                None => {
                    d.ok = false;
                    return d;
                }
            }
        };
        if d.kind == NodeKind::Resource && !r.for_each.is_empty() {
            d.kind = NodeKind::Collection;
        }
        if r.for_each_invalid {
            d.ok = false;
        }

        // Structure.
        let structure = match &obj {
            Value::Object(m) => match (m.get("apiVersion"), m.get("kind"), m.get("metadata")) {
                (None, _, _) => Some("apiVersion field not found"),
                (Some(v), _, _) if !v.is_string() => Some("apiVersion field is not a string"),
                (_, None, _) => Some("kind field not found"),
                (_, Some(v), _) if !v.is_string() => Some("kind field is not a string"),
                (_, _, None) => Some("metadata field not found"),
                (_, _, Some(v)) if !v.is_object() => Some("metadata field is not a map"),
                _ => None,
            },
            _ => Some("template is not a map"),
        };
        if let Some(s) = structure {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!("resource {id} is not a valid Kubernetes object: {s}"),
                )
                .resource(&id)
                .at("template")
                .hint("a template needs apiVersion (string), kind (string) and metadata (map)"),
            );
            d.ok = false;
            return d;
        }
        d.api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        d.object_kind = obj["kind"].as_str().unwrap_or_default().to_string();
        if !names::is_dns1035_label(&d.object_kind.to_lowercase()) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!(
                        "resource {id:?}: kind {:?} is not valid: its lowercase form must be a DNS-1035 label",
                        d.object_kind
                    ),
                )
                .resource(&id)
                .at("kind"),
            );
        }

        // Schema and scope.
        d.resolved = self.schemas.resolve(&d.api_version, &d.object_kind);
        d.namespaced = match &d.resolved {
            Some(r) => r.namespaced,
            None => default_namespaced(&d.api_version, &d.object_kind),
        };
        if d.resolved.is_none() {
            self.warnings.push(Warning {
                resource: Some(id.clone()),
                message: format!(
                    "resource {id:?}: no schema known for {} {}; its fields and expressions are checked structurally only (give --schemas DIR with its CRD or OpenAPI document for full type checks)",
                    d.api_version, d.object_kind
                ),
            });
        }
        self.template_constraints(&mut d, &obj, instance_namespaced);

        // Expressions.
        let w = walk(&obj, &FieldPath::root());
        for (p, e) in &w.errors {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidExpression,
                    format!(
                        "resource {id:?}: invalid expression at path {:?}: {e}",
                        p.to_string()
                    ),
                )
                .resource(&id)
                .at(p.to_string()),
            );
            d.ok = false;
        }
        let is_crd = group_of(&d.api_version) == "apiextensions.k8s.io"
            && d.object_kind == "CustomResourceDefinition";
        for f in &w.fields {
            let at = f.path.to_string();
            if is_crd && !f.path.starts_with(&["metadata"]) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidExpression,
                        format!(
                            "CEL expressions in CRDs are only supported for metadata fields, found in path {at:?}, resource {id}"
                        ),
                    )
                    .resource(&id)
                    .at(&at),
                );
                d.ok = false;
                continue;
            }
            match self.compile_value(&id, &at, &f.value) {
                Some(v) => d.fields.push(TemplateField {
                    path: f.path.clone(),
                    value: v,
                }),
                None => d.ok = false,
            }
        }
        d.template = obj;
        d.include_when = self.conditions(&id, "includeWhen", &r.include_when);
        d.ready_when = self.conditions(&id, "readyWhen", &r.ready_when);
        if d.include_when.len() != r.include_when.len() || d.ready_when.len() != r.ready_when.len()
        {
            d.ok = false;
        }
        for (name, src) in &r.for_each {
            let at = format!("forEach.{name}");
            match scan::standalone(src) {
                Ok(Some(e)) => match self.compile_expr(&id, &at, &e) {
                    Some(c) => d.for_each.push(ForEachDimension {
                        name: name.clone(),
                        expr: c,
                    }),
                    None => d.ok = false,
                },
                Ok(None) | Err(_) => {
                    self.err(
                        GraphError::new(
                            ErrorCode::InvalidForEach,
                            format!(
                                "failed to parse forEach dimensions: invalid forEach expression for dimension {name:?}: only standalone expressions are allowed"
                            ),
                        )
                        .resource(&id)
                        .at(&at)
                        .hint("write the list as one ${…}, e.g. \"${schema.spec.regions}\""),
                    );
                    d.ok = false;
                }
            }
        }
        d
    }

    /// `{apiVersion, kind, metadata{name|selector, namespace}}` from an externalRef, and whether it
    /// selects by label.
    fn external_template(&mut self, id: &str, x: Option<&Value>) -> Option<(Value, bool)> {
        let x = x?;
        let Some(m) = x.as_object() else {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!("resource {id:?}: externalRef must be a map"),
                )
                .resource(id)
                .at("externalRef"),
            );
            return None;
        };
        let mut missing = Vec::new();
        for k in ["apiVersion", "kind"] {
            if !m.get(k).is_some_and(Value::is_string) {
                missing.push(k);
            }
        }
        let meta = m.get("metadata").and_then(Value::as_object);
        if meta.is_none() {
            missing.push("metadata");
        }
        if !missing.is_empty() {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!(
                        "resource {id:?}: externalRef is missing {}",
                        missing.join(", ")
                    ),
                )
                .resource(id)
                .at("externalRef"),
            );
            return None;
        }
        let meta = meta.cloned().unwrap_or_default();
        let has_name = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let has_selector = meta.get("selector").is_some_and(|v| !v.is_null());
        if has_name == has_selector {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!(
                        "failed to build external ref resource {id}: exactly one of name or selector must be provided"
                    ),
                )
                .resource(id)
                .at("externalRef.metadata")
                .hint("set externalRef.metadata.name, or externalRef.metadata.selector, not both"),
            );
            return None;
        }
        if let Some(sel) = meta.get("selector") {
            let shape_ok = match sel {
                Value::String(s) => matches!(scan::standalone(s), Ok(Some(_))),
                Value::Object(o) => o
                    .keys()
                    .all(|k| k == "matchLabels" || k == "matchExpressions"),
                _ => false,
            };
            if !shape_ok {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidTemplate,
                        "selector must be a Kubernetes LabelSelector object or a CEL expression that resolves to one",
                    )
                    .resource(id)
                    .at("externalRef.metadata.selector"),
                );
                return None;
            }
        }
        let mut out = Map::new();
        out.insert("apiVersion".into(), m["apiVersion"].clone());
        out.insert("kind".into(), m["kind"].clone());
        out.insert("metadata".into(), Value::Object(meta));
        Some((Value::Object(out), has_selector))
    }

    fn template_constraints(&mut self, d: &mut Draft, obj: &Value, instance_namespaced: bool) {
        let id = d.input.id.clone();
        let ns = obj.pointer("/metadata/namespace");
        if !d.namespaced && ns.is_some() {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidMetadata,
                    format!(
                        "resource {id:?} is cluster-scoped and must not set metadata.namespace"
                    ),
                )
                .resource(&id)
                .at("metadata.namespace")
                .hint("remove metadata.namespace"),
            );
        }
        if d.namespaced && !instance_namespaced && d.kind != NodeKind::ExternalCollection {
            let ok = ns
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
            if !ok {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidMetadata,
                        format!(
                            "resource {id:?} is namespaced and must set metadata.namespace when the instance CRD is cluster-scoped"
                        ),
                    )
                    .resource(&id)
                    .at("metadata.namespace")
                    .hint("set metadata.namespace, e.g. to ${schema.spec.namespace}"),
                );
            }
        }
        for what in ["labels", "annotations"] {
            let Some(m) = obj
                .pointer(&format!("/metadata/{what}"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for key in m.keys() {
                for prefix in ["kro.run/", "internal.kro.run/"] {
                    if key.starts_with(prefix) {
                        let singular = &what[..what.len() - 1];
                        self.err(
                            GraphError::new(
                                ErrorCode::InvalidMetadata,
                                format!(
                                    "invalid {singular} for resource {id:?}. {what} with prefix {prefix:?} are reserved for internal use"
                                ),
                            )
                            .resource(&id)
                            .at(format!("metadata.{what}[{key:?}]")),
                        );
                    }
                }
            }
        }
    }

    fn resolve_references(&mut self, d: &mut Draft, ids: &BTreeSet<String>) {
        let id = d.input.id.clone();
        let iterators: Vec<String> = d.for_each.iter().map(|f| f.name.clone()).collect();
        let mut identity_iterators = BTreeSet::new();
        let mut errs = Vec::new();

        // Template fields.
        for f in &d.fields {
            let at = f.path.to_string();
            let identity = f.path.is(&["metadata", "name"])
                || (d.namespaced && f.path.is(&["metadata", "namespace"]));
            for e in f.value.expressions() {
                let r = e.references();
                if e.uses_omit() {
                    if !self.options.omit_enabled {
                        errs.push((
                            ErrorCode::InvalidFunction,
                            at.clone(),
                            "omit() requires the CELOmitFunction feature gate to be enabled \
                             (kro run --feature-gates CELOmitFunction=true)"
                                .to_string(),
                        ));
                    } else if f.path.is(&["metadata", "name"])
                        || (f.path.is(&["metadata", "namespace"]) && d.namespaced)
                    {
                        errs.push((
                            ErrorCode::InvalidFunction,
                            at.clone(),
                            format!("omit() cannot be used at path {at:?} — the field is required and must resolve to a concrete value"),
                        ));
                    }
                }
                for ident in &r.identifiers {
                    if ident == &id {
                        errs.push((
                            ErrorCode::SelfReference,
                            at.clone(),
                            format!(
                                "expression {:?} at path {at:?}: self references are not allowed",
                                e.source()
                            ),
                        ));
                    } else if ident == SCHEMA_VAR {
                    } else if ids.contains(ident) {
                        d.deps.insert(ident.clone());
                    } else if iterators.contains(ident) {
                        if identity {
                            identity_iterators.insert(ident.clone());
                        }
                    } else if ident == RUNTIME_VAR {
                        errs.push((
                            ErrorCode::UnknownIdentifier,
                            at.clone(),
                            "runtime is only available in status.conditions expressions".into(),
                        ));
                    } else {
                        errs.push((
                            ErrorCode::UnknownIdentifier,
                            at.clone(),
                            format!(
                                "failed to extract dependencies: expression {:?} at path {at:?} references unknown identifiers: [{ident}]",
                                e.source()
                            ),
                        ));
                    }
                }
            }
        }
        if !iterators.is_empty() {
            let missing: Vec<String> = iterators
                .iter()
                .filter(|i| !identity_iterators.contains(*i))
                .cloned()
                .collect();
            if !missing.is_empty() {
                errs.push((
                    ErrorCode::InvalidForEach,
                    "metadata.name".into(),
                    format!(
                        "node {id:?}: all forEach dimensions must be used to produce a unique resource identity, missing: {}",
                        go_list(&missing)
                    ),
                ));
            }
        }

        // forEach.
        for dim in &d.for_each {
            let at = format!("forEach.{}", dim.name);
            let r = dim.expr.references();
            if dim.expr.uses_omit() {
                errs.push((
                    ErrorCode::InvalidFunction,
                    at.clone(),
                    "omit() can only be used in resource template expressions".into(),
                ));
            }
            let iter_refs: Vec<String> = r
                .identifiers
                .iter()
                .filter(|i| iterators.contains(i))
                .cloned()
                .collect();
            if !iter_refs.is_empty() {
                errs.push((
                    ErrorCode::InvalidForEach,
                    at.clone(),
                    format!(
                        "node {id:?}: forEach iterator {:?} cannot reference other iterators {} - forEach iterators are independent (cartesian product)",
                        dim.name,
                        go_list(&iter_refs)
                    ),
                ));
            }
            for ident in &r.identifiers {
                if ident == &id {
                    errs.push((
                        ErrorCode::SelfReference,
                        at.clone(),
                        "self references are not allowed".into(),
                    ));
                } else if ids.contains(ident) {
                    d.deps.insert(ident.clone());
                } else if ident != SCHEMA_VAR && !iterators.contains(ident) {
                    errs.push((
                        ErrorCode::UnknownIdentifier,
                        at.clone(),
                        format!(
                            "failed to extract dependencies from forEach iterator {:?}: references unknown identifiers: [{ident}]",
                            dim.name
                        ),
                    ));
                }
            }
        }

        // includeWhen: schema and other resources (which become dependencies).
        for (i, e) in d.include_when.iter().enumerate() {
            let at = format!("includeWhen[{i}]");
            let r = e.references();
            if e.uses_omit() {
                errs.push((
                    ErrorCode::InvalidFunction,
                    at.clone(),
                    format!("resource {id:?} includeWhen: omit() can only be used in resource template expressions"),
                ));
            }
            for ident in &r.identifiers {
                if ident == &id {
                    errs.push((
                        ErrorCode::SelfReference,
                        at.clone(),
                        format!("resource {id:?} includeWhen: self references are not allowed"),
                    ));
                } else if ids.contains(ident) {
                    d.deps.insert(ident.clone());
                } else if ident != SCHEMA_VAR {
                    errs.push((
                        ErrorCode::UnknownIdentifier,
                        at.clone(),
                        format!(
                            "resource {id:?} includeWhen: references unknown identifiers: [{ident}]"
                        ),
                    ));
                }
            }
        }

        // readyWhen: only the node itself (or `each` for collections).
        let allowed = if d.kind == NodeKind::Collection {
            EACH_VAR.to_string()
        } else {
            id.clone()
        };
        for (i, e) in d.ready_when.iter().enumerate() {
            let at = format!("readyWhen[{i}]");
            let r = e.references();
            for ident in &r.identifiers {
                if ident != &allowed {
                    errs.push((
                        ErrorCode::UnknownIdentifier,
                        at.clone(),
                        format!(
                            "resource {id:?} readyWhen: references unknown identifiers: [{ident}]"
                        ),
                    ));
                }
            }
            if e.uses_omit() {
                errs.push((
                    ErrorCode::InvalidFunction,
                    at.clone(),
                    format!("resource {id:?} readyWhen: omit() can only be used in resource template expressions"),
                ));
            }
        }

        let hint_ready = format!(
            "readyWhen may only read {allowed}; to wait on another resource, reference it from the template instead"
        );
        if !errs.is_empty() {
            d.ok = false;
        }
        for (code, at, message) in errs {
            let mut e = GraphError::new(
                code,
                if message.starts_with("resource ") || message.starts_with("node ") {
                    message
                } else {
                    format!("failed to validate resource {id:?}: {message}")
                },
            )
            .resource(&id)
            .at(&at);
            if at.starts_with("readyWhen") && code == ErrorCode::UnknownIdentifier {
                e = e.hint(hint_ready.clone());
            }
            self.err(e);
        }
    }

    /// The `spec.schema.status.conditions` block: standalone expressions returning conditions.
    fn build_status_conditions(
        &mut self,
        input: &RgdInput,
        ids: &BTreeSet<String>,
    ) -> Vec<(usize, CompiledExpr)> {
        let Some(Value::Array(items)) = input.schema.raw.pointer("/status/conditions") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("status.conditions[{i}]");
            let Some(e) = item
                .as_str()
                .and_then(|s| scan::standalone(s).ok().flatten())
            else {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidStatus,
                        format!("{at}: only standalone expressions are allowed"),
                    )
                    .at(&at)
                    .hint("write each condition as one ${runtime.newCondition({...})}"),
                );
                continue;
            };
            let Some(c) = self.compile_expr("instance", &at, &e) else {
                continue;
            };
            if c.uses_omit() {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidFunction,
                        format!("{at}: omit() can only be used in resource template expressions"),
                    )
                    .at(&at),
                );
            }
            for ident in &c.references().identifiers {
                if ident != SCHEMA_VAR && ident != RUNTIME_VAR && !ids.contains(ident) {
                    self.err(
                        GraphError::new(
                            ErrorCode::UnknownIdentifier,
                            format!("{at}: references unknown identifiers: [{ident}]"),
                        )
                        .at(&at),
                    );
                }
            }
            out.push((i, c));
        }
        out
    }

    fn build_status(&mut self, input: &RgdInput, ids: &BTreeSet<String>) -> Vec<TemplateField> {
        let Some(status) = input.schema.raw.get("status").filter(|v| !v.is_null()) else {
            return Vec::new();
        };
        let mut status = status.clone();
        // `status.conditions` as a list is the author-conditions block (kept for later).
        if let Value::Object(m) = &mut status
            && m.get("conditions").is_some_and(Value::is_array)
        {
            m.remove("conditions");
        }
        let base = FieldPath::root();
        let w = walk(&status, &base);
        let mut out = Vec::new();
        let literals: Vec<String> = w
            .literals
            .iter()
            .filter(|p| !p.0.is_empty())
            .map(ToString::to_string)
            .collect();
        if !literals.is_empty() {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidStatus,
                    format!(
                        "failed to build instance status schema: status fields without expressions are not supported: {}",
                        go_list(&literals)
                    ),
                )
                .at("spec.schema.status")
                .hint("every status field must be a ${…} expression"),
            );
        }
        for (p, e) in &w.errors {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidExpression,
                    format!("status field {:?}: {e}", p.to_string()),
                )
                .at(format!("spec.schema.status.{p}")),
            );
        }
        for f in &w.fields {
            let at = format!("status.{}", f.path);
            let Some(v) = self.compile_value("instance", &at, &f.value) else {
                continue;
            };
            let mut refers = false;
            for e in v.expressions() {
                let r = e.references();
                if e.uses_omit() {
                    self.err(
                        GraphError::new(
                            ErrorCode::InvalidFunction,
                            format!(
                                "status field {:?} expression {:?}: omit() can only be used in resource template expressions",
                                f.path.to_string(),
                                e.source()
                            ),
                        )
                        .at(&at),
                    );
                }
                for ident in &r.identifiers {
                    if ident == SCHEMA_VAR || ids.contains(ident) {
                        refers = true;
                    } else if ident == RUNTIME_VAR {
                        self.err(
                            GraphError::new(
                                ErrorCode::UnknownIdentifier,
                                "runtime is only available in status.conditions expressions",
                            )
                            .at(&at),
                        );
                    } else {
                        self.err(
                            GraphError::new(
                                ErrorCode::UnknownIdentifier,
                                format!(
                                    "status field {:?} expression {:?}: references unknown identifiers: [{ident}]",
                                    f.path.to_string(),
                                    e.source()
                                ),
                            )
                            .at(&at),
                        );
                    }
                }
            }
            if !refers {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidStatus,
                        format!("instance status field must refer to a resource or schema: {at}"),
                    )
                    .at(&at),
                );
            }
            out.push(TemplateField {
                path: f.path.clone(),
                value: v,
            });
        }
        out
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
