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

output "image_platform" {
  description = "The platform the image must be built for (docker build --platform): the task's CPU architecture. An image of another platform does not start (exec format error)."
  value       = { ARM64 = "linux/arm64", X86_64 = "linux/amd64" }[aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture]
}

output "schedule_dead_letter_queue_name" {
  description = "The queue of the nightly runs the scheduler could not start (alarm on it: costjob-alarms)."
  value       = aws_sqs_queue.schedule_dead_letters.name
}

output "task_policy" {
  description = "The task role's policy document (JSON)."
  value       = aws_iam_role_policy.task.policy
}
