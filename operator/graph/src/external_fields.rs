//! `externalFields` (kro v0.10): paths of a resource's template handed to another field
//! manager (an HPA's `spec.replicas`). Parsed and checked against the resource's kind here; the
//! controller sets them when it creates an object and never sets nor reverts them afterwards.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrBool,
};

use crate::error::{ErrorCode, GraphError};

/// Top-level fields that can never be handed over: kro's identity and bookkeeping live in
/// `apiVersion`, `kind` and `metadata`, and `status` is never applied.
const KEPT: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];

/// The keys of a dotted path such as `spec.replicas`, or why it is not one. Keys are JSON field
/// names (letters, digits, `_` and `-`); list items cannot be addressed.
pub fn parse(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if path.contains("${") {
        return Err("a field path cannot hold a ${...} expression".into());
    }
    let mut keys = Vec::new();
    for key in path.split('.') {
        if key.is_empty() {
            return Err("it has an empty segment (a leading, trailing or doubled '.')".into());
        }
        if let Some(bad) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(format!(
                "{bad:?} is not allowed in a field name (list items and quoted keys cannot be addressed)"
            ));
        }
        keys.push(key.to_string());
    }
    if KEPT.contains(&keys[0].as_str()) {
        return Err(format!(
            "{} cannot be handed to another field manager: kro keeps apiVersion, kind and metadata, and never applies status",
            keys[0]
        ));
    }
    Ok(keys)
}

/// What is wrong with `keys` in the kind's `schema`, if anything: a field the kind does not
/// have, or a path going inside a list. A free-form part of the schema accepts any path.
fn schema_problem(schema: &JSONSchemaProps, keys: &[String]) -> Option<String> {
    let mut current = schema;
    for (depth, key) in keys.iter().enumerate() {
        let so_far = keys[..depth].join(".");
        if current.x_kubernetes_preserve_unknown_fields == Some(true) {
            return None;
        }
        if current.type_.as_deref() == Some("array") {
            return Some(format!(
                "{so_far} is a list: a path cannot go inside list items"
            ));
        }
        let field = current
            .properties
            .as_ref()
            .and_then(|properties| properties.get(key));
        current = match (field, &current.additional_properties) {
            (Some(field), _) => field,
            (None, Some(JSONSchemaPropsOrBool::Schema(additional))) => additional,
            (None, Some(JSONSchemaPropsOrBool::Bool(true))) => return None,
            (None, _) if current.properties.is_none() => return None,
            (None, _) => {
                return Some(format!(
                    "the kind has no field {}",
                    keys[..=depth].join(".")
                ));
            }
        };
    }
    None
}

/// Every problem of resource `id`'s `externalFields` (`schema`: its kind's, when known), each
/// naming the entry.
pub(crate) fn check(
    id: &str,
    paths: &[String],
    schema: Option<&JSONSchemaProps>,
) -> Vec<GraphError> {
    let mut errors = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let problem = match parse(path) {
            Ok(keys) => schema.and_then(|schema| schema_problem(schema, &keys)),
            Err(problem) => Some(problem),
        };
        if let Some(problem) = problem {
            errors.push(
                GraphError::new(
                    ErrorCode::InvalidTemplate,
                    format!(
                        "resource {id:?}: externalFields[{i}] {path:?} is not a field kro can hand to another field manager: {problem}"
                    ),
                )
                .resource(id)
                .at(format!("externalFields[{i}]"))
                .hint("list dotted paths of fields of the template's kind, such as spec.replicas"),
            );
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_or_say_why_not() {
        assert_eq!(parse("spec.replicas").unwrap(), ["spec", "replicas"]);
        assert_eq!(parse("data.my-key_1").unwrap(), ["data", "my-key_1"]);
        for (path, why) in [
            ("", "empty"),
            ("spec..replicas", "empty segment"),
            (".spec", "empty segment"),
            ("spec.", "empty segment"),
            ("spec.containers[0].image", "'['"),
            ("spec.${schema.spec.f}", "${...}"),
            ("spec.re plicas", "' '"),
            ("metadata.labels", "kro keeps"),
            ("status.replicas", "never applies status"),
            ("kind", "kro keeps"),
        ] {
            let err = parse(path).unwrap_err();
            assert!(err.contains(why), "{path:?}: {err}");
        }
    }

    #[test]
    fn paths_are_checked_against_the_kind() {
        let schema: JSONSchemaProps = serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "containers": {"type": "array", "items": {"type": "object"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                }},
            },
        }))
        .unwrap();
        for ok in ["spec.replicas", "spec.free.any.depth", "spec.labels.app"] {
            assert_eq!(schema_problem(&schema, &parse(ok).unwrap()), None, "{ok}");
        }
        assert_eq!(
            schema_problem(&schema, &parse("spec.replica").unwrap()).unwrap(),
            "the kind has no field spec.replica"
        );
        assert!(
            schema_problem(&schema, &parse("spec.containers.image").unwrap())
                .unwrap()
                .contains("spec.containers is a list")
        );
        let errors = check("deployment", &["spec.replica".into()], Some(&schema));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path.as_deref(), Some("externalFields[0]"));
        assert!(
            errors[0]
                .message
                .contains("externalFields[0] \"spec.replica\"")
        );
        // Without a schema only the syntax is checked.
        assert!(check("d", &["spec.anything".into()], None).is_empty());
    }
}
