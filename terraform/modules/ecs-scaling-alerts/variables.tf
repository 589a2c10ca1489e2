variable "cluster_name" {
  description = "ECS cluster of the services (Container Insights must be enabled on it)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.cluster_name))
    error_message = "cluster_name must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "services" {
  description = "Every service to scale and watch: name => { min, max, desired } task counts. The one source of truth for the scaling target and the alarm thresholds."
  type = map(object({
    min     = number
    max     = number
    desired = number
  }))
  validation {
    condition     = length(var.services) > 0 && alltrue([for name, s in var.services : can(regex("^[A-Za-z0-9_-]{1,255}$", name))])
    error_message = "services must name at least one ECS service (letters, digits, hyphens, underscores)."
  }
  validation {
    condition = alltrue([for s in values(var.services) :
    s.min >= 0 && s.max >= 1 && s.min < s.max && s.min <= s.desired && s.desired <= s.max && floor(s.min) == s.min && floor(s.max) == s.max && floor(s.desired) == s.desired])
    error_message = "each service needs whole task counts with 0 <= min <= desired <= max, min < max (min == max cannot scale: its at-max alarm would fire forever) and max >= 1."
  }
}

variable "manage_scalable_targets" {
  description = "Register each service's scalable target and its two target-tracking policies here (true), or only watch targets the service teams own (false: the default). Never both: two owners overwrite each other's min/max."
  type        = bool
  default     = false
}

variable "cpu_target_percent" {
  description = "Target-tracking target for average CPU (and the 'still saturated' threshold)."
  type        = number
  default     = 60
  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "memory_target_percent" {
  description = "Target-tracking target for average memory (and the 'still saturated' threshold)."
  type        = number
  default     = 60
  validation {
    condition     = var.memory_target_percent >= 10 && var.memory_target_percent <= 90
    error_message = "memory_target_percent must be between 10 and 90."
  }
}

variable "at_max_minutes" {
  description = "Minutes a service must sit at its maximum before the alarm fires (N)."
  type        = number
  default     = 5
  validation {
    condition     = var.at_max_minutes >= 1 && var.at_max_minutes <= 60 && floor(var.at_max_minutes) == var.at_max_minutes
    error_message = "at_max_minutes must be a whole number of minutes between 1 and 60."
  }
}

variable "scale_in_cooldown_seconds" {
  description = "Cooldown after a scale-in."
  type        = number
  default     = 300
  validation {
    condition     = var.scale_in_cooldown_seconds >= 0 && var.scale_in_cooldown_seconds <= 3600
    error_message = "scale_in_cooldown_seconds must be between 0 and 3600."
  }
}

variable "scale_out_cooldown_seconds" {
  description = "Cooldown after a scale-out."
  type        = number
  default     = 60
  validation {
    condition     = var.scale_out_cooldown_seconds >= 0 && var.scale_out_cooldown_seconds <= 3600
    error_message = "scale_out_cooldown_seconds must be between 0 and 3600."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed key for the log group and the SNS topic (its policy must allow logs.<region> and cloudwatch/events)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the alert log group."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "firehose_destination_arn" {
  description = "Optional Firehose delivery stream of the observability tool; a subscription filter sends it every event of the log group."
  type        = string
  default     = null
  validation {
    condition     = var.firehose_destination_arn == null || can(regex("^arn:aws[a-z-]*:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/.+$", var.firehose_destination_arn))
    error_message = "firehose_destination_arn must be a Firehose delivery stream ARN."
  }
}

variable "alarm_email_addresses" {
  description = "Optional e-mail subscriptions of the paging topic (PagerDuty/Opsgenie endpoints subscribe outside this module)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for e in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_email_addresses must be e-mail addresses."
  }
}

variable "name_prefix" {
  description = "Prefix of alarm, rule, topic and log group names."
  type        = string
  default     = "ecs-scaling"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lower-case letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
