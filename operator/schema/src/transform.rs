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

/// Most schema nodes (objects, fields, list items, map values) that expanding the custom types
/// and the instance spec of one RGD may create, counted before anything is built. Custom types
/// are inlined where they are used, so types that each use the next twice grow exponentially;
/// a CRD this large would not fit in etcd anyway.
pub const MAX_SCHEMA_NODES: u64 = 100_000;
/// Most bytes of field names and marker values (defaults, descriptions, patterns, validations)
/// that the same expansion may copy (each use of a type copies its markers).
pub const MAX_SCHEMA_BYTES: u64 = 4 * 1024 * 1024;
/// Deepest nesting of the expanded schema below the spec (objects, lists and maps, through
/// custom types). Generated CRDs deeper than about 60 levels exceed the JSON depth Kubernetes
/// clients decode (128), so the operator could not read its own CRD back.
pub const MAX_SCHEMA_DEPTH: u64 = 48;
/// Longest chain of custom types using custom types (`A` uses `B` uses `C` ... is 3).
pub const MAX_TYPE_REFERENCE_DEPTH: u64 = 32;

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
    let spec_map = spec_map.filter(|map| transformer.spec_within_budget(map));
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
    /// The measured expansion of every type that passed its budget check.
    sizes: BTreeMap<String, Size>,
    /// Nodes and bytes of every type measured so far: each type is built, used or not.
    spent: Size,
}

/// The size of an expanded schema, measured from SimpleSchema without building it.
#[derive(Debug, Clone, Default)]
struct Size {
    /// Schema nodes (saturating).
    nodes: u64,
    /// Bytes of field names and marker values (saturating).
    bytes: u64,
    /// Nesting depth below the schema's root.
    height: u64,
    /// Reference depth: 0 for no custom type, else that of the deepest type used.
    refs: u64,
    /// The custom type with the deepest references, if any.
    deepest: Option<String>,
}

impl Size {
    fn leaf() -> Size {
        Size {
            nodes: 1,
            ..Size::default()
        }
    }

    /// `self` one level above `child` (a list item or map value).
    fn wrapping(child: Size) -> Size {
        Size {
            nodes: child.nodes.saturating_add(1),
            height: child.height.saturating_add(1),
            ..child
        }
    }
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
        let order = self.dependency_order(&deps);
        // 3. Measure, then build, in dependency order.
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
            if !self.type_within_budget(&name, spec) {
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

    /// The types in dependency order (each after the types it uses), by an iterative
    /// depth-first search in name order, so a chain of thousands of types cannot exhaust the
    /// stack. Cycles are reported, their members marked broken.
    fn dependency_order(&mut self, deps: &BTreeMap<&str, BTreeSet<String>>) -> Vec<String> {
        let mut state: BTreeMap<&str, Visit> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (&root, root_deps) in deps {
            if state.contains_key(root) {
                continue;
            }
            state.insert(root, Visit::InProgress);
            let mut path: Vec<&str> = vec![root];
            let mut frames = vec![root_deps.iter()];
            while let Some(frame) = frames.last_mut() {
                let Some(dep) = frame.next() else {
                    frames.pop();
                    if let Some(done) = path.pop() {
                        state.insert(done, Visit::Done);
                        order.push(done.to_string());
                    }
                    continue;
                };
                // Unknown or broken types are reported where they are used.
                let Some((&dep_key, dep_deps)) = deps.get_key_value(dep.as_str()) else {
                    continue;
                };
                match state.get(dep_key) {
                    Some(Visit::Done) => {}
                    Some(Visit::InProgress) => self.report_cycle(dep_key, &path),
                    None => {
                        state.insert(dep_key, Visit::InProgress);
                        path.push(dep_key);
                        frames.push(dep_deps.iter());
                    }
                }
            }
        }
        order
    }

    /// `name` is on `path` and used again by its last element: a cycle.
    fn report_cycle(&mut self, name: &str, path: &[&str]) {
        let start = path.iter().position(|seen| *seen == name).unwrap_or(0);
        let mut cycle: Vec<String> = path[start..].iter().map(|ty| ty.to_string()).collect();
        cycle.push(name.to_string());
        let owner = path.last().copied().unwrap_or(name);
        self.errors.push(SchemaError::new(
            format!("{TYPES_PATH}.{owner}"),
            ErrorKind::CyclicType {
                name: owner.to_string(),
                cycle,
            },
        ));
        for member in &path[start..] {
            self.broken.insert(member.to_string());
        }
    }

    /// Measures type `name` before it is built and checks it against the budgets; records
    /// its size, or the error at the type.
    fn type_within_budget(&mut self, name: &str, spec: &Value) -> bool {
        // Malformed definitions are measured as far as they go; building reports them.
        let size = self.measure(spec, 0).unwrap_or_else(Size::leaf);
        let depth = size.refs.saturating_add(1);
        let path = format!("{TYPES_PATH}.{name}");
        if depth > MAX_TYPE_REFERENCE_DEPTH {
            let mut chain = vec![name.to_string()];
            let mut next = size.deepest.clone();
            while let Some(ty) = next {
                if chain.len() == 6 {
                    chain.push("...".to_string());
                    break;
                }
                next = self.sizes.get(&ty).and_then(|s| s.deepest.clone());
                chain.push(ty);
            }
            self.errors.push(SchemaError::new(
                path,
                ErrorKind::TypeReferencesTooDeep {
                    name: name.to_string(),
                    depth,
                    chain,
                    limit: MAX_TYPE_REFERENCE_DEPTH,
                },
            ));
            return false;
        }
        if let Some(kind) = self.over_budget(&format!("type {name:?}"), &size) {
            self.errors.push(SchemaError::new(path, kind));
            return false;
        }
        self.sizes.insert(
            name.to_string(),
            Size {
                refs: depth,
                ..size
            },
        );
        true
    }

    /// Measures the instance spec before it is built; records an error if it is over a budget.
    fn spec_within_budget(&mut self, fields: &serde_json::Map<String, Value>) -> bool {
        let Some(size) = self.measure_object(fields, 0) else {
            // Too deep to measure: building reports it at the field.
            return true;
        };
        match self.over_budget("the instance spec", &size) {
            Some(kind) => {
                self.errors.push(SchemaError::new(SPEC_PATH, kind));
                false
            }
            None => true,
        }
    }

    /// The budget `size` (added to what was spent so far) exceeds, if any; else spends it.
    fn over_budget(&mut self, what: &str, size: &Size) -> Option<ErrorKind> {
        let nodes = self.spent.nodes.saturating_add(size.nodes);
        let bytes = self.spent.bytes.saturating_add(size.bytes);
        if nodes > MAX_SCHEMA_NODES {
            return Some(ErrorKind::TooManySchemaNodes {
                what: what.to_string(),
                nodes,
                limit: MAX_SCHEMA_NODES,
            });
        }
        if bytes > MAX_SCHEMA_BYTES {
            return Some(ErrorKind::TooManySchemaBytes {
                what: what.to_string(),
                bytes,
                limit: MAX_SCHEMA_BYTES,
            });
        }
        if size.height > MAX_SCHEMA_DEPTH {
            return Some(ErrorKind::SchemaTooDeep {
                what: what.to_string(),
                depth: size.height,
                limit: MAX_SCHEMA_DEPTH,
            });
        }
        self.spent.nodes = nodes;
        self.spent.bytes = bytes;
        None
    }

    /// The size of the schema a field value (type string or field map) expands to, from the
    /// sizes of the types measured so far. `None` past [`MAX_OBJECT_NESTING`] or on a syntax
    /// error (building reports both).
    fn measure(&self, value: &Value, depth: usize) -> Option<Size> {
        match value {
            Value::String(field) => {
                let (ty, markers) = parse_field(field).ok()?;
                let mut size = self.measure_type(&ty);
                let marker_bytes: usize = markers
                    .iter()
                    .map(|m| m.kind.key().len() + m.value.len())
                    .sum();
                size.bytes = size.bytes.saturating_add(marker_bytes as u64);
                Some(size)
            }
            Value::Object(fields) => self.measure_object(fields, depth),
            _ => None,
        }
    }

    fn measure_object(
        &self,
        fields: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> Option<Size> {
        if depth > MAX_OBJECT_NESTING {
            return None;
        }
        let mut size = Size::leaf();
        for (name, value) in fields {
            let field = self.measure(value, depth + 1)?;
            size.nodes = size.nodes.saturating_add(field.nodes);
            size.bytes = size
                .bytes
                .saturating_add(name.len() as u64)
                .saturating_add(field.bytes);
            size.height = size.height.max(field.height.saturating_add(1));
            if field.refs > size.refs {
                size.refs = field.refs;
                size.deepest = field.deepest;
            }
        }
        Some(size)
    }

    fn measure_type(&self, ty: &TypeExpr) -> Size {
        match ty {
            TypeExpr::Slice(elem) | TypeExpr::Map(elem) => Size::wrapping(self.measure_type(elem)),
            // Unknown and broken types are reported (or suppressed) when building.
            TypeExpr::Custom(name) => match self.sizes.get(name) {
                Some(size) => Size {
                    deepest: Some(name.clone()),
                    ..size.clone()
                },
                None => Size::leaf(),
            },
            _ => Size::leaf(),
        }
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
