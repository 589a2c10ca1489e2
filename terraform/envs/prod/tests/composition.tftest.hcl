# The composition of an environment (issue 11): what the modules' own tests
# cannot see, because it is how this env wires them together.
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
  # The service teams' cluster, read (never created here).
  mock_data "aws_ecs_cluster" {
    defaults = {
      arn     = "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod"
      setting = [{ name = "containerInsights", value = "enabled" }]
    }
  }

  mock_resource "aws_kms_key" {
    override_during = plan
    defaults = {
      arn    = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_ecr_repository" {
    override_during = plan
    defaults = {
      arn            = "arn:aws:ecr:us-east-1:111122223333:repository/costjob-test"
      repository_url = "111122223333.dkr.ecr.us-east-1.amazonaws.com/costjob-test"
    }
  }
}


# Each class's key has its own ARN (the mock gives every key the same).
override_resource {
  override_during = plan
  target          = module.kms["billing"].aws_kms_key.this
  values          = { arn = "arn:aws:kms:us-east-1:111122223333:key/b1111111-2222-3333-4444-555555555555", key_id = "b1111111-2222-3333-4444-555555555555" }
}
override_resource {
  override_during = plan
  target          = module.kms["logs"].aws_kms_key.this
  values          = { arn = "arn:aws:kms:us-east-1:111122223333:key/c1111111-2222-3333-4444-555555555555", key_id = "c1111111-2222-3333-4444-555555555555" }
}
override_resource {
  override_during = plan
  target          = module.kms["database"].aws_kms_key.this
  values          = { arn = "arn:aws:kms:us-east-1:111122223333:key/d1111111-2222-3333-4444-555555555555", key_id = "d1111111-2222-3333-4444-555555555555" }
}
override_resource {
  override_during = plan
  target          = module.kms["platform"].aws_kms_key.this
  values          = { arn = "arn:aws:kms:us-east-1:111122223333:key/e1111111-2222-3333-4444-555555555555", key_id = "e1111111-2222-3333-4444-555555555555" }
}

# The private subnets' zones, as the VPC has them.
override_data {
  target = module.aurora.data.aws_subnet.private["subnet-0123456789abcdef0"]
  values = { availability_zone = "us-east-1a" }
}
override_data {
  target = module.aurora.data.aws_subnet.private["subnet-0123456789abcdef1"]
  values = { availability_zone = "us-east-1b" }
}

variables {
  pgadmin_password_wo    = "test-only-not-a-secret-0123456789abcdef"
  region                 = "us-east-1"
  vpc_id                 = "vpc-0123456789abcdef0"
  private_subnet_ids     = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  app_security_group_ids = ["sg-0a1b2c3d4e5f60718", "sg-0a1b2c3d4e5f60719"]
  administrator_arns     = ["arn:aws:iam::111122223333:role/platform-admin"]
  operator_arns          = ["arn:aws:iam::111122223333:role/finops-analyst"]
  cur_bucket_name        = "deuna-test-cur"
  logs_bucket_name       = "deuna-test-app-logs"
  output_bucket_name     = "deuna-test-costjob"
  costjob_image_tag      = "0.1.0"
  oncall_emails          = ["oncall@example.com"]
}

run "composition" {
  command = plan

  # Issue 37 finding 9: one key per class of data. The finance analysts use
  # the billing key only, and no user of any key may create grants; the CUR
  # is written with the billing key only; the task may use the keys of what
  # it reads and writes (billing, logs, its own platform key), not the
  # database's.
  assert {
    condition = alltrue(flatten([for k, m in module.kms : [for st in jsondecode(m.key_policy).Statement :
      k == "billing" || !anytrue([for p in flatten([try(st.Principal.AWS, [])]) : contains(var.operator_arns, p)])
    if st.Effect == "Allow"]]))
    error_message = "the analysts are users of the billing key only"
  }
  assert {
    condition = alltrue(flatten([for k, m in module.kms : [for st in jsondecode(m.key_policy).Statement :
    !contains(flatten([st.Action]), "kms:CreateGrant") if anytrue([for p in flatten([try(st.Principal.AWS, [])]) : contains(var.operator_arns, p)])]]))
    error_message = "no key user may create grants"
  }
  assert {
    condition = (length(distinct([for k, m in module.kms : m.key_arn])) == 4
      && [for k, m in module.kms : k if strcontains(m.key_policy, "BillingExportsWriteCur")] == ["billing"]
      && module.aurora.kms_key_arn == module.kms["database"].key_arn
    && module.pgadmin_secret.kms_key_arn == module.kms["database"].key_arn)
    error_message = "four keys; the CUR written with the billing key only; the database and its secret on the database key"
  }
  assert {
    condition = alltrue([for st in jsondecode(module.costjob_task.task_policy).Statement :
      toset(st.Resource) == toset([module.kms["platform"].key_arn, module.kms["billing"].key_arn, module.kms["logs"].key_arn])
    if st.Sid == "UseTheKeys"])
    error_message = "the task uses the billing, logs and platform keys, not the database's"
  }

  # Issue 37 finding 9: PostgreSQL is reached from the services' security
  # groups only, not from every address of the VPC.
  assert {
    condition = (length(module.aurora.ingress_cidr_blocks) == 0
    && toset(module.aurora.ingress_security_group_ids) == toset(var.app_security_group_ids))
    error_message = "only the services' security groups reach PostgreSQL (the rotation function's own group is admitted by its module)"
  }

  # Issue 37 finding 3: the logs reach the job. Every service's log group is
  # delivered, and the folder Firehose writes a day's records to is the one
  # the task reads for that day (its {date} and Firehose's timestamp, for the
  # same day, give the same key prefix).
  assert {
    condition = (toset(module.app_log_delivery.log_group_names) == toset([for name in keys(var.ecs_services) : "/ecs/${name}"])
      && replace(module.app_log_delivery.data_prefix, "!{timestamp:yyyy-MM-dd}", "2026-11-23")
    == trimprefix(replace(module.costjob_task.container.environment.COSTJOB_LOGS_PATH, "{date}", "2026-11-23"), "s3://deuna-test-app-logs/"))
    error_message = "the task reads each day from the folder Firehose delivers that day to, for every service"
  }

  # Issue 37 finding 5: the key policy names only principals that exist
  # before this apply (the root, the administrators, the operators): a role
  # this apply creates made the key's creation fail (MalformedPolicyDocument),
  # so -target=module.kms, the runbook's first step, failed.
  assert {
    condition = alltrue(flatten([for k in module.kms : [for st in jsondecode(k.key_policy).Statement :
      [for p in flatten([try(st.Principal.AWS, [])]) :
    contains(concat(var.administrator_arns, var.operator_arns, ["arn:aws:iam::111122223333:root"]), p)]]]))
    error_message = "the key policy names a principal this configuration creates"
  }

  # Issue 37 finding 2: the CUR lands. Real delivery ARNs, shaped as AWS
  # writes them (a Data Export's name carries a generated suffix; a legacy
  # CUR report's definition), match the bucket's and the key's aws:SourceArn
  # patterns (ArnLike: * any run, ? one character); another account's export
  # and another export of this account do not.
  assert {
    condition = alltrue(flatten([for patterns in [
      one([for s in jsondecode(module.cur_bucket.bucket_policy).Statement : s.Condition.ArnLike["aws:SourceArn"] if s.Sid == "BillingExportsWrite"]),
      one([for s in jsondecode(module.kms["billing"].key_policy).Statement : s.Condition.ArnLike["aws:SourceArn"] if s.Sid == "BillingExportsWriteCur"]),
      ] : [for arn, delivers in {
        "arn:aws:bcm-data-exports:us-east-1:111122223333:export/costjob-cur-6f4d7a0e-1b2c-4d5e-8f90-123456789abc" = true
        "arn:aws:cur:us-east-1:111122223333:definition/4ad2a5c9-3e1d-4a8b-9e6f-0c7d8b9a1f2e"                      = true
        "arn:aws:bcm-data-exports:us-east-1:444455556666:export/costjob-cur-6f4d7a0e-1b2c-4d5e-8f90-123456789abc" = false
        "arn:aws:bcm-data-exports:us-east-1:111122223333:export/marketing-6f4d7a0e-1b2c-4d5e-8f90-123456789abc"   = false
        } : delivers == anytrue([for p in patterns :
          can(regex("^${replace(replace(replace(p, ".", "\\."), "*", ".*"), "?", ".")}$", arn))
      ])]
    ]))
    error_message = "the CUR's real delivery ARNs (export/<name>-<id>, a legacy CUR definition) may write to the bucket and use the key; nothing else"
  }

  assert {
    condition     = module.costjob_task.container != null && module.ecs_scaling_alerts.cluster_arn == "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod" && length([for r in module.ecs_scaling_alerts.event_rule_names : r]) == 3
    error_message = "the alerts watch the existing cluster (read, not created: issue 37), the task runs in it"
  }
  assert {
    condition     = toset(keys(module.ecs_scaling_alerts.at_max_alarm_names)) == toset(keys(var.ecs_services)) && length(var.ecs_services) > 0
    error_message = "the scaling alerts are fed the environment's whole service map"
  }
  assert {
    condition     = module.costjob_task.container.image == "111122223333.dkr.ecr.us-east-1.amazonaws.com/costjob-test:0.1.0"
    error_message = "the task runs this environment's image, by its immutable version tag"
  }
  assert {
    condition = (module.costjob_task.container.environment.COSTJOB_LOGS_PATH == "s3://deuna-test-app-logs/firehose/{date}/"
      && module.costjob_task.container.environment.COSTJOB_LOGS_FORMAT == "firehose"
      && module.costjob_task.container.environment.COSTJOB_OUTPUT_PATH == "s3://deuna-test-costjob/costjob/"
      && module.costjob_task.container.environment.COSTJOB_CUR_OUTPUT_LOCATION == "s3://deuna-test-costjob/athena-results/"
      && module.costjob_task.container.environment.COSTJOB_CUR_SOURCE == "athena"
      && module.costjob_task.container.environment.COSTJOB_CUR_DATABASE == module.athena.cur_database_name
    && module.costjob_task.container.environment.COSTJOB_OUTPUT_GLUE_DATABASE == module.athena.glue_database_name)
    error_message = "the task reads the managed logs bucket, writes the managed output bucket, queries the env's CUR table"
  }
  assert {
    condition     = module.costjob_task.container.user != "0" && !startswith(module.costjob_task.container.user, "0:")
    error_message = "the job never runs as root"
  }
  assert {
    condition     = alltrue([for b in [module.cur_bucket, module.logs_bucket, module.output_bucket] : strcontains(b.bucket_policy, "DenyTlsBelow12")])
    error_message = "every bucket the job touches has the baseline policy"
  }
  assert {
    condition     = !anytrue([for b in [module.cur_bucket, module.logs_bucket, module.output_bucket] : strcontains(b.bucket_policy, "LogExportsWrite")])
    error_message = "no bucket takes CloudWatch Logs export tasks: the logs are delivered by Firehose"
  }
  assert {
    condition     = strcontains(module.cur_bucket.bucket_policy, "BillingExportsWrite") && !strcontains(module.logs_bucket.bucket_policy, "BillingExportsWrite")
    error_message = "only the CUR bucket takes the billing export"
  }
  assert {
    condition     = contains([for s in jsondecode(module.kms["platform"].key_policy).Statement : s.Sid], "EventBridgeToEncryptedTopics")
    error_message = "the key lets EventBridge page through the encrypted SNS topic"
  }
}

# Issue 37 finding 11: a plan after the first apply needs no password (the
# write-only attribute is written only when pgadmin_password_version grows);
# every plan used to ask for one.
run "a_plan_without_the_password" {
  command = plan

  variables {
    pgadmin_password_wo = null
  }

  assert {
    condition     = module.pgadmin_secret.secret_name == "deuna-${var.environment}/pgadmin"
    error_message = "the env plans without the pgadmin password"
  }
}

# SPEC 14: logs_engine = "athena" points the task at the logs table the
# athena module made over the folders Firehose writes (the table's day is the
# task's {date}).
run "the_logs_through_athena" {
  command = plan

  variables {
    logs_engine = "athena"
  }

  assert {
    condition = (module.costjob_task.container.environment.COSTJOB_LOGS_SOURCE == "athena"
      && module.costjob_task.container.environment.COSTJOB_LOGS_TABLE == module.athena.logs_table_name
    && module.costjob_task.container.environment.COSTJOB_LOGS_DATABASE == module.athena.glue_database_name)
    error_message = "the task reads the logs through the athena module's logs table"
  }
  assert {
    condition = (replace(module.athena.logs_table_location_template, "$${day}", "2026-11-23")
    == replace(module.costjob_task.container.environment.COSTJOB_LOGS_PATH, "{date}", "2026-11-23"))
    error_message = "the logs table's folder for a day is the one the task lists for that day"
  }
}
