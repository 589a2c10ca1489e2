//! Property tests of SPEC 4 on generated pools and transactions: every pool's
//! shares sum to the pool exactly, each share is within one unit of its exact
//! proportion, the day reconciles to the last 1e-10 USD, and nothing depends on
//! the order of the inputs.

use std::collections::{BTreeMap, HashMap};

use costjob::allocate::{self, Pool, Unallocated};
use costjob::model::id::TransactionId;
use costjob::model::money::Money;
use costjob::model::{CurDay, Line, PoolKey};
use costjob::model::{Kind, Transaction, TransactionType};
use costjob::pricing::Pricing;
use proptest::prelude::*;

use crate::helpers::*;

const FLOWS: [(&str, Option<TransactionType>); 5] = [
    ("pago", Some(TransactionType::Monetary)),
    ("recarga", Some(TransactionType::Monetary)),
    ("onboarding", Some(TransactionType::NonMonetary)),
    ("unclassified", None),
    ("transferencia", None),
];

fn pricing() -> &'static Pricing {
    static PRICING: std::sync::OnceLock<Pricing> = std::sync::OnceLock::new();
    PRICING.get_or_init(|| Pricing::load(&repo().join("pricing")).unwrap())
}

prop_compose! {
    fn transaction()(flow in 0..FLOWS.len(), units in prop::collection::vec((0u16..4, 0u64..5_000), 0..4), id in 0u32..1_000_000) -> (u32, usize, Vec<(u16, u64)>) {
        (id, flow, units)
    }
}

prop_compose! {
    fn pool()(cost in -1_000_000_000_000_000i128..1_000_000_000_000_000, key in 0u16..5, flow in prop::option::of(0usize..3), ty in prop::option::of(0usize..2), product in 0usize..3) -> (Money, u16, Option<usize>, Option<usize>, usize) {
        (cost, key, flow, ty, product)
    }
}

/// A generated transaction: its id's number, its flow (an index into `FLOWS`)
/// and its (unit key, units) pairs.
type RawTransaction = (u32, usize, Vec<(u16, u64)>);

/// A generated pool: its cost, its unit key, its flow and type tags (indices),
/// and its product (an index into the rules).
type RawPool = (Money, u16, Option<usize>, Option<usize>, usize);

fn build(raw: &[RawTransaction]) -> Vec<Transaction> {
    let mut seen = std::collections::HashSet::new();
    raw.iter()
        .filter(|(id, _, _)| seen.insert(*id))
        .map(|(id, flow, units)| {
            let mut u: BTreeMap<u16, u64> = BTreeMap::new();
            for (k, v) in units {
                if *v > 0 {
                    *u.entry(*k).or_default() += v;
                }
            }
            Transaction {
                id: format!("tx-{id:07}").into(),
                kind: Kind {
                    flow: FLOWS[*flow].0.into(),
                    transaction_type: FLOWS[*flow].1,
                    status: None,
                }
                .into(),
                first_ts: 0,
                last_after_first_ms: 0,
                events: 1,
                duration_ms: 0,
                units: u.into_iter().collect(),
            }
        })
        .collect()
}

fn pools(raw: &[RawPool], excluded: Money) -> (CurDay, Vec<Pool>) {
    let p = pricing();
    let rules = [
        (
            "AmazonECS",
            p.match_row("AmazonECS", "USE1-Fargate-vCPU-Hours:perCPU", ""),
        ),
        ("awskms", p.match_row("awskms", "USE1-KMS-Requests", "")),
        (
            "AmazonRekognition",
            p.match_row("AmazonRekognition", "Group1-ImagesProcessed", ""),
        ),
    ];
    let mut day = CurDay::default();
    for (i, (cost, _, flow, ty, product)) in raw.iter().enumerate() {
        let key = PoolKey {
            product_code: rules[*product].0.to_string(),
            rule: rules[*product].1,
            tag_transaction_type: ty.map(|t| ["monetary", "non-monetary"][t].to_string()),
            tag_flow: flow.map(|f| FLOWS[f].0.to_string()),
            tag_service: Some(format!("svc-{i}")), // one pool per generated entry
        };
        day.add(Line::Pool(key), "Usage", *cost, true);
    }
    day.add(Line::Excluded, "Tax", excluded, true);
    let mut list: Vec<(PoolKey, Money)> = day.pools.iter().map(|(k, v)| (k.clone(), *v)).collect();
    list.sort();
    let by_service: HashMap<String, u16> = raw
        .iter()
        .enumerate()
        .map(|(i, (_, key, _, _, _))| (format!("svc-{i}"), *key))
        .collect();
    let pools = list
        .into_iter()
        .map(|(key, cost)| {
            let unit = by_service[key.tag_service.as_deref().unwrap()];
            Pool {
                unit_key: if unit == 4 {
                    Err(Unallocated::Policy)
                } else {
                    Ok(unit)
                },
                flow: key.tag_flow.clone(),
                transaction_type: key
                    .tag_transaction_type
                    .as_deref()
                    .and_then(TransactionType::parse),
                key,
                cost,
            }
        })
        .collect();
    (day, pools)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn split_is_exact_proportional_and_order_free(
        cost in -10_000_000_000_000_000_000i128..10_000_000_000_000_000_000,
        units in prop::collection::vec(0u64..u32::MAX as u64, 1..50),
        rotate in 0usize..50,
    ) {
        prop_assume!(units.iter().any(|u| *u > 0));
        let ids: Vec<(String, u64)> = units.iter().enumerate().map(|(i, u)| (format!("t{i:03}"), *u)).collect();
        let shares = allocate::split(cost, &ids);
        prop_assert_eq!(shares.iter().sum::<Money>(), cost);
        let total: u128 = units.iter().map(|u| *u as u128).sum();
        for (share, (_, u)) in shares.iter().zip(&ids) {
            // |share - cost*u/U| < 1, in exact integer arithmetic.
            let exact_num = cost * *u as i128;
            let diff = share * total as i128 - exact_num;
            prop_assert!(diff.unsigned_abs() < total, "share {} off its proportion", share);
            prop_assert!(share.signum() == 0 || share.signum() == cost.signum());
        }
        let mut rotated = ids.clone();
        rotated.rotate_left(rotate % ids.len());
        let again = allocate::split(cost, &rotated);
        let by_id: HashMap<&str, Money> = rotated.iter().map(|(id, _)| id.as_str()).zip(again).collect();
        for ((id, _), share) in ids.iter().zip(&shares) {
            prop_assert_eq!(by_id[id.as_str()], *share);
        }
    }

    /// Equal units (a driver of one a transaction): equal remainders, so the
    /// extra units go to the smallest ids, in any input order.
    #[test]
    fn equal_units_give_the_extra_units_to_the_smallest_ids(
        cost in -10_000_000_000_000_000_000i128..10_000_000_000_000_000_000,
        units in 1u64..5,
        n in 1usize..300,
        rotate in 0usize..300,
    ) {
        let ids: Vec<(String, u64)> = (0..n).map(|i| (format!("t{i:03}"), units)).collect();
        let floor = cost.abs() / n as i128;
        let leftover = (cost.abs() % n as i128) as usize;
        let expected: Vec<Money> = (0..n)
            .map(|i| cost.signum() * (floor + i128::from(i < leftover)))
            .collect();
        prop_assert_eq!(&allocate::split(cost, &ids), &expected);
        let mut rotated = ids.clone();
        rotated.rotate_left(rotate % n);
        let again = allocate::split(cost, &rotated);
        let by_id: HashMap<&str, Money> = rotated.iter().map(|(id, _)| id.as_str()).zip(again).collect();
        for ((id, _), share) in ids.iter().zip(&expected) {
            prop_assert_eq!(by_id[id.as_str()], *share);
        }
    }

    #[test]
    fn a_day_reconciles_exactly_in_any_order(
        raw_tx in prop::collection::vec(transaction(), 0..60),
        raw_pools in prop::collection::vec(pool(), 1..20),
        excluded in -1_000_000_000_000i128..1_000_000_000_000,
        seed in any::<u64>(),
    ) {
        let transactions = build(&raw_tx);
        let (day, pools) = pools(&raw_pools, excluded);
        let date = date("2026-11-23");
        let a = allocate::allocate(date, &day, &pools, &transactions, pricing(), &["OK".to_string()]).unwrap();
        let t = &a.totals;
        prop_assert_eq!(t.cur_total, t.allocated + t.unallocated + t.excluded);
        prop_assert_eq!(t.cur_total, raw_pools.iter().map(|p| p.0).sum::<Money>() + excluded);
        prop_assert_eq!(a.costs.iter().map(|c| c.total()).sum::<Money>(), t.allocated);
        prop_assert_eq!(a.flow_costs.iter().map(|f| f.cost).sum::<Money>(), t.allocated);
        prop_assert_eq!(a.flow_summary.iter().map(|f| f.cost).sum::<Money>(), t.allocated);
        // The breakdowns recomputed from the splits give the same money, from any start.
        let start = (seed as usize) % (transactions.len() + 1);
        let tail = a.breakdowns(start..transactions.len(), &transactions);
        for (c, (_, lines)) in a.costs[start..].iter().zip(tail.iter()) {
            prop_assert_eq!(c.total(), c.direct() + c.shared());
            prop_assert_eq!(lines.iter().sum::<Money>(), c.total());
        }
        // Each allocated pool reaches exactly its cost: pools = allocated + unallocated.
        let unallocated: Money = a.unallocated.iter().map(|(p, _)| p.cost).sum();
        prop_assert_eq!(pools.iter().map(|p| p.cost).sum::<Money>(), t.allocated + unallocated);

        // Shuffle transactions and pools: the same money lands on the same ids.
        let mut order: Vec<usize> = (0..transactions.len()).collect();
        let mut s = seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let shuffled: Vec<Transaction> = order.iter().map(|&i| transactions[i].clone()).collect();
        let mut reversed_pools = pools.clone();
        reversed_pools.reverse();
        let b = allocate::allocate(date, &day, &reversed_pools, &shuffled, pricing(), &["OK".to_string()]).unwrap();
        let by_id: HashMap<&TransactionId, Money> = shuffled.iter().map(|t| &t.id).zip(b.costs.iter().map(|c| c.total())).collect();
        for (t, c) in transactions.iter().zip(&a.costs) {
            prop_assert_eq!(by_id[&t.id], c.total(), "transaction {}", t.id);
        }
        prop_assert_eq!(&a.flow_summary, &b.flow_summary);
        prop_assert_eq!(&a.flow_costs, &b.flow_costs);
        prop_assert_eq!(&a.totals, &b.totals);
    }
}

/// A scope's units are held in 4 bytes where they fit; larger counts (up to
/// 2^64 - 1 summed, SPEC 2.4) are read from the transaction, and the split is
/// the one of the exact units.
#[test]
fn units_beyond_32_bits_split_exactly() {
    let units = [
        u32::MAX as u64,
        1,
        (1 << 53) - 1,
        u32::MAX as u64 - 1,
        1 << 40,
        u64::MAX / 3,
    ];
    let raw: Vec<_> = (0u32..)
        .zip(units)
        .map(|(id, u)| (id, 0usize, vec![(0u16, u)]))
        .collect();
    let transactions = build(&raw);
    let cost: Money = 123_456_789_012_345_678;
    let (day, pools) = pools(&[(cost, 0, None, None, 0)], 0);
    let a = allocate::allocate(
        date("2026-11-23"),
        &day,
        &pools,
        &transactions,
        pricing(),
        &["OK".to_string()],
    )
    .unwrap();
    let ids: Vec<(String, u64)> = raw
        .iter()
        .map(|(id, _, u)| (format!("tx-{id:07}"), u[0].1))
        .collect();
    let expected = allocate::split(cost, &ids);
    let got: Vec<Money> = a.costs.iter().map(|c| c.total()).collect();
    assert_eq!(got, expected);
    assert_eq!(got.iter().sum::<Money>(), cost);
}

/// A transaction's cost is summed in 64 bits: 19 pools of the largest
/// DECIMAL(18,10) cost, all its own, pass 2^64 on the way, where a wrapped
/// sum would come back to a cost that fits DECIMAL(18,10) (5.5e17). The day
/// is refused with the transaction named, never published wrong.
#[test]
fn a_transactions_cost_past_64_bits_is_an_error_not_a_wrapped_sum() {
    let transactions = build(&[(1, 0, vec![(0, 1)])]);
    let largest: Money = 10i128.pow(18) - 1;
    let (day, pools) = pools(&[(largest, 0, None, None, 0); 19], 0);
    let error = allocate::allocate(
        date("2026-11-23"),
        &day,
        &pools,
        &transactions,
        pricing(),
        &["OK".to_string()],
    )
    .expect_err("the sum does not fit 64 bits");
    let message = error.to_string();
    assert!(
        matches!(error, costjob::Error::MoneyOverflow { .. })
            && message.contains("tx-0000001")
            && message.contains("summed over its pools"),
        "{message}"
    );
}

/// Issue 35: a transaction's money is computed twice, by the application of
/// the shares (its `costs` entry) and by the breakdowns the sink writes
/// (recomputed from the splits); on a day of 200,000 transactions and 40
/// pools (past one selection of the largest remainders and one task of the
/// parallel paths) they agree for every transaction, from any start.
#[test]
fn breakdowns_equal_the_applied_shares_on_a_day_of_200k_transactions() {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let raw_tx: Vec<RawTransaction> = (0..200_000u32)
        .map(|id| {
            // Most transactions carry units of keys 0 and 1, so an untagged
            // pool's scope holds well over 65,536 members.
            let units = (0..1 + next() % 3)
                .map(|_| ((next() % 2) as u16, next() % 5_000))
                .collect();
            (id, (next() % FLOWS.len() as u64) as usize, units)
        })
        .collect();
    let raw_pools: Vec<RawPool> = (0..40)
        .map(|_| {
            let cost = (next() % 2_000_000_000_000_000) as i128 - 1_000_000_000_000_000;
            let flow = (next() % 2 == 0).then(|| (next() % 3) as usize);
            let ty = (next() % 3 == 0).then(|| (next() % 2) as usize);
            (cost, (next() % 2) as u16, flow, ty, (next() % 3) as usize)
        })
        .collect();
    let transactions = build(&raw_tx);
    let (day, pools) = pools(&raw_pools, 12_345);
    let a = allocate::allocate(
        date("2026-11-23"),
        &day,
        &pools,
        &transactions,
        pricing(),
        &["OK".to_string()],
    )
    .unwrap();
    assert!(a.totals.allocated != 0, "the day allocates money");
    for start in [0, 1, 64 * 1024 + 3] {
        let tail = a.breakdowns(start..transactions.len(), &transactions);
        assert_eq!(tail.iter().len(), transactions.len() - start);
        for (i, (c, (_, lines))) in a.costs[start..].iter().zip(tail.iter()).enumerate() {
            assert_eq!(
                c.total(),
                c.direct() + c.shared(),
                "transaction {}",
                start + i
            );
            assert_eq!(
                lines.iter().sum::<Money>(),
                c.total(),
                "transaction {}",
                start + i
            );
        }
    }
    assert_eq!(
        a.costs.iter().map(|c| c.total()).sum::<Money>(),
        a.totals.allocated
    );
}
