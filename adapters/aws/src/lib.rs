//! tally over AWS. The ports over DynamoDB, EventBridge and S3 and the Lambda
//! functions land here (issue 6); the crate exists now so that the workspace
//! shows the architecture from the start.
