//! Naming rules for resource ids, forEach iterators and kinds, and kro's reserved words.

/// Words kro reserves for itself: no resource id or iterator may use them.
pub const KRO_RESERVED: &[&str] = &[
    "apiVersion",
    "context",
    "dependency",
    "dependencies",
    "each",
    "externalRef",
    "externalReference",
    "externalRefs",
    "externalReferences",
    "graph",
    "graphengine",
    "instance",
    "item",
    "items",
    "kind",
    "kro",
    "metadata",
    "namespace",
    "object",
    "resource",
    "resourcegraphdefinition",
    "resourceGraphDefinition",
    "resources",
    "root",
    "runtime",
    "schema",
    "self",
    "serviceAccountName",
    "spec",
    "status",
    "this",
    "variables",
    "vars",
    "version",
];

/// CEL's reserved symbols.
pub const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The variable holding the instance in expressions.
pub const SCHEMA_VAR: &str = "schema";
/// The per-item variable of a collection's readyWhen.
pub const EACH_VAR: &str = "each";
/// The variable only status conditions may use.
pub const RUNTIME_VAR: &str = "runtime";

/// True for a word no id or iterator may take.
pub fn is_reserved(word: &str) -> bool {
    KRO_RESERVED.contains(&word) || CEL_RESERVED.contains(&word)
}

/// `^[a-z][a-zA-Z0-9]*$`: kro's lower camelCase.
pub fn is_lower_camel(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_lowercase())
        && chars.all(|ch| ch.is_ascii_alphanumeric())
}

/// `^[A-Z][a-zA-Z0-9]*$`: kro's kind names.
pub fn is_upper_camel(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_uppercase())
        && chars.all(|ch| ch.is_ascii_alphanumeric())
}

/// `^v\d+((alpha|beta)\d+)?$`: a Kubernetes API version name (kro-schema owns the rule, since
/// the instance CRD it builds checks the same field).
pub fn is_kube_version(name: &str) -> bool {
    kro_schema::crd::is_api_version(name)
}

/// A DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn is_dns1035_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        for (name, ok) in [
            ("deployment", true),
            ("myDeployment2", true),
            ("My", false),
            ("my-deploy", false),
            ("my_deploy", false),
            ("", false),
            ("1a", false),
        ] {
            assert_eq!(is_lower_camel(name), ok, "{name}");
        }
        for (name, ok) in [("WebApp", true), ("webApp", false), ("Web-App", false)] {
            assert_eq!(is_upper_camel(name), ok, "{name}");
        }
        for (name, ok) in [
            ("v1", true),
            ("v1alpha1", true),
            ("v2beta3", true),
            ("v1alpha", false),
            ("1", false),
            ("v", false),
            ("v1gamma1", false),
        ] {
            assert_eq!(is_kube_version(name), ok, "{name}");
        }
        for word in ["schema", "namespace", "each", "in", "item", "graphengine"] {
            assert!(is_reserved(word), "{word}");
        }
        assert!(!is_reserved("deployment"));
        assert!(is_dns1035_label("deployment"));
        assert!(!is_dns1035_label("my.kind"));
    }
}
