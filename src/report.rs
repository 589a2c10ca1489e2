//! `costjob report`: the day's unit cost per flow and its reconciliation, as a
//! terminal table, read back from the published Parquet tables.

use chrono::NaiveDate;
use std::fmt::Write as _;

use crate::Result;
use crate::config::Output;
use crate::money::{Money, format_usd_rounded};
use crate::sink::parquet::{BatchExt, read_day};
use crate::storage::Store;

/// Reads the published `flow_summary` and `reconciliation` of `date` and formats them.
pub fn render(store: &Store, output: &Output, date: NaiveDate) -> Result<String> {
    let summary = read_day(store, output, "flow_summary", date)?;
    let recon = read_day(store, output, "reconciliation", date)?;
    let mut rows = Vec::new();
    for i in 0..summary.num_rows() {
        let m = |c: &str| -> Result<Money> { Ok(summary.money(c, i)?.unwrap_or(0)) };
        rows.push([
            summary.text("transaction_type", i)?,
            summary.text("flow", i)?,
            summary.int("transactions", i)?.to_string(),
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
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str]| -> String {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "{}", line(&header));
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }
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
    Ok(out)
}
