//! Secrets stay secret: a canary value put through every path appears nowhere in logs, events,
//! status, annotations or metrics.
//!
//! The canary is a random string, so it cannot appear by chance, and the operator's logs are
//! captured at debug level from every operator in the process ([`Capture`]): finding it there
//! means this test's operator (or its AWS controllers) wrote it. It goes through a Secret child
//! rendered from the instance spec, a DBInstance whose password Secret holds it, a Secret read by
//! externalRef whose `data` CEL copies into a ConfigMap (where the RGD author put it on purpose),
//! and failing expressions and a refused apply whose input is the canary.

use anyhow::{Context, Result};
use kro_e2e::{client, namespace};
use serde_json::{Value, json};

use crate::support::aws;
use crate::support::logs::Capture;
use crate::support::operator::*;
use crate::support::process::{free_port, http_get};
use crate::support::{apply, served_api, wait_for, wait_object};

/// A random canary: 24 hex digits from the standard library's random hasher seeds and the time.
fn random_canary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut digits = String::new();
    for round in 0..2u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(round);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        digits.push_str(&format!("{:016x}", hasher.finish()));
    }
    format!("cnry{}", &digits[..24])
}

/// The canary and its base64 form (as a Secret's `data` holds it).
struct Canary {
    raw: String,
    base64: String,
}

impl Canary {
    fn new() -> Result<Self> {
        let raw = random_canary();
        let base64 = serde_json::to_value(k8s_openapi::ByteString(raw.as_bytes().to_vec()))?
            .as_str()
            .context("base64 text")?
            .to_owned();
        Ok(Canary { raw, base64 })
    }

    /// Where in `text` the canary appears (raw or base64), as short excerpts; empty when it
    /// does not.
    fn found_in(&self, text: &str) -> Vec<String> {
        [&self.raw, &self.base64]
            .into_iter()
            .flat_map(|needle| text.match_indices(needle.as_str()).map(|(at, _)| at))
            .map(|at| {
                let bytes = &text.as_bytes()[at.saturating_sub(160)..(at + 80).min(text.len())];
                String::from_utf8_lossy(bytes).into_owned()
            })
            .collect()
    }
}

/// The RGD whose instance carries the canary through every path that works: a Secret child from
/// the spec, a DBInstance reading it as its password, and a Secret read by externalRef whose
/// `data` a ConfigMap copies.
fn carrier_resources() -> Value {
    json!([
        {"id": "password", "template": {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "${schema.metadata.name}-pw"},
            "stringData": {"password": "${schema.spec.canary}"}}},
        {"id": "token", "externalRef": {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ext-token"}}},
        {"id": "copy", "template": config_map("${schema.metadata.name}-copy",
            json!({"token": "${string(token.data.token)}"}))},
        {"id": "db", "template": {
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
            "metadata": {"name": "${schema.metadata.name}-db"},
            "spec": {
                "dbInstanceIdentifier": "${schema.spec.dbId}",
                "dbInstanceClass": "db.t3.micro",
                "engine": "postgres",
                "engineVersion": "16",
                "allocatedStorage": 20,
                "masterUsername": "app",
                "masterUserPassword": {"name": "${password.metadata.name}", "key": "password"}}}},
    ])
}

/// The RGD whose instances fail on the canary, one way per `mode`: a conversion, a non-string
/// in a string template, an operator on the wrong type, a value the API server refuses.
fn failing_resources() -> Value {
    let when = |mode: &str| json!([format!("${{schema.spec.mode == '{mode}'}}")]);
    json!([
        {"id": "parsed", "includeWhen": when("int"), "template": config_map(
            "${schema.metadata.name}-parsed", json!({"n": "${string(int(schema.spec.canary))}"}))},
        {"id": "templated", "includeWhen": when("template"), "template": config_map(
            "${schema.metadata.name}-templated", json!({"v": "v-${schema.spec.extra.m}"}))},
        {"id": "added", "includeWhen": when("add"), "template": config_map(
            "${schema.metadata.name}-added", json!({"v": "${string(schema.spec.extra.k + 1)}"}))},
        {"id": "refused", "includeWhen": when("refused"), "template": {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "${schema.metadata.name}-refused"},
            "spec": {"type": "${schema.spec.canary}", "ports": [{"port": 80}]}}},
    ])
}

/// Waits until some condition of the instance is False with a message containing `fragment`,
/// and returns that message.
async fn wait_failed(kind: &str, ns: &str, name: &str, fragment: &str) -> Result<String> {
    let client = client().await?;
    let api = served_api(&client, &instance_api(), kind, Some(ns)).await?;
    wait_for(&format!("{name} to fail with {fragment:?}"), || async {
        let obj = serde_json::to_value(api.get(name).await?)?;
        Ok(obj["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == "False")
            .filter_map(|c| c["message"].as_str())
            .find(|m| m.contains(fragment))
            .map(str::to_owned))
    })
    .await
}

/// Every object of `kind` in the namespace (`ns` None: cluster-wide), as JSON.
async fn list(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
) -> Result<Vec<Value>> {
    let api = served_api(client, api_version, kind, ns).await?;
    let listed = api.list(&Default::default()).await?;
    listed
        .items
        .into_iter()
        .map(|o| Ok(serde_json::to_value(o)?))
        .collect()
}

#[tokio::test]
async fn a_canary_secret_value_reaches_no_log_event_status_annotation_or_metric() -> Result<()> {
    let canary = Canary::new()?;
    let logs = Capture::start();
    let client = client().await?;
    aws::install_crds(&client).await?;
    let ns = namespace(&client, "secrets-canary").await?;
    let controllers = aws::start(&client, aws::options(&ns, kro_e2e::aws_endpoint()));
    let mport = free_port()?;
    let op = Operator::start_with(
        client.clone(),
        kro_controller::Options {
            metrics_bind_address: format!("127.0.0.1:{mport}"),
            ..kro_controller::Options::for_tests()
        },
    );

    let kinds = put_the_canary_through_every_path(&client, &ns, &op, &canary).await?;
    every_path_ran(&client, &ns, &kinds, &canary).await?;

    let mut seen = what_readers_see(&client, &ns, &kinds).await?;
    let (_, metrics) = http_get(mport, "/metrics").await?;
    seen.push(("/metrics".to_owned(), metrics));
    let logged = logs.text();
    assert!(
        logged.contains("desired-hash key loaded"),
        "the capture saw the operator start"
    );
    seen.push(("the operator's logs (debug)".to_owned(), logged));
    let leaks: Vec<String> = seen
        .iter()
        .flat_map(|(place, text)| {
            canary
                .found_in(text)
                .into_iter()
                .map(move |excerpt| format!("{place}: …{excerpt}…"))
        })
        .collect();
    assert!(leaks.is_empty(), "the canary leaked:\n{}", leaks.join("\n"));

    op.stop().await?;
    controllers.stop().await;
    Ok(())
}

/// The two kinds of the test: the carrier's and the failing one's.
struct Kinds {
    carrier: String,
    failing: String,
}

/// The Secret an externalRef reads, both RGDs, the carrier instance and one failing instance
/// per way to fail.
async fn put_the_canary_through_every_path(
    client: &kube::Client,
    ns: &str,
    op: &Operator,
    canary: &Canary,
) -> Result<Kinds> {
    apply(
        client,
        &json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ext-token", "namespace": ns},
            "stringData": {"token": canary.raw}}),
    )
    .await?;
    let kinds = Kinds {
        carrier: unique_kind("Canary"),
        failing: unique_kind("CanaryFail"),
    };
    let carrier_spec = json!({"canary": "string", "dbId": "string"});
    let failing_spec = json!({"canary": "string", "mode": "string", "extra": "object"});
    apply(
        client,
        &op.rgd(&kinds.carrier, carrier_spec, json!({}), carrier_resources()),
    )
    .await?;
    apply(
        client,
        &op.rgd(&kinds.failing, failing_spec, json!({}), failing_resources()),
    )
    .await?;
    wait_rgd_active(client, &rgd_name(&kinds.carrier)).await?;
    wait_rgd_active(client, &rgd_name(&kinds.failing)).await?;

    // Names in moto's RDS are account-wide: one of this run's own.
    let db_id = kro_e2e::unique_name("canary-db");
    let spec = json!({"canary": canary.raw, "dbId": db_id});
    apply(client, &instance(&kinds.carrier, ns, "carrier", spec)).await?;
    let extra = json!({"k": canary.raw, "m": {"n": canary.raw}});
    for mode in ["int", "template", "add", "refused"] {
        let spec = json!({"canary": canary.raw, "mode": mode, "extra": extra});
        let name = format!("fail-{mode}");
        apply(client, &instance(&kinds.failing, ns, &name, spec)).await?;
    }
    Ok(kinds)
}

/// Every path ran: the copy exists, the database is in AWS with the canary as its password,
/// and each failing instance reports its failure, describing the value instead of quoting it.
async fn every_path_ran(
    client: &kube::Client,
    ns: &str,
    kinds: &Kinds,
    canary: &Canary,
) -> Result<()> {
    let copy = wait_object(client, "v1", "ConfigMap", Some(ns), "carrier-copy", |_| {
        true
    })
    .await?;
    assert_eq!(
        copy["data"]["token"],
        json!(canary.raw),
        "CEL read secret.data"
    );
    let db = wait_object(
        client,
        "rds.services.k8s.aws/v1alpha1",
        "DBInstance",
        Some(ns),
        "carrier-db",
        aws::synced,
    )
    .await?;
    assert_eq!(db["spec"]["masterUserPassword"]["name"], "carrier-pw");
    let failing = &kinds.failing;
    let parsed = wait_failed(failing, ns, "fail-int", "int(schema.spec.canary)").await?;
    let templated = wait_failed(failing, ns, "fail-template", "schema.spec.extra.m").await?;
    assert!(templated.contains("got a map with 1 entry"), "{templated}");
    let added = wait_failed(failing, ns, "fail-add", "schema.spec.extra.k + 1").await?;
    let refused = wait_failed(failing, ns, "fail-refused", "refused").await?;
    assert!(
        refused.contains("Unsupported value: (a string of"),
        "{refused}"
    );
    for message in [&parsed, &added] {
        assert!(message.contains("expression"), "{message}");
    }
    Ok(())
}

/// What anyone with read access to the namespace sees, as (where, text): annotations, labels
/// and status of every object of the test's kinds (the Secrets' and the copy's data hold the
/// canary by design), every Event, and the RGDs.
async fn what_readers_see(
    client: &kube::Client,
    ns: &str,
    kinds: &Kinds,
) -> Result<Vec<(String, String)>> {
    let mut seen = Vec::new();
    for (api_version, kind) in [
        (instance_api(), kinds.carrier.clone()),
        (instance_api(), kinds.failing.clone()),
        ("v1".to_owned(), "ConfigMap".to_owned()),
        ("v1".to_owned(), "Secret".to_owned()),
        ("v1".to_owned(), "Service".to_owned()),
        (
            "rds.services.k8s.aws/v1alpha1".to_owned(),
            "DBInstance".to_owned(),
        ),
    ] {
        for obj in list(client, &api_version, &kind, Some(ns)).await? {
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            let visible = json!({"annotations": obj["metadata"]["annotations"],
                "labels": obj["metadata"]["labels"], "status": obj["status"]});
            seen.push((
                format!("{kind} {name} annotations/labels/status"),
                visible.to_string(),
            ));
        }
    }
    for (api_version, kind) in [("v1", "Event"), ("events.k8s.io/v1", "Event")] {
        let events = list(client, api_version, kind, Some(ns)).await?;
        assert!(
            !events.is_empty() || api_version == "v1",
            "no events at all in {ns}"
        );
        seen.push((
            format!("{api_version} Events"),
            Value::Array(events).to_string(),
        ));
    }
    for name in [rgd_name(&kinds.carrier), rgd_name(&kinds.failing)] {
        let rgd = crate::support::get(client, KRO_API, RGD_KIND, None, &name).await?;
        seen.push((format!("RGD {name}"), rgd.unwrap_or_default().to_string()));
    }
    Ok(seen)
}
