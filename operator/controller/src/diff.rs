//! Pure helpers of the apply step: does the live object already hold what kro would apply, the
//! hash annotation that catches removed fields, and ApplySet group-kind lists.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Annotation holding the hash of the last applied desired object, so that a field removed
/// from the template (which a subset check cannot see) still triggers an apply.
pub const DESIRED_HASH: &str = "internal.kro.run/desired-hash";

/// Whether every field of `desired` has the same value in `live` (objects compared key by key,
/// lists element by element with equal lengths).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| {
            l.get(k).is_some_and(|lv| is_subset(dv, lv)) || (dv.is_null() && !l.contains_key(k))
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
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

/// `sha256:` + base64url(sha256(canonical JSON)).
pub fn hash(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    format!(
        "sha256:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// Stamps [`DESIRED_HASH`] on a desired object.
pub fn with_hash(mut desired: Value) -> Value {
    let h = hash(&desired);
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let ann = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = ann.as_object_mut() {
            a.insert(DESIRED_HASH.into(), Value::String(h));
        }
    }
    desired
}

/// Parses `Kind.group,Kind` into (group, kind) pairs.
pub fn parse_group_kinds(s: &str) -> BTreeSet<(String, String)> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|gk| match gk.split_once('.') {
            Some((k, g)) => (g.to_string(), k.to_string()),
            None => (String::new(), gk.to_string()),
        })
        .collect()
}

/// Renders (group, kind) pairs as kro's sorted `Kind.group` list.
pub fn render_group_kinds(gks: &BTreeSet<(String, String)>) -> String {
    let mut v: Vec<String> = gks
        .iter()
        .map(|(g, k)| {
            if g.is_empty() {
                k.clone()
            } else {
                format!("{k}.{g}")
            }
        })
        .collect();
    v.sort();
    v.join(",")
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
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|w| *w >= 1)
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
        let a = with_hash(json!({"metadata": {"name": "a"}, "data": {"k": "v"}}));
        let b = with_hash(json!({"metadata": {"name": "a"}, "data": {}}));
        let ha = &a["metadata"]["annotations"][DESIRED_HASH];
        assert!(ha.as_str().unwrap().starts_with("sha256:"));
        assert_ne!(ha, &b["metadata"]["annotations"][DESIRED_HASH]);
        assert_eq!(
            a,
            with_hash(json!({"metadata": {"name": "a"}, "data": {"k": "v"}}))
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
        for (v, want) in [
            (Some("3"), 3),
            (Some("0"), 0),
            (Some("-1"), 0),
            (Some("x"), 0),
            (None, 0),
        ] {
            assert_eq!(wave(v.map(str::to_string).as_ref()), want, "{v:?}");
        }
    }
}
