variable "name" {
  description = "Name of the Firehose stream and the prefix of its roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,56}$", var.name))
    error_message = "name must be 1-56 letters, digits, dots, hyphens or underscores (the roles add a suffix)."
  }
}

variable "log_group_names" {
  description = "The application log groups to deliver (one subscription filter each)."
  type        = list(string)
  validation {
    condition     = length(var.log_group_names) > 0 && alltrue([for g in var.log_group_names : can(regex("^[A-Za-z0-9_./#-]{1,512}$", g))])
    error_message = "log_group_names must list at least one log group name."
  }
}

variable "bucket_arn" {
  description = "ARN of the logs bucket (SSE-KMS with kms_key_arn)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "prefix" {
  description = "Key prefix of the delivered logs; each day's go under <prefix><yyyy-MM-dd>/ (UTC arrival time), which costjob reads as <prefix>{date}/."
  type        = string
  default     = "firehose/"
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.prefix))
    error_message = "prefix must be a non-empty key prefix ending with a slash."
  }
}

variable "error_prefix" {
  description = "Key prefix of the records Firehose could not deliver (apart from the data, which costjob reads)."
  type        = string
  default     = "firehose-errors/"
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.error_prefix))
    error_message = "error_prefix must be a non-empty key prefix ending with a slash."
  }
}

variable "kms_key_arn" {
  description = "The key the stream, the objects and the error logs are encrypted with."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias)."
  }
}

variable "buffering_size_mb" {
  description = "Firehose writes an object when this many MiB are buffered (or after buffering_interval_seconds)."
  type        = number
  default     = 64
  validation {
    condition     = var.buffering_size_mb >= 1 && var.buffering_size_mb <= 128
    error_message = "buffering_size_mb must be 1 to 128."
  }
}

variable "buffering_interval_seconds" {
  description = "Firehose writes what it buffered at least this often."
  type        = number
  default     = 300
  validation {
    condition     = var.buffering_interval_seconds >= 60 && var.buffering_interval_seconds <= 900
    error_message = "buffering_interval_seconds must be 60 to 900."
  }
}

variable "log_retention_days" {
  description = "Days the delivery errors are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
