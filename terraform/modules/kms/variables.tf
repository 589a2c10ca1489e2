variable "alias" {
  description = "Alias name without the alias/ prefix, e.g. costjob-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,250}$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "alias must be 1-250 characters of letters, digits, /, _ or -, and must not start with aws/."
  }
}

variable "description" {
  description = "What the key protects."
  type        = string
  default     = "costjob: CUR bucket, Aurora, secrets, logs and Athena results"
}

variable "administrator_arns" {
  description = "IAM roles or users that administer the key (cannot use it to decrypt)."
  type        = list(string)
  validation {
    condition     = length(var.administrator_arns) > 0 && alltrue([for a in var.administrator_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "administrator_arns must name at least one IAM role or user ARN."
  }
}

variable "user_arns" {
  description = "IAM roles that use the key for encryption and decryption (the costjob task role, operators)."
  type        = list(string)
  validation {
    condition     = alltrue([for a in var.user_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "user_arns must be IAM role or user ARNs."
  }
}

variable "users_may_grant_for_aws_resources" {
  description = "Let user_arns create grants for AWS resources (kms:GrantIsForAWSResource), which services such as EBS need when a user creates a resource with the key; off by default: a grant is a way to decrypt."
  type        = bool
  default     = false
}

variable "billing_export_source_arns" {
  description = "ARNs (wildcards allowed) of the CUR report definitions and Data Exports allowed to write with this key."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.billing_export_source_arns : can(regex("^arn:aws[a-z-]*:(cur|bcm-data-exports):[a-z0-9-]+:[0-9]{12}:(definition|export)/.+$", a))])
    error_message = "billing_export_source_arns must be cur definition or bcm-data-exports export ARNs."
  }
}

variable "service_principals" {
  description = "AWS services that encrypt with the key on this account's behalf (e.g. logs, cloudwatch, events, sns), scoped by aws:SourceAccount."
  type        = list(string)
  default     = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
  validation {
    condition     = alltrue([for s in var.service_principals : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", s))])
    error_message = "service_principals must be service principal names such as events.amazonaws.com."
  }
}

variable "events_publish_to_encrypted_topics" {
  description = "Let EventBridge use the key for SNS topics it publishes to (rules targeting a topic encrypted with this key)."
  type        = bool
  default     = false
}

variable "deletion_window_in_days" {
  description = "Days before a key scheduled for deletion is deleted."
  type        = number
  default     = 30
  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
