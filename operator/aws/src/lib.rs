//! All AWS IO: the ACK-compatible S3, RDS, EC2 and IAM controllers.
//!
//! The kinds keep ACK's API (`s3.services.k8s.aws/v1alpha1`, `rds.services.k8s.aws/v1alpha1`),
//! conditions, annotations and finalizers, so ACK manifests work unchanged. Each kind module keeps
//! its desired-vs-observed logic pure (spec + observed AWS state in, AWS calls out); the shared
//! [`ack`] runtime does finalizers, adoption, conditions, status and requeue.

use std::collections::BTreeSet;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

pub mod ack;
mod crds;
#[cfg(feature = "ec2")]
pub mod ec2;
#[cfg(feature = "iam")]
pub mod iam;
pub mod rds;
pub mod s3;

pub use ack::annotations::DeletionPolicy;
pub use crds::static_crds;

/// One of the controllers this crate runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerKind {
    /// `s3.services.k8s.aws/v1alpha1 Bucket`.
    Bucket,
    /// `rds.services.k8s.aws/v1alpha1 DBSubnetGroup`.
    DbSubnetGroup,
    /// `rds.services.k8s.aws/v1alpha1 DBParameterGroup`; before DBInstance, whose
    /// `dbParameterGroupRef` waits for it.
    DbParameterGroup,
    /// `rds.services.k8s.aws/v1alpha1 DBClusterParameterGroup`.
    DbClusterParameterGroup,
    /// `rds.services.k8s.aws/v1alpha1 DBCluster` (Aurora).
    DbCluster,
    /// `rds.services.k8s.aws/v1alpha1 DBInstance`.
    DbInstance,
    /// `ec2.services.k8s.aws/v1alpha1 VPC` (feature `ec2`).
    Vpc,
    /// `ec2.services.k8s.aws/v1alpha1 Subnet` (feature `ec2`).
    Subnet,
    /// `ec2.services.k8s.aws/v1alpha1 SecurityGroup` (feature `ec2`).
    SecurityGroup,
    /// `ec2.services.k8s.aws/v1alpha1 InternetGateway` (feature `ec2`).
    InternetGateway,
    /// `ec2.services.k8s.aws/v1alpha1 RouteTable` (feature `ec2`).
    RouteTable,
    /// `ec2.services.k8s.aws/v1alpha1 ElasticIPAddress` (feature `ec2`).
    ElasticIpAddress,
    /// `ec2.services.k8s.aws/v1alpha1 NATGateway` (feature `ec2`).
    NatGateway,
    /// `iam.services.k8s.aws/v1alpha1 Policy` (feature `iam`); before Role, whose `policyRefs`
    /// wait for it.
    Policy,
    /// `iam.services.k8s.aws/v1alpha1 Role` (feature `iam`).
    Role,
}

impl ControllerKind {
    /// Every controller, in start order, including those compiled out (see
    /// [`ControllerKind::compiled`]).
    pub const ALL: [ControllerKind; 15] = [
        ControllerKind::Bucket,
        ControllerKind::DbSubnetGroup,
        ControllerKind::DbParameterGroup,
        ControllerKind::DbClusterParameterGroup,
        ControllerKind::DbCluster,
        ControllerKind::DbInstance,
        ControllerKind::Vpc,
        ControllerKind::Subnet,
        ControllerKind::SecurityGroup,
        ControllerKind::InternetGateway,
        ControllerKind::RouteTable,
        ControllerKind::ElasticIpAddress,
        ControllerKind::NatGateway,
        ControllerKind::Policy,
        ControllerKind::Role,
    ];

    /// The cargo feature of `kro-aws` (and `kro-rs`) the controller needs, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            ControllerKind::Vpc
            | ControllerKind::Subnet
            | ControllerKind::SecurityGroup
            | ControllerKind::InternetGateway
            | ControllerKind::RouteTable
            | ControllerKind::ElasticIpAddress
            | ControllerKind::NatGateway => Some("ec2"),
            ControllerKind::Policy | ControllerKind::Role => Some("iam"),
            _ => None,
        }
    }

    /// True when the controller is in this build (its feature, if any, is on).
    pub fn compiled(self) -> bool {
        match self.feature() {
            Some("ec2") => cfg!(feature = "ec2"),
            Some("iam") => cfg!(feature = "iam"),
            Some(_) => false,
            None => true,
        }
    }

    /// Every controller this build has, in start order.
    pub fn all_compiled() -> impl Iterator<Item = ControllerKind> {
        Self::ALL.into_iter().filter(|k| k.compiled())
    }

    /// The name used on the command line (the kind).
    pub fn name(self) -> &'static str {
        match self {
            ControllerKind::Bucket => "Bucket",
            ControllerKind::DbSubnetGroup => "DBSubnetGroup",
            ControllerKind::DbParameterGroup => "DBParameterGroup",
            ControllerKind::DbClusterParameterGroup => "DBClusterParameterGroup",
            ControllerKind::DbCluster => "DBCluster",
            ControllerKind::DbInstance => "DBInstance",
            ControllerKind::Vpc => "VPC",
            ControllerKind::Subnet => "Subnet",
            ControllerKind::SecurityGroup => "SecurityGroup",
            ControllerKind::InternetGateway => "InternetGateway",
            ControllerKind::RouteTable => "RouteTable",
            ControllerKind::ElasticIpAddress => "ElasticIPAddress",
            ControllerKind::NatGateway => "NATGateway",
            ControllerKind::Policy => "Policy",
            ControllerKind::Role => "Role",
        }
    }
}

/// A controller name that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown AWS controller {0:?}: write one of Bucket, DBSubnetGroup, DBParameterGroup, DBClusterParameterGroup, DBCluster, DBInstance, VPC, Subnet, SecurityGroup, InternetGateway, RouteTable, ElasticIPAddress, NATGateway, Policy, Role (case-insensitive, or s3/rds/ec2/iam for a whole service)"
)]
pub struct UnknownController(pub String);

/// Why a controller list cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControllerListError {
    /// A name that is not one of ours.
    #[error(transparent)]
    Unknown(#[from] UnknownController),
    /// A controller of ours that this build leaves out.
    #[error(
        "AWS controller {name} is not in this build: it needs cargo feature {feature:?} of kro-rs (build with --features {feature}, on by default), or leave {name} out of --aws-controllers"
    )]
    CompiledOut {
        /// The controller.
        name: &'static str,
        /// The feature it needs.
        feature: &'static str,
    },
}

impl FromStr for ControllerKind {
    type Err = UnknownController;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bucket" | "buckets" => Ok(ControllerKind::Bucket),
            "dbsubnetgroup" | "dbsubnetgroups" => Ok(ControllerKind::DbSubnetGroup),
            "dbparametergroup" | "dbparametergroups" => Ok(ControllerKind::DbParameterGroup),
            "dbclusterparametergroup" | "dbclusterparametergroups" => {
                Ok(ControllerKind::DbClusterParameterGroup)
            }
            "dbcluster" | "dbclusters" => Ok(ControllerKind::DbCluster),
            "dbinstance" | "dbinstances" => Ok(ControllerKind::DbInstance),
            "vpc" | "vpcs" => Ok(ControllerKind::Vpc),
            "subnet" | "subnets" => Ok(ControllerKind::Subnet),
            "securitygroup" | "securitygroups" => Ok(ControllerKind::SecurityGroup),
            "internetgateway" | "internetgateways" => Ok(ControllerKind::InternetGateway),
            "routetable" | "routetables" => Ok(ControllerKind::RouteTable),
            "elasticipaddress" | "elasticipaddresses" => Ok(ControllerKind::ElasticIpAddress),
            "natgateway" | "natgateways" => Ok(ControllerKind::NatGateway),
            "policy" | "policies" => Ok(ControllerKind::Policy),
            "role" | "roles" => Ok(ControllerKind::Role),
            _ => Err(UnknownController(s.into())),
        }
    }
}

/// Parses a comma-separated controller list (`Bucket,DBInstance`, `s3`, `rds`, `ec2`, `iam`,
/// `all`, `none`). `all` means every controller in this build; naming one (or its service) that the
/// build leaves out is an error naming the cargo feature.
pub fn parse_controllers(list: &str) -> Result<BTreeSet<ControllerKind>, ControllerListError> {
    let mut out = BTreeSet::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.to_ascii_lowercase().as_str() {
            "all" => out.extend(ControllerKind::all_compiled()),
            "ec2" => out.extend(
                ControllerKind::ALL
                    .into_iter()
                    .filter(|k| k.feature() == Some("ec2")),
            ),
            "iam" => {
                out.insert(ControllerKind::Policy);
                out.insert(ControllerKind::Role);
            }
            "none" => {}
            "s3" => {
                out.insert(ControllerKind::Bucket);
            }
            "rds" => {
                out.insert(ControllerKind::DbSubnetGroup);
                out.insert(ControllerKind::DbParameterGroup);
                out.insert(ControllerKind::DbClusterParameterGroup);
                out.insert(ControllerKind::DbCluster);
                out.insert(ControllerKind::DbInstance);
            }
            _ => {
                out.insert(item.parse::<ControllerKind>()?);
            }
        }
    }
    if let Some(k) = out.iter().find(|k| !k.compiled()) {
        return Err(ControllerListError::CompiledOut {
            name: k.name(),
            feature: k.feature().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// A `--reconcile-resource-resync-seconds` item that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResyncError {
    /// Not `Kind=seconds`.
    #[error(
        "--reconcile-resource-resync-seconds item {0:?} is not Kind=seconds: write e.g. Bucket=1800"
    )]
    NotKindSeconds(String),
    /// Not a kind of ours.
    #[error("--reconcile-resource-resync-seconds: {0}")]
    Kind(#[from] UnknownController),
    /// Seconds that are not a positive whole number.
    #[error(
        "--reconcile-resource-resync-seconds item {0:?}: the seconds must be a whole number of at least 1"
    )]
    Seconds(String),
}

/// Parses ACK's `--reconcile-resource-resync-seconds` (`Kind=seconds`, comma-separated, kinds
/// case-insensitive); a kind named twice takes the last value.
pub fn parse_resource_resync(
    items: &[String],
) -> Result<std::collections::BTreeMap<ControllerKind, Duration>, ResyncError> {
    let mut out = std::collections::BTreeMap::new();
    for item in items
        .iter()
        .flat_map(|i| i.split(','))
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let (kind, secs) = item
            .split_once('=')
            .ok_or_else(|| ResyncError::NotKindSeconds(item.to_owned()))?;
        let kind: ControllerKind = kind.parse()?;
        let secs: u64 = secs
            .trim()
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| ResyncError::Seconds(item.to_owned()))?;
        out.insert(kind, Duration::from_secs(secs));
    }
    Ok(out)
}

/// How the AWS controllers talk to AWS and how often they resync.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    /// Endpoint override for every service (`AWS_ENDPOINT_URL`, e.g. moto); `None` = AWS.
    pub endpoint_url: Option<String>,
    /// Default region (`AWS_REGION`); `None` = the SDK's default chain (env, profile, IMDS).
    pub region: Option<String>,
    /// S3 path-style addressing (needed by emulators).
    pub force_path_style: bool,
    /// Controllers to run.
    pub controllers: BTreeSet<ControllerKind>,
    /// Resync of synced resources (drift detection); ACK's default is 10 h.
    pub resync_period: Duration,
    /// Requeue of resources that are not synced yet (ACK: 30 s).
    pub requeue_not_synced: Duration,
    /// First retry delay after a recoverable error; doubles up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest retry delay after recoverable errors.
    pub backoff_max: Duration,
    /// Reconciles running at once, per kind.
    pub max_concurrent_reconciles: u16,
    /// Deletion policy when neither the resource (`services.k8s.aws/deletion-policy`) nor its
    /// namespace (`<service>.services.k8s.aws/deletion-policy`) says (`--deletion-policy`).
    pub deletion_policy: DeletionPolicy,
    /// Honour the adoption annotations (`services.k8s.aws/adoption-policy`), ACK's
    /// `ResourceAdoption` gate (`--enable-resource-adoption`, default on). Off: an object with
    /// them that does not manage its resource yet is terminal and nothing is read or written.
    pub enable_resource_adoption: bool,
    /// Allow `*Ref.from.namespace` and `masterUserPassword.namespace` naming another namespace
    /// than the object's (`--enable-cross-namespace`, default off as in ACK's newest runtime).
    pub enable_cross_namespace: bool,
    /// Owner account id for `status.ackResourceMetadata`; `None` = sts:GetCallerIdentity.
    pub owner_account_id: Option<String>,
    /// Static credentials; `None` = the SDK's default credential chain.
    pub credentials: Option<aws_sdk_s3::config::Credentials>,
    /// Watch only this namespace (ACK's `--watch-namespace`); `None` = every namespace.
    pub watch_namespace: Option<String>,
    /// Tags added to every AWS resource on create and update (ACK's `--resource-tags`). Empty
    /// here; `kro run`'s flag defaults to ACK's ([`ack::types::DEFAULT_RESOURCE_TAGS`]).
    pub resource_tags: Vec<ack::types::ResourceTag>,
    /// Resync period per kind (`Bucket` → 30 min), overriding `resync_period` (ACK's
    /// `--reconcile-resource-resync-seconds`).
    pub resource_resync: std::collections::BTreeMap<ControllerKind, Duration>,
    /// With leader election, the replica's write fence: AWS is not called while it is closed
    /// (`kro run` sets it; the same fence refuses the client's Kubernetes writes).
    pub leader_fence: Option<kro_reconcile::LeaderFence>,
    /// How long a stopping controller waits for its reconciles in flight before it is
    /// abandoned (`kro run`'s `--graceful-shutdown-timeout`; kro's default, 60 s).
    pub graceful_shutdown_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            endpoint_url: None,
            region: None,
            force_path_style: false,
            controllers: ControllerKind::all_compiled().collect(),
            resync_period: Duration::from_secs(10 * 3600),
            requeue_not_synced: Duration::from_secs(30),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_concurrent_reconciles: 4,
            deletion_policy: DeletionPolicy::Delete,
            enable_resource_adoption: true,
            enable_cross_namespace: false,
            owner_account_id: None,
            credentials: None,
            watch_namespace: None,
            resource_tags: Vec::new(),
            resource_resync: std::collections::BTreeMap::new(),
            leader_fence: None,
            graceful_shutdown_timeout: Duration::from_secs(60),
        }
    }
}

impl AwsOptions {
    /// Defaults plus `AWS_ENDPOINT_URL` and `AWS_REGION` (or `AWS_DEFAULT_REGION`) from the
    /// environment; path style is forced when an endpoint is set (emulators need it).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint_url = var("AWS_ENDPOINT_URL");
        AwsOptions {
            force_path_style: endpoint_url.is_some(),
            endpoint_url,
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            ..Default::default()
        }
    }
}

/// Why the AWS controllers could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No region anywhere.
    #[error("no AWS region: pass --aws-region or set AWS_REGION")]
    NoRegion,
    /// A CRD could not be applied.
    #[error("cannot apply CRD {name}: {source}")]
    Crd {
        /// CRD name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A CRD was applied but is not served.
    #[error("CRD {0} is not established after 30 s: check the API server")]
    CrdNotEstablished(String),
    /// A controller left out of this build was asked for.
    #[error(transparent)]
    CompiledOut(ControllerListError),
}

/// Installs (server-side apply, field manager `kro-aws`, forced) the CRDs of the enabled
/// controllers and waits until the API server serves them (at most 30 s each).
pub async fn apply_crds(
    client: &kube::Client,
    controllers: &BTreeSet<ControllerKind>,
) -> Result<(), Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for c in static_crds() {
        let wanted = controllers
            .iter()
            .any(|k| k.name() == c.crd.spec.names.kind);
        let Some(name) = c.crd.metadata.name.clone().filter(|_| wanted) else {
            continue;
        };
        api.patch(
            &name,
            &PatchParams::apply("kro-aws").force(),
            &Patch::Apply(&c.crd),
        )
        .await
        .map_err(|source| Error::Crd {
            name: name.clone(),
            source,
        })?;
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| Error::CrdNotEstablished(name.clone()))?
        .map_err(|e| Error::CrdNotEstablished(format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Runs the enabled controllers until `shutdown` resolves. The CRDs must be installed
/// ([`apply_crds`] or `crds/`).
pub async fn run(
    client: kube::Client,
    opts: AwsOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(creds) = &opts.credentials {
        loader = loader.credentials_provider(creds.clone());
    }
    let base = loader.load().await;
    let region = base
        .region()
        .map(|r| r.to_string())
        .ok_or(Error::NoRegion)?;
    let controllers = opts.controllers.clone();
    let ctx = Arc::new(ack::runtime::Ctx::new(client, opts, base, region));
    let shutdown = shutdown.shared();
    let mut tasks = Vec::new();
    for kind in controllers {
        let ctx = ctx.clone();
        let stop = shutdown.clone();
        tasks.push(match kind {
            ControllerKind::Bucket => {
                ack::runtime::run_controller::<s3::bucket::Bucket>(ctx, stop).boxed()
            }
            ControllerKind::DbSubnetGroup => {
                ack::runtime::run_controller::<rds::db_subnet_group::DBSubnetGroup>(ctx, stop)
                    .boxed()
            }
            ControllerKind::DbParameterGroup => {
                ack::runtime::run_controller::<rds::db_parameter_group::DBParameterGroup>(ctx, stop)
                    .boxed()
            }
            ControllerKind::DbClusterParameterGroup => ack::runtime::run_controller::<
                rds::db_cluster_parameter_group::DBClusterParameterGroup,
            >(ctx, stop)
            .boxed(),
            ControllerKind::DbCluster => {
                ack::runtime::run_controller::<rds::db_cluster::DBCluster>(ctx, stop).boxed()
            }
            ControllerKind::DbInstance => {
                ack::runtime::run_controller::<rds::db_instance::DBInstance>(ctx, stop).boxed()
            }
            #[cfg(feature = "iam")]
            ControllerKind::Policy => {
                ack::runtime::run_controller::<iam::policy::Policy>(ctx, stop).boxed()
            }
            #[cfg(feature = "iam")]
            ControllerKind::Role => {
                ack::runtime::run_controller::<iam::role::Role>(ctx, stop).boxed()
            }
            #[cfg(feature = "ec2")]
            other => ec2::run(other, ctx, stop),
            #[cfg(not(feature = "ec2"))]
            other => {
                return Err(Error::CompiledOut(ControllerListError::CompiledOut {
                    name: other.name(),
                    feature: other.feature().unwrap_or_default(),
                }));
            }
        });
    }
    if tasks.is_empty() {
        shutdown.await;
    } else {
        futures::future::join_all(tasks).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_resync_map_as_ack() {
        let items = vec![
            "Bucket=1800, dbinstance=60".to_owned(),
            "Bucket=900".to_owned(),
        ];
        let map = parse_resource_resync(&items).unwrap();
        assert_eq!(
            map.get(&ControllerKind::Bucket),
            Some(&Duration::from_secs(900))
        );
        assert_eq!(
            map.get(&ControllerKind::DbInstance),
            Some(&Duration::from_secs(60))
        );
        assert_eq!(map.len(), 2);
        assert!(parse_resource_resync(&[]).unwrap().is_empty());
        for (bad, want) in [
            ("Bucket", "not Kind=seconds"),
            ("Queue=5", "unknown AWS controller \"Queue\""),
            ("Bucket=0", "at least 1"),
            ("Bucket=ten", "at least 1"),
        ] {
            let err = parse_resource_resync(&[bad.to_owned()])
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[cfg(not(feature = "ec2"))]
    #[test]
    fn a_controller_compiled_out_names_its_feature() {
        for list in ["VPC", "ec2", "Bucket,SecurityGroup"] {
            let err = parse_controllers(list).unwrap_err().to_string();
            assert!(err.contains("feature \"ec2\""), "{list}: {err}");
        }
        let mut all = vec![
            ControllerKind::Bucket,
            ControllerKind::DbSubnetGroup,
            ControllerKind::DbParameterGroup,
            ControllerKind::DbClusterParameterGroup,
            ControllerKind::DbCluster,
            ControllerKind::DbInstance,
        ];
        if cfg!(feature = "iam") {
            all.extend([ControllerKind::Policy, ControllerKind::Role]);
        }
        assert_eq!(
            parse_controllers("all")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            all
        );
    }

    #[cfg(feature = "ec2")]
    #[test]
    fn controller_lists() {
        use ControllerKind::*;
        let cases: Vec<(&str, Vec<ControllerKind>)> = vec![
            (
                "all",
                vec![
                    Bucket,
                    DbSubnetGroup,
                    DbParameterGroup,
                    DbClusterParameterGroup,
                    DbCluster,
                    DbInstance,
                    Vpc,
                    Subnet,
                    SecurityGroup,
                    InternetGateway,
                    RouteTable,
                    ElasticIpAddress,
                    NatGateway,
                    #[cfg(feature = "iam")]
                    Policy,
                    #[cfg(feature = "iam")]
                    Role,
                ],
            ),
            (
                "ec2",
                vec![
                    Vpc,
                    Subnet,
                    SecurityGroup,
                    InternetGateway,
                    RouteTable,
                    ElasticIpAddress,
                    NatGateway,
                ],
            ),
            (
                "natgateways,ElasticIPAddress",
                vec![ElasticIpAddress, NatGateway],
            ),
            ("vpc,SecurityGroups", vec![Vpc, SecurityGroup]),
            ("", vec![]),
            ("none", vec![]),
            ("s3", vec![Bucket]),
            (
                "rds",
                vec![
                    DbSubnetGroup,
                    DbParameterGroup,
                    DbClusterParameterGroup,
                    DbCluster,
                    DbInstance,
                ],
            ),
            (
                "dbparametergroups,DBClusterParameterGroup",
                vec![DbParameterGroup, DbClusterParameterGroup],
            ),
            ("Bucket, dbinstance", vec![Bucket, DbInstance]),
            ("DBSubnetGroup", vec![DbSubnetGroup]),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_controllers(input)
                    .unwrap()
                    .into_iter()
                    .collect::<Vec<_>>(),
                want,
                "{input}"
            );
        }
        let err = parse_controllers("Bucket,Queue").unwrap_err();
        assert!(err.to_string().contains("\"Queue\""), "{err}");
    }

    #[cfg(feature = "iam")]
    #[test]
    fn iam_controller_lists() {
        use ControllerKind::*;
        for (input, want) in [
            ("iam", vec![Policy, Role]),
            ("Role", vec![Role]),
            ("policies, s3", vec![Bucket, Policy]),
        ] {
            assert_eq!(
                parse_controllers(input)
                    .unwrap()
                    .into_iter()
                    .collect::<Vec<_>>(),
                want,
                "{input}"
            );
        }
        assert_eq!(Role.feature(), Some("iam"));
        assert!(Role.compiled() && Policy.compiled());
    }

    #[cfg(not(feature = "iam"))]
    #[test]
    fn iam_compiled_out_names_its_feature() {
        for list in ["Role", "iam", "Bucket,Policy"] {
            let err = parse_controllers(list).unwrap_err().to_string();
            assert!(err.contains("feature \"iam\""), "{list}: {err}");
        }
    }
}
