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
. "$top/bench/lib.sh"
bench_tail_input "$n"
{ bench_conf tail "fsync: $fsync"; bench_conf_file_output; } > "$work/agent.yaml"
t0=$(date +%s.%N)
"$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
pid=$!
t1=$(bench_wait_lines "$work/out/audit.ndjson" "$n" "$pid") ||
    { echo "agent died or stalled" >&2; cat "$work/agent.log" >&2; exit 1; }
bench_agent_stats $pid
kill -TERM $pid
wait $pid || true
pid=
python3 - "$n" "$t0" "$t1" "$ticks" "$hz" "$hwm" "$bytes" "$fsync" "$sticks" <<'EOP'
import sys
n, t0, t1, ticks, hz, hwm, size, fsync, sticks = sys.argv[1:]
n = int(n); el = float(t1) - float(t0); cpu = int(ticks) / int(hz)
print(f"tail->file fsync={fsync}: {n} events ({int(size)/n:.0f} B each) in {el:.2f} s: "
      f"{n/el:,.0f} events/s, CPU {cpu:.2f} s ({cpu/n*1e6:.2f} us/event, "
      f"system {int(sticks)/int(hz):.2f} s), "
      f"peak RSS {int(hwm)/1024:.1f} MiB")
EOP
echo "per thread (CPU s): $threads"
