//! `iam.services.k8s.aws/v1alpha1 Policy`: a customer managed policy, with ACK's API. IAM has no
//! UpdatePolicy: a changed document becomes a new default version (the oldest non-default one
//! deleted first at IAM's limit of five), and a delete removes the other versions first.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Tagged, aws, document, found};
use crate::ack::condition::Condition;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, Tag, TagDelta, tag_delta};

/// Spec of a managed policy (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "iam.services.k8s.aws",
    version = "v1alpha1",
    kind = "Policy",
    plural = "policies",
    namespaced,
    status = "PolicyStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// The policy's name, unique in the account (case-insensitive). Immutable.
    pub name: String,
    /// The JSON policy document. A change becomes a new default policy version.
    pub policy_document: String,
    /// A description; IAM cannot change it once the policy exists. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The path (`/` when omitted), part of the ARN. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Tags; absent or empty removes every tag (`aws:*` tags are AWS's and left alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of a managed policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The number of users, groups and roles the policy is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_count: Option<i64>,
    /// When the policy was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub create_date: Option<String>,
    /// The default version (`v1`, `v2`, ...): the document in force.
    #[serde(
        default,
        rename = "defaultVersionID",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_version_id: Option<String>,
    /// Whether the policy can be attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_attachable: Option<bool>,
    /// The number of entities using the policy as their permissions boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_usage_count: Option<i64>,
    /// IAM's stable id of the policy.
    #[serde(default, rename = "policyID", skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// When the policy was last updated (its newest version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub update_date: Option<String>,
}

crate::ack::runtime::impl_ack_status!(PolicyStatus);

/// A `date-time` string field.
pub(crate) fn date_time(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "format": "date-time"})
}

/// IAM's largest managed policy document, in characters without whitespace.
pub const MAX_DOCUMENT: usize = 6144;

/// IAM's most versions per managed policy.
pub const MAX_VERSIONS: usize = 5;

/// What IAM holds for a managed policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedPolicy {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// The default version's document, URL-decoded.
    pub document: String,
    /// User tags (no `aws:*`).
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: PolicyStatus,
}

/// One version of a policy, as ListPolicyVersions reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// `v1`, `v2`, ...
    pub id: String,
    /// Whether it is the default.
    pub default: bool,
    /// Creation time, seconds since the epoch (0 when unknown).
    pub created: i64,
}

/// The calls that bring a policy in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyDelta {
    /// A new default version with this document.
    pub document: Option<String>,
    /// Tag changes.
    pub tags: TagDelta,
}

/// Checks what IAM would refuse or cannot do, with the field to change: the document's size,
/// the tags, and a description or path that differ from the existing policy's (IAM cannot
/// change them).
pub(crate) fn check(spec: &PolicySpec, observed: Option<&ObservedPolicy>) -> Result<(), SyncError> {
    super::check_tags(spec.tags.as_deref())?;
    let size = super::document_size(&spec.policy_document);
    if size > MAX_DOCUMENT {
        return Err(SyncError::Terminal(format!(
            "spec.policyDocument has {size} characters without whitespace: IAM allows at most \
             {MAX_DOCUMENT} in a managed policy; split it into several policies"
        )));
    }
    if let Some(o) = observed {
        if let Some(want) = &spec.description
            && o.description.as_deref().unwrap_or_default() != want
        {
            return Err(SyncError::Terminal(format!(
                "spec.description: IAM cannot change a policy's description (it is {:?}): set \
                 it back, or create a new Policy",
                o.description.as_deref().unwrap_or_default()
            )));
        }
        let want_path = spec
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        if want_path != o.path {
            return Err(SyncError::Terminal(format!(
                "spec.path: IAM cannot move a policy to another path (it is {:?}): set it back, \
                 or create a new Policy",
                o.path
            )));
        }
    }
    Ok(())
}

/// Desired vs observed: the document compared in canonical form, the user's tags as a set.
pub fn policy_delta(desired: &PolicySpec, observed: &ObservedPolicy) -> PolicyDelta {
    PolicyDelta {
        document: (!document::equal(&desired.policy_document, &observed.document))
            .then(|| desired.policy_document.clone()),
        tags: tag_delta(desired.tags.as_deref().unwrap_or_default(), &observed.tags),
    }
}

/// The version to delete before a new one can be created: the oldest non-default one when the
/// policy has [`MAX_VERSIONS`] already.
pub fn version_to_delete(versions: &[Version]) -> Option<String> {
    if versions.len() < MAX_VERSIONS {
        return None;
    }
    versions
        .iter()
        .filter(|v| !v.default)
        .min_by_key(|v| (v.created, version_number(&v.id)))
        .map(|v| v.id.clone())
}

fn version_number(id: &str) -> u64 {
    id.trim_start_matches('v').parse().unwrap_or(u64::MAX)
}

/// The spec of an adopted policy.
pub fn adopted_spec(observed: &ObservedPolicy) -> Value {
    let mut spec = json!({
        "name": observed.name,
        "policyDocument": observed.document,
        "path": observed.path,
        "tags": observed.tags,
    });
    if let Some(d) = &observed.description {
        spec["description"] = json!(d);
    }
    spec
}

impl Policy {
    /// The ARN of policy `id` (an ARN already, from adoption-fields, or this spec's name).
    async fn arn_of(&self, cx: &SyncCx<'_>, id: &str) -> Result<String, SyncError> {
        if id.starts_with("arn:") {
            return Ok(id.to_owned());
        }
        let account = cx.ctx.owner_account(&cx.aws).await?;
        Ok(super::arn(
            super::partition(&cx.region),
            &account,
            "policy",
            self.spec.path.as_deref(),
            id,
        ))
    }
}

async fn read(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Option<ObservedPolicy>, SyncError> {
    let res = iam.get_policy().policy_arn(arn).send().await;
    let Some(out) = found("GetPolicy", res)? else {
        return Ok(None);
    };
    let Some(p) = out.policy() else {
        return Ok(None);
    };
    let arn = p.arn().unwrap_or(arn).to_owned();
    let default_version = p.default_version_id().unwrap_or("v1").to_owned();
    let version = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(&default_version)
        .send()
        .await
        .map_err(aws("GetPolicyVersion"))?;
    let document = version
        .policy_version()
        .and_then(|v| v.document())
        .map(document::decode)
        .unwrap_or_default();
    let tags = list_tags(iam, &arn).await?;
    Ok(Some(ObservedPolicy {
        name: p.policy_name().unwrap_or_default().to_owned(),
        path: p.path().unwrap_or("/").to_owned(),
        description: p.description().map(str::to_owned),
        document,
        tags,
        status: PolicyStatus {
            attachment_count: p.attachment_count().map(i64::from),
            create_date: p.create_date().and_then(super::date),
            default_version_id: Some(default_version),
            is_attachable: Some(p.is_attachable()),
            permissions_boundary_usage_count: p.permissions_boundary_usage_count().map(i64::from),
            policy_id: p.policy_id().map(str::to_owned),
            update_date: p.update_date().and_then(super::date),
            ..Default::default()
        },
        arn,
    }))
}

async fn list_tags(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Vec<Tag>, SyncError> {
    let mut tags = Vec::new();
    let mut marker = None;
    for _ in 0..super::MAX_PAGES {
        let out = iam
            .list_policy_tags()
            .policy_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws("ListPolicyTags"))?;
        tags.extend(super::user_tags(out.tags()));
        marker = out.marker().map(str::to_owned);
        if !out.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(tags)
}

async fn list_versions(iam: &aws_sdk_iam::Client, arn: &str) -> Result<Vec<Version>, SyncError> {
    let mut versions = Vec::new();
    let mut marker = None;
    for _ in 0..super::MAX_PAGES {
        let out = iam
            .list_policy_versions()
            .policy_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws("ListPolicyVersions"))?;
        versions.extend(out.versions().iter().map(|v| Version {
            id: v.version_id().unwrap_or_default().to_owned(),
            default: v.is_default_version(),
            created: v.create_date().map(|d| d.secs()).unwrap_or_default(),
        }));
        marker = out.marker().map(str::to_owned);
        if !out.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(versions)
}

async fn delete_version(iam: &aws_sdk_iam::Client, arn: &str, id: &str) -> Result<(), SyncError> {
    let res = iam
        .delete_policy_version()
        .policy_arn(arn)
        .version_id(id)
        .send()
        .await;
    found("DeletePolicyVersion", res).map(|_| ())
}

impl AckKind for Policy {
    const FINALIZER: &'static str = "finalizers.iam.services.k8s.aws/Policy";
    const TERMINAL_CODES: &'static [&'static str] = super::TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = super::ALREADY_EXISTS_CODES;
    /// ACK adopts a policy by its ARN.
    const ADOPTION_KEY: &'static str = "arn";
    type Observed = ObservedPolicy;

    fn identifier(&self) -> String {
        self.spec.name.clone()
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedPolicy>, SyncError> {
        let arn = self.arn_of(cx, id).await?;
        read(&cx.aws.iam, &arn).await
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        check(&self.spec, None)?;
        let name = id.rsplit('/').next().unwrap_or(id);
        let tags = self.spec.tags.as_deref().unwrap_or_default();
        cx.aws
            .iam
            .create_policy()
            .policy_name(name)
            .policy_document(&self.spec.policy_document)
            .set_path(self.spec.path.clone())
            .set_description(self.spec.description.clone())
            .set_tags((!tags.is_empty()).then(|| super::sdk_tags(tags)))
            .send()
            .await
            .map_err(aws("CreatePolicy"))?;
        tracing::info!(name, "IAM policy created");
        Ok(Created::default())
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        _id: &str,
        observed: ObservedPolicy,
    ) -> Result<Synced, SyncError> {
        check(&self.spec, Some(&observed))?;
        let delta = policy_delta(&self.spec, &observed);
        let iam = &cx.aws.iam;
        let arn = observed.arn.clone();
        let mut status = observed.status.clone();
        let mut updated = Vec::new();
        if !delta.tags.is_empty() {
            super::apply_tags(iam, Tagged::Policy(&arn), &delta.tags).await?;
            updated.push("tags".to_owned());
        }
        if let Some(doc) = &delta.document {
            let versions = list_versions(iam, &arn).await?;
            if let Some(oldest) = version_to_delete(&versions) {
                delete_version(iam, &arn, &oldest).await?;
                updated.push(format!("DeletePolicyVersion {oldest}"));
            }
            let out = iam
                .create_policy_version()
                .policy_arn(&arn)
                .policy_document(doc)
                .set_as_default(true)
                .send()
                .await
                .map_err(aws("CreatePolicyVersion"))?;
            if let Some(v) = out.policy_version().and_then(|v| v.version_id()) {
                status.default_version_id = Some(v.to_owned());
            }
            updated.push("CreatePolicyVersion".to_owned());
            tracing::info!(arn, "IAM policy document updated");
        }
        Ok(Synced {
            updated,
            arn: Some(arn),
            status: serde_json::to_value(&status).unwrap_or_default(),
            ..Default::default()
        })
    }

    fn adopted_spec(_id: &str, observed: &ObservedPolicy) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        _id: &str,
        observed: ObservedPolicy,
    ) -> Result<Deleted, SyncError> {
        let iam = &cx.aws.iam;
        for v in list_versions(iam, &observed.arn).await? {
            if !v.default {
                delete_version(iam, &observed.arn, &v.id).await?;
            }
        }
        let res = iam.delete_policy().policy_arn(&observed.arn).send().await;
        found("DeletePolicy", res)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn spec(doc: &str, tags: Option<Vec<Tag>>) -> PolicySpec {
        PolicySpec {
            name: "p".into(),
            policy_document: doc.into(),
            tags,
            ..Default::default()
        }
    }

    fn observed(doc: &str, tags: Vec<Tag>) -> ObservedPolicy {
        ObservedPolicy {
            arn: "arn:aws:iam::123456789012:policy/p".into(),
            name: "p".into(),
            path: "/".into(),
            document: doc.into(),
            tags,
            ..Default::default()
        }
    }

    #[test]
    fn delta_table() {
        let reformatted = r#"{ "Statement": { "Resource": ["*"], "Action": ["s3:GetObject"], "Effect": "Allow" }, "Version": "2012-10-17" }"#;
        let changed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
        let cases = vec![
            (
                "in sync",
                spec(DOC, None),
                observed(DOC, vec![]),
                PolicyDelta::default(),
            ),
            (
                "the same policy written otherwise",
                spec(reformatted, None),
                observed(DOC, vec![]),
                PolicyDelta::default(),
            ),
            (
                "a new document",
                spec(changed, None),
                observed(DOC, vec![]),
                PolicyDelta {
                    document: Some(changed.into()),
                    ..Default::default()
                },
            ),
            (
                "absent tags remove the user's tags",
                spec(DOC, None),
                observed(DOC, vec![Tag::new("old", "x")]),
                PolicyDelta {
                    tags: TagDelta {
                        add: vec![],
                        remove: vec!["old".into()],
                    },
                    ..Default::default()
                },
            ),
            (
                "a tag changed",
                spec(DOC, Some(vec![Tag::new("team", "b")])),
                observed(DOC, vec![Tag::new("team", "a")]),
                PolicyDelta {
                    tags: TagDelta {
                        add: vec![Tag::new("team", "b")],
                        remove: vec![],
                    },
                    ..Default::default()
                },
            ),
        ];
        for (name, desired, obs, want) in cases {
            assert_eq!(policy_delta(&desired, &obs), want, "{name}");
        }
    }

    #[test]
    fn the_oldest_non_default_version_goes_at_the_limit() {
        let v = |id: &str, default, created| Version {
            id: id.into(),
            default,
            created,
        };
        let four = vec![
            v("v1", false, 1),
            v("v2", false, 2),
            v("v3", false, 3),
            v("v4", true, 4),
        ];
        assert_eq!(version_to_delete(&four), None, "room for a fifth");
        let five = vec![
            v("v2", false, 2),
            v("v3", false, 3),
            v("v1", true, 1),
            v("v4", false, 4),
            v("v5", false, 5),
        ];
        assert_eq!(
            version_to_delete(&five).as_deref(),
            Some("v2"),
            "v1 is the default"
        );
        let same_second = vec![
            v("v10", false, 7),
            v("v9", false, 7),
            v("v11", false, 7),
            v("v12", false, 7),
            v("v13", true, 7),
        ];
        assert_eq!(version_to_delete(&same_second).as_deref(), Some("v9"));
    }

    #[test]
    fn check_names_the_field_to_change() {
        let huge = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"{}"}}]}}"#,
            "x".repeat(MAX_DOCUMENT)
        );
        let err = check(&spec(&huge, None), None).unwrap_err().to_string();
        assert!(err.starts_with("spec.policyDocument has "), "{err}");
        assert!(err.contains("at most 6144"), "{err}");
        let mut described = spec(DOC, None);
        described.description = Some("new".into());
        let mut obs = observed(DOC, vec![]);
        obs.description = Some("old".into());
        let err = check(&described, Some(&obs)).unwrap_err().to_string();
        assert!(
            err.starts_with("spec.description: IAM cannot change"),
            "{err}"
        );
        let mut moved = spec(DOC, None);
        moved.path = Some("/team/".into());
        let err = check(&moved, Some(&observed(DOC, vec![])))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("spec.path: "), "{err}");
        assert!(check(&spec(DOC, None), Some(&observed(DOC, vec![]))).is_ok());
    }

    #[test]
    fn adopted_spec_carries_iams_state() {
        let mut obs = observed(DOC, vec![Tag::new("k", "v")]);
        obs.description = Some("d".into());
        assert_eq!(
            adopted_spec(&obs),
            json!({"name": "p", "policyDocument": DOC, "path": "/", "description": "d",
                   "tags": [{"key": "k", "value": "v"}]})
        );
    }
}
