//! Prometheus metrics under kro's names (kro.md 6.3), rendered for `/metrics`, with one typed
//! label set per label combination (`GvrLabels` renders as `{gvr="..."}`, and so on).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `{gvr}`: a kind's `<group>/<version>/<plural>` (or `<group>/<version>` and kind for child
/// watches, as kro writes it).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GvrLabels {
    /// The kind's group, version and resource.
    pub gvr: String,
}

impl GvrLabels {
    /// `{gvr}`.
    pub fn new(gvr: impl Into<String>) -> Self {
        Self { gvr: gvr.into() }
    }
}

/// `{gvk}`: a generated kind's `<group>/<version>/<Kind>`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GvkLabels {
    /// The kind's group, version and kind.
    pub gvk: String,
}

impl GvkLabels {
    /// `{gvk}`.
    pub fn new(gvk: impl Into<String>) -> Self {
        Self { gvk: gvk.into() }
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

/// `{gvk,from,to}` of `instance_state_transitions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The generated kind.
    pub gvk: String,
    /// The state before (empty when there was none).
    pub from: String,
    /// The state after.
    pub to: String,
}

/// `{name}`: an RGD's name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// The RGD's name.
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

/// `{method,code}` of `rest_client_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The response's status code, or `<error>` when there was no response.
    pub code: String,
}

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// 50 µs … ~200 ms: CPU time of one reconcile.
fn cpu_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 13))
}

/// Every metric the controller exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `dynamic_controller_reconcile_total{gvr}`.
    pub reconcile_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_reconcile_duration_seconds{gvr}`.
    pub reconcile_duration: Family<GvrLabels, Histogram, fn() -> Histogram>,
    /// `dynamic_controller_requeue_total{gvr,type}`.
    pub requeue_total: Family<RequeueLabels, Counter>,
    /// `dynamic_controller_handler_errors_total{gvr}`.
    pub handler_errors_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_reconcile_panics_total{gvr}`.
    pub panics_total: Family<GvrLabels, Counter>,
    /// `dynamic_controller_gvr_count`: generated kinds with a running controller.
    pub gvr_count: Gauge,
    /// `dynamic_controller_watch_count`: shared child watches.
    pub watch_count: Gauge,
    /// `dynamic_controller_informer_events_total{gvr}`: child watch events routed.
    pub informer_events_total: Family<GvrLabels, Counter>,
    /// `instance_reconcile_total{gvk}`.
    pub instance_reconcile_total: Family<GvkLabels, Counter>,
    /// `instance_reconcile_errors_total{gvk}`.
    pub instance_reconcile_errors_total: Family<GvkLabels, Counter>,
    /// `instance_reconcile_duration_seconds{gvk}`.
    pub instance_reconcile_duration: Family<GvkLabels, Histogram, fn() -> Histogram>,
    /// `instance_reconcile_cpu_seconds{gvk}`: CPU time the reconcile itself used (its own
    /// polls: evaluation, diffing, encoding requests and decoding answers), not the time it
    /// waited on the API server nor the watches and connections serving it.
    pub instance_reconcile_cpu: Family<GvkLabels, Histogram, fn() -> Histogram>,
    /// `instance_state_transitions_total{gvk,from,to}`.
    pub instance_state_transitions_total: Family<TransitionLabels, Counter>,
    /// `rgd_graph_build_total{name}`.
    pub rgd_graph_build_total: Family<NameLabels, Counter>,
    /// `rgd_graph_build_errors_total{name}`.
    pub rgd_graph_build_errors_total: Family<NameLabels, Counter>,
    /// `rgd_graph_build_duration_seconds{name}`.
    pub rgd_graph_build_duration: Family<NameLabels, Histogram, fn() -> Histogram>,
    /// `rgd_state_transitions_total{name,from,to}`.
    pub rgd_state_transitions_total: Family<RgdTransitionLabels, Counter>,
    /// `rgd_deletions_total{name}`.
    pub rgd_deletions_total: Family<NameLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let built = Metrics {
            reconcile_total: Family::default(),
            reconcile_duration: Family::new_with_constructor(histogram),
            requeue_total: Family::default(),
            handler_errors_total: Family::default(),
            panics_total: Family::default(),
            gvr_count: Gauge::default(),
            watch_count: Gauge::default(),
            informer_events_total: Family::default(),
            instance_reconcile_total: Family::default(),
            instance_reconcile_errors_total: Family::default(),
            instance_reconcile_duration: Family::new_with_constructor(histogram),
            instance_reconcile_cpu: Family::new_with_constructor(cpu_histogram),
            instance_state_transitions_total: Family::default(),
            rgd_graph_build_total: Family::default(),
            rgd_graph_build_errors_total: Family::default(),
            rgd_graph_build_duration: Family::new_with_constructor(histogram),
            rgd_state_transitions_total: Family::default(),
            rgd_deletions_total: Family::default(),
            registry: Registry::default(),
        };
        // Counters get `_total` appended by prometheus-client.
        let registry_mut = &mut registry;
        registry_mut.register(
            "dynamic_controller_reconcile",
            "Reconciles of instances",
            built.reconcile_total.clone(),
        );
        registry_mut.register(
            "dynamic_controller_reconcile_duration_seconds",
            "Duration of instance reconciles",
            built.reconcile_duration.clone(),
        );
        registry_mut.register(
            "dynamic_controller_requeue",
            "Requeues by type",
            built.requeue_total.clone(),
        );
        registry_mut.register(
            "dynamic_controller_handler_errors",
            "Failed reconciles",
            built.handler_errors_total.clone(),
        );
        registry_mut.register(
            "dynamic_controller_reconcile_panics",
            "Reconciles that panicked",
            built.panics_total.clone(),
        );
        registry_mut.register(
            "dynamic_controller_gvr_count",
            "Generated kinds with a running controller",
            built.gvr_count.clone(),
        );
        registry_mut.register(
            "dynamic_controller_watch_count",
            "Shared child watches",
            built.watch_count.clone(),
        );
        registry_mut.register(
            "dynamic_controller_informer_events",
            "Child watch events routed to instances",
            built.informer_events_total.clone(),
        );
        registry_mut.register(
            "instance_reconcile",
            "Instance reconciles",
            built.instance_reconcile_total.clone(),
        );
        registry_mut.register(
            "instance_reconcile_errors",
            "Instance reconciles that failed",
            built.instance_reconcile_errors_total.clone(),
        );
        registry_mut.register(
            "instance_reconcile_duration_seconds",
            "Duration of instance reconciles",
            built.instance_reconcile_duration.clone(),
        );
        registry_mut.register(
            "instance_reconcile_cpu_seconds",
            "CPU time of instance reconciles, waiting on the API server excluded",
            built.instance_reconcile_cpu.clone(),
        );
        registry_mut.register(
            "instance_state_transitions",
            "Instance state changes",
            built.instance_state_transitions_total.clone(),
        );
        registry_mut.register(
            "rgd_graph_build",
            "RGD graph compilations",
            built.rgd_graph_build_total.clone(),
        );
        registry_mut.register(
            "rgd_graph_build_errors",
            "RGD graph compilations that failed",
            built.rgd_graph_build_errors_total.clone(),
        );
        registry_mut.register(
            "rgd_graph_build_duration_seconds",
            "Duration of RGD graph compilations",
            built.rgd_graph_build_duration.clone(),
        );
        registry_mut.register(
            "rgd_state_transitions",
            "RGD state changes",
            built.rgd_state_transitions_total.clone(),
        );
        registry_mut.register(
            "rgd_deletions",
            "RGD deletions handled",
            built.rgd_deletions_total.clone(),
        );
        registry_mut.register(
            "rest_client_requests",
            "Requests sent to the Kubernetes API server, by method and response code",
            crate::client::REQUESTS.clone(),
        );
        Metrics { registry, ..built }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_kro_metric_names() {
        let metrics = Metrics::new();
        metrics
            .reconcile_total
            .get_or_create(&GvrLabels::new("x.kro.run/v1alpha1/webs"))
            .inc();
        metrics
            .panics_total
            .get_or_create(&GvrLabels::new("x.kro.run/v1alpha1/webs"))
            .inc();
        metrics
            .rgd_graph_build_total
            .get_or_create(&NameLabels::new("web"))
            .inc();
        let text = metrics.render();
        for name in [
            "dynamic_controller_reconcile_total{gvr=\"x.kro.run/v1alpha1/webs\"} 1",
            "dynamic_controller_reconcile_panics_total{gvr=\"x.kro.run/v1alpha1/webs\"} 1",
            "rgd_graph_build_total{name=\"web\"} 1",
            "# TYPE dynamic_controller_gvr_count gauge",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn typed_labels_render_under_kros_label_names() {
        let metrics = Metrics::new();
        metrics
            .requeue_total
            .get_or_create(&RequeueLabels {
                gvr: "x.kro.run/v1alpha1/webs".into(),
                r#type: "rate_limited".into(),
            })
            .inc();
        metrics
            .instance_state_transitions_total
            .get_or_create(&TransitionLabels {
                gvk: "x.kro.run/v1alpha1/Web".into(),
                from: String::new(),
                to: "ACTIVE".into(),
            })
            .inc();
        metrics
            .rgd_state_transitions_total
            .get_or_create(&RgdTransitionLabels {
                name: "web".into(),
                from: "Inactive".into(),
                to: "Active".into(),
            })
            .inc();
        metrics
            .instance_reconcile_total
            .get_or_create(&GvkLabels::new("x.kro.run/v1alpha1/Web"))
            .inc();
        let text = metrics.render();
        for line in [
            "dynamic_controller_requeue_total{gvr=\"x.kro.run/v1alpha1/webs\",type=\"rate_limited\"} 1",
            "instance_state_transitions_total{gvk=\"x.kro.run/v1alpha1/Web\",from=\"\",to=\"ACTIVE\"} 1",
            "rgd_state_transitions_total{name=\"web\",from=\"Inactive\",to=\"Active\"} 1",
            "instance_reconcile_total{gvk=\"x.kro.run/v1alpha1/Web\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
