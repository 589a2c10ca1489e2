#!/usr/bin/env bash
# SPEC 14: one task's memory with each log engine, by the size of the day
# (not part of the test suite: timings never go in tests).
#   bash tests/bench/log_engines.sh [SIZE ...]   # default: 100000 1000000
# For each SIZE (transactions) it makes the day as tests/bench.sh does
# (`costjob sample`, kept in /tmp/costjob-bench-SIZE), uploads its logs to a
# loopback moto server under exports-SIZE/<day>/, creates the logs table of
# sql/logs_table.sql over them and starts the Athena stand-in
# (tests/stand_ins/athena_server.py: the query on DuckDB), then runs the day
#   - with the logs read here (`[logs] source = "local"`, streamed from S3),
#   - with the logs read through Athena (`--logs-engine athena`),
# (ENGINES="local" or "athena" runs one of them: the stand-in takes about
# 100 s per million transactions on this machine, and more memory than the
# task), and prints each run's wall time and peak RSS (the task's process only: the
# stand-in's time and memory are Athena's, not the task's, and DuckDB in one
# process is no measure of a distributed engine), the bytes the query scanned
# and what that costs, and whether both runs published equal tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
date=2026-11-23
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costjob-target}"
cargo build --release --locked --quiet
bin="$CARGO_TARGET_DIR/release/costjob"
. tests/bench/measure.sh

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return; sleep 0.1; done; }
moto_port=$(free_port)
python3 -m moto.server -H 127.0.0.1 -p "$moto_port" > /dev/null 2>&1 &
moto_pid=$!
athena_port=$(free_port)
trap 'kill $moto_pid ${athena_pid:-} 2> /dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
wait_port "$moto_port"
python3 tests/stand_ins/aws_fixture.py setup bench-out costjob s3://bench-out/costjob
python3 tests/stand_ins/athena_server.py --port "$athena_port" --moto "$AWS_ENDPOINT_URL" &
athena_pid=$!
wait_port "$athena_port"
export AWS_ENDPOINT_URL_ATHENA="http://127.0.0.1:$athena_port"

for n in "${sizes[@]}"; do
  work=/tmp/costjob-bench-$n
  if [ ! -f "$work/.complete" ]; then
    rm -rf "$work"
    "$bin" sample --out "$work" --date "$date" --transactions "$n" --streams-per-service 29
    touch "$work/.complete"
  fi
  python3 tests/stand_ins/aws_fixture.py upload "$work/logs" "s3://logs/exports-$n/$date/"
  python3 tests/stand_ins/aws_fixture.py logs-table costjob "logs_$n" "s3://logs/exports-$n/"
  cat > "$work/log-engines.toml" <<TOML
[cur]
path = "cur"
workgroup = "costjob"
output_location = "s3://athena-results/bench"
query_timeout_s = 7200
[logs]
path = "s3://logs/exports-$n/{date}/"
format = "cloudwatch-export"
database = "costjob"
table = "logs_$n"
[output]
path = "out-logs-local"
[pricing]
path = "$(pwd)/pricing"
$(sed -n '/^\[\[flow\]\]/,$p' examples/costjob.toml)
TOML
  rm -rf "$work/out-logs-local" "$work/out-logs-athena"
  echo "== $n transactions"
  engines=${ENGINES:-local athena}
  if [[ $engines == *local* ]]; then
    measure "logs engine local (streamed from S3)" sh -c \
      "cd '$work' && '$bin' run --config log-engines.toml --date $date > /dev/null 2> run-logs-local.log"
  fi
  [[ $engines == *athena* ]] || continue
  measure "logs engine athena (the task only)" sh -c \
    "cd '$work' && '$bin' run --config log-engines.toml --date $date --logs-engine athena --output out-logs-athena > run-logs-athena.txt 2> run-logs-athena.log"
  grep -h "logs read by" "$work/run-logs-athena.txt"
  python3 - "$work/run-logs-athena.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    fields = event.get("fields", event)
    if fields.get("stage") == "logs":
        print(f"  logs stage: {fields.get('seconds', 0):.2f} s, peak RSS {fields.get('peak_rss_mib')} MiB, "
              f"{fields.get('transactions')} transactions, {fields.get('bytes_scanned')} bytes scanned, "
              f"{fields.get('unloaded_bytes')} bytes unloaded")
PY
  if [[ $engines == *local* ]]; then
    python3 tests/bench/same_tables.py "$work/out-logs-local" "$work/out-logs-athena" "$date" | tail -1
  fi
done
