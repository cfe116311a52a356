//! One RGD composing Kubernetes and AWS resources, through both halves of the binary: the shipped
//! `examples/s3-app` and `examples/rds-app` RGDs run by the kro controllers, their ACK objects
//! run by the AWS controllers against moto. Each instance turns Ready only once its AWS resources
//! are synced, and the app gets their names, ARN and endpoint from CEL.

mod aws_common;
mod operator_support;

use anyhow::{Context, Result};
use kro_e2e::{client, namespace};
use operator_support::{
    Operator, apply, get, make_deployment_ready, wait_for, wait_object, wait_rgd_active,
};
use serde_json::{Value, json};

fn example(path: &str) -> Result<Value> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(path);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    Ok(serde_saphyr::from_str(&text)?)
}

/// The example RGD, labelled for this test's operator.
fn example_rgd(path: &str, op: &Operator) -> Result<Value> {
    let mut rgd = example(path)?;
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": op.id});
    Ok(rgd)
}

/// The example instance in namespace `ns`, with the given spec fields replaced.
fn example_instance(path: &str, ns: &str, spec: Value) -> Result<Value> {
    let mut inst = example(path)?;
    let meta = inst["metadata"].as_object_mut().context("metadata")?;
    meta.retain(|k, _| k == "name");
    meta.insert("namespace".into(), json!(ns));
    for (k, v) in spec.as_object().context("spec")? {
        inst["spec"][k] = v.clone();
    }
    Ok(inst)
}

fn synced(obj: &Value) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "ACK.ResourceSynced" && c["status"] == "True")
    })
}

async fn wait_instance_active(
    client: &kube::Client,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<Value> {
    wait_for(&format!("{kind} {name} ACTIVE"), || async {
        let i = get(client, "kro.run/v1alpha1", kind, Some(ns), name).await?;
        Ok(i.filter(|i| i["status"]["state"] == "ACTIVE"))
    })
    .await
}

#[tokio::test]
async fn app_with_bucket_gets_the_bucket_name_and_arn_once_synced() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "composed-s3").await?;
    aws_common::install_crds(&client).await?;
    let aws = aws_common::start(&client, aws_common::options(&ns, kro_e2e::aws_endpoint()));
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
    let done = wait_instance_active(&client, "AppWithBucket", &ns, "photos").await?;
    assert_eq!(done["status"]["bucketName"], json!(bucket_name));
    assert_eq!(
        done["status"]["bucketARN"],
        json!(format!("arn:aws:s3:::{bucket_name}"))
    );

    op.stop().await?;
    aws.stop().await;
    Ok(())
}

#[tokio::test]
async fn app_with_database_gets_the_endpoint_in_a_config_map_once_available() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "composed-rds").await?;
    aws_common::install_crds(&client).await?;
    let aws = aws_common::start(&client, aws_common::options(&ns, kro_e2e::aws_endpoint()));
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
    let done = wait_instance_active(&client, "AppWithDatabase", &ns, &name).await?;
    assert_eq!(done["status"]["endpoint"], json!(host));
    assert_eq!(done["status"]["databaseStatus"], json!("available"));

    op.stop().await?;
    aws.stop().await;
    Ok(())
}
