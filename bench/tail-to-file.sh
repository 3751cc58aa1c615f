#!/bin/sh
# Benchmark: N reference events (default 1,000,000) from
# ../shared/bench/gen-audit-events.py, already in a file, through
# tail -> decode -> validate -> scrub -> chain -> disk buffer -> file output.
# Prints events/s (from agent start to the last event in the output), the
# agent's CPU seconds (user+system, from /proc) and its peak RSS (VmHWM).
#
# usage: bench/tail-to-file.sh [N] [fsync: batch|always|never]
# Needs a built tree: AS_BUILDDIR (default build/) holds auditshipd.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
fsync=${2:-batch}
bin=${AS_BUILDDIR:-$top/build}/auditshipd
[ -x "$bin" ] || { echo "build first: scripts/test or make" >&2; exit 1; }
# About 2.5 KiB of disk per event: input copy, buffer segments, output.
need_kb=$((n * 5 / 2 + 1048576))
free_kb=$(df -Pk /tmp | awk 'NR == 2 {print $4}')
[ "$free_kb" -ge "$need_kb" ] || { echo "need $need_kb KiB free in /tmp, have $free_kb" >&2; exit 1; }
work=$(mktemp -d /tmp/auditship-bench.XXXXXX)
trap 'kill -9 $pid 2>/dev/null; [ -n "${AS_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cache=/tmp/auditship-bench-events-$n.ndjson
if [ ! -s "$cache" ]; then
    # Atomically: an interrupted generation must not leave a short cache.
    python3 "$top/../shared/bench/gen-audit-events.py" -n "$n" > "$cache.tmp.$$"
    mv "$cache.tmp.$$" "$cache"
fi
mkdir -p "$work/in"
cp "$cache" "$work/in/audit.ndjson"
bytes=$(wc -c < "$work/in/audit.ndjson")
cat > "$work/agent.yaml" <<EOC
agent:
  state_dir: $work/state
  hostname: bench
  log_level: warn
  http: {listen: ""}
inputs:
  - id: app
    type: file
    paths: ["$work/in/*.ndjson"]
buffer:
  fsync: $fsync
  max_bytes: 4GiB
outputs:
  - id: local
    type: file
    path: $work/out/audit.ndjson
    rotate: {max_bytes: 0}
EOC
t0=$(date +%s.%N)
"$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
pid=$!
# Count the output's lines incrementally: re-reading the whole growing file
# on every poll would take a CPU from the agent on a 2-core machine.
python3 - "$work/out/audit.ndjson" "$n" "$pid" <<'EOW' || { echo "agent died or stalled" >&2; cat "$work/agent.log" >&2; exit 1; }
import os, sys, time
path, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f, got = None, 0
last, since = -1, time.monotonic()
while got < n:
    if got != last:
        last, since = got, time.monotonic()
    elif time.monotonic() - since > 60:
        sys.exit(f"no progress for 60 s at {got} of {n} events")
    if f is None:
        try:
            f = open(path, 'rb', buffering=0)
        except FileNotFoundError:
            pass
    if f is not None:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            got += b.count(b'\n')
    if got >= n:
        break
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    time.sleep(0.05)
EOW
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
ticks=$(awk '{print $14 + $15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
threads=$(for t in /proc/$pid/task/*; do
    awk -v hz="$hz" '{ sub(/^[0-9]+ \(/, ""); name = $0; sub(/\).*/, "", name); sub(/^[^)]*\) /, "");
        printf "%s=%.2fs ", name, ($12 + $13) / hz }' "$t/stat"; done)
kill -TERM $pid
wait $pid || true
python3 - "$n" "$t0" "$t1" "$ticks" "$hz" "$hwm" "$bytes" "$fsync" <<'EOP'
import sys
n, t0, t1, ticks, hz, hwm, size, fsync = sys.argv[1:]
n = int(n); el = float(t1) - float(t0); cpu = int(ticks) / int(hz)
print(f"tail->file fsync={fsync}: {n} events ({int(size)/n:.0f} B each) in {el:.2f} s: "
      f"{n/el:,.0f} events/s, CPU {cpu:.2f} s ({cpu/n*1e6:.2f} us/event), "
      f"peak RSS {int(hwm)/1024:.1f} MiB")
EOP
echo "per thread (CPU s): $threads"
