//! The offline subcommands: `validate`, `render`, `graph` and `crds` (no cluster needed);
//! `generate` is in [`crate::generate`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use kro_graph::{CompileOptions, CompiledGraph, NodeKind, SchemaSource, SchemaStore};
use kro_runtime::offline::render_with_objects;
use serde_json::Value;

use crate::GraphFormat;

/// `println!` to stdout, returning the write error (a closed pipe, as in `kro crds | head`, ends
/// the command quietly in `main` instead of panicking).
macro_rules! out {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format_args!($($arg)*)))?
    };
}

/// `print!` to stdout, returning the write error as [`out!`] does.
macro_rules! outp {
    ($($arg:tt)*) => {
        emit(&format!($($arg)*))?
    };
}

pub(crate) fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())
}

/// Reads every YAML/JSON document of a file.
pub(crate) fn read_docs(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| anyhow::anyhow!("{} is not valid YAML: {e}", path.display()))?;
    Ok(docs.into_iter().filter(|doc| !doc.is_null()).collect())
}

pub(crate) fn load_schemas(dir: Option<&Path>) -> anyhow::Result<SchemaStore> {
    match dir {
        Some(dir) => SchemaStore::load_dir(dir)
            .with_context(|| format!("loading schemas from {}", dir.display())),
        None => Ok(SchemaStore::new()),
    }
}

/// Schemas from the directory plus the instance CRDs of RGDs compiled so far (so one RGD may
/// use another RGD's kind).
pub(crate) struct Schemas {
    pub(crate) store: SchemaStore,
}

impl SchemaSource for Schemas {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<kro_graph::ResolvedKind> {
        self.store.resolve(api_version, kind)
    }
}

impl Schemas {
    pub(crate) fn learn(&mut self, graph: &CompiledGraph) {
        if let Some(crd) = graph
            .crd
            .as_ref()
            .and_then(|crd| serde_json::to_value(crd).ok())
        {
            let _ = self.store.add_crd(&crd);
        }
    }
}

fn compile_doc(
    doc: &Value,
    schemas: &Schemas,
    options: &CompileOptions,
) -> Result<CompiledGraph, kro_graph::CompileErrors> {
    kro_graph::compile(doc, schemas, options)
}

pub(crate) fn rgd_name(doc: &Value, i: usize) -> String {
    doc.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("document {}", i + 1))
}

fn location(e: &kro_graph::GraphError) -> String {
    match (&e.resource, &e.path) {
        (Some(resource), Some(path)) => format!("resource {resource:?}, {path}: "),
        (Some(resource), None) => format!("resource {resource:?}: "),
        (None, Some(path)) => format!("{path}: "),
        (None, None) => String::new(),
    }
}

/// The errors of an RGD that does not compile, one indented line each.
pub(crate) fn compile_errors(errs: &kro_graph::CompileErrors) -> String {
    let lines: Vec<String> = errs
        .errors
        .iter()
        .map(|error| format!("  {}{error}", location(error)))
        .collect();
    lines.join("\n")
}

/// `kro validate`'s command line: files as arguments or with `-f` (kro's flag), or kro's
/// spelling `kro validate rgd -f FILE`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ValidateArgs {
    #[command(subcommand)]
    kro: Option<ValidateKind>,
    #[command(flatten)]
    files: ValidateFiles,
}

#[derive(Debug, clap::Subcommand)]
enum ValidateKind {
    /// kro's spelling of the same check: `kro validate rgd -f FILE`.
    Rgd(ValidateFiles),
}

#[derive(Debug, clap::Args)]
struct ValidateFiles {
    /// RGD files (YAML or JSON; several documents per file are fine).
    #[arg(required_unless_present = "file")]
    rgds: Vec<PathBuf>,
    /// An RGD file, as kro spells it (repeatable; adds to the file arguments).
    #[arg(short = 'f', long = "file")]
    file: Vec<PathBuf>,
    /// Directory of CRDs and OpenAPI documents: kinds found there are fully type-checked.
    #[arg(long)]
    schemas: Option<PathBuf>,
}

/// `kro validate [rgd]`.
pub(crate) fn validate_command(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let files = match args.kro {
        Some(ValidateKind::Rgd(files)) => files,
        None => args.files,
    };
    let all: Vec<PathBuf> = files.rgds.into_iter().chain(files.file).collect();
    validate(&all, files.schemas.as_deref())
}

/// `kro validate`: every error of every file, exit code 1 when any.
pub(crate) fn validate(files: &[PathBuf], schemas_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let options = CompileOptions::default();
    let mut schemas = Schemas {
        store: load_schemas(schemas_dir)?,
    };
    let mut docs = Vec::new();
    let mut failed = false;
    for file in files {
        match read_docs(file) {
            Ok(read) => docs.extend(
                read.into_iter()
                    .enumerate()
                    .map(|(i, doc)| (file.clone(), i, doc)),
            ),
            Err(e) => {
                out!("{}: error: {e:#}", file.display());
                failed = true;
            }
        }
    }
    // First pass learns the kinds every valid RGD defines, so chained RGDs type-check.
    for (_, _, doc) in &docs {
        if let Ok(graph) = compile_doc(doc, &schemas, &options) {
            schemas.learn(&graph);
        }
    }
    for (file, i, doc) in &docs {
        let name = rgd_name(doc, *i);
        match compile_doc(doc, &schemas, &options) {
            Ok(graph) => {
                for warning in graph
                    .warnings
                    .iter()
                    .chain(&kro_graph::confine::tenant_choices(&graph))
                {
                    out!("{}: {name}: warning: {warning}", file.display());
                }
                out!(
                    "{}: {name}: valid ({} resources; order: {})",
                    file.display(),
                    graph.nodes.len(),
                    graph.topological_order.join(", ")
                );
            }
            Err(errs) => {
                failed = true;
                for warning in &errs.warnings {
                    out!("{}: {name}: warning: {warning}", file.display());
                }
                for error in &errs.errors {
                    out!(
                        "{}: {name}: error: {}{error}",
                        file.display(),
                        location(error)
                    );
                }
                out!(
                    "{}: {name}: invalid ({} error{})",
                    file.display(),
                    errs.errors.len(),
                    if errs.errors.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn compile_file(
    path: &Path,
    schemas_dir: Option<&Path>,
    options: &CompileOptions,
) -> anyhow::Result<CompiledGraph> {
    let docs = read_docs(path)?;
    let Some(doc) = docs.first() else {
        bail!("{} holds no document", path.display());
    };
    let schemas = Schemas {
        store: load_schemas(schemas_dir)?,
    };
    compile_doc(doc, &schemas, options).map_err(|errs| {
        anyhow::anyhow!(
            "{} is not a valid RGD:\n{}",
            path.display(),
            compile_errors(&errs)
        )
    })
}

fn to_yaml(value: &Value) -> anyhow::Result<String> {
    serde_saphyr::to_string(value).map_err(|e| anyhow::anyhow!("cannot write YAML: {e}"))
}

/// `kro render`: the desired objects in apply order, then the instance with its status.
pub(crate) fn render(
    rgd: &Path,
    instance: &Path,
    observed: &[PathBuf],
    schemas_dir: Option<&Path>,
    cel_cost_limit: u64,
) -> anyhow::Result<ExitCode> {
    let options = CompileOptions {
        cel_cost_limit,
        ..CompileOptions::default()
    };
    let graph = compile_file(rgd, schemas_dir, &options)?;
    let instance = read_docs(instance)?
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no document", instance.display()))?;
    let mut objects = Vec::new();
    for file in observed {
        objects.extend(read_docs(file)?);
    }
    let (_, plan) = render_with_objects(
        &graph,
        &instance,
        &objects,
        &kro_runtime::Options::default(),
    );
    let mut out = String::new();
    out.push_str("# nodes (topological order):\n");
    for node in &plan.nodes {
        out.push_str(&format!(
            "#   {}: {}{}\n",
            node.id,
            node.state,
            node.message
                .as_ref()
                .map(|message| format!(" ({message})"))
                .unwrap_or_default()
        ));
    }
    for desired in &plan.apply {
        out.push_str("---\n");
        out.push_str(&to_yaml(&desired.object)?);
    }
    let mut inst = serde_json::Map::new();
    for field in ["apiVersion", "kind"] {
        if let Some(value) = instance.get(field) {
            inst.insert(field.into(), value.clone());
        }
    }
    let mut meta = serde_json::Map::new();
    for field in ["name", "namespace"] {
        if let Some(value) = instance.pointer(&format!("/metadata/{field}")) {
            meta.insert(field.into(), value.clone());
        }
    }
    meta.insert(
        "labels".into(),
        serde_json::json!({ kro_api::metadata::labels::APPLYSET_ID: plan.applyset.id }),
    );
    let mut ann = serde_json::Map::new();
    ann.insert(
        kro_api::metadata::annotations::APPLYSET_CONTAINS_GROUP_KINDS.into(),
        Value::String(plan.applyset.contains_group_kinds.clone()),
    );
    if !plan.applyset.additional_namespaces.is_empty() {
        ann.insert(
            kro_api::metadata::annotations::APPLYSET_ADDITIONAL_NAMESPACES.into(),
            Value::String(plan.applyset.additional_namespaces.clone()),
        );
    }
    meta.insert("annotations".into(), Value::Object(ann));
    inst.insert("metadata".into(), Value::Object(meta));
    inst.insert("status".into(), plan.status.clone());
    out.push_str("---\n");
    out.push_str(&to_yaml(&Value::Object(inst))?);
    outp!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `kro graph`: the DAG as Mermaid or dot.
pub(crate) fn graph(rgd: &Path, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let graph = compile_file(rgd, None, &CompileOptions::default())?;
    outp!("{}", draw(&graph, format));
    Ok(ExitCode::SUCCESS)
}

fn label(node: &kro_graph::Node) -> String {
    let what = match node.kind {
        NodeKind::Resource => String::new(),
        NodeKind::Collection => " (forEach)".into(),
        NodeKind::External => " (externalRef)".into(),
        NodeKind::ExternalCollection => " (externalRef selector)".into(),
    };
    let cond = if node.include_when.is_empty() {
        ""
    } else {
        " [includeWhen]"
    };
    format!("{}: {}{what}{cond}", node.id, node.object_kind)
}

/// Renders the graph; edges point from a dependency to its dependent.
pub(crate) fn draw(graph: &CompiledGraph, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str("flowchart TD\n");
            out.push_str(&format!("  schema([{}])\n", graph.instance.kind));
            for node in &graph.nodes {
                out.push_str(&format!("  {}[\"{}\"]\n", node.id, label(node)));
            }
            for node in &graph.nodes {
                if node.dependencies.is_empty() {
                    out.push_str(&format!("  schema --> {}\n", node.id));
                }
                for dependency in &node.dependencies {
                    out.push_str(&format!("  {dependency} --> {}\n", node.id));
                }
            }
        }
        GraphFormat::Dot => {
            out.push_str(&format!("digraph {:?} {{\n", graph.instance.kind));
            out.push_str("  rankdir=TB;\n");
            out.push_str(&format!(
                "  schema [shape=ellipse, label={:?}];\n",
                graph.instance.kind
            ));
            for node in &graph.nodes {
                out.push_str(&format!(
                    "  {} [shape=box, label={:?}];\n",
                    node.id,
                    label(node)
                ));
            }
            for node in &graph.nodes {
                if node.dependencies.is_empty() {
                    out.push_str(&format!("  schema -> {};\n", node.id));
                }
                for dependency in &node.dependencies {
                    out.push_str(&format!("  {dependency} -> {};\n", node.id));
                }
            }
            out.push_str("}\n");
        }
    }
    out
}

/// `kro crds`: the static CRDs.
pub(crate) fn crds() -> anyhow::Result<ExitCode> {
    // kro's own CRDs, then the AWS controllers' (ACK's kinds), as one multi-document stream.
    let all = kro_api::crds::static_crds()
        .into_iter()
        .chain(kro_aws::static_crds());
    for (i, crd) in all.enumerate() {
        if i > 0 {
            out!("---");
        }
        outp!("{}", crd.to_yaml().context("rendering the static CRDs")?);
    }
    Ok(ExitCode::SUCCESS)
}
