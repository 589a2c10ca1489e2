#!/usr/bin/env bash
# Every test of the repository, as the README gives it and .ci/run runs it:
#   1. cargo test (unit tests + the integration binary tests/it)
#   2. Terraform: fmt -check, init -backend=false + validate for every module and env,
#      terraform test for every module and env with tests
#   3. checkov over terraform/ (offline)
# Installs what it needs (checkov from PyPI) and fails loudly when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costjob-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "cargo test (target dir $CARGO_TARGET_DIR)"
command -v cargo >/dev/null || die "cargo is not installed"
cargo test --locked

step "terraform"
command -v terraform >/dev/null || die "terraform is not installed: the Terraform checks cannot run (install Terraform >= 1.11)"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
[ -d "$plugin_dir" ] || die "no provider mirror at $plugin_dir (set TF_PLUGIN_DIR): terraform init cannot run offline"
terraform fmt -check -recursive -diff terraform
tf_cli_config=$(mktemp)  # an empty CLI config: no credentials helpers, no registry mirrors
trap 'rm -f "$tf_cli_config"' EXIT
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE="${TF_CLI_CONFIG_FILE:-$tf_cli_config}"
tf_dirs=$(find terraform/modules terraform/envs -mindepth 1 -maxdepth 1 -type d | sort)
[ -n "$tf_dirs" ] || die "no Terraform modules or envs found"
tests_run=0
for dir in $tf_dirs; do
  step "terraform init + validate + test: $dir"
  (
    cd "$dir"
    rm -rf .terraform .terraform.lock.hcl
    terraform init -backend=false -plugin-dir="$plugin_dir" -input=false -no-color >/dev/null
    terraform validate -no-color
    if compgen -G "tests/*.tftest.hcl" >/dev/null || compgen -G "*.tftest.hcl" >/dev/null; then
      terraform test -no-color
    fi
    rm -rf .terraform .terraform.lock.hcl
  )
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then tests_run=$((tests_run + 1)); fi
done
[ "$tests_run" -gt 0 ] || die "no terraform test files ran"

step "checkov"
if ! command -v checkov >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'checkov>=3,<4' || die "could not install checkov"
fi
checkov -d terraform --framework terraform --skip-download --quiet --compact
step "all checks passed"
