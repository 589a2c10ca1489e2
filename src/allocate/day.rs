//! Allocating a day (SPEC 4.2 to 4.6): every pool split over the transactions
//! in its scope, unallocated pools kept whole, direct and shared cost, and the
//! conservation identity checked before anything is written.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use super::apply::apply_shares;
use super::pools::{Pool, Unallocated};
use super::rows::{AllocatedPool, Allocation, FlowCost, ScopeKey, Totals, TransactionCost};
use super::scope::{Groups, Scope, counts_by_key, with_units, zeroed};
use super::split::Split;
use super::summary::{divide_half_even, outcomes, summarize};
use crate::model::CurDay;
use crate::model::RuleRef;
use crate::model::Transaction;
use crate::model::money::{self, Money};
use crate::pricing::Pricing;
use crate::{Error, Result};
/// SPEC 4.2 to 4.6: splits every pool over the transactions in its scope and
/// checks that `cur_total = allocated + unallocated + excluded + out_of_scope`
/// exactly.
pub fn allocate(
    date: chrono::NaiveDate,
    day: &CurDay,
    pools: &[Pool],
    transactions: &[Transaction],
    pricing: &Pricing,
    success_statuses: &[String],
) -> Result<Allocation> {
    let Groups {
        groups,
        counts: group_counts,
        task_counts: group_task_counts,
        of: group_of,
    } = Groups::of(transactions);
    for pool in pools {
        money::check_decimal_18(pool.cost, || {
            format!(
                "pool {} {}",
                pool.key.product_code,
                pricing.rule(pool.key.rule).id
            )
        })?;
    }
    let (mut scopes, scope_ids) = plan_scopes(pools, &groups);
    let key_count = scopes.iter().map(|s| s.key as usize + 1).max().unwrap_or(0);
    let key_counts = counts_by_key(transactions, key_count);
    let lines = breakdown_lines(pools);
    let members = Members {
        transactions,
        group_of: &group_of,
        groups: groups.len(),
        // Ties in a split go to the smaller transaction id: compare ranks, not
        // strings (`None`: sorted, the rank is the index).
        id_rank: id_ranks(transactions),
    };
    let mut ledger = Ledger {
        costs: zeroed(transactions.len()),
        flow_sums: HashMap::new(),
        unallocated: Vec::new(),
        allocated: Vec::new(),
    };
    ledger.split_pools(
        pools,
        &mut scopes,
        &scope_ids,
        &members,
        &key_counts,
        &lines,
    )?;
    let charging = charging(&ledger.allocated, &scopes, groups.len(), key_count);
    let flow_costs = flow_costs(ledger.flow_sums, &lines, &groups, &group_counts, pricing)?;
    let totals = totals(date, day, &ledger.costs, &ledger.unallocated)?;
    for (t, c) in transactions.iter().zip(&ledger.costs) {
        money::check_decimal_18(c.total(), || format!("cost of transaction {:?}", t.id))?;
    }
    let outcomes = outcomes(
        groups.len(),
        &group_of,
        transactions,
        &ledger.costs,
        success_statuses,
    );
    let flow_summary = summarize(
        &groups,
        &group_of,
        &group_task_counts,
        &ledger.costs,
        &outcomes,
    );
    for s in &flow_summary {
        money::check_decimal_18(s.cost, || {
            format!("cost of flow {} ({})", s.flow, s.transaction_type)
        })?;
    }
    Ok(Allocation {
        costs: ledger.costs,
        allocated: ledger.allocated,
        scopes,
        group_of,
        charging,
        keys: key_count,
        lines,
        flow_costs,
        flow_summary,
        unallocated: ledger.unallocated,
        totals,
    })
}

/// The scopes of a day's pools (the transactions with units for a key, of a
/// flow and type), one for all the pools that share it, each with the groups
/// it admits (a flow and type test per group, not per transaction); and each
/// scope's number by its key.
fn plan_scopes<'p>(
    pools: &'p [Pool],
    groups: &[(&str, &str)],
) -> (Vec<Scope>, HashMap<ScopeKey<'p>, u32>) {
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
    (scopes, scope_ids)
}

/// Breakdown lines: the pools' (product code, rule), sorted and numbered.
fn breakdown_lines(pools: &[Pool]) -> Vec<(String, RuleRef)> {
    let mut lines: Vec<(String, RuleRef)> = pools
        .iter()
        .map(|p| (p.key.product_code.clone(), p.key.rule))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// A pool's breakdown line in `lines` ([`breakdown_lines`]).
fn line_of(lines: &[(String, RuleRef)], pool: &Pool) -> u32 {
    lines
        .binary_search_by(|(c, r)| {
            (c.as_str(), *r).cmp(&(pool.key.product_code.as_str(), pool.key.rule))
        })
        .expect("every pool has a line") as u32
}

/// The day's transactions as the splits see them: each one's (type, flow)
/// group and, when they are not in id order, its rank.
struct Members<'a> {
    transactions: &'a [Transaction],
    group_of: &'a [u32],
    groups: usize,
    id_rank: Option<Vec<u32>>,
}

/// What the pools add up to as they are split: each transaction's cost, the
/// (units, cost) of every (group, line, direct), and the pools allocated or not.
struct Ledger {
    costs: Vec<TransactionCost>,
    flow_sums: HashMap<(u32, u32, bool), (u128, Money)>,
    unallocated: Vec<(Pool, Unallocated)>,
    allocated: Vec<AllocatedPool>,
}

impl Ledger {
    /// Splits every pool: grouped by scope, so each scope's (rank, units) list
    /// is built once and shared by its pools; pools without a scope kept whole.
    fn split_pools(
        &mut self,
        pools: &[Pool],
        scopes: &mut [Scope],
        scope_ids: &HashMap<ScopeKey<'_>, u32>,
        members: &Members<'_>,
        key_counts: &[Vec<usize>],
        lines: &[(String, RuleRef)],
    ) -> Result<()> {
        // Same scope, same key, same units. Order changes no result: every
        // output is a sum or is sorted.
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
            let Some(scope_id) = scope_of(run[0]) else {
                for &pool in run {
                    let reason = pool
                        .unit_key
                        .expect_err("pools without a scope have no unit key");
                    self.unallocated.push((pool.clone(), reason));
                }
                continue;
            };
            if r == 0 || run_keys[r - 1] != run_keys[r] {
                // the last key's was taken
                with_key = with_units(
                    members.transactions,
                    scopes[scope_id as usize].key,
                    key_counts,
                );
            }
            let list = if run_keys.get(r + 1) != Some(&run_keys[r]) {
                Cow::Owned(std::mem::take(&mut with_key))
            } else {
                Cow::Borrowed(with_key.as_slice())
            };
            self.split_scope(
                run,
                scope_id,
                &mut scopes[scope_id as usize],
                list,
                members,
                lines,
            )?;
        }
        Ok(())
    }

    /// Splits the pools of `run` (all of scope `scope_id`) over the scope's
    /// members, found in `with_key` (the transactions with units for its key).
    fn split_scope(
        &mut self,
        run: &[&Pool],
        scope_id: u32,
        scope: &mut Scope,
        with_key: Cow<'_, [(u32, u64)]>,
        day: &Members<'_>,
        lines: &[(String, RuleRef)],
    ) -> Result<()> {
        let members = scope.collect(with_key, day.group_of, day.transactions.len());
        let ranked: Option<Vec<(u32, u64)>> = day.id_rank.as_ref().map(|rank| {
            (members.iter())
                .map(|&(i, units)| (rank[i as usize], units))
                .collect()
        });
        let in_scope = ranked.as_deref().unwrap_or(&members);
        if in_scope.is_empty() {
            for &pool in run {
                self.unallocated
                    .push((pool.clone(), Unallocated::NoDriverUnits));
            }
            return Ok(());
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
            &mut self.costs,
            &members,
            &splits,
            &direct,
            day.group_of,
            day.groups,
        )
        .map_err(|(i, value)| Error::MoneyOverflow {
            context: format!(
                "cost of transaction {:?}, summed over its pools",
                day.transactions[i].id
            ),
            value,
        })?;
        for (((pool, split), direct), per_group) in
            run.iter().zip(splits).zip(direct).zip(per_group)
        {
            let line = line_of(lines, pool);
            for (group, (units, cost)) in per_group.into_iter().enumerate() {
                if units > 0 {
                    let entry = (self.flow_sums)
                        .entry((group as u32, line, direct))
                        .or_default();
                    entry.0 += units;
                    entry.1 += cost;
                }
            }
            let last_extra = split
                .last_extra
                .map(|(r, pos)| (r, members[pos as usize].0));
            self.allocated.push(AllocatedPool {
                line,
                unit_key: pool.unit_key.expect("pools with a scope have a unit key"),
                split,
                scope: scope_id,
                key: pool.key.clone(),
                cost: pool.cost,
                last_extra,
            });
        }
        Ok(())
    }
}

/// For each (group, key), the allocated pools that charge it: those whose
/// scope admits the group, with that unit key.
fn charging(
    allocated: &[AllocatedPool],
    scopes: &[Scope],
    groups: usize,
    keys: usize,
) -> Vec<Vec<u32>> {
    let mut charging: Vec<Vec<u32>> = vec![Vec::new(); groups * keys];
    for (p, pool) in allocated.iter().enumerate() {
        let admits = &scopes[pool.scope as usize].admits;
        for group in (0..groups).filter(|&g| admits[g]) {
            charging[group * keys + pool.unit_key as usize].push(p as u32);
        }
    }
    charging
}

/// The flow costs (SPEC 5, `flow_cost`) out of the split's (group, line,
/// direct) sums, each with its unit cost and its modelled cost, sorted.
fn flow_costs(
    sums: HashMap<(u32, u32, bool), (u128, Money)>,
    lines: &[(String, RuleRef)],
    groups: &[(&str, &str)],
    group_counts: &[u64],
    pricing: &Pricing,
) -> Result<Vec<FlowCost>> {
    let mut flow_costs: Vec<FlowCost> = sums
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
                unit_cost: divide_half_even(cost, group_counts[group as usize] as i128),
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
    Ok(flow_costs)
}

/// The reconciliation's totals (SPEC 4.6), with the conservation identity
/// `cur_total = allocated + unallocated + excluded + out_of_scope` checked
/// exactly (SPEC 12.3).
fn totals(
    date: chrono::NaiveDate,
    day: &CurDay,
    costs: &[TransactionCost],
    unallocated: &[(Pool, Unallocated)],
) -> Result<Totals> {
    let allocated: Money = costs.iter().map(TransactionCost::total).sum();
    let unallocated_total: Money = unallocated.iter().map(|(p, _)| p.cost).sum();
    let excluded: Money = day.excluded.values().sum();
    let out_of_scope: Money = day.out_of_scope.values().sum();
    if day.total != allocated + unallocated_total + excluded + out_of_scope {
        return Err(Error::Conservation {
            date,
            cur_total: day.total,
            allocated,
            unallocated: unallocated_total,
            excluded,
            out_of_scope,
        });
    }
    Ok(Totals {
        cur_rows: day.rows,
        cur_total: day.total,
        allocated,
        unallocated: unallocated_total,
        excluded,
        excluded_by_type: day.excluded.clone(),
        out_of_scope,
        out_of_scope_by_account: day.out_of_scope.clone(),
        by_type: day.by_type.clone(),
        delta: day.total - allocated - unallocated_total - excluded - out_of_scope,
        cur_final: day.is_final(),
    })
}

/// Each transaction's position in id order; `None` when it is its index (sorted,
/// as the log reader delivers them).
pub(super) fn id_ranks(transactions: &[Transaction]) -> Option<Vec<u32>> {
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
