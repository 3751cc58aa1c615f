#!/bin/sh
# The auditd decoder in the pipeline (format: auditd on a tailed file):
# - the reassembly sample "normal" gives its 5 events (the last one, which
#   has no EOE, after the reassembly timeout), as valid audit events that
#   verify;
# - a malformed line is dead-lettered with its bytes and the reason;
# - kill -9 while an event is incomplete: after a restart the event is
#   complete (its first records are read again) and no event is doubled.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
sample="$AS_SHARED/testdata/auditd/testdata/normal.log"
[ -r "$sample" ] || skip_all "no $sample"
as_tmpdir
plan 7

mkdir -p "$AS_TMP/in"
OUT="$AS_TMP/out/audit.ndjson"
{
    conf_agent "$AS_TMP/state" h
    echo "inputs:"
    conf_file_input audit "$AS_TMP/in/audit.log" "format: auditd" "rescan_interval: 100ms"
    conf_section buffer "fsync: always"
    echo "outputs:"
    conf_file_output local "$OUT" "batch: {timeout: 50ms}"
} >"$AS_TMP/agent.yaml"
cp "$sample" "$AS_TMP/in/audit.log"
start_agent "$AS_TMP/agent.yaml"
wait_for 30 has_lines 5 "$OUT"
python3 - "$OUT" >"$AS_TMP/r1" 2>&1 <<'EOP'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
serials = [e["metadata"]["serial"] for e in out]
assert sorted(serials) == [58, 59, 60, 61, 62], serials
for e in out:
    assert e["action"].startswith("auditd."), e
    assert e["actor_type"] in ("user", "system"), e
    assert e["created_at"].startswith("2017-04-1"), e
    assert "error" not in e and "raw" not in e, e
print("ok")
EOP
check "the 5 events of the sample, decoded" grep -qx ok "$AS_TMP/r1" || sed 's/^/# /' "$AS_TMP/r1"

# A malformed line, then one event in two records, cut by kill -9 after
# its first record.
{
    echo 'type=SYSCALL this is not an audit record'
    echo 'type=SYSCALL msg=audit(1492037300.000:70): arch=c000003e syscall=2 success=yes exit=3 items=1 ppid=1 pid=99 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm="cat" exe="/usr/bin/cat" key=(null)'
} >>"$AS_TMP/in/audit.log"
wait_for 20 has_lines 1 "$AS_TMP/state/deadletter.ndjson"
sleep 0.5
kill -9 "$AS_AGENT_PID"
wait "$AS_AGENT_PID" 2>/dev/null
AS_AGENT_PID=
{
    echo 'type=PATH msg=audit(1492037300.000:70): item=0 name="/etc/hostname" inode=1 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL'
    echo 'type=EOE msg=audit(1492037300.000:70): '
} >>"$AS_TMP/in/audit.log"
start_agent "$AS_TMP/agent.yaml"
wait_for 30 has_lines 6 "$OUT"
sleep 1
stop_agent
check "SIGTERM exits 0" test $? -eq 0
python3 - "$OUT" "$AS_TMP/state/deadletter.ndjson" >"$AS_TMP/r2" 2>&1 <<'EOP'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
serials = sorted(e["metadata"]["serial"] for e in out)
assert serials == [58, 59, 60, 61, 62, 70], serials
e = [e for e in out if e["metadata"]["serial"] == 70][0]
recs = e["metadata"]["records"]
assert "syscall" in recs and "path" in recs, recs
assert e["actor_id"] == "1000" and e["action"] == "auditd.syscall.open", e
assert e["target_id"] == "/etc/hostname", e
print("ok")
EOP
check "an event cut by kill -9 is complete after the restart, none doubled" grep -qx ok "$AS_TMP/r2" || sed 's/^/# /' "$AS_TMP/r2"
dl=$(cat "$AS_TMP/state/deadletter.ndjson")
check "the malformed line is dead-lettered once" test "$(lines "$AS_TMP/state/deadletter.ndjson")" -eq 1
check "with its bytes" sh -c "printf '%s' '$dl' | grep -q 'this is not an audit record'"
check "and the reason" sh -c "printf '%s' '$dl' | grep -q 'invalid auditd record'"
check "verify passes" "$AUDITSHIPCTL" verify "$OUT"
