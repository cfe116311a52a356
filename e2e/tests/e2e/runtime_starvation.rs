//! Slow instances cannot starve the operator: `kro run` as a process with two reconcile workers
//! and a CEL cost limit high enough that each hostile instance would evaluate for hours. While
//! both workers are busy evaluating them (the operator's own log says so), `/healthz`,
//! `/readyz` and `/metrics` answer every probe and the leader Lease keeps being renewed; the
//! hostile instances end in `ERROR` with the deadline message, and a normal instance created
//! alongside goes `ACTIVE`.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use kro_e2e::{client, namespace};
use serde_json::{Value, json};

use crate::support::kro_process::{KroProcess, SHORT_LEASE};
use crate::support::operator::*;
use crate::support::process::{free_port, http_get};
use crate::support::{DEADLINE, api_for, apply, condition_message, wait_for};

/// Reconcile workers of the operator under test (and so evaluation slots).
const WORKERS: usize = 2;
/// More hostile instances than workers.
const HOSTILE: usize = 3;
/// About 10^10 comprehension steps: hours of work, far inside the cost limit given below.
const ENDLESS: &str = "lists.range(100000).all(i, lists.range(100000).all(j, i + j >= 0))";
/// What the hostile instances' status ends with.
const DEADLINE_MESSAGE: &str = "evaluation stopped at its deadline";

/// What the operator's JSON log says of the hostile instances' evaluations so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Evaluations {
    started: usize,
    ended: usize,
    /// The most evaluations the operator itself counted running at once.
    most_in_flight: u64,
}

impl Evaluations {
    fn read(log: &str, ns: &str) -> Self {
        let prefix = format!("{ns}/hostile-");
        let mut seen = Evaluations::default();
        for line in log.lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let fields = &entry["fields"];
            if !fields["instance"]
                .as_str()
                .is_some_and(|instance| instance.starts_with(&prefix))
            {
                continue;
            }
            match fields["message"].as_str() {
                Some("evaluation started") => {
                    seen.started += 1;
                    let in_flight = fields["in_flight"].as_u64().unwrap_or(0);
                    seen.most_in_flight = seen.most_in_flight.max(in_flight);
                }
                Some("evaluation ended") => seen.ended += 1,
                _ => {}
            }
        }
        seen
    }

    /// Hostile evaluations running now.
    fn running(self) -> usize {
        self.started.saturating_sub(self.ended)
    }
}

/// What the busy window has shown so far.
#[derive(Debug, Default)]
struct Window {
    /// Rounds of probes (`/healthz`, `/readyz`, `/metrics`) answered while every worker was
    /// evaluating a hostile instance from before the round to after it.
    answered_while_busy: usize,
    /// The Lease's renewTime, and the evaluations seen, when both workers were busy.
    renew_mark: Option<(String, Evaluations)>,
    /// Renewals of the Lease seen within one stretch of every worker being busy.
    renewed_while_busy: usize,
    /// Probes that did not answer 200 (any is a failure).
    failures: Vec<String>,
}

/// One probe of an admin endpoint: `Err` names what answered wrong.
async fn probe(port: u16, path: &str) -> Result<(), String> {
    let answer = tokio::time::timeout(DEADLINE, http_get(port, path)).await;
    match answer {
        Ok(Ok((status, body))) if status.contains(" 200") && !body.is_empty() => Ok(()),
        Ok(Ok((status, _))) => Err(format!("{path}: {status}")),
        Ok(Err(e)) => Err(format!("{path}: {e}")),
        Err(_) => Err(format!("{path}: no answer in {}s", DEADLINE.as_secs())),
    }
}

/// The Lease's `spec.renewTime` (fixed-width RFC 3339 micro time, so later sorts after).
async fn renew_time(leases: &kube::Api<kube::api::DynamicObject>) -> Result<String> {
    let lease = leases
        .get(kro_controller::LEASE_NAME)
        .await
        .context("reading the leader Lease")?;
    Ok(lease.data["spec"]["renewTime"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn hostile_rgd(kind: &str, id: &str) -> Value {
    let mut rgd = rgd(
        kind,
        json!({}),
        json!({}),
        json!([{"id": "slow", "template": config_map("${schema.metadata.name}-slow",
            json!({"v": format!("${{string({ENDLESS})}}")}))}]),
    );
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": id});
    rgd
}

fn normal_rgd(kind: &str, id: &str) -> Value {
    let mut rgd = rgd(
        kind,
        json!({}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"k": "v"}))}]),
    );
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": id});
    rgd
}

fn start_kro(id: &str, ns: &str, metrics: u16, health: u16) -> Result<KroProcess> {
    let workers = WORKERS.to_string();
    let metrics = format!("127.0.0.1:{metrics}");
    let health = format!("127.0.0.1:{health}");
    let selector = format!("e2e.kro.run/operator={id}");
    let mut args = vec![
        "run",
        "--metrics-bind-address",
        &metrics,
        "--health-probe-bind-address",
        &health,
        "--dynamic-controller-concurrent-reconciles",
        &workers,
        "--cel-cost-limit",
        "1000000000000000",
        "--instance-evaluation-timeout",
        "8s",
        "--leader-elect",
        "--leader-election-namespace",
        ns,
        "--log-format",
        "json",
        "--log-level",
        "info,kro_controller::instance::evaluate=debug",
        "--rgd-selector",
        &selector,
        "--aws-controllers",
        "none",
    ];
    args.extend(SHORT_LEASE);
    KroProcess::start(id, args, &[("POD_NAME", id.as_ref())])
}

/// One round of the busy window: the probes, and the Lease when both workers are busy.
async fn round(
    kro: &KroProcess,
    ns: &str,
    ports: (u16, u16),
    leases: &kube::Api<kube::api::DynamicObject>,
    window: &RefCell<Window>,
) -> Result<()> {
    let (metrics, health) = ports;
    let before = Evaluations::read(&kro.log(), ns);
    let renewed = renew_time(leases).await?;
    let mut failures = Vec::new();
    for (port, path) in [
        (health, "/healthz"),
        (health, "/readyz"),
        (metrics, "/metrics"),
    ] {
        if let Err(failure) = probe(port, path).await {
            failures.push(failure);
        }
    }
    let after = Evaluations::read(&kro.log(), ns);
    // Busy from before the round to after it: all workers evaluating, none finished meanwhile.
    let busy_throughout = before.running() == WORKERS && after.ended == before.ended;
    let mut window = window.borrow_mut();
    window.failures.extend(failures);
    if busy_throughout {
        window.answered_while_busy += 1;
    }
    match window.renew_mark.take() {
        Some((mark, at)) if after.ended == at.ended && before.running() == WORKERS => {
            if renewed > mark {
                window.renewed_while_busy += 1;
                window.renew_mark = Some((renewed, before));
            } else {
                window.renew_mark = Some((mark, at));
            }
        }
        _ if busy_throughout => window.renew_mark = Some((renewed, before)),
        _ => {}
    }
    Ok(())
}

/// Whether every hostile instance shows the deadline message, and the normal one is ACTIVE.
async fn settled(client: &kube::Client, ns: &str, hostile: &str, normal: &str) -> Result<bool> {
    let hostile_api = api_for(client, &instance_api(), hostile, Some(ns)).await?;
    for i in 0..HOSTILE {
        let Some(obj) = hostile_api.get_opt(&format!("hostile-{i}")).await? else {
            return Ok(false);
        };
        let obj = serde_json::to_value(obj)?;
        if obj["status"]["state"] != "ERROR"
            || !condition_message(&obj, "Ready").contains(DEADLINE_MESSAGE)
        {
            return Ok(false);
        }
    }
    let normal_api = api_for(client, &instance_api(), normal, Some(ns)).await?;
    let normal = normal_api.get_opt("normal").await?;
    Ok(normal.is_some_and(|obj| obj.data["status"]["state"] == "ACTIVE"))
}

#[tokio::test]
async fn slow_instances_do_not_starve_probes_metrics_or_the_lease() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "starve").await?;
    let (metrics, health) = (free_port()?, free_port()?);
    let id = kro_e2e::unique_name("starve");
    let kro = start_kro(&id, &ns, metrics, health)?;
    let with_log = |error: anyhow::Error| anyhow::anyhow!("{error:#}\nkro log:\n{}", kro.log());

    wait_for("kro /readyz 200", || async {
        Ok(probe(health, "/readyz").await.ok())
    })
    .await
    .map_err(with_log)?;
    let (hostile, normal) = (unique_kind("Hostile"), unique_kind("Normal"));
    apply(&client, &hostile_rgd(&hostile, &id)).await?;
    apply(&client, &normal_rgd(&normal, &id)).await?;
    for kind in [&hostile, &normal] {
        wait_rgd_active(&client, &rgd_name(kind))
            .await
            .map_err(with_log)?;
    }

    for i in 0..HOSTILE {
        apply(
            &client,
            &instance(&hostile, &ns, &format!("hostile-{i}"), json!({})),
        )
        .await?;
    }
    wait_for("every worker evaluating a hostile instance", || async {
        Ok((Evaluations::read(&kro.log(), &ns).running() == WORKERS).then_some(()))
    })
    .await
    .map_err(with_log)?;
    // Created while every worker is busy.
    apply(&client, &instance(&normal, &ns, "normal", json!({}))).await?;

    let leases = api_for(&client, "coordination.k8s.io/v1", "Lease", Some(&ns)).await?;
    let window = Rc::new(RefCell::new(Window::default()));
    let (client_ref, ns_ref, leases_ref, kro_ref) = (&client, &ns, &leases, &kro);
    let (hostile_ref, normal_ref) = (&hostile, &normal);
    let outcome = wait_for(
        "the hostile instances at their deadline, the normal one ACTIVE, probes and Lease renewals seen while every worker was busy",
        || {
            let window = window.clone();
            let (client, ns, leases, kro) = (client_ref, ns_ref, leases_ref, kro_ref);
            let (hostile, normal) = (hostile_ref, normal_ref);
            async move {
                round(kro, ns, (metrics, health), leases, &window).await?;
                let (failures, enough) = {
                    let seen = window.borrow();
                    (
                        seen.failures.join("; "),
                        seen.answered_while_busy >= 3 && seen.renewed_while_busy >= 1,
                    )
                };
                if !failures.is_empty() {
                    return Ok(Some(Err(failures)));
                }
                Ok((enough && settled(client, ns, hostile, normal).await?).then_some(Ok(())))
            }
        },
    )
    .await
    .map_err(with_log)?;
    if let Err(failures) = outcome {
        bail!(
            "probes failed during the busy window: {failures}\nkro log:\n{}",
            kro.log()
        );
    }

    // The operator itself counted every worker evaluating at once.
    let seen = Evaluations::read(&kro.log(), &ns);
    assert_eq!(
        seen.most_in_flight, WORKERS as u64,
        "in_flight never above the worker count, and reached: {seen:?}"
    );
    let hostile_api = api_for(&client, &instance_api(), &hostile, Some(&ns)).await?;
    let first = serde_json::to_value(hostile_api.get("hostile-0").await?)?;
    let message = condition_message(&first, "Ready");
    for part in [
        "slow: evaluation stopped at its deadline",
        "8s",
        "--instance-evaluation-timeout",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    Ok(())
}
