//! `${…}` scanning: finds the CEL expressions embedded in template strings, exactly as kro does.
//!
//! kro delimits an expression by `${` and the matching `}`. Braces inside double-quoted string
//! literals (with `\` escapes) are not counted; single quotes are *not* tracked (a kro quirk kept
//! for compatibility). A `${` inside an expression is an error unless it directly follows a `"`
//! (so `${"${VAR}"}` is the way to write a literal `${VAR}`). An unterminated `${` is an error, as
//! on kro's main branch (toward v0.10; kro v0.9 took it as plain text): write `${"${"}` for a
//! literal `${`.

use thiserror::Error;

/// A string field that contains `${` … `}` but cannot be scanned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScanError {
    /// `${a(${b})}`: an expression inside an expression, outside a string literal.
    #[error(
        "nested expressions are not allowed unless inside string literals: write ${{outer(\"${{inner}}\")}} to keep a literal ${{…}}"
    )]
    Nested,
    /// `abc ${x`: a `${` without its closing `}`.
    #[error(
        "unterminated expression: the \"${{\" at position {position} has no matching \"}}\" (close it, or write ${{\"${{\"}} for a literal \"${{\")"
    )]
    Unterminated {
        /// Where the `${` starts, in characters from the start of the string (0-based).
        position: usize,
    },
}

/// One piece of a string template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text copied as is.
    Text(String),
    /// A CEL expression (the text between `${` and `}`); its value must be a string.
    Expr(String),
}

/// What a string value in a template is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// No expression: the value is copied as is.
    Literal,
    /// The whole string is one `${expr}`: the field takes the expression's value and type.
    Standalone(String),
    /// Text and expressions mixed: the result is the concatenation, always a string.
    Template(Vec<Part>),
}

impl FieldValue {
    /// The expressions of this value, in order.
    pub fn expressions(&self) -> Vec<&str> {
        match self {
            FieldValue::Literal => Vec::new(),
            FieldValue::Standalone(e) => vec![e.as_str()],
            FieldValue::Template(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Expr(e) => Some(e.as_str()),
                    Part::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// One expression found in a string, with its byte range (including `${` and `}`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
}

fn find_all(s: &str) -> Result<Vec<Found>, ScanError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < b.len() {
        let Some(rel) = s[start..].find("${") else {
            break;
        };
        let open = start + rel;
        let mut depth = 1usize;
        let mut i = open + 2;
        let mut in_str = false;
        let mut escape = false;
        let mut closed = false;
        while i < b.len() {
            let c = b[i];
            if escape {
                escape = false;
                i += 1;
                continue;
            }
            if in_str && c == b'\\' {
                escape = true;
                i += 1;
                continue;
            }
            if c == b'"' {
                in_str = !in_str;
            } else if !in_str {
                if c == b'{' {
                    depth += 1;
                } else if c == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        closed = true;
                        break;
                    }
                } else if c == b'$' && b.get(i + 1) == Some(&b'{') && b[i - 1] != b'"' {
                    return Err(ScanError::Nested);
                }
            }
            i += 1;
        }
        if !closed {
            return Err(ScanError::Unterminated {
                position: s[..open].chars().count(),
            });
        }
        out.push(Found {
            start: open,
            end: i + 1,
        });
        start = i + 1;
    }
    Ok(out)
}

/// Every expression in `s`, in order (the text between `${` and its `}`).
pub fn extract_expressions(s: &str) -> Result<Vec<String>, ScanError> {
    Ok(find_all(s)?
        .into_iter()
        .map(|f| s[f.start + 2..f.end - 1].to_string())
        .collect())
}

/// Classifies a string field: literal, standalone expression or string template.
pub fn classify(s: &str) -> Result<FieldValue, ScanError> {
    let found = find_all(s)?;
    if found.is_empty() {
        return Ok(FieldValue::Literal);
    }
    if found.len() == 1 && found[0].start == 0 && found[0].end == s.len() {
        return Ok(FieldValue::Standalone(s[2..s.len() - 1].to_string()));
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for f in found {
        if f.start > at {
            parts.push(Part::Text(s[at..f.start].to_string()));
        }
        parts.push(Part::Expr(s[f.start + 2..f.end - 1].to_string()));
        at = f.end;
    }
    if at < s.len() {
        parts.push(Part::Text(s[at..].to_string()));
    }
    Ok(FieldValue::Template(parts))
}

/// The expression of a field that must be exactly one `${…}` (readyWhen, includeWhen, forEach,
/// status conditions), or `None` when the string is anything else.
pub fn standalone(s: &str) -> Result<Option<String>, ScanError> {
    match classify(s)? {
        FieldValue::Standalone(e) => Ok(Some(e)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Part {
        Part::Text(s.into())
    }
    fn e(s: &str) -> Part {
        Part::Expr(s.into())
    }

    #[test]
    fn classify_table() {
        let cases: Vec<(&str, Result<FieldValue, ScanError>)> = vec![
            ("plain", Ok(FieldValue::Literal)),
            ("", Ok(FieldValue::Literal)),
            ("$notanexpr", Ok(FieldValue::Literal)),
            (
                "${unterminated",
                Err(ScanError::Unterminated { position: 0 }),
            ),
            ("tail ${", Err(ScanError::Unterminated { position: 5 })),
            ("${\"}", Err(ScanError::Unterminated { position: 0 })),
            ("${a} ${b", Err(ScanError::Unterminated { position: 5 })),
            ("é ${x", Err(ScanError::Unterminated { position: 2 })),
            ("${\"${\"}", Ok(FieldValue::Standalone("\"${\"".into()))),
            ("$ {x", Ok(FieldValue::Literal)),
            ("${a.b}", Ok(FieldValue::Standalone("a.b".into()))),
            ("${{'a': 1}}", Ok(FieldValue::Standalone("{'a': 1}".into()))),
            (
                "${\"}\" + x}",
                Ok(FieldValue::Standalone("\"}\" + x".into())),
            ),
            (
                "${\"a\\\"}\" + x}",
                Ok(FieldValue::Standalone("\"a\\\"}\" + x".into())),
            ),
            (
                "${\"${VAR}\"}",
                Ok(FieldValue::Standalone("\"${VAR}\"".into())),
            ),
            (
                "${outer(\"${inner}\")}",
                Ok(FieldValue::Standalone("outer(\"${inner}\")".into())),
            ),
            ("${outer(${inner})}", Err(ScanError::Nested)),
            (
                "a-${x}-b",
                Ok(FieldValue::Template(vec![t("a-"), e("x"), t("-b")])),
            ),
            ("${x}${y}", Ok(FieldValue::Template(vec![e("x"), e("y")]))),
            ("${x} ", Ok(FieldValue::Template(vec![e("x"), t(" ")]))),
            ("${ unterminated ${x}", Err(ScanError::Nested)),
            ("${ {} ${x}", Err(ScanError::Nested)),
            (
                "pre ${a} mid ${b.c[0]} post",
                Ok(FieldValue::Template(vec![
                    t("pre "),
                    e("a"),
                    t(" mid "),
                    e("b.c[0]"),
                    t(" post"),
                ])),
            ),
            // kro only tracks double quotes: a `}` in single quotes ends the expression.
            (
                "${'a}b'}",
                Ok(FieldValue::Template(vec![e("'a"), t("b'}")])),
            ),
            ("$${x}", Ok(FieldValue::Template(vec![t("$"), e("x")]))),
        ];
        for (input, want) in cases {
            assert_eq!(classify(input), want, "input {input:?}");
        }
    }

    #[test]
    fn unterminated_is_an_error_with_its_position() {
        // `${a ${b}`: the first `${` meets a nested `${` before it could close → nested.
        assert_eq!(extract_expressions("${a ${b}"), Err(ScanError::Nested));
        let err = extract_expressions("x ${a} y ${").unwrap_err();
        assert_eq!(err, ScanError::Unterminated { position: 9 });
        assert_eq!(
            err.to_string(),
            r#"unterminated expression: the "${" at position 9 has no matching "}" (close it, or write ${"${"} for a literal "${")"#
        );
    }

    #[test]
    fn standalone_only() {
        assert_eq!(standalone("${a}"), Ok(Some("a".into())));
        assert_eq!(standalone(" ${a}"), Ok(None));
        assert_eq!(standalone("a"), Ok(None));
    }
}
