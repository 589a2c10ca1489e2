mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
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
  kms_key_arn          = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
  db_host              = "deuna-core.cluster-abc.us-east-1.rds.amazonaws.com"
  db_name              = "deuna"
  rotation_subnet_ids  = ["subnet-0123456789abcdef0"]
  administrator_arns   = ["arn:aws:iam::111122223333:role/platform-admin"]
  vpc_id               = "vpc-0123456789abcdef0"
  db_security_group_id = "sg-0aaaaaaaaaaaaaaa0"
  password_wo          = "test-only-not-a-secret-0123456789abcdef"
}

run "secret_is_encrypted_write_only_and_rotated" {
  command = plan

  # The role has been created (the runbook's second apply).
  variables {
    role_exists = true
  }

  assert {
    condition     = aws_secretsmanager_secret.this.kms_key_id == var.kms_key_arn
    error_message = "the secret must be encrypted with the key"
  }
  assert {
    condition     = aws_secretsmanager_secret_version.this.secret_string == null && aws_secretsmanager_secret_version.this.secret_string_wo_version == 1
    error_message = "the password must go through the write-only attribute, never secret_string"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this[0].rotation_rules[0].automatically_after_days == 30
    error_message = "rotation must be configured"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this[0].rotation_lambda_arn == "arn:aws:lambda:us-east-1:111122223333:function:pgadmin-rotation"
    error_message = "rotation must use the AWS PostgreSQL rotation function"
  }
  assert {
    condition     = aws_secretsmanager_secret_rotation.this[0].rotate_immediately == false
    error_message = "the first rotation must not run at apply time, before the function can log in (issue 11 item 5)"
  }
}

# Issue 11 item 9: the rotation function has its own security group, the only
# one this module admits into the cluster, and a managed, encrypted log group.
run "rotation_function_has_its_own_network_and_logs" {
  command = plan

  assert {
    condition = (aws_vpc_security_group_ingress_rule.db_from_rotation.security_group_id == var.db_security_group_id
      && aws_vpc_security_group_ingress_rule.db_from_rotation.from_port == 5432
    && aws_vpc_security_group_ingress_rule.db_from_rotation.to_port == 5432)
    error_message = "the cluster admits the rotation function's own group, on the database port only"
  }
  assert {
    condition = (aws_vpc_security_group_egress_rule.rotation_to_db.referenced_security_group_id == var.db_security_group_id
      && aws_vpc_security_group_egress_rule.rotation_to_db.from_port == 5432
    && aws_vpc_security_group_egress_rule.rotation_to_https.from_port == 443 && aws_vpc_security_group_egress_rule.rotation_to_https.to_port == 443)
    error_message = "the rotation function may reach the cluster's port and HTTPS, nothing else"
  }
  assert {
    condition = (aws_cloudwatch_log_group.rotation.name == "/aws/lambda/${aws_serverlessapplicationrepository_cloudformation_stack.rotation.parameters.functionName}"
    && aws_cloudwatch_log_group.rotation.kms_key_id == var.kms_key_arn && aws_cloudwatch_log_group.rotation.retention_in_days == 365)
    error_message = "the function's log group is managed: its name, encrypted with the key, with a retention"
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

# Issue 37 finding 4: enabling rotation runs the function's testSecret at
# once (logging in as pgadmin), even with rotate_immediately = false; before
# the role exists that failed the first apply. Rotation waits for role_exists.
run "rotation_waits_for_the_role" {
  command = plan

  assert {
    condition     = length(aws_secretsmanager_secret_rotation.this) == 0 && aws_secretsmanager_secret.this.kms_key_id == var.kms_key_arn
    error_message = "the first apply (no role yet) writes the secret and enables no rotation"
  }
  assert {
    condition     = aws_serverlessapplicationrepository_cloudformation_stack.rotation.semantic_version == "1.1.671"
    error_message = "the rotation function is a version of AWS's application that exists (1.1.476 did not)"
  }
}

# Issue 37 finding 11: the secret has a resource policy: no other account,
# and only the administrators may delete it or change the policy.
run "the_secret_has_its_own_policy" {
  command = plan

  assert {
    condition = anytrue([for st in jsondecode(aws_secretsmanager_secret_policy.this.policy).Statement :
      st.Effect == "Deny" && st.Action == "secretsmanager:*" && st.Principal == "*"
    && try(st.Condition.StringNotEquals["aws:PrincipalAccount"] == "111122223333", false)])
    error_message = "principals of other accounts are denied everything"
  }
  assert {
    condition = anytrue([for st in jsondecode(aws_secretsmanager_secret_policy.this.policy).Statement :
      st.Effect == "Deny" && contains(flatten([st.Action]), "secretsmanager:DeleteSecret") && contains(flatten([st.Action]), "secretsmanager:PutResourcePolicy")
    && try(jsonencode(st.Condition.ArnNotLike["aws:PrincipalArn"]) == jsonencode(var.administrator_arns), false)]) && aws_secretsmanager_secret_policy.this.block_public_policy
    error_message = "only the administrators may delete the secret or change its policy; no public policy"
  }
}
