//! Types every ACK kind shares: `ackResourceMetadata`, tags, Secret key and resource references.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `status.ackResourceMetadata`: where the AWS resource lives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AckResourceMetadata {
    /// The resource's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The AWS account that owns the resource.
    #[serde(rename = "ownerAccountID")]
    pub owner_account_id: String,
    /// The region the resource lives in.
    pub region: String,
    /// The AWS partition the resource lives in (`aws`, `aws-cn`, `aws-us-gov`, ...), from its
    /// ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// kro-rs's proof of ownership: the AWS identifier this object created or adopted, written
    /// by the controller (in status, which whoever creates the object cannot set) before it
    /// calls Create; empty when the object only reads the resource (read-only). A finalizer
    /// alone never makes a resource managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// An AWS tag, `{key, value}`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Tag {
    /// Tag key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Tag value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Tag {
    /// A tag from key and value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: Some(key.into()),
            value: Some(value.into()),
        }
    }
}

/// ACK's `SecretKeyReference`: one key of a Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyReference {
    /// Namespace of the Secret; the resource's own namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Key in the Secret's data.
    pub key: String,
}

/// ACK's `AWSResourceReferenceWrapper`: `{from: {name, namespace}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AwsResourceReferenceWrapper {
    /// The referenced Kubernetes resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<AwsResourceReference>,
}

/// Name (and optional namespace) of a referenced ACK resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AwsResourceReference {
    /// Name of the referenced resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace; the referring resource's own when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Tags to add and keys to remove so that AWS holds exactly `desired`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagDelta {
    /// Tags to add or overwrite.
    pub add: Vec<Tag>,
    /// Keys to remove.
    pub remove: Vec<String>,
}

impl TagDelta {
    /// True when nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Tags as a sorted key → value map (tags without a key are ignored).
pub fn tag_map(tags: &[Tag]) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            t.key
                .clone()
                .map(|k| (k, t.value.clone().unwrap_or_default()))
        })
        .collect()
}

/// The Add/Remove calls that turn `observed` tags into `desired` (compared as sets).
pub fn tag_delta(desired: &[Tag], observed: &[Tag]) -> TagDelta {
    let want = tag_map(desired);
    let have = tag_map(observed);
    TagDelta {
        add: want
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(v))
            .map(|(k, v)| Tag::new(k, v))
            .collect(),
        remove: have
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_delta_table() {
        let t = |k: &str, v: &str| Tag::new(k, v);
        let cases = vec![
            (vec![], vec![], TagDelta::default()),
            (vec![t("a", "1")], vec![t("a", "1")], TagDelta::default()),
            (
                vec![t("a", "1"), t("b", "2")],
                vec![t("b", "2"), t("a", "1")],
                TagDelta::default(),
            ),
            (
                vec![t("a", "2")],
                vec![t("a", "1")],
                TagDelta {
                    add: vec![t("a", "2")],
                    remove: vec![],
                },
            ),
            (
                vec![],
                vec![t("a", "1")],
                TagDelta {
                    add: vec![],
                    remove: vec!["a".into()],
                },
            ),
            (
                vec![t("b", "1")],
                vec![t("a", "1")],
                TagDelta {
                    add: vec![t("b", "1")],
                    remove: vec!["a".into()],
                },
            ),
        ];
        for (desired, observed, want) in cases {
            assert_eq!(
                tag_delta(&desired, &observed),
                want,
                "{desired:?} vs {observed:?}"
            );
        }
    }
}
