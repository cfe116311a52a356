//! A bucket's `replication` (ACK's field names): the configuration S3 replicates objects by,
//! how GetBucketReplication reads into it, and the Put/Delete calls. `roleRef` names an IAM
//! `Role` whose ARN becomes `role` (resolved in memory, as every ACK reference).

use aws_sdk_s3::Client;
use aws_sdk_s3::types as s3t;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::io::{bad, i32_of, nonempty, optional, sent};
use crate::ack::error::AwsError;
use crate::ack::runtime::SyncError;
use crate::ack::types::{AwsResourceReferenceWrapper, Tag};

/// `replication`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationConfiguration {
    /// ARN of the IAM role S3 replicates as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// An `iam.services.k8s.aws` Role (its ARN), instead of `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<AwsResourceReferenceWrapper>,
    /// The rules (at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<ReplicationRule>>,
}

/// One replication rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRule {
    /// Replicate delete markers (`Enabled`, `Disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_marker_replication: Option<StatusOnly>,
    /// Where objects go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// Replicate objects that existed before the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_object_replication: Option<StatusOnly>,
    /// Which objects the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ReplicationRuleFilter>,
    /// Rule id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Key prefix (the older form of `filter.prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Which rule wins when several match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// KMS-encrypted objects and replica modifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_selection_criteria: Option<SourceSelectionCriteria>,
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A `{status}` member.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusOnly {
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A rule's destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// Owner override of the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control_translation: Option<AccessControlTranslation>,
    /// The destination bucket's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// ARN of the destination bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// KMS key of the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// Replication metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// S3 Replication Time Control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_time: Option<ReplicationTime>,
    /// Storage class of the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// `accessControlTranslation`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessControlTranslation {
    /// `Destination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// `encryptionConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EncryptionConfiguration {
    /// KMS key id of the replicas.
    #[serde(
        default,
        rename = "replicaKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub replica_kms_key_id: Option<String>,
}

/// `metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Threshold of the replication-latency event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_threshold: Option<ReplicationTimeValue>,
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `replicationTime`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicationTime {
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<ReplicationTimeValue>,
}

/// `{minutes}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicationTimeValue {
    /// Minutes (15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
}

/// `filter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicationRuleFilter {
    /// Prefix and tags together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<ReplicationRuleAndOperator>,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// One tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
}

/// `filter.and`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicationRuleAndOperator {
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Tags, all of which must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// `sourceSelectionCriteria`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceSelectionCriteria {
    /// Replicate changes made to replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_modifications: Option<StatusOnly>,
    /// Replicate KMS-encrypted objects.
    #[serde(
        default,
        rename = "sseKMSEncryptedObjects",
        skip_serializing_if = "Option::is_none"
    )]
    pub sse_kms_encrypted_objects: Option<StatusOnly>,
}

fn owned(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn status_of<T: AsRef<str>>(s: Option<&T>) -> Option<StatusOnly> {
    s.map(|s| StatusOnly {
        status: owned(Some(s.as_ref())),
    })
}

fn tag_from(t: &s3t::Tag) -> Tag {
    Tag {
        key: Some(t.key().to_owned()),
        value: Some(t.value().to_owned()),
    }
}

fn time_value(v: Option<&s3t::ReplicationTimeValue>) -> Option<ReplicationTimeValue> {
    v.map(|v| ReplicationTimeValue {
        minutes: v.minutes().map(i64::from),
    })
}

// ACK keeps the rule-level `prefix` S3 deprecated for `filter.prefix`.
#[allow(deprecated)]
fn rule_from(r: &s3t::ReplicationRule) -> ReplicationRule {
    ReplicationRule {
        delete_marker_replication: r.delete_marker_replication().map(|d| StatusOnly {
            status: d.status().map(|s| s.as_str().to_owned()),
        }),
        destination: r.destination().map(|d| Destination {
            access_control_translation: d.access_control_translation().map(|a| {
                AccessControlTranslation {
                    owner: Some(a.owner().as_str().to_owned()),
                }
            }),
            account: owned(d.account()),
            bucket: owned(Some(d.bucket())),
            encryption_configuration: d.encryption_configuration().map(|e| {
                EncryptionConfiguration {
                    replica_kms_key_id: owned(e.replica_kms_key_id()),
                }
            }),
            metrics: d.metrics().map(|m| Metrics {
                event_threshold: time_value(m.event_threshold()),
                status: Some(m.status().as_str().to_owned()),
            }),
            replication_time: d.replication_time().map(|t| ReplicationTime {
                status: Some(t.status().as_str().to_owned()),
                time: time_value(t.time()),
            }),
            storage_class: d.storage_class().map(|c| c.as_str().to_owned()),
        }),
        existing_object_replication: status_of(
            r.existing_object_replication()
                .map(|e| e.status().as_str())
                .as_ref(),
        ),
        filter: r.filter().map(|f| ReplicationRuleFilter {
            and: f.and().map(|a| ReplicationRuleAndOperator {
                prefix: owned(a.prefix()),
                tags: nonempty(a.tags().iter().map(tag_from).collect()),
            }),
            prefix: owned(f.prefix()),
            tag: f.tag().map(tag_from),
        }),
        id: owned(r.id()),
        prefix: owned(r.prefix()),
        priority: r.priority().map(i64::from),
        source_selection_criteria: r
            .source_selection_criteria()
            .map(|c| SourceSelectionCriteria {
                replica_modifications: status_of(
                    c.replica_modifications()
                        .map(|m| m.status().as_str())
                        .as_ref(),
                ),
                sse_kms_encrypted_objects: status_of(
                    c.sse_kms_encrypted_objects()
                        .map(|m| m.status().as_str())
                        .as_ref(),
                ),
            }),
        status: Some(r.status().as_str().to_owned()),
    }
}

/// GetBucketReplication; `None` when the bucket has none.
pub(super) async fn read_replication(
    s3: &Client,
    name: &str,
) -> Result<Option<ReplicationConfiguration>, SyncError> {
    let res = s3.get_bucket_replication().bucket(name).send().await;
    let out = optional(
        "GetBucketReplication",
        res.map_err(AwsError::from_sdk),
        &["ReplicationConfigurationNotFoundError"],
    )?;
    Ok(out.and_then(|o| {
        o.replication_configuration()
            .map(|c| ReplicationConfiguration {
                role: owned(Some(c.role())),
                role_ref: None,
                rules: nonempty(c.rules().iter().map(rule_from).collect()),
            })
    }))
}

fn sdk_time(
    v: &Option<ReplicationTimeValue>,
    field: &str,
) -> Result<Option<s3t::ReplicationTimeValue>, SyncError> {
    v.as_ref()
        .map(|v| {
            Ok(s3t::ReplicationTimeValue::builder()
                .set_minutes(i32_of(field, v.minutes)?)
                .build())
        })
        .transpose()
}

fn sdk_tag(t: &Tag, field: &str) -> Result<s3t::Tag, SyncError> {
    s3t::Tag::builder()
        .key(t.key.clone().unwrap_or_default())
        .value(t.value.clone().unwrap_or_default())
        .build()
        .map_err(|e| bad(field, e))
}

fn sdk_destination(d: &Destination) -> Result<s3t::Destination, SyncError> {
    let field = "replication.rules.destination";
    let acl = d
        .access_control_translation
        .as_ref()
        .map(|a| {
            s3t::AccessControlTranslation::builder()
                .set_owner(a.owner.as_deref().map(s3t::OwnerOverride::from))
                .build()
                .map_err(|e| bad("replication.rules.destination.accessControlTranslation", e))
        })
        .transpose()?;
    let metrics = d
        .metrics
        .as_ref()
        .map(|m| {
            s3t::Metrics::builder()
                .set_status(m.status.as_deref().map(s3t::MetricsStatus::from))
                .set_event_threshold(sdk_time(
                    &m.event_threshold,
                    "replication.rules.destination.metrics.eventThreshold.minutes",
                )?)
                .build()
                .map_err(|e| bad("replication.rules.destination.metrics", e))
        })
        .transpose()?;
    let time = d
        .replication_time
        .as_ref()
        .map(|t| {
            s3t::ReplicationTime::builder()
                .set_status(t.status.as_deref().map(s3t::ReplicationTimeStatus::from))
                .set_time(sdk_time(
                    &t.time,
                    "replication.rules.destination.replicationTime.time.minutes",
                )?)
                .build()
                .map_err(|e| bad("replication.rules.destination.replicationTime", e))
        })
        .transpose()?;
    s3t::Destination::builder()
        .set_bucket(d.bucket.clone())
        .set_account(d.account.clone())
        .set_storage_class(d.storage_class.as_deref().map(s3t::StorageClass::from))
        .set_access_control_translation(acl)
        .set_encryption_configuration(d.encryption_configuration.as_ref().map(|e| {
            s3t::EncryptionConfiguration::builder()
                .set_replica_kms_key_id(e.replica_kms_key_id.clone())
                .build()
        }))
        .set_metrics(metrics)
        .set_replication_time(time)
        .build()
        .map_err(|e| bad(field, e))
}

fn sdk_filter(f: &ReplicationRuleFilter) -> Result<s3t::ReplicationRuleFilter, SyncError> {
    let and = f
        .and
        .as_ref()
        .map(|a| -> Result<_, SyncError> {
            let tags = a
                .tags
                .iter()
                .flatten()
                .map(|t| sdk_tag(t, "replication.rules.filter.and.tags"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(s3t::ReplicationRuleAndOperator::builder()
                .set_prefix(a.prefix.clone())
                .set_tags(nonempty(tags))
                .build())
        })
        .transpose()?;
    Ok(s3t::ReplicationRuleFilter::builder()
        .set_prefix(f.prefix.clone())
        .set_tag(
            f.tag
                .as_ref()
                .map(|t| sdk_tag(t, "replication.rules.filter.tag"))
                .transpose()?,
        )
        .set_and(and)
        .build())
}

// ACK keeps the rule-level `prefix` S3 deprecated for `filter.prefix`.
#[allow(deprecated)]
fn sdk_rule(r: &ReplicationRule) -> Result<s3t::ReplicationRule, SyncError> {
    let existing = r
        .existing_object_replication
        .as_ref()
        .map(|e| {
            s3t::ExistingObjectReplication::builder()
                .set_status(
                    e.status
                        .as_deref()
                        .map(s3t::ExistingObjectReplicationStatus::from),
                )
                .build()
                .map_err(|e| bad("replication.rules.existingObjectReplication", e))
        })
        .transpose()?;
    let criteria = r
        .source_selection_criteria
        .as_ref()
        .map(|c| -> Result<_, SyncError> {
            let replica =
                c.replica_modifications
                    .as_ref()
                    .map(|m| {
                        s3t::ReplicaModifications::builder()
                        .set_status(m.status.as_deref().map(s3t::ReplicaModificationsStatus::from))
                        .build()
                        .map_err(|e| {
                            bad("replication.rules.sourceSelectionCriteria.replicaModifications", e)
                        })
                    })
                    .transpose()?;
            let kms = c
                .sse_kms_encrypted_objects
                .as_ref()
                .map(|m| {
                    s3t::SseKmsEncryptedObjects::builder()
                        .set_status(
                            m.status
                                .as_deref()
                                .map(s3t::SseKmsEncryptedObjectsStatus::from),
                        )
                        .build()
                        .map_err(|e| {
                            bad(
                                "replication.rules.sourceSelectionCriteria.sseKMSEncryptedObjects",
                                e,
                            )
                        })
                })
                .transpose()?;
            Ok(s3t::SourceSelectionCriteria::builder()
                .set_replica_modifications(replica)
                .set_sse_kms_encrypted_objects(kms)
                .build())
        })
        .transpose()?;
    s3t::ReplicationRule::builder()
        .set_id(r.id.clone())
        .set_priority(i32_of("replication.rules.priority", r.priority)?)
        .set_prefix(r.prefix.clone())
        .set_filter(r.filter.as_ref().map(sdk_filter).transpose()?)
        .set_status(r.status.as_deref().map(s3t::ReplicationRuleStatus::from))
        .set_destination(r.destination.as_ref().map(sdk_destination).transpose()?)
        .set_delete_marker_replication(r.delete_marker_replication.as_ref().map(|d| {
            s3t::DeleteMarkerReplication::builder()
                .set_status(
                    d.status
                        .as_deref()
                        .map(s3t::DeleteMarkerReplicationStatus::from),
                )
                .build()
        }))
        .set_existing_object_replication(existing)
        .set_source_selection_criteria(criteria)
        .build()
        .map_err(|e| bad("replication.rules", e))
}

/// PutBucketReplication (the `role` resolved from `roleRef` before).
pub(super) async fn put_replication(
    s3: &Client,
    name: &str,
    config: &ReplicationConfiguration,
) -> Result<(), SyncError> {
    let rules = config
        .rules
        .iter()
        .flatten()
        .map(sdk_rule)
        .collect::<Result<Vec<_>, _>>()?;
    let conf = s3t::ReplicationConfiguration::builder()
        .set_role(config.role.clone())
        .set_rules(Some(rules))
        .build()
        .map_err(|e| bad("replication", e))?;
    let res = s3
        .put_bucket_replication()
        .bucket(name)
        .replication_configuration(conf)
        .send()
        .await;
    sent("PutBucketReplication", res)
}

/// DeleteBucketReplication.
pub(super) async fn delete_replication(s3: &Client, name: &str) -> Result<(), SyncError> {
    let res = s3.delete_bucket_replication().bucket(name).send().await;
    sent("DeleteBucketReplication", res)
}
