#!/bin/sh
# Proves that lines the agent had not read when logrotate's copytruncate
# ran are drained from the copy (which the globs do not match), exactly
# once and in order: with the agent frozen (SIGSTOP) during the rotation,
# and with the agent down during it.
. "$(dirname "$0")/lib.sh"
as_tmpdir
command -v logrotate >/dev/null 2>&1 || skip_all "logrotate not installed"
plan 4
run() { # NAME MODE
    d="$AS_TMP/$1"; mkdir -p "$d/in"
    gen_events 2000 7 > "$d/events.ndjson"
    head -n 800 "$d/events.ndjson" > "$d/a"; sed -n 801,1400p "$d/events.ndjson" > "$d/b"; sed -n '1401,$p' "$d/events.ndjson" > "$d/c"
    {
        conf_agent "$d/state" h
        echo "inputs:"
        conf_file_input app "$d/in/audit.ndjson" "rescan_interval: 100ms"
        echo "outputs:"
        conf_file_output local "$d/out/audit.ndjson" "batch: {timeout: 50ms}"
    } > "$d/agent.yaml"
    printf '%s\n' "$d/in/audit.ndjson {" copytruncate "rotate 5" nocompress missingok "}" > "$d/lr.conf"
    start_agent "$d/agent.yaml" "$d/agent.log"
    cat "$d/a" >> "$d/in/audit.ndjson"
    wait_for 30 has_lines 800 "$d/out/audit.ndjson"
    if [ "$2" = stop ]; then kill -STOP "$AS_AGENT_PID"; else stop_agent; fi
    cat "$d/b" >> "$d/in/audit.ndjson"
    logrotate -f -s "$d/lr.state" "$d/lr.conf"
    cat "$d/c" >> "$d/in/audit.ndjson"
    if [ "$2" = stop ]; then kill -CONT "$AS_AGENT_PID"; else start_agent "$d/agent.yaml" "$d/agent.log"; fi
    wait_for 30 has_lines 2000 "$d/out/audit.ndjson"; sleep 0.5
    stop_agent
    check "$1: exactly once" python3 "$(dirname "$0")/exactly_once.py" --sent "$d/events.ndjson" --got "$d/out/audit.ndjson"
    check "$1: chain" "$AUDITSHIPCTL" verify --quiet "$d/out/audit.ndjson"
    grep -h 'copy\|truncat' "$d/agent.log" | sed 's/^/# /'
}
run frozen stop
run down down
