//! Prometheus metrics under kro's names and label names (kro.md 6.3; the list is
//! `kro-metrics.txt`, taken from kro's and controller-runtime's sources), rendered for
//! `/metrics`, with one typed label set per label combination (`GvrLabels` renders as
//! `{gvr="..."}`, and so on), plus kro-rs's own `instance_reconcile_cpu_seconds`.
//!
//! Label values follow kro's too: the `dynamic_controller_*` reconcile families name a kind as
//! `group/version/plural` ([`gvr_key`]), the `instance_*` families and the watch families as
//! Go's `GroupVersionResource.String()`, `group/version, Resource=plural` ([`gvr_string`]), and
//! `instance_state_transitions_total` carries the kind's `GroupVersionKind.String()` in its `gvr`
//! label, as kro's does ([`gvk_string`]).
//!
//! Families of work that happens in more than one place of the process (the API client, the
//! schema cache) are process-wide statics, registered by every [`Metrics`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kro_api::Condition;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The families kro serves, with their label names, from kro's and controller-runtime's
/// sources (the versions are named in the file).
pub const KRO_FAMILIES: &str = include_str!("../kro-metrics.txt");

/// Families of [`KRO_FAMILIES`] kro-rs does not serve, each with why (docs/compatibility.md
/// lists them). A trailing `*` matches every family with that prefix.
pub const NOT_SERVED: &[(&str, &str)] = &[
    (
        "go_*",
        "the Go runtime's own statistics (garbage collector, goroutines, Go heap); kro-rs is not a Go program",
    ),
    (
        "leader_election_slowpath_total",
        "counts a shortcut of client-go's lease renewal; kro-rs renews its Lease through kube-lease-manager, which has no such path",
    ),
    (
        "controller_runtime_terminal_reconcile_errors_total",
        "controller-runtime's TerminalError; the RGD controller of kro-rs has no terminal error: every failure is retried with backoff",
    ),
    (
        "controller_runtime_reconcile_timeouts_total",
        "controller-runtime's ReconciliationTimeout, which kro does not set either; an RGD reconcile of kro-rs has no timeout to count",
    ),
    (
        "schema_resolver_singleflight_deduplicated_total",
        "Go's singleflight; kro-rs resolves schemas of one RGD in one pass and has no concurrent-lookup merging to count",
    ),
    (
        "rest_client_rate_limiter_duration_seconds",
        "not measured yet: the client-side throttle waits before the request has a verb to label; see rest_client_requests_total",
    ),
    (
        "dynamic_controller_instance_watch_count",
        "kro's per-instance watch registrations; kro-rs routes children by their kro.run/instance-* labels through one watch per kind and registers no per-instance watch, so there is nothing to count",
    ),
    (
        "dynamic_controller_watch_request_count",
        "kro's per-instance watch requests; see dynamic_controller_instance_watch_count",
    ),
    (
        "runtime_*",
        "not counted yet: kro-rs's evaluation runs in the pure kro-runtime crate, which does not report per-node counts",
    ),
    (
        "cel_expr_eval_*",
        "not counted yet: kro-rs's CEL programs run in the pure kro-cel crate, which does not report evaluations",
    ),
    (
        "process_network_receive_bytes_total",
        "read by client_golang from /proc/<pid>/net/dev, which counts the whole network namespace, not the process; not served",
    ),
    (
        "process_network_transmit_bytes_total",
        "see process_network_receive_bytes_total",
    ),
];

/// kro-rs's own families, beside kro's.
pub const KRO_RS_FAMILIES: &[&str] = &["instance_reconcile_cpu_seconds"];

/// Every family kro-rs can serve: kro's but those [`NOT_SERVED`], and kro-rs's own. A family
/// has samples only once what it counts happened.
pub fn served_families() -> Vec<String> {
    kro_families()
        .into_iter()
        .map(|(name, _, _)| name)
        .filter(|name| not_served(name).is_none())
        .chain(KRO_RS_FAMILIES.iter().map(|name| (*name).to_string()))
        .collect()
}

/// The families of [`KRO_FAMILIES`]: `(name, type, label names)`, label names sorted.
pub fn kro_families() -> Vec<(String, String, Vec<String>)> {
    KRO_FAMILIES
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?.to_string();
            let type_ = fields.next()?.to_string();
            let mut labels: Vec<String> = match fields.next()? {
                "-" => Vec::new(),
                list => list.split(',').map(str::to_string).collect(),
            };
            labels.sort();
            Some((name, type_, labels))
        })
        .collect()
}

/// Why kro-rs does not serve `family`, when it does not ([`NOT_SERVED`]).
pub fn not_served(family: &str) -> Option<&'static str> {
    NOT_SERVED.iter().find_map(|(name, why)| {
        let matches = match name.strip_suffix('*') {
            Some(prefix) => family.starts_with(prefix),
            None => family == *name,
        };
        matches.then_some(*why)
    })
}

/// The families a Prometheus scrape of `text` shows: name → label names (sorted, `le` and
/// `quantile` left out), counters and histograms under the names Prometheus stores them by
/// (`_total`; `_bucket`/`_sum`/`_count` folded into the family).
pub fn scraped_families(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut families: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(type_)) = (parts.next(), parts.next()) {
                types.insert(name.to_string(), type_.to_string());
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (sample, labels) = match line.find('{') {
            Some(open) => (
                &line[..open],
                &line[open + 1..line.rfind('}').unwrap_or(line.len())],
            ),
            None => (line.split_whitespace().next().unwrap_or(""), ""),
        };
        let family = family_of(sample, &types);
        let names = families.entry(family).or_default();
        for name in label_names(labels) {
            if name != "le" && name != "quantile" {
                names.insert(name);
            }
        }
    }
    families
        .into_iter()
        .map(|(name, labels)| (name, labels.into_iter().collect()))
        .collect()
}

/// The family a sample belongs to, under the name Prometheus stores.
fn family_of(sample: &str, types: &HashMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count", "_created"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            )
        {
            return base.to_string();
        }
    }
    if let Some(base) = sample.strip_suffix("_created")
        && types.get(base).map(String::as_str) == Some("counter")
    {
        return format!("{base}_total");
    }
    sample.to_string()
}

/// The label names of `a="x",b="y"` (values may hold escaped quotes and commas).
fn label_names(labels: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = labels;
    while let Some(eq) = rest.find('=') {
        names.push(rest[..eq].trim_start_matches(',').trim().to_string());
        rest = &rest[eq + 1..];
        // Skip the quoted value.
        let mut chars = rest.char_indices();
        if !matches!(chars.next(), Some((_, '"'))) {
            break;
        }
        let mut escaped = false;
        let mut end = rest.len();
        for (at, c) in chars {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = at + 1;
                    break;
                }
                _ => escaped = false,
            }
        }
        rest = &rest[end..];
    }
    names
}

/// `group/version/plural`: kro's `keyFromGVR`, the `gvr` label of the dynamic controller's
/// reconcile families.
pub fn gvr_key(group: &str, version: &str, plural: &str) -> String {
    let mut key = group.to_string();
    for part in [version, plural] {
        if !part.is_empty() {
            key.push('/');
            key.push_str(part);
        }
    }
    key
}

/// `group/version, Resource=plural`: Go's `GroupVersionResource.String()`, the `gvr` label of
/// kro's `instance_*` and watch families.
pub fn gvr_string(group: &str, version: &str, plural: &str) -> String {
    format!("{group}/{version}, Resource={plural}")
}

/// `group/version, Kind=Kind`: Go's `GroupVersionKind.String()`, which kro writes in the `gvr`
/// label of `instance_state_transitions_total`.
pub fn gvk_string(group: &str, version: &str, kind: &str) -> String {
    format!("{group}/{version}, Kind={kind}")
}

/// `{gvr}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GvrLabels {
    /// The kind, as the family's kro counterpart writes it.
    pub gvr: String,
}

impl GvrLabels {
    /// `{gvr}`.
    pub fn new(gvr: impl Into<String>) -> Self {
        Self { gvr: gvr.into() }
    }
}

/// `{gvr,type}` of `dynamic_controller_requeue_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequeueLabels {
    /// The kind's group, version and resource.
    pub gvr: String,
    /// Why it was requeued, e.g. `rate_limited` (the wire label is `type`).
    pub r#type: String,
}

/// `{gvr,event_type}` of `dynamic_controller_informer_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// The instance kind ([`gvr_string`]).
    pub gvr: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub event_type: String,
}

/// `{type}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    /// The wire label `type` (kro's handler type: `parent`).
    pub r#type: String,
}

/// `{gvr,from_state,to_state}` of `instance_state_transitions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The instance kind, as kro writes it here: [`gvk_string`].
    pub gvr: String,
    /// The state before (empty when there was none).
    pub from_state: String,
    /// The state after.
    pub to_state: String,
}

/// `{gvr,reason}` of `instance_graph_resolution_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GvrReasonLabels {
    /// The instance kind ([`gvr_string`]).
    pub gvr: String,
    /// kro's reasons: `not_available`, `failed`, `unknown_state`.
    pub reason: String,
}

/// `{name}`: an RGD's name (or a Lease's).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// The name.
    pub name: String,
}

impl NameLabels {
    /// `{name}`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// `{name,from,to}` of `rgd_state_transitions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RgdTransitionLabels {
    /// The RGD's name.
    pub name: String,
    /// The state before (empty when there was none).
    pub from: String,
    /// The state after.
    pub to: String,
}

/// `{reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: String,
}

/// `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The outcome.
    pub result: String,
}

/// `{state}` of `graph_revision_registry_entries`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The registry state of the revisions counted.
    pub state: String,
}

/// `{from,to}` of `graph_revision_registry_transitions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FromToLabels {
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
}

/// `{code,method,host}` of `rest_client_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The response's status code, or `<error>` when there was no response.
    pub code: String,
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The API server's `host:port`.
    pub host: String,
}

/// `{verb}` of the `rest_client_*` histograms (the HTTP method, as client-go's).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabels {
    /// The HTTP method, e.g. `GET`.
    pub verb: String,
}

/// `{code,method}` of `rest_client_request_retries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    /// The status code that caused the retry.
    pub code: String,
    /// The HTTP method.
    pub method: String,
}

/// `{controller}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The controller's name, as controller-runtime names kro's: `ResourceGraphDefinition`.
    pub controller: String,
}

/// `{controller,result}` of `controller_runtime_reconcile_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerResultLabels {
    /// The controller's name.
    pub controller: String,
    /// `success`, `error` or `requeue_after` (controller-runtime's `requeue`, an immediate
    /// requeue, never happens in kro-rs).
    pub result: String,
}

/// `{name,controller}` of the `workqueue_*` families (both the queue's name, as
/// controller-runtime's metrics provider writes them).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// The queue's name.
    pub name: String,
    /// The queue's name again.
    pub controller: String,
}

/// `{name,controller,priority}` of `workqueue_depth` (priority empty: no priority queue).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DepthLabels {
    /// The queue's name.
    pub name: String,
    /// The queue's name again.
    pub controller: String,
    /// Always empty.
    pub priority: String,
}

/// `{gvr,namespace,name,condition_type,condition_status,reason}` of
/// `instance_condition_current_status_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    /// The instance kind ([`gvr_string`]).
    pub gvr: String,
    /// The instance's namespace (empty when cluster-scoped).
    pub namespace: String,
    /// The instance's name.
    pub name: String,
    /// The condition's type.
    pub condition_type: String,
    /// Its status.
    pub condition_status: String,
    /// Its reason (empty when none).
    pub reason: String,
}

/// kro's buckets for reconcile, build, deletion and compile durations.
const KRO_SECONDS: [f64; 16] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 120.0,
];

/// controller-runtime's buckets of `controller_runtime_reconcile_time_seconds`.
const RECONCILE_TIME: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

fn kro_histogram() -> Histogram {
    Histogram::new(KRO_SECONDS)
}

fn reconcile_time_histogram() -> Histogram {
    Histogram::new(RECONCILE_TIME)
}

/// client-go's workqueue buckets: 10 ns … 1000 s, ×10.
fn queue_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10e-9, 10.0, 12))
}

/// kro's client latency buckets: 1 ms … ~33 s, ×2.
fn client_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// kro's client size buckets: 64 B … 2 MiB, ×2.
fn client_size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(64.0, 2.0, 16))
}

/// 50 µs … ~200 ms: CPU time of one reconcile.
fn cpu_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 13))
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The API client's families, process-wide (every client [`crate::client`] builds adds to
/// them).
#[derive(Debug)]
pub struct ClientMetrics {
    /// `rest_client_requests_total{code,method,host}`.
    pub requests: Family<RequestLabels, Counter>,
    /// `rest_client_request_duration_seconds{verb}`.
    pub duration: Histograms<VerbLabels>,
    /// `rest_client_request_size_bytes{verb}`: bodies of known length.
    pub request_size: Histograms<VerbLabels>,
    /// `rest_client_response_size_bytes{verb}`: responses with a `Content-Length`.
    pub response_size: Histograms<VerbLabels>,
    /// `rest_client_request_retries_total{code,method}`.
    pub retries: Family<RetryLabels, Counter>,
}

/// The API client's families ([`ClientMetrics`]).
pub static CLIENT: LazyLock<ClientMetrics> = LazyLock::new(|| ClientMetrics {
    requests: Family::default(),
    duration: Family::new_with_constructor(client_latency_histogram),
    request_size: Family::new_with_constructor(client_size_histogram),
    response_size: Family::new_with_constructor(client_size_histogram),
    retries: Family::default(),
});

/// One request the client sent: counted, its latency and sizes observed.
pub fn client_request(
    method: &str,
    host: &str,
    code: &str,
    latency: Duration,
    request_bytes: Option<u64>,
    response_bytes: Option<u64>,
) {
    let client = &*CLIENT;
    client
        .requests
        .get_or_create(&RequestLabels {
            code: code.into(),
            method: method.into(),
            host: host.into(),
        })
        .inc();
    let verb = VerbLabels {
        verb: method.into(),
    };
    client
        .duration
        .get_or_create(&verb)
        .observe(latency.as_secs_f64());
    if let Some(bytes) = request_bytes {
        client
            .request_size
            .get_or_create(&verb)
            .observe(bytes as f64);
    }
    if let Some(bytes) = response_bytes {
        client
            .response_size
            .get_or_create(&verb)
            .observe(bytes as f64);
    }
}

/// A request the client sends again after an answer of `code` (e.g. a 429): counted in
/// `rest_client_request_retries_total{code,method}`. The 429 handling calls this.
pub fn client_retry(code: &str, method: &str) {
    CLIENT
        .retries
        .get_or_create(&RetryLabels {
            code: code.into(),
            method: method.into(),
        })
        .inc();
}

/// The schema cache's families (kro's schema resolver), process-wide.
#[derive(Debug)]
pub struct SchemaMetrics {
    /// `schema_resolver_cache_hits_total`.
    pub hits: Counter,
    /// `schema_resolver_cache_misses_total`.
    pub misses: Counter,
    /// `schema_resolver_cache_size`.
    pub size: Gauge,
    /// `schema_resolver_cache_evictions_total`.
    pub evictions: Counter,
    /// `schema_resolver_api_call_duration_seconds`.
    pub api_call_duration: Histogram,
    /// `schema_resolver_errors_total`.
    pub errors: Counter,
}

/// The schema cache's families ([`SchemaMetrics`]).
pub static SCHEMA: LazyLock<SchemaMetrics> = LazyLock::new(|| SchemaMetrics {
    hits: Counter::default(),
    misses: Counter::default(),
    size: Gauge::default(),
    evictions: Counter::default(),
    api_call_duration: Histogram::new(exponential_buckets(0.01, 2.0, 10)),
    errors: Counter::default(),
});

/// Every metric the controller exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `dynamic_controller_reconcile_total{gvr}` ([`gvr_key`]).
    pub reconcile_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_reconcile_duration_seconds{gvr}`.
    pub reconcile_duration: Histograms<GvrLabels>,
    /// `dynamic_controller_requeue_total{gvr,type}`.
    pub requeue_total: Family<RequeueLabels, Counter>,
    /// `dynamic_controller_handler_errors_total{gvr}`.
    pub handler_errors_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_reconcile_panics_total{gvr}`.
    pub panics_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_gvr_count`: generated kinds with a running controller.
    pub gvr_count: Gauge,
    /// `dynamic_controller_queue_length`: instance reconciles waiting for a worker under the
    /// global cap.
    pub queue_length: Gauge,
    /// `dynamic_controller_handler_count_total{type="parent"}`: running instance controllers.
    pub handler_count: Family<TypeLabels, Gauge>,
    /// `dynamic_controller_handler_attach_total{type="parent"}`: instance controllers started.
    pub handler_attach_total: Family<TypeLabels, Counter>,
    /// `dynamic_controller_handler_detach_total{type="parent"}`: instance controllers stopped.
    pub handler_detach_total: Family<TypeLabels, Counter>,
    /// `dynamic_controller_informer_sync_duration_seconds{gvr}`: from the start of a child
    /// kind's watch to its first complete list.
    pub informer_sync_duration: Histograms<GvrLabels>,
    /// `dynamic_controller_informer_events_total{gvr,event_type}`: events of the instance
    /// watches.
    pub informer_events_total: Family<EventLabels, Counter>,
    /// `dynamic_controller_watch_count`: shared child watches.
    pub watch_count: Gauge,
    /// `dynamic_controller_route_total{gvr}`: child watch events routed.
    pub route_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_route_match_total{gvr}`: routed events that woke an instance.
    pub route_match_total: Family<GvrLabels, Counter>,
    /// `instance_reconcile_total{gvr}` ([`gvr_string`]).
    pub instance_reconcile_total: Family<GvrLabels, Counter>,
    /// `instance_reconcile_errors_total{gvr}`.
    pub instance_reconcile_errors_total: Family<GvrLabels, Counter>,
    /// `instance_reconcile_duration_seconds{gvr}`.
    pub instance_reconcile_duration: Histograms<GvrLabels>,
    /// `instance_reconcile_cpu_seconds{gvr}` (kro-rs's own): CPU time the reconcile itself
    /// used (its own polls: evaluation, diffing, encoding requests and decoding answers), not
    /// the time it waited on the API server nor the watches and connections serving it.
    pub instance_reconcile_cpu: Histograms<GvrLabels>,
    /// `instance_state_transitions_total{gvr,from_state,to_state}` ([`gvk_string`] in `gvr`).
    pub instance_state_transitions_total: Family<TransitionLabels, Counter>,
    /// `instance_graph_resolution_success_total{gvr}`: reconciles that found their kind's
    /// compiled graph.
    pub graph_resolution_success_total: Family<GvrLabels, Counter>,
    /// `instance_graph_resolution_failures_total{gvr,reason}`.
    pub graph_resolution_failures_total: Family<GvrReasonLabels, Counter>,
    /// `instance_graph_resolution_pending_total{gvr}`.
    pub graph_resolution_pending_total: Family<GvrLabels, Counter>,
    /// `instance_condition_current_status_seconds{...}` (gate `InstanceConditionMetrics`).
    pub condition_durations: Arc<ConditionDurations>,
    /// `rgd_graph_build_total{name}`.
    pub rgd_graph_build_total: Family<NameLabels, Counter>,
    /// `rgd_graph_build_errors_total{name}`.
    pub rgd_graph_build_errors_total: Family<NameLabels, Counter>,
    /// `rgd_graph_build_duration_seconds{name}`.
    pub rgd_graph_build_duration: Histograms<NameLabels>,
    /// `rgd_state_transitions_total{name,from,to}`.
    pub rgd_state_transitions_total: Family<RgdTransitionLabels, Counter>,
    /// `rgd_deletions_total{name}`.
    pub rgd_deletions_total: Family<NameLabels, Counter>,
    /// `rgd_deletion_duration_seconds{name}`.
    pub rgd_deletion_duration: Histograms<NameLabels>,
    /// `rgd_graph_revision_issue_total{reason}`.
    pub rgd_graph_revision_issue_total: Family<ReasonLabels, Counter>,
    /// `rgd_graph_revision_wait_total{reason}`.
    pub rgd_graph_revision_wait_total: Family<ReasonLabels, Counter>,
    /// `rgd_graph_revision_resolution_total{result}`.
    pub rgd_graph_revision_resolution_total: Family<ResultLabels, Counter>,
    /// `rgd_graph_revision_registry_miss_total{reason}`.
    pub rgd_graph_revision_registry_miss_total: Family<ReasonLabels, Counter>,
    /// `rgd_graph_revision_gc_deleted_total`.
    pub rgd_graph_revision_gc_deleted_total: Counter,
    /// `rgd_graph_revision_gc_errors_total`.
    pub rgd_graph_revision_gc_errors_total: Counter,
    /// `graph_revision_compile_total{result}`.
    pub graph_revision_compile_total: Family<ResultLabels, Counter>,
    /// `graph_revision_compile_duration_seconds{result}`.
    pub graph_revision_compile_duration: Histograms<ResultLabels>,
    /// `graph_revision_status_update_errors_total`.
    pub graph_revision_status_update_errors_total: Counter,
    /// `graph_revision_activation_deferred_total`.
    pub graph_revision_activation_deferred_total: Counter,
    /// `graph_revision_finalizer_evictions_total`.
    pub graph_revision_finalizer_evictions_total: Counter,
    /// `graph_revision_registry_entries{state}`.
    pub graph_revision_registry_entries: Family<StateLabels, Gauge>,
    /// `graph_revision_registry_transitions_total{from,to}`.
    pub graph_revision_registry_transitions_total: Family<FromToLabels, Counter>,
    /// `graph_revision_registry_evictions_total`.
    pub graph_revision_registry_evictions_total: Counter,
    /// `leader_election_master_status{name}`: 1 while this replica holds the Lease.
    pub leader_election_master_status: Family<NameLabels, Gauge>,
    /// The `controller_runtime_*` and `workqueue_*` families.
    pub queues: Arc<QueueFamilies>,
    /// `dynamic-controller-queue`: instance reconciles waiting for and holding a worker of the
    /// global cap (its depth is also `dynamic_controller_queue_length`).
    pub dynamic_queue: WorkQueue,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers `$metric` under kro's name `$name` (a counter without its `_total`, which
/// prometheus-client appends).
macro_rules! reg {
    ($r:expr, $name:expr, $help:expr, $metric:expr) => {
        $r.register(counter_name($name), $help, $metric.clone())
    };
}

/// The registered name of a counter: kro's name without `_total`.
fn counter_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let queues = Arc::new(QueueFamilies::default());
        let queue_length = Gauge::default();
        let mut dynamic_queue = queues.queue("dynamic-controller-queue", false, 0);
        dynamic_queue.also_depth = Some(queue_length.clone());
        let built = Metrics {
            registry: Registry::default(),
            reconcile_total: Family::default(),
            reconcile_duration: Family::new_with_constructor(kro_histogram),
            requeue_total: Family::default(),
            handler_errors_total: Family::default(),
            panics_total: Family::default(),
            gvr_count: Gauge::default(),
            queue_length,
            handler_count: Family::default(),
            handler_attach_total: Family::default(),
            handler_detach_total: Family::default(),
            informer_sync_duration: Family::new_with_constructor(kro_histogram),
            informer_events_total: Family::default(),
            watch_count: Gauge::default(),
            route_total: Family::default(),
            route_match_total: Family::default(),
            instance_reconcile_total: Family::default(),
            instance_reconcile_errors_total: Family::default(),
            instance_reconcile_duration: Family::new_with_constructor(kro_histogram),
            instance_reconcile_cpu: Family::new_with_constructor(cpu_histogram),
            instance_state_transitions_total: Family::default(),
            graph_resolution_success_total: Family::default(),
            graph_resolution_failures_total: Family::default(),
            graph_resolution_pending_total: Family::default(),
            condition_durations: Arc::new(ConditionDurations::default()),
            rgd_graph_build_total: Family::default(),
            rgd_graph_build_errors_total: Family::default(),
            rgd_graph_build_duration: Family::new_with_constructor(kro_histogram),
            rgd_state_transitions_total: Family::default(),
            rgd_deletions_total: Family::default(),
            rgd_deletion_duration: Family::new_with_constructor(kro_histogram),
            rgd_graph_revision_issue_total: Family::default(),
            rgd_graph_revision_wait_total: Family::default(),
            rgd_graph_revision_resolution_total: Family::default(),
            rgd_graph_revision_registry_miss_total: Family::default(),
            rgd_graph_revision_gc_deleted_total: Counter::default(),
            rgd_graph_revision_gc_errors_total: Counter::default(),
            graph_revision_compile_total: Family::default(),
            graph_revision_compile_duration: Family::new_with_constructor(kro_histogram),
            graph_revision_status_update_errors_total: Counter::default(),
            graph_revision_activation_deferred_total: Counter::default(),
            graph_revision_finalizer_evictions_total: Counter::default(),
            graph_revision_registry_entries: Family::default(),
            graph_revision_registry_transitions_total: Family::default(),
            graph_revision_registry_evictions_total: Counter::default(),
            leader_election_master_status: Family::default(),
            queues,
            dynamic_queue,
        };
        let mut registry = Registry::default();
        built.register_all(&mut registry);
        Metrics { registry, ..built }
    }

    fn register_all(&self, r: &mut Registry) {
        self.register_dynamic(r);
        self.register_instances(r);
        self.register_rgds(r);
        self.register_revisions(r);
        self.register_process(r);
        kro_reconcile::ack_metrics::register(r);
    }

    fn register_dynamic(&self, r: &mut Registry) {
        reg!(
            r,
            "dynamic_controller_reconcile_total",
            "Total number of reconciliations per GVR",
            self.reconcile_total
        );
        reg!(
            r,
            "dynamic_controller_reconcile_duration_seconds",
            "Duration of reconciliations per GVR",
            self.reconcile_duration
        );
        reg!(
            r,
            "dynamic_controller_requeue_total",
            "Requeues of instances by type",
            self.requeue_total
        );
        reg!(
            r,
            "dynamic_controller_handler_errors_total",
            "Failed instance reconciles per GVR",
            self.handler_errors_total
        );
        reg!(
            r,
            "dynamic_controller_reconcile_panics_total",
            "Instance reconciles that panicked, per GVR",
            self.panics_total
        );
        reg!(
            r,
            "dynamic_controller_gvr_count",
            "Generated kinds with a running controller",
            self.gvr_count
        );
        reg!(
            r,
            "dynamic_controller_queue_length",
            "Instance reconciles waiting for a worker under the global cap",
            self.queue_length
        );
        // A gauge whose kro name ends in _total: registered as a gauge under its full name.
        r.register(
            "dynamic_controller_handler_count_total",
            "Running instance controllers, by handler type",
            self.handler_count.clone(),
        );
        reg!(
            r,
            "dynamic_controller_handler_attach_total",
            "Instance controllers started, by handler type",
            self.handler_attach_total
        );
        reg!(
            r,
            "dynamic_controller_handler_detach_total",
            "Instance controllers stopped, by handler type",
            self.handler_detach_total
        );
        reg!(
            r,
            "dynamic_controller_informer_sync_duration_seconds",
            "Time from the start of a child watch to its first complete list",
            self.informer_sync_duration
        );
        reg!(
            r,
            "dynamic_controller_informer_events_total",
            "Events of the instance watches, per GVR and event type",
            self.informer_events_total
        );
        reg!(
            r,
            "dynamic_controller_watch_count",
            "Shared child watches",
            self.watch_count
        );
        reg!(
            r,
            "dynamic_controller_route_total",
            "Child watch events routed, per child GVR",
            self.route_total
        );
        reg!(
            r,
            "dynamic_controller_route_match_total",
            "Routed child events that woke at least one instance, per child GVR",
            self.route_match_total
        );
    }

    fn register_instances(&self, r: &mut Registry) {
        reg!(
            r,
            "instance_reconcile_total",
            "Total number of instance reconciliations per GVR",
            self.instance_reconcile_total
        );
        reg!(
            r,
            "instance_reconcile_errors_total",
            "Total number of instance reconciliation errors per GVR",
            self.instance_reconcile_errors_total
        );
        reg!(
            r,
            "instance_reconcile_duration_seconds",
            "Duration of instance reconciliation in seconds per GVR",
            self.instance_reconcile_duration
        );
        reg!(
            r,
            "instance_reconcile_cpu_seconds",
            "CPU time of instance reconciles, waiting on the API server excluded",
            self.instance_reconcile_cpu
        );
        reg!(
            r,
            "instance_state_transitions_total",
            "Total number of instance state transitions per GVR",
            self.instance_state_transitions_total
        );
        reg!(
            r,
            "instance_graph_resolution_success_total",
            "Instance reconciles that resolved their compiled graph",
            self.graph_resolution_success_total
        );
        reg!(
            r,
            "instance_graph_resolution_failures_total",
            "Instance reconciles that could not resolve their graph, by reason",
            self.graph_resolution_failures_total
        );
        reg!(
            r,
            "instance_graph_resolution_pending_total",
            "Instance reconciles deferred because their graph revision is pending",
            self.graph_resolution_pending_total
        );
        r.register_collector(Box::new(self.condition_durations.clone()));
    }

    fn register_rgds(&self, r: &mut Registry) {
        reg!(
            r,
            "rgd_graph_build_total",
            "Total number of resource graph builds",
            self.rgd_graph_build_total
        );
        reg!(
            r,
            "rgd_graph_build_errors_total",
            "Total number of resource graph build errors",
            self.rgd_graph_build_errors_total
        );
        reg!(
            r,
            "rgd_graph_build_duration_seconds",
            "Duration of resource graph builds in seconds",
            self.rgd_graph_build_duration
        );
        reg!(
            r,
            "rgd_state_transitions_total",
            "Total number of RGD state transitions",
            self.rgd_state_transitions_total
        );
        reg!(
            r,
            "rgd_deletions_total",
            "Total number of RGD deletions",
            self.rgd_deletions_total
        );
        reg!(
            r,
            "rgd_deletion_duration_seconds",
            "Duration of RGD deletions in seconds",
            self.rgd_deletion_duration
        );
        reg!(
            r,
            "rgd_graph_revision_issue_total",
            "GraphRevisions issued by the RGD controller, by reason",
            self.rgd_graph_revision_issue_total
        );
        reg!(
            r,
            "rgd_graph_revision_wait_total",
            "Times the RGD controller waited for GraphRevision progress, by reason",
            self.rgd_graph_revision_wait_total
        );
        reg!(
            r,
            "rgd_graph_revision_resolution_total",
            "GraphRevision resolution outcomes in the RGD controller",
            self.rgd_graph_revision_resolution_total
        );
        reg!(
            r,
            "rgd_graph_revision_registry_miss_total",
            "Times the RGD controller saw GraphRevisions ahead of its registry, by reason",
            self.rgd_graph_revision_registry_miss_total
        );
        reg!(
            r,
            "rgd_graph_revision_gc_deleted_total",
            "GraphRevisions deleted by garbage collection",
            self.rgd_graph_revision_gc_deleted_total
        );
        reg!(
            r,
            "rgd_graph_revision_gc_errors_total",
            "GraphRevision garbage collection errors",
            self.rgd_graph_revision_gc_errors_total
        );
    }

    fn register_revisions(&self, r: &mut Registry) {
        reg!(
            r,
            "graph_revision_compile_total",
            "GraphRevision compile attempts by result",
            self.graph_revision_compile_total
        );
        reg!(
            r,
            "graph_revision_compile_duration_seconds",
            "Duration of GraphRevision compile attempts in seconds",
            self.graph_revision_compile_duration
        );
        reg!(
            r,
            "graph_revision_status_update_errors_total",
            "GraphRevision status update failures",
            self.graph_revision_status_update_errors_total
        );
        reg!(
            r,
            "graph_revision_activation_deferred_total",
            "Times a GraphRevision's activation waited for its status to be written",
            self.graph_revision_activation_deferred_total
        );
        reg!(
            r,
            "graph_revision_finalizer_evictions_total",
            "Registry evictions by GraphRevision finalizer cleanup",
            self.graph_revision_finalizer_evictions_total
        );
        r.register(
            "graph_revision_registry_entries",
            "GraphRevisions in the in-memory registry, by state",
            self.graph_revision_registry_entries.clone(),
        );
        reg!(
            r,
            "graph_revision_registry_transitions_total",
            "GraphRevision registry state transitions",
            self.graph_revision_registry_transitions_total
        );
        reg!(
            r,
            "graph_revision_registry_evictions_total",
            "GraphRevision registry evictions",
            self.graph_revision_registry_evictions_total
        );
    }

    fn register_process(&self, r: &mut Registry) {
        r.register(
            "leader_election_master_status",
            "1 while this replica holds the named Lease, 0 otherwise",
            self.leader_election_master_status.clone(),
        );
        let schema = &*SCHEMA;
        reg!(
            r,
            "schema_resolver_cache_hits_total",
            "Schema cache hits",
            schema.hits
        );
        reg!(
            r,
            "schema_resolver_cache_misses_total",
            "Schema cache misses",
            schema.misses
        );
        reg!(
            r,
            "schema_resolver_cache_size",
            "Entries in the schema cache",
            schema.size
        );
        reg!(
            r,
            "schema_resolver_cache_evictions_total",
            "Schema cache entries replaced or dropped",
            schema.evictions
        );
        reg!(
            r,
            "schema_resolver_api_call_duration_seconds",
            "Duration of API calls to fetch schemas",
            schema.api_call_duration
        );
        reg!(
            r,
            "schema_resolver_errors_total",
            "Schema fetches that failed",
            schema.errors
        );
        let client = &*CLIENT;
        reg!(
            r,
            "rest_client_requests_total",
            "Requests sent to the Kubernetes API server, by status code, method and host",
            client.requests
        );
        reg!(
            r,
            "rest_client_request_duration_seconds",
            "Request latency in seconds, by verb",
            client.duration
        );
        reg!(
            r,
            "rest_client_request_size_bytes",
            "Request size in bytes, by verb",
            client.request_size
        );
        reg!(
            r,
            "rest_client_response_size_bytes",
            "Response size in bytes, by verb",
            client.response_size
        );
        reg!(
            r,
            "rest_client_request_retries_total",
            "Request retries, by status code and method",
            client.retries
        );
        self.queues.register(r);
        r.register_collector(Box::new(ProcessCollector {
            started: process_start_time(),
        }));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// An instance controller started (kro's parent handler attached).
    pub fn kind_started(&self) {
        let parent = TypeLabels {
            r#type: "parent".into(),
        };
        self.handler_attach_total.get_or_create(&parent).inc();
        self.handler_count.get_or_create(&parent).inc();
    }

    /// An instance controller stopped; the condition gauges of its kind go with it.
    pub fn kind_stopped(&self, gvr: &str) {
        let parent = TypeLabels {
            r#type: "parent".into(),
        };
        self.handler_detach_total.get_or_create(&parent).inc();
        self.handler_count.get_or_create(&parent).dec();
        self.condition_durations.evict_kind(gvr);
    }

    /// One compile of a GraphRevision: `graph_revision_compile_total{result}` and
    /// `graph_revision_compile_duration_seconds{result}` (kro's results: `success`, `error`).
    /// The GraphRevision controller calls this.
    pub fn graph_revision_compiled(&self, result: &str, duration: Duration) {
        let labels = ResultLabels {
            result: result.into(),
        };
        self.graph_revision_compile_total
            .get_or_create(&labels)
            .inc();
        self.graph_revision_compile_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// A GraphRevision status write failed (`graph_revision_status_update_errors_total`); with
    /// `deferred`, its activation waits for the write (`graph_revision_activation_deferred_total`).
    pub fn graph_revision_status_update_failed(&self, deferred: bool) {
        self.graph_revision_status_update_errors_total.inc();
        if deferred {
            self.graph_revision_activation_deferred_total.inc();
        }
    }

    /// A GraphRevision's finalizer evicted it from the registry.
    pub fn graph_revision_finalized(&self) {
        self.graph_revision_finalizer_evictions_total.inc();
    }

    /// A registry entry changed state (`from` is `None` for a new entry):
    /// `graph_revision_registry_entries{state}` follows, and a change is counted in
    /// `graph_revision_registry_transitions_total{from,to}`.
    pub fn graph_revision_registry_set(&self, from: Option<&str>, to: &str) {
        if let Some(from) = from {
            self.graph_revision_registry_entries
                .get_or_create(&StateLabels { state: from.into() })
                .dec();
            if from != to {
                self.graph_revision_registry_transitions_total
                    .get_or_create(&FromToLabels {
                        from: from.into(),
                        to: to.into(),
                    })
                    .inc();
            }
        }
        self.graph_revision_registry_entries
            .get_or_create(&StateLabels { state: to.into() })
            .inc();
    }

    /// `count` registry entries in `state` were evicted.
    pub fn graph_revision_registry_evicted(&self, state: &str, count: u64) {
        self.graph_revision_registry_entries
            .get_or_create(&StateLabels {
                state: state.into(),
            })
            .dec_by(i64::try_from(count).unwrap_or(i64::MAX));
        self.graph_revision_registry_evictions_total.inc_by(count);
    }

    /// The RGD controller issued a GraphRevision (`rgd_graph_revision_issue_total{reason}`).
    pub fn rgd_graph_revision_issued(&self, reason: &str) {
        self.rgd_graph_revision_issue_total
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// The RGD controller waits on revision progress (`rgd_graph_revision_wait_total{reason}`).
    pub fn rgd_graph_revision_waited(&self, reason: &str) {
        self.rgd_graph_revision_wait_total
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// How the RGD controller resolved its revisions
    /// (`rgd_graph_revision_resolution_total{result}`).
    pub fn rgd_graph_revision_resolved(&self, result: &str) {
        self.rgd_graph_revision_resolution_total
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// The RGD controller saw revisions its registry lacks
    /// (`rgd_graph_revision_registry_miss_total{reason}`).
    pub fn rgd_graph_revision_registry_missed(&self, reason: &str) {
        self.rgd_graph_revision_registry_miss_total
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// Revision garbage collection deleted `deleted` revisions and failed `errors` times.
    pub fn rgd_graph_revision_collected(&self, deleted: u64, errors: u64) {
        self.rgd_graph_revision_gc_deleted_total.inc_by(deleted);
        self.rgd_graph_revision_gc_errors_total.inc_by(errors);
    }

    /// An instance reconcile could not use its graph: `reason` is kro's `not_available`,
    /// `failed` or `unknown_state`; `None` counts it as pending
    /// (`instance_graph_resolution_pending_total`).
    pub fn graph_resolution_missed(&self, gvr: &str, reason: Option<&str>) {
        match reason {
            Some(reason) => {
                self.graph_resolution_failures_total
                    .get_or_create(&GvrReasonLabels {
                        gvr: gvr.into(),
                        reason: reason.into(),
                    })
                    .inc();
            }
            None => {
                self.graph_resolution_pending_total
                    .get_or_create(&GvrLabels::new(gvr))
                    .inc();
            }
        }
    }

    /// Whether this replica leads through Lease `name` (`leader_election_master_status`).
    pub fn set_leading(&self, name: &str, leading: bool) {
        self.leader_election_master_status
            .get_or_create(&NameLabels::new(name))
            .set(i64::from(leading));
    }
}

/// The `controller_runtime_*` and `workqueue_*` families, for the work queues of the process:
/// `ResourceGraphDefinition` (the RGD controller, as controller-runtime names kro's) and
/// `dynamic-controller-queue` (every instance reconcile, as kro's dynamic controller's queue).
#[derive(Debug)]
pub struct QueueFamilies {
    reconcile_total: Family<ControllerResultLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    reconcile_panics: Family<ControllerLabels, Counter>,
    reconcile_time: Histograms<ControllerLabels>,
    max_concurrent: Family<ControllerLabels, Gauge>,
    active_workers: Family<ControllerLabels, Gauge>,
    depth: Family<DepthLabels, Gauge>,
    adds: Family<QueueLabels, Counter>,
    queue_duration: Histograms<QueueLabels>,
    work_duration: Histograms<QueueLabels>,
    retries: Family<QueueLabels, Counter>,
    in_flight: Arc<InFlight>,
}

impl Default for QueueFamilies {
    fn default() -> Self {
        Self {
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_panics: Family::default(),
            reconcile_time: Family::new_with_constructor(reconcile_time_histogram),
            max_concurrent: Family::default(),
            active_workers: Family::default(),
            depth: Family::default(),
            adds: Family::default(),
            queue_duration: Family::new_with_constructor(queue_histogram),
            work_duration: Family::new_with_constructor(queue_histogram),
            retries: Family::default(),
            in_flight: Arc::new(InFlight::default()),
        }
    }
}

impl QueueFamilies {
    fn register(&self, r: &mut Registry) {
        r.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            self.reconcile_total.clone(),
        );
        r.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            self.reconcile_errors.clone(),
        );
        r.register(
            "controller_runtime_reconcile_panics",
            "Total number of reconciliation panics per controller",
            self.reconcile_panics.clone(),
        );
        r.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            self.reconcile_time.clone(),
        );
        r.register(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            self.max_concurrent.clone(),
        );
        r.register(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            self.active_workers.clone(),
        );
        r.register(
            "workqueue_depth",
            "Current depth of workqueue by workqueue and priority",
            self.depth.clone(),
        );
        r.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            self.adds.clone(),
        );
        r.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            self.queue_duration.clone(),
        );
        r.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            self.work_duration.clone(),
        );
        r.register(
            "workqueue_retries",
            "Total number of items requeued with a delay after a failure",
            self.retries.clone(),
        );
        r.register_collector(Box::new(self.in_flight.clone()));
    }

    /// The queue `name`; with `controller`, also under controller-runtime's `controller_runtime_*`
    /// families (only kro's controller-runtime controllers have those), each with at most
    /// `workers` items worked at once.
    pub fn queue(self: &Arc<Self>, name: &str, controller: bool, workers: usize) -> WorkQueue {
        let families = self.clone();
        let queue = QueueLabels {
            name: name.into(),
            controller: name.into(),
        };
        let depth = DepthLabels {
            name: name.into(),
            controller: name.into(),
            priority: String::new(),
        };
        families.depth.get_or_create(&depth).set(0);
        // Counters start at 0, as controller-runtime's, so a rate has a first point.
        let _ = families.adds.get_or_create(&queue);
        let _ = families.retries.get_or_create(&queue);
        let controller = controller.then(|| {
            let labels = ControllerLabels {
                controller: name.into(),
            };
            // controller-runtime's results but `requeue` (an immediate requeue), which no
            // controller of kro-rs asks for.
            for result in ["error", "requeue_after", "success"] {
                let _ = families
                    .reconcile_total
                    .get_or_create(&ControllerResultLabels {
                        controller: name.into(),
                        result: result.into(),
                    });
            }
            let _ = families.reconcile_errors.get_or_create(&labels);
            let _ = families.reconcile_panics.get_or_create(&labels);
            families
                .max_concurrent
                .get_or_create(&labels)
                .set(i64::try_from(workers).unwrap_or(i64::MAX));
            families.active_workers.get_or_create(&labels).set(0);
            labels
        });
        WorkQueue {
            families,
            queue,
            depth,
            controller,
            also_depth: None,
        }
    }
}

/// Items being worked on, by queue: what `workqueue_unfinished_work_seconds` and
/// `workqueue_longest_running_processor_seconds` are computed from at each scrape.
#[derive(Debug, Default)]
struct InFlight {
    next: AtomicU64,
    started: Mutex<HashMap<u64, (QueueLabels, Instant)>>,
}

impl Collector for InFlight {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = Instant::now();
        let mut per_queue: HashMap<QueueLabels, (f64, f64)> = HashMap::new();
        {
            let started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
            for (queue, since) in started.values() {
                let seconds = now.saturating_duration_since(*since).as_secs_f64();
                let entry = per_queue.entry(queue.clone()).or_default();
                entry.0 += seconds;
                entry.1 = entry.1.max(seconds);
            }
        }
        for (name, help, pick) in [
            (
                "workqueue_unfinished_work_seconds",
                "Seconds of work in progress not yet observed by work_duration",
                0,
            ),
            (
                "workqueue_longest_running_processor_seconds",
                "Seconds the longest running processor of the workqueue has been running",
                1,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (queue, values) in &per_queue {
                let value = if pick == 0 { values.0 } else { values.1 };
                let metric = family.encode_family(queue)?;
                ConstF64Gauge(value).encode(metric)?;
            }
        }
        Ok(())
    }
}

/// An f64 gauge value for collectors.
#[derive(Debug)]
struct ConstF64Gauge(f64);

impl prometheus_client::metrics::TypedMetric for ConstF64Gauge {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for ConstF64Gauge {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.0)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// An item waiting in a queue: the depth gauges go down when it is dropped.
struct Waiting<'a> {
    depth: &'a Gauge,
    also: Option<&'a Gauge>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.depth.dec();
        if let Some(also) = self.also {
            also.dec();
        }
    }
}

/// One work queue's metrics ([`QueueFamilies::queue`]).
#[derive(Debug, Clone)]
pub struct WorkQueue {
    families: Arc<QueueFamilies>,
    queue: QueueLabels,
    depth: DepthLabels,
    controller: Option<ControllerLabels>,
    /// Another gauge that follows the depth (`dynamic_controller_queue_length`).
    also_depth: Option<Gauge>,
}

/// An item that has left the queue for a worker (dropped when the work ends).
#[derive(Debug)]
pub struct Working<'a> {
    queue: &'a WorkQueue,
    id: u64,
    started: Instant,
    _permit: Option<SemaphorePermit<'a>>,
}

impl WorkQueue {
    /// An item joins the queue and waits for a permit of `workers` (the queue's workers):
    /// counted in `workqueue_adds_total` and `workqueue_depth` while it waits, then its wait in
    /// `workqueue_queue_duration_seconds`. `None` when `workers` is closed (shutdown).
    pub async fn wait<'a>(&'a self, workers: &'a Semaphore) -> Option<Working<'a>> {
        let families = &self.families;
        families.adds.get_or_create(&self.queue).inc();
        let depth = families.depth.get_or_create(&self.depth).clone();
        let waiting = Waiting {
            depth: &depth,
            also: self.also_depth.as_ref(),
        };
        depth.inc();
        if let Some(also) = waiting.also {
            also.inc();
        }
        let queued = Instant::now();
        // Dropped (the depth goes down) when the permit comes or the wait is abandoned.
        let permit = workers.acquire().await;
        drop(waiting);
        let permit = permit.ok()?;
        families
            .queue_duration
            .get_or_create(&self.queue)
            .observe(queued.elapsed().as_secs_f64());
        let id = families.in_flight.next.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        families
            .in_flight
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (self.queue.clone(), started));
        if let Some(controller) = &self.controller {
            families.active_workers.get_or_create(controller).inc();
        }
        Some(Working {
            queue: self,
            id,
            started,
            _permit: Some(permit),
        })
    }

    /// An item requeued with a delay after a failure (`workqueue_retries_total`).
    pub fn retried(&self) {
        self.families.retries.get_or_create(&self.queue).inc();
    }
}

/// How a controller-runtime reconcile ended (`controller_runtime_reconcile_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It failed.
    Error,
    /// It asked to run again after a delay.
    RequeueAfter,
    /// It finished.
    Success,
    /// It panicked (also counted as an error).
    Panic,
}

impl Working<'_> {
    /// The work ended as `outcome` (controller queues only count outcomes).
    pub fn finish(self, outcome: Outcome) {
        let families = &self.queue.families;
        if let Some(controller) = &self.queue.controller {
            let result = match outcome {
                Outcome::Error | Outcome::Panic => "error",
                Outcome::RequeueAfter => "requeue_after",
                Outcome::Success => "success",
            };
            families
                .reconcile_total
                .get_or_create(&ControllerResultLabels {
                    controller: controller.controller.clone(),
                    result: result.into(),
                })
                .inc();
            if matches!(outcome, Outcome::Error | Outcome::Panic) {
                families.reconcile_errors.get_or_create(controller).inc();
            }
            if outcome == Outcome::Panic {
                families.reconcile_panics.get_or_create(controller).inc();
            }
            families
                .reconcile_time
                .get_or_create(controller)
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        let families = &self.queue.families;
        families
            .work_duration
            .get_or_create(&self.queue.queue)
            .observe(self.started.elapsed().as_secs_f64());
        families
            .in_flight
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        if let Some(controller) = &self.queue.controller {
            families.active_workers.get_or_create(controller).dec();
        }
    }
}

/// Key of one instance condition in [`ConditionDurations`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConditionKey {
    gvr: String,
    namespace: String,
    name: String,
    condition_type: String,
}

/// What [`ConditionDurations`] holds of a condition.
#[derive(Debug, Clone, PartialEq)]
struct ConditionValue {
    status: String,
    reason: String,
    /// Unix milliseconds of the condition's `lastTransitionTime` (or when first seen).
    since_ms: i64,
}

/// `instance_condition_current_status_seconds`: for each instance condition last written,
/// seconds since its `lastTransitionTime`, computed at each scrape (kro's duration
/// collector). Filled only with the `InstanceConditionMetrics` gate.
#[derive(Debug, Default)]
pub struct ConditionDurations {
    entries: Mutex<HashMap<ConditionKey, ConditionValue>>,
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_millisecond()
}

impl ConditionDurations {
    /// Records the conditions an instance has after a reconcile (`gvr` as [`gvr_string`]), and
    /// drops those it had before and no longer has.
    pub fn record(
        &self,
        gvr: &str,
        namespace: &str,
        name: &str,
        before: &[Condition],
        after: &[Condition],
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = |condition_type: &str| ConditionKey {
            gvr: gvr.into(),
            namespace: namespace.into(),
            name: name.into(),
            condition_type: condition_type.into(),
        };
        for condition in after {
            let key = key(&condition.type_);
            let status = condition.status.as_str().to_string();
            let reason = condition.reason.clone().unwrap_or_default();
            let since_ms = match &condition.last_transition_time {
                Some(time) => time.0.as_millisecond(),
                None => match entries.get(&key) {
                    Some(held) if held.status == status && held.reason == reason => continue,
                    _ => now_ms(),
                },
            };
            entries.insert(
                key,
                ConditionValue {
                    status,
                    reason,
                    since_ms,
                },
            );
        }
        for gone in before
            .iter()
            .filter(|old| !after.iter().any(|new| new.type_ == old.type_))
        {
            entries.remove(&key(&gone.type_));
        }
    }

    /// Drops an instance that is gone.
    pub fn evict_instance(&self, gvr: &str, namespace: &str, name: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| !(key.gvr == gvr && key.namespace == namespace && key.name == name));
    }

    /// Drops every instance of a kind whose controller stopped.
    pub fn evict_kind(&self, gvr: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| key.gvr != gvr);
    }
}

impl Collector for ConditionDurations {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot: Vec<(ConditionKey, ConditionValue)> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let now = now_ms();
        let mut family = encoder.encode_descriptor(
            "instance_condition_current_status_seconds",
            "The current amount of time in seconds that an instance status condition has been in a specific state.",
            None,
            MetricType::Gauge,
        )?;
        for (key, value) in snapshot {
            let labels = ConditionLabels {
                gvr: key.gvr,
                namespace: key.namespace,
                name: key.name,
                condition_type: key.condition_type,
                condition_status: value.status,
                reason: value.reason,
            };
            let seconds = (now - value.since_ms).max(0) as f64 / 1000.0;
            ConstF64Gauge(seconds).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Unix seconds at which this process started (`/proc/self/stat` field 22 over the boot time),
/// or when it was first asked.
fn process_start_time() -> f64 {
    static STARTED: LazyLock<f64> = LazyLock::new(|| {
        let from_proc = || -> Option<f64> {
            let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
            let after_comm = &stat[stat.rfind(')')? + 2..];
            let ticks: f64 = after_comm.split_whitespace().nth(19)?.parse().ok()?;
            let boot: f64 = std::fs::read_to_string("/proc/stat")
                .ok()?
                .lines()
                .find_map(|line| line.strip_prefix("btime "))?
                .trim()
                .parse()
                .ok()?;
            Some(boot + ticks / CLOCK_TICKS)
        };
        from_proc().unwrap_or_else(|| now_ms() as f64 / 1000.0)
    });
    *STARTED
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux kro-rs runs on (no libc call without `unsafe`).
const CLOCK_TICKS: f64 = 100.0;

/// client_golang's process collector, from `/proc/self` (Linux): CPU seconds, memory, file
/// descriptors and start time. Where `/proc` cannot be read, the families have no sample.
#[derive(Debug)]
struct ProcessCollector {
    started: f64,
}

impl ProcessCollector {
    /// `(cpu seconds, virtual bytes, resident bytes)` from `/proc/self/stat`.
    fn stat() -> Option<(f64, f64, f64)> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
        // Fields after the command, 0-based from field 3 (state): utime 11, stime 12,
        // vsize 20, rss 21 (pages).
        let number = |at: usize| fields.get(at).and_then(|field| field.parse::<f64>().ok());
        let cpu = (number(11)? + number(12)?) / CLOCK_TICKS;
        Some((cpu, number(20)?, number(21)? * 4096.0))
    }

    /// `(soft limit on open files, soft limit on address space)` from `/proc/self/limits`.
    fn limits() -> (Option<f64>, Option<f64>) {
        let Ok(text) = std::fs::read_to_string("/proc/self/limits") else {
            return (None, None);
        };
        let soft = |prefix: &str| {
            text.lines()
                .find(|line| line.starts_with(prefix))
                .and_then(|line| line[prefix.len()..].split_whitespace().next())
                .map(|value| value.parse::<f64>().unwrap_or(f64::INFINITY))
        };
        (soft("Max open files"), soft("Max address space"))
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stat = Self::stat();
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as f64);
        let (max_fds, max_vm) = Self::limits();
        let gauges = [
            (
                "process_open_fds",
                "Number of open file descriptors",
                open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                max_fds,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                stat.map(|s| s.1),
            ),
            (
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes",
                max_vm.map(|v| if v.is_finite() { v } else { -1.0 }),
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                stat.map(|s| s.2),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                Some(self.started),
            ),
        ];
        if let Some((cpu, _, _)) = stat {
            let family = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                MetricType::Counter,
            )?;
            ConstF64Counter(cpu).encode(family)?;
        }
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstF64Gauge(value).encode(family)?;
            }
        }
        Ok(())
    }
}

/// An f64 counter value for collectors.
#[derive(Debug)]
struct ConstF64Counter(f64);

impl EncodeMetric for ConstF64Counter {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&self.0, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[cfg(test)]
mod tests;
