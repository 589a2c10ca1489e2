//! `costjob report`: the day's unit cost per flow and its reconciliation, a
//! range's trend per flow, or each flow's cost by AWS service, as terminal
//! tables read back from the published Parquet tables; `html` writes the same
//! (and more) as one self-contained page with charts.

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod books;
pub mod html;
mod svg;

use crate::Result;
use crate::config::Output;
use crate::model::money::{Money, format_usd_rounded};
use crate::output::{BatchExt, read_day};
use crate::storage::Store;

/// Reads the published `flow_summary` and `reconciliation` of `date` and formats them.
pub fn render(store: &Store, output: &Output, date: NaiveDate) -> Result<String> {
    let summary = read_day(store, output, "flow_summary", date)?;
    let recon = read_day(store, output, "reconciliation", date)?;
    let mut rows = Vec::new();
    for i in 0..summary.num_rows() {
        let m = |c: &str| -> Result<Money> { Ok(summary.money(c, i)?.unwrap_or(0)) };
        rows.push(vec![
            summary.text("transaction_type", i)?,
            summary.text("flow", i)?,
            thousands(summary.int("transactions", i)?),
            format_usd_rounded(m("cost_usd")?, 4),
            format_usd_rounded(m("unit_cost_usd")?, 6),
            format_usd_rounded(m("p50_usd")?, 6),
            format_usd_rounded(m("p95_usd")?, 6),
            format_usd_rounded(m("p99_usd")?, 6),
            format_usd_rounded(m("max_usd")?, 6),
        ]);
    }
    let basis = if recon.num_rows() > 0 {
        recon.text("cost_basis", 0)?
    } else {
        String::new()
    };
    let mut out = String::new();
    let _ = writeln!(out, "Unit cost per flow, {date} ({basis} cost, USD)\n");
    let header = [
        "type",
        "flow",
        "transactions",
        "cost",
        "unit cost",
        "p50",
        "p95",
        "p99",
        "max",
    ];
    out.push_str(&grid(&header, &rows, 2));
    if recon.num_rows() > 0 {
        let m = |c: &str| -> Result<String> {
            Ok(format_usd_rounded(recon.money(c, 0)?.unwrap_or(0), 4))
        };
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
    }
    out.push_str(&books::read(store, output, [(date, &recon)])?.text());
    Ok(out)
}

/// A text table: the first `left` columns left-aligned, the rest right-aligned.
pub(crate) fn grid<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>], left: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.as_ref().len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(header.to_vec()) + "\n";
    out += &(widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ")
        + "\n");
    for row in rows {
        out += &(line(row.iter().map(AsRef::as_ref).collect()) + "\n");
    }
    out
}

/// The cost basis of the days shown, in words: `amortized cost`, or, when
/// the days were run on different bases, `mixed cost bases (amortized:
/// 2026-11-01 to 2026-11-20; unblended: 2026-11-21)`: figures of different
/// bases are not comparable, and no one basis may label them.
pub(crate) fn bases_label(days: &[(NaiveDate, String)]) -> String {
    let mut runs: Vec<(String, NaiveDate, NaiveDate)> = Vec::new();
    for (day, basis) in days {
        match runs.last_mut() {
            Some((b, _, last)) if b == basis => *last = *day,
            _ => runs.push((basis.clone(), *day, *day)),
        }
    }
    let mut bases: Vec<&str> = runs.iter().map(|(b, _, _)| b.as_str()).collect();
    bases.sort_unstable();
    bases.dedup();
    match bases.as_slice() {
        [] => "cost".to_string(),
        [one] => format!("{one} cost"),
        _ => {
            let parts: Vec<String> = (runs.iter())
                .map(|(b, first, last)| match first == last {
                    true => format!("{b}: {first}"),
                    false => format!("{b}: {first} to {last}"),
                })
                .collect();
            format!("mixed cost bases ({})", parts.join("; "))
        }
    }
}

/// An AWS service's name for people (`awskms` -> `AWS KMS`), from
/// `service_names.csv`; a product code not listed is shown as it is.
pub(crate) fn service_name(product_code: &str) -> &str {
    static NAMES: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (include_str!("service_names.csv").lines())
            .filter(|l| !l.starts_with('#') && !l.starts_with("product_code,"))
            .filter_map(|l| l.split_once(','))
            .collect()
    });
    names.get(product_code).copied().unwrap_or(product_code)
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = svg::group_thousands(&n.unsigned_abs().to_string());
    if n < 0 { format!("-{digits}") } else { digits }
}

/// USD for people: `$1,234.57`, `-$0.040857` (rounded half-to-even to `places`).
fn usd(value: Money, places: u32) -> String {
    let digits = svg::group_thousands(&format_usd_rounded(value.abs(), places));
    if value < 0 {
        format!("-${digits}")
    } else {
        format!("${digits}")
    }
}

/// The days found (with the table) and the days never published.
pub(crate) type Published = (Vec<(NaiveDate, RecordBatch)>, Vec<NaiveDate>);

/// A published table for each of `days`; a day never published is listed,
/// not an error (a range often starts before the first run).
fn tables_of(store: &Store, output: &Output, table: &str, days: &[NaiveDate]) -> Result<Published> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for &day in days {
        match read_day(store, output, table, day) {
            Ok(batch) => found.push((day, batch)),
            Err(e) if e.exit_code() == 3 => missing.push(day),
            Err(e) => return Err(e),
        }
    }
    if found.is_empty() {
        return Err(crate::output::not_published(
            output,
            days[0],
            days[days.len() - 1],
        ));
    }
    Ok((found, missing))
}

fn missing_note(missing: &[NaiveDate]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    let days: Vec<String> = missing.iter().map(|d| d.to_string()).collect();
    format!("\nNot published: {}\n", days.join(", "))
}

/// `report --from A --to B`: unit cost (and transactions) per flow and day.
pub fn trend(store: &Store, output: &Output, days: &[NaiveDate]) -> Result<String> {
    let (found, missing) = tables_of(store, output, "flow_summary", days)?;
    let mut flows: Vec<(String, String)> = Vec::new();
    for (_, batch) in &found {
        for i in 0..batch.num_rows() {
            let key = (batch.text("transaction_type", i)?, batch.text("flow", i)?);
            if !flows.contains(&key) {
                flows.push(key);
            }
        }
    }
    flows.sort();
    let (recons, _) = tables_of(store, output, "reconciliation", days)?;
    let books = books::read(store, output, recons.iter().map(|(d, b)| (*d, b)))?;
    let mut bases = Vec::new();
    for (day, recon) in &recons {
        if recon.num_rows() > 0 {
            bases.push((*day, recon.text("cost_basis", 0)?));
        }
    }
    let mut rows = Vec::new();
    for (day, batch) in &found {
        let mut row = vec![day.to_string(), books.status(*day).to_string()];
        for (ty, flow) in &flows {
            let mut cell = "-".to_string();
            for i in 0..batch.num_rows() {
                if batch.text("transaction_type", i)? == *ty && batch.text("flow", i)? == *flow {
                    cell = format!(
                        "{} ({})",
                        format_usd_rounded(batch.money("unit_cost_usd", i)?.unwrap_or(0), 6),
                        thousands(batch.int("transactions", i)?)
                    );
                }
            }
            row.push(cell);
        }
        rows.push(row);
    }
    let names: Vec<String> = flows.iter().map(|(_, f)| f.clone()).collect();
    let mut header = vec!["day", "status"];
    header.extend(names.iter().map(String::as_str));
    let mut out = format!(
        "Unit cost per flow and day, {} to {} ({}, USD per transaction, and transactions)\n\n",
        days[0],
        days[days.len() - 1],
        bases_label(&bases)
    );
    out.push_str(&grid(&header, &rows, 2));
    out.push_str(&missing_note(&missing));
    out.push_str(&books.text());
    Ok(out)
}

/// `report --date D --top N`: the day's N most expensive transactions
/// (ties: by id), ready for `costjob explain`.
pub fn top(store: &Store, output: &Output, date: NaiveDate, n: usize) -> Result<String> {
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
    let t = crate::output::read_day_columns(store, output, "transactions", date, Some(&COLUMNS))?;
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
        let m =
            |c: &str| -> Result<String> { Ok(format_usd_rounded(t.money(c, i)?.unwrap_or(0), 10)) };
        rows.push(vec![
            (rank + 1).to_string(),
            id,
            t.text("transaction_type", i)?,
            t.text("flow", i)?,
            t.text("status", i)?,
            thousands(t.int("events", i)?),
            format_usd_rounded(cost, 10),
            m("direct_cost_usd")?,
            m("shared_cost_usd")?,
        ]);
    }
    let mut out = format!(
        "The {} most expensive transactions of {date} (USD; why each costs what it does: costjob explain --date {date} --transaction ID)\n\n",
        rows.len()
    );
    let header = [
        "#",
        "transaction",
        "type",
        "flow",
        "status",
        "events",
        "cost",
        "direct",
        "shared",
    ];
    out.push_str(&grid(&header, &rows, 5));
    Ok(out)
}

/// `report --by service`: where each flow's money goes, over the days.
pub fn by_service(store: &Store, output: &Output, days: &[NaiveDate]) -> Result<String> {
    let (found, missing) = tables_of(store, output, "flow_costs", days)?;
    let mut cost: BTreeMap<(String, String), BTreeMap<String, Money>> = BTreeMap::new();
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
    let mut rows = Vec::new();
    for ((ty, flow), services) in &cost {
        let total: Money = services.values().sum();
        let mut ordered: Vec<(&String, &Money)> = services.iter().collect();
        ordered.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (service, &c) in ordered {
            let share = if total == 0 {
                "-".to_string()
            } else {
                format!("{:.1}%", c as f64 * 100.0 / total as f64)
            };
            rows.push(vec![
                ty.clone(),
                flow.clone(),
                service_name(service).to_string(),
                format_usd_rounded(c, 4),
                share,
            ]);
        }
        rows.push(vec![
            ty.clone(),
            flow.clone(),
            "total".to_string(),
            format_usd_rounded(total, 4),
            "100.0%".to_string(),
        ]);
    }
    let span = if days.len() == 1 {
        days[0].to_string()
    } else {
        format!("{} to {}", days[0], days[days.len() - 1])
    };
    let mut out = format!("Cost of each flow by AWS service, {span} (USD)\n\n");
    out.push_str(&grid(
        &["type", "flow", "service", "cost", "share"],
        &rows,
        3,
    ));
    out.push_str(&missing_note(&missing));
    Ok(out)
}
