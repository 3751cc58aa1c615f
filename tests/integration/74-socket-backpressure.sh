#!/bin/sh
# Proves backpressure on the socket input (buffer.when_full: block): while
# the only output cannot write (its rotation is blocked by a directory in
# the way) the buffer fills and the input stops reading, so a stream client
# blocks in send() and a non-blocking datagram client gets EAGAIN; the
# agent's memory stays flat meanwhile; once the output recovers, the
# blocked client finishes and every event a client was told was sent
# arrives exactly once, in a chain that verifies.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 12

N=20000
CLIENT="python3 $(dirname "$0")/sock_client.py"
SOCK=$AS_TMP/run/audit.sock
DSOCK=$AS_TMP/run/dgram.sock
OUT=$AS_TMP/out/audit.ndjson
gen_events "$N" 31 > "$AS_TMP/events.ndjson"
gen_events 3000 32 > "$AS_TMP/dgram-events.ndjson"
# Rotation renames audit.ndjson.999 to audit.ndjson.1000 first: with a
# directory holding a file at .1000, every rotation (and so every write
# after the first MiB) fails until the directory is removed.
mkdir -p "$AS_TMP/out/audit.ndjson.1000/blocker"
echo "placeholder" > "$AS_TMP/out/audit.ndjson.999"
{
    conf_agent "$AS_TMP/state" testhost "shutdown_timeout: 30s"
    echo "inputs:"
    conf_socket_input app "$SOCK"
    conf_socket_input dg "$DSOCK" "mode: datagram"
    conf_section scrub "keys: []"
    conf_section buffer "max_bytes: 2MiB" "when_full: block"
    echo "outputs:"
    conf_file_output local "$OUT" "rotate: {max_bytes: 1MiB, keep: 1000}" \
        "batch: {max_events: 1000, max_bytes: 256KiB, timeout: 50ms}"
} > "$AS_TMP/agent.yaml"
start_agent "$AS_TMP/agent.yaml"
wait_for 20 test -S "$DSOCK"
$CLIENT block --socket "$SOCK" --status "$AS_TMP/status" --wait $((3 * AS_SLOW)) \
    "$AS_TMP/events.ndjson" &
BLOCKED=$!
check "the buffer fills: inputs paused" wait_for 60 grep -q "buffer full (max_bytes): inputs paused" "$AS_TMP/agent.log"
check "the stream client blocks in send()" sh -c "
    while [ ! -s '$AS_TMP/status' ]; do sleep 0.2; done; grep -qx blocked '$AS_TMP/status'"
# A non-blocking datagram sender: what the kernel refuses is EAGAIN.
python3 - "$DSOCK" "$AS_TMP/dgram-events.ndjson" "$AS_TMP/dgram-sent.ndjson" > "$AS_TMP/dgram.out" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
s.setblocking(False)
sent, eagain = [], 0
for line in open(sys.argv[2], "rb"):
    try:
        s.send(line.rstrip(b"\n"))
        sent.append(line)
    except BlockingIOError:
        eagain += 1
open(sys.argv[3], "wb").writelines(sent)
print(f"sent {len(sent)} eagain {eagain}")
EOP
check "a datagram client gets EAGAIN, not a hang" sh -c \
    "grep -q 'eagain [1-9]' '$AS_TMP/dgram.out'"
diag "$(cat "$AS_TMP/dgram.out")"
rss() { awk '/VmRSS/ {print $2}' "/proc/$AS_AGENT_PID/status"; }
R1=$(rss)
sleep 2
R2=$(rss)
diag "agent RSS while blocked: $R1 kB, then $R2 kB"
check "memory stays flat while blocked" test $((R2 - R1)) -lt 4096
check "the client is still blocked" sh -c "kill -0 $BLOCKED 2>/dev/null"
check "while the output is stuck, most events wait with the client" \
    test "$(lines "$OUT")" -lt $((N / 2))
check "nothing lost so far: the agent is alive" kill -0 "$AS_AGENT_PID"
rm -rf "$AS_TMP/out/audit.ndjson.1000" "$AS_TMP/out/audit.ndjson.999"
wait "$BLOCKED"
check "the output recovers and the client finishes" test $? -eq 0
check "inputs resumed" grep -q "buffer has room again" "$AS_TMP/agent.log"
SENT=$((N + $(wc -l < "$AS_TMP/dgram-sent.ndjson")))
shipped() { cat "$OUT"* 2>/dev/null | grep -c '"id"' | awk -v n="$SENT" '{exit !($1 >= n)}'; }
wait_for 120 shipped
check "SIGTERM exits 0" stop_agent
check "every event a client sent arrives exactly once" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/events.ndjson" "$AS_TMP/dgram-sent.ndjson" --got "$OUT"*
check "verify passes" "$AUDITSHIPCTL" verify "$OUT"*
