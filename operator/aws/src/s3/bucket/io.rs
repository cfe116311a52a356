//! S3 calls for `Bucket`: read the managed sub-resources, create, and apply one [`BucketCall`].

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types as s3t;

use super::settings;
use super::{
    AbortIncompleteMultipartUpload, BucketCall, BucketLifecycleConfiguration, BucketSpec,
    CorsConfiguration, CorsRule, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, NoncurrentVersionTransition, ObservedBucket,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Transition, location_constraint,
};
use crate::ack::error::{AwsError, HttpStatus};
use crate::ack::runtime::SyncError;
use crate::ack::types::Tag;

pub(super) fn bad(field: &str, e: impl std::fmt::Display) -> SyncError {
    SyncError::Terminal(format!("spec.{field} is not valid for S3: {e}"))
}

/// `Ok(None)` for the "not configured" codes, the value otherwise.
pub(super) fn optional<T>(
    op: &'static str,
    res: Result<T, AwsError>,
    none_codes: &[&str],
) -> Result<Option<T>, SyncError> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_code(none_codes) => Ok(None),
        Err(e) => Err(SyncError::aws(op, e)),
    }
}

fn i64_of(v: Option<i32>) -> Option<i64> {
    v.map(i64::from)
}

pub(super) fn i32_of(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
    v.map(|x| i32::try_from(x).map_err(|_| bad(field, format!("{x} is out of range"))))
        .transpose()
}

pub(super) fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Reads the bucket; `None` when it does not exist. One Get call per managed sub-resource, in
/// this order.
pub(super) async fn read(s3: &Client, name: &str) -> Result<Option<ObservedBucket>, SyncError> {
    let head = s3.head_bucket().bucket(name).send().await;
    let head = head.map_err(AwsError::from_sdk);
    if SyncError::unless_not_found("HeadBucket", head, &["NoSuchBucket", "NotFound"])?.is_none() {
        return Ok(None);
    }
    let tags = read_tags(s3, name).await?;
    let versioning = read_versioning(s3, name).await?;
    let encryption = read_encryption(s3, name).await?;
    let public_access_block = read_public_access_block(s3, name).await?;
    let policy = read_policy(s3, name).await?;
    let lifecycle = read_lifecycle(s3, name).await?;
    let cors = read_cors(s3, name).await?;
    let ownership_controls = read_ownership_controls(s3, name).await?;
    let accelerate = settings::read_accelerate(s3, name).await?;
    let logging = settings::read_logging(s3, name).await?;
    let website = settings::read_website(s3, name).await?;
    let notification = settings::read_notification(s3, name).await?;
    let object_lock = settings::read_object_lock(s3, name).await?;
    let replication = super::replication::read_replication(s3, name).await?;
    let inventory = super::inventory::read_inventory(s3, name).await?;
    Ok(Some(ObservedBucket {
        tags,
        versioning,
        encryption,
        public_access_block,
        policy,
        lifecycle,
        cors,
        ownership_controls,
        accelerate,
        logging,
        website,
        notification,
        object_lock,
        replication,
        inventory,
    }))
}

/// GetBucketTagging; `None` when the bucket has no tag set.
async fn read_tags(s3: &Client, name: &str) -> Result<Option<Vec<Tag>>, SyncError> {
    let res = s3.get_bucket_tagging().bucket(name).send().await;
    let tagging = optional(
        "GetBucketTagging",
        res.map_err(AwsError::from_sdk),
        &["NoSuchTagSet"],
    )?;
    Ok(tagging.map(|out| {
        out.tag_set()
            .iter()
            .map(|t| Tag::new(t.key(), t.value()))
            .collect()
    }))
}

/// GetBucketVersioning; `None` when versioning was never configured.
async fn read_versioning(s3: &Client, name: &str) -> Result<Option<String>, SyncError> {
    let out = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(|e| SyncError::aws("GetBucketVersioning", AwsError::from_sdk(e)))?;
    Ok(out.status().map(|status| status.as_str().to_owned()))
}

/// GetBucketEncryption; `None` when not configured or without rules.
async fn read_encryption(
    s3: &Client,
    name: &str,
) -> Result<Option<ServerSideEncryptionConfiguration>, SyncError> {
    let res = s3.get_bucket_encryption().bucket(name).send().await;
    let encryption = optional(
        "GetBucketEncryption",
        res.map_err(AwsError::from_sdk),
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?;
    Ok(encryption
        .and_then(|out| {
            out.server_side_encryption_configuration()
                .map(encryption_from)
        })
        .filter(|enc| !super::empty(&enc.rules)))
}

/// GetPublicAccessBlock; `None` when the bucket has no configuration.
async fn read_public_access_block(
    s3: &Client,
    name: &str,
) -> Result<Option<PublicAccessBlockConfiguration>, SyncError> {
    let res = s3.get_public_access_block().bucket(name).send().await;
    let block = optional(
        "GetPublicAccessBlock",
        res.map_err(AwsError::from_sdk),
        &["NoSuchPublicAccessBlockConfiguration"],
    )?;
    Ok(block.and_then(|out| {
        out.public_access_block_configuration()
            .map(|p| PublicAccessBlockConfiguration {
                block_public_acls: p.block_public_acls(),
                block_public_policy: p.block_public_policy(),
                ignore_public_acls: p.ignore_public_acls(),
                restrict_public_buckets: p.restrict_public_buckets(),
            })
    }))
}

/// GetBucketPolicy; `None` when the bucket has no (or an empty) policy.
async fn read_policy(s3: &Client, name: &str) -> Result<Option<String>, SyncError> {
    let res = s3.get_bucket_policy().bucket(name).send().await;
    let policy = optional(
        "GetBucketPolicy",
        res.map_err(AwsError::from_sdk),
        &["NoSuchBucketPolicy"],
    )?;
    Ok(policy
        .and_then(|out| out.policy().map(str::to_owned))
        .filter(|text| !text.is_empty()))
}

/// GetBucketLifecycleConfiguration; `None` when not configured or without rules.
async fn read_lifecycle(
    s3: &Client,
    name: &str,
) -> Result<Option<BucketLifecycleConfiguration>, SyncError> {
    let res = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await;
    let lifecycle = optional(
        "GetBucketLifecycleConfiguration",
        res.map_err(AwsError::from_sdk),
        &["NoSuchLifecycleConfiguration"],
    )?;
    Ok(lifecycle
        .and_then(|out| nonempty(out.rules().iter().map(lifecycle_rule_from).collect()))
        .map(|rules| BucketLifecycleConfiguration { rules: Some(rules) }))
}

/// GetBucketCors; `None` when not configured or without rules.
async fn read_cors(s3: &Client, name: &str) -> Result<Option<CorsConfiguration>, SyncError> {
    let res = s3.get_bucket_cors().bucket(name).send().await;
    let cors = optional(
        "GetBucketCors",
        res.map_err(AwsError::from_sdk),
        &["NoSuchCORSConfiguration"],
    )?;
    Ok(cors
        .and_then(|out| nonempty(out.cors_rules().iter().map(cors_rule_from).collect()))
        .map(|rules| CorsConfiguration {
            cors_rules: Some(rules),
        }))
}

/// GetBucketOwnershipControls; `None` when not configured or without rules.
async fn read_ownership_controls(
    s3: &Client,
    name: &str,
) -> Result<Option<OwnershipControls>, SyncError> {
    let res = s3.get_bucket_ownership_controls().bucket(name).send().await;
    let controls = optional(
        "GetBucketOwnershipControls",
        res.map_err(AwsError::from_sdk),
        &["OwnershipControlsNotFoundError"],
    )?;
    Ok(controls
        .and_then(|out| {
            out.ownership_controls().and_then(|c| {
                nonempty(
                    c.rules()
                        .iter()
                        .map(|r| OwnershipControlsRule {
                            object_ownership: Some(r.object_ownership().as_str().to_owned()),
                        })
                        .collect(),
                )
            })
        })
        .map(|rules| OwnershipControls { rules: Some(rules) }))
}

fn encryption_from(
    c: &s3t::ServerSideEncryptionConfiguration,
) -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration {
        rules: Some(
            c.rules()
                .iter()
                .map(|r| ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: r
                        .apply_server_side_encryption_by_default()
                        .map(|d| ServerSideEncryptionByDefault {
                            kms_master_key_id: d.kms_master_key_id().map(str::to_owned),
                            sse_algorithm: Some(d.sse_algorithm().as_str().to_owned()),
                        }),
                    bucket_key_enabled: r.bucket_key_enabled(),
                })
                .collect(),
        ),
    }
}

fn lifecycle_rule_from(r: &s3t::LifecycleRule) -> LifecycleRule {
    LifecycleRule {
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload().map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: i64_of(a.days_after_initiation()),
            }
        }),
        expiration: r.expiration().map(|e| LifecycleExpiration {
            date: e.date().and_then(date_text),
            days: i64_of(e.days()),
            expired_object_delete_marker: e.expired_object_delete_marker(),
        }),
        filter: r.filter().map(|f| LifecycleRuleFilter {
            and: f.and().map(|a| LifecycleRuleAndOperator {
                object_size_greater_than: a.object_size_greater_than(),
                object_size_less_than: a.object_size_less_than(),
                prefix: a.prefix().map(str::to_owned),
                tags: nonempty(
                    a.tags()
                        .iter()
                        .map(|t| Tag::new(t.key(), t.value()))
                        .collect(),
                ),
            }),
            object_size_greater_than: f.object_size_greater_than(),
            object_size_less_than: f.object_size_less_than(),
            prefix: f.prefix().map(str::to_owned),
            tag: f.tag().map(|t| Tag::new(t.key(), t.value())),
        }),
        id: r.id().map(str::to_owned),
        noncurrent_version_expiration: r.noncurrent_version_expiration().map(|n| {
            NoncurrentVersionExpiration {
                newer_noncurrent_versions: i64_of(n.newer_noncurrent_versions()),
                noncurrent_days: i64_of(n.noncurrent_days()),
            }
        }),
        noncurrent_version_transitions: nonempty(
            r.noncurrent_version_transitions()
                .iter()
                .map(|t| NoncurrentVersionTransition {
                    newer_noncurrent_versions: i64_of(t.newer_noncurrent_versions()),
                    noncurrent_days: i64_of(t.noncurrent_days()),
                    storage_class: t.storage_class().map(|s| s.as_str().to_owned()),
                })
                .collect(),
        ),
        #[allow(deprecated)]
        prefix: r.prefix().map(str::to_owned),
        status: Some(r.status().as_str().to_owned()),
        transitions: nonempty(
            r.transitions()
                .iter()
                .map(|t| Transition {
                    date: t.date().and_then(date_text),
                    days: i64_of(t.days()),
                    storage_class: t.storage_class().map(|s| s.as_str().to_owned()),
                })
                .collect(),
        ),
    }
}

/// A date as S3 reports it (`2027-01-01T00:00:00Z`).
fn date_text(d: &aws_sdk_s3::primitives::DateTime) -> Option<String> {
    d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()
}

/// A spec date for S3; not RFC 3339 is terminal, naming the field.
fn sdk_date(
    field: &str,
    d: Option<&str>,
) -> Result<Option<aws_sdk_s3::primitives::DateTime>, SyncError> {
    d.map(|text| {
        super::parse_date(text)
            .ok_or_else(|| bad(field, format!("{text:?} is not an RFC 3339 date-time")))
    })
    .transpose()
}

fn cors_rule_from(r: &s3t::CorsRule) -> CorsRule {
    CorsRule {
        allowed_headers: nonempty(r.allowed_headers().to_vec()),
        allowed_methods: nonempty(r.allowed_methods().to_vec()),
        allowed_origins: nonempty(r.allowed_origins().to_vec()),
        expose_headers: nonempty(r.expose_headers().to_vec()),
        id: r.id().map(str::to_owned),
        max_age_seconds: i64_of(r.max_age_seconds()),
    }
}

/// CreateBucket with the create-only fields; returns the `Location` S3 answered.
pub(super) async fn create(
    s3: &Client,
    spec: &BucketSpec,
    name: &str,
    region: &str,
) -> Result<String, SyncError> {
    let mut req = s3.create_bucket().bucket(name);
    if let Some(lc) = location_constraint(spec, region) {
        req = req.create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::from(lc.as_str()))
                .build(),
        );
    }
    if let Some(acl) = &spec.acl {
        req = req.acl(s3t::BucketCannedAcl::from(acl.as_str()));
    }
    if let Some(o) = &spec.object_ownership {
        req = req.object_ownership(s3t::ObjectOwnership::from(o.as_str()));
    }
    req = req
        .set_grant_full_control(spec.grant_full_control.clone())
        .set_grant_read(spec.grant_read.clone())
        .set_grant_read_acp(spec.grant_read_acp.clone())
        .set_grant_write(spec.grant_write.clone())
        .set_grant_write_acp(spec.grant_write_acp.clone())
        .set_object_lock_enabled_for_bucket(spec.object_lock_enabled_for_bucket);
    let out = req
        .send()
        .await
        .map_err(|e| SyncError::aws("CreateBucket", AwsError::from_sdk(e)))?;
    tracing::info!(bucket = name, "bucket created");
    Ok(out.location().unwrap_or_default().to_owned())
}

fn sdk_tag(t: &Tag) -> Result<s3t::Tag, SyncError> {
    s3t::Tag::builder()
        .key(t.key.clone().unwrap_or_default())
        .value(t.value.clone().unwrap_or_default())
        .build()
        .map_err(|e| bad("tagging.tagSet", e))
}

/// The outcome of S3 call `op`, its output dropped.
pub(super) fn sent<T, E, R>(
    op: &'static str,
    res: Result<T, SdkError<E, R>>,
) -> Result<(), SyncError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    res.map(|_| ())
        .map_err(AwsError::from_sdk)
        .map_err(|e| SyncError::aws(op, e))
}

/// Runs one call.
pub(super) async fn apply(s3: &Client, name: &str, call: &BucketCall) -> Result<(), SyncError> {
    match call {
        BucketCall::PutTagging(tags) => put_tagging(s3, name, tags).await,
        BucketCall::DeleteTagging => sent(
            "DeleteBucketTagging",
            s3.delete_bucket_tagging().bucket(name).send().await,
        ),
        BucketCall::PutVersioning(status) => put_versioning(s3, name, status).await,
        BucketCall::PutEncryption(enc) => put_encryption(s3, name, enc).await,
        BucketCall::DeleteEncryption => sent(
            "DeleteBucketEncryption",
            s3.delete_bucket_encryption().bucket(name).send().await,
        ),
        BucketCall::PutOwnershipControls(controls) => {
            put_ownership_controls(s3, name, controls).await
        }
        BucketCall::DeleteOwnershipControls => sent(
            "DeleteBucketOwnershipControls",
            s3.delete_bucket_ownership_controls()
                .bucket(name)
                .send()
                .await,
        ),
        BucketCall::PutPublicAccessBlock(block) => put_public_access_block(s3, name, block).await,
        BucketCall::DeletePublicAccessBlock => sent(
            "DeletePublicAccessBlock",
            s3.delete_public_access_block().bucket(name).send().await,
        ),
        BucketCall::PutPolicy(policy) => sent(
            "PutBucketPolicy",
            s3.put_bucket_policy()
                .bucket(name)
                .policy(policy)
                .send()
                .await,
        ),
        BucketCall::DeletePolicy => sent(
            "DeleteBucketPolicy",
            s3.delete_bucket_policy().bucket(name).send().await,
        ),
        BucketCall::PutLifecycle(lifecycle) => put_lifecycle(s3, name, lifecycle).await,
        BucketCall::DeleteLifecycle => sent(
            "DeleteBucketLifecycle",
            s3.delete_bucket_lifecycle().bucket(name).send().await,
        ),
        BucketCall::PutCors(cors) => put_cors(s3, name, cors).await,
        BucketCall::DeleteCors => sent(
            "DeleteBucketCors",
            s3.delete_bucket_cors().bucket(name).send().await,
        ),
        BucketCall::PutAccelerate(_)
        | BucketCall::PutLogging(_)
        | BucketCall::PutWebsite(_)
        | BucketCall::DeleteWebsite
        | BucketCall::PutReplication(_)
        | BucketCall::DeleteReplication
        | BucketCall::PutInventory(_)
        | BucketCall::DeleteInventory(_)
        | BucketCall::PutNotification(_)
        | BucketCall::PutObjectLock(_) => apply_setting(s3, name, call).await,
    }
}

/// Runs one call of the settings beside the core ones (`settings`, `replication`, `inventory`).
async fn apply_setting(s3: &Client, name: &str, call: &BucketCall) -> Result<(), SyncError> {
    match call {
        BucketCall::PutAccelerate(status) => settings::put_accelerate(s3, name, status).await,
        BucketCall::PutLogging(logging) => settings::put_logging(s3, name, logging.as_ref()).await,
        BucketCall::PutWebsite(website) => settings::put_website(s3, name, website).await,
        BucketCall::DeleteWebsite => settings::delete_website(s3, name).await,
        BucketCall::PutReplication(config) => {
            super::replication::put_replication(s3, name, config).await
        }
        BucketCall::DeleteReplication => super::replication::delete_replication(s3, name).await,
        BucketCall::PutInventory(config) => super::inventory::put_inventory(s3, name, config).await,
        BucketCall::DeleteInventory(id) => super::inventory::delete_inventory(s3, name, id).await,
        BucketCall::PutNotification(config) => {
            settings::put_notification(s3, name, config.as_ref()).await
        }
        BucketCall::PutObjectLock(config) => {
            settings::put_object_lock(s3, name, config.as_ref()).await
        }
        // The core calls, which `apply` runs itself.
        _ => Ok(()),
    }
}

/// PutBucketTagging with the whole tag set.
async fn put_tagging(s3: &Client, name: &str, tags: &[Tag]) -> Result<(), SyncError> {
    let set = tags.iter().map(sdk_tag).collect::<Result<Vec<_>, _>>()?;
    let tagging = s3t::Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| bad("tagging", e))?;
    let res = s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await;
    sent("PutBucketTagging", res)
}

/// PutBucketVersioning with the wanted status (`Enabled` or `Suspended`).
async fn put_versioning(s3: &Client, name: &str, status: &str) -> Result<(), SyncError> {
    let conf = s3t::VersioningConfiguration::builder()
        .status(s3t::BucketVersioningStatus::from(status))
        .build();
    let res = s3
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(conf)
        .send()
        .await;
    sent("PutBucketVersioning", res)
}

/// PutBucketEncryption; a default rule without an algorithm means `AES256`.
async fn put_encryption(
    s3: &Client,
    name: &str,
    enc: &ServerSideEncryptionConfiguration,
) -> Result<(), SyncError> {
    let mut rules = Vec::new();
    for rule in enc.rules.iter().flatten() {
        let default = rule
            .apply_server_side_encryption_by_default
            .as_ref()
            .map(|d| {
                s3t::ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(s3t::ServerSideEncryption::from(
                        d.sse_algorithm.as_deref().unwrap_or("AES256"),
                    ))
                    .set_kms_master_key_id(d.kms_master_key_id.clone())
                    .build()
            })
            .transpose()
            .map_err(|e| bad("encryption.rules", e))?;
        rules.push(
            s3t::ServerSideEncryptionRule::builder()
                .set_apply_server_side_encryption_by_default(default)
                .set_bucket_key_enabled(rule.bucket_key_enabled)
                .build(),
        );
    }
    let conf = s3t::ServerSideEncryptionConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| bad("encryption", e))?;
    let res = s3
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(conf)
        .send()
        .await;
    sent("PutBucketEncryption", res)
}

/// PutBucketOwnershipControls; a rule without an ownership means `BucketOwnerEnforced`.
async fn put_ownership_controls(
    s3: &Client,
    name: &str,
    controls: &OwnershipControls,
) -> Result<(), SyncError> {
    let rules = controls
        .rules
        .iter()
        .flatten()
        .map(|rule| {
            s3t::OwnershipControlsRule::builder()
                .object_ownership(s3t::ObjectOwnership::from(
                    rule.object_ownership
                        .as_deref()
                        .unwrap_or("BucketOwnerEnforced"),
                ))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("ownershipControls.rules", e))?;
    let conf = s3t::OwnershipControls::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| bad("ownershipControls", e))?;
    let res = s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(conf)
        .send()
        .await;
    sent("PutBucketOwnershipControls", res)
}

/// PutPublicAccessBlock with all four flags, absent ones `false`.
async fn put_public_access_block(
    s3: &Client,
    name: &str,
    block: &PublicAccessBlockConfiguration,
) -> Result<(), SyncError> {
    let conf = s3t::PublicAccessBlockConfiguration::builder()
        .block_public_acls(block.block_public_acls.unwrap_or(false))
        .block_public_policy(block.block_public_policy.unwrap_or(false))
        .ignore_public_acls(block.ignore_public_acls.unwrap_or(false))
        .restrict_public_buckets(block.restrict_public_buckets.unwrap_or(false))
        .build();
    let res = s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(conf)
        .send()
        .await;
    sent("PutPublicAccessBlock", res)
}

/// PutBucketLifecycleConfiguration with every rule of the spec.
async fn put_lifecycle(
    s3: &Client,
    name: &str,
    lifecycle: &BucketLifecycleConfiguration,
) -> Result<(), SyncError> {
    let rules = lifecycle
        .rules
        .iter()
        .flatten()
        .map(sdk_lifecycle_rule)
        .collect::<Result<Vec<_>, _>>()?;
    let conf = s3t::BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| bad("lifecycle", e))?;
    let res = s3
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(conf)
        .send()
        .await;
    sent("PutBucketLifecycleConfiguration", res)
}

/// PutBucketCors; absent allowed methods or origins are sent as empty lists (the SDK needs both).
async fn put_cors(s3: &Client, name: &str, cors: &CorsConfiguration) -> Result<(), SyncError> {
    let mut rules = Vec::new();
    for rule in cors.cors_rules.iter().flatten() {
        rules.push(
            s3t::CorsRule::builder()
                .set_allowed_headers(rule.allowed_headers.clone())
                .set_allowed_methods(Some(rule.allowed_methods.clone().unwrap_or_default()))
                .set_allowed_origins(Some(rule.allowed_origins.clone().unwrap_or_default()))
                .set_expose_headers(rule.expose_headers.clone())
                .set_id(rule.id.clone())
                .set_max_age_seconds(i32_of(
                    "cors.corsRules.maxAgeSeconds",
                    rule.max_age_seconds,
                )?)
                .build()
                .map_err(|e| bad("cors.corsRules", e))?,
        );
    }
    let conf = s3t::CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|e| bad("cors", e))?;
    let res = s3
        .put_bucket_cors()
        .bucket(name)
        .cors_configuration(conf)
        .send()
        .await;
    sent("PutBucketCors", res)
}

fn sdk_lifecycle_and(
    a: &LifecycleRuleAndOperator,
) -> Result<s3t::LifecycleRuleAndOperator, SyncError> {
    let tags = a
        .tags
        .iter()
        .flatten()
        .map(sdk_tag)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(s3t::LifecycleRuleAndOperator::builder()
        .set_prefix(a.prefix.clone())
        .set_tags(nonempty(tags))
        .set_object_size_greater_than(a.object_size_greater_than)
        .set_object_size_less_than(a.object_size_less_than)
        .build())
}

fn sdk_lifecycle_rule(r: &LifecycleRule) -> Result<s3t::LifecycleRule, SyncError> {
    let f = "lifecycle.rules";
    let filter = r
        .filter
        .as_ref()
        .map(|f| -> Result<_, SyncError> {
            let and = f.and.as_ref().map(sdk_lifecycle_and).transpose()?;
            Ok(s3t::LifecycleRuleFilter::builder()
                .set_and(and)
                .set_prefix(f.prefix.clone())
                .set_object_size_greater_than(f.object_size_greater_than)
                .set_object_size_less_than(f.object_size_less_than)
                .set_tag(f.tag.as_ref().map(sdk_tag).transpose()?)
                .build())
        })
        .transpose()?;
    let mut transitions = Vec::new();
    for t in r.transitions.iter().flatten() {
        transitions.push(
            s3t::Transition::builder()
                .set_date(sdk_date(
                    "lifecycle.rules.transitions.date",
                    t.date.as_deref(),
                )?)
                .set_days(i32_of("lifecycle.rules.transitions.days", t.days)?)
                .set_storage_class(
                    t.storage_class
                        .as_deref()
                        .map(s3t::TransitionStorageClass::from),
                )
                .build(),
        );
    }
    let mut noncurrent_transitions = Vec::new();
    for t in r.noncurrent_version_transitions.iter().flatten() {
        let field = "lifecycle.rules.noncurrentVersionTransitions";
        noncurrent_transitions.push(
            s3t::NoncurrentVersionTransition::builder()
                .set_noncurrent_days(i32_of(field, t.noncurrent_days)?)
                .set_newer_noncurrent_versions(i32_of(field, t.newer_noncurrent_versions)?)
                .set_storage_class(
                    t.storage_class
                        .as_deref()
                        .map(s3t::TransitionStorageClass::from),
                )
                .build(),
        );
    }
    #[allow(deprecated)]
    let builder = s3t::LifecycleRule::builder().set_prefix(r.prefix.clone());
    builder
        .set_id(r.id.clone())
        .status(s3t::ExpirationStatus::from(
            r.status.as_deref().unwrap_or("Enabled"),
        ))
        .set_filter(filter)
        .set_expiration(
            r.expiration
                .as_ref()
                .map(|e| -> Result<_, SyncError> {
                    Ok(s3t::LifecycleExpiration::builder()
                        .set_date(sdk_date(
                            "lifecycle.rules.expiration.date",
                            e.date.as_deref(),
                        )?)
                        .set_days(i32_of("lifecycle.rules.expiration.days", e.days)?)
                        .set_expired_object_delete_marker(e.expired_object_delete_marker)
                        .build())
                })
                .transpose()?,
        )
        .set_transitions(nonempty(transitions))
        .set_noncurrent_version_transitions(nonempty(noncurrent_transitions))
        .set_noncurrent_version_expiration(
            r.noncurrent_version_expiration
                .as_ref()
                .map(|n| -> Result<_, SyncError> {
                    Ok(s3t::NoncurrentVersionExpiration::builder()
                        .set_noncurrent_days(i32_of(
                            "lifecycle.rules.noncurrentVersionExpiration",
                            n.noncurrent_days,
                        )?)
                        .set_newer_noncurrent_versions(i32_of(
                            "lifecycle.rules.noncurrentVersionExpiration",
                            n.newer_noncurrent_versions,
                        )?)
                        .build())
                })
                .transpose()?,
        )
        .set_abort_incomplete_multipart_upload(
            r.abort_incomplete_multipart_upload
                .as_ref()
                .map(|a| -> Result<_, SyncError> {
                    Ok(s3t::AbortIncompleteMultipartUpload::builder()
                        .set_days_after_initiation(i32_of(
                            "lifecycle.rules.abortIncompleteMultipartUpload",
                            a.days_after_initiation,
                        )?)
                        .build())
                })
                .transpose()?,
        )
        .build()
        .map_err(|e| bad(f, e))
}
