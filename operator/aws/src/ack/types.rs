//! Types every ACK kind shares: `ackResourceMetadata`, tags, Secret key and resource references.

use std::collections::BTreeMap;

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
pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            t.key
                .clone()
                .map(|k| (k, t.value.clone().unwrap_or_default()))
        })
        .collect()
}

/// The Add/Remove calls that turn `observed` tags into `desired` (compared as sets). Tags
/// [`is_ignored_tag`] that `desired` does not list are left as they are: AWS's `aws:*` system
/// tags are never removed, nor are ACK's default tags (`services.k8s.aws/*`) when they are not
/// configured (`--resource-tags`); an `aws:*` key is never sent either.
pub fn tag_delta(desired: &[Tag], observed: &[Tag]) -> TagDelta {
    let want: BTreeMap<String, String> = tag_map(desired)
        .into_iter()
        .filter(|(k, _)| !is_system_tag(k))
        .collect();
    let have = tag_map(observed);
    TagDelta {
        add: want
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(v))
            .map(|(k, v)| Tag::new(k, v))
            .collect(),
        remove: have
            .keys()
            .filter(|k| !want.contains_key(*k) && !is_ignored_tag(k))
            .cloned()
            .collect(),
    }
}

/// The prefix of ACK's default tag keys (`services.k8s.aws/controller-version`,
/// `services.k8s.aws/namespace`).
pub const ACK_TAG_PREFIX: &str = "services.k8s.aws/";

/// True for a key AWS reserves (`aws:*`, any case): never the user's, never sent, never
/// removed, never copied into a spec.
pub fn is_system_tag(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// True for a tag the diff leaves alone unless the spec (with the default tags merged in) lists
/// it, and that is never copied into an adopted spec: `aws:*` system tags and ACK's default tag
/// keys (`services.k8s.aws/*`), as ACK's `FilterSystemTags` does.
pub fn is_ignored_tag(key: &str) -> bool {
    is_system_tag(key) || key.starts_with(ACK_TAG_PREFIX)
}

/// `tags` without the [`is_ignored_tag`] ones: what an adopted spec shows.
pub fn user_tags(tags: &[Tag]) -> Vec<Tag> {
    tags.iter()
        .filter(|t| !t.key.as_deref().is_some_and(is_ignored_tag))
        .cloned()
        .collect()
}

/// `desired` with the default `resource_tags` added; a key the spec sets keeps the spec's value
/// (ACK's `EnsureTags`: the resource's own tags take precedence).
pub fn with_default_tags(desired: &[Tag], defaults: &[Tag]) -> Vec<Tag> {
    let mut out = desired.to_vec();
    for d in defaults {
        if !desired.iter().any(|t| t.key == d.key) {
            out.push(d.clone());
        }
    }
    out
}

/// ACK's default `--resource-tags`.
pub const DEFAULT_RESOURCE_TAGS: &str = "services.k8s.aws/controller-version=%CONTROLLER_SERVICE%-%CONTROLLER_VERSION%,services.k8s.aws/namespace=%K8S_NAMESPACE%";

/// The placeholders a `--resource-tags` value may hold, as ACK's.
const PLACEHOLDERS: [&str; 4] = [
    "%CONTROLLER_SERVICE%",
    "%CONTROLLER_VERSION%",
    "%K8S_NAMESPACE%",
    "%K8S_RESOURCE_NAME%",
];

/// One default tag of `--resource-tags`: a key and a value template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceTag {
    /// The tag key.
    pub key: String,
    /// The value, with placeholders (`%CONTROLLER_SERVICE%`, `%CONTROLLER_VERSION%`,
    /// `%K8S_NAMESPACE%`, `%K8S_RESOURCE_NAME%`).
    pub template: String,
}

/// A `--resource-tags` value that cannot be used, with what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceTagsError {
    /// An item without `=`.
    #[error("--resource-tags item {0:?} is not key=value: write e.g. team=%K8S_NAMESPACE%")]
    NotKeyValue(String),
    /// An empty key.
    #[error("--resource-tags item {0:?} has an empty key: write key=value")]
    EmptyKey(String),
    /// An `aws:*` key.
    #[error(
        "--resource-tags key {0:?}: keys starting with aws: are reserved by AWS; use another key"
    )]
    SystemKey(String),
    /// A `%...%` that is not one of ACK's placeholders.
    #[error(
        "--resource-tags value {0:?} holds an unknown placeholder: use %CONTROLLER_SERVICE%, \
         %CONTROLLER_VERSION%, %K8S_NAMESPACE% or %K8S_RESOURCE_NAME%"
    )]
    Placeholder(String),
}

/// Parses `--resource-tags` (ACK's format: comma-separated `key=value`, values may hold
/// placeholders); an empty value means no default tags.
pub fn parse_resource_tags(s: &str) -> Result<Vec<ResourceTag>, ResourceTagsError> {
    let mut out: Vec<ResourceTag> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, template) = item
            .split_once('=')
            .ok_or_else(|| ResourceTagsError::NotKeyValue(item.to_owned()))?;
        let (key, template) = (key.trim(), template.trim());
        if key.is_empty() {
            return Err(ResourceTagsError::EmptyKey(item.to_owned()));
        }
        if is_system_tag(key) {
            return Err(ResourceTagsError::SystemKey(key.to_owned()));
        }
        let mut rest = template.to_owned();
        for p in PLACEHOLDERS {
            rest = rest.replace(p, "");
        }
        if rest.matches('%').count() >= 2 {
            return Err(ResourceTagsError::Placeholder(template.to_owned()));
        }
        out.retain(|t| t.key != key);
        out.push(ResourceTag {
            key: key.to_owned(),
            template: template.to_owned(),
        });
    }
    Ok(out)
}

/// What the placeholders of `--resource-tags` stand for, for one object.
#[derive(Clone, Copy, Debug)]
pub struct TagContext<'a> {
    /// The controller's service (`s3`, `rds`, `ec2`, `iam`).
    pub service: &'a str,
    /// The controller's version (kro-rs's).
    pub version: &'a str,
    /// The object's namespace.
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
}

/// The default tags of one object; a tag whose value comes out empty is skipped (as ACK).
pub fn render_resource_tags(tags: &[ResourceTag], cx: TagContext<'_>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|t| {
            let value = t
                .template
                .replace("%CONTROLLER_SERVICE%", cx.service)
                .replace("%CONTROLLER_VERSION%", cx.version)
                .replace("%K8S_NAMESPACE%", cx.namespace)
                .replace("%K8S_RESOURCE_NAME%", cx.name);
            (!value.is_empty()).then(|| Tag::new(&t.key, value))
        })
        .collect()
}

/// The AWS partition of `region` (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`,
/// `aws-iso-e`, `aws-iso-f`, `aws-eusc`), as the SDK's partition table names them.
pub fn partition(region: &str) -> &'static str {
    let r = region.to_ascii_lowercase();
    if r.starts_with("cn-") {
        "aws-cn"
    } else if r.starts_with("us-gov-") {
        "aws-us-gov"
    } else if r.starts_with("us-isob-") {
        "aws-iso-b"
    } else if r.starts_with("us-iso-") {
        "aws-iso"
    } else if r.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if r.starts_with("us-isof-") {
        "aws-iso-f"
    } else if r.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
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

    /// `aws:*` tags (a CloudFormation stack's, say) and ACK's default keys that are not
    /// configured stay; an `aws:*` key in the desired set is never sent.
    #[test]
    fn tag_delta_leaves_system_and_ack_default_tags() {
        let t = |k: &str, v: &str| Tag::new(k, v);
        let observed = vec![
            t("aws:cloudformation:stack-name", "s"),
            t("AWS:other", "x"),
            t("services.k8s.aws/namespace", "old"),
            t("team", "a"),
        ];
        assert_eq!(
            tag_delta(&[t("team", "b")], &observed),
            TagDelta {
                add: vec![t("team", "b")],
                remove: vec![],
            }
        );
        assert_eq!(
            tag_delta(&[], &observed),
            TagDelta {
                add: vec![],
                remove: vec!["team".into()],
            }
        );
        assert_eq!(
            tag_delta(
                &[t("services.k8s.aws/namespace", "prod"), t("aws:x", "1")],
                &observed
            ),
            TagDelta {
                add: vec![t("services.k8s.aws/namespace", "prod")],
                remove: vec!["team".into()],
            }
        );
        assert_eq!(user_tags(&observed), vec![t("team", "a")]);
        assert!(is_system_tag("aws:x") && is_system_tag("Aws:y") && !is_system_tag("aw"));
    }

    #[test]
    fn resource_tags_parse_and_render_as_ack() {
        let tags = parse_resource_tags(DEFAULT_RESOURCE_TAGS).unwrap();
        let cx = TagContext {
            service: "s3",
            version: "0.4.0",
            namespace: "team-a",
            name: "b",
        };
        assert_eq!(
            render_resource_tags(&tags, cx),
            vec![
                Tag::new("services.k8s.aws/controller-version", "s3-0.4.0"),
                Tag::new("services.k8s.aws/namespace", "team-a"),
            ]
        );
        assert_eq!(parse_resource_tags(""), Ok(vec![]));
        assert_eq!(parse_resource_tags(" , "), Ok(vec![]));
        let custom = parse_resource_tags("owner=%K8S_RESOURCE_NAME%, empty=, cost=42").unwrap();
        assert_eq!(
            render_resource_tags(&custom, cx),
            vec![Tag::new("owner", "b"), Tag::new("cost", "42")]
        );
        let errors = [
            ("team", "is not key=value"),
            ("=x", "empty key"),
            ("aws:x=1", "reserved by AWS"),
            ("a=%K8S_NAMESPCE%", "unknown placeholder"),
        ];
        for (input, want) in errors {
            let err = parse_resource_tags(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
        let merged = with_default_tags(
            &[Tag::new("services.k8s.aws/namespace", "mine")],
            &render_resource_tags(&tags, cx),
        );
        assert_eq!(
            merged,
            vec![
                Tag::new("services.k8s.aws/namespace", "mine"),
                Tag::new("services.k8s.aws/controller-version", "s3-0.4.0"),
            ]
        );
    }
}
