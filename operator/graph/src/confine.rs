//! Namespace confinement as far as it can be judged from the RGD alone: in `instance` mode a
//! namespaced instance may not name another namespace literally, nor create or read a
//! cluster-scoped kind that is not allowlisted ([`refusals`]); and the places where the
//! instance's creator chooses a namespace or a cluster-scoped name through `schema.spec`
//! ([`tenant_choices`], warnings of `kro validate`).

use serde_json::Value;

use crate::error::{ErrorCode, GraphError, Warning};
use crate::model::{GraphData, Node, NodeKind};
use crate::names::SCHEMA_VAR;

/// What an RGD's resources may not do when its instances are confined to their namespace.
/// Empty for a cluster-scoped instance kind (its instances have no namespace to keep to).
/// `allowed(apiVersion, kind)` says whether a cluster-scoped kind is on the allowlist.
pub fn refusals(graph: &GraphData, allowed: &dyn Fn(&str, &str) -> bool) -> Vec<GraphError> {
    if !graph.instance.namespaced {
        return Vec::new();
    }
    let mut out = Vec::new();
    for node in &graph.nodes {
        let what = if node.kind.is_managed() {
            "create"
        } else {
            "read"
        };
        if !node.namespaced {
            if !allowed(&node.api_version, &node.object_kind) {
                out.push(
                    GraphError::new(
                        ErrorCode::Confinement,
                        format!(
                            "resource {:?} is a cluster-scoped {}: with --namespace-confinement=instance a namespaced instance may not {what} cluster-scoped kinds",
                            node.id,
                            kind_dot_group(node)
                        ),
                    )
                    .resource(&node.id)
                    .at("kind")
                    .hint(format!(
                        "add {} to --allowed-cluster-scoped-kinds, or run with --namespace-confinement=any",
                        kind_dot_group(node)
                    )),
                );
            }
            continue;
        }
        if let Some(namespace) = literal_namespace(node) {
            let field = match node.kind {
                NodeKind::External | NodeKind::ExternalCollection => {
                    "externalRef.metadata.namespace"
                }
                NodeKind::Resource | NodeKind::Collection => "metadata.namespace",
            };
            out.push(
                GraphError::new(
                    ErrorCode::Confinement,
                    format!(
                        "resource {:?} sets {field} to {namespace:?}: with --namespace-confinement=instance a namespaced instance may only {what} objects in its own namespace",
                        node.id
                    ),
                )
                .resource(&node.id)
                .at(field)
                .hint(format!(
                    "remove {field}, so that it defaults to the instance's namespace, or run with --namespace-confinement=any"
                )),
            );
        }
    }
    out
}

/// The places where whoever creates an instance chooses, through `schema.spec`, the namespace
/// of a resource or the name of a cluster-scoped resource: with `--namespace-confinement=any`
/// that lets them reach any namespace or any cluster-scoped object of that kind.
pub fn tenant_choices(graph: &GraphData) -> Vec<Warning> {
    let mut out = Vec::new();
    for node in &graph.nodes {
        let (field, consequence) = if node.namespaced {
            (
                "metadata.namespace",
                "whoever creates an instance chooses the namespace it reaches",
            )
        } else {
            (
                "metadata.name",
                "whoever creates an instance chooses which cluster-scoped object it reaches",
            )
        };
        let nodes: Vec<&Node> = graph.nodes.iter().collect();
        if let Some(path) = spec_read_in(&nodes, node, field, &mut Vec::new()) {
            out.push(Warning {
                resource: Some(node.id.clone()),
                message: format!(
                    "resource {:?}: {field} depends on {path}: {consequence} (run with --namespace-confinement=instance, or compute it from schema.metadata)",
                    node.id
                ),
            });
        }
    }
    out
}

/// `Kind.group` as kubectl and `--allowed-cluster-scoped-kinds` spell it.
fn kind_dot_group(node: &Node) -> String {
    match node.api_version.rsplit_once('/') {
        Some((group, _version)) => format!("{}.{group}", node.object_kind),
        None => node.object_kind.clone(),
    }
}

/// The namespace a node names as literal text (not an expression), if any.
fn literal_namespace(node: &Node) -> Option<&str> {
    if node
        .fields
        .iter()
        .any(|field| field.path.is(&["metadata", "namespace"]))
    {
        return None;
    }
    node.template
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|namespace| !namespace.trim().is_empty())
}

/// The first `schema.spec...` path the value of `field` (dotted, in `node`'s template) depends
/// on: directly, through a `forEach` iterator, or through another resource's `metadata.name` or
/// `metadata.namespace` (followed in turn; `seen` holds the fields already followed).
fn spec_read_in<'a>(
    graph: &[&'a Node],
    node: &'a Node,
    field: &str,
    seen: &mut Vec<(String, String)>,
) -> Option<String> {
    let key = (node.id.clone(), field.to_string());
    if seen.contains(&key) {
        return None;
    }
    seen.push(key);
    let keys: Vec<&str> = field.split('.').collect();
    let templated = node.fields.iter().find(|f| f.path.is(&keys))?;
    for expr in templated.value.expressions() {
        let references = expr.references();
        if let Some(path) = spec_path(references) {
            return Some(path);
        }
        for dimension in &node.for_each {
            if references.reads(&dimension.name)
                && let Some(path) = spec_path(dimension.expr.references())
            {
                return Some(path);
            }
        }
        for path in &references.paths {
            let identity = path.fields.len() == 2
                && path.fields[0] == "metadata"
                && (path.fields[1] == "name" || path.fields[1] == "namespace");
            if !identity {
                continue;
            }
            if let Some(other) = graph.iter().find(|other| other.id == path.root)
                && let Some(found) = spec_read_in(graph, other, &path.fields.join("."), seen)
            {
                return Some(found);
            }
        }
    }
    None
}

/// The first path under `schema.spec` (or the whole `schema`) that an expression reads.
fn spec_path(references: &kro_cel::References) -> Option<String> {
    references
        .paths
        .iter()
        .find(|path| {
            path.root == SCHEMA_VAR && path.fields.first().is_none_or(|first| first == "spec")
        })
        .map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, NoSchemas, compile};
    use serde_json::json;

    fn graph(resources: Value) -> crate::CompiledGraph {
        let rgd = json!({
            "apiVersion": "kro.run/v1alpha1",
            "kind": "ResourceGraphDefinition",
            "metadata": {"name": "tenant"},
            "spec": {
                "schema": {
                    "apiVersion": "v1alpha1",
                    "kind": "Tenant",
                    "spec": {"ns": "string", "tenantId": "string", "names": "[]string"}
                },
                "resources": resources
            }
        });
        compile(&rgd, &NoSchemas, &CompileOptions::default()).expect("compiles")
    }

    fn config_map(id: &str, metadata: Value) -> Value {
        json!({"id": id, "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}})
    }

    fn nothing_allowed(_: &str, _: &str) -> bool {
        false
    }

    #[test]
    fn literal_other_namespace_is_refused_naming_resource_field_and_fix() {
        let graph = graph(json!([
            config_map("pinned", json!({"name": "x", "namespace": "other"})),
            config_map("mine", json!({"name": "y"})),
            config_map(
                "chosen",
                json!({"name": "z", "namespace": "${schema.spec.ns}"})
            ),
        ]));
        let refused = refusals(&graph, &nothing_allowed);
        assert_eq!(refused.len(), 1, "{refused:?}");
        let error = &refused[0];
        assert_eq!(error.code, ErrorCode::Confinement);
        assert_eq!(error.resource.as_deref(), Some("pinned"));
        assert_eq!(error.path.as_deref(), Some("metadata.namespace"));
        let text = error.to_string();
        assert!(text.contains("\"other\""), "{text}");
        assert!(
            text.contains("remove metadata.namespace")
                && text.contains("--namespace-confinement=any"),
            "{text}"
        );
    }

    #[test]
    fn cluster_scoped_kinds_are_refused_unless_allowed() {
        let graph = graph(json!([
            {"id": "ns", "template": {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "${schema.spec.tenantId}"}}},
            {"id": "role", "template": {"apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole", "metadata": {"name": "r"}}},
        ]));
        let refused = refusals(&graph, &nothing_allowed);
        let ids: Vec<_> = refused
            .iter()
            .filter_map(|e| e.resource.as_deref())
            .collect();
        assert_eq!(ids, ["ns", "role"]);
        assert!(
            refused[1].to_string().contains(
                "add ClusterRole.rbac.authorization.k8s.io to --allowed-cluster-scoped-kinds"
            ),
            "{}",
            refused[1]
        );
        let namespaces_allowed = |_: &str, kind: &str| kind == "Namespace";
        let refused = refusals(&graph, &namespaces_allowed);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].resource.as_deref(), Some("role"));
    }

    #[test]
    fn external_refs_with_a_literal_namespace_are_refused() {
        let graph = graph(json!([
            {"id": "shared", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "platform"}}},
            {"id": "local", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings"}}},
        ]));
        let refused = refusals(&graph, &nothing_allowed);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].resource.as_deref(), Some("shared"));
        assert_eq!(
            refused[0].path.as_deref(),
            Some("externalRef.metadata.namespace")
        );
        assert!(refused[0].to_string().contains("only read objects"));
    }

    #[test]
    fn cluster_scoped_instances_are_not_confined() {
        let rgd = json!({
            "spec": {
                "schema": {"apiVersion": "v1alpha1", "kind": "Cluster", "scope": "Cluster",
                    "spec": {"ns": "string"}},
                "resources": [config_map("cm", json!({"name": "x", "namespace": "other"}))]
            }
        });
        let graph = compile(&rgd, &NoSchemas, &CompileOptions::default()).expect("compiles");
        assert!(refusals(&graph, &nothing_allowed).is_empty());
    }

    #[test]
    fn tenant_chosen_namespaces_and_cluster_scoped_names_are_warned_about() {
        let graph = graph(json!([
            config_map("direct", json!({"name": "a", "namespace": "${schema.spec.ns}"})),
            config_map("follows", json!({"name": "f", "namespace": "${direct.metadata.namespace}"})),
            config_map("own", json!({"name": "b", "namespace": "${schema.metadata.namespace}"})),
            {"id": "perName", "forEach": [{"n": "${schema.spec.names}"}], "template": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c-${n}", "namespace": "${n}"}}},
            {"id": "tenantNamespace", "template": {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "${schema.spec.tenantId}"}}},
            {"id": "fixedNamespace", "template": {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "shared-${schema.metadata.name}"}}},
        ]));
        let warnings = tenant_choices(&graph);
        let about = |id: &str| {
            warnings
                .iter()
                .find(|w| w.resource.as_deref() == Some(id))
                .map(|w| w.message.clone())
        };
        let mut ids: Vec<_> = warnings
            .iter()
            .filter_map(|w| w.resource.as_deref())
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            ["direct", "follows", "perName", "tenantNamespace"],
            "{warnings:?}"
        );
        let direct = about("direct").unwrap_or_default();
        assert!(
            direct.contains("metadata.namespace depends on schema.spec.ns"),
            "{direct}"
        );
        let follows = about("follows").unwrap_or_default();
        assert!(follows.contains("depends on schema.spec.ns"), "{follows}");
        let named = about("tenantNamespace").unwrap_or_default();
        assert!(
            named.contains("metadata.name depends on schema.spec.tenantId"),
            "{named}"
        );
    }
}
