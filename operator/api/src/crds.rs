//! The static CRDs kro-rs installs (ResourceGraphDefinition and GraphRevision), built in Rust so
//! the YAML in `crds/` is generated, never hand-edited.
//!
//! Regenerate `crds/` after changing a CRD with `UPDATE_CRDS=1 cargo test -p kro-api --test crds`
//! (the same test fails when the files are out of date).

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresourceStatus,
    CustomResourceSubresources, CustomResourceValidation, JSON, JSONSchemaProps,
    JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, SelectableField, ValidationRule,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::metadata::INTERNAL_GROUP;
use crate::{GROUP, VERSION};

/// A CRD kro-rs ships, with the file name it has under `crds/`.
#[derive(Clone, Debug)]
pub struct StaticCrd {
    /// File name under `crds/`, `<group>_<plural>.yaml` like controller-gen writes.
    pub file_name: String,
    /// The CRD object.
    pub crd: CustomResourceDefinition,
}

/// Error turning a CRD into YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialize CRD {name} to YAML: {source}")]
pub struct CrdYamlError {
    /// `metadata.name` of the CRD.
    pub name: String,
    /// The serializer's error.
    #[source]
    pub source: serde_saphyr::SerializeError,
}

/// Every static CRD kro-rs installs, in install order. Add new static CRDs (e.g. ACK kinds)
/// here; the `crds/` check test and `kro crds` pick them up.
pub fn static_crds() -> Vec<StaticCrd> {
    vec![
        StaticCrd::new(resource_graph_definition_crd()),
        StaticCrd::new(graph_revision_crd()),
    ]
}

impl StaticCrd {
    /// Wraps a CRD, naming its file `<group>_<plural>.yaml`.
    pub fn new(crd: CustomResourceDefinition) -> Self {
        let file_name = format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural);
        StaticCrd { file_name, crd }
    }

    /// The CRD as one YAML document, as written to `crds/<file_name>`.
    pub fn to_yaml(&self) -> Result<String, CrdYamlError> {
        crd_to_yaml(&self.crd)
    }
}

/// One CRD as a YAML document (no leading `---`).
pub fn crd_to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdYamlError> {
    serde_saphyr::to_string(crd).map_err(|source| CrdYamlError {
        name: crd.metadata.name.clone().unwrap_or_default(),
        source,
    })
}

/// All static CRDs as one multi-document YAML stream (what `kro crds` prints).
pub fn static_crds_yaml() -> Result<String, CrdYamlError> {
    let mut out = String::new();
    for (i, c) in static_crds().iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&c.to_yaml()?);
    }
    Ok(out)
}

/// The `resourcegraphdefinitions.kro.run` CRD: cluster-scoped, short name `rgd`, status
/// subresource, kro's printer columns and its CEL validation rules.
pub fn resource_graph_definition_crd() -> CustomResourceDefinition {
    let printer_columns = vec![
        column("APIVERSION", "string", ".spec.schema.apiVersion", None),
        column("KIND", "string", ".spec.schema.kind", None),
        column("STATE", "string", ".status.state", None),
        column(
            "READY",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].status",
            None,
        ),
        column(
            "TOPOLOGICALORDER",
            "string",
            ".status.topologicalOrder",
            Some(1),
        ),
        column("AGE", "date", ".metadata.creationTimestamp", None),
    ];
    let root = object(
        "A ResourceGraphDefinition defines a new API kind (its schema in SimpleSchema) and the \
         resources every instance of that kind is made of, wired together with CEL expressions.",
        [
            (
                "apiVersion",
                string("Versioned schema of this representation of an object."),
            ),
            ("kind", string("REST resource this object represents.")),
            (
                "metadata",
                JSONSchemaProps {
                    type_: Some("object".into()),
                    ..Default::default()
                },
            ),
            ("spec", rgd_spec_schema()),
            ("status", rgd_status_schema()),
        ],
        &[],
    );
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("resourcegraphdefinitions.{GROUP}")),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: GROUP.into(),
            names: CustomResourceDefinitionNames {
                kind: "ResourceGraphDefinition".into(),
                list_kind: Some("ResourceGraphDefinitionList".into()),
                plural: "resourcegraphdefinitions".into(),
                singular: Some("resourcegraphdefinition".into()),
                short_names: Some(vec!["rgd".into()]),
                categories: Some(vec!["kro".into()]),
            },
            scope: "Cluster".into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: VERSION.into(),
                served: true,
                storage: true,
                additional_printer_columns: Some(printer_columns),
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(root),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
                    scale: None,
                }),
                ..Default::default()
            }],
            conversion: None,
            preserve_unknown_fields: None,
        },
        status: None,
    }
}

/// The `graphrevisions.internal.kro.run` CRD, as kro's: cluster-scoped, short name `gr`, status
/// subresource, an immutable spec (`spec is immutable`), `spec.snapshot.name` selectable, and
/// the printer columns RGD, REVISION, HASH, READY, AGE.
pub fn graph_revision_crd() -> CustomResourceDefinition {
    let printer_columns = vec![
        column("RGD", "string", ".spec.snapshot.name", Some(1)),
        column("REVISION", "integer", ".spec.revision", None),
        column(
            "HASH",
            "string",
            ".metadata.labels.kro\\.run/graph-revision-hash",
            Some(1),
        ),
        column(
            "READY",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].status",
            None,
        ),
        column("AGE", "date", ".metadata.creationTimestamp", None),
    ];
    let (spec, status) = (graph_revision_spec_schema(), graph_revision_status_schema());
    let root = object(
        "GraphRevision is an immutable snapshot of a ResourceGraphDefinition revision.",
        [
            (
                "apiVersion",
                string("Versioned schema of this representation of an object."),
            ),
            ("kind", string("REST resource this object represents.")),
            (
                "metadata",
                JSONSchemaProps {
                    type_: Some("object".into()),
                    ..Default::default()
                },
            ),
            ("spec", spec),
            ("status", status),
        ],
        &[],
    );
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("graphrevisions.{INTERNAL_GROUP}")),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: INTERNAL_GROUP.into(),
            names: CustomResourceDefinitionNames {
                kind: "GraphRevision".into(),
                list_kind: Some("GraphRevisionList".into()),
                plural: "graphrevisions".into(),
                singular: Some("graphrevision".into()),
                short_names: Some(vec!["gr".into()]),
                categories: None,
            },
            scope: "Cluster".into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: VERSION.into(),
                served: true,
                storage: true,
                additional_printer_columns: Some(printer_columns),
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(root),
                }),
                selectable_fields: Some(vec![SelectableField {
                    json_path: ".spec.snapshot.name".into(),
                }]),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
                    scale: None,
                }),
                ..Default::default()
            }],
            conversion: None,
            preserve_unknown_fields: None,
        },
        status: None,
    }
}

/// `spec` of a GraphRevision: the revision number and the RGD snapshot, immutable.
fn graph_revision_spec_schema() -> JSONSchemaProps {
    let snapshot = object(
        "The ResourceGraphDefinition this revision was issued from, and its spec then.",
        [
            (
                "name",
                string("Name of the ResourceGraphDefinition (the lineage key)."),
            ),
            (
                "generation",
                JSONSchemaProps {
                    format: Some("int64".into()),
                    ..described(
                        "integer",
                        "metadata.generation of the ResourceGraphDefinition when the revision was issued.",
                    )
                },
            ),
            ("spec", rgd_spec_schema()),
        ],
        &["generation", "name", "spec"],
    );
    JSONSchemaProps {
        x_kubernetes_validations: Some(vec![immutable("spec is immutable")]),
        ..object(
            "The revision number and the snapshot. Immutable.",
            [
                (
                    "revision",
                    JSONSchemaProps {
                        format: Some("int64".into()),
                        minimum: Some(1.0),
                        ..described(
                            "integer",
                            "Revision number, monotonic per ResourceGraphDefinition name.",
                        )
                    },
                ),
                ("snapshot", snapshot),
            ],
            &["revision", "snapshot"],
        )
    }
}

/// `status` of a GraphRevision.
fn graph_revision_status_schema() -> JSONSchemaProps {
    object(
        "Whether the snapshot compiled (GraphVerified, Ready), and its graph.",
        [
            (
                "topologicalOrder",
                array(
                    "Resource ids in the order they are created.",
                    plain("string"),
                ),
            ),
            (
                "conditions",
                array("GraphVerified and the root Ready.", condition_schema()),
            ),
            ("resources", resource_information_schema()),
        ],
        &[],
    )
}

fn rgd_spec_schema() -> JSONSchemaProps {
    object(
        "The schema of the generated kind and the resources of the graph.",
        [
            ("schema", schema_schema()),
            (
                "resources",
                array(
                    "The resources created (template) or read (externalRef) for every instance. \
                     Expressions referring to another resource make it a dependency.",
                    resource_schema(),
                ),
            ),
        ],
        &["schema"],
    )
}

fn schema_schema() -> JSONSchemaProps {
    let name_list = |desc: &str| JSONSchemaProps {
        max_items: Some(32),
        x_kubernetes_list_type: Some("set".into()),
        ..array(
            desc,
            JSONSchemaProps {
                max_length: Some(63),
                pattern: Some("^[a-z]([-a-z0-9]*[a-z0-9])?$".into()),
                ..plain("string")
            },
        )
    };
    let string_map = |desc: &str| JSONSchemaProps {
        additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(plain("string")))),
        ..described("object", desc)
    };
    object(
        "The generated kind: its group, version, kind and scope, the SimpleSchema of its spec, \
         custom types, status projections, printer columns and names.",
        [
            (
                "kind",
                JSONSchemaProps {
                    pattern: Some("^[A-Z][a-zA-Z0-9]{0,62}$".into()),
                    x_kubernetes_validations: Some(vec![immutable("kind is immutable")]),
                    ..string("Kind of the generated CRD, in PascalCase. Immutable.")
                },
            ),
            (
                "apiVersion",
                JSONSchemaProps {
                    pattern: Some("^v[0-9]+(alpha[0-9]+|beta[0-9]+)?$".into()),
                    x_kubernetes_validations: Some(vec![immutable("apiVersion is immutable")]),
                    ..string("Version of the generated CRD, e.g. v1alpha1. Immutable.")
                },
            ),
            (
                "group",
                JSONSchemaProps {
                    default: Some(JSON(serde_json::json!(GROUP))),
                    x_kubernetes_validations: Some(vec![immutable("group is immutable")]),
                    ..string("API group of the generated CRD; kro.run when omitted. Immutable.")
                },
            ),
            (
                "spec",
                preserve_unknown(
                    "SimpleSchema of the instance spec: each field is a type string such as \
                     \"integer | default=1 minimum=1\" or a nested map.",
                ),
            ),
            (
                "types",
                preserve_unknown("Named custom SimpleSchema types that spec may refer to by name."),
            ),
            (
                "status",
                preserve_unknown(
                    "Instance status fields, each projected from the resources with a ${...} \
                     CEL expression; their types are inferred.",
                ),
            ),
            (
                "scope",
                JSONSchemaProps {
                    default: Some(JSON(serde_json::json!("Namespaced"))),
                    enum_: Some(vec![
                        JSON(serde_json::json!("Namespaced")),
                        JSON(serde_json::json!("Cluster")),
                    ]),
                    x_kubernetes_validations: Some(vec![immutable("scope is immutable")]),
                    ..string(
                        "Scope of the generated CRD: Namespaced (default) or Cluster. Immutable.",
                    )
                },
            ),
            (
                "additionalPrinterColumns",
                array(
                    "Printer columns of the generated CRD. When set they replace the default \
                     columns (State, Ready, Age), which must then be listed explicitly if wanted.",
                    printer_column_schema(),
                ),
            ),
            (
                "shortNames",
                name_list("Short names of the generated CRD, for kubectl."),
            ),
            (
                "categories",
                name_list(
                    "Categories of the generated CRD, e.g. [\"all\"], for kubectl get <category>.",
                ),
            ),
            (
                "metadata",
                object(
                    "Metadata put on the generated CRD (kro's own labels are applied on top).",
                    [
                        ("labels", string_map("Labels of the generated CRD.")),
                        (
                            "annotations",
                            string_map("Annotations of the generated CRD."),
                        ),
                    ],
                    &[],
                ),
            ),
        ],
        &["apiVersion", "kind", "scope"],
    )
}

fn printer_column_schema() -> JSONSchemaProps {
    object(
        "A column printed by kubectl get.",
        [
            ("name", string("Column header.")),
            (
                "type",
                string("OpenAPI type of the column: string, integer, number, boolean or date."),
            ),
            ("format", string("Optional OpenAPI format of the column.")),
            (
                "description",
                string("Human readable description of the column."),
            ),
            (
                "jsonPath",
                string("Simple JSON path evaluated against each object."),
            ),
            (
                "priority",
                JSONSchemaProps {
                    format: Some("int32".into()),
                    ..described(
                        "integer",
                        "0 shows the column by default; higher values only with -o wide.",
                    )
                },
            ),
        ],
        &["jsonPath", "name", "type"],
    )
}

fn resource_schema() -> JSONSchemaProps {
    let expressions = |desc: &str| array(desc, plain("string"));
    JSONSchemaProps {
        x_kubernetes_validations: Some(vec![ValidationRule {
            rule: "(has(self.template) && !has(self.externalRef)) || (!has(self.template) && has(self.externalRef))".into(),
            message: Some("exactly one of template or externalRef must be provided".into()),
            ..Default::default()
        }]),
        ..object(
            "A node of the graph: a template to create or an externalRef to read.",
            [
                (
                    "id",
                    string("Unique lower camelCase id; other expressions use it to refer to this resource."),
                ),
                (
                    "template",
                    preserve_unknown("Manifest to create; may contain ${...} CEL expressions."),
                ),
                ("externalRef", external_ref_schema()),
                (
                    "readyWhen",
                    expressions("Standalone ${...} expressions that must all be true for the resource to count as ready."),
                ),
                (
                    "includeWhen",
                    expressions("Standalone ${...} expressions that must all be true for the resource to be created."),
                ),
                (
                    "forEach",
                    array(
                        "Expands the resource into a collection: each entry binds one iterator name to a ${...} list expression; several entries form a cartesian product.",
                        JSONSchemaProps {
                            additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(plain("string")))),
                            min_properties: Some(1),
                            max_properties: Some(1),
                            ..described("object", "One dimension: {iterator: \"${list expression}\"}.")
                        },
                    ),
                ),
                (
                    "deletionPolicy",
                    one_of(
                        &crate::DeletionPolicy::ACCEPTED,
                        "Delete (default) deletes the resource's objects with the instance and when they leave the graph; Orphan (or Orphaned) leaves them in the cluster without kro's labels.",
                    ),
                ),
                (
                    "adoptionPolicy",
                    one_of(
                        &crate::AdoptionPolicy::ACCEPTED,
                        "Never (default) refuses an existing object that no ApplySet owns; AdoptOrCreate takes it over (and releases it, never deletes it, when the instance goes). An object of another ApplySet is never taken over.",
                    ),
                ),
                (
                    "externalFields",
                    array(
                        "Field paths of the template (dotted, such as spec.replicas) handed to another field manager, e.g. an HPA: set when the object is created, never set nor reverted afterwards. Not with externalRef.",
                        JSONSchemaProps {
                            min_length: Some(1),
                            ..plain("string")
                        },
                    ),
                ),
            ],
            &["id"],
        )
    }
}

fn external_ref_schema() -> JSONSchemaProps {
    // No CEL rule for "exactly one of name or selector" here: `selector` is schemaless (a
    // label selector or a `${...}` string), and the API server cannot compile `has()` on a
    // field without a type. kro checks it when it builds the graph.
    let metadata = object(
            "Which object to read: by name, or a collection by label selector.",
            [
                (
                    "name",
                    JSONSchemaProps {
                        min_length: Some(1),
                        ..string("Name of the object; may contain ${...}.")
                    },
                ),
                (
                    "namespace",
                    string("Namespace; defaults to the instance's for a name, all namespaces for a selector."),
                ),
                (
                    "selector",
                    JSONSchemaProps {
                        description: Some("Label selector (matchLabels/matchExpressions, values may contain ${...}) or a ${...} expression returning one.".into()),
                        x_kubernetes_preserve_unknown_fields: Some(true),
                        ..Default::default()
                    },
                ),
            ],
            &[],
    );
    object(
        "An existing object kro reads (and watches) but never creates, changes or deletes.",
        [
            (
                "apiVersion",
                string("API version of the object, e.g. v1 or apps/v1."),
            ),
            ("kind", string("Kind of the object.")),
            ("metadata", metadata),
        ],
        &["apiVersion", "kind", "metadata"],
    )
}

fn rgd_status_schema() -> JSONSchemaProps {
    object(
        "Observed state of the ResourceGraphDefinition.",
        [
            (
                "state",
                string(
                    "Active when the graph is accepted and the kind and its controller are serving; otherwise Inactive.",
                ),
            ),
            (
                "topologicalOrder",
                array(
                    "Resource ids in the order they are created.",
                    plain("string"),
                ),
            ),
            (
                "conditions",
                array(
                    "Latest observations of the RGD's state.",
                    condition_schema(),
                ),
            ),
            ("resources", resource_information_schema()),
            (
                "lastIssuedRevision",
                JSONSchemaProps {
                    format: Some("int64".into()),
                    ..described(
                        "integer",
                        "Highest GraphRevision number issued for this RGD.",
                    )
                },
            ),
        ],
        &[],
    )
}

/// `status.resources` of RGDs and GraphRevisions.
fn resource_information_schema() -> JSONSchemaProps {
    array(
        "Resources that depend on others, with their dependencies.",
        object(
            "A resource and the resources it depends on.",
            [
                ("id", string("Id of the resource.")),
                (
                    "dependencies",
                    array(
                        "Resources this resource's expressions refer to.",
                        object(
                            "A dependency.",
                            [("id", string("Id of the resource depended on."))],
                            &[],
                        ),
                    ),
                ),
            ],
            &[],
        ),
    )
}

/// OpenAPI schema of kro's [`crate::Condition`] (used in RGD and instance status).
pub fn condition_schema() -> JSONSchemaProps {
    object(
        "A condition of the object.",
        [
            ("type", string("Type of the condition.")),
            (
                "status",
                string("Status of the condition: True, False or Unknown."),
            ),
            (
                "lastTransitionTime",
                JSONSchemaProps {
                    format: Some("date-time".into()),
                    ..string("When the condition last changed status.")
                },
            ),
            (
                "reason",
                string("Why the condition has its status, in one CamelCase word."),
            ),
            ("message", string("Details for humans.")),
            (
                "observedGeneration",
                JSONSchemaProps {
                    format: Some("int64".into()),
                    minimum: Some(0.0),
                    ..described(
                        "integer",
                        "The metadata.generation the condition was computed from.",
                    )
                },
            ),
        ],
        &["status", "type"],
    )
}

fn column(
    name: &str,
    type_: &str,
    json_path: &str,
    priority: Option<i32>,
) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.into(),
        type_: type_.into(),
        json_path: json_path.into(),
        priority,
        description: None,
        format: None,
    }
}

fn plain(type_: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some(type_.into()),
        ..Default::default()
    }
}

fn described(type_: &str, description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        description: Some(description.into()),
        ..plain(type_)
    }
}

/// A string limited to `values`.
fn one_of(values: &[&str], description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        enum_: Some(
            values
                .iter()
                .map(|value| JSON(serde_json::json!(value)))
                .collect(),
        ),
        ..string(description)
    }
}

fn string(description: &str) -> JSONSchemaProps {
    described("string", description)
}

fn preserve_unknown(description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        x_kubernetes_preserve_unknown_fields: Some(true),
        ..described("object", description)
    }
}

fn array(description: &str, items: JSONSchemaProps) -> JSONSchemaProps {
    JSONSchemaProps {
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(items))),
        ..described("array", description)
    }
}

fn object<const N: usize>(
    description: &str,
    properties: [(&str, JSONSchemaProps); N],
    required: &[&str],
) -> JSONSchemaProps {
    let properties: BTreeMap<String, JSONSchemaProps> = properties
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    JSONSchemaProps {
        properties: Some(properties),
        required: if required.is_empty() {
            None
        } else {
            Some(required.iter().map(|s| s.to_string()).collect())
        },
        ..described("object", description)
    }
}

fn immutable(message: &str) -> ValidationRule {
    ValidationRule {
        rule: "self == oldSelf".into(),
        message: Some(message.into()),
        ..Default::default()
    }
}
