//! Faults of the control plane that the shared API server can show without being restarted
//! (restarts and kills are in `operator_apiserver_restart`, throttling in `poison_objects`),
//! through a proxy of the test's own ([`ApiProxy`]):
//!
//! - watches expiring with `410 Gone`, as after an etcd compaction: the operator lists again and
//!   misses nothing;
//! - a leader frozen past its Lease (SIGSTOP) while another replica takes the Lease: when it
//!   wakes it sends no write at all (its leader fence refuses them, unsent) and exits, so there
//!   are never two writers.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use kro_e2e::{client, namespace, unique_name};
use serde_json::{Value, json};

use crate::support::kro_process::{KroProcess, SHORT_LEASE};
use crate::support::operator::*;
use crate::support::process::free_port;
use crate::support::proxy::{ApiProxy, ExpireWatches, Faults};
use crate::support::{api_for, apply, get, merge, wait_for, wait_object};

/// An RGD whose instances make one ConfigMap holding `spec.v`.
fn value_rgd(kind: &str) -> Value {
    rgd(
        kind,
        json!({"v": "string | default=\"one\""}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"v": "${schema.spec.v}"}))}]),
    )
}

async fn config_value(client: &kube::Client, ns: &str, name: &str, want: &str) -> Result<()> {
    wait_object(client, "v1", "ConfigMap", Some(ns), name, |cm| {
        cm["data"]["v"] == want
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn expired_watches_are_listed_again_and_nothing_is_missed() -> Result<()> {
    /// Watches of the instance kind answered with 410 Gone.
    const EXPIRED: usize = 3;
    let client = client().await?;
    let ns = namespace(&client, "watch-gone").await?;
    let kind = unique_kind("Gone");
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let faults = Faults {
        expire_watches: Some(ExpireWatches {
            scope: format!("/apis/{GROUP}/v1alpha1/{plural}"),
            budget: EXPIRED,
        }),
        ..Faults::default()
    };
    let proxy = ApiProxy::start(client.clone(), faults).await?;
    let op = Operator::start(kro_controller::client::with_config(kube::Config::new(
        proxy.url().parse()?,
    ))?);
    let mut rgd = value_rgd(&kind);
    op.label(&mut rgd);
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "a", json!({"v": "one"}))).await?;
    wait_instance_state(&client, &kind, &ns, "a", "ACTIVE").await?;
    config_value(&client, &ns, "a-cfg", "one").await?;
    wait_for("every planned watch expiry to have happened", || async {
        Ok((proxy.expired() == EXPIRED).then_some(()))
    })
    .await?;
    // After the expiries the watch is live: a change and a new instance are both seen.
    merge(
        &client,
        &instance_api(),
        &kind,
        Some(&ns),
        "a",
        json!({"spec": {"v": "two"}}),
        false,
    )
    .await?;
    config_value(&client, &ns, "a-cfg", "two").await?;
    apply(&client, &instance(&kind, &ns, "b", json!({"v": "three"}))).await?;
    wait_instance_state(&client, &kind, &ns, "b", "ACTIVE").await?;
    config_value(&client, &ns, "b-cfg", "three").await?;
    op.stop().await
}

/// `kro run` with leader election on a short Lease in `ns`, reconciling the RGDs labelled for
/// `selector`; `kubeconfig` overrides the test cluster's.
fn leader(
    name: &str,
    ns: &str,
    selector: &str,
    kubeconfig: Option<&std::path::Path>,
) -> Result<KroProcess> {
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let health = format!("127.0.0.1:{}", free_port()?);
    let selector = format!("e2e.kro.run/operator={selector}");
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![("POD_NAME", name.as_ref())];
    if let Some(kubeconfig) = kubeconfig {
        env.push(("KUBECONFIG", kubeconfig.as_os_str()));
    }
    let mut args = vec![
        "run",
        "--metrics-bind-address",
        &metrics,
        "--health-probe-bind-address",
        &health,
        "--leader-elect",
        "--leader-election-namespace",
        ns,
        "--rgd-selector",
        &selector,
        "--aws-controllers",
        "none",
    ];
    args.extend(SHORT_LEASE);
    KroProcess::start(name, args, &env)
}

async fn wait_for_holder(client: &kube::Client, ns: &str, want: &str) -> Result<()> {
    let leases = api_for(client, "coordination.k8s.io/v1", "Lease", Some(ns)).await?;
    crate::support::wait_for_holder(&leases, want).await
}

#[tokio::test]
async fn a_leader_frozen_past_its_lease_writes_nothing_when_it_wakes() -> Result<()> {
    const INSTANCES: usize = 10;
    let client = client().await?;
    let ns = namespace(&client, "leader-fence").await?;
    let id = unique_name("fence");
    let kind = unique_kind("Fence");
    // The first leader talks through the proxy, which records every write it sends.
    let proxy = ApiProxy::start(client.clone(), Faults::default()).await?;
    let kubeconfig = proxy.kubeconfig(&id)?;
    let (first, second) = (format!("{id}-first"), format!("{id}-second"));
    let mut frozen = leader(&first, &ns, &id, Some(&kubeconfig))?;
    wait_for_holder(&client, &ns, &first).await?;
    let mut rgd = value_rgd(&kind);
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": id});
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    let names: Vec<String> = (0..INSTANCES).map(|i| format!("i{i}")).collect();
    for name in &names {
        apply(&client, &instance(&kind, &ns, name, json!({"v": "one"}))).await?;
    }
    for name in &names {
        wait_instance_state(&client, &kind, &ns, name, "ACTIVE").await?;
    }

    // Frozen; meanwhile every instance changes, so on waking it has writes to make at once
    // (the change events are queued on its watches). The second replica takes the Lease but
    // reconciles none of these RGDs, so nothing else applies the change.
    frozen.signal("STOP")?;
    for name in &names {
        merge(
            &client,
            &instance_api(),
            &kind,
            Some(&ns),
            name,
            json!({"spec": {"v": "two"}}),
            false,
        )
        .await?;
    }
    let _second = leader(&second, &ns, &format!("{id}-nothing"), None)?;
    wait_for_holder(&client, &ns, &second).await?;
    let woke = Instant::now();
    frozen.signal("CONT")?;
    let status = wait_for("the old leader to exit", || {
        let exited = frozen.exited();
        async move { Ok(exited) }
    })
    .await
    .with_context(|| format!("the old leader's log:\n{}", frozen.log()))?;
    let log = frozen.log();
    ensure!(!status.success(), "the old leader exited with {status}");
    ensure!(
        log.contains("lost the leader lease"),
        "the old leader's log:\n{log}"
    );
    // On waking it has writes queued; whether a reconcile reaches one before the renewal
    // timer finds the Lease gone is up to the scheduler. Either way nothing may leave: the
    // fence refuses a write (and says so), or the process stops first. The proxy's record
    // below is what decides.
    let refused = log.contains("write refused by the leader fence");
    eprintln!("old leader on waking: fence refused a write: {refused}");
    let late: Vec<String> = proxy
        .writes()
        .into_iter()
        .filter(|w| w.at >= woke && !w.path.contains("/leases/"))
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    ensure!(
        late.is_empty(),
        "the old leader wrote after waking, beside the new leader: {late:?}"
    );
    // Nothing applied the change, so no child moved behind the new leader's back.
    for name in &names {
        let cm = get(
            &client,
            "v1",
            "ConfigMap",
            Some(&ns),
            &format!("{name}-cfg"),
        )
        .await?
        .context("the child")?;
        ensure!(cm["data"]["v"] == "one", "{name}-cfg changed: {cm:#}");
    }
    Ok(())
}
