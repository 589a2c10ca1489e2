//! Applying a scope's splits (SPEC 4.3, 4.5): each member's shares added to
//! its cost (and to its direct cost for a direct pool), and each pool's
//! (units, cost) summed per (type, flow) group, in parallel over runs.

use rayon::prelude::*;

use super::rows::TransactionCost;
use super::split::Split;
use crate::model::money::Money;

/// Per pool, the (units, cost) of each (type, flow) group.
pub(super) type GroupSums = Vec<Vec<(u128, Money)>>;

/// Adds each pool's shares (`splits`, over the scope's `(index, units)`
/// `members`) to the members' `costs` (to `direct` too for a direct pool), in
/// parallel over runs of members; returns, per pool, the (units, cost) of each
/// of the `groups` (`group_of` a transaction); or a transaction (index) whose
/// cost passed 64 bits on the way, and that sum.
pub(super) fn apply_shares(
    costs: &mut [TransactionCost],
    members: &[(u32, u64)],
    splits: &[Split],
    direct: &[bool],
    group_of: &[u32],
    groups: usize,
) -> std::result::Result<GroupSums, (usize, Money)> {
    const MEMBERS_PER_TASK: usize = 64 * 1024;
    // Cut the costs where the runs of members start: disjoint slices.
    let mut tasks = Vec::new();
    let mut rest = costs;
    let mut base = 0;
    for start in (0..members.len()).step_by(MEMBERS_PER_TASK) {
        let end = (start + MEMBERS_PER_TASK).min(members.len());
        let upto = members
            .get(end)
            .map_or(base + rest.len(), |&(i, _)| i as usize);
        let (slice, tail) = std::mem::take(&mut rest).split_at_mut(upto - base);
        tasks.push((start..end, base, slice));
        rest = tail;
        base = upto;
    }
    let sums: Vec<Vec<Vec<(u128, Money)>>> = tasks
        .into_par_iter()
        .map(|(positions, base, costs)| {
            let mut sums = vec![vec![(0u128, 0 as Money); groups]; splits.len()];
            for ((split, &direct), sums) in splits.iter().zip(direct).zip(&mut sums) {
                if split.shares_fit_64() {
                    // In 64 bits: a group's units of the run are at most
                    // U < 2^64, its shares at most |C| < 2^63.
                    let mut narrow_sums = vec![(0u64, 0i64); groups];
                    for position in positions.clone() {
                        let (i, units) = members[position];
                        let i = i as usize;
                        let share = split.narrow_share(units, split.extra(position));
                        (costs[i - base].add_narrow(share, direct)).map_err(|sum| (i, sum))?;
                        let g = &mut narrow_sums[group_of[i] as usize];
                        g.0 += units;
                        g.1 += share;
                    }
                    for (sum, (units, cost)) in sums.iter_mut().zip(narrow_sums) {
                        *sum = (u128::from(units), Money::from(cost));
                    }
                    continue;
                }
                for position in positions.clone() {
                    let (i, units) = members[position];
                    let i = i as usize;
                    let share = split.share_with(units, split.extra(position));
                    (costs[i - base].add(share, direct)).map_err(|sum| (i, sum))?;
                    let g = &mut sums[group_of[i] as usize];
                    g.0 += u128::from(units);
                    g.1 += share;
                }
            }
            Ok(sums)
        })
        .collect::<std::result::Result<_, _>>()?;
    let mut total = vec![vec![(0u128, 0 as Money); groups]; splits.len()];
    for task in sums {
        for (total, task) in total.iter_mut().zip(task) {
            for (t, (units, cost)) in total.iter_mut().zip(task) {
                t.0 += units;
                t.1 += cost;
            }
        }
    }
    Ok(total)
}
