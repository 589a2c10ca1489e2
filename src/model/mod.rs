//! The types the stages meet in (STYLE 15): sources make them, transforms
//! take and give them, sinks only read them. They depend on nothing above them.

mod books;
mod counters;
mod cur_day;
pub mod id;
pub mod money;
mod transaction;
pub mod units;

pub use books::{Fingerprints, RestatementRow};
pub use counters::{LogCounters, Sample};
pub use cur_day::{CurDay, Line, PoolKey, RuleRef};
pub use transaction::{Kind, Transaction, TransactionType, UNCLASSIFIED};
