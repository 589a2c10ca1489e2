//! `costjob report --html FILE`: one self-contained HTML page for a day or a
//! range, read back from the published tables: headline figures, unit cost per
//! flow (a line per flow over a range), each flow's cost stacked by AWS
//! service, the per-transaction cost distribution, where the bill went, the
//! unallocated cost and why, the reconciliation identity and the log counters.
//! Charts are inline SVG (`svg`); the page loads nothing and runs no script.
//! How to read it: `docs/reading-the-report.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arrow_array::RecordBatch;
use chrono::NaiveDate;

use super::svg::{self, Bars, Dots, Lines, escape};
use super::{Published, tables_of, thousands, usd};
use crate::Result;
use crate::config::Output;
use crate::model::money::{self, Money};
use crate::output::BatchExt;
use crate::storage::Store;

/// How many AWS services get their own colour in the stacked chart; the rest are "other".
const SERVICES_SHOWN: usize = 7;
/// How many unallocated pools are listed one by one.
const POOLS_LISTED: usize = 20;

const STYLE: &str = include_str!("report.css");

type FlowKey = (String, String);

/// One flow's figures on one day, from `flow_summary`.
struct FlowDay {
    transactions: i64,
    cost: Money,
    unit: Money,
    percentiles: [Money; 4],
    /// `successful_transactions` (none for days published before it existed).
    successful: Option<i64>,
}

/// One day's `reconciliation` row.
struct Reconciliation {
    cost_basis: String,
    cur_rows: i64,
    cur_total: Money,
    allocated: Money,
    unallocated: Money,
    excluded: Money,
    /// The line item types excluded that day (`excluded_by_type`'s).
    excluded_types: Vec<String>,
    /// Accounts outside `[cur] accounts` (0 for days published before it existed).
    out_of_scope: Money,
    delta: Money,
    transactions: i64,
    run_id: String,
    version: String,
    /// The log counters (`log_*` columns), in the table's order.
    counters: Vec<(String, i64)>,
}

/// Everything the page shows, gathered from the tables of the days found.
struct Range {
    /// Every day asked for, and those published.
    requested: Vec<NaiveDate>,
    days: Vec<NaiveDate>,
    missing: Vec<NaiveDate>,
    flows: BTreeMap<FlowKey, BTreeMap<NaiveDate, FlowDay>>,
    by_service: BTreeMap<FlowKey, BTreeMap<String, Money>>,
    /// Per flow, the allocated and the modelled cost of its priced products.
    priced: BTreeMap<FlowKey, super::day::Priced>,
    unallocated: Vec<UnallocatedPool>,
    reconciliation: BTreeMap<NaiveDate, Reconciliation>,
    /// Provisional or final, and the restatements.
    books: super::books::Books,
}

struct UnallocatedPool {
    day: NaiveDate,
    reason: String,
    product: String,
    rule: String,
    tags: String,
    cost: Money,
}

fn money_of(batch: &RecordBatch, column: &str, row: usize) -> Result<Money> {
    Ok(batch.money(column, row)?.unwrap_or(0))
}

fn gather(store: &Store, output: &Output, days: &[NaiveDate]) -> Result<Range> {
    let (summaries, missing): Published = tables_of(store, output, "flow_summary", days)?;
    let found: Vec<NaiveDate> = summaries.iter().map(|(d, _)| *d).collect();
    let mut range = Range {
        requested: days.to_vec(),
        days: found.clone(),
        missing,
        flows: BTreeMap::new(),
        by_service: BTreeMap::new(),
        priced: BTreeMap::new(),
        unallocated: Vec::new(),
        reconciliation: BTreeMap::new(),
        books: super::books::Books::default(),
    };
    for (day, batch) in &summaries {
        for i in 0..batch.num_rows() {
            let key = (batch.text("transaction_type", i)?, batch.text("flow", i)?);
            let p = |c| money_of(batch, c, i);
            range.flows.entry(key).or_default().insert(
                *day,
                FlowDay {
                    transactions: batch.int("transactions", i)?,
                    cost: p("cost_usd")?,
                    unit: p("unit_cost_usd")?,
                    percentiles: [p("p50_usd")?, p("p95_usd")?, p("p99_usd")?, p("max_usd")?],
                    successful: match batch.schema().column_with_name("successful_transactions") {
                        Some(_) => Some(batch.int("successful_transactions", i)?),
                        None => None,
                    },
                },
            );
        }
    }
    for (_, batch) in tables_of(store, output, "flow_costs", &found)?.0 {
        super::day::Priced::add_rows(&mut range.priced, &batch)?;
        for i in 0..batch.num_rows() {
            let key = (batch.text("transaction_type", i)?, batch.text("flow", i)?);
            *range
                .by_service
                .entry(key)
                .or_default()
                .entry(super::service_name(&batch.text("product_code", i)?).to_string())
                .or_default() += money_of(&batch, "cost_usd", i)?;
        }
    }
    for (day, batch) in tables_of(store, output, "unallocated", &found)?.0 {
        for i in 0..batch.num_rows() {
            let tags: Vec<String> = ["tag_transaction_type", "tag_flow", "tag_service"]
                .iter()
                .map(|c| batch.text(c, i))
                .collect::<Result<_>>()?;
            range.unallocated.push(UnallocatedPool {
                day,
                reason: batch.text("reason", i)?,
                product: super::service_name(&batch.text("product_code", i)?).to_string(),
                rule: batch.text("rule_id", i)?,
                tags: tags
                    .iter()
                    .filter(|t| !t.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" / "),
                cost: money_of(&batch, "cost_usd", i)?,
            });
        }
    }
    let recons = tables_of(store, output, "reconciliation", &found)?.0;
    range.books = super::books::read(store, output, recons.iter().map(|(d, b)| (*d, b)))?;
    for (day, batch) in recons {
        if batch.num_rows() == 0 {
            continue;
        }
        range.reconciliation.insert(day, reconciliation_of(&batch)?);
    }
    Ok(range)
}

/// One day's `reconciliation` row (not empty) for the page.
fn reconciliation_of(batch: &RecordBatch) -> Result<Reconciliation> {
    let m = |c| money_of(batch, c, 0);
    let counters = batch
        .schema()
        .fields()
        .iter()
        .filter(|f| f.name().starts_with("log_"))
        .map(|f| Ok((f.name().clone(), batch.int(f.name(), 0)?)))
        .collect::<Result<_>>()?;
    Ok(Reconciliation {
        cost_basis: batch.text("cost_basis", 0)?,
        cur_rows: batch.int("cur_rows", 0)?,
        cur_total: m("cur_total_usd")?,
        allocated: m("allocated_usd")?,
        unallocated: m("unallocated_usd")?,
        excluded: m("excluded_usd")?,
        excluded_types: batch.money_by("excluded_by_type", 0)?.into_keys().collect(),
        out_of_scope: match batch.schema().column_with_name("out_of_scope_usd") {
            Some(_) => m("out_of_scope_usd")?,
            None => 0,
        },
        delta: m("delta_usd")?,
        transactions: batch.int("transactions", 0)?,
        run_id: batch.text("run_id", 0)?,
        version: batch.text("costjob_version", 0)?,
        counters,
    })
}

/// `cost / n` rounded half away from zero (a unit cost over a range).
fn per(cost: Money, n: i64) -> Money {
    if n <= 0 {
        return 0;
    }
    let n = n as Money;
    (2 * cost + cost.signum() * n) / (2 * n)
}

/// A share as a percentage with two decimals (`0.24%`); `-` when there is no total.
fn share(part: Money, total: Money) -> String {
    if total == 0 {
        "-".to_string()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / total as f64)
    }
}

fn as_f64(value: Money) -> f64 {
    value as f64 / money::ONE_USD as f64
}

/// A flow as the page names it: `pago (monetary)`; `unclassified` alone.
fn flow_name((ty, flow): &FlowKey) -> String {
    if flow == ty {
        flow.clone()
    } else {
        format!("{flow} ({ty})")
    }
}

/// Writes the page for `days` (one day or a range).
pub fn render(store: &Store, output: &Output, days: &[NaiveDate]) -> Result<String> {
    let range = gather(store, output, days)?;
    let mut page = String::new();
    let span = match (range.days.first(), range.days.last()) {
        (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    };
    let bases: Vec<(NaiveDate, String)> = (range.reconciliation.iter())
        .map(|(day, r)| (*day, r.cost_basis.clone()))
        .collect();
    let basis = super::bases_label(&bases);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>AWS cost per transaction, {span}</title><style>{STYLE}</style></head><body><main>\
         <h1>AWS cost per transaction</h1><p class=\"subtitle\">{span} &middot; {basis} &middot; \
         {}, from the costjob tables</p>",
        escape(&days_phrase(&range)),
        basis = escape(&basis),
    );
    headline(&mut page, &range);
    flow_table(&mut page, &range);
    unit_cost_chart(&mut page, &range);
    service_chart(&mut page, &range);
    distribution_chart(&mut page, &range);
    bill_chart(&mut page, &range);
    unallocated_section(&mut page, &range);
    reconciliation_section(&mut page, &range);
    books_section(&mut page, &range.books);
    counters_section(&mut page, &range);
    let runs: Vec<String> = range
        .reconciliation
        .iter()
        .map(|(d, r)| format!("{d}: run {} (costjob {})", r.run_id, r.version))
        .collect();
    let _ = writeln!(
        page,
        "<footer><p>Written by <code>costjob report --html</code> from the published tables. \
         How to read each chart: docs/reading-the-report.md in the costjob repository.</p>\
         <p class=\"runs\">{}</p></footer></main></body></html>",
        escape(&runs.join("; "))
    );
    Ok(page)
}

fn days_phrase(range: &Range) -> String {
    let n = range.days.len();
    let mut text = format!("{n} day{} published", if n == 1 { "" } else { "s" });
    if !range.missing.is_empty() {
        let missing: Vec<String> = range.missing.iter().map(|d| d.to_string()).collect();
        let _ = write!(text, " (not published: {})", missing.join(", "));
    }
    text
}

fn section(page: &mut String, title: &str, how_to_read: &str) {
    let _ = write!(
        page,
        "<section><h2>{}</h2><p class=\"read\">{}</p>",
        escape(title),
        escape(how_to_read)
    );
}

fn headline(page: &mut String, range: &Range) {
    let total =
        |f: fn(&Reconciliation) -> Money| -> Money { range.reconciliation.values().map(f).sum() };
    let cur = total(|r| r.cur_total);
    let transactions: i64 = range.reconciliation.values().map(|r| r.transactions).sum();
    let cards = [
        (
            "CUR total",
            usd(cur, 2),
            "the bill for these days".to_string(),
        ),
        (
            "Allocated to transactions",
            usd(total(|r| r.allocated), 2),
            format!("{} of the bill", share(total(|r| r.allocated), cur)),
        ),
        (
            "Unallocated",
            usd(total(|r| r.unallocated), 2),
            format!(
                "{} of the cost to split",
                share(
                    total(|r| r.unallocated),
                    total(|r| r.allocated + r.unallocated)
                )
            ),
        ),
        (
            "Excluded",
            usd(total(|r| r.excluded), 2),
            excluded_note(range),
        ),
        (
            "Transactions",
            thousands(transactions),
            format!(
                "average {} each",
                usd(per(total(|r| r.allocated), transactions), 6)
            ),
        ),
    ];
    page.push_str("<div class=\"cards\">");
    for (name, value, note) in cards {
        let _ = write!(
            page,
            "<div class=\"card\"><div class=\"name\">{}</div><div class=\"figure\">{}</div><div class=\"note\">{}</div></div>",
            escape(name),
            escape(&value),
            escape(&note)
        );
    }
    page.push_str("</div>");
}

/// What the configuration excluded, as the days' reconciliations name it:
/// `Credit, Tax: not split`, or that nothing was.
fn excluded_note(range: &Range) -> String {
    let mut types: Vec<&str> = (range.reconciliation.values())
        .flat_map(|r| r.excluded_types.iter().map(String::as_str))
        .collect();
    types.sort_unstable();
    types.dedup();
    if types.is_empty() {
        "nothing excluded: every line item type is split".to_string()
    } else {
        format!("{}: not split", types.join(", "))
    }
}

fn flow_table(page: &mut String, range: &Range) {
    let single = range.days.len() == 1;
    section(
        page,
        "Unit cost per flow",
        if single {
            "Each flow's transactions, total cost and cost per transaction, with the per-transaction percentiles: half of the transactions cost at most p50, 95% at most p95. Per success: the flow's whole cost over its successful transactions (what one good payment costs, the failures included). Bill vs model: how far the bill for the products with a list price is from list price x usage."
        } else {
            "Each flow over the whole range: transactions, total cost and cost per transaction (total cost divided by transactions). Percentiles are per day: see the distribution chart. Per success: the flow's whole cost over its successful transactions (what one good payment costs, the failures included). Bill vs model: how far the bill for the products with a list price is from list price x usage."
        },
    );
    page.push_str("<table><thead><tr><th>type</th><th>flow</th><th>transactions</th><th>cost</th><th>unit cost</th>");
    if single {
        page.push_str("<th>p50</th><th>p95</th><th>p99</th><th>max</th>");
    }
    page.push_str("<th>per success</th><th>bill vs model</th></tr></thead><tbody>");
    for ((ty, flow), per_day) in &range.flows {
        let transactions: i64 = per_day.values().map(|d| d.transactions).sum();
        let cost: Money = per_day.values().map(|d| d.cost).sum();
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            escape(ty),
            escape(flow),
            thousands(transactions),
            usd(cost, 2),
            usd(per(cost, transactions), 6)
        );
        if let (true, Some(day)) = (single, per_day.values().next()) {
            for p in day.percentiles {
                let _ = write!(page, "<td class=\"n\">{}</td>", usd(p, 6));
            }
        }
        let successful: Option<i64> = per_day.values().map(|d| d.successful).sum();
        let per_success = match successful {
            Some(n) if n > 0 => usd(per(cost, n), 6),
            _ => "-".to_string(),
        };
        let drift = (range.priced.get(&(ty.clone(), flow.clone())))
            .and_then(super::day::Priced::drift_percent)
            .map_or("-".to_string(), |d| format!("{d:+.1}%"));
        let _ = write!(
            page,
            "<td class=\"n\">{per_success}</td><td class=\"n\">{drift}</td></tr>"
        );
    }
    page.push_str("</tbody></table></section>");
}

fn unit_cost_chart(page: &mut String, range: &Range) {
    if range.days.len() == 1 {
        section(
            page,
            "Cost per transaction, by flow",
            "Each bar is a flow's cost divided by its transactions on the day.",
        );
        let rows: Vec<(String, Vec<f64>, String)> = range
            .flows
            .iter()
            .filter_map(|(key, per_day)| {
                let day = per_day.values().next()?;
                Some((flow_name(key), vec![as_f64(day.unit)], usd(day.unit, 6)))
            })
            .collect();
        page.push_str(&svg::bars(&Bars {
            title: "Unit cost per flow",
            axis_label: "USD per transaction",
            series: &["unit cost".to_string()],
            legend: false,
            rows: &rows,
        }));
    } else {
        section(
            page,
            "Cost per transaction, by flow and day",
            "One small chart per flow, each on its own scale: the flow's unit cost (its cost that day divided by its transactions) per day. A scale starts near the flow's own values, not at zero, so a move of a few percent shows; the dashed line is the flow's first day, and the line ends with its last unit cost and the change since the first day. A gap is a day not published or a day the flow had no transactions; a step on one flow only points at that flow's services (see the next chart).",
        );
        let x_labels: Vec<String> = range
            .requested
            .iter()
            .map(|d| d.format("%m-%d").to_string())
            .collect();
        let mut series: Vec<(String, Vec<Option<f64>>)> = Vec::new();
        let mut end_labels = Vec::new();
        for (key, per_day) in &range.flows {
            let units: Vec<Option<Money>> = (range.requested.iter())
                .map(|d| per_day.get(d).map(|f| f.unit))
                .collect();
            let (first, last) = (units.iter().flatten().next(), units.iter().flatten().last());
            end_labels.push(match (first, last) {
                (Some(&f), Some(&l)) if f != 0 => format!(
                    "{} ({:+.1}%)",
                    usd(l, 6),
                    (as_f64(l) - as_f64(f)) * 100.0 / as_f64(f).abs()
                ),
                (_, Some(&l)) => usd(l, 6),
                _ => String::new(),
            });
            let points = units.into_iter().map(|u| u.map(as_f64)).collect();
            series.push((flow_name(key), points));
        }
        page.push_str(&svg::lines(&Lines {
            title: "Unit cost per flow and day (USD per transaction)",
            x_labels: &x_labels,
            series: &series,
            end_labels: &end_labels,
        }));
    }
    page.push_str("</section>");
}

fn service_chart(page: &mut String, range: &Range) {
    section(
        page,
        "Where each flow's money goes",
        "One bar per flow, its total cost over the period split by the AWS service that billed it. The biggest services get a colour each; the rest are grouped as other.",
    );
    let mut totals: BTreeMap<&str, Money> = BTreeMap::new();
    for services in range.by_service.values() {
        for (service, cost) in services {
            *totals.entry(service).or_default() += cost.abs();
        }
    }
    let mut ranked: Vec<(&str, Money)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown = if ranked.len() > SERVICES_SHOWN + 1 {
        SERVICES_SHOWN
    } else {
        ranked.len()
    };
    let mut series: Vec<String> = ranked[..shown].iter().map(|(s, _)| s.to_string()).collect();
    if ranked.len() > shown {
        series.push("other".to_string());
    }
    let rows: Vec<(String, Vec<f64>, String)> = range
        .by_service
        .iter()
        .map(|(key, services)| {
            let mut values = vec![0.0; series.len()];
            for (service, cost) in services {
                let i = series[..shown]
                    .iter()
                    .position(|s| s == service)
                    .unwrap_or(shown);
                values[i] += as_f64(*cost);
            }
            (flow_name(key), values, usd(services.values().sum(), 2))
        })
        .collect();
    page.push_str(&svg::bars(&Bars {
        title: "Cost of each flow by AWS service",
        axis_label: "USD",
        legend: false,
        series: &series,
        rows: &rows,
    }));
    page.push_str("</section>");
}

fn distribution_chart(page: &mut String, range: &Range) {
    let Some(last) = range.days.last() else {
        return;
    };
    section(
        page,
        &format!("How much one transaction costs, {last}"),
        "For each flow, the per-transaction cost at the 50th, 95th and 99th percentile and the most expensive transaction. A long way from p50 to max means a few transactions drew far more work (longer, more calls) than the typical one: look them up with costjob explain.",
    );
    let names = ["p50", "p95", "p99", "max"].map(String::from).to_vec();
    let rows: Vec<(String, Vec<f64>)> = range
        .flows
        .iter()
        .filter_map(|(key, per_day)| {
            let day = per_day.get(last)?;
            Some((
                flow_name(key),
                day.percentiles.iter().map(|p| as_f64(*p)).collect(),
            ))
        })
        .collect();
    page.push_str(&svg::dots(&Dots {
        title: &format!("Per-transaction cost distribution, {last}"),
        axis_label: "USD per transaction",
        series: &names,
        rows: &rows,
    }));
    page.push_str("</section>");
}

fn bill_chart(page: &mut String, range: &Range) {
    section(
        page,
        "Where the bill went",
        &format!(
            "Each day's CUR total in four parts: allocated to transactions, unallocated (an AWS cost that no transaction drove that day, listed below), excluded ({}) and out of scope (the accounts outside the allocation's scope). The four always add up to the CUR total.",
            excluded_note(range)
        ),
    );
    let series = ["allocated", "unallocated", "excluded", "out of scope"]
        .map(String::from)
        .to_vec();
    let rows: Vec<(String, Vec<f64>, String)> = range
        .reconciliation
        .iter()
        .map(|(day, r)| {
            let parts = [r.allocated, r.unallocated, r.excluded, r.out_of_scope];
            (
                day.to_string(),
                parts.map(as_f64).to_vec(),
                usd(r.cur_total, 2),
            )
        })
        .collect();
    page.push_str(&svg::bars(&Bars {
        title: "CUR total by day: allocated, unallocated, excluded, out of scope",
        axis_label: "USD",
        legend: false,
        series: &series,
        rows: &rows,
    }));
    page.push_str("</section>");
}

fn unallocated_section(page: &mut String, range: &Range) {
    let total: Money = range.reconciliation.values().map(|r| r.unallocated).sum();
    let to_split: Money = (range.reconciliation.values())
        .map(|r| r.allocated + r.unallocated)
        .sum();
    section(
        page,
        "Unallocated cost and why",
        &format!(
            "{} ({} of the cost to split, allocated plus unallocated: the share the UnallocatedShare metric and its alarm watch) went to no transaction. Each bar is a reason, split by AWS service; the table lists the largest pools with the tags they carried.",
            usd(total, 4),
            share(total, to_split)
        ),
    );
    if range.unallocated.is_empty() {
        page.push_str("<p>Every cost of the period was allocated.</p></section>");
        return;
    }
    let mut products: Vec<String> = Vec::new();
    let mut by_reason: BTreeMap<&str, BTreeMap<&str, Money>> = BTreeMap::new();
    for pool in &range.unallocated {
        if !products.contains(&pool.product) {
            products.push(pool.product.clone());
        }
        *by_reason
            .entry(&pool.reason)
            .or_default()
            .entry(&pool.product)
            .or_default() += pool.cost;
    }
    products.sort();
    let rows: Vec<(String, Vec<f64>, String)> = by_reason
        .iter()
        .map(|(reason, costs)| {
            let values = products
                .iter()
                .map(|p| costs.get(p.as_str()).map_or(0.0, |c| as_f64(*c)))
                .collect();
            (reason.to_string(), values, usd(costs.values().sum(), 4))
        })
        .collect();
    page.push_str(&svg::bars(&Bars {
        title: "Unallocated cost by reason and AWS service",
        axis_label: "USD",
        legend: true,
        series: &products,
        rows: &rows,
    }));
    let mut pools: Vec<&UnallocatedPool> = range.unallocated.iter().collect();
    pools.sort_by(|a, b| b.cost.abs().cmp(&a.cost.abs()).then(a.day.cmp(&b.day)));
    page.push_str("<table><thead><tr><th>day</th><th>reason</th><th>service</th><th>rule</th><th>tags</th><th>cost</th></tr></thead><tbody>");
    for pool in pools.iter().take(POOLS_LISTED) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            pool.day,
            escape(&pool.reason),
            escape(&pool.product),
            escape(&pool.rule),
            escape(&pool.tags),
            usd(pool.cost, 4)
        );
    }
    page.push_str("</tbody></table>");
    if pools.len() > POOLS_LISTED {
        let _ = write!(
            page,
            "<p class=\"read\">{} more pools in the unallocated table.</p>",
            thousands((pools.len() - POOLS_LISTED) as i64)
        );
    }
    page.push_str("</section>");
}

/// Provisional or final, day by day, and the restatements of the days.
fn books_section(page: &mut String, books: &super::books::Books) {
    section(
        page,
        &format!("Provisional or final: {}", books.summary()),
        &format!(
            "Each day is {} A restatement is a day published again because its inputs changed (why: cur, the bill moved or was invoiced; logs; pricing; config): its CUR total before and after, the change in what was allocated to transactions, and the bill's change by line item type.",
            super::books::MEANING
        ),
    );
    page.push_str("<table><thead><tr><th>day</th><th>status</th></tr></thead><tbody>");
    for day in books.final_days.keys() {
        let _ = write!(
            page,
            "<tr><td>{day}</td><td>{}</td></tr>",
            books.status(*day)
        );
    }
    page.push_str("</tbody></table>");
    if books.restated.is_empty() {
        page.push_str("<p>No day shown was restated.</p>");
    } else {
        page.push_str("<table><thead><tr>");
        for h in super::books::Books::HEADER {
            let _ = write!(page, "<th>{}</th>", escape(h));
        }
        page.push_str("</tr></thead><tbody>");
        for row in books.rows() {
            page.push_str("<tr>");
            for cell in row {
                let _ = write!(page, "<td>{}</td>", escape(&cell));
            }
            page.push_str("</tr>");
        }
        page.push_str("</tbody></table>");
    }
    page.push_str("</section>");
}

fn reconciliation_section(page: &mut String, range: &Range) {
    section(
        page,
        "Reconciliation",
        "The identity every published day satisfies, to the ten-billionth of a dollar: CUR total = allocated + unallocated + excluded + out of scope (the accounts outside the allocation's scope), with a delta of exactly zero. The figures are printed in full, unrounded.",
    );
    page.push_str("<table><thead><tr><th>day</th><th>CUR rows</th><th>CUR total</th><th>allocated</th><th>unallocated</th><th>excluded</th><th>out of scope</th><th>delta</th><th>identity</th></tr></thead><tbody>");
    let mut sums = [0 as Money; 6];
    let mut rows = 0;
    for (day, r) in &range.reconciliation {
        let parts = [
            r.cur_total,
            r.allocated,
            r.unallocated,
            r.excluded,
            r.out_of_scope,
            r.delta,
        ];
        for (s, p) in sums.iter_mut().zip(parts) {
            *s += p;
        }
        rows += r.cur_rows;
        identity_row(page, &day.to_string(), r.cur_rows, parts);
    }
    if range.reconciliation.len() > 1 {
        identity_row(page, "all days", rows, sums);
    }
    page.push_str("</tbody></table></section>");
}

fn identity_row(page: &mut String, label: &str, cur_rows: i64, parts: [Money; 6]) {
    let [cur, allocated, unallocated, excluded, out_of_scope, delta] = parts;
    let holds = delta == 0 && cur == allocated + unallocated + excluded + out_of_scope;
    let _ = write!(
        page,
        "<tr><td>{}</td><td class=\"n\">{}</td>",
        escape(label),
        thousands(cur_rows)
    );
    for p in parts {
        let _ = write!(page, "<td class=\"n\">{}</td>", usd(p, money::SCALE));
    }
    let _ = write!(
        page,
        "<td class=\"{}\">{}</td></tr>",
        if holds { "ok" } else { "bad" },
        if holds {
            "holds exactly".to_string()
        } else {
            format!(
                "off by {}",
                usd(
                    cur - allocated - unallocated - excluded - out_of_scope,
                    money::SCALE
                )
            )
        }
    );
}

fn counters_section(page: &mut String, range: &Range) {
    section(
        page,
        "What the logs held",
        "The log counters of the run: lines read, events used, and every line skipped with why. Skips are counted, never silent; a jump in one of them is worth a look before trusting the unit costs.",
    );
    let mut totals: Vec<(String, i64)> = Vec::new();
    for r in range.reconciliation.values() {
        for (name, value) in &r.counters {
            match totals.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => *total += value,
                None => totals.push((name.clone(), *value)),
            }
        }
    }
    page.push_str("<table class=\"counters\"><thead><tr><th>counter</th><th>");
    page.push_str(if range.days.len() == 1 {
        "count"
    } else {
        "total over the days"
    });
    page.push_str("</th></tr></thead><tbody>");
    for (name, total) in totals {
        let label = name.trim_start_matches("log_").replace('_', " ");
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&label),
            thousands(total)
        );
    }
    page.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_rounds_half_away_from_zero() {
        assert_eq!(per(10, 4), 3);
        assert_eq!(per(-10, 4), -3);
        assert_eq!(per(9, 4), 2);
        assert_eq!(per(5, 0), 0);
    }
}
