#!/bin/sh
# Benchmark: N reference events (default 1,000,000) from
# ../shared/bench/gen-audit-events.py sent to the socket input, through
# decode -> validate -> scrub -> chain -> disk buffer -> file output.
#   stream:   over C concurrent connections (default 4), one sending process
#             each (tests/integration/sock_client.py stream);
#   datagram: one datagram per event from C non-blocking sending processes,
#             which retry on EAGAIN (sock_client.py dgram).
# Prints events/s (from the release of the senders, which have read,
# split and connected by then, to the last event in the output), the
# agent's CPU seconds (user+system, from /proc) and CPU per event, its peak
# RSS (VmHWM), and the senders' CPU from the release on (they run on the
# same machine: about 0.15 s per 1,000,000 streamed events).  Each sender
# sends one contiguous part of the events from a shared mmap of the file:
# senders holding private copies took gigabytes of memory, which on this VM
# made the agent's own page-cache writes slower (bench/README.md).  The ingest
# alone is measured by
#   AS_SOCKET_BENCH=FILE build/tests/unit/test_socket
#
# usage: bench/socket-to-file.sh [N] [stream|datagram] [C]
# Needs a built tree: AS_BUILDDIR (default build/) holds auditshipd.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
mode=${2:-stream}
conns=${3:-4}
bin=${AS_BUILDDIR:-$top/build}/auditshipd
client=$top/tests/integration/sock_client.py
[ -x "$bin" ] || { echo "build first: scripts/test or make" >&2; exit 1; }
case $mode in
stream) cmd="stream --conns $conns" ;;
datagram) cmd="dgram --procs $conns" ;;
*) echo "mode: stream or datagram" >&2; exit 2 ;;
esac
. "$top/bench/lib.sh"
# About 2 KiB of disk per event: buffer segments and output.
bench_need_disk $((n * 2 + 1048576))
work=$(mktemp -d /tmp/auditship-bench-sock.XXXXXX)
pid=
cpid=
trap '[ -z "$cpid" ] || kill -9 $cpid 2>/dev/null || :; [ -z "$pid" ] || kill -9 $pid 2>/dev/null || :; [ -n "${AS_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 130' HUP INT PIPE TERM
cache=$(bench_events "$n")
bytes=$(wc -c < "$cache")
{ bench_conf "$mode"; bench_conf_file_output; } > "$work/agent.yaml"
"$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
pid=$!
while [ ! -S "$work/audit.sock" ]; do
    kill -0 $pid 2>/dev/null || { cat "$work/agent.log" >&2; exit 1; }
    sleep 0.05
done
# The senders read and split the events and connect first; the clock
# starts when they are released.
python3 "$client" $cmd --go "$work/go" --socket "$work/audit.sock" "$cache" 2> "$work/client.log" &
cpid=$!
while [ ! -e "$work/go.ready" ]; do
    kill -0 $cpid 2>/dev/null || { echo "client failed" >&2; exit 1; }
    sleep 0.05
done
t0=$(date +%s.%N)
echo go > "$work/go"
t1=$(bench_wait_lines "$work/out/audit.ndjson" "$n" "$pid") ||
    { echo "agent died or stalled" >&2; cat "$work/agent.log" >&2; exit 1; }
wait $cpid || { echo "client failed" >&2; cat "$work/client.log" >&2; exit 1; }
cpid=
bench_agent_stats $pid
kill -TERM $pid
wait $pid || true
pid=
python3 - "$n" "$t0" "$t1" "$ticks" "$hz" "$hwm" "$bytes" "$mode" "$conns" <<'EOP'
import sys
n, t0, t1, ticks, hz, hwm, size, mode, conns = sys.argv[1:]
n = int(n); el = float(t1) - float(t0); cpu = int(ticks) / int(hz)
print(f"socket({mode}, {conns} senders)->file: {n} events ({int(size)/n:.0f} B each) "
      f"in {el:.2f} s: {n/el:,.0f} events/s, agent CPU {cpu:.2f} s "
      f"({cpu/n*1e6:.2f} us/event), peak RSS {int(hwm)/1024:.1f} MiB")
EOP
echo "per thread (CPU s): $threads"
sed -n "s/^sock_client: //p" "$work/client.log"
