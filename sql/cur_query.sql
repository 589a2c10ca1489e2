-- The query the Athena engine sends, one per day (src/source/athena.rs,
-- unload_sql; a unit test keeps this file equal to it). costjob fills it in:
--   the column list   the SPEC 2.1 columns the Glue table has (GetTable), quoted;
--   FROM              [cur] database and table, validated identifiers, quoted;
--   the partition     CUR 2.0 "billing_period" = 'YYYY-MM', CUR 1.0
--                     "year" = 'YYYY' AND "month" = 'M' (not zero-padded), or none;
--   the day           formatted by costjob from the date being run: every row whose
--                     usage period touches it (it starts in the day, or before it
--                     and ends after its start; SPEC 12.1);
--   TO                [cur] output_location + unload/<run_id>/ (deleted after the read).
-- Shown for the Terraform athena module's CUR table (CUR 2.0) on 2026-11-23.
UNLOAD (SELECT "line_item_usage_start_date",
               "line_item_product_code",
               "line_item_usage_type",
               "line_item_operation",
               "line_item_line_item_type",
               "line_item_unblended_cost",
               "line_item_usage_end_date",
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
               "line_item_usage_account_id"
        FROM "costjob_prod_cur"."cur"
        WHERE "billing_period" = '2026-11'
          AND "line_item_usage_start_date" < TIMESTAMP '2026-11-24 00:00:00' AND ("line_item_usage_start_date" >= TIMESTAMP '2026-11-23 00:00:00' OR "line_item_usage_end_date" > TIMESTAMP '2026-11-23 00:00:00'))
TO 's3://deuna-costjob-output/athena-results/unload/RUN_ID/'
WITH (format = 'PARQUET', compression = 'ZSTD');
