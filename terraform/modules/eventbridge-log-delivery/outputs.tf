output "policy_document" {
  description = "The log group's resource policy (JSON)."
  value       = aws_cloudwatch_log_resource_policy.this.policy_document
}

output "delivery_failed_alarms" {
  description = "Rule key => its FailedInvocations alarm."
  value       = aws_cloudwatch_metric_alarm.delivery_failed
}
