-- The application logs as a table Athena reads (SPEC 14, `[logs] source =
-- "athena"`): what the Terraform `athena` module creates (aws_glue_catalog_table.logs)
-- over the folders the `app-log-delivery` module's Firehose stream writes,
-- for creating it by hand. One row per line of every object under
-- <location><yyyy-MM-dd>/, the whole line in `line`:
--   - the Regex SerDe with one group that matches anything keeps every line
--     whole (no delimiter, escape or \N can cut or null it), so costjob's
--     query counts each bad line as the file engine does;
--   - objects are read as text, gzip'ed by their `.gz` name (Firehose with
--     GZIP compression, CloudWatch's 000000.gz): Firehose must decompress
--     the CloudWatch Logs records and end each with a newline (the module's
--     Decompression and AppendDelimiterToRecord processors);
--   - `day` is projected from the folder name: a new day is readable with no
--     crawler and no registered partition.
-- For CloudWatch export files (<prefix><yyyy-MM-dd>/<task-id>/<stream>/000000.gz),
-- point LOCATION and the template at the export prefix: the same table.
CREATE EXTERNAL TABLE IF NOT EXISTS logs (
  line string
)
PARTITIONED BY (day string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES ('input.regex' = '([\\s\\S]*)')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://deuna-app-logs/firehose/'
TBLPROPERTIES (
  'classification' = 'text',
  'projection.enabled' = 'true',
  'projection.day.type' = 'date',
  'projection.day.format' = 'yyyy-MM-dd',
  'projection.day.range' = '2024-01-01,NOW',
  'projection.day.interval' = '1',
  'projection.day.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://deuna-app-logs/firehose/${day}/'
);
