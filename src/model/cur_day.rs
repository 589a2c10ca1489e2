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
    /// Every row of the day, excluded and out-of-scope ones included.
    pub rows: u64,
    /// Sum of every row's cost, excluded ones included.
    pub total: Money,
    /// Rows with an empty `bill_invoice_id` (the month is not final).
    pub rows_without_invoice: u64,
}

impl CurDay {
    pub fn add(&mut self, key: PoolKey, cost: Money, has_invoice: bool) {
        self.count(cost, has_invoice);
        *self.pools.entry(key).or_default() += cost;
    }

    pub fn add_excluded(&mut self, line_item_type: &str, cost: Money, has_invoice: bool) {
        self.count(cost, has_invoice);
        *self.excluded.entry(line_item_type.to_string()).or_default() += cost;
    }

    pub fn add_out_of_scope(&mut self, account: &str, cost: Money, has_invoice: bool) {
        self.count(cost, has_invoice);
        *self.out_of_scope.entry(account.to_string()).or_default() += cost;
    }

    fn count(&mut self, cost: Money, has_invoice: bool) {
        self.rows += 1;
        self.total += cost;
        self.rows_without_invoice += u64::from(!has_invoice);
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
        self.rows += other.rows;
        self.total += other.total;
        self.rows_without_invoice += other.rows_without_invoice;
    }
}
