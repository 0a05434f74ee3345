//! The deployment, as data. One description of every Lambda function, table
//! and environment variable serves both sides: the AWS adapter reads its
//! configuration by these names, and `tally template` generates the
//! CloudFormation/SAM template from them and the rules file. Pure: no AWS
//! SDK here, so the CLI (and the simulator's madsim build) can link it.

pub mod env;
pub mod layout;
pub mod metrics;
pub mod policy;
pub mod template;

/// What starts a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// API Gateway's proxy integration (`DELETE /files/{id}`).
    Api,
    /// The rules that name this target, each through an SQS queue (with a
    /// dead-letter queue) and an SQS event-source mapping reporting partial
    /// batch failures.
    Rules,
    /// S3's ObjectCreated notifications on the content bucket.
    ObjectCreated,
    /// A schedule (the sweeper: expired deadlines and stuck outboxes).
    Schedule,
}

/// What a function may do to a resource (least privilege).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Items (`GetItem`, `Query`, `BatchGetItem`, on the table and its
    /// indexes) or objects (`GetObject`, and `ListBucket` so that a missing
    /// key answers 404, not 403). Nothing on the bus.
    Read,
    /// Read plus put and update (`PutItem`, `UpdateItem`,
    /// `ConditionCheckItem`; `PutObject`; `PutEvents` on the bus). Not
    /// `BatchWriteItem`: its requests may delete, so it is a delete right.
    Write,
    /// Write plus delete (`DeleteItem`, `BatchWriteItem`; `DeleteObject`).
    ReadWriteDelete,
}

/// A resource a function uses: a table (by its logical name in
/// [`layout::TABLES`]), the content bucket, or the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Table(&'static str),
    ContentBucket,
    Bus,
}

#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The binary's name (`cargo lambda build` makes `target/lambda/<name>/bootstrap`).
    pub name: &'static str,
    /// The rule target it runs (its entry in the core's one table,
    /// `tally_core::targets`), for functions started by rules.
    pub target: Option<&'static Target>,
    pub trigger: Trigger,
    pub uses: &'static [(Resource, Access)],
    /// The policy variables of [`env`] it reads, besides those of the
    /// resources in `uses` (see [`Function::env_vars`]).
    pub settings: &'static [&'static str],
    /// How long one invocation may run. Its queue hides a message six
    /// times as long ([`Function::visibility_timeout_seconds`]).
    pub timeout_seconds: u32,
    pub memory_mb: u32,
}

impl Function {
    /// A function that the rules naming `target` start, using nothing yet,
    /// with a consumer's timeout and memory (the builders below change
    /// them).
    pub const fn started_by_rules(name: &'static str, target: &'static Target) -> Function {
        Function {
            name,
            target: Some(target),
            trigger: Trigger::Rules,
            uses: &[],
            settings: &[],
            timeout_seconds: CONSUMER_TIMEOUT,
            memory_mb: MEMORY,
        }
    }

    pub const fn using(self, uses: &'static [(Resource, Access)]) -> Function {
        Function { uses, ..self }
    }

    pub const fn with_settings(self, settings: &'static [&'static str]) -> Function {
        Function { settings, ..self }
    }

    pub const fn with_timeout(self, timeout_seconds: u32) -> Function {
        Function {
            timeout_seconds,
            ..self
        }
    }

    pub const fn with_memory(self, memory_mb: u32) -> Function {
        Function { memory_mb, ..self }
    }

    /// The rules file's name of its target, for functions started by rules.
    pub fn target_name(&self) -> Option<&'static str> {
        self.target.map(|t| t.name)
    }

    /// How long the function's queue hides a message it handed out: six
    /// times the function's timeout, AWS's rule for SQS event sources
    /// (a batch still running must not be handed out again).
    pub fn visibility_timeout_seconds(&self) -> u32 {
        6 * self.timeout_seconds
    }

    /// Every environment variable the function reads, in `uses` order then
    /// `settings`: each table's variable, [`env::CONTENT_BUCKET`],
    /// [`env::EVENT_BUS_NAME`], then its policy variables. The template
    /// sets exactly these.
    pub fn env_vars(&self) -> Vec<&'static str> {
        let mut vars: Vec<&'static str> = Vec::new();
        for (resource, _) in self.uses {
            let var = match resource {
                Resource::Table(t) => match layout::table(t) {
                    Some(t) => t.env,
                    None => continue,
                },
                Resource::ContentBucket => env::CONTENT_BUCKET,
                Resource::Bus => env::EVENT_BUS_NAME,
            };
            if !vars.contains(&var) {
                vars.push(var);
            }
        }
        for var in self.settings {
            if !vars.contains(var) {
                vars.push(var);
            }
        }
        vars
    }
}

use tally_core::targets::{self, Target};
use Access::*;
use Resource::*;

/// The timeouts and memory of the design notes. Note 003: the S3 event
/// handler 60 s (it only publishes), the file processor 600 s (it reads
/// and parses the whole file), every other consumer 300 s; note 001: the
/// deletion consumer 5 minutes and 512 MB.
const S3_EVENT_HANDLER_TIMEOUT: u32 = 60;
const FILE_PROCESSOR_TIMEOUT: u32 = 600;
const CONSUMER_TIMEOUT: u32 = 300;
const DELETION_TIMEOUT: u32 = 5 * 60;
const DELETION_MEMORY: u32 = 512;
/// API Gateway stops waiting for its integration after 29 s: the API
/// function may not run longer than its caller waits.
const API_TIMEOUT: u32 = 29;
/// The sweeper runs every minute; a tick ends before the next begins.
const SWEEPER_TIMEOUT: u32 = 60;
const MEMORY: u32 = 256;

/// The policy: the aggregator and the sweeper step records with it, the
/// voters read it to stay silent where a request does not require them.
const DECIDING: &[&str] = &[
    env::POLICY,
    env::REQUIRED_VOTERS,
    env::DEADLINE_SECONDS,
    env::TIMEOUT_OUTCOME,
    env::ERROR_OUTCOME,
];

/// Every function of the deployment. Only the executor may delete content,
/// files or transactions; only the aggregator and the sweeper write records.
///
/// The idempotency table: consumers that claim last (the voters,
/// categorization) only put claims (`Write`); those that claim first and
/// release the claim when their work fails (analytics, notification, the
/// file processor, the executor) delete it on release (`ReadWriteDelete`).
/// See `tally_core::consumers`.
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "api",
        target: None,
        trigger: Trigger::Api,
        uses: &[
            (Table("Files"), Read),
            (Table("Transactions"), Read),
            (Bus, Write),
        ],
        settings: &[env::ENABLE_EVENT_PUBLISHING, env::COORDINATION_FLAVOUR],
        timeout_seconds: API_TIMEOUT,
        memory_mb: MEMORY,
    },
    Function::started_by_rules("aggregator", &targets::AGGREGATOR)
        .using(&[(Table("Records"), Write), (Bus, Write)])
        .with_settings(DECIDING),
    Function {
        name: "sweeper",
        target: None,
        trigger: Trigger::Schedule,
        uses: &[(Table("Records"), Write), (Bus, Write)],
        settings: DECIDING,
        timeout_seconds: SWEEPER_TIMEOUT,
        memory_mb: MEMORY,
    },
    Function::started_by_rules("executor", &targets::EXECUTOR)
        .using(&[
            (Table("Records"), Read),
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), ReadWriteDelete),
            (Table("Transactions"), ReadWriteDelete),
            (ContentBucket, ReadWriteDelete),
            (Bus, Write),
        ])
        .with_timeout(DELETION_TIMEOUT)
        .with_memory(DELETION_MEMORY),
    Function::started_by_rules("analytics-voter", &targets::ANALYTICS_VOTER)
        // Queues the recompute under a claim it releases when the queueing fails.
        .using(&[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Transactions"), Read),
            (Table("Analytics"), Write),
            (Bus, Write),
        ])
        // Voters stay silent when the policy does not require them.
        .with_settings(DECIDING),
    Function::started_by_rules("category-voter", &targets::CATEGORY_VOTER)
        .using(&[
            (Table("Idempotency"), Write),
            (Table("Transactions"), Read),
            (Table("CategoryRules"), Read),
            (Bus, Write),
        ])
        .with_settings(DECIDING),
    Function::started_by_rules("backup-voter", &targets::BACKUP_VOTER)
        .using(&[
            (Table("Idempotency"), Write),
            (Table("Files"), Read),
            (Bus, Write),
        ])
        .with_settings(DECIDING),
    Function::started_by_rules("compliance-voter", &targets::COMPLIANCE_VOTER)
        .using(&[
            (Table("Idempotency"), Write),
            (Table("Files"), Read),
            (Bus, Write),
        ])
        .with_settings(DECIDING),
    Function::started_by_rules("analytics", &targets::ANALYTICS).using(&[
        (Table("Idempotency"), ReadWriteDelete),
        (Table("Analytics"), Write),
        (Bus, Write),
    ]),
    Function::started_by_rules("categorization", &targets::CATEGORIZATION).using(&[
        (Table("Idempotency"), Write),
        (Table("Transactions"), Write),
        (Table("CategoryRules"), Read),
        (Bus, Write),
    ]),
    Function::started_by_rules("audit", &targets::AUDIT).using(&[(Table("Audit"), Write)]),
    Function::started_by_rules("notification", &targets::NOTIFICATION).using(&[
        (Table("Idempotency"), ReadWriteDelete),
        (Table("Notifications"), Write),
    ]),
    Function::started_by_rules("file-processor", &targets::FILE_PROCESSOR)
        .using(&[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), Write),
            (Table("Transactions"), Write),
            (ContentBucket, Read),
            (Bus, Write),
        ])
        .with_timeout(FILE_PROCESSOR_TIMEOUT),
    Function {
        name: "object-created",
        target: None,
        trigger: Trigger::ObjectCreated,
        uses: &[(Bus, Write)],
        settings: &[],
        timeout_seconds: S3_EVENT_HANDLER_TIMEOUT,
        memory_mb: MEMORY,
    },
];

// Checked as the crate compiles: every rule target of the core's table
// has exactly one function, a function has a target exactly when rules
// start it, and that target is named in the table (not one made up here).
const _: () = {
    let mut i = 0;
    while i < FUNCTIONS.len() {
        let f = &FUNCTIONS[i];
        assert!(
            f.target.is_some() == matches!(f.trigger, Trigger::Rules),
            "FUNCTIONS: a function has a target exactly when rules start it"
        );
        if let Some(t) = f.target {
            assert!(
                functions_of(t.name) == 1,
                "FUNCTIONS: a rule target has more than one function"
            );
            assert!(
                is_a_target(t.name),
                "FUNCTIONS: a target that is not in tally_core::targets::TARGETS"
            );
        }
        i += 1;
    }
    let mut j = 0;
    while j < targets::TARGETS.len() {
        assert!(
            functions_of(targets::TARGETS[j].name) == 1,
            "FUNCTIONS: a rule target of tally_core::targets::TARGETS has no function"
        );
        j += 1;
    }
};

/// How many functions run the rule target of this name (for the check above).
const fn functions_of(target: &str) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < FUNCTIONS.len() {
        if let Some(t) = FUNCTIONS[i].target {
            if same(t.name, target) {
                n += 1;
            }
        }
        i += 1;
    }
    n
}

const fn is_a_target(name: &str) -> bool {
    let mut i = 0;
    while i < targets::TARGETS.len() {
        if same(targets::TARGETS[i].name, name) {
            return true;
        }
        i += 1;
    }
    false
}

/// `a == b`, in a constant.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
