#!/bin/sh
# Proves validate.on_invalid and the handling of hostile events:
# - pass: invalid events (bad JSON, schema failures, JSON that is not an
#   object) are shipped with their original bytes in `raw` and the reason in
#   `error`, chained like any event (verify passes), none dead-lettered;
# - a client-sent `auditship` member is moved to metadata.client_auditship
#   (other metadata kept) and `auditship` is the agent's own;
# - drop: invalid events are neither shipped nor dead-lettered, and their
#   position still advances: a restart with on_invalid: pass does not
#   re-read (and so ship) them;
# - deadletter (the default): an event whose bytes are invalid UTF-8 is
#   dead-lettered with its exact bytes in raw_base64, a JSON value that is
#   not an object is dead-lettered as invalid, and both files stay UTF-8.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
as_tmpdir
plan 25

# conf CASE ON_INVALID: writes $AS_TMP/CASE/agent.yaml.
conf() {
    mkdir -p "$AS_TMP/$1/in"
    {
        conf_agent "$AS_TMP/$1/state" h
        echo "inputs:"
        conf_file_input app "$AS_TMP/$1/in/*.ndjson" "rescan_interval: 100ms"
        conf_section validate "on_invalid: $2"
        conf_section scrub "keys: []"
        echo "outputs:"
        conf_file_output local "$AS_TMP/$1/out/audit.ndjson" "batch: {timeout: 50ms}"
    } >"$AS_TMP/$1/agent.yaml"
}
# invalid_lines: one bad JSON, one schema failure, three non-objects.
invalid_lines() {
    echo '{"id":"badjson","actor_id":'
    echo '{"actor_id":"u","actor_type":"robot","action":"a.b","target_type":"t","target_id":"1","id":"badschema"}'
    echo '[1,2,3]'
    echo '"just a string"'
    echo '42'
}

# ---- pass ----
P="$AS_TMP/pass"
conf pass pass
gen_events 20 13 >"$P/in/a.ndjson"
invalid_lines >>"$P/in/a.ndjson"
# A valid event carrying its own `auditship` member and metadata.
gen_events 1 14 | python3 -c '
import json, sys
e = json.loads(sys.stdin.readline())
e["id"] = "clientas"
e["metadata"] = {"keep": "me"}
e["auditship"] = {"chain": "forged/x", "seq": 7, "hash": "00"}
print(json.dumps(e, separators=(",", ":")))' >>"$P/in/a.ndjson"
start_agent "$P/agent.yaml" "$P/agent.log"
check "pass: 26 records shipped" wait_for 30 has_lines 26 "$P/out/audit.ndjson"
check "pass: SIGTERM exits 0" stop_agent
check "pass: exactly 26 records" test "$(lines "$P/out/audit.ndjson")" -eq 26
check "pass: nothing dead-lettered" test "$(lines "$P/state/deadletter.ndjson")" -eq 0
check "pass: invalid events shipped with raw and error" python3 - "$P/out/audit.ndjson" <<'PYEOF'
import json, sys
bad = [r for r in map(json.loads, open(sys.argv[1])) if "error" in r]
raws = sorted(r["raw"] for r in bad)
assert len(bad) == 5, len(bad)
assert raws == sorted(['{"id":"badjson","actor_id":',
    '{"actor_id":"u","actor_type":"robot","action":"a.b","target_type":"t","target_id":"1","id":"badschema"}',
    '[1,2,3]', '"just a string"', '42']), raws
errs = [r["error"] for r in bad]
assert sum(e.startswith("invalid JSON") for e in errs) == 1, errs
assert sum("actor_type" in e for e in errs) == 1, errs
assert sum(e == "event is not a JSON object" for e in errs) == 3, errs
assert all(r["auditship"]["chain"] == "h/app" for r in bad)
PYEOF
check "pass: valid events exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$P/in/a.ndjson" --got "$P/out/audit.ndjson" \
    --ignore-id badschema --ignore-id clientas
check "pass: the chain with invalid events verifies" sh -c \
    "'$AUDITSHIPCTL' verify '$P/out/audit.ndjson' | grep -q '26 records, 0 duplicates.*: intact'"
check "client auditship moved to metadata.client_auditship" \
    python3 - "$P/out/audit.ndjson" <<'PYEOF'
import json, sys
r = [r for r in map(json.loads, open(sys.argv[1])) if r.get("id") == "clientas"][0]
assert r["metadata"] == {"keep": "me", "client_auditship":
                         {"chain": "forged/x", "seq": 7, "hash": "00"}}, r["metadata"]
a = r["auditship"]
assert a["chain"] == "h/app" and a["seq"] != 7 and len(a["hash"]) == 64, a
PYEOF

# ---- drop ----
D="$AS_TMP/drop"
conf drop drop
gen_events 10 15 >"$D/in/a.ndjson"
invalid_lines >>"$D/in/a.ndjson"
start_agent "$D/agent.yaml" "$D/agent.log"
check "drop: valid events shipped" wait_for 30 has_lines 10 "$D/out/audit.ndjson"
# The state record of the dropped lines follows them: wait until the
# buffer holds a position past the last line before stopping.
size=$(wc -c <"$D/in/a.ndjson")
check "drop: position of the dropped lines buffered" wait_for 30 sh -c \
    "'$AUDITSHIPCTL' buffer dump --state-dir '$D/state' | grep -q ':$size\$'"
check "drop: SIGTERM exits 0" stop_agent
check "drop: nothing invalid shipped" sh -c "! grep -q '\"error\"' '$D/out/audit.ndjson'"
check "drop: nothing dead-lettered" test "$(lines "$D/state/deadletter.ndjson")" -eq 0
check "drop: dropped events are logged" \
    grep -qiE "drop(ped|ping) .*invalid|invalid .*drop" "$D/agent.log"
# Restart with on_invalid: pass: re-read invalid lines would now ship.
conf drop pass
start_agent "$D/agent.yaml" "$D/agent.log"
gen_events 5 16 >>"$D/in/a.ndjson"
check "drop: new events shipped after the restart" wait_for 30 has_lines 15 "$D/out/audit.ndjson"
check "drop: SIGTERM exits 0 (restart)" stop_agent
check "drop: the dropped lines were not re-read" sh -c \
    "! grep -q '\"error\"' '$D/out/audit.ndjson' && [ \$(wc -l <'$D/out/audit.ndjson') -eq 15 ]"
check "drop: exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$D/in/a.ndjson" --got "$D/out/audit.ndjson" --ignore-id badschema

# ---- deadletter (default) ----
U="$AS_TMP/dl"
conf dl deadletter
gen_events 5 17 >"$U/in/a.ndjson"
printf '{"id":"badutf8","actor_id":"u\377\376x","actor_type":"user","action":"a.b","target_type":"t","target_id":"1"}\n' \
    >>"$U/in/a.ndjson"
printf '["not","an","object"]\n' >>"$U/in/a.ndjson"
start_agent "$U/agent.yaml" "$U/agent.log"
check "deadletter: valid events shipped" wait_for 30 has_lines 5 "$U/out/audit.ndjson"
check "deadletter: two dead letters" wait_for 30 has_lines 2 "$U/state/deadletter.ndjson"
check "deadletter: SIGTERM exits 0" stop_agent
check "invalid UTF-8 dead-lettered with its exact bytes in raw_base64" \
    python3 - "$U/state/deadletter.ndjson" "$U/in/a.ndjson" <<'PYEOF'
import base64, json, sys
want = open(sys.argv[2], "rb").read().splitlines()[5]
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b64 = [r for r in recs if "raw_base64" in r]
assert len(b64) == 1, recs
assert base64.b64decode(b64[0]["raw_base64"]) == want
assert "raw" not in b64[0] and b64[0]["error"], b64[0]
PYEOF
check "a JSON value that is not an object is dead-lettered as invalid" \
    grep -q '"error":"event is not a JSON object","raw":"\[\\"not\\",\\"an\\",\\"object\\"\]"' \
    "$U/state/deadletter.ndjson"
check "output and dead letters are valid UTF-8" python3 -c '
import sys
for p in sys.argv[1:]:
    open(p, "rb").read().decode("utf-8")' "$U/out/audit.ndjson" "$U/state/deadletter.ndjson"
check "deadletter: exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$U/in/a.ndjson" --got "$U/out/audit.ndjson"
