//! Values as error messages may show them: their type and size, never their content.
//!
//! Evaluated values come from instances and observed objects (a Secret's `data` among them),
//! and error messages end up in status conditions, events and logs that more people can read
//! than the data. So messages say "a string of 14 bytes" or "a map with 3 entries" where they
//! would otherwise quote the value; the expression itself (the RGD author's text) may still be
//! quoted.

use cel::Value as Cel;
use serde_json::Value as Json;

/// `n` followed by `one` or `many`, e.g. `1 byte`, `3 bytes`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A string as a message may show it: `a string of 14 bytes`.
pub fn describe_str(text: &str) -> String {
    format!("a string of {}", count(text.len(), "byte", "bytes"))
}

/// A JSON value as a message may show it: its type and size.
pub fn describe_json(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(_) => "a bool".to_owned(),
        Json::Number(number) if number.is_i64() || number.is_u64() => "an int".to_owned(),
        Json::Number(_) => "a double".to_owned(),
        Json::String(text) => describe_str(text),
        Json::Array(items) => format!("a list of {}", count(items.len(), "item", "items")),
        Json::Object(fields) => format!("a map with {}", count(fields.len(), "entry", "entries")),
    }
}

/// A CEL runtime value as a message may show it: its type and size.
pub fn describe_value(value: &Cel) -> String {
    match value {
        Cel::Null => "null".to_owned(),
        Cel::Bool(_) => "a bool".to_owned(),
        Cel::Int(_) => "an int".to_owned(),
        Cel::UInt(_) => "a uint".to_owned(),
        Cel::Float(_) => "a double".to_owned(),
        Cel::String(text) => describe_str(text),
        Cel::Bytes(bytes) => format!("bytes of length {}", bytes.len()),
        Cel::List(items) => format!("a list of {}", count(items.len(), "item", "items")),
        Cel::Map(map) => format!("a map with {}", count(map.map.len(), "entry", "entries")),
        Cel::Duration(_) => "a duration".to_owned(),
        Cel::Timestamp(_) => "a timestamp".to_owned(),
        Cel::Function(name, _) => format!("the function {name}"),
        Cel::Opaque(opaque) => format!("a {}", opaque.runtime_type_name()),
        Cel::Struct(object) => format!("a {}", object.name()),
    }
}

/// A CEL execution error as a message may show it: the operands it carries described by
/// [`describe_value`]; errors that carry no values keep the interpreter's text.
// cel 0.15 deprecates a few of these variants but still defines them: describe them too.
#[allow(deprecated)]
pub fn describe_error(error: &cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    let d = describe_value;
    match error {
        E::UnsupportedTargetType { target } => format!("invalid argument type: {}", d(target)),
        E::NotSupportedAsMethod { method, target } => {
            format!("method '{method}' not supported on {}", d(target))
        }
        E::UnsupportedKeyType(key) => format!("unable to use {} as a key", d(key)),
        E::ValuesNotComparable(a, b) => format!("{} can not be compared to {}", d(a), d(b)),
        E::UnsupportedUnaryOperator(op, v) => {
            format!("unsupported unary operator '{op}' on {}", d(v))
        }
        E::UnsupportedBinaryOperator(op, a, b) => {
            format!(
                "unsupported binary operator '{op}' on {} and {}",
                d(a),
                d(b)
            )
        }
        E::UnsupportedMapIndex(v) => format!("cannot use {} as map index", d(v)),
        E::UnsupportedListIndex(v) => format!("cannot use {} as list index", d(v)),
        E::UnsupportedIndex(index, target) => {
            format!("cannot use {} to index {}", d(index), d(target))
        }
        E::DivisionByZero(v) => format!("division by zero of {}", d(v)),
        E::RemainderByZero(v) => format!("remainder by zero of {}", d(v)),
        E::Overflow(op, a, b) => {
            format!(
                "overflow from binary operator '{op}' on {} and {}",
                d(a),
                d(b)
            )
        }
        E::IndexOutOfBounds(index) => format!("index out of bounds: {}", d(index)),
        E::DuplicateKey(key) => format!("repeated key {}", d(key)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    #[test]
    fn json_values_read_as_type_and_size() {
        for (value, want) in [
            (json!("s3cr3t-canary!"), "a string of 14 bytes"),
            (json!("x"), "a string of 1 byte"),
            (json!({"a": 1, "b": 2, "c": 3}), "a map with 3 entries"),
            (json!({"a": 1}), "a map with 1 entry"),
            (json!(["a", "b"]), "a list of 2 items"),
            (json!(42), "an int"),
            (json!(4.2), "a double"),
            (json!(true), "a bool"),
            (json!(null), "null"),
        ] {
            assert_eq!(describe_json(&value), want, "{value}");
        }
    }

    #[test]
    fn cel_values_and_errors_never_show_the_value() {
        let secret = Cel::String(Arc::new("hunter2-canary".to_owned()));
        assert_eq!(describe_value(&secret), "a string of 14 bytes");
        assert_eq!(
            describe_value(&Cel::List(Arc::new(vec![secret.clone()]))),
            "a list of 1 item"
        );
        let error = cel::ExecutionError::UnsupportedBinaryOperator("add", secret, Cel::Int(1));
        assert!(
            error.to_string().contains("hunter2"),
            "cel's own text quotes it"
        );
        assert_eq!(
            describe_error(&error),
            "unsupported binary operator 'add' on a string of 14 bytes and an int"
        );
        let no_values = cel::ExecutionError::function_error("f", "boom");
        assert_eq!(describe_error(&no_values), no_values.to_string());
    }
}
