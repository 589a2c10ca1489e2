# What makes this environment prod (the composition is in main.tf, shared with envs/dev).
environment                  = "prod"
aurora_instance_class        = "db.r7g.large"
aurora_backup_retention_days = 14
ecs_at_max_minutes           = 5

ecs_services = {
  pagos-svc          = { min = 3, max = 24, desired = 4 }
  recargas-svc       = { min = 2, max = 16, desired = 3 }
  onboarding-svc     = { min = 2, max = 8, desired = 2 }
  kyc-svc            = { min = 2, max = 10, desired = 2 }
  ledger-svc         = { min = 3, max = 12, desired = 3 }
  notificaciones-svc = { min = 2, max = 10, desired = 2 }
  auth-svc           = { min = 3, max = 20, desired = 4 }
  api-gateway-svc    = { min = 3, max = 24, desired = 4 }
}
