//! S3 (`s3.services.k8s.aws`): the `Bucket` kind.

pub mod bucket;
