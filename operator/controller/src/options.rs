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

/// Parses a duration written as kro (Go's `time.ParseDuration`) writes them: `3s`, `200ms`,
/// `1m30s`, `1.5h`, `300us`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration; write e.g. 3s, 200ms, 1m30s");
    if text.is_empty() {
        return Err(bad());
    }
    let number = |character: char| character.is_ascii_digit() || character == '.';
    let mut secs = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let (amount, tail) = rest.split_at(rest.find(|c: char| !number(c)).unwrap_or(rest.len()));
        let (unit, tail) = tail.split_at(tail.find(number).unwrap_or(tail.len()));
        let amount: f64 = amount.parse().map_err(|_| bad())?;
        secs += match unit {
            "" if rest.len() == text.len() => amount,
            "ns" => amount / 1e9,
            "us" | "\u{b5}s" | "\u{3bc}s" => amount / 1e6,
            "ms" => amount / 1000.0,
            "s" => amount,
            "m" => amount * 60.0,
            "h" => amount * 3600.0,
            _ => {
                return Err(format!(
                    "unknown unit {unit:?} in {text:?}; use ns, us, ms, s, m or h"
                ));
            }
        };
        rest = tail;
    }
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration above zero (a limit that cannot be turned off).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?}: must be more than 0"));
    }
    Ok(duration)
}

/// A count above zero (a limit that cannot be turned off).
pub fn parse_positive_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err(format!("{text:?}: must be more than 0")),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// `--apply-concurrency`'s default, kro's.
pub const DEFAULT_APPLY_CONCURRENCY: usize = 20;

/// Parses `--apply-concurrency` as kro reads it: a whole number, where 0 or less means the
/// default.
pub fn parse_apply_concurrency(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(count) if count <= 0 => Ok(DEFAULT_APPLY_CONCURRENCY),
        Ok(count) => usize::try_from(count).map_err(|_| format!("{text:?} is too large")),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// Parses a boolean as Go's `strconv.ParseBool` does (kro's chart writes `--zap-devel=false`).
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean; write true or false")),
    }
}

/// Parses `--log-level`: a `RUST_LOG` filter, or one of zap's levels as kro's
/// `--zap-log-level` takes them (`panic`, `dpanic`, `fatal` mean `error`; an integer
/// verbosity of 1 or more means `debug`, 0 `info`).
pub fn parse_log_level(text: &str) -> Result<String, String> {
    let text = text.trim();
    Ok(match text.to_ascii_lowercase().as_str() {
        "" | "0" => "info".to_string(),
        "panic" | "dpanic" | "fatal" => "error".to_string(),
        verbosity if verbosity.parse::<u16>().is_ok() => "debug".to_string(),
        _ => text.to_string(),
    })
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
    #[arg(
        long,
        env = "KRO_LEADER_ELECT",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set,
        value_parser = parse_go_bool
    )]
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
    #[arg(
        long,
        env = "KRO_ALLOW_CRD_DELETION",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set,
        value_parser = parse_go_bool
    )]
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
    /// Most server-side applies in flight at once for one instance (kro's flag from its main
    /// branch): children whose dependencies are all applied go out together, in dependency
    /// waves. 0 (or less), as in kro, means the default 20; 1 applies one child at a time.
    #[arg(
        long,
        env = "KRO_APPLY_CONCURRENCY",
        default_value_t = DEFAULT_APPLY_CONCURRENCY,
        value_parser = parse_apply_concurrency,
        allow_hyphen_values = true
    )]
    pub apply_concurrency: usize,
    /// Desired bytes of one instance: the compact JSON of every object its nodes expand to,
    /// together; more puts the instance in `ERROR` and applies nothing.
    #[arg(
        long,
        env = "KRO_INSTANCE_MAX_DESIRED_BYTES",
        default_value_t = kro_runtime::DEFAULT_MAX_DESIRED_BYTES,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub instance_max_desired_bytes: u64,
    /// Desired objects of one instance, every node together; more puts the instance in
    /// `ERROR` and applies nothing.
    #[arg(
        long,
        env = "KRO_INSTANCE_MAX_OBJECTS",
        default_value_t = kro_runtime::DEFAULT_MAX_OBJECTS,
        value_parser = parse_positive_count
    )]
    pub instance_max_objects: usize,
    /// Wall-clock time one reconcile may spend evaluating an instance (CEL and expansion, off
    /// the async runtime); past it the evaluation stops, the instance is `ERROR` and retried
    /// with backoff.
    #[arg(long, env = "KRO_INSTANCE_EVALUATION_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub instance_evaluation_timeout: Duration,
    /// Feature gates, kro's syntax and gates (all alpha, off by default): `CELOmitFunction`
    /// (`omit()` in templates), `InstanceConditionEvents` (an event per instance condition
    /// transition), `InstanceConditionMetrics` (`instance_condition_current_status_seconds` and
    /// transition logs); `AllAlpha`/`AllBeta` set every gate not named. An unknown gate stops
    /// `kro run` at start, as kro.
    #[arg(long, env = "KRO_FEATURE_GATES", default_value = "", value_parser = parse_feature_gates)]
    pub feature_gates: FeatureGates,
    /// Throttle the Kubernetes client on our side with `--client-qps`/`--client-burst`. Off by
    /// default, as in kro v0.9.4: kro accepts those two flags but never applies them
    /// (controller-runtime's config turns client-side rate limiting off and kro sets its values
    /// only over a QPS of 0), leaving the API server's priority and fairness to pace it.
    #[arg(
        long,
        env = "KRO_CLIENT_SIDE_THROTTLE",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set,
        value_parser = parse_go_bool
    )]
    pub client_side_throttle: bool,
    /// Requests per second the Kubernetes client may send with `--client-side-throttle`
    /// (client-go's token bucket; kro's `--client-qps`). 0 means client-go's default, 5; a
    /// negative value turns the limit off.
    #[arg(
        long,
        env = "KRO_CLIENT_QPS",
        default_value_t = 100.0,
        allow_negative_numbers = true
    )]
    pub client_qps: f32,
    /// Requests the Kubernetes client may send at once above `--client-qps` (the bucket size).
    #[arg(long, env = "KRO_CLIENT_BURST", default_value_t = 150)]
    pub client_burst: u32,
    /// Failed reconciles an instance is retried after before it is dropped from the queue
    /// until it (or a child) changes, as kro's queue does.
    #[arg(
        long,
        env = "KRO_DYNAMIC_CONTROLLER_DEFAULT_QUEUE_MAX_RETRIES",
        default_value_t = 20
    )]
    pub dynamic_controller_default_queue_max_retries: u32,
    /// Retries of failed instance reconciles allowed per second over every instance (a token
    /// bucket; each retry waits for the later of its backoff and its token). 0: no limit.
    #[arg(
        long,
        env = "KRO_DYNAMIC_CONTROLLER_RATE_LIMITER_RATE_LIMIT",
        default_value_t = 10
    )]
    pub dynamic_controller_rate_limiter_rate_limit: u32,
    /// Retries of failed instance reconciles allowed at once above the rate limit.
    #[arg(
        long,
        env = "KRO_DYNAMIC_CONTROLLER_RATE_LIMITER_BURST_LIMIT",
        default_value_t = 100
    )]
    pub dynamic_controller_rate_limiter_burst_limit: u32,
    /// Delay before an RGD whose CRD is not Established yet is reconciled again.
    #[arg(long, env = "KRO_RGD_PROGRESS_REQUEUE_DELAY", default_value = "3s", value_parser = parse_duration)]
    pub rgd_progress_requeue_delay: Duration,
    /// GraphRevision reconciles running at once (kro's flag; accepted without effect: kro-rs
    /// compiles a GraphRevision inline, in the RGD reconcile that issues it).
    #[arg(
        long,
        env = "KRO_GRAPH_REVISION_CONCURRENT_RECONCILES",
        default_value_t = 1
    )]
    pub graph_revision_concurrent_reconciles: u16,
    /// GraphRevisions kept per RGD: older ones are deleted after each reconcile that serves a
    /// revision. 0 keeps all.
    #[arg(long, env = "KRO_RGD_MAX_GRAPH_REVISIONS", default_value_t = 5)]
    pub rgd_max_graph_revisions: usize,
    /// kro's controller warm-up (watches started before leading). Accepted without effect:
    /// kro-rs starts its watches once it leads.
    #[arg(
        long,
        env = "KRO_ENABLE_CONTROLLER_WARMUP",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set,
        value_parser = parse_go_bool
    )]
    pub enable_controller_warmup: bool,
    /// kro's Go pprof endpoint. Accepted without effect: this is not a Go binary.
    #[arg(long, default_value = ":6060")]
    pub pprof_bind_address: String,
    /// zap's development mode (kro's `--zap-devel`): debug level unless `--log-level`
    /// (`--zap-log-level`) says otherwise.
    #[arg(
        long,
        env = "KRO_LOG_DEVELOPMENT",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set,
        value_parser = parse_go_bool
    )]
    pub zap_devel: bool,
    /// zap's level for stack traces (`info`, `error`, `panic`). Accepted without effect: the
    /// logs carry no stack traces.
    #[arg(long, value_parser = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"])]
    pub zap_stacktrace_level: Option<String>,
    /// zap's time encoding. Accepted without effect: log times are always RFC 3339.
    #[arg(long, value_parser = ["epoch", "millis", "nano", "iso8601", "rfc3339", "rfc3339nano"])]
    pub zap_time_encoding: Option<String>,
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
        default_value = "info",
        value_parser = parse_log_level
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
            apply_concurrency: DEFAULT_APPLY_CONCURRENCY,
            instance_max_desired_bytes: kro_runtime::DEFAULT_MAX_DESIRED_BYTES,
            instance_max_objects: kro_runtime::DEFAULT_MAX_OBJECTS,
            instance_evaluation_timeout: Duration::from_secs(30),
            rgd_selector: String::new(),
            client_side_throttle: false,
            client_qps: 100.0,
            client_burst: 150,
            dynamic_controller_default_queue_max_retries: 20,
            dynamic_controller_rate_limiter_rate_limit: 10,
            dynamic_controller_rate_limiter_burst_limit: 100,
            rgd_progress_requeue_delay: Duration::from_secs(3),
            graph_revision_concurrent_reconciles: 1,
            rgd_max_graph_revisions: 5,
            enable_controller_warmup: false,
            pprof_bind_address: ":6060".into(),
            zap_devel: false,
            zap_stacktrace_level: None,
            zap_time_encoding: None,
            feature_gates: FeatureGates::default(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            namespace_confinement: NamespaceConfinement::Any,
            allowed_cluster_scoped_kinds: GroupKinds::default(),
        }
    }
}

impl Options {
    /// With `--leader-elect`, the write fence of this replica ([`kro_reconcile::LeaderFence`]),
    /// after client-go's check of the timing it relies on: lease duration > renew deadline >
    /// retry period. `Err` names the flags and their values.
    pub fn leader_election_fence(&self) -> Result<Option<kro_reconcile::LeaderFence>, String> {
        if !self.leader_elect {
            return Ok(None);
        }
        let (lease, renew, retry) = (
            self.leader_election_lease_duration,
            self.leader_election_renew_deadline,
            self.leader_election_retry_period,
        );
        if lease <= renew {
            return Err(format!(
                "--leader-election-lease-duration ({lease:?}) must be greater than \
                 --leader-election-renew-deadline ({renew:?}): the leader stops writing at the \
                 renew deadline, before a standby may take the Lease"
            ));
        }
        if renew <= retry {
            return Err(format!(
                "--leader-election-renew-deadline ({renew:?}) must be greater than \
                 --leader-election-retry-period ({retry:?}): the Lease is renewed every retry \
                 period and must be renewed before the deadline"
            ));
        }
        Ok(Some(kro_reconcile::LeaderFence::new(renew)))
    }

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

    /// The overall token bucket on retries of failed instance reconciles
    /// (`--dynamic-controller-rate-limiter-rate-limit`/`-burst-limit`).
    pub fn retry_bucket(&self) -> kro_reconcile::TokenBucket {
        kro_reconcile::TokenBucket::new(
            f64::from(self.dynamic_controller_rate_limiter_rate_limit),
            self.dynamic_controller_rate_limiter_burst_limit,
        )
    }
}

/// kro's feature gates (kro's `pkg/features`: all alpha, all off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureGates {
    /// `CELOmitFunction`: `omit()` may be used in templates.
    pub cel_omit_function: bool,
    /// `InstanceConditionEvents`: an event on every instance condition transition.
    pub instance_condition_events: bool,
    /// `InstanceConditionMetrics`: `instance_condition_current_status_seconds` and a log line
    /// per transition.
    pub instance_condition_metrics: bool,
}

/// The gates kro knows, each alpha: what `AllAlpha` sets.
pub const FEATURE_GATES: [&str; 3] = [
    "CELOmitFunction",
    "InstanceConditionEvents",
    "InstanceConditionMetrics",
];

impl FeatureGates {
    fn set(&mut self, name: &str, on: bool) {
        match name {
            "CELOmitFunction" => self.cel_omit_function = on,
            "InstanceConditionEvents" => self.instance_condition_events = on,
            "InstanceConditionMetrics" => self.instance_condition_metrics = on,
            _ => {}
        }
    }
}

/// Parses `Name=true,Other=false` as kro's `--feature-gates` (Kubernetes component-base's
/// feature gates): values as Go's `strconv.ParseBool`; `AllAlpha=B` sets every alpha gate
/// not named (all of kro's), `AllBeta=B` every beta gate (kro has none); an unknown name is an
/// error (`unrecognized feature gate: X`), so `kro run` stops at start.
pub fn parse_feature_gates(list: &str) -> Result<FeatureGates, String> {
    let mut named: Vec<(String, bool)> = Vec::new();
    let mut all_alpha = None;
    for item in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            format!("missing bool value for {item}: write {item}=true or {item}=false")
        })?;
        let name = name.trim();
        let on = parse_go_bool(value).map_err(|_| {
            format!(
                "invalid value of {name}={}: write true or false",
                value.trim()
            )
        })?;
        match name {
            "AllAlpha" => all_alpha = Some(on),
            "AllBeta" => {}
            known if FEATURE_GATES.contains(&known) => named.push((known.to_string(), on)),
            unknown => {
                return Err(format!(
                    "unrecognized feature gate: {unknown} (known: {}, AllAlpha, AllBeta)",
                    FEATURE_GATES.join(", ")
                ));
            }
        }
    }
    let mut gates = FeatureGates::default();
    if let Some(on) = all_alpha {
        for name in FEATURE_GATES {
            gates.set(name, on);
        }
    }
    for (name, on) in named {
        gates.set(&name, on);
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
    fn leader_election_timing_is_checked_as_client_go_does() {
        let parse = |args: &[&str]| {
            let mut all = vec!["kro", "--leader-elect"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().opts
        };
        // kro's defaults (15s > 10s > 2s) give a fence; no leader election, none.
        assert!(parse(&[]).leader_election_fence().unwrap().is_some());
        assert!(
            Options::for_tests()
                .leader_election_fence()
                .unwrap()
                .is_none()
        );
        let long_deadline = parse(&["--leader-election-lease-duration", "4s"])
            .leader_election_fence()
            .unwrap_err();
        assert!(
            long_deadline.contains("--leader-election-lease-duration (4s) must be greater than --leader-election-renew-deadline (10s)"),
            "{long_deadline}"
        );
        let slow_retry = parse(&["--leader-election-retry-period", "10s"])
            .leader_election_fence()
            .unwrap_err();
        assert!(
            slow_retry.contains("--leader-election-renew-deadline (10s) must be greater than --leader-election-retry-period (10s)"),
            "{slow_retry}"
        );
    }

    #[test]
    fn feature_gates_parse_kro_syntax_and_name_what_is_wrong() {
        assert_eq!(parse_feature_gates(""), Ok(FeatureGates::default()));
        let on = parse_feature_gates("CELOmitFunction=true").expect("valid");
        assert!(on.cel_omit_function);
        let off = parse_feature_gates(" CELOmitFunction=False ").expect("valid");
        assert!(!off.cel_omit_function);
        let both = parse_feature_gates("InstanceConditionEvents=true,InstanceConditionMetrics=1")
            .expect("valid");
        assert!(both.instance_condition_events && both.instance_condition_metrics);
        assert!(!both.cel_omit_function);
        let e = parse_feature_gates("GraphKind=true").expect_err("unknown");
        assert!(
            e.contains("unrecognized feature gate: GraphKind")
                && e.contains("InstanceConditionEvents"),
            "{e}"
        );
        let e = parse_feature_gates("CELOmitFunction").expect_err("no value");
        assert!(e.contains("CELOmitFunction=true"), "{e}");
        let e = parse_feature_gates("CELOmitFunction=yes").expect_err("not a bool");
        assert!(e.contains("invalid value of CELOmitFunction=yes"), "{e}");
        let cli = Cli::try_parse_from(["kro", "--feature-gates", "CELOmitFunction=true"])
            .expect("flag parses");
        assert!(cli.opts.feature_gates.cel_omit_function);
        let e = Cli::try_parse_from(["kro", "--feature-gates", "Nope=true"])
            .err()
            .expect("an unknown gate stops the start");
        assert!(
            e.to_string().contains("unrecognized feature gate: Nope"),
            "{e}"
        );
    }

    #[test]
    fn all_alpha_sets_every_gate_not_named_whatever_the_order() {
        let all = parse_feature_gates("AllAlpha=true").expect("valid");
        assert!(all.cel_omit_function && all.instance_condition_events);
        assert!(all.instance_condition_metrics);
        for list in [
            "AllAlpha=true,InstanceConditionEvents=false",
            "InstanceConditionEvents=false,AllAlpha=true",
        ] {
            let gates = parse_feature_gates(list).expect("valid");
            assert!(!gates.instance_condition_events, "{list}");
            assert!(
                gates.cel_omit_function && gates.instance_condition_metrics,
                "{list}"
            );
        }
        let none =
            parse_feature_gates("AllAlpha=false,CELOmitFunction=true,AllBeta=true").expect("valid");
        assert_eq!(
            none,
            FeatureGates {
                cel_omit_function: true,
                ..FeatureGates::default()
            }
        );
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

    /// The `args:` kro v0.9.4's Helm chart (`helm/templates/deployment.yaml`) renders with its
    /// default `values.yaml`, each `$(KRO_*)` replaced by its `env:` value.
    const KRO_CHART_ARGS: &[&str] = &[
        "--metrics-bind-address",
        ":8078",
        "--health-probe-bind-address",
        ":8079",
        "--resource-graph-definition-concurrent-reconciles",
        "1",
        "--graph-revision-concurrent-reconciles",
        "1",
        "--dynamic-controller-concurrent-reconciles",
        "1",
        "--zap-log-level",
        "info",
        "--zap-encoder",
        "console",
        "--zap-devel=false",
        "--graceful-shutdown-timeout",
        "60s",
        "--instance-requeue-interval",
        "3s",
        "--dynamic-controller-default-resync-period",
        "36000",
        "--dynamic-controller-default-queue-max-retries",
        "20",
        "--dynamic-controller-rate-limiter-min-delay",
        "200ms",
        "--dynamic-controller-rate-limiter-max-delay",
        "1000s",
        "--client-qps",
        "100",
        "--client-burst",
        "150",
        "--dynamic-controller-rate-limiter-rate-limit",
        "10",
        "--dynamic-controller-rate-limiter-burst-limit",
        "100",
        "--rgd-max-collection-size",
        "1000",
        "--rgd-max-collection-dimension-size",
        "10",
        "--rgd-max-graph-revisions",
        "5",
        "--rgd-progress-requeue-delay",
        "3s",
        "--leader-election-lease-duration",
        "15s",
        "--leader-election-renew-deadline",
        "10s",
        "--leader-election-retry-period",
        "2s",
        "--leader-elect",
    ];

    /// Every flag of kro's chart parses; where kro-rs keeps kro's default, the value the chart
    /// passes equals the default.
    #[test]
    fn every_flag_of_kros_chart_parses_to_kros_defaults() {
        let chart =
            Cli::try_parse_from(std::iter::once("kro").chain(KRO_CHART_ARGS.iter().copied()))
                .expect("kro's chart arguments parse");
        let o = chart.opts;
        let d = Options::default();
        assert!(o.leader_elect && !o.zap_devel);
        assert_eq!(o.log_level, "info");
        assert_eq!(o.log_format, LogFormat::Text);
        assert_eq!(
            (
                o.resource_graph_definition_concurrent_reconciles,
                o.dynamic_controller_concurrent_reconciles
            ),
            (1, 1)
        );
        assert_eq!(o.metrics_bind_address, d.metrics_bind_address);
        assert_eq!(o.health_probe_bind_address, d.health_probe_bind_address);
        assert!((o.client_qps - d.client_qps).abs() < f32::EPSILON);
        assert_eq!(o.client_burst, d.client_burst);
        assert_eq!(o.graceful_shutdown_timeout, d.graceful_shutdown_timeout);
        assert_eq!(o.instance_requeue_interval, d.instance_requeue_interval);
        assert_eq!(
            o.dynamic_controller_default_resync_period,
            d.dynamic_controller_default_resync_period
        );
        assert_eq!(
            o.dynamic_controller_default_queue_max_retries,
            d.dynamic_controller_default_queue_max_retries
        );
        assert_eq!(
            o.dynamic_controller_rate_limiter_min_delay,
            d.dynamic_controller_rate_limiter_min_delay
        );
        assert_eq!(
            o.dynamic_controller_rate_limiter_max_delay,
            d.dynamic_controller_rate_limiter_max_delay
        );
        assert_eq!(
            o.dynamic_controller_rate_limiter_rate_limit,
            d.dynamic_controller_rate_limiter_rate_limit
        );
        assert_eq!(
            o.dynamic_controller_rate_limiter_burst_limit,
            d.dynamic_controller_rate_limiter_burst_limit
        );
        assert_eq!(o.rgd_max_collection_size, d.rgd_max_collection_size);
        assert_eq!(
            o.rgd_max_collection_dimension_size,
            d.rgd_max_collection_dimension_size
        );
        assert_eq!(o.rgd_max_graph_revisions, d.rgd_max_graph_revisions);
        assert_eq!(
            o.graph_revision_concurrent_reconciles,
            d.graph_revision_concurrent_reconciles
        );
        assert_eq!(o.rgd_progress_requeue_delay, d.rgd_progress_requeue_delay);
        assert_eq!(
            o.leader_election_lease_duration,
            d.leader_election_lease_duration
        );
        assert_eq!(
            o.leader_election_renew_deadline,
            d.leader_election_renew_deadline
        );
        assert_eq!(
            o.leader_election_retry_period,
            d.leader_election_retry_period
        );
    }

    /// kro's defaults (`cmd/controller/main.go`), for the flags kro-rs takes them from.
    #[test]
    fn new_kro_flags_default_as_kro() {
        let parsed = Cli::try_parse_from(["kro"]).unwrap().opts;
        for o in [parsed, Options::default()] {
            assert!((o.client_qps - 100.0).abs() < f32::EPSILON);
            assert_eq!(o.client_burst, 150);
            assert_eq!(o.dynamic_controller_default_queue_max_retries, 20);
            assert_eq!(
                (
                    o.dynamic_controller_rate_limiter_rate_limit,
                    o.dynamic_controller_rate_limiter_burst_limit
                ),
                (10, 100)
            );
            assert_eq!(o.rgd_progress_requeue_delay, Duration::from_secs(3));
            assert_eq!(
                (
                    o.graph_revision_concurrent_reconciles,
                    o.rgd_max_graph_revisions
                ),
                (1, 5)
            );
            assert!(!o.enable_controller_warmup && !o.zap_devel);
            assert_eq!(o.pprof_bind_address, ":6060");
            assert_eq!(o.zap_stacktrace_level, None);
            assert_eq!(o.zap_time_encoding, None);
        }
    }

    #[test]
    fn booleans_take_go_spellings() {
        for (args, want) in [
            (&["kro", "--leader-elect"][..], true),
            (&["kro", "--leader-elect=true"], true),
            (&["kro", "--leader-elect=T"], true),
            (&["kro", "--leader-elect=1"], true),
            (&["kro", "--leader-elect=false"], false),
            (&["kro", "--leader-elect=False"], false),
            (&["kro"], false),
        ] {
            let o = Cli::try_parse_from(args).unwrap().opts;
            assert_eq!(o.leader_elect, want, "{args:?}");
        }
        let o = Cli::try_parse_from([
            "kro",
            "--zap-devel",
            "--enable-controller-warmup=true",
            "--allow-crd-deletion=0",
        ])
        .unwrap()
        .opts;
        assert!(o.zap_devel && o.enable_controller_warmup && !o.allow_crd_deletion);
        let e = Cli::try_parse_from(["kro", "--zap-devel=maybe"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("--zap-devel") && e.contains("true or false"),
            "{e}"
        );
    }

    #[test]
    fn zap_levels_and_encodings() {
        for (level, want) in [
            ("info", "info"),
            ("debug", "debug"),
            ("error", "error"),
            ("panic", "error"),
            ("2", "debug"),
            ("0", "info"),
            ("info,kro_controller=debug", "info,kro_controller=debug"),
        ] {
            let o = Cli::try_parse_from(["kro", "--zap-log-level", level])
                .unwrap()
                .opts;
            assert_eq!(o.log_level, want, "{level}");
        }
        let o = Cli::try_parse_from([
            "kro",
            "--zap-encoder=json",
            "--zap-stacktrace-level=error",
            "--zap-time-encoding",
            "rfc3339nano",
        ])
        .unwrap()
        .opts;
        assert_eq!(o.log_format, LogFormat::Json);
        assert_eq!(o.zap_stacktrace_level.as_deref(), Some("error"));
        assert!(Cli::try_parse_from(["kro", "--zap-time-encoding=sometimes"]).is_err());
        assert!(
            Cli::try_parse_from(["kro", "--client-qps=-1"])
                .unwrap()
                .opts
                .client_qps
                < 0.0
        );
    }

    #[test]
    fn apply_concurrency_is_read_as_kro_reads_it() {
        let parse = |args: &[&str]| {
            let mut all = vec!["kro"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| cli.opts.apply_concurrency)
        };
        assert_eq!(parse(&[]).unwrap(), 20);
        assert_eq!(parse(&["--apply-concurrency", "3"]).unwrap(), 3);
        assert_eq!(parse(&["--apply-concurrency=1"]).unwrap(), 1);
        // kro: 0 or less is the default.
        assert_eq!(parse(&["--apply-concurrency", "0"]).unwrap(), 20);
        assert_eq!(parse(&["--apply-concurrency=-4"]).unwrap(), 20);
        assert!(parse(&["--apply-concurrency", "many"]).is_err());
        assert_eq!(Options::default().apply_concurrency, 20);
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
            ("1m30s", Some(Duration::from_secs(90))),
            ("1h0m0s", Some(Duration::from_secs(3600))),
            ("300us", Some(Duration::from_micros(300))),
            ("0", Some(Duration::ZERO)),
            ("1000s", Some(Duration::from_secs(1000))),
            ("-1s", None),
            ("5s3", None),
            ("3d", None),
            ("fast", None),
            ("", None),
        ] {
            assert_eq!(parse_duration(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn instance_budgets_and_the_evaluation_timeout_parse_and_refuse_zero() {
        let o = Cli::try_parse_from(["kro"]).unwrap().opts;
        let d = Options::default();
        assert_eq!(o.instance_max_desired_bytes, d.instance_max_desired_bytes);
        assert_eq!(o.instance_max_objects, d.instance_max_objects);
        assert_eq!(o.instance_evaluation_timeout, d.instance_evaluation_timeout);
        assert_eq!(
            (d.instance_max_desired_bytes, d.instance_max_objects),
            (32 * 1024 * 1024, 5000)
        );
        let o = Cli::try_parse_from([
            "kro",
            "--instance-max-desired-bytes=1048576",
            "--instance-max-objects",
            "10",
            "--instance-evaluation-timeout=2s",
        ])
        .unwrap()
        .opts;
        assert_eq!(o.instance_max_desired_bytes, 1_048_576);
        assert_eq!(o.instance_max_objects, 10);
        assert_eq!(o.instance_evaluation_timeout, Duration::from_secs(2));
        for flag in [
            "--instance-max-desired-bytes=0",
            "--instance-max-objects=0",
            "--instance-evaluation-timeout=0s",
        ] {
            let e = Cli::try_parse_from(["kro", flag])
                .err()
                .unwrap()
                .to_string();
            let name = flag.split('=').next().unwrap();
            assert!(e.contains(name), "{flag}: {e}");
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
