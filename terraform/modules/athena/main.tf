locals {
  money = "decimal(18,10)"

  # costjob's output tables (SPEC 5); sql/ddl.sql holds the same DDL for manual use.
  output_tables = {
    transactions = [
      ["transaction_id", "string"], ["transaction_type", "string"], ["flow", "string"], ["status", "string"],
      ["first_event_at", "timestamp"], ["last_event_at", "timestamp"], ["events", "bigint"], ["duration_ms", "bigint"],
      ["cost_usd", local.money], ["direct_cost_usd", local.money], ["shared_cost_usd", local.money], ["cost_basis", "string"],
      ["costs", "array<struct<product_code:string,rule_id:string,category:string,cost_usd:${local.money}>>"],
      ["units", "array<struct<unit_key:string,units:bigint>>"], ["run_id", "string"],
    ]
    flow_costs = [
      ["transaction_type", "string"], ["flow", "string"], ["product_code", "string"], ["rule_id", "string"],
      ["category", "string"], ["allocation", "string"], ["transactions", "bigint"], ["driver_units", "bigint"],
      ["cost_usd", local.money], ["modelled_cost_usd", local.money], ["unit_cost_usd", local.money], ["run_id", "string"],
    ]
    flow_summary = [
      ["transaction_type", "string"], ["flow", "string"], ["transactions", "bigint"], ["cost_usd", local.money],
      ["unit_cost_usd", local.money], ["p50_usd", local.money], ["p95_usd", local.money], ["p99_usd", local.money], ["max_usd", local.money],
      ["successful_transactions", "bigint"], ["failed_cost_usd", local.money], ["cost_per_success_usd", local.money], ["run_id", "string"],
    ]
    unallocated = [
      ["reason", "string"], ["product_code", "string"], ["rule_id", "string"], ["tag_transaction_type", "string"],
      ["tag_flow", "string"], ["tag_service", "string"], ["cost_usd", local.money], ["run_id", "string"],
    ]
    pools = [
      ["product_code", "string"], ["rule_id", "string"], ["category", "string"], ["tag_transaction_type", "string"],
      ["tag_flow", "string"], ["tag_service", "string"], ["cost_usd", local.money], ["driver", "string"], ["unit_key", "string"],
      ["unallocated_reason", "string"], ["total_units", "decimal(38,0)"], ["transactions", "bigint"], ["extra_units", "bigint"],
      ["last_extra_remainder", "decimal(38,0)"], ["last_extra_transaction_id", "string"], ["run_id", "string"],
    ]
    reconciliation = [
      ["cost_basis", "string"], ["cur_rows", "bigint"], ["cur_total_usd", local.money], ["allocated_usd", local.money],
      ["unallocated_usd", local.money], ["excluded_usd", local.money],
      ["excluded_by_type", "array<struct<line_item_type:string,cost_usd:${local.money}>>"],
      ["out_of_scope_usd", local.money], ["out_of_scope_by_account", "array<struct<account_id:string,cost_usd:${local.money}>>"],
      ["delta_usd", local.money],
      ["cur_final", "boolean"], ["cur_by_line_item_type", "array<struct<line_item_type:string,cost_usd:${local.money}>>"],
      ["transactions", "bigint"], ["log_files", "bigint"], ["log_lines", "bigint"],
      ["log_events", "bigint"], ["log_out_of_day", "bigint"], ["log_non_json", "bigint"], ["log_no_transaction", "bigint"],
      ["log_missing_service", "bigint"], ["log_malformed", "bigint"], ["log_blank", "bigint"], ["log_bad_timestamp", "bigint"],
      ["log_duplicate", "bigint"], ["log_oversized", "bigint"], ["log_skipped_files", "bigint"], ["log_control_messages", "bigint"], ["log_corrupt_files", "bigint"], ["log_type_conflicts", "bigint"],
      ["run_id", "string"], ["costjob_version", "string"], ["pricing_sha256", "string"],
      ["config_sha256", "string"], ["cur_fingerprint", "string"], ["logs_fingerprint", "string"],
      ["started_at", "timestamp"], ["finished_at", "timestamp"],
    ]
    restatements = [
      ["restated_at", "timestamp"], ["run_id", "string"], ["previous_run_id", "string"], ["reasons", "string"],
      ["transaction_type", "string"], ["flow", "string"], ["previous_transactions", "bigint"], ["transactions", "bigint"],
      ["previous_cost_usd", local.money], ["cost_usd", local.money], ["previous_unit_cost_usd", local.money],
      ["unit_cost_usd", local.money], ["delta_usd", local.money], ["previous_cur_total_usd", local.money],
      ["cur_total_usd", local.money], ["cur_change_by_line_item_type", "array<struct<line_item_type:string,cost_usd:${local.money}>>"],
      ["previous_cur_final", "boolean"], ["cur_final", "boolean"],
    ]
  }

  cur_columns = [
    ["line_item_usage_start_date", "timestamp"], ["line_item_usage_end_date", "timestamp"],
    ["line_item_product_code", "string"], ["line_item_usage_type", "string"],
    ["line_item_operation", "string"], ["line_item_resource_id", "string"], ["line_item_line_item_type", "string"],
    ["line_item_usage_amount", "double"], ["line_item_unblended_cost", "double"], ["line_item_net_unblended_cost", "double"],
    ["reservation_effective_cost", "double"], ["reservation_net_effective_cost", "double"],
    ["reservation_unused_amortized_upfront_fee_for_billing_period", "double"], ["reservation_unused_recurring_fee", "double"],
    ["reservation_net_unused_amortized_upfront_fee_for_billing_period", "double"], ["reservation_net_unused_recurring_fee", "double"],
    ["reservation_reservation_a_r_n", "string"], ["savings_plan_savings_plan_effective_cost", "double"],
    ["savings_plan_net_savings_plan_effective_cost", "double"], ["savings_plan_total_commitment_to_date", "double"],
    ["savings_plan_used_commitment", "double"], ["savings_plan_amortized_upfront_commitment_for_billing_period", "double"],
    ["savings_plan_net_amortized_upfront_commitment_for_billing_period", "double"], ["bill_invoice_id", "string"],
    ["resource_tags", "map<string,string>"], ["line_item_line_item_description", "string"],
    ["line_item_usage_account_id", "string"],
  ]

  parquet = {
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    serde         = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
  }
}

# The Data Catalog's metadata (table definitions, partition locations) and
# connection passwords, encrypted with the platform key (issue 37). One
# setting per account and region: this module owns it unless another stack
# does (manage_catalog_encryption = false). Whoever reads the tables (the
# task, finance's Athena and QuickSight roles) needs the key, as they do for
# the objects.
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_catalog_encryption ? 1 : 0
  data_catalog_encryption_settings {
    connection_password_encryption {
      aws_kms_key_id                       = var.kms_key_arn
      return_connection_password_encrypted = true
    }
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = var.kms_key_arn
    }
  }
}

resource "aws_glue_catalog_database" "costjob" {
  name        = var.name
  description = "costjob output tables (per-transaction AWS cost)"
}

resource "aws_glue_catalog_database" "cur" {
  name        = "${var.name}_cur"
  description = "The Cost and Usage Report (CUR 2.0 Data Export, Parquet)"
}

resource "aws_glue_catalog_table" "cur" {
  name          = "cur"
  database_name = aws_glue_catalog_database.cur.name
  table_type    = "EXTERNAL_TABLE"
  # Data Exports write <prefix>/data/BILLING_PERIOD=YYYY-MM/; projection makes a
  # new month readable on its first day, with no crawler and no registered
  # partition. The engine's UNLOAD filters billing_period (sql/cur_query.sql).
  parameters = {
    classification                            = "parquet"
    "projection.enabled"                      = "true"
    "projection.billing_period.type"          = "date"
    "projection.billing_period.format"        = "yyyy-MM"
    "projection.billing_period.range"         = "${var.cur_first_billing_period},NOW"
    "projection.billing_period.interval"      = "1"
    "projection.billing_period.interval.unit" = "MONTHS"
    "storage.location.template"               = "${var.cur_s3_uri}BILLING_PERIOD=$${billing_period}/"
  }
  partition_keys {
    name = "billing_period"
    type = "string"
  }
  storage_descriptor {
    location      = var.cur_s3_uri
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = local.cur_columns
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

# The application logs as Firehose delivers them (SPEC 14, `[logs] source =
# "athena"`): one row per line of <logs_s3_uri><yyyy-MM-dd>/, the whole line
# in `line` (the Regex SerDe keeps it whole, whatever it holds: a tab, a
# `\N`, a stray delimiter), gzip read by the `.gz` name. Projection on `day`
# makes each new day readable with no crawler. costjob's query
# (sql/logs_query.sql) parses the records and events itself, so a bad line is
# counted, as the file engine counts it, not lost in a SerDe.
resource "aws_glue_catalog_table" "logs" {
  count         = var.logs_s3_uri == null ? 0 : 1
  name          = "logs"
  database_name = aws_glue_catalog_database.costjob.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification                 = "text"
    "projection.enabled"           = "true"
    "projection.day.type"          = "date"
    "projection.day.format"        = "yyyy-MM-dd"
    "projection.day.range"         = "${var.logs_first_day},NOW"
    "projection.day.interval"      = "1"
    "projection.day.interval.unit" = "DAYS"
    "storage.location.template"    = "${var.logs_s3_uri}$${day}/"
  }
  partition_keys {
    name = "day"
    type = "string"
  }
  storage_descriptor {
    location      = var.logs_s3_uri
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.serde2.RegexSerDe"
      parameters = {
        "input.regex" = "([\\s\\S]*)"
      }
    }
    columns {
      name = "line"
      type = "string"
    }
  }
}

resource "aws_glue_catalog_table" "output" {
  for_each      = local.output_tables
  name          = each.key
  database_name = aws_glue_catalog_database.costjob.name
  table_type    = "EXTERNAL_TABLE"
  # No partition projection: each run registers its day's partition, pointed at
  # its own run=<run_id>/ prefix, in one Glue call per table (SPEC 5.1).
  parameters = {
    classification        = "parquet"
    "parquet.compression" = "ZSTD"
  }
  partition_keys {
    name = "dt"
    type = "string"
  }
  storage_descriptor {
    location      = "${var.output_s3_uri}${each.key}/"
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = each.value
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name          = var.name
  description   = "costjob: CUR queries and finance views"
  force_destroy = false
  state         = "ENABLED"

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query
    requester_pays_enabled             = false

    result_configuration {
      output_location = var.results_s3_uri
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
  tags = var.tags
}
