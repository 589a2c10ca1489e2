variable "region" {
  description = "AWS region of the platform."
  type        = string
  default     = "us-east-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as us-east-1."
  }
}

variable "environment" {
  description = "Environment name, used in resource names."
  type        = string
  validation {
    condition     = contains(["prod", "staging", "dev"], var.environment)
    error_message = "environment must be prod, staging or dev."
  }
}

variable "vpc_id" {
  description = "VPC of Aurora and the costjob task."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two AZs)."
  type        = list(string)
}

variable "availability_zones" {
  description = "AZs of the Aurora instances."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "app_cidr_blocks" {
  description = "Private CIDRs of the services that use Aurora."
  type        = list(string)
}

variable "task_security_group_id" {
  description = "Security group of the costjob task (egress to VPC endpoints) and of the rotation Lambda."
  type        = string
}

variable "administrator_arns" {
  description = "Roles that administer the KMS key."
  type        = list(string)
}

variable "operator_arns" {
  description = "Roles of people who read the outputs and the CUR (finance analysts' Athena role, on-call)."
  type        = list(string)
  default     = []
}

variable "cur_bucket_name" {
  description = "Bucket of the CUR Data Export."
  type        = string
}

variable "cur_export_name" {
  description = "Name of the CUR 2.0 Data Export (created by hand or by the billing account)."
  type        = string
  default     = "costjob-cur"
}

variable "cur_export_arn" {
  description = "ARN of the CUR 2.0 Data Export when it is not this account's (e.g. the payer account's); default: this account's export named cur_export_name."
  type        = string
  default     = null
  validation {
    condition     = var.cur_export_arn == null || can(regex("^arn:aws[a-z-]*:bcm-data-exports:[a-z0-9-]+:[0-9]{12}:export/.+$", var.cur_export_arn))
    error_message = "cur_export_arn must be a bcm-data-exports export ARN."
  }
}

variable "logs_bucket_name" {
  description = "Bucket the application logs are exported to (CreateExportTask / Firehose)."
  type        = string
}

variable "app_log_group_prefix" {
  description = "Log group of each ECS service: this prefix and the service name (the groups exported to the logs bucket)."
  type        = string
  default     = "/ecs/"
}

variable "output_bucket_name" {
  description = "Bucket of costjob's output tables and Athena results."
  type        = string
}

variable "costjob_image" {
  description = "costjob image, pinned (ECR repo:tag or repo@sha256:...)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository of the costjob image."
  type        = string
}

variable "pgadmin_password_version" {
  description = "Increase to write a new AWS-generated pgadmin password (write-only)."
  type        = number
  default     = 1
}

variable "observability_firehose_arn" {
  description = "Firehose delivery stream of the observability tool (null: no subscription filter)."
  type        = string
  default     = null
}

variable "oncall_emails" {
  description = "E-mail subscriptions of the ECS scaling paging topic."
  type        = list(string)
  default     = []
}

variable "ecs_services" {
  description = "The cluster's services and their task counts: the one map that drives autoscaling and the at-max alarms."
  type = map(object({
    min     = number
    max     = number
    desired = number
  }))
}

variable "aurora_instance_class" {
  description = "Instance class of the Aurora instances."
  type        = string
}

variable "aurora_backup_retention_days" {
  description = "Aurora automated backup retention (days)."
  type        = number
}

variable "ecs_at_max_minutes" {
  description = "Minutes at the maximum before the at-max alarm fires."
  type        = number
}

variable "costjob_flows" {
  description = "The flow catalog's flows (costjob.toml [[flow]]): one unit-cost anomaly alarm each."
  type        = list(object({ flow = string, transaction_type = string }))
  default = [
    { flow = "recarga", transaction_type = "monetary" },
    { flow = "pago", transaction_type = "monetary" },
    { flow = "onboarding", transaction_type = "non-monetary" },
  ]
}

variable "unallocated_share_threshold" {
  description = "Page when more than this share of the allocatable bill is unallocated."
  type        = number
  default     = 0.05
}
