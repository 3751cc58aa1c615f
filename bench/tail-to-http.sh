#!/bin/sh
# Benchmark: N reference events (default 1,000,000) from
# ../shared/bench/gen-audit-events.py, already in a file, through
# tail -> decode -> validate -> scrub -> chain -> disk buffer -> http output
# (gzip) to a collector on loopback that decompresses and counts each
# request and writes nothing: bench/http-sink (C, libdeflate; built by
# `make check`), or with AS_BENCH_COLLECTOR=py the test collector
# (tests/tools/collector.py --count-only), which takes about 4 us of CPU
# per event from the same 2 cores.  Prints events/s (from agent start to
# the last event counted by the collector), the agent's CPU seconds
# (user+system, from /proc), its peak RSS (VmHWM), the compressed bytes per
# event on the wire (request bodies only) and the collector's CPU.
#
# The http output's batch.timeout is 0s here, as the file output's in
# bench/tail-to-file.sh: a finite run otherwise ends with the last partial
# batch waiting up to the default 1s for more events.
# AS_BENCH_HTTP_TIMEOUT=1s gives the figure with the default.
#
# usage: bench/tail-to-http.sh [N] [gzip level 1-9] [concurrency]
# Needs a built tree: AS_BUILDDIR (default build/) holds auditshipd and
# bench/http-sink.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
level=${2:-1}
conc=${3:-2}
bin=${AS_BUILDDIR:-$top/build}/auditshipd
sink=${AS_BUILDDIR:-$top/build}/bench/http-sink
collector=$top/tests/tools/collector.py
[ -x "$bin" ] || { echo "build first: scripts/test or make" >&2; exit 1; }
case ${AS_BENCH_COLLECTOR:-c} in
py) ;;
*) [ -x "$sink" ] || { echo "build bench/http-sink first: make check" >&2; exit 1; } ;;
esac
. "$top/bench/lib.sh"
bench_tail_input "$n"
# The collector gets a core of its own when there are enough.
if [ "${AS_BENCH_COLLECTOR:-c}" = py ]; then
    python3 "$collector" serve --count-only --port-file "$work/port" \
        > "$work/collector.log" 2>&1 &
else
    "$sink" --port-file "$work/port" --expect "$n" > "$work/collector.log" 2>&1 &
fi
cpid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "collector did not start" >&2; exit 1; }
    sleep 0.1
done
port=$(cat "$work/port")
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
{
    bench_conf tail
    cat <<EOC
outputs:
  - id: collector
    type: http
    url: http://127.0.0.1:$port/v1/audit
    compression: gzip
    compression_level: $level
    concurrency: $conc
    batch:
      timeout: ${AS_BENCH_HTTP_TIMEOUT:-0s}
EOC
} > "$work/agent.yaml"
t0=$(date +%s.%N)
"$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
pid=$!
python3 - "$port" "$n" "$pid" <<'EOW' > "$work/t1" || { echo "agent died or stalled" >&2; cat "$work/agent.log" >&2; exit 1; }
import json, os, sys, time, urllib.request
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
url = "http://127.0.0.1:%d/_stats" % port
last, since = -1, time.time()
# http-sink notes when the last event came (done_at), so a slow poll
# costs no precision; collector.py has no done_at: the poll's time then.
while True:
    with urllib.request.urlopen(url, timeout=10) as r:
        st = json.load(r)
    got = st["dedup_lines"]
    if got >= n:
        print("%.6f" % (st.get("done_at") or time.time()))
        break
    if got != last:
        last, since = got, time.time()
    elif time.time() - since > 60:
        sys.exit(1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    time.sleep(0.25)
EOW
t1=$(cat "$work/t1")
bench_agent_stats $pid
cticks=$(awk '{print $14 + $15}' /proc/$cpid/stat)
stats=$(python3 "$collector" stats "$port")
kill -TERM $pid
wait $pid || true
pid=
python3 - "$n" "$t0" "$t1" "$ticks" "$hz" "$hwm" "$bytes" "$level" "$conc" "$cticks" "$stats" <<'EOP'
import json, sys
n, t0, t1, ticks, hz, hwm, size, level, conc, cticks, stats = sys.argv[1:]
n = int(n); el = float(t1) - float(t0); cpu = int(ticks) / int(hz)
st = json.loads(stats)
print(f"tail->http gzip level {level}, concurrency {conc}: {n} events "
      f"({int(size)/n:.0f} B each) in {el:.2f} s: {n/el:,.0f} events/s, "
      f"CPU {cpu:.2f} s ({cpu/n*1e6:.2f} us/event), peak RSS "
      f"{int(hwm)/1024:.1f} MiB, {st['bytes']/n:.1f} compressed bytes/event "
      f"({st['decoded_bytes']/n:.0f} B before gzip, {st['requests']} requests, "
      f"{st['dups']} duplicates)")
print(f"collector CPU {int(cticks)/int(hz):.2f} s")
EOP
echo "per thread (CPU s): $threads"
