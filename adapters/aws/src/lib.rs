//! tally over AWS: the core's ports over DynamoDB, EventBridge and S3
//! (`ports`), and the Lambda functions that run the core's handlers over
//! them (`lambda`; tally-lambda holds one binary per function). Everything
//! here is I/O and translation; every decision is the core's.

pub mod capture;
pub mod clients;
pub mod config;
pub mod error;
pub mod lambda;
pub mod ports;

pub use clients::Clients;
pub use config::Config;
pub use ports::AwsPorts;
