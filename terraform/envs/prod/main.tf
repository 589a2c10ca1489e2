provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name      = "costjob-${var.environment}"
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  tags = {
    project     = "costjob"
    environment = var.environment
    owner       = "finops"
    managed-by  = "terraform"
  }
  # Who may deliver the CUR, as AWS documents the bucket and key policies: a
  # Data Export's ARN carries a generated suffix (export/<name>-<id>) and
  # exists only once the export is created, which needs these policies first,
  # so the export is named with a wildcard suffix; the legacy CUR's report
  # definitions beside it. The export may be the payer (management) account's.
  export_account = coalesce(var.cur_export_account_id, local.account)
  export_source_arns = [
    "arn:${local.partition}:bcm-data-exports:us-east-1:${local.export_account}:export/${var.cur_export_name}-*",
    "arn:${local.partition}:cur:us-east-1:${local.export_account}:definition/*",
  ]
  # The services' cluster: the service teams' (read, never created here).
  cluster_name = coalesce(var.ecs_cluster_name, "deuna-${var.environment}")
  key_classes = {
    billing  = { description = "the CUR, the cost tables, Athena results, the Glue catalog", users = var.operator_arns, services = [] }
    logs     = { description = "the application logs", users = [], services = [] }
    database = { description = "Aurora and its secrets", users = [], services = [] }
    platform = { description = "the image, paging, the task's and alerts' own logs, the schedule", users = [], services = ["cloudwatch.amazonaws.com", "scheduler.amazonaws.com"] }
  }
  key = { for k, m in module.kms : k => m.key_arn }
}

# One key per class of data (issue 37: one key for everything let whoever
# may read the cost tables decrypt the database and the application logs):
# - billing: the CUR, the cost tables, Athena's results and the Glue catalog;
#   finance's roles (operator_arns) use it;
# - logs: the application logs (customers' activity);
# - database: Aurora, its master secret and the pgadmin secret;
# - platform: the image, the paging topic, the task's and alerts' own logs,
#   the schedule and its dead letters.
# Each names only principals that exist before this apply (a key policy
# naming a role this apply creates is refused, MalformedPolicyDocument, so
# -target=module.kms failed); the costjob task uses the billing, logs and
# platform keys through its own IAM policy, which each key's account
# statement lets take effect. No user of any key may create grants.
module "kms" {
  for_each           = local.key_classes
  source             = "../../modules/kms"
  alias              = "${local.name}-${each.key}"
  description        = "costjob ${var.environment}: ${each.value.description}"
  administrator_arns = var.administrator_arns
  user_arns          = each.value.users
  # The billing exports write the CUR with the billing key only.
  billing_export_source_arns = each.key == "billing" ? local.export_source_arns : []
  service_principals         = each.value.services
  # The scaling alerts' ECS service-action rule pages the encrypted SNS topic.
  events_publish_to_encrypted_topics = each.key == "platform"
  tags                               = local.tags
}

# Every bucket the platform reads or writes has the same baseline (SSE-KMS with
# the key, TLS 1.2+, no public access, no ACLs, versioning, access logs,
# incomplete uploads aborted); each adds only its writers and lifecycle.
module "cur_bucket" {
  source                        = "../../modules/data-bucket"
  bucket_name                   = var.cur_bucket_name
  kms_key_arn                   = local.key.billing
  export_source_arns            = local.export_source_arns
  transition_to_ia_days         = 90
  transition_to_glacier_ir_days = 400
  tags                          = local.tags
}

module "logs_bucket" {
  source                = "../../modules/data-bucket"
  bucket_name           = var.logs_bucket_name
  kms_key_arn           = local.key.logs
  transition_to_ia_days = 30
  tags                  = local.tags
}

# The application logs reach the job (issue 37): every service's log group,
# through one Firehose stream, a folder a day in the logs bucket, which the
# task reads as <prefix>{date}/.
module "app_log_delivery" {
  source          = "../../modules/app-log-delivery"
  name            = "${local.name}-app-logs"
  log_group_names = [for name in keys(var.ecs_services) : "${var.app_log_group_prefix}${name}"]
  bucket_arn      = module.logs_bucket.bucket_arn
  kms_key_arn     = local.key.logs
  tags            = local.tags
}

module "output_bucket" {
  source      = "../../modules/data-bucket"
  bucket_name = var.output_bucket_name
  kms_key_arn = local.key.billing
  # Athena results and the job's UNLOAD scratch are read once.
  expire_after_days = { "athena-results/" = 30 }
  tags              = local.tags
}

module "aurora" {
  source             = "../../modules/aurora-postgres"
  name               = "deuna-${var.environment}"
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  # Only the services' own security groups reach PostgreSQL (issue 37: the
  # VPC's CIDR let anything in the VPC try); the rotation function's group is
  # admitted by the pgadmin_secret module; the costjob task never connects.
  allowed_cidr_blocks        = []
  allowed_security_group_ids = var.app_security_group_ids
  kms_key_arn                = local.key.database
  instance_class             = var.aurora_instance_class
  instance_count             = 2
  backup_retention_days      = var.aurora_backup_retention_days
  tags                       = local.tags
}

module "pgadmin_secret" {
  source               = "../../modules/pgadmin-secret"
  name                 = "deuna-${var.environment}/pgadmin"
  kms_key_arn          = local.key.database
  db_host              = module.aurora.cluster_endpoint
  db_port              = 5432
  db_name              = module.aurora.cluster_database_name
  password_wo          = var.pgadmin_password_wo
  password_version     = var.pgadmin_password_version
  rotation_days        = 30
  role_exists          = var.pgadmin_role_exists
  administrator_arns   = var.administrator_arns
  rotation_subnet_ids  = var.private_subnet_ids
  vpc_id               = var.vpc_id
  db_security_group_id = module.aurora.security_group_id
  tags                 = local.tags
}

module "athena" {
  source         = "../../modules/athena"
  name           = replace(local.name, "-", "_")
  kms_key_arn    = local.key.billing
  results_s3_uri = "s3://${module.output_bucket.bucket_id}/athena-results/"
  cur_s3_uri     = "s3://${module.cur_bucket.bucket_id}/exports/${var.cur_export_name}/data/"
  output_s3_uri  = "s3://${module.output_bucket.bucket_id}/costjob/"
  # The logs table of the Athena log engine (SPEC 14): Firehose's daily folders.
  logs_s3_uri = "s3://${module.logs_bucket.bucket_id}/${module.app_log_delivery.prefix}"
  tags        = local.tags
}

# The image (Dockerfile at the repository root), pushed as costjob:<version>.
module "ecr" {
  source      = "../../modules/ecr"
  name        = local.name
  kms_key_arn = local.key.platform
  tags        = local.tags
}

module "costjob_task" {
  source             = "../../modules/costjob-task"
  name               = local.name
  cluster_arn        = module.ecs_scaling_alerts.cluster_arn
  image              = "${module.ecr.repository_url}:${var.costjob_image_tag}"
  ecr_repository_arn = module.ecr.repository_arn
  subnet_ids         = var.private_subnet_ids
  vpc_id             = var.vpc_id
  kms_key_arn        = local.key.platform
  # The data it reads and writes: the CUR, the cost tables, the logs.
  data_kms_key_arns = [local.key.billing, local.key.logs]
  cur               = { bucket = module.cur_bucket.bucket_id, prefix = "exports/${var.cur_export_name}/" }
  logs              = { bucket = module.logs_bucket.bucket_id, prefix = module.app_log_delivery.costjob_logs_prefix, format = "firehose" }
  output            = { bucket = module.output_bucket.bucket_id, prefix = "costjob/" }
  athena = {
    workgroup       = module.athena.workgroup_name
    results_bucket  = module.output_bucket.bucket_id
    results_prefix  = "athena-results/"
    glue_databases  = [module.athena.glue_database_name, module.athena.cur_database_name]
    cur_database    = module.athena.cur_database_name
    cur_table       = module.athena.cur_table_name
    output_database = module.athena.glue_database_name
    logs_table      = var.logs_engine == "athena" ? module.athena.logs_table_name : null
  }
  tags = local.tags
}

module "ecs_scaling_alerts" {
  source                   = "../../modules/ecs-scaling-alerts"
  cluster_name             = local.cluster_name
  manage_scalable_targets  = var.ecs_manage_scalable_targets
  services                 = var.ecs_services
  kms_key_arn              = local.key.platform
  at_max_minutes           = var.ecs_at_max_minutes
  firehose_destination_arn = var.observability_firehose_arn
  alarm_email_addresses    = var.oncall_emails
  tags                     = local.tags
}

# Alarms on the job's own metrics (EMF, SPEC 11) and failures, to the same
# paging topic and observability log group as the scaling alerts.
module "costjob_alarms" {
  source                          = "../../modules/costjob-alarms"
  name                            = local.name
  cluster_arn                     = module.ecs_scaling_alerts.cluster_arn
  task_family                     = local.name
  schedule_dead_letter_queue_name = module.costjob_task.schedule_dead_letter_queue_name
  flows                           = var.costjob_flows
  sns_topic_arn                   = module.ecs_scaling_alerts.sns_topic_arn
  log_group_arn                   = module.ecs_scaling_alerts.log_group_arn
  unallocated_share_threshold     = var.unallocated_share_threshold
  tags                            = local.tags
}
