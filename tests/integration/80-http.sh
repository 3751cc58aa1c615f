#!/bin/sh
# Proves the http output against a real collector on loopback:
# - --check validates its cross-key rules (URL scheme, concurrency, reserved
#   headers, unreadable TLS files, both kinds of credentials) with
#   FILE:LINE:COLUMN lines;
# - ndjson + gzip, several requests in flight: every event arrives exactly
#   once and unaltered, the chain verifies on the collector's copy, each
#   request carries a distinct 32-hex Idempotency-Key, Content-Encoding
#   gzip, the custom header and the bearer token (read from ${VAR}), over
#   at most `concurrency` kept-alive connections;
# - json_array without compression and basic auth, after a restart;
# - the http_proxy environment variable is honoured (the collector, acting
#   as the proxy, receives the absolute URL);
# - no credential ever appears in the agent's log.
. "$(dirname "$0")/lib.sh"
as_tmpdir
. "$(dirname "$0")/http-lib.sh"
plan 22

TOKEN=tok-$$-s3cr3t-bearer
PASSWORD=pw-$$-s3cr3t-basic
export AS_T_TOKEN=$TOKEN AS_T_PASSWORD=$PASSWORD
N=${AS_T_EVENTS:-3000}
[ "$AS_SLOW" -gt 1 ] && N=600
mkdir -p "$AS_TMP/in"
start_collector "$AS_TMP/col" || { not_ok "collector starts"; exit 1; }

# --- --check: cross-key rules ---
cat > "$AS_TMP/bad.yaml" <<EOC
agent: {state_dir: $AS_TMP/bad-state, http: {listen: ""}}
inputs: [{id: app, type: file, paths: ["$AS_TMP/in/*.ndjson"]}]
outputs:
  - id: h1
    type: http
    url: ftp://127.0.0.1/x
    concurrency: 0
  - id: h2
    type: http
    url: http://127.0.0.1/x
    headers: {Content-Length: "5", "Bad Name": x}
    auth: {bearer_token: a, basic_user: b}
    tls: {ca_file: $AS_TMP/no-such-ca.pem}
EOC
"$AUDITSHIPD" --check -c "$AS_TMP/bad.yaml" >"$AS_TMP/check.out" 2>&1
rc=$?
sed 's/^/# /' "$AS_TMP/check.out"
check "--check rejects a bad http output (exit 1)" [ "$rc" -eq 1 ]
check "--check names the URL scheme, concurrency, headers, credentials, CA" sh -c "
    grep -q 'bad.yaml:4:[0-9]*: .*url must start with http:// or https://' '$AS_TMP/check.out' &&
    grep -q 'bad.yaml:4:[0-9]*: .*concurrency must be 1 to 64' '$AS_TMP/check.out' &&
    grep -q 'bad.yaml:11:[0-9]*: .*header .Content-Length. is set by the agent' '$AS_TMP/check.out' &&
    grep -q 'bad.yaml:11:[0-9]*: .*invalid header .Bad Name.' '$AS_TMP/check.out' &&
    grep -q 'bad.yaml:8:[0-9]*: .*bearer_token or auth.basic_., not both' '$AS_TMP/check.out' &&
    grep -q 'bad.yaml:8:[0-9]*: .*tls.ca_file: .*no-such-ca.pem: No such file' '$AS_TMP/check.out'"

# --- ndjson + gzip, bearer token, custom header, concurrency 3 ---
http_conf_head "$AS_TMP/agent.yaml" "log_level: debug"
{
    echo "outputs:"
    conf_http_output "http://127.0.0.1:$COL_PORT/v1/audit" \
        "batch: {max_events: 200, max_bytes: 1MiB, timeout: 100ms}" \
        "headers: {X-Tenant: acme}" "auth: {bearer_token: \"\${AS_T_TOKEN}\"}" "concurrency: 3"
} >> "$AS_TMP/agent.yaml"
check "--check accepts the http config" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
gen_events "$N" 21 > "$AS_TMP/in/a.ndjson"
start_agent "$AS_TMP/agent.yaml"
check "$N events arrive" wait_for 60 has_lines "$N" "$AS_TMP/col/dedup.ndjson"
check "SIGTERM exits 0" stop_agent
check "every event exactly once, unaltered" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/in/a.ndjson" --got "$AS_TMP/col/all.ndjson"
check "verify passes on the collector's copy" "$AUDITSHIPCTL" verify "$AS_TMP/col/dedup.ndjson"
reqs=$(req_count "$AS_TMP/col" True)
diag "$reqs requests"
check "several requests" [ "$reqs" -ge $((N / 200)) ]
check "every request has a 32-hex Idempotency-Key, all distinct" python3 -c "
import json, re, sys
keys = [json.loads(l)['key'] for l in open('$AS_TMP/col/requests.ndjson')]
sys.exit(not (all(re.fullmatch('[0-9a-f]{32}', k or '') for k in keys) and len(set(keys)) == len(keys)))"
check "gzip-encoded ndjson" [ "$(req_count "$AS_TMP/col" "r['encoding'] == 'gzip' and r['ctype'] == 'application/x-ndjson'")" -eq "$reqs" ]
check "bearer token sent" [ "$(req_count "$AS_TMP/col" "r['authorization'] == 'Bearer $TOKEN'")" -eq "$reqs" ]
check "custom header sent" [ "$(req_count "$AS_TMP/col" "r['x_tenant'] == 'acme'")" -eq "$reqs" ]
check "no duplicate in a healthy run" [ "$(col_stat dups)" -eq 0 ]
conns=$(python3 -c "
import json
print(len({json.loads(l)['client_port'] for l in open('$AS_TMP/col/requests.ndjson')}))")
diag "$reqs requests over $conns connections"
check "keep-alive: at most one connection per request in flight (3)" [ "$conns" -le 3 ]

# --- json_array, no compression, basic auth (restart) ---
http_conf_head "$AS_TMP/agent2.yaml" "log_level: debug"
{
    echo "outputs:"
    conf_http_output "http://127.0.0.1:$COL_PORT/v1/audit" "format: json_array" \
        "compression: none" "batch: {max_events: 100, timeout: 100ms}" \
        "auth: {basic_user: shipper, basic_password: \"\${AS_T_PASSWORD}\"}"
} >> "$AS_TMP/agent2.yaml"
gen_events 300 22 > "$AS_TMP/in/b.ndjson"
before=$(req_count "$AS_TMP/col" True)
start_agent "$AS_TMP/agent2.yaml"
check "json_array batches arrive" wait_for 60 has_lines $((N + 300)) "$AS_TMP/col/dedup.ndjson"
stop_agent
basic=$(printf 'shipper:%s' "$PASSWORD" | base64)
check "json_array: application/json, not encoded, basic auth" [ "$(req_count "$AS_TMP/col" \
    "r['ctype'] == 'application/json' and r['encoding'] is None and r['authorization'] == 'Basic $basic'")" -eq \
    $(( $(req_count "$AS_TMP/col" True) - before )) ]
check "still exactly once after the restart" python3 "$(dirname "$0")/exactly_once.py" \
    --sent "$AS_TMP/in/a.ndjson" "$AS_TMP/in/b.ndjson" --got "$AS_TMP/col/all.ndjson"
check "verify passes" "$AUDITSHIPCTL" verify "$AS_TMP/col/dedup.ndjson"

# --- http_proxy: the collector is the proxy ---
sed "s|url: http://127.0.0.1:$COL_PORT/v1/audit|url: http://collector.invalid:9/v1/audit|" \
    "$AS_TMP/agent.yaml" > "$AS_TMP/agent3.yaml"
gen_events 50 23 > "$AS_TMP/in/c.ndjson"
http_proxy=http://127.0.0.1:$COL_PORT start_agent "$AS_TMP/agent3.yaml"
check "through http_proxy" wait_for 60 has_lines $((N + 350)) "$AS_TMP/col/dedup.ndjson"
stop_agent
check "the proxy got absolute URLs" [ "$(req_count "$AS_TMP/col" "r['path'] == 'http://collector.invalid:9/v1/audit'")" -ge 1 ]

check "the log names the collector" grep -q "sending to http://127.0.0.1:$COL_PORT " "$AS_TMP/agent.log"
check "no credential in the agent's log" sh -c "! grep -q -e '$TOKEN' -e '$PASSWORD' -e '$basic' '$AS_TMP/agent.log'"
