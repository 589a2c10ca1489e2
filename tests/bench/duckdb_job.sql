-- The whole costjob job in DuckDB, for the SPEC 8 benchmark (tests/bench.sh):
-- read the day's CloudWatch export lines, keep the day's JSON events, group them
-- by transaction (events, duration per service, KMS requests, flow of the first
-- route), build the day's cost pools from the CUR (amortized cost by product and
-- ECS service tag, tax/credits/refunds excluded), split each pool over the
-- transactions in proportion to its driver (ECS: the service's duration; RDS:
-- duration; KMS: requests; the rest: events), and write one Parquet row per
-- transaction with its total and its per-pool costs. {logs} {cur} {day} {out}
-- are filled in by peer.py. Not exact to 1e-10 (DOUBLE arithmetic): it is the
-- same work, not the same guarantee.
COPY (
  WITH lines AS (
    SELECT line FROM read_csv('{logs}/**/*.gz', columns = {'line': 'VARCHAR'}, delim = '\x1f',
                              quote = '', escape = '', header = false, auto_detect = false, strict_mode = false)
  ), events AS (
    SELECT TRY_CAST(substr(line, 1, strpos(line, ' ') - 1) AS TIMESTAMP) AS ts,
           substr(line, strpos(line, ' ') + 1) AS msg
    FROM lines
  ), parsed AS (
    SELECT ts, from_json(msg, '{"transaction_id": "VARCHAR", "service": "VARCHAR", "route": "VARCHAR",
                                "duration_ms": "BIGINT", "usage": {"kms_requests": "BIGINT"}}') AS e
    FROM events
    WHERE ts >= TIMESTAMP '{day}' AND ts < TIMESTAMP '{day}' + INTERVAL 1 DAY AND json_valid(msg)
  ), per_service AS (
    SELECT e.transaction_id AS tx, e.service AS service, min(ts) AS first_at, max(ts) AS last_at,
           count(*) AS events, sum(coalesce(e.duration_ms, 0)) AS duration_ms,
           sum(coalesce(e.usage.kms_requests, 0)) AS kms_requests, arg_min(e.route, ts) AS route
    FROM parsed WHERE e.transaction_id IS NOT NULL
    GROUP BY ALL
  ), transactions AS (
    SELECT tx, min(first_at) AS first_at, max(last_at) AS last_at, sum(events) AS events,
           sum(duration_ms) AS duration_ms, sum(kms_requests) AS kms_requests, arg_min(route, first_at) AS route
    FROM per_service GROUP BY tx
  ), pools AS (
    SELECT line_item_product_code AS product, resource_tags_aws_ecs_service_name AS service,
           sum(CASE line_item_line_item_type
                 WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
                 WHEN 'DiscountedUsage' THEN reservation_effective_cost
                 WHEN 'SavingsPlanNegation' THEN 0
                 ELSE line_item_unblended_cost END) AS cost
    FROM read_parquet('{cur}/**/*.parquet')
    WHERE line_item_usage_start_date >= TIMESTAMPTZ '{day} 00:00:00+00'
      AND line_item_usage_start_date < TIMESTAMPTZ '{day} 00:00:00+00' + INTERVAL 1 DAY
      AND line_item_line_item_type NOT IN ('Tax', 'Credit', 'Refund')
    GROUP BY ALL
  ), units AS (  -- (pool, transaction, units): the driver of each pool
    SELECT p.product, p.service, t.tx,
           CASE WHEN p.product = 'AmazonRDS' THEN t.duration_ms
                WHEN p.product = 'awskms' THEN t.kms_requests
                ELSE t.events END AS u
    FROM pools p, transactions t
    WHERE p.product <> 'AmazonECS' OR p.service IS NULL
    UNION ALL
    SELECT p.product, p.service, s.tx, s.duration_ms AS u
    FROM pools p JOIN per_service s ON p.product = 'AmazonECS' AND s.service = p.service
  ), totals AS (  -- U of each pool, and the cost per unit
    SELECT u.product, u.service, any_value(p.cost) / sum(u.u) AS per_unit
    FROM units u JOIN pools p ON p.product = u.product AND p.service IS NOT DISTINCT FROM u.service
    WHERE u.u > 0 GROUP BY ALL
  ), shares AS (
    SELECT u.tx, u.product, u.service, u.u * t.per_unit AS cost
    FROM units u JOIN totals t ON t.product = u.product AND t.service IS NOT DISTINCT FROM u.service
    WHERE u.u > 0
  )
  SELECT t.tx AS transaction_id,
         CASE WHEN t.route LIKE 'POST /v1/recargas%' THEN 'recarga'
              WHEN t.route LIKE 'POST /v1/pagos%' THEN 'pago'
              WHEN t.route LIKE 'POST /v1/onboarding%' THEN 'onboarding'
              ELSE 'unclassified' END AS flow,
         t.first_at, t.last_at, t.events, t.duration_ms,
         CAST(sum(s.cost) AS DECIMAL(18, 10)) AS cost_usd,
         list({'product_code': s.product, 'service': s.service, 'cost_usd': CAST(s.cost AS DECIMAL(18, 10))}) AS costs
  FROM transactions t JOIN shares s ON s.tx = t.tx
  GROUP BY ALL
) TO '{out}/transactions.parquet' (FORMAT parquet, COMPRESSION zstd);
