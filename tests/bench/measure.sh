# Sourced by the benchmarks (tests/bench.sh, tests/bench/log_engines.sh): `measure`.
# shellcheck shell=bash
measure() {  # label, command...: wall seconds and peak RSS (MiB) of the command and its children
  # A command whose processes together pass the memory budget (default 80% of
  # the machine's memory) is stopped and reported as not fitting, before the
  # kernel's OOM killer picks a process of its own.
  python3 - "$@" <<'PY'
import os, resource, signal, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
total = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:"))) // 1024
budget = int(os.environ.get("BENCH_MEMORY_BUDGET_MIB", total * 8 // 10))
def tree(pid):
    try:
        kids = [int(c) for t in os.listdir(f"/proc/{pid}/task") for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
    except OSError:
        return []
    return [pid] + [p for k in kids for p in tree(k)]
def rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            total += int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")))
        except (OSError, StopIteration):
            pass
    return total // 1024
t = time.monotonic()
child = subprocess.Popen(cmd)
over = False
while child.poll() is None:
    pids = tree(child.pid)
    if rss_mib(pids) > budget:
        over = True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        child.wait()
        break
    time.sleep(0.1)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if over:
    print(f"{label}: does not fit: passed the memory budget of {budget:,} MiB after {wall:.2f} s")
elif child.returncode == 99:  # tests/bench/peer.py: the engine stopped at its own memory limit
    print(f"{label}: does not fit: stopped at its own memory limit after {wall:.2f} s")
elif child.returncode != 0:
    sys.exit(f"{label}: failed with exit status {child.returncode} after {wall:.2f} s")
else:
    print(f"{label}: {wall:.2f} s, peak RSS {rss:.0f} MiB")
PY
}
