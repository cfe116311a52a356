//! Where resource schemas come from: a [`SchemaSource`] answers "what is the OpenAPI schema of
//! this apiVersion/kind, and is it namespaced?". [`SchemaStore`] holds schemas loaded from CRDs
//! and OpenAPI v3 (or v2) documents, for example from a directory (`kro validate --schemas DIR`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Map, Value};
use thiserror::Error;

/// A kind the source knows about.
#[derive(Debug, Clone)]
pub struct ResolvedKind {
    /// The kind's full OpenAPI schema (the object, with apiVersion/kind/metadata/spec/status).
    pub schema: Arc<JSONSchemaProps>,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// Looks up the schema of a kind. Implementations must be cheap to call repeatedly.
pub trait SchemaSource: Send + Sync {
    /// The schema of `kind` in `api_version` (`group/version` or `v1`), if known.
    fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind>;
}

/// Knows no schema: every kind is checked structurally only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSchemas;

impl SchemaSource for NoSchemas {
    fn resolve(&self, _: &str, _: &str) -> Option<ResolvedKind> {
        None
    }
}

/// Built-in kinds that are cluster-scoped; any other kind with no known schema is assumed to be
/// namespaced.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("networking.k8s.io", "IngressClass"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("apiregistration.k8s.io", "APIService"),
    ("node.k8s.io", "RuntimeClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("kro.run", "ResourceGraphDefinition"),
    ("internal.kro.run", "GraphRevision"),
];

/// The group of an apiVersion (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// The version of an apiVersion (`apps/v1` → `v1`).
pub fn version_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(_, v)| v)
        .unwrap_or(api_version)
}

/// Whether a kind with no known schema is namespaced (built-in cluster-scoped kinds are not).
pub fn default_namespaced(api_version: &str, kind: &str) -> bool {
    let group = group_of(api_version);
    !CLUSTER_SCOPED
        .iter()
        .any(|(cg, ck)| *cg == group && *ck == kind)
}

/// A problem loading schemas.
#[derive(Debug, Error)]
pub enum SchemaLoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not YAML/JSON.
    #[error("{path} is not valid YAML or JSON: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A schema in a file is not a valid OpenAPI schema.
    #[error("{path}: schema of {kind} is not a valid OpenAPI v3 schema: {message}")]
    Schema {
        /// The file.
        path: String,
        /// The kind whose schema failed.
        kind: String,
        /// Why.
        message: String,
    },
}

/// Schemas held in memory, keyed by (apiVersion, kind).
#[derive(Debug, Clone, Default)]
pub struct SchemaStore {
    kinds: BTreeMap<(String, String), ResolvedKind>,
}

impl SchemaSource for SchemaStore {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind> {
        self.kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
    }
}

impl<T: SchemaSource + ?Sized> SchemaSource for Arc<T> {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind> {
        (**self).resolve(api_version, kind)
    }
}

impl<T: SchemaSource + ?Sized> SchemaSource for &T {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind> {
        (**self).resolve(api_version, kind)
    }
}

impl SchemaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of kinds known.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// True when no kind is known.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The (apiVersion, kind) pairs known, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &(String, String)> {
        self.kinds.keys()
    }

    /// Registers one kind.
    pub fn insert(
        &mut self,
        api_version: impl Into<String>,
        kind: impl Into<String>,
        schema: JSONSchemaProps,
        namespaced: bool,
    ) {
        self.kinds.insert(
            (api_version.into(), kind.into()),
            ResolvedKind {
                schema: Arc::new(schema),
                namespaced,
            },
        );
    }

    /// Registers one kind whose schema is already shared: graphs compiled from this store keep
    /// the same `Arc`, so many RGDs using one kind hold one copy of its schema.
    pub fn insert_resolved(
        &mut self,
        api_version: impl Into<String>,
        kind: impl Into<String>,
        resolved: ResolvedKind,
    ) {
        self.kinds
            .insert((api_version.into(), kind.into()), resolved);
    }

    /// Loads every `.yaml`, `.yml` and `.json` file of `dir` (not recursive), each holding
    /// CRDs and/or OpenAPI documents (multi-document YAML is fine).
    pub fn load_dir(dir: &Path) -> Result<Self, SchemaLoadError> {
        let mut store = Self::new();
        let entries = std::fs::read_dir(dir).map_err(|source| SchemaLoadError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                matches!(
                    path.extension().and_then(|ext| ext.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        for file in files {
            store.load_file(&file)?;
        }
        Ok(store)
    }

    /// Loads one file of CRDs and/or OpenAPI documents.
    pub fn load_file(&mut self, path: &Path) -> Result<(), SchemaLoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SchemaLoadError::Io {
            path: shown.clone(),
            source,
        })?;
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| SchemaLoadError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        for doc in docs {
            self.add_document(&doc)
                .map_err(|(kind, message)| SchemaLoadError::Schema {
                    path: shown.clone(),
                    kind,
                    message,
                })?;
        }
        Ok(())
    }

    /// Adds whatever kinds `doc` describes: a CustomResourceDefinition, a `List` of them, or an
    /// OpenAPI v3 (`components.schemas`) / v2 (`definitions`) document. Other documents are
    /// ignored. The error names the kind and why its schema is invalid.
    pub fn add_document(&mut self, doc: &Value) -> Result<(), (String, String)> {
        if doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
            return self.add_crd(doc);
        }
        if let Some(items) = doc.get("items").and_then(Value::as_array) {
            for item in items {
                self.add_document(item)?;
            }
            return Ok(());
        }
        if let Some(defs) = doc
            .pointer("/components/schemas")
            .or_else(|| doc.get("definitions"))
            .and_then(Value::as_object)
        {
            return self.add_openapi(defs);
        }
        Ok(())
    }

    /// Adds every served version of a CRD.
    pub fn add_crd(&mut self, crd: &Value) -> Result<(), (String, String)> {
        let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
        let group = spec.get("group").and_then(Value::as_str).unwrap_or("");
        let kind = spec
            .pointer("/names/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
        let versions = spec.get("versions").and_then(Value::as_array);
        for version in versions.into_iter().flatten() {
            let Some(name) = version.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
                continue;
            };
            let props: JSONSchemaProps = serde_json::from_value(schema.clone())
                .map_err(|e| (kind.to_string(), e.to_string()))?;
            let api_version = if group.is_empty() {
                name.to_string()
            } else {
                format!("{group}/{name}")
            };
            self.insert(api_version, kind, props, namespaced);
        }
        Ok(())
    }

    fn add_openapi(&mut self, defs: &Map<String, Value>) -> Result<(), (String, String)> {
        for def in defs.values() {
            let Some(gvks) = def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
            else {
                continue;
            };
            for gvk in gvks {
                let group = gvk.get("group").and_then(Value::as_str).unwrap_or("");
                let version = gvk.get("version").and_then(Value::as_str).unwrap_or("");
                let kind = gvk.get("kind").and_then(Value::as_str).unwrap_or("");
                if version.is_empty() || kind.is_empty() || kind.ends_with("List") {
                    continue;
                }
                let mut seen = BTreeSet::new();
                let inlined = inline_refs(def, defs, &mut seen, 0);
                let props: JSONSchemaProps = serde_json::from_value(inlined)
                    .map_err(|e| (kind.to_string(), e.to_string()))?;
                let api_version = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                let namespaced = default_namespaced(&api_version, kind);
                self.insert(api_version, kind, props, namespaced);
            }
        }
        Ok(())
    }
}

const MAX_REF_DEPTH: usize = 12;

fn open_object() -> Value {
    serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// Replaces `$ref`s (and `allOf: [{$ref}]` wrappers) by the referenced schema; recursive types
/// are cut at the first repetition with an open object.
fn inline_refs(
    schema: &Value,
    defs: &Map<String, Value>,
    seen: &mut BTreeSet<String>,
    depth: usize,
) -> Value {
    match schema {
        Value::Object(map) => {
            let reference = map.get("$ref").and_then(Value::as_str).or_else(|| {
                map.get("allOf")
                    .and_then(Value::as_array)
                    .filter(|all_of| all_of.len() == 1)
                    .and_then(|all_of| all_of[0].get("$ref"))
                    .and_then(Value::as_str)
            });
            if let Some(reference) = reference {
                let name = reference
                    .rsplit('/')
                    .next()
                    .unwrap_or(reference)
                    .to_string();
                // `depth` counts `$ref` expansions only: plain nesting must not cut a
                // `properties` map or a scalar short (the schema would no longer deserialize).
                let Some(target) = defs.get(&name).filter(|_| depth < MAX_REF_DEPTH) else {
                    return open_object();
                };
                if !seen.insert(name.clone()) {
                    return open_object();
                }
                let mut out = inline_refs(target, defs, seen, depth + 1);
                seen.remove(&name);
                if let (Value::Object(inlined), Some(description)) =
                    (&mut out, map.get("description"))
                {
                    inlined.insert("description".into(), description.clone());
                }
                return out;
            }
            let mut out = Map::new();
            for (k, val) in map {
                if k == "x-kubernetes-group-version-kind" {
                    continue;
                }
                out.insert(k.clone(), inline_refs(val, defs, seen, depth));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| inline_refs(item, defs, seen, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loads_crd_and_openapi() {
        let mut store = SchemaStore::new();
        store.add_document(&json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "spec": {"group": "s3.services.k8s.aws", "scope": "Namespaced",
                "names": {"kind": "Bucket"},
                "versions": [{"name": "v1alpha1", "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}]}
        }))
        .unwrap();
        store.add_document(&json!({"components": {"schemas": {
            "io.k8s.api.core.v1.ConfigMap": {"type": "object",
                "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMap"}],
                "properties": {"metadata": {"allOf": [{"$ref": "#/components/schemas/meta"}]},
                               "data": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "meta": {"type": "object", "properties": {"name": {"type": "string"},
                     "owner": {"$ref": "#/components/schemas/meta"}}}
        }}}))
        .unwrap();
        let bucket = store
            .resolve("s3.services.k8s.aws/v1alpha1", "Bucket")
            .unwrap();
        assert!(bucket.namespaced);
        let cm = store.resolve("v1", "ConfigMap").unwrap();
        let meta = &cm.schema.properties.as_ref().unwrap()["metadata"];
        let owner = &meta.properties.as_ref().unwrap()["owner"];
        assert_eq!(owner.x_kubernetes_preserve_unknown_fields, Some(true));
        assert!(store.resolve("v1", "Secret").is_none());
        assert!(!default_namespaced("v1", "Namespace"));
        assert!(default_namespaced("apps/v1", "Deployment"));
    }
}
