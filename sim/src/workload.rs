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
    /// Files uploaded, processed and then asked to be deleted, per run (at least 1).
    #[arg(long, default_value_t = DEFAULT.files, value_parser = at_least_one)]
    pub files: usize,
    /// Users the files belong to (at least 1).
    #[arg(long, default_value_t = DEFAULT.users, value_parser = at_least_one)]
    pub users: usize,
    /// Share of deletions that use the completion flavour (percent, 0 to 100).
    #[arg(long, default_value_t = DEFAULT.completion_percent, value_parser = percent)]
    pub completion_percent: u64,
    /// Share of files with more than 1000 transactions (percent, 0 to 100).
    #[arg(long, default_value_t = DEFAULT.large_percent, value_parser = percent)]
    pub large_percent: u64,
    /// Ordinary events (transaction and account updates) besides the deletions.
    #[arg(long, default_value_t = DEFAULT.traffic)]
    pub traffic: usize,
}

/// A count that must be at least 1 (a run of no files or no users would
/// check nothing and pass), read as clap reads a flag's value.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    at_least_one_u64(text).map(|n| n as usize)
}

/// [`at_least_one`] as a `u64` (seed counts).
pub fn at_least_one_u64(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("expected at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number, at least 1".to_owned()),
    }
}

/// A share in percent: a whole number from 0 to 100.
pub fn percent(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n <= 100 => Ok(n),
        _ => Err("expected a percentage, a whole number from 0 to 100".to_owned()),
    }
}

impl Workload {
    /// The same bounds as the flags, for a workload read from elsewhere
    /// (a scenario's `[explore]` table): the first field out of range,
    /// named by its flag.
    pub fn validate(&self) -> Result<(), String> {
        let counts = [("files", self.files), ("users", self.users)];
        for (name, n) in counts {
            at_least_one(&n.to_string()).map_err(|e| format!("{name} = {n}: {e}"))?;
        }
        let shares = [
            ("completion_percent", self.completion_percent),
            ("large_percent", self.large_percent),
        ];
        for (name, n) in shares {
            percent(&n.to_string()).map_err(|e| format!("{name} = {n}: {e}"))?;
        }
        Ok(())
    }
}

impl Default for Workload {
    fn default() -> Self {
        DEFAULT
    }
}
