# Alarms on what costjob reports at the end of every run (SPEC 11: CloudWatch
# Embedded Metric Format in namespace "costjob") and on the job's own failures.
# Every alarm pages the SNS topic; every state change and failure is also
# written to the observability log group (SPEC 10).

locals {
  flows   = { for f in var.flows : "${f.transaction_type}/${f.flow}" => f }
  actions = [var.sns_topic_arn]
  # Named before the rules exist, so the log group's policy can name them.
  rule_names = { job_failed = "${var.name}-job-failed", alarm_changes = "${var.name}-alarm-changes" }
}

# DurationSeconds is emitted once per successful day, at the run's time (the
# day's own metrics carry the usage day's timestamp, hours or weeks earlier):
# none in N hours means the nightly run did not succeed (or did not run).
resource "aws_cloudwatch_metric_alarm" "no_successful_run" {
  alarm_name          = "${var.name}-no-successful-run"
  alarm_description   = "No costjob run has succeeded for ${var.stale_after_hours} hours."
  namespace           = "costjob"
  metric_name         = "DurationSeconds"
  statistic           = "SampleCount"
  period              = 3600
  evaluation_periods  = var.stale_after_hours
  datapoints_to_alarm = var.stale_after_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unit_cost_anomaly" {
  for_each            = local.flows
  alarm_name          = "${var.name}-unit-cost-${each.value.flow}"
  alarm_description   = "The unit cost of ${each.value.flow} (${each.value.transaction_type}) left its anomaly-detection band."
  comparison_operator = "LessThanLowerOrGreaterThanUpperThreshold"
  evaluation_periods  = 1
  threshold_metric_id = "band"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "unit_cost"
    return_data = true
    metric {
      namespace   = "costjob"
      metric_name = "UnitCostUSD"
      period      = 86400
      stat        = "Average"
      dimensions = {
        Flow            = each.value.flow
        TransactionType = each.value.transaction_type
      }
    }
  }

  metric_query {
    id          = "band"
    expression  = "ANOMALY_DETECTION_BAND(unit_cost, ${var.anomaly_band_width})"
    label       = "expected unit cost"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "unallocated_share" {
  alarm_name          = "${var.name}-unallocated-share"
  alarm_description   = "More than ${var.unallocated_share_threshold * 100}% of the allocatable bill could not be allocated."
  namespace           = "costjob"
  metric_name         = "UnallocatedShare"
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.unallocated_share_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# A nightly run the scheduler could not start at all (no task, so no task
# event): its event waits in the schedule's dead-letter queue.
resource "aws_cloudwatch_metric_alarm" "schedule_not_started" {
  alarm_name          = "${var.name}-schedule-not-started"
  alarm_description   = "The scheduler could not start the nightly costjob task after its retries: the event is in SQS queue ${var.schedule_dead_letter_queue_name} (its error attributes say why)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.schedule_dead_letter_queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # An empty queue may send no datapoint: nothing to report.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.actions
  ok_actions         = local.actions
  tags               = var.tags
}

# The job's failures: its task stopped with a non-zero exit code, or never
# started (an image that cannot be pulled, a secret or registry that cannot be
# reached: stopCode TaskFailedToStart, and no exit code at all, which a
# pattern on exitCode alone never matches). tests/event_patterns_check.py
# matches the template against ECS's own events.
resource "aws_cloudwatch_event_rule" "job_failed" {
  name        = local.rule_names.job_failed
  description = "The costjob task stopped with a non-zero exit code or failed to start"
  event_pattern = templatefile("${path.module}/job-failed.pattern.json.tftpl", {
    cluster_arn = var.cluster_arn
    task_family = var.task_family
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "alarm_changes" {
  name        = local.rule_names.alarm_changes
  description = "State changes of the costjob alarms"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    # Every alarm of this module is named "<name>-...": a prefix, not a list
    # that grows with the flows.
    detail = {
      alarmName = [{ prefix = "${var.name}-" }]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "job_failed_to_sns" {
  rule      = aws_cloudwatch_event_rule.job_failed.name
  target_id = "paging"
  arn       = var.sns_topic_arn
}

resource "aws_cloudwatch_event_target" "to_logs" {
  for_each   = { job_failed = aws_cloudwatch_event_rule.job_failed.name, alarm_changes = aws_cloudwatch_event_rule.alarm_changes.name }
  rule       = each.value
  target_id  = "log-group"
  arn        = var.log_group_arn
  depends_on = [module.log_delivery]
}

# EventBridge -> the observability log group: this module's rules get their
# own resource policy (the scaling-alerts module has one for its rules) and an
# alarm on each rule's failed deliveries.
module "log_delivery" {
  source        = "../eventbridge-log-delivery"
  name          = "${var.name}-alarms"
  log_group_arn = var.log_group_arn
  rules         = local.rule_names
  alarm_actions = local.actions
  tags          = var.tags
}
