variable "name" {
  description = "Cluster identifier, e.g. deuna-core."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must start with a letter and hold 2-63 lower-case letters, digits or single hyphens."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets, in at least two Availability Zones."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "private_subnet_ids must list at least two subnet IDs."
  }
}

variable "allowed_cidr_blocks" {
  description = "Private CIDR blocks allowed to reach PostgreSQL (5432)."
  type        = list(string)
  default     = []
  validation {
    # Valid, canonical (network address) and inside a private range: its prefix is at
    # least the range's, and its address masked to the range's prefix is the range.
    condition = alltrue([for c in var.allowed_cidr_blocks :
      can(cidrnetmask(c)) && try(cidrsubnet(c, 0, 0) == c, false) && anytrue([
        for p in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] :
        tonumber(split("/", c)[1]) >= tonumber(split("/", p)[1]) && cidrsubnet("${split("/", c)[0]}/${split("/", p)[1]}", 0, 0) == p
      ])
    ])
    error_message = "allowed_cidr_blocks must be valid private (RFC 1918 or CGNAT) network CIDRs, never 0.0.0.0/0."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to reach PostgreSQL (the costjob task, the services)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", s))])
    error_message = "allowed_security_group_ids must be security group IDs."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed key for storage, Performance Insights, the master secret and logs."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "engine_version" {
  description = "Aurora PostgreSQL engine version."
  type        = string
  default     = "16.6"
  validation {
    condition     = can(regex("^1[3-7]\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be an Aurora PostgreSQL 13-17 version such as 16.6."
  }
}

variable "instance_class" {
  description = "Instance class of every instance (db.serverless for Serverless v2)."
  type        = string
  default     = "db.r7g.large"
  validation {
    condition     = can(regex("^db\\.(serverless|(r5|r6g|r6gd|r6i|r7g|r7i|r8g|x2g|t3|t4g)\\.(medium|large|x?large|[0-9]+xlarge))$", var.instance_class))
    error_message = "instance_class must be an Aurora PostgreSQL class such as db.r7g.large or db.serverless."
  }
}

variable "instance_count" {
  description = "Number of instances (a writer and at least one reader in another AZ)."
  type        = number
  default     = 2
  validation {
    condition     = var.instance_count >= 2 && var.instance_count <= 15
    error_message = "instance_count must be between 2 and 15."
  }
}

variable "database_name" {
  description = "Initial database."
  type        = string
  default     = "deuna"
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lower-case PostgreSQL identifier."
  }
}

variable "master_username" {
  description = "Master user; its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "deuna_master"
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["postgres", "admin", "rdsadmin", "root"], var.master_username)
    error_message = "master_username must be a lower-case identifier (max 16) and not a well-known name."
  }
}

variable "backup_retention_days" {
  description = "Automated backup retention in days."
  type        = number
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "preferred_backup_window" {
  description = "Daily backup window (UTC), hh24:mi-hh24:mi."
  type        = string
  default     = "07:00-08:00"
  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.preferred_backup_window))
    error_message = "preferred_backup_window must be hh24:mi-hh24:mi."
  }
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
