//! Offline rendering: matches a bag of objects (for example YAML files standing in for the
//! cluster) to the nodes of a graph, then evaluates. Used by `kro render` and by tests.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kro_graph::{CompiledGraph, NodeKind};
use serde_json::Value;

use crate::evaluate::{Options, evaluate_with};
use crate::plan::{Observed, Plan};

fn string_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn same_object(
    object: &Value,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> bool {
    string_at(object, "/apiVersion") == Some(api_version)
        && string_at(object, "/kind") == Some(kind)
        && string_at(object, "/metadata/name") == Some(name)
        && match (namespace, string_at(object, "/metadata/namespace")) {
            (Some(wanted), Some(actual)) => wanted == actual,
            _ => true,
        }
}

fn matches_labels(object: &Value, selector: &Value) -> bool {
    let labels = object.pointer("/metadata/labels");
    let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) else {
        return selector
            .get("matchExpressions")
            .is_none_or(|expressions| expressions.as_array().is_none_or(Vec::is_empty));
    };
    ml.iter()
        .all(|(k, v)| labels.and_then(|object_labels| object_labels.get(k)) == Some(v))
}

/// Applies the defaults of the instance schema, as the API server does on admission: missing
/// fields with a `default` get it, recursively through present objects and list items.
pub fn apply_defaults(schema: &JSONSchemaProps, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(props) = &schema.properties {
                for (name, ps) in props {
                    if !fields.contains_key(name)
                        && let Some(default) = &ps.default
                    {
                        fields.insert(name.clone(), default.0.clone());
                    }
                    if let Some(child) = fields.get_mut(name) {
                        apply_defaults(ps, child);
                    }
                }
            } else if let Some(JSONSchemaPropsOrBool::Schema(ap)) = &schema.additional_properties {
                for child in fields.values_mut() {
                    apply_defaults(ap, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(is)) = &schema.items {
                for child in items.iter_mut() {
                    apply_defaults(is, child);
                }
            }
        }
        _ => {}
    }
}

/// The instance as the API server would store it: `spec` defaulted from the graph's schema.
pub fn defaulted_instance(graph: &CompiledGraph, instance: &Value) -> Value {
    let mut out = instance.clone();
    if let Some(schema) = &graph.instance_schema
        && let Some(fields) = out.as_object_mut()
    {
        let spec = fields
            .entry("spec")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        apply_defaults(schema, spec);
    }
    out
}

/// Evaluates `instance` repeatedly, each time adding the `objects` that match what the plan
/// applies or reads, until nothing new matches. Returns what was observed and the final plan.
pub fn render_with_objects(
    graph: &CompiledGraph,
    instance: &Value,
    objects: &[Value],
    options: &Options,
) -> (Observed, Plan) {
    let instance = &defaulted_instance(graph, instance);
    let mut observed = Observed::new();
    let mut plan = evaluate_with(graph, instance, &observed, options);
    for _ in 0..=graph.nodes.len() {
        let mut next = Observed::new();
        for node in &graph.nodes {
            match node.kind {
                NodeKind::Resource => {
                    if let Some(desired) =
                        plan.apply.iter().find(|desired| desired.node_id == node.id)
                        && let Some(object) = objects.iter().find(|object| {
                            same_object(
                                object,
                                desired.api_version(),
                                desired.kind(),
                                desired.namespace(),
                                desired.name(),
                            )
                        })
                    {
                        next.insert(node.id.clone(), object.clone());
                    }
                }
                NodeKind::Collection => {
                    let items: Vec<Value> = plan
                        .apply
                        .iter()
                        .filter(|desired| desired.node_id == node.id)
                        .filter_map(|desired| {
                            objects
                                .iter()
                                .find(|object| {
                                    same_object(
                                        object,
                                        desired.api_version(),
                                        desired.kind(),
                                        desired.namespace(),
                                        desired.name(),
                                    )
                                })
                                .cloned()
                        })
                        .collect();
                    if !items.is_empty() {
                        next.insert_list(node.id.clone(), items);
                    }
                }
                NodeKind::External | NodeKind::ExternalCollection => {
                    let Some(read) = plan
                        .external_reads
                        .iter()
                        .find(|read| read.node_id == node.id)
                    else {
                        continue;
                    };
                    if let Some(name) = &read.name {
                        if let Some(object) = objects.iter().find(|object| {
                            same_object(
                                object,
                                &read.api_version,
                                &read.kind,
                                read.namespace.as_deref(),
                                name,
                            )
                        }) {
                            next.insert(node.id.clone(), object.clone());
                        }
                    } else if let Some(sel) = &read.selector {
                        let items: Vec<Value> = objects
                            .iter()
                            .filter(|object| {
                                string_at(object, "/apiVersion") == Some(read.api_version.as_str())
                                    && string_at(object, "/kind") == Some(read.kind.as_str())
                                    && matches_labels(object, sel)
                            })
                            .cloned()
                            .collect();
                        next.insert_list(node.id.clone(), items);
                    }
                }
            }
        }
        if next == observed {
            break;
        }
        observed = next;
        plan = evaluate_with(graph, instance, &observed, options);
    }
    (observed, plan)
}
