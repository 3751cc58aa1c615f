#!/bin/sh
# The syslog decoder in the pipeline, through a tailed file (format: syslog):
# - an RFC 5424 message whose MSG is a JSON audit event (with and without
#   an @cee: cookie) becomes that event plus a `syslog` member, validated,
#   scrubbed and chained like any event;
# - with validate.schema: none, RFC 5424 and RFC 3164 text messages ship as
#   {syslog: {...}, message}, structured data decoded;
# - a malformed message is dead-lettered with its bytes and the reason.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
as_tmpdir
plan 7

# conf CASE SCHEMA
conf() {
    mkdir -p "$AS_TMP/$1/in"
    {
        conf_agent "$AS_TMP/$1/state" h
        echo "inputs:"
        conf_file_input sys "$AS_TMP/$1/in/*.log" "format: syslog" "rescan_interval: 100ms"
        conf_section validate "schema: $2"
        echo "outputs:"
        conf_file_output local "$AS_TMP/$1/out/audit.ndjson" "batch: {timeout: 50ms}"
    } >"$AS_TMP/$1/agent.yaml"
}

A="$AS_TMP/audit"
conf audit audit
ev='{"actor_id":"u1","actor_type":"user","action":"project.deleted","target_type":"project","target_id":"p1","metadata":{"password":"hunter2SECRET"}}'
{
    echo "<110>1 2026-11-22T07:00:00.123Z web1 app 42 AUDIT - $ev"
    echo "<14>Nov 22 07:00:01 app[7]: @cee: $ev"
    echo "<13>1 2026-11-22T07:00:02Z web1 app - - - this is not an audit event"
    echo "no pri at all"
} >"$A/in/a.log"
start_agent "$A/agent.yaml" "$AS_TMP/audit.log"
wait_for 20 has_lines 2 "$A/out/audit.ndjson" && wait_for 20 has_lines 2 "$A/state/deadletter.ndjson"
stop_agent
check "SIGTERM exits 0" test $? -eq 0
python3 - "$A/out/audit.ndjson" "$A/state/deadletter.ndjson" >"$AS_TMP/audit.res" 2>&1 <<'EOP'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
dl = [json.loads(l) for l in open(sys.argv[2])]
assert len(out) == 2, out
a, b = out
assert a["action"] == "project.deleted" and a["actor_id"] == "u1", a
assert a["syslog"] == {"facility": 13, "severity": 6, "version": 1,
                       "timestamp": "2026-11-22T07:00:00.123Z",
                       "hostname": "web1", "app_name": "app", "procid": "42",
                       "msgid": "AUDIT"}, a["syslog"]
assert a["metadata"]["password"] != "hunter2SECRET", a
assert a["auditship"]["redacted"] >= 1, a
assert b["syslog"]["app_name"] == "app" and b["syslog"]["procid"] == "7", b
assert "version" not in b["syslog"] and b["target_id"] == "p1", b
assert [r["auditship"]["seq"] for r in out] == [1, 2], out
reasons = sorted(d.get("error", "") for d in dl)
assert len(dl) == 2, dl
assert any("invalid syslog message" in r for r in reasons), reasons
assert any("actor_id" in r or "required" in r or "missing" in r for r in reasons), reasons
assert any(d.get("raw") == "no pri at all" for d in dl), dl
print("ok")
EOP
check "JSON in RFC 5424 and @cee: RFC 3164 become audit events with syslog" grep -qx ok "$AS_TMP/audit.res" || sed 's/^/# /' "$AS_TMP/audit.res"
check "verify passes" "$AUDITSHIPCTL" verify "$A/out/audit.ndjson"
check "no secret on disk" sh -c "! grep -rqa SECRET '$A/state' '$A/out'"

T="$AS_TMP/text"
conf text none
{
    printf '%s\n' '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appli\]cation"][x@1 a="1" a="2"] An application event'
    printf '<34>Oct 11 22:14:15 mymachine su: '"'"'su root'"'"' failed for lonvick on /dev/pts/8\n'
    printf '<13>Nov 22 07:00:00 logger[99]: local form without hostname\r\n'
} >"$T/in/a.log"
start_agent "$T/agent.yaml" "$AS_TMP/text.log"
wait_for 20 has_lines 3 "$T/out/audit.ndjson"
stop_agent
check "SIGTERM exits 0 (text)" test $? -eq 0
python3 - "$T/out/audit.ndjson" >"$AS_TMP/text.res" 2>&1 <<'EOP'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
assert len(out) == 3, out
a, b, c = out
assert a["message"] == "An application event", a
assert a["syslog"]["structured_data"] == {
    "exampleSDID@32473": {"iut": "3", "eventSource": "Appli]cation"},
    "x@1": {"a": ["1", "2"]}}, a["syslog"]
assert b["syslog"]["hostname"] == "mymachine" and b["syslog"]["app_name"] == "su", b
assert b["message"] == "'su root' failed for lonvick on /dev/pts/8", b
assert b["syslog"]["facility"] == 4 and b["syslog"]["severity"] == 2, b
assert "hostname" not in c["syslog"] and c["syslog"]["procid"] == "99", c
assert c["message"] == "local form without hostname", c
print("ok")
EOP
check "RFC 5424 and 3164 text messages ship with their fields" grep -qx ok "$AS_TMP/text.res" || sed 's/^/# /' "$AS_TMP/text.res"
check "verify passes (text)" "$AUDITSHIPCTL" verify "$T/out/audit.ndjson"
