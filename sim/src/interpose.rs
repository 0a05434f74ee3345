//! The store ports of a wrapped in-memory store, written once: every call
//! goes through the wrapper's `before(what)`, then the store, then
//! `after(what, wrote, &result)`. The simulated world puts latency, throttling and
//! crash points there; the model checker a pause at which it chooses who
//! goes next. Each wrapper writes its own record store and publisher,
//! whose faults are their own.

#[cfg_attr(not(madsim), allow(unused_macros))]
macro_rules! delegate {
    ($ty:ty, $trait:ident { $( $kind:ident fn $name:ident(&self $(, $arg:ident : $argty:ty)*) -> $ret:ty; )* }) => {
        impl tally_core::ports::$trait for $ty {
            $(
                async fn $name(&self $(, $arg: $argty)*) -> $ret {
                    let what = concat!(stringify!($trait), ".", stringify!($name));
                    self.before(what, stringify!($kind) == "write").await?;
                    let out = self.store().$name($($arg),*).await;
                    self.after(what, stringify!($kind) == "write", &out)?;
                    out
                }
            )*
        }
    };
}

#[cfg_attr(not(madsim), allow(unused_macros))]
macro_rules! store_ports {
    ($ty:ty) => {
        $crate::interpose::delegate!($ty, IdempotencyStore {
            write fn claim(&self, consumer: &str, event_id: &str, expires_at: tally_core::time::Millis) -> Result<bool, tally_core::ports::PortError>;
            write fn release(&self, consumer: &str, event_id: &str) -> Result<(), tally_core::ports::PortError>;
            write fn remember(&self, consumer: &str, key: &str, value: &str, expires_at: tally_core::time::Millis) -> Result<tally_core::ports::Remembered, tally_core::ports::PortError>;
            read fn recall(&self, consumer: &str, key: &str) -> Result<Option<String>, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, FileStore {
            read fn get_file(&self, file_id: &str) -> Result<Option<tally_core::domain::FileMeta>, tally_core::ports::PortError>;
            write fn put_file(&self, file: &tally_core::domain::FileMeta) -> Result<(), tally_core::ports::PortError>;
            write fn update_file(&self, file: &tally_core::domain::FileMeta) -> Result<bool, tally_core::ports::PortError>;
            write fn delete_file(&self, file_id: &str) -> Result<bool, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, TransactionStore {
            read fn transactions_of_file(&self, file_id: &str) -> Result<Vec<tally_core::domain::Transaction>, tally_core::ports::PortError>;
            read fn transactions_of_user(&self, user_id: &str) -> Result<Vec<tally_core::domain::Transaction>, tally_core::ports::PortError>;
            read fn get_transactions(&self, ids: &[String]) -> Result<Vec<tally_core::domain::Transaction>, tally_core::ports::PortError>;
            write fn put_new_transactions(&self, txs: &[tally_core::domain::Transaction]) -> Result<usize, tally_core::ports::PortError>;
            write fn set_category(&self, transaction_id: &str, category_id: &str) -> Result<(), tally_core::ports::PortError>;
            write fn delete_transactions_of_file(&self, file_id: &str) -> Result<Vec<String>, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, ContentStore {
            read fn get_content(&self, key: &str) -> Result<Option<Vec<u8>>, tally_core::ports::PortError>;
            write fn put_content(&self, key: &str, bytes: &[u8]) -> Result<(), tally_core::ports::PortError>;
            write fn delete_content(&self, key: &str) -> Result<bool, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, AnalyticsStore {
            read fn pending_job(&self, user_id: &str) -> Result<Option<tally_core::domain::AnalyticsJob>, tally_core::ports::PortError>;
            write fn put_job(&self, job: &tally_core::domain::AnalyticsJob) -> Result<(), tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, CategoryRuleStore {
            read fn rules_of_user(&self, user_id: &str) -> Result<Vec<tally_core::domain::CategoryRule>, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, AuditLog {
            write fn append(&self, entry: &tally_core::domain::AuditEntry) -> Result<bool, tally_core::ports::PortError>;
            read fn entries(&self, since: tally_core::time::Millis, until: tally_core::time::Millis) -> Result<Vec<tally_core::domain::AuditEntry>, tally_core::ports::PortError>;
        });
        $crate::interpose::delegate!($ty, Notifier {
            write fn notify(&self, n: &tally_core::domain::Notification) -> Result<(), tally_core::ports::PortError>;
        });
    };
}

#[cfg_attr(not(madsim), allow(unused_imports))]
pub(crate) use delegate;
#[cfg_attr(not(madsim), allow(unused_imports))]
pub(crate) use store_ports;
