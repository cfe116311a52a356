//! e2e: objects kro-rs cannot decode never stall their kind (issue 15.1). An instance nested
//! 200 levels deep in a preserve-unknown `object` field, which the API server accepts, is
//! reported on itself (status `ERROR`, a Warning event naming the 127-level bound) while a
//! normal instance of the same kind goes `ACTIVE`, also under an operator that starts with the
//! deep one already in its kind's first LIST. The same for an RGD nested too deep beside a
//! normal RGD, which goes `Active`. Neither object's content reaches the operator's logs (a
//! canary string at the bottom of each is looked for in what `kro run --log-level debug`
//! writes).
//!
//! The deep objects are written and read back by this test with raw requests, never decoded
//! by kube (which could not either): their status is read with a shallow parse.

use anyhow::{Context, Result, bail};
use kro_api::decode::Lenient;
use kro_e2e::{client, namespace, unique_name};
use kube::Client;
use kube::api::DynamicObject;
use serde_json::{Value, json};

use crate::support::events::wait_event;
use crate::support::logs::Capture;
use crate::support::operator::*;
use crate::support::proxy::{ApiProxy, Faults, Throttle};
use crate::support::{apply, condition, condition_message, get, wait_for};

/// How deep the poison objects are nested: beyond the 127 levels kro-rs decodes.
const DEPTH: usize = 200;

/// `levels` nested objects under key `a`, the innermost holding `canary`.
fn nested(levels: usize, canary: &str) -> Value {
    let mut inner = json!({"canary": canary});
    for _ in 0..levels {
        inner = json!({"a": inner});
    }
    inner
}

/// Creates `body` at the collection `path` with a raw request; the answer is not decoded.
async fn create_raw(client: &Client, path: &str, body: &Value) -> Result<()> {
    // serde_json serializes a value of any depth; only parsing it back has a limit.
    let text = serde_json::to_string(body)?;
    let request = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(text.into_bytes())?;
    client
        .request_text(request)
        .await
        .with_context(|| format!("creating a deep object at {path}"))?;
    Ok(())
}

/// The status of the object at `path`, read with a raw GET and a shallow parse (the object
/// itself does not decode); `None` when it has none yet.
async fn shallow_status(client: &Client, path: &str) -> Result<Option<Value>> {
    let request = http::Request::get(path).body(Vec::new())?;
    let text = client.request_text(request).await?;
    match Lenient::<DynamicObject>::from_json(&text) {
        Lenient::Poison(poison) => Ok(poison.status.map(|status| json!({"status": status}))),
        Lenient::Decoded(_) => bail!("the object at {path} decodes: it is not deep enough"),
    }
}

/// Waits until the undecodable object at `path` has condition `type_` False with reason
/// `Undecodable`; returns its status.
async fn wait_undecodable(client: &Client, path: &str, type_: &str) -> Result<Value> {
    wait_for(&format!("{type_}=False Undecodable on {path}"), || async {
        Ok(shallow_status(client, path).await?.filter(|object| {
            condition(object, type_)
                .is_some_and(|c| c["status"] == "False" && c["reason"] == "Undecodable")
        }))
    })
    .await
}

/// Neither canary is in what the operators logged, and the skipped objects are named there.
fn assert_no_bodies_logged(logs: &Capture, canaries: &[&str], names: &[&str]) {
    let text = logs.text();
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "an undecodable object's content reached the logs"
        );
    }
    for name in names {
        assert!(
            text.lines()
                .any(|line| line.contains("cannot be decoded") && line.contains(name)),
            "the skipped object {name} is named in the logs"
        );
    }
}

#[tokio::test]
async fn a_deep_instance_is_reported_on_itself_and_its_kind_keeps_reconciling() -> Result<()> {
    let client = client().await?;
    let logs = Capture::start();
    let ns = namespace(&client, "poison-inst").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Deep");
    let rgd = op.rgd(
        &kind,
        json!({"name": "string", "data": "object"}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"name": "${schema.spec.name}"}))}]),
    );
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;

    // Reported through the running watch.
    let canary = unique_name("canary-instance");
    let collection = format!(
        "/apis/{GROUP}/v1alpha1/namespaces/{ns}/{}s",
        kind.to_ascii_lowercase()
    );
    let deep = instance(
        &kind,
        &ns,
        "deep",
        json!({"name": "deep", "data": nested(DEPTH, &canary)}),
    );
    create_raw(&client, &collection, &deep).await?;
    let path = format!("{collection}/deep");
    let status = wait_undecodable(&client, &path, "Ready").await?;
    assert_eq!(status["status"]["state"], "ERROR");
    let message = condition_message(&status, "Ready");
    assert!(
        message.starts_with("kro-rs cannot decode this instance, so it is not reconciled: spec.data.a.a.a.a… is nested")
            && message.contains("at most 127 levels"),
        "{message}"
    );
    assert!(!message.contains(&canary));
    wait_event(&client, &ns, &kind, "deep", "Undecodable", "127 levels").await?;

    // A new operator starts with the deep instance in the kind's first LIST: the normal one
    // still reconciles.
    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(client.clone(), kro_controller::Options::for_tests(), id);
    apply(
        &client,
        &instance(
            &kind,
            &ns,
            "good",
            json!({"name": "good", "data": {"a": 1}}),
        ),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "good", "ACTIVE").await?;
    let cfg = get(&client, "v1", "ConfigMap", Some(&ns), "good-cfg")
        .await?
        .context("the good instance's ConfigMap")?;
    assert_eq!(cfg["data"]["name"], "good");
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "deep-cfg")
            .await?
            .is_none(),
        "the deep instance is not reconciled"
    );
    assert_no_bodies_logged(&logs, &[&canary], &[&format!("{ns}/deep")]);
    op.stop().await
}

#[tokio::test]
async fn a_deep_rgd_is_reported_on_itself_and_other_rgds_go_active() -> Result<()> {
    let client = client().await?;
    let logs = Capture::start();
    let ns = namespace(&client, "poison-rgd").await?;
    let id = unique_name("op");
    // The deep RGD exists before the operator starts: it is in the RGD controller's first LIST.
    let deep_kind = unique_kind("DeepRgd");
    let canary = unique_name("canary-rgd");
    let mut deep = rgd(
        &deep_kind,
        json!({"name": "string", "extra": nested(DEPTH, &canary)}),
        json!({}),
        json!([]),
    );
    deep["metadata"]["labels"] = json!({"e2e.kro.run/operator": id});
    let collection = "/apis/kro.run/v1alpha1/resourcegraphdefinitions";
    // The RGD kind itself, as `kro run` installs it at start.
    kro_controller::install_static_crds(&client).await?;
    create_raw(&client, collection, &deep).await?;
    let op = Operator::start_as(client.clone(), kro_controller::Options::for_tests(), id);

    let good_kind = unique_kind("Shallow");
    let good = op.rgd(
        &good_kind,
        json!({"name": "string"}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-shallow", json!({"name": "${schema.spec.name}"}))}]),
    );
    apply(&client, &good).await?;
    wait_rgd_active(&client, &rgd_name(&good_kind)).await?;
    apply(
        &client,
        &instance(&good_kind, &ns, "one", json!({"name": "one"})),
    )
    .await?;
    wait_instance_state(&client, &good_kind, &ns, "one", "ACTIVE").await?;

    let path = format!("{collection}/{}", rgd_name(&deep_kind));
    let status = wait_undecodable(&client, &path, "GraphAccepted").await?;
    assert_eq!(status["status"]["state"], "Inactive");
    let message = condition_message(&status, "GraphAccepted");
    assert!(
        message.starts_with("kro-rs cannot decode this ResourceGraphDefinition")
            && message.contains("spec.schema.spec.extra.a.a")
            && message.contains("at most 127 levels"),
        "{message}"
    );
    assert!(
        condition(&status, "Ready").is_some_and(|c| c["status"] == "False"),
        "Ready is False"
    );
    // Events about a cluster-scoped object are in the default namespace.
    wait_event(
        &client,
        "default",
        RGD_KIND,
        &rgd_name(&deep_kind),
        "Undecodable",
        "127 levels",
    )
    .await?;
    assert!(
        instance_crd(&client, &deep_kind).await?.is_none(),
        "no CRD is generated for the deep RGD"
    );
    assert_no_bodies_logged(&logs, &[&canary], &[&rgd_name(&deep_kind)]);
    op.stop().await
}

/// Every `status.state` an instance shows, in order, from a watch of the API server.
fn record_states(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
) -> (
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use futures::StreamExt;
    let ar = kube::api::ApiResource {
        group: GROUP.into(),
        version: "v1alpha1".into(),
        api_version: instance_api(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_ascii_lowercase()),
    };
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client.clone(), ns, &ar);
    let states = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = states.clone();
    let config = kube::runtime::watcher::Config::default().fields(&format!("metadata.name={name}"));
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(kube::runtime::watcher(api, config));
        while let Some(event) = stream.next().await {
            if let Ok(
                kube::runtime::watcher::Event::Apply(obj)
                | kube::runtime::watcher::Event::InitApply(obj),
            ) = event
                && let Some(state) = obj.data.pointer("/status/state").and_then(Value::as_str)
                && let Ok(mut seen) = seen.lock()
                && seen.last().map(String::as_str) != Some(state)
            {
                seen.push(state.to_string());
            }
        }
    });
    (states, task)
}

#[tokio::test]
async fn a_throttled_operator_waits_and_converges_without_error() -> Result<()> {
    /// How many writes the proxy refuses.
    const THROTTLED: usize = 20;
    let client = client().await?;
    let ns = namespace(&client, "throttled").await?;
    let kind = unique_kind("Throttled");
    // The instance's own writes (its status) and its children's.
    let scopes = vec![
        format!(
            "/apis/{GROUP}/v1alpha1/namespaces/{ns}/{}s",
            kind.to_ascii_lowercase()
        ),
        format!("/api/v1/namespaces/{ns}/configmaps"),
    ];
    let faults = Faults {
        throttle: Some(Throttle {
            scopes,
            budget: THROTTLED,
        }),
        ..Faults::default()
    };
    let proxy = ApiProxy::start(client.clone(), faults).await?;
    let mut config = kube::Config::new(proxy.url().parse()?);
    // kube's client retries a 429 itself first (15 times, its backoff doubling past
    // Retry-After: minutes); without it every 429 reaches kro-rs's own handling, which is what
    // keeps ERROR out of the status however long a throttle lasts.
    config.default_retry = false;
    let op = Operator::start(kro_controller::client::with_config(config)?);
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"name": "string"}),
            json!({}),
            json!([
                {"id": "a", "template": config_map("${schema.metadata.name}-a", json!({"name": "${schema.spec.name}"}))},
                {"id": "b", "template": config_map("${schema.metadata.name}-b", json!({"from": "${a.data.name}"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    let (states, watching) = record_states(&client, &kind, &ns, "busy");
    apply(
        &client,
        &instance(&kind, &ns, "busy", json!({"name": "busy"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "busy", "ACTIVE").await?;
    let b = get(&client, "v1", "ConfigMap", Some(&ns), "busy-b")
        .await?
        .context("the second ConfigMap")?;
    assert_eq!(b["data"]["from"], "busy");
    assert_eq!(proxy.throttled(), THROTTLED, "every 429 was met");
    watching.abort();
    let states = states.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        !states.iter().any(|state| state == "ERROR"),
        "the instance reported ERROR while throttled: {states:?}"
    );
    assert_eq!(
        states.last().map(String::as_str),
        Some("ACTIVE"),
        "{states:?}"
    );
    op.stop().await
}
