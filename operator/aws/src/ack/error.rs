//! AWS errors as the controllers see them (code, message, HTTP status) and ACK's split into
//! terminal and recoverable (the retry delays are `kro_reconcile::Backoff`).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::create_session::CreateSessionError;

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

    /// Builds one from any SDK error. The message is stable for the same failure, so the
    /// condition that shows it is not rewritten at every retry: AWS's code and message for an
    /// error response, a fixed sentence for the other failures (see [`failure_text`]). The
    /// raw error (its response, headers, request id) is logged at debug level only.
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        tracing::debug!(error = %DisplayErrorContext(&err), "AWS call failed");
        Self::from_sdk_ref(&err)
    }

    fn from_sdk_ref<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        let http_status = err.raw_response().map(HttpStatus::http_status);
        match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_owned);
                let mut message = e.message().unwrap_or_default().to_owned();
                if code.is_none() && message.is_empty() {
                    message = match http_status {
                        Some(s) => format!("AWS answered HTTP {s} without an error code"),
                        None => "AWS answered without an error code".to_owned(),
                    };
                }
                AwsError {
                    code,
                    message,
                    http_status,
                }
            }
            _ => AwsError {
                code: None,
                message: failure_text(err, http_status),
                http_status,
            },
        }
    }
}

/// The stable text of an SDK failure that is not an AWS error response: what went wrong, in a
/// fixed sentence, with the innermost cause when that is a short, fixed text (a refused
/// connection, an endpoint rule), never a response body, header or request id.
fn failure_text<E, R>(err: &SdkError<E, R>, http_status: Option<u16>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if let Some(session) = express_session_error(err) {
        let AwsError { code, message, .. } = AwsError::from_sdk_ref(session);
        let detail = match code {
            Some(code) if message.is_empty() => code,
            Some(code) => format!("{code}: {message}"),
            None => message,
        };
        return format!(
            "the S3 Express session could not be opened (CreateSession: {detail}); S3 Express \
             directory bucket names end in --x-s3: use another name for a general purpose bucket"
        );
    }
    let status = http_status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    match err {
        SdkError::TimeoutError(_) => "the request to AWS timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "the request to AWS timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("could not reach AWS: {}", root_cause(err))
        }
        SdkError::DispatchFailure(_) => {
            format!("the request to AWS could not be sent: {}", root_cause(err))
        }
        SdkError::ResponseError(_) => {
            format!("AWS sent a response that could not be read{status}")
        }
        SdkError::ConstructionFailure(_) => {
            format!("the request to AWS could not be built: {}", root_cause(err))
        }
        _ => format!("the AWS call failed{status}"),
    }
}

/// The error of the CreateSession call the SDK makes for an S3 Express bucket, when that is
/// what failed.
fn express_session_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a SdkError<CreateSessionError, HttpResponse>> {
    let mut next = err.source();
    while let Some(e) = next {
        if let Some(session) = e.downcast_ref::<SdkError<CreateSessionError, HttpResponse>>() {
            return Some(session);
        }
        next = e.source();
    }
    None
}

/// Longest cause quoted in a message.
const MAX_CAUSE: usize = 160;

/// The innermost cause's text, on one line and cut to [`MAX_CAUSE`] characters.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(MAX_CAUSE) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_owned(),
    }
}

/// The HTTP status of a raw SDK response.
pub trait HttpStatus {
    /// The status code.
    fn http_status(&self) -> u16;
}

impl HttpStatus for HttpResponse {
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

    /// A raw response as moto or AWS sends it, with the per-request details a message must
    /// not carry.
    fn raw(status: u16) -> HttpResponse {
        let body = "<Error><Code>NoSuchBucket</Code><RequestId>7f3a-REQ</RequestId></Error>";
        let mut r = HttpResponse::new(
            status.try_into().unwrap(),
            aws_sdk_s3::primitives::SdkBody::from(body),
        );
        r.headers_mut().insert("x-amz-request-id", "7f3a-REQ");
        r.headers_mut()
            .insert("date", "Wed, 02 Dec 2026 05:00:00 GMT");
        r
    }

    fn session_failure() -> SdkError<CreateSessionError, HttpResponse> {
        let meta = aws_sdk_s3::error::ErrorMetadata::builder()
            .code("NoSuchBucket")
            .message("The specified bucket does not exist")
            .build();
        SdkError::service_error(CreateSessionError::generic(meta), raw(404))
    }

    #[test]
    fn failures_without_an_error_response_read_the_same_every_time() {
        type Sdk = SdkError<CreateSessionError, HttpResponse>;
        let refused = || {
            Sdk::dispatch_failure(aws_sdk_s3::error::ConnectorError::io(Box::new(
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused"),
            )))
        };
        let express = || {
            Sdk::dispatch_failure(aws_sdk_s3::error::ConnectorError::other(
                Box::new(session_failure()),
                None,
            ))
        };
        let unreadable = || {
            let meta = aws_sdk_s3::error::ErrorMetadata::builder().build();
            Sdk::response_error(CreateSessionError::generic(meta), raw(200))
        };
        type Make = fn() -> Sdk;
        let cases: [(Make, &str); 4] = [
            (refused, "could not reach AWS: Connection refused"),
            (
                express,
                "the S3 Express session could not be opened (CreateSession: NoSuchBucket: The \
                 specified bucket does not exist); S3 Express directory bucket names end in \
                 --x-s3: use another name for a general purpose bucket",
            ),
            (
                unreadable,
                "AWS sent a response that could not be read (HTTP 200)",
            ),
            (
                || {
                    Sdk::service_error(
                        CreateSessionError::generic(
                            aws_sdk_s3::error::ErrorMetadata::builder().build(),
                        ),
                        raw(500),
                    )
                },
                "AWS answered HTTP 500 without an error code",
            ),
        ];
        for (make, want) in cases {
            let first = AwsError::from_sdk(make());
            assert_eq!(first.to_string(), want);
            assert_eq!(
                AwsError::from_sdk(make()),
                first,
                "the same failure, the same text"
            );
            for detail in ["7f3a-REQ", "GMT", "<Error>"] {
                assert!(!first.message.contains(detail), "{detail} in {first}");
            }
            assert_eq!(classify(&first, &["NoSuchBucket"]), ErrorClass::Recoverable);
        }
    }
}
