//! e2e: the ACK-compatible IAM Role and Policy controllers against the real apiserver and moto
//! over HTTP: create, update of every mutable field group, drift corrected at resync, adoption,
//! both deletion policies, `policyRefs` waiting for their Policy, a terminal and a recoverable
//! AWS error. IAM is global in moto: every name is unique to the run.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use kro_aws::iam::document;
use kro_aws::iam::policy::Policy;
use kro_aws::iam::role::Role;
use kro_aws::iam::sdk::Client as Iam;
use kube::api::Api;
use serde_json::json;

use crate::support::aws::*;
use crate::support::{condition_is, condition_message, delete_and_wait, wait_for, wait_json};

/// moto's account.
const ACCOUNT: &str = "123456789012";

fn doc(action: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})
    .to_string()
}

fn trust(service: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
    .to_string()
}

async fn iam() -> Iam {
    Iam::new(&kro_e2e::aws_config().await)
}

fn name(prefix: &str) -> String {
    kro_e2e::unique_name(prefix)
}

/// The default version's document of policy `arn`, URL-decoded.
async fn policy_document(iam: &Iam, arn: &str) -> Option<String> {
    let p = iam.get_policy().policy_arn(arn).send().await.ok()?;
    let version = p.policy()?.default_version_id()?.to_owned();
    let v = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .ok()?;
    v.policy_version()?.document().map(document::decode)
}

async fn policy_versions(iam: &Iam, arn: &str) -> Vec<String> {
    let mut v: Vec<String> = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .filter_map(|v| v.version_id().map(str::to_owned))
        .collect();
    v.sort();
    v
}

async fn policy_tags(iam: &Iam, arn: &str) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = iam
        .list_policy_tags()
        .policy_arn(arn)
        .send()
        .await
        .map(|o| {
            o.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    t.sort();
    t
}

async fn policy_exists(iam: &Iam, arn: &str) -> bool {
    iam.get_policy().policy_arn(arn).send().await.is_ok()
}

/// What IAM holds for a role, as the tests compare it.
#[derive(Debug, Default, PartialEq)]
struct RoleInIam {
    trust: String,
    description: Option<String>,
    max_session: Option<i32>,
    boundary: Option<String>,
    policies: Vec<String>,
    inline: BTreeMap<String, String>,
    tags: Vec<(String, String)>,
}

async fn role_in_iam(iam: &Iam, role: &str) -> Option<RoleInIam> {
    let r = iam.get_role().role_name(role).send().await.ok()?;
    let r = r.role()?;
    let mut policies: Vec<String> = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .ok()?
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    policies.sort();
    let mut inline = BTreeMap::new();
    let names = iam.list_role_policies().role_name(role).send().await.ok()?;
    for n in names.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(n)
            .send()
            .await
            .ok()?;
        inline.insert(n.clone(), document::decode(p.policy_document()));
    }
    let mut tags: Vec<(String, String)> = iam
        .list_role_tags()
        .role_name(role)
        .send()
        .await
        .ok()?
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    tags.sort();
    Some(RoleInIam {
        trust: r
            .assume_role_policy_document()
            .map(document::decode)
            .unwrap_or_default(),
        description: r.description().map(str::to_owned),
        max_session: r.max_session_duration(),
        boundary: r
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        policies,
        inline,
        tags,
    })
}

/// Waits until IAM's role `role` satisfies `pred`.
async fn wait_role(
    iam: &Iam,
    role: &str,
    what: &str,
    pred: impl Fn(&RoleInIam) -> bool,
) -> Result<RoleInIam> {
    wait_for(&format!("{what} on IAM role {role}"), || async {
        Ok(role_in_iam(iam, role).await.filter(|r| pred(r)))
    })
    .await
}

/// A managed policy made directly in IAM (as another tool would), returning its ARN.
async fn policy_in_iam(iam: &Iam, name: &str, action: &str) -> Result<String> {
    let out = iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc(action))
        .send()
        .await?;
    Ok(out.policy().and_then(|p| p.arn()).unwrap().to_owned())
}

fn policy_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

/// The Policy lifecycle's middle: five document changes (new default versions within IAM's
/// limit of five), the same document written otherwise (no new version; the tag change in the
/// same edit applied), and drift undone at resync.
async fn policy_versions_then_drift(api: &Api<Policy>, iam: &Iam, arn: &str) -> Result<()> {
    // Five document changes: each a new default version; at IAM's limit of five the oldest
    // non-default one goes first (moto refuses a sixth, as IAM does).
    for (i, action) in [
        "s3:PutObject",
        "s3:ListBucket",
        "s3:DeleteObject",
        "s3:GetBucketTagging",
        "s3:GetObjectTagging",
    ]
    .into_iter()
    .enumerate()
    {
        patch(
            api,
            "read",
            json!({"spec": {"policyDocument": doc(action)}}),
        )
        .await?;
        let version = format!("v{}", i + 2);
        wait_json(api, "read", &format!("default version {version}"), |p| {
            synced(p) && p["status"]["defaultVersionID"] == version.as_str()
        })
        .await?;
        assert!(document::equal(
            &policy_document(iam, arn).await.unwrap(),
            &doc(action)
        ));
    }
    assert_eq!(
        policy_versions(iam, arn).await,
        ["v2", "v3", "v4", "v5", "v6"]
    );

    // The same policy written otherwise (spacing, key order, lists) is no change; the tags
    // changed in the same edit are.
    let same = r#"{ "Statement": { "Resource": ["*"], "Action": ["s3:GetObjectTagging"], "Effect": "Allow" },
                    "Version": "2012-10-17" }"#;
    patch(
        api,
        "read",
        json!({"spec": {"policyDocument": same, "tags": [{"key": "team", "value": "b"}]}}),
    )
    .await?;
    wait_for("the new tags in IAM", || async {
        Ok(
            (policy_tags(iam, arn).await == vec![("team".to_owned(), "b".to_owned())])
                .then_some(()),
        )
    })
    .await?;
    assert_eq!(
        policy_versions(iam, arn).await,
        ["v2", "v3", "v4", "v5", "v6"],
        "no new version"
    );

    // Drift: a default version and a tag set behind the controller's back are undone at resync.
    iam.delete_policy_version()
        .policy_arn(arn)
        .version_id("v2")
        .send()
        .await?;
    iam.create_policy_version()
        .policy_arn(arn)
        .policy_document(doc("iam:*"))
        .set_as_default(true)
        .send()
        .await?;
    iam.tag_policy()
        .policy_arn(arn)
        .tags(
            kro_aws::iam::sdk::types::Tag::builder()
                .key("rogue")
                .value("x")
                .build()?,
        )
        .send()
        .await?;
    wait_for("the spec's document and tags back in IAM", || async {
        let doc_back = policy_document(iam, arn)
            .await
            .is_some_and(|d| document::equal(&d, same));
        let tags_back = policy_tags(iam, arn).await == vec![("team".to_owned(), "b".to_owned())];
        Ok((doc_back && tags_back).then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn policy_create_versions_drift_adopt_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-iam-policy").await?;
    let api: Api<Policy> = Api::namespaced(client.clone(), &ns);
    let iam = iam().await;
    let pname = name("kro-policy");
    let arn = policy_arn(&pname);

    // Create: synced, the ARN partition-aware and region-free, the document and tags in IAM.
    create(
        &api,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Policy",
            "metadata": {"name": "read"},
            "spec": {"name": pname, "description": "reads objects", "policyDocument": doc("s3:GetObject"),
                     "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_json(&api, "read", "synced", synced).await?;
    assert_eq!(obj["status"]["ackResourceMetadata"]["arn"], arn.as_str());
    assert_eq!(obj["status"]["ackResourceMetadata"]["partition"], "aws");
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["ownerAccountID"],
        ACCOUNT
    );
    assert_eq!(obj["status"]["defaultVersionID"], "v1");
    assert_eq!(obj["status"]["isAttachable"], true);
    assert!(
        obj["status"]["policyID"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(document::equal(
        &policy_document(&iam, &arn).await.unwrap(),
        &doc("s3:GetObject")
    ));
    assert_eq!(
        policy_tags(&iam, &arn).await,
        vec![("team".into(), "a".into())]
    );
    let described = iam.get_policy().policy_arn(&arn).send().await?;
    assert_eq!(
        described.policy().and_then(|p| p.description()),
        Some("reads objects")
    );

    policy_versions_then_drift(&api, &iam, &arn).await?;

    // Delete (policy delete): the non-default versions first, then the policy.
    delete_and_wait(&api, "read").await?;
    assert!(!policy_exists(&iam, &arn).await, "deleted in IAM");

    // Adopt by ARN (ACK's adoption field for a Policy), then delete with retain.
    let legacy = name("kro-legacy-policy");
    let legacy_arn = policy_in_iam(&iam, &legacy, "sqs:SendMessage").await?;
    create(
        &api,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Policy",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": json!({"arn": legacy_arn}).to_string(),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": legacy, "policyDocument": "{}"}
        }),
    )
    .await?;
    let adopted = wait_json(&api, "legacy", "adopted", |p| {
        synced(p) && p["spec"]["policyDocument"] != "{}"
    })
    .await?;
    assert!(document::equal(
        adopted["spec"]["policyDocument"].as_str().unwrap(),
        &doc("sqs:SendMessage")
    ));
    assert_eq!(adopted["spec"]["path"], "/");
    assert_eq!(
        adopted["metadata"]["annotations"]["services.k8s.aws/adopted"],
        "true"
    );
    assert_eq!(
        policy_versions(&iam, &legacy_arn).await,
        ["v1"],
        "adopting changes nothing"
    );
    delete_and_wait(&api, "legacy").await?;
    assert!(
        policy_exists(&iam, &legacy_arn).await,
        "a retained policy survives"
    );
    iam.delete_policy().policy_arn(&legacy_arn).send().await?;
    controllers.stop().await;
    Ok(())
}

/// The role of the lifecycle test and what it uses.
struct RoleCase {
    api: Api<Role>,
    iam: Iam,
    /// The role's IAM name.
    role: String,
    /// Two managed policies made in IAM.
    p1: String,
    p2: String,
}

#[tokio::test]
async fn role_create_update_drift_adopt_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-iam-role").await?;
    let iam = iam().await;
    let p1 = policy_in_iam(&iam, &name("kro-p1"), "s3:GetObject").await?;
    let p2 = policy_in_iam(&iam, &name("kro-p2"), "s3:PutObject").await?;
    let case = RoleCase {
        api: Api::namespaced(client.clone(), &ns),
        iam,
        role: name("kro-role"),
        p1,
        p2,
    };
    create_role(&case).await?;
    update_every_field(&case).await?;
    drift_is_corrected(&case).await?;
    delete_detaches_first(&case).await?;
    adopt_then_retain(&case).await?;
    for p in [&case.p1, &case.p2] {
        case.iam
            .delete_policy()
            .policy_arn(p.as_str())
            .send()
            .await?;
    }
    controllers.stop().await;
    Ok(())
}

/// Create: the trust policy, a managed and an inline policy and the tags in IAM; path and
/// session duration late-initialized from IAM.
async fn create_role(case: &RoleCase) -> Result<()> {
    let RoleCase {
        api, iam, role, p1, ..
    } = case;
    create(
        api,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Role",
            "metadata": {"name": "app"},
            "spec": {"name": role, "assumeRolePolicyDocument": trust("ec2.amazonaws.com"),
                     "description": "the app", "policies": [p1],
                     "inlinePolicies": {"read": doc("s3:GetObject")},
                     "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_json(api, "app", "synced and late-initialized", |r| {
        synced(r) && condition_is(r, "ACK.LateInitialized", "True") && r["spec"]["path"] == "/"
    })
    .await?;
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/{role}")
    );
    assert_eq!(obj["spec"]["maxSessionDuration"], 3600);
    assert!(
        obj["status"]["roleID"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let have = role_in_iam(iam, role).await.unwrap();
    assert!(
        document::equal(&have.trust, &trust("ec2.amazonaws.com")),
        "{have:?}"
    );
    assert_eq!(have.description.as_deref(), Some("the app"));
    assert_eq!(have.policies, vec![p1.clone()]);
    assert_eq!(have.inline.keys().collect::<Vec<_>>(), ["read"]);
    assert!(document::equal(&have.inline["read"], &doc("s3:GetObject")));
    assert_eq!(have.tags, vec![("team".into(), "a".into())]);
    Ok(())
}

/// One edit of every mutable field group: trust policy, description and session duration,
/// managed policies, inline policies, permissions boundary, tags.
async fn update_every_field(case: &RoleCase) -> Result<()> {
    let RoleCase {
        api,
        iam,
        role,
        p1,
        p2,
    } = case;
    patch(
        api,
        "app",
        json!({"spec": {
            "assumeRolePolicyDocument": trust("lambda.amazonaws.com"),
            "description": "the app, v2",
            "maxSessionDuration": 7200,
            "policies": [p2],
            "inlinePolicies": {"read": null, "write": doc("s3:PutObject")},
            "permissionsBoundary": p1,
            "tags": [{"key": "team", "value": "b"}, {"key": "tier", "value": "web"}]
        }}),
    )
    .await?;
    let have = wait_role(iam, role, "every change", |r| {
        r.tags.len() == 2
            && r.boundary.is_some()
            && r.max_session == Some(7200)
            && r.inline.contains_key("write")
            && r.policies == [p2.clone()]
    })
    .await?;
    assert!(
        document::equal(&have.trust, &trust("lambda.amazonaws.com")),
        "{have:?}"
    );
    assert_eq!(have.description.as_deref(), Some("the app, v2"));
    assert_eq!(have.boundary.as_deref(), Some(p1.as_str()));
    assert_eq!(
        have.inline.keys().collect::<Vec<_>>(),
        ["write"],
        "read was removed"
    );
    assert!(document::equal(&have.inline["write"], &doc("s3:PutObject")));
    assert_eq!(
        have.tags,
        vec![("team".into(), "b".into()), ("tier".into(), "web".into())]
    );
    wait_json(api, "app", "synced after the update", synced).await?;
    Ok(())
}

/// Drift made in IAM behind the controller's back is undone at the next resync.
async fn drift_is_corrected(case: &RoleCase) -> Result<()> {
    let RoleCase {
        iam, role, p1, p2, ..
    } = case;
    let before = role_in_iam(iam, role).await.unwrap();
    iam.attach_role_policy()
        .role_name(role)
        .policy_arn(p1)
        .send()
        .await?;
    iam.put_role_policy()
        .role_name(role)
        .policy_name("rogue")
        .policy_document(doc("iam:*"))
        .send()
        .await?;
    iam.delete_role_permissions_boundary()
        .role_name(role)
        .send()
        .await?;
    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(trust("ecs-tasks.amazonaws.com"))
        .send()
        .await?;
    iam.untag_role()
        .role_name(role)
        .tag_keys("tier")
        .send()
        .await?;
    let after = wait_role(iam, role, "the spec restored", |r| {
        r.policies == [p2.clone()]
            && !r.inline.contains_key("rogue")
            && r.boundary.as_deref() == Some(p1.as_str())
            && r.tags.len() == 2
            && document::equal(&r.trust, &trust("lambda.amazonaws.com"))
    })
    .await?;
    assert_eq!(after, before);
    Ok(())
}

/// Delete with the default policy: IAM refuses to delete a role with policies, so the
/// controller detaches the managed and deletes the inline ones first; the policies stay.
async fn delete_detaches_first(case: &RoleCase) -> Result<()> {
    let RoleCase {
        api, iam, role, p2, ..
    } = case;
    delete_and_wait(api, "app").await?;
    assert!(role_in_iam(iam, role).await.is_none(), "deleted in IAM");
    assert!(
        policy_exists(iam, p2).await,
        "a detached policy is not deleted"
    );
    Ok(())
}

/// Adopt a role made in IAM (its state becomes the spec), then delete with retain.
async fn adopt_then_retain(case: &RoleCase) -> Result<()> {
    let RoleCase { api, iam, p1, .. } = case;
    let legacy = name("kro-legacy-role");
    iam.create_role()
        .role_name(&legacy)
        .path("/legacy/")
        .assume_role_policy_document(trust("ec2.amazonaws.com"))
        .send()
        .await?;
    iam.attach_role_policy()
        .role_name(&legacy)
        .policy_arn(p1)
        .send()
        .await?;
    iam.put_role_policy()
        .role_name(&legacy)
        .policy_name("inline")
        .policy_document(doc("s3:ListBucket"))
        .send()
        .await?;
    create(
        api,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Role",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": json!({"name": legacy}).to_string(),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": legacy, "assumeRolePolicyDocument": "{}"}
        }),
    )
    .await?;
    let obj = wait_json(api, "legacy", "adopted", |r| {
        synced(r) && r["spec"]["path"] == "/legacy/"
    })
    .await?;
    let spec = &obj["spec"];
    assert!(document::equal(
        spec["assumeRolePolicyDocument"].as_str().unwrap(),
        &trust("ec2.amazonaws.com")
    ));
    assert_eq!(spec["policies"], json!([p1]));
    assert!(document::equal(
        spec["inlinePolicies"]["inline"].as_str().unwrap(),
        &doc("s3:ListBucket")
    ));
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/legacy/{legacy}")
    );
    delete_and_wait(api, "legacy").await?;
    let kept = role_in_iam(iam, &legacy)
        .await
        .expect("a retained role survives");
    assert_eq!(kept.policies, vec![p1.clone()], "and keeps its policies");
    iam.detach_role_policy()
        .role_name(&legacy)
        .policy_arn(p1)
        .send()
        .await?;
    iam.delete_role_policy()
        .role_name(&legacy)
        .policy_name("inline")
        .send()
        .await?;
    iam.delete_role().role_name(&legacy).send().await?;
    Ok(())
}

#[tokio::test]
async fn role_policy_refs_wait_for_the_policy_then_resolve() -> Result<()> {
    let (client, ns, controllers) = setup("aws-iam-refs").await?;
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let policies: Api<Policy> = Api::namespaced(client.clone(), &ns);
    let iam = iam().await;
    let role = name("kro-ref-role");
    let pname = name("kro-ref-policy");
    create(
        &roles,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Role",
            "metadata": {"name": "app"},
            "spec": {"name": role, "assumeRolePolicyDocument": trust("ec2.amazonaws.com"),
                     "policyRefs": [{"from": {"name": "app-policy"}}],
                     "permissionsBoundaryRef": {"from": {"name": "app-policy"}}}
        }),
    )
    .await?;
    let waiting = wait_json(&roles, "app", "references unresolved", |r| {
        condition_is(r, "ACK.ReferencesResolved", "Unknown")
    })
    .await?;
    let msg = condition_message(&waiting, "ACK.ReferencesResolved");
    assert!(
        msg.contains("Policy") && msg.contains("app-policy") && msg.contains("does not exist yet"),
        "{msg}"
    );
    assert!(
        role_in_iam(&iam, &role).await.is_none(),
        "nothing is created before the references resolve"
    );

    create(
        &policies,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Policy",
            "metadata": {"name": "app-policy"},
            "spec": {"name": pname, "policyDocument": doc("s3:GetObject")}
        }),
    )
    .await?;
    let obj = wait_json(&roles, "app", "references resolved and synced", |r| {
        synced(r) && condition_is(r, "ACK.ReferencesResolved", "True")
    })
    .await?;
    let arn = policy_arn(&pname);
    let have = role_in_iam(&iam, &role).await.unwrap();
    assert_eq!(have.policies, vec![arn.clone()]);
    assert_eq!(have.boundary.as_deref(), Some(arn.as_str()));
    assert!(
        obj["spec"].get("policies").is_none(),
        "the resolved ARNs stay out of the spec"
    );
    // The Policy's status counts the attachment from its next read of IAM (at resync).
    wait_json(&policies, "app-policy", "attachment counted", |p| {
        p["status"]["attachmentCount"] == 1
    })
    .await?;

    delete_and_wait(&roles, "app").await?;
    assert!(role_in_iam(&iam, &role).await.is_none());
    delete_and_wait(&policies, "app-policy").await?;
    assert!(!policy_exists(&iam, &arn).await);
    controllers.stop().await;
    Ok(())
}

/// Recoverable for a Policy: adopting one IAM does not have (GetPolicy answers NoSuchEntity) is
/// retried, not terminal, and the policy is adopted once it exists in IAM. (The other
/// recoverable IAM errors of a Policy need what moto does not do: it deletes a policy still
/// attached, where IAM answers DeleteConflict, and throttles nothing.)
async fn policy_to_adopt_appears_later(policies: &Api<Policy>, iam: &Iam) -> Result<()> {
    let later = name("kro-adopt-later");
    let arn = policy_arn(&later);
    create(
        policies,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Policy",
            "metadata": {"name": "later", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": json!({"arn": arn}).to_string(),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": later, "policyDocument": "{}"}
        }),
    )
    .await?;
    let obj = wait_json(policies, "later", "recoverable", |p| {
        condition_is(p, "ACK.Recoverable", "True")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.starts_with("adopted resource not found") && msg.contains(&arn),
        "{msg}"
    );
    assert!(condition_is(&obj, "ACK.ResourceSynced", "Unknown"), "{obj}");
    policy_in_iam(iam, &later, "sqs:SendMessage").await?;
    let adopted = wait_json(policies, "later", "adopted once it exists", |p| {
        synced(p) && !condition_is(p, "ACK.Recoverable", "True")
    })
    .await?;
    assert!(document::equal(
        adopted["spec"]["policyDocument"].as_str().unwrap(),
        &doc("sqs:SendMessage")
    ));
    assert_eq!(
        adopted["status"]["ackResourceMetadata"]["arn"],
        arn.as_str()
    );
    delete_and_wait(policies, "later").await?;
    iam.delete_policy().policy_arn(&arn).send().await?;
    Ok(())
}

/// Terminal from IAM itself on a Role: an inline policy without a resource, which IAM (and
/// moto) refuses with MalformedPolicyDocument. The role stays as it was in IAM, and removing
/// the bad policy from the spec is the change that makes it sync again.
async fn inline_policy_refused_by_iam(roles: &Api<Role>, iam: &Iam, role: &str) -> Result<()> {
    let no_resource = json!({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]})
    .to_string();
    patch(
        roles,
        "app",
        json!({"spec": {"inlinePolicies": {"no-resource": no_resource}}}),
    )
    .await?;
    let obj = wait_json(roles, "app", "terminal from IAM", |r| {
        condition_is(r, "ACK.Terminal", "True")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.starts_with("PutRolePolicy: MalformedPolicyDocument"),
        "{msg}"
    );
    assert!(condition_is(&obj, "ACK.ResourceSynced", "False"));
    let in_iam = role_in_iam(iam, role)
        .await
        .context("the role is still in IAM")?;
    assert!(in_iam.inline.is_empty(), "{:?}", in_iam.inline);
    patch(roles, "app", json!({"spec": {"inlinePolicies": null}})).await?;
    wait_json(roles, "app", "synced once the bad policy is gone", |r| {
        synced(r) && !condition_is(r, "ACK.Terminal", "True")
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn terminal_and_recoverable_iam_errors() -> Result<()> {
    let (client, ns, controllers) = setup("aws-iam-errors").await?;
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let policies: Api<Policy> = Api::namespaced(client.clone(), &ns);
    let iam = iam().await;

    // Terminal: IAM refuses a policy document without a resource (MalformedPolicyDocument);
    // nothing is created and the object keeps no finalizer.
    let bad =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]})
            .to_string();
    let pname = name("kro-bad-policy");
    create(
        &policies,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Policy",
            "metadata": {"name": "bad"},
            "spec": {"name": pname, "policyDocument": bad}
        }),
    )
    .await?;
    let obj = wait_json(&policies, "bad", "terminal", |p| {
        condition_is(p, "ACK.Terminal", "True")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.starts_with("CreatePolicy: MalformedPolicyDocument"),
        "{msg}"
    );
    assert!(condition_is(&obj, "ACK.ResourceSynced", "False"));
    assert!(
        obj["metadata"]
            .get("finalizers")
            .is_none_or(|f| f == &json!([])),
        "{obj}"
    );
    assert!(!policy_exists(&iam, &policy_arn(&pname)).await);
    // Fixing the document is the change a terminal object waits for.
    patch(
        &policies,
        "bad",
        json!({"spec": {"policyDocument": doc("s3:GetObject")}}),
    )
    .await?;
    wait_json(&policies, "bad", "synced after the fix", |p| {
        synced(p) && !condition_is(p, "ACK.Terminal", "True")
    })
    .await?;
    policy_to_adopt_appears_later(&policies, &iam).await?;

    // Recoverable: a managed policy that does not exist yet (NoSuchEntity) is retried, and
    // attached once it exists. Bad input the controller checks itself is terminal and names
    // the field and the bound.
    let role = name("kro-err-role");
    let later = name("kro-later");
    create(
        &roles,
        json!({
            "apiVersion": "iam.services.k8s.aws/v1alpha1",
            "kind": "Role",
            "metadata": {"name": "app"},
            "spec": {"name": role, "assumeRolePolicyDocument": trust("ec2.amazonaws.com"),
                     "maxSessionDuration": 100}
        }),
    )
    .await?;
    let obj = wait_json(&roles, "app", "terminal", |r| {
        condition_is(r, "ACK.Terminal", "True")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.starts_with("spec.maxSessionDuration is 100: IAM accepts 3600 to 43200"),
        "{msg}"
    );
    assert!(role_in_iam(&iam, &role).await.is_none());
    patch(
        &roles,
        "app",
        json!({"spec": {"maxSessionDuration": 3600, "policies": [policy_arn(&later)]}}),
    )
    .await?;
    let obj = wait_json(&roles, "app", "recoverable", |r| {
        condition_is(r, "ACK.Recoverable", "True")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(msg.starts_with("AttachRolePolicy: NoSuchEntity"), "{msg}");
    assert!(condition_is(&obj, "ACK.ResourceSynced", "Unknown"));
    let later_arn = policy_in_iam(&iam, &later, "s3:GetObject").await?;
    wait_json(&roles, "app", "synced once the policy exists", |r| {
        synced(r) && !condition_is(r, "ACK.Recoverable", "True")
    })
    .await?;
    assert_eq!(
        role_in_iam(&iam, &role).await.unwrap().policies,
        vec![later_arn.clone()]
    );
    inline_policy_refused_by_iam(&roles, &iam, &role).await?;

    delete_and_wait(&roles, "app").await?;
    delete_and_wait(&policies, "bad").await?;
    iam.delete_policy().policy_arn(&later_arn).send().await?;
    controllers.stop().await;
    Ok(())
}
