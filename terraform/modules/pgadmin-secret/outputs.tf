output "secret_arn" {
  description = "ARN of the pgadmin secret."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the pgadmin secret."
  value       = aws_secretsmanager_secret.this.name
}

output "rotation_lambda_arn" {
  description = "ARN of the rotation function."
  value       = aws_serverlessapplicationrepository_cloudformation_stack.rotation.outputs["RotationLambdaARN"]
}

output "kms_key_arn" {
  description = "The key the secret is encrypted with."
  value       = aws_secretsmanager_secret.this.kms_key_id
}
