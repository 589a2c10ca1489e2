//! `costjob explain` (SPEC 11): every pool that charged one transaction, with
//! C, u, U, `floor(|C| u / U)` and the extra 1e-10 USD if it got one, summing
//! exactly to its `cost_usd`, and its direct and shared parts. Recomputed from the published `transactions` and
//! `pools` tables only (never the logs), so it shows what finance sees.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use chrono::NaiveDate;
use serde::Serialize;

use crate::model::TransactionType;
use crate::model::money::{Money, format_usd};
use crate::output::BatchExt;
use crate::{Error, Result};

/// One pool's charge to the transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Charge {
    pub product_code: String,
    pub rule_id: String,
    pub category: String,
    pub driver: String,
    pub unit_key: String,
    /// C: the pool's cost.
    #[serde(serialize_with = "usd")]
    pub pool_cost_usd: Money,
    /// u: this transaction's driver units.
    pub units: u128,
    /// U: the units of every transaction in the pool's scope.
    pub total_units: u128,
    /// `floor(|C| u / U)`, in 1e-10 USD, with C's sign.
    #[serde(serialize_with = "usd")]
    pub floor_usd: Money,
    /// Whether it got one of the pool's remainder units (1e-10 USD).
    pub extra_unit: bool,
    /// Whether the pool is tagged with the transaction's flow or type
    /// (direct cost), or untagged (shared).
    pub direct: bool,
    #[serde(serialize_with = "usd")]
    pub share_usd: Money,
}

/// Why a transaction cost what it did.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub date: NaiveDate,
    pub transaction_id: String,
    pub transaction_type: String,
    pub flow: String,
    #[serde(serialize_with = "usd")]
    pub cost_usd: Money,
    pub charges: Vec<Charge>,
}

fn usd<S: serde::Serializer>(v: &Money, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_usd(*v))
}

fn whole(batch: &RecordBatch, column: &str, row: usize) -> Result<Option<u128>> {
    let array = batch
        .column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
        .ok_or_else(|| Error::input(format!("pools.{column}"), "missing or not DECIMAL(38,0)"))?;
    Ok((!array.is_null(row)).then(|| array.value(row).max(0) as u128))
}

/// The driver units of transaction row `row`: (unit key, units).
fn units_of(batch: &RecordBatch, row: usize) -> Result<Vec<(String, u128)>> {
    let bad = || {
        Error::input(
            "transactions.units",
            "missing or not array<struct<unit_key, units>>",
        )
    };
    let list = batch
        .column_by_name("units")
        .and_then(|c| c.as_list_opt::<i32>())
        .ok_or_else(bad)?;
    let entries = list.value(row);
    let entries = entries.as_struct_opt().ok_or_else(bad)?;
    let keys = entries.column(0).as_string_opt::<i32>().ok_or_else(bad)?;
    let units = entries
        .column(1)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(bad)?;
    Ok((0..entries.len())
        .map(|i| (keys.value(i).to_string(), units.value(i).max(0) as u128))
        .collect())
}

/// Explains transaction `id` from the day's `transactions` and `pools` tables.
pub fn explain(
    date: NaiveDate,
    transactions: &RecordBatch,
    pools: &RecordBatch,
    id: &str,
) -> Result<Explanation> {
    let ids = transactions
        .column_by_name("transaction_id")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| Error::input("transactions.transaction_id", "missing"))?;
    let row = (0..ids.len())
        .find(|&i| ids.value(i) == id)
        .ok_or_else(|| {
            Error::input(
                format!("transactions of {date}"),
                format!("no transaction {id:?} on {date}"),
            )
        })?;
    let flow = transactions.text("flow", row)?;
    let transaction_type = transactions.text("transaction_type", row)?;
    let cost_usd = transactions.money("cost_usd", row)?.unwrap_or(0);
    let units = units_of(transactions, row)?;
    let mut charges = Vec::new();
    for p in 0..pools.num_rows() {
        let Some(total_units) = whole(pools, "total_units", p)? else {
            continue; // not allocated
        };
        let opt = |c: &str| -> Result<Option<String>> {
            let v = pools.text(c, p)?;
            Ok((!v.is_empty()).then_some(v))
        };
        let Some(direct) = scope(
            opt("tag_flow")?,
            opt("tag_transaction_type")?,
            &flow,
            &transaction_type,
        ) else {
            continue;
        };
        let unit_key = pools.text("unit_key", p)?;
        let Some(&(_, u)) = units.iter().find(|(k, _)| *k == unit_key) else {
            continue;
        };
        if u == 0 || total_units == 0 {
            continue;
        }
        let cost = pools.money("cost_usd", p)?.unwrap_or(0);
        let product = cost.unsigned_abs() * u;
        let (floor, remainder) = (product / total_units, product % total_units);
        // The extra units went to the largest remainders, ties to the smaller id:
        // exactly those at or before the last one that got one, in that order.
        let extra_unit = remainder > 0
            && match (
                whole(pools, "last_extra_remainder", p)?,
                opt("last_extra_transaction_id")?,
            ) {
                (Some(last), Some(last_id)) => {
                    remainder > last || (remainder == last && id <= last_id.as_str())
                }
                _ => false,
            };
        let sign: Money = if cost < 0 { -1 } else { 1 };
        let floor_usd = sign * floor as Money;
        charges.push(Charge {
            product_code: pools.text("product_code", p)?,
            rule_id: pools.text("rule_id", p)?,
            category: pools.text("category", p)?,
            driver: pools.text("driver", p)?,
            unit_key,
            pool_cost_usd: cost,
            units: u,
            total_units,
            floor_usd,
            extra_unit,
            direct,
            share_usd: floor_usd + sign * Money::from(extra_unit),
        });
    }
    let sum: Money = charges.iter().map(|c| c.share_usd).sum();
    if sum != cost_usd {
        return Err(Error::input(
            format!("the published tables of {date}"),
            format!(
                "transaction {id:?}: the pools give {} but cost_usd is {}: the tables are not from one run (costjob check)",
                format_usd(sum),
                format_usd(cost_usd)
            ),
        ));
    }
    Ok(Explanation {
        date,
        transaction_id: id.to_string(),
        transaction_type,
        flow,
        cost_usd,
        charges,
    })
}

/// Whether a pool with these flow and type tags charges a transaction of
/// `flow` and `transaction_type` (SPEC 4.2): `None` when it does not, else
/// whether it is direct (tagged) or shared.
fn scope(
    tag_flow: Option<String>,
    tag_type: Option<String>,
    flow: &str,
    transaction_type: &str,
) -> Option<bool> {
    if tag_flow.as_deref().is_some_and(|f| f != flow) {
        return None;
    }
    if let Some(tag) = &tag_type
        && TransactionType::parse(tag).map(TransactionType::as_str) != Some(transaction_type)
    {
        return None;
    }
    Some(tag_flow.is_some() || tag_type.is_some())
}

/// The explanation as a terminal table.
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Transaction {} ({} {}), {}: {} USD\n",
        e.transaction_id,
        e.transaction_type,
        e.flow,
        e.date,
        format_usd(e.cost_usd)
    );
    let header = [
        "service",
        "rule",
        "driver",
        "cost",
        "pool cost (USD)",
        "its units",
        "all units",
        "rounded down",
        "remainder",
        "share (USD)",
    ];
    let rows: Vec<Vec<String>> = e
        .charges
        .iter()
        .map(|c| {
            vec![
                crate::report::service_name(&c.product_code).to_string(),
                c.rule_id.clone(),
                c.unit_key.clone(),
                if c.direct { "direct" } else { "shared" }.to_string(),
                format_usd(c.pool_cost_usd),
                c.units.to_string(),
                c.total_units.to_string(),
                format_usd(c.floor_usd),
                if c.extra_unit { "+0.0000000001" } else { "" }.to_string(),
                format_usd(c.share_usd),
            ]
        })
        .collect();
    out.push_str(&crate::report::grid(&header, &rows, 4));
    let part = |direct: bool| -> Money {
        (e.charges.iter())
            .filter(|c| c.direct == direct)
            .map(|c| c.share_usd)
            .sum()
    };
    let _ = writeln!(
        out,
        "\n{} pools; the shares sum to {} USD = cost_usd",
        e.charges.len(),
        format_usd(e.charges.iter().map(|c| c.share_usd).sum())
    );
    let _ = writeln!(
        out,
        "  direct {} USD (pools tagged with the transaction's flow or type)\n  shared {} USD (untagged pools, split over every transaction with units of their driver)",
        format_usd(part(true)),
        format_usd(part(false))
    );
    out.push_str(
        "\nHow a share is computed: pool cost x its units / all units (the units of every transaction the pool is split over), rounded down to the ten-billionth of a dollar; the pool's few leftover ten-billionths go one each to the transactions with the largest rounded-off parts (remainder).\n",
    );
    let negative = e.charges.iter().filter(|c| c.pool_cost_usd < 0).count();
    if negative > 0 {
        let (count, verb) = match negative {
            1 => ("1 pool".to_string(), "is"),
            n => (format!("{n} pools"), "are"),
        };
        let _ = writeln!(
            out,
            "{count} {verb} negative (a credit, refund or Savings Plan negation the bill spreads over the usage it covers): rounded toward zero, its share lowers this transaction's cost."
        );
    }
    out
}
