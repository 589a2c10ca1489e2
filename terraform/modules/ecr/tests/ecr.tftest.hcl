mock_provider "aws" {}

variables {
  name        = "costjob"
  kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"
}

run "immutable_scanned_encrypted" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "tags are immutable: a tag names one image forever"
  }
  assert {
    condition     = one(aws_ecr_repository.this.image_scanning_configuration).scan_on_push
    error_message = "every push is scanned"
  }
  assert {
    condition = (one(aws_ecr_repository.this.encryption_configuration).encryption_type == "KMS"
    && one(aws_ecr_repository.this.encryption_configuration).kms_key == var.kms_key_arn)
    error_message = "images are encrypted with the platform key"
  }
  assert {
    condition     = !aws_ecr_repository.this.force_delete
    error_message = "a destroy does not delete images silently"
  }
  assert {
    condition = (jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection.countNumber == 30
    && jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection.countType == "imageCountMoreThan")
    error_message = "the last 30 tagged images are kept"
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name        = "Costjob"
    kms_key_arn = "alias/aws/ecr"
    images_kept = 1
  }

  expect_failures = [var.name, var.kms_key_arn, var.images_kept]
}
