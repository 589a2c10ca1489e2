//! The allocation's unit tests: every fast path against its plain twin.

use super::division::Divisor;
use super::rows::*;
use super::scope::*;
use super::select::*;
use super::split::*;
use super::summary::*;
use std::borrow::Cow;

use crate::model::money::{self, Money};
/// A scope's members and block counts, made in parallel over runs of
/// [`PER_TASK`], equal a sequential filter's, from an owned list and a
/// borrowed one; and the per-flow summary equals one of sorted lists.
#[test]
fn parallel_scope_and_summary_match_sequential_ones() {
    let mut rng = crate::test_rng::XorShift(5);
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
    let summary = summarize(
        &groups,
        &group_of,
        &task_counts,
        &costs,
        &[Outcomes::default(); 3],
    );
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
    let mut rng = crate::test_rng::XorShift(7);
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
    let mut rng = crate::test_rng::XorShift(11);
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
            let members: Vec<(u32, u64)> = ids.iter().copied().zip(units.iter().copied()).collect();
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
