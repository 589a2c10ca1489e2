//! The exact split of one pool (SPEC 4.3): `floor(|C| u_i / U)` for each
//! transaction, the remainder units to the largest fractional remainders,
//! the sign last; a division by `U` made a multiplication.

use rayon::prelude::*;

use super::rows::TransactionCost;
use super::select::{WORDS_PER_TASK, largest_remainders, largest_remainders_by_sorting};
use crate::model::money::Money;
/// SPEC 4.3 for one pool: each input's share is `floor(|C| * u_i / U)`, plus one
/// unit of 1e-10 USD for the inputs in `bonus`: the `|C| - sum` largest remainders
/// (ties: smaller id first); the sign of C comes last. Keeping only the bonus set
/// (not every share) lets a day's breakdowns be recomputed chunk by chunk.
#[derive(Debug, Clone)]
pub struct Split {
    pub(super) magnitude: u128,
    pub(super) total_units: u128,
    /// C < 0: each share is negated.
    pub(super) negative: bool,
    /// The positions (in the input) that get the extra unit: one bit each.
    pub(super) bonus: Vec<u64>,
    /// The last position (in remainder-descending, id-ascending order) that
    /// got an extra unit, and its remainder: every position before it in that
    /// order did, none after.
    pub(super) last_extra: Option<(u128, u32)>,
    /// `|C| = q U + r`, so `floor(|C| u / U) = q u + floor(r u / U)` and the
    /// remainder is `r u mod U`: in 64 bits when `U * max u_i` fits (`narrow`),
    /// the usual case, instead of a 128-bit division per input; and by a
    /// multiplication ([`Divisor`]), since every input is divided by `U`.
    pub(super) q: u64,
    pub(super) r: u64,
    pub(super) narrow: bool,
    pub(super) divisor: Divisor,
}

/// Exact division of 64-bit numbers by one divisor `d`, by a multiplication
/// with `m = floor((2^64 - 1) / d)`: `floor(x m / 2^64)` is `floor(x / d)`
/// or one below it (`m >= (2^64 - d) / d`, so `x m / 2^64 > x / d - 1`),
/// which one branch-free step corrects. A division instruction costs several
/// times the multiplication, and a day divides 27 times a transaction in
/// each of three passes (the split's plan, its shares, the breakdowns).
#[derive(Debug, Clone, Copy)]
pub(super) struct Divisor {
    pub(super) d: u64,
    pub(super) m: u64,
}

impl Divisor {
    pub(super) fn new(d: u64) -> Self {
        assert!(d > 0, "division by zero");
        Self { d, m: u64::MAX / d }
    }

    /// `(x / d, x % d)`.
    #[inline]
    pub(super) fn div_rem(self, x: u64) -> (u64, u64) {
        let mut q = ((u128::from(x) * u128::from(self.m)) >> 64) as u64;
        let mut r = x - q * self.d; // q <= x / d
        let over = u64::from(r >= self.d);
        q += over;
        r -= over * self.d;
        (q, r)
    }
}

impl Split {
    /// Plans the split of `cost` over `units`; `U` must be positive.
    pub fn new<Id: Ord + Sync>(cost: Money, units: &[(Id, u64)]) -> Self {
        Self::plan(&[cost], units).pop().expect("a split per cost")
    }

    /// Plans the splits of `costs` over the same `units` (the pools of one
    /// scope) together, in parallel: each pass over the members serves
    /// every pool; `U` must be positive.
    pub fn plan<Id: Ord + Sync>(costs: &[Money], units: &[(Id, u64)]) -> Vec<Self> {
        let (total_units, max_units) = units
            .par_chunks(64 * WORDS_PER_TASK)
            .map(|run| {
                let total: u128 = run.iter().map(|(_, u)| u128::from(*u)).sum();
                (total, run.iter().map(|(_, u)| *u).max().unwrap_or(0))
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.max(b.1)));
        assert!(total_units > 0, "split needs driver units");
        let mut splits: Vec<Self> = (costs.iter())
            .map(|&cost| Self::unselected(cost, total_units, max_units))
            .collect();
        let selected = if crate::fast_path::plain() {
            largest_remainders_by_sorting(&splits, units)
        } else {
            largest_remainders(&splits, units)
        };
        for (split, (bonus, last_extra)) in splits.iter_mut().zip(selected) {
            split.bonus = bonus;
            split.last_extra = last_extra;
        }
        splits
    }

    /// The split of `cost` over units that sum to `total_units` (at most
    /// `max_units` each), before the largest remainders are selected.
    pub(super) fn unselected(cost: Money, total_units: u128, max_units: u64) -> Self {
        let magnitude = cost.unsigned_abs();
        // The plain twin computes every split in 128 bits.
        let narrow = !crate::fast_path::plain()
            && magnitude < 1 << 64
            && total_units
                .checked_mul(max_units as u128)
                .is_some_and(|p| p < 1 << 64);
        let (q, r) = if narrow {
            (
                (magnitude / total_units) as u64,
                (magnitude % total_units) as u64,
            )
        } else {
            (0, 0)
        };
        Self {
            magnitude,
            total_units,
            negative: cost < 0,
            bonus: Vec::new(),
            last_extra: None,
            q,
            r,
            narrow,
            divisor: Divisor::new(if narrow { total_units as u64 } else { 1 }),
        }
    }

    /// `floor(|C| u / U)` and `|C| u mod U` in 64 bits (only when `narrow`).
    #[inline]
    pub(super) fn narrow_floor_and_remainder(&self, units: u64) -> (u64, u64) {
        let scaled = self.r * units; // r < U and U * u < 2^64
        let (floor, remainder) = self.divisor.div_rem(scaled);
        (self.q * units + floor, remainder) // the floor <= |C| < 2^64
    }

    /// `floor(|C| u / U)` and `|C| u mod U`.
    #[inline]
    pub(super) fn floor_and_remainder(&self, units: u64) -> (u128, u128) {
        if self.narrow {
            let (floor, remainder) = self.narrow_floor_and_remainder(units);
            (u128::from(floor), u128::from(remainder))
        } else {
            let product = self.magnitude * units as u128; // < 1e19 * 2^64: fits u128 for DECIMAL(18,10) pools
            (product / self.total_units, product % self.total_units)
        }
    }

    /// Whether the input at `position` gets the extra unit.
    pub(super) fn extra(&self, position: usize) -> bool {
        (self.bonus.get(position / 64)).is_some_and(|word| word >> (position % 64) & 1 == 1)
    }

    /// How many positions get the extra unit.
    pub(super) fn extras(&self) -> u64 {
        self.bonus
            .iter()
            .map(|word| u64::from(word.count_ones()))
            .sum()
    }

    pub(super) fn share_with(&self, units: u64, extra: bool) -> Money {
        let (floor, _) = self.floor_and_remainder(units);
        let share = (floor + u128::from(extra)) as Money;
        if self.negative { -share } else { share }
    }

    /// Whether every share fits 64 bits signed: [`Split::narrow_share`] applies.
    pub(super) fn shares_fit_64(&self) -> bool {
        self.narrow && self.magnitude < 1 << 63
    }

    /// [`Split::share_with`] in 64 bits (only when [`Split::shares_fit_64`]):
    /// a share is at most |C| < 2^63.
    #[inline]
    pub(super) fn narrow_share(&self, units: u64, extra: bool) -> i64 {
        let (floor, _) = self.narrow_floor_and_remainder(units);
        let share = (floor + u64::from(extra)) as i64;
        if self.negative { -share } else { share }
    }

    /// The shares of all inputs in order, walking the bonus set once.
    pub fn shares<'a>(
        &'a self,
        units: impl IntoIterator<Item = u64> + 'a,
    ) -> impl Iterator<Item = Money> + 'a {
        (units.into_iter().enumerate())
            .map(move |(position, u)| self.share_with(u, self.extra(position)))
    }
}

/// A split's extra units: one bit a position, and the last (its remainder,
/// its position) in remainder-descending, id-ascending order.
pub(super) type Extras = (Vec<u64>, Option<(u128, u32)>);

/// SPEC 4.3: splits `cost` over `units` exactly; shares in input order, summing to `cost`.
pub fn split<Id: Ord + Sync>(cost: Money, units: &[(Id, u64)]) -> Vec<Money> {
    let plan = Split::new(cost, units);
    plan.shares(units.iter().map(|(_, u)| *u)).collect()
}

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
