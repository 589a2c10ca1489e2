mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_resource "aws_kinesis_firehose_delivery_stream" {
    defaults = { arn = "arn:aws:firehose:us-east-1:111122223333:deliverystream/costjob-logs" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/costjob-logs-role" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/kinesisfirehose/costjob-logs" }
  }
}

variables {
  name            = "costjob-logs"
  log_group_names = ["/ecs/pagos", "/ecs/recargas", "/ecs/onboarding"]
  bucket_arn      = "arn:aws:s3:::deuna-test-app-logs"
  kms_key_arn     = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
}

# Issue 37 finding 3: the logs reach the bucket, a folder a day, in the form
# costjob reads (its firehose format: a subscription record a line, gzip'ed).
run "every_log_group_is_delivered_daily" {
  command = apply

  assert {
    condition = (toset([for f in aws_cloudwatch_log_subscription_filter.this : f.log_group_name]) == toset(var.log_group_names)
      && alltrue([for f in aws_cloudwatch_log_subscription_filter.this :
    f.destination_arn == aws_kinesis_firehose_delivery_stream.this.arn && f.role_arn == aws_iam_role.subscription.arn && f.filter_pattern == ""]))
    error_message = "every application log group is subscribed, whole, to the stream"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].prefix == "firehose/!{timestamp:yyyy-MM-dd}/"
      && startswith(aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].error_output_prefix, "firehose-errors/!{firehose:error-output-type}/")
    && aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].bucket_arn == var.bucket_arn)
    error_message = "one folder a day (UTC), failed records apart from the data costjob reads"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].buffering_interval <= 300
    && aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].buffering_size <= 128)
    error_message = "records reach the bucket within five minutes"
  }
  # SPEC 14: Athena's text reader reads an object by its name (`.gz`), a line
  # a row. CloudWatch Logs gzips each record: Firehose must decompress it and
  # end it with a newline, then gzip the object, or the logs table reads
  # binary noise (a gzip member per record in an object without `.gz`) or
  # one row of every record run together.
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].compression_format == "GZIP"
      && aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].processing_configuration[0].enabled
      && [for p in aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].processing_configuration[0].processors : p.type] == ["Decompression", "AppendDelimiterToRecord"]
      && anytrue([for p in aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].processing_configuration[0].processors :
    p.type == "Decompression" && anytrue([for q in p.parameters : q.parameter_name == "CompressionFormat" && q.parameter_value == "GZIP"])]))
    error_message = "each record decompressed and ended by a newline, the object gzip'ed (.gz): a line of the logs table is a record"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.server_side_encryption[0].enabled
      && aws_kinesis_firehose_delivery_stream.this.server_side_encryption[0].key_arn == var.kms_key_arn
      && aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].kms_key_arn == var.kms_key_arn
    && aws_cloudwatch_log_group.delivery_errors.kms_key_id == var.kms_key_arn)
    error_message = "the stream, the objects and the delivery errors are encrypted with the key"
  }
  assert {
    condition     = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].cloudwatch_logging_options[0].enabled
    error_message = "delivery errors are logged"
  }
}

run "each_hop_may_do_its_one_thing" {
  command = apply

  assert {
    condition = (jsondecode(aws_iam_role.firehose.assume_role_policy).Statement[0].Principal.Service == "firehose.amazonaws.com"
      && jsondecode(aws_iam_role.firehose.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333"
      && jsondecode(aws_iam_role.subscription.assume_role_policy).Statement[0].Principal.Service == "logs.us-east-1.amazonaws.com"
    && jsondecode(aws_iam_role.subscription.assume_role_policy).Statement[0].Condition.StringLike["aws:SourceArn"] == "arn:aws:logs:us-east-1:111122223333:*")
    error_message = "each role is assumed by its service acting for this account only"
  }
  assert {
    condition = alltrue([for st in jsondecode(aws_iam_role_policy.firehose.policy).Statement :
      alltrue([for r in st.Resource : r == var.bucket_arn || startswith(r, "${var.bucket_arn}/firehose") || r == var.kms_key_arn || startswith(r, aws_cloudwatch_log_group.delivery_errors.arn)])
    ])
    error_message = "Firehose may write the bucket's two prefixes, use the key and log its errors; nothing else"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.firehose.policy).Statement :
      try(contains(st.Action, "kms:GenerateDataKey") && st.Condition.StringEquals["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    && contains(st.Condition.StringLike["kms:EncryptionContext:aws:s3:arn"], "${var.bucket_arn}/firehose/*"), false)])
    error_message = "the key only through S3, for these objects"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.subscription.policy).Statement[0].Resource == [aws_kinesis_firehose_delivery_stream.this.arn]
    error_message = "CloudWatch Logs may put records into this stream only"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    log_group_names   = []
    bucket_arn        = "deuna-test-app-logs"
    prefix            = ""
    buffering_size_mb = 256
  }

  expect_failures = [var.log_group_names, var.bucket_arn, var.prefix, var.buffering_size_mb]
}
