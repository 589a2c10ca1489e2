//! `costjob compare --base A:B --with C:D`: each flow's (and, `--by product`,
//! each AWS product's within the flow) transactions, cost and unit cost in
//! two periods, and the change split into a volume effect (more or fewer
//! transactions at the base unit cost) and a rate effect (each transaction
//! costing more or less), which add up to the change exactly.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::range::{Flow, Volume, flows_by_day, products_by_flow};
use super::table::{Cell, Column, Tabular, column};
use super::{missing_note, service_name};
use crate::Result;
use crate::allocate::divide_half_even;
use crate::config::Output;
use crate::model::money::Money;
use crate::storage::Store;

/// A change between two periods, split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// `cost_with - cost_base`.
    pub change: Money,
    /// `(N_with - N_base) x unit_base`, half-to-even to 1e-10 USD; the whole
    /// change when the base has no transaction (a new flow).
    pub volume: Money,
    /// `N_with x (unit_with - unit_base)`: `change - volume`, so the two add
    /// up to the change exactly (the rounding of the volume effect, at most
    /// half of 1e-10 USD, is in it).
    pub rate: Money,
}

impl Effects {
    /// The effects of going from `base` to `with`.
    pub fn of(base: Volume, with: Volume) -> Effects {
        let change = with.cost - base.cost;
        let volume = match base.transactions {
            0 => change,
            n => divide_half_even(
                Money::from(with.transactions - base.transactions) * base.cost,
                Money::from(n),
            ),
        };
        Effects {
            change,
            volume,
            rate: change - volume,
        }
    }

    fn add(&mut self, other: Effects) {
        self.change += other.change;
        self.volume += other.volume;
        self.rate += other.rate;
    }
}

/// The two periods and whether to break flows down by product.
pub struct Periods<'a> {
    pub base: &'a [NaiveDate],
    pub with: &'a [NaiveDate],
    pub by_product: bool,
}

/// A line of the comparison: its volumes in both periods and the effects.
#[derive(Default)]
struct Line {
    base: Volume,
    with: Volume,
    effects: Effects,
}

impl Line {
    fn of(base: Volume, with: Volume) -> Line {
        Line {
            base,
            with,
            effects: Effects::of(base, with),
        }
    }

    /// The sum of lines: volumes and effects added (so a total's effects
    /// are its lines' and still add up to its change exactly).
    fn sum<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Line {
        let mut total = Line::default();
        for l in lines {
            total.base.add(l.base);
            total.with.add(l.with);
            total.effects.add(l.effects);
        }
        total
    }

    fn cells(&self) -> Vec<Cell> {
        let change_percent = match self.base.cost {
            0 => Cell::None,
            c => Cell::SignedPercent(self.effects.change as f64 * 100.0 / c as f64),
        };
        vec![
            Cell::Count(self.base.transactions),
            Cell::Usd(self.base.cost, 4),
            self.base.unit_cost(),
            Cell::Count(self.with.transactions),
            Cell::Usd(self.with.cost, 4),
            self.with.unit_cost(),
            Cell::Usd(self.effects.change, 4),
            change_percent,
            Cell::Usd(self.effects.volume, 4),
            Cell::Usd(self.effects.rate, 4),
        ]
    }
}

const FIGURES: [Column; 10] = [
    column("base_transactions", "base txns"),
    column("base_cost_usd", "base cost"),
    column("base_unit_cost_usd", "base unit"),
    column("with_transactions", "txns"),
    column("with_cost_usd", "cost"),
    column("with_unit_cost_usd", "unit"),
    column("change_usd", "change"),
    column("change_percent", "change %"),
    column("volume_effect_usd", "volume effect"),
    column("rate_effect_usd", "rate effect"),
];

/// Each period's volumes per flow (summed over its published days) and
/// the days never published.
fn volumes(
    store: &Store,
    output: &Output,
    days: &[NaiveDate],
) -> Result<(BTreeMap<Flow, Volume>, Vec<NaiveDate>)> {
    let (by_day, missing) = flows_by_day(store, output, days)?;
    let mut flows: BTreeMap<Flow, Volume> = BTreeMap::new();
    for (flow, v) in by_day.into_values().flatten() {
        flows.entry(flow).or_default().add(v);
    }
    Ok((flows, missing))
}

/// `costjob compare`.
pub fn compare(store: &Store, output: &Output, periods: &Periods<'_>) -> Result<Tabular> {
    let (base, base_missing) = volumes(store, output, periods.base)?;
    let (with, with_missing) = volumes(store, output, periods.with)?;
    let products = match periods.by_product {
        true => Some((
            products_by_flow(store, output, periods.base)?.0,
            products_by_flow(store, output, periods.with)?.0,
        )),
        false => None,
    };
    let flows: BTreeSet<&Flow> = base.keys().chain(with.keys()).collect();
    let mut rows = Vec::new();
    let mut flow_lines = Vec::new();
    for flow in flows {
        let b = base.get(flow).copied().unwrap_or_default();
        let w = with.get(flow).copied().unwrap_or_default();
        let line = match &products {
            None => Line::of(b, w),
            Some((base_products, with_products)) => {
                let none = BTreeMap::new();
                let bp = base_products.get(flow).unwrap_or(&none);
                let wp = with_products.get(flow).unwrap_or(&none);
                let codes: BTreeSet<&String> = bp.keys().chain(wp.keys()).collect();
                let lines: Vec<(&String, Line)> = (codes.into_iter())
                    .map(|code| {
                        let at = |p: &BTreeMap<String, Money>, v: Volume| Volume {
                            transactions: v.transactions,
                            cost: p.get(code).copied().unwrap_or(0),
                        };
                        (code, Line::of(at(bp, b), at(wp, w)))
                    })
                    .collect();
                for (code, l) in &lines {
                    let mut row = vec![
                        Cell::text(&flow.0),
                        Cell::text(&flow.1),
                        Cell::text(service_name(code)),
                    ];
                    row.extend(l.cells());
                    rows.push(row);
                }
                let mut total = Line::sum(lines.iter().map(|(_, l)| l));
                // The flow's transactions, not their sum over its products.
                total.base.transactions = b.transactions;
                total.with.transactions = w.transactions;
                total
            }
        };
        let mut row = vec![Cell::text(&flow.0), Cell::text(&flow.1)];
        if periods.by_product {
            row.push(Cell::text("total"));
        }
        row.extend(line.cells());
        rows.push(row);
        flow_lines.push(line);
    }
    let mut row = vec![Cell::text("all"), Cell::text("all flows")];
    if periods.by_product {
        row.push(Cell::text("total"));
    }
    row.extend(Line::sum(&flow_lines).cells());
    rows.push(row);

    let mut columns = vec![column("transaction_type", "type"), column("flow", "flow")];
    if periods.by_product {
        columns.push(column("service", "service"));
    }
    columns.extend(FIGURES);
    let span = |d: &[NaiveDate]| format!("{} to {}", d[0], d[d.len() - 1]);
    let mut warnings = String::new();
    for (name, missing) in [("base", &base_missing), ("with", &with_missing)] {
        if !missing.is_empty() {
            warnings.push_str(&format!("\n{name}:{}", missing_note(missing).trim_start()));
        }
    }
    Ok(Tabular {
        title: format!(
            "{} (base) against {} (USD): change = volume effect + rate effect",
            span(periods.base),
            span(periods.with)
        ),
        left: columns.len() - FIGURES.len(),
        columns,
        rows,
        notes: "\nvolume effect: (transactions - base transactions) x base unit cost, what the change in volume alone would have cost; rate effect: transactions x (unit cost - base unit cost), the rest. Transactions over several days are the sum of each day's count.\n".to_string(),
        warnings,
        second_table: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// volume + rate = change exactly, and each effect is within rounding of
    /// its formula, over random volumes (new and vanished flows included).
    #[test]
    fn the_volume_and_rate_effects_add_up_to_the_change_exactly() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let volume = |rng: &mut XorShift| {
            let transactions = match rng.below(10) {
                0 => 0,
                _ => rng.below(5_000_000) as i64 + 1,
            };
            let cost = match transactions {
                0 => 0,
                _ => rng.below(1 << 40) as Money * 1_000 + rng.below(1_000) as Money,
            };
            Volume { transactions, cost }
        };
        for _ in 0..100_000 {
            let (b, w) = (volume(&mut rng), volume(&mut rng));
            let e = Effects::of(b, w);
            assert_eq!(e.volume + e.rate, w.cost - b.cost, "{b:?} {w:?}");
            let (nb, nw) = (Money::from(b.transactions), Money::from(w.transactions));
            if nb == 0 {
                assert_eq!(e.rate, 0);
                continue;
            }
            // |volume - (nw - nb) cb / nb| <= 1/2, in 1e-10 USD
            assert!(
                2 * (e.volume * nb - (nw - nb) * b.cost).abs() <= nb,
                "{b:?} {w:?}"
            );
            // |rate - (cw - nw cb / nb)| <= 1/2: nw (uw - ub) with exact unit costs
            assert!(
                2 * (e.rate * nb - (w.cost * nb - nw * b.cost)).abs() <= nb,
                "{b:?} {w:?}"
            );
        }
        let (b, w) = (
            Volume {
                transactions: 100,
                cost: 100,
            },
            Volume {
                transactions: 0,
                cost: 0,
            },
        );
        assert_eq!(
            Effects::of(b, w),
            Effects {
                change: -100,
                volume: -100,
                rate: 0
            }
        );
    }

    #[test]
    fn a_sum_of_lines_keeps_the_identity() {
        let lines = [
            Line::of(
                Volume {
                    transactions: 3,
                    cost: 10,
                },
                Volume {
                    transactions: 7,
                    cost: 11,
                },
            ),
            Line::of(
                Volume {
                    transactions: 3,
                    cost: 5,
                },
                Volume {
                    transactions: 7,
                    cost: 2,
                },
            ),
        ];
        let total = Line::sum(&lines);
        assert_eq!(
            total.effects.volume + total.effects.rate,
            total.effects.change
        );
        assert_eq!(total.effects.change, 11 + 2 - 10 - 5);
    }
}
