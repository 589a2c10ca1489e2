data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_secretsmanager_secret" "this" {
  name                    = var.name
  description             = "Credentials of the ${var.username} PostgreSQL role (rotated every ${var.rotation_days} days)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

# Who may touch the secret at all, on the secret itself (issue 37): nobody of
# another account, and only the administrators (who run Terraform) may delete
# it or change this policy; reading stays with IAM (the DBAs' roles, the
# rotation function's).
resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  block_public_policy = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyOtherAccounts"
        Effect    = "Deny"
        Principal = "*"
        Action    = "secretsmanager:*"
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:PrincipalAccount" = data.aws_caller_identity.current.account_id } }
      },
      {
        Sid       = "OnlyAdministratorsDeleteOrRepolicy"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"]
        Resource  = "*"
        Condition = { ArnNotLike = { "aws:PrincipalArn" = var.administrator_arns } }
      },
    ]
  })
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  secret_string_wo = jsonencode({
    engine   = "postgres"
    username = var.username
    password = var.password_wo
    host     = var.db_host
    port     = var.db_port
    dbname   = var.db_name
  })
  secret_string_wo_version = var.password_version

  lifecycle {
    # Rotation writes new versions; Terraform only writes when password_version changes.
    ignore_changes = [version_stages]
  }
}

locals {
  function_name = "${replace(var.name, "/[^A-Za-z0-9-]/", "-")}-rotation"
}

# The rotation function's own security group (issue 11 item 9: it reused the
# costjob task's, which Aurora then had to admit): out to the cluster on its
# port and to Secrets Manager's HTTPS endpoint; nothing comes in.
resource "aws_security_group" "rotation" {
  # checkov:skip=CKV2_AWS_5:Attached to the rotation function through the Serverless Application Repository stack's vpcSecurityGroupIds parameter, which checkov does not follow.
  name        = local.function_name
  description = "The pgadmin rotation function: to the cluster and to Secrets Manager"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "rotation_to_db" {
  security_group_id            = aws_security_group.rotation.id
  description                  = "PostgreSQL to the cluster"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = var.db_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "rotation_to_https" {
  security_group_id = aws_security_group.rotation.id
  description       = "HTTPS to the Secrets Manager endpoint (VPC endpoint or NAT)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_rotation" {
  security_group_id            = var.db_security_group_id
  description                  = "PostgreSQL from the pgadmin rotation function"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.rotation.id
}

# Lambda creates its log group on first use, unencrypted and kept forever;
# created here first, it is encrypted with the key and expires.
resource "aws_cloudwatch_log_group" "rotation" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# AWS's own single-user PostgreSQL rotation function, from the Serverless Application Repository.
resource "aws_serverlessapplicationrepository_cloudformation_stack" "rotation" {
  name             = local.function_name
  application_id   = "arn:${data.aws_partition.current.partition}:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser"
  semantic_version = var.rotation_app_version
  capabilities     = ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
  parameters = {
    endpoint            = "https://secretsmanager.${data.aws_region.current.name}.amazonaws.com"
    functionName        = local.function_name
    kmsKeyArn           = var.kms_key_arn
    vpcSubnetIds        = join(",", var.rotation_subnet_ids)
    vpcSecurityGroupIds = aws_security_group.rotation.id
  }
  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.rotation]
}

# Rotation is enabled only once the role exists (role_exists): enabling it runs
# the function's testSecret step at once, logging in as the role with the
# secret's password, even with rotate_immediately = false; before the role is
# created that fails the apply. The order (docs/apply-runbook.md): apply (the
# secret with its password), create the role with that password, then
# role_exists = true and apply again. rotate_immediately = false: the first
# full rotation waits for the schedule (or `aws secretsmanager rotate-secret`).
resource "aws_secretsmanager_secret_rotation" "this" {
  count = var.role_exists ? 1 : 0
  # checkov:skip=CKV_AWS_304:rotation every var.rotation_days (30, validated <= 90) is configured below; the check reads rotate_immediately = false, which only defers the first rotation, as a missing schedule
  secret_id           = aws_secretsmanager_secret.this.id
  rotation_lambda_arn = aws_serverlessapplicationrepository_cloudformation_stack.rotation.outputs["RotationLambdaARN"]
  rotate_immediately  = false
  rotation_rules {
    automatically_after_days = var.rotation_days
  }
  depends_on = [aws_secretsmanager_secret_version.this]
}
