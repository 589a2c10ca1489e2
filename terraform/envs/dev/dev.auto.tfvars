# What makes this environment dev: smaller and cheaper. The composition is
# envs/prod's (main.tf, variables.tf, outputs.tf and versions.tf are symlinks).
environment                  = "dev"
aurora_instance_class        = "db.t4g.medium"
aurora_backup_retention_days = 7
ecs_at_max_minutes           = 10

ecs_services = {
  pagos-svc          = { min = 1, max = 3, desired = 1 }
  recargas-svc       = { min = 1, max = 3, desired = 1 }
  onboarding-svc     = { min = 1, max = 2, desired = 1 }
  ledger-svc         = { min = 1, max = 2, desired = 1 }
  notificaciones-svc = { min = 1, max = 2, desired = 1 }
}
