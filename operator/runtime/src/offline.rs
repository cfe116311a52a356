//! Offline rendering: matches a bag of objects (for example YAML files standing in for the
//! cluster) to the nodes of a graph, then evaluates. Used by `kro render` and by tests.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kro_graph::{CompiledGraph, NodeKind};
use serde_json::Value;

use crate::evaluate::{Options, evaluate_with};
use crate::plan::{Observed, Plan};

fn s<'a>(o: &'a Value, p: &str) -> Option<&'a str> {
    o.pointer(p).and_then(Value::as_str)
}

fn same_object(
    o: &Value,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> bool {
    s(o, "/apiVersion") == Some(api_version)
        && s(o, "/kind") == Some(kind)
        && s(o, "/metadata/name") == Some(name)
        && match (namespace, s(o, "/metadata/namespace")) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

fn matches_labels(o: &Value, selector: &Value) -> bool {
    let labels = o.pointer("/metadata/labels");
    let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) else {
        return selector
            .get("matchExpressions")
            .is_none_or(|e| e.as_array().is_none_or(Vec::is_empty));
    };
    ml.iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Applies the defaults of the instance schema, as the API server does on admission: missing
/// fields with a `default` get it, recursively through present objects and list items.
pub fn apply_defaults(schema: &JSONSchemaProps, value: &mut Value) {
    match value {
        Value::Object(m) => {
            if let Some(props) = &schema.properties {
                for (k, ps) in props {
                    if !m.contains_key(k)
                        && let Some(d) = &ps.default
                    {
                        m.insert(k.clone(), d.0.clone());
                    }
                    if let Some(child) = m.get_mut(k) {
                        apply_defaults(ps, child);
                    }
                }
            } else if let Some(JSONSchemaPropsOrBool::Schema(ap)) = &schema.additional_properties {
                for child in m.values_mut() {
                    apply_defaults(ap, child);
                }
            }
        }
        Value::Array(a) => {
            if let Some(JSONSchemaPropsOrArray::Schema(is)) = &schema.items {
                for child in a.iter_mut() {
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
        && let Some(m) = out.as_object_mut()
    {
        let spec = m
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
                    if let Some(d) = plan.apply.iter().find(|d| d.node_id == node.id)
                        && let Some(o) = objects.iter().find(|o| {
                            same_object(o, d.api_version(), d.kind(), d.namespace(), d.name())
                        })
                    {
                        next.insert(node.id.clone(), o.clone());
                    }
                }
                NodeKind::Collection => {
                    let items: Vec<Value> = plan
                        .apply
                        .iter()
                        .filter(|d| d.node_id == node.id)
                        .filter_map(|d| {
                            objects
                                .iter()
                                .find(|o| {
                                    same_object(
                                        o,
                                        d.api_version(),
                                        d.kind(),
                                        d.namespace(),
                                        d.name(),
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
                    let Some(r) = plan.external_reads.iter().find(|r| r.node_id == node.id) else {
                        continue;
                    };
                    if let Some(name) = &r.name {
                        if let Some(o) = objects.iter().find(|o| {
                            same_object(o, &r.api_version, &r.kind, r.namespace.as_deref(), name)
                        }) {
                            next.insert(node.id.clone(), o.clone());
                        }
                    } else if let Some(sel) = &r.selector {
                        let items: Vec<Value> = objects
                            .iter()
                            .filter(|o| {
                                s(o, "/apiVersion") == Some(r.api_version.as_str())
                                    && s(o, "/kind") == Some(r.kind.as_str())
                                    && matches_labels(o, sel)
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
