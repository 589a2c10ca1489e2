mock_provider "aws" {}

variables {
  name           = "costjob_test"
  kms_key_arn    = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  results_s3_uri = "s3://deuna-athena-results/costjob/"
  cur_s3_uri     = "s3://deuna-cur/exports/costjob-cur/data/"
  output_s3_uri  = "s3://deuna-costjob/out/"
}

run "encrypted_enforced_workgroup_and_projected_tables" {
  command = plan

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].enforce_workgroup_configuration
    error_message = "the workgroup must enforce its configuration"
  }
  assert {
    condition = (aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS"
    && aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].kms_key_arn == var.kms_key_arn)
    error_message = "query results must be encrypted with the key"
  }
  assert {
    condition     = length(aws_glue_catalog_table.output) == 7
    error_message = "the five output tables of SPEC 5, pools (SPEC 11) and restatements (SPEC 12.2)"
  }
  assert {
    condition = [for c in aws_glue_catalog_table.output["restatements"].storage_descriptor[0].columns : c.name] == [
      "restated_at", "run_id", "previous_run_id", "reasons", "transaction_type", "flow", "previous_transactions",
      "transactions", "previous_cost_usd", "cost_usd", "previous_unit_cost_usd", "unit_cost_usd", "delta_usd",
      "previous_cur_total_usd", "cur_total_usd", "cur_change_by_line_item_type", "previous_cur_final", "cur_final",
    ]
    error_message = "the restatements table has the columns costjob writes (sql/ddl.sql), in order: what changed on a day, by how much, and why"
  }
  assert {
    condition = alltrue([for c in ["cur_fingerprint", "logs_fingerprint", "config_sha256", "pricing_sha256", "cur_final", "cur_by_line_item_type"] :
    contains([for col in aws_glue_catalog_table.output["reconciliation"].storage_descriptor[0].columns : col.name], c)])
    error_message = "the reconciliation records what produced the day (SPEC 12.2)"
  }
  assert {
    condition = alltrue([for name, t in aws_glue_catalog_table.output :
      !contains(keys(t.parameters), "projection.enabled") && !contains(keys(t.parameters), "storage.location.template")
    && t.storage_descriptor[0].location == "s3://deuna-costjob/out/${name}/"])
    error_message = "no output table uses partition projection: costjob points each day's partition at its run (SPEC 5.1)"
  }
  assert {
    condition = alltrue([for name, t in aws_glue_catalog_table.output :
    length(t.partition_keys) == 1 && t.partition_keys[0].name == "dt" && contains([for c in t.storage_descriptor[0].columns : c.name], "run_id")])
    error_message = "every output table is partitioned by dt and has run_id"
  }
  assert {
    condition     = contains([for c in aws_glue_catalog_table.output["transactions"].storage_descriptor[0].columns : c.type], "decimal(18,10)")
    error_message = "money is DECIMAL(18,10)"
  }
  assert {
    condition = (aws_glue_catalog_table.cur.partition_keys[0].name == "billing_period"
      && aws_glue_catalog_table.cur.parameters["projection.enabled"] == "true"
      && aws_glue_catalog_table.cur.parameters["projection.billing_period.format"] == "yyyy-MM"
      && aws_glue_catalog_table.cur.parameters["projection.billing_period.range"] == "2024-01,NOW"
    && aws_glue_catalog_table.cur.parameters["storage.location.template"] == "s3://deuna-cur/exports/costjob-cur/data/BILLING_PERIOD=$${billing_period}/")
    error_message = "the CUR table projects billing_period onto the export's BILLING_PERIOD= folders, so a new month is readable without a crawler"
  }
  assert {
    condition = alltrue([for c in ["line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type", "line_item_operation", "line_item_line_item_type", "line_item_unblended_cost", "resource_tags"] :
    contains([for col in aws_glue_catalog_table.cur.storage_descriptor[0].columns : col.name], c)])
    error_message = "the CUR table has every column the engine requires (SPEC 2.1), and the usage end date that spreads a row over its days (SPEC 12.1)"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name           = "Costjob-Prod"
    results_s3_uri = "s3://bucket-without-slash"
  }

  expect_failures = [var.name, var.results_s3_uri]
}

# Issue 37 finding 11: the catalog's metadata and connection passwords are
# encrypted with the platform key.
run "the_catalog_is_encrypted" {
  command = plan

  assert {
    condition = (aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].encryption_at_rest[0].catalog_encryption_mode == "SSE-KMS"
      && aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].encryption_at_rest[0].sse_aws_kms_key_id == var.kms_key_arn
      && aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].connection_password_encryption[0].aws_kms_key_id == var.kms_key_arn
    && aws_glue_data_catalog_encryption_settings.this[0].data_catalog_encryption_settings[0].connection_password_encryption[0].return_connection_password_encrypted)
    error_message = "the Glue Data Catalog is encrypted with the platform key"
  }
}

# SPEC 14: the logs table reads every line of a day's Firehose objects whole
# (one string column through the Regex SerDe: no delimiter, escape or `\N`
# can cut or null a line), by the day's folder, with no crawler.
run "the_logs_table_reads_each_days_folder_a_line_a_row" {
  command = plan

  variables {
    logs_s3_uri = "s3://deuna-app-logs/firehose/"
  }

  assert {
    condition = (aws_glue_catalog_table.logs[0].database_name == aws_glue_catalog_database.costjob.name
      && [for c in aws_glue_catalog_table.logs[0].storage_descriptor[0].columns : "${c.name} ${c.type}"] == ["line string"]
    && [for k in aws_glue_catalog_table.logs[0].partition_keys : "${k.name} ${k.type}"] == ["day string"])
    error_message = "one string column, the line, and the day as a partition"
  }
  assert {
    condition = (aws_glue_catalog_table.logs[0].storage_descriptor[0].ser_de_info[0].serialization_library == "org.apache.hadoop.hive.serde2.RegexSerDe"
      && aws_glue_catalog_table.logs[0].storage_descriptor[0].ser_de_info[0].parameters["input.regex"] == "([\\s\\S]*)"
    && aws_glue_catalog_table.logs[0].storage_descriptor[0].input_format == "org.apache.hadoop.mapred.TextInputFormat")
    error_message = "every line read whole as text: the Regex SerDe with one group matching anything (a JSON SerDe would drop or null what the file engine counts)"
  }
  assert {
    condition = (aws_glue_catalog_table.logs[0].parameters["projection.enabled"] == "true"
      && aws_glue_catalog_table.logs[0].parameters["projection.day.type"] == "date"
      && aws_glue_catalog_table.logs[0].parameters["projection.day.format"] == "yyyy-MM-dd"
      && endswith(aws_glue_catalog_table.logs[0].parameters["projection.day.range"], ",NOW")
    && replace(aws_glue_catalog_table.logs[0].parameters["storage.location.template"], "$${day}", "2026-11-23") == "s3://deuna-app-logs/firehose/2026-11-23/")
    error_message = "a day's partition is Firehose's folder for the day, projected"
  }
  assert {
    condition     = output.logs_table_name == "logs"
    error_message = "the table's name is an output"
  }
}

run "no_logs_table_without_logs" {
  command = plan

  assert {
    condition     = length(aws_glue_catalog_table.logs) == 0 && output.logs_table_name == null
    error_message = "the logs table exists only when the logs' location is given"
  }
}
