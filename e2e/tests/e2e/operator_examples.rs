//! The shipped `examples/webapp` RGD and instance, unchanged, go Ready through the operator
//! (the demo's path; Deployment status is patched by the test since no kubelet runs).

use anyhow::Result;
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::operator::*;
use crate::support::{apply, get, wait_object, wait_state};

#[tokio::test]
async fn webapp_example_goes_ready() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-example").await?;
    let op = Operator::start(client.clone());
    apply(&client, &example_rgd("webapp/rgd.yaml", &op)?).await?;
    let r = wait_rgd_active(&client, "webapp").await?;
    assert_eq!(
        r["status"]["topologicalOrder"],
        json!(["config", "deployment", "service", "ingress"])
    );

    apply(
        &client,
        &example_instance("webapp/instance.yaml", &ns, json!({}))?,
    )
    .await?;
    make_deployment_ready(&client, &ns, "shop").await?;
    // The Service and Ingress wait for the Deployment's readyWhen.
    let ingress = wait_object(
        &client,
        "networking.k8s.io/v1",
        "Ingress",
        Some(&ns),
        "shop",
        |_| true,
    );
    if let Err(e) = ingress.await {
        let i = get(&client, KRO_API, "WebApp", Some(&ns), "shop").await?;
        anyhow::bail!("{e}; instance: {}", serde_json::to_string_pretty(&i)?);
    }
    let done = wait_state(&client, KRO_API, "WebApp", Some(&ns), "shop", "ACTIVE").await?;
    assert_eq!(done["status"]["availableReplicas"], 2);
    assert_eq!(done["status"]["url"], "http://shop.example.com/");
    assert!(
        done["status"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty()),
        "{done}"
    );
    op.stop().await
}
