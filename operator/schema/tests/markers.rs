//! Table tests of kro's marker grammar: separators, quoting, escapes, brackets and every
//! syntax error.

#![allow(clippy::unwrap_used)]

use kro_schema::{MarkerKind, MarkerSyntaxError, parse_markers};

type Parsed = Result<Vec<(&'static str, String)>, MarkerSyntaxError>;

fn parsed(input: &str) -> Parsed {
    parse_markers(input).map(|ms| ms.into_iter().map(|m| (m.kind.key(), m.value)).collect())
}

fn ok(pairs: &[(&'static str, &str)]) -> Parsed {
    Ok(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

#[test]
fn valid_marker_lists() {
    let cases: Vec<(&str, Parsed)> = vec![
        ("required=true", ok(&[("required", "true")])),
        (" required=true ", ok(&[("required", "true")])),
        (
            "required=true default=5",
            ok(&[("required", "true"), ("default", "5")]),
        ),
        (
            "required=true\tdefault=5",
            ok(&[("required", "true"), ("default", "5")]),
        ),
        (
            r#"description="a value with spaces""#,
            ok(&[("description", "a value with spaces")]),
        ),
        (
            r#"description="say \"hi\"""#,
            ok(&[("description", "say \"hi\"")]),
        ),
        (
            r#"description="back\\slash""#,
            ok(&[("description", "back\\slash")]),
        ),
        // Other escapes are kept verbatim, so regexes survive.
        (r#"pattern="^\d+\.\w$""#, ok(&[("pattern", "^\\d+\\.\\w$")])),
        (r#"default="""#, ok(&[("default", "")])),
        ("default=[80, 443]", ok(&[("default", "[80, 443]")])),
        (
            r#"default={"a": [1, 2], "b": {"c": "d e"}} required=false"#,
            ok(&[
                ("default", r#"{"a": [1, 2], "b": {"c": "d e"}}"#),
                ("required", "false"),
            ]),
        ),
        // `=` inside quotes or brackets does not split; the first `=` outside does.
        (
            r#"validation="self == oldSelf""#,
            ok(&[("validation", "self == oldSelf")]),
        ),
        ("validation=self==1", ok(&[("validation", "self==1")])),
        (r#"enum="a,b, c""#, ok(&[("enum", "a,b, c")])),
        (
            "listMapKey=a listMapKey=b",
            ok(&[("listMapKey", "a"), ("listMapKey", "b")]),
        ),
        // An unquoted value keeps inner quotes that do not wrap it.
        (r#"description=a"b"c"#, ok(&[("description", "a\"b\"c")])),
        // `key =value`: whitespace before `=` is dropped with the key.
        ("required =true", ok(&[("required", "true")])),
        // `key= value`: the value ends at the space, the rest is a key without value.
        (
            "required= true",
            Err(MarkerSyntaxError::MissingValue("true".into())),
        ),
        // Every marker kro knows.
        (
            "minimum=1.5 maximum=10",
            ok(&[("minimum", "1.5"), ("maximum", "10")]),
        ),
        (
            "minLength=1 maxLength=2 minItems=0 maxItems=3 uniqueItems=true listType=set immutable=true",
            ok(&[
                ("minLength", "1"),
                ("maxLength", "2"),
                ("minItems", "0"),
                ("maxItems", "3"),
                ("uniqueItems", "true"),
                ("listType", "set"),
                ("immutable", "true"),
            ]),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parsed(input), want, "input: {input:?}");
    }
}

#[test]
fn marker_syntax_errors() {
    let cases = [
        ("=true", MarkerSyntaxError::EmptyKey),
        ("  =true", MarkerSyntaxError::EmptyKey),
        (
            "requird=true",
            MarkerSyntaxError::UnknownMarker("requird".into()),
        ),
        (
            "Required=true",
            MarkerSyntaxError::UnknownMarker("Required".into()),
        ),
        (
            "required",
            MarkerSyntaxError::MissingValue("required".into()),
        ),
        (
            "required=true optional",
            MarkerSyntaxError::MissingValue("optional".into()),
        ),
        ("", MarkerSyntaxError::MissingValue(String::new())),
        ("   ", MarkerSyntaxError::MissingValue(String::new())),
        (r#"description="open"#, MarkerSyntaxError::UnclosedQuote),
        (r#"description=""#, MarkerSyntaxError::UnclosedQuote),
        ("default=[1, 2", MarkerSyntaxError::UnclosedBracket),
        ("default={", MarkerSyntaxError::UnclosedBracket),
        ("default=1]", MarkerSyntaxError::UnmatchedClosingBracket),
        ("default=}", MarkerSyntaxError::UnmatchedClosingBracket),
    ];
    for (input, want) in cases {
        assert_eq!(parsed(input), Err(want), "input: {input:?}");
    }
}

#[test]
fn syntax_errors_say_what_to_write() {
    let msg = |input: &str| parse_markers(input).unwrap_err().to_string();
    assert_eq!(
        msg("requird=true"),
        "invalid marker key \"requird\": unknown marker: requird (known markers: required, default, description, enum, minimum, maximum, pattern, minLength, maxLength, uniqueItems, minItems, maxItems, listType, listMapKey, immutable, validation)"
    );
    assert!(
        msg("required").contains("write key=value"),
        "{}",
        msg("required")
    );
    assert!(msg("").contains("remove the `|`"), "{}", msg(""));
    assert!(msg("description=\"x").contains("close the value"));
}

#[test]
fn marker_kinds_round_trip_their_keys() {
    for key in kro_schema::markers::MARKER_NAMES {
        let kind = MarkerKind::from_key(key).unwrap();
        assert_eq!(kind.key(), key);
    }
    assert_eq!(MarkerKind::from_key("format"), None);
}
