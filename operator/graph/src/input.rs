//! Reads an RGD (as JSON/YAML value) into the shape the compiler works on, reporting every
//! field of the wrong type instead of stopping at the first.

use kro_api::{AdoptionPolicy, DeletionPolicy};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, GraphError};

/// `spec.schema` of an RGD.
#[derive(Debug, Clone, Default)]
pub struct SchemaInput {
    /// `kind` of the generated CRD.
    pub kind: String,
    /// `apiVersion` (version name) of the generated CRD.
    pub api_version: String,
    /// API group, default `kro.run`.
    pub group: String,
    /// `Namespaced` (default) or `Cluster`.
    pub cluster_scoped: bool,
    /// The whole `spec.schema` object (SimpleSchema `spec`, `types`, `status`, …).
    pub raw: Value,
}

/// One entry of `spec.resources`.
#[derive(Debug, Clone, Default)]
pub struct ResourceInput {
    /// Position in `spec.resources`.
    pub index: usize,
    /// `id`.
    pub id: String,
    /// `template`, if given.
    pub template: Option<Value>,
    /// `externalRef`, if given.
    pub external_ref: Option<Value>,
    /// `readyWhen` entries.
    pub ready_when: Vec<String>,
    /// `includeWhen` entries.
    pub include_when: Vec<String>,
    /// `forEach` dimensions: (iterator, expression), in order.
    pub for_each: Vec<(String, String)>,
    /// True when a `forEach` entry did not have exactly one key (reported already).
    pub for_each_invalid: bool,
    /// `deletionPolicy`, when given and valid.
    pub deletion_policy: Option<DeletionPolicy>,
    /// `adoptionPolicy`, when given and valid.
    pub adoption_policy: Option<AdoptionPolicy>,
    /// `externalFields` as written (checked by the compiler, which knows the kind).
    pub external_fields: Vec<String>,
}

/// An RGD ready to compile.
#[derive(Debug, Clone, Default)]
pub struct RgdInput {
    /// `metadata.name` (may be empty offline).
    pub name: String,
    /// `metadata.uid` (empty offline).
    pub uid: String,
    /// `spec.schema`.
    pub schema: SchemaInput,
    /// `spec.resources`.
    pub resources: Vec<ResourceInput>,
}

fn strings(v: Option<&Value>, what: &str, id: &str, errors: &mut Vec<GraphError>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                Value::String(s) => Some(s.clone()),
                _ => {
                    errors.push(
                        GraphError::new(
                            ErrorCode::InvalidDocument,
                            format!("resource {id:?}: {what}[{i}] must be a string"),
                        )
                        .resource(id)
                        .at(format!("{what}[{i}]"))
                        .hint("write the condition as a string such as \"${expr}\""),
                    );
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.push(
                GraphError::new(
                    ErrorCode::InvalidDocument,
                    format!("resource {id:?}: {what} must be a list of strings"),
                )
                .resource(id)
                .at(what),
            );
            Vec::new()
        }
    }
}

/// Reads `rgd` (a whole `ResourceGraphDefinition` or just its `spec`).
pub fn read_rgd(rgd: &Value) -> (RgdInput, Vec<GraphError>) {
    let mut errors = Vec::new();
    let mut out = RgdInput::default();
    let spec = if rgd.get("spec").is_some() && rgd.get("schema").is_none() {
        out.name = rgd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.uid = rgd
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(kind) = rgd.get("kind").and_then(Value::as_str)
            && kind != "ResourceGraphDefinition"
        {
            errors.push(
                GraphError::new(
                    ErrorCode::InvalidDocument,
                    format!("expected kind ResourceGraphDefinition, got {kind:?}"),
                )
                .at("kind"),
            );
        }
        rgd.get("spec").cloned().unwrap_or(Value::Null)
    } else {
        rgd.clone()
    };
    let Value::Object(spec) = spec else {
        errors
            .push(GraphError::new(ErrorCode::InvalidDocument, "spec must be an object").at("spec"));
        return (out, errors);
    };
    out.schema = read_schema(spec.get("schema"), &mut errors);
    match spec.get("resources") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                out.resources.push(read_resource(i, item, &mut errors));
            }
        }
        Some(_) => errors.push(
            GraphError::new(ErrorCode::InvalidDocument, "spec.resources must be a list")
                .at("spec.resources"),
        ),
    }
    (out, errors)
}

fn read_schema(v: Option<&Value>, errors: &mut Vec<GraphError>) -> SchemaInput {
    let mut s = SchemaInput {
        group: "kro.run".into(),
        ..Default::default()
    };
    let Some(Value::Object(m)) = v else {
        errors.push(
            GraphError::new(ErrorCode::InvalidSchema, "spec.schema is required")
                .at("spec.schema")
                .hint("add spec.schema with apiVersion, kind and spec"),
        );
        return s;
    };
    s.raw = Value::Object(m.clone());
    let field = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    match field("kind") {
        Some(k) => s.kind = k,
        None => errors.push(
            GraphError::new(ErrorCode::InvalidSchema, "spec.schema.kind is required")
                .at("spec.schema.kind"),
        ),
    }
    match field("apiVersion") {
        Some(k) => s.api_version = k,
        None => errors.push(
            GraphError::new(
                ErrorCode::InvalidSchema,
                "spec.schema.apiVersion is required",
            )
            .at("spec.schema.apiVersion")
            .hint("write a version name such as v1alpha1"),
        ),
    }
    if let Some(g) = field("group").filter(|g| !g.is_empty()) {
        s.group = g;
    }
    match field("scope").as_deref() {
        None | Some("Namespaced") => {}
        Some("Cluster") => s.cluster_scoped = true,
        Some(other) => errors.push(
            GraphError::new(
                ErrorCode::InvalidSchema,
                format!("spec.schema.scope {other:?} is not supported"),
            )
            .at("spec.schema.scope")
            .hint("use Namespaced or Cluster"),
        ),
    }
    s
}

fn read_resource(index: usize, item: &Value, errors: &mut Vec<GraphError>) -> ResourceInput {
    let mut r = ResourceInput {
        index,
        ..Default::default()
    };
    let empty = Map::new();
    let m = match item {
        Value::Object(m) => m,
        _ => {
            errors.push(
                GraphError::new(
                    ErrorCode::InvalidDocument,
                    format!("spec.resources[{index}] must be an object"),
                )
                .at(format!("spec.resources[{index}]")),
            );
            &empty
        }
    };
    r.id = m
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if r.id.is_empty() && item.is_object() {
        errors.push(
            GraphError::new(
                ErrorCode::InvalidId,
                format!("spec.resources[{index}].id is required"),
            )
            .at(format!("spec.resources[{index}].id"))
            .hint("give the resource a lower camelCase id such as deployment"),
        );
    }
    let id = r.id.clone();
    r.template = m.get("template").filter(|v| !v.is_null()).cloned();
    r.external_ref = m.get("externalRef").filter(|v| !v.is_null()).cloned();
    r.ready_when = strings(m.get("readyWhen"), "readyWhen", &id, errors);
    r.include_when = strings(m.get("includeWhen"), "includeWhen", &id, errors);
    match m.get("forEach") {
        None | Some(Value::Null) => {}
        Some(Value::Array(dims)) => {
            for (i, d) in dims.iter().enumerate() {
                match d.as_object() {
                    Some(dm) if dm.len() == 1 => {
                        for (k, v) in dm {
                            match v.as_str() {
                                Some(s) => r.for_each.push((k.clone(), s.to_string())),
                                None => {
                                    r.for_each_invalid = true;
                                    errors.push(
                                        GraphError::new(
                                            ErrorCode::InvalidForEach,
                                            format!(
                                                "resource {id:?}: forEach[{i}].{k} must be a string \"${{list expression}}\""
                                            ),
                                        )
                                        .resource(&id)
                                        .at(format!("forEach[{i}]")),
                                    );
                                }
                            }
                        }
                    }
                    _ => {
                        r.for_each_invalid = true;
                        errors.push(
                            GraphError::new(
                                ErrorCode::InvalidForEach,
                                format!(
                                    "resource {id:?}: forEach[{i}] must be a map with exactly one iterator"
                                ),
                            )
                            .resource(&id)
                            .at(format!("forEach[{i}]"))
                            .hint("write each dimension as `- name: ${list}`"),
                        );
                    }
                }
            }
        }
        Some(_) => errors.push(
            GraphError::new(
                ErrorCode::InvalidForEach,
                format!("resource {id:?}: forEach must be a list of single-key maps"),
            )
            .resource(&id)
            .at("forEach"),
        ),
    }
    r.external_fields = external_fields(m.get("externalFields"), &id, errors);
    r.deletion_policy = policy(
        m.get("deletionPolicy"),
        "deletionPolicy",
        &DeletionPolicy::ACCEPTED,
        DeletionPolicy::parse,
        &id,
        errors,
    );
    r.adoption_policy = policy(
        m.get("adoptionPolicy"),
        "adoptionPolicy",
        &AdoptionPolicy::ACCEPTED,
        AdoptionPolicy::parse,
        &id,
        errors,
    );
    r
}

/// `externalFields`: a list of strings (each checked later, against the kind).
fn external_fields(value: Option<&Value>, id: &str, errors: &mut Vec<GraphError>) -> Vec<String> {
    let list = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push(
                GraphError::new(
                    ErrorCode::InvalidDocument,
                    format!("resource {id:?}: externalFields must be a list of field paths"),
                )
                .resource(id)
                .at("externalFields")
                .hint("write externalFields: [spec.replicas]"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            Some(path) => out.push(path.to_string()),
            None => errors.push(
                GraphError::new(
                    ErrorCode::InvalidDocument,
                    format!("resource {id:?}: externalFields[{i}] must be a string such as \"spec.replicas\""),
                )
                .resource(id)
                .at(format!("externalFields[{i}]")),
            ),
        }
    }
    out
}

/// One of a resource's policy fields: `None` when absent; an error naming the resource, the
/// field and the accepted values when it is not one of them.
fn policy<T>(
    value: Option<&Value>,
    field: &str,
    accepted: &[&str],
    parse: fn(&str) -> Option<T>,
    id: &str,
    errors: &mut Vec<GraphError>,
) -> Option<T> {
    let value = value.filter(|v| !v.is_null())?;
    let parsed = value.as_str().and_then(parse);
    if parsed.is_none() {
        errors.push(
            GraphError::new(
                ErrorCode::InvalidDocument,
                format!(
                    "resource {id:?}: {field} must be one of {}, got {}",
                    accepted.join(", "),
                    match value.as_str() {
                        Some(text) => format!("{text:?}"),
                        None => "a value that is not a string".to_string(),
                    }
                ),
            )
            .resource(id)
            .at(field)
            .hint(format!("write {field}: {}", accepted[0])),
        );
    }
    parsed
}
