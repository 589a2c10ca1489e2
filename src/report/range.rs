//! `report --from A --to B`: each flow's transactions, cost and unit cost
//! per day (or, `--by month`, per calendar month) with a total row per flow
//! and one for every flow; and `report --by product`, where each flow's
//! money goes over the days.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::table::{Cell, Tabular, column, data_column};
use super::{bases_label, books, missing_note, service_name, tables_of};
use crate::Result;
use crate::allocate::divide_half_even;
use crate::config::Output;
use crate::model::money::Money;
use crate::output::BatchExt;
use crate::storage::Store;

/// The rows of a range: by day or by calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

/// A flow: (transaction type, flow).
pub type Flow = (String, String);

/// Each day's volumes per flow.
pub type FlowsByDay = BTreeMap<NaiveDate, BTreeMap<Flow, Volume>>;

/// Each flow's cost per AWS product code.
pub type ProductsByFlow = BTreeMap<Flow, BTreeMap<String, Money>>;

/// Transactions and cost, summed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Volume {
    /// The sum of each day's count: a transaction whose events span two days
    /// is counted on each, as each day's table counts it.
    pub transactions: i64,
    pub cost: Money,
}

impl Volume {
    pub(super) fn add(&mut self, other: Volume) {
        self.transactions += other.transactions;
        self.cost += other.cost;
    }

    /// `cost / transactions`, half-to-even to 1e-10 USD; none without one.
    pub fn unit_cost(&self) -> Cell {
        match self.transactions {
            0 => Cell::None,
            n => Cell::Usd(divide_half_even(self.cost, Money::from(n)), 6),
        }
    }
}

/// Each published day's `flow_summary` as volumes per flow; the days never
/// published beside them.
pub fn flows_by_day(
    store: &Store,
    output: &Output,
    days: &[NaiveDate],
) -> Result<(FlowsByDay, Vec<NaiveDate>)> {
    let (found, missing) = tables_of(store, output, "flow_summary", days)?;
    let mut by_day = BTreeMap::new();
    for (day, batch) in found {
        let flows: &mut BTreeMap<Flow, Volume> = by_day.entry(day).or_default();
        for i in 0..batch.num_rows() {
            let key = (batch.text("transaction_type", i)?, batch.text("flow", i)?);
            flows.entry(key).or_default().add(Volume {
                transactions: batch.int("transactions", i)?,
                cost: batch.money("cost_usd", i)?.unwrap_or(0),
            });
        }
    }
    Ok((by_day, missing))
}

/// `report --from A --to B [--by month]`.
pub fn range(
    store: &Store,
    output: &Output,
    days: &[NaiveDate],
    period: Period,
) -> Result<Tabular> {
    let (by_day, missing) = flows_by_day(store, output, days)?;
    let (recons, _) = tables_of(store, output, "reconciliation", days)?;
    let books = books::read(store, output, recons.iter().map(|(d, b)| (*d, b)))?;
    let mut bases = Vec::new();
    for (day, recon) in &recons {
        if recon.num_rows() > 0 {
            bases.push((*day, recon.text("cost_basis", 0)?));
        }
    }
    // (period label, its days' statuses, volumes per flow)
    let mut periods: Vec<(String, Vec<&'static str>, BTreeMap<Flow, Volume>)> = Vec::new();
    for (day, flows) in &by_day {
        let label = match period {
            Period::Day => day.to_string(),
            Period::Month => format!("{:04}-{:02}", day.year(), day.month()),
        };
        if periods.last().is_none_or(|(l, _, _)| *l != label) {
            periods.push((label, Vec::new(), BTreeMap::new()));
        }
        let (_, statuses, volumes) = periods.last_mut().expect("pushed");
        statuses.push(books.status(*day));
        for (flow, v) in flows {
            volumes.entry(flow.clone()).or_default().add(*v);
        }
    }
    let mut totals: BTreeMap<Flow, Volume> = BTreeMap::new();
    let mut rows = Vec::new();
    let row = |label: &str, status: &str, (ty, flow): (&str, &str), v: &Volume| {
        vec![
            Cell::text(label),
            Cell::text(status),
            Cell::text(ty),
            Cell::text(flow),
            Cell::Count(v.transactions),
            Cell::Usd(v.cost, 4),
            v.unit_cost(),
        ]
    };
    for (label, statuses, volumes) in &periods {
        let status = period_status(statuses);
        for (flow, v) in volumes {
            rows.push(row(label, status, (&flow.0, &flow.1), v));
            totals.entry(flow.clone()).or_default().add(*v);
        }
    }
    let all_statuses: Vec<&str> = books.final_days.keys().map(|d| books.status(*d)).collect();
    let status = period_status(&all_statuses);
    let mut all = Volume::default();
    for (flow, v) in &totals {
        rows.push(row("total", status, (&flow.0, &flow.1), v));
        all.add(*v);
    }
    rows.push(row("total", status, ("all", "all flows"), &all));
    let (first, last) = (days[0], days[days.len() - 1]);
    let per = match period {
        Period::Day => "day",
        Period::Month => "month",
    };
    Ok(Tabular {
        title: format!(
            "Transactions, cost and unit cost per flow and {per}, {first} to {last} ({}, USD)",
            bases_label(&bases)
        ),
        columns: vec![
            column(
                if period == Period::Day {
                    "day"
                } else {
                    "month"
                },
                per,
            ),
            column("status", "status"),
            column("transaction_type", "type"),
            column("flow", "flow"),
            column("transactions", "transactions"),
            column("cost_usd", "cost"),
            column("unit_cost_usd", "unit cost"),
        ],
        rows,
        left: 4,
        notes: format!(
            "\nOver several days, transactions are the sum of each day's count (a transaction whose events span midnight counts on both days).\n{}",
            books.text()
        ),
        warnings: missing_note(&missing),
        second_table: None,
    })
}

/// A period's status from its days': `final` when every day is.
fn period_status(statuses: &[&str]) -> &'static str {
    if statuses.iter().all(|s| *s == "final") {
        "final"
    } else {
        "provisional"
    }
}

/// Each flow's cost per AWS product over `days`.
pub fn products_by_flow(
    store: &Store,
    output: &Output,
    days: &[NaiveDate],
) -> Result<(ProductsByFlow, Vec<NaiveDate>)> {
    let (found, missing) = tables_of(store, output, "flow_costs", days)?;
    let mut cost: BTreeMap<Flow, BTreeMap<String, Money>> = BTreeMap::new();
    for (_, batch) in &found {
        for i in 0..batch.num_rows() {
            let flow = (batch.text("transaction_type", i)?, batch.text("flow", i)?);
            *cost
                .entry(flow)
                .or_default()
                .entry(batch.text("product_code", i)?)
                .or_default() += batch.money("cost_usd", i)?.unwrap_or(0);
        }
    }
    Ok((cost, missing))
}

/// `report --by product`: where each flow's money goes, over the days.
pub fn by_product(store: &Store, output: &Output, days: &[NaiveDate]) -> Result<Tabular> {
    let (cost, missing) = products_by_flow(store, output, days)?;
    let mut rows = Vec::new();
    for ((ty, flow), products) in &cost {
        let total: Money = products.values().sum();
        let mut ordered: Vec<(&String, &Money)> = products.iter().collect();
        ordered.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let share = |c: Money| match total {
            0 => Cell::None,
            _ => Cell::Percent(c as f64 * 100.0 / total as f64),
        };
        for (product, &c) in ordered {
            rows.push(vec![
                Cell::text(ty),
                Cell::text(flow),
                Cell::text(service_name(product)),
                Cell::text(product),
                Cell::Usd(c, 4),
                share(c),
            ]);
        }
        rows.push(vec![
            Cell::text(ty),
            Cell::text(flow),
            Cell::text("total"),
            Cell::text(""),
            Cell::Usd(total, 4),
            share(total),
        ]);
    }
    let span = match days {
        [day] => day.to_string(),
        _ => format!("{} to {}", days[0], days[days.len() - 1]),
    };
    Ok(Tabular {
        title: format!("Cost of each flow by AWS service, {span} (USD)"),
        columns: vec![
            column("transaction_type", "type"),
            column("flow", "flow"),
            column("service", "service"),
            data_column("product_code"),
            column("cost_usd", "cost"),
            column("share_percent", "share"),
        ],
        rows,
        left: 4,
        warnings: missing_note(&missing),
        ..Tabular::default()
    })
}
