//! What a kro dashboard reads, and kro's instance-condition gates, on a running operator: its
//! `/metrics` scraped after an RGD and instances went through builds, state and condition
//! transitions, a failing apply and a deletion shows kro's families under kro's label names
//! (the list in `operator/controller/kro-metrics.txt`, from kro's and controller-runtime's
//! sources); `InstanceConditionEvents` turns each condition transition into an event and
//! `InstanceConditionMetrics` serves the condition gauge, and without the gates neither
//! appears; an unknown gate stops `kro run` at start.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use kro_controller::metrics::{kro_families, not_served, scraped_families};
use kro_controller::options::FeatureGates;
use kro_e2e::{client, namespace};
use kube::Client;
use serde_json::{Value, json};

use crate::support::events::{SeenEvent, events_of};
use crate::support::kro_process::kro_bin;
use crate::support::operator::*;
use crate::support::process::{free_port, http_get};
use crate::support::{apply, delete, merge, wait_for, wait_object_gone};

/// Families the scenario of [`a_running_operator_serves_kros_families_under_kros_labels`]
/// makes happen, so they must be in the scrape (every other family of the list may be, and
/// then carries kro's labels too).
const DRIVEN: &[&str] = &[
    "dynamic_controller_reconcile_total",
    "dynamic_controller_reconcile_duration_seconds",
    "dynamic_controller_requeue_total",
    "dynamic_controller_handler_errors_total",
    "dynamic_controller_gvr_count",
    "dynamic_controller_queue_length",
    "dynamic_controller_handler_count_total",
    "dynamic_controller_handler_attach_total",
    "dynamic_controller_handler_detach_total",
    "dynamic_controller_informer_sync_duration_seconds",
    "dynamic_controller_informer_events_total",
    "dynamic_controller_watch_count",
    "dynamic_controller_route_total",
    "dynamic_controller_route_match_total",
    "instance_state_transitions_total",
    "instance_reconcile_duration_seconds",
    "instance_reconcile_total",
    "instance_reconcile_errors_total",
    "instance_graph_resolution_success_total",
    "instance_condition_current_status_seconds",
    "rgd_graph_build_total",
    "rgd_graph_build_duration_seconds",
    "rgd_graph_build_errors_total",
    "rgd_state_transitions_total",
    "rgd_deletions_total",
    "rgd_deletion_duration_seconds",
    "schema_resolver_cache_misses_total",
    "schema_resolver_cache_size",
    "schema_resolver_api_call_duration_seconds",
    // Not the rest_client_* families: this in-process operator talks through the test's own
    // client, not kro_controller::client's counting one (`kro run`'s); the unit test covers them.
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_reconcile_panics_total",
    "controller_runtime_reconcile_time_seconds",
    "controller_runtime_max_concurrent_reconciles",
    "controller_runtime_active_workers",
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_retries_total",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
];

/// An RGD whose instances are `ACTIVE` only once `spec.ready` is `yes` (a readyWhen on the
/// ConfigMap they make, named by `spec.cm`).
fn gated_rgd(op: &Operator, kind: &str) -> Value {
    op.rgd(
        kind,
        json!({"ready": "string | default=\"no\"", "cm": "string | default=\"gated\""}),
        json!({}),
        json!([{
            "id": "config",
            "template": config_map("${schema.spec.cm}", json!({"ready": "${schema.spec.ready}"})),
            "readyWhen": ["${config.data.ready == 'yes'}"],
        }]),
    )
}

/// An operator serving `/metrics` on a port of its own, with `gates`.
fn operator_with(client: &Client, gates: FeatureGates) -> Result<(Operator, u16)> {
    let port = free_port()?;
    let op = Operator::start_with(
        client.clone(),
        kro_controller::Options {
            metrics_bind_address: format!("127.0.0.1:{port}"),
            feature_gates: gates,
            ..kro_controller::Options::for_tests()
        },
    );
    Ok((op, port))
}

/// One scrape of the operator's `/metrics`.
async fn scrape(port: u16) -> Result<String> {
    let (status, body) = http_get(port, "/metrics").await?;
    anyhow::ensure!(status.contains(" 200"), "/metrics answered {status}");
    Ok(body)
}

/// An instance goes `IN_PROGRESS` (its ConfigMap is not ready), then `ACTIVE` once its spec
/// says so; returns when its `StateChanged` event of that change is listed, which kro-rs
/// publishes after the condition events of the same status write.
async fn drive_to_active(client: &Client, ns: &str, kind: &str, name: &str) -> Result<()> {
    apply(client, &instance(kind, ns, name, json!({"cm": name}))).await?;
    wait_instance_state(client, kind, ns, name, "IN_PROGRESS").await?;
    merge(
        client,
        &instance_api(),
        kind,
        Some(ns),
        name,
        json!({"spec": {"ready": "yes"}}),
        false,
    )
    .await?;
    wait_instance_state(client, kind, ns, name, "ACTIVE").await?;
    // kube's recorder folds a repeated reason into the first event (its note stays), so the
    // second state change shows as that event's count going to 2.
    wait_for(
        &format!("the second StateChanged event of {name}"),
        || async {
            Ok(events_of(client, ns, kind, name)
                .await?
                .into_iter()
                .find(|event| event.reason == "StateChanged" && event.count >= 2))
        },
    )
    .await?;
    Ok(())
}

/// The events about an instance whose reason is one of kro's instance condition types.
async fn condition_events(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<SeenEvent>> {
    const CONDITION_TYPES: [&str; 4] = [
        "InstanceManaged",
        "GraphResolved",
        "ResourcesReady",
        "Ready",
    ];
    Ok(events_of(client, ns, kind, name)
        .await?
        .into_iter()
        .filter(|event| CONDITION_TYPES.contains(&event.reason.as_str()))
        .collect())
}

/// Samples of `family` in a scrape whose labels contain every `label="value"` of `with`.
fn samples<'a>(text: &'a str, family: &str, with: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{family}{{")))
        .filter(|line| with.iter().all(|pair| line.contains(pair)))
        .collect()
}

/// Builds, state and condition transitions, a failing apply, a broken RGD and a deleted one:
/// `(the kind of the instances, the broken RGD's kind)`.
async fn drive_the_scenario(client: &Client, ns: &str, op: &Operator) -> Result<(String, String)> {
    let kind = unique_kind("Dash");
    apply(client, &gated_rgd(op, &kind)).await?;
    wait_rgd_active(client, &rgd_name(&kind)).await?;
    drive_to_active(client, ns, &kind, "fine").await?;
    // An apply the API server refuses (an invalid ConfigMap name): a failed reconcile, retried.
    apply(
        client,
        &instance(&kind, ns, "bad", json!({"cm": "Not_A_Name"})),
    )
    .await?;
    wait_instance_state(client, &kind, ns, "bad", "ERROR").await?;
    // An RGD that does not compile, and one deleted.
    let broken = unique_kind("Broken");
    let mut rgd = gated_rgd(op, &broken);
    rgd["spec"]["resources"][0]["template"]["data"]["ready"] = json!("${schema.spec.nothing}");
    apply(client, &rgd).await?;
    wait_rgd_state(client, &rgd_name(&broken), "Inactive").await?;
    let gone = unique_kind("Gone");
    apply(client, &gated_rgd(op, &gone)).await?;
    wait_rgd_active(client, &rgd_name(&gone)).await?;
    delete(client, KRO_API, RGD_KIND, None, &rgd_name(&gone)).await?;
    wait_object_gone(client, KRO_API, RGD_KIND, None, &rgd_name(&gone)).await?;
    Ok((kind, broken))
}

/// Every family of kro's list in the scrape has kro's label names, none said not to be
/// served is, and kro-rs's own stays.
fn assert_kros_labels(text: &str) {
    let served = scraped_families(text);
    let mut wrong = Vec::new();
    for (family, _type, labels) in kro_families() {
        match (not_served(&family), served.get(&family)) {
            (Some(_), Some(_)) => wrong.push(format!("{family}: served, but said not to be")),
            (None, Some(got)) if *got != labels => {
                wrong.push(format!(
                    "{family}: kro's labels {labels:?}, kro-rs's {got:?}"
                ));
            }
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{text}", wrong.join("\n"));
    assert_eq!(
        served.get("instance_reconcile_cpu_seconds"),
        Some(&vec!["gvr".to_string()]),
        "kro-rs's own family stays"
    );
}

/// With `InstanceConditionEvents`, each transition of instance `fine` is an event named after
/// the condition.
async fn assert_condition_events(client: &Client, ns: &str, kind: &str) -> Result<()> {
    // InstanceConditionEvents: each transition of the instance is an event named after the
    // condition; Ready went False -> True (Normal) after appearing not True (Warning).
    let events = condition_events(client, ns, kind, "fine").await?;
    let ready: Vec<&SeenEvent> = events.iter().filter(|e| e.reason == "Ready").collect();
    assert!(
        ready
            .iter()
            .any(|e| e.type_ == "Warning" && e.message.starts_with("none -> ")),
        "Ready's first appearance is a Warning from none: {events:?}"
    );
    assert!(
        ready.iter().any(|e| e.type_ == "Normal"
            && e.message.contains(" -> True: ")
            && !e.message.starts_with("none")),
        "Ready's change to True is a Normal event: {events:?}"
    );
    assert!(
        events.iter().any(|e| e.reason == "InstanceManaged"),
        "every condition has its events: {events:?}"
    );

    Ok(())
}

#[tokio::test]
async fn a_running_operator_serves_kros_families_under_kros_labels() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "kro-metrics").await?;
    let (op, port) = operator_with(
        &client,
        FeatureGates {
            instance_condition_events: true,
            instance_condition_metrics: true,
            ..FeatureGates::default()
        },
    )?;
    let (kind, broken) = drive_the_scenario(&client, &ns, &op).await?;
    let text = wait_for("a scrape with every driven family", || async {
        let text = scrape(port).await?;
        let families = scraped_families(&text);
        Ok(DRIVEN
            .iter()
            .all(|family| families.contains_key(*family))
            .then_some(text))
    })
    .await
    .with_context(|| "some driven family never appeared".to_string());
    let text = match text {
        Ok(text) => text,
        Err(error) => {
            let families = scraped_families(&scrape(port).await?);
            let missing: Vec<&&str> = DRIVEN
                .iter()
                .filter(|f| !families.contains_key(**f))
                .collect();
            anyhow::bail!("{error}: missing {missing:?}");
        }
    };

    assert_kros_labels(&text);
    // Values under kro's spelling of the kind, counted where things happened.
    let gvr = format!(
        "gvr=\"{}/v1alpha1, Resource={}s\"",
        GROUP,
        kind.to_ascii_lowercase()
    );
    let gvk = format!("gvr=\"{GROUP}/v1alpha1, Kind={kind}\"");
    let expect: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        (
            "instance_state_transitions_total",
            vec![
                gvk.as_str(),
                "from_state=\"IN_PROGRESS\"",
                "to_state=\"ACTIVE\"",
            ],
        ),
        ("instance_reconcile_errors_total", vec![gvr.as_str()]),
        (
            "instance_condition_current_status_seconds",
            vec![
                gvr.as_str(),
                "name=\"fine\"",
                "condition_type=\"Ready\"",
                "condition_status=\"True\"",
            ],
        ),
        (
            "controller_runtime_reconcile_total",
            vec!["controller=\"ResourceGraphDefinition\""],
        ),
        (
            "workqueue_adds_total",
            vec![
                "name=\"dynamic-controller-queue\"",
                "controller=\"dynamic-controller-queue\"",
            ],
        ),
        (
            "dynamic_controller_informer_events_total",
            vec![gvr.as_str(), "event_type=\"ADDED\""],
        ),
    ]);
    for (family, with) in &expect {
        assert!(
            !samples(&text, family, with).is_empty(),
            "no {family} sample with {with:?} in\n{text}"
        );
    }
    let broken_builds = format!("name=\"{}\"", rgd_name(&broken));
    assert!(
        !samples(&text, "rgd_graph_build_errors_total", &[&broken_builds]).is_empty(),
        "the broken RGD's build error is counted"
    );

    assert_condition_events(&client, &ns, &kind).await?;
    // The instance deleted: its condition gauges go with it.
    delete(&client, &instance_api(), &kind, Some(&ns), "fine").await?;
    wait_object_gone(&client, &instance_api(), &kind, Some(&ns), "fine").await?;
    wait_for("the deleted instance's condition gauges gone", || async {
        let text = scrape(port).await?;
        Ok(samples(
            &text,
            "instance_condition_current_status_seconds",
            &[&gvr, "name=\"fine\""],
        )
        .is_empty()
        .then_some(()))
    })
    .await?;
    op.stop().await
}

#[tokio::test]
async fn without_the_gates_no_condition_events_nor_condition_gauges() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "kro-gates-off").await?;
    let (op, port) = operator_with(&client, FeatureGates::default())?;
    let kind = unique_kind("Quiet");
    apply(&client, &gated_rgd(&op, &kind)).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    drive_to_active(&client, &ns, &kind, "quiet").await?;
    let events = condition_events(&client, &ns, &kind, "quiet").await?;
    assert!(
        events.is_empty(),
        "no condition events without the gate: {events:?}"
    );
    let text = scrape(port).await?;
    assert!(
        samples(&text, "instance_condition_current_status_seconds", &[]).is_empty(),
        "no condition gauge without the gate:\n{text}"
    );
    // The rest is served as always.
    let gvr = format!(
        "gvr=\"{}/v1alpha1, Resource={}s\"",
        GROUP,
        kind.to_ascii_lowercase()
    );
    assert!(!samples(&text, "instance_reconcile_total", &[&gvr]).is_empty());
    op.stop().await
}

#[tokio::test]
async fn an_unknown_feature_gate_stops_kro_run_at_start() -> Result<()> {
    let output = Command::new(kro_bin())
        .args([
            "run",
            "--feature-gates",
            "InstanceConditionEvents=true,NoSuchGate=true",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", kro_e2e::kubeconfig())
        .stdin(Stdio::null())
        .output()
        .context("running kro")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "kro run started with an unknown gate"
    );
    assert!(
        stderr.contains("unrecognized feature gate: NoSuchGate"),
        "the error names the gate: {stderr}"
    );
    assert!(
        stderr.contains("--feature-gates"),
        "the error names the flag: {stderr}"
    );
    Ok(())
}
