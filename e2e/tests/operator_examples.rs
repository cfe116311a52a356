//! The shipped `examples/webapp` RGD and instance, unchanged, go Ready through the operator
//! (the demo's path; Deployment status is patched by the test since no kubelet runs).

mod operator_support;

use anyhow::{Context, Result};
use kro_e2e::{client, namespace};
use operator_support::*;
use serde_json::{Value, json};

fn example(path: &str) -> Result<Value> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(path);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    Ok(serde_saphyr::from_str(&text)?)
}

#[tokio::test]
async fn webapp_example_goes_ready() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-example").await?;
    let op = Operator::start(client.clone());
    let mut rgd = example("webapp/rgd.yaml")?;
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": op.id});
    apply(&client, &rgd).await?;
    let r = wait_rgd_active(&client, "webapp").await?;
    assert_eq!(
        r["status"]["topologicalOrder"],
        json!(["config", "deployment", "service", "ingress"])
    );

    let mut inst = example("webapp/instance.yaml")?;
    let meta = inst["metadata"].as_object_mut().context("metadata")?;
    meta.retain(|k, _| k == "name");
    meta.insert("namespace".into(), json!(ns));
    apply(&client, &inst).await?;
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
        let i = get(&client, "kro.run/v1alpha1", "WebApp", Some(&ns), "shop").await?;
        anyhow::bail!("{e}; instance: {}", serde_json::to_string_pretty(&i)?);
    }
    let done = wait_for("WebApp shop ACTIVE", || async {
        let i = get(&client, "kro.run/v1alpha1", "WebApp", Some(&ns), "shop").await?;
        Ok(i.filter(|i| i["status"]["state"] == "ACTIVE"))
    })
    .await?;
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
