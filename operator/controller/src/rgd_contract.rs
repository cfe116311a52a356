//! The RGD controller's contract, against the fake API server (no control plane): a valid RGD
//! gets its finalizer, its CRD and `Active` with kro's conditions; an invalid one gets
//! `GraphAccepted=False` naming the problem and no CRD, and never holds up a valid one; a
//! deleted RGD lets go of its finalizer and keeps its CRD (no `--allow-crd-deletion`). Each
//! distinct spec gets a GraphRevision (a reorder none), kept to `--rgd-max-graph-revisions`;
//! an invalid update issues none and says which revision still runs; deletion takes them along.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use kro_api::condition::types;
use kro_api::metadata::FINALIZER;
use serde_json::{Value, json};

use crate::fake::{FakeApi, FakeKind, shared_for_tests, shared_with_options};
use crate::rgd::{self, RgdContext};

const RGD: &str = "kro.run/v1alpha1";

/// The fake API server and a running RGD controller on it.
struct Running {
    fake: FakeApi,
    shared: Arc<crate::Shared>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start() -> Self {
        Self::start_on(shared_for_tests)
    }

    fn start_with(opts: crate::Options) -> Self {
        Self::start_on(|client| shared_with_options(client, opts))
    }

    fn start_on(shared: impl FnOnce(kube::Client) -> Arc<crate::Shared>) -> Self {
        let fake = FakeApi::new(&[
            FakeKind::new("", "v1", "ConfigMap", "configmaps", true),
            FakeKind::new(
                "kro.run",
                "v1alpha1",
                "ResourceGraphDefinition",
                "resourcegraphdefinitions",
                false,
            ),
            FakeKind::new(
                "internal.kro.run",
                "v1alpha1",
                "GraphRevision",
                "graphrevisions",
                false,
            ),
        ]);
        let shared = shared(fake.client());
        let stop = shared.stop.clone();
        let ctx = RgdContext::new(shared.clone());
        let task = tokio::spawn(rgd::run(
            ctx,
            stop.clone(),
            Arc::new(AtomicBool::new(false)),
            None,
        ));
        Running {
            fake,
            shared,
            stop,
            task,
        }
    }

    fn crd(&self, name: &str) -> Option<Value> {
        self.fake.get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            name,
        )
    }

    fn rgd(&self, name: &str) -> Option<Value> {
        self.fake.get(RGD, "ResourceGraphDefinition", "", name)
    }

    /// Waits (generously: the machine may be loaded) until RGD `name` satisfies `done`.
    async fn wait_rgd(&self, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(rgd) = self.rgd(name).filter(|rgd| done(rgd)) {
                return rgd;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for RGD {name}: {what}; it is {:#}",
                self.rgd(name).unwrap_or(Value::Null)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// An RGD of kind `kind` with one ConfigMap whose data is `value` (a `${}` expression or not).
fn rgd(name: &str, kind: &str, value: &str) -> Value {
    json!({
        "apiVersion": RGD, "kind": "ResourceGraphDefinition",
        "metadata": {"name": name},
        "spec": {
            "schema": {"apiVersion": "v1alpha1", "kind": kind, "spec": {"name": "string"}},
            "resources": [{"id": "config", "template": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}"},
                "data": {"v": value},
            }}],
        },
    })
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |rgd| rgd["status"]["state"] == state
}

#[tokio::test]
async fn a_valid_rgd_gets_its_crd_and_goes_active() {
    let running = Running::start();
    running
        .fake
        .insert(rgd("web", "Web", "${schema.spec.name}"));

    let active = running.wait_rgd("web", "Active", state_is("Active")).await;
    assert_eq!(active["metadata"]["finalizers"], json!([FINALIZER]));
    for type_ in types::RGD_DEPENDENTS.iter().chain([&types::READY]) {
        let found = condition(&active, type_).unwrap_or_else(|| panic!("no {type_}"));
        assert_eq!(found["status"], "True", "{found:#}");
    }
    let crd = running
        .crd("webs.kro.run")
        .expect("the instance CRD was applied");
    assert_eq!(crd["spec"]["names"]["kind"], "Web");
    running.stop().await;
}

/// The CRD applies the fake API server has answered so far.
fn crd_applies(fake: &FakeApi) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r.method == http::Method::PATCH && r.path.contains("/customresourcedefinitions/")
        })
        .count()
}

#[tokio::test]
async fn status_and_label_writes_wake_nothing_a_spec_change_does() {
    let running = Running::start();
    running.fake.insert(rgd("web", "Web", "x"));
    running.wait_rgd("web", "Active", state_is("Active")).await;

    // A write that leaves the spec alone (a label, a status field) is no reason to reconcile,
    // and neither is kro-rs's own status write: as kro, only the spec, the deletion and the
    // breaking-changes annotation wake an RGD.
    let mut touched = running.rgd("web").expect("the RGD exists");
    touched["metadata"]["labels"] = json!({"team": "a"});
    touched["status"]["note"] = json!("written by someone else");
    running.fake.insert(touched);
    let generation = running.set_resources(
        "web",
        json!([{"id": "config", "template": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "${schema.spec.name}"}, "data": {"v": "y"}}}]),
    );
    running
        .wait_rgd("web", "the new spec accepted", observed(generation))
        .await;
    assert_eq!(
        crd_applies(&running.fake),
        2,
        "one CRD apply per generation; requests: {:#?}",
        running
            .fake
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    running.stop().await;
}

#[tokio::test]
async fn an_invalid_rgd_says_why_and_does_not_hold_up_a_valid_one() {
    let running = Running::start();
    running
        .fake
        .insert(rgd("broken", "Broken", "${nothere.data.v}"));
    running
        .fake
        .insert(rgd("web", "Web", "${schema.spec.name}"));

    let broken = running
        .wait_rgd("broken", "GraphAccepted=False", |rgd| {
            condition(rgd, types::GRAPH_ACCEPTED).is_some_and(|c| c["status"] == "False")
        })
        .await;
    let accepted = condition(&broken, types::GRAPH_ACCEPTED).expect("GraphAccepted");
    assert!(
        accepted["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothere")),
        "the message names the unknown reference: {accepted:#}"
    );
    assert_eq!(broken["status"]["state"], "Inactive");
    running.wait_rgd("web", "Active", state_is("Active")).await;
    assert!(
        running.crd("brokens.kro.run").is_none(),
        "no CRD for an invalid graph"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_deleted_rgd_releases_its_finalizer_and_keeps_its_crd() {
    let running = Running::start();
    running
        .fake
        .insert(rgd("web", "Web", "${schema.spec.name}"));
    let mut active = running.wait_rgd("web", "Active", state_is("Active")).await;
    active["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
    running.fake.insert(active);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while running.rgd("web").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the RGD kept its finalizer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        running.crd("webs.kro.run").is_some(),
        "the CRD stays without --allow-crd-deletion"
    );
    running.stop().await;
}

/// An RGD deleted before its instance watch ever listed (here: the list is refused) still
/// stops its instance controller: kro's handler detach is counted and no kind is left served.
/// kube's runner waits for the first list during a graceful shutdown too, so without a bound
/// the controller's task, its watch and its metrics stayed forever.
#[tokio::test]
async fn an_rgd_deleted_before_its_instances_listed_stops_its_controller() {
    let running = Running::start();
    running.fake.forbid("webs");
    running
        .fake
        .insert(rgd("web", "Web", "${schema.spec.name}"));
    let mut active = running.wait_rgd("web", "Active", state_is("Active")).await;
    active["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
    running.fake.insert(active);

    let parent = crate::metrics::TypeLabels {
        r#type: "parent".into(),
    };
    let metrics = &running.shared.metrics;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while running.rgd("web").is_some()
        || metrics.handler_detach_total.get_or_create(&parent).get() == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the instance controller of a deleted RGD never stopped:\n{}",
            metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.handler_count.get_or_create(&parent).get(), 0);
    assert_eq!(metrics.gvr_count.get(), 0);
    running.stop().await;
}

const GR: &str = "internal.kro.run/v1alpha1";

impl Running {
    fn gr(&self, name: &str) -> Option<Value> {
        self.fake.get(GR, "GraphRevision", "", name)
    }

    /// Waits until GraphRevision `name` exists and is verified.
    async fn wait_gr_verified(&self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(gr) = self.gr(name).filter(|gr| {
                condition(gr, types::GRAPH_VERIFIED).is_some_and(|c| c["status"] == "True")
            }) {
                return gr;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for GraphRevision {name} to be verified: {:#}",
                self.gr(name).unwrap_or(Value::Null)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until GraphRevision `name` is gone.
    async fn wait_gr_gone(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.gr(name).is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "GraphRevision {name} stays: {:#}",
                self.gr(name).unwrap_or(Value::Null)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Replaces the spec's resources of RGD `name` (as `kubectl apply` would).
    fn set_resources(&self, name: &str, resources: Value) -> i64 {
        let mut rgd = self.rgd(name).expect("the RGD exists");
        rgd["spec"]["resources"] = resources;
        self.fake.insert(rgd);
        self.rgd(name).expect("the RGD exists")["metadata"]["generation"]
            .as_i64()
            .unwrap_or(0)
    }
}

/// Two ConfigMaps, `a` and `b`, in the order given, `b`'s data `value`.
fn two_maps(a_first: bool, value: &str) -> Value {
    let a = json!({"id": "a", "template": {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "${schema.spec.name}-a"}, "data": {"v": "a"}}});
    let b = json!({"id": "b", "template": {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "${schema.spec.name}-b"}, "data": {"v": value}}});
    if a_first {
        json!([a, b])
    } else {
        json!([b, a])
    }
}

/// Whether the RGD's conditions were computed from `generation`.
fn observed(generation: i64) -> impl Fn(&Value) -> bool {
    move |rgd| {
        condition(rgd, types::GRAPH_ACCEPTED).is_some_and(|c| c["observedGeneration"] == generation)
    }
}

#[tokio::test]
async fn revisions_follow_distinct_specs_are_kept_to_the_limit_and_go_with_the_rgd() {
    let running = Running::start_with(crate::Options {
        rgd_max_graph_revisions: 2,
        ..crate::Options::for_tests()
    });
    let mut web = rgd("web", "Web", "x");
    web["spec"]["resources"] = two_maps(true, "one");
    running.fake.insert(web);

    // r00001, as kro writes it.
    let first = running.wait_gr_verified("web-r00001").await;
    let active = running.wait_rgd("web", "Active", state_is("Active")).await;
    let labels = &first["metadata"]["labels"];
    assert_eq!(labels["kro.run/owned"], "true", "{first:#}");
    assert_eq!(labels["kro.run/resource-graph-definition-name"], "web");
    assert_eq!(
        labels["kro.run/graph-revision-hash"].as_str().map(str::len),
        Some(16)
    );
    let owner = &first["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ResourceGraphDefinition");
    assert_eq!(owner["uid"], active["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(first["metadata"]["finalizers"], json!([FINALIZER]));
    assert_eq!(first["spec"]["revision"], 1);
    assert_eq!(first["spec"]["snapshot"]["name"], "web");
    assert_eq!(first["spec"]["snapshot"]["spec"]["resources"][1]["id"], "b");
    assert_eq!(first["status"]["topologicalOrder"], json!(["a", "b"]));
    assert_eq!(condition(&first, types::READY).unwrap()["status"], "True");
    assert_eq!(active["status"]["lastIssuedRevision"], 1);
    let resolved = condition(&active, types::GRAPH_REVISIONS_RESOLVED).unwrap();
    assert_eq!(resolved["reason"], "Resolved");
    assert_eq!(resolved["message"], "revision 1 compiled and active");

    // Reordered: the same revision.
    let generation = running.set_resources("web", two_maps(false, "one"));
    running
        .wait_rgd("web", "reconciled", observed(generation))
        .await;
    assert!(
        running.gr("web-r00002").is_none(),
        "a reorder issued a revision"
    );

    // Changed: r00002, then r00003, and r00001 goes (two kept).
    running.set_resources("web", two_maps(true, "two"));
    running.wait_gr_verified("web-r00002").await;
    running
        .wait_rgd("web", "lastIssuedRevision 2", |rgd| {
            rgd["status"]["lastIssuedRevision"] == 2
        })
        .await;
    running.set_resources("web", two_maps(true, "three"));
    running.wait_gr_verified("web-r00003").await;
    running.wait_gr_gone("web-r00001").await;
    assert!(running.gr("web-r00002").is_some());

    // Invalid: no revision, and the RGD says which one still runs.
    let generation = running.set_resources("web", two_maps(true, "${nothere.data.v}"));
    let broken = running
        .wait_rgd("web", "invalid", observed(generation))
        .await;
    let accepted = condition(&broken, types::GRAPH_ACCEPTED).unwrap();
    assert_eq!(accepted["status"], "False", "{broken:#}");
    let message = accepted["message"].as_str().unwrap_or_default();
    assert!(message.contains("nothere"), "{message}");
    assert!(
        message.ends_with("instances keep running on graph revision 3, the last that compiled"),
        "{message}"
    );
    let resolved = condition(&broken, types::GRAPH_REVISIONS_RESOLVED).unwrap();
    assert_eq!(resolved["message"], "revision 3 compiled and active");
    assert_eq!(broken["status"]["lastIssuedRevision"], 3);
    assert!(running.gr("web-r00004").is_none());

    // Deleted: its revisions go too.
    let mut gone = running.rgd("web").unwrap();
    gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
    running.fake.insert(gone);
    running.wait_gr_gone("web-r00002").await;
    running.wait_gr_gone("web-r00003").await;
    running.stop().await;
}
