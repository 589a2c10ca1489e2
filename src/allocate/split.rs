//! The exact split of one pool (SPEC 4.3): `floor(|C| u_i / U)` for each
//! transaction, the remainder units to the largest fractional remainders,
//! the sign last; a division by `U` made a multiplication.

use rayon::prelude::*;

use super::division::Division;
use super::select::{WORDS_PER_TASK, largest_remainders, largest_remainders_by_sorting};
use crate::model::money::Money;
/// SPEC 4.3 for one pool: each input's share is `floor(|C| * u_i / U)`, plus one
/// unit of 1e-10 USD for the inputs in `bonus`: the `|C| - sum` largest remainders
/// (ties: smaller id first); the sign of C comes last. Keeping only the bonus set
/// (not every share) lets a day's breakdowns be recomputed chunk by chunk.
#[derive(Debug, Clone)]
pub struct Split {
    /// `|C|` and `U`, with the arithmetic of `floor(|C| u / U)`.
    pub(super) division: Division,
    /// C < 0: each share is negated.
    pub(super) negative: bool,
    /// The positions (in the input) that get the extra unit: one bit each.
    pub(super) bonus: Vec<u64>,
    /// The last position (in remainder-descending, id-ascending order) that
    /// got an extra unit, and its remainder: every position before it in that
    /// order did, none after.
    pub(super) last_extra: Option<(u128, u32)>,
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
        let divisions: Vec<Division> = (costs.iter())
            .map(|&cost| Division::new(cost.unsigned_abs(), total_units, max_units))
            .collect();
        let selected = if crate::fast_path::plain() {
            largest_remainders_by_sorting(&divisions, units)
        } else {
            largest_remainders(&divisions, units)
        };
        (costs.iter().zip(divisions).zip(selected))
            .map(|((&cost, division), (bonus, last_extra))| Self {
                division,
                negative: cost < 0,
                bonus,
                last_extra,
            })
            .collect()
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
        let (floor, _) = self.division.floor_and_remainder(units);
        let share = (floor + u128::from(extra)) as Money;
        if self.negative { -share } else { share }
    }

    /// Whether every share fits 64 bits signed: [`Split::narrow_share`] applies.
    pub(super) fn shares_fit_64(&self) -> bool {
        self.division.narrow && self.division.magnitude < 1 << 63
    }

    /// [`Split::share_with`] in 64 bits (only when [`Split::shares_fit_64`]):
    /// a share is at most |C| < 2^63.
    #[inline]
    pub(super) fn narrow_share(&self, units: u64, extra: bool) -> i64 {
        let (floor, _) = self.division.narrow_floor_and_remainder(units);
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

/// SPEC 4.3: splits `cost` over `units` exactly; shares in input order, summing to `cost`.
pub fn split<Id: Ord + Sync>(cost: Money, units: &[(Id, u64)]) -> Vec<Money> {
    let plan = Split::new(cost, units);
    plan.shares(units.iter().map(|(_, u)| *u)).collect()
}
