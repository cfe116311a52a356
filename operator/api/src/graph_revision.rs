//! The `GraphRevision` kind (`internal.kro.run/v1alpha1`, cluster-scoped, short name `gr`): an
//! immutable snapshot of a ResourceGraphDefinition's spec, one per distinct spec, numbered per
//! RGD name; its name, the spec hash that decides "distinct", and the label kro-rs puts on an
//! instance to record the revision it was last reconciled with.

use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Condition;
use crate::rgd::{ResourceGraphDefinitionSpec, ResourceInformation};

/// Desired state of a GraphRevision: the revision number and the snapshot. Immutable (the
/// CRD refuses any change with `spec is immutable`).
///
/// The CRD of this kind is built by hand in [`crate::crds`]; the derive only provides the
/// `kube::Resource` plumbing.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "internal.kro.run",
    version = "v1alpha1",
    kind = "GraphRevision",
    plural = "graphrevisions",
    shortname = "gr",
    status = "GraphRevisionStatus",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct GraphRevisionSpec {
    /// Revision number, ≥ 1, monotonic per RGD name (never reused, even after garbage
    /// collection: the RGD keeps the high-water mark in `status.lastIssuedRevision`).
    pub revision: i64,
    /// The RGD this revision was issued from, and its spec at that time.
    pub snapshot: ResourceGraphDefinitionSnapshot,
}

/// `spec.snapshot`: the identity and spec of an RGD at one point in time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGraphDefinitionSnapshot {
    /// Name of the RGD (the lineage key: a recreated RGD of the same name continues it).
    pub name: String,
    /// `metadata.generation` of the RGD when the revision was issued (informational).
    pub generation: i64,
    /// The RGD's spec, copied whole.
    pub spec: ResourceGraphDefinitionSpec,
}

/// Observed state of a GraphRevision: whether its snapshot compiled (`GraphVerified`, root
/// `Ready`), and the graph's order and dependencies.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GraphRevisionStatus {
    /// Resource ids in topological order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topological_order: Vec<String>,
    /// `GraphVerified` and root `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Nodes with at least one dependency, with their dependencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceInformation>,
}

/// Label kro-rs sets on every instance: the number of the GraphRevision the instance was last
/// reconciled with (kro v0.9.4 records none; `internal.kro.run/` as kro's own internal keys).
pub const INSTANCE_REVISION_LABEL: &str = "internal.kro.run/graph-revision";

/// Longest object name Kubernetes accepts (a DNS-1123 subdomain).
const MAX_NAME: usize = 253;

/// The name of revision `revision` of RGD `rgd_name`: `<rgd>-r00001`, as kro names it. When
/// that would be longer than 253 characters, the RGD name is cut and the FNV-32a hash of the
/// whole name appended (`<cut>-r00001-<hash>`), trailing `.`/`-` of the cut trimmed.
pub fn graph_revision_name(rgd_name: &str, revision: i64) -> String {
    let suffix = format!("-r{revision:05}");
    if rgd_name.len() + suffix.len() <= MAX_NAME {
        return format!("{rgd_name}{suffix}");
    }
    let suffix = format!("-r{revision:05}-{:08x}", fnv32a(rgd_name.as_bytes()));
    // RGD names are DNS subdomains (ASCII), so any byte offset is a character boundary.
    let keep = MAX_NAME.saturating_sub(suffix.len()).min(rgd_name.len());
    let cut = rgd_name.get(..keep).unwrap_or(rgd_name);
    let cut = cut.trim_end_matches(['.', '-']);
    let cut = if cut.is_empty() { "gr" } else { cut };
    format!("{cut}{suffix}")
}

/// The hash that decides whether an RGD spec is a new revision: FNV-64a (hex) of the spec as
/// canonical JSON, after the normalization kro applies: resources sorted by id, `readyWhen`
/// and `includeWhen` sorted (`forEach` order kept: it is the expansion order), object keys
/// sorted, `group` and `scope` defaulted. Reordering resources or keys is not a change.
pub fn spec_hash(spec: &ResourceGraphDefinitionSpec) -> String {
    let mut spec = spec.clone();
    spec.resources.sort_by(|a, b| a.id.cmp(&b.id));
    for resource in &mut spec.resources {
        resource.ready_when.sort();
        resource.include_when.sort();
    }
    // The typed spec already fills `group` and `scope` with their defaults and leaves empty
    // lists out, so `[]` and an absent field hash the same.
    let value = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    format!("{:016x}", fnv64a(canonical.as_bytes()))
}

/// `value` as JSON with every object's keys in sorted order.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn fnv64a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(value: Value) -> ResourceGraphDefinitionSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn names_are_kros_and_long_names_are_cut_with_a_hash() {
        assert_eq!(graph_revision_name("my-webapp", 1), "my-webapp-r00001");
        assert_eq!(graph_revision_name("a", 123_456), "a-r123456");
        let long = "x".repeat(250);
        let name = graph_revision_name(&long, 3);
        assert_eq!(name.len(), 253, "{name}");
        assert!(name.starts_with("xxx"), "{name}");
        assert!(
            name.ends_with(&format!("-r00003-{:08x}", fnv32a(long.as_bytes()))),
            "{name}"
        );
        // Two long names that cut to the same prefix stay apart.
        let other = format!("{}y", "x".repeat(250));
        assert_ne!(graph_revision_name(&other, 3), name);
        // A cut ending in '.' or '-' is trimmed, so the name stays a DNS subdomain.
        let dotted = format!("{}.-{}", "a".repeat(235), "b".repeat(30));
        let name = graph_revision_name(&dotted, 1);
        assert!(!name.contains(".-r"), "{name}");
        assert!(name.len() <= 253);
        assert!(graph_revision_name(&".".repeat(260), 1).starts_with("gr-r00001-"));
    }

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv64a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    }

    #[test]
    fn reordering_is_not_a_change_but_content_is() {
        let a = spec(json!({
            "schema": {"kind": "App", "apiVersion": "v1alpha1", "spec": {"b": "string", "a": "integer"}},
            "resources": [
                {"id": "one", "template": {"kind": "ConfigMap", "apiVersion": "v1"},
                 "readyWhen": ["${x}", "${y}"], "includeWhen": ["${p}", "${q}"]},
                {"id": "two", "template": {"apiVersion": "v1", "kind": "Secret"}}
            ]
        }));
        let reordered = spec(json!({
            "resources": [
                {"template": {"kind": "Secret", "apiVersion": "v1"}, "id": "two"},
                {"id": "one", "template": {"apiVersion": "v1", "kind": "ConfigMap"},
                 "readyWhen": ["${y}", "${x}"], "includeWhen": ["${q}", "${p}"]}
            ],
            "schema": {"apiVersion": "v1alpha1", "kind": "App", "group": "kro.run",
                       "scope": "Namespaced", "spec": {"a": "integer", "b": "string"}}
        }));
        assert_eq!(spec_hash(&a), spec_hash(&reordered));
        assert_eq!(spec_hash(&a).len(), 16);

        let mut changed = a.clone();
        changed.resources[1].template = Some(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert_ne!(spec_hash(&a), spec_hash(&changed));
        // forEach order is the expansion order: a change.
        let each = |dims: Value| {
            spec(json!({"schema": {"kind": "App", "apiVersion": "v1alpha1"},
                "resources": [{"id": "r", "template": {}, "forEach": dims}]}))
        };
        assert_ne!(
            spec_hash(&each(json!([{"a": "${x}"}, {"b": "${y}"}]))),
            spec_hash(&each(json!([{"b": "${y}"}, {"a": "${x}"}])))
        );
    }

    #[test]
    fn snapshot_round_trips() {
        let gr = json!({
            "apiVersion": "internal.kro.run/v1alpha1",
            "kind": "GraphRevision",
            "metadata": {"name": "app-r00002"},
            "spec": {"revision": 2, "snapshot": {"name": "app", "generation": 4, "spec": {
                "schema": {"kind": "App", "apiVersion": "v1alpha1", "group": "kro.run", "scope": "Namespaced"}
            }}},
            "status": {
                "topologicalOrder": ["a"],
                "conditions": [{"type": "GraphVerified", "status": "True", "reason": "Verified",
                                "message": "graph revision compiled and verified"}],
                "resources": [{"id": "a", "dependencies": [{"id": "b"}]}]
            }
        });
        let typed: GraphRevision = serde_json::from_value(gr.clone()).unwrap();
        assert_eq!(typed.spec.revision, 2);
        assert_eq!(serde_json::to_value(&typed).unwrap(), gr);
    }
}
