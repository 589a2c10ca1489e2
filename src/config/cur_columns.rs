//! The CUR columns costjob reads (SPEC 2.1): the required ones, the optional
//! ones, and a tag key's column by AWS's rule. Shared by the configuration
//! (which checks the tag keys) and both CUR engines.

/// The usage date column the day predicate applies to.
pub const USAGE_START: &str = "line_item_usage_start_date";

/// The end of a row's usage period (SPEC 12.1).
pub const USAGE_END: &str = "line_item_usage_end_date";

/// The account a row's usage belongs to (SPEC 12.3: required when
/// `[cur] accounts` is set).
pub const USAGE_ACCOUNT: &str = "line_item_usage_account_id";

/// Columns a CUR file must have (SPEC 2.1).
pub const REQUIRED: [&str; 6] = [
    USAGE_START,
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_line_item_type",
    "line_item_unblended_cost",
];

/// Optional columns read when present; a missing one reads as null.
pub const OPTIONAL: [&str; 21] = [
    USAGE_END,
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_net_unblended_cost",
    "reservation_effective_cost",
    "reservation_net_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_net_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_net_unused_recurring_fee",
    "reservation_reservation_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_net_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "savings_plan_amortized_upfront_commitment_for_billing_period",
    "savings_plan_net_amortized_upfront_commitment_for_billing_period",
    "bill_invoice_id",
    "resource_tags",
    "line_item_line_item_description",
    USAGE_ACCOUNT,
];

/// The cost columns a cost basis reads (SPEC 2.2), in the order the CUR
/// reader binds them: each is one of [`REQUIRED`] or [`OPTIONAL`].
pub const COST_COLUMNS: [&str; 12] = [
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "reservation_effective_cost",
    "reservation_net_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_net_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_net_unused_recurring_fee",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_net_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
];

/// The CUR 1.0 column of a tag key, by AWS's rule: `user:transaction-type` ->
/// `resource_tags_user_transaction_type`, `aws:ecs:serviceName` ->
/// `resource_tags_aws_ecs_service_name`. `None` without a `user:`/`aws:` prefix.
pub fn tag_column(key: &str) -> Option<String> {
    let (prefix, rest) = key.split_once(':')?;
    if prefix != "user" && prefix != "aws" || rest.is_empty() {
        return None;
    }
    let mut mangled = String::with_capacity(rest.len() + 8);
    for c in rest.chars() {
        if c.is_uppercase() {
            mangled.push('_');
            mangled.extend(c.to_lowercase());
        } else if c.is_ascii_alphanumeric() {
            mangled.push(c);
        } else {
            mangled.push('_');
        }
    }
    let collapsed = mangled
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    Some(format!("resource_tags_{prefix}_{collapsed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_columns_are_read() {
        for column in COST_COLUMNS {
            assert!(
                REQUIRED.contains(&column) || OPTIONAL.contains(&column),
                "{column} is bound but never projected"
            );
        }
    }

    #[test]
    fn tag_columns_follow_aws_mangling() {
        // Tag keys whose columns appear in AWS's own reports (tests/data/real-cur).
        let cases = [
            (
                "user:transaction-type",
                "resource_tags_user_transaction_type",
            ),
            ("aws:ecs:serviceName", "resource_tags_aws_ecs_service_name"),
            ("user:cost-center", "resource_tags_user_cost_center"),
            ("aws:createdBy", "resource_tags_aws_created_by"),
            (
                "aws:autoscaling:groupName",
                "resource_tags_aws_autoscaling_group_name",
            ),
            (
                "aws:ec2spot:fleet-request-id",
                "resource_tags_aws_ec2spot_fleet_request_id",
            ),
            ("user:Tag21-Nov", "resource_tags_user_tag21_nov"),
            ("user:WorkloadType", "resource_tags_user_workload_type"),
            ("user:tenant_id", "resource_tags_user_tenant_id"),
            ("user:flow", "resource_tags_user_flow"),
            ("user:--a  b--", "resource_tags_user_a_b"),
        ];
        for (key, column) in cases {
            assert_eq!(tag_column(key).as_deref(), Some(column), "{key}");
        }
        assert_eq!(tag_column("flow"), None);
        assert_eq!(tag_column("team:flow"), None);
    }
}
