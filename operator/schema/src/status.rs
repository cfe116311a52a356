//! The instance `status` schema: built from the OpenAPI schemas of the CEL result types of the
//! `spec.schema.status` expressions, plus kro's built-in `state` and `conditions` fields.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray,
};

use crate::error::{ErrorKind, SchemaError, SchemaErrors};

/// Path prefix of the status fields in an RGD.
pub const STATUS_PATH: &str = "spec.schema.status";

/// Schema kro injects as `status.state` when the author defines no `state` field.
pub fn default_state_schema() -> JSONSchemaProps {
    typed("string")
}

/// Schema kro injects as `status.conditions` when the author defines no `conditions` field:
/// an array of `{type, status, reason, message, lastTransitionTime: string,
/// observedGeneration: integer}`.
pub fn default_conditions_schema() -> JSONSchemaProps {
    let mut props = BTreeMap::new();
    for f in ["type", "status", "reason", "message", "lastTransitionTime"] {
        props.insert(f.to_string(), typed("string"));
    }
    props.insert("observedGeneration".into(), typed("integer"));
    JSONSchemaProps {
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(JSONSchemaProps {
            properties: Some(props),
            ..typed("object")
        }))),
        ..typed("array")
    }
}

fn typed(t: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some(t.into()),
        ..Default::default()
    }
}

/// Builds the instance `status` schema from status fields and their inferred schemas.
///
/// Each entry is a field path inside `status` (e.g. `["endpoint"]` or `["db", "host"]`, from
/// the nesting of `spec.schema.status`) and the OpenAPI schema of its expression's CEL type
/// (string templates are `string`). Nested paths become nested objects. kro's `state` and
/// `conditions` fields are added unless the author defined a field with that name.
///
/// Errors: an empty path, a field defined twice, or a field that is both a value and an object
/// (e.g. `a` and `a.b`).
pub fn status_schema<I>(fields: I) -> Result<JSONSchemaProps, SchemaErrors>
where
    I: IntoIterator<Item = (Vec<String>, JSONSchemaProps)>,
{
    let mut root = Node::Object(BTreeMap::new());
    let mut errors = Vec::new();
    for (path, schema) in fields {
        if let Err(e) = insert(&mut root, &path, schema) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(SchemaErrors(errors));
    }
    let mut status = root.into_schema();
    let props = status.properties.get_or_insert_with(BTreeMap::new);
    props
        .entry("state".into())
        .or_insert_with(default_state_schema);
    props
        .entry("conditions".into())
        .or_insert_with(default_conditions_schema);
    Ok(status)
}

enum Node {
    Leaf(Box<JSONSchemaProps>),
    Object(BTreeMap<String, Node>),
}

impl Node {
    fn into_schema(self) -> JSONSchemaProps {
        match self {
            Node::Leaf(s) => *s,
            Node::Object(children) => JSONSchemaProps {
                properties: Some(
                    children
                        .into_iter()
                        .map(|(k, v)| (k, v.into_schema()))
                        .collect(),
                ),
                ..typed("object")
            },
        }
    }
}

fn insert(root: &mut Node, path: &[String], schema: JSONSchemaProps) -> Result<(), SchemaError> {
    let dotted = if path.is_empty() {
        STATUS_PATH.to_string()
    } else {
        format!("{STATUS_PATH}.{}", path.join("."))
    };
    let Some((last, parents)) = path.split_last() else {
        return Err(SchemaError::new(
            dotted,
            ErrorKind::StatusConflict("a status field needs a name".into()),
        ));
    };
    let mut node = root;
    for (i, seg) in parents.iter().enumerate() {
        let Node::Object(children) = node else {
            return Err(SchemaError::new(
                dotted,
                ErrorKind::StatusConflict(format!(
                    "{STATUS_PATH}.{} is already a value, it cannot also hold fields",
                    parents[..i].join(".")
                )),
            ));
        };
        node = children
            .entry(seg.clone())
            .or_insert_with(|| Node::Object(BTreeMap::new()));
    }
    let Node::Object(children) = node else {
        return Err(SchemaError::new(
            dotted,
            ErrorKind::StatusConflict(format!(
                "{STATUS_PATH}.{} is already a value, it cannot also hold fields",
                parents.join(".")
            )),
        ));
    };
    match children.get(last) {
        Some(Node::Leaf(_)) => {
            return Err(SchemaError::new(
                dotted.clone(),
                ErrorKind::StatusConflict(format!("{dotted} is defined more than once")),
            ));
        }
        Some(Node::Object(_)) => {
            return Err(SchemaError::new(
                dotted.clone(),
                ErrorKind::StatusConflict(format!(
                    "{dotted} already holds nested fields, it cannot also be a value"
                )),
            ));
        }
        None => {}
    }
    children.insert(last.clone(), Node::Leaf(Box::new(schema)));
    Ok(())
}
