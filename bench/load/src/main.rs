//! Load benchmark of the kro-rs operator: starts `kro run` as a child against the cluster of
//! `KUBECONFIG`, creates many RGDs and instances, and measures readiness time, API requests,
//! the operator's memory and CPU, writes while idle, and deletion; writes JSON and an SVG plot.

mod metrics;
mod plot;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::metrics::{ApiCounts, ClientCounts, ProcSample, operator_metric_sum, read_proc};

/// Flags of the benchmark.
#[derive(Debug, Parser)]
#[command(about = "Load benchmark of kro-rs: RGDs, instances, readiness, memory, idle writes")]
struct Args {
    /// Number of RGDs (distinct kinds), 3-5 resources each.
    #[arg(long, env = "BENCH_RGDS", default_value_t = 200)]
    rgds: usize,
    /// Number of instances, spread round-robin over the RGDs.
    #[arg(long, env = "BENCH_INSTANCES", default_value_t = 1000)]
    instances: usize,
    /// Seconds to stay idle after every instance is Ready, counting the operator's writes.
    #[arg(long, env = "BENCH_IDLE_SECONDS", default_value_t = 300)]
    idle_seconds: u64,
    /// The operator binary to start (`kro run`).
    #[arg(long, env = "BENCH_KRO", default_value = "target/release/kro")]
    kro: PathBuf,
    /// Directory for result.json, plot.svg and kro.log.
    #[arg(long, env = "BENCH_OUT", default_value = "bench/out")]
    out: PathBuf,
    /// Loopback port of the operator's /metrics.
    #[arg(long, default_value_t = 18078)]
    metrics_port: u16,
    /// How many creates/deletes the bench keeps in flight.
    #[arg(long, default_value_t = 16)]
    client_concurrency: usize,
    /// Give up waiting for a phase after this many seconds.
    #[arg(long, default_value_t = 600)]
    phase_timeout: u64,
}

const NS: &str = "default";
const GROUP: &str = "kro.run";
const WIDGET_GROUP: &str = "bench.kro.run";

/// Requests the bench itself sends to the apiserver (resource requests only, like the operator's).
#[derive(Debug, Default)]
struct Own {
    total: AtomicU64,
    writes: AtomicU64,
}

impl Own {
    fn read(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
    }
    fn write(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> (u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

fn kind_name(i: usize) -> String {
    format!("LoadKind{i:04}")
}

fn instance_resource(i: usize) -> ApiResource {
    let kind = kind_name(i);
    let gvk = GroupVersionKind::gvk(GROUP, "v1alpha1", &kind);
    ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_lowercase()))
}

fn rgd_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk(GROUP, "v1alpha1", "ResourceGraphDefinition");
    ApiResource::from_gvk_with_plural(&gvk, "resourcegraphdefinitions")
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{WIDGET_GROUP}")},
        "spec": {
            "group": WIDGET_GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }]
        }
    })
}

/// RGD number `i`: 3, 4 or 5 resources (ConfigMap, Secret, headless Service, then a Widget and a
/// second ConfigMap that depends on the first), every one ready as soon as it exists.
fn rgd(i: usize) -> Value {
    let mut resources = vec![
        json!({"id": "config", "template": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.metadata.name}-cfg"},
            "data": {"MESSAGE": "${schema.spec.message}", "PORT": "${string(schema.spec.port)}"}
        }}),
        json!({"id": "secret", "template": {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "${schema.metadata.name}-sec"},
            "stringData": {"token": "${schema.spec.message + '-' + config.metadata.name}"}
        }}),
        // Headless: the local control plane's service CIDR is a /24, far fewer than 1,000 IPs.
        json!({"id": "service", "template": {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "${schema.metadata.name}-svc"},
            "spec": {"clusterIP": "None", "selector": {"app": "${schema.metadata.name}"},
                     "ports": [{"port": "${schema.spec.port}"}]}
        }}),
    ];
    let extra = i % 3;
    if extra >= 1 {
        resources.push(json!({"id": "widget", "template": {
            "apiVersion": format!("{WIDGET_GROUP}/v1"), "kind": "Widget",
            "metadata": {"name": "${schema.metadata.name}-wid"},
            "spec": {"size": "${schema.spec.port * 2}", "owner": "${service.metadata.name}"}
        }}));
    }
    if extra >= 2 {
        resources.push(json!({"id": "derived", "template": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.metadata.name}-der"},
            "data": {"FROM": "${config.data.MESSAGE}", "SECRET": "${secret.metadata.name}"}
        }}));
    }
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": format!("loadkind{i:04}"), "labels": {"bench.kro.run/load": "true"}},
        "spec": {
            "schema": {
                "apiVersion": "v1alpha1",
                "kind": kind_name(i),
                "spec": {"message": "string | default=\"hello\"", "port": "integer | default=8080"},
                "status": {"configName": "${config.metadata.name}"}
            },
            "resources": resources
        }
    })
}

fn instance(kind: usize, n: usize) -> Value {
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": kind_name(kind),
        "metadata": {"name": format!("i{n:05}"), "namespace": NS},
        "spec": {"message": format!("m{n}"), "port": 8000 + (n % 1000)}
    })
}

fn dynamic(v: Value) -> Result<DynamicObject> {
    serde_json::from_value(v).context("building a DynamicObject")
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Waits until `check` returns true, polling every `every`.
async fn wait_until<F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let start = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {}s waiting for {what}", timeout.as_secs());
        }
        tokio::time::sleep(every).await;
    }
}

struct Operator {
    child: Child,
    pid: u32,
}

async fn start_operator(args: &Args) -> Result<Operator> {
    let log = std::fs::File::create(args.out.join("kro.log")).context("creating kro.log")?;
    let child = Command::new(&args.kro)
        .arg("run")
        .args(["--aws-controllers", "none"])
        .args([
            "--metrics-bind-address",
            &format!("127.0.0.1:{}", args.metrics_port),
        ])
        .args(["--health-probe-bind-address", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().context("kro.log")?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it: cargo build --release -p kro-rs)",
                args.kro.display()
            )
        })?;
    let pid = child.id().context("the operator exited at once")?;
    Ok(Operator { child, pid })
}

/// One readiness watch per generated kind; records when each instance first reports ACTIVE.
fn spawn_ready_watch(
    client: Client,
    idx: usize,
    own: Arc<Own>,
    t0: Arc<Mutex<Option<Instant>>>,
    ready: Arc<Mutex<HashMap<String, f64>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<DynamicObject> = Api::namespaced_with(client, NS, &instance_resource(idx));
        let mut version = "0".to_string();
        loop {
            own.read();
            let stream = match api
                .watch(&WatchParams::default().timeout(290), &version)
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("watch of {} failed: {e}; retrying", kind_name(idx));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                let obj = match ev {
                    Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => o,
                    Ok(WatchEvent::Bookmark(b)) => {
                        version = b.metadata.resource_version;
                        continue;
                    }
                    Ok(WatchEvent::Error(e)) if e.code == 410 => {
                        version = "0".to_string();
                        break;
                    }
                    _ => continue,
                };
                if let Some(rv) = obj.resource_version() {
                    version = rv;
                }
                let state = obj.data.pointer("/status/state").and_then(Value::as_str);
                if state == Some("ACTIVE") {
                    let Ok(start) = t0.lock().map(|g| *g) else {
                        return;
                    };
                    let at = start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
                    if let Ok(mut r) = ready.lock() {
                        r.entry(format!("{}/{}", idx, obj.name_any())).or_insert(at);
                    }
                }
            }
        }
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.rgds == 0 || args.instances == 0 {
        bail!("--rgds and --instances must be at least 1");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let client = Client::try_default()
        .await
        .context("no cluster: set KUBECONFIG")?;
    let own = Arc::new(Own::default());
    let bench_start = Instant::now();
    let timeout = Duration::from_secs(args.phase_timeout);
    let mut phases: BTreeMap<&str, f64> = BTreeMap::new();
    let api_at = |name: &'static str, c: ApiCounts, phases: &mut BTreeMap<&str, f64>| {
        phases.insert(name, secs(bench_start.elapsed()));
        c
    };

    // The custom kind the RGDs use besides core kinds.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(widget_crd())?;
    own.write();
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e).context("creating the Widget CRD"),
    }

    let mut op = start_operator(&args).await?;
    let pid = op.pid;
    println!(
        "operator pid {pid}, log {}",
        args.out.join("kro.log").display()
    );
    let samples: Arc<Mutex<Vec<ProcSample>>> = Arc::default();
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let Some(s) = read_proc(pid, bench_start.elapsed().as_secs_f64()) else {
                    return;
                };
                if let Ok(mut v) = samples.lock() {
                    v.push(s);
                }
            }
        })
    };
    let metrics_url = format!("http://127.0.0.1:{}/metrics", args.metrics_port);
    {
        let crds = crds.clone();
        let own = own.clone();
        wait_until(
            "the operator to install the RGD CRD",
            timeout,
            Duration::from_millis(500),
            || {
                let crds = crds.clone();
                let own = own.clone();
                async move {
                    own.read();
                    Ok(crds
                        .get_opt("resourcegraphdefinitions.kro.run")
                        .await?
                        .is_some())
                }
            },
        )
        .await?;
    }
    if let Ok(Some(status)) = op.child.try_wait() {
        bail!("the operator exited: {status} (see kro.log)");
    }

    // Phase 1: RGDs.
    let c0 = api_at(
        "rgds_create_start",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own0 = own.get();
    let rgd_start = Instant::now();
    let rgds: Api<DynamicObject> = Api::all_with(client.clone(), &rgd_resource());
    stream::iter(0..args.rgds)
        .map(|i| {
            let rgds = rgds.clone();
            let own = own.clone();
            async move {
                own.write();
                rgds.create(&PostParams::default(), &dynamic(rgd(i))?)
                    .await
                    .with_context(|| format!("creating RGD {i}"))
            }
        })
        .buffer_unordered(args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    let rgd_created = rgd_start.elapsed();
    {
        let own = own.clone();
        let rgds = rgds.clone();
        let want = args.rgds;
        wait_until(
            "every RGD Active",
            timeout,
            Duration::from_millis(500),
            || {
                let own = own.clone();
                let rgds = rgds.clone();
                async move {
                    own.read();
                    let list = rgds
                        .list(&ListParams::default().labels("bench.kro.run/load=true"))
                        .await?;
                    let active = list
                        .items
                        .iter()
                        .filter(|r| {
                            r.data.pointer("/status/state").and_then(Value::as_str)
                                == Some("Active")
                        })
                        .count();
                    Ok(active >= want)
                }
            },
        )
        .await?;
    }
    let rgd_active = rgd_start.elapsed();
    let c1 = api_at(
        "rgds_active",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own1 = own.get();
    let cpu_after_rgds = read_proc(pid, 0.0).map(|s| s.cpu_seconds).unwrap_or(0.0);
    println!(
        "{} RGDs Active in {:.2}s",
        args.rgds,
        rgd_active.as_secs_f64()
    );

    // Phase 2: instances.
    let t0: Arc<Mutex<Option<Instant>>> = Arc::default();
    let ready: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let watches: Vec<_> = (0..args.rgds)
        .map(|i| spawn_ready_watch(client.clone(), i, own.clone(), t0.clone(), ready.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c2 = api_at(
        "instances_create_start",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own2 = own.get();
    let op_m2 = operator_metric_sum(&metrics_url, "instance_reconcile_total").await;
    let rc_cpu2 = operator_metric_sum(&metrics_url, RECONCILE_CPU).await;
    let cc2 = ClientCounts::scrape(&metrics_url).await;
    let cpu2 = read_proc(pid, 0.0).map(|s| s.cpu_seconds).unwrap_or(0.0);
    let inst_start = Instant::now();
    if let Ok(mut g) = t0.lock() {
        *g = Some(inst_start);
    }
    let created_at: Arc<Mutex<Vec<f64>>> = Arc::default();
    stream::iter(0..args.instances)
        .map(|n| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), NS, &instance_resource(n % args.rgds));
            let own = own.clone();
            let created_at = created_at.clone();
            async move {
                own.write();
                api.create(
                    &PostParams::default(),
                    &dynamic(instance(n % args.rgds, n))?,
                )
                .await
                .with_context(|| format!("creating instance {n}"))?;
                if let Ok(mut c) = created_at.lock() {
                    c.push(inst_start.elapsed().as_secs_f64());
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    let inst_created = inst_start.elapsed();
    println!(
        "{} instances created in {:.2}s",
        args.instances,
        inst_created.as_secs_f64()
    );
    {
        let ready = ready.clone();
        let want = args.instances;
        wait_until(
            "every instance ACTIVE",
            timeout,
            Duration::from_millis(100),
            || {
                let n = ready.lock().map(|r| r.len()).unwrap_or(0);
                async move { Ok(n >= want) }
            },
        )
        .await
        .map_err(|e| {
            let n = ready.lock().map(|r| r.len()).unwrap_or(0);
            e.context(format!("{n} of {want} instances ACTIVE"))
        })?;
    }
    let all_ready = inst_start.elapsed();
    for w in &watches {
        w.abort();
    }
    let c3 = api_at(
        "instances_ready",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own3 = own.get();
    let op_m3 = operator_metric_sum(&metrics_url, "instance_reconcile_total").await;
    let rc_cpu3 = operator_metric_sum(&metrics_url, RECONCILE_CPU).await;
    let cc3 = ClientCounts::scrape(&metrics_url).await;
    let cpu3 = read_proc(pid, 0.0).map(|s| s.cpu_seconds).unwrap_or(0.0);
    println!(
        "{} instances ACTIVE in {:.2}s ({:.1}/s)",
        args.instances,
        all_ready.as_secs_f64(),
        args.instances as f64 / all_ready.as_secs_f64()
    );

    // Phase 3: idle. The bench sends no resource request here (only the apiserver's /metrics).
    let op_m3b = operator_metric_sum(&metrics_url, "instance_reconcile_total").await;
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let c4 = api_at("idle_end", ApiCounts::scrape(&client).await?, &mut phases);
    let own4 = own.get();
    let op_m4 = operator_metric_sum(&metrics_url, "instance_reconcile_total").await;
    let cc4 = ClientCounts::scrape(&metrics_url).await;
    let idle = c4.diff(&c3);
    println!(
        "idle {}s: {} writes (leases excluded), {} reads",
        args.idle_seconds,
        idle.writes_excluding_leases(),
        idle.reads()
    );

    // Phase 4: delete every instance, then every RGD.
    let del_start = Instant::now();
    stream::iter(0..args.instances)
        .map(|n| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), NS, &instance_resource(n % args.rgds));
            let own = own.clone();
            async move {
                own.write();
                api.delete(&format!("i{n:05}"), &DeleteParams::default())
                    .await
                    .with_context(|| format!("deleting instance {n}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    {
        let client = client.clone();
        let own = own.clone();
        let kinds = args.rgds;
        wait_until(
            "every instance gone",
            timeout,
            Duration::from_secs(1),
            || {
                let client = client.clone();
                let own = own.clone();
                async move {
                    for i in 0..kinds {
                        let api: Api<DynamicObject> =
                            Api::namespaced_with(client.clone(), NS, &instance_resource(i));
                        own.read();
                        if !api
                            .list(&ListParams::default().limit(1))
                            .await?
                            .items
                            .is_empty()
                        {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
            },
        )
        .await?;
    }
    let inst_deleted = del_start.elapsed();
    let children_left = {
        let mut left = 0usize;
        for (kind, plural) in [
            ("ConfigMap", "configmaps"),
            ("Secret", "secrets"),
            ("Service", "services"),
        ] {
            let ar =
                ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", kind), plural);
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &ar);
            own.read();
            left += api
                .list(&ListParams::default().labels("kro.run/owned=true"))
                .await?
                .items
                .len();
        }
        left
    };
    let c5 = api_at(
        "instances_deleted",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own5 = own.get();
    let rgd_del_start = Instant::now();
    own.write();
    rgds.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("bench.kro.run/load=true"),
    )
    .await
    .context("deleting the RGDs")?;
    {
        let own = own.clone();
        let rgds = rgds.clone();
        wait_until(
            "every RGD gone",
            timeout,
            Duration::from_millis(500),
            || {
                let own = own.clone();
                let rgds = rgds.clone();
                async move {
                    own.read();
                    Ok(rgds
                        .list(&ListParams::default().labels("bench.kro.run/load=true"))
                        .await?
                        .items
                        .is_empty())
                }
            },
        )
        .await?;
    }
    let rgds_deleted = rgd_del_start.elapsed();
    let c6 = api_at(
        "rgds_deleted",
        ApiCounts::scrape(&client).await?,
        &mut phases,
    );
    let own6 = own.get();
    println!(
        "deleted {} instances in {:.2}s and {} RGDs in {:.2}s",
        args.instances,
        inst_deleted.as_secs_f64(),
        args.rgds,
        rgds_deleted.as_secs_f64()
    );

    if let Some(text) = metrics::operator_metrics(&metrics_url).await {
        std::fs::write(args.out.join("operator-metrics.txt"), text)
            .context("writing operator-metrics.txt")?;
    } else {
        eprintln!("the operator's /metrics at {metrics_url} did not answer");
    }
    sampler.abort();
    let last = read_proc(pid, bench_start.elapsed().as_secs_f64());
    let _ = op.child.start_kill();
    let _ = op.child.wait().await;

    // Results.
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let peak_rss_kib = samples
        .iter()
        .map(|s| s.hwm_kib)
        .max()
        .unwrap_or(0)
        .max(last.as_ref().map_or(0, |l| l.hwm_kib));
    let total_cpu = last.as_ref().map_or_else(
        || samples.last().map_or(0.0, |s| s.cpu_seconds),
        |l| l.cpu_seconds,
    );
    let mut ready_times: Vec<f64> = ready
        .lock()
        .map(|r| r.values().copied().collect())
        .unwrap_or_default();
    ready_times.sort_by(f64::total_cmp);
    let mut created_times = created_at.lock().map(|c| c.clone()).unwrap_or_default();
    created_times.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ready_times
            .get(((ready_times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let inst_phase = c3.diff(&c2);
    let op_inst_requests = inst_phase.total().saturating_sub(own3.0 - own2.0);
    let op_inst_writes = inst_phase
        .writes_excluding_leases()
        .saturating_sub(own3.1 - own2.1);
    let reconciles = op_m3.zip(op_m2).map(|(a, b)| a - b);
    // As the operator counted them itself (discovery and watch requests included).
    let client_inst = cc3.diff(&cc2);
    let client_idle = cc4.diff(&cc3);
    let inst_cpu = cpu3 - cpu2;
    // The reconciles' own CPU (the operator's instance_reconcile_cpu_seconds), next to the
    // whole process's.
    let reconcile_cpu = rc_cpu3.zip(rc_cpu2).map(|(a, b)| a - b);
    let rgd_phase = c1.diff(&c0);
    let del_phase = c5.diff(&c4);
    let rgd_del_phase = c6.diff(&c5);
    let result = json!({
        "config": {
            "rgds": args.rgds, "instances": args.instances, "idle_seconds": args.idle_seconds,
            "client_concurrency": args.client_concurrency, "kro": args.kro,
            "resources_per_rgd": "3-5 (ConfigMap, Secret, headless Service, Widget CR, ConfigMap)"
        },
        "machine": metrics::machine(),
        "rgds": {
            "create_seconds": secs(rgd_created),
            "all_active_seconds": secs(rgd_active),
            "operator_requests": rgd_phase.total().saturating_sub(own1.0 - own0.0),
            "operator_cpu_seconds": cpu_after_rgds,
        },
        "instances": {
            "create_seconds": secs(inst_created),
            "all_ready_seconds": secs(all_ready),
            "ready_p50_seconds": pct(0.5), "ready_p90_seconds": pct(0.9), "ready_p99_seconds": pct(0.99),
            "instances_per_second": args.instances as f64 / all_ready.as_secs_f64(),
            "operator_requests": op_inst_requests,
            "operator_requests_per_instance": op_inst_requests as f64 / args.instances as f64,
            "operator_writes_per_instance": op_inst_writes as f64 / args.instances as f64,
            "client_counted": {
                "requests": client_inst.total(),
                "requests_per_instance": client_inst.total() / args.instances as f64,
                "writes_per_instance": client_inst.writes() / args.instances as f64,
                "by_method": client_inst.by_method(),
            },
            "bench_requests": own3.0 - own2.0,
            "apiserver_requests_by_verb_resource_incl_bench": inst_phase.by_verb_resource(),
            "operator_instance_reconciles": reconciles,
            "operator_cpu_seconds": inst_cpu,
            "operator_cpu_ms_per_instance": inst_cpu * 1000.0 / args.instances as f64,
            "operator_cpu_ms_per_reconcile": reconciles.filter(|r| *r > 0.0).map(|r| inst_cpu * 1000.0 / r),
            "reconcile_cpu_seconds": reconcile_cpu,
            "reconcile_cpu_ms_per_reconcile": reconcile_cpu
                .zip(reconciles.filter(|r| *r > 0.0))
                .map(|(c, r)| c * 1000.0 / r),
        },
        "idle": {
            "seconds": args.idle_seconds,
            "writes_excluding_leases": idle.writes_excluding_leases(),
            "lease_writes": idle.lease_writes(),
            "reads": idle.reads(),
            "bench_requests": own4.0 - own3.0,
            "requests_by_verb_resource": idle.by_verb_resource(),
            "operator_instance_reconciles": op_m4.zip(op_m3b).map(|(a, b)| a - b),
            "client_counted": {
                "requests": client_idle.total(),
                "writes": client_idle.writes(),
                "by_method": client_idle.by_method(),
            },
        },
        "delete": {
            "instances_gone_seconds": secs(inst_deleted),
            "children_left_after": children_left,
            "instance_phase_operator_requests": del_phase.total().saturating_sub(own5.0 - own4.0),
            "rgds_gone_seconds": secs(rgds_deleted),
            "rgd_phase_operator_requests": rgd_del_phase.total().saturating_sub(own6.0 - own5.0),
        },
        "operator": {
            "peak_rss_mib": peak_rss_kib as f64 / 1024.0,
            "total_cpu_seconds": total_cpu,
        },
        "phases_at_seconds": phases,
        "series": {
            "memory": samples.iter().map(|s| json!([s.t, s.rss_kib, s.cpu_seconds])).collect::<Vec<_>>(),
            "ready_at_seconds": ready_times,
            "created_at_seconds": created_times,
        },
    });
    let json_path = args.out.join("result.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&result)?)
        .context("writing result.json")?;
    let svg = plot::svg(
        &samples,
        &ready_times,
        &created_times,
        phases.get("instances_create_start").copied().unwrap_or(0.0),
        &phases,
    );
    let svg_path = args.out.join("plot.svg");
    std::fs::write(&svg_path, svg).context("writing plot.svg")?;
    println!("{}", serde_json::to_string_pretty(&summary(&result))?);
    println!("wrote {} and {}", json_path.display(), svg_path.display());
    Ok(())
}

/// The operator's histogram of its reconciles' own CPU time, summed over kinds.
const RECONCILE_CPU: &str = "instance_reconcile_cpu_seconds_sum";

/// The result without its series, for the terminal.
fn summary(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("series");
    }
    v
}
