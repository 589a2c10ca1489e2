//! Selecting the transactions with the largest remainders of many pools at
//! once (SPEC 4.3's extra units, ties to the smaller id): bucketed counts
//! instead of a sort, in parallel.

use std::cmp::Reverse;

use rayon::prelude::*;

use super::division::Division;

/// A split's extra units: one bit a position, and the last (its remainder,
/// its position) in remainder-descending, id-ascending order.
pub(super) type Extras = (Vec<u64>, Option<(u128, u32)>);

/// The plain twin of [`largest_remainders`] (selected by
/// [`crate::fast_path::plain`]): every input's remainder, sorted (remainder
/// descending, id ascending, then position), the first `|C| - sum of floors`.
pub(super) fn largest_remainders_by_sorting<Id: Ord>(
    divisions: &[Division],
    units: &[(Id, u64)],
) -> Vec<Extras> {
    (divisions.iter())
        .map(|division| {
            let mut handed = 0u128;
            let mut order = Vec::with_capacity(units.len());
            for (position, (id, u)) in units.iter().enumerate() {
                let (floor, remainder) = division.floor_and_remainder(*u);
                handed += floor;
                order.push((Reverse(remainder), id, position));
            }
            let leftover = (division.magnitude - handed) as usize; // < the inputs
            if leftover == 0 {
                return (Vec::new(), None);
            }
            order.sort_unstable();
            let mut bonus = vec![0u64; units.len().div_ceil(64)];
            for &(_, _, position) in &order[..leftover] {
                bonus[position / 64] |= 1 << (position % 64);
            }
            let (Reverse(remainder), _, position) = order[leftover - 1];
            (bonus, Some((remainder, position as u32)))
        })
        .collect()
}

/// For each of `divisions` (one `U`, the sum of `units`): the positions of its
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
pub(super) fn largest_remainders<Id: Ord + Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
) -> Vec<Extras> {
    let ids_ascend = units.par_windows(2).all(|w| w[0].0 < w[1].0);
    if ids_ascend && let Some(extras) = extras_of_equal_units(divisions, units) {
        return extras;
    }
    let searches = narrow_searches(divisions, units);
    let selecting: Vec<usize> = (0..divisions.len())
        .filter(|&p| searches[p].wanted > 0)
        .collect();
    let mut bonuses: Vec<Vec<u64>> = (searches.iter())
        .map(|s| {
            if s.wanted > 0 {
                vec![0u64; units.len().div_ceil(64)]
            } else {
                Vec::new()
            }
        })
        .collect();
    // One remainder in the last range, ids ascending: its first members get the rest.
    let in_order = |p: usize| ids_ascend && searches[p].span == 0;
    let found = mark_above_and_list(
        divisions,
        units,
        &searches,
        &selecting,
        &in_order,
        &mut bonuses,
    );
    let mut last_extras: Vec<Option<u32>> = vec![None; divisions.len()];
    let ordered: Vec<usize> = (selecting.iter().copied())
        .filter(|&p| in_order(p))
        .collect();
    let ordered_lasts = take_in_order(
        divisions,
        units,
        &searches,
        &selecting,
        &ordered,
        &found,
        &mut bonuses,
    );
    for (p, last) in ordered.into_iter().zip(ordered_lasts) {
        last_extras[p] = last;
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
    for (p, last, taken) in take_listed(divisions, units, &searches, listed) {
        for i in taken {
            bonuses[p][i as usize / 64] |= 1 << (i % 64);
        }
        last_extras[p] = Some(last);
    }
    (bonuses.into_iter().zip(last_extras).enumerate())
        .map(|(p, (bonus, last))| {
            let last = last.map(|i| (divisions[p].floor_and_remainder(units[i as usize].1).1, i));
            (bonus, last)
        })
        .collect()
}

/// The same units for every input (a driver of one a transaction) with ids
/// ascending: the same remainder for all, so the extra units go to the first
/// positions; nothing to select. `None` when the units differ.
fn extras_of_equal_units<Id: Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
) -> Option<Vec<Extras>> {
    let &(_, same) = units.first()?;
    if !units.par_iter().all(|(_, u)| *u == same) {
        return None;
    }
    let extras = (divisions.iter())
        .map(|division| {
            let (floor, remainder) = division.floor_and_remainder(same);
            let leftover = (division.magnitude - floor * units.len() as u128) as usize; // < the inputs
            if leftover == 0 {
                return (Vec::new(), None);
            }
            let mut bonus = vec![0u64; units.len().div_ceil(64)];
            let (full_words, bits) = (leftover / 64, leftover % 64);
            bonus[..full_words].fill(u64::MAX);
            if bits > 0 {
                bonus[full_words] = (1 << bits) - 1;
            }
            (bonus, Some((remainder, leftover as u32 - 1)))
        })
        .collect();
    Some(extras)
}

/// Each division's search, narrowed pass after pass (each pass serving every
/// division still counting) to the range that holds its last extra unit,
/// small enough to select among; `wanted == 0` when it has none.
fn narrow_searches<Id: Sync>(divisions: &[Division], units: &[(Id, u64)]) -> Vec<Search> {
    // Every search starts over all remainders, below U.
    let mut searches: Vec<Search> = (divisions.iter())
        .map(|division| Search {
            lo: 0,
            span: 128 - (division.total_units - 1).leading_zeros(),
            wanted: 0,
            done: false,
        })
        .collect();
    let everyone: Vec<usize> = (0..divisions.len()).collect();
    let (handed, counts) = count_remainders(divisions, units, &searches, &everyone);
    for (p, search) in searches.iter_mut().enumerate() {
        search.wanted = (divisions[p].magnitude - handed[p]) as usize; // the leftover
        if search.wanted == 0 {
            search.done = true; // no extra unit: nothing to select
        } else {
            search.narrow(&counts[p * BUCKETS..][..BUCKETS]);
        }
    }
    loop {
        let counting: Vec<usize> = (0..divisions.len())
            .filter(|&p| !searches[p].done)
            .collect();
        if counting.is_empty() {
            return searches;
        }
        let (_, counts) = count_remainders(divisions, units, &searches, &counting);
        for (j, &p) in counting.iter().enumerate() {
            searches[p].narrow(&counts[j * BUCKETS..][..BUCKETS]);
        }
    }
}

/// Per task, per division at `selecting`: the bits of its members above the
/// last range set in `bonuses`, and its members in the range listed (unless
/// `in_order`) and counted.
fn mark_above_and_list<Id: Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
    searches: &[Search],
    selecting: &[usize],
    in_order: &(dyn Fn(usize) -> bool + Sync),
    bonuses: &mut [Vec<u64>],
) -> Vec<Vec<(Vec<u32>, u32)>> {
    let tasks = units.len().div_ceil(64).div_ceil(WORDS_PER_TASK);
    task_parts(bonuses, selecting, tasks)
        .into_par_iter()
        .zip(units.par_chunks(64 * WORDS_PER_TASK))
        .enumerate()
        .map(|(task, (mut parts, run))| {
            let first = task * 64 * WORDS_PER_TASK;
            (selecting.iter().zip(&mut parts))
                .map(|(&p, words)| {
                    let (division, search) = (&divisions[p], searches[p]);
                    let above = search.lo + (1 << search.span);
                    let listing = !in_order(p);
                    let (mut listed, mut count) = (Vec::new(), 0);
                    for (i, (_, u)) in run.iter().enumerate() {
                        let (_, remainder) = division.floor_and_remainder(*u);
                        if remainder >= above {
                            words[i / 64] |= 1 << (i % 64);
                        } else if remainder >= search.lo {
                            count += 1;
                            if listing {
                                listed.push((first + i) as u32);
                            }
                        }
                    }
                    (listed, count)
                })
                .collect()
        })
        .collect()
}

/// The divisions at `ordered` (one remainder in the last range, ids
/// ascending): ties in position order, so each task sets the bits of as many
/// of its members in the range as the tasks before it left (`found`: per
/// task, per division at `selecting`, the members counted). Returns each
/// one's last extra unit.
fn take_in_order<Id: Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
    searches: &[Search],
    selecting: &[usize],
    ordered: &[usize],
    found: &[Vec<(Vec<u32>, u32)>],
    bonuses: &mut [Vec<u64>],
) -> Vec<Option<u32>> {
    let tasks = units.len().div_ceil(64).div_ceil(WORDS_PER_TASK);
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
    let lasts: Vec<Vec<Option<u32>>> = task_parts(bonuses, ordered, tasks)
        .into_par_iter()
        .zip(units.par_chunks(64 * WORDS_PER_TASK))
        .zip(&quotas)
        .enumerate()
        .map(|(task, ((mut parts, run), quotas))| {
            let first = task * 64 * WORDS_PER_TASK;
            (ordered.iter().zip(&mut parts).zip(quotas))
                .map(|((&p, words), &quota)| {
                    let (division, lo) = (&divisions[p], searches[p].lo);
                    let mut last = None;
                    let mut members = run.iter().enumerate();
                    for _ in 0..quota {
                        let i = (members.by_ref())
                            .find(|(_, (_, u))| division.floor_and_remainder(*u).1 == lo)
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
    (0..ordered.len())
        .map(|k| lasts.iter().filter_map(|task| task[k]).next_back())
        .collect()
}

/// Each `listed` division's members in its last range, selected in parallel:
/// the `wanted` first by remainder descending, then id ascending (by id alone
/// at one remainder); with the last of them.
fn take_listed<Id: Ord + Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
    searches: &[Search],
    listed: Vec<(usize, Vec<u32>)>,
) -> Vec<(usize, u32, Vec<u32>)> {
    (listed.into_par_iter())
        .map(|(p, mut in_range)| {
            let (division, taken) = (&divisions[p], searches[p].wanted);
            let remainder = |i: u32| division.floor_and_remainder(units[i as usize].1).1;
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
        .collect()
}

/// Each task's words ([`WORDS_PER_TASK`] a task) of the bonus sets at
/// `which` (ascending), in that order.
pub(super) fn task_parts<'b>(
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
pub(super) struct Search {
    pub(super) lo: u128,
    pub(super) span: u32,
    pub(super) wanted: usize,
    pub(super) done: bool,
}

impl Search {
    /// The range's buckets are `2^shift` wide: [`BUCKETS`] of them, or fewer
    /// of width one.
    pub(super) fn shift(self) -> u32 {
        self.span.saturating_sub(BUCKET_BITS)
    }

    /// The bucket of `remainder`, if it is in the range.
    #[inline]
    pub(super) fn bucket(self, remainder: u128) -> Option<usize> {
        let offset = remainder.checked_sub(self.lo)?;
        (offset >> self.span == 0).then_some((offset >> self.shift()) as usize)
    }

    /// Narrows the range to the bucket of `counts` (the range's, counted)
    /// that holds the last extra unit.
    pub(super) fn narrow(&mut self, counts: &[u32]) {
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

/// For the `divisions` at `which`: their members' remainders counted in the
/// [`BUCKETS`] ranges of each one's search (in `which`'s order), and the sum
/// of each split's floors (at the split's index).
pub(super) fn count_remainders<Id: Sync>(
    divisions: &[Division],
    units: &[(Id, u64)],
    searches: &[Search],
    which: &[usize],
) -> (Vec<u128>, Vec<u32>) {
    units
        .par_chunks(64 * WORDS_PER_TASK)
        .map(|run| {
            let mut handed = vec![0u128; divisions.len()];
            let mut counts = vec![0u32; which.len() * BUCKETS];
            for (&p, counts) in which.iter().zip(counts.chunks_mut(BUCKETS)) {
                let (division, search) = (&divisions[p], searches[p]);
                handed[p] = if division.narrow {
                    // Remainders below U < 2^64: the range in 64 bits, and
                    // the floors sum to at most |C| < 2^64.
                    let (lo, span, shift) = (search.lo as u64, search.span, search.shift());
                    let mut handed = 0u64;
                    for (_, u) in run {
                        let (floor, remainder) = division.narrow_floor_and_remainder(*u);
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
                        let (floor, remainder) = division.floor_and_remainder(*u);
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
            || (vec![0; divisions.len()], vec![0; which.len() * BUCKETS]),
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
pub(super) const BUCKETS: usize = 1 << BUCKET_BITS;
pub(super) const BUCKET_BITS: u32 = 12;

/// A last range of at most this many members is selected among; a larger
/// one is counted again in finer ranges (unless it is one remainder).
pub(super) const SELECT_AMONG: usize = 64 * 1024;

/// Bonus words (64 members each) a task of [`largest_remainders`] takes.
pub(super) const WORDS_PER_TASK: usize = 1024;
