#!/bin/sh
# Proves the stream socket input with real clients: 100,000 reference events
# from 8 concurrent connections (8 processes) all arrive exactly once,
# unaltered, in a chain that verifies, each stamped with the pid, uid and gid
# of the process that sent it; the socket file gets its permissions; util-
# linux `logger -T` and Python's SysLogHandler (SOCK_STREAM, NUL-terminated
# messages) reach a `format: raw` input with the sender's pid and uid, and
# `logger --octet-count` (RFC 6587) and newline-framed syslog reach a
# `format: syslog` input one message each, decoded;
# a sender still running when the agent looks is named by its comm and exe
# from /proc; `auditshipctl send` delivers one event and a stream of them,
# and fails clearly when nothing listens; a client cannot forge
# auditship.peer; SIGTERM exits 0 and removes the socket file.
# Under scripts/memcheck (valgrind) 20,000 events are sent instead.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 20

N=100000
[ -n "${AS_AUDITSHIPD:-}${AS_VALGRIND:-}" ] && N=20000
CLIENT="python3 $(dirname "$0")/sock_client.py"
SOCK=$AS_TMP/run/audit.sock
RAW=$AS_TMP/run/raw.sock
SYS=$AS_TMP/run/syslog.sock
OUT=$AS_TMP/out/audit.ndjson
gen_events "$N" 11 > "$AS_TMP/events.ndjson"
{
    conf_agent "$AS_TMP/state" testhost
    echo "inputs:"
    conf_socket_input app "$SOCK" 'permissions: "0666"'
    conf_socket_input raw "$RAW" "format: raw"
    conf_socket_input sys "$SYS" "format: syslog"
    conf_section validate "schema: none"
    conf_section scrub "keys: []"
    conf_section buffer "max_bytes: 1GiB"
    echo "outputs:"
    conf_file_output local "$OUT" "rotate: {max_bytes: 0}" \
        "batch: {max_events: 10000, max_bytes: 4MiB, timeout: 50ms}"
} > "$AS_TMP/agent.yaml"
check "--check accepts socket inputs" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
start_agent "$AS_TMP/agent.yaml"
# All three sockets: the inputs start one after another, and under
# valgrind the later ones came too late for the permission check.
check "the agent listens" wait_for 20 sh -c "test -S '$SOCK' && test -S '$RAW' && test -S '$SYS'"
check "permissions applied" sh -c "[ \$(stat -c %a '$SOCK') = 666 ] && [ \$(stat -c %a '$RAW') = 660 ]"
check "$N events sent from 8 connections" $CLIENT stream --socket "$SOCK" \
    --conns 8 --map "$AS_TMP/map" "$AS_TMP/events.ndjson"
check "all $N shipped" wait_for 120 has_lines "$N" "$OUT"

logger -u "$RAW" -T -t socktest "logger stream hello"
# format: syslog: RFC 6587 octet counting on one connection, lines on
# another, both with two messages.
printf 'octet one\noctet two\n' | logger -u "$SYS" -T --octet-count --rfc5424 -t socktest
printf 'framed one\nframed two\n' | logger -u "$SYS" -T --rfc3164 -t socktest
python3 - "$RAW" <<'EOP'
import logging, logging.handlers, socket, sys
h = logging.handlers.SysLogHandler(address=sys.argv[1], socktype=socket.SOCK_STREAM)
log = logging.getLogger("socktest")
log.addHandler(h)
log.warning("python stream one")
log.warning("python stream two")
h.close()
EOP
$CLIENT linger --socket "$RAW" "lingering stream client" &
LINGER=$!
"$AUDITSHIPCTL" send --socket "$SOCK" '{"id":"ctl-one","actor_id":"u","actor_type":"user","action":"ctl.sent","target_type":"t","target_id":"1"}'
check "auditshipctl send exits 0" test $? -eq 0
printf '%s\n' '{"id":"ctl-a","x":1}' '{"id":"ctl-b","x":2}' '{"id":"ctl-c","x":3,"auditship":{"peer":{"pid":1,"uid":0}}}' |
    "$AUDITSHIPCTL" send --socket "$SOCK" -
check "auditshipctl send - exits 0" test $? -eq 0
check "logger -T: the message arrives with logger's pid and uid" wait_for 20 \
    $CLIENT find --got "$OUT" --input raw --contains "logger stream hello" --peer
wait "$LINGER"
# What /proc says of a python3 started as the client was.
PYEXE=$(python3 -c 'import os; print(os.readlink("/proc/self/exe"))')
PYCOMM=$(python3 -c 'print(open("/proc/self/comm").read().strip())')
check "a live sender is named: comm and exe from /proc" wait_for 20 \
    $CLIENT find --got "$OUT" --input raw --contains "lingering stream client" \
    --comm "$PYCOMM" --exe "$PYEXE"
check "syslog, octet counting (RFC 6587): each message decoded" wait_for 20 sh -c "
    $CLIENT find --got '$OUT' --input sys --syslog --peer --contains 'octet one' --count 1 &&
    $CLIENT find --got '$OUT' --input sys --syslog --peer --contains 'octet two' --count 1"
check "syslog, newline framing: each message decoded" wait_for 20 sh -c "
    $CLIENT find --got '$OUT' --input sys --syslog --contains 'framed one' --count 1 &&
    $CLIENT find --got '$OUT' --input sys --syslog --contains 'framed two' --count 1"
check "SysLogHandler (stream): both messages, apart" wait_for 20 sh -c "
    $CLIENT find --got '$OUT' --input raw --contains 'python stream one' --count 1 &&
    $CLIENT find --got '$OUT' --input raw --contains 'python stream two' --count 1"
check "auditshipctl send: 4 events" wait_for 20 sh -c \
    "[ \$(grep -c '\"id\":\"ctl-' '$OUT') -eq 4 ]"
check "a client cannot forge auditship.peer" python3 -c "
import json, os, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get('id') == 'ctl-c':
        p = e['auditship']['peer']
        forged = e['metadata']['client_auditship']['peer']
        sys.exit(0 if p['pid'] not in (1, os.getpid()) and p['uid'] == os.getuid()
                 and forged == {'pid': 1, 'uid': 0} else 1)
sys.exit(1)" "$OUT"
"$AUDITSHIPCTL" send --socket "$AS_TMP/run/nobody.sock" '{"id":"x"}' 2>"$AS_TMP/ctl.err"
rc=$?
check "auditshipctl send fails clearly when nothing listens" sh -c "
    [ $rc -ne 0 ] && grep -q 'cannot connect to $AS_TMP/run/nobody.sock' '$AS_TMP/ctl.err'"
check "SIGTERM exits 0" stop_agent
check "the socket file is removed" sh -c "! test -e '$SOCK' && ! test -e '$RAW' && ! test -e '$SYS'"
check "every event exactly once, unaltered" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/events.ndjson" --got "$OUT"
check "each event names the process that sent it" \
    $CLIENT peers --map "$AS_TMP/map" --got "$OUT"
check "verify passes" "$AUDITSHIPCTL" verify "$OUT"
