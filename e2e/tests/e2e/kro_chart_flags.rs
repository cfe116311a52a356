//! kro's own Helm chart starts the image with flags and no subcommand: the argument list it
//! renders with its default values, given to the real `kro` binary on the real control plane,
//! runs the operator (ready, an RGD Active, an instance ACTIVE), and the log says once which
//! of those flags have no effect here.

use anyhow::{Context, Result, bail};
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::apply;
use crate::support::kro_process::KroProcess;
use crate::support::operator::*;
use crate::support::process::{free_port, http_get};
use crate::support::wait_for;

/// The `args:` of kro v0.9.4's `helm/templates/deployment.yaml` with the chart's default
/// `values.yaml` (`config.*`), in the template's order: each `$(KRO_*)` reference replaced by
/// the value the Deployment's `env:` gives it. `config.enableLeaderElection` is `true` by
/// default, so `--leader-elect` is rendered; `allowCRDDeletion`, `enableControllerWarmup`,
/// `featureGates` and `debug.pprof` are off, so their flags are not. The two bind addresses and
/// the leader-election namespace are the values this test sets (tests run side by side).
fn kro_chart_args(metrics: &str, health: &str, lease_namespace: &str) -> Vec<String> {
    let args: Vec<&str> = vec![
        "--metrics-bind-address",
        metrics,
        "--health-probe-bind-address",
        health,
        "--resource-graph-definition-concurrent-reconciles",
        "1",
        "--graph-revision-concurrent-reconciles",
        "1",
        "--dynamic-controller-concurrent-reconciles",
        "1",
        "--zap-log-level",
        "info",
        "--zap-encoder",
        "console",
        "--zap-devel=false",
        "--graceful-shutdown-timeout",
        "60s",
        "--instance-requeue-interval",
        "3s",
        "--dynamic-controller-default-resync-period",
        "36000",
        "--dynamic-controller-default-queue-max-retries",
        "20",
        "--dynamic-controller-rate-limiter-min-delay",
        "200ms",
        "--dynamic-controller-rate-limiter-max-delay",
        "1000s",
        "--client-qps",
        "100",
        "--client-burst",
        "150",
        "--dynamic-controller-rate-limiter-rate-limit",
        "10",
        "--dynamic-controller-rate-limiter-burst-limit",
        "100",
        "--rgd-max-collection-size",
        "1000",
        "--rgd-max-collection-dimension-size",
        "10",
        "--rgd-max-graph-revisions",
        "5",
        "--rgd-progress-requeue-delay",
        "3s",
        "--leader-election-lease-duration",
        "15s",
        "--leader-election-renew-deadline",
        "10s",
        "--leader-election-retry-period",
        "2s",
        "--leader-elect",
        "--leader-election-namespace",
        lease_namespace,
    ];
    args.into_iter().map(String::from).collect()
}

/// What the operator logs, once, about the flags of kro's chart that mean nothing here.
const NO_EFFECT_LOG: &str = "kro flags accepted without effect";

#[tokio::test]
async fn kros_chart_arguments_run_the_operator_without_a_subcommand() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "kro-chart-flags").await?;
    let (mport, hport) = (free_port()?, free_port()?);
    let args = kro_chart_args(
        &format!("127.0.0.1:{mport}"),
        &format!("127.0.0.1:{hport}"),
        &ns,
    );
    let id = kro_e2e::unique_name("chartflags");
    let selector = format!("e2e.kro.run/operator={id}");
    // The chart's arguments and nothing else on the command line; the environment only keeps
    // this process to the test's RGDs and off AWS.
    let kro = KroProcess::start(
        &id,
        &args,
        &[
            ("POD_NAME", id.as_ref()),
            ("KRO_RGD_SELECTOR", selector.as_ref()),
            ("KRO_AWS_CONTROLLERS", "none".as_ref()),
        ],
    )
    .context("starting kro with kro's chart arguments")?;

    let ready = wait_for("kro /readyz 200", || async {
        Ok(http_get(hport, "/readyz")
            .await
            .ok()
            .filter(|(status, _)| status.contains(" 200")))
    })
    .await;
    if let Err(error) = ready {
        bail!("{error}\nkro log:\n{}", kro.log());
    }

    let kind = unique_kind("ChartFlags");
    let mut rgd = rgd(
        &kind,
        json!({"greeting": "string | default=\"hello\""}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg",
            json!({"greeting": "${schema.spec.greeting}"}))}]),
    );
    rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": id});
    apply(&client, &rgd).await?;
    if let Err(error) = wait_rgd_active(&client, &rgd_name(&kind)).await {
        bail!("{error}\nkro log:\n{}", kro.log());
    }
    apply(&client, &instance(&kind, &ns, "chart", json!({}))).await?;
    if let Err(error) = wait_instance_state(&client, &kind, &ns, "chart", "ACTIVE").await {
        bail!("{error}\nkro log:\n{}", kro.log());
    }

    // Said once at start, naming the flags of the chart that have no effect (and only those).
    let text = kro.log();
    let said: Vec<&str> = text.lines().filter(|l| l.contains(NO_EFFECT_LOG)).collect();
    assert_eq!(
        said.len(),
        1,
        "one line saying which flags have no effect:\n{text}"
    );
    let flag = "--graph-revision-concurrent-reconciles";
    assert!(said[0].contains(flag), "{flag} not in {}", said[0]);
    for flag in [
        "--rgd-max-graph-revisions",
        "--client-qps",
        "--zap-devel",
        "--rgd-progress-requeue-delay",
        "--enable-controller-warmup",
    ] {
        assert!(!said[0].contains(flag), "{flag} has an effect: {}", said[0]);
    }
    // kro's `--zap-encoder console` is text, `--zap-log-level info` leaves debug lines out.
    assert!(
        !text.trim_start().starts_with('{'),
        "console logs are text:\n{text}"
    );
    assert!(
        !text.contains(" DEBUG "),
        "info level writes no debug lines:\n{text}"
    );
    Ok(())
}
