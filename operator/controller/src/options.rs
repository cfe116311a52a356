//! The `kro run` flags: kro's names and defaults (kro.md 6.1), each with a `KRO_*` environment
//! variable.

use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines (kro's `console`).
    #[default]
    #[value(alias = "console")]
    Text,
}

/// Parses a duration written as kro writes them: `3s`, `200ms`, `1m`, `2h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (num, unit) =
        match text.find(|character: char| !(character.is_ascii_digit() || character == '.')) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, "s"),
        };
    let amount: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 3s, 200ms, 1m"))?;
    let secs = match unit {
        "ms" => amount / 1000.0,
        "s" => amount,
        "m" => amount * 60.0,
        "h" => amount * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Everything `kro run` can be told. `Options::default()` equals the flag defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Address of the Prometheus `/metrics` endpoint (empty or `0` disables it).
    #[arg(long, env = "KRO_METRICS_BIND_ADDRESS", default_value = ":8078")]
    pub metrics_bind_address: String,
    /// Address of `/healthz` and `/readyz` (empty or `0` disables it).
    #[arg(long, env = "KRO_HEALTH_PROBE_BIND_ADDRESS", default_value = ":8079")]
    pub health_probe_bind_address: String,
    /// Only run the controllers while holding the `controller.kro.run` Lease.
    #[arg(long, env = "KRO_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,
    /// Namespace of the Lease (default: the in-cluster namespace, else `default`).
    #[arg(long, env = "KRO_LEADER_ELECTION_NAMESPACE", default_value = "")]
    pub leader_election_namespace: String,
    /// This replica's identity in the Lease (default: `$POD_NAME`, else `kro-<pid>`).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub leader_election_identity: String,
    /// How long a Lease is held without renewal.
    #[arg(long, env = "KRO_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up.
    #[arg(long, env = "KRO_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often a standby retries to take the Lease.
    #[arg(long, env = "KRO_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Delete the generated CRD (and so every instance) when its RGD is deleted.
    #[arg(long, env = "KRO_ALLOW_CRD_DELETION", default_value_t = false)]
    pub allow_crd_deletion: bool,
    /// How long running reconciles may take to finish on shutdown.
    #[arg(long, env = "KRO_GRACEFUL_SHUTDOWN_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub graceful_shutdown_timeout: Duration,
    /// RGD reconciles running at once (kro: 1; RGDs never wait on each other here).
    #[arg(
        long,
        env = "KRO_RESOURCE_GRAPH_DEFINITION_CONCURRENT_RECONCILES",
        default_value_t = 4
    )]
    pub resource_graph_definition_concurrent_reconciles: u16,
    /// Instance reconciles running at once, over every generated kind (the global cap).
    #[arg(
        long,
        env = "KRO_DYNAMIC_CONTROLLER_CONCURRENT_RECONCILES",
        default_value_t = 16
    )]
    pub dynamic_controller_concurrent_reconciles: u16,
    /// First retry delay after a failed reconcile (doubles per failure).
    #[arg(long, env = "KRO_DYNAMIC_CONTROLLER_RATE_LIMITER_MIN_DELAY", default_value = "200ms", value_parser = parse_duration)]
    pub dynamic_controller_rate_limiter_min_delay: Duration,
    /// Longest retry delay after failed reconciles.
    #[arg(long, env = "KRO_DYNAMIC_CONTROLLER_RATE_LIMITER_MAX_DELAY", default_value = "1000s", value_parser = parse_duration)]
    pub dynamic_controller_rate_limiter_max_delay: Duration,
    /// Seconds between full resyncs of every instance.
    #[arg(
        long,
        env = "KRO_DYNAMIC_CONTROLLER_DEFAULT_RESYNC_PERIOD",
        default_value_t = 36000
    )]
    pub dynamic_controller_default_resync_period: u64,
    /// Delay before reconciling an instance again while it waits on data or readiness (0: only
    /// on events).
    #[arg(long, env = "KRO_INSTANCE_REQUEUE_INTERVAL", default_value = "3s", value_parser = parse_duration)]
    pub instance_requeue_interval: Duration,
    /// Largest forEach collection.
    #[arg(long, env = "KRO_RGD_MAX_COLLECTION_SIZE", default_value_t = 1000)]
    pub rgd_max_collection_size: usize,
    /// Most forEach dimensions on one resource.
    #[arg(
        long,
        env = "KRO_RGD_MAX_COLLECTION_DIMENSION_SIZE",
        default_value_t = 10
    )]
    pub rgd_max_collection_dimension_size: usize,
    /// Cost budget of each CEL evaluation (kro's flag from its main branch). 0, kro's default,
    /// keeps the built-in budget of 1000000 units (kro: no limit; kro-rs always has one).
    #[arg(long, env = "KRO_CEL_COST_LIMIT", default_value_t = 0)]
    pub cel_cost_limit: u64,
    /// Feature gates, kro's syntax: `CELOmitFunction=true` enables `omit()` in templates. The
    /// only gate kro-rs knows; any other name is an error.
    #[arg(long, env = "KRO_FEATURE_GATES", default_value = "", value_parser = parse_feature_gates)]
    pub feature_gates: FeatureGates,
    /// Only reconcile RGDs matching this label selector (empty: all). Not a kro flag: lets
    /// several operators share a cluster by label (sharding, parallel tests).
    #[arg(long, env = "KRO_RGD_SELECTOR", default_value = "")]
    pub rgd_selector: String,
    /// Log format: `json` or `text` (kro's `--zap-encoder` names `json`/`console` work too).
    #[arg(long, env = "KRO_LOG_FORMAT", alias = "zap-encoder", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level filter (`RUST_LOG` syntax), e.g. `info` or `kro_controller=debug`.
    #[arg(
        long,
        env = "KRO_LOG_LEVEL",
        alias = "zap-log-level",
        default_value = "info"
    )]
    pub log_level: String,
    /// What a namespaced instance may reach: `any` (kro's behaviour: children and
    /// externalRefs in any namespace, cluster-scoped children) or `instance` (only its own
    /// namespace; cluster-scoped kinds only from `--allowed-cluster-scoped-kinds`).
    #[arg(
        long,
        env = "KRO_NAMESPACE_CONFINEMENT",
        value_enum,
        default_value_t = NamespaceConfinement::Any
    )]
    pub namespace_confinement: NamespaceConfinement,
    /// Cluster-scoped kinds a namespaced instance may create or read in `instance` mode,
    /// comma-separated as `Kind.group` (kubectl's spelling; core kinds without a group:
    /// `Namespace`, `ClusterRole.rbac.authorization.k8s.io`).
    #[arg(
        long,
        env = "KRO_ALLOWED_CLUSTER_SCOPED_KINDS",
        default_value = "",
        value_parser = parse_group_kinds
    )]
    pub allowed_cluster_scoped_kinds: GroupKinds,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            metrics_bind_address: ":8078".into(),
            health_probe_bind_address: ":8079".into(),
            leader_elect: false,
            leader_election_namespace: String::new(),
            leader_election_identity: String::new(),
            leader_election_lease_duration: Duration::from_secs(15),
            leader_election_renew_deadline: Duration::from_secs(10),
            leader_election_retry_period: Duration::from_secs(2),
            allow_crd_deletion: false,
            graceful_shutdown_timeout: Duration::from_secs(60),
            resource_graph_definition_concurrent_reconciles: 4,
            dynamic_controller_concurrent_reconciles: 16,
            dynamic_controller_rate_limiter_min_delay: Duration::from_millis(200),
            dynamic_controller_rate_limiter_max_delay: Duration::from_secs(1000),
            dynamic_controller_default_resync_period: 36000,
            instance_requeue_interval: Duration::from_secs(3),
            rgd_max_collection_size: 1000,
            rgd_max_collection_dimension_size: 10,
            cel_cost_limit: 0,
            rgd_selector: String::new(),
            feature_gates: FeatureGates::default(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            namespace_confinement: NamespaceConfinement::Any,
            allowed_cluster_scoped_kinds: GroupKinds::default(),
        }
    }
}

impl Options {
    /// Options for tests: no HTTP listeners, no leader election, short delays.
    pub fn for_tests() -> Self {
        Self {
            metrics_bind_address: String::new(),
            health_probe_bind_address: String::new(),
            instance_requeue_interval: Duration::from_secs(1),
            graceful_shutdown_timeout: Duration::from_secs(5),
            ..Self::default()
        }
    }

    /// How the RGD controller compiles RGDs under these flags (`kro generate crd` uses the same,
    /// so it prints the CRD `kro run` applies).
    pub fn compile_options(&self, kro_version: String) -> kro_graph::CompileOptions {
        kro_graph::CompileOptions {
            max_collection_dimensions: self.rgd_max_collection_dimension_size,
            omit_enabled: self.feature_gates.cel_omit_function,
            kro_version,
            cel_cost_limit: self.cel_cost_limit,
        }
    }

    /// Retry delay after `failures` consecutive failures: min · 2^(n-1), capped at max.
    pub fn backoff(&self, failures: u32) -> Duration {
        kro_reconcile::Backoff {
            base: self.dynamic_controller_rate_limiter_min_delay,
            max: self.dynamic_controller_rate_limiter_max_delay,
        }
        .delay(failures)
    }
}

/// kro's feature gates that kro-rs implements (all off by default, as in kro).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureGates {
    /// `CELOmitFunction`: `omit()` may be used in templates.
    pub cel_omit_function: bool,
}

/// Parses `Name=true,Other=false` (kro's `--feature-gates`).
pub fn parse_feature_gates(list: &str) -> Result<FeatureGates, String> {
    let mut gates = FeatureGates::default();
    for item in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("feature gate {item:?} needs a value: write {item}=true"))?;
        let on = match value.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(format!(
                    "feature gate {name}: {value:?} is not true or false"
                ));
            }
        };
        match name.trim() {
            "CELOmitFunction" => gates.cel_omit_function = on,
            other => {
                return Err(format!(
                    "unknown feature gate {other:?}: kro-rs knows CELOmitFunction"
                ));
            }
        }
    }
    Ok(gates)
}

/// What a namespaced instance may reach (`--namespace-confinement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NamespaceConfinement {
    /// Children, externalRefs and Secret reads only in the instance's own namespace;
    /// cluster-scoped kinds only when allowlisted.
    Instance,
    /// kro's behaviour: whatever namespace the template names, and cluster-scoped kinds.
    #[default]
    Any,
}

impl NamespaceConfinement {
    /// The flag value (`instance` or `any`).
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceConfinement::Instance => "instance",
            NamespaceConfinement::Any => "any",
        }
    }
}

/// A set of kinds by group, as `--allowed-cluster-scoped-kinds` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupKinds {
    /// `(group, Kind)` pairs; the core group is `""`.
    pub kinds: Vec<(String, String)>,
}

impl GroupKinds {
    /// Whether the kind of `apiVersion` is listed (kinds compare case-insensitively).
    pub fn contains(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(group, _version)| group);
        self.kinds.iter().any(|(listed_group, listed_kind)| {
            listed_group == group && listed_kind.eq_ignore_ascii_case(kind)
        })
    }
}

/// Parses `Namespace,ClusterRole.rbac.authorization.k8s.io` (kubectl's `Kind.group`).
pub fn parse_group_kinds(list: &str) -> Result<GroupKinds, String> {
    let mut kinds = Vec::new();
    for item in list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (kind, group) = item.split_once('.').unwrap_or((item, ""));
        let valid_kind = kind
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic())
            && kind.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid_kind || group.contains('/') || group.chars().any(char::is_whitespace) {
            return Err(format!(
                "{item:?} is not a kind: write Kind.group, e.g. ClusterRole.rbac.authorization.k8s.io, or Namespace for a core kind"
            ));
        }
        kinds.push((group.to_string(), kind.to_string()));
    }
    Ok(GroupKinds { kinds })
}

/// Turns kro's `:8078` into a bindable `0.0.0.0:8078`; `None` when disabled.
pub fn bind_address(address: &str) -> Option<String> {
    let address = address.trim();
    if address.is_empty() || address == "0" {
        return None;
    }
    if let Some(port) = address.strip_prefix(':') {
        return Some(format!("0.0.0.0:{port}"));
    }
    Some(address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: Options,
    }

    #[test]
    fn feature_gates_parse_kro_syntax_and_name_what_is_wrong() {
        assert_eq!(parse_feature_gates(""), Ok(FeatureGates::default()));
        let on = parse_feature_gates("CELOmitFunction=true").expect("valid");
        assert!(on.cel_omit_function);
        let off = parse_feature_gates(" CELOmitFunction=False ").expect("valid");
        assert!(!off.cel_omit_function);
        let e = parse_feature_gates("InstanceConditionEvents=true").expect_err("unknown");
        assert!(
            e.contains("InstanceConditionEvents") && e.contains("CELOmitFunction"),
            "{e}"
        );
        let e = parse_feature_gates("CELOmitFunction").expect_err("no value");
        assert!(e.contains("CELOmitFunction=true"), "{e}");
        let e = parse_feature_gates("CELOmitFunction=yes").expect_err("not a bool");
        assert!(e.contains("not true or false"), "{e}");
        let cli = Cli::try_parse_from(["kro", "--feature-gates", "CELOmitFunction=true"])
            .expect("flag parses");
        assert!(cli.opts.feature_gates.cel_omit_function);
    }

    #[test]
    fn flag_defaults_equal_default() {
        let cli = Cli::try_parse_from(["kro"]).unwrap();
        let defaults = Options::default();
        assert_eq!(cli.opts.metrics_bind_address, defaults.metrics_bind_address);
        assert_eq!(
            cli.opts.health_probe_bind_address,
            defaults.health_probe_bind_address
        );
        assert_eq!(
            cli.opts.instance_requeue_interval,
            defaults.instance_requeue_interval
        );
        assert_eq!(
            cli.opts.dynamic_controller_rate_limiter_max_delay,
            defaults.dynamic_controller_rate_limiter_max_delay
        );
        assert_eq!(cli.opts.log_format, defaults.log_format);
        assert_eq!(
            cli.opts.dynamic_controller_concurrent_reconciles,
            defaults.dynamic_controller_concurrent_reconciles
        );
    }

    #[test]
    fn kro_flag_names_parse() {
        let cli = Cli::try_parse_from([
            "kro",
            "--allow-crd-deletion",
            "--leader-elect",
            "--instance-requeue-interval=500ms",
            "--zap-encoder=console",
            "--dynamic-controller-concurrent-reconciles=3",
        ])
        .unwrap();
        assert!(cli.opts.allow_crd_deletion && cli.opts.leader_elect);
        assert_eq!(
            cli.opts.instance_requeue_interval,
            Duration::from_millis(500)
        );
        assert_eq!(cli.opts.log_format, LogFormat::Text);
        assert_eq!(cli.opts.dynamic_controller_concurrent_reconciles, 3);
    }

    #[test]
    fn confinement_flags_parse_and_default_to_any() {
        let cli = Cli::try_parse_from(["kro"]).unwrap();
        assert_eq!(cli.opts.namespace_confinement, NamespaceConfinement::Any);
        assert_eq!(
            cli.opts.namespace_confinement,
            Options::default().namespace_confinement
        );
        assert_eq!(
            cli.opts.allowed_cluster_scoped_kinds,
            Options::default().allowed_cluster_scoped_kinds
        );
        let cli = Cli::try_parse_from([
            "kro",
            "--namespace-confinement=instance",
            "--allowed-cluster-scoped-kinds",
            "Namespace, ClusterRole.rbac.authorization.k8s.io",
        ])
        .unwrap();
        assert_eq!(
            cli.opts.namespace_confinement,
            NamespaceConfinement::Instance
        );
        let allowed = &cli.opts.allowed_cluster_scoped_kinds;
        assert!(allowed.contains("v1", "Namespace"));
        assert!(allowed.contains("rbac.authorization.k8s.io/v1", "ClusterRole"));
        assert!(!allowed.contains("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"));
        assert!(!allowed.contains("example.com/v1", "Namespace"));
        assert!(Cli::try_parse_from(["kro", "--namespace-confinement=tenant"]).is_err());
        let e = parse_group_kinds("clusterroles/rbac").expect_err("not Kind.group");
        assert!(e.contains("Kind.group"), "{e}");
        assert!(parse_group_kinds(".rbac.authorization.k8s.io").is_err());
    }

    #[test]
    fn durations() {
        for (text, want) in [
            ("3s", Some(Duration::from_secs(3))),
            ("200ms", Some(Duration::from_millis(200))),
            ("1m", Some(Duration::from_secs(60))),
            ("2h", Some(Duration::from_secs(7200))),
            ("5", Some(Duration::from_secs(5))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("3d", None),
            ("fast", None),
            ("", None),
        ] {
            assert_eq!(parse_duration(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let options = Options::default();
        for (attempt, want) in [(1, 200), (2, 400), (3, 800), (4, 1600), (40, 1_000_000)] {
            assert_eq!(
                options.backoff(attempt),
                Duration::from_millis(want),
                "{attempt}"
            );
        }
    }

    #[test]
    fn bind_addresses() {
        for (text, want) in [
            (":8078", Some("0.0.0.0:8078")),
            ("127.0.0.1:9", Some("127.0.0.1:9")),
            ("", None),
            ("0", None),
        ] {
            assert_eq!(bind_address(text).as_deref(), want, "{text}");
        }
    }
}
