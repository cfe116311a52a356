//! `iam.services.k8s.aws/v1alpha1 Role`: an IAM role with its trust policy, managed policies
//! (`policies`, or `policyRefs` to Policy objects), inline policies, permissions boundary and
//! tags, with ACK's API.

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Tagged, aws, document, found};
use crate::ack::condition::Condition;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{
    AckResourceMetadata, AwsResourceReferenceWrapper, Tag, TagDelta, tag_delta,
};

/// Spec of an IAM role (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "iam.services.k8s.aws",
    version = "v1alpha1",
    kind = "Role",
    plural = "roles",
    namespaced,
    status = "RoleStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct RoleSpec {
    /// The role's name, unique in the account (case-insensitive). Immutable.
    pub name: String,
    /// The trust policy: who may assume the role (a JSON policy document).
    pub assume_role_policy_document: String,
    /// A description of the role; absent leaves IAM's as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inline policies, name to JSON document; absent or empty removes every inline policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policies: Option<BTreeMap<String, String>>,
    /// The longest session, in seconds (3600 to 43200); filled in from IAM (3600) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i64>,
    /// The path (`/` when absent, then filled in), part of the ARN. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// ARN of the managed policy that bounds the role's permissions; absent removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// A Policy object whose ARN is the permissions boundary, instead of `permissionsBoundary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_ref: Option<AwsResourceReferenceWrapper>,
    /// ARNs of the managed policies attached to the role; absent or empty detaches every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// Policy objects to attach (their ARNs), instead of `policies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_refs: Option<Vec<AwsResourceReferenceWrapper>>,
    /// Tags; absent or empty removes every tag (`aws:*` tags are AWS's and left alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of an IAM role.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// When the role was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::policy::date_time")]
    pub create_date: Option<String>,
    /// IAM's stable id of the role.
    #[serde(default, rename = "roleID", skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// When and where the role was last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_last_used: Option<RoleLastUsed>,
}

crate::ack::runtime::impl_ack_status!(RoleStatus);

/// When and where a role was last used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleLastUsed {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::policy::date_time")]
    pub last_used_date: Option<String>,
    /// The region it was used in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// IAM's shortest and longest `maxSessionDuration`, in seconds.
pub const SESSION_DURATION: std::ops::RangeInclusive<i64> = 3600..=43200;

/// IAM's most managed policies per role (its highest quota).
pub const MAX_MANAGED_POLICIES: usize = 20;

/// IAM's limit on a role's inline policies together, in characters without whitespace.
pub const MAX_INLINE_SIZE: usize = 10240;

/// What IAM holds for a role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRole {
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// The trust policy, URL-decoded.
    pub assume_role_policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// Longest session.
    pub max_session_duration: Option<i64>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Attached managed policy ARNs.
    pub policies: Vec<String>,
    /// Inline policies, URL-decoded.
    pub inline_policies: BTreeMap<String, String>,
    /// User tags (no `aws:*`).
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: RoleStatus,
}

/// UpdateRole's fields that differ.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleUpdate {
    /// New description.
    pub description: Option<String>,
    /// New longest session.
    pub max_session_duration: Option<i64>,
}

/// The calls that bring a role in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleDelta {
    /// UpdateAssumeRolePolicy with this document.
    pub trust_policy: Option<String>,
    /// UpdateRole.
    pub update: Option<RoleUpdate>,
    /// AttachRolePolicy.
    pub attach: Vec<String>,
    /// DetachRolePolicy.
    pub detach: Vec<String>,
    /// PutRolePolicy (name, document).
    pub put_inline: Vec<(String, String)>,
    /// DeleteRolePolicy.
    pub delete_inline: Vec<String>,
    /// `Some(Some(arn))`: PutRolePermissionsBoundary; `Some(None)`: delete it.
    pub boundary: Option<Option<String>>,
    /// Tag changes.
    pub tags: TagDelta,
}

impl RoleDelta {
    /// True when nothing needs to change.
    pub fn is_empty(&self) -> bool {
        *self == RoleDelta::default()
    }
}

/// Checks what IAM would refuse, naming the field to change: the session duration, the
/// number of managed policies, the size of the inline policies and the tags.
pub(crate) fn check(spec: &RoleSpec) -> Result<(), SyncError> {
    super::check_tags(spec.tags.as_deref())?;
    if let Some(d) = spec.max_session_duration
        && !SESSION_DURATION.contains(&d)
    {
        return Err(SyncError::Terminal(format!(
            "spec.maxSessionDuration is {d}: IAM accepts {} to {} seconds (1 to 12 hours)",
            SESSION_DURATION.start(),
            SESSION_DURATION.end()
        )));
    }
    let policies: BTreeSet<&String> = spec.policies.iter().flatten().collect();
    if policies.len() > MAX_MANAGED_POLICIES {
        return Err(SyncError::Terminal(format!(
            "spec.policies has {} policies: IAM attaches at most {MAX_MANAGED_POLICIES} to a \
             role; combine some into one Policy",
            policies.len()
        )));
    }
    let mut size = 0;
    for (name, doc) in spec.inline_policies.iter().flatten() {
        if name.is_empty() {
            return Err(SyncError::Terminal(
                "spec.inlinePolicies has a policy with an empty name: name every inline policy"
                    .into(),
            ));
        }
        size += super::document_size(doc);
    }
    if size > MAX_INLINE_SIZE {
        return Err(SyncError::Terminal(format!(
            "spec.inlinePolicies hold {size} characters without whitespace: IAM allows at most \
             {MAX_INLINE_SIZE} for one role's inline policies; move some into a Policy"
        )));
    }
    Ok(())
}

/// Desired vs observed. Documents compare in canonical form; managed policies as a set;
/// policies, inline policies, boundary and tags absent from the spec are none (as ACK);
/// description and session duration only when the spec gives them.
pub fn role_delta(desired: &RoleSpec, observed: &ObservedRole) -> RoleDelta {
    let trust_policy = (!document::equal(
        &desired.assume_role_policy_document,
        &observed.assume_role_policy_document,
    ))
    .then(|| desired.assume_role_policy_document.clone());
    let description = desired
        .description
        .clone()
        .filter(|d| observed.description.as_deref().unwrap_or_default() != d);
    let max_session_duration = desired
        .max_session_duration
        .filter(|d| observed.max_session_duration != Some(*d));
    let update = (description.is_some() || max_session_duration.is_some()).then_some(RoleUpdate {
        description,
        max_session_duration,
    });
    let want: BTreeSet<&String> = desired.policies.iter().flatten().collect();
    let have: BTreeSet<&String> = observed.policies.iter().collect();
    let attach = want.difference(&have).map(|s| (*s).clone()).collect();
    let detach = have.difference(&want).map(|s| (*s).clone()).collect();
    let inline = desired.inline_policies.clone().unwrap_or_default();
    let put_inline = inline
        .iter()
        .filter(|(name, doc)| {
            observed
                .inline_policies
                .get(*name)
                .is_none_or(|have| !document::equal(doc, have))
        })
        .map(|(n, d)| (n.clone(), d.clone()))
        .collect();
    let delete_inline = observed
        .inline_policies
        .keys()
        .filter(|n| !inline.contains_key(*n))
        .cloned()
        .collect();
    let want_boundary = desired
        .permissions_boundary
        .clone()
        .filter(|b| !b.is_empty());
    let boundary = (want_boundary != observed.permissions_boundary).then_some(want_boundary);
    RoleDelta {
        trust_policy,
        update,
        attach,
        detach,
        put_inline,
        delete_inline,
        boundary,
        tags: tag_delta(desired.tags.as_deref().unwrap_or_default(), &observed.tags),
    }
}

/// The spec of an adopted role.
pub fn adopted_spec(name: &str, observed: &ObservedRole) -> Value {
    let mut spec = json!({
        "name": name,
        "assumeRolePolicyDocument": observed.assume_role_policy_document,
        "path": observed.path,
        "policies": observed.policies,
        "inlinePolicies": observed.inline_policies,
        "tags": observed.tags,
    });
    if let Some(d) = &observed.description {
        spec["description"] = json!(d);
    }
    if let Some(d) = observed.max_session_duration {
        spec["maxSessionDuration"] = json!(d);
    }
    if let Some(b) = &observed.permissions_boundary {
        spec["permissionsBoundary"] = json!(b);
    }
    spec
}

/// What late initialization writes into the spec: IAM's path and session duration when the
/// spec leaves them out (ACK late-initializes both), so they never read as drift.
pub fn late_init(desired: &RoleSpec, observed: &ObservedRole) -> Option<Value> {
    let mut patch = serde_json::Map::new();
    if desired.path.is_none() {
        patch.insert("path".into(), json!(observed.path));
    }
    if let (None, Some(d)) = (desired.max_session_duration, observed.max_session_duration) {
        patch.insert("maxSessionDuration".into(), json!(d));
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// A Role's `policyRefs` and `permissionsBoundaryRef` point at Policy objects, for their ARN.
const POLICY_REF: RefTarget = RefTarget {
    group: "iam.services.k8s.aws",
    version: "v1alpha1",
    kind: "Policy",
    plural: "policies",
    path: &["status", "ackResourceMetadata", "arn"],
};

async fn read(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<ObservedRole>, SyncError> {
    let res = iam.get_role().role_name(name).send().await;
    let Some(out) = found("GetRole", res)? else {
        return Ok(None);
    };
    let Some(r) = out.role() else {
        return Ok(None);
    };
    Ok(Some(ObservedRole {
        arn: r.arn().to_owned(),
        path: r.path().to_owned(),
        assume_role_policy_document: r
            .assume_role_policy_document()
            .map(document::decode)
            .unwrap_or_default(),
        description: r.description().map(str::to_owned),
        max_session_duration: r.max_session_duration().map(i64::from),
        permissions_boundary: r
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        policies: attached_policies(iam, name).await?,
        inline_policies: inline_policies(iam, name).await?,
        tags: list_tags(iam, name).await?,
        status: RoleStatus {
            create_date: super::date(r.create_date()),
            role_id: Some(r.role_id().to_owned()),
            role_last_used: r.role_last_used().map(|u| RoleLastUsed {
                last_used_date: u.last_used_date().and_then(super::date),
                region: u.region().map(str::to_owned),
            }),
            ..Default::default()
        },
    }))
}

async fn attached_policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<Vec<String>, SyncError> {
    let mut arns = Vec::new();
    let mut marker = None;
    for _ in 0..super::MAX_PAGES {
        let out = iam
            .list_attached_role_policies()
            .role_name(name)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws("ListAttachedRolePolicies"))?;
        arns.extend(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned)),
        );
        marker = out.marker().map(str::to_owned);
        if !out.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(arns)
}

async fn inline_policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<BTreeMap<String, String>, SyncError> {
    let mut names = Vec::new();
    let mut marker = None;
    for _ in 0..super::MAX_PAGES {
        let out = iam
            .list_role_policies()
            .role_name(name)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws("ListRolePolicies"))?;
        names.extend(out.policy_names().iter().cloned());
        marker = out.marker().map(str::to_owned);
        if !out.is_truncated() || marker.is_none() {
            break;
        }
    }
    let mut docs = BTreeMap::new();
    for policy in names {
        let res = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await;
        // Deleted between the list and the get: not there.
        if let Some(out) = found("GetRolePolicy", res)? {
            docs.insert(policy, document::decode(out.policy_document()));
        }
    }
    Ok(docs)
}

async fn list_tags(iam: &aws_sdk_iam::Client, name: &str) -> Result<Vec<Tag>, SyncError> {
    let mut tags = Vec::new();
    let mut marker = None;
    for _ in 0..super::MAX_PAGES {
        let out = iam
            .list_role_tags()
            .role_name(name)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws("ListRoleTags"))?;
        tags.extend(super::user_tags(out.tags()));
        marker = out.marker().map(str::to_owned);
        if !out.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(tags)
}

fn session(d: i64) -> Result<i32, SyncError> {
    i32::try_from(d).map_err(|_| {
        SyncError::Terminal(format!(
            "spec.maxSessionDuration is {d}: IAM accepts 3600 to 43200 seconds"
        ))
    })
}

/// Runs the calls of `delta` on role `name`, in ACK's order (managed policies, inline policies,
/// tags, boundary, trust policy, then UpdateRole); returns the calls made.
async fn apply(
    iam: &aws_sdk_iam::Client,
    name: &str,
    delta: &RoleDelta,
) -> Result<Vec<String>, SyncError> {
    let mut calls = Vec::new();
    for arn in &delta.attach {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(aws("AttachRolePolicy"))?;
        calls.push(format!("AttachRolePolicy {arn}"));
    }
    for arn in &delta.detach {
        let res = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await;
        found("DetachRolePolicy", res)?;
        calls.push(format!("DetachRolePolicy {arn}"));
    }
    for (policy, doc) in &delta.put_inline {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(doc)
            .send()
            .await
            .map_err(aws("PutRolePolicy"))?;
        calls.push(format!("PutRolePolicy {policy}"));
    }
    for policy in &delta.delete_inline {
        let res = iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await;
        found("DeleteRolePolicy", res)?;
        calls.push(format!("DeleteRolePolicy {policy}"));
    }
    if !delta.tags.is_empty() {
        super::apply_tags(iam, Tagged::Role(name), &delta.tags).await?;
        calls.push("tags".to_owned());
    }
    match &delta.boundary {
        Some(Some(arn)) => {
            iam.put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(arn)
                .send()
                .await
                .map_err(aws("PutRolePermissionsBoundary"))?;
            calls.push("PutRolePermissionsBoundary".to_owned());
        }
        Some(None) => {
            let res = iam
                .delete_role_permissions_boundary()
                .role_name(name)
                .send()
                .await;
            found("DeleteRolePermissionsBoundary", res)?;
            calls.push("DeleteRolePermissionsBoundary".to_owned());
        }
        None => {}
    }
    if let Some(doc) = &delta.trust_policy {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(doc)
            .send()
            .await
            .map_err(aws("UpdateAssumeRolePolicy"))?;
        calls.push("UpdateAssumeRolePolicy".to_owned());
    }
    if let Some(u) = &delta.update {
        iam.update_role()
            .role_name(name)
            .set_description(u.description.clone())
            .set_max_session_duration(u.max_session_duration.map(session).transpose()?)
            .send()
            .await
            .map_err(aws("UpdateRole"))?;
        calls.push("UpdateRole".to_owned());
    }
    Ok(calls)
}

impl AckKind for Role {
    const FINALIZER: &'static str = "finalizers.iam.services.k8s.aws/Role";
    const TERMINAL_CODES: &'static [&'static str] = super::TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = super::ALREADY_EXISTS_CODES;
    const ADOPTION_KEY: &'static str = "name";
    type Observed = ObservedRole;

    fn identifier(&self) -> String {
        self.spec.name.clone()
    }

    fn has_references(&self) -> bool {
        self.spec
            .policy_refs
            .as_ref()
            .is_some_and(|r| !r.is_empty())
            || self.spec.permissions_boundary_ref.is_some()
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(policy_refs) = self.spec.policy_refs.as_ref().filter(|r| !r.is_empty()) {
            if self.spec.policies.as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(SyncError::Terminal(
                    "spec.policies and spec.policyRefs are both set: keep only one".into(),
                ));
            }
            let mut arns = Vec::new();
            for (i, r) in policy_refs.iter().enumerate() {
                let field = format!("spec.policyRefs[{i}]");
                arns.push(refs::resolve(cx, &field, r, POLICY_REF).await?);
            }
            out.spec.policies = Some(arns);
        }
        if let Some(r) = &self.spec.permissions_boundary_ref {
            if self
                .spec
                .permissions_boundary
                .as_ref()
                .is_some_and(|b| !b.is_empty())
            {
                return Err(SyncError::Terminal(
                    "spec.permissionsBoundary and spec.permissionsBoundaryRef are both set: keep \
                     only one"
                        .into(),
                ));
            }
            out.spec.permissions_boundary =
                Some(refs::resolve(cx, "spec.permissionsBoundaryRef", r, POLICY_REF).await?);
        }
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedRole>, SyncError> {
        read(&cx.aws.iam, id).await
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        check(&self.spec)?;
        let spec = &self.spec;
        let tags = spec.tags.as_deref().unwrap_or_default();
        cx.aws
            .iam
            .create_role()
            .role_name(id)
            .assume_role_policy_document(&spec.assume_role_policy_document)
            .set_path(spec.path.clone())
            .set_description(spec.description.clone())
            .set_max_session_duration(spec.max_session_duration.map(session).transpose()?)
            .set_permissions_boundary(spec.permissions_boundary.clone().filter(|b| !b.is_empty()))
            .set_tags((!tags.is_empty()).then(|| super::sdk_tags(tags)))
            .send()
            .await
            .map_err(aws("CreateRole"))?;
        tracing::info!(name = id, "IAM role created");
        Ok(Created::default())
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedRole,
    ) -> Result<Synced, SyncError> {
        check(&self.spec)?;
        if let Some(path) = self.spec.path.as_deref().filter(|p| *p != observed.path) {
            return Err(SyncError::Terminal(format!(
                "spec.path is {path:?} but the role is at {:?}: IAM cannot move a role; set it \
                 back, or create a new Role",
                observed.path
            )));
        }
        let delta = role_delta(&self.spec, &observed);
        let updated = apply(&cx.aws.iam, id, &delta).await?;
        Ok(Synced {
            updated,
            arn: Some(observed.arn.clone()),
            spec_patch: late_init(&self.spec, &observed),
            late_initialized: Some(true),
            status: serde_json::to_value(&observed.status).unwrap_or_default(),
            ..Default::default()
        })
    }

    fn adopted_spec(id: &str, observed: &ObservedRole) -> Value {
        adopted_spec(id, observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedRole,
    ) -> Result<Deleted, SyncError> {
        // IAM refuses to delete a role with policies (DeleteConflict): detach and delete them
        // first, as ACK does.
        let empty = RoleDelta {
            detach: observed.policies.clone(),
            delete_inline: observed.inline_policies.keys().cloned().collect(),
            ..Default::default()
        };
        apply(&cx.aws.iam, id, &empty).await?;
        let res = cx.aws.iam.delete_role().role_name(id).send().await;
        found("DeleteRole", res)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests;
