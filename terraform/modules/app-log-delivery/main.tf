# The application logs, delivered to the logs bucket for costjob: each
# service's log group is subscribed to one Firehose stream, which writes the
# records as CloudWatch Logs sends them (gzip'ed JSON envelopes, costjob's
# `firehose` format) under a daily prefix, <prefix><yyyy-MM-dd>/ by arrival
# time in UTC. Chosen over CreateExportTask (docs/architecture.md): exports run
# one at a time per account, lag hours, and need a scheduler to ask for them;
# a subscription delivers within minutes and never misses a day.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  bucket    = element(split(":::", var.bucket_arn), 1)
  # Where Firehose writes: one folder a day, and failed records beside it.
  data_prefix  = "${var.prefix}!{timestamp:yyyy-MM-dd}/"
  error_prefix = "${var.error_prefix}!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
}

resource "aws_cloudwatch_log_group" "delivery_errors" {
  name              = "/aws/kinesisfirehose/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_stream" "s3_delivery" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.delivery_errors.name
}

# Firehose -> the bucket: write under the two prefixes, with the key, through S3 only.
resource "aws_iam_role" "firehose" {
  name = "${var.name}-firehose"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "firehose" {
  name = "write-the-logs-bucket"
  role = aws_iam_role.firehose.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "TheBucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = [var.bucket_arn]
      },
      {
        Sid      = "ThePrefixes"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = ["${var.bucket_arn}/${var.prefix}*", "${var.bucket_arn}/${var.error_prefix}*"]
      },
      {
        Sid      = "TheKeyThroughS3"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" }
          StringLike   = { "kms:EncryptionContext:aws:s3:arn" = ["${var.bucket_arn}/${var.prefix}*", "${var.bucket_arn}/${var.error_prefix}*"] }
        }
      },
      {
        Sid      = "ItsErrors"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.delivery_errors.arn}:log-stream:${aws_cloudwatch_log_stream.s3_delivery.name}"]
      },
    ]
  })
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  name        = var.name
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = var.kms_key_arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = var.bucket_arn
    prefix              = local.data_prefix
    error_output_prefix = local.error_prefix
    buffering_size      = var.buffering_size_mb
    buffering_interval  = var.buffering_interval_seconds
    # CloudWatch Logs sends each record gzip'ed: Firehose decompresses it and
    # ends it with a newline, then compresses the object (`.gz`), so each
    # line of an object is one subscription record: what costjob's file
    # engine reads, and what Athena's text reader needs for the logs table
    # (a gzip member per record, in an object without `.gz`, is unreadable
    # to Athena).
    compression_format = "GZIP"
    kms_key_arn        = var.kms_key_arn

    processing_configuration {
      enabled = true
      processors {
        type = "Decompression"
        parameters {
          parameter_name  = "CompressionFormat"
          parameter_value = "GZIP"
        }
      }
      processors {
        type = "AppendDelimiterToRecord"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.delivery_errors.name
      log_stream_name = aws_cloudwatch_log_stream.s3_delivery.name
    }
  }

  tags = var.tags
}

# CloudWatch Logs -> Firehose: this account's log groups only (confused deputy).
resource "aws_iam_role" "subscription" {
  name = "${var.name}-subscription"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "logs.${local.region}.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringLike = { "aws:SourceArn" = "arn:${local.partition}:logs:${local.region}:${local.account}:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "subscription" {
  name = "put-records"
  role = aws_iam_role.subscription.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
      Resource = [aws_kinesis_firehose_delivery_stream.this.arn]
    }]
  })
}

resource "aws_cloudwatch_log_subscription_filter" "this" {
  for_each        = toset(var.log_group_names)
  name            = "${var.name}-to-costjob"
  log_group_name  = each.value
  filter_pattern  = ""
  destination_arn = aws_kinesis_firehose_delivery_stream.this.arn
  role_arn        = aws_iam_role.subscription.arn
  distribution    = "ByLogStream"
}
