//! A delivered event inside an SQS message body (EventBridge -> SQS ->
//! Lambda): the body is the delivery envelope's JSON text.

use super::{DecodeError, DeliveredEvent};
use crate::event::Event;

pub fn encode_body(delivered: &DeliveredEvent) -> String {
    delivered.to_json()
}

/// Reads both the envelope and the event, so that a caller can dead-letter
/// with the reason and still audit the raw envelope when only the event is bad.
pub fn decode_body(body: &str) -> Result<(DeliveredEvent, Event), DecodeError> {
    let delivered = DeliveredEvent::from_json(body).map_err(|e| match e {
        DecodeError::Syntax { message, .. } => DecodeError::Syntax {
            what: "the SQS message body".to_owned(),
            message,
        },
        other => other,
    })?;
    let event = delivered.decode()?;
    Ok((delivered, event))
}
