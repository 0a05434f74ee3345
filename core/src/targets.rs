//! The deployment's parts as one table each: the rule targets (what each
//! runs), and the voters (their names, their functions, the source their
//! votes come from). The rules file's validation, the dispatch, the
//! simulator, the deployment and the policy's defaults all read these, so
//! a target or a voter cannot be half-added.

use crate::event::sources;

/// A deletion voter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Voter {
    AnalyticsManager,
    CategoryManager,
    BackupManager,
    ComplianceManager,
}

/// What a rule target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Aggregator,
    Executor,
    Voter(Voter),
    /// Ordinary consumers; `analytics` and `categorization` also report to
    /// a completion coordination under the name in [`Target::reports_as`].
    FileProcessor,
    Analytics,
    Categorization,
    Notification,
    /// Keeps every event, readable or not: it takes the delivered text.
    Audit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The name rules files give it (and its function's).
    pub name: &'static str,
    pub role: Role,
    /// The completion consumer it reports as, if it is one.
    pub reports_as: Option<&'static str>,
}

macro_rules! targets {
    ($($id:ident = $name:literal => $role:expr, $reports:expr;)*) => {
        $(
            #[doc = concat!("The `", $name, "` rule target. Refer to it by this constant, never by its name, so that a rename is one edit.")]
            pub const $id: Target = Target { name: $name, role: $role, reports_as: $reports };
        )*
        /// Every rule target, in the rules file's order of the pipeline.
        pub const TARGETS: &[Target] = &[$($id),*];
        /// Their names, as rules files spell them.
        pub const TARGET_NAMES: &[&str] = &[$($name),*];
    };
}

targets! {
    FILE_PROCESSOR = "file_processor" => Role::FileProcessor, None;
    ANALYTICS = "analytics" => Role::Analytics, Some("analytics_consumer");
    CATEGORIZATION = "categorization" => Role::Categorization, Some("categorization_consumer");
    NOTIFICATION = "notification" => Role::Notification, None;
    AUDIT = "audit" => Role::Audit, None;
    ANALYTICS_VOTER = "analytics_voter" => Role::Voter(Voter::AnalyticsManager), None;
    CATEGORY_VOTER = "category_voter" => Role::Voter(Voter::CategoryManager), None;
    BACKUP_VOTER = "backup_voter" => Role::Voter(Voter::BackupManager), None;
    COMPLIANCE_VOTER = "compliance_voter" => Role::Voter(Voter::ComplianceManager), None;
    AGGREGATOR = "aggregator" => Role::Aggregator, None;
    EXECUTOR = "executor" => Role::Executor, None;
}

/// The target of this name, if there is one.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The voter a rule target is, if it is one.
pub fn voter_of(target_name: &str) -> Option<Voter> {
    match target(target_name)?.role {
        Role::Voter(v) => Some(v),
        _ => None,
    }
}

/// The completion consumer a rule target is, if it is one: the name its
/// `consumer.completion` reports carry (and the policy requires).
pub fn completion_consumer_of(target_name: &str) -> Option<&'static str> {
    target(target_name)?.reports_as
}

/// One voter: the name votes and policies spell, the target its function
/// is, and the source its votes come from unless a policy binds another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoterEntry {
    pub voter: Voter,
    pub name: &'static str,
    pub target: &'static Target,
    pub source: &'static str,
}

pub const VOTERS: &[VoterEntry] = &[
    VoterEntry {
        voter: Voter::AnalyticsManager,
        name: "analytics_manager",
        target: &ANALYTICS_VOTER,
        source: sources::ANALYTICS_SERVICE,
    },
    VoterEntry {
        voter: Voter::CategoryManager,
        name: "category_manager",
        target: &CATEGORY_VOTER,
        source: sources::CATEGORY_SERVICE,
    },
    VoterEntry {
        voter: Voter::BackupManager,
        name: "backup_manager",
        target: &BACKUP_VOTER,
        source: sources::BACKUP_SERVICE,
    },
    VoterEntry {
        voter: Voter::ComplianceManager,
        name: "compliance_manager",
        target: &COMPLIANCE_VOTER,
        source: sources::COMPLIANCE_SERVICE,
    },
];

/// The completion consumers and the source their reports come from (the
/// analytics and categorization services, as the notes deploy them).
pub const COMPLETION_CONSUMERS: &[(&str, &str)] = &[
    ("analytics_consumer", sources::ANALYTICS_SERVICE),
    ("categorization_consumer", sources::CATEGORY_SERVICE),
];

impl Voter {
    pub const ALL: [Voter; 4] = [
        Voter::AnalyticsManager,
        Voter::CategoryManager,
        Voter::BackupManager,
        Voter::ComplianceManager,
    ];

    fn entry(self) -> &'static VoterEntry {
        VOTERS
            .iter()
            .find(|e| e.voter == self)
            .expect("every voter has its entry")
    }

    /// The voter's name, as votes and the policy spell it.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The source its votes come from by default (a policy may bind
    /// another: `Policy::voter_sources`, which the dispatch follows).
    pub fn source(self) -> &'static str {
        self.entry().source
    }

    /// The rule target its function is.
    pub fn target(self) -> &'static str {
        self.entry().target.name
    }

    pub fn parse(name: &str) -> Option<Voter> {
        VOTERS.iter().find(|e| e.name == name).map(|e| e.voter)
    }
}

impl std::fmt::Display for Voter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each voter's entry is its own (a table row copied without its name
    /// changed would give two voters one name or one target).
    #[test]
    fn voters_and_targets_are_one_to_one() {
        for v in Voter::ALL {
            assert_eq!(Voter::parse(v.name()), Some(v));
            assert_eq!(target(v.target()).map(|t| t.role), Some(Role::Voter(v)));
        }
        let mut names: Vec<&str> = TARGET_NAMES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len(), "a target named twice");
    }
}
