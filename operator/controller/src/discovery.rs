//! Resolves kinds to API resources (plural, scope) through API discovery, cached, and fetches
//! the OpenAPI schemas the graph compiler type-checks against.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kro_graph::SchemaStore;
use kube::Client;
use kube::api::{Api, ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use serde_json::Value;
use tokio::sync::Mutex;

/// A kind the API server serves.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// How to talk to it.
    pub ar: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

/// How long a cached OpenAPI document of a built-in group/version is trusted.
const SCHEMA_TTL: Duration = Duration::from_secs(300);

/// Discovery and schema cache shared by every controller.
pub struct Discovery {
    client: Client,
    kinds: Mutex<HashMap<(String, String, String), Resolved>>,
    openapi: Mutex<HashMap<String, (Instant, Arc<Value>)>>,
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").finish_non_exhaustive()
    }
}

impl Discovery {
    /// An empty cache.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            kinds: Mutex::new(HashMap::new()),
            openapi: Mutex::new(HashMap::new()),
        }
    }

    /// The API resource of `apiVersion`/`kind`, from the cache or discovery.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, kube::Error> {
        let (group, version) = split_api_version(api_version);
        let key = (group.to_string(), version.to_string(), kind.to_string());
        if let Some(r) = self.kinds.lock().await.get(&key) {
            return Ok(r.clone());
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = discovery::pinned_kind(&self.client, &gvk).await?;
        let r = Resolved {
            ar,
            namespaced: caps.scope == Scope::Namespaced,
        };
        self.kinds.lock().await.insert(key, r.clone());
        Ok(r)
    }

    /// The preferred version of a group/kind (for ApplySet members recorded as `Kind.group`).
    pub async fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<Resolved> {
        let g = discovery::group(&self.client, group).await.ok()?;
        let (ar, caps) = g.recommended_kind(kind)?;
        Some(Resolved {
            ar,
            namespaced: caps.scope == Scope::Namespaced,
        })
    }

    /// Forgets a kind (after its CRD changed or a request said it is gone).
    pub async fn forget(&self, api_version: &str, kind: &str) {
        let (group, version) = split_api_version(api_version);
        self.kinds
            .lock()
            .await
            .remove(&(group.to_string(), version.to_string(), kind.to_string()));
    }

    /// Schemas of every kind the RGD's resources use: CRD-backed kinds from their CRD (always
    /// fresh, so chained RGDs see each other's latest schema), built-in kinds from the API
    /// server's OpenAPI v3 document of their group/version (cached). Kinds the server does not
    /// know are left out; the compiler then reports them.
    pub async fn schemas_for(&self, kinds: &[(String, String)]) -> SchemaStore {
        let mut store = SchemaStore::new();
        for (api_version, kind) in kinds {
            let Ok(r) = self.resolve(api_version, kind).await else {
                continue;
            };
            let (group, _) = split_api_version(api_version);
            if group.contains('.') && !group.ends_with(".k8s.io") {
                let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
                if let Ok(Some(crd)) = crds.get_opt(&format!("{}.{group}", r.ar.plural)).await
                    && let Ok(v) = serde_json::to_value(&crd)
                {
                    let _ = store.add_crd(&v);
                    continue;
                }
            }
            let Some(doc) = self.openapi_doc(api_version).await else {
                continue;
            };
            // Only this kind's definition (plus every definition without a GVK, which refs
            // point to): one odd kind elsewhere in the document must not hide the others.
            let Some(defs) = doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
            else {
                continue;
            };
            let (group, version) = split_api_version(api_version);
            let filtered: serde_json::Map<String, Value> = defs
                .iter()
                .filter(|(_, d)| {
                    match d
                        .get("x-kubernetes-group-version-kind")
                        .and_then(Value::as_array)
                    {
                        None => true,
                        Some(gvks) => gvks.iter().any(|g| {
                            g.get("group").and_then(Value::as_str) == Some(group)
                                && g.get("version").and_then(Value::as_str) == Some(version)
                                && g.get("kind").and_then(Value::as_str) == Some(kind.as_str())
                        }),
                    }
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut one = SchemaStore::new();
            if one
                .add_document(&serde_json::json!({"components": {"schemas": filtered}}))
                .is_ok()
                && let Some(resolved) = kro_graph::SchemaSource::resolve(&one, api_version, kind)
            {
                store.insert(
                    api_version.clone(),
                    kind.clone(),
                    (*resolved.schema).clone(),
                    r.namespaced,
                );
            }
        }
        store
    }

    async fn openapi_doc(&self, api_version: &str) -> Option<Arc<Value>> {
        if let Some((at, doc)) = self.openapi.lock().await.get(api_version)
            && at.elapsed() < SCHEMA_TTL
        {
            return Some(doc.clone());
        }
        let path = if api_version.contains('/') {
            format!("/openapi/v3/apis/{api_version}")
        } else {
            format!("/openapi/v3/api/{api_version}")
        };
        let req = http_get(&path)?;
        let doc: Value = self.client.request(req).await.ok()?;
        let doc = Arc::new(doc);
        self.openapi
            .lock()
            .await
            .insert(api_version.to_string(), (Instant::now(), doc.clone()));
        Some(doc)
    }
}

fn http_get(path: &str) -> Option<http::Request<Vec<u8>>> {
    http::Request::get(path).body(Vec::new()).ok()
}
