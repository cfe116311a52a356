//! Values: JSON <-> CEL conversion in kro's style, done once per observed object.
//!
//! JSON integers become CEL `int` (cel's serde path would make them `uint`, so
//! `spec.replicas + 1` would fail), and with an OpenAPI schema the conversion follows kro's
//! `UnstructuredToVal`: `format: date-time`/`date` strings become timestamps, `format: byte`
//! becomes bytes, `format: duration` becomes a duration, `integer` fields written as `3.0`
//! become ints. Results go back to JSON as kro renders them: optionals unwrapped, timestamps as
//! RFC 3339 in UTC, durations as Go duration strings, `omit()` dropped, bytes rejected.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64_free::decode_base64;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull,
    CelOptional, CelString, CelTimestamp, CelUInt, Kind,
};
use cel::common::value::Val;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value as Json;

use crate::opaque::{Omit, clone_opaque, render_opaque};

/// A CEL value, already converted, cheap to clone and to bind into many evaluations.
#[derive(Clone)]
pub struct CelValue(pub(crate) Arc<dyn Val>);

impl fmt::Debug for CelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            Ok(Rendered::Value(v)) => write!(f, "CelValue({v})"),
            Ok(Rendered::Omit) => f.write_str("CelValue(omit)"),
            Err(_) => write!(f, "CelValue({:?})", self.0),
        }
    }
}

impl PartialEq for CelValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.equals(other.0.as_ref())
    }
}

/// A CEL result rendered for a Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// Put this JSON value in the field.
    Value(Json),
    /// The expression returned `omit()`: remove the field (or list element).
    Omit,
}

impl CelValue {
    /// Converts JSON without a schema: integers become `int` (or `uint` above `i64::MAX`),
    /// other numbers `double`, everything else the obvious CEL type.
    pub fn from_json(json: &Json) -> CelValue {
        CelValue(Arc::from(json_to_val(json, None)))
    }

    /// Converts JSON following its OpenAPI schema, as kro's `UnstructuredToVal` does: see the
    /// module documentation. Parts the schema does not describe are converted without it.
    pub fn from_json_with_schema(json: &Json, schema: &JSONSchemaProps) -> CelValue {
        CelValue(Arc::from(json_to_val(json, Some(schema))))
    }

    /// A list of already converted values (for collections and `forEach` results).
    pub fn list(items: impl IntoIterator<Item = CelValue>) -> CelValue {
        let items: Vec<Box<dyn Val>> = items
            .into_iter()
            .map(|item| item.0.clone_as_boxed())
            .collect();
        CelValue(Arc::new(CelList::from(items)))
    }

    /// A CEL string.
    pub fn string(s: impl Into<String>) -> CelValue {
        CelValue(Arc::new(CelString::from(s.into())))
    }

    /// A CEL int.
    pub fn int(i: i64) -> CelValue {
        CelValue(Arc::new(CelInt::from(i)))
    }

    /// A CEL bool.
    pub fn bool(b: bool) -> CelValue {
        CelValue(Arc::new(CelBool::from(b)))
    }

    /// CEL `null`.
    pub fn null() -> CelValue {
        CelValue(Arc::new(CelNull))
    }

    pub(crate) fn from_boxed(value: Box<dyn Val>) -> CelValue {
        CelValue(Arc::from(value))
    }

    /// The CEL runtime type name of the value (`int`, `map`, `optional_type`, `kro.omit`, ...).
    pub fn type_name(&self) -> &str {
        self.0.get_type().name()
    }

    /// The value as a bool: `bool`, or an optional holding one (`optional.none()` is `None`).
    pub fn as_bool(&self) -> Option<bool> {
        let value = unwrap_opt(self.0.as_ref())?;
        value.downcast_ref::<CelBool>().map(|b| *b.inner())
    }

    /// Whether the value is kro's `omit()` sentinel.
    pub fn is_omit(&self) -> bool {
        self.0.downcast_ref::<Omit>().is_some()
    }

    /// The elements when the value is a list (or an optional holding one).
    pub fn as_list(&self) -> Option<Vec<CelValue>> {
        let value = unwrap_opt(self.0.as_ref())?;
        let list = value.downcast_ref::<CelList>()?;
        Some(
            list.inner()
                .iter()
                .map(|item| CelValue(Arc::from(item.clone_as_boxed())))
                .collect(),
        )
    }

    /// Renders the value as kro writes it into an object; see the module documentation.
    ///
    /// # Errors
    /// A message naming what cannot be rendered and what to write instead (bytes, `uint` above
    /// `i64::MAX`, NaN, the opaque Kubernetes types, ...).
    pub fn to_json(&self) -> Result<Rendered, String> {
        Ok(match val_to_json(self.0.as_ref())? {
            Some(json) => Rendered::Value(json),
            None => Rendered::Omit,
        })
    }

    /// The value as the `cel` crate's owned enum, for callers that need it.
    ///
    /// # Errors
    /// When the value is of a type the enum cannot hold (kro's own and the Kubernetes types).
    pub fn to_cel_value(&self) -> Result<cel::Value, String> {
        cel::Value::try_from(self.0.as_ref()).map_err(|e| e.to_string())
    }
}

fn unwrap_opt<'a>(value: &'a (dyn Val + 'static)) -> Option<&'a (dyn Val + 'static)> {
    match value.downcast_ref::<CelOptional>() {
        Some(optional) => optional.option(),
        None => Some(value),
    }
}

fn schema_type(schema: &JSONSchemaProps) -> Option<&str> {
    schema.type_.as_deref()
}

fn items_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match schema.items.as_ref()? {
        JSONSchemaPropsOrArray::Schema(item) => Some(item),
        JSONSchemaPropsOrArray::Schemas(items) => items.first(),
    }
}

fn additional_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match schema.additional_properties.as_ref()? {
        JSONSchemaPropsOrBool::Schema(additional) => Some(additional),
        JSONSchemaPropsOrBool::Bool(_) => None,
    }
}

/// Stack kept free before a conversion recurses one level deeper, and the size of each extra
/// segment when it is not: instance data nests as deep as its decoder allowed, and a
/// conversion on a 2 MiB async worker must not overflow (the extra segments live on the heap).
const RED_ZONE: usize = 64 * 1024;
const STACK_SEGMENT: usize = 1024 * 1024;

/// JSON to a boxed CEL value, following `schema` where it has one.
pub(crate) fn json_to_val(json: &Json, schema: Option<&JSONSchemaProps>) -> Box<dyn Val> {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || json_to_val_here(json, schema))
}

fn json_to_val_here(json: &Json, schema: Option<&JSONSchemaProps>) -> Box<dyn Val> {
    match json {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(number) => {
            if let Some(int) = number.as_i64() {
                Box::new(CelInt::from(int))
            } else if let Some(uint) = number.as_u64() {
                Box::new(CelUInt::from(uint))
            } else {
                let float = number.as_f64().unwrap_or(f64::NAN);
                let wants_int = schema.and_then(schema_type) == Some("integer");
                if wants_int
                    && float.fract() == 0.0
                    && float > i64::MIN as f64
                    && float < i64::MAX as f64
                {
                    Box::new(CelInt::from(float as i64))
                } else {
                    Box::new(CelDouble::from(float))
                }
            }
        }
        Json::String(text) => string_to_val(text, schema),
        Json::Array(items) => {
            let item_schema = schema.and_then(items_schema);
            let list: Vec<Box<dyn Val>> = items
                .iter()
                .map(|item| json_to_val(item, item_schema))
                .collect();
            Box::new(CelList::from(list))
        }
        Json::Object(fields) => {
            let mut map: HashMap<CelMapKey<'static>, Box<dyn Val>> =
                HashMap::with_capacity(fields.len());
            for (name, field) in fields {
                let field_schema = schema.and_then(|object| {
                    object
                        .properties
                        .as_ref()
                        .and_then(|properties| properties.get(name))
                        .or_else(|| additional_schema(object))
                });
                map.insert(
                    CelMapKey::from(name.clone()),
                    json_to_val(field, field_schema),
                );
            }
            Box::new(CelMap::from(map))
        }
    }
}

fn string_to_val(s: &str, schema: Option<&JSONSchemaProps>) -> Box<dyn Val> {
    let Some(schema) = schema else {
        return Box::new(CelString::from(s.to_owned()));
    };
    if schema.x_kubernetes_int_or_string == Some(true) || schema_type(schema) != Some("string") {
        return Box::new(CelString::from(s.to_owned()));
    }
    match schema.format.as_deref() {
        Some("date-time") => {
            if let Ok(time) = chrono::DateTime::parse_from_rfc3339(s) {
                return Box::new(CelTimestamp::from(time));
            }
        }
        Some("date") => {
            if let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                let time = date
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .fixed_offset();
                return Box::new(CelTimestamp::from(time));
            }
        }
        Some("byte") => {
            if let Some(bytes) = decode_base64(s) {
                return Box::new(CelBytes::from(bytes));
            }
        }
        Some("duration") => {
            if let Some(duration) = parse_go_duration(s) {
                return Box::new(CelDuration::from(duration));
            }
        }
        _ => {}
    }
    Box::new(CelString::from(s.to_owned()))
}

/// Copies a value out of an evaluation into one that owns all its data.
pub(crate) fn to_static(v: &dyn Val) -> Result<Box<dyn Val>, String> {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || to_static_here(v))
}

fn to_static_here(v: &dyn Val) -> Result<Box<dyn Val>, String> {
    if let Some(string) = v.downcast_ref::<CelString>() {
        return Ok(Box::new(CelString::from(string.inner().to_owned())));
    }
    if let Some(bytes) = v.downcast_ref::<CelBytes>() {
        return Ok(Box::new(CelBytes::from(bytes.inner().to_vec())));
    }
    if let Some(list) = v.downcast_ref::<CelList>() {
        let items = list
            .inner()
            .iter()
            .map(|item| to_static(item.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Box::new(CelList::from(items)));
    }
    if let Some(map) = v.downcast_ref::<CelMap>() {
        let mut out: HashMap<CelMapKey<'static>, Box<dyn Val>> =
            HashMap::with_capacity(map.inner().len());
        for (k, val) in map.inner().iter() {
            out.insert(k.clone().into_static(), to_static(val.as_ref())?);
        }
        return Ok(Box::new(CelMap::from(out)));
    }
    if let Some(optional) = v.downcast_ref::<CelOptional>() {
        return Ok(Box::new(match optional.option() {
            Some(inner) => CelOptional::of(to_static(inner)?),
            None => CelOptional::none(),
        }));
    }
    if let Some(int) = v.downcast_ref::<CelInt>() {
        return Ok(Box::new(*int));
    }
    if let Some(uint) = v.downcast_ref::<CelUInt>() {
        return Ok(Box::new(*uint));
    }
    if let Some(double) = v.downcast_ref::<CelDouble>() {
        return Ok(Box::new(*double));
    }
    if let Some(bool) = v.downcast_ref::<CelBool>() {
        return Ok(Box::new(*bool));
    }
    if let Some(time) = v.downcast_ref::<CelTimestamp>() {
        return Ok(Box::new(time.clone()));
    }
    if let Some(duration) = v.downcast_ref::<CelDuration>() {
        return Ok(Box::new(*duration));
    }
    if v.get_type().kind() == Kind::NullType {
        return Ok(Box::new(CelNull));
    }
    if let Some(custom) = v.as_any().and_then(clone_opaque) {
        return Ok(custom);
    }
    let owned = cel::Value::try_from(v).map_err(|e| e.to_string())?;
    Box::<dyn Val>::try_from(owned).map_err(|e| e.to_string())
}

/// Renders a CEL value as JSON in kro's style. `Ok(None)` means `omit()`.
pub(crate) fn val_to_json(v: &dyn Val) -> Result<Option<Json>, String> {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || val_to_json_here(v))
}

fn val_to_json_here(v: &dyn Val) -> Result<Option<Json>, String> {
    if v.downcast_ref::<Omit>().is_some() {
        return Ok(None);
    }
    if let Some(optional) = v.downcast_ref::<CelOptional>() {
        return match optional.option() {
            Some(inner) => val_to_json(inner),
            None => Ok(Some(Json::Null)),
        };
    }
    let kind = v.get_type().kind();
    Ok(Some(match kind {
        Kind::NullType => Json::Null,
        Kind::Boolean => Json::Bool(v.downcast_ref::<CelBool>().is_some_and(|b| *b.inner())),
        Kind::Int => Json::from(v.downcast_ref::<CelInt>().map_or(0, |i| *i.inner())),
        Kind::UInt => {
            let uint = v.downcast_ref::<CelUInt>().map_or(0, |u| *u.inner());
            match i64::try_from(uint) {
                Ok(int) => Json::from(int),
                Err(_) => {
                    return Err(format!(
                        "uint value {uint} is larger than the largest integer a Kubernetes field holds"
                    ));
                }
            }
        }
        Kind::Double => {
            let double = v.downcast_ref::<CelDouble>().map_or(0.0, |d| *d.inner());
            match serde_json::Number::from_f64(double) {
                Some(number) => Json::Number(number),
                None => return Err(format!("double value {double} cannot be written as JSON")),
            }
        }
        Kind::String => Json::String(
            v.downcast_ref::<CelString>()
                .map(|s| s.inner().to_owned())
                .unwrap_or_default(),
        ),
        Kind::Bytes => {
            return Err("bytes value cannot be used directly in a resource template or status field; encode it explicitly, e.g. with base64.encode() or string()".to_owned());
        }
        Kind::Timestamp => match v.downcast_ref::<CelTimestamp>() {
            Some(time) => Json::String(format_timestamp(time.inner())),
            None => Json::Null,
        },
        Kind::Duration => match v.downcast_ref::<CelDuration>() {
            Some(duration) => Json::String(format_go_duration(duration.inner())),
            None => Json::Null,
        },
        Kind::List => {
            let iter = v
                .as_iterable()
                .ok_or_else(|| "list value cannot be iterated".to_owned())?;
            let mut items = iter.iter();
            let mut out = Vec::new();
            while let Some(item) = items.next() {
                if let Some(json) = val_to_json(item)? {
                    out.push(json);
                }
            }
            Json::Array(out)
        }
        Kind::Map => {
            let iter = v
                .as_iterable()
                .ok_or_else(|| "map value cannot be iterated".to_owned())?;
            let indexer = v
                .as_indexer()
                .ok_or_else(|| "map value cannot be indexed".to_owned())?;
            let mut items = iter.iter();
            let mut entries: Vec<(String, Json)> = Vec::new();
            while let Some(key) = items.next() {
                let key_text = match val_to_json(key)? {
                    Some(Json::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => continue,
                };
                let value = indexer.get(key).map_err(|e| e.to_string())?;
                if let Some(json) = val_to_json(value.as_ref())? {
                    entries.push((key_text, json));
                }
            }
            // Sorted whatever serde_json's map type, so rendered objects are deterministic.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        _ => {
            if let Some(rendered) = render_opaque(v) {
                return rendered.map(Some);
            }
            return Err(format!(
                "a value of type {} cannot be used directly in a resource template or status field; convert it with string() first",
                v.get_type().name()
            ));
        }
    }))
}

/// metav1.Time rendering: RFC 3339 in UTC, whole seconds, `Z`.
pub(crate) fn format_timestamp(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Go's `time.Duration.String()`: `1h30m0s`, `1.5s`, `500ms`, `0s`.
pub(crate) fn format_go_duration(d: &chrono::Duration) -> String {
    let nanos = d
        .num_nanoseconds()
        .map_or_else(|| i128::from(d.num_seconds()) * 1_000_000_000, i128::from);
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        let (scale, unit) = if u < 1_000 {
            (1, "ns")
        } else if u < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        out.push_str(&frac(u, scale));
        out.push_str(unit);
        return out;
    }
    let hours = u / 3_600_000_000_000;
    let rem = u % 3_600_000_000_000;
    let minutes = rem / 60_000_000_000;
    let sec_nanos = rem % 60_000_000_000;
    if hours > 0 {
        out.push_str(&format!("{hours}h{minutes}m"));
    } else if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&frac(sec_nanos, 1_000_000_000));
    out.push('s');
    out
}

fn frac(v: u128, scale: u128) -> String {
    let int = v / scale;
    let f = v % scale;
    if f == 0 {
        return int.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{f:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Parses a Go duration string (`1h30m`, `1.5s`, `300ms`, `-2m`).
pub(crate) fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let amount: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += amount * scale;
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return None;
    }
    let nanos = total.round() as i64;
    Some(chrono::Duration::nanoseconds(if neg {
        -nanos
    } else {
        nanos
    }))
}

/// Standard base64 without pulling another crate in: Kubernetes `format: byte` fields.
mod base64_free {
    pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
        fn val(c: u8) -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            })
        }
        let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        let trimmed: &[u8] = {
            let mut end = bytes.len();
            while end > 0 && bytes[end - 1] == b'=' {
                end -= 1;
            }
            &bytes[..end]
        };
        if !bytes.len().is_multiple_of(4) || bytes.len() - trimmed.len() > 2 {
            return None;
        }
        let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
        for chunk in trimmed.chunks(4) {
            let mut acc: u32 = 0;
            for (i, c) in chunk.iter().enumerate() {
                acc |= val(*c)? << (18 - 6 * i);
            }
            let len = chunk.len();
            out.push((acc >> 16) as u8);
            if len > 2 {
                out.push((acc >> 8) as u8);
            }
            if len > 3 {
                out.push(acc as u8);
            }
            if len == 1 {
                return None;
            }
        }
        Some(out)
    }
}
