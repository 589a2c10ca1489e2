-- The query the Athena log engine sends, one per day (SPEC 14;
-- src/source/logs/athena_sql.rs, unload_sql; a unit test keeps this file
-- equal to it), here for the Terraform `athena` module's logs table
-- (sql/logs_table.sql), Firehose's envelope, 2026-11-23 in UTC, a catalog of
-- the demo's three flows and five unit keys. costjob fills in:
--   FROM              [logs] database and table, validated identifiers, quoted;
--   "day" IN (...)    the UTC folders of the day (and the next, for Firehose);
--   the JSON paths    [logs.fields] pointers, plain member names only;
--   the day's window  epoch milliseconds of [calendar] timezone's day;
--   route_flow        each flow's route patterns, in catalog order, ' doubled;
--   u0, u1, ...       one sum per unit key the day's pools need (a service
--                     name a literal, ' doubled; a usage counter a plain name);
--   TO                [cur] output_location/unload/<run id>-logs-<day>/.
-- Each message gets one outcome, in the file engine's order (corrupt record,
-- duplicate, oversized, blank, not JSON, malformed, no transaction, no
-- service, no time, another day, malformed driver values, event); the rows:
-- one per transaction of the day, one per outcome counted, the first 20
-- malformed lines, the first unused line, each object read with its lines
-- (the task checks them against its listing), the control messages, a corrupt file.
UNLOAD (WITH
lines AS (SELECT "$path" AS file, line FROM "costjob_prod"."logs" WHERE "day" IN ('2026-11-23', '2026-11-24')),
records AS (SELECT file, try(json_parse(line)) AS record FROM lines WHERE NOT regexp_like(line, '^[ \t\n\f\r]*$')),
typed AS (SELECT file, record,
  CASE WHEN record IS NULL OR substr(COALESCE(json_format(json_extract(record, '$.messageType')), 'null'), 1, 1) <> '"' OR substr(COALESCE(json_format(json_extract(record, '$.logGroup')), 'null'), 1, 1) NOT IN ('n', '"') OR substr(COALESCE(json_format(json_extract(record, '$.logStream')), 'null'), 1, 1) NOT IN ('n', '"') OR substr(COALESCE(json_format(json_extract(record, '$.logEvents')), 'null'), 1, 1) NOT IN ('n', '[') THEN 'corrupt'
    WHEN json_extract_scalar(record, '$.messageType') = 'CONTROL_MESSAGE' THEN 'control' ELSE 'data' END AS kind FROM records),
log_events AS (SELECT t.file, COALESCE(json_extract_scalar(t.record, '$.logGroup'), '') AS log_group,
  COALESCE(json_extract_scalar(t.record, '$.logStream'), '') AS log_stream, e.event
  FROM typed t CROSS JOIN UNNEST(TRY_CAST(json_extract(t.record, '$.logEvents') AS ARRAY(JSON))) AS e (event) WHERE t.kind = 'data'),
delivered AS (SELECT file, log_group, log_stream, event,
  CASE WHEN substr(COALESCE(json_format(json_extract(event, '$.id')), 'null'), 1, 1) = '"' THEN json_extract_scalar(event, '$.id') END AS event_id,
  CASE WHEN substr(COALESCE(json_format(json_extract(event, '$.id')), 'null'), 1, 1) NOT IN ('n', '"') OR substr(COALESCE(json_format(json_extract(event, '$.message')), 'null'), 1, 1) <> '"' OR NOT (substr(COALESCE(json_format(json_extract(event, '$.timestamp')), 'null'), 1, 1) = 'n' OR regexp_like(COALESCE(json_format(json_extract(event, '$.timestamp')), ''), '^-?[0-9]+$')) THEN 1 ELSE 0 END AS record_error
  FROM log_events),
numbered AS (SELECT d.*, CASE WHEN event_id IS NULL THEN 1 ELSE row_number() OVER (PARTITION BY log_group, log_stream, event_id ORDER BY file) END AS delivery FROM delivered d),
messages AS (SELECT file, record_error,
  CASE WHEN delivery > 1 THEN 'duplicate' WHEN regexp_like(json_extract_scalar(event, '$.message'), '^[ \t\n\f\r]*$') THEN 'blank' END AS bucket,
  TRY_CAST(json_format(json_extract(event, '$.timestamp')) AS BIGINT) AS envelope_ms,
  json_extract_scalar(event, '$.message') AS message FROM numbered),
parsed AS (SELECT m.*, regexp_like(message, '^[ \t\n\f\r]*[{\[]') AS json_like, try(json_parse(message)) AS doc FROM messages m),
fielded AS (SELECT file, record_error, bucket, message, json_like, doc,
  CASE substr(COALESCE(json_format(json_extract(doc, '$.transaction_id')), 'null'), 1, 1) WHEN 'n' THEN '' WHEN '"' THEN CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.transaction_id')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.transaction_id') END ELSE (CASE WHEN regexp_like(json_format(json_extract(doc, '$.transaction_id')), '^-?[0-9]+$') THEN json_format(json_extract(doc, '$.transaction_id')) END) END AS transaction_id,
  CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.service')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.service') END AS service, CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.flow')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.flow') END AS flow, CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.transaction_type')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.transaction_type') END AS transaction_type, CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.route')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.route') END AS route, CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.status')), 'null'), 1, 1) = '"' THEN json_extract_scalar(doc, '$.status') END AS status,
  COALESCE(envelope_ms, CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.timestamp')), 'null'), 1, 1) = '"' THEN date_diff('millisecond', from_iso8601_timestamp('1970-01-01T00:00:00Z'), try(from_iso8601_timestamp(CASE WHEN substr(trim(json_extract_scalar(doc, '$.timestamp')), 11, 1) = ' ' THEN concat(substr(trim(json_extract_scalar(doc, '$.timestamp')), 1, 10), 'T', substr(trim(json_extract_scalar(doc, '$.timestamp')), 12)) ELSE trim(json_extract_scalar(doc, '$.timestamp')) END))) WHEN regexp_like(COALESCE(json_format(json_extract(doc, '$.timestamp')), ''), '^-?[0-9]+$') THEN TRY_CAST(json_format(json_extract(doc, '$.timestamp')) AS BIGINT) END) AS ts,
  CASE WHEN substr(COALESCE(json_format(json_extract(doc, '$.duration_ms')), 'null'), 1, 1) = 'n' THEN 0 ELSE CASE WHEN regexp_like(substr(COALESCE(json_format(json_extract(doc, '$.duration_ms')), 'null'), 1, 1), '^[-0-9]$') AND TRY_CAST(json_extract(doc, '$.duration_ms') AS DOUBLE) >= 0 AND TRY_CAST(json_extract(doc, '$.duration_ms') AS DOUBLE) < 9007199254740992 AND TRY_CAST(json_extract(doc, '$.duration_ms') AS DOUBLE) = floor(TRY_CAST(json_extract(doc, '$.duration_ms') AS DOUBLE)) THEN CAST(TRY_CAST(json_extract(doc, '$.duration_ms') AS DOUBLE) AS BIGINT) END END AS duration_ms,
  (substr(COALESCE(json_format(json_extract(doc, '$.usage')), 'null'), 1, 1) = 'n' OR (substr(COALESCE(json_format(json_extract(doc, '$.usage')), 'null'), 1, 1) = '{' AND cardinality(filter(map_values(TRY_CAST(json_extract(doc, '$.usage') AS MAP(VARCHAR, JSON))), v -> NOT COALESCE(CASE WHEN regexp_like(substr(COALESCE(json_format(v), 'null'), 1, 1), '^[-0-9]$') AND TRY_CAST(v AS DOUBLE) >= 0 AND TRY_CAST(v AS DOUBLE) < 9007199254740992 AND TRY_CAST(v AS DOUBLE) = floor(TRY_CAST(v AS DOUBLE)) THEN CAST(TRY_CAST(v AS DOUBLE) AS BIGINT) END IS NOT NULL, false))) = 0)) AS usage_ok,
  length(to_utf8(message)) AS message_bytes
  FROM parsed),
classified AS (SELECT *, CASE WHEN record_error > 0 THEN 'corrupt' WHEN bucket IS NOT NULL THEN bucket WHEN NOT json_like THEN 'non_json' WHEN doc IS NULL THEN 'malformed'
  WHEN transaction_id IS NULL THEN 'malformed' WHEN transaction_id = '' THEN 'no_transaction' WHEN service IS NULL OR service = '' THEN 'missing_service'
  WHEN ts IS NULL THEN 'bad_timestamp' WHEN ts < 1795392000000 OR ts >= 1795478400000 THEN 'out_of_day'
  WHEN duration_ms IS NULL OR NOT usage_ok THEN 'malformed' ELSE 'event' END AS outcome FROM fielded),
day_events AS (SELECT *, CASE WHEN COALESCE(flow, '') = '' AND COALESCE(route, '') <> '' THEN CASE WHEN regexp_like(route, '^POST /v1/recargas') THEN 1 WHEN regexp_like(route, '^POST /v1/pagos') THEN 2 WHEN regexp_like(route, '^POST /v1/onboarding') THEN 3 END END AS route_flow
  FROM classified WHERE outcome = 'event')
SELECT CAST('transaction' AS VARCHAR) AS row_kind, CAST(transaction_id AS VARCHAR) AS transaction_id, CAST(element_at(array_agg(flow ORDER BY ts, flow) FILTER (WHERE flow <> ''), 1) AS VARCHAR) AS flow, CAST(element_at(array_agg(route_flow ORDER BY ts, route_flow) FILTER (WHERE route_flow IS NOT NULL), 1) AS INTEGER) AS route_flow, CAST(element_at(array_agg(status ORDER BY ts DESC, status DESC) FILTER (WHERE status <> ''), 1) AS VARCHAR) AS status, CAST(min(ts) AS BIGINT) AS first_ms, CAST(max(ts) AS BIGINT) AS last_ms, CAST(count(*) AS BIGINT) AS events, CAST(sum(duration_ms) AS BIGINT) AS duration_ms, CAST(count_if(transaction_type = 'monetary') AS BIGINT) AS monetary, CAST(count_if(transaction_type = 'non-monetary') AS BIGINT) AS non_monetary, CAST(count_if(transaction_type <> '' AND transaction_type NOT IN ('monetary', 'non-monetary')) AS BIGINT) AS other_type, CAST(NULL AS VARCHAR) AS file, CAST(NULL AS VARCHAR) AS detail, CAST(CAST(max(CASE WHEN TRUE THEN 1 ELSE 0 END) AS BIGINT) AS BIGINT) AS u0, CAST(CAST(sum(CASE WHEN TRUE THEN COALESCE(CASE WHEN regexp_like(substr(COALESCE(json_format(json_extract(doc, '$.usage.kms_requests')), 'null'), 1, 1), '^[-0-9]$') AND TRY_CAST(json_extract(doc, '$.usage.kms_requests') AS DOUBLE) >= 0 AND TRY_CAST(json_extract(doc, '$.usage.kms_requests') AS DOUBLE) < 9007199254740992 AND TRY_CAST(json_extract(doc, '$.usage.kms_requests') AS DOUBLE) = floor(TRY_CAST(json_extract(doc, '$.usage.kms_requests') AS DOUBLE)) THEN CAST(TRY_CAST(json_extract(doc, '$.usage.kms_requests') AS DOUBLE) AS BIGINT) END, 0) ELSE 0 END) AS BIGINT) AS BIGINT) AS u1, CAST(CAST(sum(CASE WHEN service = 'ledger-svc' THEN duration_ms ELSE 0 END) AS BIGINT) AS BIGINT) AS u2, CAST(CAST(sum(CASE WHEN TRUE THEN message_bytes ELSE 0 END) AS BIGINT) AS BIGINT) AS u3, CAST(CAST(count_if(service = 'kyc-svc') AS BIGINT) AS BIGINT) AS u4
  FROM day_events GROUP BY transaction_id
UNION ALL
SELECT CAST('counter' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(count(*) AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(NULL AS VARCHAR) AS file, CAST(outcome AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM classified GROUP BY outcome
UNION ALL
(SELECT CAST('malformed' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(NULL AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(file AS VARCHAR) AS file, CAST(substr(message, 1, 160) AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM classified WHERE outcome = 'malformed'
  ORDER BY file LIMIT 20)
UNION ALL
(SELECT CAST('unused' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(NULL AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(file AS VARCHAR) AS file, CAST(substr(message, 1, 160) AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM classified WHERE outcome IN ('non_json', 'no_transaction')
  ORDER BY file LIMIT 1)
UNION ALL
SELECT CAST('file' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(count(*) AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(file AS VARCHAR) AS file, CAST(NULL AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM lines GROUP BY file
UNION ALL
SELECT CAST('counter' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(count(*) AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(NULL AS VARCHAR) AS file, CAST('control_messages' AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM typed WHERE kind = 'control'
UNION ALL
(SELECT CAST('corrupt' AS VARCHAR) AS row_kind, CAST(NULL AS VARCHAR) AS transaction_id, CAST(NULL AS VARCHAR) AS flow, CAST(NULL AS INTEGER) AS route_flow, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS BIGINT) AS first_ms, CAST(NULL AS BIGINT) AS last_ms, CAST(NULL AS BIGINT) AS events, CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS BIGINT) AS monetary, CAST(NULL AS BIGINT) AS non_monetary, CAST(NULL AS BIGINT) AS other_type, CAST(file AS VARCHAR) AS file, CAST(NULL AS VARCHAR) AS detail, CAST(NULL AS BIGINT) AS u0, CAST(NULL AS BIGINT) AS u1, CAST(NULL AS BIGINT) AS u2, CAST(NULL AS BIGINT) AS u3, CAST(NULL AS BIGINT) AS u4
  FROM typed WHERE kind = 'corrupt'
  ORDER BY file LIMIT 1))
TO 's3://deuna-costjob-output/athena-results/unload/RUN_ID-logs-2026-11-23/'
WITH (format = 'PARQUET', compression = 'ZSTD');
