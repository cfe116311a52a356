//! The bucket settings beside the core ones: transfer acceleration, server access logging,
//! static website hosting, event notifications and the Object Lock default retention. Their
//! ACK spec types, how S3's answers read into them, and the calls that write them.
//!
//! Each compares by [`same`]: empty strings and lists and absent fields are one thing, since
//! S3 answers with empty values where a spec leaves a field out.

use aws_sdk_s3::Client;
use aws_sdk_s3::types as s3t;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::io::{bad, i32_of, nonempty, optional, sent};
use crate::ack::error::AwsError;
use crate::ack::runtime::SyncError;

/// True when `a` and `b` say the same once empty strings, empty lists, empty objects and
/// nulls are dropped: S3 reports `""` and `[]` where a spec leaves a field out.
pub fn same<T: Serialize>(a: &T, b: &T) -> bool {
    fn pruned(v: Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::Array(items) => {
                let items: Vec<Value> = items.into_iter().filter_map(pruned).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(map) => {
                let map: serde_json::Map<String, Value> = map
                    .into_iter()
                    .filter_map(|(k, v)| pruned(v).map(|v| (k, v)))
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            other => Some(other),
        }
    }
    let a = serde_json::to_value(a).ok().and_then(pruned);
    let b = serde_json::to_value(b).ok().and_then(pruned);
    a == b
}

fn owned(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Spec types (ACK's field names)
// ---------------------------------------------------------------------------------------------

/// `accelerate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccelerateConfiguration {
    /// `Enabled` or `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `logging`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketLoggingStatus {
    /// Where the access logs go; absent turns logging off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<LoggingEnabled>,
}

/// `logging.loggingEnabled`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggingEnabled {
    /// The bucket that receives the logs (same region; it must let the logging service write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_bucket: Option<String>,
    /// Who may read the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_grants: Option<Vec<TargetGrant>>,
    /// Key prefix of the log objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_prefix: Option<String>,
}

/// One `targetGrants` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGrant {
    /// Who is granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<Grantee>,
    /// `FULL_CONTROL`, `READ` or `WRITE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// A grantee (ACK spells `type_` and `uRI` this way).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grantee {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// Canonical user id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `CanonicalUser`, `AmazonCustomerByEmail` or `Group`.
    #[serde(default, rename = "type_", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Group URI.
    #[serde(default, rename = "uRI", skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// `website`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteConfiguration {
    /// The object returned on a 4XX error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_document: Option<ErrorDocument>,
    /// The index document suffix (`index.html`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_document: Option<IndexDocument>,
    /// Redirect every request to another host instead of serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_all_requests_to: Option<RedirectAllRequestsTo>,
    /// Conditional redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_rules: Option<Vec<RoutingRule>>,
}

/// `website.errorDocument`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDocument {
    /// Object key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `website.indexDocument`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexDocument {
    /// Suffix appended to a request for a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// `website.redirectAllRequestsTo`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectAllRequestsTo {
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// One `website.routingRules` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingRule {
    /// When the redirect applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<RoutingCondition>,
    /// Where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
}

/// `routingRules[].condition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingCondition {
    /// HTTP error code, e.g. `404`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_error_code_returned_equals: Option<String>,
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix_equals: Option<String>,
}

/// `routingRules[].redirect`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// HTTP redirect code, e.g. `301`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_redirect_code: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Replaces the matched key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_prefix_with: Option<String>,
    /// Replaces the whole key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_with: Option<String>,
}

/// `notification`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationConfiguration {
    /// Lambda functions invoked on events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_function_configurations: Option<Vec<LambdaFunctionConfiguration>>,
    /// SQS queues sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_configurations: Option<Vec<QueueConfiguration>>,
    /// SNS topics sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_configurations: Option<Vec<TopicConfiguration>>,
}

/// One Lambda notification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaFunctionConfiguration {
    /// Events, e.g. `s3:ObjectCreated:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Key name filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<NotificationFilter>,
    /// Id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function's ARN.
    #[serde(
        default,
        rename = "lambdaFunctionARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub lambda_function_arn: Option<String>,
}

/// One SQS notification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueConfiguration {
    /// Events, e.g. `s3:ObjectCreated:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Key name filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<NotificationFilter>,
    /// Id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The queue's ARN.
    #[serde(default, rename = "queueARN", skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
}

/// One SNS notification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfiguration {
    /// Events, e.g. `s3:ObjectCreated:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Key name filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<NotificationFilter>,
    /// Id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The topic's ARN.
    #[serde(default, rename = "topicARN", skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
}

/// A notification's `filter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationFilter {
    /// Key name rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyFilter>,
}

/// `filter.key`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyFilter {
    /// `prefix` / `suffix` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_rules: Option<Vec<FilterRule>>,
}

/// One key name rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilterRule {
    /// `prefix` or `suffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `objectLockConfiguration`: the default retention of a bucket with Object Lock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectLockConfiguration {
    /// The rule; absent removes the default retention (Object Lock itself stays on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<ObjectLockRule>,
}

/// `objectLockConfiguration.rule`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectLockRule {
    /// Retention of new objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

/// `rule.defaultRetention`: a mode and either days or years.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultRetention {
    /// Days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// `GOVERNANCE` or `COMPLIANCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// GetBucketAccelerateConfiguration; `None` when acceleration was never configured.
pub(super) async fn read_accelerate(s3: &Client, name: &str) -> Result<Option<String>, SyncError> {
    let res = s3
        .get_bucket_accelerate_configuration()
        .bucket(name)
        .send()
        .await;
    // Regions without acceleration answer MethodNotAllowed / UnsupportedArgument (ACK too).
    let out = optional(
        "GetBucketAccelerateConfiguration",
        res.map_err(AwsError::from_sdk),
        &["MethodNotAllowed", "UnsupportedArgument"],
    )?;
    Ok(out.and_then(|out| owned(out.status().map(|s| s.as_str()))))
}

/// GetBucketLogging; `None` when logging is off.
pub(super) async fn read_logging(
    s3: &Client,
    name: &str,
) -> Result<Option<LoggingEnabled>, SyncError> {
    let out = s3
        .get_bucket_logging()
        .bucket(name)
        .send()
        .await
        .map_err(|e| SyncError::aws("GetBucketLogging", AwsError::from_sdk(e)))?;
    Ok(out.logging_enabled().map(|l| LoggingEnabled {
        target_bucket: owned(Some(l.target_bucket())),
        target_grants: nonempty(
            l.target_grants()
                .iter()
                .map(|g| TargetGrant {
                    grantee: g.grantee().map(|g| Grantee {
                        display_name: owned(g.display_name()),
                        email_address: owned(g.email_address()),
                        id: owned(g.id()),
                        type_: owned(Some(g.r#type().as_str())),
                        uri: owned(g.uri()),
                    }),
                    permission: owned(g.permission().map(|p| p.as_str())),
                })
                .collect(),
        ),
        target_prefix: owned(Some(l.target_prefix())),
    }))
}

/// GetBucketWebsite; `None` when the bucket is no website.
pub(super) async fn read_website(
    s3: &Client,
    name: &str,
) -> Result<Option<WebsiteConfiguration>, SyncError> {
    let res = s3.get_bucket_website().bucket(name).send().await;
    let out = optional(
        "GetBucketWebsite",
        res.map_err(AwsError::from_sdk),
        &["NoSuchWebsiteConfiguration"],
    )?;
    Ok(out.map(|w| WebsiteConfiguration {
        error_document: w.error_document().map(|d| ErrorDocument {
            key: owned(Some(d.key())),
        }),
        index_document: w.index_document().map(|d| IndexDocument {
            suffix: owned(Some(d.suffix())),
        }),
        redirect_all_requests_to: w.redirect_all_requests_to().map(|r| RedirectAllRequestsTo {
            host_name: owned(Some(r.host_name())),
            protocol: owned(r.protocol().map(|p| p.as_str())),
        }),
        routing_rules: nonempty(
            w.routing_rules()
                .iter()
                .map(|r| RoutingRule {
                    condition: r.condition().map(|c| RoutingCondition {
                        http_error_code_returned_equals: owned(c.http_error_code_returned_equals()),
                        key_prefix_equals: owned(c.key_prefix_equals()),
                    }),
                    redirect: r.redirect().map(|r| Redirect {
                        host_name: owned(r.host_name()),
                        http_redirect_code: owned(r.http_redirect_code()),
                        protocol: owned(r.protocol().map(|p| p.as_str())),
                        replace_key_prefix_with: owned(r.replace_key_prefix_with()),
                        replace_key_with: owned(r.replace_key_with()),
                    }),
                })
                .collect(),
        ),
    }))
}

fn filter_from(f: Option<&s3t::NotificationConfigurationFilter>) -> Option<NotificationFilter> {
    let rules: Vec<FilterRule> = f
        .and_then(|f| f.key())
        .map(|k| {
            k.filter_rules()
                .iter()
                .map(|r| FilterRule {
                    name: owned(r.name().map(|n| n.as_str())),
                    value: owned(r.value()),
                })
                .collect()
        })
        .unwrap_or_default();
    nonempty(rules).map(|rules| NotificationFilter {
        key: Some(KeyFilter {
            filter_rules: Some(rules),
        }),
    })
}

fn events_from(events: &[s3t::Event]) -> Option<Vec<String>> {
    nonempty(events.iter().map(|e| e.as_str().to_owned()).collect())
}

/// One notification list S3 reports, in spec shape (see [`sdk_configs`]).
macro_rules! spec_configs {
    ($list:expr, $spec:ident, $arn:ident) => {
        nonempty(
            $list
                .iter()
                .map(|c| $spec {
                    events: events_from(c.events()),
                    filter: filter_from(c.filter()),
                    id: owned(c.id()),
                    $arn: owned(Some(c.$arn())),
                })
                .collect(),
        )
    };
}

/// GetBucketNotificationConfiguration; `None` when nothing is notified.
pub(super) async fn read_notification(
    s3: &Client,
    name: &str,
) -> Result<Option<NotificationConfiguration>, SyncError> {
    let out = s3
        .get_bucket_notification_configuration()
        .bucket(name)
        .send()
        .await
        .map_err(|e| SyncError::aws("GetBucketNotificationConfiguration", AwsError::from_sdk(e)))?;
    let config = NotificationConfiguration {
        lambda_function_configurations: spec_configs!(
            out.lambda_function_configurations(),
            LambdaFunctionConfiguration,
            lambda_function_arn
        ),
        queue_configurations: spec_configs!(
            out.queue_configurations(),
            QueueConfiguration,
            queue_arn
        ),
        topic_configurations: spec_configs!(
            out.topic_configurations(),
            TopicConfiguration,
            topic_arn
        ),
    };
    Ok((!same(&config, &NotificationConfiguration::default())).then_some(config))
}

/// What GetObjectLockConfiguration reports: `None` when Object Lock is off; the rule when
/// on. Days or years of 0 are absent (S3 allows neither; moto reports the unset one as 0).
pub(super) async fn read_object_lock(
    s3: &Client,
    name: &str,
) -> Result<Option<ObjectLockConfiguration>, SyncError> {
    let res = s3.get_object_lock_configuration().bucket(name).send().await;
    let out = optional(
        "GetObjectLockConfiguration",
        res.map_err(AwsError::from_sdk),
        &["ObjectLockConfigurationNotFoundError"],
    )?;
    let Some(config) = out.as_ref().and_then(|o| o.object_lock_configuration()) else {
        return Ok(None);
    };
    if config.object_lock_enabled() != Some(&s3t::ObjectLockEnabled::Enabled) {
        return Ok(None);
    }
    let positive = |v: Option<i32>| v.filter(|v| *v > 0).map(i64::from);
    Ok(Some(ObjectLockConfiguration {
        rule: config.rule().map(|r| ObjectLockRule {
            default_retention: r.default_retention().map(|d| DefaultRetention {
                days: positive(d.days()),
                mode: owned(d.mode().map(|m| m.as_str())),
                years: positive(d.years()),
            }),
        }),
    }))
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// PutBucketAccelerateConfiguration.
pub(super) async fn put_accelerate(s3: &Client, name: &str, status: &str) -> Result<(), SyncError> {
    let conf = s3t::AccelerateConfiguration::builder()
        .status(s3t::BucketAccelerateStatus::from(status))
        .build();
    let res = s3
        .put_bucket_accelerate_configuration()
        .bucket(name)
        .accelerate_configuration(conf)
        .send()
        .await;
    sent("PutBucketAccelerateConfiguration", res)
}

/// PutBucketLogging; `None` turns logging off (S3 has no DeleteBucketLogging).
pub(super) async fn put_logging(
    s3: &Client,
    name: &str,
    logging: Option<&LoggingEnabled>,
) -> Result<(), SyncError> {
    let enabled = logging.map(sdk_logging).transpose()?;
    let status = s3t::BucketLoggingStatus::builder()
        .set_logging_enabled(enabled)
        .build();
    let res = s3
        .put_bucket_logging()
        .bucket(name)
        .bucket_logging_status(status)
        .send()
        .await;
    sent("PutBucketLogging", res)
}

fn sdk_logging(l: &LoggingEnabled) -> Result<s3t::LoggingEnabled, SyncError> {
    let field = "logging.loggingEnabled";
    let mut grants = Vec::new();
    for g in l.target_grants.iter().flatten() {
        let grantee = g
            .grantee
            .as_ref()
            .map(|g| {
                s3t::Grantee::builder()
                    .set_display_name(g.display_name.clone())
                    .set_email_address(g.email_address.clone())
                    .set_id(g.id.clone())
                    .set_uri(g.uri.clone())
                    .r#type(s3t::Type::from(g.type_.as_deref().unwrap_or_default()))
                    .build()
            })
            .transpose()
            .map_err(|e| bad("logging.loggingEnabled.targetGrants.grantee", e))?;
        grants.push(
            s3t::TargetGrant::builder()
                .set_grantee(grantee)
                .set_permission(g.permission.as_deref().map(s3t::BucketLogsPermission::from))
                .build(),
        );
    }
    s3t::LoggingEnabled::builder()
        .target_bucket(l.target_bucket.clone().unwrap_or_default())
        .target_prefix(l.target_prefix.clone().unwrap_or_default())
        .set_target_grants(nonempty(grants))
        .build()
        .map_err(|e| bad(field, e))
}

/// PutBucketWebsite.
pub(super) async fn put_website(
    s3: &Client,
    name: &str,
    website: &WebsiteConfiguration,
) -> Result<(), SyncError> {
    let conf = sdk_website(website)?;
    let res = s3
        .put_bucket_website()
        .bucket(name)
        .website_configuration(conf)
        .send()
        .await;
    sent("PutBucketWebsite", res)
}

fn sdk_website(w: &WebsiteConfiguration) -> Result<s3t::WebsiteConfiguration, SyncError> {
    let error_document = w
        .error_document
        .as_ref()
        .map(|d| {
            s3t::ErrorDocument::builder()
                .key(d.key.clone().unwrap_or_default())
                .build()
        })
        .transpose()
        .map_err(|e| bad("website.errorDocument", e))?;
    let index_document = w
        .index_document
        .as_ref()
        .map(|d| {
            s3t::IndexDocument::builder()
                .suffix(d.suffix.clone().unwrap_or_default())
                .build()
        })
        .transpose()
        .map_err(|e| bad("website.indexDocument", e))?;
    let redirect_all = w
        .redirect_all_requests_to
        .as_ref()
        .map(|r| {
            s3t::RedirectAllRequestsTo::builder()
                .host_name(r.host_name.clone().unwrap_or_default())
                .set_protocol(r.protocol.as_deref().map(s3t::Protocol::from))
                .build()
        })
        .transpose()
        .map_err(|e| bad("website.redirectAllRequestsTo", e))?;
    let rules = w
        .routing_rules
        .iter()
        .flatten()
        .map(|r| {
            s3t::RoutingRule::builder()
                .set_condition(r.condition.as_ref().map(|c| {
                    s3t::Condition::builder()
                        .set_http_error_code_returned_equals(
                            c.http_error_code_returned_equals.clone(),
                        )
                        .set_key_prefix_equals(c.key_prefix_equals.clone())
                        .build()
                }))
                .set_redirect(r.redirect.as_ref().map(|r| {
                    s3t::Redirect::builder()
                        .set_host_name(r.host_name.clone())
                        .set_http_redirect_code(r.http_redirect_code.clone())
                        .set_protocol(r.protocol.as_deref().map(s3t::Protocol::from))
                        .set_replace_key_prefix_with(r.replace_key_prefix_with.clone())
                        .set_replace_key_with(r.replace_key_with.clone())
                        .build()
                }))
                .build()
        })
        .collect();
    Ok(s3t::WebsiteConfiguration::builder()
        .set_error_document(error_document)
        .set_index_document(index_document)
        .set_redirect_all_requests_to(redirect_all)
        .set_routing_rules(nonempty(rules))
        .build())
}

/// DeleteBucketWebsite.
pub(super) async fn delete_website(s3: &Client, name: &str) -> Result<(), SyncError> {
    sent(
        "DeleteBucketWebsite",
        s3.delete_bucket_website().bucket(name).send().await,
    )
}

/// A notification's key filter for the SDK.
fn sdk_filter(f: &Option<NotificationFilter>) -> Option<s3t::NotificationConfigurationFilter> {
    f.as_ref().map(|f| {
        s3t::NotificationConfigurationFilter::builder()
            .set_key(f.key.as_ref().map(|k| {
                s3t::S3KeyFilter::builder()
                    .set_filter_rules(k.filter_rules.as_ref().map(|rules| {
                        rules
                            .iter()
                            .map(|r| {
                                s3t::FilterRule::builder()
                                    .set_name(r.name.as_deref().map(s3t::FilterRuleName::from))
                                    .set_value(r.value.clone())
                                    .build()
                            })
                            .collect()
                    }))
                    .build()
            }))
            .build()
    })
}

/// A notification's events for the SDK (S3 needs the element, even empty).
fn sdk_events(e: &Option<Vec<String>>) -> Option<Vec<s3t::Event>> {
    Some(
        e.iter()
            .flatten()
            .map(|e| s3t::Event::from(e.as_str()))
            .collect(),
    )
}

/// One notification list of the spec (lambda, queue or topic: the same fields, each with its
/// own SDK type and ARN field) as the SDK's, naming the field when S3's builder refuses it.
macro_rules! sdk_configs {
    ($list:expr, $sdk:ident, $arn:ident, $field:literal) => {
        $list
            .iter()
            .flatten()
            .map(|c| {
                s3t::$sdk::builder()
                    .set_id(c.id.clone())
                    .$arn(c.$arn.clone().unwrap_or_default())
                    .set_events(sdk_events(&c.events))
                    .set_filter(sdk_filter(&c.filter))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad($field, e))?
    };
}

/// PutBucketNotificationConfiguration; `None` (an empty configuration) stops every
/// notification (S3 has no delete call for it).
pub(super) async fn put_notification(
    s3: &Client,
    name: &str,
    config: Option<&NotificationConfiguration>,
) -> Result<(), SyncError> {
    let empty = NotificationConfiguration::default();
    let config = config.unwrap_or(&empty);
    let lambdas = sdk_configs!(
        config.lambda_function_configurations,
        LambdaFunctionConfiguration,
        lambda_function_arn,
        "notification.lambdaFunctionConfigurations"
    );
    let queues = sdk_configs!(
        config.queue_configurations,
        QueueConfiguration,
        queue_arn,
        "notification.queueConfigurations"
    );
    let topics = sdk_configs!(
        config.topic_configurations,
        TopicConfiguration,
        topic_arn,
        "notification.topicConfigurations"
    );
    let conf = s3t::NotificationConfiguration::builder()
        .set_lambda_function_configurations(nonempty(lambdas))
        .set_queue_configurations(nonempty(queues))
        .set_topic_configurations(nonempty(topics))
        .build();
    let res = s3
        .put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(conf)
        .send()
        .await;
    sent("PutBucketNotificationConfiguration", res)
}

/// PutObjectLockConfiguration with Object Lock on and the spec's rule (none removes the
/// default retention).
pub(super) async fn put_object_lock(
    s3: &Client,
    name: &str,
    config: Option<&ObjectLockConfiguration>,
) -> Result<(), SyncError> {
    let field = "objectLockConfiguration.rule.defaultRetention";
    let rule = match config.and_then(|c| c.rule.as_ref()) {
        None => None,
        Some(rule) => {
            let retention = match &rule.default_retention {
                None => None,
                Some(d) => Some(
                    s3t::DefaultRetention::builder()
                        .set_mode(d.mode.as_deref().map(s3t::ObjectLockRetentionMode::from))
                        .set_days(i32_of(field, d.days)?)
                        .set_years(i32_of(field, d.years)?)
                        .build(),
                ),
            };
            Some(
                s3t::ObjectLockRule::builder()
                    .set_default_retention(retention)
                    .build(),
            )
        }
    };
    let conf = s3t::ObjectLockConfiguration::builder()
        .object_lock_enabled(s3t::ObjectLockEnabled::Enabled)
        .set_rule(rule)
        .build();
    let res = s3
        .put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(conf)
        .send()
        .await;
    sent("PutObjectLockConfiguration", res)
}
