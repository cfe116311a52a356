//! IAM (`iam.services.k8s.aws`): the `Role` and `Policy` kinds, with ACK's API.
//!
//! IAM is global: its ARNs carry no region (`arn:<partition>:iam::<account>:role/<path><name>`),
//! and the partition comes from the region the operator runs in, never a hard-coded `aws`.
//! Documents come back URL-encoded and are compared in a canonical form ([`document`]).

pub mod document;
pub mod policy;
pub mod role;

/// The IAM SDK this crate talks to (re-exported so tests read IAM state with the same client
/// types without a second copy of the crate in their dependencies).
pub use aws_sdk_iam as sdk;

use aws_sdk_iam::Client;

use crate::ack::error::{AwsError, HttpStatus};
use crate::ack::runtime::SyncError;
use crate::ack::types::{Tag, TagDelta};

/// AWS error codes that make a Role or Policy terminal: ACK's (`InvalidInput`,
/// `MalformedPolicyDocument`) and IAM's `ValidationError` (a parameter outside IAM's
/// constraints), which no retry can fix either.
pub const TERMINAL_CODES: &[&str] = &["InvalidInput", "MalformedPolicyDocument", "ValidationError"];

/// IAM's "not found".
pub(crate) const NOT_FOUND_CODES: &[&str] = &["NoSuchEntity"];

/// IAM's "already exists".
pub(crate) const ALREADY_EXISTS_CODES: &[&str] = &["EntityAlreadyExists"];

/// Most pages one list call reads (IAM pages hold up to 100 items): a bound on the work one
/// read of a resource can cause.
const MAX_PAGES: usize = 50;

/// Maps an SDK error of call `op` to a [`SyncError`].
pub(crate) fn aws<E, R>(
    op: &'static str,
) -> impl FnOnce(aws_sdk_iam::error::SdkError<E, R>) -> SyncError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    move |e| SyncError::aws(op, AwsError::from_sdk(e))
}

/// The result of a Get call, `None` when IAM answered `NoSuchEntity`.
pub(crate) fn found<T, E, R>(
    op: &'static str,
    res: Result<T, aws_sdk_iam::error::SdkError<E, R>>,
) -> Result<Option<T>, SyncError>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    SyncError::unless_not_found(op, res.map_err(AwsError::from_sdk), NOT_FOUND_CODES)
}

pub use crate::ack::types::partition;

/// The ARN of an IAM entity: `arn:<partition>:iam::<account>:<kind><path><name>`, the path
/// `/` when none is given (IAM's default).
pub fn arn(partition: &str, account: &str, kind: &str, path: Option<&str>, name: &str) -> String {
    let path = path.filter(|p| !p.is_empty()).unwrap_or("/");
    format!("arn:{partition}:iam::{account}:{kind}{path}{name}")
}

/// True for a tag key AWS reserves (`aws:*`): never the user's, never diffed or adopted.
pub fn is_system_tag(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with("aws:")
}

/// The user's tags among IAM's (system tags dropped).
pub(crate) fn user_tags(tags: &[aws_sdk_iam::types::Tag]) -> Vec<Tag> {
    tags.iter()
        .filter(|t| !is_system_tag(t.key()))
        .map(|t| Tag::new(t.key(), t.value()))
        .collect()
}

/// Tags in the SDK's shape (a tag without a key is skipped; [`check_tags`] refuses it first).
pub(crate) fn sdk_tags(tags: &[Tag]) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|t| {
            aws_sdk_iam::types::Tag::builder()
                .set_key(t.key.clone())
                .value(t.value.clone().unwrap_or_default())
                .build()
                .ok()
        })
        .collect()
}

/// IAM's most tags per role or policy.
pub const MAX_TAGS: usize = 50;

/// The spec's tags, checked as IAM would: every tag has a key, no `aws:*` key (AWS reserves
/// them), at most [`MAX_TAGS`].
pub(crate) fn check_tags(tags: Option<&[Tag]>) -> Result<(), SyncError> {
    let tags = tags.unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(SyncError::Terminal(format!(
            "spec.tags has {} tags: IAM allows at most {MAX_TAGS}; remove some",
            tags.len()
        )));
    }
    for (i, t) in tags.iter().enumerate() {
        match t.key.as_deref() {
            None | Some("") => {
                return Err(SyncError::Terminal(format!(
                    "spec.tags[{i}].key is empty: give every tag a key"
                )));
            }
            Some(k) if is_system_tag(k) => {
                return Err(SyncError::Terminal(format!(
                    "spec.tags[{i}].key {k:?}: keys starting with aws: are reserved by AWS; use \
                     another key"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The tag calls of a tag delta, for a role or a policy.
pub(crate) enum Tagged<'a> {
    /// A role, by name.
    Role(&'a str),
    /// A policy, by ARN.
    Policy(&'a str),
}

/// Applies a tag delta: untag first, then tag (so a changed value is never removed after
/// being set).
pub(crate) async fn apply_tags(
    iam: &Client,
    target: Tagged<'_>,
    delta: &TagDelta,
) -> Result<(), SyncError> {
    if !delta.remove.is_empty() {
        match target {
            Tagged::Role(name) => iam
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("UntagRole"))?,
            Tagged::Policy(arn) => iam
                .untag_policy()
                .policy_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("UntagPolicy"))?,
        }
    }
    if !delta.add.is_empty() {
        match target {
            Tagged::Role(name) => iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(sdk_tags(&delta.add)))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("TagRole"))?,
            Tagged::Policy(arn) => iam
                .tag_policy()
                .policy_arn(arn)
                .set_tags(Some(sdk_tags(&delta.add)))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("TagPolicy"))?,
        }
    }
    Ok(())
}

/// An IAM timestamp as RFC 3339 (what the CRDs' `date-time` fields hold).
pub(crate) fn date(d: &aws_sdk_iam::primitives::DateTime) -> Option<String> {
    d.fmt(aws_sdk_iam::primitives::DateTimeFormat::DateTime)
        .ok()
}

/// The size IAM counts for a policy document: its characters without whitespace outside
/// strings (the compact JSON; the text itself when it is not JSON).
pub(crate) fn document_size(doc: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(doc)
        .map(|v| v.to_string().chars().count())
        .unwrap_or_else(|_| doc.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::error::{ErrorClass, classify};

    #[test]
    fn arns_carry_the_partition_and_no_region() {
        let cases = [
            ("us-west-2", "aws"),
            ("eu-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ];
        for (region, want) in cases {
            assert_eq!(partition(region), want, "{region}");
        }
        assert_eq!(
            arn("aws-cn", "111122223333", "role", Some("/app/"), "web"),
            "arn:aws-cn:iam::111122223333:role/app/web"
        );
        assert_eq!(
            arn("aws", "111122223333", "policy", None, "read"),
            "arn:aws:iam::111122223333:policy/read"
        );
        assert_eq!(
            arn("aws", "1", "policy", Some(""), "read"),
            "arn:aws:iam::1:policy/read"
        );
    }

    #[test]
    fn terminal_and_recoverable_iam_errors() {
        let err = |code: &str, status| AwsError {
            code: Some(code.into()),
            message: "m".into(),
            http_status: Some(status),
        };
        let cases = [
            // moto accepts malformed trust policies; AWS answers this.
            ("MalformedPolicyDocument", 400, ErrorClass::Terminal),
            ("InvalidInput", 400, ErrorClass::Terminal),
            ("ValidationError", 400, ErrorClass::Terminal),
            // A policy still attached somewhere (AWS; moto deletes it anyway): retried until
            // it is detached.
            ("DeleteConflict", 409, ErrorClass::Recoverable),
            ("NoSuchEntity", 404, ErrorClass::Recoverable),
            ("LimitExceeded", 409, ErrorClass::Recoverable),
            ("Throttling", 400, ErrorClass::Recoverable),
            ("ServiceFailure", 500, ErrorClass::Recoverable),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify(&err(code, status), TERMINAL_CODES), want, "{code}");
        }
    }

    #[test]
    fn system_tags_are_never_the_users() {
        let t = |k: &str, v: &str| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap()
        };
        let got = user_tags(&[
            t("team", "a"),
            t("aws:cloudformation:stack-name", "s"),
            t("AWS:x", "y"),
        ]);
        assert_eq!(got, vec![Tag::new("team", "a")]);
        assert!(check_tags(Some(&[Tag::new("ok", "1")])).is_ok());
        let err = check_tags(Some(&[Tag::new("ok", "1"), Tag::new("aws:x", "2")])).unwrap_err();
        assert!(
            err.to_string().starts_with("spec.tags[1].key \"aws:x\""),
            "{err}"
        );
        let empty = check_tags(Some(&[Tag::default()])).unwrap_err();
        assert!(
            empty.to_string().starts_with("spec.tags[0].key is empty"),
            "{empty}"
        );
        let many: Vec<Tag> = (0..51).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        let err = check_tags(Some(&many)).unwrap_err();
        assert!(err.to_string().contains("at most 50"), "{err}");
    }

    #[test]
    fn document_size_ignores_whitespace() {
        assert_eq!(
            document_size("{ \"a\" : [ 1 , 2 ] }"),
            r#"{"a":[1,2]}"#.len()
        );
        assert_eq!(document_size("not json"), 8);
    }
}
