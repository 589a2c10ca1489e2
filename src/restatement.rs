//! Restatements (SPEC 12.2): what a republished day changed, flow by flow
//! and in total, against the figures it had, and why. Each publish of a day
//! carries the day's earlier restatements forward and adds its own.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use chrono::NaiveDate;

use crate::Result;
use crate::allocate::divide_half_even;
use crate::allocate::{FlowSummary, Totals};
use crate::config::Output;
use crate::model::money::Money;
use crate::model::{Fingerprints, RestatementRow};
use crate::output::{BatchExt, read_published};
use crate::storage::Store;

/// One flow's figures on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFigures {
    pub transaction_type: String,
    pub flow: String,
    pub transactions: i64,
    pub cost: Money,
    pub unit_cost: Money,
}

/// A day's figures as one run published them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub run_id: String,
    pub fingerprints: Fingerprints,
    pub cur_total: Money,
    /// The CUR's cost of the day by line item type.
    pub by_type: BTreeMap<String, Money>,
    pub allocated: Money,
    pub transactions: i64,
    pub flows: Vec<FlowFigures>,
}

impl DayFigures {
    /// The figures of a run that has just allocated the day.
    pub fn of_run(
        run_id: &str,
        fingerprints: Fingerprints,
        totals: &Totals,
        transactions: usize,
        flow_summary: &[FlowSummary],
    ) -> Self {
        DayFigures {
            run_id: run_id.to_string(),
            fingerprints,
            cur_total: totals.cur_total,
            by_type: totals.by_type.clone(),
            allocated: totals.allocated,
            transactions: transactions as i64,
            flows: (flow_summary.iter())
                .map(|f| FlowFigures {
                    transaction_type: f.transaction_type.clone(),
                    flow: f.flow.clone(),
                    transactions: f.transactions as i64,
                    cost: f.cost,
                    unit_cost: f.unit_cost,
                })
                .collect(),
        }
    }
}

/// A flow's figures in the earlier publish and in this one.
type BeforeAndAfter<'a> = (Option<&'a FlowFigures>, Option<&'a FlowFigures>);

/// The rows of one republish: every flow either run had (by type and flow),
/// then the day's totals.
pub fn restate(before: &DayFigures, after: &DayFigures, at_ms: i64) -> Vec<RestatementRow> {
    let reasons = after.fingerprints.reasons(&before.fingerprints);
    let reasons = if reasons.is_empty() {
        "rerun".to_string()
    } else {
        reasons.join(",")
    };
    let key = |f: &FlowFigures| (f.transaction_type.clone(), f.flow.clone());
    let mut flows: BTreeMap<(String, String), BeforeAndAfter<'_>> = BTreeMap::new();
    for f in &before.flows {
        flows.entry(key(f)).or_default().0 = Some(f);
    }
    for f in &after.flows {
        flows.entry(key(f)).or_default().1 = Some(f);
    }
    let row = |ty: Option<String>, flow: Option<String>| RestatementRow {
        restated_at_ms: at_ms,
        run_id: after.run_id.clone(),
        previous_run_id: before.run_id.clone(),
        reasons: reasons.clone(),
        transaction_type: ty,
        flow,
        previous_transactions: 0,
        transactions: 0,
        previous_cost: 0,
        cost: 0,
        previous_unit_cost: None,
        unit_cost: None,
        delta: 0,
        previous_cur_total: before.cur_total,
        cur_total: after.cur_total,
        cur_change_by_type: BTreeMap::new(),
        previous_cur_final: before.fingerprints.cur_final,
        cur_final: after.fingerprints.cur_final,
    };
    let mut rows: Vec<RestatementRow> = (flows.into_iter())
        .map(|((ty, flow), (was, is))| {
            let figures = |f: Option<&FlowFigures>| {
                f.map_or((0, 0, None), |f| {
                    (
                        f.transactions,
                        f.cost,
                        (f.transactions > 0).then_some(f.unit_cost),
                    )
                })
            };
            let (previous_transactions, previous_cost, previous_unit_cost) = figures(was);
            let (transactions, cost, unit_cost) = figures(is);
            RestatementRow {
                previous_transactions,
                transactions,
                previous_cost,
                cost,
                previous_unit_cost,
                unit_cost,
                delta: cost - previous_cost,
                ..row(Some(ty), Some(flow))
            }
        })
        .collect();
    let mut change = after.by_type.clone();
    for (ty, cost) in &before.by_type {
        *change.entry(ty.clone()).or_default() -= cost;
    }
    change.retain(|_, c| *c != 0);
    rows.push(RestatementRow {
        previous_transactions: before.transactions,
        transactions: after.transactions,
        previous_cost: before.allocated,
        cost: after.allocated,
        previous_unit_cost: (before.transactions > 0)
            .then(|| divide_half_even(before.allocated, before.transactions as Money)),
        unit_cost: (after.transactions > 0)
            .then(|| divide_half_even(after.allocated, after.transactions as Money)),
        delta: after.allocated - before.allocated,
        cur_change_by_type: change,
        ..row(None, None)
    });
    rows
}

/// What a day's last publish said, and the restatements it carries.
pub struct Published {
    pub figures: DayFigures,
    pub history: Vec<RestatementRow>,
}

/// What a published day's `reconciliation` row says produced it.
#[derive(Debug, Clone)]
pub struct PublishedState {
    pub run_id: String,
    pub fingerprints: Fingerprints,
    pub cur_total: Money,
}

/// The published state of `date` (`None` when it was never published):
/// its reconciliation row alone.
pub fn published_state(
    store: &Store,
    output: &Output,
    date: NaiveDate,
) -> Result<Option<PublishedState>> {
    match read_published(store, output, "reconciliation", date)? {
        Some(recon) if recon.num_rows() > 0 => Ok(Some(state_of(&recon)?)),
        _ => Ok(None),
    }
}

fn state_of(recon: &RecordBatch) -> Result<PublishedState> {
    Ok(PublishedState {
        run_id: recon.text("run_id", 0)?,
        fingerprints: Fingerprints {
            cur: recon.text_or_empty("cur_fingerprint", 0)?,
            logs: recon.text_or_empty("logs_fingerprint", 0)?,
            pricing: recon.text_or_empty("pricing_sha256", 0)?,
            config: recon.text_or_empty("config_sha256", 0)?,
            cur_final: recon.boolean("cur_final", 0)?,
        },
        cur_total: recon.money("cur_total_usd", 0)?.unwrap_or(0),
    })
}

/// The published figures of `date` (`None` when it was never published).
pub fn published(store: &Store, output: &Output, date: NaiveDate) -> Result<Option<Published>> {
    let Some(recon) = read_published(store, output, "reconciliation", date)? else {
        return Ok(None);
    };
    if recon.num_rows() == 0 {
        return Ok(None);
    }
    let summary = read_published(store, output, "flow_summary", date)?;
    let history = match read_published(store, output, "restatements", date)? {
        Some(batch) => history_rows(&batch)?,
        None => Vec::new(), // published before restatements were kept
    };
    let mut flows = Vec::new();
    if let Some(s) = &summary {
        for i in 0..s.num_rows() {
            flows.push(FlowFigures {
                transaction_type: s.text("transaction_type", i)?,
                flow: s.text("flow", i)?,
                transactions: s.int("transactions", i)?,
                cost: s.money("cost_usd", i)?.unwrap_or(0),
                unit_cost: s.money("unit_cost_usd", i)?.unwrap_or(0),
            });
        }
    }
    let state = state_of(&recon)?;
    let figures = DayFigures {
        run_id: state.run_id,
        fingerprints: state.fingerprints,
        cur_total: state.cur_total,
        by_type: recon.money_by("cur_by_line_item_type", 0)?,
        allocated: recon.money("allocated_usd", 0)?.unwrap_or(0),
        transactions: recon.int("transactions", 0)?,
        flows,
    };
    Ok(Some(Published { figures, history }))
}

/// The rows of a published `restatements` partition.
pub fn history_rows(batch: &RecordBatch) -> Result<Vec<RestatementRow>> {
    let mut rows = Vec::with_capacity(batch.num_rows());
    let optional = |text: String| (!text.is_empty()).then_some(text);
    for i in 0..batch.num_rows() {
        rows.push(RestatementRow {
            restated_at_ms: batch.timestamp_ms("restated_at", i)?,
            run_id: batch.text("run_id", i)?,
            previous_run_id: batch.text("previous_run_id", i)?,
            reasons: batch.text("reasons", i)?,
            transaction_type: optional(batch.text("transaction_type", i)?),
            flow: optional(batch.text("flow", i)?),
            previous_transactions: batch.int("previous_transactions", i)?,
            transactions: batch.int("transactions", i)?,
            previous_cost: batch.money("previous_cost_usd", i)?.unwrap_or(0),
            cost: batch.money("cost_usd", i)?.unwrap_or(0),
            previous_unit_cost: batch.money("previous_unit_cost_usd", i)?,
            unit_cost: batch.money("unit_cost_usd", i)?,
            delta: batch.money("delta_usd", i)?.unwrap_or(0),
            previous_cur_total: batch.money("previous_cur_total_usd", i)?.unwrap_or(0),
            cur_total: batch.money("cur_total_usd", i)?.unwrap_or(0),
            cur_change_by_type: batch.money_by("cur_change_by_line_item_type", i)?,
            previous_cur_final: batch.boolean("previous_cur_final", i)?,
            cur_final: batch.boolean("cur_final", i)?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(name: &str, transactions: i64, cost: Money) -> FlowFigures {
        FlowFigures {
            transaction_type: "monetary".into(),
            flow: name.into(),
            transactions,
            cost,
            unit_cost: if transactions > 0 {
                cost / transactions as Money
            } else {
                0
            },
        }
    }

    fn day(run: &str, cur: &str, flows: Vec<FlowFigures>, by_type: &[(&str, Money)]) -> DayFigures {
        let allocated = flows.iter().map(|f| f.cost).sum();
        DayFigures {
            run_id: run.into(),
            fingerprints: Fingerprints {
                cur: cur.into(),
                ..Default::default()
            },
            cur_total: by_type.iter().map(|(_, c)| c).sum(),
            by_type: by_type.iter().map(|(t, c)| (t.to_string(), *c)).collect(),
            allocated,
            transactions: flows.iter().map(|f| f.transactions).sum(),
            flows,
        }
    }

    #[test]
    fn a_restatement_lists_every_flow_of_either_run_and_the_totals() {
        let before = day(
            "r1",
            "a",
            vec![flow("pago", 10, 100), flow("recarga", 5, 50)],
            &[("Usage", 150), ("Tax", 7)],
        );
        let after = day(
            "r2",
            "b",
            vec![flow("pago", 10, 130), flow("onboarding", 2, 20)],
            &[("Usage", 200), ("Tax", 7)],
        );
        let rows = restate(&before, &after, 1_000);
        let by_flow: Vec<(Option<&str>, i64, Money)> = (rows.iter())
            .map(|r| (r.flow.as_deref(), r.previous_transactions, r.delta))
            .collect();
        assert_eq!(
            by_flow,
            [
                (Some("onboarding"), 0, 20),
                (Some("pago"), 10, 30),
                (Some("recarga"), 5, -50),
                (None, 15, 0)
            ]
        );
        assert!(
            rows.iter()
                .all(|r| r.reasons == "cur" && r.previous_run_id == "r1" && r.run_id == "r2")
        );
        let totals = rows.last().unwrap();
        assert_eq!((totals.previous_cur_total, totals.cur_total), (157, 207));
        assert_eq!(
            totals.cur_change_by_type,
            BTreeMap::from([("Usage".to_string(), 50)])
        );
        assert_eq!(
            rows[0].previous_unit_cost, None,
            "a new flow had no unit cost"
        );
        // The flows' deltas add up to the totals' delta.
        let flows: Money = rows[..3].iter().map(|r| r.delta).sum();
        assert_eq!(flows, totals.delta);
        // Nothing changed: a rerun.
        assert!(
            restate(&before, &before, 0)
                .iter()
                .all(|r| r.reasons == "rerun" && r.delta == 0)
        );
    }
}
