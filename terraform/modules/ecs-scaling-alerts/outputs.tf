output "log_group_name" {
  description = "Log group the alerts land in (what the observability tool ingests)."
  value       = aws_cloudwatch_log_group.this.name
}

output "sns_topic_arn" {
  description = "Paging topic."
  value       = aws_sns_topic.this.arn
}

output "at_max_alarm_names" {
  description = "Service => name of its at-maximum alarm."
  value       = local.at_max_name
}

output "saturated_alarm_names" {
  description = "Service => name of its at-maximum-and-saturated composite alarm."
  value       = local.saturated_name
}

output "event_rule_names" {
  description = "The EventBridge rules feeding the log group."
  value       = [aws_cloudwatch_event_rule.alarms.name, aws_cloudwatch_event_rule.service_actions.name, aws_cloudwatch_event_rule.scaling_changes.name]
}

output "cluster_arn" {
  description = "ARN of the services' cluster (read, not created)."
  value       = data.aws_ecs_cluster.this.arn
}

output "log_group_arn" {
  description = "ARN of the observability log group (other alarm modules write to it)."
  value       = aws_cloudwatch_log_group.this.arn
}
