variable "name" {
  description = "Secret name, e.g. deuna-core/pgadmin."
  type        = string
  default     = "pgadmin"
  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]{1,512}$", var.name))
    error_message = "name must be 1-512 characters of letters, digits and /_+=.@-."
  }
}

variable "username" {
  description = "The PostgreSQL role the secret holds."
  type        = string
  default     = "pgadmin"
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.username))
    error_message = "username must be a lower-case PostgreSQL identifier."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed key the secret is encrypted with."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "db_host" {
  description = "Writer endpoint of the cluster."
  type        = string
}

variable "db_port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432
  validation {
    condition     = var.db_port > 0 && var.db_port < 65536
    error_message = "db_port must be a TCP port."
  }
}

variable "db_name" {
  description = "Database the role connects to."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must be a lower-case PostgreSQL identifier."
  }
}

variable "password_wo" {
  description = <<-EOT
    The initial password, as an ephemeral value: generate it with the ephemeral
    aws_secretsmanager_random_password (Secrets Manager's GetRandomPassword) in the
    calling configuration. It only reaches the secret's write-only attribute, so it
    is never stored in the plan or the state.
  EOT
  type        = string
  ephemeral   = true
  sensitive   = true
  default     = null
  validation {
    condition     = var.password_wo == null || try(length(var.password_wo), 0) >= 32
    error_message = "password_wo must be at least 32 characters."
  }
}

variable "password_version" {
  description = "Increase to make Terraform write a new AWS-generated password (write-only: the password never reaches the state)."
  type        = number
  default     = 1
  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a positive integer."
  }
}

variable "rotation_days" {
  description = "Days between automatic rotations."
  type        = number
  default     = 30
  validation {
    condition     = var.rotation_days >= 1 && var.rotation_days <= 365
    error_message = "rotation_days must be between 1 and 365."
  }
}

variable "rotation_subnet_ids" {
  description = "Private subnets for the rotation Lambda (must reach the cluster and Secrets Manager)."
  type        = list(string)
  validation {
    condition     = length(var.rotation_subnet_ids) >= 1 && alltrue([for s in var.rotation_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "rotation_subnet_ids must list subnet IDs."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster: the rotation Lambda gets its own security group there."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID."
  }
}

variable "db_security_group_id" {
  description = "The cluster's security group: this module lets the rotation Lambda (and only it) in on the port."
  type        = string
  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.db_security_group_id))
    error_message = "db_security_group_id must be a security group ID."
  }
}

variable "log_retention_days" {
  description = "Days the rotation function's logs are kept."
  type        = number
  default     = 365
}

variable "role_exists" {
  description = "Whether the role already exists in the database with the secret's password: rotation is enabled only then (enabling it logs in as the role at once, even with rotate_immediately = false)."
  type        = bool
  default     = false
}

variable "rotation_app_version" {
  description = "Version of the AWS Serverless Application Repository app SecretsManagerRDSPostgreSQLRotationSingleUser: one that exists in the aws partition (1.1.671 is the one aws-cdk-lib's SecretRotationApplication pins)."
  type        = string
  default     = "1.1.671"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.rotation_app_version))
    error_message = "rotation_app_version must be a semantic version."
  }
}

variable "administrator_arns" {
  description = "The roles that may delete the secret or change its resource policy (those that run Terraform among them)."
  type        = list(string)
  validation {
    condition     = length(var.administrator_arns) > 0 && alltrue([for a in var.administrator_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "administrator_arns must list IAM role or user ARNs."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
