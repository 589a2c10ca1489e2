//! Builds the output tables of SPEC 5 (and `pools`, SPEC 11) from a day's allocation. Pure.

use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::allocate::{self, Allocation, RowChunk, RowPart, Totals};
use crate::model::Fingerprints;
use crate::model::LogCounters;
use crate::model::RestatementRow;
use crate::model::{Kind, Transaction};
use crate::pricing::{Pricing, UnitKeys};
use crate::sink::parquet::{Batches, Parts, Table};
use crate::{FastMap, Result};

/// What the reconciliation row says about the run itself.
pub struct RunInfo<'a> {
    pub run_id: &'a str,
    pub cost_basis: &'a str,
    /// What produced the day (SPEC 12.2).
    pub fingerprints: &'a Fingerprints,
    /// The day's restatements, this run's last (SPEC 12.2).
    pub restatements: &'a [RestatementRow],
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

/// Rows of the `transactions` table per Arrow batch: bounds the sink's memory
/// (a batch's `costs` column has 27 entries a row).
pub const TRANSACTIONS_PER_BATCH: usize = 4_096;

/// One `transactions` batch: the allocation's finished rows, encoded.
fn transactions_batch(chunk: RowChunk<'_>, day: &Day<'_>) -> Result<RecordBatch> {
    let Day {
        pricing,
        key_names,
        cost_basis,
        run_id,
    } = *day;
    let RowChunk {
        transactions: rows,
        costs,
        breakdowns,
        lines,
    } = chunk;
    let labels: Vec<[&str; 3]> = lines
        .iter()
        .map(|(product, r)| {
            [
                product.as_str(),
                pricing.rule(*r).id.as_str(),
                pricing.model(*r).category.as_str(),
            ]
        })
        .collect();
    // The rows' kinds (flow, type and status; a few hundred a day, shared
    // by pointer), each listed once: those columns are keys into their texts.
    let mut kinds: Vec<&Kind> = Vec::new();
    let mut kind_index: FastMap<*const Kind, u32> = FastMap::default();
    let kind_of: Vec<u32> = (rows.iter())
        .map(|t| {
            *kind_index.entry(Arc::as_ptr(&t.kind)).or_insert_with(|| {
                kinds.push(&t.kind);
                kinds.len() as u32 - 1
            })
        })
        .collect();
    let by_kind = || kind_of.iter().map(|&k| Some(k));
    let every_row = |key: u32| rows.iter().map(move |_| Some(key));
    Ok(Table::default()
        .text("transaction_id", rows.iter().map(|t| Some(t.id.text())))
        .label(
            "transaction_type",
            kinds.iter().map(|k| k.type_name()),
            by_kind(),
        )
        .label("flow", kinds.iter().map(|k| &*k.flow), by_kind())
        .label(
            "status",
            kinds
                .iter()
                .map(|k| k.status.as_deref().unwrap_or_default()),
            (kind_of.iter()).map(|&k| kinds[k as usize].status.is_some().then_some(k)),
        )
        .timestamp("first_event_at", rows.iter().map(|t| t.first_ts))
        .timestamp("last_event_at", rows.iter().map(Transaction::last_ts))
        .int("events", rows.iter().map(|t| t.events as i64))
        .int("duration_ms", rows.iter().map(|t| t.duration_ms as i64))
        .money("cost_usd", costs.iter().map(|c| Some(c.total())))?
        .money("direct_cost_usd", costs.iter().map(|c| Some(c.direct())))?
        .money("shared_cost_usd", costs.iter().map(|c| Some(c.shared())))?
        .label("cost_basis", [cost_basis], every_row(0))
        .money_list(
            "costs",
            ["product_code", "rule_id", "category"],
            "cost_usd",
            &labels,
            breakdowns.offsets,
            breakdowns.lines,
            breakdowns.costs,
        )?
        .unit_list(
            "units",
            key_names,
            rows.iter().map(|t| {
                t.units
                    .iter()
                    .map(|(key, u)| (key, i64::try_from(u).unwrap_or(i64::MAX)))
            }),
        )
        .label("run_id", [run_id], every_row(0))
        .into_batch())
}

/// What every `transactions` batch needs besides its rows.
#[derive(Clone, Copy)]
struct Day<'a> {
    pricing: &'a Pricing,
    /// Unit key names ([`UnitKeys::name`]), by key.
    key_names: &'a [String],
    cost_basis: &'a str,
    run_id: &'a str,
}

/// The tables, in [`super::parquet::TABLES`] order; `transactions` encoded batch
/// by batch from the allocation's finished rows (`rows`, one part per file), as
/// they are written.
pub fn build<'a>(
    transactions: &'a [Transaction],
    rows: Vec<RowPart<'a>>,
    allocation: &'a Allocation,
    counters: &LogCounters,
    pricing: &'a Pricing,
    keys: &'a UnitKeys,
    run: &RunInfo<'a>,
) -> Result<Vec<(&'static str, Parts<'a>)>> {
    let rule_id = |r| pricing.rule(r).id.as_str();
    let cost_basis = run.cost_basis;
    let run_id = run.run_id;
    // One file per part of rows, so encoding runs in parallel.
    let key_names: std::sync::Arc<Vec<String>> =
        std::sync::Arc::new((0..keys.len() as u16).map(|k| keys.name(k)).collect());
    let transactions_table: Parts<'a> = rows
        .into_iter()
        .map(|part| {
            let key_names = key_names.clone();
            let batches: Batches<'a> = Box::new(part.map(move |chunk| {
                let day = Day {
                    pricing,
                    key_names: &key_names,
                    cost_basis,
                    run_id,
                };
                transactions_batch(chunk, &day)
            }));
            batches
        })
        .collect();

    let flow_costs = flow_costs_table(allocation, pricing, run_id)?;

    let flow_summary = flow_summary_table(&allocation.flow_summary, run_id)?;

    let un = allocate::by_reason(&allocation.unallocated);
    let unallocated = Table::default()
        .text("reason", un.iter().map(|(_, r)| Some(r.as_str())))
        .text(
            "product_code",
            un.iter().map(|(p, _)| Some(p.key.product_code.as_str())),
        )
        .text("rule_id", un.iter().map(|(p, _)| Some(rule_id(p.key.rule))))
        .text(
            "tag_transaction_type",
            un.iter()
                .map(|(p, _)| p.key.tag_transaction_type.as_deref()),
        )
        .text(
            "tag_flow",
            un.iter().map(|(p, _)| p.key.tag_flow.as_deref()),
        )
        .text(
            "tag_service",
            un.iter().map(|(p, _)| p.key.tag_service.as_deref()),
        )
        .money("cost_usd", un.iter().map(|(p, _)| Some(p.cost)))?
        .text("run_id", un.iter().map(|_| Some(run_id)));

    let pools = pools_table(transactions, allocation, pricing, keys, run_id)?;
    let reconciliation =
        reconciliation_table(transactions.len(), &allocation.totals, counters, run)?;

    let one = |table: Table| -> Parts<'a> {
        let batch: Batches<'a> = Box::new(std::iter::once(Ok(table.into_batch())));
        vec![batch]
    };
    Ok(vec![
        ("transactions", transactions_table),
        ("flow_costs", one(flow_costs)),
        ("flow_summary", one(flow_summary)),
        ("unallocated", one(unallocated)),
        ("pools", one(pools)),
        ("restatements", one(restatements_table(run.restatements)?)),
        ("reconciliation", one(reconciliation)),
    ])
}

/// The `flow_summary` table: one row per (type, flow).
fn flow_summary_table(fs: &[allocate::FlowSummary], run_id: &str) -> Result<Table> {
    let table = Table::default()
        .text(
            "transaction_type",
            fs.iter().map(|r| Some(r.transaction_type.as_str())),
        )
        .text("flow", fs.iter().map(|r| Some(r.flow.as_str())))
        .int("transactions", fs.iter().map(|r| r.transactions as i64))
        .money("cost_usd", fs.iter().map(|r| Some(r.cost)))?
        .money("unit_cost_usd", fs.iter().map(|r| Some(r.unit_cost)))?
        .money("p50_usd", fs.iter().map(|r| Some(r.p50)))?
        .money("p95_usd", fs.iter().map(|r| Some(r.p95)))?
        .money("p99_usd", fs.iter().map(|r| Some(r.p99)))?
        .money("max_usd", fs.iter().map(|r| Some(r.max)))?
        .int(
            "successful_transactions",
            fs.iter().map(|r| r.successful as i64),
        )
        .money("failed_cost_usd", fs.iter().map(|r| Some(r.failed_cost)))?
        .money(
            "cost_per_success_usd",
            fs.iter().map(|r| r.cost_per_success),
        )?
        .text("run_id", fs.iter().map(|_| Some(run_id)));
    Ok(table)
}

/// The `flow_costs` table: one row per (type, flow, product, rule, allocation).
fn flow_costs_table(allocation: &Allocation, pricing: &Pricing, run_id: &str) -> Result<Table> {
    let category = |r| pricing.model(r).category.as_str();
    let rule_id = |r| pricing.rule(r).id.as_str();
    let fc = &allocation.flow_costs;
    let table = Table::default()
        .text(
            "transaction_type",
            fc.iter().map(|r| Some(r.transaction_type.as_str())),
        )
        .text("flow", fc.iter().map(|r| Some(r.flow.as_str())))
        .text(
            "product_code",
            fc.iter().map(|r| Some(r.product_code.as_str())),
        )
        .text("rule_id", fc.iter().map(|r| Some(rule_id(r.rule))))
        .text("category", fc.iter().map(|r| Some(category(r.rule))))
        .text(
            "allocation",
            fc.iter()
                .map(|r| Some(if r.direct { "direct" } else { "shared" })),
        )
        .int("transactions", fc.iter().map(|r| r.transactions as i64))
        .int(
            "driver_units",
            fc.iter()
                .map(|r| r.driver_units.min(i64::MAX as u128) as i64),
        )
        .money("cost_usd", fc.iter().map(|r| Some(r.cost)))?
        .money("modelled_cost_usd", fc.iter().map(|r| r.modelled_cost))?
        .money("unit_cost_usd", fc.iter().map(|r| Some(r.unit_cost)))?
        .text("run_id", fc.iter().map(|_| Some(run_id)));
    Ok(table)
}

/// The `reconciliation` row: the day's totals, the log counters, the run.
fn reconciliation_table(
    transactions: usize,
    t: &Totals,
    c: &LogCounters,
    run: &RunInfo<'_>,
) -> Result<Table> {
    let one = |v: i64| std::iter::once(v);
    let table = Table::default()
        .text("cost_basis", [Some(run.cost_basis)])
        .int("cur_rows", one(t.cur_rows as i64))
        .money("cur_total_usd", [Some(t.cur_total)])?
        .money("allocated_usd", [Some(t.allocated)])?
        .money("unallocated_usd", [Some(t.unallocated)])?
        .money("excluded_usd", [Some(t.excluded)])?
        .money_by("excluded_by_type", "line_item_type", &t.excluded_by_type)?
        .money("out_of_scope_usd", [Some(t.out_of_scope)])?
        .money_by(
            "out_of_scope_by_account",
            "account_id",
            &t.out_of_scope_by_account,
        )?
        .money("delta_usd", [Some(t.delta)])?
        .boolean("cur_final", [t.cur_final])
        .money_by("cur_by_line_item_type", "line_item_type", &t.by_type)?
        .int("transactions", one(transactions as i64))
        .int("log_files", one(c.files as i64))
        .int("log_lines", one(c.lines as i64))
        .int("log_events", one(c.events as i64))
        .int("log_out_of_day", one(c.out_of_day as i64))
        .int("log_non_json", one(c.non_json as i64))
        .int("log_no_transaction", one(c.no_transaction as i64))
        .int("log_missing_service", one(c.missing_service as i64))
        .int("log_malformed", one(c.malformed as i64))
        .int("log_blank", one(c.blank as i64))
        .int("log_bad_timestamp", one(c.bad_timestamp as i64))
        .int("log_duplicate", one(c.duplicate as i64))
        .int("log_oversized", one(c.oversized as i64))
        .int("log_skipped_files", one(c.skipped_files as i64))
        .int("log_control_messages", one(c.control_messages as i64))
        .int("log_corrupt_files", one(c.corrupt_files as i64))
        .int("log_type_conflicts", one(c.type_conflicts as i64))
        .text("run_id", [Some(run.run_id)])
        .text("costjob_version", [Some(env!("CARGO_PKG_VERSION"))])
        .text("pricing_sha256", [Some(run.fingerprints.pricing.as_str())])
        .text("config_sha256", [Some(run.fingerprints.config.as_str())])
        .text("cur_fingerprint", [Some(run.fingerprints.cur.as_str())])
        .text("logs_fingerprint", [Some(run.fingerprints.logs.as_str())])
        .timestamp("started_at", one(run.started_at_ms))
        .timestamp("finished_at", one(run.finished_at_ms));
    Ok(table)
}

/// The `restatements` table (SPEC 12.2): every republish of the day, oldest
/// first, one row per flow and one for the totals.
fn restatements_table(rows: &[RestatementRow]) -> Result<Table> {
    let table = Table::default()
        .timestamp("restated_at", rows.iter().map(|r| r.restated_at_ms))
        .text("run_id", rows.iter().map(|r| Some(r.run_id.as_str())))
        .text(
            "previous_run_id",
            rows.iter().map(|r| Some(r.previous_run_id.as_str())),
        )
        .text("reasons", rows.iter().map(|r| Some(r.reasons.as_str())))
        .text(
            "transaction_type",
            rows.iter().map(|r| r.transaction_type.as_deref()),
        )
        .text("flow", rows.iter().map(|r| r.flow.as_deref()))
        .int(
            "previous_transactions",
            rows.iter().map(|r| r.previous_transactions),
        )
        .int("transactions", rows.iter().map(|r| r.transactions))
        .money(
            "previous_cost_usd",
            rows.iter().map(|r| Some(r.previous_cost)),
        )?
        .money("cost_usd", rows.iter().map(|r| Some(r.cost)))?
        .money(
            "previous_unit_cost_usd",
            rows.iter().map(|r| r.previous_unit_cost),
        )?
        .money("unit_cost_usd", rows.iter().map(|r| r.unit_cost))?
        .money("delta_usd", rows.iter().map(|r| Some(r.delta)))?
        .money(
            "previous_cur_total_usd",
            rows.iter().map(|r| Some(r.previous_cur_total)),
        )?
        .money("cur_total_usd", rows.iter().map(|r| Some(r.cur_total)))?
        .money_by_row(
            "cur_change_by_line_item_type",
            "line_item_type",
            rows.iter().map(|r| &r.cur_change_by_type),
        )?
        .boolean(
            "previous_cur_final",
            rows.iter().map(|r| r.previous_cur_final),
        )
        .boolean("cur_final", rows.iter().map(|r| r.cur_final));
    Ok(table)
}

/// The `pools` table: one row per pool, enough to recompute any share exactly
/// (`costjob explain`).
fn pools_table(
    transactions: &[Transaction],
    allocation: &Allocation,
    pricing: &Pricing,
    keys: &UnitKeys,
    run_id: &str,
) -> Result<Table> {
    let category = |r| pricing.model(r).category.as_str();
    let rule_id = |r| pricing.rule(r).id.as_str();
    let pr = allocation.pool_rows();
    let table = Table::default()
        .text(
            "product_code",
            pr.iter().map(|p| Some(p.key.product_code.as_str())),
        )
        .text("rule_id", pr.iter().map(|p| Some(rule_id(p.key.rule))))
        .text("category", pr.iter().map(|p| Some(category(p.key.rule))))
        .text(
            "tag_transaction_type",
            pr.iter().map(|p| p.key.tag_transaction_type.as_deref()),
        )
        .text("tag_flow", pr.iter().map(|p| p.key.tag_flow.as_deref()))
        .text(
            "tag_service",
            pr.iter().map(|p| p.key.tag_service.as_deref()),
        )
        .money("cost_usd", pr.iter().map(|p| Some(p.cost)))?
        .text(
            "driver",
            pr.iter()
                .map(|p| Some(pricing.rule(p.key.rule).driver.as_str())),
        );
    let unit_keys: Vec<Option<String>> = pr
        .iter()
        .map(|p| p.unit_key.map(|k| keys.name(k)))
        .collect();
    let last_ids = pr.iter().map(|p| {
        p.last_extra
            .map(|(_, i)| transactions[i as usize].id.text())
    });
    let table = table
        .text("unit_key", unit_keys.iter().map(|k| k.as_deref()))
        .text(
            "unallocated_reason",
            pr.iter().map(|p| p.unallocated.map(|r| r.as_str())),
        )
        .whole("total_units", pr.iter().map(|p| p.total_units))
        .int("transactions", pr.iter().map(|p| p.transactions as i64))
        .int("extra_units", pr.iter().map(|p| p.extra_units as i64))
        .whole(
            "last_extra_remainder",
            pr.iter().map(|p| p.last_extra.map(|(r, _)| r)),
        )
        .text("last_extra_transaction_id", last_ids)
        .text("run_id", pr.iter().map(|_| Some(run_id)));
    Ok(table)
}
