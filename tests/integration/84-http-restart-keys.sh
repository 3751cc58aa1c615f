#!/bin/sh
# Proves that the http output's Idempotency-Key survives a restart: batches
# that were sent but not yet passed by the cursor are formed again after a
# kill -9, a clean stop and a SIGHUP reload with exactly the boundaries and
# keys of their first sending, so the collector's dedup (by key) leaves no
# event twice.  Each phase holds the first batch at the collector (recorded,
# never answered) while the next ones are acknowledged (concurrency 4: the
# cursor stays before the held batch), with batches cut by the fill timeout
# around chunks of different sizes, so that batches cut anew after the
# restart would have other boundaries.  buffer.fsync is always (journal
# written on the thread pool) until the reload, then batch.  Finally a
# damaged batch journal is ignored with a warning and nothing is lost.
. "$(dirname "$0")/lib.sh"
as_tmpdir
. "$(dirname "$0")/http-lib.sh"
plan 19

mkdir -p "$AS_TMP/in"
start_collector "$AS_TMP/col" || { not_ok "collector starts"; exit 1; }
JOURNAL=$AS_TMP/state/outputs/collector.batches
# conf FSYNC: buffer.fsync always journals on the thread pool, the other
# modes on the loop thread; the reload below goes from one to the other.
conf() {
    http_conf_head "$AS_TMP/agent.yaml" "shutdown_timeout: 1s"
    {
        conf_section buffer "fsync: $1"
        echo "outputs:"
        conf_http_output "http://127.0.0.1:$COL_PORT/v1/audit" \
            "batch: {max_events: 1000, max_bytes: 1MiB, timeout: 300ms}" \
            "retry: {initial: 100ms, max: 500ms}" "connect_timeout: 1s" \
            "request_timeout: 60s" "concurrency: 4"
    } >> "$AS_TMP/agent.yaml"
}
conf always

SEED=100
# chunks N...: for each N, writes N new events in a file of their own and
# waits until the collector recorded one more request (the batch of that
# chunk, cut by the fill timeout).
chunks() {
    for _n in "$@"; do
        _want=$(( $(accepted) + 1 ))
        SEED=$((SEED + 1))
        gen_events "$_n" "$SEED" > "$AS_TMP/in/c$SEED.tmp"
        mv "$AS_TMP/in/c$SEED.tmp" "$AS_TMP/in/c$SEED.ndjson"
        wait_for 30 sh -c "[ \$(python3 '$COLLECTOR' stats $COL_PORT | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"accepted\"])') -ge $_want ]" || return 1
    done
}
accepted() { col_stat accepted; }
mark() { lines "$AS_TMP/col/requests.ndjson"; }
# all_arrived: every event written so far is at the collector.
all_arrived() {
    python3 "$(dirname "$0")/exactly_once.py" --sent "$AS_TMP"/in/*.ndjson \
        --got "$AS_TMP/col/all.ndjson" --allow-dup >/dev/null
}
# dedup_exact: the collector's deduplicated copy holds every event once.
dedup_exact() {
    python3 "$(dirname "$0")/exactly_once.py" --sent "$AS_TMP"/in/*.ndjson \
        --got "$AS_TMP/col/dedup.ndjson"
}
# same_keys FROM TO: every key the collector accepted in requests
# [FROM, TO) came again after TO (each batch was sent again with the key of
# its first sending).
same_keys() {
    python3 - "$AS_TMP/col/requests.ndjson" "$1" "$2" <<'EOP'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
a, b = int(sys.argv[2]), int(sys.argv[3])
first = [r["key"] for r in reqs[a:b] if r["accepted"]]
again = set(r["key"] for r in reqs[b:])
missing = [k for k in first if k not in again]
print("# %d batch(es) first sent, %d sent again with the same key"
      % (len(first), len(first) - len(missing)))
sys.exit(not first or bool(missing))
EOP
}
# journal_batches: the batches the journal lists.
journal_batches() {
    [ -f "$JOURNAL" ] || { echo 0; return; }
    grep -c '^[0-9]' "$JOURNAL"
}
restart_agent() {
    start_agent_wait "$AS_TMP/agent.yaml"
}

# ---- kill -9 ----
col_ctl '{"hold": 1}'
restart_agent
m0=$(mark)
check "kill -9: four batches sent, the first held" chunks 3 5 7 4
check "kill -9: the journal lists the four batches in flight" \
    [ "$(journal_batches)" -eq 4 ]
kill -9 "$AS_AGENT_PID"
wait "$AS_AGENT_PID" 2>/dev/null
AS_AGENT_PID=
col_ctl '{"release": true}'
m1=$(mark)
d0=$(col_stat dups)
restart_agent
SEED=$((SEED + 1))
gen_events 6 "$SEED" > "$AS_TMP/in/c$SEED.ndjson"
check "kill -9: every event arrives" wait_for 60 all_arrived
check "kill -9: each batch sent again with its first key" same_keys "$m0" "$m1"
check "kill -9: no event twice in the deduplicated copy" dedup_exact
diag "kill -9: $(( $(col_stat dups) - d0 )) request(s) dropped by the collector's dedup"
check "the journal is removed once nothing is in flight" \
    wait_for 20 test ! -e "$JOURNAL"

# ---- clean stop with batches unacknowledged ----
col_ctl '{"hold": 1}'
m0=$(mark)
check "stop: three batches sent, the first held" chunks 2 6 3
check "stop: SIGTERM with a batch unacknowledged exits 0" stop_agent
col_ctl '{"release": true}'
m1=$(mark)
restart_agent
check "stop: every event arrives" wait_for 60 all_arrived
check "stop: each batch sent again with its first key" same_keys "$m0" "$m1"
check "stop: no event twice in the deduplicated copy" dedup_exact

# ---- SIGHUP reload while a batch is held ----
col_ctl '{"hold": 1}'
m0=$(mark)
check "reload: two batches sent, the first held" chunks 4 2
n=$(grep -c 'SIGHUP: reloading' "$AS_TMP/agent.log")
conf batch
kill -HUP "$AS_AGENT_PID"
wait_for 20 sh -c "[ \$(grep -c 'SIGHUP: reloading' '$AS_TMP/agent.log') -gt $n ]"
# The reload waits for the held request; release it (reset: the agent
# never learns it was accepted) once the inputs have stopped.
sleep 1
m1=$(mark)
col_ctl '{"release": true}'
check "reload: completes" wait_for 30 sh -c \
    "[ \$(grep -c 'configuration reloaded' '$AS_TMP/agent.log') -ge 1 ]"
check "reload: every event arrives" wait_for 60 all_arrived
check "reload: each batch sent again with its first key" same_keys "$m0" "$m1"
check "reload: no event twice in the deduplicated copy" dedup_exact

# ---- a damaged journal ----
col_ctl '{"hold": 1}'
chunks 3 4
kill -9 "$AS_AGENT_PID"
wait "$AS_AGENT_PID" 2>/dev/null
AS_AGENT_PID=
col_ctl '{"release": true}'
printf 'auditship-batches 1\n1 2 3\ngarbage\n' > "$JOURNAL"
restart_agent
check "damaged journal: a warning, and the agent runs on" \
    wait_for 20 grep -q 'batch journal .* is unusable (damaged)' "$AS_TMP/agent.log"
SEED=$((SEED + 1))
gen_events 5 "$SEED" > "$AS_TMP/in/c$SEED.ndjson"
check "damaged journal: every event arrives" wait_for 60 all_arrived
check "SIGTERM exits 0" stop_agent
