//! A bucket's `inventory` (ACK's field names): the inventory configurations S3 writes object
//! lists by, keyed by `id`; how ListBucketInventoryConfigurations reads into them, and the
//! Put/Delete calls, one configuration each.

use aws_sdk_s3::Client;
use aws_sdk_s3::types as s3t;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::io::{bad, nonempty, optional, sent};
use crate::ack::error::AwsError;
use crate::ack::runtime::SyncError;

/// Pages of ListBucketInventoryConfigurations read at most (S3 allows 1,000 configurations
/// per bucket, 100 a page).
const MAX_PAGES: usize = 10;

/// One `inventory[]` configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryConfiguration {
    /// Where the inventory goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<InventoryDestination>,
    /// Which objects it lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<InventoryFilter>,
    /// The configuration's id.
    #[serde(default, rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `All` or `Current`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_object_versions: Option<String>,
    /// Whether the inventory is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    /// Object fields listed beside the key (`Size`, `LastModifiedDate`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_fields: Option<Vec<String>>,
    /// How often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<InventorySchedule>,
}

/// `destination`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryDestination {
    /// The bucket the inventory files go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_destination: Option<InventoryS3BucketDestination>,
}

/// `destination.s3BucketDestination`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryS3BucketDestination {
    /// The destination bucket's account.
    #[serde(default, rename = "accountID", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// ARN of the destination bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Encryption of the inventory files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<InventoryEncryption>,
    /// `CSV`, `ORC` or `Parquet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Key prefix of the inventory files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// `encryption`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryEncryption {
    /// SSE-KMS with this key.
    #[serde(default, rename = "sseKMS", skip_serializing_if = "Option::is_none")]
    pub sse_kms: Option<Ssekms>,
}

/// `encryption.sseKMS`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ssekms {
    /// The KMS key.
    #[serde(default, rename = "keyID", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// `filter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryFilter {
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// `schedule`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InventorySchedule {
    /// `Daily` or `Weekly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
}

fn owned(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn from_sdk(c: &s3t::InventoryConfiguration) -> InventoryConfiguration {
    InventoryConfiguration {
        destination: c.destination().map(|d| InventoryDestination {
            s3_bucket_destination: d.s3_bucket_destination().map(|b| {
                InventoryS3BucketDestination {
                    account_id: owned(b.account_id()),
                    bucket: owned(Some(b.bucket())),
                    encryption: b.encryption().map(|e| InventoryEncryption {
                        sse_kms: e.ssekms().map(|k| Ssekms {
                            key_id: owned(Some(k.key_id())),
                        }),
                    }),
                    format: Some(b.format().as_str().to_owned()),
                    prefix: owned(b.prefix()),
                }
            }),
        }),
        filter: c.filter().map(|f| InventoryFilter {
            prefix: owned(Some(f.prefix())),
        }),
        id: owned(Some(c.id())),
        included_object_versions: Some(c.included_object_versions().as_str().to_owned()),
        is_enabled: Some(c.is_enabled()),
        optional_fields: nonempty(
            c.optional_fields()
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
        ),
        schedule: c.schedule().map(|s| InventorySchedule {
            frequency: Some(s.frequency().as_str().to_owned()),
        }),
    }
}

/// Every inventory configuration of the bucket (ListBucketInventoryConfigurations, all pages),
/// `None` when it has none.
pub(super) async fn read_inventory(
    s3: &Client,
    name: &str,
) -> Result<Option<Vec<InventoryConfiguration>>, SyncError> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let res = s3
            .list_bucket_inventory_configurations()
            .bucket(name)
            .set_continuation_token(token.clone())
            .send()
            .await;
        let Some(out) = optional(
            "ListBucketInventoryConfigurations",
            res.map_err(AwsError::from_sdk),
            &["NoSuchConfiguration"],
        )?
        else {
            break;
        };
        all.extend(out.inventory_configuration_list().iter().map(from_sdk));
        token = out.next_continuation_token().map(str::to_owned);
        if out.is_truncated() != Some(true) || token.is_none() {
            break;
        }
    }
    Ok(nonempty(all))
}

fn sdk_inventory(c: &InventoryConfiguration) -> Result<s3t::InventoryConfiguration, SyncError> {
    let field = "inventory";
    let destination = c
        .destination
        .as_ref()
        .map(|d| -> Result<_, SyncError> {
            let bucket = d
                .s3_bucket_destination
                .as_ref()
                .map(|b| -> Result<_, SyncError> {
                    let encryption = b
                        .encryption
                        .as_ref()
                        .map(|e| -> Result<_, SyncError> {
                            let kms = e
                                .sse_kms
                                .as_ref()
                                .map(|k| {
                                    s3t::Ssekms::builder()
                                        .set_key_id(k.key_id.clone())
                                        .build()
                                        .map_err(|e| {
                                            bad("inventory.destination.s3BucketDestination.encryption.sseKMS", e)
                                        })
                                })
                                .transpose()?;
                            Ok(s3t::InventoryEncryption::builder().set_ssekms(kms).build())
                        })
                        .transpose()?;
                    s3t::InventoryS3BucketDestination::builder()
                        .set_account_id(b.account_id.clone())
                        .set_bucket(b.bucket.clone())
                        .set_format(b.format.as_deref().map(s3t::InventoryFormat::from))
                        .set_prefix(b.prefix.clone())
                        .set_encryption(encryption)
                        .build()
                        .map_err(|e| bad("inventory.destination.s3BucketDestination", e))
                })
                .transpose()?;
            Ok(s3t::InventoryDestination::builder()
                .set_s3_bucket_destination(bucket)
                .build())
        })
        .transpose()?;
    let filter = c
        .filter
        .as_ref()
        .map(|f| {
            s3t::InventoryFilter::builder()
                .set_prefix(f.prefix.clone())
                .build()
                .map_err(|e| bad("inventory.filter", e))
        })
        .transpose()?;
    let schedule = c
        .schedule
        .as_ref()
        .map(|s| {
            s3t::InventorySchedule::builder()
                .set_frequency(s.frequency.as_deref().map(s3t::InventoryFrequency::from))
                .build()
                .map_err(|e| bad("inventory.schedule", e))
        })
        .transpose()?;
    s3t::InventoryConfiguration::builder()
        .set_id(c.id.clone())
        .set_destination(destination)
        .set_is_enabled(c.is_enabled)
        .set_filter(filter)
        .set_included_object_versions(
            c.included_object_versions
                .as_deref()
                .map(s3t::InventoryIncludedObjectVersions::from),
        )
        .set_optional_fields(c.optional_fields.as_ref().map(|fields| {
            fields
                .iter()
                .map(|f| s3t::InventoryOptionalField::from(f.as_str()))
                .collect()
        }))
        .set_schedule(schedule)
        .build()
        .map_err(|e| bad(field, e))
}

/// PutBucketInventoryConfiguration of one configuration.
pub(super) async fn put_inventory(
    s3: &Client,
    name: &str,
    config: &InventoryConfiguration,
) -> Result<(), SyncError> {
    let id = config.id.clone().unwrap_or_default();
    let conf = sdk_inventory(config)?;
    let res = s3
        .put_bucket_inventory_configuration()
        .bucket(name)
        .id(id)
        .inventory_configuration(conf)
        .send()
        .await;
    sent("PutBucketInventoryConfiguration", res)
}

/// DeleteBucketInventoryConfiguration of configuration `id`.
pub(super) async fn delete_inventory(s3: &Client, name: &str, id: &str) -> Result<(), SyncError> {
    let res = s3
        .delete_bucket_inventory_configuration()
        .bucket(name)
        .id(id)
        .send()
        .await;
    sent("DeleteBucketInventoryConfiguration", res)
}
