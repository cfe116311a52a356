//! The generated ResourceGraphDefinition CRD on a real apiserver: it becomes Established, accepts
//! kro's RGDs with kro's defaults, and its validation rules reject what kro rejects.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kro_api::ResourceGraphDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};

use crate::support::DEADLINE;

async fn rgd_api() -> anyhow::Result<Api<ResourceGraphDefinition>> {
    let client = kro_e2e::client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = kro_api::crds::resource_graph_definition_crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    // Tests run in parallel and the CRD is cluster-wide: apply is idempotent.
    crds.patch(
        &name,
        &PatchParams::apply("kro-e2e").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    let established = await_condition(crds, &name, conditions::is_crd_established());
    tokio::time::timeout(DEADLINE, established).await??;
    Ok(Api::all(client))
}

fn rgd(name: &str, resources: Value) -> anyhow::Result<ResourceGraphDefinition> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": name},
        "spec": {
            "schema": {"apiVersion": "v1alpha1", "kind": "Thing", "spec": {"name": "string"}},
            "resources": resources,
        }
    }))?)
}

#[tokio::test]
async fn rgd_crd_accepts_a_valid_rgd_with_kro_defaults() -> anyhow::Result<()> {
    let api = rgd_api().await?;
    let name = kro_e2e::unique_name("e2e-valid");
    let created = api
        .create(
            &PostParams::default(),
            &rgd(
                &name,
                json!([{"id": "config", "template": {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "${schema.spec.name}"}}}]),
            )?,
        )
        .await?;
    assert_eq!(
        created.spec.schema.group, "kro.run",
        "group defaults to kro.run"
    );
    assert_eq!(
        created.spec.schema.scope.as_str(),
        "Namespaced",
        "scope defaults to Namespaced"
    );
    api.delete(&name, &Default::default()).await?;
    Ok(())
}

#[tokio::test]
async fn rgd_crd_rejects_template_and_external_ref_together() -> anyhow::Result<()> {
    let api = rgd_api().await?;
    let bad = rgd(
        &kro_e2e::unique_name("e2e-both"),
        json!([{"id": "config",
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
    )?;
    let err = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("must be rejected");
    assert!(
        err.to_string()
            .contains("exactly one of template or externalRef must be provided"),
        "the apiserver should give kro's message, got: {err}"
    );
    Ok(())
}

#[tokio::test]
async fn rgd_crd_keeps_the_kind_immutable() -> anyhow::Result<()> {
    let api = rgd_api().await?;
    let name = kro_e2e::unique_name("e2e-immutable");
    api.create(&PostParams::default(), &rgd(&name, json!([]))?)
        .await?;
    let change = json!({"spec": {"schema": {"kind": "Other"}}});
    let err = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&change))
        .await
        .expect_err("changing the kind must be rejected");
    assert!(err.to_string().contains("kind is immutable"), "got: {err}");
    api.delete(&name, &Default::default()).await?;
    Ok(())
}
