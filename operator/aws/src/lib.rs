//! All AWS IO: the ACK-compatible S3 `Bucket` and RDS `DBSubnetGroup` and `DBInstance` controllers.
