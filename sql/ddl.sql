-- Athena DDL of costjob's output tables (SPEC 5), partitioned by dt WITHOUT
-- partition projection: each run points the day's partition at its own
-- run=<run_id>/ prefix in Glue (SPEC 5.1), so readers see one run per day.
-- Terraform (terraform/modules/athena) creates the same
-- tables; this file is for manual set-up and review. The location is the prod output
-- root of terraform/envs/prod/terraform.tfvars.example: use yours.

CREATE EXTERNAL TABLE IF NOT EXISTS transactions (
  transaction_id string,
  transaction_type string,
  flow string,
  status string,
  first_event_at timestamp,
  last_event_at timestamp,
  events bigint,
  duration_ms bigint,
  cost_usd decimal(18,10),
  direct_cost_usd decimal(18,10),
  shared_cost_usd decimal(18,10),
  cost_basis string,
  costs array<struct<product_code:string,rule_id:string,category:string,cost_usd:decimal(18,10)>>,
  units array<struct<unit_key:string,units:bigint>>,
  run_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/transactions/'
TBLPROPERTIES ('classification' = 'parquet');

CREATE EXTERNAL TABLE IF NOT EXISTS flow_costs (
  transaction_type string,
  flow string,
  product_code string,
  rule_id string,
  category string,
  allocation string,
  transactions bigint,
  driver_units bigint,
  cost_usd decimal(18,10),
  modelled_cost_usd decimal(18,10),
  unit_cost_usd decimal(18,10),
  run_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/flow_costs/'
TBLPROPERTIES ('classification' = 'parquet');

CREATE EXTERNAL TABLE IF NOT EXISTS flow_summary (
  transaction_type string,
  flow string,
  transactions bigint,
  cost_usd decimal(18,10),
  unit_cost_usd decimal(18,10),
  p50_usd decimal(18,10),
  p95_usd decimal(18,10),
  p99_usd decimal(18,10),
  max_usd decimal(18,10),
  successful_transactions bigint,
  failed_cost_usd decimal(18,10),
  cost_per_success_usd decimal(18,10),
  run_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/flow_summary/'
TBLPROPERTIES ('classification' = 'parquet');

CREATE EXTERNAL TABLE IF NOT EXISTS unallocated (
  reason string,
  product_code string,
  rule_id string,
  tag_transaction_type string,
  tag_flow string,
  tag_service string,
  cost_usd decimal(18,10),
  run_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/unallocated/'
TBLPROPERTIES ('classification' = 'parquet');

-- Every pool of the day with what `costjob explain` needs to recompute any
-- transaction's share exactly (SPEC 11): C, the unit key, U, and the last
-- transaction (by remainder, then id) that got an extra 1e-10 USD.
CREATE EXTERNAL TABLE IF NOT EXISTS pools (
  product_code string,
  rule_id string,
  category string,
  tag_transaction_type string,
  tag_flow string,
  tag_service string,
  cost_usd decimal(18,10),
  driver string,
  unit_key string,
  unallocated_reason string,
  total_units decimal(38,0),
  transactions bigint,
  extra_units bigint,
  last_extra_remainder decimal(38,0),
  last_extra_transaction_id string,
  run_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/pools/'
TBLPROPERTIES ('classification' = 'parquet');

-- Every republish of a day (costjob refresh or run), one row per flow and one
-- (transaction_type and flow null) for the day's totals; each publish carries
-- the day's earlier restatements forward.
CREATE EXTERNAL TABLE IF NOT EXISTS restatements (
  restated_at timestamp,
  run_id string,
  previous_run_id string,
  reasons string,
  transaction_type string,
  flow string,
  previous_transactions bigint,
  transactions bigint,
  previous_cost_usd decimal(18,10),
  cost_usd decimal(18,10),
  previous_unit_cost_usd decimal(18,10),
  unit_cost_usd decimal(18,10),
  delta_usd decimal(18,10),
  previous_cur_total_usd decimal(18,10),
  cur_total_usd decimal(18,10),
  cur_change_by_line_item_type array<struct<line_item_type:string,cost_usd:decimal(18,10)>>,
  previous_cur_final boolean,
  cur_final boolean
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/restatements/'
TBLPROPERTIES ('classification' = 'parquet');

CREATE EXTERNAL TABLE IF NOT EXISTS reconciliation (
  cost_basis string,
  cur_rows bigint,
  cur_total_usd decimal(18,10),
  allocated_usd decimal(18,10),
  unallocated_usd decimal(18,10),
  excluded_usd decimal(18,10),
  excluded_by_type array<struct<line_item_type:string,cost_usd:decimal(18,10)>>,
  out_of_scope_usd decimal(18,10),
  out_of_scope_by_account array<struct<account_id:string,cost_usd:decimal(18,10)>>,
  delta_usd decimal(18,10),
  cur_final boolean,
  cur_by_line_item_type array<struct<line_item_type:string,cost_usd:decimal(18,10)>>,
  transactions bigint,
  log_files bigint,
  log_lines bigint,
  log_events bigint,
  log_out_of_day bigint,
  log_non_json bigint,
  log_no_transaction bigint,
  log_missing_service bigint,
  log_malformed bigint,
  log_blank bigint,
  log_bad_timestamp bigint,
  log_duplicate bigint,
  log_oversized bigint,
  log_skipped_files bigint,
  log_control_messages bigint,
  log_corrupt_files bigint,
  log_type_conflicts bigint,
  run_id string,
  costjob_version string,
  pricing_sha256 string,
  config_sha256 string,
  cur_fingerprint string,
  logs_fingerprint string,
  started_at timestamp,
  finished_at timestamp
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION 's3://deuna-prod-costjob/costjob/reconciliation/'
TBLPROPERTIES ('classification' = 'parquet');
