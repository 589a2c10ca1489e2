-- The whole costjob job in chDB (embedded ClickHouse), for the SPEC 8
-- benchmark (tests/bench.sh): the same plan as duckdb_job.sql, in ClickHouse's
-- dialect. Read the day's CloudWatch export lines, keep the day's JSON events,
-- group them by transaction (events, duration per service, KMS requests, flow
-- of the first route), build the day's cost pools from the CUR (amortized cost
-- by product and ECS service tag, tax/credits/refunds excluded), split each
-- pool over the transactions in proportion to its driver (ECS: the service's
-- duration; RDS: duration; KMS: requests; the rest: events), and write one
-- Parquet row per transaction with its total and its per-pool costs. {logs}
-- {cur} {day} {out} are filled in by peer.py. Not exact to 1e-10 (Float64
-- arithmetic): it is the same work, not the same guarantee.
INSERT INTO FUNCTION file('{out}/transactions.parquet', Parquet)
WITH events AS (
  SELECT parseDateTime64BestEffortOrNull(substring(line, 1, position(line, ' ') - 1), 3, 'UTC') AS ts,
         substring(line, position(line, ' ') + 1) AS msg
  FROM file('{logs}/**/*.gz', LineAsString, 'line String')
), parsed AS (  -- each event parsed once, into the fields the job reads
  SELECT ts, e.transaction_id AS tx, e.service AS service, e.route AS route,
         e.duration_ms AS duration_ms, e.usage.kms_requests AS kms_requests
  FROM (
    SELECT ts, JSONExtract(msg, 'Tuple(transaction_id String, service String, route String,
                                       duration_ms Int64, usage Tuple(kms_requests Int64))') AS e
    FROM events
    WHERE ts >= toDateTime64('{day} 00:00:00', 3, 'UTC') AND ts < toDateTime64('{day} 00:00:00', 3, 'UTC') + INTERVAL 1 DAY
      AND isValidJSON(msg)
  )
), per_service AS (
  SELECT tx, service, min(ts) AS first_at, max(ts) AS last_at, toInt64(count()) AS events,
         sum(duration_ms) AS duration_ms, sum(kms_requests) AS kms_requests, argMin(route, ts) AS route
  FROM parsed WHERE tx != ''
  GROUP BY tx, service
), transactions AS (
  SELECT tx, min(first_at) AS first_at, max(last_at) AS last_at, sum(events) AS events,
         sum(duration_ms) AS duration_ms, sum(kms_requests) AS kms_requests, argMin(route, first_at) AS route
  FROM per_service GROUP BY tx
), pools AS (
  SELECT line_item_product_code AS product, ifNull(resource_tags_aws_ecs_service_name, '') AS service,
         sum(multiIf(line_item_line_item_type = 'SavingsPlanCoveredUsage', savings_plan_savings_plan_effective_cost,
                     line_item_line_item_type = 'DiscountedUsage', reservation_effective_cost,
                     line_item_line_item_type = 'SavingsPlanNegation', 0,
                     line_item_unblended_cost)) AS cost
  FROM file('{cur}/**/*.parquet', Parquet)
  WHERE line_item_usage_start_date >= toDateTime64('{day} 00:00:00', 6, 'UTC')
    AND line_item_usage_start_date < toDateTime64('{day} 00:00:00', 6, 'UTC') + INTERVAL 1 DAY
    AND line_item_line_item_type NOT IN ('Tax', 'Credit', 'Refund')
  GROUP BY product, service
), units AS (  -- (pool, transaction, units): the driver of each pool
  SELECT p.product AS product, p.service AS service, p.cost AS cost, t.tx AS tx,
         multiIf(p.product = 'AmazonRDS', t.duration_ms, p.product = 'awskms', t.kms_requests, t.events) AS u
  FROM pools AS p CROSS JOIN transactions AS t
  WHERE p.product != 'AmazonECS' OR p.service = ''
  UNION ALL
  SELECT p.product, p.service, p.cost, s.tx, s.duration_ms AS u
  FROM pools AS p INNER JOIN per_service AS s ON s.service = p.service
  WHERE p.product = 'AmazonECS'
), shares AS (
  SELECT tx, product, service, cost * u / sum(u) OVER (PARTITION BY product, service) AS share
  FROM units WHERE u > 0
)
SELECT t.tx AS transaction_id,
       multiIf(startsWith(t.route, 'POST /v1/recargas'), 'recarga', startsWith(t.route, 'POST /v1/pagos'), 'pago',
               startsWith(t.route, 'POST /v1/onboarding'), 'onboarding', 'unclassified') AS flow,
       t.first_at, t.last_at, t.events, t.duration_ms,
       toDecimal64(sum(s.share), 10) AS cost_usd,
       groupArray(CAST((s.product, s.service, toDecimal64(s.share, 10)),
                       'Tuple(product_code String, service String, cost_usd Decimal64(10))')) AS costs
FROM transactions AS t INNER JOIN shares AS s ON s.tx = t.tx
GROUP BY t.tx, t.route, t.first_at, t.last_at, t.events, t.duration_ms
SETTINGS max_threads = 2, prefer_column_name_to_alias = 1, output_format_parquet_compression_method = 'zstd'
