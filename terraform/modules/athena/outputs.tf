output "workgroup_name" {
  description = "Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "workgroup_arn" {
  description = "ARN of the Athena workgroup."
  value       = aws_athena_workgroup.this.arn
}

output "glue_database_name" {
  description = "Glue database of costjob's output tables."
  value       = aws_glue_catalog_database.costjob.name
}

output "cur_database_name" {
  description = "Glue database of the CUR table."
  value       = aws_glue_catalog_database.cur.name
}

output "cur_table_name" {
  description = "The CUR table."
  value       = aws_glue_catalog_table.cur.name
}

output "logs_table_name" {
  description = "The logs table (in the costjob database), or null without logs_s3_uri."
  value       = one(aws_glue_catalog_table.logs[*].name)
}

output "logs_table_location_template" {
  description = "Where the logs table reads a day (<logs_s3_uri>$${day}/), or null without logs_s3_uri."
  value       = one(aws_glue_catalog_table.logs[*].parameters["storage.location.template"])
}
