//! The operator as a process: /metrics, /healthz, /readyz, events, a failing instance contained
//! while its neighbour works, and leader election by Lease.

use std::time::Duration;

use anyhow::Result;
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::events::wait_event;
use crate::support::operator::*;
use crate::support::process::{free_port, http_get};
use crate::support::wait_for_holder;
use crate::support::{api_for, apply, condition, wait_for};

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
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "m", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "m", "ACTIVE").await?;

    // The admin server answers as soon as it is bound: wait for an answer, then check it.
    let healthz = wait_for("an answer on /healthz", || async {
        Ok(http_get(hport, "/healthz").await.ok())
    })
    .await?;
    assert_eq!(healthz.0, "HTTP/1.1 200 OK");
    wait_for("readyz 200", || async {
        Ok(http_get(hport, "/readyz")
            .await
            .ok()
            .filter(|r| r.0.contains("200"))
            .map(|_| ()))
    })
    .await?;
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let needles = [
        format!("dynamic_controller_reconcile_total{{gvr=\"{GROUP}/v1alpha1/{plural}\"}}"),
        format!("rgd_graph_build_total{{name=\"{}\"}}", rgd_name(&kind)),
        "dynamic_controller_gvr_count 1".to_string(),
        "instance_state_transitions_total".to_string(),
        // The operator's own count of what it asked the apiserver: at least the instance's
        // children were applied (PATCH) and the instance read (GET), under client-go's labels
        // in its order (code, method, host).
        "rest_client_requests_total{code=\"200\",method=\"PATCH\",host=".to_string(),
        "rest_client_requests_total{code=\"200\",method=\"GET\",host=".to_string(),
    ];
    // The instance turned ACTIVE with its last status write; the counters of that reconcile are
    // bumped right after it, so wait for /metrics to show them all (and when they never do,
    // check the last answer, so that the failure names what is missing).
    let shown = wait_for("/metrics to show the instance's reconcile", || async {
        let (status, body) = http_get(mport, "/metrics").await?;
        Ok(needles
            .iter()
            .all(|n| body.contains(n.as_str()))
            .then_some((status, body)))
    })
    .await;
    let (status, body) = match shown {
        Ok(answer) => answer,
        Err(_) => http_get(mport, "/metrics").await?,
    };
    assert_eq!(status, "HTTP/1.1 200 OK");
    for needle in &needles {
        assert!(body.contains(needle.as_str()), "{needle} not in\n{body}");
    }

    // Kubernetes events on the instance.
    wait_event(&client, &ns, &kind, "m", "StateChanged", "").await?;
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
            json!([{"id": "cfg", "template": config_map("${schema.spec.cmName}", json!({"k": "v"}))}]),
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
    wait_for_holder(&leases, "first").await?;
    let second = Operator::start_as(client.clone(), opts("second"), first.id.clone());
    let kind = unique_kind("Lease");
    apply(&client, &first.rgd(&kind, json!({}), json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    first.stop().await?;
    wait_for_holder(&leases, "second").await?;
    apply(&client, &instance(&kind, &ns, "l", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "l", "ACTIVE").await?;
    second.stop().await
}

/// `--enable-controller-warmup`: the standby replica lists and watches the RGDs before it
/// leads, while the leader alone reconciles, and once it leads it reconciles every RGD it
/// cached, one made while it stood by included.
#[tokio::test]
async fn controller_warmup_caches_rgds_while_standing_by() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-warm").await?;
    let logs = crate::support::logs::Capture::start();
    let opts = |who: &str, warmup: bool| kro_controller::Options {
        leader_elect: true,
        enable_controller_warmup: warmup,
        leader_election_namespace: ns.clone(),
        leader_election_identity: who.to_string(),
        leader_election_lease_duration: Duration::from_secs(4),
        leader_election_retry_period: Duration::from_secs(1),
        ..kro_controller::Options::for_tests()
    };
    let first = Operator::start_with(client.clone(), opts("first", false));
    let leases = api_for(&client, "coordination.k8s.io/v1", "Lease", Some(&ns)).await?;
    wait_for_holder(&leases, "first").await?;
    let resources = |name: &str| json!([{"id": "cfg", "template": config_map(&format!("${{schema.metadata.name}}-{name}"), json!({"k": "v"}))}]);
    let early = unique_kind("WarmEarly");
    apply(
        &client,
        &first.rgd(&early, json!({}), json!({}), resources("early")),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&early)).await?;

    let second = Operator::start_as(client.clone(), opts("second", true), first.id.clone());
    let cached = "controller warm-up: ResourceGraphDefinitions cached while standing by rgds=1";
    wait_for("the standby's RGD cache filled", || {
        let text = logs.text();
        async move { Ok(text.contains(cached).then_some(())) }
    })
    .await?;
    // Made while the second stands by: its watch sees it, and only the leader reconciles it.
    let late = unique_kind("WarmLate");
    apply(
        &client,
        &first.rgd(&late, json!({}), json!({}), resources("late")),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&late)).await?;
    let leases_now = leases.get(kro_controller::LEASE_NAME).await?;
    assert_eq!(leases_now.data["spec"]["holderIdentity"], "first");

    first.stop().await?;
    wait_for_holder(&leases, "second").await?;
    for kind in [&early, &late] {
        apply(&client, &instance(kind, &ns, "w", json!({}))).await?;
        wait_instance_state(&client, kind, &ns, "w", "ACTIVE").await?;
    }
    second.stop().await
}
