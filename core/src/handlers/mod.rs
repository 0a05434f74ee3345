//! The code a Lambda runs, generic over ports: the same bodies run in the
//! simulator over simulated ports and in AWS over DynamoDB and EventBridge.
//! Nothing decides twice: decisions come from the pure cores, handlers only
//! load, step, write and publish.

pub mod aggregator;
pub mod dispatch;

pub use crate::failure::HandlerError;
