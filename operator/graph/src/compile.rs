//! The RGD compiler: validates every rule kro enforces, extracts and compiles every expression,
//! builds the DAG and returns a [`CompiledGraph`], or every error found.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use serde_json::{Map, Value};

use crate::dag::Dag;
use crate::draft::Draft;
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
use crate::schemas::{SchemaSource, default_namespaced, group_of};
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
    /// `--cel-cost-limit`: the cost budget of each CEL evaluation. 0 (kro's default, meaning no
    /// limit there) keeps kro-cel's built-in budget ([`kro_cel::DEFAULT_COST_LIMIT`]).
    pub cel_cost_limit: u64,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            max_collection_dimensions: 10,
            omit_enabled: false,
            kro_version: env!("CARGO_PKG_VERSION").to_string(),
            cel_cost_limit: 0,
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
    let cel = match options.cel_cost_limit {
        0 => kro_cel::Environment::new(),
        limit => kro_cel::Environment::new().with_cost_limit(limit),
    };
    Compiler {
        schemas,
        options,
        cel,
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
        Ok(doc) => compile(&doc, schemas, options),
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
    /// The CEL environment every expression is compiled in (it carries the cost budget).
    cel: kro_cel::Environment,
    errors: Vec<GraphError>,
    warnings: Vec<Warning>,
}

fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// The dependency graph of the drafts: an edge from each node to every node it reads.
fn dependency_dag(drafts: &[Draft]) -> Dag {
    let mut dag = Dag::new(drafts.iter().map(|draft| draft.input.id.clone()));
    for draft in drafts {
        dag.add_dependencies(draft.id(), draft.deps.iter().map(String::as_str));
    }
    dag
}

/// The finished nodes in topological `order`, each with its dependencies in `spec.resources`
/// order and its apply order.
fn finish_nodes(drafts: Vec<Draft>, order: &[String], dag: &Dag) -> Vec<Node> {
    let apply_orders: BTreeMap<String, u32> =
        dag.apply_orders().unwrap_or_default().into_iter().collect();
    let index_of: BTreeMap<String, usize> = drafts
        .iter()
        .map(|draft| (draft.input.id.clone(), draft.input.index))
        .collect();
    let mut by_id: BTreeMap<String, Draft> = drafts
        .into_iter()
        .map(|draft| (draft.input.id.clone(), draft))
        .collect();
    let mut nodes = Vec::with_capacity(order.len());
    for id in order {
        let Some(draft) = by_id.remove(id) else {
            continue;
        };
        let mut dependencies: Vec<String> = draft.deps.iter().cloned().collect();
        dependencies.sort_by_key(|dep| index_of.get(dep).copied().unwrap_or(usize::MAX));
        let apply_order = apply_orders.get(id).copied().unwrap_or(1);
        nodes.push(draft.into_node(dependencies, apply_order));
    }
    nodes
}

impl Compiler<'_> {
    fn err(&mut self, e: GraphError) {
        self.errors.push(e);
    }

    fn run(mut self, input: RgdInput) -> Result<CompiledGraph, CompileErrors> {
        let instance = self.check_schema(&input);
        let ids = self.check_ids(&input);
        for resource in &input.resources {
            self.check_for_each_names(resource, &ids);
        }

        let mut drafts: Vec<Draft> = input
            .resources
            .iter()
            .map(|resource| self.build_node(resource, instance.namespaced))
            .collect();
        for draft in drafts.iter_mut().filter(|draft| draft.is_ok()) {
            self.resolve_references(draft, &ids);
        }
        let dag = dependency_dag(&drafts);
        let order = self.topological_order(&dag);

        let mut status_fields = self.build_status(&input, &ids);
        let mut status_conditions = self.build_status_conditions(&input, &ids);
        let (crd, instance_schema) = self.type_check(
            &input,
            &mut drafts,
            &mut status_fields,
            &mut status_conditions,
        );

        if !self.errors.is_empty() {
            return Err(CompileErrors {
                errors: self.errors,
                warnings: self.warnings,
            });
        }

        let mut nodes = finish_nodes(drafts, &order, &dag);
        let status_conditions: Vec<CompiledExpr> = status_conditions
            .into_iter()
            .map(|(_, condition)| condition)
            .collect();
        let mut reads = crate::model::collect_reads(&nodes, &status_fields, &status_conditions);
        for node in nodes.iter_mut() {
            node.reads = reads.remove(&node.id).unwrap_or_default();
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

    /// The nodes in dependency order, or a cycle error and no order.
    fn topological_order(&mut self, dag: &Dag) -> Vec<String> {
        match dag.topological_order() {
            Ok(order) => order,
            Err(cycle) => {
                self.err(
                    GraphError::new(
                        ErrorCode::Cycle,
                        format!("failed to build dependency graph: {cycle}"),
                    )
                    .hint("break the cycle: one of these resources must not read the other"),
                );
                Vec::new()
            }
        }
    }

    /// Static type checks of every expression against the instance schema and the resolved
    /// kinds; when all pass, the instance CRD. Returns the CRD and the instance spec schema.
    fn type_check(
        &mut self,
        input: &RgdInput,
        drafts: &mut [Draft],
        status_fields: &mut [TemplateField],
        status_conditions: &mut [(usize, CompiledExpr)],
    ) -> (
        Option<CustomResourceDefinition>,
        Option<Arc<JSONSchemaProps>>,
    ) {
        let (schema, spec) = match typecheck::instance_spec(&input.schema.raw) {
            Ok(parsed) => parsed,
            Err(errs) => {
                self.errors.extend(errs);
                return (None, None);
            }
        };
        let schema_type = typecheck::schema_type(&spec);
        let instance_schema = Some(Arc::new(spec));
        self.errors.extend(typecheck::check_literals(drafts));
        self.errors
            .extend(typecheck::check_nodes(drafts, &schema_type));
        let (status_schemas, errs) = typecheck::check_status(status_fields, drafts, &schema_type);
        self.errors.extend(errs);
        self.errors.extend(typecheck::check_status_conditions(
            status_conditions,
            drafts,
            &schema_type,
        ));
        if !self.errors.is_empty() {
            return (None, instance_schema);
        }
        let owner = kro_schema::CrdOwner {
            rgd_name: &input.name,
            rgd_uid: input.uid.as_str(),
            kro_version: &self.options.kro_version,
        };
        match kro_schema::build_instance_crd(&schema, status_schemas, &owner) {
            Ok(crd) => (Some(crd), instance_schema),
            Err(errs) => {
                for error in errs.0 {
                    self.err(
                        GraphError::new(ErrorCode::SimpleSchema, error.to_string())
                            .at(error.path.clone()),
                    );
                }
                (None, instance_schema)
            }
        }
    }

    fn check_schema(&mut self, input: &RgdInput) -> InstanceKind {
        let schema = &input.schema;
        if !schema.kind.is_empty() && !names::is_upper_camel(&schema.kind) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidSchema,
                    format!(
                        "naming convention violation: kind '{}' is not a valid KRO kind name: must be UpperCamelCase",
                        schema.kind
                    ),
                )
                .at("spec.schema.kind"),
            );
        }
        if !schema.api_version.is_empty() && !names::is_kube_version(&schema.api_version) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidSchema,
                    format!(
                        "version {} is not a valid Kubernetes version",
                        schema.api_version
                    ),
                )
                .at("spec.schema.apiVersion")
                .hint("use v1, v1alpha1, v2beta1, …"),
            );
        }
        InstanceKind {
            group: schema.group.clone(),
            version: schema.api_version.clone(),
            kind: schema.kind.clone(),
            namespaced: !schema.cluster_scoped,
        }
    }

    /// Every resource id that is usable in expressions (duplicates count once).
    fn check_ids(&mut self, input: &RgdInput) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for resource in &input.resources {
            if resource.id.is_empty() {
                continue;
            }
            let at = format!("spec.resources[{}].id", resource.index);
            if names::is_reserved(&resource.id) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: id {} is a reserved keyword in KRO",
                            resource.id
                        ),
                    )
                    .resource(&resource.id)
                    .at(&at)
                    .hint(format!(
                        "rename it, for example to my{}",
                        capitalize(&resource.id)
                    )),
                );
            } else if !names::is_lower_camel(&resource.id) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: id {} is not a valid KRO resource id: must be lower camelCase",
                            resource.id
                        ),
                    )
                    .resource(&resource.id)
                    .at(&at)
                    .hint("use letters and digits only, starting with a lowercase letter"),
                );
            }
            if !seen.insert(resource.id.clone()) {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidId,
                        format!(
                            "naming convention violation: found duplicate resource IDs {}",
                            resource.id
                        ),
                    )
                    .resource(&resource.id)
                    .at(&at),
                );
            }
        }
        seen
    }

    fn check_for_each_names(&mut self, resource: &ResourceInput, ids: &BTreeSet<String>) {
        let id = &resource.id;
        if resource.for_each.len() > self.options.max_collection_dimensions {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidForEach,
                    format!(
                        "resource {id:?}: forEach cannot have more than {} dimensions, got {}",
                        self.options.max_collection_dimensions,
                        resource.for_each.len()
                    ),
                )
                .resource(id)
                .at("forEach"),
            );
        }
        let mut seen = BTreeSet::new();
        for (name, _) in &resource.for_each {
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
            if let Some(message) = msg {
                self.err(
                    GraphError::new(ErrorCode::InvalidForEach, message)
                        .resource(id)
                        .at(format!("forEach.{name}")),
                );
            }
        }
    }

    fn compile_expr(&mut self, id: &str, at: &str, src: &str) -> Option<CompiledExpr> {
        match CompiledExpr::compile_in(&self.cel, src) {
            Ok(expr) => Some(expr),
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

    fn compile_value(&mut self, id: &str, at: &str, value: &FieldValue) -> Option<CompiledValue> {
        match value {
            FieldValue::Literal => None,
            FieldValue::Standalone(e) => self.compile_expr(id, at, e).map(CompiledValue::Expr),
            FieldValue::Template(parts) => {
                let mut out = Vec::new();
                let mut ok = true;
                for part in parts {
                    match part {
                        Part::Text(text) => out.push(TemplatePart::Text(text.clone())),
                        Part::Expr(e) => match self.compile_expr(id, at, e) {
                            Some(compiled) => out.push(TemplatePart::Expr(compiled)),
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
        for (i, source) in items.iter().enumerate() {
            let at = format!("{what}[{i}]");
            match scan::standalone(source) {
                Ok(Some(body)) => {
                    if let Some(compiled) = self.compile_expr(id, &at, &body) {
                        out.push(compiled);
                    }
                }
                Ok(None) => self.err(
                    GraphError::new(
                        ErrorCode::InvalidExpression,
                        format!(
                            "resource {id:?}: failed to parse {what} expressions: only standalone expressions are allowed: {source:?}"
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

    /// Builds the draft of one `spec.resources[]` entry, reporting every error found in it.
    fn build_node(&mut self, resource: &ResourceInput, instance_namespaced: bool) -> Draft {
        let id = resource.id.clone();
        let mut draft = Draft::new(resource);
        if let Some(problem) = field_combination_problem(resource) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidCombination,
                    format!("invalid combination of resource fields: resource {id:?}: {problem}"),
                )
                .resource(&id)
                .at(format!("spec.resources[{}]", resource.index)),
            );
            draft.reject();
            return draft;
        }
        let Some(object) = self.node_object(&mut draft, resource) else {
            draft.reject();
            return draft;
        };
        if draft.kind == NodeKind::Resource && !resource.for_each.is_empty() {
            draft.kind = NodeKind::Collection;
        }
        if resource.for_each_invalid {
            draft.reject();
        }
        if let Some(problem) = object_structure_problem(&object) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!("resource {id} is not a valid Kubernetes object: {problem}"),
                )
                .resource(&id)
                .at("template")
                .hint("a template needs apiVersion (string), kind (string) and metadata (map)"),
            );
            draft.reject();
            return draft;
        }
        self.read_kind(&mut draft, &object);
        self.errors.extend(crate::external_fields::check(
            &id,
            &resource.external_fields,
            draft
                .resolved
                .as_ref()
                .map(|resolved| resolved.schema.as_ref()),
        ));
        self.template_constraints(&mut draft, &object, instance_namespaced);
        self.compile_template_fields(&mut draft, &object);
        draft.template = object;
        draft.include_when = self.conditions(&id, "includeWhen", &resource.include_when);
        draft.ready_when = self.conditions(&id, "readyWhen", &resource.ready_when);
        if draft.include_when.len() != resource.include_when.len()
            || draft.ready_when.len() != resource.ready_when.len()
        {
            draft.reject();
        }
        self.compile_for_each(&mut draft, resource);
        draft
    }

    /// The object the node stands for: its template, or the object an externalRef names
    /// (which also decides whether the node is an external collection).
    fn node_object(&mut self, draft: &mut Draft, resource: &ResourceInput) -> Option<Value> {
        if let Some(template) = &resource.template {
            return Some(template.clone());
        }
        let (object, by_selector) =
            self.external_template(&resource.id, resource.external_ref.as_ref())?;
        draft.kind = if by_selector {
            NodeKind::ExternalCollection
        } else {
            NodeKind::External
        };
        Some(object)
    }

    /// `apiVersion` and `kind` of the object, its schema from the schema source and its scope.
    fn read_kind(&mut self, draft: &mut Draft, object: &Value) {
        let id = draft.id().to_string();
        draft.api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        draft.object_kind = object["kind"].as_str().unwrap_or_default().to_string();
        if !names::is_dns1035_label(&draft.object_kind.to_lowercase()) {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!(
                        "resource {id:?}: kind {:?} is not valid: its lowercase form must be a DNS-1035 label",
                        draft.object_kind
                    ),
                )
                .resource(&id)
                .at("kind"),
            );
        }
        draft.resolved = self.schemas.resolve(&draft.api_version, &draft.object_kind);
        draft.namespaced = match &draft.resolved {
            Some(resolved) => resolved.namespaced,
            None => default_namespaced(&draft.api_version, &draft.object_kind),
        };
        if draft.resolved.is_none() {
            self.warnings.push(Warning {
                resource: Some(id.clone()),
                message: format!(
                    "resource {id:?}: no schema known for {} {}; its fields and expressions are checked structurally only (give --schemas DIR with its CRD or OpenAPI document for full type checks)",
                    draft.api_version, draft.object_kind
                ),
            });
        }
    }

    /// Finds and compiles every `${}` field of the object.
    fn compile_template_fields(&mut self, draft: &mut Draft, object: &Value) {
        let id = draft.id().to_string();
        let walked = walk(object, &FieldPath::root());
        for (path, e) in &walked.errors {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidExpression,
                    format!(
                        "resource {id:?}: invalid expression at path {:?}: {e}",
                        path.to_string()
                    ),
                )
                .resource(&id)
                .at(path.to_string()),
            );
            draft.reject();
        }
        let is_crd = group_of(&draft.api_version) == "apiextensions.k8s.io"
            && draft.object_kind == "CustomResourceDefinition";
        for field in &walked.fields {
            let at = field.path.to_string();
            if is_crd && !field.path.starts_with(&["metadata"]) {
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
                draft.reject();
                continue;
            }
            match self.compile_value(&id, &at, &field.value) {
                Some(value) => draft.fields.push(TemplateField {
                    path: field.path.clone(),
                    value,
                }),
                None => draft.reject(),
            }
        }
    }

    /// Compiles the `forEach` dimensions: each must be one standalone `${}` list expression.
    fn compile_for_each(&mut self, draft: &mut Draft, resource: &ResourceInput) {
        let id = &resource.id;
        for (name, source) in &resource.for_each {
            let at = format!("forEach.{name}");
            match scan::standalone(source) {
                Ok(Some(body)) => match self.compile_expr(id, &at, &body) {
                    Some(expr) => draft.for_each.push(ForEachDimension {
                        name: name.clone(),
                        expr,
                    }),
                    None => draft.reject(),
                },
                Ok(None) | Err(_) => {
                    self.err(
                        GraphError::new(
                            ErrorCode::InvalidForEach,
                            format!(
                                "failed to parse forEach dimensions: invalid forEach expression for dimension {name:?}: only standalone expressions are allowed"
                            ),
                        )
                        .resource(id)
                        .at(&at)
                        .hint("write the list as one ${…}, e.g. \"${schema.spec.regions}\""),
                    );
                    draft.reject();
                }
            }
        }
    }

    /// `{apiVersion, kind, metadata{name|selector, namespace}}` from an externalRef, and whether it
    /// selects by label.
    fn external_template(
        &mut self,
        id: &str,
        external_ref: Option<&Value>,
    ) -> Option<(Value, bool)> {
        let external_ref = external_ref?;
        let Some(fields) = external_ref.as_object() else {
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
        for key in ["apiVersion", "kind"] {
            if !fields.get(key).is_some_and(Value::is_string) {
                missing.push(key);
            }
        }
        let meta = fields.get("metadata").and_then(Value::as_object);
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
            .is_some_and(|source| !source.is_empty());
        let has_selector = meta
            .get("selector")
            .is_some_and(|selector| !selector.is_null());
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
        if let Some(selector) = meta.get("selector") {
            let shape_ok = match selector {
                Value::String(source) => matches!(scan::standalone(source), Ok(Some(_))),
                Value::Object(object) => object
                    .keys()
                    .all(|key| key == "matchLabels" || key == "matchExpressions"),
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
        out.insert("apiVersion".into(), fields["apiVersion"].clone());
        out.insert("kind".into(), fields["kind"].clone());
        out.insert("metadata".into(), Value::Object(meta));
        Some((Value::Object(out), has_selector))
    }

    fn template_constraints(&mut self, draft: &mut Draft, obj: &Value, instance_namespaced: bool) {
        let id = draft.id().to_string();
        let ns = obj.pointer("/metadata/namespace");
        if !draft.namespaced && ns.is_some() {
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
        if draft.namespaced && !instance_namespaced && draft.kind != NodeKind::ExternalCollection {
            let ok = ns
                .and_then(Value::as_str)
                .is_some_and(|namespace| !namespace.trim().is_empty());
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
            let Some(entries) = obj
                .pointer(&format!("/metadata/{what}"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for key in entries.keys() {
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

    /// Checks what every expression of `draft` reads and records the nodes it depends on.
    fn resolve_references(&mut self, draft: &mut Draft, ids: &BTreeSet<String>) {
        let id = draft.id().to_string();
        let mut check = ReferenceCheck {
            id: &id,
            ids,
            iterators: draft.for_each.iter().map(|dim| dim.name.clone()).collect(),
            errors: Vec::new(),
        };
        check.template_fields(draft, self.options.omit_enabled);
        check.for_each(draft);
        check.include_when(draft);
        let allowed = check.ready_when(draft);

        let errors = check.errors;
        if !errors.is_empty() {
            draft.reject();
        }
        let hint_ready = format!(
            "readyWhen may only read {allowed}; to wait on another resource, reference it from the template instead"
        );
        for (code, at, message) in errors {
            let mut error = GraphError::new(
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
                error = error.hint(hint_ready.clone());
            }
            self.err(error);
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
            let Some(body) = item
                .as_str()
                .and_then(|text| scan::standalone(text).ok().flatten())
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
            let Some(condition) = self.compile_expr("instance", &at, &body) else {
                continue;
            };
            if condition.uses_omit() {
                self.err(
                    GraphError::new(
                        ErrorCode::InvalidFunction,
                        format!("{at}: omit() can only be used in resource template expressions"),
                    )
                    .at(&at),
                );
            }
            for ident in &condition.references().identifiers {
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
            out.push((i, condition));
        }
        out
    }

    fn build_status(&mut self, input: &RgdInput, ids: &BTreeSet<String>) -> Vec<TemplateField> {
        let Some(status) = input
            .schema
            .raw
            .get("status")
            .filter(|value| !value.is_null())
        else {
            return Vec::new();
        };
        let mut status = status.clone();
        // `status.conditions` as a list is the author-conditions block (kept for later).
        if let Value::Object(fields) = &mut status
            && fields.get("conditions").is_some_and(Value::is_array)
        {
            fields.remove("conditions");
        }
        let base = FieldPath::root();
        let walked = walk(&status, &base);
        let mut out = Vec::new();
        let literals: Vec<String> = walked
            .literals
            .iter()
            .filter(|path| !path.0.is_empty())
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
        for (path, e) in &walked.errors {
            self.err(
                GraphError::new(
                    ErrorCode::InvalidExpression,
                    format!("status field {:?}: {e}", path.to_string()),
                )
                .at(format!("spec.schema.status.{path}")),
            );
        }
        for field in &walked.fields {
            let at = format!("status.{}", field.path);
            let Some(value) = self.compile_value("instance", &at, &field.value) else {
                continue;
            };
            let mut refers = false;
            for expr in value.expressions() {
                let references = expr.references();
                if expr.uses_omit() {
                    self.err(
                        GraphError::new(
                            ErrorCode::InvalidFunction,
                            format!(
                                "status field {:?} expression {:?}: omit() can only be used in resource template expressions",
                                field.path.to_string(),
                                expr.source()
                            ),
                        )
                        .at(&at),
                    );
                }
                for ident in &references.identifiers {
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
                                    field.path.to_string(),
                                    expr.source()
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
                path: field.path.clone(),
                value,
            });
        }
        out
    }
}

/// Why the entry's `template`/`externalRef`/`forEach` combination is invalid, if it is.
fn field_combination_problem(resource: &ResourceInput) -> Option<&'static str> {
    let has_template = resource.template.is_some();
    let has_external = resource.external_ref.is_some();
    if !has_template && !has_external {
        Some("exactly one of template or externalRef must be provided")
    } else if has_template && has_external {
        Some("cannot use externalRef with template")
    } else if has_external && !resource.for_each.is_empty() {
        Some("cannot use externalRef with forEach")
    } else if has_external && resource.deletion_policy.is_some() {
        Some(
            "cannot use externalRef with deletionPolicy: kro never deletes what an externalRef reads",
        )
    } else if has_external && !resource.external_fields.is_empty() {
        Some(
            "cannot use externalRef with externalFields: kro never writes what an externalRef reads",
        )
    } else if has_external && resource.adoption_policy.is_some() {
        Some(
            "cannot use externalRef with adoptionPolicy: kro never writes what an externalRef reads",
        )
    } else {
        None
    }
}

/// Why the object is not a Kubernetes object (apiVersion, kind and metadata), if it is not.
fn object_structure_problem(object: &Value) -> Option<&'static str> {
    match object {
        Value::Object(fields) => match (
            fields.get("apiVersion"),
            fields.get("kind"),
            fields.get("metadata"),
        ) {
            (None, _, _) => Some("apiVersion field not found"),
            (Some(value), _, _) if !value.is_string() => Some("apiVersion field is not a string"),
            (_, None, _) => Some("kind field not found"),
            (_, Some(value), _) if !value.is_string() => Some("kind field is not a string"),
            (_, _, None) => Some("metadata field not found"),
            (_, _, Some(value)) if !value.is_object() => Some("metadata field is not a map"),
            _ => None,
        },
        _ => Some("template is not a map"),
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// The reference checks of one node's expressions. Errors are `(code, path, message)` and are
/// reported together once every expression has been looked at.
struct ReferenceCheck<'a> {
    /// The node's id.
    id: &'a str,
    /// Every resource id usable in expressions.
    ids: &'a BTreeSet<String>,
    /// The node's `forEach` iterator names.
    iterators: Vec<String>,
    errors: Vec<(ErrorCode, String, String)>,
}

impl ReferenceCheck<'_> {
    fn push(&mut self, code: ErrorCode, at: &str, message: impl Into<String>) {
        self.errors.push((code, at.to_string(), message.into()));
    }

    /// Template fields: they may read the schema, other resources (which become dependencies)
    /// and the iterators; the identity fields must use every iterator.
    fn template_fields(&mut self, draft: &mut Draft, omit_enabled: bool) {
        let mut identity_iterators = BTreeSet::new();
        for field in &draft.fields {
            let at = field.path.to_string();
            let is_name = field.path.is(&["metadata", "name"]);
            let is_namespace = draft.namespaced && field.path.is(&["metadata", "namespace"]);
            for expr in field.value.expressions() {
                if expr.uses_omit() {
                    self.omit_in_template(&at, is_name || is_namespace, omit_enabled);
                }
                for ident in &expr.references().identifiers {
                    if ident == self.id {
                        self.push(
                            ErrorCode::SelfReference,
                            &at,
                            format!(
                                "expression {:?} at path {at:?}: self references are not allowed",
                                expr.source()
                            ),
                        );
                    } else if ident == SCHEMA_VAR {
                    } else if self.ids.contains(ident) {
                        draft.deps.insert(ident.clone());
                    } else if self.iterators.contains(ident) {
                        if is_name || is_namespace {
                            identity_iterators.insert(ident.clone());
                        }
                    } else if ident == RUNTIME_VAR {
                        self.push(
                            ErrorCode::UnknownIdentifier,
                            &at,
                            "runtime is only available in status.conditions expressions",
                        );
                    } else {
                        self.push(
                            ErrorCode::UnknownIdentifier,
                            &at,
                            format!(
                                "failed to extract dependencies: expression {:?} at path {at:?} references unknown identifiers: [{ident}]",
                                expr.source()
                            ),
                        );
                    }
                }
            }
        }
        let missing: Vec<String> = self
            .iterators
            .iter()
            .filter(|iterator| !identity_iterators.contains(*iterator))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let id = self.id;
            self.push(
                ErrorCode::InvalidForEach,
                "metadata.name",
                format!(
                    "node {id:?}: all forEach dimensions must be used to produce a unique resource identity, missing: {}",
                    go_list(&missing)
                ),
            );
        }
    }

    /// `omit()` in a template field: behind a feature gate, and never in the object's identity.
    fn omit_in_template(&mut self, at: &str, identity: bool, omit_enabled: bool) {
        if !omit_enabled {
            self.push(
                ErrorCode::InvalidFunction,
                at,
                "omit() requires the CELOmitFunction feature gate to be enabled \
                 (kro run --feature-gates CELOmitFunction=true)",
            );
        } else if identity {
            self.push(
                ErrorCode::InvalidFunction,
                at,
                format!("omit() cannot be used at path {at:?} — the field is required and must resolve to a concrete value"),
            );
        }
    }

    /// `forEach` lists: the schema and other resources, never another iterator.
    fn for_each(&mut self, draft: &mut Draft) {
        let id = self.id;
        for dim in &draft.for_each {
            let at = format!("forEach.{}", dim.name);
            let references = dim.expr.references();
            if dim.expr.uses_omit() {
                self.push(
                    ErrorCode::InvalidFunction,
                    &at,
                    "omit() can only be used in resource template expressions",
                );
            }
            let iterator_refs: Vec<String> = references
                .identifiers
                .iter()
                .filter(|ident| self.iterators.contains(ident))
                .cloned()
                .collect();
            if !iterator_refs.is_empty() {
                self.push(
                    ErrorCode::InvalidForEach,
                    &at,
                    format!(
                        "node {id:?}: forEach iterator {:?} cannot reference other iterators {} - forEach iterators are independent (cartesian product)",
                        dim.name,
                        go_list(&iterator_refs)
                    ),
                );
            }
            for ident in &references.identifiers {
                if ident == id {
                    self.push(
                        ErrorCode::SelfReference,
                        &at,
                        "self references are not allowed",
                    );
                } else if self.ids.contains(ident) {
                    draft.deps.insert(ident.clone());
                } else if ident != SCHEMA_VAR && !self.iterators.contains(ident) {
                    self.push(
                        ErrorCode::UnknownIdentifier,
                        &at,
                        format!(
                            "failed to extract dependencies from forEach iterator {:?}: references unknown identifiers: [{ident}]",
                            dim.name
                        ),
                    );
                }
            }
        }
    }

    /// `includeWhen`: the schema and other resources (which become dependencies).
    fn include_when(&mut self, draft: &mut Draft) {
        let id = self.id;
        for (i, expr) in draft.include_when.iter().enumerate() {
            let at = format!("includeWhen[{i}]");
            if expr.uses_omit() {
                self.push(
                    ErrorCode::InvalidFunction,
                    &at,
                    format!("resource {id:?} includeWhen: omit() can only be used in resource template expressions"),
                );
            }
            for ident in &expr.references().identifiers {
                if ident == id {
                    self.push(
                        ErrorCode::SelfReference,
                        &at,
                        format!("resource {id:?} includeWhen: self references are not allowed"),
                    );
                } else if self.ids.contains(ident) {
                    draft.deps.insert(ident.clone());
                } else if ident != SCHEMA_VAR {
                    self.push(
                        ErrorCode::UnknownIdentifier,
                        &at,
                        format!(
                            "resource {id:?} includeWhen: references unknown identifiers: [{ident}]"
                        ),
                    );
                }
            }
        }
    }

    /// `readyWhen`: only the node itself (or `each` for collections). Returns that name.
    fn ready_when(&mut self, draft: &Draft) -> String {
        let id = self.id;
        let allowed = if draft.kind == NodeKind::Collection {
            EACH_VAR.to_string()
        } else {
            id.to_string()
        };
        for (i, expr) in draft.ready_when.iter().enumerate() {
            let at = format!("readyWhen[{i}]");
            for ident in &expr.references().identifiers {
                if ident != &allowed {
                    self.push(
                        ErrorCode::UnknownIdentifier,
                        &at,
                        format!(
                            "resource {id:?} readyWhen: references unknown identifiers: [{ident}]"
                        ),
                    );
                }
            }
            if expr.uses_omit() {
                self.push(
                    ErrorCode::InvalidFunction,
                    &at,
                    format!("resource {id:?} readyWhen: omit() can only be used in resource template expressions"),
                );
            }
        }
        allowed
    }
}
