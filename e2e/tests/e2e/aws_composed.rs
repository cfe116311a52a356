//! One RGD composing Kubernetes and AWS resources, through both halves of the binary: the shipped
//! `examples/s3-app` and `examples/rds-app` RGDs run by the kro controllers, their ACK objects
//! run by the AWS controllers against moto. Each instance turns Ready only once its AWS resources
//! are synced, and the app gets their names, ARN and endpoint from CEL.

use anyhow::{Context, Result};
use serde_json::json;

use crate::support::aws::{self, synced};
use crate::support::operator::{
    KRO_API, Operator, example_instance, example_rgd, make_deployment_ready, wait_rgd_active,
};
use crate::support::{apply, get, wait_object, wait_state};

#[tokio::test]
async fn app_with_bucket_gets_the_bucket_name_and_arn_once_synced() -> Result<()> {
    let (client, ns, controllers) = aws::setup("composed-s3").await?;
    let op = Operator::start(client.clone());

    apply(&client, &example_rgd("s3-app/rgd.yaml", &op)?).await?;
    wait_rgd_active(&client, "app-with-bucket").await?;
    apply(
        &client,
        &example_instance("s3-app/instance.yaml", &ns, json!({}))?,
    )
    .await?;

    // The Deployment waits for the Bucket's readyWhen (ACK.ResourceSynced), so when it exists
    // the bucket is in AWS and its ARN is known.
    let deployment = wait_object(
        &client,
        "apps/v1",
        "Deployment",
        Some(&ns),
        "photos",
        |_| true,
    )
    .await?;
    let bucket = get(
        &client,
        "s3.services.k8s.aws/v1alpha1",
        "Bucket",
        Some(&ns),
        "photos-data",
    )
    .await?
    .context("the Bucket object")?;
    assert!(
        synced(&bucket),
        "the app came before its bucket was synced: {bucket}"
    );
    let bucket_name = format!("photos-data-{ns}");
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0], json!({"name": "BUCKET_NAME", "value": bucket_name}));
    assert_eq!(
        env[1],
        json!({"name": "BUCKET_ARN", "value": format!("arn:aws:s3:::{bucket_name}")})
    );

    let s3 = kro_e2e::s3_client().await;
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket_name)
        .send()
        .await?;
    assert_eq!(
        versioning.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled),
        "the instance asked for versioning"
    );

    make_deployment_ready(&client, &ns, "photos").await?;
    let done = wait_state(
        &client,
        KRO_API,
        "AppWithBucket",
        Some(&ns),
        "photos",
        "ACTIVE",
    )
    .await?;
    assert_eq!(done["status"]["bucketName"], json!(bucket_name));
    assert_eq!(
        done["status"]["bucketARN"],
        json!(format!("arn:aws:s3:::{bucket_name}"))
    );

    op.stop().await?;
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn app_with_database_gets_the_endpoint_in_a_config_map_once_available() -> Result<()> {
    let (client, ns, controllers) = aws::setup("composed-rds").await?;
    let op = Operator::start(client.clone());
    let network = tokio::task::spawn_blocking(kro_e2e::moto_network).await??;

    apply(&client, &example_rgd("rds-app/rgd.yaml", &op)?).await?;
    wait_rgd_active(&client, "app-with-database").await?;
    // Names in moto's RDS are account-wide: one of this run's own.
    let name = kro_e2e::unique_name("billing");
    let mut inst = example_instance(
        "rds-app/instance.yaml",
        &ns,
        json!({"name": name, "subnetIDs": network.subnet_ids}),
    )?;
    inst["metadata"]["name"] = json!(name);
    apply(&client, &inst).await?;

    let connection = wait_object(
        &client,
        "v1",
        "ConfigMap",
        Some(&ns),
        &format!("{name}-db-connection"),
        |_| true,
    )
    .await?;
    let db = get(
        &client,
        "rds.services.k8s.aws/v1alpha1",
        "DBInstance",
        Some(&ns),
        &format!("{name}-db"),
    )
    .await?
    .context("the DBInstance object")?;
    assert!(
        synced(&db),
        "the endpoint came before the database was synced: {db}"
    );
    assert_eq!(db["status"]["dbInstanceStatus"], "available");
    let host = db["status"]["endpoint"]["address"]
        .as_str()
        .context("endpoint address")?;
    assert!(host.starts_with(&format!("{name}-db.")), "{host}");
    assert_eq!(connection["data"]["PGHOST"], json!(host));
    assert_eq!(connection["data"]["PGPORT"], json!("5432"));
    assert_eq!(connection["data"]["PGDATABASE"], json!("app"));

    // The password Secret the DBInstance read is the one kro generated.
    let secret = get(
        &client,
        "v1",
        "Secret",
        Some(&ns),
        &format!("{name}-db-password"),
    )
    .await?
    .context("the password Secret")?;
    assert!(secret["data"]["password"].is_string());

    make_deployment_ready(&client, &ns, &name).await?;
    let done = wait_state(
        &client,
        KRO_API,
        "AppWithDatabase",
        Some(&ns),
        &name,
        "ACTIVE",
    )
    .await?;
    assert_eq!(done["status"]["endpoint"], json!(host));
    assert_eq!(done["status"]["databaseStatus"], json!("available"));

    op.stop().await?;
    controllers.stop().await;
    Ok(())
}
