-- The views finance uses in Athena and QuickSight (Trino dialect), over the tables of ddl.sql.

-- Daily unit cost per flow, with the day's reconciliation beside it.
CREATE OR REPLACE VIEW v_daily_unit_cost AS
SELECT
  CAST(s.dt AS date) AS day,
  s.transaction_type,
  s.flow,
  s.transactions,
  s.cost_usd,
  s.unit_cost_usd,
  s.p50_usd,
  s.p95_usd,
  s.p99_usd,
  s.max_usd,
  s.successful_transactions,
  s.failed_cost_usd,
  s.cost_per_success_usd,
  r.cost_basis,
  r.cur_final
FROM flow_summary s
JOIN reconciliation r ON r.dt = s.dt;

-- Monthly trend: cost and unit cost per flow and month. A transaction that
-- crosses midnight is on the rows of both days it touched (each day carries
-- the cost of its own events); the month counts it once (distinct ids, from
-- the transactions table), so unit_cost_usd = month cost / month transactions.
-- transaction_days is the sum of the daily counts, for comparison with them.
CREATE OR REPLACE VIEW v_monthly_unit_cost AS
WITH costs AS (
  SELECT
    date_trunc('month', CAST(dt AS date)) AS month,
    transaction_type,
    flow,
    SUM(transactions) AS transaction_days,
    SUM(cost_usd) AS cost_usd
  FROM flow_summary
  GROUP BY 1, 2, 3
),
counts AS (
  SELECT
    date_trunc('month', CAST(dt AS date)) AS month,
    transaction_type,
    flow,
    COUNT(DISTINCT transaction_id) AS transactions
  FROM transactions
  GROUP BY 1, 2, 3
)
SELECT
  c.month,
  c.transaction_type,
  c.flow,
  n.transactions,
  c.transaction_days,
  c.cost_usd,
  CAST(c.cost_usd / n.transactions AS decimal(18,10)) AS unit_cost_usd
FROM costs c
JOIN counts n
  ON n.month = c.month AND n.transaction_type = c.transaction_type AND n.flow = c.flow;

-- Top AWS services per flow and month: where each flow's money goes, ranked.
CREATE OR REPLACE VIEW v_top_services_per_flow AS
SELECT month, transaction_type, flow, product_code, category, cost_usd, share_of_flow, rank_in_flow
FROM (
  SELECT
    month, transaction_type, flow, product_code, category, cost_usd,
    CAST(cost_usd / SUM(cost_usd) OVER (PARTITION BY month, transaction_type, flow) AS double) AS share_of_flow,
    RANK() OVER (PARTITION BY month, transaction_type, flow ORDER BY cost_usd DESC) AS rank_in_flow
  FROM (
    SELECT
      date_trunc('month', CAST(dt AS date)) AS month,
      transaction_type, flow, product_code, category,
      SUM(cost_usd) AS cost_usd
    FROM flow_costs
    GROUP BY 1, 2, 3, 4, 5
  ) by_service
) ranked
WHERE rank_in_flow <= 10;

-- What changed when a day was restated, and why (costjob refresh): one row per
-- republish and flow, and the day's totals (flow = '(all flows)'). reasons
-- lists the inputs that changed: cur (the bill moved, or was invoiced), logs,
-- pricing, config; rerun when a day was run again with nothing changed.
CREATE OR REPLACE VIEW v_restatements AS
SELECT
  CAST(dt AS date) AS day,
  restated_at,
  reasons,
  COALESCE(transaction_type, '(all)') AS transaction_type,
  COALESCE(flow, '(all flows)') AS flow,
  previous_transactions,
  transactions,
  previous_cost_usd,
  cost_usd,
  delta_usd,
  previous_unit_cost_usd,
  unit_cost_usd,
  previous_cur_total_usd,
  cur_total_usd,
  cur_total_usd - previous_cur_total_usd AS cur_change_usd,
  previous_cur_final,
  cur_final,
  run_id,
  previous_run_id
FROM restatements;
