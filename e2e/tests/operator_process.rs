//! The operator as a process: /metrics, /healthz, /readyz, events, a failing instance contained
//! while its neighbour works, and leader election by Lease.

mod operator_support;

use std::time::Duration;

use anyhow::Result;
use kro_e2e::{client, namespace};
use operator_support::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn http_get(port: u16, path: &str) -> Result<(String, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Ok((
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    ))
}

#[tokio::test]
async fn metrics_health_readiness_and_events() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-metrics").await?;
    let (mport, hport) = (free_port()?, free_port()?);
    // The operator's client as `kro run` builds it: counting its own requests.
    let op = Operator::start_with(
        kro_controller::client::with_config(kro_e2e::config().await?)?,
        kro_controller::Options {
            metrics_bind_address: format!("127.0.0.1:{mport}"),
            health_probe_bind_address: format!("127.0.0.1:{hport}"),
            ..kro_controller::Options::for_tests()
        },
    );
    let kind = unique_kind("Metric");
    apply(&client, &op.rgd(&kind, json!({}), json!({}),
        json!([{"id": "cfg", "template": cm("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "m", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "m", "ACTIVE").await?;

    assert_eq!(http_get(hport, "/healthz").await?.0, "HTTP/1.1 200 OK");
    wait_for("readyz 200", || async {
        Ok(http_get(hport, "/readyz")
            .await
            .ok()
            .filter(|r| r.0.contains("200"))
            .map(|_| ()))
    })
    .await?;
    let (status, body) = http_get(mport, "/metrics").await?;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let plural = format!("{}s", kind.to_ascii_lowercase());
    for needle in [
        format!("dynamic_controller_reconcile_total{{gvr=\"{GROUP}/v1alpha1/{plural}\"}}"),
        format!("rgd_graph_build_total{{name=\"{}\"}}", rgd_name(&kind)),
        "dynamic_controller_gvr_count 1".to_string(),
        "instance_state_transitions_total".to_string(),
        // The operator's own count of what it asked the apiserver: at least the instance's
        // children were applied (PATCH) and the instance read (GET).
        "rest_client_requests_total{method=\"PATCH\",code=\"200\"}".to_string(),
        "rest_client_requests_total{method=\"GET\",code=\"200\"}".to_string(),
    ] {
        assert!(body.contains(&needle), "{needle} not in\n{body}");
    }

    // Kubernetes events on the instance.
    let events = api_for(&client, "events.k8s.io/v1", "Event", Some(&ns)).await?;
    wait_for("an event on the instance", || async {
        let list = events.list(&Default::default()).await?;
        Ok(list
            .items
            .iter()
            .find(|e| e.data["regarding"]["name"] == "m" && e.data["reason"] == "StateChanged")
            .map(|_| ()))
    })
    .await?;
    op.stop().await
}

#[tokio::test]
async fn a_failing_instance_is_reported_and_does_not_block_its_neighbour() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-isolation").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Iso");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"cmName": "string"}),
            json!({}),
            json!([{"id": "cfg", "template": cm("${schema.spec.cmName}", json!({"k": "v"}))}]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    // The API server refuses this name: the apply fails for this instance only.
    apply(
        &client,
        &instance(&kind, &ns, "bad", json!({"cmName": "Not_A_Valid_Name"})),
    )
    .await?;
    apply(
        &client,
        &instance(&kind, &ns, "good", json!({"cmName": "good-cfg"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "good", "ACTIVE").await?;
    let bad = wait_instance_state(&client, &kind, &ns, "bad", "ERROR").await?;
    let rr = condition(&bad, "ResourcesReady").unwrap();
    assert_eq!(rr["status"], "False");
    let msg = rr["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Not_A_Valid_Name") && msg.contains("cfg"),
        "{msg}"
    );
    // Fixing it recovers.
    apply(
        &client,
        &instance(&kind, &ns, "bad", json!({"cmName": "fixed-cfg"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "bad", "ACTIVE").await?;
    op.stop().await
}

#[tokio::test]
async fn leader_election_hands_over_on_shutdown() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-lease").await?;
    let opts = |who: &str| kro_controller::Options {
        leader_elect: true,
        leader_election_namespace: ns.clone(),
        leader_election_identity: who.to_string(),
        leader_election_lease_duration: Duration::from_secs(4),
        leader_election_retry_period: Duration::from_secs(1),
        ..kro_controller::Options::for_tests()
    };
    let first = Operator::start_with(client.clone(), opts("first"));
    let leases = api_for(&client, "coordination.k8s.io/v1", "Lease", Some(&ns)).await?;
    let holder = |want: &'static str| {
        let leases = leases.clone();
        move || {
            let leases = leases.clone();
            async move {
                let l = leases.get_opt(kro_controller::LEASE_NAME).await?;
                Ok(l.filter(|l| l.data["spec"]["holderIdentity"] == want)
                    .map(|_| ()))
            }
        }
    };
    wait_for("first holds the lease", holder("first")).await?;
    let second = Operator::start_as(client.clone(), opts("second"), first.id.clone());
    let kind = unique_kind("Lease");
    apply(&client, &first.rgd(&kind, json!({}), json!({}),
        json!([{"id": "cfg", "template": cm("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    first.stop().await?;
    wait_for("second holds the lease", holder("second")).await?;
    apply(&client, &instance(&kind, &ns, "l", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "l", "ACTIVE").await?;
    second.stop().await
}
