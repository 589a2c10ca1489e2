//! Allocation (SPEC 4), all of it in this file: the day's pools, their scope and
//! driver units, the exact largest-remainder split, unallocated pools, the
//! direct/shared split, the per-flow aggregates, and the conservation identity.
//! Pure: CUR pools and classified transactions in, allocated money out.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rayon::prelude::*;

use crate::classify::FlowCatalog;
use crate::model::RuleRef;
use crate::model::money::{self, Money};
use crate::model::{CurDay, PoolKey};
use crate::model::{Transaction, TransactionType};
use crate::pricing::{Pricing, UnitKeys};
use crate::{Error, FastMap, Result};

/// Why a pool was not allocated (SPEC 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unallocated {
    NoDriverUnits,
    Policy,
    UnknownTagValue,
}

impl Unallocated {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoDriverUnits => "no_driver_units",
            Self::Policy => "policy",
            Self::UnknownTagValue => "unknown_tag_value",
        }
    }
}

/// A pool, ready to split.
#[derive(Debug, Clone)]
pub struct Pool {
    pub key: PoolKey,
    pub cost: Money,
    /// The driver units to count; `None` when the pool cannot be allocated.
    pub unit_key: Result<u16, Unallocated>,
    pub flow: Option<String>,
    pub transaction_type: Option<TransactionType>,
}

impl Pool {
    /// SPEC 4.5: tagged with a flow or a type means direct.
    pub fn is_direct(&self) -> bool {
        self.key.tag_flow.is_some() || self.key.tag_transaction_type.is_some()
    }
}

/// SPEC 4.1, 4.2, 4.4: orders the pools, resolves their tags against the catalog,
/// and numbers the (driver, service) units the logs must yield.
pub fn plan_pools(day: &CurDay, pricing: &Pricing, catalog: &FlowCatalog) -> (Vec<Pool>, UnitKeys) {
    let mut entries: Vec<(&PoolKey, &Money)> = day.pools.iter().collect();
    entries.sort();
    let mut keys = UnitKeys::default();
    let pools = entries
        .into_iter()
        .map(|(key, &cost)| {
            let rule = pricing.rule(key.rule);
            let transaction_type = key
                .tag_transaction_type
                .as_deref()
                .map(TransactionType::parse);
            let flow_known = key
                .tag_flow
                .as_deref()
                .is_none_or(|f| catalog.type_of(f).is_some());
            let unit_key = if matches!(transaction_type, Some(None)) || !flow_known {
                Err(Unallocated::UnknownTagValue)
            } else {
                let service = key.tag_service.as_deref().or(rule.service.as_deref());
                keys.intern(&rule.driver, service)
                    .ok_or(Unallocated::Policy)
            };
            Pool {
                key: key.clone(),
                cost,
                unit_key,
                flow: key.tag_flow.clone(),
                transaction_type: transaction_type.flatten(),
            }
        })
        .collect();
    (pools, keys)
}

/// SPEC 4.3 for one pool: each input's share is `floor(|C| * u_i / U)`, plus one
/// unit of 1e-10 USD for the inputs in `bonus`: the `|C| - sum` largest remainders
/// (ties: smaller id first); the sign of C comes last. Keeping only the bonus set
/// (not every share) lets a day's breakdowns be recomputed chunk by chunk.
#[derive(Debug, Clone)]
pub struct Split {
    magnitude: u128,
    total_units: u128,
    /// C < 0: each share is negated.
    negative: bool,
    /// The positions (in the input) that get the extra unit: one bit each.
    bonus: Vec<u64>,
    /// The last position (in remainder-descending, id-ascending order) that
    /// got an extra unit, and its remainder: every position before it in that
    /// order did, none after.
    last_extra: Option<(u128, u32)>,
    /// `|C| = q U + r`, so `floor(|C| u / U) = q u + floor(r u / U)` and the
    /// remainder is `r u mod U`: in 64 bits when `U * max u_i` fits (`narrow`),
    /// the usual case, instead of a 128-bit division per input; and by a
    /// multiplication ([`Divisor`]), since every input is divided by `U`.
    q: u64,
    r: u64,
    narrow: bool,
    divisor: Divisor,
}

/// Exact division of 64-bit numbers by one divisor `d`, by a multiplication
/// with `m = floor((2^64 - 1) / d)`: `floor(x m / 2^64)` is `floor(x / d)`
/// or one below it (`m >= (2^64 - d) / d`, so `x m / 2^64 > x / d - 1`),
/// which one branch-free step corrects. A division instruction costs several
/// times the multiplication, and a day divides 27 times a transaction in
/// each of three passes (the split's plan, its shares, the breakdowns).
#[derive(Debug, Clone, Copy)]
struct Divisor {
    d: u64,
    m: u64,
}

impl Divisor {
    fn new(d: u64) -> Self {
        assert!(d > 0, "division by zero");
        Self { d, m: u64::MAX / d }
    }

    /// `(x / d, x % d)`.
    #[inline]
    fn div_rem(self, x: u64) -> (u64, u64) {
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
        let selected = largest_remainders(&splits, units);
        for (split, (bonus, last_extra)) in splits.iter_mut().zip(selected) {
            split.bonus = bonus;
            split.last_extra = last_extra;
        }
        splits
    }

    /// The split of `cost` over units that sum to `total_units` (at most
    /// `max_units` each), before the largest remainders are selected.
    fn unselected(cost: Money, total_units: u128, max_units: u64) -> Self {
        let magnitude = cost.unsigned_abs();
        let narrow = magnitude < 1 << 64
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
    fn narrow_floor_and_remainder(&self, units: u64) -> (u64, u64) {
        let scaled = self.r * units; // r < U and U * u < 2^64
        let (floor, remainder) = self.divisor.div_rem(scaled);
        (self.q * units + floor, remainder) // the floor <= |C| < 2^64
    }

    /// `floor(|C| u / U)` and `|C| u mod U`.
    #[inline]
    fn floor_and_remainder(&self, units: u64) -> (u128, u128) {
        if self.narrow {
            let (floor, remainder) = self.narrow_floor_and_remainder(units);
            (u128::from(floor), u128::from(remainder))
        } else {
            let product = self.magnitude * units as u128; // < 1e19 * 2^64: fits u128 for DECIMAL(18,10) pools
            (product / self.total_units, product % self.total_units)
        }
    }

    /// Whether the input at `position` gets the extra unit.
    fn extra(&self, position: usize) -> bool {
        (self.bonus.get(position / 64)).is_some_and(|word| word >> (position % 64) & 1 == 1)
    }

    /// How many positions get the extra unit.
    fn extras(&self) -> u64 {
        self.bonus
            .iter()
            .map(|word| u64::from(word.count_ones()))
            .sum()
    }

    fn share_with(&self, units: u64, extra: bool) -> Money {
        let (floor, _) = self.floor_and_remainder(units);
        let share = (floor + u128::from(extra)) as Money;
        if self.negative { -share } else { share }
    }

    /// Whether every share fits 64 bits signed: [`Split::narrow_share`] applies.
    fn shares_fit_64(&self) -> bool {
        self.narrow && self.magnitude < 1 << 63
    }

    /// [`Split::share_with`] in 64 bits (only when [`Split::shares_fit_64`]):
    /// a share is at most |C| < 2^63.
    #[inline]
    fn narrow_share(&self, units: u64, extra: bool) -> i64 {
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
type Extras = (Vec<u64>, Option<(u128, u32)>);

/// For each of `splits` (one `U`, the sum of `units`): the positions of its
/// `|C| - sum of floors` largest remainders, ties to the smaller id, one bit
/// each, and the last of them in that order with its remainder.
///
/// In parallel, and without a list of every remainder (a radix selection):
/// a pass counts the remainders in [`BUCKETS`] ranges of equal width (the
/// first also sums the floors); the ranges above the one that holds the last
/// extra unit all get one, and that range is counted again in finer ranges
/// until it holds at most [`SELECT_AMONG`] members or one remainder. A last
/// pass sets the bits above it and lists its members, among which the rest
/// are selected; or, when it is one remainder and the ids ascend (ties in
/// position order), counts them, and the first are set by one more pass.
/// Each pass serves every split, a run of members at a time.
fn largest_remainders<Id: Ord + Sync>(splits: &[Split], units: &[(Id, u64)]) -> Vec<Extras> {
    let words = units.len().div_ceil(64);
    let tasks = words.div_ceil(WORDS_PER_TASK);
    let ids_ascend = units.par_windows(2).all(|w| w[0].0 < w[1].0);
    // The same units for every input (a driver of one a transaction): the same
    // remainder for all, so the extra units go to the smallest ids, the first
    // positions when the ids ascend; nothing to select.
    if let Some(&(_, same)) = units.first()
        && ids_ascend
        && units.par_iter().all(|(_, u)| *u == same)
    {
        return (splits.iter())
            .map(|split| {
                let (floor, remainder) = split.floor_and_remainder(same);
                let leftover = (split.magnitude - floor * units.len() as u128) as usize; // < the inputs
                if leftover == 0 {
                    return (Vec::new(), None);
                }
                let mut bonus = vec![0u64; words];
                let (full_words, bits) = (leftover / 64, leftover % 64);
                bonus[..full_words].fill(u64::MAX);
                if bits > 0 {
                    bonus[full_words] = (1 << bits) - 1;
                }
                (bonus, Some((remainder, leftover as u32 - 1)))
            })
            .collect();
    }
    // Every search starts over all remainders, below U.
    let mut searches: Vec<Search> = (splits.iter())
        .map(|split| Search {
            lo: 0,
            span: 128 - (split.total_units - 1).leading_zeros(),
            wanted: 0,
            done: false,
        })
        .collect();
    let everyone: Vec<usize> = (0..splits.len()).collect();
    let (handed, counts) = count_remainders(splits, units, &searches, &everyone);
    for (p, search) in searches.iter_mut().enumerate() {
        search.wanted = (splits[p].magnitude - handed[p]) as usize; // the leftover
        if search.wanted == 0 {
            search.done = true; // no extra unit: nothing to select
        } else {
            search.narrow(&counts[p * BUCKETS..][..BUCKETS]);
        }
    }
    loop {
        let counting: Vec<usize> = (0..splits.len()).filter(|&p| !searches[p].done).collect();
        if counting.is_empty() {
            break;
        }
        let (_, counts) = count_remainders(splits, units, &searches, &counting);
        for (j, &p) in counting.iter().enumerate() {
            searches[p].narrow(&counts[j * BUCKETS..][..BUCKETS]);
        }
    }
    let selecting: Vec<usize> = (0..splits.len())
        .filter(|&p| searches[p].wanted > 0)
        .collect();
    // One remainder in the last range, ids ascending: its first members get the rest.
    let in_order = |p: usize| ids_ascend && searches[p].span == 0;
    let mut bonuses: Vec<Vec<u64>> = (searches.iter())
        .map(|s| {
            if s.wanted > 0 {
                vec![0u64; words]
            } else {
                Vec::new()
            }
        })
        .collect();
    // Per task, per selecting split: its members in the last range, listed
    // (unless `in_order`) and counted; the bits above the range set.
    let found: Vec<Vec<(Vec<u32>, u32)>> = task_parts(&mut bonuses, &selecting, tasks)
        .into_par_iter()
        .zip(units.par_chunks(64 * WORDS_PER_TASK))
        .enumerate()
        .map(|(task, (mut parts, run))| {
            let first = task * 64 * WORDS_PER_TASK;
            (selecting.iter().zip(&mut parts))
                .map(|(&p, words)| {
                    let (split, search) = (&splits[p], searches[p]);
                    let above = search.lo + (1 << search.span);
                    let (mut listed, mut count) = (Vec::new(), 0);
                    for (i, (_, u)) in run.iter().enumerate() {
                        let (_, remainder) = split.floor_and_remainder(*u);
                        if remainder >= above {
                            words[i / 64] |= 1 << (i % 64);
                        } else if remainder >= search.lo {
                            count += 1;
                            if !in_order(p) {
                                listed.push((first + i) as u32);
                            }
                        }
                    }
                    (listed, count)
                })
                .collect()
        })
        .collect();
    let mut last_extras: Vec<Option<u32>> = vec![None; splits.len()];
    // Ties in position order: each task sets the bits of as many of its
    // members in the range as the tasks before it left.
    let ordered: Vec<usize> = (selecting.iter().copied())
        .filter(|&p| in_order(p))
        .collect();
    let quotas: Vec<Vec<u32>> = {
        let mut left: Vec<u32> = (ordered.iter())
            .map(|&p| searches[p].wanted as u32)
            .collect();
        (found.iter())
            .map(|task| {
                (ordered.iter().zip(&mut left))
                    .map(|(&p, left)| {
                        let j = selecting.binary_search(&p).expect("selecting");
                        let quota = task[j].1.min(*left);
                        *left -= quota;
                        quota
                    })
                    .collect()
            })
            .collect()
    };
    let lasts: Vec<Vec<Option<u32>>> = task_parts(&mut bonuses, &ordered, tasks)
        .into_par_iter()
        .zip(units.par_chunks(64 * WORDS_PER_TASK))
        .zip(&quotas)
        .enumerate()
        .map(|(task, ((mut parts, run), quotas))| {
            let first = task * 64 * WORDS_PER_TASK;
            (ordered.iter().zip(&mut parts).zip(quotas))
                .map(|((&p, words), &quota)| {
                    let (split, lo) = (&splits[p], searches[p].lo);
                    let mut last = None;
                    let mut members = run.iter().enumerate();
                    for _ in 0..quota {
                        let i = (members.by_ref())
                            .find(|(_, (_, u))| split.floor_and_remainder(*u).1 == lo)
                            .expect("counted")
                            .0;
                        words[i / 64] |= 1 << (i % 64);
                        last = Some((first + i) as u32);
                    }
                    last
                })
                .collect()
        })
        .collect();
    for (k, &p) in ordered.iter().enumerate() {
        last_extras[p] = lasts.iter().filter_map(|task| task[k]).next_back();
    }
    // Otherwise selected from the list: remainder descending, then id
    // ascending (by id alone at one remainder).
    let listed: Vec<(usize, Vec<u32>)> = (selecting.iter().enumerate())
        .filter(|&(_, &p)| !in_order(p))
        .map(|(j, &p)| {
            (
                p,
                found.iter().flat_map(|task| &task[j].0).copied().collect(),
            )
        })
        .collect();
    let selected: Vec<(usize, u32, Vec<u32>)> = (listed.into_par_iter())
        .map(|(p, mut in_range)| {
            let (split, taken) = (&splits[p], searches[p].wanted);
            let remainder = |i: u32| split.floor_and_remainder(units[i as usize].1).1;
            let id = |i: u32| &units[i as usize].0;
            let by_id = |a: &u32, b: &u32| id(*a).cmp(id(*b));
            let by_remainder =
                |a: &u32, b: &u32| remainder(*b).cmp(&remainder(*a)).then_with(|| by_id(a, b));
            let order: &(dyn Fn(&u32, &u32) -> std::cmp::Ordering + Sync) = if searches[p].span == 0
            {
                &by_id
            } else {
                &by_remainder
            };
            // The `taken` first in that order; the last of them is in its
            // place after a selection, found among them when all are taken.
            let last = if taken < in_range.len() {
                in_range.select_nth_unstable_by(taken - 1, order);
                in_range[taken - 1]
            } else {
                *in_range
                    .iter()
                    .max_by(|a, b| order(a, b))
                    .expect("the last range has the members counted")
            };
            in_range.truncate(taken);
            (p, last, in_range)
        })
        .collect();
    for (p, last, taken) in selected {
        for i in taken {
            bonuses[p][i as usize / 64] |= 1 << (i % 64);
        }
        last_extras[p] = Some(last);
    }
    (bonuses.into_iter().zip(last_extras).enumerate())
        .map(|(p, (bonus, last))| {
            let last = last.map(|i| (splits[p].floor_and_remainder(units[i as usize].1).1, i));
            (bonus, last)
        })
        .collect()
}

/// Each task's words ([`WORDS_PER_TASK`] a task) of the bonus sets at
/// `which` (ascending), in that order.
fn task_parts<'b>(
    bonuses: &'b mut [Vec<u64>],
    which: &[usize],
    tasks: usize,
) -> Vec<Vec<&'b mut [u64]>> {
    let mut parts: Vec<Vec<&mut [u64]>> = (0..tasks)
        .map(|_| Vec::with_capacity(which.len()))
        .collect();
    for (_, bonus) in
        (bonuses.iter_mut().enumerate()).filter(|(p, _)| which.binary_search(p).is_ok())
    {
        for (task, part) in parts.iter_mut().zip(bonus.chunks_mut(WORDS_PER_TASK)) {
            task.push(part);
        }
    }
    parts
}

/// Where a split's last extra unit is being looked for: among the remainders
/// of `lo..lo + 2^span`, of which the `wanted` largest get one (every
/// remainder above the range does); `done` once the range is small enough to
/// select among.
#[derive(Debug, Clone, Copy)]
struct Search {
    lo: u128,
    span: u32,
    wanted: usize,
    done: bool,
}

impl Search {
    /// The range's buckets are `2^shift` wide: [`BUCKETS`] of them, or fewer
    /// of width one.
    fn shift(self) -> u32 {
        self.span.saturating_sub(BUCKET_BITS)
    }

    /// The bucket of `remainder`, if it is in the range.
    #[inline]
    fn bucket(self, remainder: u128) -> Option<usize> {
        let offset = remainder.checked_sub(self.lo)?;
        (offset >> self.span == 0).then_some((offset >> self.shift()) as usize)
    }

    /// Narrows the range to the bucket of `counts` (the range's, counted)
    /// that holds the last extra unit.
    fn narrow(&mut self, counts: &[u32]) {
        let mut above = 0;
        let (bucket, members) = (0..BUCKETS)
            .rev()
            .find_map(|b| {
                let count = counts[b] as usize;
                if above + count >= self.wanted {
                    Some((b, count))
                } else {
                    above += count;
                    None
                }
            })
            .expect("the range holds the wanted remainders");
        self.wanted -= above;
        self.lo += (bucket as u128) << self.shift();
        self.span = self.shift();
        self.done = members <= SELECT_AMONG || self.span == 0;
    }
}

/// For the `splits` at `which`: their members' remainders counted in the
/// [`BUCKETS`] ranges of each one's search (in `which`'s order), and the sum
/// of each split's floors (at the split's index).
fn count_remainders<Id: Sync>(
    splits: &[Split],
    units: &[(Id, u64)],
    searches: &[Search],
    which: &[usize],
) -> (Vec<u128>, Vec<u32>) {
    units
        .par_chunks(64 * WORDS_PER_TASK)
        .map(|run| {
            let mut handed = vec![0u128; splits.len()];
            let mut counts = vec![0u32; which.len() * BUCKETS];
            for (&p, counts) in which.iter().zip(counts.chunks_mut(BUCKETS)) {
                let (split, search) = (&splits[p], searches[p]);
                handed[p] = if split.narrow {
                    // Remainders below U < 2^64: the range in 64 bits, and
                    // the floors sum to at most |C| < 2^64.
                    let (lo, span, shift) = (search.lo as u64, search.span, search.shift());
                    let mut handed = 0u64;
                    for (_, u) in run {
                        let (floor, remainder) = split.narrow_floor_and_remainder(*u);
                        handed += floor;
                        let offset = remainder.wrapping_sub(lo);
                        if remainder >= lo && offset.checked_shr(span).unwrap_or(0) == 0 {
                            counts[(offset >> shift) as usize] += 1;
                        }
                    }
                    u128::from(handed)
                } else {
                    let mut handed = 0u128;
                    for (_, u) in run {
                        let (floor, remainder) = split.floor_and_remainder(*u);
                        handed += floor;
                        if let Some(b) = search.bucket(remainder) {
                            counts[b] += 1;
                        }
                    }
                    handed
                };
            }
            (handed, counts)
        })
        .reduce(
            || (vec![0; splits.len()], vec![0; which.len() * BUCKETS]),
            |(mut handed, mut counts), (more_handed, more_counts)| {
                handed
                    .iter_mut()
                    .zip(more_handed)
                    .for_each(|(a, b)| *a += b);
                counts
                    .iter_mut()
                    .zip(more_counts)
                    .for_each(|(a, b)| *a += b); // < the inputs < 2^32
                (handed, counts)
            },
        )
}

/// Ranges a pass of [`largest_remainders`] counts remainders in.
const BUCKETS: usize = 1 << BUCKET_BITS;
const BUCKET_BITS: u32 = 12;

/// A last range of at most this many members is selected among; a larger
/// one is counted again in finer ranges (unless it is one remainder).
const SELECT_AMONG: usize = 64 * 1024;

/// Bonus words (64 members each) a task of [`largest_remainders`] takes.
const WORDS_PER_TASK: usize = 1024;

/// SPEC 4.3: splits `cost` over `units` exactly; shares in input order, summing to `cost`.
pub fn split<Id: Ord + Sync>(cost: Money, units: &[(Id, u64)]) -> Vec<Money> {
    let plan = Split::new(cost, units);
    plan.shares(units.iter().map(|(_, u)| *u)).collect()
}

/// Per pool, the (units, cost) of each (type, flow) group.
type GroupSums = Vec<Vec<(u128, Money)>>;

/// Adds each pool's shares (`splits`, over the scope's `(index, units)`
/// `members`) to the members' `costs` (to `direct` too for a direct pool), in
/// parallel over runs of members; returns, per pool, the (units, cost) of each
/// of the `groups` (`group_of` a transaction); or a transaction (index) whose
/// cost passed 64 bits on the way, and that sum.
fn apply_shares(
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
    total: i64,
    direct: i64,
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
    fn add(&mut self, share: Money, direct: bool) -> Result<(), Money> {
        match i64::try_from(share) {
            Ok(share) => self.add_narrow(share, direct),
            Err(_) => Err(Money::from(self.total) + share),
        }
    }

    /// [`TransactionCost::add`] of a share that fits 64 bits.
    #[inline]
    fn add_narrow(&mut self, share: i64, direct: bool) -> Result<(), Money> {
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
struct AllocatedPool {
    line: u32,
    unit_key: u16,
    split: Split,
    /// Its scope in [`Allocation::scopes`]: the split's positions are the
    /// scope's members in index order.
    scope: u32,
    key: PoolKey,
    cost: Money,
    /// The last transaction (by remainder, then id) that got a remainder unit:
    /// its remainder and index. Any transaction's extra unit follows from it.
    last_extra: Option<(u128, u32)>,
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
    pub cur_final: bool,
}

/// Everything the sinks write for one day.
#[derive(Debug)]
pub struct Allocation {
    /// Per transaction, in the order of the input transactions.
    pub costs: Vec<TransactionCost>,
    /// Allocated pools, grouped by unit key, to recompute breakdowns.
    allocated: Vec<AllocatedPool>,
    /// The distinct scopes of the allocated pools.
    scopes: Vec<Scope>,
    /// Each transaction's (type, flow) group.
    group_of: Vec<u32>,
    /// The allocated pools that charge a transaction of group `g` for its
    /// units of key `k`, at `g * keys + k`: each pool's scope admits `g`.
    charging: Vec<Vec<u32>>,
    /// The unit keys [`Allocation::charging`] is laid out by.
    keys: usize,
    /// The breakdown lines: (product code, rule), sorted.
    pub lines: Vec<(String, RuleRef)>,
    pub flow_costs: Vec<FlowCost>,
    pub flow_summary: Vec<FlowSummary>,
    /// Unallocated pools and why.
    pub unallocated: Vec<(Pool, Unallocated)>,
    pub totals: Totals,
}

/// A scope: the transactions with units for a key, of a flow (if tagged) and type (if tagged).
type ScopeKey<'a> = (u16, Option<&'a str>, Option<TransactionType>);

/// A scope as the breakdowns find its members again, without a list of them: a
/// transaction is a member when it has units for `key` and `admits` its (type,
/// flow) group; `before[b]` counts the members below transaction `b *`
/// [`Scope::BLOCK`], so a run of transactions finds its first position.
#[derive(Debug, Clone)]
struct Scope {
    key: u16,
    admits: Vec<bool>,
    members: u64,
    before: Vec<u32>,
}

impl Scope {
    const BLOCK: usize = 32;

    /// `t`'s units for the scope's key when its `group` is admitted; 0 when
    /// it is not a member.
    fn units_of(&self, t: &Transaction, group: u32) -> u64 {
        if self.admits[group as usize] {
            t.units.get(self.key)
        } else {
            0
        }
    }

    /// The scope's members with their units, in index order, out of `with_key`
    /// (the day's transactions with units for the scope's key, [`with_units`]):
    /// all of them when the scope admits every group, else those it admits (in
    /// place when `with_key` is owned: the key's last scope). Sets `members`
    /// and `before` (`n`: the day's transactions).
    fn collect<'k>(
        &mut self,
        with_key: Cow<'k, [(u32, u64)]>,
        group_of: &[u32],
        n: usize,
    ) -> Cow<'k, [(u32, u64)]> {
        let admitted = |&(i, _): &(u32, u64)| self.admits[group_of[i as usize] as usize];
        let members = match with_key {
            all if self.admits.iter().all(|&a| a) => all,
            // In parallel, in place: each run keeps its admitted members at its
            // front, then the runs are moved together.
            Cow::Owned(mut list) => {
                let kept: Vec<usize> = (list.par_chunks_mut(PER_TASK))
                    .map(|run| {
                        let mut kept = 0;
                        for at in 0..run.len() {
                            if admitted(&run[at]) {
                                run[kept] = run[at];
                                kept += 1;
                            }
                        }
                        kept
                    })
                    .collect();
                let mut len = 0;
                for (run, kept) in kept.into_iter().enumerate() {
                    list.copy_within(run * PER_TASK..run * PER_TASK + kept, len);
                    len += kept;
                }
                list.truncate(len);
                Cow::Owned(list)
            }
            // Counted first, then copied, both in parallel: sized once.
            Cow::Borrowed(list) => {
                let counts: Vec<usize> = (list.par_chunks(PER_TASK))
                    .map(|run| run.iter().filter(|m| admitted(m)).count())
                    .collect();
                let mut admitted_list = zeroed(counts.iter().sum());
                (cut(&mut admitted_list, counts).into_par_iter())
                    .zip(list.par_chunks(PER_TASK))
                    .for_each(|(part, run)| {
                        (part.iter_mut())
                            .zip(run.iter().filter(|m| admitted(m)))
                            .for_each(|(slot, m)| *slot = *m);
                    });
                Cow::Owned(admitted_list)
            }
        };
        // In parallel over runs of blocks, each walking its own members.
        let mut before = vec![0u32; n.div_ceil(Self::BLOCK) + 1];
        const BLOCKS_PER_TASK: usize = PER_TASK / Scope::BLOCK;
        (before.par_chunks_mut(BLOCKS_PER_TASK).enumerate()).for_each(|(task, part)| {
            let first = task * BLOCKS_PER_TASK * Self::BLOCK;
            let mut at = members.partition_point(|&(i, _)| (i as usize) < first);
            for (b, slot) in part.iter_mut().enumerate() {
                let end = first + b * Self::BLOCK;
                while members.get(at).is_some_and(|&(i, _)| (i as usize) < end) {
                    at += 1;
                }
                *slot = at as u32;
            }
        });
        self.members = members.len() as u64;
        self.before = before;
        members
    }

    /// The position in the scope of the first member at or after transaction `start`.
    fn position(&self, start: usize, transactions: &[Transaction], group_of: &[u32]) -> usize {
        let block = start / Self::BLOCK;
        let before_start = (block * Self::BLOCK..start)
            .filter(|&i| self.units_of(&transactions[i], group_of[i]) > 0)
            .count();
        self.before[block] as usize + before_start
    }
}

/// The day's (type, flow) groups, in order, each transaction's and how many
/// transactions each has.
struct Groups<'a> {
    groups: Vec<(&'a str, &'a str)>,
    counts: Vec<u64>,
    /// Per run of [`PER_TASK`] transactions, how many each group has.
    task_counts: Vec<Vec<usize>>,
    of: Vec<u32>,
}

impl<'a> Groups<'a> {
    /// A transaction's group follows from its [`Kind`](crate::model::Kind),
    /// which the transactions alike share: the distinct kinds (a few hundred)
    /// are found by pointer and grouped by their texts, then each transaction
    /// looks its kind up, in parallel.
    fn of(transactions: &'a [Transaction]) -> Self {
        let kind = |t: &Transaction| Arc::as_ptr(&t.kind) as usize;
        let mut kinds: Vec<&'a Transaction> = transactions
            .par_chunks(PER_TASK)
            .map(|run| {
                let mut seen: FastMap<usize, &'a Transaction> = FastMap::default();
                let mut last = None;
                for t in run {
                    if last != Some(kind(t)) {
                        seen.entry(kind(t)).or_insert(t);
                        last = Some(kind(t));
                    }
                }
                seen.into_values().collect::<Vec<_>>()
            })
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            });
        kinds.sort_unstable_by_key(|t| kind(t));
        kinds.dedup_by_key(|t| kind(t));
        let group = |t: &'a Transaction| (t.type_name(), &*t.kind.flow);
        let mut groups: Vec<(&str, &str)> = kinds.iter().map(|t| group(t)).collect();
        groups.sort_unstable();
        groups.dedup();
        let group_of_kind: FastMap<usize, u32> = (kinds.iter())
            .map(|t| {
                let id = groups.binary_search(&group(t)).expect("every kind's group");
                (kind(t), id as u32)
            })
            .collect();
        let of: Vec<u32> = (transactions.par_iter())
            .map(|t| group_of_kind[&kind(t)])
            .collect();
        let task_counts: Vec<Vec<usize>> = (of.par_chunks(PER_TASK))
            .map(|run| {
                let mut counts = vec![0; groups.len()];
                for &g in run {
                    counts[g as usize] += 1;
                }
                counts
            })
            .collect();
        let counts = (0..groups.len())
            .map(|g| task_counts.iter().map(|run| run[g] as u64).sum())
            .collect();
        Self {
            groups,
            counts,
            task_counts,
            of,
        }
    }
}

/// Transactions a task of [`with_units`] and [`counts_by_key`] takes.
const PER_TASK: usize = 64 * 1024;

/// For each run of [`PER_TASK`] transactions, how many have units for each of
/// the keys below `keys`: one pass over every transaction's pairs, in
/// parallel, for all the keys at once.
fn counts_by_key(transactions: &[Transaction], keys: usize) -> Vec<Vec<usize>> {
    transactions
        .par_chunks(PER_TASK)
        .map(|run| {
            let mut counts = vec![0; keys];
            for t in run {
                for (key, units) in &t.units {
                    if units > 0
                        && let Some(count) = counts.get_mut(key as usize)
                    {
                        *count += 1;
                    }
                }
            }
            counts
        })
        .collect()
}

/// The transactions with units for `key`, as (index, units), in index order,
/// into a list of exactly their number (`counts`: [`counts_by_key`]), each
/// run of transactions filling its own part of the list in parallel.
fn with_units(transactions: &[Transaction], key: u16, counts: &[Vec<usize>]) -> Vec<(u32, u64)> {
    let count = |run: &Vec<usize>| run[key as usize];
    let mut list = zeroed(counts.iter().map(count).sum());
    let parts = cut(&mut list, counts.iter().map(count));
    (parts.into_par_iter())
        .zip(transactions.par_chunks(PER_TASK))
        .enumerate()
        .for_each(|(task, (part, run))| {
            let mut slots = part.iter_mut();
            for (i, t) in (task * PER_TASK..).zip(run) {
                let units = t.units.get(key);
                if units > 0 {
                    *slots.next().expect("counted") = (i as u32, units);
                }
            }
        });
    list
}

/// A list of `n` zeros, written in parallel: a list of a million members or
/// more is new memory, which the OS hands out zeroed page by page as it is
/// first written; `vec![0; n]` has one thread fault in every page.
fn zeroed<T: Default + Send>(n: usize) -> Vec<T> {
    (0..n).into_par_iter().map(|_| T::default()).collect()
}

/// `list` cut into consecutive parts of `lengths` (which sum to at most its length).
fn cut<T>(mut list: &mut [T], lengths: impl IntoIterator<Item = usize>) -> Vec<&mut [T]> {
    (lengths.into_iter())
        .map(|length| {
            let (part, rest) = std::mem::take(&mut list).split_at_mut(length);
            list = rest;
            part
        })
        .collect()
}

/// SPEC 4.2 to 4.6: splits every pool over the transactions in its scope and
/// checks that `cur_total = allocated + unallocated + excluded` exactly.
pub fn allocate(
    date: chrono::NaiveDate,
    day: &CurDay,
    pools: &[Pool],
    transactions: &[Transaction],
    pricing: &Pricing,
) -> Result<Allocation> {
    let Groups {
        groups,
        counts: group_counts,
        task_counts: group_task_counts,
        of: group_of,
    } = Groups::of(transactions);
    // Scopes (the transactions with units for a key, of a flow and type), made
    // once and shared by the pools that have the same one, each with the groups
    // it admits (a flow and type test per group, not per transaction).
    let mut scope_ids: HashMap<ScopeKey<'_>, u32> = HashMap::new();
    let mut scopes: Vec<Scope> = Vec::new();
    for pool in pools {
        if let Ok(key) = pool.unit_key {
            let (flow, ty) = (pool.flow.as_deref(), pool.transaction_type);
            scope_ids.entry((key, flow, ty)).or_insert_with(|| {
                let admits = groups
                    .iter()
                    .map(|&(group_type, group_flow)| {
                        flow.is_none_or(|f| f == group_flow)
                            && ty.is_none_or(|ty| ty.as_str() == group_type)
                    })
                    .collect();
                scopes.push(Scope {
                    key,
                    admits,
                    members: 0,
                    before: Vec::new(),
                });
                scopes.len() as u32 - 1
            });
        }
    }
    let key_count = scopes.iter().map(|s| s.key as usize + 1).max().unwrap_or(0);
    let key_counts = counts_by_key(transactions, key_count);
    // Ties in a split go to the smaller transaction id: compare ranks, not
    // strings (`None`: sorted, the rank is the index).
    let id_rank = id_ranks(transactions);
    // Breakdown lines: (product code, rule), numbered in sorted order.
    let mut lines: Vec<(String, RuleRef)> = pools
        .iter()
        .map(|p| (p.key.product_code.clone(), p.key.rule))
        .collect();
    lines.sort();
    lines.dedup();
    let line_of = |p: &Pool| {
        lines
            .binary_search_by(|(c, r)| {
                (c.as_str(), *r).cmp(&(p.key.product_code.as_str(), p.key.rule))
            })
            .expect("every pool has a line") as u32
    };

    let mut costs: Vec<TransactionCost> = zeroed(transactions.len());
    let mut flow_acc: HashMap<(u32, u32, bool), (u128, Money)> = HashMap::new();
    let mut unallocated = Vec::new();
    let mut allocated_pools = Vec::new();
    // Pools grouped by scope, so each scope's (rank, units) list is built once and
    // shared by its pools (same scope, same key, same units). Order changes no
    // result: every output is a sum or is sorted.
    let scope_of = |p: &Pool| {
        p.unit_key
            .ok()
            .map(|key| scope_ids[&(key, p.flow.as_deref(), p.transaction_type)])
    };
    // Scopes of one key in a row: the key's transactions with units are
    // listed once and filtered per scope.
    let mut order: Vec<&Pool> = pools.iter().collect();
    order.sort_by_key(|p| scope_of(p).map(|s| (scopes[s as usize].key, s)));
    let runs: Vec<&[&Pool]> = order.chunk_by(|a, b| scope_of(a) == scope_of(b)).collect();
    let run_keys: Vec<Option<u16>> = (runs.iter())
        .map(|run| scope_of(run[0]).map(|s| scopes[s as usize].key))
        .collect();
    // The current key's list: made for its first scope, taken by its last
    // (which filters it in place).
    let mut with_key: Vec<(u32, u64)> = Vec::new();
    for (r, &run) in runs.iter().enumerate() {
        for pool in run {
            money::check_decimal_18(pool.cost, || {
                format!(
                    "pool {} {}",
                    pool.key.product_code,
                    pricing.rule(pool.key.rule).id
                )
            })?;
        }
        let Some(scope_id) = scope_of(run[0]) else {
            for &pool in run {
                let reason = pool
                    .unit_key
                    .expect_err("pools without a scope have no unit key");
                unallocated.push((pool.clone(), reason));
            }
            continue;
        };
        let scope = &mut scopes[scope_id as usize];
        if r == 0 || run_keys[r - 1] != run_keys[r] {
            with_key = with_units(transactions, scope.key, &key_counts); // the last key's was taken
        }
        let list = if run_keys.get(r + 1) != Some(&run_keys[r]) {
            Cow::Owned(std::mem::take(&mut with_key))
        } else {
            Cow::Borrowed(with_key.as_slice())
        };
        let members = scope.collect(list, &group_of, transactions.len());
        let ranked: Option<Vec<(u32, u64)>> = id_rank.as_ref().map(|rank| {
            (members.iter())
                .map(|&(i, units)| (rank[i as usize], units))
                .collect()
        });
        let in_scope = ranked.as_deref().unwrap_or(&members);
        if in_scope.is_empty() {
            for &pool in run {
                unallocated.push((pool.clone(), Unallocated::NoDriverUnits));
            }
            continue;
        }
        // The scope's pools are planned together, in parallel over runs of
        // its members: each pass of [`largest_remainders`] serves them all.
        let pool_costs: Vec<Money> = run.iter().map(|pool| pool.cost).collect();
        let splits = Split::plan(&pool_costs, in_scope);
        // Then applied in parallel over runs of the scope: each task adds its
        // members' shares to their costs (disjoint) and sums its own (units,
        // cost) per group per pool; the integer sums are merged in task order.
        let direct: Vec<bool> = run.iter().map(|p| p.is_direct()).collect();
        let per_group = apply_shares(
            &mut costs,
            &members,
            &splits,
            &direct,
            &group_of,
            group_counts.len(),
        )
        .map_err(|(i, value)| Error::MoneyOverflow {
            context: format!(
                "cost of transaction {:?}, summed over its pools",
                transactions[i].id
            ),
            value,
        })?;
        for (((pool, split), direct), per_group) in
            run.iter().zip(splits).zip(direct).zip(per_group)
        {
            let key = pool.unit_key.expect("pools with a scope have a unit key");
            let line = line_of(pool);
            for (group, (units, cost)) in per_group.into_iter().enumerate() {
                if units > 0 {
                    let entry = flow_acc.entry((group as u32, line, direct)).or_default();
                    entry.0 += units;
                    entry.1 += cost;
                }
            }
            let last_extra = split
                .last_extra
                .map(|(r, pos)| (r, members[pos as usize].0));
            allocated_pools.push(AllocatedPool {
                line,
                unit_key: key,
                split,
                scope: scope_id,
                key: pool.key.clone(),
                cost: pool.cost,
                last_extra,
            });
        }
    }
    let mut charging: Vec<Vec<u32>> = vec![Vec::new(); groups.len() * key_count];
    for (p, pool) in allocated_pools.iter().enumerate() {
        let admits = &scopes[pool.scope as usize].admits;
        for group in (0..groups.len()).filter(|&g| admits[g]) {
            charging[group * key_count + pool.unit_key as usize].push(p as u32);
        }
    }

    let mut flow_costs: Vec<FlowCost> = flow_acc
        .into_iter()
        .map(|((group, line, direct), (driver_units, cost))| {
            let (product_code, rule) = &lines[line as usize];
            let (transaction_type, flow) = groups[group as usize];
            // The price list's figure for these units: a genuine overflow is an
            // input error naming the flow, the product, the rule and the units.
            let modelled_cost = pricing
                .rule(*rule)
                .unit_price
                .map(|price| {
                    let modelled = Money::try_from(driver_units)
                        .ok()
                        .and_then(|u| price.checked_mul(u))
                        .unwrap_or(Money::MAX);
                    money::check_decimal_18(modelled, || {
                        format!(
                            "modelled cost of flow {flow} on {product_code} rule {}: {driver_units} units x unit price {}",
                            pricing.rule(*rule).id,
                            money::format_usd(price)
                        )
                    })
                })
                .transpose()?;
            Ok(FlowCost {
                transaction_type: transaction_type.to_string(),
                flow: flow.to_string(),
                product_code: product_code.clone(),
                rule: *rule,
                direct,
                transactions: group_counts[group as usize],
                driver_units,
                cost,
                modelled_cost,
            })
        })
        .collect::<Result<_>>()?;
    flow_costs.sort_by(|a, b| {
        (
            &a.transaction_type,
            &a.flow,
            &a.product_code,
            a.rule,
            a.direct,
        )
            .cmp(&(
                &b.transaction_type,
                &b.flow,
                &b.product_code,
                b.rule,
                b.direct,
            ))
    });

    let allocated: Money = costs.iter().map(TransactionCost::total).sum();
    let unallocated_total: Money = unallocated.iter().map(|(p, _)| p.cost).sum();
    let excluded: Money = day.excluded.values().sum();
    let totals = Totals {
        cur_rows: day.rows,
        cur_total: day.total,
        allocated,
        unallocated: unallocated_total,
        excluded,
        excluded_by_type: day.excluded.clone(),
        cur_final: day.rows > 0 && day.rows_without_invoice == 0,
    };
    if totals.cur_total != allocated + unallocated_total + excluded {
        return Err(Error::Conservation {
            date,
            cur_total: totals.cur_total,
            allocated,
            unallocated: unallocated_total,
            excluded,
        });
    }
    for (t, c) in transactions.iter().zip(&costs) {
        money::check_decimal_18(c.total(), || format!("cost of transaction {:?}", t.id))?;
    }
    let flow_summary = summarize(&groups, &group_of, &group_task_counts, &costs);
    for s in &flow_summary {
        money::check_decimal_18(s.cost, || {
            format!("cost of flow {} ({})", s.flow, s.transaction_type)
        })?;
    }
    Ok(Allocation {
        costs,
        allocated: allocated_pools,
        scopes,
        group_of,
        charging,
        keys: key_count,
        lines,
        flow_costs,
        flow_summary,
        unallocated,
        totals,
    })
}

/// Each transaction's position in id order; `None` when it is its index (sorted,
/// as the log reader delivers them).
fn id_ranks(transactions: &[Transaction]) -> Option<Vec<u32>> {
    if transactions.par_windows(2).all(|w| w[0].id <= w[1].id) {
        return None;
    }
    let mut order: Vec<u32> = (0..transactions.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        transactions[a as usize]
            .id
            .cmp(&transactions[b as usize].id)
    });
    let mut rank = vec![0; transactions.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    Some(rank)
}

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
                total_units: Some(p.split.total_units),
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
struct Walk<'a> {
    split: &'a Split,
    /// [`Split::shares_fit_64`].
    narrow: bool,
    /// The next member's position in the split.
    position: usize,
    line: usize,
}

impl Walk<'_> {
    /// The next member's share, for its `units`.
    #[inline]
    fn next_share(&mut self, units: u64) -> Money {
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

/// Per (type, flow) group: count, total, unit cost and nearest-rank
/// percentiles, in (type, flow) order.
///
/// Each group's totals are gathered into one list of every transaction's,
/// in parallel: each run of [`PER_TASK`] transactions fills its own part of
/// each group's (`group_counts`, per run: [`Groups`]).
fn summarize(
    groups: &[(&str, &str)],
    group_of: &[u32],
    group_counts: &[Vec<usize>],
    costs: &[TransactionCost],
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
    let mut rows: Vec<FlowSummary> = (groups.par_iter().zip(lists))
        .map(|(&(ty, flow), values)| {
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
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.transaction_type, &a.flow).cmp(&(&b.transaction_type, &b.flow)));
    rows
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scope's members and block counts, made in parallel over runs of
    /// [`PER_TASK`], equal a sequential filter's, from an owned list and a
    /// borrowed one; and the per-flow summary equals one of sorted lists.
    #[test]
    fn parallel_scope_and_summary_match_sequential_ones() {
        let mut rng = crate::source::XorShift(5);
        let n = 3 * PER_TASK + 1_234;
        let group_of: Vec<u32> = (0..n).map(|_| (rng.next() % 3) as u32).collect();
        let with_key: Vec<(u32, u64)> = (0..n as u32)
            .filter_map(|i| {
                let draw = rng.next();
                (!draw.is_multiple_of(4)).then_some((i, 1 + draw / 4 % 100))
            })
            .collect();
        let admits = vec![true, false, true];
        let expected: Vec<(u32, u64)> = (with_key.iter().copied())
            .filter(|&(i, _)| admits[group_of[i as usize] as usize])
            .collect();
        let expected_before: Vec<u32> = (0..=n.div_ceil(Scope::BLOCK))
            .map(|b| expected.partition_point(|&(i, _)| (i as usize) < b * Scope::BLOCK) as u32)
            .collect();
        for owned in [false, true] {
            let mut scope = Scope {
                key: 0,
                admits: admits.clone(),
                members: 0,
                before: Vec::new(),
            };
            let list = if owned {
                Cow::Owned(with_key.clone())
            } else {
                Cow::Borrowed(with_key.as_slice())
            };
            let members = scope.collect(list, &group_of, n);
            assert_eq!(*members, *expected, "owned: {owned}");
            assert_eq!(scope.before, expected_before, "owned: {owned}");
            assert_eq!(scope.members, expected.len() as u64);
        }

        let groups = [("a", "x"), ("b", "y"), ("c", "z")];
        let costs: Vec<TransactionCost> = (0..n)
            .map(|_| TransactionCost {
                total: (rng.next() % 1_000_000) as i64 - 1_000,
                direct: 0,
            })
            .collect();
        let task_counts: Vec<Vec<usize>> = (group_of.chunks(PER_TASK))
            .map(|run| {
                (0..3)
                    .map(|g| run.iter().filter(|&&of| of == g).count())
                    .collect()
            })
            .collect();
        let summary = summarize(&groups, &group_of, &task_counts, &costs);
        for (g, row) in summary.iter().enumerate() {
            let mut values: Vec<Money> = (group_of.iter().zip(&costs))
                .filter(|&(&of, _)| of == g as u32)
                .map(|(_, c)| c.total())
                .collect();
            values.sort_unstable();
            let rank = |percent: usize| values[(percent * values.len()).div_ceil(100) - 1];
            assert_eq!(row.transactions, values.len() as u64);
            assert_eq!(row.cost, values.iter().sum::<Money>());
            assert_eq!((row.p50, row.p95, row.p99), (rank(50), rank(95), rank(99)));
            assert_eq!(row.max, *values.last().unwrap());
        }
    }

    #[test]
    fn divisor_divides_exactly() {
        let mut rng = crate::source::XorShift(7);
        let edges = [0, 1, 2, 3, u64::MAX - 1, u64::MAX, 1 << 32, (1 << 63) + 1];
        let mut divisors: Vec<u64> = edges.iter().copied().filter(|&d| d > 0).collect();
        let mut numbers = edges.to_vec();
        for bits in [8, 20, 32, 40, 63, 64] {
            for _ in 0..200 {
                divisors.push((rng.next() >> (64 - bits)).max(1));
                numbers.push(rng.next() >> (64 - bits));
            }
        }
        for &d in &divisors {
            let divisor = Divisor::new(d);
            for &x in numbers
                .iter()
                .chain(&[d - 1, d, d.saturating_add(1), d.saturating_mul(3)])
            {
                assert_eq!(divisor.div_rem(x), (x / d, x % d), "{x} / {d}");
            }
        }
    }

    /// The largest remainders the plain way: every share's remainder, sorted
    /// (remainder descending, id ascending), the first `|C| - sum of floors`.
    fn reference_extras(cost: Money, units: &[(u32, u64)]) -> (Vec<bool>, Option<(u128, u32)>) {
        let total: u128 = units.iter().map(|(_, u)| u128::from(*u)).sum();
        let magnitude = cost.unsigned_abs();
        let (mut handed, mut order) = (0, Vec::new());
        for (position, &(id, u)) in units.iter().enumerate() {
            let product = magnitude * u128::from(u);
            handed += product / total;
            order.push((std::cmp::Reverse(product % total), id, position as u32));
        }
        order.sort_unstable();
        let leftover = (magnitude - handed) as usize;
        let mut extra = vec![false; units.len()];
        for &(_, _, position) in &order[..leftover] {
            extra[position as usize] = true;
        }
        let last = leftover.checked_sub(1).map(|l| (order[l].0.0, order[l].2));
        (extra, last)
    }

    #[test]
    fn splits_select_the_largest_remainders_as_a_full_sort_does() {
        let mut rng = crate::source::XorShift(11);
        // Past one selection (`SELECT_AMONG`) and one task's members, with
        // remainders spread, few (ties), tiny (the cost below U) and wide.
        let n = 3 * 64 * WORDS_PER_TASK + 77;
        let spread: Vec<u64> = (0..n).map(|_| 1 + rng.next() % 5_000).collect();
        let few: Vec<u64> = (0..n).map(|_| 1 + rng.next() % 3).collect();
        let mostly_one: Vec<u64> = (0..n).map(|i| if i % 1_000 == 0 { 2 } else { 1 }).collect();
        let ascending: Vec<u32> = (0..n as u32).collect();
        let mut shuffled = ascending.clone();
        for i in (1..n).rev() {
            shuffled.swap(i, rng.below(i + 1));
        }
        for units in [&spread, &few, &mostly_one] {
            for ids in [&ascending, &shuffled] {
                let members: Vec<(u32, u64)> =
                    ids.iter().copied().zip(units.iter().copied()).collect();
                let total: u64 = units.iter().sum();
                let costs: Vec<Money> = vec![
                    123_456_789_012_345,
                    -(total as Money) / 3 - 1,
                    n as Money / 2 + 5, // below U: every remainder is the product itself
                    999_999_999_999_999_999,
                    (1 << 70) + 12_345, // past 64 bits: the wide path
                ];
                let splits = Split::plan(&costs, &members);
                for (split, &cost) in splits.iter().zip(&costs) {
                    let (extra, last) = reference_extras(cost, &members);
                    let planned: Vec<bool> = (0..n).map(|p| split.extra(p)).collect();
                    assert!(planned == extra, "extra units of {cost} differ");
                    assert_eq!(split.last_extra, last, "last extra unit of {cost}");
                    let shares: Money = split.shares(units.iter().copied()).sum();
                    assert_eq!(shares, cost, "shares of {cost} sum to it");
                }
            }
        }
    }

    #[test]
    fn split_hands_leftovers_to_largest_remainders() {
        // 10 units over 3 equal drivers: 3,3,3 and one leftover to the smallest id.
        assert_eq!(split(10, &[("b", 1), ("a", 1), ("c", 1)]), vec![3, 4, 3]);
        assert_eq!(
            split(-10, &[("b", 1), ("a", 1), ("c", 1)]),
            vec![-3, -4, -3]
        );
        // 100 over 1:2: 33.33 and 66.67 -> 33, 67.
        assert_eq!(split(100, &[("x", 1), ("y", 2)]), vec![33, 67]);
        assert_eq!(split(0, &[("x", 5)]), vec![0]);
    }

    #[test]
    fn worked_example_of_the_readme() {
        // $0.0000000010 (10 units) over pagos with 1, 1, 1 events: 4, 3, 3.
        assert_eq!(split(10, &[("t1", 1), ("t2", 1), ("t3", 1)]), vec![4, 3, 3]);
        // $1.00 over KMS requests 2, 3, 0 -> 0.40, 0.60, 0.
        assert_eq!(
            split(money::ONE_USD, &[("t1", 2), ("t2", 3), ("t3", 0)]),
            vec![4_000_000_000, 6_000_000_000, 0]
        );
    }

    #[test]
    fn percentiles_and_division() {
        let mut v: Vec<Money> = (1..=100).rev().collect();
        assert_eq!(nearest_ranks(&mut v, [99, 95, 50]), [99, 95, 50]);
        let mut v: Vec<Money> = (1..=201).map(|i| (i * 37) % 202).collect();
        assert_eq!(nearest_ranks(&mut v, [99, 95, 50, 1]), [199, 191, 101, 3]);
        assert_eq!(nearest_ranks(&mut [7], [99, 50]), [7, 7]);
        assert_eq!(divide_half_even(5, 2), 2);
        assert_eq!(divide_half_even(7, 2), 4);
        assert_eq!(divide_half_even(-7, 2), -4);
        assert_eq!(divide_half_even(10, 3), 3);
    }
}
