use std::time::Duration;

use kro_api::{Condition, ConditionStatus};
use tokio::sync::Semaphore;

use super::*;

const WEB_GVR: &str = "x.kro.run/v1alpha1, Resource=webs";

/// Puts one sample into every family kro-rs serves, through the calls the controllers make.
async fn touch_every_family(metrics: &Metrics) {
    let key = GvrLabels::new(gvr_key("x.kro.run", "v1alpha1", "webs"));
    let gvr = GvrLabels::new(WEB_GVR);
    metrics.reconcile_total.get_or_create(&key).inc();
    metrics.reconcile_duration.get_or_create(&key).observe(0.1);
    metrics
        .requeue_total
        .get_or_create(&RequeueLabels {
            gvr: key.gvr.clone(),
            r#type: "rate_limited".into(),
        })
        .inc();
    metrics.handler_errors_total.get_or_create(&key).inc();
    metrics.panics_total.get_or_create(&key).inc();
    metrics.gvr_count.set(1);
    metrics.queue_length.set(0);
    metrics.kind_started();
    metrics.kind_stopped(WEB_GVR);
    metrics
        .informer_sync_duration
        .get_or_create(&gvr)
        .observe(0.2);
    metrics
        .informer_events_total
        .get_or_create(&EventLabels {
            gvr: WEB_GVR.into(),
            event_type: "ADDED".into(),
        })
        .inc();
    metrics.watch_count.set(1);
    metrics.route_total.get_or_create(&gvr).inc();
    metrics.route_match_total.get_or_create(&gvr).inc();
    metrics.instance_reconcile_total.get_or_create(&gvr).inc();
    metrics
        .instance_reconcile_errors_total
        .get_or_create(&gvr)
        .inc();
    metrics
        .instance_reconcile_duration
        .get_or_create(&gvr)
        .observe(0.1);
    metrics
        .instance_reconcile_cpu
        .get_or_create(&gvr)
        .observe(0.001);
    metrics
        .instance_state_transitions_total
        .get_or_create(&TransitionLabels {
            gvr: gvk_string("x.kro.run", "v1alpha1", "Web"),
            from_state: String::new(),
            to_state: "ACTIVE".into(),
        })
        .inc();
    metrics
        .graph_resolution_success_total
        .get_or_create(&gvr)
        .inc();
    metrics.graph_resolution_missed(WEB_GVR, Some("failed"));
    metrics.graph_resolution_missed(WEB_GVR, None);
    metrics.condition_durations.record(
        WEB_GVR,
        "ns",
        "web",
        &[],
        &[Condition::with_status("Ready", ConditionStatus::True)],
    );
    touch_rgd_and_shared_families(metrics).await;
}

/// [`touch_every_family`]'s second half: RGDs, revisions, the schema cache, the client, the
/// work queues.
async fn touch_rgd_and_shared_families(metrics: &Metrics) {
    let rgd = NameLabels::new("web");
    metrics.rgd_graph_build_total.get_or_create(&rgd).inc();
    metrics
        .rgd_graph_build_errors_total
        .get_or_create(&rgd)
        .inc();
    metrics
        .rgd_graph_build_duration
        .get_or_create(&rgd)
        .observe(0.1);
    metrics
        .rgd_state_transitions_total
        .get_or_create(&RgdTransitionLabels {
            name: "web".into(),
            from: String::new(),
            to: "Active".into(),
        })
        .inc();
    metrics.rgd_deletions_total.get_or_create(&rgd).inc();
    metrics
        .rgd_deletion_duration
        .get_or_create(&rgd)
        .observe(0.1);
    metrics.rgd_graph_revision_issued("spec_changed");
    metrics.rgd_graph_revision_waited("compiling");
    metrics.rgd_graph_revision_resolved("active");
    metrics.rgd_graph_revision_registry_missed("latest_not_warmed");
    metrics.rgd_graph_revision_collected(1, 1);
    metrics.graph_revision_compiled("success", Duration::from_millis(5));
    metrics.graph_revision_status_update_failed(true);
    metrics.graph_revision_finalized();
    metrics.graph_revision_registry_set(None, "pending");
    metrics.graph_revision_registry_set(Some("pending"), "active");
    metrics.graph_revision_registry_evicted("active", 1);
    metrics.set_leading("controller.kro.run", true);
    SCHEMA.hits.inc();
    SCHEMA.misses.inc();
    SCHEMA.size.set(1);
    SCHEMA.evictions.inc();
    SCHEMA.api_call_duration.observe(0.05);
    SCHEMA.errors.inc();
    client_request(
        "GET",
        "127.0.0.1:6443",
        "200",
        Duration::from_millis(3),
        Some(10),
        Some(100),
    );
    client_retry("429", "GET");
    let workers = Semaphore::new(1);
    let queue = metrics.queues.queue("ResourceGraphDefinition", true, 1);
    queue.retried();
    let working = queue.wait(&workers).await.expect("a worker");
    // Scraped while the item is worked on, so the in-flight gauges have a sample.
    let during = scraped_families(&metrics.render());
    assert!(
        during.contains_key("workqueue_unfinished_work_seconds"),
        "{during:?}"
    );
    working.finish(Outcome::Success);
}

#[tokio::test]
async fn every_kro_family_is_served_under_kros_labels_or_said_why_not() {
    let metrics = Metrics::new();
    touch_every_family(&metrics).await;
    let workers = Semaphore::new(1);
    let queue = metrics.queues.queue("dynamic-controller-queue", false, 1);
    let _working = queue.wait(&workers).await.expect("a worker");
    let served = scraped_families(&metrics.render());
    let mut wrong = Vec::new();
    for (family, _type, labels) in kro_families() {
        match (not_served(&family), served.get(&family)) {
            (None, Some(got)) if *got == labels => {}
            (None, got) => wrong.push(format!("{family}: kro {labels:?}, kro-rs {got:?}")),
            (Some(_), Some(_)) => wrong.push(format!("{family} is served but listed as not")),
            (Some(_), None) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // And nothing else: every family served is kro's or one of kro-rs's own.
    let mut expected = served_families();
    expected.sort();
    let got: Vec<String> = served.keys().cloned().collect();
    assert_eq!(got, expected);
    // kro-rs's own family stays.
    assert_eq!(
        served.get("instance_reconcile_cpu_seconds"),
        Some(&vec!["gvr".to_string()])
    );
}

#[test]
fn the_fixture_lists_kros_families_once_each() {
    let families = kro_families();
    assert!(families.len() > 90, "{}", families.len());
    let mut names: Vec<&str> = families.iter().map(|f| f.0.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a family is listed twice");
    for (name, type_, labels) in &families {
        assert!(
            ["counter", "gauge", "histogram", "-"].contains(&type_.as_str()),
            "{name}: {type_}"
        );
        if type_ == "counter" {
            assert!(name.ends_with("_total"), "{name}");
        }
        assert!(labels.iter().all(|l| !l.is_empty()), "{name}");
    }
    for (name, _) in NOT_SERVED {
        let prefix = name.trim_end_matches('*');
        assert!(
            families.iter().any(|f| f.0.starts_with(prefix)),
            "{name} is not in the fixture"
        );
    }
}

#[test]
fn label_values_follow_kros_spelling() {
    assert_eq!(
        gvr_key("x.kro.run", "v1alpha1", "webs"),
        "x.kro.run/v1alpha1/webs"
    );
    assert_eq!(gvr_key("", "v1", "configmaps"), "/v1/configmaps");
    assert_eq!(
        gvr_string("x.kro.run", "v1alpha1", "webs"),
        "x.kro.run/v1alpha1, Resource=webs"
    );
    assert_eq!(
        gvk_string("x.kro.run", "v1alpha1", "Web"),
        "x.kro.run/v1alpha1, Kind=Web"
    );
    let metrics = Metrics::new();
    metrics
        .instance_state_transitions_total
        .get_or_create(&TransitionLabels {
            gvr: gvk_string("x.kro.run", "v1alpha1", "Web"),
            from_state: "IN_PROGRESS".into(),
            to_state: "ACTIVE".into(),
        })
        .inc();
    let text = metrics.render();
    let line = "instance_state_transitions_total{gvr=\"x.kro.run/v1alpha1, Kind=Web\",from_state=\"IN_PROGRESS\",to_state=\"ACTIVE\"} 1";
    assert!(text.contains(line), "{line} missing from\n{text}");
}

#[test]
fn scraping_reads_label_names_through_quotes_and_commas() {
    let text = "# TYPE a counter\na_total{x=\"1,y=\\\"2\\\"\",z=\"\"} 1\n# TYPE h histogram\nh_bucket{v=\"GET\",le=\"0.1\"} 1\nh_sum{v=\"GET\"} 1\nh_count{v=\"GET\"} 1\ng 3\n";
    let families = scraped_families(text);
    assert_eq!(families["a_total"], vec!["x", "z"]);
    assert_eq!(families["h"], vec!["v"]);
    assert_eq!(families["g"], Vec::<String>::new());
    assert_eq!(families.len(), 3, "{families:?}");
}

fn condition(type_: &str, status: ConditionStatus, reason: &str, at: &str) -> Condition {
    let mut condition = Condition::with_status(type_, status);
    condition.reason = Some(reason.into());
    condition.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        at.parse().expect("timestamp"),
    ));
    condition
}

#[test]
fn condition_durations_follow_the_last_written_conditions() {
    let durations = ConditionDurations::default();
    let ready = condition(
        "Ready",
        ConditionStatus::False,
        "NotReady",
        "2026-01-01T00:00:00Z",
    );
    let managed = condition(
        "InstanceManaged",
        ConditionStatus::True,
        "Managed",
        "2026-01-01T00:00:00Z",
    );
    durations.record(WEB_GVR, "ns", "web", &[], &[ready.clone(), managed.clone()]);
    let ready_now = condition(
        "Ready",
        ConditionStatus::True,
        "Ready",
        "2026-01-01T00:01:00Z",
    );
    durations.record(WEB_GVR, "ns", "web", &[ready, managed], &[ready_now]);
    durations.record(
        WEB_GVR,
        "ns",
        "other",
        &[],
        &[condition(
            "Ready",
            ConditionStatus::True,
            "Ready",
            "2026-01-01T00:00:00Z",
        )],
    );
    let mut registry = Registry::default();
    let shared = Arc::new(durations);
    registry.register_collector(Box::new(shared.clone()));
    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("instance_condition_current_status_seconds{"))
        .collect();
    assert_eq!(samples.len(), 2, "{text}");
    assert!(
        samples.iter().any(|s| s.contains(
            "name=\"web\",condition_type=\"Ready\",condition_status=\"True\",reason=\"Ready\""
        )),
        "{text}"
    );
    assert!(
        !text.contains("InstanceManaged"),
        "a condition gone is dropped: {text}"
    );
    // Seconds since the transition: the sample for `web` is a minute younger than `other`'s.
    let value = |name: &str| -> f64 {
        samples
            .iter()
            .find(|s| s.contains(&format!("name=\"{name}\"")))
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .expect("a value")
    };
    assert!((value("other") - value("web") - 60.0).abs() < 1.0, "{text}");
    shared.evict_instance(WEB_GVR, "ns", "web");
    shared.evict_kind("other.kro.run/v1, Resource=others");
    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    assert!(!text.contains("name=\"web\""), "{text}");
    assert!(text.contains("name=\"other\""), "{text}");
    shared.evict_kind(WEB_GVR);
    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    assert!(!text.contains("name=\"other\""), "{text}");
}

#[tokio::test]
async fn a_work_queue_counts_waits_work_and_outcomes() {
    let metrics = Metrics::new();
    let queue = metrics.queues.queue("ResourceGraphDefinition", true, 1);
    let workers = Semaphore::new(1);
    let first = queue.wait(&workers).await.expect("a worker");
    let waiting = queue.wait(&workers);
    let mut waiting = std::pin::pin!(waiting);
    assert!(
        futures::poll!(waiting.as_mut()).is_pending(),
        "one worker only"
    );
    let text = metrics.render();
    for line in [
        "workqueue_depth{name=\"ResourceGraphDefinition\",controller=\"ResourceGraphDefinition\",priority=\"\"} 1",
        "workqueue_adds_total{name=\"ResourceGraphDefinition\",controller=\"ResourceGraphDefinition\"} 2",
        "controller_runtime_active_workers{controller=\"ResourceGraphDefinition\"} 1",
        "controller_runtime_max_concurrent_reconciles{controller=\"ResourceGraphDefinition\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    first.finish(Outcome::Error);
    let second = waiting.await.expect("the worker is free");
    second.finish(Outcome::Success);
    let text = metrics.render();
    for line in [
        "workqueue_depth{name=\"ResourceGraphDefinition\",controller=\"ResourceGraphDefinition\",priority=\"\"} 0",
        "controller_runtime_reconcile_total{controller=\"ResourceGraphDefinition\",result=\"error\"} 1",
        "controller_runtime_reconcile_total{controller=\"ResourceGraphDefinition\",result=\"success\"} 1",
        "controller_runtime_reconcile_total{controller=\"ResourceGraphDefinition\",result=\"requeue_after\"} 0",
        "controller_runtime_reconcile_errors_total{controller=\"ResourceGraphDefinition\"} 1",
        "controller_runtime_active_workers{controller=\"ResourceGraphDefinition\"} 0",
        "workqueue_work_duration_seconds_count{name=\"ResourceGraphDefinition\",controller=\"ResourceGraphDefinition\"} 2",
        "workqueue_queue_duration_seconds_count{name=\"ResourceGraphDefinition\",controller=\"ResourceGraphDefinition\"} 2",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(
        !text.contains("workqueue_unfinished_work_seconds{"),
        "nothing is in flight: {text}"
    );
}
