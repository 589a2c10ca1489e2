//! What produced a published day and what a republish changed (SPEC
//! 12.2), as the tables record them: made by `fingerprint` and
//! `restatement`, written by the sink.

use std::collections::BTreeMap;

use super::money::Money;

/// What produced a published day, as its `reconciliation` row records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// [`cur`] of the day.
    pub cur: String,
    /// [`logs`] of the day's log objects.
    pub logs: String,
    /// SHA-256 of the pricing models.
    pub pricing: String,
    /// SHA-256 of the settings that change the allocation.
    pub config: String,
    /// Every CUR row of the day invoiced.
    pub cur_final: bool,
}

impl Fingerprints {
    /// Why a day published with `before` must be run again now: the inputs
    /// that changed (`cur`, `logs`, `pricing`, `config`), in that order;
    /// empty when none did. The invoice arriving changes `cur`.
    pub fn reasons(&self, before: &Fingerprints) -> Vec<&'static str> {
        [
            (
                "cur",
                self.cur != before.cur || self.cur_final != before.cur_final,
            ),
            ("logs", self.logs != before.logs),
            ("pricing", self.pricing != before.pricing),
            ("config", self.config != before.config),
        ]
        .into_iter()
        .filter_map(|(reason, changed)| changed.then_some(reason))
        .collect()
    }
}

/// One row of the `restatements` table: one flow's change (or, with no
/// type and flow, the day's totals) when a run republished the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestatementRow {
    pub restated_at_ms: i64,
    pub run_id: String,
    pub previous_run_id: String,
    /// The inputs that changed, comma-separated (`cur,logs`); `rerun` when
    /// none did (a day run again by hand).
    pub reasons: String,
    /// `None` on the day's totals row.
    pub transaction_type: Option<String>,
    pub flow: Option<String>,
    pub previous_transactions: i64,
    pub transactions: i64,
    pub previous_cost: Money,
    pub cost: Money,
    /// `None` where the flow had no transaction (and on the totals row).
    pub previous_unit_cost: Option<Money>,
    pub unit_cost: Option<Money>,
    /// `cost - previous_cost`.
    pub delta: Money,
    pub previous_cur_total: Money,
    pub cur_total: Money,
    /// The CUR's change by line item type (totals row only; types unchanged left out).
    pub cur_change_by_type: BTreeMap<String, Money>,
    pub previous_cur_final: bool,
    pub cur_final: bool,
}
