//! Logging for `kro run`: `--log-format json|text` and `--log-level` (or `RUST_LOG`).

use tracing_subscriber::EnvFilter;

use crate::options::{LogFormat, Options};

/// The filter: `RUST_LOG` when set, else `--log-level` (kube's own chatter kept at warn).
pub fn filter(opts: &Options) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},kube=warn", opts.log_level)))
        .unwrap_or_else(|_| EnvFilter::new("info,kube=warn"))
}

/// Installs the global subscriber; a second call (or one after another subscriber) is a no-op.
/// Text logs are coloured only on a terminal (not in a file or a pod's log), and never with
/// `NO_COLOR` set.
pub fn init(opts: &Options) {
    use std::io::IsTerminal;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(opts))
        .with_ansi(colour);
    let _ = match opts.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
