//! Label selectors as kro writes them (`matchLabels` / `matchExpressions`): rendered for LIST
//! requests and matched against labels for routing watch events.
//!
//! Matching is kube-core's [`Selector`]. The rendering stays here because `Selector`'s
//! `Display` does not fit: it sorts the values of `in (...)`, and it cannot render a selector
//! with an unknown operator at all, where the LIST kro sends leaves that expression out.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use serde::Deserialize;
use serde_json::Value;

fn values(expression: &Value) -> Vec<String> {
    expression
        .get("values")
        .and_then(Value::as_array)
        .map(|listed| {
            listed
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The selector as a query string (`a=b,c in (d,e)`); empty selects everything.
pub fn to_query(selector: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in match_labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let op = expression
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let vals = values(expression).join(",");
        match op {
            "In" => parts.push(format!("{key} in ({vals})")),
            "NotIn" => parts.push(format!("{key} notin ({vals})")),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// Whether `labels` satisfy the selector; a selector that is not a valid `LabelSelector` (an
/// unknown operator, `In` without values) matches nothing.
pub fn matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    LabelSelector::deserialize(selector)
        .ok()
        .and_then(|parsed| Selector::try_from(parsed).ok())
        .is_some_and(|parsed| parsed.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_and_match() {
        let labels: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "db".to_string()),
        ]
        .into();
        for (sel, query, want) in [
            (json!({}), "", true),
            (json!({"matchLabels": {"app": "web"}}), "app=web", true),
            (json!({"matchLabels": {"app": "api"}}), "app=api", false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db", "cache"]}]}),
                "tier in (db,cache)",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}),
                "tier notin (db)",
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                "app",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
                "!x",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Bogus"}]}),
                "",
                false,
            ),
        ] {
            assert_eq!(to_query(&sel), query, "{sel}");
            assert_eq!(matches(&sel, &labels), want, "{sel}");
        }
    }
}
