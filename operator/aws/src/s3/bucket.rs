//! `s3.services.k8s.aws/v1alpha1 Bucket`: ACK's API, the pure desired-vs-observed logic, and the
//! S3 calls that read and apply it.
//!
//! As ACK: a sub-resource field that is absent from the spec (or present but empty:
//! `tagging: {tagSet: []}`, `policy: ""`, `cors: {}`...) is removed from AWS when AWS has it
//! (`cors`, `lifecycle`, `policy`, `publicAccessBlock`, `tagging`, `website`; `versioning` and
//! `accelerate` go back to `Suspended`, `logging` and `notification` are put empty, an Object
//! Lock default retention is removed), except the late-initialized `encryption` and `ownershipControls`, which are
//! copied from AWS into the spec instead. `aws:*` system tags and ACK's default tag keys are
//! never removed nor copied into a spec.
//!
//! `spec` itself is optional, as in ACK: an adoption manifest may carry only the annotations
//! (`services.k8s.aws/adoption-fields: '{"name": "..."}'`), and the spec is filled in from AWS.
//! The CRD defaults an absent spec to `{}` and requires no `name` (the API server cannot see the
//! annotations that would make it optional); an empty name without adoption-fields is terminal,
//! naming `spec.name`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ack::condition::Condition;
use crate::ack::error::AwsError;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{
    AckResourceMetadata, Tag, is_ignored_tag, is_system_tag, tag_map, user_tags,
};

mod inventory;
pub use inventory::{
    InventoryConfiguration, InventoryDestination, InventoryEncryption, InventoryFilter,
    InventoryS3BucketDestination, InventorySchedule, Ssekms,
};
mod replication;
pub use replication::{
    AccessControlTranslation, Destination, EncryptionConfiguration, Metrics,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleAndOperator, ReplicationRuleFilter,
    ReplicationTime, ReplicationTimeValue, SourceSelectionCriteria, StatusOnly,
};
mod settings;
pub use settings::{
    AccelerateConfiguration, BucketLoggingStatus, DefaultRetention, ErrorDocument, FilterRule,
    Grantee, IndexDocument, KeyFilter, LambdaFunctionConfiguration, LoggingEnabled,
    NotificationConfiguration, NotificationFilter, ObjectLockConfiguration, ObjectLockRule,
    QueueConfiguration, Redirect, RedirectAllRequestsTo, RoutingCondition, RoutingRule,
    TargetGrant, TopicConfiguration, WebsiteConfiguration, same,
};

/// Spec of an S3 bucket (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "s3.services.k8s.aws",
    version = "v1alpha1",
    kind = "Bucket",
    plural = "buckets",
    namespaced,
    status = "BucketStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct BucketSpec {
    /// The bucket name. Immutable. An object without a spec (stored as `spec: {}`, the CRD's
    /// default) or without a name names its bucket in annotation
    /// `services.k8s.aws/adoption-fields`.
    #[serde(default)]
    pub name: String,
    /// Transfer acceleration; absent suspends it where it was enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerate: Option<AccelerateConfiguration>,
    /// Canned ACL applied at creation (`private`, `public-read`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    /// Grant header applied at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_full_control: Option<String>,
    /// Grant header applied at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_read: Option<String>,
    /// Grant header applied at creation.
    #[serde(
        default,
        rename = "grantReadACP",
        skip_serializing_if = "Option::is_none"
    )]
    pub grant_read_acp: Option<String>,
    /// Grant header applied at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_write: Option<String>,
    /// Grant header applied at creation.
    #[serde(
        default,
        rename = "grantWriteACP",
        skip_serializing_if = "Option::is_none"
    )]
    pub grant_write_acp: Option<String>,
    /// Object ownership at creation (`BucketOwnerEnforced`, `BucketOwnerPreferred`, `ObjectWriter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
    /// Enables S3 Object Lock at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock_enabled_for_bucket: Option<bool>,
    /// Creation-time configuration; `locationConstraint` defaults to the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_bucket_configuration: Option<CreateBucketConfiguration>,
    /// CORS rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsConfiguration>,
    /// Default server-side encryption (late-initialized from AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<ServerSideEncryptionConfiguration>,
    /// Inventory configurations, by `id`; one the spec does not list is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Vec<InventoryConfiguration>>,
    /// Lifecycle rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<BucketLifecycleConfiguration>,
    /// Server access logging; absent turns it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<BucketLoggingStatus>,
    /// Event notifications; absent stops them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationConfiguration>,
    /// Default retention of a bucket with Object Lock (`objectLockEnabledForBucket` at
    /// creation); absent removes the default retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock_configuration: Option<ObjectLockConfiguration>,
    /// Ownership controls (late-initialized from AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_controls: Option<OwnershipControls>,
    /// Bucket policy, a JSON document (compared as JSON, not as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Public access block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlockConfiguration>,
    /// Replication (needs versioning); absent, or without rules, deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationConfiguration>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagging: Option<Tagging>,
    /// Versioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<VersioningConfiguration>,
    /// Static website hosting; absent (or with neither an index document nor a redirect of all
    /// requests) deletes the website configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<WebsiteConfiguration>,
}

/// `createBucketConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBucketConfiguration {
    /// Region constraint; the controller's region when omitted (outside us-east-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_constraint: Option<String>,
}

/// `cors`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorsConfiguration {
    /// The rules; empty removes the CORS configuration.
    #[serde(default, rename = "corsRules", skip_serializing_if = "Option::is_none")]
    pub cors_rules: Option<Vec<CorsRule>>,
}

/// One CORS rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorsRule {
    /// Allowed request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_headers: Option<Vec<String>>,
    /// Allowed methods (GET, PUT, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_methods: Option<Vec<String>>,
    /// Allowed origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Headers exposed to the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// Rule id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Preflight cache time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i64>,
}

/// `encryption`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSideEncryptionConfiguration {
    /// The rules; empty removes default encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<ServerSideEncryptionRule>>,
}

/// One encryption rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSideEncryptionRule {
    /// Default encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_server_side_encryption_by_default: Option<ServerSideEncryptionByDefault>,
    /// S3 Bucket Key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
}

/// Default encryption algorithm and key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSideEncryptionByDefault {
    /// KMS key (for `aws:kms`).
    #[serde(
        default,
        rename = "kmsMasterKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_algorithm: Option<String>,
}

/// `lifecycle`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketLifecycleConfiguration {
    /// The rules; empty removes the lifecycle configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<LifecycleRule>>,
}

/// One lifecycle rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRule {
    /// Abort incomplete multipart uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
    /// Expiration of current versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<LifecycleExpiration>,
    /// Which objects the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<LifecycleRuleFilter>,
    /// Rule id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Expiration of noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// Storage class transitions of noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_transitions: Option<Vec<NoncurrentVersionTransition>>,
    /// Deprecated prefix filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `Enabled` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Storage class transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<Transition>>,
}

/// `abortIncompleteMultipartUpload`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AbortIncompleteMultipartUpload {
    /// Days after initiation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_after_initiation: Option<i64>,
}

/// `expiration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleExpiration {
    /// Date (RFC 3339, midnight UTC) from which objects expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time_schema")]
    pub date: Option<String>,
    /// Days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Remove expired delete markers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
}

/// `filter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRuleFilter {
    /// Several conditions at once (prefix, tags, sizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<LifecycleRuleAndOperator>,
    /// Minimum object size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    /// Maximum object size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// One tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
}

/// `filter.and`: every condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRuleAndOperator {
    /// Minimum object size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    /// Maximum object size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// One `noncurrentVersionTransitions` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoncurrentVersionTransition {
    /// Noncurrent versions kept in the current class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i64>,
    /// Days after becoming noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i64>,
    /// Target storage class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// `noncurrentVersionExpiration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoncurrentVersionExpiration {
    /// Noncurrent versions to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i64>,
    /// Days after becoming noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i64>,
}

/// One storage class transition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// Date (RFC 3339, midnight UTC) of the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time_schema")]
    pub date: Option<String>,
    /// Days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Target storage class (`GLACIER`, `STANDARD_IA`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// `ownershipControls`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipControls {
    /// The rules; empty removes ownership controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<OwnershipControlsRule>>,
}

/// One ownership rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipControlsRule {
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
}

/// `publicAccessBlock`; unset flags mean false.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublicAccessBlockConfiguration {
    /// Block public ACLs.
    #[serde(
        default,
        rename = "blockPublicACLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_public_acls: Option<bool>,
    /// Block public policies.
    #[serde(
        default,
        rename = "blockPublicPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_public_policy: Option<bool>,
    /// Ignore public ACLs.
    #[serde(
        default,
        rename = "ignorePublicACLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub ignore_public_acls: Option<bool>,
    /// Restrict public buckets.
    #[serde(
        default,
        rename = "restrictPublicBuckets",
        skip_serializing_if = "Option::is_none"
    )]
    pub restrict_public_buckets: Option<bool>,
}

/// `tagging`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tagging {
    /// The tags; empty removes every tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_set: Option<Vec<Tag>>,
}

/// `versioning`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersioningConfiguration {
    /// `Enabled` or `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Observed state of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// `Location` returned by CreateBucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

crate::ack::runtime::impl_ack_status!(BucketStatus);

/// A date-time string, as ACK's CRD publishes lifecycle dates.
fn date_time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "format": "date-time"})
}

// ---------------------------------------------------------------------------------------------
// Pure logic
// ---------------------------------------------------------------------------------------------

/// What S3 holds for the managed sub-resources (`None` = not configured).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBucket {
    /// Tags.
    pub tags: Option<Vec<Tag>>,
    /// Versioning status (`None` = never enabled).
    pub versioning: Option<String>,
    /// Default encryption.
    pub encryption: Option<ServerSideEncryptionConfiguration>,
    /// Public access block.
    pub public_access_block: Option<PublicAccessBlockConfiguration>,
    /// Policy document.
    pub policy: Option<String>,
    /// Lifecycle rules.
    pub lifecycle: Option<BucketLifecycleConfiguration>,
    /// CORS rules.
    pub cors: Option<CorsConfiguration>,
    /// Ownership controls.
    pub ownership_controls: Option<OwnershipControls>,
    /// Transfer acceleration status (`None` = never configured).
    pub accelerate: Option<String>,
    /// Server access logging (`None` = off).
    pub logging: Option<LoggingEnabled>,
    /// Website configuration.
    pub website: Option<WebsiteConfiguration>,
    /// Event notifications.
    pub notification: Option<NotificationConfiguration>,
    /// Object Lock (`None` = off; on without a default retention = no rule).
    pub object_lock: Option<ObjectLockConfiguration>,
    /// Replication.
    pub replication: Option<ReplicationConfiguration>,
    /// Inventory configurations.
    pub inventory: Option<Vec<InventoryConfiguration>>,
}

/// One S3 call that brings a bucket closer to its spec, in the order they must run.
#[derive(Clone, Debug, PartialEq)]
pub enum BucketCall {
    /// PutBucketTagging.
    PutTagging(Vec<Tag>),
    /// DeleteBucketTagging.
    DeleteTagging,
    /// PutBucketVersioning.
    PutVersioning(String),
    /// PutBucketEncryption.
    PutEncryption(ServerSideEncryptionConfiguration),
    /// DeleteBucketEncryption.
    DeleteEncryption,
    /// PutBucketOwnershipControls.
    PutOwnershipControls(OwnershipControls),
    /// DeleteBucketOwnershipControls.
    DeleteOwnershipControls,
    /// PutPublicAccessBlock (before the policy, as ACK orders it).
    PutPublicAccessBlock(PublicAccessBlockConfiguration),
    /// DeletePublicAccessBlock.
    DeletePublicAccessBlock,
    /// PutBucketPolicy.
    PutPolicy(String),
    /// DeleteBucketPolicy.
    DeletePolicy,
    /// PutBucketLifecycleConfiguration.
    PutLifecycle(BucketLifecycleConfiguration),
    /// DeleteBucketLifecycle.
    DeleteLifecycle,
    /// PutBucketCors.
    PutCors(CorsConfiguration),
    /// DeleteBucketCors.
    DeleteCors,
    /// PutBucketAccelerateConfiguration.
    PutAccelerate(String),
    /// PutBucketLogging; `None` turns logging off.
    PutLogging(Option<LoggingEnabled>),
    /// PutBucketWebsite.
    PutWebsite(WebsiteConfiguration),
    /// DeleteBucketWebsite.
    DeleteWebsite,
    /// PutBucketNotificationConfiguration; `None` stops every notification.
    PutNotification(Option<NotificationConfiguration>),
    /// PutObjectLockConfiguration (after versioning, which Object Lock needs).
    PutObjectLock(Option<ObjectLockConfiguration>),
    /// PutBucketReplication (after versioning, which replication needs).
    PutReplication(ReplicationConfiguration),
    /// DeleteBucketReplication.
    DeleteReplication,
    /// PutBucketInventoryConfiguration (one configuration).
    PutInventory(InventoryConfiguration),
    /// DeleteBucketInventoryConfiguration of this id.
    DeleteInventory(String),
}

impl BucketCall {
    /// The S3 API operation this call makes.
    pub fn operation(&self) -> &'static str {
        match self {
            BucketCall::PutTagging(_) => "PutBucketTagging",
            BucketCall::DeleteTagging => "DeleteBucketTagging",
            BucketCall::PutVersioning(_) => "PutBucketVersioning",
            BucketCall::PutEncryption(_) => "PutBucketEncryption",
            BucketCall::DeleteEncryption => "DeleteBucketEncryption",
            BucketCall::PutOwnershipControls(_) => "PutBucketOwnershipControls",
            BucketCall::DeleteOwnershipControls => "DeleteBucketOwnershipControls",
            BucketCall::PutPublicAccessBlock(_) => "PutPublicAccessBlock",
            BucketCall::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            BucketCall::PutPolicy(_) => "PutBucketPolicy",
            BucketCall::DeletePolicy => "DeleteBucketPolicy",
            BucketCall::PutLifecycle(_) => "PutBucketLifecycleConfiguration",
            BucketCall::DeleteLifecycle => "DeleteBucketLifecycle",
            BucketCall::PutCors(_) => "PutBucketCors",
            BucketCall::DeleteCors => "DeleteBucketCors",
            BucketCall::PutAccelerate(_) => "PutBucketAccelerateConfiguration",
            BucketCall::PutLogging(_) => "PutBucketLogging",
            BucketCall::PutWebsite(_) => "PutBucketWebsite",
            BucketCall::DeleteWebsite => "DeleteBucketWebsite",
            BucketCall::PutNotification(_) => "PutBucketNotificationConfiguration",
            BucketCall::PutObjectLock(_) => "PutObjectLockConfiguration",
            BucketCall::PutReplication(_) => "PutBucketReplication",
            BucketCall::DeleteReplication => "DeleteBucketReplication",
            BucketCall::PutInventory(_) => "PutBucketInventoryConfiguration",
            BucketCall::DeleteInventory(_) => "DeleteBucketInventoryConfiguration",
        }
    }
}

fn flags(p: &PublicAccessBlockConfiguration) -> [bool; 4] {
    [
        p.block_public_acls.unwrap_or(false),
        p.block_public_policy.unwrap_or(false),
        p.ignore_public_acls.unwrap_or(false),
        p.restrict_public_buckets.unwrap_or(false),
    ]
}

/// Policies compare as JSON documents; text that is not JSON compares as text.
pub fn policies_equal(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

fn empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

/// The calls that make the bucket match the spec, one step per sub-resource in the order they
/// must run. As ACK's update: a field absent from the spec while AWS has a configuration is a
/// Delete call (versioning, which cannot be deleted, goes back to `Suspended`); the
/// late-initialized `encryption` and `ownershipControls` are left alone when absent (they are
/// copied into the spec, see [`late_initialize`]).
pub fn bucket_delta(desired: &BucketSpec, observed: &ObservedBucket) -> Vec<BucketCall> {
    [
        tagging_call(desired, observed),
        versioning_call(desired, observed),
        desired.encryption.as_ref().and_then(|want| {
            rules_call(
                Some(want),
                observed.encryption.as_ref(),
                |enc| empty(&enc.rules),
                BucketCall::PutEncryption,
                BucketCall::DeleteEncryption,
            )
        }),
        desired.ownership_controls.as_ref().and_then(|want| {
            rules_call(
                Some(want),
                observed.ownership_controls.as_ref(),
                |controls| empty(&controls.rules),
                BucketCall::PutOwnershipControls,
                BucketCall::DeleteOwnershipControls,
            )
        }),
        public_access_block_call(desired, observed),
        policy_call(desired, observed),
        rules_call(
            desired
                .lifecycle
                .as_ref()
                .map(lifecycle_dates_canonical)
                .as_ref(),
            observed.lifecycle.as_ref(),
            |lifecycle| empty(&lifecycle.rules),
            BucketCall::PutLifecycle,
            BucketCall::DeleteLifecycle,
        ),
        rules_call(
            desired.cors.as_ref(),
            observed.cors.as_ref(),
            |cors| empty(&cors.cors_rules),
            BucketCall::PutCors,
            BucketCall::DeleteCors,
        ),
        accelerate_call(desired, observed),
        logging_call(desired, observed),
        website_call(desired, observed),
        notification_call(desired, observed),
        object_lock_call(desired, observed),
        replication_call(desired, observed),
    ]
    .into_iter()
    .flatten()
    .chain(inventory_calls(desired, observed))
    .collect()
}

/// The lifecycle configuration with its dates in S3's form (`2027-01-01T00:00:00Z`), so a
/// date written `2027-01-01T00:00:00.000Z` or `+00:00` compares equal to what S3 reports. A
/// date that does not parse is left as written (S3 refuses it with the field named).
pub fn lifecycle_dates_canonical(
    lifecycle: &BucketLifecycleConfiguration,
) -> BucketLifecycleConfiguration {
    let canonical = |d: &mut Option<String>| {
        if let Some(text) = d.as_deref()
            && let Some(c) = canonical_date(text)
        {
            *d = Some(c);
        }
    };
    let mut out = lifecycle.clone();
    for rule in out.rules.iter_mut().flatten() {
        if let Some(e) = rule.expiration.as_mut() {
            canonical(&mut e.date);
        }
        for t in rule.transitions.iter_mut().flatten() {
            canonical(&mut t.date);
        }
    }
    out
}

/// An RFC 3339 date-time (any offset, fractions) as the SDK's date-time; `None` when it does
/// not parse.
pub fn parse_date(text: &str) -> Option<aws_sdk_s3::primitives::DateTime> {
    let ts: k8s_openapi::jiff::Timestamp = text.trim().parse().ok()?;
    let nanos = u32::try_from(ts.subsec_nanosecond()).ok()?;
    Some(aws_sdk_s3::primitives::DateTime::from_secs_and_nanos(
        ts.as_second(),
        nanos,
    ))
}

/// An RFC 3339 date-time in the form S3 reports it; `None` when it does not parse.
pub fn canonical_date(text: &str) -> Option<String> {
    parse_date(text)?
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .ok()
}

/// Tags compare as a map without the tags [`is_ignored_tag`] that the spec does not list
/// (`aws:*`, unconfigured `services.k8s.aws/*`). PutBucketTagging replaces the whole set, so
/// ignored tags other than `aws:*` ones (which AWS refuses from callers) are sent back as they
/// are; with nothing left to keep, an empty set deletes the tagging. An absent `tagging` wants
/// no tags, as ACK.
fn tagging_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want: Vec<Tag> = desired
        .tagging
        .as_ref()
        .and_then(|t| t.tag_set.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !t.key.as_deref().is_some_and(is_system_tag))
        .collect();
    let want_map = tag_map(&want);
    let have = tag_map(observed.tags.as_deref().unwrap_or_default());
    let kept: Vec<Tag> = have
        .iter()
        .filter(|(k, _)| is_ignored_tag(k) && !is_system_tag(k) && !want_map.contains_key(*k))
        .map(|(k, v)| Tag::new(k, v))
        .collect();
    let compared: std::collections::BTreeMap<String, String> = have
        .into_iter()
        .filter(|(k, _)| !is_ignored_tag(k) || want_map.contains_key(k))
        .collect();
    if want_map == compared {
        return None;
    }
    let mut set = want;
    set.extend(kept);
    Some(if set.is_empty() {
        BucketCall::DeleteTagging
    } else {
        BucketCall::PutTagging(set)
    })
}

/// A bucket that never had versioning reads as `Suspended` and needs no call to stay so; an
/// absent `versioning` wants `Suspended` (AWS's default), as ACK.
fn versioning_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired
        .versioning
        .as_ref()
        .and_then(|v| v.status.as_deref());
    suspendable(want, observed.versioning.as_deref()).map(BucketCall::PutVersioning)
}

/// The status to put for an `Enabled`/`Suspended` setting (versioning, acceleration): absent
/// wants `Suspended`, and a bucket that never had the setting needs no call to stay so.
fn suspendable(want: Option<&str>, have: Option<&str>) -> Option<String> {
    let want = want.filter(|s| !s.is_empty()).unwrap_or("Suspended");
    let current = have.unwrap_or("Suspended");
    (want != current && !(want == "Suspended" && have.is_none())).then(|| want.to_owned())
}

/// Acceleration as versioning: absent suspends it where it was enabled (ACK's default).
fn accelerate_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired
        .accelerate
        .as_ref()
        .and_then(|a| a.status.as_deref());
    suspendable(want, observed.accelerate.as_deref()).map(BucketCall::PutAccelerate)
}

/// Logging: the spec's `loggingEnabled` (absent = off) against S3's.
fn logging_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired
        .logging
        .as_ref()
        .and_then(|l| l.logging_enabled.clone());
    (!same(&want, &observed.logging)).then_some(BucketCall::PutLogging(want))
}

/// Website: a configuration with neither an index document nor a redirect of every request
/// is no website (PutBucketWebsite needs one of them), so it deletes S3's, like an absent one.
fn website_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired.website.as_ref().filter(|w| {
        let index = w.index_document.as_ref().and_then(|d| d.suffix.as_deref());
        let redirect = w
            .redirect_all_requests_to
            .as_ref()
            .and_then(|r| r.host_name.as_deref());
        index.is_some_and(|s| !s.is_empty()) || redirect.is_some_and(|h| !h.is_empty())
    });
    match (want, &observed.website) {
        (None, None) => None,
        (None, Some(_)) => Some(BucketCall::DeleteWebsite),
        (Some(want), have) => {
            (!same(&Some(want), &have.as_ref())).then(|| BucketCall::PutWebsite(want.clone()))
        }
    }
}

/// Replication: absent, or without rules, deletes S3's; otherwise compared without `roleRef`
/// (resolved into `role` before).
fn replication_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired
        .replication
        .as_ref()
        .filter(|r| r.rules.as_ref().is_some_and(|rules| !rules.is_empty()))
        .map(|r| ReplicationConfiguration {
            role_ref: None,
            ..r.clone()
        });
    match (want, &observed.replication) {
        (None, None) => None,
        (None, Some(_)) => Some(BucketCall::DeleteReplication),
        (Some(want), have) => {
            (!same(&Some(&want), &have.as_ref())).then_some(BucketCall::PutReplication(want))
        }
    }
}

/// Inventory, configuration by configuration (by `id`): one that is new or differs is put,
/// one S3 has that the spec does not list (all of them when `inventory` is absent) deleted.
fn inventory_calls(desired: &BucketSpec, observed: &ObservedBucket) -> Vec<BucketCall> {
    let want = desired.inventory.as_deref().unwrap_or_default();
    let have = observed.inventory.as_deref().unwrap_or_default();
    let puts = want.iter().filter_map(|w| {
        let current = have.iter().find(|h| h.id == w.id);
        (!current.is_some_and(|h| same(w, h))).then(|| BucketCall::PutInventory(w.clone()))
    });
    let deletes = have
        .iter()
        .filter(|h| !want.iter().any(|w| w.id == h.id))
        .map(|h| BucketCall::DeleteInventory(h.id.clone().unwrap_or_default()));
    puts.chain(deletes).collect()
}

/// Notifications: absent or empty stops every notification where S3 has some.
fn notification_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want = desired
        .notification
        .clone()
        .filter(|n| !same(n, &NotificationConfiguration::default()));
    (!same(&want, &observed.notification)).then_some(BucketCall::PutNotification(want))
}

/// Object Lock's default retention. Object Lock itself cannot be turned off: an absent
/// configuration removes the rule of a locked bucket and asks nothing of one without lock.
fn object_lock_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let want_rule = desired
        .object_lock_configuration
        .as_ref()
        .and_then(|c| c.rule.as_ref());
    let have_rule = observed.object_lock.as_ref().and_then(|c| c.rule.as_ref());
    (!same(&want_rule, &have_rule))
        .then(|| BucketCall::PutObjectLock(desired.object_lock_configuration.clone()))
}

/// A rule-list sub-resource (encryption, ownership controls, lifecycle, CORS): absent from the
/// spec or without rules deletes what AWS has, rules that differ from AWS's are put.
fn rules_call<T: Clone + PartialEq>(
    desired: Option<&T>,
    observed: Option<&T>,
    has_no_rules: impl Fn(&T) -> bool,
    put: impl FnOnce(T) -> BucketCall,
    delete: BucketCall,
) -> Option<BucketCall> {
    match desired {
        Some(want) if !has_no_rules(want) => (observed != Some(want)).then(|| put(want.clone())),
        _ => observed.is_some().then_some(delete),
    }
}

/// The four flags compare with absent as `false`; a bucket without a configuration needs one
/// only when a flag is set. An absent `publicAccessBlock` deletes AWS's configuration, as ACK.
fn public_access_block_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let Some(pab) = desired.public_access_block.as_ref() else {
        return observed
            .public_access_block
            .is_some()
            .then_some(BucketCall::DeletePublicAccessBlock);
    };
    let have = observed
        .public_access_block
        .as_ref()
        .map(flags)
        .unwrap_or([false; 4]);
    let want = flags(pab);
    let unconfigured = observed.public_access_block.is_none();
    (want != have || (unconfigured && want != [false; 4]))
        .then(|| BucketCall::PutPublicAccessBlock(pab.clone()))
}

/// Policies compare as JSON; a blank or absent policy in the spec deletes AWS's.
fn policy_call(desired: &BucketSpec, observed: &ObservedBucket) -> Option<BucketCall> {
    let policy = desired.policy.as_deref().unwrap_or_default();
    match (&observed.policy, policy.trim().is_empty()) {
        (Some(_), true) => Some(BucketCall::DeletePolicy),
        (None, true) => None,
        (Some(have), false) if policies_equal(have, policy) => None,
        (_, false) => Some(BucketCall::PutPolicy(policy.to_owned())),
    }
}

/// Late initialization: `encryption` and `ownershipControls` absent from the spec are copied
/// from AWS (its defaults), as a spec merge patch; `None` when nothing is to be copied.
pub fn late_initialize(desired: &BucketSpec, observed: &ObservedBucket) -> Option<Value> {
    let mut patch = serde_json::Map::new();
    if desired.encryption.is_none()
        && let Some(enc) = &observed.encryption
    {
        patch.insert("encryption".into(), json!(enc));
    }
    if desired.ownership_controls.is_none()
        && let Some(oc) = &observed.ownership_controls
    {
        patch.insert("ownershipControls".into(), json!(oc));
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// The spec of an adopted bucket: its name and everything S3 reports (tags without `aws:*` and
/// ACK's default keys), as a merge patch.
pub fn adopted_spec(name: &str, observed: &ObservedBucket) -> Value {
    let spec = BucketSpec {
        name: name.to_owned(),
        tagging: observed.tags.as_deref().map(|t| Tagging {
            tag_set: Some(user_tags(t)),
        }),
        versioning: observed
            .versioning
            .clone()
            .map(|s| VersioningConfiguration { status: Some(s) }),
        encryption: observed.encryption.clone(),
        public_access_block: observed.public_access_block.clone(),
        policy: observed.policy.clone(),
        lifecycle: observed.lifecycle.clone(),
        cors: observed.cors.clone(),
        ownership_controls: observed.ownership_controls.clone(),
        accelerate: observed
            .accelerate
            .clone()
            .map(|s| AccelerateConfiguration { status: Some(s) }),
        logging: observed.logging.clone().map(|l| BucketLoggingStatus {
            logging_enabled: Some(l),
        }),
        website: observed.website.clone(),
        replication: observed.replication.clone(),
        inventory: observed.inventory.clone(),
        notification: observed.notification.clone(),
        object_lock_enabled_for_bucket: observed.object_lock.as_ref().map(|_| true),
        object_lock_configuration: observed.object_lock.clone().filter(|c| c.rule.is_some()),
        ..Default::default()
    };
    serde_json::to_value(spec).unwrap_or_else(|_| json!({"name": name}))
}

/// The bucket's ARN in the partition of `region` (S3 ARNs carry neither region nor account:
/// `arn:aws:s3:::b`, `arn:aws-cn:s3:::b` in China).
pub fn bucket_arn(region: &str, name: &str) -> String {
    let partition = crate::ack::types::partition(region);
    format!("arn:{partition}:s3:::{name}")
}

/// The location constraint sent at create: the spec's, else the region (none in us-east-1).
pub fn location_constraint(spec: &BucketSpec, region: &str) -> Option<String> {
    spec.create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.clone())
        .filter(|l| !l.is_empty())
        .or_else(|| (region != "us-east-1").then(|| region.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// IO
// ---------------------------------------------------------------------------------------------

mod io;

/// AWS error codes that make a Bucket terminal (ACK's list plus invalid input codes).
pub const TERMINAL_CODES: &[&str] = &[
    "PermanentRedirect",
    "InvalidLocationConstraint",
    "MalformedXML",
    "IllegalLocationConstraintException",
    "InvalidNamespaceHeader",
    "MissingNamespaceHeader",
    "InvalidBucketName",
    "MalformedPolicy",
    "InvalidArgument",
    "InvalidRequest",
    "BucketAlreadyExists",
];

impl AckKind for Bucket {
    const FINALIZER: &'static str = "finalizers.s3.services.k8s.aws/Bucket";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &["BucketAlreadyOwnedByYou"];
    const ADOPTION_KEY: &'static str = "name";
    const TAGS: &'static str = "/tagging/tagSet";
    type Observed = ObservedBucket;

    fn identifier(&self) -> String {
        self.spec.name.clone()
    }

    fn has_references(&self) -> bool {
        self.spec
            .replication
            .as_ref()
            .is_some_and(|r| r.role_ref.is_some())
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(replication) = out.spec.replication.as_mut()
            && let Some(r) = replication.role_ref.take()
        {
            if replication.role.is_some() {
                return Err(SyncError::Terminal(
                    "spec.replication.role and spec.replication.roleRef are both set: keep only one"
                        .into(),
                ));
            }
            replication.role = Some(
                crate::ack::refs::resolve(
                    cx,
                    "spec.replication.roleRef",
                    &r,
                    crate::rds::db_instance::io::ROLE_REF,
                )
                .await?,
            );
        }
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedBucket>, SyncError> {
        io::read(&cx.aws.s3, id).await
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        let location = io::create(&cx.aws.s3, &self.spec, id, &cx.region).await?;
        Ok(Created {
            status: json!({"location": location}),
            ..Default::default()
        })
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedBucket,
    ) -> Result<Synced, SyncError> {
        let calls = bucket_delta(&self.spec, &observed);
        for call in &calls {
            io::apply(&cx.aws.s3, id, call).await?;
        }
        if !calls.is_empty() {
            tracing::info!(bucket = id, calls = calls.len(), "bucket updated");
        }
        Ok(Synced {
            updated: calls.iter().map(|c| c.operation().to_owned()).collect(),
            arn: Some(bucket_arn(&cx.region, id)),
            status: json!({}),
            spec_patch: late_initialize(&self.spec, &observed),
            late_initialized: Some(true),
            ..Default::default()
        })
    }

    fn adopted_spec(id: &str, observed: &ObservedBucket) -> Value {
        adopted_spec(id, observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        _observed: ObservedBucket,
    ) -> Result<Deleted, SyncError> {
        let res = cx.aws.s3.delete_bucket().bucket(id).send().await;
        SyncError::unless_not_found(
            "DeleteBucket",
            res.map_err(AwsError::from_sdk),
            &["NoSuchBucket"],
        )?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests;
