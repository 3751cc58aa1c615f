#!/bin/sh
# Proves how the socket input treats its socket file: --check rejects a bad
# `permissions` or an unknown `group` at their line; a stale socket left by
# a crashed agent (kill -9) is replaced at start; a second agent on the same
# path refuses to start with an error naming the path, while the first keeps
# receiving; a regular file at the path is neither removed nor used; the
# mode and group are applied to a missing directory's new socket; a reload
# (SIGHUP) serves the socket again; SIGTERM removes it.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 16

SOCK=$AS_TMP/run/sub/audit.sock
OUT=$AS_TMP/out/audit.ndjson
# A group the socket can be given: ours, or daemon when we are root.
GROUP=$(id -gn)
[ "$(id -u)" -eq 0 ] && getent group daemon >/dev/null && GROUP=daemon
conf() { # conf FILE STATE_DIR PERMISSIONS GROUP
    {
        conf_agent "$2" testhost
        echo "inputs:"
        conf_socket_input app "$SOCK" "permissions: \"$3\"" "group: \"$4\""
        conf_section validate "schema: none"
        echo "outputs:"
        conf_file_output local "$AS_TMP/out/$(basename "$2").ndjson" "batch: {timeout: 50ms}"
    } > "$1"
}
send() { "$AUDITSHIPCTL" send --socket "$SOCK" "{\"id\":\"$1\"}"; }
shipped() { grep -q "\"id\":\"$1\"" "$AS_TMP"/out/*.ndjson 2>/dev/null; }

conf "$AS_TMP/bad.yaml" "$AS_TMP/a" "0x1ff" ""
"$AUDITSHIPD" --check -c "$AS_TMP/bad.yaml" >"$AS_TMP/check.out" 2>&1
rc=$?
check "--check rejects a bad mode at the input's line" sh -c "[ $rc -eq 1 ] &&
    grep -q 'bad.yaml:[0-9]*:[0-9]*: .*permissions \"0x1ff\" is not an octal mode' '$AS_TMP/check.out'"
conf "$AS_TMP/bad.yaml" "$AS_TMP/a" "0660" "no-such-group-as"
"$AUDITSHIPD" --check -c "$AS_TMP/bad.yaml" >"$AS_TMP/check.out" 2>&1
rc=$?
check "--check rejects an unknown group" sh -c "[ $rc -eq 1 ] &&
    grep -q 'unknown group \"no-such-group-as\"' '$AS_TMP/check.out'"

# A stale socket: the agent killed with SIGKILL leaves its file behind.
conf "$AS_TMP/a.yaml" "$AS_TMP/a" "0640" "$GROUP"
start_agent "$AS_TMP/a.yaml" "$AS_TMP/a.log"
# The file exists from bind(); wait for the log line that follows listen(),
# or a slow (valgrind) agent may die before writing it.
wait_for 20 grep -q "listening on $SOCK" "$AS_TMP/a.log"
kill -9 "$AS_AGENT_PID"; wait "$AS_AGENT_PID" 2>/dev/null; AS_AGENT_PID=
check "SIGKILL leaves a stale socket" test -S "$SOCK"
start_agent "$AS_TMP/a.yaml" "$AS_TMP/a.log"
check "the stale socket is replaced" wait_for 20 sh -c "
    grep -q 'removed the stale socket $SOCK' '$AS_TMP/a.log' &&
    [ \$(grep -c 'listening on $SOCK' '$AS_TMP/a.log') -eq 2 ]"
send one
check "events flow on the new socket" wait_for 20 shipped one
check "mode and group applied" sh -c \
    "[ \"\$(stat -c '%a %G' '$SOCK')\" = '640 $GROUP' ] && [ \$(stat -c %a '$AS_TMP/run/sub') = 755 ]"

# A second agent on the same path: refused, the first unharmed.
FIRST=$AS_AGENT_PID
conf "$AS_TMP/b.yaml" "$AS_TMP/b" "0660" ""
"$AUDITSHIPD" -c "$AS_TMP/b.yaml" >"$AS_TMP/b.log" 2>&1
rc=$?
check "a second agent on a live socket exits non-zero" test "$rc" -ne 0
check "its error names the path" grep -q "$SOCK: another process is listening on this socket" "$AS_TMP/b.log"
send two
check "the first agent still receives" wait_for 20 shipped two

# SIGHUP: the socket is served again after the reload.
kill -HUP "$FIRST"
check "reload logged" wait_for 20 grep -q "configuration reloaded" "$AS_TMP/a.log"
send three
check "events flow after the reload" wait_for 20 shipped three
check "SIGTERM exits 0" stop_agent
check "the socket file is removed" sh -c "! test -e '$SOCK'"

# A regular file at the path: not removed, not used.
echo "not a socket" > "$SOCK"
"$AUDITSHIPD" -c "$AS_TMP/a.yaml" >"$AS_TMP/c.log" 2>&1
rc=$?
check "a regular file at the path: start fails" sh -c "[ $rc -ne 0 ] &&
    grep -q '$SOCK exists and is not a socket: not removing it' '$AS_TMP/c.log'"
check "the file is left as it was" grep -qx "not a socket" "$SOCK"
check "events were shipped once each" sh -c \
    "[ \$(cat '$AS_TMP'/out/*.ndjson | grep -c '\"id\":\"') -eq 3 ]"
