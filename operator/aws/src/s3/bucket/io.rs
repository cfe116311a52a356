//! S3 calls for `Bucket`: read the managed sub-resources, create, and apply one [`BucketCall`].

use aws_sdk_s3::Client;
use aws_sdk_s3::types as s3t;

use super::{
    AbortIncompleteMultipartUpload, BucketCall, BucketLifecycleConfiguration, BucketSpec,
    CorsConfiguration, CorsRule, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObservedBucket, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Transition, location_constraint,
};
use crate::ack::error::AwsError;
use crate::ack::runtime::SyncError;
use crate::ack::types::Tag;

fn bad(field: &str, e: impl std::fmt::Display) -> SyncError {
    SyncError::Terminal(format!("spec.{field} is not valid for S3: {e}"))
}

/// `Ok(None)` for the "not configured" codes, the value otherwise.
fn optional<T>(
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

fn i32_of(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
    v.map(|x| i32::try_from(x).map_err(|_| bad(field, format!("{x} is out of range"))))
        .transpose()
}

fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Reads the bucket; `None` when it does not exist.
pub(super) async fn read(s3: &Client, name: &str) -> Result<Option<ObservedBucket>, SyncError> {
    let head = s3.head_bucket().bucket(name).send().await;
    let head = head.map_err(AwsError::from_sdk);
    if SyncError::unless_not_found("HeadBucket", head, &["NoSuchBucket", "NotFound"])?.is_none() {
        return Ok(None);
    }
    let tags = optional(
        "GetBucketTagging",
        s3.get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["NoSuchTagSet"],
    )?
    .map(|o| {
        o.tag_set()
            .iter()
            .map(|t| Tag::new(t.key(), t.value()))
            .collect()
    });
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(|e| SyncError::aws("GetBucketVersioning", AwsError::from_sdk(e)))?
        .status()
        .map(|s| s.as_str().to_owned());
    let encryption = optional(
        "GetBucketEncryption",
        s3.get_bucket_encryption()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?
    .and_then(|o| {
        o.server_side_encryption_configuration()
            .map(encryption_from)
    })
    .filter(|e| !super::empty(&e.rules));
    let public_access_block = optional(
        "GetPublicAccessBlock",
        s3.get_public_access_block()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["NoSuchPublicAccessBlockConfiguration"],
    )?
    .and_then(|o| {
        o.public_access_block_configuration()
            .map(|p| PublicAccessBlockConfiguration {
                block_public_acls: p.block_public_acls(),
                block_public_policy: p.block_public_policy(),
                ignore_public_acls: p.ignore_public_acls(),
                restrict_public_buckets: p.restrict_public_buckets(),
            })
    });
    let policy = optional(
        "GetBucketPolicy",
        s3.get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["NoSuchBucketPolicy"],
    )?
    .and_then(|o| o.policy().map(str::to_owned))
    .filter(|p| !p.is_empty());
    let lifecycle = optional(
        "GetBucketLifecycleConfiguration",
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["NoSuchLifecycleConfiguration"],
    )?
    .and_then(|o| nonempty(o.rules().iter().map(lifecycle_rule_from).collect()))
    .map(|rules| BucketLifecycleConfiguration { rules: Some(rules) });
    let cors = optional(
        "GetBucketCors",
        s3.get_bucket_cors()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["NoSuchCORSConfiguration"],
    )?
    .and_then(|o| nonempty(o.cors_rules().iter().map(cors_rule_from).collect()))
    .map(|rules| CorsConfiguration {
        cors_rules: Some(rules),
    });
    let ownership_controls = optional(
        "GetBucketOwnershipControls",
        s3.get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await
            .map_err(AwsError::from_sdk),
        &["OwnershipControlsNotFoundError"],
    )?
    .and_then(|o| {
        o.ownership_controls().and_then(|c| {
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
    .map(|rules| OwnershipControls { rules: Some(rules) });
    Ok(Some(ObservedBucket {
        tags,
        versioning,
        encryption,
        public_access_block,
        policy,
        lifecycle,
        cors,
        ownership_controls,
    }))
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
            days: i64_of(e.days()),
            expired_object_delete_marker: e.expired_object_delete_marker(),
        }),
        filter: r.filter().map(|f| LifecycleRuleFilter {
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
        #[allow(deprecated)]
        prefix: r.prefix().map(str::to_owned),
        status: Some(r.status().as_str().to_owned()),
        transitions: nonempty(
            r.transitions()
                .iter()
                .map(|t| Transition {
                    days: i64_of(t.days()),
                    storage_class: t.storage_class().map(|s| s.as_str().to_owned()),
                })
                .collect(),
        ),
    }
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

/// Runs one call.
pub(super) async fn apply(s3: &Client, name: &str, call: &BucketCall) -> Result<(), SyncError> {
    let aws = |op: &'static str| move |e: AwsError| SyncError::aws(op, e);
    match call {
        BucketCall::PutTagging(tags) => {
            let set = tags.iter().map(sdk_tag).collect::<Result<Vec<_>, _>>()?;
            let tagging = s3t::Tagging::builder()
                .set_tag_set(Some(set))
                .build()
                .map_err(|e| bad("tagging", e))?;
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(tagging)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketTagging"))
        }
        BucketCall::DeleteTagging => s3
            .delete_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketTagging")),
        BucketCall::PutVersioning(status) => {
            let conf = s3t::VersioningConfiguration::builder()
                .status(s3t::BucketVersioningStatus::from(status.as_str()))
                .build();
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketVersioning"))
        }
        BucketCall::PutEncryption(enc) => {
            let mut rules = Vec::new();
            for r in enc.rules.iter().flatten() {
                let default = r
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
                        .set_bucket_key_enabled(r.bucket_key_enabled)
                        .build(),
                );
            }
            let conf = s3t::ServerSideEncryptionConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .map_err(|e| bad("encryption", e))?;
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketEncryption"))
        }
        BucketCall::DeleteEncryption => s3
            .delete_bucket_encryption()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketEncryption")),
        BucketCall::PutOwnershipControls(oc) => {
            let rules = oc
                .rules
                .iter()
                .flatten()
                .map(|r| {
                    s3t::OwnershipControlsRule::builder()
                        .object_ownership(s3t::ObjectOwnership::from(
                            r.object_ownership
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
            s3.put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketOwnershipControls"))
        }
        BucketCall::DeleteOwnershipControls => s3
            .delete_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketOwnershipControls")),
        BucketCall::PutPublicAccessBlock(p) => {
            let conf = s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(p.block_public_acls.unwrap_or(false))
                .block_public_policy(p.block_public_policy.unwrap_or(false))
                .ignore_public_acls(p.ignore_public_acls.unwrap_or(false))
                .restrict_public_buckets(p.restrict_public_buckets.unwrap_or(false))
                .build();
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutPublicAccessBlock"))
        }
        BucketCall::DeletePublicAccessBlock => s3
            .delete_public_access_block()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeletePublicAccessBlock")),
        BucketCall::PutPolicy(policy) => s3
            .put_bucket_policy()
            .bucket(name)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("PutBucketPolicy")),
        BucketCall::DeletePolicy => s3
            .delete_bucket_policy()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketPolicy")),
        BucketCall::PutLifecycle(lc) => {
            let rules = lc
                .rules
                .iter()
                .flatten()
                .map(sdk_lifecycle_rule)
                .collect::<Result<Vec<_>, _>>()?;
            let conf = s3t::BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .map_err(|e| bad("lifecycle", e))?;
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketLifecycleConfiguration"))
        }
        BucketCall::DeleteLifecycle => s3
            .delete_bucket_lifecycle()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketLifecycle")),
        BucketCall::PutCors(cors) => {
            let mut rules = Vec::new();
            for r in cors.cors_rules.iter().flatten() {
                rules.push(
                    s3t::CorsRule::builder()
                        .set_allowed_headers(r.allowed_headers.clone())
                        .set_allowed_methods(Some(r.allowed_methods.clone().unwrap_or_default()))
                        .set_allowed_origins(Some(r.allowed_origins.clone().unwrap_or_default()))
                        .set_expose_headers(r.expose_headers.clone())
                        .set_id(r.id.clone())
                        .set_max_age_seconds(i32_of(
                            "cors.corsRules.maxAgeSeconds",
                            r.max_age_seconds,
                        )?)
                        .build()
                        .map_err(|e| bad("cors.corsRules", e))?,
                );
            }
            let conf = s3t::CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .map_err(|e| bad("cors", e))?;
            s3.put_bucket_cors()
                .bucket(name)
                .cors_configuration(conf)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk)
                .map_err(aws("PutBucketCors"))
        }
        BucketCall::DeleteCors => s3
            .delete_bucket_cors()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
            .map_err(aws("DeleteBucketCors")),
    }
}

fn sdk_lifecycle_rule(r: &LifecycleRule) -> Result<s3t::LifecycleRule, SyncError> {
    let f = "lifecycle.rules";
    let filter = r
        .filter
        .as_ref()
        .map(|f| -> Result<_, SyncError> {
            Ok(s3t::LifecycleRuleFilter::builder()
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
                .set_days(i32_of("lifecycle.rules.transitions.days", t.days)?)
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
                        .set_days(i32_of("lifecycle.rules.expiration.days", e.days)?)
                        .set_expired_object_delete_marker(e.expired_object_delete_marker)
                        .build())
                })
                .transpose()?,
        )
        .set_transitions(nonempty(transitions))
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
