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
}

variables {
  bucket_name        = "deuna-cur-test"
  kms_key_arn        = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  export_source_arns = ["arn:aws:bcm-data-exports:us-east-1:111122223333:export/costjob-cur"]
  # The CUR bucket's tiering (the other buckets keep STANDARD).
  transition_to_ia_days         = 90
  transition_to_glacier_ir_days = 400
}

run "hardened_bucket" {
  command = plan

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule :
      alltrue([for d in r.apply_server_side_encryption_by_default : d.sse_algorithm == "aws:kms" && d.kms_master_key_id == var.kms_key_arn]) && r.bucket_key_enabled
    ])
    error_message = "default encryption must be SSE-KMS with the given key and bucket key on"
  }

  assert {
    condition = (aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy
    && aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets)
    error_message = "public access must be fully blocked"
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "versioning must be on"
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "object ownership must be enforced (ACLs off)"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
    try(s.Effect == "Deny" && s.Condition.Bool["aws:SecureTransport"] == "false", false)])
    error_message = "non-TLS requests must be denied"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
    try(s.Effect == "Deny" && s.Condition.NumericLessThan["s3:TlsVersion"] == "1.2", false)])
    error_message = "TLS below 1.2 must be denied"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      try(s.Effect == "Deny" && s.Action == "s3:PutObject" && s.Condition.StringNotEquals["s3:x-amz-server-side-encryption-aws-kms-key-id"] == var.kms_key_arn
    && s.Condition.Null["s3:x-amz-server-side-encryption-aws-kms-key-id"] == "false", false)])
    error_message = "uploads naming another key must be denied"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      try(s.Effect == "Deny" && s.Action == "s3:PutObject" && s.Condition.StringNotEquals["s3:x-amz-server-side-encryption"] == "aws:kms"
    && s.Condition.Null["s3:x-amz-server-side-encryption"] == "false", false)])
    error_message = "uploads naming another algorithm must be denied"
  }

  # The billing export PUTs without SSE headers and relies on default encryption:
  # no Deny may match a request that names no algorithm and no key (issue 11 item 1).
  assert {
    condition = alltrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      s.Effect != "Deny" || !contains(keys(try(s.Condition, {})), "StringNotEqualsIfExists")
    ])
    error_message = "no upload deny may apply to a PUT that relies on the bucket's default encryption (IfExists matches absent headers)"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
    try(s.Effect == "Deny" && s.Condition.Null["s3:x-amz-server-side-encryption-customer-algorithm"] == "false", false)])
    error_message = "SSE-C uploads must be denied"
  }

  assert {
    condition = alltrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      s.Effect == "Deny" || try(
        join(",", sort(s.Action)) == "s3:GetBucketPolicy,s3:PutObject"
        && join(",", sort(s.Principal.Service)) == "bcm-data-exports.amazonaws.com,billingreports.amazonaws.com"
        && jsonencode(s.Condition.StringEquals["aws:SourceAccount"]) == jsonencode(["111122223333"])
        && jsonencode(s.Condition.ArnLike["aws:SourceArn"]) == jsonencode(var.export_source_arns)
    , false)])
    error_message = "the only Allow is PutObject/GetBucketPolicy for the billing export services, scoped by account and export ARN"
  }

  assert {
    condition     = aws_s3_bucket_logging.this.target_bucket == "deuna-cur-test-logs" && aws_s3_bucket.logs.bucket == "deuna-cur-test-logs"
    error_message = "access logging must go to the log bucket"
  }
  assert {
    condition = alltrue([for sid, c in {
      DenyInsecureTransport = { Bool = { "aws:SecureTransport" = "false" } }
      DenyTlsBelow12        = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      } : anytrue([for s in jsondecode(aws_s3_bucket_policy.logs.policy).Statement :
    try(s.Sid == sid && s.Effect == "Deny" && s.Principal == "*" && jsonencode(s.Condition) == jsonencode(c), false)])])
    error_message = "the access-log bucket also refuses requests without TLS or below TLS 1.2"
  }
  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule :
      r.id == "baseline" && length(r.filter) == 1 && one(r.abort_incomplete_multipart_upload).days_after_initiation == 7
      && toset([for t in r.transition : "${t.storage_class}@${t.days}"]) == toset(["STANDARD_IA@90", "GLACIER_IR@400"])
    ])
    error_message = "the whole bucket aborts incomplete uploads and tiers as asked"
  }
  assert {
    condition     = !strcontains(aws_s3_bucket_policy.this.policy, "LogExports")
    error_message = "no log-export writer unless asked for"
  }
}

# Issue 11 item 8: the bucket the job reads logs from, with the CUR bucket's
# baseline, written by CloudWatch Logs export tasks of named log groups only.
run "logs_bucket" {
  command = plan

  variables {
    bucket_name        = "deuna-logs-test"
    export_source_arns = []
    log_export         = { prefix = "cloudwatch-export/", log_group_names = ["/ecs/pagos-svc", "/ecs/recargas-svc"] }
  }

  assert {
    condition     = !strcontains(aws_s3_bucket_policy.this.policy, "BillingExportsWrite")
    error_message = "no billing export writer on a bucket that does not receive the CUR"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : try(
      s.Sid == "LogExportsWrite" && s.Effect == "Allow" && s.Principal.Service == "logs.us-east-1.amazonaws.com"
      && s.Action == "s3:PutObject" && s.Resource == "arn:aws:s3:::deuna-logs-test/cloudwatch-export/*"
      && s.Condition.StringEquals["aws:SourceAccount"] == "111122223333"
      && s.Condition.ArnLike["aws:SourceArn"] == ["arn:aws:logs:us-east-1:111122223333:log-group:/ecs/pagos-svc:*", "arn:aws:logs:us-east-1:111122223333:log-group:/ecs/recargas-svc:*"],
    false)])
    error_message = "log exports write under their prefix only, from this account's named log groups"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : try(
      s.Sid == "LogExportsReadAcl" && s.Action == "s3:GetBucketAcl" && s.Resource == "arn:aws:s3:::deuna-logs-test"
    && s.Condition.StringEquals["aws:SourceAccount"] == "111122223333", false)])
    error_message = "log exports may read the bucket ACL, scoped to this account"
  }
  assert {
    condition = (one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn
    && aws_s3_bucket_public_access_block.this.restrict_public_buckets)
    error_message = "the logs bucket has the baseline: SSE-KMS with the key, public access blocked"
  }
}

# Issue 11 item 8: the job's output bucket; Athena results and UNLOAD scratch expire.
run "output_bucket" {
  command = plan

  variables {
    bucket_name                   = "deuna-costjob-test"
    export_source_arns            = []
    transition_to_ia_days         = null
    transition_to_glacier_ir_days = null
    expire_after_days             = { "athena-results/" = 30 }
  }

  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule :
      try(one(r.filter).prefix == "athena-results/" && one(r.expiration).days == 30
    && one(r.abort_incomplete_multipart_upload).days_after_initiation == 1, false)])
    error_message = "Athena results expire after 30 days, their incomplete uploads after 1"
  }
  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule :
    r.id == "baseline" && length(r.transition) == 0 && one(r.abort_incomplete_multipart_upload).days_after_initiation == 7])
    error_message = "the tables stay in STANDARD (queried daily); incomplete uploads are aborted"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
    try(s.Sid == "DenyUploadsNamingAnotherKey" && s.Condition.StringNotEquals["s3:x-amz-server-side-encryption-aws-kms-key-id"] == var.kms_key_arn, false)])
    error_message = "the output bucket refuses uploads naming another key"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    bucket_name           = "Not_A_Bucket"
    kms_key_arn           = "alias/aws/s3"
    export_source_arns    = ["arn:aws:s3:::not-an-export"]
    transition_to_ia_days = 10
    log_export            = { prefix = "", log_group_names = ["/deuna/app"] }
    expire_after_days     = { "" = 0 }
  }

  expect_failures = [var.bucket_name, var.kms_key_arn, var.export_source_arns, var.transition_to_ia_days, var.log_export, var.expire_after_days]
}

# Issue 11 item 6: an export owned by the payer account is allowed with that
# account as aws:SourceAccount, not the deploying one.
run "a_payer_account_export_may_write" {
  command = plan

  variables {
    export_source_arns = ["arn:aws:bcm-data-exports:us-east-1:999988887777:export/payer-cur"]
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      try(s.Sid == "BillingExportsWrite" && jsonencode(s.Condition.StringEquals["aws:SourceAccount"]) == jsonencode(["999988887777"])
    && jsonencode(s.Condition.ArnLike["aws:SourceArn"]) == jsonencode(var.export_source_arns), false)])
    error_message = "the export's own account is the allowed source account"
  }
}
