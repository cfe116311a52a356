//! Logging for `kro run`: `--log-format json|text` and `--log-level` (or `RUST_LOG`).

use tracing_subscriber::EnvFilter;

use crate::options::{LogFormat, Options};

/// The filter: `RUST_LOG` when set, else `--log-level` (see [`level_directives`]).
pub fn filter(opts: &Options) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level_directives(&opts.log_level)))
        .unwrap_or_else(|_| EnvFilter::new(level_directives("info")))
}

/// The directives of `--log-level`: the level given, with kube's own crates kept at warn. Their
/// chatter is not only noise: kube's client logs every refused request at debug with the API
/// server's whole answer, which quotes the refused values (a Secret child's data among them).
/// Its request module also logs, at warn, the whole body of any answer it cannot decode (an
/// object nested too deep for it, say: user content, Secrets included), so that module is kept
/// at error; its TLS module keeps warn (a CA bundle that cannot be reloaded).
pub fn level_directives(log_level: &str) -> String {
    format!("{log_level},kube=warn,{KUBE_CLIENT_REQUESTS}=error,kube_client::client::tls=warn")
}

/// The target of kube's client request module, which logs undecodable answers whole.
const KUBE_CLIENT_REQUESTS: &str = "kube_client::client";

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
