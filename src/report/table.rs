//! A report's rows, printed three ways: a terminal table (rounded, grouped
//! digits, a title and notes), CSV (a header row of column keys, plain exact
//! decimals) or JSON (one array of objects, money as exact decimal strings),
//! so finance can paste the same figures into a deck or a spreadsheet.

use std::fmt::Write as _;

use super::{grid, thousands};
use crate::model::money::{Money, format_usd, format_usd_rounded};

/// How `report` and `compare` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for a terminal, with a title and notes.
    #[default]
    Table,
    /// A header row and one line per row (RFC 4180 quoting).
    Csv,
    /// One array of objects.
    Json,
}

/// One value of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(i64),
    /// USD, shown rounded to the places given in a table, exact elsewhere.
    Usd(Money, u32),
    /// A percentage, shown to one decimal in a table.
    Percent(f64),
    /// A change in percent, shown signed to one decimal in a table.
    SignedPercent(f64),
    /// No value (a unit cost of no transaction): `-`, empty, `null`.
    None,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
}

/// A column: its key (CSV header, JSON field) and its terminal header.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub key: &'static str,
    pub header: &'static str,
}

/// A column: its key in CSV and JSON, its header in a table.
pub const fn column(key: &'static str, header: &'static str) -> Column {
    Column { key, header }
}

/// A column for CSV and JSON only (the terminal shows the readable one
/// beside it, such as a service's name for its product code).
pub const fn data_column(key: &'static str) -> Column {
    Column { key, header: "" }
}

/// A report: what it shows, its rows, and what only a person reading a
/// terminal needs (notes printed under the table).
#[derive(Debug, Default)]
pub struct Tabular {
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// How many leading columns are text, left-aligned in a table.
    pub left: usize,
    /// Printed under the table only.
    pub notes: String,
    /// In a table, the columns from this index on are printed as a second
    /// table under the first (with the leading text columns again), under
    /// this heading: a day's 15 columns do not fit a terminal.
    pub second_table: Option<(usize, &'static str)>,
    /// Printed on stderr in CSV and JSON (under the table in a table): what
    /// the rows leave out, such as days never published.
    pub warnings: String,
}

impl Tabular {
    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    fn table(&self) -> String {
        let mut out = String::new();
        if !self.title.is_empty() {
            let _ = writeln!(out, "{}\n", self.title);
        }
        let n = self.columns.len();
        match self.second_table {
            None => out.push_str(&self.grid(0..n)),
            Some((from, heading)) => {
                out.push_str(&self.grid(self.left..from));
                let _ = writeln!(out, "\n{heading}\n");
                out.push_str(&self.grid(from..n));
            }
        }
        out.push_str(&self.warnings);
        out.push_str(&self.notes);
        out
    }

    /// The leading text columns and `columns`, aligned.
    fn grid(&self, columns: std::ops::Range<usize>) -> String {
        let shown = |i: &usize| {
            !self.columns[*i].header.is_empty() && (*i < self.left || columns.contains(i))
        };
        let header: Vec<&str> = (self.columns.iter().enumerate())
            .filter(|(i, _)| shown(i))
            .map(|(_, c)| c.header)
            .collect();
        let rows: Vec<Vec<String>> = (self.rows.iter())
            .map(|row| {
                (row.iter().enumerate())
                    .filter(|(i, _)| shown(i))
                    .map(|(_, cell)| match cell {
                        Cell::Text(s) => s.clone(),
                        Cell::Count(n) => thousands(*n),
                        Cell::Usd(v, places) => format_usd_rounded(*v, *places),
                        Cell::Percent(p) => format!("{p:.1}%"),
                        Cell::SignedPercent(p) => format!("{p:+.1}%"),
                        Cell::None => "-".to_string(),
                    })
                    .collect()
            })
            .collect();
        grid(&header, &rows, self.left)
    }

    fn csv(&self) -> String {
        let quote = |s: &str| -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        let keys: Vec<String> = self.columns.iter().map(|c| quote(c.key)).collect();
        out.push_str(&keys.join(","));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = (row.iter())
                .map(|cell| match cell {
                    Cell::Text(s) => quote(s),
                    Cell::Count(n) => n.to_string(),
                    Cell::Usd(v, _) => format_usd(*v),
                    Cell::Percent(p) | Cell::SignedPercent(p) => plain_percent(*p),
                    Cell::None => String::new(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    fn json(&self) -> String {
        let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let objects: Vec<String> = (self.rows.iter())
            .map(|row| {
                let fields: Vec<String> = (self.columns.iter().zip(row))
                    .map(|(c, cell)| {
                        let value = match cell {
                            Cell::Text(s) => string(s),
                            Cell::Count(n) => n.to_string(),
                            Cell::Usd(v, _) => string(&format_usd(*v)),
                            Cell::Percent(p) | Cell::SignedPercent(p) => plain_percent(*p),
                            Cell::None => "null".to_string(),
                        };
                        format!("{}:{value}", string(c.key))
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            })
            .collect();
        format!("[{}]\n", objects.join(",\n"))
    }
}

/// A percentage as a plain decimal to 4 places (`-3.25`, not `-3.2500%`).
fn plain_percent(p: f64) -> String {
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::money::ONE_USD;

    fn sample() -> Tabular {
        Tabular {
            title: "Title".into(),
            columns: vec![
                column("flow", "flow"),
                column("transactions", "transactions"),
                column("cost_usd", "cost"),
                column("drift_percent", "drift"),
            ],
            rows: vec![
                vec![
                    Cell::text("pago, \"fast\""),
                    Cell::Count(1_234_567),
                    Cell::Usd(1_234 * ONE_USD + 5, 4),
                    Cell::SignedPercent(-3.25),
                ],
                vec![Cell::text("x"), Cell::Count(0), Cell::None, Cell::None],
            ],
            left: 1,
            notes: "\nnote\n".into(),
            warnings: "\nwarning\n".into(),
            second_table: None,
        }
    }

    #[test]
    fn csv_is_plain_exact_and_quoted() {
        assert_eq!(
            sample().render(Format::Csv),
            "flow,transactions,cost_usd,drift_percent\n\"pago, \"\"fast\"\"\",1234567,1234.0000000005,-3.25\nx,0,,\n"
        );
    }

    #[test]
    fn json_is_an_array_of_objects_with_money_as_strings() {
        let v: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(v[0]["flow"], "pago, \"fast\"");
        assert_eq!(v[0]["transactions"], 1_234_567);
        assert_eq!(v[0]["cost_usd"], "1234.0000000005");
        assert_eq!(v[0]["drift_percent"], -3.25);
        assert!(v[1]["cost_usd"].is_null());
    }

    #[test]
    fn a_table_rounds_groups_and_notes() {
        let t = sample().render(Format::Table);
        assert!(t.starts_with("Title\n\n"), "{t}");
        assert!(t.contains("1,234,567  1234.0000  -3.2%"), "{t}");
        assert!(t.ends_with("\nwarning\n\nnote\n"), "{t}");
        let split = Tabular {
            second_table: Some((3, "Second")),
            ..sample()
        }
        .render(Format::Table);
        let (first, second) = split.split_once("\nSecond\n\n").expect("two tables");
        assert!(first.contains("transactions       cost\n"), "{split}");
        assert!(!first.contains("drift"), "{split}");
        assert!(second.starts_with("flow          drift\n"), "{split}");
    }
}
