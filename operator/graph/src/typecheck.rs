//! Static checks of templates against the OpenAPI schema of their kind: unknown fields and
//! literal values of the wrong type, as kro's template parser reports them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

use kro_cel::{CelError, CelType, TypeEnv};

use crate::draft::Draft;
use crate::error::{ErrorCode, GraphError};
use crate::expr::CompiledExpr;
use crate::model::{CompiledValue, ForEachDimension, NodeKind, TemplateField, TemplatePart};
use crate::names;
use crate::path::{FieldPath, Segment};
use crate::scan::{self, FieldValue};
use crate::schemas::ResolvedKind;

/// The instance spec schema from SimpleSchema, and the typed `spec.schema`.
pub(crate) fn instance_spec(
    raw: &Value,
) -> Result<(kro_api::Schema, JSONSchemaProps), Vec<GraphError>> {
    let schema: kro_api::Schema = serde_json::from_value(raw.clone()).map_err(|e| {
        vec![
            GraphError::new(
                ErrorCode::InvalidSchema,
                format!("spec.schema is not valid: {e}"),
            )
            .at("spec.schema"),
        ]
    })?;
    match kro_schema::spec_schema(&schema) {
        Ok(spec) => Ok((schema, spec)),
        Err(errs) => Err(errs
            .0
            .into_iter()
            .map(|e| {
                GraphError::new(
                    ErrorCode::SimpleSchema,
                    format!("failed to build OpenAPI schema for instance: {e}"),
                )
                .at(e.path.clone())
            })
            .collect()),
    }
}

/// The CEL type of `schema`: the instance object without `status` (metadata is ObjectMeta).
pub(crate) fn schema_type(spec: &JSONSchemaProps) -> CelType {
    let mut root = kro_schema::instance_schema(spec.clone(), JSONSchemaProps::default());
    if let Some(props) = root.properties.as_mut() {
        props.remove("status");
        props.remove("metadata");
    }
    CelType::resource(names::SCHEMA_VAR, &root)
}

/// The CEL type other nodes see for a node.
fn node_type(id: &str, kind: NodeKind, schema: Option<&ResolvedKind>) -> CelType {
    let single = match schema {
        Some(resolved) => CelType::resource(id, &resolved.schema),
        None => CelType::Dyn,
    };
    if kind.is_list() {
        CelType::List(Box::new(single))
    } else {
        single
    }
}

fn check_error(id: &str, what: &str, at: &str, e: &CompiledExpr, err: &CelError) -> GraphError {
    let detail = error_detail(err);
    GraphError::new(
        ErrorCode::TypeMismatch,
        format!(
            "failed to validate resource {id:?}: failed to type-check {what} expression {:?} at path {at:?}: {detail}",
            e.source()
        ),
    )
    .resource(id)
    .at(at)
}

fn mismatch(
    id: &str,
    at: &str,
    e: &CompiledExpr,
    got: &CelType,
    want: &CelType,
    why: &str,
) -> GraphError {
    let detail = if why.is_empty() {
        String::new()
    } else {
        format!(": {why}")
    };
    GraphError::new(
        ErrorCode::TypeMismatch,
        format!(
            "type mismatch in resource {id:?} at path {at:?}: expression {:?} returns type {:?} but expected {:?}{detail}",
            e.source(),
            got.to_string(),
            want.to_string()
        ),
    )
    .resource(id)
    .at(at)
}

/// The schema at `path` inside `root` (None when unknown or free-form).
fn schema_at<'a>(root: &'a JSONSchemaProps, path: &FieldPath) -> Option<&'a JSONSchemaProps> {
    let mut cur = root;
    for seg in &path.0 {
        cur = match seg {
            Segment::Field(k) => field_schema(cur, k)?,
            Segment::Index(_) => items_schema(cur)?,
        };
    }
    Some(cur)
}

/// The checker environment every node and status expression sees: `schema` and each node by id.
fn node_env(nodes: &[Draft], schema: &CelType) -> TypeEnv {
    let mut env = TypeEnv::new();
    env.declare(names::SCHEMA_VAR, schema.clone());
    for node in nodes {
        env.declare(
            node.id().to_string(),
            node_type(node.id(), node.kind, node.resolved.as_ref()),
        );
    }
    env
}

/// Type-checks every expression of the nodes that were built without errors.
pub(crate) fn check_nodes(nodes: &mut [Draft], schema: &CelType) -> Vec<GraphError> {
    let env = node_env(nodes, schema);
    let mut errors = Vec::new();
    for node in nodes.iter_mut().filter(|node| node.is_ok()) {
        let id = node.id().to_string();
        let local = check_for_each(&id, &mut node.for_each, &env, &mut errors);
        let checked_fields = matches!(node.kind, NodeKind::Resource | NodeKind::Collection);
        let field_schema = node
            .resolved
            .as_ref()
            .map(|resolved| &*resolved.schema)
            .filter(|_| checked_fields);
        for field in node.fields.iter_mut() {
            check_template_field(&id, field, field_schema, &local, &mut errors);
        }
        check_conditions(
            &id,
            "includeWhen",
            &mut node.include_when,
            &env,
            &mut errors,
        );
        let ready_env = ready_env(&id, node.kind, node.resolved.as_ref());
        check_conditions(
            &id,
            "readyWhen",
            &mut node.ready_when,
            &ready_env,
            &mut errors,
        );
    }
    errors
}

/// Checks the `forEach` dimensions of node `id`; returns `env` with each iterator declared as
/// the element type of its list.
fn check_for_each(
    id: &str,
    dimensions: &mut [ForEachDimension],
    env: &TypeEnv,
    errors: &mut Vec<GraphError>,
) -> TypeEnv {
    let mut local = env.clone();
    for dim in dimensions.iter_mut() {
        let at = format!("forEach.{}", dim.name);
        match dim.expr.program().check(env) {
            Ok(output) => {
                match output.unwrap_optional().list_element() {
                    Some(element) => {
                        local.declare(dim.name.clone(), element);
                    }
                    None if output.is_dyn() => {
                        local.declare(dim.name.clone(), CelType::Dyn);
                    }
                    None => errors.push(
                        GraphError::new(
                            ErrorCode::InvalidForEach,
                            format!(
                                "failed to validate resource {id:?}: forEach iterator {:?} must return a list, got {:?}",
                                dim.name,
                                output.to_string()
                            ),
                        )
                        .resource(id)
                        .at(&at),
                    ),
                }
                dim.expr.set_output_type(output);
            }
            Err(e) => {
                errors.push(check_error(id, "forEach", &at, &dim.expr, &e));
                local.declare(dim.name.clone(), CelType::Dyn);
            }
        }
    }
    local
}

/// Checks one templated field of node `id` against the field's schema (`dyn` when unknown).
fn check_template_field(
    id: &str,
    field: &mut TemplateField,
    node_schema: Option<&JSONSchemaProps>,
    env: &TypeEnv,
    errors: &mut Vec<GraphError>,
) {
    let at = field.path.to_string();
    let expected = node_schema
        .and_then(|schema| schema_at(schema, &field.path))
        .map(|schema| CelType::from_schema(&format!("{id}.{at}"), schema))
        .unwrap_or(CelType::Dyn);
    match &mut field.value {
        CompiledValue::Expr(e) => match e.program().check(env) {
            Ok(output) => {
                if let Err(why) = output.assignable_to(&expected) {
                    errors.push(mismatch(id, &at, e, &output, &expected, &why));
                }
                e.set_output_type(output);
            }
            Err(err) => errors.push(check_error(id, "template", &at, e, &err)),
        },
        CompiledValue::Template(parts) => {
            for part in parts.iter_mut() {
                let TemplatePart::Expr(e) = part else {
                    continue;
                };
                match e.program().check(env) {
                    Ok(output) => {
                        if let Err(why) = output.assignable_to(&CelType::String) {
                            errors.push(mismatch(
                                id,
                                &at,
                                e,
                                &output,
                                &CelType::String,
                                &format!("every expression inside a string template must be a string ({why}); wrap it in string()"),
                            ));
                        }
                        e.set_output_type(output);
                    }
                    Err(err) => errors.push(check_error(id, "template", &at, e, &err)),
                }
            }
        }
    }
}

/// Checks that each condition of node `id`'s `field` (`includeWhen` or `readyWhen`) returns a
/// bool.
fn check_conditions(
    id: &str,
    field: &str,
    conditions: &mut [CompiledExpr],
    env: &TypeEnv,
    errors: &mut Vec<GraphError>,
) {
    for (i, expr) in conditions.iter_mut().enumerate() {
        let at = format!("{field}[{i}]");
        match expr.program().check(env) {
            Ok(output) => {
                if !output.is_bool_like() && !output.is_dyn() {
                    errors.push(mismatch(
                        id,
                        &at,
                        expr,
                        &output,
                        &CelType::Bool,
                        &format!("{field} must return bool"),
                    ));
                }
                expr.set_output_type(output);
            }
            Err(err) => errors.push(check_error(id, field, &at, expr, &err)),
        }
    }
}

/// What `readyWhen` of node `id` sees: the node itself, or `each` item of a collection.
fn ready_env(id: &str, kind: NodeKind, resolved: Option<&ResolvedKind>) -> TypeEnv {
    let mut env = TypeEnv::new();
    let single = node_type(id, NodeKind::Resource, resolved);
    if kind == NodeKind::Collection {
        env.declare(names::EACH_VAR, single);
    } else {
        env.declare(id.to_string(), node_type(id, kind, resolved));
        if kind == NodeKind::ExternalCollection {
            env.declare(names::EACH_VAR, single);
        }
    }
    env
}

/// The text of a checker error: the type errors themselves, or the error's message.
fn error_detail(err: &CelError) -> String {
    match err {
        CelError::Check { errors, .. } => errors.to_string(),
        other => other.to_string(),
    }
}

/// A status expression the checker rejected.
fn status_check_error(field: &FieldPath, at: &str, e: &CompiledExpr, err: &CelError) -> GraphError {
    GraphError::new(
        ErrorCode::TypeMismatch,
        format!(
            "failed to build instance status schema: failed to type-check status expression {:?} at path {:?}: {}",
            e.source(),
            field.to_string(),
            error_detail(err)
        ),
    )
    .at(at)
}

/// Type-checks the status fields and returns the inferred schema of each.
pub(crate) fn check_status(
    fields: &mut [TemplateField],
    nodes: &[Draft],
    schema: &CelType,
) -> (Vec<(Vec<String>, JSONSchemaProps)>, Vec<GraphError>) {
    let env = node_env(nodes, schema);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for field in fields.iter_mut() {
        let at = format!("status.{}", field.path);
        let path: Vec<String> = field
            .path
            .0
            .iter()
            .map(|segment| match segment {
                Segment::Field(key) => key.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect();
        match &mut field.value {
            CompiledValue::Expr(e) => match e.program().check(&env) {
                Ok(output) => {
                    out.push((path, output.to_schema()));
                    e.set_output_type(output);
                }
                Err(err) => errors.push(status_check_error(&field.path, &at, e, &err)),
            },
            CompiledValue::Template(parts) => {
                check_status_template(&field.path, &at, parts, &env, &mut errors);
                out.push((
                    path,
                    JSONSchemaProps {
                        type_: Some("string".into()),
                        ..Default::default()
                    },
                ));
            }
        }
    }
    (out, errors)
}

/// Checks that every expression inside the string template of status field `field` is a string.
fn check_status_template(
    field: &FieldPath,
    at: &str,
    parts: &mut [TemplatePart],
    env: &TypeEnv,
    errors: &mut Vec<GraphError>,
) {
    for part in parts.iter_mut() {
        let TemplatePart::Expr(e) = part else {
            continue;
        };
        match e.program().check(env) {
            Ok(output) => {
                if output.assignable_to(&CelType::String).is_err() {
                    errors.push(
                        GraphError::new(
                            ErrorCode::TypeMismatch,
                            format!(
                                "status field {:?}: expression {:?} returns type {:?} but every expression inside a string template must be a string; wrap it in string()",
                                field.to_string(),
                                e.source(),
                                output.to_string()
                            ),
                        )
                        .at(at),
                    );
                }
                e.set_output_type(output);
            }
            Err(err) => errors.push(status_check_error(field, at, e, &err)),
        }
    }
}

/// Type-checks the author's `status.conditions` expressions (`runtime` in scope).
pub(crate) fn check_status_conditions(
    exprs: &mut [(usize, CompiledExpr)],
    nodes: &[Draft],
    schema: &CelType,
) -> Vec<GraphError> {
    let mut env = node_env(nodes, schema);
    env.declare_runtime();
    let mut errors = Vec::new();
    for (i, expr) in exprs.iter_mut() {
        let at = format!("status.conditions[{i}]");
        match expr.program().check(&env) {
            Ok(output) => {
                let name = output.to_string();
                let ok = output.is_dyn()
                    || matches!(
                        name.as_str(),
                        "kro.run.Condition" | "list(kro.run.Condition)" | "list(dyn)"
                    );
                if !ok {
                    errors.push(
                        GraphError::new(
                            ErrorCode::TypeMismatch,
                            format!(
                                "{at}: expression {:?} returns type {name:?} but a condition (runtime.newCondition(...)) or a list of conditions is expected",
                                expr.source()
                            ),
                        )
                        .at(&at),
                    );
                }
                expr.set_output_type(output);
            }
            Err(err) => errors.push(
                GraphError::new(
                    ErrorCode::TypeMismatch,
                    format!(
                        "failed to type-check status condition {:?}: {}",
                        expr.source(),
                        error_detail(&err)
                    ),
                )
                .at(&at),
            ),
        }
    }
    errors
}

/// Checks literal template values of every node whose schema is known.
pub(crate) fn check_literals(nodes: &[Draft]) -> Vec<GraphError> {
    let mut errors = Vec::new();
    for node in nodes {
        let Some(resolved) = node.resolved.as_ref() else {
            continue;
        };
        if !node.is_ok() || !matches!(node.kind, NodeKind::Resource | NodeKind::Collection) {
            continue;
        }
        let mut errs = Vec::new();
        // apiVersion, kind and metadata (ObjectMeta) are checked structurally by the compiler.
        if let Value::Object(fields) = &node.template {
            for (k, value) in fields {
                if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let path = FieldPath::root().field(k);
                match field_schema(&resolved.schema, k) {
                    Some(fs) => check_value(value, fs, &path, &mut errs),
                    None if is_open(&resolved.schema) => {}
                    None => errs.push((
                        path.to_string(),
                        format!("error getting field schema for path {path}: schema not found for field {k}"),
                    )),
                }
            }
        }
        for (path, message) in errs {
            errors.push(
                GraphError::new(
                    ErrorCode::TypeMismatch,
                    format!(
                        "failed to extract CEL expressions from schema for resource {}: {message}",
                        node.id()
                    ),
                )
                .resource(node.id())
                .at(path),
            );
        }
    }
    errors
}

fn preserves_unknown(schema: &JSONSchemaProps) -> bool {
    schema.x_kubernetes_preserve_unknown_fields == Some(true)
}

fn type_of(schema: &JSONSchemaProps) -> Option<&str> {
    schema.type_.as_deref()
}

/// The schema of field `name` inside object schema `s`.
fn field_schema<'a>(schema: &'a JSONSchemaProps, name: &str) -> Option<&'a JSONSchemaProps> {
    if let Some(props) = schema.properties.as_ref().and_then(|props| props.get(name)) {
        return Some(props);
    }
    match &schema.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(additional)) => Some(additional),
        _ => None,
    }
}

fn items_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => Some(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.first(),
        None => None,
    }
}

fn is_open(schema: &JSONSchemaProps) -> bool {
    preserves_unknown(schema)
        || matches!(
            schema.additional_properties,
            Some(JSONSchemaPropsOrBool::Bool(true))
        )
        || (type_of(schema).is_none()
            && schema.properties.is_none()
            && schema.items.is_none()
            && schema.x_kubernetes_int_or_string != Some(true)
            && schema.any_of.is_none()
            && schema.one_of.is_none())
}

fn check_value(
    value: &Value,
    schema: &JSONSchemaProps,
    path: &FieldPath,
    errs: &mut Vec<(String, String)>,
) {
    // Strings with expressions are checked by the CEL checker, not here.
    if let Value::String(text) = value
        && !matches!(scan::classify(text), Ok(FieldValue::Literal))
    {
        return;
    }
    if is_open(schema) && !matches!(value, Value::Object(_) | Value::Array(_)) {
        return;
    }
    let at = path.to_string();
    if schema.x_kubernetes_int_or_string == Some(true) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            errs.push((
                at.clone(),
                format!(
                    "expected integer or string type for path {at}, got {}",
                    json_type(value)
                ),
            ));
        }
        return;
    }
    match value {
        Value::Object(fields) => {
            if let Some(expected) = type_of(schema)
                && expected != "object"
            {
                errs.push((
                    at.clone(),
                    format!("expected {expected} type for path {at}, got object"),
                ));
                return;
            }
            for (k, child) in fields {
                let cp = path.field(k);
                match field_schema(schema, k) {
                    Some(fs) => check_value(child, fs, &cp, errs),
                    None if is_open(schema) => {}
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
        Value::Array(items) => {
            if let Some(expected) = type_of(schema)
                && expected != "array"
            {
                errs.push((
                    at.clone(),
                    format!("expected {expected} type for path {at}, got array"),
                ));
                return;
            }
            if let Some(is) = items_schema(schema) {
                for (i, child) in items.iter().enumerate() {
                    check_value(child, is, &path.index(i), errs);
                }
            }
        }
        Value::Null => {}
        scalar => {
            let Some(expected) = type_of(schema) else {
                return;
            };
            let ok = match expected {
                "string" => scalar.is_string(),
                "integer" => scalar.is_i64() || scalar.is_u64(),
                "number" => scalar.is_number(),
                "boolean" => scalar.is_boolean(),
                _ => false,
            };
            if !ok {
                errs.push((
                    at.clone(),
                    format!(
                        "expected {expected} type for path {at}, got {}",
                        json_type(scalar)
                    ),
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
