//! The offline subcommands: `validate`, `render`, `graph` and `crds` (no cluster needed).

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

fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())
}

/// Reads every YAML/JSON document of a file.
fn read_docs(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| anyhow::anyhow!("{} is not valid YAML: {e}", path.display()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn load_schemas(dir: Option<&Path>) -> anyhow::Result<SchemaStore> {
    match dir {
        Some(d) => SchemaStore::load_dir(d)
            .with_context(|| format!("loading schemas from {}", d.display())),
        None => Ok(SchemaStore::new()),
    }
}

/// Schemas from the directory plus the instance CRDs of RGDs compiled so far (so one RGD may
/// use another RGD's kind).
struct Schemas {
    store: SchemaStore,
}

impl SchemaSource for Schemas {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<kro_graph::ResolvedKind> {
        self.store.resolve(api_version, kind)
    }
}

impl Schemas {
    fn learn(&mut self, g: &CompiledGraph) {
        if let Some(crd) = g.crd.as_ref().and_then(|c| serde_json::to_value(c).ok()) {
            let _ = self.store.add_crd(&crd);
        }
    }
}

fn compile_doc(doc: &Value, schemas: &Schemas) -> Result<CompiledGraph, kro_graph::CompileErrors> {
    kro_graph::compile(doc, schemas, &CompileOptions::default())
}

fn rgd_name(doc: &Value, i: usize) -> String {
    doc.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("document {}", i + 1))
}

fn location(e: &kro_graph::GraphError) -> String {
    match (&e.resource, &e.path) {
        (Some(r), Some(p)) => format!("resource {r:?}, {p}: "),
        (Some(r), None) => format!("resource {r:?}: "),
        (None, Some(p)) => format!("{p}: "),
        (None, None) => String::new(),
    }
}

/// `kro validate`: every error of every file, exit code 1 when any.
pub(crate) fn validate(files: &[PathBuf], schemas_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut schemas = Schemas {
        store: load_schemas(schemas_dir)?,
    };
    let mut docs = Vec::new();
    let mut failed = false;
    for f in files {
        match read_docs(f) {
            Ok(d) => docs.extend(d.into_iter().enumerate().map(|(i, d)| (f.clone(), i, d))),
            Err(e) => {
                out!("{}: error: {e:#}", f.display());
                failed = true;
            }
        }
    }
    // First pass learns the kinds every valid RGD defines, so chained RGDs type-check.
    for (_, _, d) in &docs {
        if let Ok(g) = compile_doc(d, &schemas) {
            schemas.learn(&g);
        }
    }
    for (f, i, d) in &docs {
        let name = rgd_name(d, *i);
        match compile_doc(d, &schemas) {
            Ok(g) => {
                for w in &g.warnings {
                    out!("{}: {name}: warning: {w}", f.display());
                }
                out!(
                    "{}: {name}: valid ({} resources; order: {})",
                    f.display(),
                    g.nodes.len(),
                    g.topological_order.join(", ")
                );
            }
            Err(errs) => {
                failed = true;
                for w in &errs.warnings {
                    out!("{}: {name}: warning: {w}", f.display());
                }
                for e in &errs.errors {
                    out!("{}: {name}: error: {}{e}", f.display(), location(e));
                }
                out!(
                    "{}: {name}: invalid ({} error{})",
                    f.display(),
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

fn compile_file(path: &Path, schemas_dir: Option<&Path>) -> anyhow::Result<CompiledGraph> {
    let docs = read_docs(path)?;
    let Some(doc) = docs.first() else {
        bail!("{} holds no document", path.display());
    };
    let schemas = Schemas {
        store: load_schemas(schemas_dir)?,
    };
    compile_doc(doc, &schemas).map_err(|errs| {
        let lines: Vec<String> = errs
            .errors
            .iter()
            .map(|e| format!("  {}{e}", location(e)))
            .collect();
        anyhow::anyhow!(
            "{} is not a valid RGD:\n{}",
            path.display(),
            lines.join("\n")
        )
    })
}

fn to_yaml(v: &Value) -> anyhow::Result<String> {
    serde_saphyr::to_string(v).map_err(|e| anyhow::anyhow!("cannot write YAML: {e}"))
}

/// `kro render`: the desired objects in apply order, then the instance with its status.
pub(crate) fn render(
    rgd: &Path,
    instance: &Path,
    observed: &[PathBuf],
    schemas_dir: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let graph = compile_file(rgd, schemas_dir)?;
    let instance = read_docs(instance)?
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no document", instance.display()))?;
    let mut objects = Vec::new();
    for f in observed {
        objects.extend(read_docs(f)?);
    }
    let (_, plan) = render_with_objects(
        &graph,
        &instance,
        &objects,
        &kro_runtime::Options::default(),
    );
    let mut out = String::new();
    out.push_str("# nodes (topological order):\n");
    for n in &plan.nodes {
        out.push_str(&format!(
            "#   {}: {}{}\n",
            n.id,
            n.state,
            n.message
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    for d in &plan.apply {
        out.push_str("---\n");
        out.push_str(&to_yaml(&d.object)?);
    }
    let mut inst = serde_json::Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = instance.get(k) {
            inst.insert(k.into(), v.clone());
        }
    }
    let mut meta = serde_json::Map::new();
    for k in ["name", "namespace"] {
        if let Some(v) = instance.pointer(&format!("/metadata/{k}")) {
            meta.insert(k.into(), v.clone());
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
    let g = compile_file(rgd, None)?;
    outp!("{}", draw(&g, format));
    Ok(ExitCode::SUCCESS)
}

fn label(n: &kro_graph::Node) -> String {
    let what = match n.kind {
        NodeKind::Resource => String::new(),
        NodeKind::Collection => " (forEach)".into(),
        NodeKind::External => " (externalRef)".into(),
        NodeKind::ExternalCollection => " (externalRef selector)".into(),
    };
    let cond = if n.include_when.is_empty() {
        ""
    } else {
        " [includeWhen]"
    };
    format!("{}: {}{what}{cond}", n.id, n.object_kind)
}

/// Renders the graph; edges point from a dependency to its dependent.
pub(crate) fn draw(g: &CompiledGraph, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str("flowchart TD\n");
            out.push_str(&format!("  schema([{}])\n", g.instance.kind));
            for n in &g.nodes {
                out.push_str(&format!("  {}[\"{}\"]\n", n.id, label(n)));
            }
            for n in &g.nodes {
                if n.dependencies.is_empty() {
                    out.push_str(&format!("  schema --> {}\n", n.id));
                }
                for d in &n.dependencies {
                    out.push_str(&format!("  {d} --> {}\n", n.id));
                }
            }
        }
        GraphFormat::Dot => {
            out.push_str(&format!("digraph {:?} {{\n", g.instance.kind));
            out.push_str("  rankdir=TB;\n");
            out.push_str(&format!(
                "  schema [shape=ellipse, label={:?}];\n",
                g.instance.kind
            ));
            for n in &g.nodes {
                out.push_str(&format!("  {} [shape=box, label={:?}];\n", n.id, label(n)));
            }
            for n in &g.nodes {
                if n.dependencies.is_empty() {
                    out.push_str(&format!("  schema -> {};\n", n.id));
                }
                for d in &n.dependencies {
                    out.push_str(&format!("  {d} -> {};\n", n.id));
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
