# EventBridge rules delivering to a CloudWatch Logs log group, as AWS documents
# it, and an alarm on each rule's failed deliveries. Used by every module whose
# rules write to a log group (ecs-scaling-alerts, costjob-alarms).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Known before the rules exist, so the policy can name them (no cycle).
  rule_arns = [
    for name in values(var.rules) :
    "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/${name}"
  ]
}

# EventBridge writes to a log group only if a resource policy lets it. AWS's
# documented form: CreateLogStream unconditioned on the group's streams
# (EventBridge's CreateLogStream carries no aws:SourceArn, so a SourceArn
# condition there denies it and nothing is ever delivered), PutLogEvents only
# from the given rules.
resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name = var.name
  policy_document = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeCreatesStreams"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "delivery.logs.amazonaws.com"] }
        Action    = "logs:CreateLogStream"
        Resource  = "${var.log_group_arn}:*"
      },
      {
        Sid       = "EventBridgeRulesPutEvents"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "delivery.logs.amazonaws.com"] }
        Action    = "logs:PutLogEvents"
        Resource  = "${var.log_group_arn}:*:*"
        Condition = { ArnEquals = { "aws:SourceArn" = local.rule_arns } }
      },
    ]
  })
}

# A rule whose target refuses delivery (a policy, a key) counts FailedInvocations;
# nothing else would tell. Pages through CloudWatch, not through the failing path.
resource "aws_cloudwatch_metric_alarm" "delivery_failed" {
  for_each            = var.rules
  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}-delivery-failed"
  alarm_description   = "EventBridge rule ${each.value} failed to deliver to a target (log group or paging topic)."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
