//! The ACK CRDs this crate serves, generated from the Rust types and post-processed to carry
//! ACK's CEL immutability rules and printer columns.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, JSONSchemaProps, ValidationRule,
};
use kro_api::crds::StaticCrd;
use kube::CustomResourceExt;

use crate::rds::db_instance::DBInstance;
use crate::rds::db_subnet_group::DBSubnetGroup;
use crate::s3::bucket::Bucket;

/// The ACK CRDs (Bucket, DBSubnetGroup, DBInstance), with their `crds/` file names.
pub fn static_crds() -> Vec<StaticCrd> {
    let mut bucket = Bucket::crd();
    immutable(&mut bucket, "name", "Value is immutable once set");
    let subnet_group = DBSubnetGroup::crd();
    let mut instance = DBInstance::crd();
    immutable(
        &mut instance,
        "availabilityZone",
        "Value is immutable once set",
    );
    for v in &mut instance.spec.versions {
        v.additional_printer_columns = Some(vec![CustomResourceColumnDefinition {
            name: "STATUS".into(),
            type_: "string".into(),
            json_path: ".status.dbInstanceStatus".into(),
            ..Default::default()
        }]);
    }
    vec![
        StaticCrd::new(bucket),
        StaticCrd::new(subnet_group),
        StaticCrd::new(instance),
    ]
}

fn spec_schema(crd: &mut CustomResourceDefinition) -> impl Iterator<Item = &mut JSONSchemaProps> {
    crd.spec.versions.iter_mut().filter_map(|v| {
        v.schema
            .as_mut()?
            .open_api_v3_schema
            .as_mut()?
            .properties
            .as_mut()?
            .get_mut("spec")
    })
}

fn immutable(crd: &mut CustomResourceDefinition, field: &str, message: &str) {
    for spec in spec_schema(crd) {
        if let Some(prop) = spec.properties.as_mut().and_then(|p| p.get_mut(field)) {
            prop.x_kubernetes_validations = Some(vec![ValidationRule {
                rule: "self == oldSelf".into(),
                message: Some(message.into()),
                ..Default::default()
            }]);
        }
    }
}
