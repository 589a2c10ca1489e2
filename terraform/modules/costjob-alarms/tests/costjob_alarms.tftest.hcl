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
  name          = "costjob-test"
  cluster_arn   = "arn:aws:ecs:us-east-1:111122223333:cluster/deuna"
  task_family   = "costjob-test"
  sns_topic_arn = "arn:aws:sns:us-east-1:111122223333:deuna-paging"
  log_group_arn = "arn:aws:logs:us-east-1:111122223333:log-group:/deuna/observability"
  # Where the scheduler puts a nightly run it could not start.
  schedule_dead_letter_queue_name = "costjob-test-schedule-dead-letters"
  flows = [
    { flow = "pago", transaction_type = "monetary" },
    { flow = "recarga", transaction_type = "monetary" },
    { flow = "onboarding", transaction_type = "non-monetary" },
  ]
}

run "every_alarm_watches_what_it_says_and_pages" {
  command = plan

  assert {
    condition = (aws_cloudwatch_metric_alarm.no_successful_run.namespace == "costjob"
      && aws_cloudwatch_metric_alarm.no_successful_run.metric_name == "DurationSeconds"
      && aws_cloudwatch_metric_alarm.no_successful_run.statistic == "SampleCount"
      && aws_cloudwatch_metric_alarm.no_successful_run.period * aws_cloudwatch_metric_alarm.no_successful_run.evaluation_periods == 26 * 3600
      && aws_cloudwatch_metric_alarm.no_successful_run.datapoints_to_alarm == aws_cloudwatch_metric_alarm.no_successful_run.evaluation_periods
      && aws_cloudwatch_metric_alarm.no_successful_run.comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.no_successful_run.threshold == 1
    && aws_cloudwatch_metric_alarm.no_successful_run.treat_missing_data == "breaching")
    error_message = "no successful run (no DurationSeconds sample, emitted at the run's time) in 26 hours alarms, missing data included"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.unit_cost_anomaly) == 3
    error_message = "one unit-cost anomaly alarm per flow"
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.unit_cost_anomaly :
      a.comparison_operator == "LessThanLowerOrGreaterThanUpperThreshold" && a.threshold_metric_id == "band"
      && anytrue([for q in a.metric_query : q.id == "band" && q.expression == "ANOMALY_DETECTION_BAND(unit_cost, 2)"])
      && anytrue([for q in a.metric_query : q.id == "unit_cost" ? (length(q.metric) == 1 && alltrue([for m in q.metric :
        m.metric_name == "UnitCostUSD" && m.namespace == "costjob"
        && m.dimensions.Flow == split("/", k)[1] && m.dimensions.TransactionType == split("/", k)[0]
      ])) : false])
    ])
    error_message = "each flow's UnitCostUSD (its own Flow and TransactionType) alarms outside its anomaly band, both ways"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.unallocated_share.metric_name == "UnallocatedShare"
      && aws_cloudwatch_metric_alarm.unallocated_share.namespace == "costjob"
      && aws_cloudwatch_metric_alarm.unallocated_share.threshold == 0.05
      && aws_cloudwatch_metric_alarm.unallocated_share.statistic == "Maximum"
    && aws_cloudwatch_metric_alarm.unallocated_share.comparison_operator == "GreaterThanThreshold")
    error_message = "an unallocated share above the threshold alarms"
  }
  assert {
    condition = alltrue(concat(
      [for a in aws_cloudwatch_metric_alarm.unit_cost_anomaly : contains(a.alarm_actions, var.sns_topic_arn)],
      [contains(aws_cloudwatch_metric_alarm.no_successful_run.alarm_actions, var.sns_topic_arn),
      contains(aws_cloudwatch_metric_alarm.unallocated_share.alarm_actions, var.sns_topic_arn)],
    ))
    error_message = "every alarm pages the SNS topic"
  }
  assert {
    condition = (jsondecode(aws_cloudwatch_event_rule.job_failed.event_pattern).detail.lastStatus == ["STOPPED"]
      && jsondecode(aws_cloudwatch_event_rule.job_failed.event_pattern).detail.group == ["family:costjob-test"]
      && jsondecode(aws_cloudwatch_event_rule.job_failed.event_pattern).detail.clusterArn == [var.cluster_arn]
      && jsondecode(aws_cloudwatch_event_rule.job_failed.event_pattern).detail["$or"] == [{ containers = { exitCode = [{ "anything-but" = 0 }] } }, { stopCode = ["TaskFailedToStart"] }]
    && jsondecode(aws_cloudwatch_event_rule.job_failed.event_pattern)["detail-type"] == ["ECS Task State Change"])
    error_message = "the job-failure rule matches the costjob task stopping with a non-zero exit code, and only that"
  }
  assert {
    condition     = aws_cloudwatch_event_target.job_failed_to_sns.arn == var.sns_topic_arn && aws_cloudwatch_event_target.to_logs["job_failed"].arn == var.log_group_arn
    error_message = "a failed job pages and is written to the observability log group"
  }
  assert {
    condition = (alltrue([for n in concat(
      [aws_cloudwatch_metric_alarm.no_successful_run.alarm_name, aws_cloudwatch_metric_alarm.unallocated_share.alarm_name],
      [for a in aws_cloudwatch_metric_alarm.unit_cost_anomaly : a.alarm_name],
      ) : startswith(n, jsondecode(aws_cloudwatch_event_rule.alarm_changes.event_pattern).detail.alarmName[0].prefix)])
      && jsondecode(aws_cloudwatch_event_rule.alarm_changes.event_pattern).detail.alarmName == [{ prefix = "costjob-test-" }]
      && jsondecode(aws_cloudwatch_event_rule.alarm_changes.event_pattern).source == ["aws.cloudwatch"]
      && jsondecode(aws_cloudwatch_event_rule.alarm_changes.event_pattern)["detail-type"] == ["CloudWatch Alarm State Change"]
    && aws_cloudwatch_event_target.to_logs["alarm_changes"].arn == var.log_group_arn)
    error_message = "every alarm's state changes (matched by the module's name prefix) reach the observability log group"
  }
  assert {
    condition = anytrue([for st in jsondecode(module.log_delivery.policy_document).Statement :
    try(st.Action == "logs:CreateLogStream" && !can(st.Condition) && st.Resource == "${var.log_group_arn}:*", false)])
    error_message = "CreateLogStream must carry no condition (EventBridge sends no SourceArn with it)"
  }
  assert {
    condition = anytrue([for st in jsondecode(module.log_delivery.policy_document).Statement : try(
      st.Action == "logs:PutLogEvents" && st.Resource == "${var.log_group_arn}:*:*"
      && toset(st.Condition.ArnEquals["aws:SourceArn"]) == toset([for r in [aws_cloudwatch_event_rule.job_failed, aws_cloudwatch_event_rule.alarm_changes] : "arn:aws:events:us-east-1:111122223333:rule/${r.name}"]),
    false)])
    error_message = "PutLogEvents only from this module's two rules"
  }
  assert {
    condition = alltrue([for k, r in { job_failed = aws_cloudwatch_event_rule.job_failed.name, alarm_changes = aws_cloudwatch_event_rule.alarm_changes.name } :
      module.log_delivery.delivery_failed_alarms[k].dimensions.RuleName == r
      && module.log_delivery.delivery_failed_alarms[k].metric_name == "FailedInvocations"
      && module.log_delivery.delivery_failed_alarms[k].namespace == "AWS/Events"
      && module.log_delivery.delivery_failed_alarms[k].statistic == "Sum"
      && module.log_delivery.delivery_failed_alarms[k].threshold == 1
    && contains(module.log_delivery.delivery_failed_alarms[k].alarm_actions, var.sns_topic_arn)])
    error_message = "each rule's FailedInvocations pages the topic"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name                        = "Costjob"
    flows                       = [{ flow = "pago", transaction_type = "money" }]
    unallocated_share_threshold = 5
    stale_after_hours           = 6
  }

  expect_failures = [var.name, var.flows, var.unallocated_share_threshold, var.stale_after_hours]
}

# Issue 37 finding 10: a run the scheduler could not start (no task, no task
# event) pages, from its dead-letter queue.
run "a_run_that_never_started_pages" {
  command = plan

  assert {
    condition = (aws_cloudwatch_metric_alarm.schedule_not_started.namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.schedule_not_started.metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.schedule_not_started.dimensions["QueueName"] == "costjob-test-schedule-dead-letters"
      && aws_cloudwatch_metric_alarm.schedule_not_started.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.schedule_not_started.threshold == 0
    && aws_cloudwatch_metric_alarm.schedule_not_started.alarm_actions == toset([var.sns_topic_arn]))
    error_message = "one message in the schedule's dead-letter queue pages"
  }
}
