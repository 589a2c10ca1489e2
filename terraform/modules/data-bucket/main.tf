# A hardened S3 bucket, the one baseline for every bucket the platform owns:
# the CUR, the logs the job reads, the job's outputs and Athena results.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # The accounts that own the exports: a payer (management) account's export
  # writes here with its own account as aws:SourceAccount.
  export_accounts = distinct([for a in var.export_source_arns : split(":", a)[4]])
  bucket_arn      = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
  logs_name       = "${substr(var.bucket_name, 0, 58)}-logs"
  logs_arn        = "arn:${data.aws_partition.current.partition}:s3:::${local.logs_name}"
  region          = data.aws_region.current.name

  deny_insecure = [
    {
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    },
    {
      Sid       = "DenyTlsBelow12"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
    },
  ]

  bucket_policy = {
    Version = "2012-10-17"
    Statement = concat(local.deny_insecure, [
      # Only requests that NAME another algorithm or key are denied: a PUT with
      # no SSE headers (the billing export's) takes the bucket's default
      # encryption, SSE-KMS with this key. `...IfExists` would deny it.
      {
        Sid       = "DenyUploadsNamingAnotherAlgorithm"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arn}/*"
        Condition = {
          Null            = { "s3:x-amz-server-side-encryption" = "false" }
          StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
        }
      },
      {
        Sid       = "DenyUploadsNamingAnotherKey"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arn}/*"
        Condition = {
          Null            = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = "false" }
          StringNotEquals = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn }
        }
      },
      {
        Sid       = "DenySseC"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arn}/*"
        Condition = { Null = { "s3:x-amz-server-side-encryption-customer-algorithm" = "false" } }
      },
      ], [for s in [
        {
          Sid       = "BillingExportsWrite"
          Effect    = "Allow"
          Principal = { Service = ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"] }
          Action    = ["s3:PutObject", "s3:GetBucketPolicy"]
          Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.export_accounts }
            ArnLike      = { "aws:SourceArn" = var.export_source_arns }
          }
        },
      ] : s if length(var.export_source_arns) > 0],
      # CloudWatch Logs CreateExportTask, as AWS documents it: the regional logs
      # principal reads the bucket ACL and writes under the prefix, for this
      # account's named log groups only.
      var.log_export == null ? [] : [
        {
          Sid       = "LogExportsReadAcl"
          Effect    = "Allow"
          Principal = { Service = "logs.${local.region}.amazonaws.com" }
          Action    = "s3:GetBucketAcl"
          Resource  = local.bucket_arn
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.account_id }
            ArnLike      = { "aws:SourceArn" = local.log_export_sources }
          }
        },
        {
          Sid       = "LogExportsWrite"
          Effect    = "Allow"
          Principal = { Service = "logs.${local.region}.amazonaws.com" }
          Action    = "s3:PutObject"
          Resource  = "${local.bucket_arn}/${var.log_export.prefix}*"
          Condition = {
            StringEquals = { "aws:SourceAccount" = local.account_id }
            ArnLike      = { "aws:SourceArn" = local.log_export_sources }
          }
        },
    ])
  }
  log_export_sources = var.log_export == null ? [] : [
    for g in var.log_export.log_group_names : "arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:log-group:${g}:*"
  ]
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Every dataset here is derived and re-deliverable (AWS re-exports restated CUR months, costjob republishes any day, logs are re-exportable); cross-region replication doubles cost for no recovery gain.
  # checkov:skip=CKV2_AWS_62:No consumer needs object-created notifications; costjob runs on a schedule after the day closes.
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "baseline"
    status = "Enabled"
    filter {}
    dynamic "transition" {
      for_each = var.transition_to_ia_days == null ? [] : [var.transition_to_ia_days]
      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }
    dynamic "transition" {
      for_each = var.transition_to_glacier_ir_days == null ? [] : [var.transition_to_glacier_ir_days]
      content {
        days          = transition.value
        storage_class = "GLACIER_IR"
      }
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = var.expire_after_days
    content {
      id     = "expire-${trimsuffix(replace(rule.key, "/", "-"), "-")}"
      status = "Enabled"
      filter {
        prefix = rule.key
      }
      expiration {
        days = rule.value
      }
      noncurrent_version_expiration {
        noncurrent_days = 1
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  bucket        = aws_s3_bucket.this.id
  target_bucket = local.logs_name
  target_prefix = "s3-access/${var.bucket_name}/"
  depends_on    = [aws_s3_bucket_policy.logs]
}

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = jsonencode(local.bucket_policy)
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Server access logs of the CUR bucket.
resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it to itself would loop.
  # checkov:skip=CKV_AWS_144:Access logs are audit evidence kept in-region; replication is left to the organisation's log archive.
  # checkov:skip=CKV_AWS_145:S3 server access log delivery supports only SSE-S3 on the target bucket, not SSE-KMS.
  # checkov:skip=CKV2_AWS_62:No consumer of access-log object events.
  bucket = local.logs_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.logs_arn, "${local.logs_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyTlsBelow12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.logs_arn, "${local.logs_arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      },
      {
        Sid       = "S3ServerAccessLogDelivery"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${local.logs_arn}/s3-access/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = local.bucket_arn }
        }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.logs]
}
