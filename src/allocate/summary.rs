//! The per-flow summary (unit cost and nearest-rank percentiles) and the
//! money arithmetic it uses (half-to-even division).

use std::cmp::Reverse;

use rayon::prelude::*;

use super::pools::{Pool, Unallocated};
use super::rows::{FlowSummary, TransactionCost};
use super::scope::{PER_TASK, cut, zeroed};
use crate::model::money::Money;
use crate::model::{Kind, Transaction};
use std::sync::Arc;
/// Per (type, flow) group: count, total, unit cost and nearest-rank
/// percentiles, in (type, flow) order.
///
/// Each group's totals are gathered into one list of every transaction's,
/// in parallel: each run of [`PER_TASK`] transactions fills its own part of
/// each group's (`group_counts`, per run: [`Groups`]).
pub(super) fn summarize(
    groups: &[(&str, &str)],
    group_of: &[u32],
    group_counts: &[Vec<usize>],
    costs: &[TransactionCost],
    outcomes: &[Outcomes],
) -> Vec<FlowSummary> {
    let runs = group_counts.len();
    let mut totals: Vec<i64> = zeroed(costs.len());
    // Group by group, run by run: a group's totals lie together.
    let lengths = (0..groups.len()).flat_map(|g| group_counts.iter().map(move |run| run[g]));
    let mut parts_of_runs: Vec<Vec<&mut [i64]>> = (0..runs).map(|_| Vec::new()).collect();
    for (k, part) in cut(&mut totals, lengths).into_iter().enumerate() {
        parts_of_runs[k % runs].push(part);
    }
    (parts_of_runs.into_par_iter())
        .zip(
            group_of
                .par_chunks(PER_TASK)
                .zip(costs.par_chunks(PER_TASK)),
        )
        .for_each(|(parts, (group_of, costs))| {
            let mut slots: Vec<_> = parts.into_iter().map(|p| p.iter_mut()).collect();
            for (&g, c) in group_of.iter().zip(costs) {
                *slots[g as usize].next().expect("counted") = c.total;
            }
        });
    let lists = cut(
        &mut totals,
        (0..groups.len()).map(|g| group_counts.iter().map(|run| run[g]).sum()),
    );
    let mut rows: Vec<FlowSummary> = (groups.par_iter().zip(lists).zip(outcomes))
        .map(|((&(ty, flow), values), outcome)| {
            let n = values.len();
            let total: Money = values.iter().map(|&v| Money::from(v)).sum();
            let max = Money::from(*values.iter().max().expect("a group has a transaction"));
            let [p99, p95, p50] = nearest_ranks(values, [99, 95, 50]).map(Money::from);
            FlowSummary {
                transaction_type: ty.to_string(),
                flow: flow.to_string(),
                transactions: n as u64,
                cost: total,
                unit_cost: divide_half_even(total, n as Money),
                p50,
                p95,
                p99,
                max,
                successful: outcome.successful,
                failed_cost: outcome.failed_cost,
                cost_per_success: (outcome.successful > 0)
                    .then(|| divide_half_even(total, Money::from(outcome.successful))),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.transaction_type, &a.flow).cmp(&(&b.transaction_type, &b.flow)));
    rows
}

/// A group's successful transactions and what the others cost.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Outcomes {
    pub successful: u64,
    pub failed_cost: Money,
}

/// Per group: how many transactions ended in one of `success_statuses`
/// (a transaction without a status did not), and what the others cost.
/// A status is looked up once per kind (transactions alike share theirs).
pub(super) fn outcomes(
    groups: usize,
    group_of: &[u32],
    transactions: &[Transaction],
    costs: &[TransactionCost],
    success_statuses: &[String],
) -> Vec<Outcomes> {
    let successful = |k: &Kind| {
        k.status
            .as_deref()
            .is_some_and(|s| success_statuses.iter().any(|ok| ok == s))
    };
    (transactions.par_chunks(PER_TASK))
        .zip(
            group_of
                .par_chunks(PER_TASK)
                .zip(costs.par_chunks(PER_TASK)),
        )
        .map(|(run, (group_of, costs))| {
            let mut sums = vec![Outcomes::default(); groups];
            let mut last: Option<(*const Kind, bool)> = None;
            for ((t, &g), c) in run.iter().zip(group_of).zip(costs) {
                let kind = Arc::as_ptr(&t.kind);
                let ok = match last {
                    Some((k, ok)) if k == kind => ok,
                    _ => successful(&t.kind),
                };
                last = Some((kind, ok));
                let sum = &mut sums[g as usize];
                if ok {
                    sum.successful += 1;
                } else {
                    sum.failed_cost += Money::from(c.total);
                }
            }
            sums
        })
        .reduce(
            || vec![Outcomes::default(); groups],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.successful += y.successful;
                    x.failed_cost += y.failed_cost;
                }
                a
            },
        )
}

/// For each of `percents` (descending), the smallest value with at least that
/// percent of `values` (not empty) at or below it; `values` are reordered.
/// Selected, not sorted: each selection leaves the smaller values before it,
/// where the next one looks.
pub fn nearest_ranks<T: Ord + Copy, const N: usize>(
    values: &mut [T],
    percents: [usize; N],
) -> [T; N] {
    let mut upto = values.len();
    percents.map(|percent| {
        let rank = (percent * values.len()).div_ceil(100).max(1);
        assert!(rank <= upto, "percents descend");
        let (_, &mut value, _) = values[..upto].select_nth_unstable(rank - 1);
        upto = rank;
        value
    })
}

/// `numerator / denominator` rounded half-to-even (denominator > 0).
pub fn divide_half_even(numerator: Money, denominator: Money) -> Money {
    let q = numerator.div_euclid(denominator);
    let r = numerator.rem_euclid(denominator);
    match (2 * r).cmp(&denominator) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
        _ => q,
    }
}

/// Sorts `pools` by reason for the unallocated table.
pub fn by_reason(unallocated: &[(Pool, Unallocated)]) -> Vec<&(Pool, Unallocated)> {
    let mut rows: Vec<_> = unallocated.iter().collect();
    rows.sort_by_key(|(p, r)| (*r, Reverse(p.cost.abs()), p.key.clone()));
    rows
}
