//! Static checks of templates against the OpenAPI schema of their kind: unknown fields and
//! literal values of the wrong type, as kro's template parser reports them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

use crate::compile::DraftView;
use crate::error::{ErrorCode, GraphError};
use crate::model::NodeKind;
use crate::path::FieldPath;
use crate::scan::{self, FieldValue};

/// The OpenAPI schema of the `schema` variable (instance without status), when known.
pub(crate) fn instance_schema(_raw: &Value, _namespaced: bool) -> Option<JSONSchemaProps> {
    None
}

/// Checks every node whose schema is known.
pub(crate) fn check_graph(
    nodes: &[DraftView<'_>],
    _instance: &Option<JSONSchemaProps>,
) -> Vec<GraphError> {
    let mut errors = Vec::new();
    for n in nodes {
        let Some(resolved) = n.schema else { continue };
        if !matches!(n.kind, NodeKind::Resource | NodeKind::Collection) {
            continue;
        }
        let mut errs = Vec::new();
        check_value(n.template, &resolved.schema, &FieldPath::root(), &mut errs);
        for (path, message) in errs {
            errors.push(
                GraphError::new(
                    ErrorCode::TypeMismatch,
                    format!(
                        "failed to extract CEL expressions from schema for resource {}: {message}",
                        n.id
                    ),
                )
                .resource(n.id)
                .at(path),
            );
        }
    }
    errors
}

fn preserves_unknown(s: &JSONSchemaProps) -> bool {
    s.x_kubernetes_preserve_unknown_fields == Some(true)
}

fn type_of(s: &JSONSchemaProps) -> Option<&str> {
    s.type_.as_deref()
}

/// The schema of field `name` inside object schema `s`.
fn field_schema<'a>(s: &'a JSONSchemaProps, name: &str) -> Option<&'a JSONSchemaProps> {
    if let Some(p) = s.properties.as_ref().and_then(|p| p.get(name)) {
        return Some(p);
    }
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(b)) => Some(b),
        _ => None,
    }
}

fn items_schema(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(b)) => Some(b),
        Some(JSONSchemaPropsOrArray::Schemas(v)) => v.first(),
        None => None,
    }
}

fn is_open(s: &JSONSchemaProps) -> bool {
    preserves_unknown(s)
        || matches!(
            s.additional_properties,
            Some(JSONSchemaPropsOrBool::Bool(true))
        )
        || (type_of(s).is_none()
            && s.properties.is_none()
            && s.items.is_none()
            && s.x_kubernetes_int_or_string != Some(true)
            && s.any_of.is_none()
            && s.one_of.is_none())
}

fn check_value(v: &Value, s: &JSONSchemaProps, path: &FieldPath, errs: &mut Vec<(String, String)>) {
    // Strings with expressions are checked by the CEL checker, not here.
    if let Value::String(text) = v
        && !matches!(scan::classify(text), Ok(FieldValue::Literal))
    {
        return;
    }
    if is_open(s) && !matches!(v, Value::Object(_) | Value::Array(_)) {
        return;
    }
    let p = path.to_string();
    if s.x_kubernetes_int_or_string == Some(true) {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errs.push((
                p.clone(),
                format!(
                    "expected integer or string type for path {p}, got {}",
                    json_type(v)
                ),
            ));
        }
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(t) = type_of(s)
                && t != "object"
            {
                errs.push((
                    p.clone(),
                    format!("expected {t} type for path {p}, got object"),
                ));
                return;
            }
            for (k, child) in m {
                let cp = path.field(k);
                match field_schema(s, k) {
                    Some(fs) => check_value(child, fs, &cp, errs),
                    None if is_open(s) => {}
                    None => {
                        let cps = cp.to_string();
                        errs.push((
                            cps.clone(),
                            format!(
                                "error getting field schema for path {cps}: schema not found for field {k}"
                            ),
                        ));
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(t) = type_of(s)
                && t != "array"
            {
                errs.push((
                    p.clone(),
                    format!("expected {t} type for path {p}, got array"),
                ));
                return;
            }
            if let Some(is) = items_schema(s) {
                for (i, child) in a.iter().enumerate() {
                    check_value(child, is, &path.index(i), errs);
                }
            }
        }
        Value::Null => {}
        scalar => {
            let Some(t) = type_of(s) else { return };
            let ok = match t {
                "string" => scalar.is_string(),
                "integer" => scalar.is_i64() || scalar.is_u64(),
                "number" => scalar.is_number(),
                "boolean" => scalar.is_boolean(),
                _ => false,
            };
            if !ok {
                errs.push((
                    p.clone(),
                    format!("expected {t} type for path {p}, got {}", json_type(scalar)),
                ));
            }
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
