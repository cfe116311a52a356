//! `kro generate crd` and `kro generate instance`: kro's CLI commands, offline. The CRD is the
//! one `kro run` installs (the same compile, with `kro run`'s default options); the instance is
//! filled from that CRD's schema so that it validates against it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::offline::{Schemas, compile_errors, emit, load_schemas, read_docs, rgd_name};

/// `kro generate`: kro's spelling, `-f/--file` and `-o/--format` before or after the
/// subcommand.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(subcommand)]
    what: Generate,
    #[command(flatten)]
    flags: GenerateFlags,
}

#[derive(Debug, Subcommand)]
enum Generate {
    /// Print the CustomResourceDefinition `kro run` installs for the RGD's kind.
    Crd {
        /// The RGD file (the same as `-f`).
        rgd: Option<PathBuf>,
    },
    /// Print an instance of the RGD's kind: every required field filled (defaults, the first
    /// enum value, the minimum, example strings), optional fields with a default shown.
    Instance {
        /// The RGD file (the same as `-f`).
        rgd: Option<PathBuf>,
        /// metadata.name of the instance (default: `<kind in lower case>-sample`).
        #[arg(long)]
        name: Option<String>,
        /// metadata.namespace of the instance (default: none, so `kubectl -n` decides).
        #[arg(long)]
        namespace: Option<String>,
    },
}

#[derive(Debug, Args)]
struct GenerateFlags {
    /// The ResourceGraphDefinition file (YAML or JSON; every RGD document in it is used).
    #[arg(short = 'f', long = "file", global = true)]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(
        short = 'o',
        long = "format",
        value_enum,
        default_value = "yaml",
        global = true
    )]
    format: OutputFormat,
    /// Directory of CRDs and OpenAPI documents: kinds found there are fully type-checked, and
    /// status fields read from them get their types (as `kro run` reads them from the cluster).
    #[arg(long, global = true)]
    schemas: Option<PathBuf>,
}

/// Output formats of `kro generate` (kro's `-o yaml|json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// YAML; several objects as a `---` stream.
    Yaml,
    /// JSON; several objects as a `v1` `List`.
    Json,
}

/// `kro generate crd|instance`.
pub(crate) fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let (positional, instance) = match &args.what {
        Generate::Crd { rgd } => (rgd.clone(), None),
        Generate::Instance {
            rgd,
            name,
            namespace,
        } => (rgd.clone(), Some((name.clone(), namespace.clone()))),
    };
    let file = match (positional, args.flags.file.clone()) {
        (Some(file), None) | (None, Some(file)) => file,
        (Some(_), Some(_)) => missing_file("give the RGD file once: either -f FILE or FILE"),
        (None, None) => missing_file(
            "the ResourceGraphDefinition file is required: kro generate crd -f RGD.yaml",
        ),
    };
    let crds = crds_of(&file, args.flags.schemas.as_deref())?;
    let objects: Vec<Value> = match instance {
        None => crds,
        Some((name, namespace)) => {
            let mut out = Vec::new();
            for crd in &crds {
                let (object, warnings) = instance_of(crd, name.as_deref(), namespace.as_deref());
                for warning in warnings {
                    eprintln!("warning: {warning}");
                }
                out.push(object);
            }
            out
        }
    };
    print(&objects, args.flags.format)?;
    Ok(ExitCode::SUCCESS)
}

/// A command line that names no RGD file, or two: clap's usage error (exit code 2).
fn missing_file(message: &str) -> ! {
    clap::Error::raw(
        clap::error::ErrorKind::MissingRequiredArgument,
        format!("{message}\n"),
    )
    .exit()
}

/// The instance CRD of every RGD in `file`, compiled as `kro run` compiles it. RGDs of the same
/// file can use each other's kinds.
fn crds_of(file: &Path, schemas_dir: Option<&Path>) -> anyhow::Result<Vec<Value>> {
    let docs = read_docs(file)?;
    if docs.is_empty() {
        anyhow::bail!("{} holds no document", file.display());
    }
    let mut schemas = Schemas {
        store: load_schemas(schemas_dir)?,
    };
    let options = run_compile_options();
    for doc in &docs {
        if let Ok(graph) = kro_graph::compile(doc, &schemas, &options) {
            schemas.learn(&graph);
        }
    }
    let mut crds = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let graph = kro_graph::compile(doc, &schemas, &options).map_err(|errs| {
            anyhow::anyhow!(
                "{}: {} is not a valid RGD:\n{}",
                file.display(),
                rgd_name(doc, i),
                compile_errors(&errs)
            )
        })?;
        let crd = graph
            .crd
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .context("writing the CRD")?
            .with_context(|| format!("{}: the RGD produced no CRD", rgd_name(doc, i)))?;
        crds.push(crd);
    }
    Ok(crds)
}

/// The compile options of `kro run` with its default flags: the CRD printed is the one it would
/// apply (`kro.run/kro-version` label included).
fn run_compile_options() -> kro_graph::CompileOptions {
    kro_controller::Options::default().compile_options(kro_controller::kro_version())
}

fn print(objects: &[Value], format: OutputFormat) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Json => {
            let value = match objects {
                [one] => one.clone(),
                many => json!({"apiVersion": "v1", "kind": "List", "items": many}),
            };
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        OutputFormat::Yaml => {
            let mut out = String::new();
            for (i, object) in objects.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(
                    &serde_saphyr::to_string(object)
                        .map_err(|e| anyhow::anyhow!("cannot write YAML: {e}"))?,
                );
            }
            out
        }
    };
    emit(&text)?;
    Ok(())
}

/// An instance of `crd`'s kind that validates against its schema, and why some values may
/// need a hand (a `pattern` no example matches).
fn instance_of(crd: &Value, name: Option<&str>, namespace: Option<&str>) -> (Value, Vec<String>) {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = crd
        .pointer("/spec/versions/0/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = crd
        .pointer("/spec/names/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut metadata = Map::new();
    metadata.insert(
        "name".into(),
        Value::String(
            name.map_or_else(|| format!("{}-sample", kind.to_lowercase()), str::to_string),
        ),
    );
    if let Some(namespace) = namespace {
        metadata.insert("namespace".into(), Value::String(namespace.to_string()));
    }
    let mut filler = Filler::default();
    let spec_schema = crd
        .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object"}));
    let spec = filler.required("spec", &spec_schema);
    let instance = json!({
        "apiVersion": format!("{group}/{version}"),
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    });
    (instance, filler.warnings)
}

/// Fills values from a structural schema.
#[derive(Debug, Default)]
struct Filler {
    warnings: Vec<String>,
}

/// Example strings tried, in order, against a `pattern` (the first that matches is used).
const EXAMPLES: &[&str] = &[
    "string",
    "example",
    "example-1",
    "a",
    "0",
    "1",
    "a0",
    "abc",
    "ABC",
    "Abc1",
    "Example",
    "EXAMPLE",
    "example.com",
    "https://example.com",
    "user@example.com",
    "us-east-1",
    "10.0.0.0/16",
    "192.0.2.1",
    "1Gi",
    "100m",
    "1s",
    "v1",
    "1.0.0",
    "true",
];

impl Filler {
    /// The value of a field the instance must have.
    fn required(&mut self, at: &str, schema: &Value) -> Value {
        self.note_rules(at, schema);
        if let Some(default) = schema.get("default") {
            return self.defaulted(at, schema, default, true);
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return json!(number(schema, true) as i64);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => Value::String(self.string(at, schema)),
            Some("integer") => json!(number(schema, true) as i64),
            Some("number") => json!(number(schema, false)),
            Some("boolean") => Value::Bool(false),
            Some("array") => {
                let count = schema
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let count = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .map_or(count, |max| count.min(max));
                let items = schema.get("items").cloned().unwrap_or_else(|| json!({}));
                // SimpleSchema's `uniqueItems` becomes `x-kubernetes-list-type: set`.
                let unique = schema.get("uniqueItems") == Some(&Value::Bool(true))
                    || schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set");
                Value::Array(
                    (0..count)
                        .map(|i| {
                            let item = self.required(&format!("{at}[{i}]"), &items);
                            if unique { distinct(item, i) } else { item }
                        })
                        .collect(),
                )
            }
            _ => Value::Object(self.object(at, schema, true)),
        }
    }

    /// Warns about CEL validation rules (the `validation` marker), which no example can be
    /// sure to meet.
    fn note_rules(&mut self, at: &str, schema: &Value) {
        for rule in schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(rule) = rule.get("rule").and_then(Value::as_str) {
                self.warnings.push(format!(
                    "{at}: check the generated values against the validation rule {rule:?}"
                ));
            }
        }
    }

    /// The value an optional field shows: its default, or an object of the defaults inside it;
    /// `None` when it has neither.
    fn optional(&mut self, at: &str, schema: &Value) -> Option<Value> {
        if let Some(default) = schema.get("default") {
            return Some(self.defaulted(at, schema, default, false));
        }
        if schema.get("properties").is_some() {
            let fields = self.object(at, schema, false);
            return (!fields.is_empty()).then_some(Value::Object(fields));
        }
        None
    }

    /// A field's default; an object default (`{}` on an object whose fields have defaults)
    /// shows those fields too, as the API server would fill them in.
    fn defaulted(&mut self, at: &str, schema: &Value, default: &Value, required: bool) -> Value {
        match default {
            Value::Object(given) if schema.get("properties").is_some() => {
                let mut fields = self.object(at, schema, required);
                fields.extend(given.clone());
                Value::Object(fields)
            }
            other => other.clone(),
        }
    }

    /// The fields of an object: required ones filled, optional ones with their defaults; a map
    /// (additionalProperties) that must be there gets one example entry.
    fn object(&mut self, at: &str, schema: &Value, required: bool) -> Map<String, Value> {
        let mut out = Map::new();
        let must: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, field) in properties {
                let path = format!("{at}.{name}");
                let value = if must.contains(&name.as_str()) {
                    Some(self.required(&path, field))
                } else {
                    self.optional(&path, field)
                };
                if let Some(value) = value {
                    out.insert(name.clone(), value);
                }
            }
        } else if required
            && let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object())
        {
            let value = self.required(&format!("{at}.key"), values);
            out.insert("key".into(), value);
        }
        out
    }

    /// An example string within `minLength`/`maxLength`, of the `format`, matching the
    /// `pattern` when one of the examples does.
    fn string(&mut self, at: &str, schema: &Value) -> String {
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        let fit = |text: &str| -> String {
            let mut text = text.to_string();
            while text.chars().count() < min {
                text.push('x');
            }
            match max {
                Some(max) if text.chars().count() > max => text.chars().take(max).collect(),
                _ => text,
            }
        };
        let by_format = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => Some("2026-01-01T00:00:00Z"),
            Some("date") => Some("2026-01-01"),
            Some("email") => Some("user@example.com"),
            Some("uri" | "url") => Some("https://example.com"),
            Some("hostname") => Some("example.com"),
            Some("ipv4") => Some("192.0.2.1"),
            Some("ipv6") => Some("2001:db8::1"),
            Some("uuid") => Some("00000000-0000-0000-0000-000000000000"),
            Some("byte") => Some("c3RyaW5n"),
            Some("duration") => Some("1s"),
            _ => None,
        };
        let Some(pattern) = schema.get("pattern").and_then(Value::as_str) else {
            return fit(by_format.unwrap_or("string"));
        };
        let Ok(re) = regex::Regex::new(pattern) else {
            return fit(by_format.unwrap_or("string"));
        };
        if let Some(found) = by_format
            .into_iter()
            .chain(EXAMPLES.iter().copied())
            .map(fit)
            .find(|candidate| re.is_match(candidate))
        {
            return found;
        }
        self.warnings.push(format!(
            "{at}: no example value matches the pattern {pattern:?}; \"string\" is written there, replace it"
        ));
        fit("string")
    }
}

/// The `i`-th item of a list whose items must differ: strings get `-i`, numbers `+i`.
fn distinct(item: Value, i: u64) -> Value {
    if i == 0 {
        return item;
    }
    match item {
        Value::String(text) => Value::String(format!("{text}-{i}")),
        Value::Number(n) if n.is_i64() => {
            json!(n.as_i64().unwrap_or_default().saturating_add(i as i64))
        }
        Value::Number(n) => json!(n.as_f64().unwrap_or_default() + i as f64),
        other => other,
    }
}

/// The smallest allowed number: the minimum (one above it when exclusive, rounded up for
/// integers), else 0 unless a maximum below 0 forbids it.
fn number(schema: &Value, integer: bool) -> f64 {
    let exclusive = |key: &str| schema.get(key) == Some(&Value::Bool(true));
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let min = if integer { min.ceil() } else { min };
        return if exclusive("exclusiveMinimum") {
            if integer { min + 1.0 } else { min + 0.5 }
        } else {
            min
        };
    }
    match schema.get("maximum").and_then(Value::as_f64) {
        Some(max) if max < 0.0 || (max == 0.0 && exclusive("exclusiveMaximum")) => {
            let max = if integer { max.floor() } else { max };
            if exclusive("exclusiveMaximum") {
                max - 1.0
            } else {
                max
            }
        }
        _ => 0.0,
    }
}
