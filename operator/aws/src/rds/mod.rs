//! RDS (`rds.services.k8s.aws`): the `DBSubnetGroup`, `DBParameterGroup`,
//! `DBClusterParameterGroup`, `DBCluster` and `DBInstance` kinds.

pub mod db_cluster;
pub mod db_cluster_parameter_group;
pub mod db_instance;
pub mod db_parameter_group;
pub mod db_subnet_group;
pub mod parameter_group;

use aws_sdk_rds::Client;

use crate::ack::error::AwsError;
use crate::ack::runtime::SyncError;
use crate::ack::types::{Tag, TagDelta};

/// Reads the tags of an RDS resource.
pub(crate) async fn list_tags(rds: &Client, arn: &str) -> Result<Vec<Tag>, SyncError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| SyncError::aws("ListTagsForResource", AwsError::from_sdk(e)))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| Tag {
            key: t.key().map(str::to_owned),
            value: t.value().map(str::to_owned),
        })
        .collect())
}

/// Applies a tag delta to an RDS resource.
pub(crate) async fn apply_tags(rds: &Client, arn: &str, delta: &TagDelta) -> Result<(), SyncError> {
    if !delta.remove.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(delta.remove.clone()))
            .send()
            .await
            .map_err(|e| SyncError::aws("RemoveTagsFromResource", AwsError::from_sdk(e)))?;
    }
    if !delta.add.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(sdk_tags(&delta.add)))
            .send()
            .await
            .map_err(|e| SyncError::aws("AddTagsToResource", AwsError::from_sdk(e)))?;
    }
    Ok(())
}

/// Tags in the SDK's shape.
pub(crate) fn sdk_tags(tags: &[Tag]) -> Vec<aws_sdk_rds::types::Tag> {
    tags.iter()
        .map(|t| {
            aws_sdk_rds::types::Tag::builder()
                .set_key(t.key.clone())
                .set_value(t.value.clone())
                .build()
        })
        .collect()
}

/// Tags from the SDK's shape.
pub(crate) fn tags_from(tags: &[aws_sdk_rds::types::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: t.key().map(str::to_owned),
            value: t.value().map(str::to_owned),
        })
        .collect()
}
