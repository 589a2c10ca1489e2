//! `costjob report` and `costjob compare`, read back from the published
//! Parquet tables: the day's unit cost per flow and its reconciliation, a
//! range per day or month, each flow's cost by AWS service, the day's most
//! expensive transactions, two periods compared; as a terminal table, CSV or
//! JSON (`table`); `html` writes one self-contained page with charts.

use arrow_array::RecordBatch;
use chrono::NaiveDate;

mod books;
pub mod compare;
mod day;
pub mod html;
mod range;
mod svg;
pub mod table;

pub use day::{day, top};
pub use range::{Period, by_product, range};

use crate::Result;
use crate::config::Output;
use crate::model::money::{Money, format_usd_rounded};
use crate::output::read_day;
use crate::storage::Store;

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
