# Helpers for the http output tests: the test collector
# (tests/tools/collector.py) and what it recorded.  Source after lib.sh and
# as_tmpdir.
COLLECTOR="$top_srcdir/tests/tools/collector.py"
COL_PID=
COL_PORT=
# No proxy from the caller's environment may divert the agent's requests
# to loopback (a test that wants one sets it for one agent run).
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
    no_proxy NO_PROXY

http_cleanup() {
    [ -n "${COL_PID:-}" ] && kill -9 "$COL_PID" 2>/dev/null
    as_cleanup
}
trap 'http_cleanup' EXIT

# http_conf_head FILE [AGENT_LINE...]: writes the part of an agent config
# the http tests share (state in $AS_TMP/state, hostname testhost, no
# health listener, plus each AGENT_LINE under `agent:`; one file input `app`
# on $AS_TMP/in/*.ndjson; no scrub keys).  The caller appends its outputs.
http_conf_head() {
    _f=$1; shift
    {
        conf_agent "$AS_TMP/state" testhost "$@"
        echo "inputs:"
        conf_file_input app "$AS_TMP/in/*.ndjson" "rescan_interval: 100ms"
        conf_section scrub "keys: []"
    } >"$_f"
}

# conf_http_output URL [LINE...]: one item of `outputs:`, the http output
# `collector` posting to URL (each LINE one more key of it, as YAML).
conf_http_output() {
    echo "  - id: collector"
    echo "    type: http"
    printf '    url: %s\n' "$1"
    shift
    conf_lines "    " "$@"
}

# start_agent_wait CONFIG: start_agent, then wait until it has started
# (its signal handlers are in place: a SIGTERM before would kill it).
start_agent_wait() {
    _n=$(grep -c 'started (pid' "$AS_TMP/agent.log" 2>/dev/null)
    start_agent "$1"
    wait_for 30 sh -c "[ \$(grep -c 'started (pid' '$AS_TMP/agent.log') -gt ${_n:-0} ]"
}

# start_collector DIR [serve options...]: runs the collector (on COL_PORT
# when set, so a restart keeps the address) and waits for it to listen.
start_collector() {
    _dir=$1; shift
    rm -f "$AS_TMP/col.port"
    python3 "$COLLECTOR" serve --dir "$_dir" --port "${COL_PORT:-0}" \
        --port-file "$AS_TMP/col.port" "$@" >>"$AS_TMP/collector.log" 2>&1 &
    COL_PID=$!
    wait_for 20 test -s "$AS_TMP/col.port" || return 1
    COL_PORT=$(cat "$AS_TMP/col.port")
}

# stop_collector: kills it at once (a collector that goes away).
stop_collector() {
    [ -n "${COL_PID:-}" ] || return 0
    kill -9 "$COL_PID" 2>/dev/null
    wait "$COL_PID" 2>/dev/null
    COL_PID=
}

# col_ctl JSON: changes the collector's faults.
col_ctl() {
    python3 "$COLLECTOR" ctl ${COL_HTTPS:+--https} "$COL_PORT" "$1" >/dev/null
}

# col_stat NAME: one counter of the collector.
col_stat() {
    python3 "$COLLECTOR" stats ${COL_HTTPS:+--https} "$COL_PORT" |
        python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"
}

# req_count DIR PYTHON_EXPR: requests in DIR/requests.ndjson for which the
# expression (over r, one request record) is true.
req_count() {
    python3 - "$1/requests.ndjson" "$2" <<'EOP'
import json, sys
n = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)
            if eval(sys.argv[2]):
                n += 1
except FileNotFoundError:
    pass
print(n)
EOP
}

# dl_records FILE OUT: the records inside dead-letter lines, one a line.
dl_records() {
    python3 - "$1" >"$2" <<'EOP'
import json, sys
try:
    with open(sys.argv[1]) as f:
        for line in f:
            d = json.loads(line)
            if "record" in d:
                print(json.dumps(d["record"]))
except FileNotFoundError:
    pass
EOP
}
