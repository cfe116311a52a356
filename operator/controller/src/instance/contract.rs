//! The instance reconciler's contract, against the fake API server (no control plane): the
//! finalizer and ApplySet metadata before the first child, no write when everything is up to
//! date, prune only after a clean apply, the status a user reads, suspended instances, and
//! deletion that removes the children before the finalizer.

use std::sync::Arc;

use http::Method;
use kro_api::condition::{reasons, types};
use kro_api::metadata::{FINALIZER, annotations, labels};
use kro_graph::{CompileOptions, NoSchemas};
use kube::api::{ApiResource, DynamicObject};
use serde_json::{Value, json};

use super::{KindContext, reconcile};
use crate::fake::{FakeApi, FakeKind, Recorded, shared_with_options};

const INSTANCE_PATH: &str = "/apis/kro.run/v1alpha1/namespaces/team/webs/demo";
const CONFIGMAPS: &str = "/api/v1/namespaces/team/configmaps";

fn kinds() -> [FakeKind; 2] {
    [
        FakeKind::new("", "v1", "ConfigMap", "configmaps", true),
        FakeKind::new("kro.run", "v1alpha1", "Web", "webs", true),
    ]
}

/// A fake API server holding one `Web` instance `team/demo` with `spec`, and the controller
/// of kind `Web` for an RGD with `resources`.
fn setup(resources: Value, spec: Value) -> (FakeApi, Arc<KindContext>) {
    setup_with(resources, spec, crate::Options::for_tests())
}

/// [`setup`], the controller running with `opts`.
fn setup_with(resources: Value, spec: Value, opts: crate::Options) -> (FakeApi, Arc<KindContext>) {
    let schema = json!({"apiVersion": "v1alpha1", "kind": "Web",
        "spec": {"name": "string", "value": "string | default=one",
                 "withB": "boolean | default=false"}});
    let graph = kro_graph::compile(
        &json!({"spec": {"schema": schema, "resources": resources}}),
        &NoSchemas,
        &CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeApi::new(&kinds());
    fake.insert(json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "Web",
        "metadata": {"name": "demo", "namespace": "team", "uid": "u-1"},
        "spec": spec,
    }));
    let ctx = Arc::new(KindContext {
        shared: shared_with_options(fake.client(), opts),
        graph,
        ar: ApiResource {
            group: "kro.run".into(),
            version: "v1alpha1".into(),
            api_version: "kro.run/v1alpha1".into(),
            kind: "Web".into(),
            plural: "webs".into(),
        },
        rgd_name: "web".into(),
        rgd_uid: "rgd-uid".into(),
        written: Default::default(),
        revision: Default::default(),
    });
    (fake, ctx)
}

fn config_map(id: &str, name: &str, data: Value) -> Value {
    json!({"id": id, "template": {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": data}})
}

/// The RGD most tests use: one ConfigMap `<name>-config`, for an instance named `demo`.
fn one_config_map() -> (FakeApi, Arc<KindContext>) {
    setup(
        json!([config_map(
            "config",
            "${schema.spec.name}-config",
            json!({"v": "1"})
        )]),
        json!({"name": "demo"}),
    )
}

/// The instance as the controller's watch would hand it over.
fn instance(fake: &FakeApi) -> Arc<DynamicObject> {
    let stored = fake
        .get("kro.run/v1alpha1", "Web", "team", "demo")
        .expect("the instance is stored");
    Arc::new(serde_json::from_value(stored).expect("a DynamicObject"))
}

fn stored_instance(fake: &FakeApi) -> Value {
    fake.get("kro.run/v1alpha1", "Web", "team", "demo")
        .expect("the instance is stored")
}

fn condition<'a>(instance: &'a Value, type_: &str) -> &'a Value {
    instance["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {instance:#}"))
}

/// Waits (generously: the machine may be loaded) until `done` holds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn writes(fake: &FakeApi) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(Recorded::is_write)
        .collect()
}

fn describe(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn the_finalizer_and_applyset_metadata_are_written_before_the_first_child() {
    let (fake, ctx) = one_config_map();
    reconcile(instance(&fake), ctx).await.expect("reconciled");

    let writes = writes(&fake);
    let parent = writes
        .iter()
        .position(|w| w.path == INSTANCE_PATH && w.method == Method::PATCH)
        .unwrap_or_else(|| panic!("no write of the instance in {:?}", describe(&writes)));
    let child = writes
        .iter()
        .position(|w| w.path.starts_with(CONFIGMAPS))
        .unwrap_or_else(|| panic!("no ConfigMap written in {:?}", describe(&writes)));
    assert!(parent < child, "{:?}", describe(&writes));
    let metadata = &writes[parent].body.as_ref().expect("a body")["metadata"];
    assert_eq!(metadata["finalizers"], json!([FINALIZER]));
    assert!(
        metadata["annotations"][annotations::APPLYSET_CONTAINS_GROUP_KINDS]
            .as_str()
            .is_some_and(|gks| gks.contains("ConfigMap")),
        "{metadata:#}"
    );

    let child = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("the ConfigMap was applied");
    let applyset = stored_instance(&fake)["metadata"]["labels"][labels::APPLYSET_ID].clone();
    assert_eq!(
        child["metadata"]["labels"][labels::APPLYSET_PART_OF],
        applyset
    );
    let stored = stored_instance(&fake);
    assert_eq!(stored["status"]["state"], "ACTIVE", "{stored:#}");
    assert_eq!(condition(&stored, types::READY)["status"], "True");
}

#[tokio::test]
async fn an_up_to_date_instance_is_reconciled_without_a_write() {
    let (fake, ctx) = one_config_map();
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    fake.clear_requests();

    reconcile(instance(&fake), ctx)
        .await
        .expect("reconciled again");
    let writes = writes(&fake);
    assert!(writes.is_empty(), "{:?}", describe(&writes));
}

#[tokio::test]
async fn nothing_is_pruned_until_every_apply_succeeds() {
    let (fake, ctx) = setup(
        json!([
            config_map("a", "${schema.spec.name}-a", json!({"v": "${schema.spec.value}"})),
            {"id": "b", "includeWhen": ["${schema.spec.withB}"],
             "template": {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "${schema.spec.name}-b"}}},
        ]),
        json!({"name": "demo", "withB": true}),
    );
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    assert!(fake.get("v1", "ConfigMap", "team", "demo-b").is_some());

    // b drops out while a's apply is refused: b must stay, and the status says why.
    let mut changed = stored_instance(&fake);
    changed["spec"] = json!({"name": "demo", "withB": false, "value": "two"});
    fake.insert(changed);
    fake.refuse_writes_to("demo-a");
    fake.clear_requests();
    let failed = reconcile(instance(&fake), ctx.clone()).await;
    assert!(failed.is_err(), "a refused apply fails the reconcile");
    let deletes: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::DELETE)
        .collect();
    assert!(deletes.is_empty(), "{:?}", describe(&deletes));
    assert!(fake.get("v1", "ConfigMap", "team", "demo-b").is_some());
    let stored = stored_instance(&fake);
    assert_eq!(stored["status"]["state"], "ERROR");
    let ready = condition(&stored, types::RESOURCES_READY);
    assert_eq!(ready["status"], "False");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("a: applying ConfigMap demo-a")),
        "{ready:#}"
    );

    // Once a applies, b is pruned.
    fake.allow_all_writes();
    reconcile(instance(&fake), ctx).await.expect("reconciled");
    assert!(fake.get("v1", "ConfigMap", "team", "demo-b").is_none());
    assert_eq!(
        fake.get("v1", "ConfigMap", "team", "demo-a").expect("a")["data"]["v"],
        "two"
    );
    assert_eq!(stored_instance(&fake)["status"]["state"], "ACTIVE");
}

#[tokio::test]
async fn a_suspended_instance_only_says_so_in_its_status() {
    let (fake, ctx) = one_config_map();
    let mut suspended = stored_instance(&fake);
    suspended["metadata"]["annotations"] = json!({annotations::RECONCILE: "Suspended"});
    fake.insert(suspended);
    reconcile(instance(&fake), ctx).await.expect("reconciled");

    let writes = writes(&fake);
    assert_eq!(
        describe(&writes),
        [format!("PATCH {INSTANCE_PATH}/status")],
        "only the status is written"
    );
    let stored = stored_instance(&fake);
    let ready = condition(&stored, types::RESOURCES_READY);
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], reasons::RECONCILIATION_SUSPENDED);
    assert!(fake.get("v1", "ConfigMap", "team", "demo-config").is_none());
}

#[tokio::test]
async fn deletion_removes_the_children_before_the_finalizer() {
    let (fake, ctx) = one_config_map();
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let mut deleted = stored_instance(&fake);
    deleted["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
    fake.insert(deleted);

    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("first cleanup pass");
    assert!(fake.get("v1", "ConfigMap", "team", "demo-config").is_none());
    let stored = stored_instance(&fake);
    assert_eq!(stored["metadata"]["finalizers"], json!([FINALIZER]));
    assert_eq!(stored["status"]["state"], "DELETING");
    assert_eq!(
        condition(&stored, types::READY)["reason"],
        reasons::UNDER_DELETION
    );

    // The next pass reads the children from the watch cache: wait until it saw the delete.
    wait_until("the child watch shows the ConfigMap gone", || {
        ctx.shared
            .router
            .cached_child("v1", "ConfigMap", Some("team"), "demo-config")
            .is_some_and(|cached| cached.is_none())
    })
    .await;
    reconcile(instance(&fake), ctx).await.expect("second pass");
    assert!(
        fake.get("kro.run/v1alpha1", "Web", "team", "demo")
            .is_none(),
        "the finalizer is removed once no child is left"
    );
}

/// A ConfigMap `team/demo-config` that kro did not create, with `labels`.
fn existing_config_map(fake: &FakeApi, labels: Value) {
    fake.insert(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "demo-config", "namespace": "team", "uid": "cm-uid", "labels": labels},
        "data": {"v": "theirs"},
    }));
}

fn resources_ready_message(fake: &FakeApi) -> String {
    let stored = stored_instance(fake);
    let ready = condition(&stored, types::RESOURCES_READY);
    assert_eq!(ready["status"], "False", "{stored:#}");
    assert_eq!(ready["reason"], reasons::NOT_READY, "{stored:#}");
    assert_eq!(stored["status"]["state"], "ERROR", "{stored:#}");
    ready["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_object_kro_did_not_create_is_refused_and_left_untouched() {
    let (fake, ctx) = one_config_map();
    existing_config_map(&fake, json!({"app": "theirs"}));
    let failed = reconcile(instance(&fake), ctx).await;
    assert!(failed.is_err(), "a refused child fails the reconcile");

    let cm = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("still there");
    assert_eq!(cm["data"]["v"], "theirs");
    assert_eq!(cm["metadata"]["labels"], json!({"app": "theirs"}));
    let message = resources_ready_message(&fake);
    assert!(
        message.contains(
            "config: resource is not managed by kro: ConfigMap team/demo-config already exists \
             and belongs to no ApplySet"
        ) && message.contains("adoptionPolicy: AdoptOrCreate"),
        "{message}"
    );
}

#[tokio::test]
async fn an_object_of_another_applyset_is_refused_naming_its_owner() {
    let (fake, ctx) = one_config_map();
    existing_config_map(
        &fake,
        json!({labels::APPLYSET_PART_OF: "applyset-other-v1", labels::INSTANCE_ID: "u-2",
               labels::INSTANCE_KIND: "Web", labels::INSTANCE_NAMESPACE: "team",
               labels::INSTANCE_NAME: "other"}),
    );
    let failed = reconcile(instance(&fake), ctx).await;
    assert!(failed.is_err(), "a conflict fails the reconcile");

    let cm = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("still there");
    assert_eq!(cm["data"]["v"], "theirs");
    assert_eq!(cm["metadata"]["labels"][labels::INSTANCE_NAME], "other");
    let message = resources_ready_message(&fake);
    assert!(
        message.contains(
            "config: resource belongs to a different ApplySet: ConfigMap team/demo-config \
             belongs to ApplySet \"applyset-other-v1\" (instance Web team/other), cannot \
             reassign to \"applyset-"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_adopted_object_is_taken_over_then_released_not_deleted() {
    let (fake, ctx) = setup(
        json!([{"id": "config", "adoptionPolicy": "AdoptOrCreate",
                "template": {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "${schema.spec.name}-config"},
                             "data": {"v": "1"}}}]),
        json!({"name": "demo"}),
    );
    existing_config_map(&fake, json!({"app": "theirs"}));
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let cm = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("adopted");
    assert_eq!(cm["data"]["v"], "1", "{cm:#}");
    assert_eq!(cm["metadata"]["annotations"][annotations::ADOPTED], "true");
    assert!(cm["metadata"]["labels"][labels::APPLYSET_PART_OF].is_string());
    assert_eq!(stored_instance(&fake)["status"]["state"], "ACTIVE");

    let mut deleted = stored_instance(&fake);
    deleted["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
    fake.insert(deleted);
    reconcile(instance(&fake), ctx).await.expect("cleanup");
    let cm = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("an adopted object is never deleted");
    assert_eq!(cm["metadata"]["labels"], json!({"app": "theirs"}), "{cm:#}");
    assert_eq!(cm["metadata"]["annotations"][annotations::ADOPTED], "true");
    assert_eq!(cm["data"]["v"], "1");
    // (The fake's watches do not turn an object that leaves their label selector into a
    // delete, as kube-apiserver does; the e2e test follows the instance until it is gone.)
}

#[tokio::test]
async fn an_orphan_resource_leaving_the_graph_is_released_not_pruned() {
    let (fake, ctx) = setup(
        json!([
            config_map("a", "${schema.spec.name}-a", json!({"v": "1"})),
            {"id": "b", "includeWhen": ["${schema.spec.withB}"], "deletionPolicy": "Orphan",
             "template": {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "${schema.spec.name}-b"}}},
        ]),
        json!({"name": "demo", "withB": true}),
    );
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let b = fake.get("v1", "ConfigMap", "team", "demo-b").expect("b");
    assert_eq!(
        b["metadata"]["annotations"][annotations::DELETION_POLICY],
        "Orphan"
    );

    let mut changed = stored_instance(&fake);
    changed["spec"] = json!({"name": "demo", "withB": false});
    fake.insert(changed);
    reconcile(instance(&fake), ctx).await.expect("reconciled");
    let b = fake
        .get("v1", "ConfigMap", "team", "demo-b")
        .expect("an Orphan resource is kept");
    let kept_labels = b["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        kept_labels
            .keys()
            .all(|key| !key.starts_with("kro.run/") && !key.starts_with("applyset.kubernetes.io/")),
        "{b:#}"
    );
    assert_eq!(
        b["metadata"]["annotations"][annotations::DELETION_POLICY],
        "Orphan"
    );
    assert_eq!(stored_instance(&fake)["status"]["state"], "ACTIVE");
}

#[tokio::test]
async fn a_confinement_refusal_keeps_its_reason_beside_other_failures() {
    let away = json!({"id": "away", "template": {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "away", "namespace": "${schema.spec.value}"}, "data": {"v": "1"}}});
    let opts = crate::Options {
        namespace_confinement: crate::options::NamespaceConfinement::Instance,
        ..crate::Options::for_tests()
    };
    let (fake, ctx) = setup_with(
        json!([
            config_map("config", "${schema.spec.name}-config", json!({"v": "1"})),
            away
        ]),
        json!({"name": "demo", "value": "other"}),
        opts,
    );
    existing_config_map(&fake, json!({"app": "theirs"}));
    let failed = reconcile(instance(&fake), ctx).await;
    assert!(failed.is_err(), "a refused child fails the reconcile");

    assert!(fake.get("v1", "ConfigMap", "other", "away").is_none());
    let stored = stored_instance(&fake);
    let ready = condition(&stored, types::RESOURCES_READY);
    assert_eq!(ready["status"], "False", "{stored:#}");
    assert_eq!(ready["reason"], "NamespaceConfinement", "{stored:#}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("refused by --namespace-confinement=instance")
            && message.contains("ConfigMap other/away")
            && message.contains("resource is not managed by kro"),
        "both failures are named, the refusal first: {message}"
    );
}

#[tokio::test]
async fn a_failing_instance_is_dropped_from_the_queue_after_max_retries() {
    use kube::runtime::controller::Action;
    use std::time::Duration;
    let opts = crate::Options {
        dynamic_controller_default_queue_max_retries: 2,
        ..crate::Options::for_tests()
    };
    let (fake, ctx) = setup_with(
        json!([config_map(
            "config",
            "${schema.spec.name}-config",
            json!({"v": "1"})
        )]),
        json!({"name": "demo"}),
        opts,
    );
    let obj = instance(&fake);
    let err = crate::Error::Panic("boom".into());
    let retry = |millis| Action::requeue(Duration::from_millis(millis));
    let fail = || super::error_policy(obj.clone(), &err, ctx.clone());
    // Retried twice with kro's backoff, then dropped until the instance or a child changes...
    assert_eq!(fail(), retry(200));
    assert_eq!(fail(), retry(400));
    assert_eq!(fail(), Action::await_change());
    // ...and counted afresh from then on.
    assert_eq!(fail(), retry(200));
}

#[tokio::test]
async fn retries_over_every_instance_wait_for_the_retry_bucket() {
    use std::time::Duration;
    let opts = crate::Options {
        dynamic_controller_rate_limiter_rate_limit: 1,
        dynamic_controller_rate_limiter_burst_limit: 1,
        ..crate::Options::for_tests()
    };
    let (fake, ctx) = setup_with(
        json!([config_map(
            "config",
            "${schema.spec.name}-config",
            json!({"v": "1"})
        )]),
        json!({"name": "demo"}),
        opts,
    );
    let err = crate::Error::Panic("boom".into());
    // A retry takes the bucket's one token: the next retry of any instance waits about a
    // second for its own.
    let first = super::error_policy(instance(&fake), &err, ctx.clone());
    assert_eq!(
        first,
        kube::runtime::controller::Action::requeue(Duration::from_millis(200))
    );
    let next = ctx.shared.retry_bucket.reserve();
    assert!(next > Duration::from_millis(500), "{next:?}");
}

/// Three ConfigMaps: `a` and `c` independent, `b` reading `a`; all three use
/// `schema.spec.value`, so a change of it updates all three in one plan.
fn a_b_c(apply_concurrency: usize) -> (FakeApi, Arc<KindContext>) {
    let opts = crate::Options {
        apply_concurrency,
        ..crate::Options::for_tests()
    };
    setup_with(
        json!([
            config_map(
                "a",
                "${schema.spec.name}-a",
                json!({"v": "${schema.spec.value}"})
            ),
            config_map(
                "b",
                "${schema.spec.name}-b",
                json!({"v": "${schema.spec.value}", "from": "${a.metadata.name}"})
            ),
            config_map(
                "c",
                "${schema.spec.name}-c",
                json!({"v": "${schema.spec.value}"})
            ),
        ]),
        json!({"name": "demo"}),
        opts,
    )
}

#[tokio::test]
async fn independent_children_are_applied_together_and_a_dependent_after_its_dependency() {
    let (fake, ctx) = a_b_c(3);
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let mut changed = stored_instance(&fake);
    changed["spec"]["value"] = json!("two");
    fake.insert(changed);
    fake.hold_patches("configmaps");
    let run = tokio::spawn(reconcile(instance(&fake), ctx));

    // a and c are in flight together; b, which reads a, has not been sent.
    wait_until("a and c in flight", || fake.held().0 == 2).await;
    let (_, _, mut arrived) = fake.held();
    arrived.sort();
    assert_eq!(arrived, ["demo-a", "demo-c"], "b is not among them");
    fake.release(2);
    // b goes only once a (and its whole wave) has been answered.
    wait_until("b in flight", || fake.held().2.len() == 3).await;
    assert_eq!(fake.held().2[2], "demo-b");
    fake.release(10);
    run.await.expect("no panic").expect("reconciled");
    assert_eq!(fake.held().1, 2, "never more in flight than the first wave");
    for name in ["demo-a", "demo-b", "demo-c"] {
        let child = fake.get("v1", "ConfigMap", "team", name).expect("applied");
        assert_eq!(child["data"]["v"], "two", "{name}");
    }
}

#[tokio::test]
async fn no_more_applies_are_in_flight_than_apply_concurrency() {
    let opts = crate::Options {
        apply_concurrency: 2,
        ..crate::Options::for_tests()
    };
    let (fake, ctx) = setup_with(
        json!(
            (1..=5)
                .map(|i| config_map(
                    &format!("c{i}"),
                    &format!("${{schema.spec.name}}-{i}"),
                    json!({"v": "1"})
                ))
                .collect::<Vec<_>>()
        ),
        json!({"name": "demo"}),
        opts,
    );
    fake.hold_patches("configmaps");
    let run = tokio::spawn(reconcile(instance(&fake), ctx));
    // Nothing is let through until two are in flight: the five are applied in parallel...
    wait_until("two applies in flight", || fake.held().0 == 2).await;
    // ...and, let through one at a time, never more than two at once.
    for _ in 0..5 {
        wait_until("an apply in flight", || fake.held().0 >= 1).await;
        fake.release(1);
    }
    run.await.expect("no panic").expect("reconciled");
    let (in_flight, max_in_flight, arrived) = fake.held();
    assert_eq!((in_flight, max_in_flight), (0, 2));
    assert_eq!(arrived.len(), 5, "{arrived:?}");
    for i in 1..=5 {
        assert!(
            fake.get("v1", "ConfigMap", "team", &format!("demo-{i}"))
                .is_some()
        );
    }
}

#[tokio::test]
async fn external_fields_are_set_on_create_and_then_left_to_their_manager() {
    let (fake, ctx) = setup(
        json!([{"id": "config", "externalFields": ["data.owned"],
            "template": {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}-config"},
                "data": {"owned": "${schema.spec.value}", "mine": "${schema.spec.value}"}}}]),
        // The fake API server does not default: the instance spells `value` out.
        json!({"name": "demo", "value": "one"}),
    );
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let created = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .unwrap_or_else(|| panic!("not created: {:?}", describe(&writes(&fake))));
    assert_eq!(created["data"], json!({"owned": "one", "mine": "one"}));

    // Another manager takes the field over; a resync writes nothing.
    let mut theirs = created;
    theirs["data"]["owned"] = json!("theirs");
    fake.insert(theirs);
    fake.clear_requests();
    reconcile(instance(&fake), ctx.clone())
        .await
        .expect("reconciled");
    let child_writes: Vec<Recorded> = writes(&fake)
        .into_iter()
        .filter(|w| w.path.starts_with(CONFIGMAPS))
        .collect();
    assert!(child_writes.is_empty(), "{:?}", describe(&child_writes));

    // The instance changes: kro's own field follows, the handed-over one stays theirs.
    let mut changed = stored_instance(&fake);
    changed["spec"]["value"] = json!("two");
    fake.insert(changed);
    reconcile(instance(&fake), ctx).await.expect("reconciled");
    let child = fake
        .get("v1", "ConfigMap", "team", "demo-config")
        .expect("kept");
    assert_eq!(child["data"], json!({"owned": "theirs", "mine": "two"}));
}
