//! Load benchmark of the kro-rs operator: starts `kro run` (or kro's own controller, for the
//! side-by-side comparison) as a child against the cluster of `KUBECONFIG`, creates many RGDs
//! and instances, and measures readiness time, API requests, the operator's memory and CPU,
//! writes while idle, and deletion; writes JSON and an SVG plot. `kro-bench-load compare`
//! puts several runs' results side by side (bench/compare.sh).

mod compare;
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
use k8s_openapi::api::core::v1::ConfigMap;
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
    /// Which operator `--kro` is: `kro-rs` (started as `kro run --aws-controllers none`) or
    /// `kro` (kro's Go controller, started with flags only; its CRDs must already be installed).
    #[arg(long, value_enum, default_value_t = Flavor::KroRs)]
    operator: Flavor,
    /// One more argument for the operator (repeat it), e.g.
    /// `--operator-arg=--dynamic-controller-concurrent-reconciles=16`.
    #[arg(long = "operator-arg", value_name = "ARG", allow_hyphen_values = true)]
    operator_args: Vec<String>,
    /// Name of this run in result.json and in `compare`'s table.
    #[arg(long, default_value = "")]
    label: String,
    /// After the idle window, change the first RGD's ConfigMap template (one more data key) and
    /// measure until the ConfigMap of every instance of that RGD carries it.
    #[arg(long)]
    rollout: bool,
    /// Every RGD gets this many independent ConfigMaps instead of the default 3-5 resources
    /// (e.g. 10, to see the effect of `--apply-concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    resources: Option<u16>,
}

/// The operator under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Flavor {
    /// kro-rs's `kro` binary.
    KroRs,
    /// kro's controller (github.com/kubernetes-sigs/kro/cmd/controller).
    Kro,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::KroRs => "kro-rs",
            Flavor::Kro => "kro",
        }
    }
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
    fn get(&self) -> OwnCounts {
        OwnCounts {
            requests: self.total.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }
}

/// The bench's own requests so far.
#[derive(Debug, Clone, Copy)]
struct OwnCounts {
    requests: u64,
    writes: u64,
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

/// The first resource of every RGD shape: the ConfigMap the status reads and a rollout changes.
fn config_resource() -> Value {
    json!({"id": "config", "template": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "${schema.metadata.name}-cfg"},
        "data": {"MESSAGE": "${schema.spec.message}", "PORT": "${string(schema.spec.port)}"}
    }})
}

/// RGD number `i`. With `wide`, that many ConfigMaps that depend on nothing but the instance;
/// otherwise 3, 4 or 5 resources (ConfigMap, Secret, headless Service, then a Widget and a second
/// ConfigMap that depends on the first). Every one is ready as soon as it exists.
fn rgd(i: usize, wide: Option<u16>) -> Value {
    let resources = match wide {
        Some(count) => std::iter::once(config_resource())
            .chain((1..count).map(|k| {
                json!({"id": format!("c{k}"), "template": {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("${{schema.metadata.name}}-c{k}")},
                    "data": {"MESSAGE": "${schema.spec.message}"}
                }})
            }))
            .collect(),
        None => mixed_resources(i),
    };
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": rgd_name(i), "labels": {"bench.kro.run/load": "true"}},
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

fn rgd_name(i: usize) -> String {
    format!("loadkind{i:04}")
}

/// The default shape: 3-5 resources of four kinds, some depending on others.
fn mixed_resources(i: usize) -> Vec<Value> {
    let mut resources = vec![
        config_resource(),
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
    resources
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
    let mut command = Command::new(&args.kro);
    if args.operator == Flavor::KroRs {
        command.arg("run").args(["--aws-controllers", "none"]);
    }
    let child = command
        .args([
            "--metrics-bind-address",
            &format!("127.0.0.1:{}", args.metrics_port),
        ])
        .args(["--health-probe-bind-address", "127.0.0.1:0"])
        .args(&args.operator_args)
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
    let mut argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("compare") {
        argv.remove(1);
        return compare::run(&compare::CompareArgs::parse_from(argv));
    }
    let (mut bench, running) = set_up(Args::parse_from(argv)).await?;
    let rgds = create_rgds(&mut bench).await?;
    let instances = create_instances(&mut bench).await?;
    let idle = stay_idle(&mut bench, &instances.end).await?;
    let rollout = if bench.args.rollout {
        Some(roll_out(&mut bench).await?)
    } else {
        None
    };
    let deleted = delete_everything(&mut bench).await?;
    let (samples, last) = stop_operator(&bench, running).await?;
    report(
        &bench,
        &Phases {
            rgds,
            instances,
            idle,
            rollout,
            deleted,
        },
        &samples,
        last.as_ref(),
    )
}

/// What every phase shares: the flags, the cluster, the bench's own request count, the clock
/// and the operator's pid and /metrics.
struct Bench {
    args: Args,
    client: Client,
    own: Arc<Own>,
    bench_start: Instant,
    timeout: Duration,
    /// When each phase boundary was reached, in seconds since `bench_start`.
    phases: BTreeMap<&'static str, f64>,
    pid: u32,
    metrics_url: String,
    /// Every ResourceGraphDefinition (cluster-scoped).
    rgds: Api<DynamicObject>,
}

/// The apiserver's request counters and the bench's own requests at one phase boundary.
struct Mark {
    api: ApiCounts,
    own: OwnCounts,
}

impl Bench {
    /// Scrapes the apiserver's counters at the phase boundary `name`, records when it was
    /// reached, and reads the bench's own count.
    async fn mark(&mut self, name: &'static str) -> Result<Mark> {
        let api = ApiCounts::scrape(&self.client).await?;
        self.phases.insert(name, secs(self.bench_start.elapsed()));
        Ok(Mark {
            api,
            own: self.own.get(),
        })
    }
}

/// Requests the operator sent between two marks: the apiserver's count less the bench's own.
fn operator_requests(from: &Mark, to: &Mark) -> u64 {
    to.api
        .diff(&from.api)
        .total()
        .saturating_sub(to.own.requests - from.own.requests)
}

/// The operator process while the bench runs, and its memory sampler.
struct Running {
    operator: Operator,
    sampler: tokio::task::JoinHandle<()>,
    samples: Arc<Mutex<Vec<ProcSample>>>,
}

/// Set-up: the Widget CRD, the operator started and sampled, and the RGD CRD it installs.
async fn set_up(args: Args) -> Result<(Bench, Running)> {
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
    create_widget_crd(&client, &own).await?;

    let mut operator = start_operator(&args).await?;
    let pid = operator.pid;
    println!(
        "operator pid {pid}, log {}",
        args.out.join("kro.log").display()
    );
    let samples: Arc<Mutex<Vec<ProcSample>>> = Arc::default();
    let sampler = spawn_sampler(pid, bench_start, samples.clone());
    let metrics_url = format!("http://127.0.0.1:{}/metrics", args.metrics_port);
    wait_for_rgd_crd(&client, &own, timeout).await?;
    if let Ok(Some(status)) = operator.child.try_wait() {
        bail!("the operator exited: {status} (see kro.log)");
    }
    let rgds = Api::all_with(client.clone(), &rgd_resource());
    let bench = Bench {
        args,
        client,
        own,
        bench_start,
        timeout,
        phases: BTreeMap::new(),
        pid,
        metrics_url,
        rgds,
    };
    Ok((
        bench,
        Running {
            operator,
            sampler,
            samples,
        },
    ))
}

/// The custom kind the RGDs use besides core kinds; one left by an earlier run is fine.
async fn create_widget_crd(client: &Client, own: &Own) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(widget_crd())?;
    own.write();
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error).context("creating the Widget CRD"),
    }
}

/// Samples the operator's memory and CPU every 500 ms until it is gone.
fn spawn_sampler(
    pid: u32,
    bench_start: Instant,
    samples: Arc<Mutex<Vec<ProcSample>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let Some(sample) = read_proc(pid, bench_start.elapsed().as_secs_f64()) else {
                return;
            };
            if let Ok(mut all) = samples.lock() {
                all.push(sample);
            }
        }
    })
}

async fn wait_for_rgd_crd(client: &Client, own: &Arc<Own>, timeout: Duration) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
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
    .await
}

/// Phase 1: every RGD created, then Active.
struct RgdPhase {
    start: Mark,
    created: Duration,
    active: Duration,
    end: Mark,
    operator_cpu_seconds: f64,
}

async fn create_rgds(bench: &mut Bench) -> Result<RgdPhase> {
    let start = bench.mark("rgds_create_start").await?;
    let rgd_start = Instant::now();
    let wide = bench.args.resources;
    stream::iter(0..bench.args.rgds)
        .map(|index| {
            let rgds = bench.rgds.clone();
            let own = bench.own.clone();
            async move {
                own.write();
                rgds.create(&PostParams::default(), &dynamic(rgd(index, wide))?)
                    .await
                    .with_context(|| format!("creating RGD {index}"))
            }
        })
        .buffer_unordered(bench.args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    let created = rgd_start.elapsed();
    wait_every_rgd_active(bench).await?;
    let active = rgd_start.elapsed();
    let end = bench.mark("rgds_active").await?;
    let operator_cpu_seconds = cpu_seconds(bench.pid);
    println!(
        "{} RGDs Active in {:.2}s",
        bench.args.rgds,
        active.as_secs_f64()
    );
    Ok(RgdPhase {
        start,
        created,
        active,
        end,
        operator_cpu_seconds,
    })
}

async fn wait_every_rgd_active(bench: &Bench) -> Result<()> {
    let want = bench.args.rgds;
    wait_until(
        "every RGD Active",
        bench.timeout,
        Duration::from_millis(500),
        || {
            let own = bench.own.clone();
            let rgds = bench.rgds.clone();
            async move {
                own.read();
                let list = rgds
                    .list(&ListParams::default().labels("bench.kro.run/load=true"))
                    .await?;
                let active = list
                    .items
                    .iter()
                    .filter(|rgd| {
                        rgd.data.pointer("/status/state").and_then(Value::as_str) == Some("Active")
                    })
                    .count();
                Ok(active >= want)
            }
        },
    )
    .await
}

/// The operator's own figures at one moment: its reconciles, their CPU, its requests by
/// method, and its process CPU.
struct OperatorSnapshot {
    reconciles: Option<f64>,
    reconcile_cpu: Option<f64>,
    client: ClientCounts,
    cpu_seconds: f64,
}

impl OperatorSnapshot {
    async fn take(bench: &Bench) -> Self {
        let reconciles = operator_metric_sum(&bench.metrics_url, RECONCILES).await;
        let reconcile_cpu = operator_metric_sum(&bench.metrics_url, RECONCILE_CPU).await;
        let client = ClientCounts::scrape(&bench.metrics_url).await;
        Self {
            reconciles,
            reconcile_cpu,
            client,
            cpu_seconds: cpu_seconds(bench.pid),
        }
    }
}

/// The operator's utime + stime so far; 0 once it is gone.
fn cpu_seconds(pid: u32) -> f64 {
    read_proc(pid, 0.0).map_or(0.0, |sample| sample.cpu_seconds)
}

/// Phase 2: every instance created, then ACTIVE.
struct InstancePhase {
    start: Mark,
    start_operator: OperatorSnapshot,
    created: Duration,
    all_ready: Duration,
    end: Mark,
    end_operator: OperatorSnapshot,
    /// Seconds from the first create to each instance's first ACTIVE, by `kind/name`.
    ready: Arc<Mutex<HashMap<String, f64>>>,
    /// Seconds from the first create to each create's answer.
    created_at: Arc<Mutex<Vec<f64>>>,
}

async fn create_instances(bench: &mut Bench) -> Result<InstancePhase> {
    let t0: Arc<Mutex<Option<Instant>>> = Arc::default();
    let ready: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let watches: Vec<_> = (0..bench.args.rgds)
        .map(|kind| {
            spawn_ready_watch(
                bench.client.clone(),
                kind,
                bench.own.clone(),
                t0.clone(),
                ready.clone(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = bench.mark("instances_create_start").await?;
    let start_operator = OperatorSnapshot::take(bench).await;
    let inst_start = Instant::now();
    if let Ok(mut first_create) = t0.lock() {
        *first_create = Some(inst_start);
    }
    let created_at: Arc<Mutex<Vec<f64>>> = Arc::default();
    post_instances(bench, inst_start, &created_at).await?;
    let created = inst_start.elapsed();
    println!(
        "{} instances created in {:.2}s",
        bench.args.instances,
        created.as_secs_f64()
    );
    wait_every_instance_active(bench, &ready).await?;
    let all_ready = inst_start.elapsed();
    for watch in &watches {
        watch.abort();
    }
    let end = bench.mark("instances_ready").await?;
    let end_operator = OperatorSnapshot::take(bench).await;
    println!(
        "{} instances ACTIVE in {:.2}s ({:.1}/s)",
        bench.args.instances,
        all_ready.as_secs_f64(),
        bench.args.instances as f64 / all_ready.as_secs_f64()
    );
    Ok(InstancePhase {
        start,
        start_operator,
        created,
        all_ready,
        end,
        end_operator,
        ready,
        created_at,
    })
}

/// Creates every instance, round-robin over the kinds, recording when each create returned.
async fn post_instances(
    bench: &Bench,
    inst_start: Instant,
    created_at: &Arc<Mutex<Vec<f64>>>,
) -> Result<()> {
    let kinds = bench.args.rgds;
    stream::iter(0..bench.args.instances)
        .map(|number| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(bench.client.clone(), NS, &instance_resource(number % kinds));
            let own = bench.own.clone();
            let created_at = created_at.clone();
            async move {
                own.write();
                api.create(
                    &PostParams::default(),
                    &dynamic(instance(number % kinds, number))?,
                )
                .await
                .with_context(|| format!("creating instance {number}"))?;
                if let Ok(mut times) = created_at.lock() {
                    times.push(inst_start.elapsed().as_secs_f64());
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(bench.args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

async fn wait_every_instance_active(
    bench: &Bench,
    ready: &Mutex<HashMap<String, f64>>,
) -> Result<()> {
    let want = bench.args.instances;
    let ready_count = || ready.lock().map(|all| all.len()).unwrap_or(0);
    wait_until(
        "every instance ACTIVE",
        bench.timeout,
        Duration::from_millis(100),
        || {
            let count = ready_count();
            async move { Ok(count >= want) }
        },
    )
    .await
    .map_err(|error| error.context(format!("{} of {want} instances ACTIVE", ready_count())))
}

/// Phase 3: idle. The bench sends no resource request here (only the apiserver's /metrics).
struct IdlePhase {
    reconciles_before: Option<f64>,
    end: Mark,
    reconciles_after: Option<f64>,
    client_end: ClientCounts,
    /// The apiserver's requests while idle.
    requests: ApiCounts,
}

async fn stay_idle(bench: &mut Bench, ready: &Mark) -> Result<IdlePhase> {
    let reconciles_before = operator_metric_sum(&bench.metrics_url, RECONCILES).await;
    tokio::time::sleep(Duration::from_secs(bench.args.idle_seconds)).await;
    let end = bench.mark("idle_end").await?;
    let reconciles_after = operator_metric_sum(&bench.metrics_url, RECONCILES).await;
    let client_end = ClientCounts::scrape(&bench.metrics_url).await;
    let requests = end.api.diff(&ready.api);
    println!(
        "idle {}s: {} writes (leases excluded), {} reads",
        bench.args.idle_seconds,
        requests.writes_excluding_leases(),
        requests.reads()
    );
    Ok(IdlePhase {
        reconciles_before,
        end,
        reconciles_after,
        client_end,
        requests,
    })
}

/// Phase 3b (`--rollout`): the first RGD's ConfigMap template changed, until every instance of
/// that RGD has the change in its ConfigMap.
struct RolloutPhase {
    start: Mark,
    start_operator: OperatorSnapshot,
    /// Until every ConfigMap had the change; `None` if some had not within the phase timeout.
    reflected: Option<Duration>,
    children: usize,
    children_reflected: usize,
    end: Mark,
    end_operator: OperatorSnapshot,
}

/// The data key and value a rollout adds to the first RGD's ConfigMap template.
const ROLLOUT_KEY: &str = "REVISION";
const ROLLOUT_VALUE: &str = "2";

async fn roll_out(bench: &mut Bench) -> Result<RolloutPhase> {
    let (kinds, count) = (bench.args.rgds, bench.args.instances);
    let want: std::collections::HashSet<String> = (0..count)
        .filter(|number| number % kinds == 0)
        .map(|number| format!("i{number:05}-cfg"))
        .collect();
    let start = bench.mark("rollout_start").await?;
    let start_operator = OperatorSnapshot::take(bench).await;
    let began = Instant::now();
    bench.own.read();
    let mut first = bench
        .rgds
        .get(&rgd_name(0))
        .await
        .context("reading the first RGD")?;
    let data = first
        .data
        .pointer_mut("/spec/resources/0/template/data")
        .and_then(Value::as_object_mut)
        .context("the first RGD's ConfigMap template has no data")?;
    data.insert(ROLLOUT_KEY.into(), ROLLOUT_VALUE.into());
    bench.own.write();
    bench
        .rgds
        .replace(&rgd_name(0), &PostParams::default(), &first)
        .await
        .context("changing the first RGD's ConfigMap template")?;
    let config_maps: Api<ConfigMap> = Api::namespaced(bench.client.clone(), NS);
    let reflected_now = || async {
        bench.own.read();
        let listed = config_maps
            .list(
                &ListParams::default()
                    .labels("kro.run/owned=true")
                    .match_any(),
            )
            .await?;
        Ok::<usize, anyhow::Error>(
            listed
                .items
                .iter()
                .filter(|cm| want.contains(&cm.name_any()))
                .filter(|cm| {
                    cm.data
                        .as_ref()
                        .and_then(|data| data.get(ROLLOUT_KEY))
                        .is_some_and(|value| value == ROLLOUT_VALUE)
                })
                .count(),
        )
    };
    let waited = wait_until(
        "every ConfigMap of the first RGD's instances changed",
        bench.timeout,
        Duration::from_millis(500),
        || async { Ok(reflected_now().await? >= want.len()) },
    )
    .await;
    let reflected = waited.is_ok().then(|| began.elapsed());
    let children_reflected = reflected_now().await?;
    let end = bench.mark("rollout_done").await?;
    let end_operator = OperatorSnapshot::take(bench).await;
    match reflected {
        Some(took) => println!(
            "RGD change rolled out to {} ConfigMaps in {:.2}s",
            want.len(),
            took.as_secs_f64()
        ),
        None => println!(
            "RGD change reached {children_reflected} of {} ConfigMaps within {}s",
            want.len(),
            bench.timeout.as_secs()
        ),
    }
    Ok(RolloutPhase {
        start,
        start_operator,
        reflected,
        children: want.len(),
        children_reflected,
        end,
        end_operator,
    })
}

/// Phase 4: every instance deleted, then every RGD.
struct DeletePhase {
    instances_gone: Duration,
    children_left: usize,
    instances_deleted: Mark,
    rgds_gone: Duration,
    rgds_deleted: Mark,
}

async fn delete_everything(bench: &mut Bench) -> Result<DeletePhase> {
    let del_start = Instant::now();
    delete_instances(bench).await?;
    wait_every_instance_gone(bench).await?;
    let instances_gone = del_start.elapsed();
    let children_left = count_children_left(bench).await?;
    let instances_deleted = bench.mark("instances_deleted").await?;
    let rgd_del_start = Instant::now();
    bench.own.write();
    bench
        .rgds
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("bench.kro.run/load=true"),
        )
        .await
        .context("deleting the RGDs")?;
    wait_every_rgd_gone(bench).await?;
    let rgds_gone = rgd_del_start.elapsed();
    let rgds_deleted = bench.mark("rgds_deleted").await?;
    println!(
        "deleted {} instances in {:.2}s and {} RGDs in {:.2}s",
        bench.args.instances,
        instances_gone.as_secs_f64(),
        bench.args.rgds,
        rgds_gone.as_secs_f64()
    );
    Ok(DeletePhase {
        instances_gone,
        children_left,
        instances_deleted,
        rgds_gone,
        rgds_deleted,
    })
}

async fn delete_instances(bench: &Bench) -> Result<()> {
    let kinds = bench.args.rgds;
    stream::iter(0..bench.args.instances)
        .map(|number| {
            let api: Api<DynamicObject> =
                Api::namespaced_with(bench.client.clone(), NS, &instance_resource(number % kinds));
            let own = bench.own.clone();
            async move {
                own.write();
                api.delete(&format!("i{number:05}"), &DeleteParams::default())
                    .await
                    .with_context(|| format!("deleting instance {number}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(bench.args.client_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

async fn wait_every_instance_gone(bench: &Bench) -> Result<()> {
    let kinds = bench.args.rgds;
    wait_until(
        "every instance gone",
        bench.timeout,
        Duration::from_secs(1),
        || {
            let client = bench.client.clone();
            let own = bench.own.clone();
            async move {
                for kind in 0..kinds {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client.clone(), NS, &instance_resource(kind));
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
    .await
}

/// Core-kind children the operator created that are still there.
async fn count_children_left(bench: &Bench) -> Result<usize> {
    let mut left = 0usize;
    for (kind, plural) in [
        ("ConfigMap", "configmaps"),
        ("Secret", "secrets"),
        ("Service", "services"),
    ] {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(bench.client.clone(), NS, &resource);
        bench.own.read();
        left += api
            .list(&ListParams::default().labels("kro.run/owned=true"))
            .await?
            .items
            .len();
    }
    Ok(left)
}

async fn wait_every_rgd_gone(bench: &Bench) -> Result<()> {
    wait_until(
        "every RGD gone",
        bench.timeout,
        Duration::from_millis(500),
        || {
            let own = bench.own.clone();
            let rgds = bench.rgds.clone();
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
    .await
}

/// Keeps the operator's final /metrics, stops sampling, and stops the operator; returns the
/// memory samples and a last reading.
async fn stop_operator(
    bench: &Bench,
    running: Running,
) -> Result<(Vec<ProcSample>, Option<ProcSample>)> {
    let Running {
        mut operator,
        sampler,
        samples,
    } = running;
    if let Some(text) = metrics::operator_metrics(&bench.metrics_url).await {
        std::fs::write(bench.args.out.join("operator-metrics.txt"), text)
            .context("writing operator-metrics.txt")?;
    } else {
        eprintln!(
            "the operator's /metrics at {} did not answer",
            bench.metrics_url
        );
    }
    sampler.abort();
    let last = read_proc(bench.pid, bench.bench_start.elapsed().as_secs_f64());
    let _ = operator.child.start_kill();
    let _ = operator.child.wait().await;
    let samples = samples.lock().map(|all| all.clone()).unwrap_or_default();
    Ok((samples, last))
}

/// Everything the four phases measured.
struct Phases {
    rgds: RgdPhase,
    instances: InstancePhase,
    idle: IdlePhase,
    rollout: Option<RolloutPhase>,
    deleted: DeletePhase,
}

/// Reporting: result.json, plot.svg, and the summary on the terminal.
fn report(
    bench: &Bench,
    phases: &Phases,
    samples: &[ProcSample],
    last: Option<&ProcSample>,
) -> Result<()> {
    let instances = &phases.instances;
    let mut ready_times: Vec<f64> = instances
        .ready
        .lock()
        .map(|ready| ready.values().copied().collect())
        .unwrap_or_default();
    ready_times.sort_by(f64::total_cmp);
    let mut created_times = instances
        .created_at
        .lock()
        .map(|created| created.clone())
        .unwrap_or_default();
    created_times.sort_by(f64::total_cmp);
    let args = &bench.args;
    let result = json!({
        "config": {
            "rgds": args.rgds, "instances": args.instances, "idle_seconds": args.idle_seconds,
            "client_concurrency": args.client_concurrency, "kro": args.kro,
            "operator": args.operator.name(), "operator_args": args.operator_args, "label": args.label,
            "resources_per_rgd": args.resources.map_or_else(
                || json!("3-5 (ConfigMap, Secret, headless Service, Widget CR, ConfigMap)"),
                |count| json!(format!("{count} independent ConfigMaps"))),
            "rollout": args.rollout,
        },
        "machine": metrics::machine(),
        "rgds": rgds_json(&phases.rgds),
        "instances": instances_json(instances, args.instances, &ready_times),
        "idle": idle_json(&phases.idle, instances, args.idle_seconds),
        "rollout": phases.rollout.as_ref().map(rollout_json),
        "delete": delete_json(
            &phases.deleted,
            phases.rollout.as_ref().map_or(&phases.idle.end, |rollout| &rollout.end),
        ),
        "operator": operator_json(samples, last),
        "phases_at_seconds": bench.phases,
        "series": {
            "memory": samples
                .iter()
                .map(|sample| json!([sample.t, sample.rss_kib, sample.cpu_seconds]))
                .collect::<Vec<_>>(),
            "ready_at_seconds": ready_times,
            "created_at_seconds": created_times,
        },
    });
    let json_path = args.out.join("result.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&result)?)
        .context("writing result.json")?;
    let svg = plot::svg(
        samples,
        &ready_times,
        &created_times,
        bench
            .phases
            .get("instances_create_start")
            .copied()
            .unwrap_or(0.0),
        &bench.phases,
    );
    let svg_path = args.out.join("plot.svg");
    std::fs::write(&svg_path, svg).context("writing plot.svg")?;
    println!("{}", serde_json::to_string_pretty(&summary(&result))?);
    println!("wrote {} and {}", json_path.display(), svg_path.display());
    Ok(())
}

fn rgds_json(rgds: &RgdPhase) -> Value {
    json!({
        "create_seconds": secs(rgds.created),
        "all_active_seconds": secs(rgds.active),
        "operator_requests": operator_requests(&rgds.start, &rgds.end),
        "operator_cpu_seconds": rgds.operator_cpu_seconds,
    })
}

/// How much an operator counter grew between two snapshots. A family the operator registers
/// only once its first instance is reconciled is absent from the first snapshot: it was 0
/// then. One absent at the end is not the operator's (kro's controller has none).
fn since(after: Option<f64>, before: Option<f64>) -> Option<f64> {
    after.map(|after| after - before.unwrap_or(0.0))
}

/// The instance phase's figures; `ready_times` sorted.
fn instances_json(phase: &InstancePhase, instances: usize, ready_times: &[f64]) -> Value {
    let percentile = |fraction: f64| {
        ready_times
            .get(((ready_times.len() as f64 - 1.0) * fraction).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (start, end) = (&phase.start, &phase.end);
    let (before, after) = (&phase.start_operator, &phase.end_operator);
    let requests = end.api.diff(&start.api);
    let op_inst_requests = operator_requests(start, end);
    let op_inst_writes = requests
        .writes_excluding_leases()
        .saturating_sub(end.own.writes - start.own.writes);
    let reconciles = since(after.reconciles, before.reconciles);
    // As the operator counted them itself (discovery and watch requests included).
    let client = after.client.diff(&before.client);
    let inst_cpu = after.cpu_seconds - before.cpu_seconds;
    // The reconciles' own CPU (the operator's instance_reconcile_cpu_seconds), next to the
    // whole process's.
    let reconcile_cpu = since(after.reconcile_cpu, before.reconcile_cpu);
    let count = instances as f64;
    json!({
        "create_seconds": secs(phase.created),
        "all_ready_seconds": secs(phase.all_ready),
        "ready_p50_seconds": percentile(0.5), "ready_p90_seconds": percentile(0.9),
        "ready_p99_seconds": percentile(0.99),
        "instances_per_second": count / phase.all_ready.as_secs_f64(),
        "operator_requests": op_inst_requests,
        "operator_requests_per_instance": op_inst_requests as f64 / count,
        "operator_writes_per_instance": op_inst_writes as f64 / count,
        "client_counted": {
            "requests": client.total(),
            "requests_per_instance": client.total() / count,
            "writes_per_instance": client.writes() / count,
            "by_method": client.by_method(),
        },
        "bench_requests": end.own.requests - start.own.requests,
        "apiserver_requests_by_verb_resource_incl_bench": requests.by_verb_resource(),
        "operator_instance_reconciles": reconciles,
        "operator_cpu_seconds": inst_cpu,
        "operator_cpu_ms_per_instance": inst_cpu * 1000.0 / count,
        "operator_cpu_ms_per_reconcile": reconciles
            .filter(|runs| *runs > 0.0)
            .map(|runs| inst_cpu * 1000.0 / runs),
        "reconcile_cpu_seconds": reconcile_cpu,
        "reconcile_cpu_ms_per_reconcile": reconcile_cpu
            .zip(reconciles.filter(|runs| *runs > 0.0))
            .map(|(cpu, runs)| cpu * 1000.0 / runs),
    })
}

/// The idle phase's figures, counted from the end of the instance phase.
fn idle_json(idle: &IdlePhase, instances: &InstancePhase, idle_seconds: u64) -> Value {
    let client = idle.client_end.diff(&instances.end_operator.client);
    json!({
        "seconds": idle_seconds,
        "writes_excluding_leases": idle.requests.writes_excluding_leases(),
        "lease_writes": idle.requests.lease_writes(),
        "reads": idle.requests.reads(),
        "bench_requests": idle.end.own.requests - instances.end.own.requests,
        "requests_by_verb_resource": idle.requests.by_verb_resource(),
        "operator_instance_reconciles": idle
            .reconciles_after
            .zip(idle.reconciles_before)
            .map(|(after, before)| after - before),
        "client_counted": {
            "requests": client.total(),
            "writes": client.writes(),
            "by_method": client.by_method(),
        },
    })
}

/// The rollout's figures: how long until every ConfigMap had the change, and what it cost.
fn rollout_json(rollout: &RolloutPhase) -> Value {
    let (start, end) = (&rollout.start, &rollout.end);
    let (before, after) = (&rollout.start_operator, &rollout.end_operator);
    let requests = end.api.diff(&start.api);
    let client = after.client.diff(&before.client);
    json!({
        "seconds": rollout.reflected.map(secs),
        "children": rollout.children,
        "children_reflected": rollout.children_reflected,
        "operator_requests": operator_requests(start, end),
        "operator_writes": requests
            .writes_excluding_leases()
            .saturating_sub(end.own.writes - start.own.writes),
        "operator_requests_per_child": operator_requests(start, end) as f64
            / rollout.children.max(1) as f64,
        "client_counted": {"requests": client.total(), "by_method": client.by_method()},
        "operator_cpu_seconds": after.cpu_seconds - before.cpu_seconds,
        "operator_instance_reconciles": since(after.reconciles, before.reconciles),
        "apiserver_requests_by_verb_resource_incl_bench": requests.by_verb_resource(),
    })
}

/// The delete phase's figures, counted from the end of the phase before it.
fn delete_json(deleted: &DeletePhase, idle_end: &Mark) -> Value {
    json!({
        "instances_gone_seconds": secs(deleted.instances_gone),
        "children_left_after": deleted.children_left,
        "instance_phase_operator_requests": operator_requests(idle_end, &deleted.instances_deleted),
        "rgds_gone_seconds": secs(deleted.rgds_gone),
        "rgd_phase_operator_requests":
            operator_requests(&deleted.instances_deleted, &deleted.rgds_deleted),
    })
}

/// Peak memory and total CPU of the operator, from the samples and the last reading.
fn operator_json(samples: &[ProcSample], last: Option<&ProcSample>) -> Value {
    let peak_rss_kib = samples
        .iter()
        .map(|sample| sample.hwm_kib)
        .max()
        .unwrap_or(0)
        .max(last.map_or(0, |sample| sample.hwm_kib));
    let total_cpu = last.map_or_else(
        || samples.last().map_or(0.0, |sample| sample.cpu_seconds),
        |sample| sample.cpu_seconds,
    );
    json!({
        "peak_rss_mib": peak_rss_kib as f64 / 1024.0,
        "total_cpu_seconds": total_cpu,
    })
}

/// The operator's count of its instance reconciles, summed over kinds.
const RECONCILES: &str = "instance_reconcile_total";

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
