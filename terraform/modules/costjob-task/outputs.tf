output "task_definition_arn" {
  description = "ARN of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the task role (add it to the KMS key's users)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.execution.arn
}

output "schedule_arn" {
  description = "ARN of the nightly schedule."
  value       = aws_scheduler_schedule.this.arn
}

output "log_group_name" {
  description = "Log group of the job."
  value       = aws_cloudwatch_log_group.this.name
}

output "container" {
  description = "The job's container as the task definition runs it: image, command, user and environment."
  value       = local.container
}
