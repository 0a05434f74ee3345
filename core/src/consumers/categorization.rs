//! The categorization consumer.
//!
//! Consumes `file.processed` (only `success` or `partial` with transaction
//! ids) and the older `transactions.created`: loads the user's category
//! rules and the new transactions (by id, in batches of 100), gives each
//! uncategorized transaction of that user the category of the first active
//! rule that matches it (rules in the store's order), and publishes
//! `transaction.categorized` (assignmentType rule_based, confidence 1.0,
//! ruleId; id derived from cause, transaction and rule; from category.service)
//! for each. Completion flavour: on `file.delete_requested` it does the same
//! for the file's transactions, then publishes `consumer.completion`
//! (consumer `categorization_consumer`, `done`, or `failed` with the error).
//!
//! `category.rule_created` with autoApply: the user's uncategorized
//! transactions get the same treatment (all the user's active rules, the
//! new one among them even if the store does not show it yet, first match
//! wins), so an older rule that matches first still wins. Without
//! autoApply the rule waits for new transactions.
//!
//! Idempotency: the work is idempotent by construction (only uncategorized
//! transactions are touched, the events' ids derive from the cause,
//! transaction and rule), so a redelivery simply redoes it and finds nothing left to do.
//! Within a batch the events are published before the categories are
//! written: a crash between the two makes the redo publish the same events
//! again and then write, whereas the other order would let the redo skip
//! the now-categorized transactions and lose their events for good. The
//! claim (consumer + event id) is taken last and only tells the report
//! that a delivery was a redelivery.

use super::{derived, mark_done, report_completion, Settings};
use crate::domain::{CategoryRule, Transaction};
use crate::event::{
    sources, AssignmentType, CompletionStatus, Event, EventData, ProcessingStatus,
    TransactionCategorized,
};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{CategoryRuleStore, IdempotencyStore, Publisher, TransactionStore};
use crate::time::Millis;
use serde::Serialize;

/// The consumer's name: in idempotency keys and completion reports.
pub const CONSUMER: &str = "categorization_consumer";

/// One rule applied to one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub transaction_id: String,
    pub account_id: String,
    pub category_id: String,
    pub rule_id: String,
}

/// The pure decision: for each transaction of `user_id` that has no
/// category yet, the first active rule that matches it.
pub fn assign(rules: &[CategoryRule], txs: &[Transaction], user_id: &str) -> Vec<Assignment> {
    txs.iter()
        .filter(|t| t.category_id.is_none() && t.user_id == user_id)
        .filter_map(|t| {
            rules
                .iter()
                .find(|r| r.active && r.user_id == user_id && r.matches(t))
                .map(|r| Assignment {
                    transaction_id: t.transaction_id.clone(),
                    account_id: t.account_id.clone(),
                    category_id: r.category_id.clone(),
                    rule_id: r.rule_id.clone(),
                })
        })
        .collect()
}

/// What applying the rules to a set of transactions did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Applied {
    /// Transaction ids asked about.
    pub considered: usize,
    pub batches: usize,
    /// Asked about but not found (deleted meanwhile, or never written).
    pub not_found: usize,
    /// Found with a category already (or another user's): left alone.
    pub left_alone: usize,
    /// Found uncategorized but no active rule matched.
    pub unmatched: usize,
    /// The categories given, in order.
    pub assigned: Vec<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Applied {
        event_type: String,
        applied: Applied,
        redelivery: bool,
    },
    Completion {
        coordination_id: String,
        status: CompletionStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        applied: Option<Applied>,
        completion_id: String,
    },
    /// A handled type that carries nothing to do (or cannot be done).
    Skipped {
        event_type: String,
        reason: String,
    },
    Ignored {
        event_type: String,
    },
}

/// The transactions a delivery asks about: by id (the events that name
/// them), or already read (a file's, a user's: reading them again by id
/// would fetch each twice).
pub enum Targets<'a> {
    Ids(&'a [String]),
    Loaded(Vec<Transaction>),
}

impl Targets<'_> {
    fn len(&self) -> usize {
        match self {
            Targets::Ids(ids) => ids.len(),
            Targets::Loaded(txs) => txs.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies the user's active rules to `targets`, in batches.
pub async fn apply<P: CategoryRuleStore + TransactionStore + Publisher>(
    ports: &P,
    cause: &Event,
    user_id: &str,
    targets: Targets<'_>,
    now: Millis,
    settings: &Settings,
) -> Result<Applied, HandlerError> {
    let rules = active_rules(ports, user_id, None).await?;
    apply_rules(ports, cause, user_id, &rules, targets, now, settings).await
}

/// The user's active rules, in the store's order, with `created` last if
/// the store does not have it yet (its event may outrun the store's read).
async fn active_rules<P: CategoryRuleStore>(
    ports: &P,
    user_id: &str,
    created: Option<CategoryRule>,
) -> Result<Vec<CategoryRule>, HandlerError> {
    let mut rules: Vec<CategoryRule> = ports.rules_of_user(user_id).await?;
    if let Some(c) = created {
        if !rules.iter().any(|r| r.rule_id == c.rule_id) {
            rules.push(c);
        }
    }
    rules.retain(|r| r.active);
    Ok(rules)
}

async fn apply_rules<P: TransactionStore + Publisher>(
    ports: &P,
    cause: &Event,
    user_id: &str,
    rules: &[CategoryRule],
    targets: Targets<'_>,
    now: Millis,
    settings: &Settings,
) -> Result<Applied, HandlerError> {
    let mut applied = Applied {
        considered: targets.len(),
        ..Applied::default()
    };
    if rules.is_empty() {
        // Nothing can match: skip the reads, but say so.
        applied.unmatched = targets.len();
        return Ok(applied);
    }
    let size = settings.categorization_batch_size.max(1);
    match targets {
        Targets::Ids(ids) => {
            for batch in ids.chunks(size) {
                let txs = ports.get_transactions(batch).await?;
                applied.not_found += batch.len().saturating_sub(txs.len());
                categorize(ports, cause, user_id, rules, &txs, now, &mut applied).await?;
            }
        }
        Targets::Loaded(txs) => {
            for batch in txs.chunks(size) {
                categorize(ports, cause, user_id, rules, batch, now, &mut applied).await?;
            }
        }
    }
    Ok(applied)
}

/// One batch: assigns, publishes the events, then writes the categories
/// (see the module comment for the order).
async fn categorize<P: TransactionStore + Publisher>(
    ports: &P,
    cause: &Event,
    user_id: &str,
    rules: &[CategoryRule],
    txs: &[Transaction],
    now: Millis,
    applied: &mut Applied,
) -> Result<(), HandlerError> {
    applied.batches += 1;
    let assigned = assign(rules, txs, user_id);
    let candidates = txs
        .iter()
        .filter(|t| t.category_id.is_none() && t.user_id == user_id)
        .count();
    applied.left_alone += txs.len() - candidates;
    applied.unmatched += candidates - assigned.len();
    if assigned.is_empty() {
        return Ok(());
    }
    let events: Vec<Event> = assigned
        .iter()
        .map(|a| categorized_event(cause, a, now))
        .collect();
    ports.publish(&events).await?;
    for a in &assigned {
        ports
            .set_category(&a.transaction_id, &a.category_id)
            .await?;
    }
    applied.assigned.extend(assigned);
    Ok(())
}

fn categorized_event(cause: &Event, a: &Assignment, now: Millis) -> Event {
    derived(
        cause,
        // The cause is part of the id: two causes racing on one
        // uncategorized transaction (a file.processed whose category write
        // failed after its publish, and a deletion's pass over the same
        // file) announce two events, each of which its own redeliveries
        // re-emit unchanged; one id for both would carry two causations.
        ids::derive(
            "categorized",
            &[&cause.event_id, &a.transaction_id, &a.rule_id],
        ),
        sources::CATEGORY_SERVICE,
        EventData::TransactionCategorized(TransactionCategorized {
            transaction_id: a.transaction_id.clone(),
            account_id: a.account_id.clone(),
            category_id: a.category_id.clone(),
            previous_category_id: None,
            confidence: 1.0,
            assignment_type: AssignmentType::RuleBased,
            rule_id: Some(a.rule_id.clone()),
        }),
        now,
    )
}

pub async fn handle<P>(
    ports: &P,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError>
where
    P: CategoryRuleStore + TransactionStore + IdempotencyStore + Publisher,
{
    let event_type = event.event_type().to_owned();
    let mut created = None;
    let targets = match &event.data {
        EventData::FileProcessed(p) => {
            if p.processing_status == ProcessingStatus::Failed {
                return Ok(Report::Skipped {
                    event_type,
                    reason: "processing failed: no transactions".to_owned(),
                });
            }
            Targets::Ids(&p.transaction_ids)
        }
        EventData::TransactionsCreated(c) => Targets::Ids(&c.transaction_ids),
        EventData::DeleteRequested(req) => {
            let work = async {
                let txs = ports.transactions_of_file(&req.file_id).await?;
                apply(
                    ports,
                    event,
                    &event.user_id,
                    Targets::Loaded(txs),
                    now,
                    settings,
                )
                .await
            };
            let done = report_completion(
                ports,
                event,
                req,
                CONSUMER,
                sources::CATEGORY_SERVICE,
                work.await,
                now,
                settings,
            )
            .await?;
            return Ok(Report::Completion {
                coordination_id: req.coordination_id.clone(),
                status: done.status,
                error: done.error,
                applied: done.work,
                completion_id: done.completion_id,
            });
        }
        EventData::CategoryRuleCreated(c) => {
            if !c.auto_apply {
                return Ok(Report::Skipped {
                    event_type,
                    reason: "autoApply is false: the rule waits for new transactions".to_owned(),
                });
            }
            created = Some(CategoryRule {
                rule_id: c.rule_id.clone(),
                user_id: event.user_id.clone(),
                category_id: c.category_id.clone(),
                pattern: c.rule_pattern.clone(),
                active: true,
            });
            let mut txs = ports.transactions_of_user(&event.user_id).await?;
            txs.retain(|t| t.category_id.is_none());
            Targets::Loaded(txs)
        }
        _ => return Ok(Report::Ignored { event_type }),
    };
    if targets.is_empty() {
        return Ok(Report::Skipped {
            event_type,
            reason: "no transaction ids".to_owned(),
        });
    }
    let rules = active_rules(ports, &event.user_id, created).await?;
    let applied = apply_rules(ports, event, &event.user_id, &rules, targets, now, settings).await?;
    let first = mark_done(ports, CONSUMER, &event.event_id, settings.claim_expiry(now)).await?;
    Ok(Report::Applied {
        event_type,
        applied,
        redelivery: !first,
    })
}
