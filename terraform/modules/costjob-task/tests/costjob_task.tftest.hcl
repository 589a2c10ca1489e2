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
  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:us-east-1:111122223333:task-definition/costjob-test:1"
      arn_without_revision = "arn:aws:ecs:us-east-1:111122223333:task-definition/costjob-test"
    }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0ccccccccccccccc0" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/costjob-test-role" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:111122223333:costjob-test-schedule-dead-letters" }
  }
}

variables {
  name               = "costjob-test"
  cluster_arn        = "arn:aws:ecs:us-east-1:111122223333:cluster/deuna"
  image              = "111122223333.dkr.ecr.us-east-1.amazonaws.com/costjob:0.1.0"
  ecr_repository_arn = "arn:aws:ecr:us-east-1:111122223333:repository/costjob"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  vpc_id             = "vpc-0123456789abcdef0"
  kms_key_arn        = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  cur                = { bucket = "deuna-cur", prefix = "exports/" }
  logs               = { bucket = "deuna-logs", prefix = "firehose/{date}/" }
  output             = { bucket = "deuna-costjob", prefix = "out/" }
  calendar_timezone  = "America/Guayaquil"
  athena = {
    workgroup       = "costjob_test"
    results_bucket  = "deuna-athena-results"
    results_prefix  = "costjob/"
    glue_databases  = ["costjob_test", "costjob_test_cur"]
    cur_database    = "costjob_test_cur"
    cur_table       = "cur"
    output_database = "costjob_test"
  }
}

run "least_privilege" {
  command = apply

  # No wildcard action anywhere (neither "*" nor "service:*").
  assert {
    condition = alltrue(flatten([for p in [aws_iam_role_policy.task.policy, aws_iam_role_policy.execution.policy, aws_iam_role_policy.scheduler.policy] :
    [for s in jsondecode(p).Statement : [for a in s.Action : a != "*" && !endswith(a, ":*")]]]))
    error_message = "no policy may grant a wildcard action"
  }

  # No wildcard resource in the task or scheduler policies.
  assert {
    condition = alltrue(flatten([for p in [aws_iam_role_policy.task.policy, aws_iam_role_policy.scheduler.policy] :
    [for s in jsondecode(p).Statement : [for r in s.Resource : r != "*" && !endswith(r, ":::*")]]]))
    error_message = "the task and scheduler policies must name their resources"
  }

  # In the execution policy "*" appears only for ecr:GetAuthorizationToken, which has no resource-level permissions.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement :
    !contains(s.Resource, "*") || s.Action == ["ecr:GetAuthorizationToken"]])
    error_message = "only ecr:GetAuthorizationToken may use Resource *"
  }

  # Glue writes: partitions of the six output tables of the output database, nothing else.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      alltrue([for a in s.Action : !startswith(a, "glue:") || startswith(a, "glue:Get")]) || (
        toset(s.Action) == toset(["glue:BatchCreatePartition", "glue:BatchUpdatePartition", "glue:DeletePartition"])
        && alltrue([for r in s.Resource : endswith(r, ":catalog") || endswith(r, ":database/costjob_test")
    || can(regex(":table/costjob_test/(transactions|flow_costs|flow_summary|unallocated|pools|restatements|reconciliation)$", r))]))])
    error_message = "the task may create and update partitions of its own output tables only"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
    contains(s.Action, "glue:BatchUpdatePartition") && contains(s.Resource, "arn:aws:glue:us-east-1:111122223333:table/costjob_test/reconciliation")])
    error_message = "the task can flip the reconciliation partition (the day's commit record)"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
    contains(s.Action, "glue:BatchUpdatePartition") && contains(s.Resource, "arn:aws:glue:us-east-1:111122223333:table/costjob_test/restatements")])
    error_message = "the task can flip the restatements partition (each publish carries the day's restatements, SPEC 12.2)"
  }

  # Writes only under the output prefix; reads of CUR and logs only under theirs.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      !contains(s.Action, "s3:PutObject") || alltrue([for r in s.Resource :
    startswith(r, "arn:aws:s3:::deuna-costjob/out/") || startswith(r, "arn:aws:s3:::deuna-athena-results/costjob/")])])
    error_message = "the task may write only its output prefix and its Athena results prefix"
  }

  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
    contains(s.Action, "athena:StartQueryExecution") && s.Resource == ["arn:aws:athena:us-east-1:111122223333:workgroup/costjob_test"]])
    error_message = "Athena is allowed only in its workgroup"
  }

  # Reads: only under the CUR, logs, output and Athena-results prefixes.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      !contains(s.Action, "s3:GetObject") || alltrue([for r in s.Resource : anytrue([for p in
        ["arn:aws:s3:::deuna-cur/exports/", "arn:aws:s3:::deuna-logs/firehose/", "arn:aws:s3:::deuna-costjob/out/", "arn:aws:s3:::deuna-athena-results/costjob/"] :
    startswith(r, p)])])])
    error_message = "the task reads only under its four prefixes"
  }
  # Deletes: only its own output prefix (superseded runs) and UNLOAD scratch.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      !(contains(s.Action, "s3:DeleteObject") || contains(s.Action, "s3:AbortMultipartUpload")) || alltrue([for r in s.Resource :
    startswith(r, "arn:aws:s3:::deuna-costjob/out/") || startswith(r, "arn:aws:s3:::deuna-athena-results/costjob/")])])
    error_message = "the task deletes only under its output and Athena-results prefixes"
  }
  # Listing is confined to the prefixes too.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      !contains(s.Action, "s3:ListBucket") || try(alltrue([for p in s.Condition.StringLike["s3:prefix"] :
    contains(["exports/*", "firehose/*", "out/*", "costjob/*"], p)]), false)])
    error_message = "listing any bucket is confined to the job's prefixes (the Athena results bucket is the output bucket: issue 37)"
  }
  # The nightly schedule: once a day, in UTC, encrypted with the key.
  assert {
    condition = (aws_scheduler_schedule.this.schedule_expression == "cron(30 6 * * ? *)"
      && aws_scheduler_schedule.this.schedule_expression_timezone == "UTC"
    && aws_scheduler_schedule.this.kms_key_arn == var.kms_key_arn)
    error_message = "the job runs once a day at 06:30 UTC, its schedule encrypted with the platform key"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "65534:65534"
    error_message = "the container runs as nobody, never root"
  }
  # The lease (SPEC 5.1) is a conditional PUT under the output prefix.
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
    contains(s.Action, "s3:PutObject") && contains(s.Resource, "arn:aws:s3:::deuna-costjob/out/*")])
    error_message = "the task can write its lease and tables under the output prefix"
  }
  # Glue reads: the CUR table (not the whole CUR database) and the output tables.
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      contains(s.Action, "glue:GetTable") && contains(s.Resource, "arn:aws:glue:us-east-1:111122223333:table/costjob_test_cur/cur")
    && !contains(s.Resource, "arn:aws:glue:us-east-1:111122223333:table/costjob_test_cur/*")])
    error_message = "the task reads the CUR table's definition, and no other table of that database"
  }
  # The key: use it, not administer it.
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      alltrue([for a in s.Action : !startswith(a, "kms:")]) || (s.Resource == [var.kms_key_arn]
    && length(setsubtract(s.Action, ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"])) == 0)])
    error_message = "the task may only decrypt, generate data keys and describe, on the platform key"
  }
  # Issue 11 item 9: its own security group, HTTPS out only.
  assert {
    condition = (contains(aws_scheduler_schedule.this.target[0].ecs_parameters[0].network_configuration[0].security_groups, aws_security_group.task.id)
      && aws_vpc_security_group_egress_rule.task_https.from_port == 443 && aws_vpc_security_group_egress_rule.task_https.to_port == 443
    && aws_vpc_security_group_egress_rule.task_https.security_group_id == aws_security_group.task.id)
    error_message = "the task runs in its own security group, with HTTPS out only"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem
    error_message = "the container's root filesystem is read-only"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].command == ["refresh"]
    error_message = "the schedule runs costjob refresh (the open books, restated; SPEC 12.2)"
  }

  assert {
    condition = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment,
    { name = "COSTJOB_CALENDAR_TIMEZONE", value = "America/Guayaquil" })
    error_message = "the job's days are the calendar_timezone's (deuna: Ecuador's; SPEC 12.1)"
  }

  assert {
    condition     = aws_scheduler_schedule.this.target[0].ecs_parameters[0].network_configuration[0].assign_public_ip == false
    error_message = "the task has no public IP"
  }

  # Issue 11 item 2: with tags propagated, RunTask also needs ecs:TagResource
  # (only for tasks it creates), and the encrypted schedule needs kms:Decrypt.
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.scheduler.policy).Statement :
      try(st.Effect == "Allow" && contains(st.Action, "ecs:TagResource") && st.Condition.StringEquals["ecs:CreateAction"] == "RunTask"
    && st.Resource == ["arn:aws:ecs:us-east-1:111122223333:task/deuna/*"], false)])
    error_message = "the scheduler may tag the tasks RunTask creates in the cluster, and nothing else"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.scheduler.policy).Statement :
    try(st.Effect == "Allow" && contains(st.Action, "kms:Decrypt") && st.Resource == [var.kms_key_arn], false)])
    error_message = "the scheduler can decrypt its schedule (encrypted with the customer key)"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    image             = "costjob:latest"
    cpu               = 3000
    environment       = { PATH = "/bin" }
    calendar_timezone = "GMT-5"
  }

  expect_failures = [var.image, var.cpu, var.environment, var.calendar_timezone]
}

# Issue 11 item 9: an empty prefix would grant the whole bucket.
run "rejects_a_schedule_that_is_not_daily" {
  command = plan

  variables {
    schedule_expression = "rate(1 minute)"
  }

  expect_failures = [var.schedule_expression]
}

run "rejects_empty_prefixes" {
  command = plan

  variables {
    cur    = { bucket = "deuna-cur", prefix = "" }
    logs   = { bucket = "deuna-logs", prefix = "/" }
    output = { bucket = "deuna-costjob", prefix = "out" }
  }

  expect_failures = [var.cur, var.logs, var.output]
}

# Issue 37 finding 7: the image is built for the task's CPU (image_platform
# feeds `docker buildx build --platform`; tests/image_platform_check.py checks
# the repository's build commands use it).
run "the_image_platform_is_the_tasks" {
  command = plan

  assert {
    condition     = aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture == "ARM64" && output.image_platform == "linux/arm64"
    error_message = "the task runs on Graviton and the image is built for linux/arm64"
  }
}

run "an_x86_task_gets_an_amd64_image" {
  command = plan

  variables {
    cpu_architecture = "X86_64"
  }

  assert {
    condition     = aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture == "X86_64" && output.image_platform == "linux/amd64"
    error_message = "an X86_64 task is told to use a linux/amd64 image"
  }
}

# Issue 37 finding 10: a run the scheduler could not start lands in an
# encrypted dead-letter queue the scheduler may write to, and nothing else.
run "a_run_that_never_started_is_kept" {
  command = apply

  assert {
    condition = (aws_scheduler_schedule.this.target[0].dead_letter_config[0].arn == aws_sqs_queue.schedule_dead_letters.arn
    && aws_sqs_queue.schedule_dead_letters.kms_master_key_id == var.kms_key_arn)
    error_message = "the schedule's dead letters go to the module's queue, encrypted with the key"
  }
  assert {
    condition = length([for st in jsondecode(aws_iam_role_policy.scheduler.policy).Statement : st
    if contains(flatten([st.Action]), "sqs:SendMessage") && st.Resource == [aws_sqs_queue.schedule_dead_letters.arn]]) == 1
    error_message = "the scheduler may send to its dead-letter queue only"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.scheduler.policy).Statement :
      try(contains(st.Action, "kms:GenerateDataKey") && st.Resource == [var.kms_key_arn]
    && st.Condition.StringEquals["kms:ViaService"] == "sqs.us-east-1.amazonaws.com", false)])
    error_message = "the scheduler may encrypt its dead letters with the key, through SQS only"
  }
}

# Issue 37 finding 3: the task reads each night's days only: the logs' path
# names the day, in the format the delivery writes; the grant is the folder
# above the days.
run "the_logs_path_names_the_day" {
  command = plan

  assert {
    condition = (local.container.environment.COSTJOB_LOGS_PATH == "s3://deuna-logs/firehose/{date}/"
    && local.container.environment.COSTJOB_LOGS_FORMAT == "firehose")
    error_message = "costjob lists and reads the prefixes of the days it runs, as Firehose writes them"
  }
}

run "rejects_a_logs_path_without_the_day" {
  command = plan

  variables {
    logs = { bucket = "deuna-logs", prefix = "cloudwatch-export/", format = "cloudwatch-export" }
  }

  expect_failures = [var.logs]
}

# SPEC 14: with the logs table given, Athena reads the logs: the task is told
# so, and may read that table's definition (and no other of the database's
# tables but its own outputs); without it, the logs are read by the task.
run "the_logs_through_athena" {
  command = plan

  variables {
    athena = {
      workgroup       = "costjob_test"
      results_bucket  = "deuna-athena-results"
      results_prefix  = "costjob/"
      glue_databases  = ["costjob_test", "costjob_test_cur"]
      cur_database    = "costjob_test_cur"
      cur_table       = "cur"
      output_database = "costjob_test"
      logs_table      = "logs"
    }
  }

  assert {
    condition = (local.container.environment.COSTJOB_LOGS_SOURCE == "athena"
      && local.container.environment.COSTJOB_LOGS_DATABASE == "costjob_test"
    && local.container.environment.COSTJOB_LOGS_TABLE == "logs")
    error_message = "the task reads the logs through the logs table"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
    contains(s.Action, "glue:GetTable") && contains(s.Resource, "arn:aws:glue:us-east-1:111122223333:table/costjob_test/logs")])
    error_message = "the task may read the logs table's definition (GetTable: its partition key)"
  }
}

run "the_logs_read_by_the_task" {
  command = plan

  assert {
    condition     = !contains(keys(local.container.environment), "COSTJOB_LOGS_SOURCE")
    error_message = "without a logs table, the task reads the logs itself"
  }
}
