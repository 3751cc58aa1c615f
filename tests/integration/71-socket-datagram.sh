#!/bin/sh
# Proves the datagram socket input with real clients: 10,000 reference
# events as datagrams from 4 non-blocking sender processes (which retry on
# EAGAIN, the agent's backpressure) all arrive exactly once, unaltered, in a
# chain that verifies, each stamped with its sender's pid, uid and gid
# (SCM_CREDENTIALS); util-linux `logger -d` and Python's SysLogHandler
# (datagram, NUL-terminated) reach a `format: raw` input with the sender's
# pid and uid, a sender still running is named by its comm and exe; an
# over-long datagram is dead-lettered with its reason; `auditshipctl
# send --datagram` delivers one event and a stream of them and names the
# mistake when the mode does not match; SIGTERM exits 0 and removes the
# socket file.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 19

N=10000
CLIENT="python3 $(dirname "$0")/sock_client.py"
SOCK=$AS_TMP/run/audit.sock
RAW=$AS_TMP/run/raw.sock
SYS=$AS_TMP/run/syslog.sock
OUT=$AS_TMP/out/audit.ndjson
gen_events "$N" 21 > "$AS_TMP/events.ndjson"
{
    conf_agent "$AS_TMP/state" testhost
    echo "inputs:"
    conf_socket_input app "$SOCK" "mode: datagram" "max_line_bytes: 4KiB"
    conf_socket_input raw "$RAW" "mode: datagram" "format: raw"
    conf_socket_input sys "$SYS" "mode: datagram" "format: syslog"
    conf_section validate "schema: none"
    conf_section scrub "keys: []"
    echo "outputs:"
    conf_file_output local "$OUT" "batch: {max_events: 5000, max_bytes: 4MiB, timeout: 50ms}"
} > "$AS_TMP/agent.yaml"
check "--check accepts datagram inputs" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
start_agent "$AS_TMP/agent.yaml"
# All three sockets: the inputs start one after another (slowly under
# valgrind), and the later ones are used further down.
check "the agent listens" wait_for 20 sh -c "test -S '$SOCK' && test -S '$RAW' && test -S '$SYS'"
check "$N datagrams sent by 4 processes" $CLIENT dgram --socket "$SOCK" \
    --procs 4 --map "$AS_TMP/map" -v "$AS_TMP/events.ndjson"
check "all $N shipped" wait_for 60 has_lines "$N" "$OUT"

$CLIENT linger --socket "$RAW" --datagram "lingering datagram" &
LINGER=$!
logger -u "$RAW" -d -t socktest "logger datagram hello"
logger -u "$SYS" -d --rfc5424 -t socktest5424 "logger rfc5424 datagram"
logger -u "$SYS" -d --rfc3164 -t socktest3164 "logger rfc3164 datagram"
python3 - "$RAW" <<'EOP'
import logging, logging.handlers, sys
h = logging.handlers.SysLogHandler(address=sys.argv[1])
log = logging.getLogger("socktest")
log.addHandler(h)
log.warning("python datagram one")
h.close()
EOP
python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
s.send(b'{\"id\":\"too-long\",\"x\":\"' + b'y' * 5000 + b'\"}')" "$SOCK"
"$AUDITSHIPCTL" send --datagram --socket "$SOCK" '{"id":"ctl-one","x":1}'
check "auditshipctl send --datagram exits 0" test $? -eq 0
printf '%s\n' '{"id":"ctl-a"}' '{"id":"ctl-b"}' |
    "$AUDITSHIPCTL" send --datagram --socket "$SOCK" -
check "auditshipctl send --datagram - exits 0" test $? -eq 0
"$AUDITSHIPCTL" send --socket "$SOCK" '{"id":"x"}' 2>"$AS_TMP/ctl.err"
rc=$?
check "auditshipctl send names a mode mismatch" sh -c \
    "[ $rc -ne 0 ] && grep -q 'is a datagram socket: add --datagram' '$AS_TMP/ctl.err'"
check "logger -d: the message arrives with logger's pid and uid" wait_for 20 \
    $CLIENT find --got "$OUT" --input raw --contains "logger datagram hello" --peer
wait "$LINGER"
# logger's own RFC 5424 / RFC 3164 forms, decoded: app_name is the tag.
syslog_has() {
    python3 - "$OUT" "$1" "$2" "$3" <<'EOP'
import json, sys
path, app, msg, version = sys.argv[1:]
for line in open(path):
    e = json.loads(line)
    sl = e.get("syslog", {})
    if (e["auditship"]["input"] == "sys" and sl.get("app_name") == app
            and e.get("message") == msg and str(sl.get("version", "")) == version
            and e["auditship"].get("peer", {}).get("uid") is not None):
        sys.exit(0)
sys.exit(1)
EOP
}
check "logger -d --rfc5424 into format syslog: fields decoded" wait_for 20 \
    syslog_has socktest5424 "logger rfc5424 datagram" 1
check "logger -d --rfc3164 into format syslog: fields decoded" wait_for 20 \
    syslog_has socktest3164 "logger rfc3164 datagram" ""
# What /proc says of a python3 started as the client was.
PYEXE=$(python3 -c 'import os; print(os.readlink("/proc/self/exe"))')
PYCOMM=$(python3 -c 'print(open("/proc/self/comm").read().strip())')
check "a live sender is named: comm and exe from /proc" wait_for 20 \
    $CLIENT find --got "$OUT" --input raw --contains "lingering datagram" \
    --comm "$PYCOMM" --exe "$PYEXE"
check "SysLogHandler (datagram): the message arrives" wait_for 20 \
    $CLIENT find --got "$OUT" --input raw --contains "python datagram one" --count 1
check "auditshipctl send --datagram: 3 events" wait_for 20 sh -c \
    "[ \$(grep -c '\"id\":\"ctl-' '$OUT') -eq 3 ]"
check "the over-long datagram is dead-lettered" wait_for 20 sh -c \
    "grep -q 'max_line_bytes' '$AS_TMP/state/deadletter.ndjson'"
check "SIGTERM exits 0" stop_agent
check "the socket file is removed" sh -c "! test -e '$SOCK'"
check "every event exactly once, unaltered" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/events.ndjson" --got "$OUT"
check "each event names the process that sent it" \
    $CLIENT peers --map "$AS_TMP/map" --got "$OUT"
check "verify passes" "$AUDITSHIPCTL" verify "$OUT"
