mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  override_resource {
    target          = aws_serverlessapplicationrepository_cloudformation_stack.rotation
    override_during = plan
    values = {
      outputs = { RotationLambdaARN = "arn:aws:lambda:us-east-1:111122223333:function:pgadmin-rotation" }
    }
  }
}

variables {
  kms_key_arn                 = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  db_host                     = "deuna-core.cluster-abc.us-east-1.rds.amazonaws.com"
  db_name                     = "deuna"
  rotation_subnet_ids         = ["subnet-0123456789abcdef0"]
  rotation_security_group_ids = ["sg-0123456789abcdef0"]
  password_wo                 = "test-only-not-a-secret-0123456789abcdef"
}

run "secret_is_encrypted_write_only_and_rotated" {
  command = plan

  assert {
    condition     = aws_secretsmanager_secret.this.kms_key_id == var.kms_key_arn
    error_message = "the secret must be encrypted with the key"
  }
  assert {
    condition     = aws_secretsmanager_secret_version.this.secret_string == null && aws_secretsmanager_secret_version.this.secret_string_wo_version == 1
    error_message = "the password must go through the write-only attribute, never secret_string"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this.rotation_rules[0].automatically_after_days == 30
    error_message = "rotation must be configured"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this.rotation_lambda_arn == "arn:aws:lambda:us-east-1:111122223333:function:pgadmin-rotation"
    error_message = "rotation must use the AWS PostgreSQL rotation function"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this.rotate_immediately == false
    error_message = "the first rotation must not run at apply time, before the function can log in (issue 11 item 5)"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    rotation_days    = 0
    password_version = 0
    db_name          = "Deuna-DB"
    password_wo      = "short"
  }

  expect_failures = [var.rotation_days, var.password_version, var.db_name, var.password_wo]
}
