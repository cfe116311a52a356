//! Smoke tests of the harness itself: the real apiserver serves CRDs, server-side apply and
//! watches, and moto serves S3 and RDS to the Rust SDKs as the controllers will use them.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kro_e2e::{client, namespace, unique_name};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use crate::support::DEADLINE;

#[tokio::test]
async fn crd_established_then_server_side_apply_read_back_and_watch() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "e2e-smoke").await?;

    // A CRD of a kind no other run uses, since CRDs are cluster-wide.
    let plural = unique_name("widgets").replace('-', "");
    let group = "e2e.kro.run";
    let crd_name = format!("{plural}.{group}");
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural, "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"}, "colour": {"type": "string"}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    }))?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd).await?;
    let established = await_condition(crds, &crd_name, conditions::is_crd_established());
    tokio::time::timeout(DEADLINE, established).await??;

    let gvk = GroupVersionKind::gvk(group, "v1alpha1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);

    // Watch first, so the apply below must show up as an event.
    let mut events = watcher(widgets.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();

    let applied = widgets
        .patch(
            "first",
            &PatchParams::apply(kro_api::FIELD_MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": format!("{group}/v1alpha1"),
                "kind": "Widget",
                "metadata": {"name": "first"},
                "spec": {"size": 3, "colour": "teal"}
            })),
        )
        .await?;
    assert_eq!(applied.data["spec"]["size"], 3);

    let read = widgets.get("first").await?;
    assert_eq!(read.data["spec"], json!({"size": 3, "colour": "teal"}));
    let managers: Vec<_> = read
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&(kro_api::FIELD_MANAGER.to_owned(), "Apply".to_owned())),
        "the object should be owned by the kro field manager through Apply, got {managers:?}"
    );

    let seen = tokio::time::timeout(DEADLINE, async {
        while let Some(obj) = events.try_next().await? {
            if obj.metadata.name.as_deref() == Some("first") {
                return anyhow::Ok(obj);
            }
        }
        anyhow::bail!("the watch ended without showing the applied object")
    })
    .await??;
    assert_eq!(seen.data["spec"]["colour"], "teal");
    Ok(())
}

#[tokio::test]
async fn s3_bucket_create_configure_and_delete_on_moto() -> anyhow::Result<()> {
    let s3 = kro_e2e::s3_client().await;
    let bucket = unique_name("e2e-bucket");
    kro_e2e::create_bucket(&s3, &bucket).await?;
    s3.head_bucket().bucket(&bucket).send().await?;

    // GetBucketVersioning only parses with the harness's moto response patch.
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await?;
    let versioning = s3.get_bucket_versioning().bucket(&bucket).send().await?;
    assert_eq!(
        versioning.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled)
    );

    let listed = s3.list_buckets().send().await?;
    assert!(
        listed
            .buckets()
            .iter()
            .any(|b| b.name() == Some(bucket.as_str()))
    );

    s3.delete_bucket().bucket(&bucket).send().await?;
    let gone = s3.head_bucket().bucket(&bucket).send().await;
    assert!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_not_found()),
        "a deleted bucket should be NotFound, got {gone:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rds_db_subnet_group_create_describe_and_delete_on_moto() -> anyhow::Result<()> {
    let rds = kro_e2e::rds_client().await;
    let network = tokio::task::spawn_blocking(kro_e2e::moto_network).await??;
    let name = unique_name("e2e-subnets");
    let created = rds
        .create_db_subnet_group()
        .db_subnet_group_name(&name)
        .db_subnet_group_description("kro-rs e2e")
        .set_subnet_ids(Some(network.subnet_ids.clone()))
        .send()
        .await?;
    let group = created
        .db_subnet_group()
        .expect("CreateDBSubnetGroup returns the group");
    assert_eq!(group.vpc_id(), Some(network.vpc_id.as_str()));
    assert_eq!(group.subnets().len(), 2);

    let described = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&name)
        .send()
        .await?;
    assert_eq!(described.db_subnet_groups().len(), 1);

    rds.delete_db_subnet_group()
        .db_subnet_group_name(&name)
        .send()
        .await?;
    let gone = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&name)
        .send()
        .await;
    assert!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_db_subnet_group_not_found_fault()),
        "a deleted subnet group should be DBSubnetGroupNotFoundFault, got {gone:?}"
    );
    Ok(())
}
