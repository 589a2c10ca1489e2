mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
}

variables {
  alias                      = "costjob-test"
  administrator_arns         = ["arn:aws:iam::111122223333:role/platform-admin"]
  user_arns                  = ["arn:aws:iam::111122223333:role/costjob-task"]
  billing_export_source_arns = ["arn:aws:bcm-data-exports:us-east-1:111122223333:export/costjob-cur"]
}

run "rotation_and_named_principals" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "key rotation must be on"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      try(s.Sid == "KeyAdministrators" && s.Principal.AWS == ["arn:aws:iam::111122223333:role/platform-admin"], false)
    ])
    error_message = "the key policy must name its administrators"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      try(s.Sid == "KeyUsers" && s.Principal.AWS == ["arn:aws:iam::111122223333:role/costjob-task"] && !contains(s.Action, "kms:*"), false)
    ])
    error_message = "the key policy must name its users, without kms:*"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      s.Principal != "*" && try(s.Principal.AWS, "") != "*"
    ])
    error_message = "no statement may grant to a wildcard principal"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      try(s.Sid == "BillingExportsWriteCur"
        && jsonencode(s.Condition.StringEquals["aws:SourceAccount"]) == jsonencode(["111122223333"])
      && s.Condition.ArnLike["aws:SourceArn"] == ["arn:aws:bcm-data-exports:us-east-1:111122223333:export/costjob-cur"], false)
    ])
    error_message = "the billing export services must be scoped by aws:SourceAccount and aws:SourceArn"
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/costjob-test"
    error_message = "alias"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    alias                   = "aws/costjob"
    administrator_arns      = ["not-an-arn"]
    deletion_window_in_days = 3
  }

  expect_failures = [var.alias, var.administrator_arns, var.deletion_window_in_days]
}

# Issue 11 item 9: administration named action by action; no grant creation
# (a grant is a way to decrypt) and no wildcard.
run "administrators_cannot_grant_themselves_use" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_kms_key.this.policy).Statement : [
        for a in try(tolist(s.Action), [s.Action]) : !strcontains(a, "*") && a != "kms:CreateGrant" && a != "kms:Decrypt"
      ] if s.Sid == "KeyAdministrators"
    ]))
    error_message = "administrators get no wildcard action, no CreateGrant and no Decrypt"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      s.Sid == "AccountRootForIamDelegation" || !contains(try(tolist(s.Action), [s.Action]), "kms:*")
    ])
    error_message = "kms:* only for the account root (IAM delegation)"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      can(s.Condition["StringEquals"]["aws:SourceAccount"]) if s.Sid == "AwsServicesOfThisAccount"
    ])
    error_message = "AWS services of this account are scoped by aws:SourceAccount"
  }

  assert {
    condition     = !strcontains(aws_kms_key.this.policy, "EventBridgeToEncryptedTopics")
    error_message = "no unconditioned events statement unless asked for"
  }
}

# Issue 11 item 4: EventBridge -> KMS-encrypted SNS needs the events principal
# without an aws:SourceAccount condition (SNS does not pass one to KMS).
run "eventbridge_may_publish_to_encrypted_topics" {
  command = plan

  variables {
    events_publish_to_encrypted_topics = true
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_kms_key.this.policy).Statement :
      try(s.Sid == "EventBridgeToEncryptedTopics" && s.Principal.Service == "events.amazonaws.com"
        && contains(s.Action, "kms:GenerateDataKey*") && contains(s.Action, "kms:Decrypt")
      && !can(s.Condition), false)
    ])
    error_message = "the events principal may generate data keys and decrypt, without a SourceAccount condition"
  }
}

# Issue 37 finding 9: a key user may not create grants (a grant is a way to
# decrypt, and to hand decryption on) unless asked for.
run "users_create_no_grants_unless_asked" {
  command = plan

  assert {
    condition = alltrue([for st in jsondecode(aws_kms_key.this.policy).Statement :
      !contains(flatten([st.Action]), "kms:CreateGrant")
    if anytrue([for p in flatten([try(st.Principal.AWS, [])]) : contains(var.user_arns, p)])])
    error_message = "the key users get no kms:CreateGrant by default"
  }
}

run "users_may_grant_for_aws_resources_when_asked" {
  command = plan

  variables {
    users_may_grant_for_aws_resources = true
  }

  assert {
    condition = anytrue([for st in jsondecode(aws_kms_key.this.policy).Statement :
      contains(flatten([st.Action]), "kms:CreateGrant") && try(st.Condition.Bool["kms:GrantIsForAWSResource"] == "true", false)
    ])
    error_message = "asked for, the users may create grants for AWS resources only"
  }
}
