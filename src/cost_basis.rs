//! A CUR row's cost under the three bases of SPEC 2.2 (the Cloud Intelligence
//! Dashboards formulas). Pure: the terms come in exact (1e-30 USD units), the
//! formula runs on them, and the result is rounded once to 1e-10 USD.

use serde::Deserialize;

use crate::model::money::{Exact, Money, round_exact};

/// Which cost a row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CostBasis {
    /// `line_item_unblended_cost` as billed.
    Unblended,
    /// RI and Savings Plans spread over the usage they cover.
    #[default]
    Amortized,
    /// Amortized, after discounts (`_net_` columns where present).
    NetAmortized,
}

impl CostBasis {
    /// The name used in config, flags and output rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unblended => "unblended",
            Self::Amortized => "amortized",
            Self::NetAmortized => "net-amortized",
        }
    }

    /// Parses the names of [`CostBasis::as_str`].
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Unblended, Self::Amortized, Self::NetAmortized]
            .into_iter()
            .find(|b| b.as_str() == value)
    }
}

/// The cost terms of one CUR row. A null or missing column is 0, except the
/// `net_*` terms, which are `None` when missing or null so the gross one is used.
#[derive(Debug, Clone, Default)]
pub struct CostTerms<'a> {
    pub line_item_type: &'a str,
    pub product_code: &'a str,
    pub reservation_arn: &'a str,
    pub unblended: Exact,
    pub net_unblended: Option<Exact>,
    pub reservation_effective: Exact,
    pub net_reservation_effective: Option<Exact>,
    pub reservation_unused_amortized_upfront: Exact,
    pub net_reservation_unused_amortized_upfront: Option<Exact>,
    pub reservation_unused_recurring: Exact,
    pub net_reservation_unused_recurring: Option<Exact>,
    pub savings_plan_effective: Exact,
    pub net_savings_plan_effective: Option<Exact>,
    pub savings_plan_total_commitment_to_date: Exact,
    pub savings_plan_used_commitment: Exact,
}

/// The row's cost under `basis`: the formula on the exact terms, rounded once
/// half-to-even to 1e-10 USD; `None` if the terms overflow (beyond 1.7e8 USD).
pub fn row_cost(basis: CostBasis, t: &CostTerms<'_>) -> Option<Money> {
    exact_cost(basis, t).map(round_exact)
}

fn exact_cost(basis: CostBasis, t: &CostTerms<'_>) -> Option<Exact> {
    let net = basis == CostBasis::NetAmortized;
    let pick = |gross: Exact, net_value: Option<Exact>| {
        if net {
            net_value.unwrap_or(gross)
        } else {
            gross
        }
    };
    if basis == CostBasis::Unblended {
        return Some(t.unblended);
    }
    match t.line_item_type {
        "SavingsPlanCoveredUsage" => {
            Some(pick(t.savings_plan_effective, t.net_savings_plan_effective))
        }
        "SavingsPlanRecurringFee" => t
            .savings_plan_total_commitment_to_date
            .checked_sub(t.savings_plan_used_commitment),
        "SavingsPlanNegation" | "SavingsPlanUpfrontFee" => Some(0),
        "DiscountedUsage" => Some(pick(t.reservation_effective, t.net_reservation_effective)),
        "RIFee" => pick(
            t.reservation_unused_amortized_upfront,
            t.net_reservation_unused_amortized_upfront,
        )
        .checked_add(pick(
            t.reservation_unused_recurring,
            t.net_reservation_unused_recurring,
        )),
        "Fee" if !t.reservation_arn.is_empty() => Some(0),
        "Refund" if t.product_code == "ComputeSavingsPlans" => Some(0),
        _ => Some(pick(t.unblended, t.net_unblended)),
    }
}

#[cfg(test)]
mod tests {
    use super::CostBasis::*;
    use super::*;
    use crate::model::money::{parse_decimal, parse_exact};

    fn usd(s: &str) -> Money {
        parse_decimal(s).unwrap()
    }

    fn exact(s: &str) -> Exact {
        parse_exact(s).unwrap()
    }

    /// Hand-computed CID figures for every line item type, for each basis.
    /// Columns: type, product, RI ARN, unblended, net unblended, RI effective,
    /// net RI effective, RI unused upfront, RI unused recurring, SP effective,
    /// net SP effective, SP commitment to date, SP used commitment;
    /// then expected unblended, amortized, net-amortized.
    #[test]
    fn every_line_item_type_under_every_basis() {
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a str,
            [&'a str; 10],
            Option<&'a str>,
            [&'a str; 3],
        );
        #[rustfmt::skip]
        let table: &[Row] = &[
            // type                      product             RI ARN        unbl    RIeff   RIeffN  upfr    recur   SPeff   SPeffN  commit  used      net_unblended   expected (unbl, amort, net)
            ("Usage",                   "AmazonECS",        "",          ["1.25", "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    Some("1.10"),  ["1.25", "1.25", "1.10"]),
            ("DiscountedUsage",         "AmazonEC2",        "arn:ri/1",  ["0",    "0.31", "0.28", "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["0", "0.31", "0.28"]),
            ("RIFee",                   "AmazonEC2",        "arn:ri/1",  ["21.6", "0",    "0",    "3.2",  "1.4",  "0",    "0",    "0",    "0",    "0"],    None,          ["21.6", "4.6", "4.6"]),
            ("SavingsPlanCoveredUsage", "AmazonEC2",        "",          ["0.17", "0",    "0",    "0",    "0",    "0.105","0.0945","0",   "0",    "0"],    None,          ["0.17", "0.105", "0.0945"]),
            ("SavingsPlanNegation",     "AmazonEC2",        "",          ["-0.17","0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["-0.17", "0", "0"]),
            ("SavingsPlanRecurringFee", "ComputeSavingsPlans","",        ["0.5",  "0",    "0",    "0",    "0",    "0",    "0",    "0.5",  "0.42", "0"],    None,          ["0.5", "0.08", "0.08"]),
            ("SavingsPlanUpfrontFee",   "ComputeSavingsPlans","",        ["876",  "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["876", "0", "0"]),
            ("Fee",                     "AmazonEC2",        "arn:ri/2",  ["300",  "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["300", "0", "0"]),
            ("Fee",                     "AWSSupportBusiness","",         ["100",  "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    Some("95"),    ["100", "100", "95"]),
            ("EdpDiscount",             "AmazonECS",        "",          ["-0.06","0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["-0.06", "-0.06", "-0.06"]),
            ("Credit",                  "AmazonRDS",        "",          ["-5",   "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["-5", "-5", "-5"]),
            ("Refund",                  "ComputeSavingsPlans","",        ["-12",  "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["-12", "0", "0"]),
            ("Refund",                  "AmazonRDS",        "",          ["-3",   "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["-3", "-3", "-3"]),
            ("Tax",                     "AmazonECS",        "",          ["0.73", "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0",    "0"],    None,          ["0.73", "0.73", "0.73"]),
        ];
        for (ty, product, arn, v, net_unblended, expected) in table {
            let mut terms = CostTerms {
                line_item_type: ty,
                product_code: product,
                reservation_arn: arn,
                unblended: exact(v[0]),
                net_unblended: net_unblended.map(exact),
                reservation_effective: exact(v[1]),
                net_reservation_effective: Some(exact(v[2])).filter(|_| v[2] != "0"),
                reservation_unused_amortized_upfront: exact(v[3]),
                reservation_unused_recurring: exact(v[4]),
                savings_plan_effective: exact(v[5]),
                net_savings_plan_effective: Some(exact(v[6])).filter(|_| v[6] != "0"),
                savings_plan_total_commitment_to_date: exact(v[7]),
                savings_plan_used_commitment: exact(v[8]),
                ..Default::default()
            };
            terms.net_reservation_unused_amortized_upfront = None;
            for (basis, want) in [Unblended, Amortized, NetAmortized]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(
                    row_cost(basis, &terms),
                    Some(usd(want)),
                    "{ty} {product} {}",
                    basis.as_str()
                );
            }
        }
    }

    /// SPEC 2.2: the formula runs on the exact terms and rounds once.
    #[test]
    fn the_formula_is_rounded_once() {
        let fee = |commitment: &str, used: &str| CostTerms {
            line_item_type: "SavingsPlanRecurringFee",
            savings_plan_total_commitment_to_date: exact(commitment),
            savings_plan_used_commitment: exact(used),
            ..Default::default()
        };
        // 1.5e-10 - 0.5e-10 = 1e-10 (rounding each term first gave 2e-10 - 0 = 2e-10).
        assert_eq!(row_cost(Amortized, &fee("1.5e-10", "0.5e-10")), Some(1));
        let ri = CostTerms {
            line_item_type: "RIFee",
            reservation_unused_amortized_upfront: exact("5e-11"),
            reservation_unused_recurring: exact("5e-11"),
            ..Default::default()
        };
        // 5e-11 + 5e-11 = 1e-10 (rounding each half-to-even first gave 0 + 0).
        assert_eq!(row_cost(Amortized, &ri), Some(1));
    }
}
