output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_rds_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Writer endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "cluster_reader_endpoint" {
  description = "Reader endpoint."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "cluster_port" {
  description = "PostgreSQL port."
  value       = aws_rds_cluster.this.port
}

output "cluster_database_name" {
  description = "Initial database."
  value       = var.database_name
}

output "cluster_resource_id" {
  description = "Resource ID, for rds-db:connect IAM policies."
  value       = aws_rds_cluster.this.cluster_resource_id
}

output "cluster_master_user_secret_arn" {
  description = "ARN of the RDS-managed master user secret."
  value       = try(aws_rds_cluster.this.master_user_secret[0].secret_arn, null)
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}

output "ingress_cidr_blocks" {
  description = "The CIDR blocks this module admits to PostgreSQL."
  value       = [for r in aws_vpc_security_group_ingress_rule.cidr : r.cidr_ipv4]
}

output "ingress_security_group_ids" {
  description = "The security groups this module admits to PostgreSQL."
  value       = [for r in aws_vpc_security_group_ingress_rule.sg : r.referenced_security_group_id]
}

output "kms_key_arn" {
  description = "The key the cluster's storage is encrypted with."
  value       = aws_rds_cluster.this.kms_key_id
}
