output "bucket_id" {
  description = "Name of the CUR bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the CUR bucket."
  value       = local.bucket_arn
}

output "bucket_policy" {
  description = "The CUR bucket policy (JSON)."
  value       = aws_s3_bucket_policy.this.policy
}

output "log_bucket_id" {
  description = "Name of the access-log bucket."
  value       = aws_s3_bucket.logs.id
}
