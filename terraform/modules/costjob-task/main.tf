data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # The tables whose partitions the job publishes (SPEC 5).
  output_tables = ["transactions", "flow_costs", "flow_summary", "unallocated", "pools", "restatements", "reconciliation"]
  account       = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.name
  s3            = "arn:${local.partition}:s3:::"
  glue          = "arn:${local.partition}:glue:${local.region}:${local.account}"

  log_group_name = "/ecs/${var.name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group_name}"
  cluster_name   = element(split("/", var.cluster_arn), 1)
  family_arn     = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.name}:*"
  workgroup_arn  = "arn:${local.partition}:athena:${local.region}:${local.account}:workgroup/${var.athena.workgroup}"

  # Read a prefix: list it, get its objects. The logs' prefix names the day
  # ({date}): the grant is the folder above the days.
  read_prefix = {
    cur  = var.cur
    logs = { bucket = var.logs.bucket, prefix = split("{", var.logs.prefix)[0] }
  }

  task_statements = concat(
    flatten([for k, loc in local.read_prefix : [
      {
        Sid       = "List${title(k)}"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["${local.s3}${loc.bucket}"]
        Condition = { StringLike = { "s3:prefix" = ["${loc.prefix}*"] } }
      },
      {
        Sid      = "Read${title(k)}"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.s3}${loc.bucket}/${loc.prefix}*"]
      },
    ]]),
    [
      {
        Sid       = "ListOutput"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["${local.s3}${var.output.bucket}"]
        Condition = { StringLike = { "s3:prefix" = ["${var.output.prefix}*"] } }
      },
      {
        Sid      = "WriteOutput"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = ["${local.s3}${var.output.bucket}/${var.output.prefix}*"]
      },
      {
        Sid      = "AthenaResultsBucketLocation"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation"]
        Resource = ["${local.s3}${var.athena.results_bucket}"]
      },
      {
        # The results bucket is the output bucket in the envs: listing is
        # confined to the results' prefix, not the whole bucket.
        Sid       = "AthenaResultsList"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["${local.s3}${var.athena.results_bucket}"]
        Condition = { StringLike = { "s3:prefix" = ["${var.athena.results_prefix}*"] } }
      },
      {
        Sid    = "AthenaResults"
        Effect = "Allow"
        # DeleteObject: the engine removes its unload/<run_id>/ files after reading them (SPEC 2.7).
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
        Resource = ["${local.s3}${var.athena.results_bucket}/${var.athena.results_prefix}*"]
      },
      {
        Sid      = "AthenaInWorkgroup"
        Effect   = "Allow"
        Action   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"]
        Resource = [local.workgroup_arn]
      },
      {
        Sid    = "GlueCatalogRead"
        Effect = "Allow"
        Action = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
        # The CUR database: its one CUR table; the output database: its tables.
        Resource = concat(
          ["${local.glue}:catalog"],
          [for db in var.athena.glue_databases : "${local.glue}:database/${db}"],
          ["${local.glue}:table/${var.athena.cur_database}/${var.athena.cur_table}"],
          [for t in local.output_tables : "${local.glue}:table/${var.athena.output_database}/${t}"],
          var.athena.logs_table == null ? [] : ["${local.glue}:table/${var.athena.output_database}/${var.athena.logs_table}"],
        )
      },
      {
        # SPEC 5.1: a publish points each output table's dt partition at its run,
        # and rolls a crashed publish back; only the five output tables.
        Sid    = "GlueOwnOutputPartitions"
        Effect = "Allow"
        Action = ["glue:BatchCreatePartition", "glue:BatchUpdatePartition", "glue:DeletePartition"]
        Resource = concat(
          ["${local.glue}:catalog", "${local.glue}:database/${var.athena.output_database}"],
          [for t in local.output_tables : "${local.glue}:table/${var.athena.output_database}/${t}"],
        )
      },
      {
        Sid      = "UseTheKeys"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource = distinct(concat([var.kms_key_arn], var.data_kms_key_arns))
      },
    ],
  )

  execution_statements = [
    {
      # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
      Sid      = "EcrLogin"
      Effect   = "Allow"
      Action   = ["ecr:GetAuthorizationToken"]
      Resource = ["*"]
    },
    {
      Sid      = "PullTheImage"
      Effect   = "Allow"
      Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      Resource = [var.ecr_repository_arn]
    },
    {
      Sid      = "WriteJobLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${local.log_group_arn}:*"]
    },
  ]

  scheduler_statements = [
    {
      Sid       = "RunTheTask"
      Effect    = "Allow"
      Action    = ["ecs:RunTask"]
      Resource  = [local.family_arn]
      Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
    },
    {
      Sid       = "PassTheTaskRoles"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = [aws_iam_role.task.arn, aws_iam_role.execution.arn]
      Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
    },
    {
      # propagate_tags = TASK_DEFINITION makes RunTask tag the task it creates;
      # without this the run is refused (and the nightly task never starts).
      Sid       = "TagTheTaskItStarts"
      Effect    = "Allow"
      Action    = ["ecs:TagResource"]
      Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"]
      Condition = { StringEquals = { "ecs:CreateAction" = "RunTask" } }
    },
    {
      # The schedule is encrypted with the customer key (kms_key_arn).
      Sid      = "DecryptTheSchedule"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.kms_key_arn]
    },
    {
      # A run the scheduler could not start, after its retries, is kept in
      # the dead-letter queue (encrypted with the same key, through SQS only).
      Sid      = "KeepTheRunsThatDidNotStart"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.schedule_dead_letters.arn]
    },
    {
      Sid       = "EncryptTheDeadLetters"
      Effect    = "Allow"
      Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource  = [var.kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = "sqs.${local.region}.amazonaws.com" } }
    },
  ]

  environment = merge({
    COSTJOB_CUR_SOURCE            = "athena"
    COSTJOB_CUR_DATABASE          = var.athena.cur_database
    COSTJOB_CUR_TABLE             = var.athena.cur_table
    COSTJOB_CUR_WORKGROUP         = var.athena.workgroup
    COSTJOB_CUR_OUTPUT_LOCATION   = "s3://${var.athena.results_bucket}/${var.athena.results_prefix}"
    COSTJOB_LOGS_PATH             = "s3://${var.logs.bucket}/${var.logs.prefix}"
    COSTJOB_LOGS_FORMAT           = var.logs.format
    COSTJOB_OUTPUT_PATH           = "s3://${var.output.bucket}/${var.output.prefix}"
    COSTJOB_OUTPUT_GLUE_DATABASE  = var.athena.output_database
    COSTJOB_ALLOCATION_COST_BASIS = "amortized"
    COSTJOB_CALENDAR_TIMEZONE     = var.calendar_timezone
    }, var.athena.logs_table == null ? {} : {
    COSTJOB_LOGS_SOURCE   = "athena"
    COSTJOB_LOGS_DATABASE = var.athena.output_database
    COSTJOB_LOGS_TABLE    = var.athena.logs_table
  }, var.environment)

  # What the job runs: the image's own default, spelled out; as nobody (the
  # image's USER too), never root. refresh brings the open books up to date
  # (SPEC 12.2): yesterday, the trailing days AWS restated, and once a month
  # every day of the month invoiced.
  container = {
    image       = var.image
    command     = ["refresh"]
    user        = "65534:65534"
    environment = local.environment
  }

  assume = {
    for k, svc in { task = "ecs-tasks.amazonaws.com", execution = "ecs-tasks.amazonaws.com", scheduler = "scheduler.amazonaws.com" } :
    k => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Principal = { Service = svc }
        Action    = "sts:AssumeRole"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      }]
    })
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# The task's own security group (issue 11 item 9: it shared one with the
# rotation function, which Aurora admits): HTTPS out to S3, Athena, Glue, ECR
# and CloudWatch endpoints, nothing in.
resource "aws_security_group" "task" {
  # checkov:skip=CKV2_AWS_5:Attached by the schedule's ECS network configuration (aws_scheduler_schedule.this), which checkov does not follow.
  name        = "${var.name}-task"
  description = "costjob task: HTTPS out to AWS APIs, nothing in"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS APIs (VPC endpoints or NAT)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = local.assume.task
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "costjob"
  role   = aws_iam_role.task.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.task_statements })
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = local.assume.execution
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.execution_statements })
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  ephemeral_storage {
    size_in_gib = 21
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = "costjob"
    image                  = local.container.image
    essential              = true
    command                = local.container.command
    readonlyRootFilesystem = true
    user                   = local.container.user
    environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = "costjob"
      }
    }
  }])
  tags = var.tags
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = local.assume.scheduler
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-costjob"
  role   = aws_iam_role.scheduler.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.scheduler_statements })
}

# The nightly runs the scheduler could not start (RunTask refused: no
# capacity, a subnet or security group gone, throttling), after its retries:
# no task exists, so no task event reports them; costjob-alarms pages on a
# message here.
resource "aws_sqs_queue" "schedule_dead_letters" {
  name                              = "${var.name}-schedule-dead-letters"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

resource "aws_scheduler_schedule" "this" {
  name                         = var.name
  description                  = "costjob refresh: the open billing periods brought up to date, nightly"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.cluster_arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.this.arn_without_revision
      launch_type         = "FARGATE"
      task_count          = 1
      propagate_tags      = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = concat([aws_security_group.task.id], var.security_group_ids)
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dead_letters.arn
    }
  }
}
