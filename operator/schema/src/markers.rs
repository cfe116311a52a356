//! SimpleSchema markers: parsing kro's `key=value` marker grammar (quotes, escapes, brackets)
//! and applying each marker to an OpenAPI schema.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSON, JSONSchemaProps, ValidationRule,
};

use crate::error::{ErrorKind, MarkerSyntaxError};

pub use crate::error::MARKER_NAMES;

/// A marker kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    /// `required=true|false`: adds the field to its parent's `required`.
    Required,
    /// `default=<value>`.
    Default,
    /// `description="..."`.
    Description,
    /// `enum="a,b,c"` (string or integer fields).
    Enum,
    /// `minimum=<number>`.
    Minimum,
    /// `maximum=<number>`.
    Maximum,
    /// `pattern="<regex>"` (string fields).
    Pattern,
    /// `minLength=<int>` (string fields).
    MinLength,
    /// `maxLength=<int>` (string fields).
    MaxLength,
    /// `uniqueItems=true` (array fields) → `x-kubernetes-list-type: set`.
    UniqueItems,
    /// `minItems=<int>` (array fields).
    MinItems,
    /// `maxItems=<int>` (array fields).
    MaxItems,
    /// `listType=atomic|set|map` (array fields).
    ListType,
    /// `listMapKey=<field>` (array fields with `listType=map`; repeatable).
    ListMapKey,
    /// `immutable=true` → CEL rule `self == oldSelf`.
    Immutable,
    /// `validation="<CEL>"` → CEL rule with message `validation failed`.
    Validation,
}

impl MarkerKind {
    /// Parses a marker key (case-sensitive, as kro).
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "required" => Self::Required,
            "default" => Self::Default,
            "description" => Self::Description,
            "enum" => Self::Enum,
            "minimum" => Self::Minimum,
            "maximum" => Self::Maximum,
            "pattern" => Self::Pattern,
            "minLength" => Self::MinLength,
            "maxLength" => Self::MaxLength,
            "uniqueItems" => Self::UniqueItems,
            "minItems" => Self::MinItems,
            "maxItems" => Self::MaxItems,
            "listType" => Self::ListType,
            "listMapKey" => Self::ListMapKey,
            "immutable" => Self::Immutable,
            "validation" => Self::Validation,
            _ => return None,
        })
    }

    /// The marker key as written.
    pub fn key(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Default => "default",
            Self::Description => "description",
            Self::Enum => "enum",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Pattern => "pattern",
            Self::MinLength => "minLength",
            Self::MaxLength => "maxLength",
            Self::UniqueItems => "uniqueItems",
            Self::MinItems => "minItems",
            Self::MaxItems => "maxItems",
            Self::ListType => "listType",
            Self::ListMapKey => "listMapKey",
            Self::Immutable => "immutable",
            Self::Validation => "validation",
        }
    }
}

/// One parsed marker: its kind and its value (quotes removed, `\"` and `\\` unescaped).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Which marker.
    pub kind: MarkerKind,
    /// The value.
    pub value: String,
}

/// Parses a marker list such as `required=true default="a b" enum="x,y"` with kro's grammar:
/// markers are separated by whitespace outside quotes and brackets; `=` splits key from value
/// only outside quotes and brackets; values may be double-quoted (with `\"` and `\\` escapes,
/// other backslash sequences kept verbatim) or bracketed (`[...]`, `{...}`).
pub fn parse_markers(input: &str) -> Result<Vec<Marker>, MarkerSyntaxError> {
    let mut result = Vec::new();
    let mut current: Option<MarkerKind> = None;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut brackets: i64 = 0;
    let mut buffer = String::new();

    for c in input.chars() {
        if c == '=' && current.is_none() && !in_quotes && brackets == 0 {
            let key = buffer.trim();
            if key.is_empty() {
                return Err(MarkerSyntaxError::EmptyKey);
            }
            let kind = MarkerKind::from_key(key)
                .ok_or_else(|| MarkerSyntaxError::UnknownMarker(key.to_string()))?;
            current = Some(kind);
            buffer.clear();
        } else if c == '"' && !escaped {
            in_quotes = !in_quotes;
            buffer.push(c);
        } else if c == '\\' && in_quotes && !escaped {
            escaped = true;
            buffer.push(c);
        } else if (c == '{' || c == '[') && !in_quotes {
            brackets += 1;
            buffer.push(c);
        } else if (c == '}' || c == ']') && !in_quotes {
            brackets -= 1;
            buffer.push(c);
            if brackets < 0 {
                return Err(MarkerSyntaxError::UnmatchedClosingBracket);
            }
        } else if c.is_whitespace() && !in_quotes && brackets == 0 {
            if let Some(kind) = current.take() {
                result.push(Marker {
                    kind,
                    value: process_value(&buffer),
                });
                buffer.clear();
            }
        } else {
            if escaped && in_quotes {
                escaped = false;
            }
            buffer.push(c);
        }
    }

    match current {
        Some(kind) => result.push(Marker {
            kind,
            value: process_value(&buffer),
        }),
        // Trailing whitespace after the last marker is fine (kro rejects it; accepting it is a
        // harmless relaxation). An empty marker list after `|` is an error, as in kro.
        None if result.is_empty() || !buffer.trim().is_empty() => {
            return Err(MarkerSyntaxError::MissingValue(buffer.trim().to_string()));
        }
        None => {}
    }
    if in_quotes {
        return Err(MarkerSyntaxError::UnclosedQuote);
    }
    if brackets > 0 {
        return Err(MarkerSyntaxError::UnclosedBracket);
    }
    Ok(result)
}

fn process_value(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        unescape(&value[1..value.len() - 1])
    } else {
        value.trim().to_string()
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if c != '"' && c != '\\' {
                out.push('\\');
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `strconv.ParseBool`, which kro uses for boolean markers.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn invalid(marker: MarkerKind, message: impl Into<String>) -> ErrorKind {
    ErrorKind::InvalidMarker {
        marker: marker.key(),
        message: message.into(),
    }
}

fn schema_type(schema: &JSONSchemaProps) -> &str {
    schema.type_.as_deref().unwrap_or("")
}

fn require_type(marker: MarkerKind, schema: &JSONSchemaProps, want: &str) -> Result<(), ErrorKind> {
    let got = schema_type(schema);
    if got == want {
        return Ok(());
    }
    let example = match want {
        "string" => "string",
        _ => "[]string",
    };
    Err(invalid(
        marker,
        format!(
            "{key} only applies to {want} fields, but this field is {got}; remove the marker or change the type (e.g. `{example} | {key}=...`)",
            key = marker.key(),
            got = if got.is_empty() { "untyped" } else { got },
        ),
    ))
}

fn parse_bool(marker: MarkerKind, value: &str) -> Result<bool, ErrorKind> {
    parse_go_bool(value).ok_or_else(|| {
        invalid(
            marker,
            format!(
                "{value:?} is not a boolean; write {key}=true or {key}=false",
                key = marker.key()
            ),
        )
    })
}

fn parse_int(marker: MarkerKind, value: &str) -> Result<i64, ErrorKind> {
    value.parse::<i64>().map_err(|_| {
        invalid(
            marker,
            format!(
                "{value:?} is not an integer; write e.g. {key}=1",
                key = marker.key()
            ),
        )
    })
}

fn parse_float(marker: MarkerKind, value: &str) -> Result<f64, ErrorKind> {
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(number),
        _ => Err(invalid(
            marker,
            format!(
                "{value:?} is not a finite number; write e.g. {key}=1 or {key}=0.5",
                key = marker.key()
            ),
        )),
    }
}

/// The JSON value of a `default=` marker for a schema of the given type.
fn default_value(schema: &JSONSchemaProps, value: &str) -> Result<serde_json::Value, ErrorKind> {
    let marker = MarkerKind::Default;
    match schema_type(schema) {
        "string" => Ok(serde_json::Value::String(value.to_string())),
        "integer" => value
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| {
                invalid(
                    marker,
                    format!("{value:?} is not an integer; write e.g. default=1"),
                )
            }),
        "number" => {
            let number = parse_float(marker, value)?;
            // Keep the number as written when it is valid JSON (so `1` stays `1`).
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(json @ serde_json::Value::Number(_)) => Ok(json),
                _ => serde_json::Number::from_f64(number)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| invalid(marker, format!("{value:?} is not a finite number"))),
            }
        }
        "boolean" => parse_bool(marker, value).map(serde_json::Value::Bool),
        other => serde_json::from_str::<serde_json::Value>(value).map_err(|e| {
            let example = if other == "array" {
                "default=[\"a\",\"b\"] or default=[80]"
            } else {
                "default={} or default={\"key\":\"value\"}"
            };
            invalid(
                marker,
                format!(
                    "{value:?} is not valid JSON for {article} {other} field ({e}); write e.g. {example}",
                    article = if other.starts_with(['a', 'o']) { "an" } else { "a" }
                ),
            )
        }),
    }
}

/// Applies markers left to right to `schema` (the field's schema). `required` adds `field` to
/// `parent_required`. After all markers, checks that `listMapKey` comes with `listType=map`.
pub(crate) fn apply_markers(
    schema: &mut JSONSchemaProps,
    markers: &[Marker],
    field: &str,
    parent_required: &mut Vec<String>,
) -> Result<(), ErrorKind> {
    for marker in markers {
        apply_marker(schema, marker, field, parent_required)?;
    }
    if schema.x_kubernetes_list_map_keys.is_some()
        && schema.x_kubernetes_list_type.as_deref() != Some("map")
    {
        return Err(invalid(
            MarkerKind::ListMapKey,
            "listMapKey requires listType=map; add `listType=map` to the markers",
        ));
    }
    Ok(())
}

fn apply_marker(
    schema: &mut JSONSchemaProps,
    marker: &Marker,
    field: &str,
    parent_required: &mut Vec<String>,
) -> Result<(), ErrorKind> {
    let kind = marker.kind;
    let value = marker.value.as_str();
    match kind {
        MarkerKind::Required => {
            if parse_bool(kind, value)? {
                parent_required.push(field.to_string());
            }
        }
        MarkerKind::Default => {
            schema.default = Some(JSON(default_value(schema, value)?));
        }
        MarkerKind::Description => schema.description = Some(value.to_string()),
        MarkerKind::Minimum => schema.minimum = Some(parse_float(kind, value)?),
        MarkerKind::Maximum => schema.maximum = Some(parse_float(kind, value)?),
        MarkerKind::Validation => {
            if value.trim().is_empty() {
                return Err(invalid(
                    kind,
                    "the CEL rule is empty; write e.g. validation=\"self.size() > 0\"",
                ));
            }
            schema
                .x_kubernetes_validations
                .get_or_insert_with(Vec::new)
                .push(ValidationRule {
                    rule: value.to_string(),
                    message: Some("validation failed".into()),
                    ..Default::default()
                });
        }
        MarkerKind::Immutable => {
            if parse_bool(kind, value)? {
                schema
                    .x_kubernetes_validations
                    .get_or_insert_with(Vec::new)
                    .push(ValidationRule {
                        rule: "self == oldSelf".into(),
                        message: Some("field is immutable".into()),
                        ..Default::default()
                    });
            }
        }
        MarkerKind::Enum => schema.enum_ = Some(enum_values(kind, schema, value)?),
        MarkerKind::MinLength => {
            require_type(kind, schema, "string")?;
            schema.min_length = Some(parse_int(kind, value)?);
        }
        MarkerKind::MaxLength => {
            require_type(kind, schema, "string")?;
            schema.max_length = Some(parse_int(kind, value)?);
        }
        MarkerKind::Pattern => {
            require_pattern(kind, schema, value)?;
            schema.pattern = Some(value.to_string());
        }
        MarkerKind::UniqueItems => {
            let unique = parse_bool(kind, value)?;
            require_type(kind, schema, "array")?;
            if unique {
                set_list_type(schema, kind, "set")?;
            }
        }
        MarkerKind::MinItems => {
            require_type(kind, schema, "array")?;
            schema.min_items = Some(parse_int(kind, value)?);
        }
        MarkerKind::MaxItems => {
            require_type(kind, schema, "array")?;
            schema.max_items = Some(parse_int(kind, value)?);
        }
        MarkerKind::ListType => {
            require_type(kind, schema, "array")?;
            if !matches!(value, "atomic" | "set" | "map") {
                return Err(invalid(
                    kind,
                    format!(
                        "{value:?} is not a list type; write listType=atomic, listType=set or listType=map"
                    ),
                ));
            }
            set_list_type(schema, kind, value)?;
        }
        MarkerKind::ListMapKey => add_list_map_key(kind, schema, value)?,
    }
    Ok(())
}

/// The values of an `enum` marker, typed after the field (strings or integers only).
fn enum_values(
    kind: MarkerKind,
    schema: &JSONSchemaProps,
    value: &str,
) -> Result<Vec<JSON>, ErrorKind> {
    let field_type = schema_type(schema).to_string();
    let mut values = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(invalid(
                kind,
                "empty enum values are not allowed; write comma-separated values, e.g. enum=\"a,b,c\"",
            ));
        }
        match field_type.as_str() {
            "string" => values.push(JSON(serde_json::Value::String(item.to_string()))),
            "integer" => {
                let number = item.parse::<i64>().map_err(|_| {
                    invalid(
                        kind,
                        format!("{item:?} is not an integer; an integer field's enum lists integers, e.g. enum=\"1,2,3\""),
                    )
                })?;
                values.push(JSON(serde_json::Value::from(number)));
            }
            _ => {
                return Err(invalid(
                    kind,
                    format!(
                        "enum values only supported for string and integer types, got type: {field_type}"
                    ),
                ));
            }
        }
    }
    Ok(values)
}

/// Checks a `pattern` marker: a non-empty regex on a string field.
fn require_pattern(
    kind: MarkerKind,
    schema: &JSONSchemaProps,
    value: &str,
) -> Result<(), ErrorKind> {
    if value.is_empty() {
        return Err(invalid(
            kind,
            "pattern marker value cannot be empty; write e.g. pattern=\"^[a-z]+$\"",
        ));
    }
    require_type(kind, schema, "string")?;
    if let Err(e) = regex::Regex::new(value) {
        return Err(invalid(
            kind,
            format!("invalid pattern regex {value:?}: {e}"),
        ));
    }
    Ok(())
}

/// Adds a `listMapKey` marker's key to an array field (each key once).
fn add_list_map_key(
    kind: MarkerKind,
    schema: &mut JSONSchemaProps,
    value: &str,
) -> Result<(), ErrorKind> {
    require_type(kind, schema, "array")?;
    if value.is_empty() {
        return Err(invalid(
            kind,
            "the key is empty; write e.g. listMapKey=name",
        ));
    }
    let keys = schema
        .x_kubernetes_list_map_keys
        .get_or_insert_with(Vec::new);
    if keys.iter().any(|key| key == value) {
        return Err(invalid(
            kind,
            format!("duplicate listMapKey {value:?}; list each key once"),
        ));
    }
    keys.push(value.to_string());
    Ok(())
}

fn set_list_type(
    schema: &mut JSONSchemaProps,
    kind: MarkerKind,
    list_type: &str,
) -> Result<(), ErrorKind> {
    match schema.x_kubernetes_list_type.as_deref() {
        Some(existing) if existing != list_type => Err(invalid(
            kind,
            format!(
                "conflicts with listType={existing}; uniqueItems=true means listType=set, keep only one of them"
            ),
        )),
        _ => {
            schema.x_kubernetes_list_type = Some(list_type.to_string());
            Ok(())
        }
    }
}
