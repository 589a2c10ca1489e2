variable "name" {
  description = "Name of the task family, roles, log group and schedule, e.g. costjob-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "cluster_arn" {
  description = "ECS cluster the task runs in."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "image" {
  description = "costjob container image, pinned by tag or digest (repo:tag or repo@sha256:...)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must be an ECR image pinned by a tag other than latest, or by digest."
  }
}

variable "ecr_repository_arn" {
  description = "ECR repository of the image (the execution role may pull only from it)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be an ECR repository ARN."
  }
}

variable "cpu_architecture" {
  description = "The task's CPU: ARM64 (Graviton, about 20% cheaper for this job) or X86_64. The image must be built for it (output image_platform)."
  type        = string
  default     = "ARM64"
  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "cpu" {
  description = "Fargate CPU units."
  type        = number
  default     = 2048
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Fargate memory (MiB). refresh runs the window's days one at a time, so the peak is one day's (< 1 GiB at deuna scale) plus the window's CUR pools; 4 GiB leaves room for a month of restatements and growth."
  type        = number
  default     = 4096
  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && var.memory % 512 == 0
    error_message = "memory must be a multiple of 512 MiB between 512 and 122880."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the task."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) >= 1 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must list subnet IDs."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets: the task gets its own security group there (HTTPS out only)."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID."
  }
}

variable "security_group_ids" {
  description = "More security groups for the task, beside its own (for instance one that VPC endpoints admit)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", s))])
    error_message = "security_group_ids must list security group IDs."
  }
}

variable "kms_key_arn" {
  description = "The key of the task's own resources (its log group, the schedule, the dead-letter queue)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "data_kms_key_arns" {
  description = "The keys of the data the task reads and writes (the CUR, the logs, the cost tables and Athena's results), when they are not kms_key_arn."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for k in var.data_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", k))])
    error_message = "data_kms_key_arns must be KMS key ARNs."
  }
}

variable "cur" {
  description = "Where the CUR export is read: bucket and key prefix."
  type        = object({ bucket = string, prefix = string })
  validation {
    # An empty prefix would grant the whole bucket; a prefix is a folder.
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.cur.prefix)) && length(var.cur.bucket) > 0
    error_message = "cur.prefix must be a non-empty key prefix ending with a slash (an empty prefix would grant the whole bucket)."
  }
}

variable "logs" {
  description = "Where the application logs are read: bucket, key prefix naming the day ({date}, or {yyyy}/{mm}/{dd}: costjob reads only the prefixes of the days it runs) and their format (firehose, cloudwatch-export or jsonl)."
  type        = object({ bucket = string, prefix = string, format = optional(string, "firehose") })
  validation {
    # An empty prefix would grant the whole bucket; a prefix is a folder.
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'(){}/-]*/$", var.logs.prefix)) && length(var.logs.bucket) > 0 && !startswith(var.logs.prefix, "{")
    error_message = "logs.prefix must be a non-empty key prefix ending with a slash, starting with a folder (an empty prefix would grant the whole bucket)."
  }
  validation {
    # Without the day every night lists and reads the whole delivery history
    # (retrieval fees from Infrequent Access, a re-delivered day counted twice).
    condition     = strcontains(var.logs.prefix, "{date}") || strcontains(var.logs.prefix, "{dd}")
    error_message = "logs.prefix must name the day with {date} (or {yyyy}/{mm}/{dd}), as the logs are delivered a folder a day."
  }
  validation {
    condition     = contains(["firehose", "cloudwatch-export", "jsonl"], var.logs.format)
    error_message = "logs.format must be firehose, cloudwatch-export or jsonl."
  }
}

variable "output" {
  description = "Where the output tables are written: bucket and key prefix."
  type        = object({ bucket = string, prefix = string })
  validation {
    # An empty prefix would grant the whole bucket; a prefix is a folder.
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.output.prefix)) && length(var.output.bucket) > 0
    error_message = "output.prefix must be a non-empty key prefix ending with a slash (an empty prefix would grant the whole bucket)."
  }
}

variable "athena" {
  description = "Athena workgroup, its results location, the Glue databases the job reads, and the database of its output tables (whose partitions it creates and updates)."
  type = object({
    workgroup       = string
    results_bucket  = string
    results_prefix  = string
    glue_databases  = list(string)
    cur_database    = string
    cur_table       = string
    output_database = string
    # SPEC 14: the logs table in output_database (the athena module's
    # logs_table_name): when set, Athena reads the logs ([logs] source = "athena").
    logs_table = optional(string)
  })
  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.athena.results_prefix))
    error_message = "athena.results_prefix must be a non-empty key prefix ending with a slash (an empty prefix would grant the whole bucket)."
  }
}

variable "schedule_expression" {
  description = "When the job runs (UTC): after the day's CUR rows have landed."
  type        = string
  default     = "cron(30 6 * * ? *)"
  validation {
    # Once a day: refresh publishes what changed; more often only reads the CUR again (and pays Athena again).
    condition     = can(regex("^cron\\([0-9]{1,2} [0-9]{1,2} \\* \\* \\? \\*\\)$", var.schedule_expression))
    error_message = "schedule_expression must run once a day: cron(M H * * ? *)."
  }
}

variable "log_retention_days" {
  description = "Retention of the job's own logs."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "calendar_timezone" {
  description = "The IANA time zone whose midnights bound a day (SPEC 12.1): deuna's business day is Ecuador's. A Quito day's last five hours are in the next UTC day's logs; the nightly refresh republishes the day once they arrive (its logs fingerprint changes)."
  type        = string
  default     = "America/Guayaquil"
  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+)+)$", var.calendar_timezone))
    error_message = "calendar_timezone must be an IANA time zone name, such as UTC or America/Guayaquil."
  }
}

variable "environment" {
  description = "Extra COSTJOB_<SECTION>_<KEY> settings for the container."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^COSTJOB_[A-Z0-9_]+$", k))])
    error_message = "environment keys must be COSTJOB_<SECTION>_<KEY>."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
