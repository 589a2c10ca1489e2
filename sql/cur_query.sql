-- The CUR query of the Athena engine: one day's rows, only the columns costjob uses
-- (column projection), with the billing period partition and the usage date as
-- predicates (partition pruning, row-group pruning). :day is the UTC day (DATE),
-- :billing_period its month ('YYYY-MM'); the cur table is CUR 2.0 (terraform/modules/athena).
SELECT
  line_item_usage_start_date,
  line_item_product_code,
  line_item_usage_type,
  line_item_operation,
  line_item_resource_id,
  line_item_line_item_type,
  line_item_usage_amount,
  line_item_unblended_cost,
  line_item_net_unblended_cost,
  reservation_effective_cost,
  reservation_net_effective_cost,
  reservation_unused_amortized_upfront_fee_for_billing_period,
  reservation_net_unused_amortized_upfront_fee_for_billing_period,
  reservation_unused_recurring_fee,
  reservation_net_unused_recurring_fee,
  reservation_reservation_a_r_n,
  savings_plan_savings_plan_effective_cost,
  savings_plan_net_savings_plan_effective_cost,
  savings_plan_total_commitment_to_date,
  savings_plan_used_commitment,
  bill_invoice_id,
  resource_tags
FROM cur
WHERE billing_period = :billing_period
  AND line_item_usage_start_date >= CAST(:day AS timestamp)
  AND line_item_usage_start_date < CAST(:day AS timestamp) + INTERVAL '1' DAY;
