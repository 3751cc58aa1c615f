#!/bin/sh
# Proves socket activation (LISTEN_FDS) with systemd's own launcher,
# systemd-socket-activate: the stream socket it created and passed is used
# (the first connection, which started the agent, is served), events carry
# their sender's identity, a reload (SIGHUP) keeps serving the same socket,
# and the agent neither replaces nor removes the file; a passed datagram
# socket works too (the datagram that woke the agent was sent before it
# asked for credentials, so only later ones carry a peer).
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null ||
    skip_all "systemd-socket-activate not installed (package systemd)"
as_tmpdir
plan 12

SOCK=$AS_TMP/run/audit.sock
DSOCK=$AS_TMP/run/dgram.sock
mkdir -p "$AS_TMP/run"
conf() { # conf NAME MODE PATH
    {
        conf_agent "$AS_TMP/$1" testhost
        echo "inputs:"
        conf_socket_input app "$3" "mode: $2"
        conf_section validate "schema: none"
        echo "outputs:"
        conf_file_output local "$AS_TMP/out/$1.ndjson" "batch: {timeout: 50ms}"
    } > "$AS_TMP/$1.yaml"
}
ids() { # ids PREFIX FROM TO: one event per line
    i=$2
    while [ "$i" -le "$3" ]; do
        echo "{\"id\":\"$1-$i\",\"n\":$i}"
        i=$((i + 1))
    done
}

conf stream stream "$SOCK"
systemd-socket-activate -l "$SOCK" "$AUDITSHIPD" -c "$AS_TMP/stream.yaml" \
    >>"$AS_TMP/stream.log" 2>&1 &
AS_AGENT_PID=$!
wait_for 20 test -S "$SOCK"
INODE=$(stat -c %i "$SOCK")
# This connection starts the agent, which takes over the listening socket.
ids s 1 100 | "$AUDITSHIPCTL" send --socket "$SOCK" -
check "the first client's events arrive" wait_for 60 has_lines 100 "$AS_TMP/out/stream.ndjson"
check "the agent used the passed socket" \
    grep -q "using the stream socket $SOCK passed by systemd (fd 3)" "$AS_TMP/stream.log"
# That client may have exited before the agent was up to look at /proc:
# its events carry its pid and uid at least.
check "events carry the sender's pid and uid" sh -c "
    [ \$(grep -c '\"peer\":{.*\"pid\":[1-9][0-9]*,\"uid\":$(id -u)' '$AS_TMP/out/stream.ndjson') -eq 100 ]"
kill -HUP "$AS_AGENT_PID"
check "reload logged" wait_for 20 grep -q "configuration reloaded" "$AS_TMP/stream.log"
ids r 1 100 | "$AUDITSHIPCTL" send --socket "$SOCK" -
check "the socket is served after the reload" wait_for 60 has_lines 200 "$AS_TMP/out/stream.ndjson"
check "passed socket taken again by the new input" sh -c \
    "[ \$(grep -c 'passed by systemd' '$AS_TMP/stream.log') -eq 2 ] &&
     [ \$(grep '\"id\":\"r-' '$AS_TMP/out/stream.ndjson' | grep -c '\"pid\":[1-9][0-9]*,\"uid\":$(id -u)') -eq 100 ]"
check "SIGTERM exits 0" stop_agent
check "the passed socket's file is left in place" sh -c \
    "[ \$(stat -c %i '$SOCK') = $INODE ]"
check "no stale-socket handling happened" sh -c \
    "! grep -q 'stale socket' '$AS_TMP/stream.log'"

conf dgram datagram "$DSOCK"
systemd-socket-activate --datagram -l "$DSOCK" "$AUDITSHIPD" -c "$AS_TMP/dgram.yaml" \
    >>"$AS_TMP/dgram.log" 2>&1 &
AS_AGENT_PID=$!
wait_for 20 test -S "$DSOCK"
"$AUDITSHIPCTL" send --datagram --socket "$DSOCK" '{"id":"wake"}'
wait_for 60 grep -q "passed by systemd" "$AS_TMP/dgram.log"
ids d 1 50 | "$AUDITSHIPCTL" send --datagram --socket "$DSOCK" -
check "datagrams on the passed socket arrive" wait_for 60 has_lines 51 "$AS_TMP/out/dgram.ndjson"
check "datagrams sent after the start carry their sender" sh -c "
    [ \$(grep '\"id\":\"d-' '$AS_TMP/out/dgram.ndjson' | grep -c '\"pid\":[1-9][0-9]*,\"uid\":$(id -u)') -eq 50 ]"
check "SIGTERM exits 0 (datagram)" stop_agent
