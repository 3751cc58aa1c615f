# Shared by the bench/*.sh harnesses (POSIX sh; source it after setting
# `top`, the source tree; bench_conf* also read `work`, the scratch
# directory).  Globals pass values both ways here, which shellcheck cannot
# see across the `.` of a computed path:
# shellcheck disable=SC2034,SC2154

# bench_need_disk KIB: fails unless /tmp has KIB free.
bench_need_disk() {
    _free=$(df -Pk /tmp | awk 'NR == 2 {print $4}')
    [ "$_free" -ge "$1" ] || { echo "need $1 KiB free in /tmp, have $_free" >&2; exit 1; }
}

# bench_events N: prints the path of a cached file of N reference events,
# generated once (atomically: an interrupted run leaves no short cache).
bench_events() {
    _cache=/tmp/auditship-bench-events-$1.ndjson
    if [ ! -s "$_cache" ]; then
        python3 "$top/../shared/bench/gen-audit-events.py" -n "$1" > "$_cache.tmp.$$"
        mv "$_cache.tmp.$$" "$_cache"
    fi
    echo "$_cache"
}

# bench_tail_input N: makes the scratch directory $work (removed at exit
# unless AS_BENCH_KEEP is set, after the agent $pid and the collector $cpid,
# when set, are killed) holding N reference events in
# $work/in/audit.ndjson, and sets bytes to that file's size.
bench_tail_input() {
    # About 2.5 KiB of disk per event: input copy, buffer segments, output.
    bench_need_disk $(($1 * 5 / 2 + 1048576))
    work=$(mktemp -d /tmp/auditship-bench.XXXXXX)
    pid= cpid=
    # (`|| :`: under set -e a failing kill would end the trap before the rm.)
    trap '[ -z "$pid$cpid" ] || kill -9 $pid $cpid 2>/dev/null || :; [ -n "${AS_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
    trap 'exit 130' HUP INT PIPE TERM
    _src=$(bench_events "$1")
    mkdir -p "$work/in"
    cp "$_src" "$work/in/audit.ndjson"
    bytes=$(wc -c < "$work/in/audit.ndjson")
}

# bench_wait_lines FILE N PID: waits until FILE holds N lines and prints
# the time of its last write (its mtime, seconds since the epoch): the end
# of the run, not the moment this loop noticed it.  While FILE grows it
# only stats it; it counts newlines (in the new bytes only) when FILE has
# been quiet for 100 ms.  Reading a growing output as it is written took a
# CPU from the agent on a 2-core machine and noticed the last line up to a
# second late.  Fails when PID dies or nothing arrives for 60 s.
bench_wait_lines() {
    python3 - "$1" "$2" "$3" <<'EOW'
import os, sys, time
path, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f, got, counted = None, 0, 0
size, quiet, since = -1, 0.0, time.monotonic()
while True:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    now = time.monotonic()
    if st is not None and st.st_size != size:
        size, quiet, since = st.st_size, now, now
    elif st is not None and now - quiet >= 0.1 and counted < size:
        if f is None:
            f = open(path, 'rb', buffering=0)
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            got += b.count(b'\n')
            counted += len(b)
        if got >= n:
            print(f"{os.stat(path).st_mtime_ns / 1e9:.6f}")
            break
    elif now - since > 60:
        sys.exit(f"no progress for 60 s at {got} of {n} events")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    time.sleep(0.02)
EOW
}

# bench_agent_stats PID: sets hwm (KiB), ticks (user+system), sticks
# (system alone), hz and threads (CPU seconds per thread, by name) of a
# running agent.
bench_agent_stats() {
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$1/status")
    ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
    sticks=$(awk '{print $15}' "/proc/$1/stat")
    hz=$(getconf CLK_TCK)
    threads=$(for _t in /proc/"$1"/task/*; do
        awk -v hz="$hz" '{ sub(/^[0-9]+ \(/, ""); name = $0; sub(/\).*/, "", name); sub(/^[^)]*\) /, "");
            printf "%s=%.2fs ", name, ($12 + $13) / hz }' "$_t/stat"; done)
}

# bench_conf INPUT [BUFFER_LINE...]: prints the part of an agent config the
# harnesses share: the agent (state in $work/state, hostname bench,
# log_level warn, no health listener), the one input `app` (INPUT `tail`:
# the files $work/in/*.ndjson; `stream` or `datagram`: the socket
# $work/audit.sock in that mode) and a buffer of up to 4 GiB with each
# BUFFER_LINE.  The caller adds the outputs (bench_conf_file_output).
bench_conf() {
    cat <<EOC
agent:
  state_dir: $work/state
  hostname: bench
  log_level: ${AS_BENCH_LOG_LEVEL:-warn}
  http: {listen: ""}
inputs:
  - id: app
EOC
    case $1 in
    tail) printf '    type: file\n    paths: ["%s"]\n' "$work/in/*.ndjson" ;;
    *) printf '    type: socket\n    mode: %s\n    path: %s\n' "$1" "$work/audit.sock" ;;
    esac
    shift
    echo "buffer:"
    for _l in "$@"; do
        printf '  %s\n' "$_l"
    done
    echo "  max_bytes: 4GiB"
}

# bench_conf_file_output: prints the outputs of a harness that writes a
# file: $work/out/audit.ndjson, never rotated, with batch.timeout
# AS_BENCH_FILE_TIMEOUT (default 0s: records are written as they come).
# With the default 1s, a run would end with up to a second of waiting for
# the last batch to fill, which is latency, not throughput: in a steady
# stream batches fill long before it.
bench_conf_file_output() {
    cat <<EOC
outputs:
  - id: local
    type: file
    path: $work/out/audit.ndjson
    rotate: {max_bytes: 0}
    batch: {timeout: ${AS_BENCH_FILE_TIMEOUT:-0s}}
EOC
}
