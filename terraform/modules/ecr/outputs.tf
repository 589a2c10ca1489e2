output "repository_arn" {
  description = "ARN of the repository (the task's execution role may pull from it)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Repository URL: <account>.dkr.ecr.<region>.amazonaws.com/<name>."
  value       = aws_ecr_repository.this.repository_url
}
