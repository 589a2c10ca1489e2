variable "name" {
  description = "Prefix of the workgroup and Glue databases, e.g. costjob_prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{1,40}$", var.name))
    error_message = "name must be a lower-case identifier (letters, digits, underscores)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed key for query results."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "results_s3_uri" {
  description = "Where Athena writes query results, s3://bucket/prefix/."
  type        = string
  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", var.results_s3_uri))
    error_message = "results_s3_uri must be s3://bucket/prefix/ ending with a slash."
  }
}

variable "cur_s3_uri" {
  description = "Location of the CUR 2.0 Parquet export data, s3://bucket/prefix/data/."
  type        = string
  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", var.cur_s3_uri))
    error_message = "cur_s3_uri must be s3://bucket/prefix/ ending with a slash."
  }
}

variable "cur_first_billing_period" {
  description = "First month of the CUR export (YYYY-MM): where the CUR table's partition projection starts."
  type        = string
  default     = "2024-01"
  validation {
    condition     = can(regex("^20[0-9]{2}-(0[1-9]|1[0-2])$", var.cur_first_billing_period))
    error_message = "cur_first_billing_period must be YYYY-MM."
  }
}

variable "logs_s3_uri" {
  description = "Where the application logs are delivered, s3://bucket/prefix/ (a day under <prefix><yyyy-MM-dd>/): the `logs` table of the Athena log engine (SPEC 14). null: no logs table."
  type        = string
  default     = null
  validation {
    condition     = var.logs_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$", var.logs_s3_uri))
    error_message = "logs_s3_uri must be s3://bucket/ or s3://bucket/prefix/ ending with a slash."
  }
}

variable "logs_first_day" {
  description = "First day of the delivered logs (YYYY-MM-DD): where the logs table's partition projection starts."
  type        = string
  default     = "2024-01-01"
  validation {
    condition     = can(regex("^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", var.logs_first_day))
    error_message = "logs_first_day must be YYYY-MM-DD."
  }
}

variable "output_s3_uri" {
  description = "costjob's output root, s3://bucket/prefix/ (tables under <root><table>/dt=YYYY-MM-DD/)."
  type        = string
  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", var.output_s3_uri))
    error_message = "output_s3_uri must be s3://bucket/prefix/ ending with a slash."
  }
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Per-query scan limit in bytes (cost guard)."
  type        = number
  default     = 107374182400
  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "bytes_scanned_cutoff_per_query must be at least 10 MB (Athena's minimum)."
  }
}

variable "manage_catalog_encryption" {
  description = "Encrypt the account's Glue Data Catalog (metadata and connection passwords) with kms_key_arn here; false when another stack owns that account-wide setting."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
