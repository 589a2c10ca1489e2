variable "name" {
  description = "Prefix of the alarms and rules, e.g. costjob-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be lower-case letters, digits and dashes."
  }
}

variable "cluster_arn" {
  description = "The ECS cluster the nightly task runs in."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "task_family" {
  description = "The costjob task definition family (the costjob-task module's name)."
  type        = string
}

variable "flows" {
  description = "The flows of the catalog, each with its transaction type: one unit-cost anomaly alarm each."
  type        = list(object({ flow = string, transaction_type = string }))
  validation {
    condition     = length(var.flows) > 0 && alltrue([for f in var.flows : contains(["monetary", "non-monetary"], f.transaction_type)])
    error_message = "at least one flow; transaction_type is monetary or non-monetary."
  }
}

variable "sns_topic_arn" {
  description = "The paging topic (SPEC 10: the ecs-scaling-alerts module's)."
  type        = string
}

variable "log_group_arn" {
  description = "The observability log group (SPEC 10) the alarms' state changes and the job's failures are written to."
  type        = string
}

variable "stale_after_hours" {
  description = "Page when no run has succeeded for this many hours (the schedule is daily)."
  type        = number
  default     = 26
  validation {
    condition     = var.stale_after_hours >= 24 && var.stale_after_hours <= 72
    error_message = "stale_after_hours must be 24 to 72 (hourly periods)."
  }
}

variable "unallocated_share_threshold" {
  description = "Page when the unallocated share of the allocatable bill exceeds this (0 to 1)."
  type        = number
  default     = 0.05
  validation {
    condition     = var.unallocated_share_threshold > 0 && var.unallocated_share_threshold < 1
    error_message = "unallocated_share_threshold is a share between 0 and 1."
  }
}

variable "anomaly_band_width" {
  description = "Standard deviations of the unit-cost anomaly-detection band."
  type        = number
  default     = 2
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "schedule_dead_letter_queue_name" {
  description = "The SQS queue where the scheduler puts a nightly run it could not start (costjob-task's schedule_dead_letter_queue_name)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.schedule_dead_letter_queue_name))
    error_message = "schedule_dead_letter_queue_name must be an SQS queue name."
  }
}
