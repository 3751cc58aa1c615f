#!/bin/sh
# Proves the http output's handling of a failing collector, one fault at a
# time, with every event accounted for at the end:
# - 500s and connection resets: retried, every event arrives, no duplicate;
# - 429 with Retry-After in seconds and as an HTTP-date: the retry of that
#   batch (same Idempotency-Key) waits at least as long;
# - 413 above a size: batches are split in halves until they fit; one
#   event too large even alone is dead-lettered with the status;
# - 400 with a body: the batch is dead-lettered, its reason holds the
#   status and the start of the body;
# - response_actions: 409 acknowledged, 422 retried;
# - answers slower than request_timeout, and resets after the collector
#   recorded the batch: retried, so the collector sees duplicates, exactly
#   as many as such retries, all with the first request's key, and the
#   Idempotency-Key dedup removes them;
# - the collector stopped and restarted: nothing lost;
# - acknowledgements out of order (random answer delays, concurrency 4)
#   and a kill -9 of the agent: nothing lost, the chain verifies.
# Finally: the deduplicated copy plus the dead letters hold every event
# written exactly once, and verify passes on the collector's copy.
. "$(dirname "$0")/lib.sh"
as_tmpdir
. "$(dirname "$0")/http-lib.sh"
plan 30

# Fewer events under valgrind (AS_SLOW > 1): the faults are the same.
K=100
[ "$AS_SLOW" -gt 1 ] && K=40
mkdir -p "$AS_TMP/in"
start_collector "$AS_TMP/col" || { not_ok "collector starts"; exit 1; }
conf() {
    http_conf_head "$AS_TMP/agent.yaml"
    {
        echo "outputs:"
        conf_http_output "http://127.0.0.1:$COL_PORT/v1/audit" \
            "batch: {max_events: 50, max_bytes: 1MiB, timeout: 100ms}" \
            "retry: {initial: 100ms, max: 1s}" "connect_timeout: 1s" \
            "request_timeout: $((AS_SLOW * 1500))ms" \
            "response_actions: {409: ack, 422: retry}" "concurrency: $1"
    } >> "$AS_TMP/agent.yaml"
}
conf 2
start_agent "$AS_TMP/agent.yaml"

TOTAL=0 # events expected in the deduplicated copy
SEED=30
# events NAME N: writes N new events to in/NAME.ndjson.
events() {
    SEED=$((SEED + 1))
    gen_events "$2" "$SEED" > "$AS_TMP/in/$1.tmp"
    mv "$AS_TMP/in/$1.tmp" "$AS_TMP/in/$1.ndjson"
}
# phase NAME N CTL: sets a fault, writes N events, waits for all of them.
phase() {
    col_ctl "$3"
    events "$1" "$2"
    TOTAL=$((TOTAL + $2))
    wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"
}
# gap_after STATUS: the shortest wait (s) between a request answered
# STATUS and the next request with its Idempotency-Key.
gap_after() {
    python3 - "$AS_TMP/col/requests.ndjson" "$1" <<'EOP'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
gaps = []
for i, r in enumerate(reqs):
    if r["status"] == int(sys.argv[2]):
        later = [q["t"] for q in reqs[i + 1:] if q["key"] == r["key"]]
        if later:
            gaps.append(min(later) - r["t"])
print("%.3f" % min(gaps) if gaps else -1)
EOP
}
dups() { col_stat dups; }
# dups_are N: true when the collector counted N duplicate requests.
dups_are() { [ "$(dups)" -eq "$1" ]; }

check "500s: every event arrives" phase p500 $((3 * K)) '{"fail_500": 3}'
check "500s: three answered 500" [ "$(req_count "$AS_TMP/col" "r['status'] == 500")" -eq 3 ]

check "429 (seconds): every event arrives" phase p429s $K '{"fail_429": 1, "retry_after": "1"}'
g=$(gap_after 429)
diag "retry 429 (Retry-After: 1) after $g s"
check "429 (seconds): the retry waited Retry-After" python3 -c "import sys; sys.exit(not $g >= 0.95)"
: > "$AS_TMP/col/.mark"
check "429 (HTTP-date): every event arrives" phase p429d $K '{"fail_429": 1, "retry_after": "date:3"}'
g=$(python3 - "$AS_TMP/col/requests.ndjson" <<'EOP'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
i = max(i for i, r in enumerate(reqs) if r["status"] == 429)
print("%.3f" % min(q["t"] - reqs[i]["t"] for q in reqs[i + 1:] if q["key"] == reqs[i]["key"]))
EOP
)
diag "retry 429 (Retry-After: HTTP-date 3 s ahead) after $g s"
check "429 (HTTP-date): the retry waited until that date" python3 -c "import sys; sys.exit(not $g >= 0.9)"

# 413: batches of 50 events (~24 KB) are split down to <= 10 KB; one event
# of 30 KB cannot fit and is dead-lettered.
col_ctl '{"max_body": 10000}'
python3 -c '
import json
print(json.dumps({"id": "too-big", "actor_id": "u1", "actor_type": "user",
                  "action": "blob.stored", "target_type": "blob",
                  "target_id": "b1", "created_at": "2026-01-28T09:00:00.000Z",
                  "metadata": {"blob": "x" * 30000}}))' \
    > "$AS_TMP/in/big.tmp"
mv "$AS_TMP/in/big.tmp" "$AS_TMP/in/big.ndjson"
check "413: every event that fits arrives" phase p413 $((2 * K)) '{}'
check "413: the too-large event is dead-lettered" wait_for 30 grep -q '"id":"too-big"' "$AS_TMP/state/deadletter.ndjson"
check "413: split more than once" [ "$(req_count "$AS_TMP/col" "r['status'] == 413")" -ge 3 ]
check "413: the dead letter names HTTP 413 and the body" \
    grep -q '"reason":"HTTP 413: payload too large"' "$AS_TMP/state/deadletter.ndjson"
col_ctl '{"max_body": 0}'

# 400: one batch dead-lettered with the status and the body's start.
# The body echoes a credential: the dead letter keeps it scrubbed.
col_ctl '{"answer": {"status": 400, "n": 1, "body": "bad event: field x key AKIAIOSFODNN7EXAMPLF\n"}}'
events p400 $K
check "400: a batch is dead-lettered" wait_for 30 grep -q 'HTTP 400' "$AS_TMP/state/deadletter.ndjson"
check "400: its reason holds the status and the body" \
    grep -q '"reason":"HTTP 400: bad event: field x key ' "$AS_TMP/state/deadletter.ndjson"
check "400: a credential in the body is scrubbed before it reaches disk" sh -c \
    "grep -q 'field x key \\[REDACTED\\]' '$AS_TMP/state/deadletter.ndjson' &&
     ! grep -q AKIAIOSFODNN7EXAMPLF '$AS_TMP/state/deadletter.ndjson'"
dl400=$(grep -c 'HTTP 400' "$AS_TMP/state/deadletter.ndjson")
TOTAL=$((TOTAL + K - dl400))
check "400: the rest of the events arrive" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"

ndl=$(lines "$AS_TMP/state/deadletter.ndjson")
check "409 (response_actions: ack): acknowledged" phase p409 $K \
    '{"answer": {"status": 409, "n": 1, "record": true, "body": "seen"}}'
check "422 (response_actions: retry): retried until accepted" phase p422 $K \
    '{"answer": {"status": 422, "n": 2, "body": "later"}}'
check "409 and 422: nothing dead-lettered" [ "$(lines "$AS_TMP/state/deadletter.ndjson")" -eq "$ndl" ]

d0=$(dups)
check "no duplicate so far" [ "$d0" -eq 0 ]
check "slow answers (past request_timeout): every event arrives" phase pslow $K \
    "{\"slow\": 1, \"slow_secs\": $((AS_SLOW * 3))}"
check "slow answers: the retry is one duplicate" wait_for 30 dups_are 1
d1=$(dups)
check "resets before recording: every event arrives" phase preset $K '{"reset": 2}'
check "resets before recording: no duplicate" [ "$(dups)" -eq "$d1" ]
check "reset after recording: every event arrives" phase preset2 $K '{"reset_accepted": 1}'
check "reset after recording: the retry is one duplicate" wait_for 30 dups_are $((d1 + 1))
d2=$(dups)
diag "duplicates at the collector: $d2 requests, $(col_stat dup_lines) events (removed by the Idempotency-Key)"
check "every duplicate is a retry of a request the collector had recorded" python3 - "$AS_TMP/col/requests.ndjson" <<'EOP'
import json, sys
first = {}
bad = 0
for r in map(json.loads, open(sys.argv[1])):
    if not r["accepted"]:
        continue
    if r["dup"]:
        f = first.get(r["key"])
        if f is None or f["fault"] not in ("slow", "reset_accepted"):
            bad += 1
    else:
        first[r["key"]] = r
sys.exit(bad != 0)
EOP

stop_collector
events pdown $((3 * K))
TOTAL=$((TOTAL + 3 * K))
sleep 2
start_collector "$AS_TMP/col"
check "collector stopped and restarted: every event arrives" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"

# Out-of-order acknowledgements, then kill -9 in the middle.
stop_agent
dl_records "$AS_TMP/state/deadletter.ndjson" "$AS_TMP/dl.ndjson"
conf 4
col_ctl '{"delay_ms_max": 300}'
start_agent "$AS_TMP/agent.yaml"
events pooo $((10 * K))
TOTAL=$((TOTAL + 10 * K))
wait_for 60 has_lines $((TOTAL - 7 * K)) "$AS_TMP/col/dedup.ndjson"
d3=$(dups)
diag "kill -9 with $(( $(lines "$AS_TMP/col/dedup.ndjson") - TOTAL + 10 * K )) of $((10 * K)) events received"
kill -9 "$AS_AGENT_PID"
wait "$AS_AGENT_PID" 2>/dev/null
AS_AGENT_PID=
start_agent_wait "$AS_TMP/agent.yaml"
check "out-of-order acks and kill -9: every event arrives" wait_for 60 python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP"/in/*.ndjson --got "$AS_TMP/col/all.ndjson" "$AS_TMP/dl.ndjson" --allow-dup
col_ctl '{"delay_ms_max": 0}'
check "SIGTERM exits 0" stop_agent
diag "after kill -9: $(( $(dups) - d3 )) requests sent again with their key (dropped by the dedup)"
python3 - "$AS_TMP/col/dedup.ndjson" > "$AS_TMP/dedup-records.ndjson" <<'EOP'
import json, sys
seen = set()
for line in open(sys.argv[1], "rb"):
    a = json.loads(line)["auditship"]
    if (a["chain"], a["epoch"], a["seq"]) not in seen:
        seen.add((a["chain"], a["epoch"], a["seq"]))
        sys.stdout.buffer.write(line)
EOP
diag "after kill -9: $(( $(lines "$AS_TMP/col/dedup.ndjson") - $(lines "$AS_TMP/dedup-records.ndjson") )) events sent again under a new key"
check "deduplicated copy + dead letters = every event exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP"/in/*.ndjson --got "$AS_TMP/dedup-records.ndjson" "$AS_TMP/dl.ndjson"
check "verify passes on the collector's deduplicated copy (and the dead letters)" \
    "$AUDITSHIPCTL" verify "$AS_TMP/col/dedup.ndjson" "$AS_TMP/dl.ndjson"
