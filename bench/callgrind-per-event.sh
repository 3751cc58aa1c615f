#!/bin/sh
# Instructions per event (valgrind callgrind: repeatable, unlike wall time
# on a shared machine) for N reference events (default 20,000) through
# tail -> chain -> buffer -> file output, counted over every thread from
# start to SIGTERM.  Under valgrind OpenSSL runs its generic SHA-256 (no
# SHA-NI), so SHA weighs more here than on the CPU.
#
# usage: bench/callgrind-per-event.sh [N]
# AS_CG_THREADS=1 also prints each thread's share (callgrind
# --separate-threads): thread 1 is the loop thread, the pipeline's serial
# part; the two CPU-bound workers come next, then the libuv pool.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
bin=${AS_BUILDDIR:-$top/build}/auditshipd
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
work=$(mktemp -d /tmp/auditship-cg.XXXXXX)
trap '[ -n "${AS_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 130' HUP INT PIPE TERM
mkdir -p "$work/in"
python3 "$top/../shared/bench/gen-audit-events.py" -n "$n" > "$work/in/a.ndjson"
cat > "$work/a.yaml" <<EOC
agent:
  state_dir: $work/state
  hostname: bench
  log_level: warn
  shutdown_timeout: 60s
  http: {listen: ""}
inputs:
  - {id: app, type: file, paths: ["$work/in/*.ndjson"]}
outputs:
  - {id: local, type: file, path: $work/out/audit.ndjson}
EOC
[ -z "${AS_CG_THREADS:-}" ] || AS_CG_OPTS="${AS_CG_OPTS:-} --separate-threads=yes"
valgrind --tool=callgrind ${AS_CG_OPTS:-} --callgrind-out-file="$work/cg.out" "$bin" -c "$work/a.yaml" 2>/dev/null &
pid=$!
while [ "$(cat "$work/out/audit.ndjson" 2>/dev/null | wc -l)" -lt "$n" ]; do
    sleep 0.5
done
kill -TERM $pid
wait $pid || true
if [ -n "${AS_CG_THREADS:-}" ]; then
    total=0
    for f in "$work"/cg.out-*; do
        i=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
        t=${f##*-}
        awk -v i="$i" -v n="$n" -v t="$t" 'BEGIN { printf "thread %s: %.0f instructions/event\n", t, i / n }'
        total=$((total + i))
    done
    awk -v i="$total" -v n="$n" 'BEGIN { printf "%d events: %.0f instructions/event\n", n, i / n }'
    exit 0
fi
[ -z "${AS_BENCH_KEEP:-}" ] || callgrind_annotate "$work/cg.out" 2>/dev/null | head -60
callgrind_annotate "$work/cg.out" 2>/dev/null | awk -v n="$n" '/PROGRAM TOTALS/ {
    gsub(",", "", $1); printf "%d events: %.0f instructions/event\n", n, $1 / n }'
