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
  # The service teams' cluster, as DescribeClusters returns it.
  mock_data "aws_ecs_cluster" {
    defaults = {
      arn     = "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod"
      setting = [{ name = "containerInsights", value = "enabled" }]
    }
  }
  mock_data "aws_ecs_service" {
    defaults = { arn = "arn:aws:ecs:us-east-1:111122223333:service/deuna-prod/pagos" }
  }
  # What an apply returns, in the shape AWS gives (the provider validates ARNs).
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:111122223333:ecs-scaling-deuna-prod-paging" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/events/ecs-scaling-deuna-prod" }
  }
}

variables {
  cluster_name = "deuna-prod"
  kms_key_arn  = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  services = {
    pagos          = { min = 2, max = 12, desired = 3 }
    recargas       = { min = 2, max = 8, desired = 2 }
    onboarding     = { min = 1, max = 4, desired = 1 }
    ledger         = { min = 2, max = 6, desired = 2 }
    notificaciones = { min = 1, max = 5, desired = 1 }
  }
}

run "thresholds_follow_the_map" {
  command = plan

  # This module owns the scalable targets here (the default only watches).
  variables {
    manage_scalable_targets = true
  }

  assert {
    condition     = alltrue([for name, s in var.services : aws_cloudwatch_metric_alarm.at_max[name].threshold == s.max])
    error_message = "every at-max alarm's threshold must equal its service's maximum"
  }
  assert {
    condition     = alltrue([for name, s in var.services : aws_appautoscaling_target.this[name].max_capacity == s.max && aws_appautoscaling_target.this[name].min_capacity == s.min])
    error_message = "the scaling target's bounds come from the same map"
  }
  assert {
    condition = alltrue([for name, s in var.services :
      aws_cloudwatch_metric_alarm.at_max[name].metric_name == "DesiredTaskCount"
      && aws_cloudwatch_metric_alarm.at_max[name].namespace == "ECS/ContainerInsights"
      && aws_cloudwatch_metric_alarm.at_max[name].comparison_operator == "GreaterThanOrEqualToThreshold"
    && aws_cloudwatch_metric_alarm.at_max[name].dimensions.ServiceName == name])
    error_message = "at-max alarms watch Container Insights DesiredTaskCount >= max of their own service"
  }
  assert {
    condition = alltrue([for name, s in var.services :
      aws_appautoscaling_policy.cpu[name].target_tracking_scaling_policy_configuration[0].target_value == 60
    && aws_appautoscaling_policy.memory[name].target_tracking_scaling_policy_configuration[0].target_value == 60])
    error_message = "both target-tracking policies aim at 60 %"
  }
  assert {
    condition = alltrue([for name, s in var.services :
      strcontains(aws_cloudwatch_composite_alarm.saturated[name].alarm_rule, "ALARM(\"${aws_cloudwatch_metric_alarm.at_max[name].alarm_name}\")")
      && strcontains(aws_cloudwatch_composite_alarm.saturated[name].alarm_rule, "ALARM(\"${aws_cloudwatch_metric_alarm.cpu[name].alarm_name}\")")
    && strcontains(aws_cloudwatch_composite_alarm.saturated[name].alarm_rule, "ALARM(\"${aws_cloudwatch_metric_alarm.memory[name].alarm_name}\")")])
    error_message = "each composite alarm references its at-max alarm and the CPU/memory alarms"
  }
  assert {
    condition = alltrue(flatten([for name, s in var.services : [
      anytrue([for m in jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).detail.alarmName :
      can(regex("^${replace(m.wildcard, "*", "[a-z0-9-]+")}$", aws_cloudwatch_metric_alarm.at_max[name].alarm_name))]),
      anytrue([for m in jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).detail.alarmName :
      can(regex("^${replace(m.wildcard, "*", "[a-z0-9-]+")}$", aws_cloudwatch_composite_alarm.saturated[name].alarm_name))]),
      !anytrue([for m in jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).detail.alarmName :
      can(regex("^${replace(m.wildcard, "*", "[a-z0-9-]+")}$", aws_cloudwatch_metric_alarm.cpu[name].alarm_name))]),
    ]]))
    error_message = "the EventBridge rule matches every at-max and composite alarm (and not the CPU ones)"
  }
  assert {
    condition = alltrue([for m in jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).detail.alarmName :
    startswith(m.wildcard, "ecs-scaling-deuna-prod-")])
    error_message = "the alarm rule matches this cluster's alarms only (a prefix, not a list that grows with the services)"
  }
  assert {
    condition = (jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).source == ["aws.cloudwatch"]
    && jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern)["detail-type"] == ["CloudWatch Alarm State Change"])
    error_message = "the alarm rule listens to CloudWatch alarm state changes"
  }
  assert {
    condition = (jsondecode(aws_cloudwatch_event_rule.service_actions.event_pattern).source == ["aws.ecs"]
      && jsondecode(aws_cloudwatch_event_rule.service_actions.event_pattern)["detail-type"] == ["ECS Service Action"]
    && jsondecode(aws_cloudwatch_event_rule.service_actions.event_pattern).detail.clusterArn == ["arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod"])
    error_message = "the service-action rule listens to this cluster's ECS service actions"
  }

  assert {
    condition = (jsonencode(jsondecode(aws_cloudwatch_event_rule.service_actions.event_pattern).detail.eventName)
    == jsonencode(["SERVICE_TASK_PLACEMENT_FAILURE", "SERVICE_TASK_START_IMPAIRED"]))
    error_message = "placement failures and start impairments are forwarded"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "the log group is encrypted with the key and has a retention"
  }
  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == var.kms_key_arn
    error_message = "the paging topic is encrypted"
  }
  # Issue 11 item 3: AWS's documented policy for EventBridge -> CloudWatch Logs.
  assert {
    condition = anytrue([for st in jsondecode(module.log_delivery.policy_document).Statement :
    try(st.Action == "logs:CreateLogStream" && !can(st.Condition) && contains(st.Principal.Service, "events.amazonaws.com"), false)])
    error_message = "CreateLogStream must carry no condition (EventBridge sends no SourceArn with it)"
  }
  assert {
    condition = anytrue([for st in jsondecode(module.log_delivery.policy_document).Statement : try(
      st.Action == "logs:PutLogEvents" && st.Resource == "arn:aws:logs:us-east-1:111122223333:log-group:/aws/events/ecs-scaling-deuna-prod:*:*"
      && toset(st.Condition.ArnEquals["aws:SourceArn"]) == toset([for r in [aws_cloudwatch_event_rule.alarms, aws_cloudwatch_event_rule.service_actions, aws_cloudwatch_event_rule.scaling_changes] : "arn:aws:events:us-east-1:111122223333:rule/${r.name}"]),
    false)])
    error_message = "PutLogEvents only from this module's three rules, on this log group's streams"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_metric_alarm.at_max["pagos"].alarm_description).max_tasks == 12
    error_message = "the alarm description carries the service's maximum for the observability tool"
  }
  assert {
    condition     = length(aws_cloudwatch_log_subscription_filter.this) == 0
    error_message = "no subscription filter without a Firehose destination"
  }
}

# Delivery paths need the topic's and log group's ARNs: known after a (mocked) apply.
run "delivery_paths" {
  command = apply

  assert {
    condition = anytrue([for st in jsondecode(aws_sns_topic_policy.this.policy).Statement :
    try(st.Effect == "Deny" && st.Condition.Bool["aws:SecureTransport"] == "false" && st.Action == "sns:Publish", false)])
    error_message = "the topic refuses publishes without TLS"
  }
  assert {
    condition = alltrue([for st in jsondecode(aws_sns_topic_policy.this.policy).Statement :
    st.Effect == "Deny" || try(st.Condition.StringEquals["aws:SourceAccount"], "") == "111122223333"])
    error_message = "only this account's alarms and rules may publish"
  }
  assert {
    condition     = aws_cloudwatch_event_target.alarms_to_logs.arn == aws_cloudwatch_log_group.this.arn && aws_cloudwatch_event_target.scaling_changes_to_logs.arn == aws_cloudwatch_log_group.this.arn
    error_message = "alarm changes and scaling changes go to the log group"
  }
  assert {
    condition = alltrue([for k, r in { alarms = aws_cloudwatch_event_rule.alarms.name, service_actions = aws_cloudwatch_event_rule.service_actions.name, scaling_changes = aws_cloudwatch_event_rule.scaling_changes.name } :
      module.log_delivery.delivery_failed_alarms[k].dimensions.RuleName == r
      && module.log_delivery.delivery_failed_alarms[k].metric_name == "FailedInvocations"
      && module.log_delivery.delivery_failed_alarms[k].namespace == "AWS/Events"
      && module.log_delivery.delivery_failed_alarms[k].threshold == 1
      && module.log_delivery.delivery_failed_alarms[k].statistic == "Sum"
    && module.log_delivery.delivery_failed_alarms[k].alarm_actions == toset([aws_sns_topic.this.arn])])
    error_message = "each rule's FailedInvocations pages the topic"
  }
}

run "subscription_filter_when_a_destination_is_given" {
  command = plan

  variables {
    firehose_destination_arn = "arn:aws:firehose:us-east-1:111122223333:deliverystream/observability"
  }

  assert {
    condition     = aws_cloudwatch_log_subscription_filter.this[0].destination_arn == var.firehose_destination_arn
    error_message = "the subscription filter sends the log group to the observability tool's Firehose"
  }
}

run "rejects_bad_maps" {
  command = plan

  variables {
    services = {
      pagos = { min = 5, max = 3, desired = 4 }
    }
    at_max_minutes = 0
  }

  expect_failures = [var.services, var.at_max_minutes]
}

# Issue 11 item 9: min == max cannot scale; its at-max alarm would fire forever.
run "rejects_a_service_that_cannot_scale" {
  command = plan

  variables {
    services = {
      pagos = { min = 3, max = 3, desired = 3 }
    }
  }

  expect_failures = [var.services]
}

# Issue 37 finding 1: by default the module only watches: the service teams
# own the scalable targets (registering them here overwrote their min/max and
# added a second pair of policies). The cluster and services are read.
run "alerts_only_by_default" {
  command = plan

  assert {
    condition     = length(aws_appautoscaling_target.this) == 0 && length(aws_appautoscaling_policy.cpu) == 0 && length(aws_appautoscaling_policy.memory) == 0
    error_message = "no scalable target or policy is registered unless manage_scalable_targets"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.at_max) == length(var.services) && output.cluster_arn == "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod"
    error_message = "every listed service is watched, in the cluster read from ECS"
  }
}

# A cluster without Container Insights has no DesiredTaskCount: refused at plan.
run "a_cluster_without_container_insights_is_refused" {
  command = plan

  override_data {
    target = data.aws_ecs_cluster.this
    values = {
      arn     = "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod"
      setting = [{ name = "containerInsights", value = "disabled" }]
    }
  }

  expect_failures = [data.aws_ecs_cluster.this]
}

# Issue 37 finding 6: the at-max alarm does not stay OK when its metric is
# gone; a maximum changed elsewhere, an unlisted service and placement
# failures each page once, by alarm (not one page per ECS event).
run "the_alarms_say_what_they_cannot_see" {
  command = plan

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.at_max : a.treat_missing_data == "breaching"])
    error_message = "no DesiredTaskCount (Container Insights off, service gone) is an alarm, not OK forever"
  }
  assert {
    condition = alltrue([for name, s in var.services :
      strcontains(aws_cloudwatch_log_metric_filter.counted["${name}-max-changed"].pattern, "$.detail.requestParameters.resourceId = \"service/deuna-prod/${name}\"")
      && strcontains(aws_cloudwatch_log_metric_filter.counted["${name}-max-changed"].pattern, "$.detail.requestParameters.maxCapacity != ${s.max} ")
      && aws_cloudwatch_metric_alarm.counted["${name}-max-changed"].metric_name == aws_cloudwatch_log_metric_filter.counted["${name}-max-changed"].metric_transformation[0].name
    && aws_cloudwatch_metric_alarm.counted["${name}-max-changed"].alarm_actions == toset([aws_sns_topic.this.arn])])
    error_message = "a scalable target registered with another maximum than the alarm's pages, per service"
  }
  assert {
    condition = alltrue([for name in keys(var.services) :
    strcontains(aws_cloudwatch_log_metric_filter.counted["unwatched-service"].pattern, "$.detail.requestParameters.serviceName != \"${name}\"")])
    error_message = "a created service not in the map is counted (every listed one is excluded)"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.counted["unwatched-service"].metric_name == aws_cloudwatch_log_metric_filter.counted["unwatched-service"].metric_transformation[0].name
      && aws_cloudwatch_metric_alarm.counted["cannot-place-tasks"].metric_name == aws_cloudwatch_log_metric_filter.counted["cannot-place-tasks"].metric_transformation[0].name
    && aws_cloudwatch_metric_alarm.counted["cannot-place-tasks"].ok_actions == toset([aws_sns_topic.this.arn]))
    error_message = "unwatched services and placement failures page by alarm (once when they start, once when they stop)"
  }
  assert {
    condition = alltrue(flatten([for name in concat(
      [for a in aws_cloudwatch_metric_alarm.counted : a.alarm_name],
      [for k, r in module.log_delivery.delivery_failed_alarms : r.alarm_name],
      ) : anytrue([for m in jsondecode(aws_cloudwatch_event_rule.alarms.event_pattern).detail.alarmName :
    can(regex("^${replace(m.wildcard, "*", "[a-z0-9-]+")}$", name))])]))
    error_message = "every alarm that pages is also logged, the rules' own delivery failures included"
  }
}
