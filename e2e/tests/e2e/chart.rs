//! The Helm chart `charts/kro-rs` as a user meets it: `helm lint` is clean, `helm template`
//! renders what each set of values promises, the chart's CRDs are the static CRDs, and, the
//! strongest check, the real `kro run` binary, started with the chart's own arguments and the
//! ServiceAccount token the chart's RBAC applies to, reconciles an RGD on the real apiserver
//! without a single `forbidden`.
//!
//! helm is built from its Go module by `e2e/scripts/helm.sh build` (run by `make test`); the
//! `kro` binary is built here with cargo (a no-op when `cargo test --workspace` built it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kro_e2e::{client, namespace, unique_name};
use kube::api::{Api, PostParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};

use crate::support::aws::synced;
use crate::support::events::wait_event;
use crate::support::kro_process::{KroProcess, kro_bin};
use crate::support::operator::{KRO_API, RGD_KIND, unique_kind, wait_rgd_active};
use crate::support::process::{free_port, http_get};
use crate::support::{apply, delete, get, wait_for, wait_object_gone, wait_state};

const RELEASE_NS: &str = "kro-system";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart_dir() -> PathBuf {
    repo_root().join("charts/kro-rs")
}

/// The helm binary built by `e2e/scripts/helm.sh build`, found as the control plane's are.
fn helm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = kro_e2e::run_script("helm.sh", &["bin-dir"])
            .unwrap_or_else(|e| panic!("e2e/scripts/helm.sh bin-dir: {e:#}"));
        let bin = PathBuf::from(dir.trim()).join("helm");
        assert!(
            bin.exists(),
            "helm is not built at {}: run `e2e/scripts/helm.sh build` (`make deps` and `make test` do)",
            bin.display()
        );
        bin
    })
}

/// Runs helm; `Ok((success, stdout, stderr))`.
fn helm(args: &[&str]) -> Result<(bool, String, String)> {
    let out = Command::new(helm_bin())
        .args(args)
        // helm keeps its own state (repositories, cache) under HOME by default: keep it apart.
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("kro-e2e-helm/cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("kro-e2e-helm/config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("kro-e2e-helm/data"),
        )
        .output()
        .context("running helm")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Writes values to a file helm reads with `-f` (JSON is YAML).
fn values_file(values: &Value) -> Result<tempfile_path::TempPath> {
    let path = std::env::temp_dir().join(format!("{}.json", unique_name("kro-chart-values")));
    std::fs::write(&path, serde_json::to_vec(values)?)?;
    Ok(tempfile_path::TempPath(path))
}

/// A file removed when dropped.
mod tempfile_path {
    pub(crate) struct TempPath(pub(crate) std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// `helm template` of the chart in namespace `ns` with the given values: the rendered objects.
fn render_in(ns: &str, values: &Value) -> Result<Rendered> {
    let file = values_file(values)?;
    let chart = chart_dir();
    let (ok, out, err) = helm(&[
        "template",
        "kro",
        &chart.to_string_lossy(),
        "--namespace",
        ns,
        "-f",
        &file.0.to_string_lossy(),
    ])?;
    ensure!(ok, "helm template failed:\n{err}{out}");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out)
        .with_context(|| format!("parsing helm template output:\n{out}"))?;
    Ok(Rendered(
        docs.into_iter().filter(|d| !d.is_null()).collect(),
    ))
}

fn render(values: Value) -> Result<Rendered> {
    render_in(RELEASE_NS, &values)
}

/// What `helm template` printed, parsed.
struct Rendered(Vec<Value>);

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.0.iter().filter(|d| d["kind"] == kind).collect()
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    fn container(&self) -> &Value {
        let deps = self.of_kind("Deployment");
        assert_eq!(deps.len(), 1, "one Deployment");
        &deps[0]["spec"]["template"]["spec"]["containers"][0]
    }

    fn args(&self) -> Vec<String> {
        self.container()["args"]
            .as_array()
            .expect("container args")
            .iter()
            .map(|a| a.as_str().expect("string arg").to_string())
            .collect()
    }

    fn has_arg(&self, arg: &str) -> bool {
        self.args().iter().any(|a| a == arg)
    }

    /// Every rule of a ClusterRole, as (apiGroups, resources, verbs) strings.
    fn rules(&self, kind: &str, name: &str) -> Vec<Value> {
        self.named(kind, name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// True when a rule set grants `verb` on `group`/`resource`.
fn grants(rules: &[Value], group: &str, resource: &str, verb: &str) -> bool {
    let has = |v: &Value, want: &str| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|x| x == want || x == "*"))
    };
    rules.iter().any(|r| {
        has(&r["apiGroups"], group) && has(&r["resources"], resource) && has(&r["verbs"], verb)
    })
}

#[test]
fn helm_lint_is_clean_also_strict() -> Result<()> {
    let chart = chart_dir();
    let chart = chart.to_string_lossy();
    for extra in [
        &[][..],
        &["--strict"][..],
        &["--strict", "--set", "rbac.mode=aggregation,replicas=2"][..],
    ] {
        let mut args = vec!["lint", &*chart];
        args.extend_from_slice(extra);
        let (ok, out, err) = helm(&args)?;
        assert!(ok, "helm {args:?} failed:\n{out}{err}");
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{out}"
        );
        for bad in ["[WARNING]", "[ERROR]"] {
            assert!(!out.contains(bad), "helm {args:?} reports {bad}:\n{out}");
        }
    }
    Ok(())
}

#[test]
fn the_charts_crds_are_the_static_crds() -> Result<()> {
    let names = |dir: &Path| -> Result<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(dir)?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_>>()?;
        v.sort();
        Ok(v)
    };
    let static_dir = repo_root().join("crds");
    let chart_crds = chart_dir().join("crds");
    if std::env::var_os("UPDATE_CRDS").is_some() {
        for old in names(&chart_crds)? {
            std::fs::remove_file(chart_crds.join(old))?;
        }
        // Symbolic links: one source; helm reads through them and packages the files.
        for n in names(&static_dir)? {
            std::os::unix::fs::symlink(Path::new("../../../crds").join(&n), chart_crds.join(&n))?;
        }
    }
    let want = names(&static_dir)?;
    assert!(want.len() >= 4, "crds/ holds the static CRDs: {want:?}");
    assert_eq!(
        names(&chart_crds)?,
        want,
        "charts/kro-rs/crds/ must hold exactly the files of crds/ (UPDATE_CRDS=1 cargo test -p kro-e2e --test e2e chart:: links them)"
    );
    for n in &want {
        assert!(
            std::fs::read(static_dir.join(n))? == std::fs::read(chart_crds.join(n))?,
            "charts/kro-rs/crds/{n} differs from crds/{n} (UPDATE_CRDS=1 cargo test -p kro-e2e --test e2e chart:: links it)"
        );
    }
    Ok(())
}

#[test]
fn default_values_run_one_locked_down_operator_with_probes_and_metrics() -> Result<()> {
    let rendered = render(json!({}))?;
    default_args(&rendered);
    let dep = locked_down_deployment(&rendered);
    metrics_service(&rendered, dep)?;
    unrestricted_rbac(&rendered)
}

/// One operator's flags: metrics, probes, JSON logs, every AWS controller, no leader election.
fn default_args(rendered: &Rendered) {
    let args = rendered.args();
    assert_eq!(args[0], "run", "{args:?}");
    for flag in [
        "--metrics-bind-address=:8078",
        "--health-probe-bind-address=:8079",
        "--log-format=json",
        "--log-level=info",
        "--aws-controllers=all",
    ] {
        assert!(rendered.has_arg(flag), "{flag} not in {args:?}");
    }
    assert!(
        !args.iter().any(|arg| arg.starts_with("--leader-elect")),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|arg| arg.starts_with("--aws-region")),
        "{args:?}"
    );
    assert!(
        rendered
            .named("Role", "kro-kro-rs-leader-election")
            .is_none(),
        "no Lease Role without leader election"
    );
}

/// One replica, a non-root pod with a long grace period, and a locked-down container with
/// probes; returns the Deployment.
fn locked_down_deployment(rendered: &Rendered) -> &Value {
    let dep = rendered.of_kind("Deployment")[0];
    assert_eq!(dep["metadata"]["namespace"], RELEASE_NS);
    assert_eq!(dep["spec"]["replicas"], 1);
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "kro-kro-rs");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // Longer than kro's 60 s graceful shutdown, so running reconciles finish on a rollout.
    assert!(
        pod["terminationGracePeriodSeconds"].as_i64() > Some(60),
        "{pod}"
    );
    let container = rendered.container();
    assert_eq!(container["image"], "kro-rs:0.1.0");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(container["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "health");
    let port = |name: &str| {
        container["ports"]
            .as_array()
            .and_then(|ports| ports.iter().find(|port| port["name"] == name))
            .map(|port| port["containerPort"].clone())
    };
    assert_eq!(port("health"), Some(json!(8079)));
    assert_eq!(port("metrics"), Some(json!(8078)));
    assert!(container["resources"]["requests"]["memory"].is_string());
    dep
}

/// The metrics Service selects the Deployment's pods on the metrics port; no ServiceMonitor.
fn metrics_service(rendered: &Rendered, dep: &Value) -> Result<()> {
    let svc = rendered
        .named("Service", "kro-kro-rs-metrics")
        .context("metrics Service")?;
    assert_eq!(svc["spec"]["ports"][0]["port"], 8078);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(
        svc["spec"]["selector"],
        dep["spec"]["template"]["metadata"]["labels"]
    );
    assert!(rendered.of_kind("ServiceMonitor").is_empty());
    Ok(())
}

/// unrestricted is the default: every kind, bound to the ServiceAccount.
fn unrestricted_rbac(rendered: &Rendered) -> Result<()> {
    let rules = rendered.rules("ClusterRole", "kro-kro-rs");
    assert!(grants(&rules, "apps", "deployments", "delete"), "{rules:?}");
    let crb = rendered
        .named("ClusterRoleBinding", "kro-kro-rs")
        .context("binding")?;
    assert_eq!(crb["subjects"][0]["name"], "kro-kro-rs");
    assert_eq!(crb["subjects"][0]["namespace"], RELEASE_NS);
    assert!(
        rendered
            .named("ClusterRole", "kro-kro-rs-aggregate")
            .is_none()
    );
    let sa = rendered
        .named("ServiceAccount", "kro-kro-rs")
        .context("ServiceAccount")?;
    assert!(sa["metadata"]["annotations"].is_null(), "{sa}");
    Ok(())
}

/// The chart's ports are the binary's defaults, as `kro run --help` prints them.
#[test]
fn chart_ports_are_the_binarys_defaults() -> Result<()> {
    let out = Command::new(kro_bin()).args(["run", "--help"]).output()?;
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    let default_of = |flag: &str| -> Option<String> {
        let at = help.find(flag)?;
        let rest = &help[at..];
        let d = rest.find("[default: ")? + "[default: ".len();
        Some(rest[d..].split(']').next()?.to_string())
    };
    let r = render(json!({}))?;
    assert_eq!(
        default_of("--metrics-bind-address").as_deref(),
        Some(":8078"),
        "{help}"
    );
    assert_eq!(
        default_of("--health-probe-bind-address").as_deref(),
        Some(":8079"),
        "{help}"
    );
    assert!(r.has_arg("--metrics-bind-address=:8078"));
    assert!(r.has_arg("--health-probe-bind-address=:8079"));
    Ok(())
}

#[test]
fn the_desired_hash_key_secret_is_the_one_secret_a_namespaced_role_reads() -> Result<()> {
    for mode in ["unrestricted", "aggregation"] {
        let r = render(json!({"rbac": {"mode": mode}}))?;
        let role = r
            .named("Role", "kro-kro-rs-hash-key")
            .with_context(|| format!("hash-key Role in {mode} mode"))?;
        assert_eq!(role["metadata"]["namespace"], RELEASE_NS);
        let rules = role["rules"].as_array().context("rules")?;
        assert!(grants(rules, "", "secrets", "get"), "{rules:?}");
        assert!(grants(rules, "", "secrets", "create"), "{rules:?}");
        // Reading is narrowed to the key Secret; nothing lists, watches or updates Secrets.
        for rule in rules.iter().filter(|r| r["verbs"] == json!(["get"])) {
            assert_eq!(rule["resourceNames"], json!(["kro-rs-hash-key"]), "{rule}");
        }
        for verb in ["list", "watch", "update", "patch", "delete"] {
            assert!(!grants(rules, "", "secrets", verb), "{verb}: {rules:?}");
        }
        let binding = r
            .named("RoleBinding", "kro-kro-rs-hash-key")
            .context("hash-key RoleBinding")?;
        assert_eq!(binding["roleRef"]["name"], "kro-kro-rs-hash-key");
        assert_eq!(binding["subjects"][0]["name"], "kro-kro-rs");
    }
    Ok(())
}

#[test]
fn two_replicas_turn_on_leader_election_with_a_lease_role() -> Result<()> {
    let r = render(json!({"replicas": 2}))?;
    assert_eq!(r.of_kind("Deployment")[0]["spec"]["replicas"], 2);
    assert!(r.has_arg("--leader-elect"), "{:?}", r.args());
    assert!(
        r.has_arg(&format!("--leader-election-namespace={RELEASE_NS}")),
        "{:?}",
        r.args()
    );
    let env = &r.container()["env"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.iter().any(|v| v["name"] == "POD_NAME"
                && v["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name")),
        "the Lease identity comes from the pod name: {env}"
    );
    let role = r
        .named("Role", "kro-kro-rs-leader-election")
        .context("Lease Role")?;
    assert_eq!(role["metadata"]["namespace"], RELEASE_NS);
    let rules = role["rules"].as_array().context("rules")?;
    for verb in ["get", "create", "update", "patch"] {
        assert!(
            grants(rules, "coordination.k8s.io", "leases", verb),
            "{verb}"
        );
    }
    assert!(
        r.named("RoleBinding", "kro-kro-rs-leader-election")
            .is_some()
    );

    // One replica with leaderElection.enabled also elects.
    let one = render(json!({"leaderElection": {"enabled": true}}))?;
    assert!(one.has_arg("--leader-elect"));
    Ok(())
}

#[test]
fn aws_irsa_values_annotate_the_service_account_and_reach_the_flags() -> Result<()> {
    let arn = "arn:aws:iam::123456789012:role/kro-rs";
    let r = render(json!({
        "serviceAccount": {"roleArn": arn, "annotations": {"example.com/team": "platform"}},
        "aws": {"region": "eu-west-1", "controllers": "s3", "endpointUrl": "https://s3.example.com",
                "endpointUsePathStyle": true, "credentials": {"secretName": "aws-creds"}},
        "rbac": {"mode": "aggregation"},
    }))?;
    let sa = r.named("ServiceAccount", "kro-kro-rs").context("SA")?;
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        arn
    );
    assert_eq!(
        sa["metadata"]["annotations"]["example.com/team"],
        "platform"
    );
    for a in [
        "--aws-region=eu-west-1",
        "--aws-controllers=s3",
        "--aws-endpoint-url=https://s3.example.com",
        "--aws-endpoint-use-path-style",
    ] {
        assert!(r.has_arg(a), "{a} not in {:?}", r.args());
    }
    assert_eq!(
        r.container()["envFrom"],
        json!([{"secretRef": {"name": "aws-creds"}}])
    );
    // Least privilege follows the enabled controllers: Buckets, but no RDS kinds nor Secrets.
    let rules = r.rules("ClusterRole", "kro-kro-rs");
    let s3 = "s3.services.k8s.aws";
    for verb in ["get", "watch", "patch", "create", "delete"] {
        // create and delete: RGDs compose Buckets, and the kro side applies and deletes them.
        assert!(grants(&rules, s3, "buckets", verb), "{verb}: {rules:?}");
    }
    assert!(grants(&rules, s3, "buckets/status", "patch"));
    assert!(!grants(
        &rules,
        "rds.services.k8s.aws",
        "dbinstances",
        "get"
    ));
    assert!(!grants(&rules, "", "secrets", "get"), "{rules:?}");

    let rds =
        render(json!({"aws": {"controllers": "DBInstance"}, "rbac": {"mode": "aggregation"}}))?;
    let rules = rds.rules("ClusterRole", "kro-kro-rs");
    assert!(grants(
        &rules,
        "rds.services.k8s.aws",
        "dbinstances/status",
        "patch"
    ));
    assert!(!grants(
        &rules,
        "rds.services.k8s.aws",
        "dbsubnetgroups",
        "get"
    ));
    assert!(grants(&rules, "", "secrets", "get"), "master passwords");
    assert!(!grants(&rules, "", "secrets", "list"));
    Ok(())
}

/// The AWS authority flags: adoption on in `unrestricted`, off in least-privilege mode unless
/// asked for; cross-namespace references off; the deletion policy passed through; and the
/// Namespace read that ACK's namespace deletion-policy annotation needs.
#[test]
fn aws_authority_values_reach_the_flags_and_least_privilege_turns_adoption_off() -> Result<()> {
    let default = render(json!({}))?;
    for a in [
        "--deletion-policy=delete",
        "--enable-resource-adoption=true",
    ] {
        assert!(default.has_arg(a), "{a} not in {:?}", default.args());
    }
    assert!(!default.has_arg("--enable-cross-namespace"));

    let least = render(json!({"rbac": {"mode": "aggregation"}}))?;
    assert!(
        least.has_arg("--enable-resource-adoption=false"),
        "{:?}",
        least.args()
    );
    let rules = least.rules("ClusterRole", "kro-kro-rs");
    assert!(grants(&rules, "", "namespaces", "get"), "{rules:?}");
    let no_aws = render(json!({"rbac": {"mode": "aggregation"}, "aws": {"controllers": "none"}}))?;
    let rules = no_aws.rules("ClusterRole", "kro-kro-rs");
    assert!(!grants(&rules, "", "namespaces", "get"), "{rules:?}");

    let opted = render(json!({
        "rbac": {"mode": "aggregation"},
        "aws": {"enableResourceAdoption": true, "enableCrossNamespace": true, "deletionPolicy": "retain"},
    }))?;
    for a in [
        "--deletion-policy=retain",
        "--enable-resource-adoption=true",
        "--enable-cross-namespace",
    ] {
        assert!(opted.has_arg(a), "{a} not in {:?}", opted.args());
    }
    let (ok, _, err) = helm(&[
        "template",
        "kro",
        chart_dir().to_str().unwrap_or_default(),
        "--set",
        "aws.deletionPolicy=keep",
    ])?;
    assert!(!ok);
    assert!(
        err.contains("aws.deletionPolicy=keep: write delete or retain"),
        "{err}"
    );
    Ok(())
}

#[test]
fn service_monitor_scrapes_the_metrics_service() -> Result<()> {
    let r = render(
        json!({"metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "prom"}}}}),
    )?;
    let sm = r.of_kind("ServiceMonitor");
    assert_eq!(sm.len(), 1);
    let sm = sm[0];
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "prom");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let svc = r
        .named("Service", "kro-kro-rs-metrics")
        .context("Service")?;
    let svc_labels = svc["metadata"]["labels"].as_object().context("labels")?;
    for (k, v) in sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .context("matchLabels")?
    {
        assert_eq!(
            svc_labels.get(k),
            Some(v),
            "the ServiceMonitor selects the Service by {k}"
        );
    }
    assert_eq!(svc["spec"]["ports"][0]["name"], "metrics");

    let (ok, _, err) = helm(&[
        "template",
        "kro",
        &chart_dir().to_string_lossy(),
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.service.enabled=false",
    ])?;
    assert!(
        !ok && err.contains("needs metrics.service.enabled"),
        "{err}"
    );
    Ok(())
}

#[test]
fn aggregation_mode_is_least_privilege_plus_labelled_roles() -> Result<()> {
    let r = render(json!({
        "rbac": {"mode": "aggregation", "aggregation": {"rules": [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}
        ]}},
        "aws": {"controllers": "none"},
    }))?;
    let base = r.rules("ClusterRole", "kro-kro-rs");
    let star = |v: &Value| v.as_array().is_some_and(|a| a.iter().any(|x| x == "*"));
    for r in &base {
        assert!(
            !star(&r["apiGroups"]) && !star(&r["verbs"]),
            "no wildcard: {r}"
        );
        assert!(!star(&r["nonResourceURLs"]), "no wildcard: {r}");
        // Every kind of the kro.run group (the generated instance kinds), and only there.
        if star(&r["resources"]) {
            assert_eq!(r["apiGroups"], json!(["kro.run"]), "{r}");
        }
    }
    for (g, res, verb) in [
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "create",
        ),
        ("apiextensions.k8s.io", "customresourcedefinitions", "patch"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("kro.run", "resourcegraphdefinitions", "watch"),
        ("kro.run", "resourcegraphdefinitions/status", "patch"),
        ("internal.kro.run", "graphrevisions", "create"),
        ("internal.kro.run", "graphrevisions", "delete"),
        ("internal.kro.run", "graphrevisions", "watch"),
        ("internal.kro.run", "graphrevisions/status", "patch"),
        ("events.k8s.io", "events", "create"),
    ] {
        assert!(
            grants(&base, g, res, verb),
            "{verb} {g}/{res} missing: {base:?}"
        );
    }
    assert!(!grants(
        &base,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "delete"
    ));
    assert!(!grants(&base, "apps", "deployments", "get"));
    assert!(
        !grants(&base, "", "secrets", "get"),
        "no Secrets without RDS"
    );
    assert!(!grants(&base, "s3.services.k8s.aws", "buckets", "get"));
    assert!(
        base.iter().any(|r| r["nonResourceURLs"]
            .as_array()
            .is_some_and(|u| u.iter().any(|x| x == "/openapi/v3/*"))),
        "OpenAPI v3 schemas: {base:?}"
    );

    let agg = r
        .named("ClusterRole", "kro-kro-rs-aggregate")
        .context("aggregated role")?;
    assert_eq!(
        agg["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"],
        json!({"rbac.kro.run/aggregate-to-controller": "true"})
    );
    let bound: Vec<&Value> = r
        .of_kind("ClusterRoleBinding")
        .into_iter()
        .map(|b| &b["roleRef"]["name"])
        .collect();
    assert!(
        bound.contains(&&json!("kro-kro-rs")) && bound.contains(&&json!("kro-kro-rs-aggregate")),
        "{bound:?}"
    );
    let extra = r
        .named("ClusterRole", "kro-kro-rs-rules")
        .context("rules role")?;
    assert_eq!(
        extra["metadata"]["labels"]["rbac.kro.run/aggregate-to-controller"],
        "true"
    );
    assert!(grants(
        extra["rules"].as_array().context("rules")?,
        "apps",
        "deployments",
        "create"
    ));

    let del =
        render(json!({"rbac": {"mode": "aggregation"}, "config": {"allowCRDDeletion": true}}))?;
    assert!(grants(
        &del.rules("ClusterRole", "kro-kro-rs"),
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "delete"
    ));
    assert!(del.has_arg("--allow-crd-deletion"));
    Ok(())
}

#[test]
fn bad_values_fail_with_a_message_and_extras_reach_the_container() -> Result<()> {
    let chart = chart_dir();
    let (ok, _, err) = helm(&[
        "template",
        "kro",
        &chart.to_string_lossy(),
        "--set",
        "rbac.mode=admin",
    ])?;
    assert!(
        !ok && err.contains("rbac.mode must be unrestricted or aggregation"),
        "{err}"
    );
    let r = render(json!({
        "extraArgs": ["--rgd-max-collection-size=500"],
        "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
        "config": {"logFormat": "text", "logLevel": "debug"},
        "image": {"repository": "registry.example.com/kro-rs", "tag": "v9"},
    }))?;
    assert!(r.has_arg("--rgd-max-collection-size=500"));
    assert!(r.has_arg("--log-format=text") && r.has_arg("--log-level=debug"));
    assert!(
        r.container()["env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v["name"] == "RUST_BACKTRACE"))
    );
    assert_eq!(r.container()["image"], "registry.example.com/kro-rs:v9");
    Ok(())
}

// ---- the chart's RBAC against the real apiserver and the real binary ----

/// A kubeconfig for the test cluster that authenticates with a ServiceAccount token from the
/// TokenRequest API, as a pod's projected token does.
async fn token_kubeconfig(client: &kube::Client, ns: &str, sa: &str) -> Result<PathBuf> {
    let tr = Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create_token_request(
            sa,
            &PostParams::default(),
            &TokenRequest {
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .context("TokenRequest")?;
    let token = tr.status.context("TokenRequest status")?.token;
    let admin = Kubeconfig::read_from(kro_e2e::kubeconfig())?;
    let cluster = admin
        .clusters
        .first()
        .and_then(|c| c.cluster.clone())
        .context("cluster in the kubeconfig")?;
    let server = cluster.server.context("server")?;
    let ca = cluster
        .certificate_authority
        .context("certificate-authority")?;
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", unique_name("kro-chart-sa")));
    let cfg = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "e2e", "user": sa, "namespace": ns}}],
        "current-context": "sa",
    });
    std::fs::write(&path, serde_json::to_vec(&cfg)?)?;
    Ok(path)
}

/// Which AWS controllers a case runs.
#[derive(Clone, Copy, PartialEq)]
enum Aws {
    Off,
    /// Every AWS controller, against moto; the RGD also holds a Bucket.
    Moto,
}

/// Renders the chart for `mode`, applies its ServiceAccount and RBAC to the real apiserver, runs
/// the real `kro run` with the Deployment's own arguments and that ServiceAccount's token, and
/// checks that an RGD with a ConfigMap, a Secret and a Service (and a Bucket with AWS) works end
/// to end, without a single forbidden request.
async fn chart_rbac_runs_an_rgd(mode: &str, aws: Aws) -> Result<()> {
    let admin = client().await?;
    let ns = namespace(&admin, "chart-rel").await?;
    let release = unique_name("kro-chart");
    let (metrics_port, health_port) = (free_port()?, free_port()?);
    let values = chart_values(mode, aws, &release, metrics_port, health_port);
    let rendered = render_in(&ns, &values)?;
    apply_rbac(&admin, &rendered).await?;
    if mode == "aggregation" {
        bind_aggregation_rules(&admin, &rendered, &ns, &release).await?;
    }

    let kubeconfig = token_kubeconfig(&admin, &ns, &release).await?;
    if mode == "aggregation" {
        token_is_restricted(&kubeconfig, &ns).await?;
    }
    let pod_name = format!("{release}-pod-0");
    let kro = start_kro(&rendered, &kubeconfig, &release, &pod_name, aws)?;
    ready_and_leading(&admin, &ns, health_port, &kro, &pod_name).await?;

    let kind = unique_kind("Chart");
    let rgd_name = kind.to_ascii_lowercase();
    apply(&admin, &chart_rgd(&kind, &rgd_name, &release, aws)?).await?;
    instance_reconciles(&admin, &ns, &kind, &rgd_name, aws, &kro).await?;
    deletion_removes_children(&admin, &ns, &kind, aws, &kro).await?;
    assert_no_forbidden(&kro, mode);
    drop(kro);
    let _ = std::fs::remove_file(&kubeconfig);
    // The RGD's CRD and instance kind stay behind, like every e2e test's (the control plane is
    // thrown away after the run); the RGD goes, so no later operator picks it up.
    delete(&admin, KRO_API, RGD_KIND, None, &rgd_name).await?;
    Ok(())
}

/// The values of one release: RBAC `mode`, leader election, free ports, an RGD selector of its
/// own, and the AWS controllers on moto or off.
fn chart_values(mode: &str, aws: Aws, release: &str, metrics_port: u16, health_port: u16) -> Value {
    let selector = format!("kro.run/e2e-chart={release}");
    let mut values = json!({
        "fullnameOverride": release,
        "rbac": {"mode": mode, "aggregation": {"rules": [
            {"apiGroups": [""], "resources": ["configmaps", "secrets", "services"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}
        ]}},
        "leaderElection": {"enabled": true},
        "config": {"metricsPort": metrics_port, "healthProbePort": health_port, "logFormat": "text", "logLevel": "info,kro_controller=debug,kro_aws=debug"},
        "aws": {"controllers": "none"},
        "extraArgs": [format!("--rgd-selector={selector}")],
    });
    if aws == Aws::Moto {
        values["aws"] = json!({
            "controllers": "all", "region": "us-east-1",
            "endpointUrl": kro_e2e::aws_endpoint(), "endpointUsePathStyle": true,
        });
    }
    values
}

/// The ServiceAccount and RBAC as `helm install` would create them.
async fn apply_rbac(admin: &kube::Client, rendered: &Rendered) -> Result<()> {
    let mut applied = 0;
    for doc in &rendered.0 {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ]
        .contains(&kind)
        {
            apply(admin, doc).await?;
            applied += 1;
        }
    }
    assert!(applied >= 4, "the chart rendered no RBAC to apply");
    Ok(())
}

/// No kube-controller-manager runs in this control plane, so the aggregated ClusterRole stays
/// empty: binds the labelled ClusterRole the chart made from rbac.aggregation.rules directly,
/// after checking that its labels are the ones the aggregated role selects.
async fn bind_aggregation_rules(
    admin: &kube::Client,
    rendered: &Rendered,
    ns: &str,
    release: &str,
) -> Result<()> {
    let aggregated = rendered
        .named("ClusterRole", &format!("{release}-aggregate"))
        .context("aggregated role")?;
    let labelled = rendered
        .named("ClusterRole", &format!("{release}-rules"))
        .context("labelled role")?;
    for (key, value) in aggregated["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]
        .as_object()
        .context("selector")?
    {
        assert_eq!(&labelled["metadata"]["labels"][key], value);
    }
    apply(
        admin,
        &json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("{release}-rules-direct")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{release}-rules")},
            "subjects": [{"kind": "ServiceAccount", "name": release, "namespace": ns}],
        }),
    )
    .await?;
    Ok(())
}

/// The token really is the restricted ServiceAccount: a kind no rule names is forbidden.
async fn token_is_restricted(kubeconfig: &Path, ns: &str) -> Result<()> {
    let sa_client = kro_e2e::client_for(kubeconfig).await?;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(sa_client, ns);
    match deployments.list(&Default::default()).await {
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
        other => {
            bail!("listing Deployments as the ServiceAccount should be forbidden: {other:?}")
        }
    }
}

/// Starts `kro run` with the pod's command line and environment: the Deployment's own
/// arguments, the ServiceAccount's kubeconfig, and (with AWS) moto's credentials.
fn start_kro(
    rendered: &Rendered,
    kubeconfig: &Path,
    release: &str,
    pod_name: &str,
    aws: Aws,
) -> Result<KroProcess> {
    let args = rendered.args();
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("KUBECONFIG", kubeconfig.as_os_str()),
        ("POD_NAME", pod_name.as_ref()),
    ];
    if aws == Aws::Moto {
        // What the credentials Secret (aws.credentials.secretName) would hold; moto takes any.
        env.push(("AWS_ACCESS_KEY_ID", "testing".as_ref()));
        env.push(("AWS_SECRET_ACCESS_KEY", "testing".as_ref()));
    }
    KroProcess::start(release, &args, &env).context("starting kro run")
}

/// kro answers /readyz on the chart's health port, and leader election ran under the chart's
/// Role: the Lease names this pod.
async fn ready_and_leading(
    admin: &kube::Client,
    ns: &str,
    health_port: u16,
    kro: &KroProcess,
    pod_name: &str,
) -> Result<()> {
    let ready = wait_for("kro /readyz 200 on the chart's health port", || async {
        Ok(http_get(health_port, "/readyz")
            .await
            .ok()
            .filter(|(status, _)| status.contains(" 200")))
    })
    .await;
    if let Err(error) = ready {
        bail!("{error}\nkro log:\n{}", kro.log());
    }
    let lease = get(
        admin,
        "coordination.k8s.io/v1",
        "Lease",
        Some(ns),
        "controller.kro.run",
    )
    .await?
    .context("the controller.kro.run Lease")?;
    assert_eq!(lease["spec"]["holderIdentity"], pod_name);
    Ok(())
}

/// The release's RGD: a ConfigMap, a Secret and a Service (and a Bucket with AWS).
fn chart_rgd(kind: &str, rgd_name: &str, release: &str, aws: Aws) -> Result<Value> {
    let mut resources = json!([
        {"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.metadata.name}-config"},
            "data": {"greeting": "${schema.spec.greeting}"}}},
        {"id": "secret", "template": {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "${schema.metadata.name}-secret"},
            "stringData": {"token": "${schema.spec.greeting}"}}},
        {"id": "service", "template": {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "${schema.metadata.name}"},
            "spec": {"selector": {"app": "${schema.metadata.name}"}, "ports": [{"port": 80, "targetPort": 8080}]}}},
    ]);
    if aws == Aws::Moto {
        resources.as_array_mut().context("resources")?.push(json!(
            {"id": "bucket", "template": {"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
                "metadata": {"name": "${schema.metadata.name}-data"},
                "spec": {"name": "${schema.metadata.name}-${schema.metadata.namespace}"}},
             "readyWhen": ["${bucket.status.?conditions.orValue([]).exists(c, c.type == \"ACK.ResourceSynced\" && c.status == \"True\")}"]}
        ));
    }
    Ok(json!({
        "apiVersion": KRO_API, "kind": RGD_KIND,
        "metadata": {"name": rgd_name, "labels": {"kro.run/e2e-chart": release}},
        "spec": {
            // No group: the generated kind is in kro.run, which the base role covers.
            "schema": {"apiVersion": "v1alpha1", "kind": kind,
                "spec": {"greeting": "string | default=\"hello\""},
                "status": {"port": "${service.spec.ports[0].port}"}},
            "resources": resources,
        }
    }))
}

/// An instance goes ACTIVE with every child created, and the operator's Events reach it.
async fn instance_reconciles(
    admin: &kube::Client,
    ns: &str,
    kind: &str,
    rgd_name: &str,
    aws: Aws,
    kro: &KroProcess,
) -> Result<()> {
    // Each wait has its own deadline and says what it waited for; the log tells why.
    let step = async {
        wait_rgd_active(admin, rgd_name).await?;
        apply(
            admin,
            &json!({"apiVersion": KRO_API, "kind": kind,
                "metadata": {"name": "app", "namespace": ns}, "spec": {"greeting": "hi"}}),
        )
        .await?;
        wait_state(admin, KRO_API, kind, Some(ns), "app", "ACTIVE").await
    };
    let inst = match step.await {
        Ok(inst) => inst,
        Err(error) => bail!("{error:#}\nkro log:\n{}", kro.log()),
    };
    assert_eq!(inst["status"]["port"], 80, "{inst}");
    // The operator's Events reach the instance (`kubectl describe` shows them).
    let event = wait_event(admin, ns, kind, "app", "StateChanged", "").await;
    if let Err(error) = event {
        bail!("{error:#}\nkro log:\n{}", kro.log());
    }
    let cm = get(admin, "v1", "ConfigMap", Some(ns), "app-config")
        .await?
        .context("ConfigMap")?;
    assert_eq!(cm["data"]["greeting"], "hi");
    assert!(
        get(admin, "v1", "Secret", Some(ns), "app-secret")
            .await?
            .is_some()
    );
    assert!(
        get(admin, "v1", "Service", Some(ns), "app")
            .await?
            .is_some()
    );
    if aws == Aws::Moto {
        let bucket = get(
            admin,
            "s3.services.k8s.aws/v1alpha1",
            "Bucket",
            Some(ns),
            "app-data",
        )
        .await?
        .context("Bucket")?;
        assert!(synced(&bucket), "{bucket}");
    }
    Ok(())
}

/// Deleting the instance deletes its children with the same permissions.
async fn deletion_removes_children(
    admin: &kube::Client,
    ns: &str,
    kind: &str,
    aws: Aws,
    kro: &KroProcess,
) -> Result<()> {
    delete(admin, KRO_API, kind, Some(ns), "app").await?;
    if let Err(error) = wait_object_gone(admin, KRO_API, kind, Some(ns), "app").await {
        bail!("{error:#}\nkro log:\n{}", kro.log());
    }
    for (api_version, child_kind, name) in [
        ("v1", "ConfigMap", "app-config"),
        ("v1", "Secret", "app-secret"),
        ("v1", "Service", "app"),
    ] {
        wait_object_gone(admin, api_version, child_kind, Some(ns), name).await?;
    }
    if aws == Aws::Moto {
        wait_object_gone(
            admin,
            "s3.services.k8s.aws/v1alpha1",
            "Bucket",
            Some(ns),
            "app-data",
        )
        .await?;
    }
    Ok(())
}

/// kro's log shows it leading and no request RBAC refused.
fn assert_no_forbidden(kro: &KroProcess, mode: &str) {
    let text = kro.log();
    assert!(text.contains("leading"), "the log is kro's: {text}");
    for line in text.lines() {
        // The API server's refusal says "forbidden" in its message and
        // reason and carries code 403; a bare 403 elsewhere can be a
        // content-length in a debug-logged AWS response.
        let lower = line.to_ascii_lowercase();
        let forbidden = lower.contains("forbidden") || lower.contains("code: 403");
        assert!(
            !forbidden,
            "kro ran into RBAC in {mode} mode: {line}\nwhole log:\n{text}"
        );
    }
}

#[tokio::test]
async fn aggregation_rbac_is_enough_for_kro_run() -> Result<()> {
    chart_rbac_runs_an_rgd("aggregation", Aws::Off).await
}

#[tokio::test]
async fn aggregation_rbac_is_enough_for_the_aws_controllers() -> Result<()> {
    chart_rbac_runs_an_rgd("aggregation", Aws::Moto).await
}

#[tokio::test]
async fn unrestricted_rbac_runs_kro_run() -> Result<()> {
    chart_rbac_runs_an_rgd("unrestricted", Aws::Off).await
}

/// Namespace confinement: kro's `any` in `unrestricted`, `instance` in least-privilege mode,
/// either when asked for, the allowlist passed through, and a wrong value named.
#[test]
fn least_privilege_confines_instances_to_their_namespace() -> Result<()> {
    let default = render(json!({}))?;
    assert!(
        default.has_arg("--namespace-confinement=any"),
        "{:?}",
        default.args()
    );
    assert!(
        !default
            .args()
            .iter()
            .any(|a| a.starts_with("--allowed-cluster-scoped-kinds")),
        "{:?}",
        default.args()
    );
    let least = render(json!({"rbac": {"mode": "aggregation"}}))?;
    assert!(
        least.has_arg("--namespace-confinement=instance"),
        "{:?}",
        least.args()
    );
    let opened = render(json!({
        "rbac": {"mode": "aggregation"},
        "config": {"namespaceConfinement": "any"},
    }))?;
    assert!(opened.has_arg("--namespace-confinement=any"));
    let allowing = render(json!({
        "config": {
            "namespaceConfinement": "instance",
            "allowedClusterScopedKinds": ["Namespace", "ClusterRole.rbac.authorization.k8s.io"],
        },
    }))?;
    for a in [
        "--namespace-confinement=instance",
        "--allowed-cluster-scoped-kinds=Namespace,ClusterRole.rbac.authorization.k8s.io",
    ] {
        assert!(allowing.has_arg(a), "{a} not in {:?}", allowing.args());
    }
    let (ok, _, err) = helm(&[
        "template",
        "kro",
        chart_dir().to_str().unwrap_or_default(),
        "--set",
        "config.namespaceConfinement=tenant",
    ])?;
    assert!(!ok);
    assert!(
        err.contains("config.namespaceConfinement=tenant: write instance, any"),
        "{err}"
    );
    Ok(())
}

/// The IAM controllers in least-privilege mode: Roles and Policies (objects, status,
/// finalizers) exactly when their controllers run.
#[test]
fn least_privilege_grants_the_iam_kinds_of_the_enabled_controllers() -> Result<()> {
    let iam = "iam.services.k8s.aws";
    let both = render(json!({"aws": {"controllers": "iam"}, "rbac": {"mode": "aggregation"}}))?;
    let rules = both.rules("ClusterRole", "kro-kro-rs");
    for res in [
        "roles",
        "roles/status",
        "roles/finalizers",
        "policies",
        "policies/status",
    ] {
        assert!(grants(&rules, iam, res, "patch"), "{res}: {rules:?}");
    }
    assert!(grants(&rules, iam, "roles", "create") && grants(&rules, iam, "policies", "delete"));
    assert!(
        grants(&rules, "", "namespaces", "get"),
        "the namespace deletion policy"
    );
    assert!(!grants(&rules, "s3.services.k8s.aws", "buckets", "get"));
    let role = render(json!({"aws": {"controllers": "Role"}, "rbac": {"mode": "aggregation"}}))?;
    let rules = role.rules("ClusterRole", "kro-kro-rs");
    assert!(grants(&rules, iam, "roles", "watch"));
    assert!(!grants(&rules, iam, "policies", "get"), "{rules:?}");
    let none = render(json!({"aws": {"controllers": "s3"}, "rbac": {"mode": "aggregation"}}))?;
    assert!(!grants(
        &none.rules("ClusterRole", "kro-kro-rs"),
        iam,
        "roles",
        "get"
    ));
    Ok(())
}

/// Every AWS controller the operator runs, as the least-privilege ClusterRole must know it:
/// (service, kind, group, plural), from the binary's own controller list and static CRDs.
fn aws_kinds_run() -> Vec<(String, &'static str, String, String)> {
    let crds = kro_aws::static_crds();
    kro_aws::ControllerKind::all_compiled()
        .map(|k| {
            let crd = crds
                .iter()
                .map(|c| &c.crd.spec)
                .find(|s| s.names.kind == k.name())
                .unwrap_or_else(|| panic!("controller {} has no static CRD", k.name()));
            let service = crd.group.split('.').next().unwrap_or_default().to_owned();
            (
                service,
                k.name(),
                crd.group.clone(),
                crd.names.plural.clone(),
            )
        })
        .collect()
}

/// What a controller of `group`/`plural` calls: its objects (create and delete too: RGDs
/// compose them), their status and their finalizers.
fn grants_controller(rules: &[Value], group: &str, plural: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for verb in [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ] {
        if !grants(rules, group, plural, verb) {
            missing.push(format!("{verb} {plural}"));
        }
    }
    for (sub, verb) in [
        ("status", "patch"),
        ("status", "update"),
        ("finalizers", "update"),
    ] {
        if !grants(rules, group, &format!("{plural}/{sub}"), verb) {
            missing.push(format!("{verb} {plural}/{sub}"));
        }
    }
    missing
}

/// Least-privilege mode grants every AWS kind the operator runs (EC2 and IAM included, as
/// `kro run` lists them, not as the chart's own list does), with `aws.controllers` left at
/// `all`, set to the kind's service, or to the kind alone; a service or kind not asked for
/// gets nothing.
#[test]
fn least_privilege_grants_every_aws_kind_the_operator_runs() -> Result<()> {
    let kinds = aws_kinds_run();
    for service in ["ec2", "iam"] {
        assert!(
            kinds.iter().any(|(s, ..)| s == service),
            "the operator runs {service} kinds: {kinds:?}"
        );
    }
    let rules_for = |controllers: &str| -> Result<Vec<Value>> {
        let r =
            render(json!({"aws": {"controllers": controllers}, "rbac": {"mode": "aggregation"}}))?;
        Ok(r.rules("ClusterRole", "kro-kro-rs"))
    };
    let all = rules_for("all")?;
    for (_, kind, group, plural) in &kinds {
        let missing = grants_controller(&all, group, plural);
        assert!(missing.is_empty(), "all: {kind} lacks {missing:?}: {all:?}");
    }
    let services: std::collections::BTreeSet<&String> = kinds.iter().map(|(s, ..)| s).collect();
    for service in services {
        let rules = rules_for(service)?;
        for (s, kind, group, plural) in &kinds {
            if s == service {
                let missing = grants_controller(&rules, group, plural);
                assert!(missing.is_empty(), "{service}: {kind} lacks {missing:?}");
            } else {
                assert!(
                    !grants(&rules, group, plural, "get"),
                    "{service} grants {kind}"
                );
            }
        }
    }
    for (_, kind, group, plural) in kinds.iter().filter(|(s, ..)| s == "ec2" || s == "iam") {
        let rules = rules_for(kind)?;
        let missing = grants_controller(&rules, group, plural);
        assert!(
            missing.is_empty(),
            "{kind} alone lacks {missing:?}: {rules:?}"
        );
        for (_, other, group, plural) in &kinds {
            if other != kind {
                assert!(
                    !grants(&rules, group, plural, "get"),
                    "{kind} alone grants {other}"
                );
            }
        }
    }
    Ok(())
}
