//! The DynamoDB tables: key schema, indexes and TTL attribute. The adapter
//! writes items by these names; the template creates tables from them.

#[derive(Debug, Clone, Copy)]
pub struct Index {
    pub name: &'static str,
    pub pk: (&'static str, KeyType),
    pub sk: Option<(&'static str, KeyType)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    S,
    N,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The logical name (CloudFormation resource `<logical>Table`).
    pub logical: &'static str,
    /// The environment variable that carries its physical name.
    pub env: &'static str,
    pub pk: &'static str,
    pub sk: Option<&'static str>,
    pub indexes: &'static [Index],
    /// The TTL attribute (epoch seconds), if items expire.
    pub ttl: Option<&'static str>,
}

/// The TTL attribute, in every table that has one.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The records table's sparse index of records the sweeper must visit:
/// only waiting records and records with unpublished events carry `dueShard`.
pub const DUE_INDEX: &str = "due";
/// The audit table's index by time.
pub const AUDIT_TIME_INDEX: &str = "by-time";
/// The transactions table's index by file.
pub const TRANSACTIONS_FILE_INDEX: &str = "by-file";
/// The Transactions index by user: a new category rule is applied to the
/// user's transactions.
pub const TRANSACTIONS_USER_INDEX: &str = "by-user";

pub const TABLES: &[Table] = &[
    Table {
        logical: "Records",
        env: "RECORDS_TABLE",
        pk: "pk",
        sk: Some("sk"),
        indexes: &[Index {
            name: DUE_INDEX,
            pk: ("dueShard", KeyType::S),
            sk: Some(("dueAt", KeyType::N)),
        }],
        ttl: Some(TTL_ATTRIBUTE),
    },
    Table {
        logical: "Idempotency",
        env: "IDEMPOTENCY_TABLE",
        pk: "pk",
        sk: None,
        indexes: &[],
        ttl: Some(TTL_ATTRIBUTE),
    },
    Table {
        logical: "Audit",
        env: "AUDIT_TABLE",
        pk: "eventId",
        sk: None,
        indexes: &[Index {
            name: AUDIT_TIME_INDEX,
            pk: ("auditShard", KeyType::S),
            sk: Some(("at", KeyType::N)),
        }],
        ttl: Some(TTL_ATTRIBUTE),
    },
    Table {
        logical: "Files",
        env: "FILES_TABLE",
        pk: "fileId",
        sk: None,
        indexes: &[],
        ttl: None,
    },
    Table {
        logical: "Transactions",
        env: "TRANSACTIONS_TABLE",
        pk: "transactionId",
        sk: None,
        indexes: &[
            Index {
                name: TRANSACTIONS_FILE_INDEX,
                pk: ("fileId", KeyType::S),
                sk: None,
            },
            Index {
                name: TRANSACTIONS_USER_INDEX,
                pk: ("userId", KeyType::S),
                sk: None,
            },
        ],
        ttl: None,
    },
    Table {
        logical: "Analytics",
        env: "ANALYTICS_TABLE",
        pk: "userId",
        sk: None,
        indexes: &[],
        ttl: None,
    },
    Table {
        logical: "CategoryRules",
        env: "CATEGORY_RULES_TABLE",
        pk: "userId",
        sk: Some("ruleId"),
        indexes: &[],
        ttl: None,
    },
    Table {
        logical: "Notifications",
        env: "NOTIFICATIONS_TABLE",
        pk: "eventId",
        sk: None,
        indexes: &[],
        ttl: Some(TTL_ATTRIBUTE),
    },
];

pub fn table(logical: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.logical == logical)
}
