//! Field paths inside a template (`spec.containers[0].image`) and the walk that finds every
//! `${…}` in a template together with its path.

use std::fmt;

use serde_json::Value;

use crate::scan::{self, FieldValue, ScanError};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A map key.
    Field(String),
    /// A list index.
    Index(usize),
}

/// A path from the root of a template to one of its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// The empty path (the root).
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Parses a dotted path such as `metadata.name` or `spec.ports[0].port` (keys only; no
    /// quoting). Used by tests and by callers naming well-known fields.
    pub fn parse(dotted: &str) -> Self {
        let mut out = Vec::new();
        for part in dotted.split('.').filter(|part| !part.is_empty()) {
            let mut rest = part;
            if let Some(bracket) = rest.find('[') {
                out.push(Segment::Field(rest[..bracket].to_string()));
                rest = &rest[bracket..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let Some(end) = stripped.find(']') else { break };
                    if let Ok(index) = stripped[..end].parse() {
                        out.push(Segment::Index(index));
                    }
                    rest = &stripped[end + 1..];
                }
            } else {
                out.push(Segment::Field(rest.to_string()));
            }
        }
        Self(out)
    }

    /// This path followed by a key.
    pub fn field(&self, name: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Field(name.to_string()));
        Self(segments)
    }

    /// This path followed by a list index.
    pub fn index(&self, i: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(i));
        Self(segments)
    }

    /// True when the path is exactly the given dotted keys.
    pub fn is(&self, keys: &[&str]) -> bool {
        self.0.len() == keys.len()
            && self
                .0
                .iter()
                .zip(keys)
                .all(|(segment, key)| matches!(segment, Segment::Field(field) if field == key))
    }

    /// True when the path starts with the given keys.
    pub fn starts_with(&self, keys: &[&str]) -> bool {
        self.0.len() >= keys.len()
            && self
                .0
                .iter()
                .zip(keys)
                .all(|(segment, key)| matches!(segment, Segment::Field(field) if field == key))
    }

    /// The value at this path in `root`, if any.
    pub fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut cur = root;
        for segment in &self.0 {
            cur = match (segment, cur) {
                (Segment::Field(key), Value::Object(map)) => map.get(key)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Mutable access to the value at this path in `root`, if any.
    pub fn get_mut<'a>(&self, root: &'a mut Value) -> Option<&'a mut Value> {
        let mut cur = root;
        for segment in &self.0 {
            cur = match (segment, cur) {
                (Segment::Field(key), Value::Object(map)) => map.get_mut(key)?,
                (Segment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Field(key) if plain_key(key) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Field(key) => write!(f, "[{key:?}]")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// A string value of a template holding at least one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundField {
    /// Where the string is.
    pub path: FieldPath,
    /// Standalone expression or string template.
    pub value: FieldValue,
}

/// The result of walking a template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Every string with expressions, in document order (maps in key order).
    pub fields: Vec<FoundField>,
    /// Paths of leaves that hold no expression.
    pub literals: Vec<FieldPath>,
    /// Strings that could not be scanned, with why.
    pub errors: Vec<(FieldPath, ScanError)>,
}

/// Finds every `${…}` in `value` (map keys are never scanned, as in kro).
pub fn walk(value: &Value, base: &FieldPath) -> Walk {
    let mut found = Walk::default();
    walk_into(value, base, &mut found);
    found
}

fn walk_into(value: &Value, path: &FieldPath, found: &mut Walk) {
    match value {
        Value::String(text) => match scan::classify(text) {
            Ok(FieldValue::Literal) => found.literals.push(path.clone()),
            Ok(field) => found.fields.push(FoundField {
                path: path.clone(),
                value: field,
            }),
            Err(e) => found.errors.push((path.clone(), e)),
        },
        Value::Object(map) => {
            if map.is_empty() {
                found.literals.push(path.clone());
            }
            for (k, v) in map {
                walk_into(v, &path.field(k), found);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                found.literals.push(path.clone());
            }
            for (i, item) in items.iter().enumerate() {
                walk_into(item, &path.index(i), found);
            }
        }
        _ => found.literals.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_and_parse() {
        let path = FieldPath::root()
            .field("metadata")
            .field("labels")
            .field("app.kubernetes.io/name");
        assert_eq!(
            path.to_string(),
            "metadata.labels[\"app.kubernetes.io/name\"]"
        );
        let path = FieldPath::parse("spec.ports[0].port");
        assert_eq!(path.to_string(), "spec.ports[0].port");
        assert_eq!(
            path.0,
            vec![
                Segment::Field("spec".into()),
                Segment::Field("ports".into()),
                Segment::Index(0),
                Segment::Field("port".into())
            ]
        );
    }

    #[test]
    fn walk_finds_paths() {
        let template = json!({
            "metadata": {"name": "${schema.spec.name}", "labels": {"${k}": "v"}},
            "spec": {"ports": [{"port": "${schema.spec.port}"}, {"port": 80}], "x": "a-${b}"}
        });
        let found = walk(&template, &FieldPath::root());
        let got: Vec<String> = found
            .fields
            .iter()
            .map(|field| field.path.to_string())
            .collect();
        assert_eq!(got, vec!["metadata.name", "spec.ports[0].port", "spec.x"]);
        assert!(
            found
                .literals
                .contains(&FieldPath::parse("metadata.labels.${k}"))
        );
        let path = FieldPath::parse("spec.ports[1].port");
        assert_eq!(path.get(&template), Some(&json!(80)));
    }
}
