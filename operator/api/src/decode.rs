//! Decoding one object of a list or a watch on its own, so that one object kro-rs cannot
//! decode never fails the whole list.
//!
//! kube decodes a LIST response in one pass: one item nested deeper than serde_json's
//! recursion limit, or with a field of the wrong type for a typed kind, fails the whole list,
//! and the watch behind a controller never starts. [`Lenient<K>`] is what such a list or watch
//! is decoded into instead: each item is first captured as raw JSON (serde_json skips a value
//! without recursing, so that step has no depth limit), then decoded as `K` from its own
//! root. An item that does not decode becomes a [`Poison`]: what a shallow parse of its
//! metadata recovers (name, namespace, uid, labels, status), and a message that names the
//! bound or the field — never the object's content.
//!
//! Bounds: objects nested at most [`MAX_DEPTH`] levels (JSON objects and arrays, the object
//! itself counting as one) and at most [`MAX_OBJECT_BYTES`] long.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::{DynamicObject, PartialObjectMeta, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The deepest nesting kro-rs decodes: serde_json's recursion limit (128) less one, counted
/// from the object itself (the object is level 1, its `spec` level 2, ...).
pub const MAX_DEPTH: usize = 127;

/// The largest object kro-rs decodes, in bytes of JSON. Far above what the API server stores
/// by default (etcd's 1.5 MiB request limit); it bounds memory on a server configured larger.
pub const MAX_OBJECT_BYTES: usize = 8 * 1024 * 1024;

/// At most this many segments of a field path are shown in a message.
const PATH_SEGMENTS_SHOWN: usize = 6;

/// One item of a list or watch: decoded, or the [`Poison`] it turned out to be.
#[derive(Clone, Debug)]
pub enum Lenient<K> {
    /// The item decoded as `K`.
    Decoded(K),
    /// The item could not be decoded as `K`.
    Poison(Box<Poison>),
}

/// What is known of an object that could not be decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Poison {
    /// `apiVersion`, when the shallow parse found it.
    pub api_version: Option<String>,
    /// `kind`, when the shallow parse found it.
    pub kind: Option<String>,
    /// Name, namespace, uid, resourceVersion, generation, labels, annotations, finalizers and
    /// deletion timestamp, as far as the shallow parse recovered them (never managedFields).
    pub meta: ObjectMeta,
    /// `status`, when it decodes on its own within the bounds.
    pub status: Option<Value>,
    /// Why the object cannot be decoded, naming the bound or the field (no values).
    pub problem: String,
}

impl Poison {
    /// Whether the shallow parse recovered enough to report on the object (name and uid).
    pub fn is_identified(&self) -> bool {
        self.meta.name.is_some() && self.meta.uid.is_some()
    }

    /// `namespace/name` (or `name`), for logs.
    pub fn display_name(&self) -> String {
        let name = self.meta.name.as_deref().unwrap_or("<unnamed>");
        match self.meta.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }
}

impl<K> Lenient<K> {
    /// The decoded object, or the poison.
    pub fn into_result(self) -> Result<K, Box<Poison>> {
        match self {
            Lenient::Decoded(object) => Ok(object),
            Lenient::Poison(poison) => Err(poison),
        }
    }
}

impl<K: DeserializeOwned> Lenient<K> {
    /// Decodes one object's JSON as `K`, or says why it cannot be.
    pub fn from_json(text: &str) -> Self {
        if text.len() > MAX_OBJECT_BYTES {
            return Lenient::Poison(Box::new(poison_of(
                text,
                format!(
                    "the object is {} bytes of JSON, above the {MAX_OBJECT_BYTES} bytes kro-rs decodes",
                    text.len()
                ),
            )));
        }
        match serde_json::from_str::<K>(text) {
            Ok(object) => Lenient::Decoded(object),
            Err(e) => Lenient::Poison(Box::new(poison_of(text, problem(text, &e)))),
        }
    }
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Lenient<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Capturing the raw text skips the value iteratively: no recursion limit applies here,
        // and the item is then decoded from its own root with the whole budget.
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self::from_json(raw.get()))
    }
}

impl<K: Resource> Resource for Lenient<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::api_version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn metadata_api() -> bool {
        K::metadata_api()
    }

    fn meta(&self) -> &ObjectMeta {
        match self {
            Lenient::Decoded(object) => object.meta(),
            Lenient::Poison(poison) => &poison.meta,
        }
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Lenient::Decoded(object) => object.meta_mut(),
            Lenient::Poison(poison) => &mut poison.meta,
        }
    }
}

/// Objects that can stand in for an undecodable one in a cache, by metadata alone (so that a
/// cache drops the last decoded copy of an object that no longer decodes).
pub trait FromMeta: Sized {
    /// An object carrying only `meta`.
    fn from_meta(meta: ObjectMeta) -> Self;
}

impl FromMeta for DynamicObject {
    fn from_meta(metadata: ObjectMeta) -> Self {
        DynamicObject {
            types: None,
            metadata,
            data: Value::Null,
        }
    }
}

impl<K> FromMeta for PartialObjectMeta<K> {
    fn from_meta(metadata: ObjectMeta) -> Self {
        PartialObjectMeta {
            types: None,
            metadata,
            _phantom: std::marker::PhantomData,
        }
    }
}

impl FromMeta for crate::ResourceGraphDefinition {
    fn from_meta(metadata: ObjectMeta) -> Self {
        crate::ResourceGraphDefinition {
            metadata,
            spec: crate::ResourceGraphDefinitionSpec {
                schema: crate::Schema::default(),
                resources: Vec::new(),
            },
            status: None,
        }
    }
}

/// The top of an object, read without decoding anything below `metadata`'s plain fields:
/// unknown fields (`spec`, `managedFields`, ...) are skipped without recursion.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Shallow {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: ShallowMeta,
    status: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ShallowMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    finalizers: Option<Vec<String>>,
    deletion_timestamp: Option<Time>,
}

/// The poison of `text`: its shallow metadata (empty when even that does not parse).
fn poison_of(text: &str, problem: String) -> Poison {
    let shallow: Shallow = serde_json::from_str(text).unwrap_or_default();
    let meta = shallow.metadata;
    Poison {
        api_version: shallow.api_version,
        kind: shallow.kind,
        meta: ObjectMeta {
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            resource_version: meta.resource_version,
            generation: meta.generation,
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            deletion_timestamp: meta.deletion_timestamp,
            ..ObjectMeta::default()
        },
        status: shallow
            .status
            .and_then(|raw| serde_json::from_str(raw.get()).ok()),
        problem,
    }
}

/// Why `text` failed to decode with `error`, naming the field and the bound, never a value.
fn problem(text: &str, error: &serde_json::Error) -> String {
    let scan = Scan::of(text, error_offset(text, error));
    if scan.max_depth > MAX_DEPTH {
        let at = scan.deep_path.unwrap_or_default();
        return format!(
            "{} is nested {} levels deep; kro-rs decodes objects nested at most {MAX_DEPTH} levels \
             (JSON objects and arrays, the object itself counting as one): flatten that field or \
             store it as a string",
            show_path(&at),
            scan.max_depth
        );
    }
    let what = redact(&error.to_string());
    if scan.path_at_error.is_empty() {
        format!("the object does not decode: {what}")
    } else {
        format!("{}: {what}", show_path(&scan.path_at_error))
    }
}

/// The byte offset serde_json's error points at (its line and column; the API server writes
/// one line per object).
fn error_offset(text: &str, error: &serde_json::Error) -> usize {
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if n + 1 == error.line() {
            return offset + error.column().saturating_sub(1).min(line.len());
        }
        offset += line.len();
    }
    text.len()
}

/// A field path as a user writes it: `spec.data.a[3].b`, cut after a few segments.
fn show_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments.iter().take(PATH_SEGMENTS_SHOWN) {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    if segments.len() > PATH_SEGMENTS_SHOWN {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("the object");
    }
    out
}

/// serde's message without the values it quotes (a string field may hold a secret) and
/// without serde_json's line and column.
fn redact(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A Debug-quoted value: skip to its closing quote.
                let mut escaped = false;
                for inner in chars.by_ref() {
                    match inner {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
                if out.ends_with(' ') {
                    out.pop();
                }
            }
            '`' if out.ends_with("variant ") || out.ends_with("field ") => {
                for inner in chars.by_ref() {
                    if inner == '`' {
                        break;
                    }
                }
                out.push_str("`…`");
            }
            _ => out.push(c),
        }
    }
    out
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Where an object is deep, and the field at a byte offset: one iterative pass, run only on
/// an object that did not decode.
#[derive(Debug, Default)]
struct Scan {
    max_depth: usize,
    /// The path to the first container deeper than [`MAX_DEPTH`].
    deep_path: Option<Vec<Segment>>,
    /// The path of the value at the offset asked for.
    path_at_error: Vec<Segment>,
}

enum Frame {
    Object {
        key: Option<String>,
        expect_key: bool,
    },
    Array {
        index: usize,
    },
}

fn path_of(stack: &[Frame]) -> Vec<Segment> {
    stack
        .iter()
        .filter_map(|frame| match frame {
            Frame::Object { key, .. } => key.clone().map(Segment::Key),
            Frame::Array { index } => Some(Segment::Index(*index)),
        })
        .collect()
}

/// Whether the container about to open is inside `metadata.managedFields`.
fn in_managed_fields(stack: &[Frame]) -> bool {
    let key_is = |frame: Option<&Frame>, want: &str| matches!(frame, Some(Frame::Object { key: Some(key), .. }) if key == want);
    stack.len() >= 2 && key_is(stack.first(), "metadata") && key_is(stack.get(1), "managedFields")
}

impl Scan {
    fn of(text: &str, offset: usize) -> Self {
        let bytes = text.as_bytes();
        let mut scan = Scan::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut at_offset = None;
        let (mut deep_managed, mut managed_depth) = (None, 0);
        let mut i = 0;
        while i < bytes.len() {
            if at_offset.is_none() && i >= offset {
                at_offset = Some(path_of(&stack));
            }
            match bytes[i] {
                open @ (b'{' | b'[') => {
                    // managedFields mirror the object's fields: a field is named where the
                    // user wrote it, managedFields only when nothing else is that deep.
                    let managed = in_managed_fields(&stack);
                    if stack.len() + 1 > MAX_DEPTH {
                        let slot = if managed {
                            &mut deep_managed
                        } else {
                            &mut scan.deep_path
                        };
                        if slot.is_none() {
                            *slot = Some(path_of(&stack));
                        }
                    }
                    stack.push(if open == b'{' {
                        Frame::Object {
                            key: None,
                            expect_key: true,
                        }
                    } else {
                        Frame::Array { index: 0 }
                    });
                    if managed {
                        managed_depth = managed_depth.max(stack.len());
                    } else {
                        scan.max_depth = scan.max_depth.max(stack.len());
                    }
                }
                b'}' | b']' => {
                    stack.pop();
                }
                b',' => match stack.last_mut() {
                    Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                    Some(Frame::Array { index }) => *index += 1,
                    None => {}
                },
                b':' => {
                    if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                        *expect_key = false;
                    }
                }
                b'"' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < bytes.len() && bytes[j] != b'"' {
                        j += if bytes[j] == b'\\' { 2 } else { 1 };
                    }
                    if let Some(Frame::Object {
                        key,
                        expect_key: true,
                    }) = stack.last_mut()
                    {
                        *key = Some(text.get(start..j.min(bytes.len())).unwrap_or("").into());
                    }
                    i = j;
                }
                _ => {}
            }
            i += 1;
        }
        scan.path_at_error = at_offset.unwrap_or_else(|| path_of(&stack));
        if scan.deep_path.is_none() && deep_managed.is_some() {
            scan.deep_path = deep_managed;
            scan.max_depth = managed_depth;
        }
        scan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `levels` nested objects under key `a`.
    fn chain(levels: usize) -> String {
        let mut inner = "1".to_string();
        for _ in 0..levels {
            inner = format!("{{\"a\":{inner}}}");
        }
        inner
    }

    /// An instance whose `spec.data` holds `levels` nested objects, as the API server writes
    /// it: its managedFields as deep (plus four levels).
    fn nested(levels: usize) -> String {
        let inner = chain(levels);
        format!(
            r#"{{"apiVersion":"e2e.kro.run/v1alpha1","kind":"Deep","metadata":{{"name":"deep","namespace":"ns","uid":"u-1","resourceVersion":"7","generation":2,"labels":{{"team":"a"}},"managedFields":[{{"fieldsV1":{inner}}}]}},"spec":{{"data":{inner}}},"status":{{"state":"ERROR"}}}}"#
        )
    }

    /// `spec.data` nested `levels` deep, no managedFields.
    fn bare(levels: usize) -> String {
        format!(
            r#"{{"metadata":{{"name":"b","uid":"u"}},"spec":{{"data":{}}}}}"#,
            chain(levels)
        )
    }

    fn problem_of<K: DeserializeOwned>(text: &str) -> Box<Poison> {
        match Lenient::<K>::from_json(text) {
            Lenient::Poison(poison) => poison,
            Lenient::Decoded(_) => panic!("decoded"),
        }
    }

    #[test]
    fn the_deepest_object_decoded_is_max_depth_levels() {
        // The object is level 1, spec 2, data 3: data's nesting adds levels - 1.
        let fits = bare(MAX_DEPTH - 2);
        assert!(matches!(
            Lenient::<DynamicObject>::from_json(&fits),
            Lenient::Decoded(_)
        ));
        let poison = problem_of::<DynamicObject>(&bare(MAX_DEPTH - 1));
        assert!(
            poison.problem.contains("nested 128 levels deep"),
            "{}",
            poison.problem
        );
    }

    #[test]
    fn a_deep_object_is_poison_named_by_its_metadata_and_field() {
        let poison = problem_of::<DynamicObject>(&nested(200));
        assert_eq!(poison.meta.name.as_deref(), Some("deep"));
        assert_eq!(poison.meta.namespace.as_deref(), Some("ns"));
        assert_eq!(poison.meta.uid.as_deref(), Some("u-1"));
        assert_eq!(poison.meta.generation, Some(2));
        assert_eq!(poison.meta.labels.as_ref().unwrap()["team"], "a");
        assert!(poison.meta.managed_fields.is_none());
        assert_eq!(poison.kind.as_deref(), Some("Deep"));
        assert_eq!(poison.status, Some(json!({"state": "ERROR"})));
        assert!(poison.is_identified());
        // managedFields come first in the text and are deeper, but the field is named where
        // the user wrote it.
        assert_eq!(
            poison.problem,
            "spec.data.a.a.a.a… is nested 202 levels deep; kro-rs decodes \
             objects nested at most 127 levels (JSON objects and arrays, the object itself \
             counting as one): flatten that field or store it as a string"
        );
    }

    #[test]
    fn a_list_with_a_deep_item_decodes_every_other_item() {
        let good = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}});
        let list = format!(
            r#"{{"apiVersion":"v1","kind":"List","metadata":{{}},"items":[{good},{},{good}]}}"#,
            nested(1000)
        );
        let decoded: kube::core::ObjectList<Lenient<DynamicObject>> =
            serde_json::from_str(&list).unwrap();
        let names: Vec<_> = decoded
            .items
            .into_iter()
            .map(|item| match item {
                Lenient::Decoded(object) => format!("ok {}", object.metadata.name.unwrap()),
                Lenient::Poison(poison) => format!("poison {}", poison.display_name()),
            })
            .collect();
        assert_eq!(names, ["ok good", "poison ns/deep", "ok good"]);
    }

    #[test]
    fn a_watch_event_with_a_deep_object_decodes() {
        let line = format!(r#"{{"type":"MODIFIED","object":{}}}"#, nested(500));
        let event: kube::core::WatchEvent<Lenient<DynamicObject>> =
            serde_json::from_str(&line).unwrap();
        assert!(matches!(
            event,
            kube::core::WatchEvent::Modified(Lenient::Poison(_))
        ));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_without_its_value() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Typed {
            metadata: ObjectMeta,
            spec: Spec,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Spec {
            name: String,
            tags: Vec<i64>,
        }
        let text =
            r#"{"metadata":{"name":"b","uid":"u"},"spec":{"name":"x","tags":[1,"hunter2"]}}"#;
        let poison = problem_of::<Typed>(text);
        assert_eq!(
            poison.problem,
            "spec.tags[1]: invalid type: string, expected i64"
        );
        assert!(!poison.problem.contains("hunter2"));
        assert_eq!(poison.meta.name.as_deref(), Some("b"));
    }

    #[test]
    fn an_object_too_large_is_poison_naming_the_bound() {
        let big = format!(
            r#"{{"metadata":{{"name":"big","uid":"u"}},"data":"{}"}}"#,
            "x".repeat(MAX_OBJECT_BYTES)
        );
        let poison = problem_of::<DynamicObject>(&big);
        assert!(
            poison
                .problem
                .contains("above the 8388608 bytes kro-rs decodes"),
            "{}",
            poison.problem
        );
        assert_eq!(poison.meta.name.as_deref(), Some("big"));
    }

    #[test]
    fn metadata_only_items_with_deep_managed_fields_are_poison_too() {
        let poison = problem_of::<PartialObjectMeta<DynamicObject>>(&nested(300));
        // Only managedFields are decoded here, but the field is named where the user wrote it.
        assert!(
            poison.problem.starts_with("spec.data.a.a"),
            "{}",
            poison.problem
        );
        let stub = PartialObjectMeta::<DynamicObject>::from_meta(poison.meta.clone());
        assert_eq!(stub.metadata.uid.as_deref(), Some("u-1"));
    }

    /// The cost of decoding item by item, against kube's one-pass decode of the same list:
    /// `cargo test -p kro-api decode::tests::list_decoding_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn list_decoding_cost() {
        let item = |n: usize| {
            json!({
                "apiVersion": "e2e.kro.run/v1alpha1", "kind": "WebApp",
                "metadata": {"name": format!("app-{n}"), "namespace": "team", "uid": format!("u-{n}"),
                    "resourceVersion": "12345", "generation": 3, "labels": {"team": "a", "tier": "web"},
                    "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:image": {}, "f:replicas": {}, "f:env": {}}}}]},
                "spec": {"image": "nginx:1.27", "replicas": 3, "env": {"A": "1", "B": "2", "C": "3"},
                    "ingress": {"enabled": true, "host": "app.example.com", "paths": ["/", "/api"]}},
                "status": {"state": "ACTIVE", "conditions": [{"type": "Ready", "status": "True",
                    "reason": "Ready", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
            })
        };
        let items: Vec<Value> = (0..2000).map(item).collect();
        let list = serde_json::to_string(
            &json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}),
        )
        .unwrap();
        let time = |f: &dyn Fn()| {
            let started = std::time::Instant::now();
            for _ in 0..10 {
                f();
            }
            started.elapsed() / 10
        };
        let plain = time(&|| {
            let _: kube::core::ObjectList<DynamicObject> = serde_json::from_str(&list).unwrap();
        });
        let lenient = time(&|| {
            let _: kube::core::ObjectList<Lenient<DynamicObject>> =
                serde_json::from_str(&list).unwrap();
        });
        println!(
            "{} bytes, 2000 items: one pass {plain:?}, item by item {lenient:?} ({:.2}x)",
            list.len(),
            lenient.as_secs_f64() / plain.as_secs_f64()
        );
    }

    #[test]
    fn redaction_drops_quoted_values_and_variants() {
        assert_eq!(
            redact(r#"invalid type: string "s3cr\"et", expected u32 at line 1 column 9"#),
            "invalid type: string, expected u32"
        );
        assert_eq!(
            redact("unknown variant `Secret`, expected one of `A`, `B`"),
            "unknown variant `…`, expected one of `A`, `B`"
        );
    }
}
