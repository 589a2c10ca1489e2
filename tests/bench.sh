#!/usr/bin/env bash
# The benchmark of SPEC 8 (not part of the test suite: timings never go in tests).
#   bash tests/bench.sh [TRANSACTIONS] [WORKDIR]
# Makes a day with `costjob sample` (TRANSACTIONS, default 5,000,000: the reference
# "deuna scale" day; 200 log files; one CUR row per 5 transactions), then measures:
#   - costjob run: wall time, events/s, MB/s of gzip read, peak RSS;
#   - zcat of every log file, split over both cores (the decompression floor);
#   - DuckDB and Polars (2 threads each) doing the same whole job on the same files:
#     per-transaction units, pools, pro-rata split, per-transaction Parquet written
#     (tests/bench/duckdb_job.sql, tests/bench/peer.py);
#   - costjob run again with the logs read from S3 (a loopback moto server): peak RSS.
# Prints one line per measurement; docs/performance.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}
work=${2:-/tmp/costjob-bench-$n}
date=2026-11-23
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costjob-target}"
cargo build --release --locked --quiet
bin="$CARGO_TARGET_DIR/release/costjob"
python3 -c 'import duckdb, polars' 2>/dev/null || python3 -m pip install --quiet 'duckdb>=1' 'polars>=1'
results="$work/results.txt"
: > "$results"

if [ ! -f "$work/.complete" ]; then
  rm -rf "$work"
  # 7 services x 29 streams = 203 files, as the reference day's ~200.
  "$bin" sample --out "$work" --date "$date" --transactions "$n" --streams-per-service 29
  touch "$work/.complete"
fi
cat > "$work/costjob.toml" <<TOML
[cur]
path = "cur"
[logs]
path = "logs"
format = "cloudwatch-export"
[output]
path = "out"
[pricing]
path = "$(pwd)/pricing"
$(sed -n '/^\[\[flow\]\]/,$p' examples/costjob.toml)
TOML

gz_bytes=$(find "$work/logs" -name '*.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$work/logs" -name '*.gz' | wc -l)
echo "data: $n transactions, $files log files, $((gz_bytes / 1000000)) MB gzip, $(du -sm "$work/cur" | cut -f1) MB CUR"

measure() {  # label, command...: wall seconds and peak RSS (MiB) of the command and its children
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
subprocess.run(cmd, check=True)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label}: {wall:.2f} s, peak RSS {rss:.0f} MiB")
PY
}
record() {  # the same, and keep "label<TAB>wall<TAB>rss" for the summary table
  local out line
  out=$(measure "$@")
  echo "$out"
  line=$(tail -n 1 <<< "$out")
  python3 -c 'import re, sys; m = re.match(r"(.*): ([0-9.]+) s, peak RSS ([0-9]+) MiB", sys.argv[1]); print(*m.groups(), sep="\t")' "$line" >> "$results"
}

record "zcat, 2 processes (floor)" sh -c "find '$work/logs' -name '*.gz' -print0 | xargs -0 -P2 -n 16 zcat > /dev/null"
raw_bytes=$(find "$work/logs" -name '*.gz' -print0 | xargs -0 -P2 -n 16 zcat | wc -c)
echo "raw JSON: $((raw_bytes / 1000000)) MB"

rm -rf "$work/out"
start=$(date +%s.%N)
record "costjob" sh -c "'$bin' run --config '$work/costjob.toml' --date $date > /dev/null 2> '$work/run.log'"
end=$(date +%s.%N)
python3 - "$work/run.log" "$start" "$end" "$gz_bytes" "$raw_bytes" <<'PY'
import json, sys
events = next(json.loads(l) for l in open(sys.argv[1]) if '"stage":"logs"' in l)
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"costjob: {events['events']} events, {events['transactions']} transactions in {wall:.2f} s: "
      f"{events['events'] / wall:,.0f} events/s, {int(sys.argv[4]) / wall / 1e6:.0f} MB/s gzip, "
      f"{int(sys.argv[5]) / wall / 1e6:.0f} MB/s JSON (log stage alone {events['seconds']:.2f} s)")
PY

events=$(python3 -c 'import json, sys; print(next(json.loads(l) for l in open(sys.argv[1]) if "\"stage\":\"logs\"" in l)["events"])' "$work/run.log")
for engine in duckdb polars; do
  rm -rf "$work/peer-$engine"
  record "$engine" python3 tests/bench/peer.py "$engine" "$work/logs" "$work/cur" "$date" "$work/peer-$engine"
done
python3 - "$results" "$events" "$gz_bytes" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
events, gz = int(sys.argv[2]), int(sys.argv[3])
t = {label: float(wall) for label, wall, _ in rows}
print("\n| engine | wall | events/s | MB/s gzip | peak RSS |\n| --- | --- | --- | --- | --- |")
for label, wall, rss in rows:
    w = float(wall)
    print(f"| {label} | {w:.2f} s | {events / w / 1e6:.2f} M | {gz / w / 1e6:.0f} | {int(rss):,} MiB |")
cj = t["costjob"]
floor = next(v for k, v in t.items() if k.startswith("zcat"))
print(f"\ncostjob vs DuckDB: {t['duckdb'] / cj:.2f}x its throughput (SPEC 8: >= 3x)")
print(f"costjob vs Polars: {t['polars'] / cj:.2f}x (SPEC 8: > 1x)")
print(f"costjob vs the zcat floor: {cj / floor:.2f}x its time (SPEC 8: <= 2x)")
PY

# The same run reading its logs from S3: a moto server on loopback (started
# here, stopped on exit), the logs uploaded to it, CUR and output local, so the
# two runs differ only in where the logs come from. SPEC 2.6 asks for the S3
# run's peak RSS to stay within 10% of the local run's.
python3 -c 'import moto, boto3' 2>/dev/null || python3 -m pip install --quiet 'moto[server]>=5,<6'
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2> /dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break; sleep 0.1; done
python3 tests/stand_ins/aws_fixture.py setup bench-out bench s3://bench-out/costjob
python3 tests/stand_ins/aws_fixture.py upload "$work/logs" s3://logs/bench
sed 's|^path = "logs"|path = "s3://logs/bench"|' "$work/costjob.toml" > "$work/costjob-s3.toml"
rm -rf "$work/out"
measure "costjob run, logs from S3 (moto)" sh -c "'$bin' run --config '$work/costjob-s3.toml' --date $date > /dev/null 2> '$work/run-s3.log'"
