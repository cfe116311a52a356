//! Pure helpers of the apply step: does the live object already hold what kro would apply, the
//! hash annotation that catches removed fields, and ApplySet group-kind lists.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::hash_key::HashKey;

type HmacSha256 = Hmac<Sha256>;

/// Annotation holding the keyed hash of the last applied desired object, so that a field
/// removed from the template (which a subset check cannot see) still triggers an apply.
pub const DESIRED_HASH: &str = "internal.kro.run/desired-hash";

/// Whether every field of `desired` has the same value in `live` (objects compared key by key,
/// lists element by element with equal lengths).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(desired_fields), Value::Object(live_fields)) => {
            desired_fields.iter().all(|(key, desired_value)| {
                live_fields
                    .get(key)
                    .is_some_and(|live_value| is_subset(desired_value, live_value))
                    || (desired_value.is_null() && !live_fields.contains_key(key))
            })
        }
        (Value::Array(desired_items), Value::Array(live_items)) => {
            desired_items.len() == live_items.len()
                && desired_items
                    .iter()
                    .zip(live_items)
                    .all(|(desired_item, live_item)| is_subset(desired_item, live_item))
        }
        (Value::Number(desired_number), Value::Number(live_number)) => {
            desired_number.as_f64() == live_number.as_f64()
        }
        (desired_scalar, live_scalar) => desired_scalar == live_scalar,
    }
}

/// Whether the live object already holds what kro would apply: [`is_subset`] of the desired
/// object as the apiserver stores it. A Secret's `stringData` is write-only (the apiserver
/// folds it into base64 `data` and never returns it), so it is compared as that `data`;
/// otherwise every Secret with `stringData` would be re-applied on every reconcile.
pub fn is_up_to_date(desired: &Value, live: &Value) -> bool {
    let is_secret = desired["apiVersion"] == "v1" && desired["kind"] == "Secret";
    match desired.get("stringData").and_then(Value::as_object) {
        Some(string_data) if is_secret => {
            let mut stored = desired.clone();
            let mut data = stored["data"].as_object().cloned().unwrap_or_default();
            for (k, v) in string_data {
                let text = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                data.insert(k.clone(), Value::String(STANDARD.encode(text)));
            }
            if let Some(obj) = stored.as_object_mut() {
                obj.remove("stringData");
                obj.insert("data".into(), Value::Object(data));
            }
            is_subset(&stored, live)
        }
        _ => is_subset(desired, live),
    }
}

/// `hmac-sha256:` + base64url(HMAC-SHA256 under `key` of the canonical JSON). Keyed, so that
/// the annotation does not let a reader of the child test guesses of its values (a Secret's
/// payload) offline; see [`crate::hash_key`].
pub fn hash(value: &Value, key: &HashKey) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    // HMAC takes keys of any length, so this never fails.
    let mut mac = match HmacSha256::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(text.as_bytes());
    format!(
        "hmac-sha256:{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Stamps [`DESIRED_HASH`] (the keyed [`hash`]) on a desired object.
pub fn with_hash(mut desired: Value, key: &HashKey) -> Value {
    let desired_hash = hash(&desired, key);
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let ann = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(annotations) = ann.as_object_mut() {
            annotations.insert(DESIRED_HASH.into(), Value::String(desired_hash));
        }
    }
    desired
}

/// The value at `path` (keys) inside `object`.
fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, key| value.get(key))
}

/// Takes the value at `path` out of `object` (parents stay, possibly empty).
fn take_at(object: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut current = object;
    for key in parents {
        current = current.get_mut(key)?;
    }
    current.as_object_mut()?.remove(last)
}

/// Puts `value` at `path` inside `object`, creating the parent maps it needs.
fn put_at(object: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for key in parents {
        let Some(map) = current.as_object_mut() else {
            return;
        };
        current = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    if let Some(map) = current.as_object_mut() {
        map.insert(last.clone(), value);
    }
}

/// [`with_hash`] for a resource with `externalFields` (`external`, each path as keys): the
/// hash leaves them out (another manager changing them is no change of kro's), and the body
/// holds, at each path, the template's value when the object is created (`live` is `None`) and
/// afterwards the live value, or nothing when the live object has none. So kro sets them
/// once, never sets nor reverts them later, never reports them as drift, and, keeping the live
/// value in its body, never drops them to the API server's default either.
pub fn with_hash_handing_over(
    desired: Value,
    live: Option<&Value>,
    external: &[Vec<String>],
    key: &HashKey,
) -> Value {
    if external.is_empty() {
        return with_hash(desired, key);
    }
    let mut stripped = desired;
    let taken: Vec<Option<Value>> = external
        .iter()
        .map(|path| take_at(&mut stripped, path))
        .collect();
    let mut object = with_hash(stripped, key);
    for (path, desired_value) in external.iter().zip(taken) {
        let value = match live {
            Some(live) => value_at(live, path).cloned(),
            None => desired_value,
        };
        if let Some(value) = value {
            put_at(&mut object, path, value);
        }
    }
    object
}

/// Parses `Kind.group,Kind` into (group, kind) pairs.
pub fn parse_group_kinds(list: &str) -> BTreeSet<(String, String)> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|gk| match gk.split_once('.') {
            Some((kind, group)) => (group.to_string(), kind.to_string()),
            None => (String::new(), gk.to_string()),
        })
        .collect()
}

/// Renders (group, kind) pairs as kro's sorted `Kind.group` list.
pub fn render_group_kinds(gks: &BTreeSet<(String, String)>) -> String {
    let mut rendered: Vec<String> = gks
        .iter()
        .map(|(group, kind)| {
            if group.is_empty() {
                kind.clone()
            } else {
                format!("{kind}.{group}")
            }
        })
        .collect();
    rendered.sort();
    rendered.join(",")
}

/// kro's inventory hash: `sha256:` + base64url(sha256(id ␀ gks ␀ namespaces)).
pub fn inventory_hash(id: &str, gks: &str, namespaces: &str) -> String {
    let text = format!("{id}\0{gks}\0{namespaces}");
    format!(
        "sha256:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The deletion wave of a child: its `internal.kro.run/apply-order`, 0 when absent or invalid.
pub fn wave(annotation: Option<&String>) -> u32 {
    annotation
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|order| *order >= 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_string_data_is_compared_as_the_stored_data() {
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}});
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}, "type": "Opaque"});
        assert!(is_up_to_date(&desired, &live));
        let changed = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter3"}});
        assert!(!is_up_to_date(&changed, &live));
        // Other kinds keep the plain subset rule: a ConfigMap has no write-only fields.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "stringData": {"a": "b"}});
        assert!(!is_up_to_date(
            &cm,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "Yg=="}})
        ));
    }

    #[test]
    fn subset() {
        let live = json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        for (desired, want) in [
            (json!({"metadata": {"name": "a"}}), true),
            (json!({"metadata": {"labels": {"x": "1"}}}), true),
            (json!({"metadata": {"labels": {"x": "2"}}}), false),
            (json!({"spec": {"replicas": 2.0}}), true),
            (json!({"spec": {"replicas": 3}}), false),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}}),
                true,
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": []}}}}),
                false,
            ),
            (json!({"spec": {"paused": true}}), false),
            (json!({"spec": {"paused": null}}), true),
        ] {
            assert_eq!(is_subset(&desired, &live), want, "{desired}");
        }
    }

    #[test]
    fn hash_changes_with_content_and_is_stamped() {
        let key = HashKey::from_bytes(&[1; 32]);
        let full = with_hash(json!({"metadata": {"name": "a"}, "data": {"k": "v"}}), &key);
        let emptied = with_hash(json!({"metadata": {"name": "a"}, "data": {}}), &key);
        let full_hash = &full["metadata"]["annotations"][DESIRED_HASH];
        assert!(full_hash.as_str().unwrap().starts_with("hmac-sha256:"));
        assert_ne!(full_hash, &emptied["metadata"]["annotations"][DESIRED_HASH]);
        assert_eq!(
            full,
            with_hash(json!({"metadata": {"name": "a"}, "data": {"k": "v"}}), &key)
        );
    }

    #[test]
    fn the_hash_is_keyed() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"}});
        let (a, b) = (HashKey::from_bytes(&[1; 32]), HashKey::from_bytes(&[2; 32]));
        // Stable under one key, different under another.
        assert_eq!(hash(&secret, &a), hash(&secret, &a));
        assert_ne!(hash(&secret, &a), hash(&secret, &b));
        // Not the unkeyed SHA-256 of the object, which anyone could recompute from a guess.
        let text = serde_json::to_string(&secret).unwrap();
        let unkeyed = URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()));
        assert!(!hash(&secret, &a).contains(&unkeyed));
        // HMAC-SHA256 itself (RFC 4231 test case 2), so the annotation is checkable by anyone
        // holding the key.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM"
        );
        // A key change makes every child look changed once, and only once.
        let live = with_hash(secret.clone(), &a);
        let mut live = live;
        live.as_object_mut().unwrap().remove("stringData");
        live["data"] = json!({"password": "aHVudGVyMg=="});
        assert!(is_up_to_date(&with_hash(secret.clone(), &a), &live));
        assert!(!is_up_to_date(&with_hash(secret, &b), &live));
    }

    #[test]
    fn external_fields_are_set_once_then_left_as_live() {
        let key = HashKey::from_bytes(&[1; 32]);
        let replicas = vec![vec!["spec".to_string(), "replicas".to_string()]];
        let desired = |n: u64| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"replicas": n, "paused": false}})
        };
        // Created: the template's value, hashed without it.
        let created = with_hash_handing_over(desired(3), None, &replicas, &key);
        assert_eq!(created["spec"]["replicas"], 3);
        let hash_of = |object: &Value| object["metadata"]["annotations"][DESIRED_HASH].clone();
        // Another manager set 7: kro's body keeps 7, so the live object is up to date, and a
        // template change of replicas changes neither the body nor the hash.
        let mut live = created.clone();
        live["spec"]["replicas"] = json!(7);
        for n in [3, 5] {
            let again = with_hash_handing_over(desired(n), Some(&live), &replicas, &key);
            assert_eq!(again["spec"]["replicas"], 7);
            assert_eq!(hash_of(&again), hash_of(&created));
            assert!(is_up_to_date(&again, &live));
        }
        // A live object without the field: kro does not set it.
        live["spec"].as_object_mut().unwrap().remove("replicas");
        let unset = with_hash_handing_over(desired(3), Some(&live), &replicas, &key);
        assert!(unset["spec"].get("replicas").is_none());
        assert_eq!(unset["spec"]["paused"], false);
        // Without externalFields: exactly `with_hash`.
        assert_eq!(
            with_hash_handing_over(desired(3), Some(&live), &[], &key),
            with_hash(desired(3), &key)
        );
    }

    #[test]
    fn group_kinds_round_trip() {
        let gks = parse_group_kinds("Deployment.apps, ConfigMap,,Web.x.kro.run");
        assert_eq!(
            gks.iter().cloned().collect::<Vec<_>>(),
            vec![
                (String::new(), "ConfigMap".to_string()),
                ("apps".to_string(), "Deployment".to_string()),
                ("x.kro.run".to_string(), "Web".to_string()),
            ]
        );
        assert_eq!(
            render_group_kinds(&gks),
            "ConfigMap,Deployment.apps,Web.x.kro.run"
        );
        assert!(parse_group_kinds("").is_empty());
    }

    #[test]
    fn waves() {
        for (annotation, want) in [
            (Some("3"), 3),
            (Some("0"), 0),
            (Some("-1"), 0),
            (Some("x"), 0),
            (None, 0),
        ] {
            assert_eq!(
                wave(annotation.map(str::to_string).as_ref()),
                want,
                "{annotation:?}"
            );
        }
    }
}
