//! The environment variables the functions read. Each table's variable is
//! in [`crate::layout::TABLES`]; these are the rest.

pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const CONTENT_BUCKET: &str = "CONTENT_BUCKET";
/// `true` (default) or `false`: the API deletes directly when false.
pub const ENABLE_EVENT_PUBLISHING: &str = "ENABLE_EVENT_PUBLISHING";
/// `voting` (default) or `completion`: which coordination the API starts.
pub const COORDINATION_FLAVOUR: &str = "COORDINATION_FLAVOUR";
/// The whole coordination policy, as the text of a policy file (TOML, read
/// with `Policy::parse`): what the simulator and `tally replay` read from
/// `--policy`. The four variables below override single fields of it.
pub const POLICY: &str = "POLICY";
/// Comma-separated voter names the voting flavour always waits for
/// (overrides the policy's `voting.required`).
pub const REQUIRED_VOTERS: &str = "REQUIRED_VOTERS";
/// Seconds from a request to its deadline (both flavours; overrides the
/// policy's `deadline_ms`).
pub const DEADLINE_SECONDS: &str = "DEADLINE_SECONDS";
/// `deny` or `proceed`: what an expired deadline decides (voting flavour).
pub const TIMEOUT_OUTCOME: &str = "TIMEOUT_OUTCOME";
/// `deny` or `proceed`: what a voter's error decides (voting flavour).
pub const ERROR_OUTCOME: &str = "ERROR_OUTCOME";
/// Set by Lambda, not the template: the function's physical name, unique
/// to its stack (CloudFormation makes it).
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// Set only in tests and local runs: every client talks to this endpoint.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
