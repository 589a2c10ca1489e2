mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

# The subnets' zones, as the VPC has them (not the us-east-1a/b a default
# would assume).
override_data {
  target = data.aws_subnet.private["subnet-0123456789abcdef0"]
  values = { availability_zone = "us-east-1c" }
}
override_data {
  target = data.aws_subnet.private["subnet-0123456789abcdef1"]
  values = { availability_zone = "us-east-1d" }
}

variables {
  name                       = "deuna-core"
  vpc_id                     = "vpc-0123456789abcdef0"
  private_subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  allowed_cidr_blocks        = ["10.20.0.0/16"]
  allowed_security_group_ids = ["sg-0123456789abcdef0"]
  kms_key_arn                = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
}

run "secure_cluster" {
  command = plan

  assert {
    condition     = aws_rds_cluster.this.storage_encrypted && aws_rds_cluster.this.kms_key_id == var.kms_key_arn
    error_message = "storage must be encrypted with the key"
  }
  assert {
    condition     = aws_rds_cluster.this.deletion_protection
    error_message = "deletion protection must be on"
  }
  assert {
    condition     = aws_rds_cluster.this.backup_retention_period >= 7
    error_message = "backups must be kept at least 7 days"
  }
  assert {
    condition     = aws_rds_cluster.this.iam_database_authentication_enabled
    error_message = "IAM authentication must be on"
  }
  assert {
    condition     = contains(aws_rds_cluster.this.enabled_cloudwatch_logs_exports, "postgresql")
    error_message = "PostgreSQL logs must be exported"
  }
  assert {
    condition     = aws_rds_cluster.this.copy_tags_to_snapshot && aws_rds_cluster.this.manage_master_user_password
    error_message = "tags copied to snapshots; master password managed by RDS (never in state)"
  }
  assert {
    condition     = anytrue([for p in aws_rds_cluster_parameter_group.this.parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "rds.force_ssl must be 1"
  }
  assert {
    condition     = alltrue([for i in aws_rds_cluster_instance.this : !i.publicly_accessible && i.performance_insights_enabled && i.performance_insights_kms_key_id == var.kms_key_arn])
    error_message = "instances must be private with Performance Insights encrypted by the key"
  }
  assert {
    condition     = length(aws_rds_cluster_instance.this) >= 2 && length(distinct([for i in aws_rds_cluster_instance.this : i.availability_zone])) >= 2
    error_message = "at least two instances in different AZs"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.cidr) == 1 && aws_vpc_security_group_ingress_rule.cidr["10.20.0.0/16"].from_port == 5432
    error_message = "only PostgreSQL from the allowed CIDRs"
  }
}

# Issue 11 item 9: the enhanced-monitoring role trusts RDS for this account only.
run "monitoring_role_trusts_this_account_only" {
  command = plan

  assert {
    condition = alltrue([for st in jsondecode(aws_iam_role.monitoring.assume_role_policy).Statement :
      st.Principal.Service == "monitoring.rds.amazonaws.com" && st.Action == "sts:AssumeRole"
    && try(st.Condition.StringEquals["aws:SourceAccount"], "") == "111122223333"])
    error_message = "the monitoring role's trust is scoped by aws:SourceAccount"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name                  = "Deuna_Core"
    allowed_cidr_blocks   = ["0.0.0.0/0", "8.8.8.0/24", "10.0.0.1/8"]
    backup_retention_days = 3
    instance_class        = "m5.large"
    instance_count        = 1
  }

  expect_failures = [var.name, var.allowed_cidr_blocks, var.backup_retention_days, var.instance_class, var.instance_count]
}

# Issue 37 finding 8: the instances go to the subnets' zones, one per zone in
# turn (an instance named into a zone without a subnet fails the apply).
run "instances_follow_the_subnets_zones" {
  command = plan

  assert {
    condition     = [for i in aws_rds_cluster_instance.this : i.availability_zone] == ["us-east-1c", "us-east-1d"]
    error_message = "one instance in each private subnet's zone, in turn"
  }
}

# Subnets all in one zone cannot hold a cluster that survives the zone.
run "subnets_of_one_zone_are_refused" {
  command = plan

  override_data {
    target = data.aws_subnet.private["subnet-0123456789abcdef1"]
    values = { availability_zone = "us-east-1c" }
  }

  expect_failures = [aws_rds_cluster.this]
}

# Issue 37 finding 8: a minor upgrade AWS applied (16.6 -> 16.8 in the
# maintenance window) is not undone by the next plan against the 16.6 pin
# (RDS refuses downgrades). The state is made to hold 16.8 by an apply at it.
run "the_cluster_as_aws_upgraded_it" {
  command = apply

  variables {
    engine_version = "16.8"
  }
}

run "an_automatic_minor_upgrade_is_kept" {
  command = plan

  variables {
    engine_version = "16.6"
  }

  assert {
    condition     = aws_rds_cluster.this.engine_version == "16.8"
    error_message = "the next plan tries to take the upgraded cluster back to the pinned version"
  }
}

# Issue 37 finding 9: schema and role changes are audited (pgaudit loaded,
# ddl and role classes logged), to the exported postgresql log.
run "schema_and_role_changes_are_audited" {
  command = plan

  assert {
    condition = (anytrue([for p in aws_rds_cluster_parameter_group.this.parameter : p.name == "shared_preload_libraries" && contains(split(",", p.value), "pgaudit")])
      && anytrue([for p in aws_rds_cluster_parameter_group.this.parameter : p.name == "pgaudit.log" && alltrue([for c in ["ddl", "role"] : contains(split(",", p.value), c)])])
    && contains(aws_rds_cluster.this.enabled_cloudwatch_logs_exports, "postgresql"))
    error_message = "pgaudit is loaded and logs DDL and role changes to the exported log"
  }
}
