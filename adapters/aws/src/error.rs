//! SDK errors as the core's port errors: a lost condition is a `Conflict`
//! (re-read, re-step), throttling, timeouts and 5xx are `Transient`, the
//! rest `Permanent`. The text names the service's error code, HTTP status
//! and message, or, for a failure before any answer, the SDK's whole error
//! chain, since a bare "service error" tells an operator nothing.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tally_core::ports::PortError;

/// One type across the SDK crates (they all re-export smithy's).
pub use aws_sdk_dynamodb::error::SdkError;

/// Error codes worth retrying, across DynamoDB, EventBridge and S3.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalException",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
];

pub fn classify<E>(what: &str, e: SdkError<E>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use SdkError as S;
    match &e {
        S::TimeoutError(_) | S::DispatchFailure(_) | S::ResponseError(_) => {
            PortError::Transient(format!("{what}: {}", DisplayErrorContext(&e)))
        }
        S::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            // The service's own words; the whole chain would add the raw
            // HTTP response, which says nothing more.
            let text = format!(
                "{what}: {code} (HTTP {status}): {}",
                se.err().message().unwrap_or("no message")
            );
            if code == "ConditionalCheckFailedException" {
                PortError::Conflict(text)
            } else if TRANSIENT_CODES.contains(&code) || status >= 500 || status == 429 {
                PortError::Transient(text)
            } else {
                PortError::Permanent(text)
            }
        }
        _ => PortError::Permanent(format!("{what}: {}", DisplayErrorContext(&e))),
    }
}
