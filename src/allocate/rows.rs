//! What the allocation hands the sink (STYLE 15): finished rows, chunk by chunk,
//! each transaction with its money and its breakdown; the per-flow costs and
//! summary; the totals. All money is finished here.

use std::collections::BTreeMap;

use super::pools::{Pool, Unallocated};
use super::scope::Scope;
use super::split::Split;
use crate::Result;
use crate::model::PoolKey;
use crate::model::RuleRef;
use crate::model::money::Money;
use crate::model::{Transaction, TransactionType};
/// Finished `transactions` rows: each transaction, its money and its breakdown
/// (breakdown line, cost), the lines summing to its total. The sink encodes them.
pub struct RowChunk<'a> {
    pub transactions: &'a [Transaction],
    pub costs: &'a [TransactionCost],
    pub breakdowns: Breakdowns,
    /// Breakdown line -> (product code, rule).
    pub lines: &'a [(String, RuleRef)],
}

/// One output file's chunks of rows, in order.
pub type RowPart<'a> = Box<dyn Iterator<Item = RowChunk<'a>> + Send + 'a>;

/// A transaction's money (its breakdown: [`Allocation::breakdowns`]), in
/// 1e-10 USD, in 64 bits: 16 bytes a transaction (a total must fit
/// DECIMAL(18,10), under 2^60; a sum on the way that would not fit is an error).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TransactionCost {
    pub(super) total: i64,
    pub(super) direct: i64,
}

impl TransactionCost {
    pub fn total(&self) -> Money {
        self.total.into()
    }

    /// Cost from pools tagged with the transaction's flow or type.
    pub fn direct(&self) -> Money {
        self.direct.into()
    }

    /// Cost from untagged pools.
    pub fn shared(&self) -> Money {
        self.total() - self.direct()
    }

    /// Adds a share of a pool (`direct`: a tagged one), or returns the sum
    /// that does not fit 64 bits, changing nothing.
    pub(super) fn add(&mut self, share: Money, direct: bool) -> Result<(), Money> {
        match i64::try_from(share) {
            Ok(share) => self.add_narrow(share, direct),
            Err(_) => Err(Money::from(self.total) + share),
        }
    }

    /// [`TransactionCost::add`] of a share that fits 64 bits.
    #[inline]
    pub(super) fn add_narrow(&mut self, share: i64, direct: bool) -> Result<(), Money> {
        let sum = |to: i64| (to.checked_add(share)).ok_or(Money::from(to) + Money::from(share));
        let total = sum(self.total)?;
        if direct {
            self.direct = sum(self.direct)?;
        }
        self.total = total;
        Ok(())
    }
}

/// An allocated pool: its breakdown line, whether it is direct, and its split
/// over the positions of its scope.
#[derive(Debug, Clone)]
pub(super) struct AllocatedPool {
    pub(super) line: u32,
    pub(super) unit_key: u16,
    pub(super) split: Split,
    /// Its scope in [`Allocation::scopes`]: the split's positions are the
    /// scope's members in index order.
    pub(super) scope: u32,
    pub(super) key: PoolKey,
    pub(super) cost: Money,
    /// The last transaction (by remainder, then id) that got a remainder unit:
    /// its remainder and index. Any transaction's extra unit follows from it.
    pub(super) last_extra: Option<(u128, u32)>,
}

/// One pool of the day as the `pools` table has it (SPEC 11: what `explain`
/// needs to recompute any transaction's share exactly).
#[derive(Debug, Clone)]
pub struct PoolRow<'a> {
    pub key: &'a PoolKey,
    pub cost: Money,
    /// The driver units (a [`UnitKeys`](crate::pricing::UnitKeys) key), when allocated.
    pub unit_key: Option<u16>,
    pub unallocated: Option<Unallocated>,
    /// U: the driver units of the transactions in scope.
    pub total_units: Option<u128>,
    pub transactions: u64,
    /// How many transactions got one extra 1e-10 USD.
    pub extra_units: u64,
    /// The remainder and transaction index of the last one that did.
    pub last_extra: Option<(u128, u32)>,
}

/// One row of `flow_costs`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowCost {
    pub transaction_type: String,
    pub flow: String,
    pub product_code: String,
    pub rule: RuleRef,
    pub direct: bool,
    pub transactions: u64,
    pub driver_units: u128,
    pub cost: Money,
    pub modelled_cost: Option<Money>,
    /// `cost / transactions`, half-to-even to 1e-10 USD.
    pub unit_cost: Money,
}

/// One row of `flow_summary`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSummary {
    pub transaction_type: String,
    pub flow: String,
    pub transactions: u64,
    pub cost: Money,
    pub unit_cost: Money,
    pub p50: Money,
    pub p95: Money,
    pub p99: Money,
    pub max: Money,
    /// Transactions whose final status is one of `[allocation] success_statuses`.
    pub successful: u64,
    /// What the others cost.
    pub failed_cost: Money,
    /// `cost / successful`, half-to-even; none without a successful one.
    pub cost_per_success: Option<Money>,
}

/// The day's totals, checked by [`allocate`] (SPEC 4.6).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub cur_rows: u64,
    pub cur_total: Money,
    pub allocated: Money,
    pub unallocated: Money,
    pub excluded: Money,
    pub excluded_by_type: BTreeMap<String, Money>,
    /// The cost of the accounts outside `[cur] accounts` (SPEC 12.3).
    pub out_of_scope: Money,
    pub out_of_scope_by_account: BTreeMap<String, Money>,
    /// The CUR's cost by line item type, every row included.
    pub by_type: BTreeMap<String, Money>,
    /// `cur_total - allocated - unallocated - excluded - out_of_scope`: 0 once
    /// conservation is checked (SPEC 4.6, 12.3), written to show it.
    pub delta: Money,
    pub cur_final: bool,
}

/// Everything the sinks write for one day.
#[derive(Debug)]
pub struct Allocation {
    /// Per transaction, in the order of the input transactions.
    pub costs: Vec<TransactionCost>,
    /// Allocated pools, grouped by unit key, to recompute breakdowns.
    pub(super) allocated: Vec<AllocatedPool>,
    /// The distinct scopes of the allocated pools.
    pub(super) scopes: Vec<Scope>,
    /// Each transaction's (type, flow) group.
    pub(super) group_of: Vec<u32>,
    /// The allocated pools that charge a transaction of group `g` for its
    /// units of key `k`, at `g * keys + k`: each pool's scope admits `g`.
    pub(super) charging: Vec<Vec<u32>>,
    /// The unit keys [`Allocation::charging`] is laid out by.
    pub(super) keys: usize,
    /// The breakdown lines: (product code, rule), sorted.
    pub lines: Vec<(String, RuleRef)>,
    pub flow_costs: Vec<FlowCost>,
    pub flow_summary: Vec<FlowSummary>,
    /// Unallocated pools and why.
    pub unallocated: Vec<(Pool, Unallocated)>,
    pub totals: Totals,
}

/// A scope: the transactions with units for a key, of a flow (if tagged) and type (if tagged).
pub(super) type ScopeKey<'a> = (u16, Option<&'a str>, Option<TransactionType>);

impl Allocation {
    /// Every pool of the day, allocated ones first, for the `pools` table.
    pub fn pool_rows(&self) -> Vec<PoolRow<'_>> {
        let mut rows: Vec<PoolRow<'_>> = self
            .allocated
            .iter()
            .map(|p| PoolRow {
                key: &p.key,
                cost: p.cost,
                unit_key: Some(p.unit_key),
                unallocated: None,
                total_units: Some(p.split.division.total_units),
                transactions: self.scopes[p.scope as usize].members,
                extra_units: p.split.extras(),
                last_extra: p.last_extra,
            })
            .collect();
        rows.sort_by(|a, b| a.key.cmp(b.key));
        let mut unallocated: Vec<PoolRow<'_>> = self
            .unallocated
            .iter()
            .map(|(p, reason)| PoolRow {
                key: &p.key,
                cost: p.cost,
                unit_key: None,
                unallocated: Some(*reason),
                total_units: None,
                transactions: 0,
                extra_units: 0,
                last_extra: None,
            })
            .collect();
        unallocated.sort_by(|a, b| a.key.cmp(b.key));
        rows.extend(unallocated);
        rows
    }

    /// The day's finished `transactions` rows, for the sink: `parts` contiguous
    /// runs (one per output file, written in parallel), each a sequence of chunks
    /// of at most `rows` transactions, computed as the sink asks for them so the
    /// breakdowns of the whole day are never held at once.
    pub fn row_parts<'a>(
        &'a self,
        transactions: &'a [Transaction],
        parts: usize,
        rows: usize,
    ) -> Vec<RowPart<'a>> {
        let n = transactions.len();
        let chunks = n.div_ceil(rows).max(1);
        let parts = parts.clamp(1, chunks);
        (0..parts)
            .map(|part| {
                let chunk_range = part * chunks / parts..(part + 1) * chunks / parts;
                let part: RowPart<'a> = Box::new(chunk_range.map(move |chunk| {
                    let range = chunk * rows..n.min((chunk + 1) * rows);
                    RowChunk {
                        transactions: &transactions[range.clone()],
                        costs: &self.costs[range.clone()],
                        breakdowns: self.breakdowns(range, transactions),
                        lines: &self.lines,
                    }
                }));
                part
            })
            .collect()
    }

    /// The cost per breakdown line (index into [`Allocation::lines`], sorted) of each
    /// transaction of `range`, recomputed from the pools' splits: the same shares as
    /// `costs`. One cursor per pool counts its scope's members in index order.
    pub fn breakdowns(
        &self,
        range: std::ops::Range<usize>,
        transactions: &[Transaction],
    ) -> Breakdowns {
        // Each pool's walk through its scope's members, side by side (a pool
        // is 336 bytes): the next member's position, and how its share is made.
        let mut walks: Vec<Walk<'_>> = (self.allocated.iter())
            .map(|p| Walk {
                split: &p.split,
                narrow: p.split.shares_fit_64(),
                position: (self.scopes[p.scope as usize]).position(
                    range.start,
                    transactions,
                    &self.group_of,
                ),
                line: p.line as usize,
            })
            .collect();
        let entries = range.len() * self.lines.len().min(32);
        let mut out = Breakdowns {
            offsets: Vec::with_capacity(range.len() + 1),
            lines: Vec::with_capacity(entries),
            costs: Vec::with_capacity(entries),
        };
        out.offsets.push(0);
        // One transaction's cost per line, and which lines have an entry (a
        // bit each), both emptied as they are emitted.
        let mut per_line: Vec<Money> = vec![0; self.lines.len()];
        let mut charged: Vec<u64> = vec![0; self.lines.len().div_ceil(64)];
        for index in range {
            let group = self.group_of[index] as usize;
            let charging = &self.charging[group * self.keys..(group + 1) * self.keys];
            for (key, units) in &transactions[index].units {
                for &p in charging.get(key as usize).into_iter().flatten() {
                    let walk = &mut walks[p as usize];
                    per_line[walk.line] += walk.next_share(units);
                    charged[walk.line / 64] |= 1 << (walk.line % 64);
                }
            }
            for (word, bits) in charged.iter_mut().enumerate() {
                while *bits != 0 {
                    let line = word * 64 + bits.trailing_zeros() as usize;
                    *bits &= *bits - 1;
                    out.lines.push(line as u32);
                    out.costs.push(std::mem::take(&mut per_line[line]));
                }
            }
            let end = i32::try_from(out.lines.len()).expect("fewer than 2^31 entries a chunk");
            out.offsets.push(end);
        }
        out
    }
}

/// A pool's split as [`Allocation::breakdowns`] walks its scope's members.
pub(super) struct Walk<'a> {
    pub(super) split: &'a Split,
    /// [`Split::shares_fit_64`].
    pub(super) narrow: bool,
    /// The next member's position in the split.
    pub(super) position: usize,
    pub(super) line: usize,
}

impl Walk<'_> {
    /// The next member's share, for its `units`.
    #[inline]
    pub(super) fn next_share(&mut self, units: u64) -> Money {
        let extra = self.split.extra(self.position);
        self.position += 1;
        if self.narrow {
            Money::from(self.split.narrow_share(units, extra))
        } else {
            self.split.share_with(units, extra)
        }
    }
}

/// The breakdowns of a run of transactions, flat (as a list column holds them):
/// transaction `k`'s entries are `offsets[k]..offsets[k + 1]` of `lines` and
/// `costs`, one per breakdown line, in line order.
#[derive(Debug, Default)]
pub struct Breakdowns {
    pub offsets: Vec<i32>,
    pub lines: Vec<u32>,
    pub costs: Vec<Money>,
}

impl Breakdowns {
    /// Each transaction's (lines, costs), in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u32], &[Money])> {
        self.offsets.windows(2).map(|w| {
            let entries = w[0] as usize..w[1] as usize;
            (&self.lines[entries.clone()], &self.costs[entries])
        })
    }
}
