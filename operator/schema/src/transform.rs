//! SimpleSchema → OpenAPI v3: builds the instance `spec` schema from `spec.schema.spec` and the
//! custom types of `spec.schema.types`, exactly as kro does (sorted `required`, automatic
//! `default: {}`, custom types expanded inline, type aliases carrying `required`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSON, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

use crate::error::{ErrorKind, SchemaError, SchemaErrors};
use crate::markers::{Marker, apply_markers, parse_markers};
use crate::types::{TypeExpr, parse_type, split_field, unknown_type_hint};

/// Deepest nesting of field maps accepted (kro has no limit; this keeps malformed input from
/// exhausting the stack).
pub const MAX_OBJECT_NESTING: usize = 64;

/// Path prefix of the instance spec schema in an RGD.
pub const SPEC_PATH: &str = "spec.schema.spec";
/// Path prefix of the custom types in an RGD.
pub const TYPES_PATH: &str = "spec.schema.types";

/// Parses a field string such as `"[]string | required=true minItems=1"` into its type and
/// markers.
pub fn parse_field(s: &str) -> Result<(TypeExpr, Vec<Marker>), ErrorKind> {
    let (ty, markers) = split_field(s);
    let ty = parse_type(ty)?;
    let markers = match markers {
        Some(text) => parse_markers(text)?,
        None => Vec::new(),
    };
    Ok((ty, markers))
}

/// Converts an RGD's SimpleSchema (`spec.schema.spec`, with the custom types of
/// `spec.schema.types`) to the OpenAPI v3 schema of the instance `spec`.
///
/// `spec` and `types` may be absent (`None` or `null`). Every problem found is reported, each
/// with its field path.
pub fn simple_schema_to_openapi(
    spec: Option<&Value>,
    types: Option<&Value>,
) -> Result<JSONSchemaProps, SchemaErrors> {
    let mut transformer = Transformer::default();
    match types {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => transformer.load_types(map),
        Some(other) => transformer.errors.push(SchemaError::new(
            TYPES_PATH,
            ErrorKind::NotAMap(value_kind(other)),
        )),
    }
    let empty = serde_json::Map::new();
    let spec_map = match spec {
        None | Some(Value::Null) => Some(&empty),
        Some(Value::Object(map)) => Some(map),
        Some(other) => {
            transformer.errors.push(SchemaError::new(
                SPEC_PATH,
                ErrorKind::NotAMap(value_kind(other)),
            ));
            None
        }
    };
    let schema = spec_map.and_then(|map| transformer.build_object(map, SPEC_PATH, 0));
    match schema {
        Some(built) if transformer.errors.is_empty() => Ok(built),
        _ => Err(SchemaErrors(transformer.errors)),
    }
}

/// Converts the `spec.schema` of an RGD (its `spec` and `types`) to the instance spec schema.
pub fn spec_schema(schema: &kro_api::Schema) -> Result<JSONSchemaProps, SchemaErrors> {
    simple_schema_to_openapi(schema.spec.as_ref(), schema.types.as_ref())
}

pub(crate) fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A resolved custom type.
#[derive(Debug, Clone)]
struct CustomType {
    schema: JSONSchemaProps,
    /// A type alias with `required=true`: every field of this type is required.
    required: bool,
}

/// Why a field could not be built.
enum FieldError {
    /// Report this problem at the field's path.
    Report(ErrorKind),
    /// The field uses a custom type whose own error was already reported.
    Suppressed,
}

impl From<ErrorKind> for FieldError {
    fn from(k: ErrorKind) -> Self {
        FieldError::Report(k)
    }
}

#[derive(Default)]
struct Transformer {
    types: BTreeMap<String, CustomType>,
    /// Custom types that exist but failed (their error is reported once, at the type).
    broken: BTreeSet<String>,
    /// Every name declared under spec.schema.types.
    declared: Vec<String>,
    errors: Vec<SchemaError>,
}

impl Transformer {
    fn load_types(&mut self, types: &serde_json::Map<String, Value>) {
        self.declared = types.keys().cloned().collect();
        // 1. Dependencies of every type (their syntax errors are reported here, once).
        let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (name, spec) in types {
            let path = format!("{TYPES_PATH}.{name}");
            let mut found = BTreeSet::new();
            match collect_deps(spec, &path, 0, &mut found) {
                Ok(()) => {
                    deps.insert(name, found);
                }
                Err(e) => {
                    self.errors.push(e);
                    self.broken.insert(name.clone());
                }
            }
        }
        // 2. Cycles, found by depth-first search in name order.
        let mut state: BTreeMap<&str, Visit> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let names: Vec<&str> = deps.keys().copied().collect();
        for name in names {
            let mut stack = Vec::new();
            self.visit(name, &deps, &mut state, &mut stack, &mut order);
        }
        // 3. Build in dependency order.
        for name in order {
            if self.broken.contains(&name) {
                continue;
            }
            let Some(spec) = types.get(&name) else {
                continue;
            };
            let path = format!("{TYPES_PATH}.{name}");
            let depends_on_broken = deps
                .get(name.as_str())
                .is_some_and(|used| used.iter().any(|dep| self.broken.contains(dep)));
            if depends_on_broken {
                self.broken.insert(name);
                continue;
            }
            let built = match spec {
                Value::String(s) => {
                    let mut required = Vec::new();
                    match self.field_from_string(&name, s, &mut required) {
                        Ok(schema) => Some(CustomType {
                            schema,
                            required: !required.is_empty(),
                        }),
                        Err(FieldError::Report(kind)) => {
                            self.errors.push(SchemaError::new(path, kind));
                            None
                        }
                        Err(FieldError::Suppressed) => None,
                    }
                }
                Value::Object(map) => self.build_object(map, &path, 0).map(|schema| CustomType {
                    schema,
                    required: false,
                }),
                // collect_deps rejected anything else.
                _ => None,
            };
            match built {
                Some(ct) => {
                    self.types.insert(name, ct);
                }
                None => {
                    self.broken.insert(name);
                }
            }
        }
    }

    fn visit<'a>(
        &mut self,
        name: &'a str,
        deps: &'a BTreeMap<&'a str, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, Visit>,
        stack: &mut Vec<&'a str>,
        order: &mut Vec<String>,
    ) {
        match state.get(name) {
            Some(Visit::Done) => return,
            Some(Visit::InProgress) => {
                // A cycle: the part of the stack from `name` on.
                let start = stack.iter().position(|seen| *seen == name).unwrap_or(0);
                let mut cycle: Vec<String> =
                    stack[start..].iter().map(|ty| ty.to_string()).collect();
                cycle.push(name.to_string());
                let owner = stack.last().copied().unwrap_or(name);
                self.errors.push(SchemaError::new(
                    format!("{TYPES_PATH}.{owner}"),
                    ErrorKind::CyclicType {
                        name: owner.to_string(),
                        cycle,
                    },
                ));
                for member in &stack[start..] {
                    self.broken.insert(member.to_string());
                }
                return;
            }
            None => {}
        }
        let Some(my_deps) = deps.get(name) else {
            // Unknown or broken type: reported where it is used.
            return;
        };
        state.insert(name, Visit::InProgress);
        stack.push(name);
        for dep in my_deps {
            if let Some((dep_key, _)) = deps.get_key_value(dep.as_str()) {
                self.visit(dep_key, deps, state, stack, order);
            }
        }
        stack.pop();
        state.insert(name, Visit::Done);
        order.push(name.to_string());
    }

    /// Builds a nested object from a field map. Errors are recorded; `None` if any field failed.
    fn build_object(
        &mut self,
        fields: &serde_json::Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Option<JSONSchemaProps> {
        if depth > MAX_OBJECT_NESTING {
            self.errors.push(SchemaError::new(
                path,
                ErrorKind::ObjectNestingTooDeep(MAX_OBJECT_NESTING),
            ));
            return None;
        }
        let mut properties = BTreeMap::new();
        let mut required = Vec::new();
        let mut ok = true;
        // serde_json maps iterate in key order, like kro's sorted field names.
        for (name, value) in fields {
            let field_path = format!("{path}.{name}");
            let built = match value {
                Value::String(s) => match self.field_from_string(name, s, &mut required) {
                    Ok(schema) => Some(schema),
                    Err(FieldError::Report(kind)) => {
                        self.errors.push(SchemaError::new(field_path, kind));
                        None
                    }
                    Err(FieldError::Suppressed) => None,
                },
                Value::Object(map) => self.build_object(map, &field_path, depth + 1),
                other => {
                    self.errors.push(SchemaError::new(
                        field_path,
                        ErrorKind::InvalidFieldValue(value_kind(other)),
                    ));
                    None
                }
            };
            match built {
                Some(schema) => {
                    properties.insert(name.clone(), schema);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        required.sort();
        required.dedup();
        let child_has_default = properties.values().any(|prop| prop.default.is_some());
        let mut schema = JSONSchemaProps {
            type_: Some("object".into()),
            properties: (!properties.is_empty()).then_some(properties),
            ..Default::default()
        };
        if required.is_empty() {
            if child_has_default {
                schema.default = Some(JSON(Value::Object(Default::default())));
            }
        } else {
            schema.required = Some(required);
        }
        Some(schema)
    }

    fn field_from_string(
        &self,
        name: &str,
        s: &str,
        parent_required: &mut Vec<String>,
    ) -> Result<JSONSchemaProps, FieldError> {
        let (ty, markers) = parse_field(s)?;
        let mut schema = self.schema_of(&ty)?;
        if let TypeExpr::Custom(custom) = &ty
            && self
                .types
                .get(custom)
                .is_some_and(|custom_type| custom_type.required)
        {
            parent_required.push(name.to_string());
        }
        apply_markers(&mut schema, &markers, name, parent_required)?;
        Ok(schema)
    }

    fn schema_of(&self, ty: &TypeExpr) -> Result<JSONSchemaProps, FieldError> {
        let typed = |t: &str| JSONSchemaProps {
            type_: Some(t.into()),
            ..Default::default()
        };
        Ok(match ty {
            TypeExpr::String => typed("string"),
            TypeExpr::Integer => typed("integer"),
            TypeExpr::Boolean => typed("boolean"),
            TypeExpr::Float => typed("number"),
            TypeExpr::Object => JSONSchemaProps {
                x_kubernetes_preserve_unknown_fields: Some(true),
                ..typed("object")
            },
            TypeExpr::Slice(elem) => JSONSchemaProps {
                items: Some(JSONSchemaPropsOrArray::Schema(Box::new(
                    self.schema_of(elem)?,
                ))),
                ..typed("array")
            },
            TypeExpr::Map(value) => JSONSchemaProps {
                additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(
                    self.schema_of(value)?,
                ))),
                ..typed("object")
            },
            TypeExpr::Custom(name) => {
                if let Some(ct) = self.types.get(name) {
                    ct.schema.clone()
                } else if self.broken.contains(name) {
                    return Err(FieldError::Suppressed);
                } else {
                    let known: Vec<&str> = self.declared.iter().map(String::as_str).collect();
                    return Err(FieldError::Report(ErrorKind::UnknownType {
                        name: name.clone(),
                        hint: unknown_type_hint(name, &known),
                    }));
                }
            }
        })
    }
}

#[derive(Clone, Copy)]
enum Visit {
    InProgress,
    Done,
}

/// Custom type names a type definition refers to; syntax errors of its type strings.
fn collect_deps(
    spec: &Value,
    path: &str,
    depth: usize,
    out: &mut BTreeSet<String>,
) -> Result<(), SchemaError> {
    if depth > MAX_OBJECT_NESTING {
        return Err(SchemaError::new(
            path,
            ErrorKind::ObjectNestingTooDeep(MAX_OBJECT_NESTING),
        ));
    }
    match spec {
        Value::String(field) => {
            let (ty, _) = parse_field(field).map_err(|kind| SchemaError::new(path, kind))?;
            out.extend(ty.custom_refs().into_iter().map(str::to_string));
            Ok(())
        }
        Value::Object(map) => {
            for (name, v) in map {
                collect_deps(v, &format!("{path}.{name}"), depth + 1, out)?;
            }
            Ok(())
        }
        other => Err(SchemaError::new(
            path,
            ErrorKind::InvalidFieldValue(value_kind(other)),
        )),
    }
}
