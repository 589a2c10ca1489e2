//! A pool's scope (SPEC 4.2): the transactions of its flow and type, and their
//! units for its key, found by group and walked in parallel.

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;

use crate::FastMap;
use crate::model::Transaction;
/// A scope as the breakdowns find its members again, without a list of them: a
/// transaction is a member when it has units for `key` and `admits` its (type,
/// flow) group; `before[b]` counts the members below transaction `b *`
/// [`Scope::BLOCK`], so a run of transactions finds its first position.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    pub(super) key: u16,
    pub(super) admits: Vec<bool>,
    pub(super) members: u64,
    pub(super) before: Vec<u32>,
}

impl Scope {
    pub(super) const BLOCK: usize = 32;

    /// `t`'s units for the scope's key when its `group` is admitted; 0 when
    /// it is not a member.
    pub(super) fn units_of(&self, t: &Transaction, group: u32) -> u64 {
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
    pub(super) fn collect<'k>(
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
    pub(super) fn position(
        &self,
        start: usize,
        transactions: &[Transaction],
        group_of: &[u32],
    ) -> usize {
        let block = start / Self::BLOCK;
        let before_start = (block * Self::BLOCK..start)
            .filter(|&i| self.units_of(&transactions[i], group_of[i]) > 0)
            .count();
        self.before[block] as usize + before_start
    }
}

/// The day's (type, flow) groups, in order, each transaction's and how many
/// transactions each has.
pub(super) struct Groups<'a> {
    pub(super) groups: Vec<(&'a str, &'a str)>,
    pub(super) counts: Vec<u64>,
    /// Per run of [`PER_TASK`] transactions, how many each group has.
    pub(super) task_counts: Vec<Vec<usize>>,
    pub(super) of: Vec<u32>,
}

impl<'a> Groups<'a> {
    /// A transaction's group follows from its [`Kind`](crate::model::Kind),
    /// which the transactions alike share: the distinct kinds (a few hundred)
    /// are found by pointer and grouped by their texts, then each transaction
    /// looks its kind up, in parallel.
    pub(super) fn of(transactions: &'a [Transaction]) -> Self {
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
pub(super) const PER_TASK: usize = 64 * 1024;

/// For each run of [`PER_TASK`] transactions, how many have units for each of
/// the keys below `keys`: one pass over every transaction's pairs, in
/// parallel, for all the keys at once.
pub(super) fn counts_by_key(transactions: &[Transaction], keys: usize) -> Vec<Vec<usize>> {
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
pub(super) fn with_units(
    transactions: &[Transaction],
    key: u16,
    counts: &[Vec<usize>],
) -> Vec<(u32, u64)> {
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
pub(super) fn zeroed<T: Default + Send>(n: usize) -> Vec<T> {
    (0..n).into_par_iter().map(|_| T::default()).collect()
}

/// `list` cut into consecutive parts of `lengths` (which sum to at most its length).
pub(super) fn cut<T>(
    mut list: &mut [T],
    lengths: impl IntoIterator<Item = usize>,
) -> Vec<&mut [T]> {
    (lengths.into_iter())
        .map(|length| {
            let (part, rest) = std::mem::take(&mut list).split_at_mut(length);
            list = rest;
            part
        })
        .collect()
}
