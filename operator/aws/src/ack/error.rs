//! AWS errors as the controllers see them (code, message, HTTP status) and ACK's split into
//! terminal and recoverable (the retry delays are `kro_reconcile::Backoff`).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// One failed AWS call, reduced to what classification needs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display())]
pub struct AwsError {
    /// The AWS error code (`NoSuchBucket`, `InvalidParameterValue`, ...), if AWS answered.
    pub code: Option<String>,
    /// AWS's message, or the transport error.
    pub message: String,
    /// HTTP status of the response, if there was one.
    pub http_status: Option<u16>,
}

impl AwsError {
    fn display(&self) -> String {
        match &self.code {
            Some(code) if self.message.is_empty() => code.clone(),
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// True when the code is one of `codes`.
    pub fn is_code(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// True for "not found": one of `codes`, or HTTP 404 without a code (HeadBucket).
    pub fn is_not_found(&self, codes: &[&str]) -> bool {
        self.is_code(codes)
            || (self.http_status == Some(404) && self.is_code(&["NotFound"]))
            || (self.http_status == Some(404) && self.code.is_none())
    }

    /// Builds one from any SDK error.
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        let http_status = err.raw_response().map(HttpStatus::http_status);
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                AwsError {
                    code: e.code().map(str::to_owned),
                    message: e.message().unwrap_or_default().to_owned(),
                    http_status,
                }
            }
            _ => AwsError {
                code: None,
                message: format!("{}", aws_sdk_s3::error::DisplayErrorContext(&err)),
                http_status,
            },
        }
    }
}

/// The HTTP status of a raw SDK response.
pub trait HttpStatus {
    /// The status code.
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// ACK's two kinds of error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Needs a spec change: `ACK.Terminal`, no requeue.
    Terminal,
    /// Retried with exponential backoff: `ACK.Recoverable`.
    Recoverable,
}

/// Codes AWS uses for throttling, always recoverable.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
];

/// Terminal when the code is in the kind's list (ACK's `terminal_codes`); everything else,
/// including throttling, 5xx and transport errors, is recoverable.
pub fn classify(err: &AwsError, terminal_codes: &[&str]) -> ErrorClass {
    if err.is_code(THROTTLING_CODES) || err.http_status.is_some_and(|s| s >= 500) {
        return ErrorClass::Recoverable;
    }
    if err.is_code(terminal_codes) {
        ErrorClass::Terminal
    } else {
        ErrorClass::Recoverable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: Option<&str>, status: Option<u16>) -> AwsError {
        AwsError {
            code: code.map(str::to_owned),
            message: "m".into(),
            http_status: status,
        }
    }

    #[test]
    fn classification_table() {
        let terminal = &[
            "InvalidParameterValue",
            "InvalidParameterCombination",
            "MalformedXML",
        ];
        let cases = [
            (
                err(Some("InvalidParameterValue"), Some(400)),
                ErrorClass::Terminal,
            ),
            (err(Some("MalformedXML"), Some(400)), ErrorClass::Terminal),
            (err(Some("Throttling"), Some(400)), ErrorClass::Recoverable),
            (err(Some("SlowDown"), Some(503)), ErrorClass::Recoverable),
            (
                err(Some("InternalError"), Some(500)),
                ErrorClass::Recoverable,
            ),
            (
                err(Some("InvalidParameterValue"), Some(503)),
                ErrorClass::Recoverable,
            ),
            (err(None, None), ErrorClass::Recoverable),
            (
                err(Some("AccessDenied"), Some(403)),
                ErrorClass::Recoverable,
            ),
            (
                err(Some("BucketNotEmpty"), Some(409)),
                ErrorClass::Recoverable,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(classify(&e, terminal), want, "{e:?}");
        }
    }

    #[test]
    fn display_carries_code_and_message() {
        assert_eq!(err(Some("X"), None).to_string(), "X: m");
        assert_eq!(err(None, None).to_string(), "m");
        let e = AwsError {
            code: Some("X".into()),
            message: String::new(),
            http_status: None,
        };
        assert_eq!(e.to_string(), "X");
    }

    #[test]
    fn not_found_table() {
        assert!(err(Some("NoSuchBucket"), Some(404)).is_not_found(&["NoSuchBucket"]));
        assert!(err(None, Some(404)).is_not_found(&[]));
        assert!(err(Some("NotFound"), Some(404)).is_not_found(&[]));
        assert!(!err(Some("AccessDenied"), Some(403)).is_not_found(&["NoSuchBucket"]));
        assert!(!err(None, None).is_not_found(&["NoSuchBucket"]));
    }
}
