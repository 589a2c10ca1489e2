variable "bucket_name" {
  description = "Name of the bucket (the CUR, the logs the job reads, the job's outputs and Athena results)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^\\d+\\.\\d+\\.\\d+\\.\\d+$|^xn--|-s3alias$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key the bucket encrypts with."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias)."
  }
}

variable "export_source_arns" {
  description = "ARNs (wildcards allowed) of the CUR report definitions / Data Exports allowed to write (the CUR bucket); empty for other buckets."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.export_source_arns : can(regex("^arn:aws[a-z-]*:(cur|bcm-data-exports):[a-z0-9-]+:[0-9]{12}:(definition|export)/.+$", a))])
    error_message = "export_source_arns must list cur definition or bcm-data-exports export ARNs."
  }
}

variable "log_export" {
  description = "CloudWatch Logs export tasks (CreateExportTask) allowed to write under prefix, from these log groups of this account (the logs bucket); null for other buckets."
  type = object({
    prefix          = string
    log_group_names = list(string)
  })
  default = null
  validation {
    condition     = var.log_export == null || try(can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.log_export.prefix)) && length(var.log_export.log_group_names) > 0, false)
    error_message = "log_export.prefix must be a non-empty folder ending in /, with at least one log group."
  }
}

variable "expire_after_days" {
  description = "Prefix => days after which objects under it expire (Athena query results, the job's UNLOAD scratch)."
  type        = map(number)
  default     = {}
  validation {
    condition     = alltrue([for p, d in var.expire_after_days : can(regex(".+/$", p)) && d >= 1])
    error_message = "expire_after_days keys must be non-empty folders ending in /, with at least 1 day."
  }
}

variable "transition_to_ia_days" {
  description = "Days after which objects move to STANDARD_IA (null: they stay in STANDARD)."
  type        = number
  default     = null
  validation {
    condition     = var.transition_to_ia_days == null || try(var.transition_to_ia_days >= 30, false)
    error_message = "S3 requires at least 30 days before STANDARD_IA."
  }
}

variable "transition_to_glacier_ir_days" {
  description = "Days after which objects move to GLACIER_IR (null: never)."
  type        = number
  default     = null
  validation {
    condition     = var.transition_to_glacier_ir_days == null || try(var.transition_to_glacier_ir_days >= 90, false)
    error_message = "transition_to_glacier_ir_days must be at least 90."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced object version is kept (AWS restates the CUR month in place; costjob replaces a day's tables)."
  type        = number
  default     = 90
  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650
    error_message = "noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

variable "access_log_retention_days" {
  description = "Days server access logs are kept."
  type        = number
  default     = 365
  validation {
    condition     = var.access_log_retention_days >= 90
    error_message = "Keep access logs at least 90 days."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
