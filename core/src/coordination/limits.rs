//! The numbers that bound a record (`bounds` says why each is what it is).
//! A leaf module: inputs, records and the bounds all read these, and none
//! of them is read back from here.

/// The longest identifier (event id, request id, file id, voter, source,
/// user, account, correlation id) the coordination takes. EventBridge's own
/// ids are 36 bytes.
pub const MAX_ID_BYTES: usize = 128;

/// How many inputs a history holds before it records only those that
/// change the coordination. A request with every voter voting once needs
/// five; redeliveries with the same id are never recorded twice.
pub const MAX_HISTORY: usize = 24;

/// How much of a reason the coordination keeps (cut at a character boundary).
pub const MAX_REASON_BYTES: usize = 1024;

/// What the bounds keep a record's JSON under, whatever its inputs: well
/// inside DynamoDB's 400 KB item, which also holds the keys and indexes.
pub const MAX_RECORD_JSON_BYTES: usize = 300 * 1024;
