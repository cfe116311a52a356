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
    pub fn parse(s: &str) -> Self {
        let mut out = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let mut rest = part;
            if let Some(i) = rest.find('[') {
                out.push(Segment::Field(rest[..i].to_string()));
                rest = &rest[i..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let Some(end) = stripped.find(']') else { break };
                    if let Ok(n) = stripped[..end].parse() {
                        out.push(Segment::Index(n));
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
        let mut v = self.0.clone();
        v.push(Segment::Field(name.to_string()));
        Self(v)
    }

    /// This path followed by a list index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Index(i));
        Self(v)
    }

    /// True when the path is exactly the given dotted keys.
    pub fn is(&self, keys: &[&str]) -> bool {
        self.0.len() == keys.len()
            && self
                .0
                .iter()
                .zip(keys)
                .all(|(s, k)| matches!(s, Segment::Field(f) if f == k))
    }

    /// True when the path starts with the given keys.
    pub fn starts_with(&self, keys: &[&str]) -> bool {
        self.0.len() >= keys.len()
            && self
                .0
                .iter()
                .zip(keys)
                .all(|(s, k)| matches!(s, Segment::Field(f) if f == k))
    }

    /// The value at this path in `root`, if any.
    pub fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut cur = root;
        for s in &self.0 {
            cur = match (s, cur) {
                (Segment::Field(f), Value::Object(m)) => m.get(f)?,
                (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Mutable access to the value at this path in `root`, if any.
    pub fn get_mut<'a>(&self, root: &'a mut Value) -> Option<&'a mut Value> {
        let mut cur = root;
        for s in &self.0 {
            cur = match (s, cur) {
                (Segment::Field(f), Value::Object(m)) => m.get_mut(f)?,
                (Segment::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Segment::Field(k) if plain_key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Field(k) => write!(f, "[{k:?}]")?,
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
    let mut w = Walk::default();
    walk_into(value, base, &mut w);
    w
}

fn walk_into(value: &Value, path: &FieldPath, w: &mut Walk) {
    match value {
        Value::String(s) => match scan::classify(s) {
            Ok(FieldValue::Literal) => w.literals.push(path.clone()),
            Ok(v) => w.fields.push(FoundField {
                path: path.clone(),
                value: v,
            }),
            Err(e) => w.errors.push((path.clone(), e)),
        },
        Value::Object(m) => {
            if m.is_empty() {
                w.literals.push(path.clone());
            }
            for (k, v) in m {
                walk_into(v, &path.field(k), w);
            }
        }
        Value::Array(a) => {
            if a.is_empty() {
                w.literals.push(path.clone());
            }
            for (i, v) in a.iter().enumerate() {
                walk_into(v, &path.index(i), w);
            }
        }
        _ => w.literals.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_and_parse() {
        let p = FieldPath::root()
            .field("metadata")
            .field("labels")
            .field("app.kubernetes.io/name");
        assert_eq!(p.to_string(), "metadata.labels[\"app.kubernetes.io/name\"]");
        let p = FieldPath::parse("spec.ports[0].port");
        assert_eq!(p.to_string(), "spec.ports[0].port");
        assert_eq!(
            p.0,
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
        let v = json!({
            "metadata": {"name": "${schema.spec.name}", "labels": {"${k}": "v"}},
            "spec": {"ports": [{"port": "${schema.spec.port}"}, {"port": 80}], "x": "a-${b}"}
        });
        let w = walk(&v, &FieldPath::root());
        let got: Vec<String> = w.fields.iter().map(|f| f.path.to_string()).collect();
        assert_eq!(got, vec!["metadata.name", "spec.ports[0].port", "spec.x"]);
        assert!(
            w.literals
                .contains(&FieldPath::parse("metadata.labels.${k}"))
        );
        let p = FieldPath::parse("spec.ports[1].port");
        assert_eq!(p.get(&v), Some(&json!(80)));
    }
}
