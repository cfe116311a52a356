//! IAM policy documents: the URL-decoding of what IAM returns (GetRole, GetRolePolicy and
//! GetPolicyVersion send documents URL-encoded) and a canonical form, so that a document
//! compares equal to every spelling IAM treats as the same policy and nothing perpetually diffs.

use serde_json::{Map, Value};

/// Keys whose value IAM reads as a set of strings: a single string and a one-element list are
/// the same, and order and repeats do not matter.
const SET_KEYS: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// Keys holding a principal: `"*"`, or an object of principal type to a string or a list.
const PRINCIPAL_KEYS: &[&str] = &["Principal", "NotPrincipal"];

/// The document as written by a user from what IAM returns: URL-decoded (RFC 3986
/// percent-encoding; `+` stays a plus, as IAM encodes a plus as `%2B`). A document that is
/// already JSON (it starts with `{`) is returned unchanged, so decoding twice is harmless.
pub fn decode(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        return doc.to_owned();
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a document cannot be compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the policy document is not a JSON object: {0}")]
pub struct NotJson(pub String);

/// The canonical form of a policy document: JSON (so key order and whitespace are gone), a
/// single statement as a one-element list, statements in a fixed order, every set-valued field
/// (`Action`, `NotAction`, `Resource`, `NotResource`, each principal type, each condition
/// value) as a sorted list without repeats.
pub fn canonical(doc: &str) -> Result<Value, NotJson> {
    let value: Value = serde_json::from_str(&decode(doc)).map_err(|e| NotJson(e.to_string()))?;
    let Value::Object(top) = value else {
        return Err(NotJson("the top level is not an object".into()));
    };
    let mut out = Map::new();
    for (k, v) in top {
        let v = if k == "Statement" {
            let list = match v {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut statements: Vec<Value> = list.into_iter().map(statement).collect();
            statements.sort_by_cached_key(Value::to_string);
            Value::Array(statements)
        } else {
            v
        };
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

/// True when the two documents are the same policy for IAM. Documents that are not JSON are
/// equal only when they are the same text (as ACK: then any difference is a change to send, and
/// IAM's answer to it, `MalformedPolicyDocument`, is what the user sees).
pub fn equal(desired: &str, observed: &str) -> bool {
    if desired == observed {
        return true;
    }
    match (canonical(desired), canonical(observed)) {
        (Ok(a), Ok(b)) => a == b,
        _ => decode(desired) == decode(observed),
    }
}

fn statement(v: Value) -> Value {
    let Value::Object(fields) = v else {
        return v;
    };
    let mut out = Map::new();
    for (k, v) in fields {
        let v = if SET_KEYS.contains(&k.as_str()) {
            set(v)
        } else if PRINCIPAL_KEYS.contains(&k.as_str()) {
            match v {
                Value::Object(m) => {
                    Value::Object(m.into_iter().map(|(t, p)| (t, set(p))).collect())
                }
                other => other,
            }
        } else if k == "Condition" {
            match v {
                Value::Object(ops) => Value::Object(
                    ops.into_iter()
                        .map(|(op, keys)| match keys {
                            Value::Object(m) => (
                                op,
                                Value::Object(
                                    m.into_iter().map(|(ck, cv)| (ck, set(cv))).collect(),
                                ),
                            ),
                            other => (op, other),
                        })
                        .collect(),
                ),
                other => other,
            }
        } else {
            v
        };
        out.insert(k, v);
    }
    Value::Object(out)
}

/// A value IAM reads as a set: a sorted list without repeats.
fn set(v: Value) -> Value {
    let mut items = match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    items.sort_by_cached_key(Value::to_string);
    items.dedup();
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_undoes_iams_url_encoding() {
        // What moto (and IAM) return for {"x": "a+b c%"}: %2B for a plus, %20 for a space.
        let encoded = "%7B%22x%22%3A%20%22a%2Bb%20c%25%22%7D";
        assert_eq!(decode(encoded), r#"{"x": "a+b c%"}"#);
        assert_eq!(
            decode(r#"{"x": "100%25"}"#),
            r#"{"x": "100%25"}"#,
            "JSON stays"
        );
        assert_eq!(decode("%7B%zz"), "{%zz", "a broken escape stays literal");
        assert_eq!(decode("%7B%2"), "{%2");
    }

    #[test]
    fn equal_spellings_of_one_policy() {
        let base = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let same = [
            // whitespace and key order
            r#"{ "Statement": [ { "Resource": "*", "Action": "s3:GetObject", "Effect": "Allow" } ],
                 "Version": "2012-10-17" }"#,
            // one-element lists
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
            // a single statement object
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            // URL-encoded, as GetPolicyVersion returns it
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3AGetObject%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%5D%7D",
        ];
        for doc in same {
            assert!(equal(base, doc), "{doc}");
            assert!(equal(doc, base), "{doc}");
        }
        let different = [
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:GetObject","Resource":"*"}]}"#,
        ];
        for doc in different {
            assert!(!equal(base, doc), "{doc}");
        }
    }

    #[test]
    fn statements_principals_and_conditions_compare_as_sets() {
        let a = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"1","Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole",
             "Condition":{"StringEquals":{"aws:SourceAccount":["111","222"]}}},
            {"Sid":"2","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutObject"],"Resource":"*"}]}"#;
        let b = r#"{"Statement":[
            {"Sid":"2","Effect":"Deny","Principal":"*","Action":["s3:PutObject","s3:DeleteObject","s3:PutObject"],"Resource":["*"]},
            {"Sid":"1","Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]},"Action":["sts:AssumeRole"],
             "Condition":{"StringEquals":{"aws:SourceAccount":["222","111"]}}}],"Version":"2012-10-17"}"#;
        assert!(equal(a, b));
        let one = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
        let listed = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111:root"]},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":["true"]}}}]}"#;
        assert!(equal(one, listed));
        let other_value = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;
        assert!(!equal(one, other_value));
        let other_principal = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
        assert!(!equal(one, other_principal));
    }

    #[test]
    fn documents_that_are_not_json_compare_as_text() {
        assert!(equal("not json", "not json"));
        assert!(!equal("not json", "not json either"));
        assert!(!equal(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            "{invalid"
        ));
        assert!(canonical("[1]").is_err());
        assert!(canonical("{").is_err());
    }
}
