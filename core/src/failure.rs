//! How a failed handler or consumer wants its input treated: retried by
//! the bus, or dead-lettered with its reason. Below both the consumers and
//! the handlers that run them, so neither imports the other for it.

use crate::ports::{PortError, PublishError};

/// How a failed handler wants its input treated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Retry the delivery (throttling, a lost race, a failed publish).
    #[error("transient: {0}")]
    Transient(String),
    /// Do not retry: dead-letter the input with this reason.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn is_transient(&self) -> bool {
        matches!(self, HandlerError::Transient(_))
    }
}

impl From<PortError> for HandlerError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Conflict(m) | PortError::Transient(m) => HandlerError::Transient(m),
            PortError::Permanent(m) => HandlerError::Permanent(m),
        }
    }
}

impl From<PublishError> for HandlerError {
    fn from(e: PublishError) -> Self {
        // Whatever the publish failed with, the events stay in the outbox
        // (or are re-derived): a retry re-publishes them with the same ids.
        match e.error {
            PortError::Permanent(m) => HandlerError::Permanent(format!("publish: {m}")),
            other => HandlerError::Transient(format!(
                "publish of {} events failed: {other}",
                e.failed.len()
            )),
        }
    }
}
