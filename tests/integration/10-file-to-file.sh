#!/bin/sh
# Proves the spine end to end: events tailed from files are validated,
# chained and shipped to the file output exactly once, unaltered apart from
# the reserved `auditship` member; invalid lines (bad JSON, schema failures,
# over-long lines) go to the dead-letter file with their reason; the chain of
# the shipped file verifies; SIGTERM exits 0; a restart ships nothing twice.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 12

mkdir -p "$AS_TMP/in"
gen_events 2000 7 > "$AS_TMP/in/a.ndjson"
{
    conf_agent "$AS_TMP/state" testhost
    echo "inputs:"
    conf_file_input app "$AS_TMP/in/*.ndjson" "max_line_bytes: 4KiB" "rescan_interval: 200ms"
    conf_section scrub "keys: []"
    echo "outputs:"
    conf_file_output local "$AS_TMP/out/audit.ndjson" \
        "batch: {max_events: 500, max_bytes: 1MiB, timeout: 50ms}"
} > "$AS_TMP/agent.yaml"
check "--check accepts the config" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
start_agent "$AS_TMP/agent.yaml"
check "2000 events shipped" wait_for 30 has_lines 2000 "$AS_TMP/out/audit.ndjson"
# Invalid input while running: bad JSON, schema failure, over-long line.
{
    echo '{"actor_id": "user_1", "action": '
    echo '{"actor_id":"u","actor_type":"robot","action":"a.b","target_type":"t","target_id":"1","id":"bad-type"}'
    python3 -c 'print("{\"id\":\"long\",\"x\":\"" + "y" * 5000 + "\"}")'
} >> "$AS_TMP/in/a.ndjson"
gen_events 500 8 > "$AS_TMP/in/b.ndjson"
check "new file picked up" wait_for 30 has_lines 2500 "$AS_TMP/out/audit.ndjson"
check "3 dead-letter records" wait_for 30 has_lines 3 "$AS_TMP/state/deadletter.ndjson"
check "SIGTERM exits 0" stop_agent
check "every event exactly once, unaltered" \
    python3 "$(dirname "$0")/exactly_once.py" --sent "$AS_TMP/in/a.ndjson" "$AS_TMP/in/b.ndjson" \
    --got "$AS_TMP/out/audit.ndjson" --ignore-id bad-type --ignore-id long
check "dead letters name their reasons" sh -c "
    grep -q 'invalid JSON' '$AS_TMP/state/deadletter.ndjson' &&
    grep -q 'actor_type must be' '$AS_TMP/state/deadletter.ndjson' &&
    grep -q 'max_line_bytes' '$AS_TMP/state/deadletter.ndjson'"
check "no invalid event in the output" sh -c "! grep -q '\"error\"' '$AS_TMP/out/audit.ndjson'"
check "verify passes on the shipped file" "$AUDITSHIPCTL" verify "$AS_TMP/out/audit.ndjson"
check "chain id names host and input" grep -q '"chain":"testhost/app"' "$AS_TMP/out/audit.ndjson"
# Restart: nothing is read or shipped twice.
start_agent "$AS_TMP/agent.yaml"
sleep 1
gen_events 10 9 >> "$AS_TMP/in/b.ndjson"
check "restart ships only new events" wait_for 30 has_lines 2510 "$AS_TMP/out/audit.ndjson"
stop_agent
check "still exactly once after restart" \
    python3 "$(dirname "$0")/exactly_once.py" --sent "$AS_TMP/in/a.ndjson" "$AS_TMP/in/b.ndjson" \
    --got "$AS_TMP/out/audit.ndjson" --ignore-id bad-type --ignore-id long
