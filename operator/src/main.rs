//! The `kro` binary: a thin command line over the kro-rs libraries.

mod generate;
mod offline;
mod run;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// jemalloc instead of the C library's malloc: under load the operator spent a third of its CPU
/// in glibc's allocator, and musl's (the container image) is slower still. Measured with the
/// load bench (bench/RESULTS.md): CPU per instance halved, peak RSS lower (mimalloc, also
/// tried, halved the CPU too but raised the peak RSS above the 150 MiB target).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// kro-rs: publish your own Kubernetes APIs from ResourceGraphDefinitions.
#[derive(Debug, Parser)]
#[command(name = "kro", version, about, arg_required_else_help = true)]
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
    /// cluster named by the kubeconfig (`KUBECONFIG`, ~/.kube/config, or in-cluster). Flags
    /// given with no subcommand (as kro's image is run) are this command's.
    Run(Box<run::RunArgs>),
    /// Check ResourceGraphDefinitions offline and report every error of every file
    /// (`kro validate rgd -f FILE`, kro's spelling, works too).
    Validate(offline::ValidateArgs),
    /// kro's `generate crd` and `generate instance`, offline: the CRD `kro run` installs for an
    /// RGD, or an instance with every required field filled.
    Generate(generate::GenerateArgs),
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
        /// Cost budget of each CEL evaluation, as `kro run --cel-cost-limit` (0: the built-in
        /// budget).
        #[arg(long, default_value_t = 0)]
        cel_cost_limit: u64,
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
    let matches = Cli::command().get_matches_from(command_line(std::env::args_os().collect()));
    let cli =
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    let run_matches = matches
        .subcommand_matches("run")
        .cloned()
        .unwrap_or_default();
    let result = match cli.command {
        Command::Run(args) => run::run(*args, &run_matches),
        Command::Validate(args) => offline::validate_command(args),
        Command::Generate(args) => generate::generate(args),
        Command::Render {
            rgd,
            instance,
            observed,
            schemas,
            cel_cost_limit,
        } => offline::render(
            &rgd,
            &instance,
            &observed,
            schemas.as_deref(),
            cel_cost_limit,
        ),
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

/// The command line as clap reads it. kro's image runs its binary with flags and no
/// subcommand (kro's chart passes `--metrics-bind-address ...` only), so flags first mean
/// `run`; Go's single-dash long flags (`-leader-elect`) become `--leader-elect` there. `kro`,
/// `kro --help` and `kro --version` stay the top-level ones.
fn command_line(mut args: Vec<OsString>) -> Vec<OsString> {
    let top_level = ["-h", "--help", "-V", "--version"];
    let first = args.get(1).and_then(|arg| arg.to_str()).map(str::to_string);
    let runs = match first.as_deref() {
        Some(flag) if flag.starts_with('-') && !top_level.contains(&flag) => {
            args.insert(1, OsString::from("run"));
            true
        }
        Some("run") => true,
        _ => false,
    };
    if runs {
        for arg in args.iter_mut().skip(2) {
            if let Some(text) = arg.to_str()
                && go_single_dash(text)
            {
                *arg = OsString::from(format!("-{text}"));
            }
        }
    }
    args
}

/// `-name` or `-name=value`: one dash, then a long flag name (not `-h`, not a number).
fn go_single_dash(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    let name = rest.split('=').next().unwrap_or_default();
    !rest.starts_with('-')
        && name.len() > 1
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn strings(list: &[OsString]) -> Vec<String> {
        list.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn flags_without_a_subcommand_run_the_operator() {
        let line = command_line(args(&[
            "kro",
            "--metrics-bind-address=:8078",
            "-leader-elect",
        ]));
        assert_eq!(
            strings(&line),
            [
                "kro",
                "run",
                "--metrics-bind-address=:8078",
                "--leader-elect"
            ]
        );
        let cli = Cli::try_parse_from(line).expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("not run: {cli:?}");
        };
        assert!(run.kro.leader_elect);
    }

    #[test]
    fn subcommands_help_and_version_stay_top_level() {
        for line in [
            &["kro"][..],
            &["kro", "--help"],
            &["kro", "-h"],
            &["kro", "--version"],
            &["kro", "help"],
            &["kro", "crds"],
            &["kro", "validate", "-x"],
        ] {
            assert_eq!(strings(&command_line(args(line))), *line);
        }
        // `kro run`'s own flags get Go's single dash too, but values and `-h` stay.
        assert_eq!(
            strings(&command_line(args(&[
                "kro",
                "run",
                "-zap-devel=false",
                "-h",
                "-1"
            ]))),
            ["kro", "run", "--zap-devel=false", "-h", "-1"]
        );
        let bare = Cli::try_parse_from(command_line(args(&["kro"]))).expect_err("help");
        assert_eq!(
            bare.kind(),
            clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }
}
