//! SimpleSchema type expressions: `string`, `integer`, `boolean`, `float`, `object`, `[]T`,
//! `map[string]T` and custom type names, parsed from the text before the first `|`.

use crate::error::ErrorKind;

/// Deepest `[]` / `map[string]` nesting kro accepts in one type expression.
pub const MAX_TYPE_NESTING: usize = 16;

/// A parsed type expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExpr {
    /// `string` → `type: string`.
    String,
    /// `integer` → `type: integer`.
    Integer,
    /// `boolean` → `type: boolean`.
    Boolean,
    /// `float` → `type: number`.
    Float,
    /// `object` → `type: object` with `x-kubernetes-preserve-unknown-fields: true`.
    Object,
    /// `[]T` → `type: array, items: T`.
    Slice(Box<TypeExpr>),
    /// `map[string]T` → `type: object, additionalProperties: T`.
    Map(Box<TypeExpr>),
    /// Any other name: a reference to `spec.schema.types.<name>`.
    Custom(String),
}

impl TypeExpr {
    /// Names of the custom types this expression refers to.
    pub fn custom_refs(&self) -> Vec<&str> {
        match self {
            TypeExpr::Slice(t) | TypeExpr::Map(t) => t.custom_refs(),
            TypeExpr::Custom(name) => vec![name.as_str()],
            _ => Vec::new(),
        }
    }
}

/// Splits a field string into its type text (before the first `|`, trimmed) and its marker
/// text (after the first `|`, if any).
pub fn split_field(s: &str) -> (&str, Option<&str>) {
    match s.split_once('|') {
        Some((ty, markers)) => (ty.trim(), Some(markers)),
        None => (s.trim(), None),
    }
}

/// Parses a type expression (no markers).
pub fn parse_type(s: &str) -> Result<TypeExpr, ErrorKind> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ErrorKind::EmptyType);
    }
    parse_with_depth(s, s, 0)
}

fn parse_with_depth(whole: &str, s: &str, depth: usize) -> Result<TypeExpr, ErrorKind> {
    if depth > MAX_TYPE_NESTING {
        return Err(ErrorKind::NestingTooDeep(whole.to_string()));
    }
    let s = s.trim();
    match s {
        "string" => return Ok(TypeExpr::String),
        "integer" => return Ok(TypeExpr::Integer),
        "boolean" => return Ok(TypeExpr::Boolean),
        "float" => return Ok(TypeExpr::Float),
        "object" => return Ok(TypeExpr::Object),
        "" => return Err(ErrorKind::EmptyType),
        _ => {}
    }
    if let Some(elem) = s.strip_prefix("[]") {
        if elem.is_empty() {
            return Err(ErrorKind::EmptySliceElement);
        }
        return Ok(TypeExpr::Slice(Box::new(parse_with_depth(
            whole,
            elem,
            depth + 1,
        )?)));
    }
    if s.starts_with("map[") {
        let Some(rest) = s.strip_prefix("map[string]") else {
            return Err(ErrorKind::MapKeyNotString);
        };
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(ErrorKind::MapValueMissing);
        }
        return Ok(TypeExpr::Map(Box::new(parse_with_depth(
            whole,
            rest,
            depth + 1,
        )?)));
    }
    Ok(TypeExpr::Custom(s.to_string()))
}

/// A hint for an unknown type name: the built-in type the author probably meant.
pub(crate) fn unknown_type_hint(name: &str, known: &[&str]) -> String {
    let builtin = match name {
        "int" | "int32" | "int64" | "uint" | "long" => Some("integer"),
        "number" | "double" | "float64" | "float32" | "decimal" => Some("float"),
        "bool" => Some("boolean"),
        "str" | "String" | "text" => Some("string"),
        "map" | "dict" | "Object" | "any" => Some("object"),
        _ => None,
    };
    if let Some(b) = builtin {
        return format!("; did you mean `{b}`?");
    }
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return format!("; did you mean `{k}` (type names are case-sensitive)?");
    }
    if known.is_empty() {
        "; use a built-in type (string, integer, boolean, float, object, []T, map[string]T) or define it under spec.schema.types".into()
    } else {
        format!(
            "; use a built-in type (string, integer, boolean, float, object, []T, map[string]T) or one of spec.schema.types: {}",
            known.join(", ")
        )
    }
}
