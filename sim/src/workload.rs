//! The workload of a simulated run: what `tally explore` and `tally show`
//! take as flags, and what `world::run` drives.

/// The defaults, written once: clap's defaults read them.
const DEFAULT: Workload = Workload {
    files: 12,
    users: 4,
    completion_percent: 25,
    large_percent: 15,
    traffic: 20,
};

#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize)]
pub struct Workload {
    /// Files uploaded, processed and then asked to be deleted, per run.
    #[arg(long, default_value_t = DEFAULT.files)]
    pub files: usize,
    /// Users the files belong to.
    #[arg(long, default_value_t = DEFAULT.users)]
    pub users: usize,
    /// Share of deletions that use the completion flavour (percent).
    #[arg(long, default_value_t = DEFAULT.completion_percent)]
    pub completion_percent: u64,
    /// Share of files with more than 1000 transactions (percent).
    #[arg(long, default_value_t = DEFAULT.large_percent)]
    pub large_percent: u64,
    /// Ordinary events (transaction and account updates) besides the deletions.
    #[arg(long, default_value_t = DEFAULT.traffic)]
    pub traffic: usize,
}

impl Default for Workload {
    fn default() -> Self {
        DEFAULT
    }
}
