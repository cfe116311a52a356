//! The RGD controller's contract, against the fake API server (no control plane): a valid RGD
//! gets its finalizer, its CRD and `Active` with kro's conditions; an invalid one gets
//! `GraphAccepted=False` naming the problem and no CRD, and never holds up a valid one; a
//! deleted RGD lets go of its finalizer and keeps its CRD (no `--allow-crd-deletion`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use kro_api::condition::types;
use kro_api::metadata::FINALIZER;
use serde_json::{Value, json};

use crate::fake::{FakeApi, FakeKind, shared_for_tests};
use crate::rgd::{self, RgdContext};

const RGD: &str = "kro.run/v1alpha1";

/// The fake API server and a running RGD controller on it.
struct Running {
    fake: FakeApi,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start() -> Self {
        let fake = FakeApi::new(&[
            FakeKind::new("", "v1", "ConfigMap", "configmaps", true),
            FakeKind::new(
                "kro.run",
                "v1alpha1",
                "ResourceGraphDefinition",
                "resourcegraphdefinitions",
                false,
            ),
        ]);
        let shared = shared_for_tests(fake.client());
        let stop = shared.stop.clone();
        let ctx = RgdContext::new(shared);
        let task = tokio::spawn(rgd::run(
            ctx,
            stop.clone(),
            Arc::new(AtomicBool::new(false)),
        ));
        Running { fake, stop, task }
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
