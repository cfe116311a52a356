//! The `kro` binary: a thin command line over the kro-rs libraries.

use clap::{Parser, Subcommand};

/// kro-rs: publish your own Kubernetes APIs from ResourceGraphDefinitions.
#[derive(Debug, Parser)]
#[command(name = "kro", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller against the cluster named by the kubeconfig.
    Run,
    /// Check ResourceGraphDefinitions offline and report every error.
    Validate,
    /// Render the objects an instance expands to, offline.
    Render,
    /// Draw the dependency graph of a ResourceGraphDefinition.
    Graph,
    /// Print the static CRDs this operator installs.
    Crds,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run | Command::Validate | Command::Render | Command::Graph | Command::Crds => {
            anyhow::bail!("this subcommand is not available yet in this build")
        }
    }
}
