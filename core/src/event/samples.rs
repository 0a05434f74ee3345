//! One representative event of every known type, with every field set the
//! way its publisher sets it. The rules linter routes these through the
//! rules; tests round-trip them through every wire form.

use super::catalogue::*;
use super::{Event, CURRENT_VERSION};
use std::collections::BTreeMap;

const T0: i64 = 1_736_937_000_000; // 2025-01-15T10:30:00Z

fn votes() -> BTreeMap<String, VoteRecord> {
    let vote = |decision, reason: &str, at| VoteRecord {
        decision,
        reason: Some(reason.to_owned()),
        timestamp: at,
        event_id: format!("evt-vote-{at}"),
    };
    BTreeMap::from([
        (
            "analytics_manager".to_owned(),
            vote(
                VoteDecision::Proceed,
                "Analytics processing complete",
                T0 + 15_000,
            ),
        ),
        (
            "category_manager".to_owned(),
            vote(
                VoteDecision::Proceed,
                "No active categorization rules affected",
                T0 + 10_000,
            ),
        ),
    ])
}

fn range() -> Option<DateRange> {
    Some(DateRange {
        start_date: "2025-01-01".into(),
        end_date: "2025-01-14".into(),
    })
}

fn changes() -> Vec<FieldChange> {
    vec![FieldChange {
        field: "amount".into(),
        old_value: 12.5.into(),
        new_value: 13.into(),
    }]
}

/// The data of one sample of `kind`, published from `source`.
pub fn sample_data(kind: EventKind, source: &str) -> EventData {
    let s = |x: &str| x.to_owned();
    match kind {
        EventKind::FileUploaded => EventData::FileUploaded(FileUploaded {
            file_id: s("abc-123"),
            file_name: s("transactions.csv"),
            file_size: 18_432,
            s3_key: s("user-456/abc-123/transactions.csv"),
            account_id: Some(s("acc-789")),
            file_format: Some(s("csv")),
        }),
        EventKind::FileProcessed => EventData::FileProcessed(FileProcessed {
            file_id: s("abc-123"),
            account_id: s("acc-789"),
            transaction_count: 2,
            duplicate_count: 0,
            transaction_ids: vec![s("tx-1"), s("tx-2")],
            date_range: range(),
            processing_status: ProcessingStatus::Success,
            error_message: None,
        }),
        EventKind::FileAssociated => EventData::FileAssociated(FileAssociated {
            file_id: s("abc-123"),
            account_id: s("acc-789"),
            previous_account_id: Some(s("acc-111")),
        }),
        EventKind::TransactionsCreated => EventData::TransactionsCreated(TransactionsCreated {
            file_id: s("abc-123"),
            account_id: s("acc-789"),
            transaction_ids: vec![s("tx-1"), s("tx-2")],
            transaction_count: 2,
            date_range: range(),
        }),
        EventKind::TransactionUpdated => EventData::TransactionUpdated(TransactionUpdated {
            transaction_id: s("tx-1"),
            account_id: s("acc-789"),
            changes: changes(),
        }),
        EventKind::TransactionsDeleted => EventData::TransactionsDeleted(TransactionsDeleted {
            transaction_ids: vec![s("tx-1"), s("tx-2")],
            account_ids: vec![s("acc-789")],
            deletion_type: DeletionType::Bulk,
        }),
        EventKind::TransactionCategorized => {
            EventData::TransactionCategorized(TransactionCategorized {
                transaction_id: s("tx-1"),
                account_id: s("acc-789"),
                category_id: s("cat-groceries"),
                previous_category_id: None,
                confidence: 0.75,
                assignment_type: AssignmentType::RuleBased,
                rule_id: Some(s("rule-1")),
            })
        }
        EventKind::AccountCreated => EventData::AccountCreated(AccountCreated {
            account_id: s("acc-789"),
            account_name: s("Checking"),
            account_type: s("personal"),
            currency: s("USD"),
        }),
        EventKind::AccountUpdated => EventData::AccountUpdated(AccountUpdated {
            account_id: s("acc-789"),
            changes: changes(),
        }),
        EventKind::AccountDeleted => EventData::AccountDeleted(AccountDeleted {
            account_id: s("acc-789"),
            transaction_count: 42,
        }),
        EventKind::CategoryRulesApplied => EventData::CategoryRulesApplied(CategoryRulesApplied {
            category_id: s("cat-groceries"),
            rule_ids: vec![s("rule-1")],
            transaction_ids: vec![s("tx-1")],
            application_type: ApplicationType::Automated,
        }),
        EventKind::CategoryRuleCreated => EventData::CategoryRuleCreated(CategoryRuleCreated {
            category_id: s("cat-groceries"),
            rule_id: s("rule-1"),
            rule_pattern: s("WHOLE FOODS*"),
            auto_apply: true,
        }),
        EventKind::DeletionRequested => EventData::DeletionRequested(DeletionRequested {
            file_id: s("abc-123"),
            user_id: s("user-456"),
            account_id: s("acc-789"),
            account_type: Some(s("personal")),
            file_name: s("transactions.csv"),
            transaction_count: 150,
            request_id: s("req-xyz"),
        }),
        EventKind::DeletionVote => {
            let voter = match source {
                sources::CATEGORY_SERVICE => "category_manager",
                sources::BACKUP_SERVICE => "backup_manager",
                sources::COMPLIANCE_SERVICE => "compliance_manager",
                _ => "analytics_manager",
            };
            EventData::DeletionVote(DeletionVote {
                file_id: s("abc-123"),
                request_id: s("req-xyz"),
                voter: s(voter),
                decision: VoteDecision::Proceed,
                reason: Some(s("Nothing to process")),
            })
        }
        EventKind::DeletionApproved => EventData::DeletionApproved(DeletionApproved {
            file_id: s("abc-123"),
            request_id: s("req-xyz"),
            approved_by: vec![s("analytics_manager"), s("category_manager")],
            all_votes: votes(),
            cause: DecisionCause::AllProceeded,
        }),
        EventKind::DeletionDenied => EventData::DeletionDenied(DeletionDenied {
            file_id: s("abc-123"),
            request_id: s("req-xyz"),
            denied_by: vec![s("category_manager")],
            all_votes: votes(),
            cause: DecisionCause::Vetoed,
            reason: Some(s("Active rules depend on these transactions")),
        }),
        EventKind::FileDeleted => EventData::FileDeleted(FileDeleted {
            file_id: s("abc-123"),
            request_id: s("req-xyz"),
            transactions_deleted: 150,
            content_deleted: true,
        }),
        EventKind::DeleteRequested => EventData::DeleteRequested(DeleteRequested {
            file_id: s("abc-123"),
            coordination_id: s("coord-9f2c"),
            account_id: s("acc-789"),
            file_name: s("transactions.csv"),
            transaction_count: 42,
        }),
        EventKind::ConsumerCompletion => {
            let consumer = if source == sources::CATEGORY_SERVICE {
                "categorization_consumer"
            } else {
                "analytics_consumer"
            };
            EventData::ConsumerCompletion(ConsumerCompletion {
                coordination_id: s("coord-9f2c"),
                file_id: s("abc-123"),
                consumer: s(consumer),
                status: CompletionStatus::Done,
                error_message: None,
            })
        }
    }
}

/// A sample of `kind` from `source`, with a full envelope.
pub fn sample(kind: EventKind, source: &str) -> Event {
    Event {
        event_id: format!("evt-{}-{}", kind.as_str(), source),
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: T0,
        source: source.to_owned(),
        user_id: "user-456".to_owned(),
        correlation_id: Some("req-xyz".to_owned()),
        causation_id: None,
        data: sample_data(kind, source),
        metadata: None,
    }
}

/// One sample of every known type from every one of its publishers.
pub fn all() -> Vec<Event> {
    EventKind::ALL
        .iter()
        .flat_map(|&k| k.publishers().iter().map(move |src| sample(k, src)))
        .collect()
}
