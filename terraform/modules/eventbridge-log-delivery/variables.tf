variable "name" {
  description = "Name of the resource policy, and prefix of the alarms' names."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,200}$", var.name))
    error_message = "name must be 1-200 letters, digits, '_', '.' or '-'."
  }
}

variable "log_group_arn" {
  description = "ARN of the log group the rules write to (without the :* suffix)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*]+$", var.log_group_arn))
    error_message = "log_group_arn must be a log group ARN without a wildcard."
  }
}

variable "rules" {
  description = "The EventBridge rules that deliver to the log group: key => rule name (in this account and region)."
  type        = map(string)
  validation {
    condition     = length(var.rules) > 0
    error_message = "rules must name at least one rule."
  }
}

variable "alarm_actions" {
  description = "Where a failed delivery pages (SNS topic ARNs)."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
