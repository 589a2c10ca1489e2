#!/usr/bin/env bash
# What `costjob refresh` needs for a month's window, against one day's run:
# samples DAYS consecutive days of N transactions (each its own CUR file and
# dated log directory, as a month of exports), then runs, with /usr/bin/time,
# one day alone and the whole window through `refresh --from --to`, and
# prints their wall clock and peak resident memory.
#
# Usage: bash tests/bench/refresh_month.sh <costjob binary> [N=100000] [DAYS=30]
set -euo pipefail
binary=$(realpath "$1")
n=${2:-100000}
days=${3:-30}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-/tmp/costjob-refresh-month-$n-$days}
first=2026-11-01
last=$(date -u -d "$first + $((days - 1)) days" +%F)

if [ ! -f "$work/.complete" ]; then
  rm -rf "$work"
  mkdir -p "$work/cur" "$work/logs"
  for i in $(seq 0 $((days - 1))); do
    d=$(date -u -d "$first + $i days" +%F)
    "$binary" sample --out "$work/s" --date "$d" --transactions "$n" --streams-per-service 29 >/dev/null
    mv "$work/s/cur/"*.parquet "$work/cur/"
    mv "$work/s/logs" "$work/logs/$d"
    rm -rf "$work/s"
  done
  touch "$work/.complete"
fi
cat > "$work/costjob.toml" <<TOML
[cur]
path = "cur"
accounts = ["123456789012"]
[logs]
path = "logs/{date}"
format = "cloudwatch-export"
[output]
path = "out"
[pricing]
path = "$repo/pricing"
$(sed -n '/^\[\[flow\]\]/,$p' "$repo/examples/costjob.toml")
TOML

# measure <label> <clean|keep> <costjob arguments...>
measure() {
  local what=$1 output=$2
  shift 2
  [ "$output" = keep ] || rm -rf "$work/out"
  /usr/bin/time -f "%e %M" -o "$work/time" "$binary" "$@" --config "$work/costjob.toml" >/dev/null 2>"$work/stderr" \
    || { cat "$work/stderr" >&2; exit 1; }
  read -r seconds kib < "$work/time"
  printf '%-40s %8.2f s  %6d MiB\n' "$what" "$seconds" $((kib / 1024))
}

echo "$days days of $n transactions under $work"
measure "run --date $first (one day)" clean run --date "$first"
measure "refresh --from $first --to $last" clean refresh --from "$first" --to "$last"
measure "refresh again (nothing changed)" keep refresh --from "$first" --to "$last"
