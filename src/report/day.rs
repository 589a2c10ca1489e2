//! `report --date D`: each flow's unit cost, its distribution, what one
//! successful transaction costs, and the actual cost of the priced products
//! beside the pricing model's (the drift); and `report --date D --top N`,
//! the day's most expensive transactions.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use super::books;
use super::range::Flow;
use super::table::{Cell, Column, Tabular, column};
use crate::Result;
use crate::allocate::divide_half_even;
use crate::config::Output;
use crate::model::money::{Money, format_usd_rounded};
use crate::output::{BatchExt, read_day, read_day_columns};
use crate::storage::Store;

const FLOW_COLUMNS: [Column; 15] = [
    column("transaction_type", "type"),
    column("flow", "flow"),
    column("transactions", "transactions"),
    column("cost_usd", "cost"),
    column("unit_cost_usd", "unit cost"),
    column("p50_usd", "p50"),
    column("p95_usd", "p95"),
    column("p99_usd", "p99"),
    column("max_usd", "max"),
    column("successful_transactions", "successful"),
    column("failed_cost_usd", "failed cost"),
    column("cost_per_success_usd", "per success"),
    column("priced_unit_cost_usd", "priced actual"),
    column("modelled_unit_cost_usd", "modelled"),
    column("drift_percent", "drift"),
];

/// The actual and the modelled cost of a flow's priced products (those with
/// a list price in the pricing models), for the day report and the HTML page.
#[derive(Default)]
pub(super) struct Priced {
    pub(super) cost: Money,
    pub(super) modelled: Money,
}

impl Priced {
    /// Adds each flow's priced rows of a `flow_costs` table.
    pub(super) fn add_rows(
        flows: &mut BTreeMap<Flow, Priced>,
        costs: &arrow_array::RecordBatch,
    ) -> Result<()> {
        for i in 0..costs.num_rows() {
            if let Some(modelled) = costs.money("modelled_cost_usd", i)? {
                let key = (costs.text("transaction_type", i)?, costs.text("flow", i)?);
                let p = flows.entry(key).or_default();
                p.cost += costs.money("cost_usd", i)?.unwrap_or(0);
                p.modelled += modelled;
            }
        }
        Ok(())
    }

    /// `(actual - modelled) / modelled` in percent; none without a model.
    pub(super) fn drift_percent(&self) -> Option<f64> {
        (self.modelled != 0)
            .then(|| (self.cost - self.modelled) as f64 * 100.0 / self.modelled as f64)
    }
}

/// Reads the day's `flow_summary`, `flow_costs` and `reconciliation`.
pub fn day(store: &Store, output: &Output, date: NaiveDate) -> Result<Tabular> {
    let summary = read_day(store, output, "flow_summary", date)?;
    let recon = read_day(store, output, "reconciliation", date)?;
    let costs = read_day(store, output, "flow_costs", date)?;
    let mut priced = BTreeMap::new();
    Priced::add_rows(&mut priced, &costs)?;
    let has = |c: &str| summary.schema().column_with_name(c).is_some();
    let mut rows = Vec::new();
    for i in 0..summary.num_rows() {
        let m = |c: &str, places| -> Result<Cell> {
            Ok(match summary.money(c, i)? {
                Some(v) => Cell::Usd(v, places),
                None => Cell::None,
            })
        };
        let key = (
            summary.text("transaction_type", i)?,
            summary.text("flow", i)?,
        );
        let n = summary.int("transactions", i)?;
        let mut row = vec![
            Cell::text(&key.0),
            Cell::text(&key.1),
            Cell::Count(n),
            m("cost_usd", 4)?,
            m("unit_cost_usd", 6)?,
            m("p50_usd", 6)?,
            m("p95_usd", 6)?,
            m("p99_usd", 6)?,
            m("max_usd", 6)?,
        ];
        if has("successful_transactions") {
            row.extend([
                Cell::Count(summary.int("successful_transactions", i)?),
                m("failed_cost_usd", 4)?,
                m("cost_per_success_usd", 6)?,
            ]);
        } else {
            row.extend([Cell::None, Cell::None, Cell::None]);
        }
        match priced.get(&key) {
            Some(p) if n > 0 => {
                let n = Money::from(n);
                row.extend([
                    Cell::Usd(divide_half_even(p.cost, n), 6),
                    Cell::Usd(divide_half_even(p.modelled, n), 6),
                    p.drift_percent().map_or(Cell::None, Cell::SignedPercent),
                ]);
            }
            _ => row.extend([Cell::None, Cell::None, Cell::None]),
        }
        rows.push(row);
    }
    let basis = match recon.num_rows() {
        0 => String::new(),
        _ => recon.text("cost_basis", 0)?,
    };
    let mut notes = String::from(
        "\nsuccessful: transactions whose final status is in [allocation] success_statuses; per success: the flow's whole cost over them (failures included).\npriced actual / modelled: per transaction, the allocated cost of the products with a list price in the pricing models, and list price x driver units; drift: how far the bill is from the model.\n",
    );
    if recon.num_rows() > 0 {
        notes.push_str(&reconciliation(&recon)?);
    }
    notes.push_str(&books::read(store, output, [(date, &recon)])?.text());
    Ok(Tabular {
        title: format!("Unit cost per flow, {date} ({basis} cost, USD)"),
        columns: FLOW_COLUMNS.to_vec(),
        rows,
        left: 2,
        notes,
        warnings: String::new(),
        second_table: Some((
            9,
            "Per successful transaction, and against the pricing model (USD)",
        )),
    })
}

/// The reconciliation and the log counters, for a person.
fn reconciliation(recon: &arrow_array::RecordBatch) -> Result<String> {
    let m =
        |c: &str| -> Result<String> { Ok(format_usd_rounded(recon.money(c, 0)?.unwrap_or(0), 4)) };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nReconciliation ({} CUR rows, {} transactions)",
        recon.int("cur_rows", 0)?,
        recon.int("transactions", 0)?
    );
    let _ = writeln!(out, "  CUR total     {:>14}", m("cur_total_usd")?);
    let _ = writeln!(out, "  allocated     {:>14}", m("allocated_usd")?);
    let _ = writeln!(out, "  unallocated   {:>14}", m("unallocated_usd")?);
    let _ = writeln!(out, "  excluded      {:>14}", m("excluded_usd")?);
    let out_of_scope = recon
        .schema()
        .column_with_name("out_of_scope_usd")
        .is_some();
    if out_of_scope && recon.money("out_of_scope_usd", 0)?.unwrap_or(0) != 0 {
        let _ = writeln!(out, "  out of scope  {:>14}", m("out_of_scope_usd")?);
    }
    let _ = writeln!(out, "  delta         {:>14}", m("delta_usd")?);
    let _ = writeln!(
        out,
        "\nLogs: {} lines, {} events used, {} out of day, {} non-JSON, {} without transaction, {} malformed, {} corrupt files",
        recon.int("log_lines", 0)?,
        recon.int("log_events", 0)?,
        recon.int("log_out_of_day", 0)?,
        recon.int("log_non_json", 0)?,
        recon.int("log_no_transaction", 0)?,
        recon.int("log_malformed", 0)?,
        recon.int("log_corrupt_files", 0)?,
    );
    Ok(out)
}

/// `report --date D --top N`: the day's N most expensive transactions
/// (ties: by id), ready for `costjob explain`.
pub fn top(store: &Store, output: &Output, date: NaiveDate, n: usize) -> Result<Tabular> {
    const COLUMNS: [&str; 8] = [
        "transaction_id",
        "transaction_type",
        "flow",
        "status",
        "events",
        "cost_usd",
        "direct_cost_usd",
        "shared_cost_usd",
    ];
    let t = read_day_columns(store, output, "transactions", date, Some(&COLUMNS))?;
    let mut order: Vec<(Money, String, usize)> = Vec::with_capacity(t.num_rows());
    for i in 0..t.num_rows() {
        order.push((
            t.money("cost_usd", i)?.unwrap_or(0),
            t.text("transaction_id", i)?,
            i,
        ));
    }
    order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut rows = Vec::new();
    for (rank, (cost, id, i)) in order.into_iter().take(n).enumerate() {
        let m = |c: &str| -> Result<Cell> { Ok(Cell::Usd(t.money(c, i)?.unwrap_or(0), 10)) };
        rows.push(vec![
            Cell::Count(rank as i64 + 1),
            Cell::Text(id),
            Cell::Text(t.text("transaction_type", i)?),
            Cell::Text(t.text("flow", i)?),
            Cell::Text(t.text("status", i)?),
            Cell::Count(t.int("events", i)?),
            Cell::Usd(cost, 10),
            m("direct_cost_usd")?,
            m("shared_cost_usd")?,
        ]);
    }
    Ok(Tabular {
        title: format!(
            "The {} most expensive transactions of {date} (USD; why each costs what it does: costjob explain --date {date} --transaction ID)",
            rows.len()
        ),
        columns: vec![
            column("rank", "#"),
            column("transaction_id", "transaction"),
            column("transaction_type", "type"),
            column("flow", "flow"),
            column("status", "status"),
            column("events", "events"),
            column("cost_usd", "cost"),
            column("direct_cost_usd", "direct"),
            column("shared_cost_usd", "shared"),
        ],
        rows,
        left: 5,
        ..Tabular::default()
    })
}
