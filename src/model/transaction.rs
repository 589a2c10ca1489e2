//! A classified transaction (SPEC 2.5) and what the transactions of one flow
//! and status share: made by the log source, read by the allocation and the sink.

use std::sync::Arc;

use serde::Deserialize;

use super::id::TransactionId;
use super::units::Units;

/// Flow name of transactions no rule could classify.
pub const UNCLASSIFIED: &str = "unclassified";

/// The two transaction types of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionType {
    /// Moves money: `recarga`, `pago`.
    Monetary,
    /// Does not: `onboarding`.
    NonMonetary,
}

impl TransactionType {
    /// The name used in logs, tags and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monetary => "monetary",
            Self::NonMonetary => "non-monetary",
        }
    }

    /// Parses [`TransactionType::as_str`] names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "monetary" => Some(Self::Monetary),
            "non-monetary" => Some(Self::NonMonetary),
            _ => None,
        }
    }
}

/// A classified transaction of one day: 112 bytes and its units beyond 13
/// words (a day holds millions of them until they are written).
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub id: TransactionId,
    /// Flow, type and status, shared by the transactions that have them alike.
    pub kind: Arc<Kind>,
    /// The first event's time (epoch ms).
    pub first_ts: i64,
    /// The last event's time after the first's: under 2^31 ms (24 days).
    pub last_after_first_ms: u32,
    pub events: u32,
    pub duration_ms: u64,
    /// Driver units per unit key.
    pub units: Units,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Transaction>() == 112);

/// What the transactions of one flow and status share.
#[derive(Debug, PartialEq)]
pub struct Kind {
    pub flow: Arc<str>,
    /// `None` when the flow is not in the catalog (`unclassified`).
    pub transaction_type: Option<TransactionType>,
    pub status: Option<Arc<str>>,
}

impl Kind {
    /// `monetary`, `non-monetary` or `unclassified`.
    pub fn type_name(&self) -> &'static str {
        self.transaction_type
            .map_or(UNCLASSIFIED, TransactionType::as_str)
    }
}

impl Transaction {
    /// `monetary`, `non-monetary` or `unclassified`.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The last event's time (epoch ms).
    pub fn last_ts(&self) -> i64 {
        self.first_ts + i64::from(self.last_after_first_ms)
    }

    /// This transaction's units for `key` (0 when it has none).
    pub fn units_for(&self, key: u16) -> u64 {
        self.units.get(key)
    }
}
