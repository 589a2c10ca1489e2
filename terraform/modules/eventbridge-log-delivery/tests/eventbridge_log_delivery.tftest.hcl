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
  name          = "deliveries-test"
  log_group_arn = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/events/test"
  rules         = { alarms = "test-alarms", service_actions = "test-service-actions" }
  alarm_actions = ["arn:aws:sns:us-east-1:111122223333:paging"]
}

run "documented_policy_and_failure_alarms" {
  command = plan

  assert {
    condition = anytrue([for st in jsondecode(aws_cloudwatch_log_resource_policy.this.policy_document).Statement :
      try(st.Action == "logs:CreateLogStream" && !can(st.Condition) && contains(st.Principal.Service, "events.amazonaws.com")
    && st.Resource == "${var.log_group_arn}:*", false)])
    error_message = "CreateLogStream must carry no condition (EventBridge sends no SourceArn with it)"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_cloudwatch_log_resource_policy.this.policy_document).Statement : try(
      st.Action == "logs:PutLogEvents" && st.Resource == "${var.log_group_arn}:*:*"
      && toset(st.Condition.ArnEquals["aws:SourceArn"]) == toset(["arn:aws:events:us-east-1:111122223333:rule/test-alarms", "arn:aws:events:us-east-1:111122223333:rule/test-service-actions"]),
    false)])
    error_message = "PutLogEvents only from the given rules, on this log group's streams"
  }
  assert {
    condition = alltrue([for k, r in var.rules :
      aws_cloudwatch_metric_alarm.delivery_failed[k].dimensions.RuleName == r
      && aws_cloudwatch_metric_alarm.delivery_failed[k].metric_name == "FailedInvocations"
      && aws_cloudwatch_metric_alarm.delivery_failed[k].namespace == "AWS/Events"
      && aws_cloudwatch_metric_alarm.delivery_failed[k].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.delivery_failed[k].threshold == 1
      && aws_cloudwatch_metric_alarm.delivery_failed[k].comparison_operator == "GreaterThanOrEqualToThreshold"
    && aws_cloudwatch_metric_alarm.delivery_failed[k].alarm_actions == toset(var.alarm_actions)])
    error_message = "each rule's FailedInvocations (Sum >= 1) pages"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.delivery_failed["service_actions"].alarm_name == "deliveries-test-service-actions-delivery-failed"
    error_message = "alarm names use the name prefix and the rule key"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    log_group_arn = "arn:aws:logs:us-east-1:111122223333:log-group:*"
    rules         = {}
  }

  expect_failures = [var.log_group_arn, var.rules]
}
