//! e2e: the ACK-compatible DBParameterGroup and DBClusterParameterGroup controllers against
//! the real apiserver and moto (with `e2e/moto/rds_parameters.py`, which adds RDS's engine
//! defaults and ResetDB(Cluster)ParameterGroup): overrides applied with the apply method their
//! type calls for, changed, reset when removed, a parameter set behind the controller's back
//! reset, an unknown or unmodifiable one terminal, a DBInstance's `dbParameterGroupRef`,
//! adoption, and deletion.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::core::v1::Secret;
use kro_aws::rds::db_cluster_parameter_group::DBClusterParameterGroup;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::rds::db_parameter_group::DBParameterGroup;
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::aws::*;
use crate::support::events::wait_event;
use crate::support::{
    condition_is, condition_message, delete_and_wait, wait_condition, wait_for, wait_json,
};

/// A group's parameters in moto: name → (value, apply method).
async fn parameters_in_aws(
    rds: &aws_sdk_rds::Client,
    cluster: bool,
    name: &str,
) -> Option<BTreeMap<String, (String, String)>> {
    let params = if cluster {
        rds.describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
            .ok()?
            .parameters
    } else {
        rds.describe_db_parameters()
            .db_parameter_group_name(name)
            .send()
            .await
            .ok()?
            .parameters
    };
    Some(
        params
            .unwrap_or_default()
            .iter()
            .map(|p| {
                (
                    p.parameter_name().unwrap_or_default().to_owned(),
                    (
                        p.parameter_value().unwrap_or_default().to_owned(),
                        p.apply_method()
                            .map(|m| m.as_str().to_owned())
                            .unwrap_or_default(),
                    ),
                )
            })
            .collect(),
    )
}

fn expect(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
    pairs
        .iter()
        .map(|(n, v, m)| ((*n).to_owned(), ((*v).to_owned(), (*m).to_owned())))
        .collect()
}

/// Waits until moto holds exactly `want` for the group.
async fn wait_parameters(
    rds: &aws_sdk_rds::Client,
    cluster: bool,
    name: &str,
    want: &BTreeMap<String, (String, String)>,
) -> Result<()> {
    wait_for(
        &format!("the parameters of {name} to be {want:?}"),
        || async {
            Ok((parameters_in_aws(rds, cluster, name).await.as_ref() == Some(want)).then_some(()))
        },
    )
    .await
}

/// `status.parameterOverrideStatuses` as (name, value, apply method, apply type).
fn statuses(obj: &Value) -> Vec<(String, String, String, String)> {
    obj["status"]["parameterOverrideStatuses"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| {
                    let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                    (
                        field("parameterName"),
                        field("parameterValue"),
                        field("applyMethod"),
                        field("applyType"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn status(name: &str, value: &str, method: &str, type_: &str) -> (String, String, String, String) {
    (name.into(), value.into(), method.into(), type_.into())
}

#[tokio::test]
async fn parameter_group_overrides_apply_reset_drift_ref_and_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbpg").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBParameterGroup> = Api::namespaced(client.clone(), &ns);
    let name = kro_e2e::unique_name("kro-pg").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBParameterGroup",
            "metadata": {"name": "app-params"},
            "spec": {
                "name": name, "family": "postgres16", "description": "app settings",
                "parameterOverrides": {"work_mem": "8192", "max_connections": "200"},
                "tags": [{"key": "team", "value": "a"}]
            }
        }),
    )
    .await?;
    // Each override went with the apply method its type calls for.
    wait_parameters(
        &rds,
        false,
        &name,
        &expect(&[
            ("max_connections", "200", "pending-reboot"),
            ("work_mem", "8192", "immediate"),
        ]),
    )
    .await?;
    let obj = wait_json(&api, "app-params", "synced with its statuses", |g| {
        synced(g) && statuses(g).len() == 2
    })
    .await?;
    assert_eq!(
        statuses(&obj),
        vec![
            status("max_connections", "200", "pending-reboot", "static"),
            status("work_mem", "8192", "immediate", "dynamic"),
        ]
    );
    let arn = obj["status"]["ackResourceMetadata"]["arn"]
        .as_str()
        .unwrap();
    assert!(
        arn.starts_with("arn:aws:rds:us-west-2:123456789012:pg:"),
        "{arn}"
    );
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.rds.services.k8s.aws/DBParameterGroup"])
    );

    // Changed, removed (reset to its default) and added, in one update.
    patch(
        &api,
        "app-params",
        json!({"spec": {"parameterOverrides": {"work_mem": "16384", "max_connections": null, "log_min_duration_statement": "500"}}}),
    )
    .await?;
    wait_parameters(
        &rds,
        false,
        &name,
        &expect(&[
            ("log_min_duration_statement", "500", "immediate"),
            ("work_mem", "16384", "immediate"),
        ]),
    )
    .await?;
    wait_event(
        &client,
        &ns,
        "DBParameterGroup",
        "app-params",
        "Updated",
        "ResetDBParameterGroup",
    )
    .await?;
    wait_json(&api, "app-params", "the status follows", |g| {
        statuses(g).iter().map(|s| s.0.as_str()).collect::<Vec<_>>()
            == ["log_min_duration_statement", "work_mem"]
    })
    .await?;

    // Set behind the controller's back: reset at the next resync.
    rds.modify_db_parameter_group()
        .db_parameter_group_name(&name)
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("log_connections")
                .parameter_value("1")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await?;
    wait_parameters(
        &rds,
        false,
        &name,
        &expect(&[
            ("log_min_duration_statement", "500", "immediate"),
            ("work_mem", "16384", "immediate"),
        ]),
    )
    .await?;

    unknown_and_unmodifiable_are_terminal(&api).await?;
    an_instance_names_the_group_by_ref(&client, &ns, &rds, &name).await?;

    delete_and_wait(&api, "app-params").await?;
    assert!(
        parameters_in_aws(&rds, false, &name).await.is_none(),
        "group {name} still exists"
    );
    controllers.stop().await;
    Ok(())
}

/// A parameter the family does not have, then one it does not let be modified: terminal,
/// naming it; taking it out again syncs.
async fn unknown_and_unmodifiable_are_terminal(api: &Api<DBParameterGroup>) -> Result<()> {
    for (bad, says) in [
        (
            "no_such_parameter",
            "has no parameter \"no_such_parameter\"",
        ),
        (
            "data_directory",
            "\"data_directory\" of family postgres16 is not modifiable",
        ),
    ] {
        patch(
            api,
            "app-params",
            json!({"spec": {"parameterOverrides": {bad: "1"}}}),
        )
        .await?;
        let obj = wait_condition(api, "app-params", "ACK.Terminal", "True").await?;
        let msg = condition_message(&obj, "ACK.Terminal");
        assert!(msg.contains(says), "{msg}");
        assert!(msg.contains("spec.parameterOverrides"), "{msg}");
        patch(
            api,
            "app-params",
            json!({"spec": {"parameterOverrides": {bad: null}}}),
        )
        .await?;
        wait_json(api, "app-params", "synced again", |g| {
            synced(g) && !condition_is(g, "ACK.Terminal", "True")
        })
        .await?;
    }
    Ok(())
}

/// A DBInstance whose `dbParameterGroupRef` names the group is created with it.
async fn an_instance_names_the_group_by_ref(
    client: &Client,
    ns: &str,
    rds: &aws_sdk_rds::Client,
    group: &str,
) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg-db-password"}, "type": "Opaque", "stringData": {"password": "a-long-password"}}),
    )
    .await?;
    let instances: Api<DBInstance> = Api::namespaced(client.clone(), ns);
    let id = kro_e2e::unique_name("kro-pg-db").to_ascii_lowercase();
    create(
        &instances,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "pg-db"},
            "spec": {
                "dbInstanceIdentifier": id, "dbInstanceClass": "db.t3.micro",
                "engine": "postgres", "engineVersion": "16", "allocatedStorage": 20,
                "masterUsername": "app",
                "masterUserPassword": {"name": "pg-db-password", "key": "password"},
                "dbParameterGroupRef": {"from": {"name": "app-params"}}
            }
        }),
    )
    .await?;
    let obj = wait_condition(&instances, "pg-db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(
        obj["spec"]["dbParameterGroupName"],
        json!(null),
        "refs resolve in memory"
    );
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await?;
    let groups: Vec<&str> = out.db_instances()[0]
        .db_parameter_groups()
        .iter()
        .filter_map(|g| g.db_parameter_group_name())
        .collect();
    assert_eq!(groups, vec![group]);
    delete_and_wait(&instances, "pg-db").await?;
    Ok(())
}

#[tokio::test]
async fn cluster_parameter_group_overrides_fallback_adoption_and_retain() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbcpg").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBClusterParameterGroup> = Api::namespaced(client, &ns);
    let name = kro_e2e::unique_name("kro-cpg").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBClusterParameterGroup",
            "metadata": {"name": "aurora-params"},
            "spec": {
                "name": name, "family": "aurora-postgresql16", "description": "aurora settings",
                // timezone is a cluster parameter; work_mem RDS lists only among the family's
                // instance defaults, where it is looked up, as ACK does.
                "parameterOverrides": {"timezone": "UTC", "rds.logical_replication": "1", "work_mem": "4096"}
            }
        }),
    )
    .await?;
    wait_parameters(
        &rds,
        true,
        &name,
        &expect(&[
            ("rds.logical_replication", "1", "pending-reboot"),
            ("timezone", "UTC", "immediate"),
            ("work_mem", "4096", "immediate"),
        ]),
    )
    .await?;
    let obj = wait_json(&api, "aurora-params", "synced", |g| {
        synced(g) && statuses(g).len() == 3
    })
    .await?;
    let arn = obj["status"]["ackResourceMetadata"]["arn"]
        .as_str()
        .unwrap();
    assert!(arn.contains(":cluster-pg:"), "{arn}");
    patch(
        &api,
        "aurora-params",
        json!({"spec": {"parameterOverrides": {"rds.logical_replication": null}}}),
    )
    .await?;
    wait_parameters(
        &rds,
        true,
        &name,
        &expect(&[
            ("timezone", "UTC", "immediate"),
            ("work_mem", "4096", "immediate"),
        ]),
    )
    .await?;
    delete_and_wait(&api, "aurora-params").await?;
    assert!(parameters_in_aws(&rds, true, &name).await.is_none());

    // Adoption of a group made by hand fills the spec in from RDS; retained on delete.
    let existing = kro_e2e::unique_name("kro-legacy-cpg").to_ascii_lowercase();
    rds.create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&existing)
        .db_parameter_group_family("aurora-mysql8.0")
        .description("made by hand")
        .send()
        .await?;
    rds.modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&existing)
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("time_zone")
                .parameter_value("Europe/Paris")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBClusterParameterGroup",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            // name, family and description are immutable: an adoption manifest says them as
            // they are in RDS; the overrides are filled in.
            "spec": {"name": existing, "family": "aurora-mysql8.0", "description": "made by hand"}
        }),
    )
    .await?;
    let obj = wait_json(&api, "legacy", "adopted", |g| {
        synced(g) && g["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
    })
    .await?;
    assert_eq!(
        obj["spec"]["parameterOverrides"],
        json!({"time_zone": "Europe/Paris"})
    );
    delete_and_wait(&api, "legacy").await?;
    assert!(
        parameters_in_aws(&rds, true, &existing).await.is_some(),
        "a retained group survives"
    );
    controllers.stop().await;
    Ok(())
}
