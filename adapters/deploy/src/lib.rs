//! The deployment, as data. One description of every Lambda function, table
//! and environment variable serves both sides: the AWS adapter reads its
//! configuration by these names, and `tally template` generates the
//! CloudFormation/SAM template from them and the rules file. Pure: no AWS
//! SDK here, so the CLI (and the simulator's madsim build) can link it.

pub mod env;
pub mod layout;

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
    Read,
    Write,
    /// Write plus delete.
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
    /// The rules file's target name, for functions started by rules.
    pub target: Option<&'static str>,
    pub trigger: Trigger,
    pub uses: &'static [(Resource, Access)],
}

use Access::*;
use Resource::*;

/// Every function of the deployment. Only the executor may delete content
/// or transactions; only the aggregator and the sweeper write records.
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
    },
    Function {
        name: "aggregator",
        target: Some("aggregator"),
        trigger: Trigger::Rules,
        uses: &[(Table("Records"), Write), (Bus, Write)],
    },
    Function {
        name: "sweeper",
        target: None,
        trigger: Trigger::Schedule,
        uses: &[(Table("Records"), Write), (Bus, Write)],
    },
    Function {
        name: "executor",
        target: Some("executor"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Records"), Read),
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), ReadWriteDelete),
            (Table("Transactions"), ReadWriteDelete),
            (ContentBucket, ReadWriteDelete),
            (Bus, Write),
        ],
    },
    Function {
        name: "analytics-voter",
        target: Some("analytics_voter"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Analytics"), Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "category-voter",
        target: Some("category_voter"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Transactions"), Read),
            (Table("CategoryRules"), Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "backup-voter",
        target: Some("backup_voter"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "compliance-voter",
        target: Some("compliance_voter"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "analytics",
        target: Some("analytics"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Analytics"), Write),
            (Bus, Write),
        ],
    },
    Function {
        name: "categorization",
        target: Some("categorization"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Transactions"), Write),
            (Table("CategoryRules"), Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "audit",
        target: Some("audit"),
        trigger: Trigger::Rules,
        uses: &[(Table("Audit"), Write)],
    },
    Function {
        name: "notification",
        target: Some("notification"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Notifications"), Write),
        ],
    },
    Function {
        name: "file-processor",
        target: Some("file_processor"),
        trigger: Trigger::Rules,
        uses: &[
            (Table("Idempotency"), ReadWriteDelete),
            (Table("Files"), Write),
            (Table("Transactions"), Write),
            (ContentBucket, Read),
            (Bus, Write),
        ],
    },
    Function {
        name: "object-created",
        target: None,
        trigger: Trigger::ObjectCreated,
        uses: &[(Bus, Write)],
    },
];

pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
