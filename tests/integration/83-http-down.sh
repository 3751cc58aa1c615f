#!/bin/sh
# Proves that a collector down for a long time neither loses events nor
# grows the agent's memory: the backlog waits in the disk buffer.  The
# collector is stopped for AS_HTTP_DOWN_SECS (default 60) while
# AS_HTTP_DOWN_EVENTS (default 200,000) events are written; then it comes
# back and every event arrives, once in the deduplicated copy, and the chain
# verifies from the collector's copy; a file output next to it gets every
# event during the outage (a dead destination stalls no other output).
# The agent's peak RSS (VmHWM) is read after a warm-up, at the end of the
# outage and at the end, and must not grow by more than 8 MiB past the
# warm-up (it is printed; not asserted in an AddressSanitizer build, whose
# quarantine and shadow memory dominate).
#
# Under valgrind (AS_SLOW > 1) this test is skipped unless
# AS_HTTP_DOWN_SECS is set: 200,000 events through memcheck take too long,
# and the other http tests run the same code paths there.
. "$(dirname "$0")/lib.sh"
if [ "$AS_SLOW" -gt 1 ] && [ -z "${AS_HTTP_DOWN_SECS:-}" ]; then
    skip_all "long outage test; set AS_HTTP_DOWN_SECS to run it under valgrind"
fi
as_tmpdir
. "$(dirname "$0")/http-lib.sh"
plan 10

DOWN=${AS_HTTP_DOWN_SECS:-60}
N=${AS_HTTP_DOWN_EVENTS:-200000}
WARM=30000
CHUNKS=10
mkdir -p "$AS_TMP/in" "$AS_TMP/gen"
start_collector "$AS_TMP/col" || { not_ok "collector starts"; exit 1; }
{
    conf_agent "$AS_TMP/state" testhost "shutdown_timeout: 2s"
    echo "inputs:"
    conf_file_input app "$AS_TMP/in/*.ndjson" "rescan_interval: 200ms"
    echo "outputs:"
    conf_http_output "http://127.0.0.1:$COL_PORT/v1/audit" \
        "retry: {initial: 200ms, max: 2s}" "connect_timeout: 1s"
    conf_file_output local "$AS_TMP/out/audit.ndjson" "rotate: {max_bytes: 0}"
} > "$AS_TMP/agent.yaml"
# The outage's events, made before it starts (in chunks, appended later).
gen_events $((WARM + N)) 51 > "$AS_TMP/gen/all.ndjson"
head -n "$WARM" "$AS_TMP/gen/all.ndjson" > "$AS_TMP/gen/warm.ndjson"
tail -n +$((WARM + 1)) "$AS_TMP/gen/all.ndjson" |
    split -l $(( (N + CHUNKS - 1) / CHUNKS )) - "$AS_TMP/gen/chunk."

hwm() { awk '/VmHWM/ {print $2}' "/proc/$AS_AGENT_PID/status"; }
start_agent "$AS_TMP/agent.yaml"
cp "$AS_TMP/gen/warm.ndjson" "$AS_TMP/in/audit.ndjson"
check "warm-up: $WARM events arrive" wait_for 60 has_lines "$WARM" "$AS_TMP/col/dedup.ndjson"
hwm0=$(hwm)

stop_collector
t0=$(date +%s)
for c in "$AS_TMP"/gen/chunk.*; do
    cat "$c" >> "$AS_TMP/in/audit.ndjson"
    sleep $(( DOWN / (CHUNKS + 1) ))
done
while [ $(( $(date +%s) - t0 )) -lt "$DOWN" ]; do sleep 1; done
hwm1=$(hwm)
held=$(du -sk "$AS_TMP/state/buffer" | cut -f1)
diag "outage of $(( $(date +%s) - t0 )) s: $N events written, buffer holds $held KiB"
check "during the outage the backlog is in the disk buffer" [ "$held" -gt $((N / 10)) ]
check "nothing arrived during the outage" [ "$(lines "$AS_TMP/col/dedup.ndjson")" -eq "$WARM" ]
check "the file output was not held back by the outage" \
    wait_for 30 has_lines $((WARM + N)) "$AS_TMP/out/audit.ndjson"

start_collector "$AS_TMP/col"
check "after the outage every event arrives" wait_for 120 has_lines $((WARM + N)) "$AS_TMP/col/dedup.ndjson"
hwm2=$(hwm)
diag "peak RSS (VmHWM): ${hwm0} KiB after warm-up, ${hwm1} KiB at the end of the outage, ${hwm2} KiB at the end"
# ASan keeps freed memory in quarantine and maps shadow memory: its RSS
# says nothing about ours.
if grep -q __asan_init "$AUDITSHIPD" 2>/dev/null; then
    for what in "during the outage" "through the catch-up"; do
        AS_TEST_N=$((AS_TEST_N + 1))
        echo "ok $AS_TEST_N - peak RSS flat $what # SKIP AddressSanitizer build"
    done
else
    check "peak RSS flat during the outage (+$((hwm1 - hwm0)) KiB)" [ $((hwm1 - hwm0)) -lt 8192 ]
    check "peak RSS flat through the catch-up (+$((hwm2 - hwm0)) KiB)" [ $((hwm2 - hwm0)) -lt 8192 ]
fi
check "SIGTERM exits 0" stop_agent
check "every event once in the deduplicated copy" python3 - "$AS_TMP/gen/all.ndjson" "$AS_TMP/col/dedup.ndjson" <<'EOP'
import json, sys
sent = [json.loads(l)["id"] for l in open(sys.argv[1], "rb")]
got = [json.loads(l)["id"] for l in open(sys.argv[2], "rb")]
print("# sent %d got %d distinct %d" % (len(sent), len(got), len(set(got))))
sys.exit(not (len(got) == len(sent) and set(got) == set(sent)))
EOP
check "verify passes on the collector's copy" "$AUDITSHIPCTL" verify "$AS_TMP/col/dedup.ndjson"
