//! CEL types for the static checker: built from OpenAPI v3 schemas (as kro's
//! `SchemaDeclType` does), printed with cel-go's names, and mapped back to OpenAPI for status
//! field inference.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// A CEL type as the checker sees it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CelType {
    /// Anything; checked at runtime (`dyn`, int-or-string, preserve-unknown-fields).
    Dyn,
    /// `null_type`.
    Null,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `uint`.
    Uint,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `google.protobuf.Duration`.
    Duration,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `list(T)`.
    List(Box<CelType>),
    /// `map(K, V)`.
    Map(Box<CelType>, Box<CelType>),
    /// An object described by an OpenAPI schema, with named fields.
    Object(ObjectType),
    /// `optional_type(T)`.
    Optional(Box<CelType>),
    /// `type(T)`, the type of a type value.
    Type(Box<CelType>),
    /// An opaque library type: `kubernetes.URL`, `net.IP`, `net.CIDR`, `kubernetes.Quantity`,
    /// `kubernetes.Semver`, `kro.omit`, `kro.run.Runtime`, `kro.run.Condition`.
    Opaque(String),
    /// A type parameter of a function signature (`A` in `list(A)`).
    #[doc(hidden)]
    Param(String),
    /// Internal: the `[key, value]` pairs two-variable comprehensions iterate over.
    #[doc(hidden)]
    Pair(Box<CelType>, Box<CelType>),
}

/// An object type from an OpenAPI schema. Fields are typed on demand.
#[derive(Debug, Clone)]
pub struct ObjectType {
    name: String,
    schema: Arc<JSONSchemaProps>,
    /// A Kubernetes object root (or embedded resource): has `apiVersion`, `kind`, `metadata`.
    resource: bool,
}

/// The result of looking a field up on a type.
#[derive(Debug, Clone)]
pub(crate) enum FieldLookup {
    Found(CelType),
    Missing { known: Vec<String> },
    NotSupported,
}

impl PartialEq for CelType {
    fn eq(&self, other: &Self) -> bool {
        use CelType::*;
        match (self, other) {
            (Dyn, Dyn)
            | (Null, Null)
            | (Bool, Bool)
            | (Int, Int)
            | (Uint, Uint)
            | (Double, Double)
            | (String, String)
            | (Bytes, Bytes)
            | (Duration, Duration)
            | (Timestamp, Timestamp) => true,
            (List(a), List(b)) | (Optional(a), Optional(b)) | (Type(a), Type(b)) => a == b,
            (Map(a, b), Map(c, d)) | (Pair(a, b), Pair(c, d)) => a == c && b == d,
            (Object(a), Object(b)) => {
                a.name == b.name && (Arc::ptr_eq(&a.schema, &b.schema) || a.schema == b.schema)
            }
            (Opaque(a), Opaque(b)) | (Param(a), Param(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for CelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CelType::Dyn => f.write_str("dyn"),
            CelType::Null => f.write_str("null_type"),
            CelType::Bool => f.write_str("bool"),
            CelType::Int => f.write_str("int"),
            CelType::Uint => f.write_str("uint"),
            CelType::Double => f.write_str("double"),
            CelType::String => f.write_str("string"),
            CelType::Bytes => f.write_str("bytes"),
            CelType::Duration => f.write_str("google.protobuf.Duration"),
            CelType::Timestamp => f.write_str("google.protobuf.Timestamp"),
            CelType::List(t) => write!(f, "list({t})"),
            CelType::Map(k, v) => write!(f, "map({k}, {v})"),
            CelType::Object(o) => write!(f, "__type_{}", o.name),
            CelType::Optional(t) => write!(f, "optional_type({t})"),
            CelType::Type(t) => write!(f, "type({t})"),
            CelType::Opaque(n) | CelType::Param(n) => f.write_str(n),
            CelType::Pair(k, v) => write!(f, "pair({k}, {v})"),
        }
    }
}

fn items_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match schema.items.as_ref()? {
        JSONSchemaPropsOrArray::Schema(s) => Some(s),
        JSONSchemaPropsOrArray::Schemas(v) => v.first(),
    }
}

fn has_properties(schema: &JSONSchemaProps) -> bool {
    schema.properties.as_ref().is_some_and(|p| !p.is_empty())
}

fn string_schema(format: Option<&str>) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("string".to_owned()),
        format: format.map(str::to_owned),
        ..Default::default()
    }
}

/// The `metadata` schema kro gives root objects whose schema does not spell it out
/// (the commonly read `ObjectMeta` fields).
static OBJECT_META: LazyLock<Arc<JSONSchemaProps>> = LazyLock::new(|| {
    let string_map = JSONSchemaProps {
        type_: Some("object".to_owned()),
        additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(string_schema(None)))),
        ..Default::default()
    };
    let mut props = BTreeMap::new();
    for f in [
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "selfLink",
    ] {
        props.insert(f.to_owned(), string_schema(None));
    }
    props.insert(
        "generation".to_owned(),
        JSONSchemaProps {
            type_: Some("integer".to_owned()),
            ..Default::default()
        },
    );
    props.insert(
        "creationTimestamp".to_owned(),
        string_schema(Some("date-time")),
    );
    props.insert(
        "deletionTimestamp".to_owned(),
        string_schema(Some("date-time")),
    );
    props.insert("labels".to_owned(), string_map.clone());
    props.insert("annotations".to_owned(), string_map);
    props.insert(
        "finalizers".to_owned(),
        JSONSchemaProps {
            type_: Some("array".to_owned()),
            items: Some(JSONSchemaPropsOrArray::Schema(Box::new(string_schema(
                None,
            )))),
            ..Default::default()
        },
    );
    let dyn_list = JSONSchemaProps {
        type_: Some("array".to_owned()),
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(JSONSchemaProps {
            type_: Some("object".to_owned()),
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..Default::default()
        }))),
        ..Default::default()
    };
    props.insert("ownerReferences".to_owned(), dyn_list.clone());
    props.insert("managedFields".to_owned(), dyn_list);
    Arc::new(JSONSchemaProps {
        type_: Some("object".to_owned()),
        properties: Some(props),
        ..Default::default()
    })
});

impl CelType {
    /// The type of a Kubernetes object (a resource or the instance) from its OpenAPI schema:
    /// like [`CelType::from_schema`], plus `apiVersion`, `kind` and `metadata` (ObjectMeta)
    /// when the schema does not describe them. `name` names the type in messages (the
    /// resource id, or `schema`).
    pub fn resource(name: &str, schema: &JSONSchemaProps) -> CelType {
        CelType::Object(ObjectType {
            name: name.to_owned(),
            schema: Arc::new(schema.clone()),
            resource: true,
        })
    }

    /// The type of a value described by an OpenAPI schema (see kro's `SchemaDeclType`):
    /// int-or-string and free-form objects are `dyn`, `format: byte/duration/date/date-time`
    /// strings are `bytes`/`duration`/`timestamp`, objects with properties are object types,
    /// objects with `additionalProperties` are maps.
    pub fn from_schema(name: &str, schema: &JSONSchemaProps) -> CelType {
        if schema.x_kubernetes_int_or_string == Some(true) {
            return CelType::Dyn;
        }
        if schema.x_kubernetes_embedded_resource == Some(true) {
            return CelType::resource(name, schema);
        }
        match schema.type_.as_deref() {
            Some("integer") => CelType::Int,
            Some("number") => CelType::Double,
            Some("boolean") => CelType::Bool,
            Some("string") => match schema.format.as_deref() {
                Some("byte") => CelType::Bytes,
                Some("duration") => CelType::Duration,
                Some("date") | Some("date-time") => CelType::Timestamp,
                _ => CelType::String,
            },
            Some("array") => {
                CelType::List(Box::new(items_schema(schema).map_or(CelType::Dyn, |i| {
                    CelType::from_schema(&format!("{name}.@idx"), i)
                })))
            }
            Some("object") | None => {
                if has_properties(schema) {
                    CelType::Object(ObjectType {
                        name: name.to_owned(),
                        schema: Arc::new(schema.clone()),
                        resource: false,
                    })
                } else if let Some(JSONSchemaPropsOrBool::Schema(v)) =
                    schema.additional_properties.as_ref()
                {
                    CelType::Map(
                        Box::new(CelType::String),
                        Box::new(CelType::from_schema(&format!("{name}.@elem"), v)),
                    )
                } else if schema.additional_properties.is_some() || schema.type_.is_some() {
                    CelType::Map(Box::new(CelType::String), Box::new(CelType::Dyn))
                } else {
                    CelType::Dyn
                }
            }
            Some(_) => CelType::Dyn,
        }
    }

    /// The OpenAPI schema of a value of this type, for inferring instance status fields
    /// (kro's `GenerateSchemaFromCELTypes`): unknown and `dyn` become
    /// `x-kubernetes-preserve-unknown-fields`.
    pub fn to_schema(&self) -> JSONSchemaProps {
        let typed = |t: &str, format: Option<&str>| JSONSchemaProps {
            type_: Some(t.to_owned()),
            format: format.map(str::to_owned),
            ..Default::default()
        };
        let preserve = || JSONSchemaProps {
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..Default::default()
        };
        match self {
            CelType::Bool => typed("boolean", None),
            CelType::Int | CelType::Uint => typed("integer", None),
            CelType::Double => typed("number", None),
            CelType::String | CelType::Duration => typed("string", None),
            CelType::Bytes => typed("string", Some("byte")),
            CelType::Timestamp => typed("string", Some("date-time")),
            CelType::List(t) => JSONSchemaProps {
                type_: Some("array".to_owned()),
                items: Some(JSONSchemaPropsOrArray::Schema(Box::new(t.to_schema()))),
                ..Default::default()
            },
            CelType::Map(_, v) => JSONSchemaProps {
                type_: Some("object".to_owned()),
                additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(v.to_schema()))),
                ..Default::default()
            },
            CelType::Object(o) => o.schema.as_ref().clone(),
            CelType::Optional(t) => t.to_schema(),
            CelType::Opaque(n) if n == CONDITION => {
                let mut props = BTreeMap::new();
                for f in crate::library::macros::CONDITION_KEYS {
                    props.insert(f.to_owned(), typed("string", None));
                }
                JSONSchemaProps {
                    type_: Some("object".to_owned()),
                    properties: Some(props),
                    ..Default::default()
                }
            }
            CelType::Opaque(n) if n.starts_with("kubernetes.") || n.starts_with("net.") => {
                typed("string", None)
            }
            _ => preserve(),
        }
    }

    /// Whether the type is `dyn` (or a type parameter, which behaves like it).
    pub fn is_dyn(&self) -> bool {
        matches!(self, CelType::Dyn | CelType::Param(_))
    }

    /// The type without an `optional_type` wrapper.
    pub fn unwrap_optional(&self) -> &CelType {
        match self {
            CelType::Optional(t) => t,
            t => t,
        }
    }

    /// Whether a value of this type may be used where `bool` is required (`includeWhen`,
    /// `readyWhen`): `bool`, `optional_type(bool)` or `dyn`.
    pub fn is_bool_like(&self) -> bool {
        matches!(self.unwrap_optional(), CelType::Bool | CelType::Dyn)
    }

    /// The element type when this is a list (or `dyn`), for `forEach`.
    pub fn list_element(&self) -> Option<CelType> {
        match self.unwrap_optional() {
            CelType::List(t) => Some((**t).clone()),
            CelType::Dyn => Some(CelType::Dyn),
            _ => None,
        }
    }

    /// Checks that a value of type `self` can be written where `expected` is wanted, with
    /// kro's compatibility rules (`dyn` either side passes, optionals unwrap, lists and maps
    /// recurse, maps and objects are duck-typed, objects use subset semantics).
    ///
    /// # Errors
    /// A message saying where the types differ.
    pub fn assignable_to(&self, expected: &CelType) -> Result<(), String> {
        assignable(self, expected, 0)
    }

    pub(crate) fn field(&self, field: &str) -> FieldLookup {
        match self {
            CelType::Dyn | CelType::Param(_) | CelType::Null => FieldLookup::Found(CelType::Dyn),
            CelType::Map(_, v) => FieldLookup::Found((**v).clone()),
            CelType::Object(o) => o.field(field),
            CelType::Opaque(n) if n == CONDITION => {
                if crate::library::macros::CONDITION_KEYS.contains(&field) {
                    FieldLookup::Found(CelType::String)
                } else {
                    FieldLookup::Missing {
                        known: crate::library::macros::CONDITION_KEYS
                            .iter()
                            .map(|s| (*s).to_owned())
                            .collect(),
                    }
                }
            }
            _ => FieldLookup::NotSupported,
        }
    }
}

/// kro's condition type (`runtime.newCondition`, `runtime.condition`).
pub(crate) const CONDITION: &str = "kro.run.Condition";

impl ObjectType {
    /// The name used in messages (`schema.spec`, `deployment.spec.template`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OpenAPI schema the type was built from.
    pub fn schema(&self) -> &JSONSchemaProps {
        &self.schema
    }

    fn field(&self, field: &str) -> FieldLookup {
        let child = format!("{}.{field}", self.name);
        if let Some(s) = self.schema.properties.as_ref().and_then(|p| p.get(field)) {
            if self.resource && field == "metadata" {
                // Root objects always have the ObjectMeta fields, whatever the schema lists.
                let mut merged = OBJECT_META.as_ref().clone();
                if let (Some(into), Some(from)) =
                    (merged.properties.as_mut(), s.properties.as_ref())
                {
                    for (k, v) in from {
                        into.insert(k.clone(), v.clone());
                    }
                }
                return FieldLookup::Found(CelType::from_schema(&child, &merged));
            }
            return FieldLookup::Found(CelType::from_schema(&child, s));
        }
        if self.resource {
            match field {
                "apiVersion" | "kind" => return FieldLookup::Found(CelType::String),
                "metadata" => {
                    return FieldLookup::Found(CelType::from_schema(&child, &OBJECT_META));
                }
                _ => {}
            }
        }
        if self.schema.x_kubernetes_preserve_unknown_fields == Some(true) {
            return FieldLookup::Found(CelType::Dyn);
        }
        if let Some(JSONSchemaPropsOrBool::Schema(v)) = self.schema.additional_properties.as_ref() {
            return FieldLookup::Found(CelType::from_schema(&child, v));
        }
        let mut known: Vec<String> = self
            .schema
            .properties
            .as_ref()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        if self.resource {
            for f in ["apiVersion", "kind", "metadata"] {
                if !known.iter().any(|k| k == f) {
                    known.push(f.to_owned());
                }
            }
        }
        known.sort_by_key(|k| (edit_distance(k, field), k.clone()));
        FieldLookup::Missing { known }
    }

    fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .schema
            .properties
            .as_ref()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        if self.resource {
            for f in ["apiVersion", "kind", "metadata"] {
                if !names.iter().any(|k| k == f) {
                    names.push(f.to_owned());
                }
            }
        }
        names
    }
}

/// Levenshtein distance, to list the known fields closest to a misspelled one first.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn assignable(actual: &CelType, expected: &CelType, depth: usize) -> Result<(), String> {
    use CelType::*;
    if depth > 32 {
        return Ok(());
    }
    let actual = actual.unwrap_optional();
    let expected = expected.unwrap_optional();
    match (actual, expected) {
        (a, e) if a.is_dyn() || e.is_dyn() => Ok(()),
        (Null, _) => Ok(()),
        (a, e) if a == e => Ok(()),
        // The API server parses these from strings; kro's checker is stricter here.
        (String, Timestamp | Duration | Bytes) => Ok(()),
        (List(a), List(e)) => assignable(a, e, depth + 1).map_err(|m| format!("list element: {m}")),
        (Map(ak, av), Map(ek, ev)) => {
            assignable(ak, ek, depth + 1).map_err(|m| format!("map key: {m}"))?;
            assignable(av, ev, depth + 1).map_err(|m| format!("map value: {m}"))
        }
        (Map(_, av), Object(o)) => {
            for name in o.field_names() {
                if let FieldLookup::Found(ft) = o.field(&name) {
                    assignable(av, &ft, depth + 1).map_err(|m| format!("field {name:?}: {m}"))?;
                }
            }
            Ok(())
        }
        (Object(o), Map(_, ev)) => {
            for name in o.field_names() {
                if let FieldLookup::Found(ft) = o.field(&name) {
                    assignable(&ft, ev, depth + 1).map_err(|m| format!("field {name:?}: {m}"))?;
                }
            }
            Ok(())
        }
        (Object(a), Object(e)) => {
            for name in a.field_names() {
                let FieldLookup::Found(at) = a.field(&name) else {
                    continue;
                };
                match e.field(&name) {
                    FieldLookup::Found(et) => assignable(&at, &et, depth + 1)
                        .map_err(|m| format!("field {name:?}: {m}"))?,
                    _ => {
                        return Err(format!(
                            "field {name:?} does not exist in the target schema"
                        ));
                    }
                }
            }
            Ok(())
        }
        (Opaque(n), Object(_) | Map(_, _)) if n == CONDITION => Ok(()),
        (a, e) => Err(format!("{a} is not compatible with {e}")),
    }
}

/// Parses the small type syntax of the signature tables: `int`, `list(A)`, `map(K, V)`,
/// `optional(T)`, `type(T)`, single capital letters as type parameters, anything else opaque.
pub(crate) fn parse_type(s: &str) -> CelType {
    let s = s.trim();
    let inner = |prefix: &str| {
        s.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(')'))
            .map(str::to_owned)
    };
    if let Some(i) = inner("list(") {
        return CelType::List(Box::new(parse_type(&i)));
    }
    if let Some(i) = inner("optional(") {
        return CelType::Optional(Box::new(parse_type(&i)));
    }
    if let Some(i) = inner("type(") {
        return CelType::Type(Box::new(parse_type(&i)));
    }
    if let Some(i) = inner("map(") {
        let parts = split_top(&i);
        let k = parts.first().map_or(CelType::Dyn, |p| parse_type(p));
        let v = parts.get(1).map_or(CelType::Dyn, |p| parse_type(p));
        return CelType::Map(Box::new(k), Box::new(v));
    }
    match s {
        "int" => CelType::Int,
        "uint" => CelType::Uint,
        "double" => CelType::Double,
        "bool" => CelType::Bool,
        "string" => CelType::String,
        "bytes" => CelType::Bytes,
        "null" => CelType::Null,
        "dyn" => CelType::Dyn,
        "duration" => CelType::Duration,
        "timestamp" => CelType::Timestamp,
        p if p.len() == 1 && p.chars().all(|c| c.is_ascii_uppercase()) => {
            CelType::Param(p.to_owned())
        }
        other => CelType::Opaque(other.to_owned()),
    }
}

/// Splits at commas that are not inside parentheses.
pub(crate) fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}
