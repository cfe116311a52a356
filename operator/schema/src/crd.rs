//! The generated instance CRD of an RGD: names (kro's pluralization), group, version, scope,
//! status subresource, printer columns, schema, and the labels kro puts on it.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresourceStatus,
    CustomResourceSubresources, CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kro_api::metadata::{labels, version_label_value};

use crate::error::{ErrorKind, SchemaError, SchemaErrors};
use crate::pluralize::pluralize;

/// The RGD a generated CRD belongs to, and the kro version writing it (for kro's labels).
#[derive(Debug, Clone, Copy)]
pub struct CrdOwner<'a> {
    /// `metadata.name` of the RGD.
    pub rgd_name: &'a str,
    /// `metadata.uid` of the RGD (may be empty offline).
    pub rgd_uid: &'a str,
    /// The kro(-rs) version; `+` is replaced by `-` in the label value.
    pub kro_version: &'a str,
}

/// The names of a generated CRD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdNames {
    /// `<plural>.<group>`.
    pub crd_name: String,
    /// kro's plural: flect's plural of the lower-cased kind.
    pub plural: String,
    /// The lower-cased kind.
    pub singular: String,
    /// `<Kind>List`.
    pub list_kind: String,
}

/// Names of the CRD generated for `kind` in `group` (empty group means `kro.run`).
pub fn crd_names(group: &str, kind: &str) -> CrdNames {
    let group = if group.is_empty() {
        kro_api::GROUP
    } else {
        group
    };
    let singular = kind.to_lowercase();
    let plural = pluralize(&singular);
    CrdNames {
        crd_name: format!("{plural}.{group}"),
        plural,
        singular,
        list_kind: format!("{kind}List"),
    }
}

/// kro's default printer columns of a generated CRD: State, Ready, Age.
pub fn default_printer_columns() -> Vec<CustomResourceColumnDefinition> {
    vec![
        CustomResourceColumnDefinition {
            name: "State".into(),
            description: Some("The state of a ResourceGraphDefinition instance".into()),
            priority: Some(0),
            type_: "string".into(),
            json_path: ".status.state".into(),
            format: None,
        },
        CustomResourceColumnDefinition {
            name: "Ready".into(),
            description: Some("Whether a ResourceGraphDefinition instance is ready".into()),
            priority: Some(0),
            type_: "string".into(),
            json_path: ".status.conditions[?(@.type==\"Ready\")].status".into(),
            format: None,
        },
        CustomResourceColumnDefinition {
            name: "Age".into(),
            description: Some("Age of the resource".into()),
            priority: Some(0),
            type_: "date".into(),
            json_path: ".metadata.creationTimestamp".into(),
            format: None,
        },
    ]
}

/// The category every generated CRD is in, so `kubectl get kro` lists every instance (and
/// the ResourceGraphDefinitions, which are in it too). kro itself adds none.
pub const KRO_CATEGORY: &str = "kro";

/// `names.categories` of a generated CRD: the RGD's categories, then [`KRO_CATEGORY`] unless
/// the RGD already lists it.
pub fn categories(from_rgd: &[String]) -> Vec<String> {
    let mut out = from_rgd.to_vec();
    if !out.iter().any(|c| c == KRO_CATEGORY) {
        out.push(KRO_CATEGORY.to_owned());
    }
    out
}

/// The root OpenAPI schema of an instance: `apiVersion`, `kind`, `metadata`, and the given
/// `spec` and `status` schemas.
pub fn instance_schema(spec: JSONSchemaProps, status: JSONSchemaProps) -> JSONSchemaProps {
    let string = JSONSchemaProps {
        type_: Some("string".into()),
        ..Default::default()
    };
    let mut props = BTreeMap::new();
    props.insert("apiVersion".to_string(), string.clone());
    props.insert("kind".to_string(), string);
    props.insert(
        "metadata".to_string(),
        JSONSchemaProps {
            type_: Some("object".into()),
            ..Default::default()
        },
    );
    props.insert("spec".to_string(), spec);
    props.insert("status".to_string(), status);
    JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some(props),
        ..Default::default()
    }
}

fn check_identity(schema: &kro_api::Schema) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    let kind = &schema.kind;
    let mut chars = kind.chars();
    let kind_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
        && kind.len() <= 63;
    if !kind_ok {
        errors.push(SchemaError::new(
            "spec.schema.kind",
            ErrorKind::InvalidCrdField(format!(
                "kind {kind:?} is not valid: write an UpperCamelCase name of letters and digits, at most 63 characters, e.g. WebApplication"
            )),
        ));
    }
    if !is_api_version(&schema.api_version) {
        errors.push(SchemaError::new(
            "spec.schema.apiVersion",
            ErrorKind::InvalidCrdField(format!(
                "apiVersion {:?} is not valid: write a version such as v1, v1alpha1 or v2beta3 (without the group)",
                schema.api_version
            )),
        ));
    }
    errors
}

/// `^v[0-9]+(alpha[0-9]+|beta[0-9]+)?$`: a Kubernetes API version name (`v1`, `v2beta3`).
pub fn is_api_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let tail = rest
        .strip_prefix("alpha")
        .or_else(|| rest.strip_prefix("beta"));
    tail.is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
}

/// Builds the instance CRD of an RGD from its `spec.schema` and the already built `spec` and
/// `status` schemas (see [`crate::spec_schema`] and [`crate::status_schema`]).
///
/// The CRD is named `<plural>.<group>`, has one served and stored version with the status
/// subresource, kro's default printer columns unless `additionalPrinterColumns` replaces them,
/// the RGD's short names, the RGD's categories plus `kro`, the RGD's `metadata.labels/annotations`, and kro's
/// ownership labels on top.
pub fn instance_crd(
    schema: &kro_api::Schema,
    spec: JSONSchemaProps,
    status: JSONSchemaProps,
    owner: &CrdOwner<'_>,
) -> Result<CustomResourceDefinition, SchemaErrors> {
    let errors = check_identity(schema);
    if !errors.is_empty() {
        return Err(SchemaErrors(errors));
    }
    let group = if schema.group.is_empty() {
        kro_api::GROUP
    } else {
        schema.group.as_str()
    };
    let names = crd_names(group, &schema.kind);

    let mut crd_labels = BTreeMap::new();
    let mut crd_annotations = BTreeMap::new();
    if let Some(md) = &schema.metadata {
        crd_labels.extend(md.labels.clone());
        crd_annotations.extend(md.annotations.clone());
    }
    crd_labels.insert(labels::OWNED.to_string(), labels::OWNED_VALUE.to_string());
    crd_labels.insert(
        labels::KRO_VERSION.to_string(),
        version_label_value(owner.kro_version),
    );
    crd_labels.insert(
        labels::RESOURCE_GRAPH_DEFINITION_ID.to_string(),
        owner.rgd_uid.to_string(),
    );
    crd_labels.insert(
        labels::RESOURCE_GRAPH_DEFINITION_NAME.to_string(),
        owner.rgd_name.to_string(),
    );

    let printer_columns = if schema.additional_printer_columns.is_empty() {
        default_printer_columns()
    } else {
        schema.additional_printer_columns.clone()
    };

    Ok(CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(names.crd_name.clone()),
            labels: Some(crd_labels),
            annotations: (!crd_annotations.is_empty()).then_some(crd_annotations),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: group.to_string(),
            names: CustomResourceDefinitionNames {
                kind: schema.kind.clone(),
                list_kind: Some(names.list_kind),
                plural: names.plural,
                singular: Some(names.singular),
                short_names: (!schema.short_names.is_empty()).then(|| schema.short_names.clone()),
                categories: Some(categories(&schema.categories)),
            },
            scope: schema.scope.as_str().to_string(),
            versions: vec![CustomResourceDefinitionVersion {
                name: schema.api_version.clone(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(instance_schema(spec, status)),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
                    scale: None,
                }),
                additional_printer_columns: Some(printer_columns),
                ..Default::default()
            }],
            conversion: None,
            preserve_unknown_fields: None,
        },
        status: None,
    })
}

/// Builds the whole instance CRD of an RGD: the spec schema from SimpleSchema, the status
/// schema from the inferred status field schemas, and the CRD around them. Reports every
/// problem of the spec, the types, the status fields and the identity at once.
pub fn build_instance_crd<I>(
    schema: &kro_api::Schema,
    status_fields: I,
    owner: &CrdOwner<'_>,
) -> Result<CustomResourceDefinition, SchemaErrors>
where
    I: IntoIterator<Item = (Vec<String>, JSONSchemaProps)>,
{
    let mut errors = check_identity(schema);
    let spec = crate::transform::spec_schema(schema).map_err(|e| errors.extend(e.0));
    let status = crate::status::status_schema(status_fields).map_err(|e| errors.extend(e.0));
    match (spec, status) {
        (Ok(spec), Ok(status)) if errors.is_empty() => instance_crd(schema, spec, status, owner),
        _ => Err(SchemaErrors(errors)),
    }
}
