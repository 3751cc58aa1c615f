#!/bin/sh
# Proves that a damaged disk buffer is salvaged and never crash-looped on.
# Events are left unshipped in the buffer (the output's batch timeout is an
# hour, then the agent is killed with SIGKILL); the newest segment is then
# damaged twice: bytes flipped in the middle of one record, and a torn
# partial frame appended at its end.  `auditshipd --check` and `auditshipctl
# buffer check` exit 1 naming both; the agent then starts, stays up, logs the
# torn tail and the damaged record, ships every intact record exactly once
# and only the damaged one is missing (verify shows the hole as a deleted
# record); the torn tail was truncated, so a second --check no longer
# reports it.  Finally a garbage file named like a segment and an empty
# segment do not stop the agent either.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
as_tmpdir
plan 24

mkdir -p "$AS_TMP/in"
gen_events 200 40 >"$AS_TMP/in/a.ndjson"
# conf BATCH_TIMEOUT
conf() {
    {
        conf_agent "$AS_TMP/state" h
        echo "inputs:"
        conf_file_input app "$AS_TMP/in/*.ndjson" "rescan_interval: 100ms"
        conf_section scrub "keys: []"
        echo "outputs:"
        conf_file_output local "$AS_TMP/out/audit.ndjson" \
            "batch: {max_events: 100000, timeout: $1}"
    } >"$AS_TMP/agent.yaml"
}
bstat() {
    "$AUDITSHIPCTL" buffer stat --state-dir "$AS_TMP/state" 2>&1
}
buffered() {
    bstat | grep -q "^segment .* events $1 "
}

# Phase 1: 200 events buffered, none shipped.
conf 1h
start_agent "$AS_TMP/agent.yaml"
check "200 events buffered" wait_for 30 buffered 200
kill -9 "$AS_AGENT_PID"
wait "$AS_AGENT_PID" 2>/dev/null
AS_AGENT_PID=
check "none shipped before the crash" test "$(lines "$AS_TMP/out/audit.ndjson")" -eq 0
bstat | sed 's/^/# /'

# The victim: the event with seq 100, in the newest segment.
"$AUDITSHIPCTL" buffer dump --payload --state-dir "$AS_TMP/state" \
    >"$AS_TMP/dump.txt"
victim=$(python3 - "$AS_TMP/dump.txt" <<'PYEOF'
import json, sys
for l in open(sys.argv[1]):
    f = l.split(" ", 7)
    if f[1] == "event" and f[4] == "seq=100":
        seg, off = f[0].split(":")
        print(seg, off, json.loads(f[7])["id"])
PYEOF
)
set -- $victim
seg=${1:-none} off=${2:-0} vid=${3:-none}
segfile="$AS_TMP/state/buffer/seg-$seg.log"
newest=$(ls "$AS_TMP/state/buffer"/seg-*.log | tail -n 1)
check "victim found in the newest segment" test "$segfile" = "$newest"
diag "victim seq 100 id $vid at $seg:$off"
# Flip 4 bytes in the middle of the victim's frame; append the first 100
# bytes of its original frame (a valid header whose body is cut short).
python3 - "$segfile" "$off" <<'PYEOF'
import struct, sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    data = f.read()
    blen = struct.unpack_from("<I", data, off + 4)[0]
    mid = off + 12 + blen // 2
    f.seek(mid)
    f.write(bytes(b ^ 0x5a for b in data[mid:mid + 4]))
    f.seek(0, 2)
    f.write(data[off:off + 100])
PYEOF

# Offline checks name both kinds of damage.
"$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml" >"$AS_TMP/check1" 2>&1
rc=$?
sed 's/^/# /' "$AS_TMP/check1"
check "--check exits 1 on a damaged buffer" test "$rc" -eq 1
check "--check names the damaged record" \
    grep -q "segment $seg: 1 damaged region" "$AS_TMP/check1"
check "--check names the torn tail" \
    grep -q "$seg: torn tail of 100 bytes" "$AS_TMP/check1"
"$AUDITSHIPCTL" buffer check --state-dir "$AS_TMP/state" >"$AS_TMP/bcheck" 2>&1
check "buffer check exits 1" test $? -eq 1
check "buffer check names both" sh -c \
    "grep -q 'damaged region' '$AS_TMP/bcheck' && grep -q 'torn tail' '$AS_TMP/bcheck'"

# Phase 2: the salvage run.
conf 50ms
start_agent "$AS_TMP/agent.yaml"
check "every intact record shipped" wait_for 30 has_lines 199 "$AS_TMP/out/audit.ndjson"
check "the agent stays up" kill -0 "$AS_AGENT_PID"
check "torn tail logged" grep -q "torn tail at offset .* (100 bytes), truncating" \
    "$AS_TMP/agent.log"
check "damaged record counted in the log" \
    grep -q "$seg: skipped 1 damaged region" "$AS_TMP/agent.log"
check "SIGTERM exits 0" stop_agent
check "nothing else missing, nothing twice" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/in/a.ndjson" --got "$AS_TMP/out/audit.ndjson" --ignore-id "$vid"
check "the damaged record is not shipped" sh -c \
    "! grep -q '\"id\":\"$vid\"' '$AS_TMP/out/audit.ndjson'"
check "verify shows the hole at seq 100" sh -c \
    "'$AUDITSHIPCTL' verify '$AS_TMP/out/audit.ndjson' | grep -q 'BROKEN at seq 100: deleted'"
"$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml" >"$AS_TMP/check2" 2>&1
rc=$?
sed 's/^/# /' "$AS_TMP/check2"
check "torn tail truncated: a second --check does not report it" \
    sh -c "! grep -q 'torn' '$AS_TMP/check2'"
# Every output, the dead-letter sink included (it reads no record), has
# passed the damaged segment, so it is deleted and a second --check passes.
check "a second --check passes after the salvage run" test "$rc" -eq 0

# Phase 3: a garbage file named like a segment and an empty segment.
last=$(ls "$AS_TMP/state/buffer"/seg-*.log | tail -n 1)
last=${last##*/seg-}
last=${last%.log}
g1=$(printf '%016x' $((0x$last + 1)))
g2=$(printf '%016x' $((0x$last + 2)))
head -c 3000 /dev/urandom >"$AS_TMP/state/buffer/seg-$g1.log"
: >"$AS_TMP/state/buffer/seg-$g2.log"
gen_events 50 41 >"$AS_TMP/in/b.ndjson"
start_agent "$AS_TMP/agent.yaml"
check "new events shipped past a garbage and an empty segment" \
    wait_for 30 has_lines 249 "$AS_TMP/out/audit.ndjson"
check "the agent stays up" kill -0 "$AS_AGENT_PID"
check "the garbage segment is logged" grep -q "segment $g1" "$AS_TMP/agent.log"
check "SIGTERM exits 0" stop_agent
check "still exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/in/a.ndjson" "$AS_TMP/in/b.ndjson" \
    --got "$AS_TMP/out/audit.ndjson" --ignore-id "$vid"
check "no event after the damage re-read" test "$(lines "$AS_TMP/out/audit.ndjson")" -eq 249
grep -E 'warn|error' "$AS_TMP/agent.log" | sed 's/^/# /'
