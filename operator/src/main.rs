//! The `kro` binary: a thin command line over the kro-rs libraries.

mod offline;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// jemalloc instead of the C library's malloc: under load the operator spent a third of its CPU
/// in glibc's allocator, and musl's (the container image) is slower still. Measured with the
/// load bench (bench/RESULTS.md): CPU per instance halved, peak RSS lower (mimalloc, also
/// tried, halved the CPU too but raised the peak RSS above the 150 MiB target).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// kro-rs: publish your own Kubernetes APIs from ResourceGraphDefinitions.
#[derive(Debug, Parser)]
#[command(name = "kro", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Picture formats of `kro graph`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz dot.
    Dot,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the operator (RGD and instance controllers, and the AWS controllers) against the
    /// cluster named by the kubeconfig (`KUBECONFIG`, ~/.kube/config, or in-cluster).
    Run(Box<run::RunArgs>),
    /// Check ResourceGraphDefinitions offline and report every error of every file.
    Validate {
        /// RGD files (YAML or JSON; several documents per file are fine).
        #[arg(required = true)]
        rgds: Vec<PathBuf>,
        /// Directory of CRDs and OpenAPI documents: kinds found there are fully type-checked.
        #[arg(long)]
        schemas: Option<PathBuf>,
    },
    /// Render the objects an instance expands to, and its status, offline.
    Render {
        /// The RGD file.
        rgd: PathBuf,
        /// The instance file.
        instance: PathBuf,
        /// Files of objects standing in for the cluster (observed resources, externalRefs).
        #[arg(long, num_args = 1..)]
        observed: Vec<PathBuf>,
        /// Directory of CRDs and OpenAPI documents for full type checks.
        #[arg(long)]
        schemas: Option<PathBuf>,
    },
    /// Draw the dependency graph of a ResourceGraphDefinition.
    Graph {
        /// The RGD file.
        rgd: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
    },
    /// Print the static CRDs this operator installs.
    Crds,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Validate { rgds, schemas } => offline::validate(&rgds, schemas.as_deref()),
        Command::Render {
            rgd,
            instance,
            observed,
            schemas,
        } => offline::render(&rgd, &instance, &observed, schemas.as_deref()),
        Command::Graph { rgd, format } => offline::graph(&rgd, format),
        Command::Crds => offline::crds(),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`kro crds | head`): nothing left to say to it.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
