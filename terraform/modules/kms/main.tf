data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # The accounts that own the exports: a payer (management) account's export
  # writes here with its own account as aws:SourceAccount.
  export_accounts = distinct([for a in var.billing_export_source_arns : split(":", a)[4]])
  partition       = data.aws_partition.current.partition
  region          = data.aws_region.current.name

  # Administration named action by action, no wildcard: kms:Create* would let an
  # administrator create grants (and so decrypt), kms:Put* and kms:Update* match
  # more than the key policy and description. PutKeyPolicy stays: administering
  # the key means editing its policy (CloudTrail records every change).
  admin_actions = [
    "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:UpdateKeyDescription", "kms:EnableKey",
    "kms:DisableKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand",
    "kms:ListKeyRotations", "kms:RevokeGrant", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
  ]
  use_actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]

  # In a key policy "Resource": "*" means this key and nothing else.
  statements = concat(
    [
      # AWS's default key policy statement: IAM policies of this account take
      # effect on the key. Without it a deleted administrator role orphans the
      # key (only AWS Support can recover it); with it, who may use the key is
      # still decided by IAM policies this account writes and CloudTrail records.
      {
        Sid       = "AccountRootForIamDelegation"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "KeyAdministrators"
        Effect    = "Allow"
        Principal = { AWS = var.administrator_arns }
        Action    = local.admin_actions
        Resource  = "*"
      },
    ],
    [for s in [
      {
        Sid       = "KeyUsers"
        Effect    = "Allow"
        Principal = { AWS = var.user_arns }
        Action    = local.use_actions
        Resource  = "*"
      },
      {
        Sid       = "KeyUsersGrantsForAwsServices"
        Effect    = "Allow"
        Principal = { AWS = var.user_arns }
        Action    = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
        Resource  = "*"
        Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
      },
    ] : s if length(var.user_arns) > 0 && (s.Sid == "KeyUsers" || var.users_may_grant_for_aws_resources)],
    [
      {
        Sid       = "CloudWatchLogsEncryption"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
      {
        Sid       = "AwsServicesOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = var.service_principals }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ],
    # EventBridge publishing to a KMS-encrypted SNS topic: SNS uses the key for
    # the events principal without an aws:SourceAccount in the request context,
    # so the statement AWS documents has no condition. The topic's own policy
    # (aws:SourceAccount, TLS only) decides who may publish at all.
    [for s in [
      {
        Sid       = "EventBridgeToEncryptedTopics"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ] : s if var.events_publish_to_encrypted_topics],
    [for s in [
      {
        Sid       = "BillingExportsWriteCur"
        Effect    = "Allow"
        Principal = { Service = ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Encrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.export_accounts }
          ArnLike      = { "aws:SourceArn" = var.billing_export_source_arns }
        }
      },
    ] : s if length(var.billing_export_source_arns) > 0],
  )
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = jsonencode({ Version = "2012-10-17", Statement = local.statements })
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
