//! The day's CUR, reduced to what the allocation reads: pool costs by
//! [`PoolKey`], excluded costs by line item type, and totals. Built by the
//! CUR sources, read by the allocation.

use std::collections::BTreeMap;

use super::money::Money;
use crate::FastMap;

/// A rule, by file and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    pub model: u16,
    pub rule: u16,
}

/// SPEC 4.1: what CUR rows are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolKey {
    pub product_code: String,
    pub rule: RuleRef,
    pub tag_transaction_type: Option<String>,
    pub tag_flow: Option<String>,
    pub tag_service: Option<String>,
}

/// The day's CUR, reduced: pool costs, excluded costs, totals.
#[derive(Debug, Default, Clone)]
pub struct CurDay {
    pub pools: FastMap<PoolKey, Money>,
    /// Excluded cost per line item type (SPEC 2.3).
    pub excluded: BTreeMap<String, Money>,
    /// Cost of the accounts outside `[cur] accounts`, per account (SPEC 12.3).
    pub out_of_scope: BTreeMap<String, Money>,
    /// Every row's share of the day by line item type, excluded and
    /// out-of-scope rows included (what a restatement's totals compare).
    pub by_type: BTreeMap<String, Money>,
    /// Every row of the day, excluded and out-of-scope ones included.
    pub rows: u64,
    /// Sum of every row's cost, excluded ones included.
    pub total: Money,
    /// Rows with an empty `bill_invoice_id` (the month is not final).
    pub rows_without_invoice: u64,
}

/// Where a CUR row's cost goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A pool (SPEC 4.1).
    Pool(PoolKey),
    /// Its line item type is excluded (SPEC 2.3).
    Excluded,
    /// Another account's row (SPEC 12.3), by account id.
    OutOfScope(String),
}

impl CurDay {
    /// Adds a row's share of the day where its [`Line`] says.
    pub fn add(&mut self, line: Line, line_item_type: &str, cost: Money, has_invoice: bool) {
        self.rows += 1;
        self.total += cost;
        self.rows_without_invoice += u64::from(!has_invoice);
        add_to(&mut self.by_type, line_item_type, cost);
        match line {
            Line::Pool(key) => *self.pools.entry(key).or_default() += cost,
            Line::Excluded => add_to(&mut self.excluded, line_item_type, cost),
            Line::OutOfScope(account) => add_to(&mut self.out_of_scope, &account, cost),
        }
    }

    /// Every row of the day invoiced (and at least one row): the day's
    /// figures can no longer move with the bill (SPEC 12.2).
    pub fn is_final(&self) -> bool {
        self.rows > 0 && self.rows_without_invoice == 0
    }

    pub fn merge(&mut self, other: CurDay) {
        for (key, cost) in other.pools {
            *self.pools.entry(key).or_default() += cost;
        }
        for (ty, cost) in other.excluded {
            *self.excluded.entry(ty).or_default() += cost;
        }
        for (account, cost) in other.out_of_scope {
            *self.out_of_scope.entry(account).or_default() += cost;
        }
        for (ty, cost) in other.by_type {
            *self.by_type.entry(ty).or_default() += cost;
        }
        self.rows += other.rows;
        self.total += other.total;
        self.rows_without_invoice += other.rows_without_invoice;
    }
}

/// `cost` added to `key`'s entry, the key copied only the first time.
fn add_to(map: &mut BTreeMap<String, Money>, key: &str, cost: Money) {
    match map.get_mut(key) {
        Some(sum) => *sum += cost,
        None => {
            map.insert(key.to_string(), cost);
        }
    }
}
