#!/bin/sh
# Proves signed checkpoints end to end: with chain.signing_key (a key pair
# from `auditshipctl keygen`) and checkpoint_interval 1s, the agent emits a
# checkpoint record (actor system/system, action auditship.checkpoint,
# target chain/CHAIN, auditship.signature) every interval, also when no
# event arrived (idle intervals are sealed, with metadata.records 0), and
# one more at a clean shutdown (proved with an interval of an hour: the
# last record is then a checkpoint sealing every event since the start).
# Every event is sealed by exactly one checkpoint; `auditshipctl verify
# --pubkey` passes with 0 unsealed records; an event edited before the last
# checkpoint is reported as edited inside the sealed part; another key
# pair's public key fails.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
as_tmpdir
plan 17

mkdir -p "$AS_TMP/in"
"$AUDITSHIPCTL" keygen --out "$AS_TMP/k" >/dev/null
"$AUDITSHIPCTL" keygen --out "$AS_TMP/other" >/dev/null
OUT="$AS_TMP/out/audit.ndjson"
# conf INTERVAL
conf() {
    {
        conf_agent "$AS_TMP/state" h
        echo "inputs:"
        conf_file_input app "$AS_TMP/in/*.ndjson" "rescan_interval: 100ms"
        conf_section scrub "keys: []"
        conf_section chain "signing_key: $AS_TMP/k.key" "checkpoint_interval: $1"
        echo "outputs:"
        conf_file_output local "$OUT" "batch: {timeout: 50ms}"
    } >"$AS_TMP/agent.yaml"
}
# count WHAT: events | checkpoints | idle (checkpoints sealing 0 records).
count() {
    python3 - "$OUT" "$1" <<'PYEOF'
import json, sys
n = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    r = json.loads(l)
    ck = r.get("action") == "auditship.checkpoint"
    if sys.argv[2] == "events" and not ck:
        n += 1
    elif sys.argv[2] == "checkpoints" and ck:
        n += 1
    elif sys.argv[2] == "idle" and ck and r["metadata"]["records"] == 0:
        n += 1
print(n)
PYEOF
}
at_least() { # WHAT N
    [ "$(count "$1")" -ge "$2" ]
}

conf 1s
check "--check accepts a signing key" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
gen_events 100 31 >"$AS_TMP/in/a.ndjson"
start_agent "$AS_TMP/agent.yaml"
check "100 events shipped" wait_for 30 at_least events 100
# No new events from now on: the idle intervals are sealed too.
check "two idle intervals sealed" wait_for 30 at_least idle 2
check "SIGTERM exits 0" stop_agent
check "nothing but the 100 events and checkpoints" test "$(count events)" -eq 100

# Phase 2: an interval longer than the run; only the shutdown seals.
conf 1h
n1=$(count checkpoints)
gen_events 20 32 >"$AS_TMP/in/b.ndjson"
start_agent "$AS_TMP/agent.yaml"
check "20 more events shipped" wait_for 30 at_least events 120
check "SIGTERM exits 0 (second run)" stop_agent
check "one checkpoint at clean shutdown" test "$(count checkpoints)" -eq $((n1 + 1))
check "checkpoint records are well formed, signed, and seal every event once" \
    python3 - "$OUT" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
sealed = 0
for r in recs:
    a = r["auditship"]
    if r.get("action") != "auditship.checkpoint":
        assert "signature" not in a, "event with a signature"
        continue
    assert r["actor_type"] == "system" and r["actor_id"] == "system"
    assert r["target_type"] == "chain" and r["target_id"] == a["chain"]
    assert len(a["signature"]) == 88, "signature is not base64 of 64 bytes"
    sealed += r["metadata"]["records"]
last = recs[-1]
assert last.get("action") == "auditship.checkpoint", "last is no checkpoint"
assert last["metadata"]["records"] == 20, last["metadata"]
assert sealed == 120, sealed
PYEOF
check "exactly once across the restart" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/in/a.ndjson" "$AS_TMP/in/b.ndjson" --got "$OUT"

# expect CODE PATTERN NAME [verify args...]
expect() {
    code=$1 pat=$2 name=$3
    shift 3
    out=$("$AUDITSHIPCTL" verify "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/# /'
    if [ "$rc" -eq "$code" ] && printf '%s\n' "$out" | grep -q -- "$pat"; then
        ok "$name"
    else
        not_ok "$name (exit $rc)"
    fi
}
expect 0 "(signature verified), 0 unsealed: intact" \
    "verify --pubkey passes, 0 records after the last checkpoint" --pubkey "$AS_TMP/k.pub" "$OUT"
expect 0 "1 chains, 1 intact, 0 broken" "one chain across both runs" --pubkey "$AS_TMP/k.pub" "$OUT"

# Edit the 50th event (sealed long before the last checkpoint).
python3 - "$OUT" >"$AS_TMP/edited.ndjson" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n = 0
for i, l in enumerate(lines):
    r = json.loads(l)
    if r.get("action") != "auditship.checkpoint":
        n += 1
        if n == 50:
            r["target_id"] = r["target_id"] + "x"
            lines[i] = json.dumps(r, separators=(",", ":"), ensure_ascii=False)
            print("# edited seq %d" % r["auditship"]["seq"], file=sys.stderr)
print("\n".join(lines))
PYEOF
check "the edit changed one line" \
    test "$(diff "$OUT" "$AS_TMP/edited.ndjson" | grep -c '^<')" -eq 1
expect 1 "BROKEN at seq [0-9]*: edited (inside the sealed part)" \
    "an edited event before the last checkpoint fails" --pubkey "$AS_TMP/k.pub" "$AS_TMP/edited.ndjson"
expect 1 "bad signature" "another key pair's public key fails" \
    --pubkey "$AS_TMP/other.pub" "$OUT"
expect 0 "(unverified), 0 unsealed: intact" "without --pubkey signatures are unverified" "$OUT"
check "checkpoints carry auditship.signature" \
    test "$(grep -c '"signature":"' "$OUT")" -eq "$(count checkpoints)"
