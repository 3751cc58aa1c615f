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
work=$(mktemp -d /tmp/auditship-bench.XXXXXX)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
cache=/tmp/auditship-bench-events-$n.ndjson
[ -s "$cache" ] || python3 "$top/../shared/bench/gen-audit-events.py" -n "$n" > "$cache"
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
while :; do
    got=$(cat "$work/out/audit.ndjson" 2>/dev/null | wc -l)
    [ "$got" -ge "$n" ] && break
    kill -0 $pid 2>/dev/null || { echo "agent died" >&2; cat "$work/agent.log" >&2; exit 1; }
    sleep 0.05
done
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
ticks=$(awk '{print $14 + $15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
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
