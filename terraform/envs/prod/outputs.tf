output "kms_key_arns" {
  description = "The keys, by class of data (billing, logs, database, platform)."
  value       = { for k, m in module.kms : k => m.key_arn }
}

output "cur_bucket_id" {
  description = "Where the Data Export writes the CUR."
  value       = module.cur_bucket.bucket_id
}

output "aurora_cluster_endpoint" {
  description = "Aurora writer endpoint."
  value       = module.aurora.cluster_endpoint
}

output "pgadmin_secret_arn" {
  description = "The pgadmin secret."
  value       = module.pgadmin_secret.secret_arn
}

output "athena_workgroup_name" {
  description = "Workgroup finance queries in."
  value       = module.athena.workgroup_name
}

output "image_platform" {
  description = "Build the image for this platform: docker buildx build --platform $(terraform output -raw image_platform) ..."
  value       = module.costjob_task.image_platform
}

output "costjob_schedule_arn" {
  description = "The nightly schedule."
  value       = module.costjob_task.schedule_arn
}

output "ecs_scaling_alerts_log_group_name" {
  description = "Log group the observability tool ingests."
  value       = module.ecs_scaling_alerts.log_group_name
}
