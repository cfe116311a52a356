//! Resolves kinds to API resources (plural, scope) through API discovery, cached, and fetches
//! the OpenAPI schemas the graph compiler type-checks against.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kro_graph::{ResolvedKind, SchemaStore};
use kube::Client;
use kube::api::{Api, ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::metrics::SCHEMA;

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

/// How long the preferred version of a group/kind is trusted.
const GROUP_KIND_TTL: Duration = Duration::from_secs(60);

/// Discovery and schema cache shared by every controller.
pub struct Discovery {
    client: Client,
    kinds: Mutex<HashMap<(String, String, String), Resolved>>,
    group_kinds: Mutex<HashMap<(String, String), (Instant, Resolved)>>,
    openapi: Mutex<HashMap<String, (Instant, Arc<Value>)>>,
    builtin_schemas: Mutex<HashMap<(String, String), (Instant, ResolvedKind)>>,
    crd_schemas: Mutex<HashMap<(String, String), (String, ResolvedKind)>>,
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
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
            group_kinds: Mutex::new(HashMap::new()),
            openapi: Mutex::new(HashMap::new()),
            builtin_schemas: Mutex::new(HashMap::new()),
            crd_schemas: Mutex::new(HashMap::new()),
        }
    }

    /// The API resource of `apiVersion`/`kind`, from the cache or discovery.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, kube::Error> {
        let (group, version) = split_api_version(api_version);
        let key = (group.to_string(), version.to_string(), kind.to_string());
        if let Some(resolved) = self.kinds.lock().await.get(&key) {
            return Ok(resolved.clone());
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = discovery::pinned_kind(&self.client, &gvk).await?;
        let resolved = Resolved {
            ar,
            namespaced: caps.scope == Scope::Namespaced,
        };
        self.kinds.lock().await.insert(key, resolved.clone());
        Ok(resolved)
    }

    /// The preferred version of a group/kind (for ApplySet members recorded as `Kind.group`).
    /// Cached for a while: instances ask on every reconcile, and discovery is two requests.
    pub async fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<Resolved> {
        let key = (group.to_string(), kind.to_string());
        if let Some((at, resolved)) = self.group_kinds.lock().await.get(&key)
            && at.elapsed() < GROUP_KIND_TTL
        {
            return Some(resolved.clone());
        }
        let api_group = discovery::group(&self.client, group).await.ok()?;
        let (ar, caps) = api_group.recommended_kind(kind)?;
        let resolved = Resolved {
            ar,
            namespaced: caps.scope == Scope::Namespaced,
        };
        self.group_kinds
            .lock()
            .await
            .insert(key, (Instant::now(), resolved.clone()));
        Some(resolved)
    }

    /// Forgets a kind (after its CRD changed or a request said it is gone).
    pub async fn forget(&self, api_version: &str, kind: &str) {
        let (group, version) = split_api_version(api_version);
        self.kinds
            .lock()
            .await
            .remove(&(group.to_string(), version.to_string(), kind.to_string()));
        self.group_kinds
            .lock()
            .await
            .remove(&(group.to_string(), kind.to_string()));
    }

    /// Schemas of every kind the RGD's resources use: CRD-backed kinds from their CRD (read
    /// fresh, so chained RGDs see each other's latest schema), built-in kinds from the API
    /// server's OpenAPI v3 document of their group/version (cached). Kinds the server does not
    /// know are left out; the compiler then reports them.
    ///
    /// Each kind's schema is resolved once and shared (`Arc`) by every graph that uses it: a
    /// resolved Service schema is large, and 200 RGDs must not hold 200 copies of it.
    pub async fn schemas_for(&self, kinds: &[(String, String)]) -> SchemaStore {
        let mut store = SchemaStore::new();
        for (api_version, kind) in kinds {
            let Ok(served) = self.resolve(api_version, kind).await else {
                continue;
            };
            let (group, _) = split_api_version(api_version);
            if group.contains('.') && !group.ends_with(".k8s.io") {
                let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
                let name = format!("{}.{group}", served.ar.plural);
                let asked = Instant::now();
                let crd = crds.get_opt(&name).await;
                SCHEMA
                    .api_call_duration
                    .observe(asked.elapsed().as_secs_f64());
                if crd.is_err() {
                    SCHEMA.errors.inc();
                }
                if let Ok(Some(crd)) = crd {
                    if let Some(resolved) = self.crd_schema(&name, &crd, api_version, kind).await {
                        store.insert_resolved(api_version.clone(), kind.clone(), resolved);
                    }
                    continue;
                }
            }
            if let Some(resolved) = self
                .builtin_schema(api_version, kind, served.namespaced)
                .await
            {
                store.insert_resolved(api_version.clone(), kind.clone(), resolved);
            }
        }
        store
    }

    /// A CRD-backed kind's schema, cached by the CRD's resourceVersion.
    async fn crd_schema(
        &self,
        name: &str,
        crd: &CustomResourceDefinition,
        api_version: &str,
        kind: &str,
    ) -> Option<ResolvedKind> {
        let rv = crd.metadata.resource_version.clone().unwrap_or_default();
        let key = (api_version.to_string(), kind.to_string());
        if let Some((at_rv, resolved)) = self.crd_schemas.lock().await.get(&key)
            && *at_rv == rv
        {
            SCHEMA.hits.inc();
            return Some(resolved.clone());
        }
        SCHEMA.misses.inc();
        let crd_json = serde_json::to_value(crd).ok()?;
        let mut one = SchemaStore::new();
        if let Err((failed_kind, e)) = one.add_crd(&crd_json) {
            SCHEMA.errors.inc();
            tracing::debug!(crd = name, kind = %failed_kind, error = %e, "CRD schema not usable");
            return None;
        }
        let resolved = kro_graph::SchemaSource::resolve(&one, api_version, kind)?;
        let replaced = self
            .crd_schemas
            .lock()
            .await
            .insert(key, (rv, resolved.clone()));
        count_insert(replaced.is_some());
        Some(resolved)
    }

    /// A built-in kind's schema from its group/version's OpenAPI v3 document, cached.
    async fn builtin_schema(
        &self,
        api_version: &str,
        kind: &str,
        namespaced: bool,
    ) -> Option<ResolvedKind> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some((at, resolved)) = self.builtin_schemas.lock().await.get(&key)
            && at.elapsed() < SCHEMA_TTL
        {
            SCHEMA.hits.inc();
            return Some(resolved.clone());
        }
        SCHEMA.misses.inc();
        let doc = self.openapi_doc(api_version).await?;
        // Only this kind's definition (plus every definition without a GVK, which refs point
        // to): one odd kind elsewhere in the document must not hide the others.
        let defs = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)?;
        let (group, version) = split_api_version(api_version);
        let filtered: serde_json::Map<String, Value> = defs
            .iter()
            .filter(|(_, definition)| {
                match definition
                    .get("x-kubernetes-group-version-kind")
                    .and_then(Value::as_array)
                {
                    None => true,
                    Some(gvks) => gvks.iter().any(|gvk| {
                        gvk.get("group").and_then(Value::as_str) == Some(group)
                            && gvk.get("version").and_then(Value::as_str) == Some(version)
                            && gvk.get("kind").and_then(Value::as_str) == Some(kind)
                    }),
                }
            })
            .map(|(name, definition)| (name.clone(), definition.clone()))
            .collect();
        let mut one = SchemaStore::new();
        one.add_document(&serde_json::json!({"components": {"schemas": filtered}}))
            .ok()?;
        let found = kro_graph::SchemaSource::resolve(&one, api_version, kind)?;
        let resolved = ResolvedKind {
            schema: found.schema,
            namespaced,
        };
        let replaced = self
            .builtin_schemas
            .lock()
            .await
            .insert(key, (Instant::now(), resolved.clone()));
        count_insert(replaced.is_some());
        Some(resolved)
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
        let asked = Instant::now();
        let doc: Result<Value, _> = self.client.request(req).await;
        SCHEMA
            .api_call_duration
            .observe(asked.elapsed().as_secs_f64());
        let Ok(doc) = doc else {
            SCHEMA.errors.inc();
            return None;
        };
        let doc = Arc::new(doc);
        self.openapi
            .lock()
            .await
            .insert(api_version.to_string(), (Instant::now(), doc.clone()));
        Some(doc)
    }
}

/// A resolved schema entered the cache: it grows, or an entry gone stale was replaced (kro's
/// schema resolver counts that as an eviction).
fn count_insert(replaced: bool) {
    if replaced {
        SCHEMA.evictions.inc();
    } else {
        SCHEMA.size.inc();
    }
}

fn http_get(path: &str) -> Option<http::Request<Vec<u8>>> {
    http::Request::get(path).body(Vec::new()).ok()
}
