output "alarm_names" {
  description = "Every alarm of the module."
  value = concat(
    [aws_cloudwatch_metric_alarm.no_successful_run.alarm_name, aws_cloudwatch_metric_alarm.unallocated_share.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.unit_cost_anomaly : a.alarm_name],
  )
}

output "event_rule_names" {
  description = "The job-failure and alarm-change rules."
  value       = [aws_cloudwatch_event_rule.job_failed.name, aws_cloudwatch_event_rule.alarm_changes.name]
}
