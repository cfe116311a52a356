//! Errors of SimpleSchema parsing and instance-CRD generation: each names the field path and
//! says what to write instead.

use std::fmt;

/// One problem in an RGD's `spec.schema`, at a field path such as
/// `spec.schema.spec.ports` or `spec.schema.types.Server.host`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct SchemaError {
    /// Where the problem is, from the RGD root (`spec.schema.spec.replicas`).
    pub path: String,
    /// What is wrong, and what to write instead.
    pub kind: ErrorKind,
}

impl SchemaError {
    pub(crate) fn new(path: impl Into<String>, kind: ErrorKind) -> Self {
        SchemaError {
            path: path.into(),
            kind,
        }
    }
}

/// All the problems found in one schema (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaErrors(pub Vec<SchemaError>);

impl fmt::Display for SchemaErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaErrors {}

impl From<SchemaError> for SchemaErrors {
    fn from(e: SchemaError) -> Self {
        SchemaErrors(vec![e])
    }
}

/// Every marker kro supports, in the order kro documents them (the unknown-marker error lists
/// them; `markers::MARKER_NAMES` is the same list).
pub const MARKER_NAMES: [&str; 16] = [
    "required",
    "default",
    "description",
    "enum",
    "minimum",
    "maximum",
    "pattern",
    "minLength",
    "maxLength",
    "uniqueItems",
    "minItems",
    "maxItems",
    "listType",
    "listMapKey",
    "immutable",
    "validation",
];

/// Problems in a marker list (the text after `|` in a field's type string).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MarkerSyntaxError {
    /// `=value` with nothing before the `=`.
    #[error("empty marker key: write markers as key=value, e.g. `required=true`")]
    EmptyKey,
    /// A key kro does not know.
    #[error(
        "invalid marker key {0:?}: unknown marker: {0} (known markers: {known})",
        known = MARKER_NAMES.join(", ")
    )]
    UnknownMarker(String),
    /// A key with no `=value` (also an empty marker list after `|`).
    #[error(
        "marker key '{0}' without a value: write key=value (e.g. `{hint}=true`), or remove the `|` if there are no markers",
        hint = if .0.is_empty() { "required" } else { .0.as_str() }
    )]
    MissingValue(String),
    /// A `"` that is never closed.
    #[error("unclosed quote: close the value with `\"`")]
    UnclosedQuote,
    /// A `{` or `[` that is never closed.
    #[error("unclosed bracket/brace: close every `[` with `]` and every `{{` with `}}`")]
    UnclosedBracket,
    /// A `}` or `]` without its opening counterpart.
    #[error("unmatched closing bracket/brace: quote the value if it contains `]` or `}}`")]
    UnmatchedClosingBracket,
}

/// What is wrong with a field or type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The type part (before `|`) is empty.
    #[error(
        "empty type: write a type such as `string`, `integer`, `boolean`, `float`, `object`, `[]string` or `map[string]string`"
    )]
    EmptyType,
    /// A type name that is neither built in nor in `spec.schema.types`.
    #[error("unknown type: {name}{hint}")]
    UnknownType {
        /// The name as written.
        name: String,
        /// A suggestion (starts with `: ` when present).
        hint: String,
    },
    /// `[]` without an element type.
    #[error("empty slice element type: write the element type after `[]`, e.g. `[]string`")]
    EmptySliceElement,
    /// `map[K]V` with a key type other than `string`.
    #[error("map key must be string: write `map[string]<type>`, e.g. `map[string]integer`")]
    MapKeyNotString,
    /// `map[string]` without a value type.
    #[error("map value type is required: write `map[string]<type>`, e.g. `map[string]string`")]
    MapValueMissing,
    /// More than 16 nested `[]`/`map[string]` levels.
    #[error(
        "type nesting too deep (max 16): {0:?}; use a custom type from spec.schema.types to flatten it"
    )]
    NestingTooDeep(String),
    /// Nested field maps deeper than `MAX_OBJECT_NESTING` (64 levels, see `transform`).
    #[error("object nesting too deep (max {0} levels); flatten the schema or use a custom type")]
    ObjectNestingTooDeep(usize),
    /// Expanding custom types would build more schema nodes than the per-CRD budget
    /// (`transform::MAX_SCHEMA_NODES`).
    #[error(
        "expanding {what} would create {nodes} schema nodes for this RGD, more than the budget of {limit}; simplify the types, or use `object` for parts that need no schema",
        nodes = count(.nodes), limit = count(.limit)
    )]
    TooManySchemaNodes {
        /// `type "A"` or `the instance spec`.
        what: String,
        /// The nodes the expansion would create (saturating).
        nodes: u64,
        /// The budget.
        limit: u64,
    },
    /// Expanding custom types would copy more field names and marker text than the per-CRD
    /// budget (`transform::MAX_SCHEMA_BYTES`).
    #[error(
        "expanding {what} would copy {bytes} bytes of field names and markers (defaults, descriptions, patterns, validations) for this RGD, more than the budget of {limit}; shorten the markers of types used many times, or use `object` for parts that need no schema",
        bytes = count(.bytes), limit = count(.limit)
    )]
    TooManySchemaBytes {
        /// `type "A"` or `the instance spec`.
        what: String,
        /// The bytes the expansion would copy (saturating).
        bytes: u64,
        /// The budget.
        limit: u64,
    },
    /// The expanded schema nests deeper than `transform::MAX_SCHEMA_DEPTH`.
    #[error(
        "expanding {what} would nest the schema {depth} levels deep, more than the limit of {limit}; flatten the nested fields and types (Kubernetes clients cannot read back a CRD nested much deeper)"
    )]
    SchemaTooDeep {
        /// `type "A"` or `the instance spec`.
        what: String,
        /// The depth the expansion would reach.
        depth: u64,
        /// The limit.
        limit: u64,
    },
    /// Custom types referring to each other through more levels than
    /// `transform::MAX_TYPE_REFERENCE_DEPTH`.
    #[error(
        "type {name:?} refers to other custom types {depth} levels deep ({chain}), more than the limit of {limit}; flatten the chain of types",
        chain = .chain.join(" -> ")
    )]
    TypeReferencesTooDeep {
        /// The type.
        name: String,
        /// Its reference depth (1 for a type that uses no other custom type).
        depth: u64,
        /// The start of the deepest chain of references.
        chain: Vec<String>,
        /// The limit.
        limit: u64,
    },
    /// A field whose value is not a type string or a nested map.
    #[error(
        "expected a type string such as \"string | required=true\" or a nested map of fields, got {0}"
    )]
    InvalidFieldValue(&'static str),
    /// `spec.schema.spec` / `spec.schema.types` is not a map.
    #[error("expected a map of field names to types, got {0}")]
    NotAMap(&'static str),
    /// Custom types that refer to each other in a cycle.
    #[error("cyclic dependency in type {name}: graph contains a cycle: {cycle}; recursive types are not supported, break the cycle (e.g. use `object` for the recursive field)", cycle = .cycle.join(" -> "))]
    CyclicType {
        /// The type where the cycle was found.
        name: String,
        /// The cycle, first element repeated at the end.
        cycle: Vec<String>,
    },
    /// A marker list that cannot be parsed.
    #[error("{0}")]
    MarkerSyntax(#[from] MarkerSyntaxError),
    /// A marker whose value is invalid, or that does not apply to the field's type.
    #[error("invalid {marker} marker: {message}")]
    InvalidMarker {
        /// Marker key, e.g. `minLength`.
        marker: &'static str,
        /// What is wrong and what to write.
        message: String,
    },
    /// A status field defined twice, or both as a value and as an object.
    #[error("conflicting status field: {0}")]
    StatusConflict(String),
    /// An invalid printer column, short name or category.
    #[error("{0}")]
    InvalidCrdField(String),
}

/// `1048576` as `1,048,576`; the saturated maximum as `more than 18,446,744,073,709,551,614`.
pub(crate) fn count(n: &u64) -> String {
    let n = *n;
    if n == u64::MAX {
        return format!("more than {}", count(&(u64::MAX - 1)));
    }
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
