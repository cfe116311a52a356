//! A fake API server for the controller test tier: an in-memory object store behind a real
//! `kube::Client`, answering discovery, get, list, watch (every change, from the requested resourceVersion), server-side
//! apply, JSON and merge patches, create and delete the way kube-apiserver does for what the
//! reconcilers ask, and recording every request so a test can assert what was written, and in
//! which order. It is no API server: no validation, no defaulting, no field ownership; the
//! e2e suite covers those against the real one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use serde_json::{Value, json};

/// A kind the fake serves.
#[derive(Debug, Clone)]
pub(crate) struct FakeKind {
    /// API group (`""` for the core group).
    pub group: Cow<'static, str>,
    /// Version.
    pub version: Cow<'static, str>,
    /// Kind.
    pub kind: Cow<'static, str>,
    /// Plural resource name.
    pub plural: Cow<'static, str>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl FakeKind {
    /// A kind with static names.
    pub(crate) const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        namespaced: bool,
    ) -> Self {
        FakeKind {
            group: Cow::Borrowed(group),
            version: Cow::Borrowed(version),
            kind: Cow::Borrowed(kind),
            plural: Cow::Borrowed(plural),
            namespaced,
        }
    }

    fn api_version(&self) -> String {
        match &*self.group {
            "" => self.version.to_string(),
            group => format!("{group}/{}", self.version),
        }
    }

    /// The kinds a CustomResourceDefinition serves.
    fn from_crd(crd: &Value) -> Vec<FakeKind> {
        let spec = &crd["spec"];
        let text = |v: &Value| Cow::Owned(v.as_str().unwrap_or_default().to_string());
        spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"].as_bool().unwrap_or(true))
            .map(|v| FakeKind {
                group: text(&spec["group"]),
                version: text(&v["name"]),
                kind: text(&spec["names"]["kind"]),
                plural: text(&spec["names"]["plural"]),
                namespaced: spec["scope"] == "Namespaced",
            })
            .collect()
    }
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// The decoded JSON (or YAML-as-JSON) body, if any.
    pub body: Option<Value>,
}

impl Recorded {
    /// Whether the request changes something (events excluded).
    pub(crate) fn is_write(&self) -> bool {
        self.method != Method::GET && !self.path.contains("/events")
    }
}

/// The store and the request log.
#[derive(Debug, Default)]
struct State {
    kinds: Vec<FakeKind>,
    /// Objects by (collection path without namespace, namespace, name).
    objects: BTreeMap<(String, String, String), Value>,
    requests: Vec<Recorded>,
    resource_version: u64,
    /// Names whose writes are refused with 422.
    refuse: Vec<String>,
    /// Collections (`secrets`, `configmaps`, ...) every request to which is refused with 403,
    /// as RBAC refuses a role without them.
    forbidden: Vec<String>,
    /// Every change, for watches that start from an older resourceVersion.
    history: Vec<Change>,
    /// Changes as they happen, for open watches.
    live: Option<tokio::sync::broadcast::Sender<Change>>,
    /// PATCHes to this collection (e.g. `configmaps`) wait for a permit of [`Hold`].
    hold: Option<Hold>,
}

/// Held PATCHes: how many are in flight (arrived, not answered), the most there ever were,
/// who arrived in which order, and the permits that let them through one by one.
#[derive(Debug, Clone)]
struct Hold {
    plural: String,
    permits: Arc<tokio::sync::Semaphore>,
    in_flight: usize,
    max_in_flight: usize,
    arrived: Vec<String>,
}

/// One change of the store, as a watch event.
#[derive(Debug, Clone)]
struct Change {
    resource_version: u64,
    collection: String,
    namespace: String,
    event: &'static str,
    object: Value,
}

/// The fake API server; clone it freely (one shared store).
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeApi {
    state: Arc<Mutex<State>>,
}

type Body = BoxBody<Bytes, Infallible>;

/// Where a request points.
#[derive(Debug)]
struct Target {
    kind: FakeKind,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

impl FakeApi {
    /// A fake serving `kinds` (events.k8s.io Events are always served).
    pub(crate) fn new(kinds: &[FakeKind]) -> Self {
        let fake = FakeApi::default();
        let mut state = fake.lock();
        state.kinds = kinds.to_vec();
        state.kinds.extend([
            FakeKind::new("events.k8s.io", "v1", "Event", "events", true),
            FakeKind::new(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            ),
        ]);
        drop(state);
        fake
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kube client talking to this fake.
    pub(crate) fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    /// Puts an object into the store as if it had been created (uid and resourceVersion
    /// are filled in when absent).
    pub(crate) fn insert(&self, mut object: Value) {
        let mut state = self.lock();
        let key = state.key_of(&object);
        let previous = state.objects.get(&key).cloned();
        state.stamp(&mut object, previous.as_ref());
        state.commit(key, Some(object));
    }

    /// The stored object, if any.
    pub(crate) fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let state = self.lock();
        let found = state
            .kinds
            .iter()
            .find(|k| k.api_version() == api_version && k.kind == kind)?;
        let key = (collection(found), ns.to_string(), name.to_string());
        state.objects.get(&key).cloned()
    }

    /// Every request answered so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the request log.
    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Refuses every write to objects named `name` with 422 Invalid.
    pub(crate) fn refuse_writes_to(&self, name: &str) {
        self.lock().refuse.push(name.to_string());
    }

    /// Takes back every [`Self::refuse_writes_to`].
    pub(crate) fn allow_all_writes(&self) {
        self.lock().refuse.clear();
    }

    /// From now on every PATCH to the collection `plural` (e.g. `configmaps`) waits, counted
    /// as in flight, until [`Self::release`] lets it through.
    pub(crate) fn hold_patches(&self, plural: &str) {
        self.lock().hold = Some(Hold {
            plural: plural.to_string(),
            permits: Arc::new(tokio::sync::Semaphore::new(0)),
            in_flight: 0,
            max_in_flight: 0,
            arrived: Vec::new(),
        });
    }

    /// Lets `n` held PATCHes through.
    pub(crate) fn release(&self, n: usize) {
        if let Some(hold) = &self.lock().hold {
            hold.permits.add_permits(n);
        }
    }

    /// Held PATCHes in flight now, the most ever in flight, and the names of the objects
    /// they were for, in the order they arrived.
    pub(crate) fn held(&self) -> (usize, usize, Vec<String>) {
        self.lock()
            .hold
            .as_ref()
            .map(|hold| (hold.in_flight, hold.max_in_flight, hold.arrived.clone()))
            .unwrap_or_default()
    }

    /// Waits for a permit when `method path` is a held PATCH.
    async fn wait_if_held(&self, method: &Method, path: &str) {
        let permits = {
            let mut state = self.lock();
            let Some(hold) = state.hold.as_mut() else {
                return;
            };
            let marker = format!("/{}/", hold.plural);
            if *method != Method::PATCH || !path.contains(&marker) {
                return;
            }
            hold.in_flight += 1;
            hold.max_in_flight = hold.max_in_flight.max(hold.in_flight);
            hold.arrived
                .push(path.rsplit('/').next().unwrap_or_default().to_string());
            hold.permits.clone()
        };
        if let Ok(permit) = permits.acquire().await {
            permit.forget();
        }
        if let Some(hold) = self.lock().hold.as_mut() {
            hold.in_flight -= 1;
        }
    }

    /// Refuses every request to the collection `plural` (e.g. `secrets`) with 403 Forbidden.
    pub(crate) fn forbid(&self, plural: &str) {
        self.lock().forbidden.push(plural.to_string());
    }

    fn handle(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> Response<Body> {
        let mut state = self.lock();
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.to_string(),
            body: body.clone(),
        });
        if let Some(answer) = state.discovery(path) {
            return json_response(StatusCode::OK, &answer);
        }
        let Some(target) = state.target(path) else {
            return status_response(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("no route {path}"),
            );
        };
        if let Some(plural) = state
            .forbidden
            .iter()
            .find(|plural| **plural == target.kind.plural)
        {
            return status_response(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!("{plural} is forbidden: the test's RBAC grants nothing on it"),
            );
        }
        match (&method, &target.name) {
            (&Method::GET, Some(name)) => state.read(&target, name),
            (&Method::GET, None) if query_param(query, "watch").as_deref() == Some("true") => {
                state.watch(&target, query)
            }
            (&Method::GET, None) => state.list(&target, query),
            (&Method::POST, None) => state.create(&target, body.unwrap_or(Value::Null)),
            (&Method::PATCH, Some(name)) => state.patch(&target, name, body.unwrap_or(Value::Null)),
            (&Method::DELETE, Some(name)) => state.delete(&target, name, body.as_ref()),
            _ => status_response(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", path),
        }
    }
}

/// `/api/v1/configmaps`-style path of a kind's objects, namespace left out.
fn collection(kind: &FakeKind) -> String {
    match &*kind.group {
        "" => format!("/api/{}/{}", kind.version, kind.plural),
        group => format!("/apis/{group}/{}/{}", kind.version, kind.plural),
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The name a `fieldSelector=metadata.name=NAME` asks for (the only field selector served).
fn named_by(query: &str) -> Option<String> {
    query_param(query, "fieldSelector")?
        .strip_prefix("metadata.name=")
        .map(str::to_string)
}

/// The core group's OpenAPI v3 document, with the one built-in kind the tests use.
fn core_openapi() -> Value {
    let string = json!({"type": "string"});
    let map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    json!({"openapi": "3.0.0", "components": {"schemas": {
        "io.k8s.api.core.v1.ConfigMap": {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMap"}],
            "properties": {
                "apiVersion": string, "kind": string, "data": map,
                "metadata": {"type": "object", "properties": {
                    "name": string, "namespace": string, "labels": map, "annotations": map,
                }},
            },
        },
    }}})
}

/// Whether `labels` match a selector of `k=v`, `k==v`, `k!=v`, `k` and `!k` terms.
fn selector_matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let label = |key: &str| labels.get(key.trim()).and_then(Value::as_str);
        if let Some((key, value)) = term.split_once("!=") {
            label(key) != Some(value.trim())
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            label(key) == Some(value.trim())
        } else if let Some(key) = term.strip_prefix('!') {
            label(key).is_none()
        } else {
            label(term).is_some()
        }
    })
}

impl State {
    fn discovery(&self, path: &str) -> Option<Value> {
        let resources = |group: &str, version: &str| {
            let list: Vec<Value> = self
                .kinds
                .iter()
                .filter(|k| k.group == group && k.version == version)
                .flat_map(|k| {
                    let verbs = json!(["get", "list", "watch", "create", "patch", "delete"]);
                    [
                        json!({"name": k.plural, "singularName": k.kind.to_lowercase(),
                               "namespaced": k.namespaced, "kind": k.kind, "verbs": verbs}),
                        json!({"name": format!("{}/status", k.plural), "singularName": "",
                               "namespaced": k.namespaced, "kind": k.kind,
                               "verbs": ["get", "patch"]}),
                    ]
                })
                .collect();
            let group_version = match group {
                "" => version.to_string(),
                g => format!("{g}/{version}"),
            };
            json!({"kind": "APIResourceList", "apiVersion": "v1",
                   "groupVersion": group_version, "resources": list})
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["api"] => Some(json!({"kind": "APIVersions", "versions": ["v1"],
                                   "serverAddressByClientCIDRs": []})),
            ["api", version] => Some(resources("", version)),
            ["apis"] => {
                let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for k in self.kinds.iter().filter(|k| !k.group.is_empty()) {
                    let versions = groups.entry(&k.group).or_default();
                    if !versions.contains(&&*k.version) {
                        versions.push(&k.version);
                    }
                }
                let groups: Vec<Value> = groups
                    .into_iter()
                    .map(|(name, versions)| {
                        let versions: Vec<Value> = versions
                            .iter()
                            .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                            .collect();
                        json!({"name": name, "versions": versions,
                               "preferredVersion": versions[0]})
                    })
                    .collect();
                Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
            }
            ["apis", group, version] => Some(resources(group, version)),
            ["openapi", "v3", "api", "v1"] => Some(core_openapi()),
            _ => None,
        }
    }

    fn target(&self, path: &str) -> Option<Target> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
            rest => (None, rest),
        };
        let (plural, name, status) = match rest {
            [plural] => (*plural, None, false),
            [plural, name] => (*plural, Some(name.to_string()), false),
            [plural, name, "status"] => (*plural, Some(name.to_string()), true),
            _ => return None,
        };
        let kind = self
            .kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)?
            .clone();
        Some(Target {
            kind,
            namespace,
            name,
            status,
        })
    }

    fn key_of(&self, object: &Value) -> (String, String, String) {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let path = self
            .kinds
            .iter()
            .find(|k| k.api_version() == api_version && k.kind == kind)
            .map(collection)
            .unwrap_or_default();
        let meta = &object["metadata"];
        (
            path,
            meta["namespace"].as_str().unwrap_or_default().to_string(),
            meta["name"].as_str().unwrap_or_default().to_string(),
        )
    }

    fn key(&self, target: &Target, name: &str) -> (String, String, String) {
        let namespace = match target.kind.namespaced {
            true => target.namespace.clone().unwrap_or_default(),
            false => String::new(),
        };
        (collection(&target.kind), namespace, name.to_string())
    }

    /// Fills in what the API server sets on a write: uid and creation on create, a new
    /// resourceVersion always, and the generation bumped when the spec changed.
    fn stamp(&mut self, object: &mut Value, previous: Option<&Value>) {
        self.resource_version += 1;
        let meta = &mut object["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("uid-{}", self.resource_version));
        }
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        meta["resourceVersion"] = json!(self.resource_version.to_string());
        let generation = previous
            .and_then(|p| p["metadata"]["generation"].as_i64())
            .unwrap_or(0);
        let spec_changed = previous.is_none_or(|p| p.get("spec") != object.get("spec"));
        object["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
    }

    /// Stores (or, with `None`, removes) an object stamped at the current resourceVersion, and
    /// tells the watches.
    fn commit(&mut self, key: (String, String, String), object: Option<Value>) {
        let (event, object) = match object {
            Some(mut object) => {
                if object["kind"] == "CustomResourceDefinition" {
                    self.establish(&mut object);
                }
                let event = match self.objects.insert(key.clone(), object.clone()) {
                    Some(_) => "MODIFIED",
                    None => "ADDED",
                };
                (event, object)
            }
            None => {
                let Some(mut gone) = self.objects.remove(&key) else {
                    return;
                };
                gone["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
                ("DELETED", gone)
            }
        };
        let change = Change {
            resource_version: self.resource_version,
            collection: key.0,
            namespace: key.1,
            event,
            object,
        };
        self.history.push(change.clone());
        if let Some(live) = &self.live {
            let _ = live.send(change);
        }
    }

    /// What kube-apiserver does for a CRD at once: serve its kinds and report it Established.
    fn establish(&mut self, crd: &mut Value) {
        for kind in FakeKind::from_crd(crd) {
            let served = |k: &FakeKind| {
                k.group == kind.group && k.version == kind.version && k.plural == kind.plural
            };
            if !self.kinds.iter().any(served) {
                self.kinds.push(kind);
            }
        }
        crd["status"]["conditions"] = json!([
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
        ]);
        crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
    }

    /// A watch: the changes after the requested resourceVersion, then every change as it
    /// happens, filtered by namespace and label selector; it never ends.
    fn watch(&mut self, target: &Target, query: &str) -> Response<Body> {
        let since: u64 = query_param(query, "resourceVersion")
            .and_then(|rv| rv.parse().ok())
            .unwrap_or(0);
        let selector = query_param(query, "labelSelector").unwrap_or_default();
        let named = named_by(query);
        let collection = collection(&target.kind);
        let namespace = target.namespace.clone();
        let wanted = move |change: &Change| {
            change.resource_version > since
                && change.collection == collection
                && namespace.as_ref().is_none_or(|ns| *ns == change.namespace)
                && named
                    .as_ref()
                    .is_none_or(|name| change.object["metadata"]["name"] == **name)
                && selector_matches(&selector, &change.object["metadata"]["labels"])
        };
        let backlog: Vec<Change> = self.history.iter().filter(|c| wanted(c)).cloned().collect();
        let receiver = self
            .live
            .get_or_insert_with(|| tokio::sync::broadcast::channel(4096).0)
            .subscribe();
        let live = futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(change) => return Some((change, receiver)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let events = futures::stream::iter(backlog)
            .chain(live)
            .filter(move |change| futures::future::ready(wanted(change)))
            .map(|change| {
                // `type` before `object`, as the API server writes it: serde_json's maps sort
                // their keys, and a decoder that reads the object raw (kro_api::decode) needs
                // the tag first.
                let mut line = format!(
                    "{{\"type\":{},\"object\":",
                    serde_json::to_string(&change.event).unwrap_or_default()
                )
                .into_bytes();
                line.extend(serde_json::to_vec(&change.object).unwrap_or_default());
                line.extend(b"}\n");
                Ok::<_, Infallible>(Frame::data(Bytes::from(line)))
            })
            .chain(futures::stream::pending());
        let mut response = Response::new(BodyExt::boxed(StreamBody::new(events)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }

    fn read(&self, target: &Target, name: &str) -> Response<Body> {
        match self.objects.get(&self.key(target, name)) {
            Some(object) => json_response(StatusCode::OK, object),
            None => not_found(target, name),
        }
    }

    fn list(&self, target: &Target, query: &str) -> Response<Body> {
        let selector = query_param(query, "labelSelector").unwrap_or_default();
        let named = named_by(query);
        let path = collection(&target.kind);
        let items: Vec<&Value> = self
            .objects
            .iter()
            .filter(|((p, ns, _), _)| {
                *p == path && target.namespace.as_ref().is_none_or(|want| want == ns)
            })
            .map(|(_, object)| object)
            .filter(|object| {
                named
                    .as_ref()
                    .is_none_or(|name| object["metadata"]["name"] == **name)
                    && selector_matches(&selector, &object["metadata"]["labels"])
            })
            .collect();
        json_response(
            StatusCode::OK,
            &json!({
                "apiVersion": target.kind.api_version(),
                "kind": format!("{}List", target.kind.kind),
                "metadata": {"resourceVersion": self.resource_version.to_string()},
                "items": items,
            }),
        )
    }

    fn refused(&self, name: &str) -> bool {
        self.refuse.iter().any(|r| r == name)
    }

    fn create(&mut self, target: &Target, mut object: Value) -> Response<Body> {
        let name = object["metadata"]["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("generated-{}", self.resource_version + 1));
        object["metadata"]["name"] = json!(name);
        if let Some(ns) = &target.namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        let key = self.key(target, &name);
        if self.objects.contains_key(&key) {
            return status_response(StatusCode::CONFLICT, "AlreadyExists", &name);
        }
        self.stamp(&mut object, None);
        self.commit(key, Some(object.clone()));
        json_response(StatusCode::CREATED, &object)
    }

    fn patch(&mut self, target: &Target, name: &str, patch: Value) -> Response<Body> {
        if self.refused(name) {
            return status_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                &format!(
                    "{} \"{name}\" is invalid: refused by the test",
                    target.kind.kind
                ),
            );
        }
        let key = self.key(target, name);
        let previous = self.objects.get(&key).cloned();
        // A resourceVersion in the body is a precondition, as the API server has it.
        if let (Some(old), Some(want)) = (&previous, patch.pointer("/metadata/resourceVersion"))
            && old["metadata"]["resourceVersion"] != *want
        {
            return status_response(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified",
                    target.kind.kind
                ),
            );
        }
        let mut object = match (&previous, patch.is_array()) {
            (Some(old), _) => old.clone(),
            (None, true) => return not_found(target, name),
            (None, false) => json!({}),
        };
        if let Value::Array(_) = patch {
            let Ok(ops) = serde_json::from_value::<json_patch::Patch>(patch) else {
                return status_response(StatusCode::BAD_REQUEST, "BadRequest", "json patch");
            };
            if json_patch::patch(&mut object, &ops).is_err() {
                return status_response(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "test failed");
            }
        } else if target.status {
            json_patch::merge(&mut object, &json!({"status": patch.get("status")}));
        } else {
            json_patch::merge(&mut object, &patch);
        }
        object["metadata"]["name"] = json!(name);
        if let Some(ns) = target.namespace.as_ref().filter(|_| target.kind.namespaced) {
            object["metadata"]["namespace"] = json!(ns);
        }
        if object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty)
        {
            self.resource_version += 1;
            self.commit(key, None);
            return json_response(StatusCode::OK, &object);
        }
        self.stamp(&mut object, previous.as_ref());
        self.commit(key, Some(object.clone()));
        json_response(StatusCode::OK, &object)
    }

    fn delete(&mut self, target: &Target, name: &str, options: Option<&Value>) -> Response<Body> {
        let key = self.key(target, name);
        let Some(object) = self.objects.get_mut(&key) else {
            return not_found(target, name);
        };
        let want_uid = options.and_then(|o| o.pointer("/preconditions/uid"));
        if let Some(uid) = want_uid.filter(|uid| !uid.is_null())
            && object["metadata"]["uid"] != *uid
        {
            return status_response(StatusCode::CONFLICT, "Conflict", "uid precondition failed");
        }
        let finalized = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if finalized {
            let mut object = object.clone();
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
            self.resource_version += 1;
            object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
            self.commit(key, Some(object.clone()));
            return json_response(StatusCode::OK, &object);
        }
        self.resource_version += 1;
        self.commit(key, None);
        json_response(
            StatusCode::OK,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        )
    }
}

fn not_found(target: &Target, name: &str) -> Response<Body> {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{} \"{name}\" not found", target.kind.plural),
    )
}

fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(BodyExt::boxed(Full::new(Bytes::from(bytes))));
    *response.status_mut() = code;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn status_response(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "code": code.as_u16(), "reason": reason, "message": message}),
    )
}

/// Process-wide controller state over `client`, as `kro run` builds it, with test options.
pub(crate) fn shared_for_tests(client: kube::Client) -> Arc<crate::Shared> {
    shared_with_options(client, crate::Options::for_tests())
}

/// [`shared_for_tests`] with these options.
pub(crate) fn shared_with_options(
    client: kube::Client,
    opts: crate::Options,
) -> Arc<crate::Shared> {
    crate::Shared::new(
        client,
        opts,
        Arc::new(crate::metrics::Metrics::new()),
        tokio_util::sync::CancellationToken::new(),
        None,
    )
}

impl tower_service::Service<Request<kube::client::Body>> for FakeApi {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<kube::client::Body>) -> Self::Future {
        let fake = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            // Server-side apply bodies are YAML; kube sends them as JSON, which is YAML.
            let body = (!bytes.is_empty())
                .then(|| serde_json::from_slice(&bytes).ok())
                .flatten();
            let path = parts.uri.path().to_string();
            let query = parts.uri.query().unwrap_or_default().to_string();
            fake.wait_if_held(&parts.method, &path).await;
            Ok(fake.handle(parts.method, &path, &query, body))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_like_the_api_server() {
        let labels = json!({"a": "1", "b": "2"});
        for (selector, want) in [
            ("", true),
            ("a=1", true),
            ("a==1,b=2", true),
            ("a=2", false),
            ("a!=2", true),
            ("c", false),
            ("a", true),
            ("!c", true),
            ("!a", false),
        ] {
            assert_eq!(selector_matches(selector, &labels), want, "{selector}");
        }
        assert_eq!(
            percent_decode("kro.run%2Finstance-id%3Du1"),
            "kro.run/instance-id=u1"
        );
    }
}
