data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The cluster and its services are the service teams': read here, never
# created, so this module can neither adopt a cluster nor delete one on
# destroy, and a service that does not exist fails the plan, not the apply.
data "aws_ecs_cluster" "this" {
  cluster_name = var.cluster_name

  lifecycle {
    postcondition {
      condition     = anytrue([for s in self.setting : s.name == "containerInsights" && contains(["enabled", "enhanced"], s.value)])
      error_message = "Container Insights is off on the cluster: the at-max alarms read its DesiredTaskCount (aws ecs update-cluster-settings --settings name=containerInsights,value=enabled)."
    }
  }
}

data "aws_ecs_service" "this" {
  for_each     = var.services
  service_name = each.key
  cluster_arn  = data.aws_ecs_cluster.this.arn
}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  prefix         = "${var.name_prefix}-${var.cluster_name}"
  log_group_name = "/aws/events/${local.prefix}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group_name}"
  cluster_arn    = data.aws_ecs_cluster.this.arn
  # Named before the rules exist, so the log group's policy can name them.
  rule_names = {
    alarms          = "${local.prefix}-alarms"
    service_actions = "${local.prefix}-service-actions"
    scaling_changes = "${local.prefix}-scaling-changes"
  }
  # Matches every alarm of the module that pages, however many services: at
  # max, at max and saturated, a max changed elsewhere, an unwatched service,
  # tasks that cannot be placed, and the rules' own failed deliveries.
  alarm_wildcards = [
    "${local.prefix}-*-at-max", "${local.prefix}-*-at-max-and-saturated", "${local.prefix}-*-max-changed",
    "${local.prefix}-unwatched-service", "${local.prefix}-cannot-place-tasks", "${local.prefix}-*-delivery-failed",
  ]
  # The metrics this module derives from the events in its log group.
  metric_namespace = "ECSScalingAlerts/${var.cluster_name}"
  counted_events = merge(
    {
      "cannot-place-tasks" = {
        pattern     = "{ $.detail-type = \"ECS Service Action\" }"
        description = { cluster = var.cluster_name, signal = "ECS could not place or start tasks of a service (the log group has each event)" }
        ok          = true
      }
      "unwatched-service" = {
        pattern     = "{ $.detail.eventName = \"CreateService\" && ${join(" && ", [for name in sort(keys(var.services)) : "$.detail.requestParameters.serviceName != \"${name}\""])} }"
        description = { cluster = var.cluster_name, signal = "a service was created in the cluster that ecs_services does not list: it has no at-max alarm (the log group has the CreateService event)" }
        ok          = false
      }
    },
    { for name, s in var.services : "${name}-max-changed" => {
      pattern     = "{ $.detail.eventName = \"RegisterScalableTarget\" && $.detail.requestParameters.resourceId = \"service/${var.cluster_name}/${name}\" && $.detail.requestParameters.maxCapacity != ${s.max} }"
      description = merge(local.description[name], { signal = "the scalable target's maximum was set to another value than max_tasks: the at-max alarm is wrong until ecs_services says the same" })
      ok          = false
    } },
  )

  # Names are derived from the one services map, so every alarm matches its service.
  at_max_name    = { for name, s in var.services : name => "${local.prefix}-${name}-at-max" }
  cpu_name       = { for name, s in var.services : name => "${local.prefix}-${name}-cpu-above-${var.cpu_target_percent}" }
  memory_name    = { for name, s in var.services : name => "${local.prefix}-${name}-memory-above-${var.memory_target_percent}" }
  saturated_name = { for name, s in var.services : name => "${local.prefix}-${name}-at-max-and-saturated" }

  # Carried in every alarm's description, so the JSON event in the log group names
  # cluster, service and counts without a lookup.
  description = { for name, s in var.services : name => {
    cluster         = var.cluster_name
    service         = name
    min_tasks       = s.min
    max_tasks       = s.max
    desired_at_plan = s.desired
    runbook         = "docs/ecs-scaling-alerts.md#runbook"
  } }
}

# --- Scaling: the target and both 60 % target-tracking policies -------------

# Who owns the scalable targets is a decision (docs/ecs-scaling-alerts.md):
# with manage_scalable_targets = false (the default) the service teams do and
# this module only watches; with true this module registers them (and the two
# target-tracking policies), and nothing else may.
resource "aws_appautoscaling_target" "this" {
  for_each           = var.manage_scalable_targets ? var.services : {}
  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${each.key}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = aws_appautoscaling_target.this
  name               = "${each.key}-cpu-${var.cpu_target_percent}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = var.scale_in_cooldown_seconds
    scale_out_cooldown = var.scale_out_cooldown_seconds
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  for_each           = aws_appautoscaling_target.this
  name               = "${each.key}-memory-${var.memory_target_percent}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.memory_target_percent
    scale_in_cooldown  = var.scale_in_cooldown_seconds
    scale_out_cooldown = var.scale_out_cooldown_seconds
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}

# --- Alarms ------------------------------------------------------------------

# At maximum: Container Insights' DesiredTaskCount >= max for N minutes. Desired is
# what the scaler asked for; running can lag it (placement, deployments).
resource "aws_cloudwatch_metric_alarm" "at_max" {
  for_each            = var.services
  alarm_name          = local.at_max_name[each.key]
  alarm_description   = jsonencode(merge(local.description[each.key], { signal = "DesiredTaskCount >= max_tasks for ${var.at_max_minutes} min" }))
  namespace           = "ECS/ContainerInsights"
  metric_name         = "DesiredTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.at_max_minutes
  datapoints_to_alarm = var.at_max_minutes
  threshold           = each.value.max
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No DesiredTaskCount is not "fine": Container Insights turned off, the
  # service renamed or deleted. The alarm says so rather than stay OK forever.
  treat_missing_data = "breaching"
  tags               = var.tags
}

resource "aws_cloudwatch_metric_alarm" "cpu" {
  for_each            = var.services
  alarm_name          = local.cpu_name[each.key]
  alarm_description   = jsonencode(merge(local.description[each.key], { signal = "average CPU > ${var.cpu_target_percent} %" }))
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.key }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.at_max_minutes
  datapoints_to_alarm = var.at_max_minutes
  threshold           = var.cpu_target_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "memory" {
  for_each            = var.services
  alarm_name          = local.memory_name[each.key]
  alarm_description   = jsonencode(merge(local.description[each.key], { signal = "average memory > ${var.memory_target_percent} %" }))
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.key }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.at_max_minutes
  datapoints_to_alarm = var.at_max_minutes
  threshold           = var.memory_target_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = var.tags
}

# At maximum and still saturated: the scaler has nothing left to give.
resource "aws_cloudwatch_composite_alarm" "saturated" {
  for_each          = var.services
  alarm_name        = local.saturated_name[each.key]
  alarm_description = jsonencode(merge(local.description[each.key], { signal = "at max_tasks AND (CPU > ${var.cpu_target_percent} % OR memory > ${var.memory_target_percent} %)" }))
  alarm_rule        = "ALARM(\"${aws_cloudwatch_metric_alarm.at_max[each.key].alarm_name}\") AND (ALARM(\"${aws_cloudwatch_metric_alarm.cpu[each.key].alarm_name}\") OR ALARM(\"${aws_cloudwatch_metric_alarm.memory[each.key].alarm_name}\"))"
  alarm_actions     = [aws_sns_topic.this.arn]
  ok_actions        = [aws_sns_topic.this.arn]
  tags              = var.tags
}

# --- Delivery: EventBridge -> encrypted log group (-> Firehose), SNS for paging --

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# EventBridge -> the log group: the resource policy it needs and an alarm on
# each rule's failed deliveries, paging the topic.
module "log_delivery" {
  source        = "../eventbridge-log-delivery"
  name          = local.prefix
  log_group_arn = local.log_group_arn
  rules         = local.rule_names
  alarm_actions = [aws_sns_topic.this.arn]
  tags          = var.tags
}

resource "aws_cloudwatch_event_rule" "alarms" {
  name        = local.rule_names.alarms
  description = "State changes of the at-max and at-max-and-saturated alarms of ${var.cluster_name}"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail = {
      alarmName = [for w in local.alarm_wildcards : { wildcard = w }]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "service_actions" {
  name        = local.rule_names.service_actions
  description = "ECS could not place or start tasks for a service of ${var.cluster_name}"
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Service Action"]
    detail = {
      clusterArn = [local.cluster_arn]
      eventName  = ["SERVICE_TASK_PLACEMENT_FAILURE", "SERVICE_TASK_START_IMPAIRED"]
    }
  })
  tags = var.tags
}

# The raw event goes to the log group: its JSON carries the alarm name, state,
# previous state, reason (with the datapoint: the desired count), the alarm
# description (cluster, service, min/max) and the time. See docs/ecs-scaling-alerts.md.
resource "aws_cloudwatch_event_target" "alarms_to_logs" {
  rule       = aws_cloudwatch_event_rule.alarms.name
  target_id  = "log-group"
  arn        = aws_cloudwatch_log_group.this.arn
  depends_on = [module.log_delivery]
}

resource "aws_cloudwatch_event_target" "service_actions_to_logs" {
  rule       = aws_cloudwatch_event_rule.service_actions.name
  target_id  = "log-group"
  arn        = aws_cloudwatch_log_group.this.arn
  depends_on = [module.log_delivery]
}

# Changes made elsewhere to what these alarms assume, from CloudTrail (a trail
# must record management events for EventBridge to get them): a scalable
# target registered with another maximum, a service created that no alarm
# watches. Each is logged, and counted by a metric filter its alarm pages on.
resource "aws_cloudwatch_event_rule" "scaling_changes" {
  name        = local.rule_names.scaling_changes
  description = "Scalable targets and services of ${var.cluster_name} changed (CloudTrail)"
  event_pattern = templatefile("${path.module}/scaling-changes.pattern.json.tftpl", {
    cluster_name = var.cluster_name
    cluster_arn  = local.cluster_arn
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "scaling_changes_to_logs" {
  rule       = aws_cloudwatch_event_rule.scaling_changes.name
  target_id  = "log-group"
  arn        = aws_cloudwatch_log_group.this.arn
  depends_on = [module.log_delivery]
}

# Events the log group holds that page by alarm, each counted by a metric
# filter: once when they start and (where it resolves) once when they stop,
# never one page per event.
# - cannot-place-tasks: ECS could not place or start a service's tasks (ECS
#   repeats the event every few minutes while it lasts);
# - <svc>-max-changed: the service's scalable target registered with another
#   maximum than the map's, so its at-max alarm is wrong until the map agrees;
# - unwatched-service: a service created that the map does not list (it has
#   no at-max alarm).
resource "aws_cloudwatch_log_metric_filter" "counted" {
  for_each       = local.counted_events
  name           = "${local.prefix}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = each.value.pattern
  metric_transformation {
    name          = each.key
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "counted" {
  for_each            = local.counted_events
  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = jsonencode(merge(each.value.description, { runbook = "docs/ecs-scaling-alerts.md#runbook" }))
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.counted[each.key].metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = each.value.ok ? [aws_sns_topic.this.arn] : []
  tags                = var.tags
}

resource "aws_sns_topic" "this" {
  name              = "${local.prefix}-paging"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AlarmsAndRulesOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_email_addresses)
  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Hook for the observability tool: subscription filter to its Firehose ------

resource "aws_iam_role" "subscription" {
  count = var.firehose_destination_arn == null ? 0 : 1
  name  = "${local.prefix}-to-firehose"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringLike = { "aws:SourceArn" = "arn:${local.partition}:logs:${local.region}:${local.account}:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "subscription" {
  count = var.firehose_destination_arn == null ? 0 : 1
  name  = "put-records"
  role  = aws_iam_role.subscription[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
      Resource = [var.firehose_destination_arn]
    }]
  })
}

resource "aws_cloudwatch_log_subscription_filter" "this" {
  count           = var.firehose_destination_arn == null ? 0 : 1
  name            = "${local.prefix}-observability"
  log_group_name  = aws_cloudwatch_log_group.this.name
  filter_pattern  = ""
  destination_arn = var.firehose_destination_arn
  role_arn        = aws_iam_role.subscription[0].arn
}
