#!/bin/sh
# Proves TLS in the http output, with a CA, server and client certificates
# made here by the openssl CLI:
# - verification against tls.ca_file: events arrive over HTTPS;
# - the wrong CA fails closed: nothing is sent, one clear log line says
#   why, and a reload with the right CA delivers everything held back;
# - mutual TLS: a collector that requires a client certificate gets
#   nothing without one, and everything with tls.cert_file/key_file (it
#   sees the agent's certificate subject);
# - tls.verify: false skips verification (the operator's explicit choice).
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null 2>&1 || skip_all "openssl CLI missing"
as_tmpdir
. "$(dirname "$0")/http-lib.sh"
plan 13

K=200
[ "$AS_SLOW" -gt 1 ] && K=50
P=$AS_TMP/pki
mkdir -p "$P" "$AS_TMP/in"
# mkcert NAME CA SUBJECT EXT: key and certificate signed by CA.
mkcert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$P/$1.key" -out "$P/$1.csr" -subj "$3" 2>/dev/null &&
    printf '%s\n' "$4" > "$P/$1.ext" &&
    openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" \
        -CAcreateserial -days 2 -out "$P/$1.pem" -extfile "$P/$1.ext" 2>/dev/null
}
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$P/$1.key" -out "$P/$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null
}
mkca ca
mkca other-ca
mkcert server ca /CN=localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
mkcert client ca /CN=auditship-agent "extendedKeyUsage=clientAuth"
check "CA, server and client certificates made" test -s "$P/client.pem" -a -s "$P/server.pem"

COL_HTTPS=1
start_collector "$AS_TMP/col" --tls-cert "$P/server.pem" --tls-key "$P/server.key" ||
    { not_ok "collector starts"; exit 1; }
# conf TLS_MAPPING: the agent's config with that tls section.
conf() {
    http_conf_head "$AS_TMP/agent.yaml" "shutdown_timeout: 1s"
    {
        echo "outputs:"
        conf_http_output "https://127.0.0.1:$COL_PORT/v1/audit" \
            "batch: {max_events: 100, timeout: 100ms}" "retry: {initial: 100ms, max: 500ms}" \
            "tls: $1"
    } >> "$AS_TMP/agent.yaml"
}
TOTAL=0
n=0
events() {
    n=$((n + 1))
    gen_events "$K" $((40 + n)) > "$AS_TMP/in/e$n.tmp"
    mv "$AS_TMP/in/e$n.tmp" "$AS_TMP/in/e$n.ndjson"
    TOTAL=$((TOTAL + K))
}

conf "{ca_file: $P/ca.pem}"
start_agent "$AS_TMP/agent.yaml"
events
check "HTTPS with tls.ca_file: events arrive" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"

# The wrong CA: nothing is sent.
conf "{ca_file: $P/other-ca.pem}"
kill -HUP "$AS_AGENT_PID"
wait_for 30 grep -q 'reload' "$AS_TMP/agent.log"
sleep 1
before=$(lines "$AS_TMP/col/requests.ndjson")
events
check "wrong CA: a clear log line" wait_for 30 grep -q \
    "TLS with https://127.0.0.1:$COL_PORT failed: SSL certificate problem: .*nothing is sent until it succeeds" \
    "$AS_TMP/agent.log"
sleep 2
check "wrong CA: fails closed (no request reached the collector)" \
    [ "$(lines "$AS_TMP/col/requests.ndjson")" -eq "$before" ]
check "wrong CA: the TLS line is rate-limited" [ "$(grep -c 'TLS with' "$AS_TMP/agent.log")" -eq 1 ]
conf "{ca_file: $P/ca.pem}"
kill -HUP "$AS_AGENT_PID"
check "right CA again (reload): the held-back events arrive" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"
check "SIGTERM exits 0" stop_agent

# Mutual TLS.
stop_collector
start_collector "$AS_TMP/col" --tls-cert "$P/server.pem" --tls-key "$P/server.key" \
    --client-ca "$P/ca.pem" || { not_ok "collector restarts"; exit 1; }
conf "{ca_file: $P/ca.pem}"
start_agent_wait "$AS_TMP/agent.yaml"
before=$(lines "$AS_TMP/col/requests.ndjson")
events
sleep 3
check "mTLS without a client certificate: nothing accepted" \
    [ "$(lines "$AS_TMP/col/requests.ndjson")" -eq "$before" ]
stop_agent
conf "{ca_file: $P/ca.pem, cert_file: $P/client.pem, key_file: $P/client.key}"
start_agent "$AS_TMP/agent.yaml"
check "mTLS with tls.cert_file/key_file: events arrive" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"
check "the collector saw the agent's certificate" \
    [ "$(req_count "$AS_TMP/col" "r.get('client_cert', {}).get('commonName') == 'auditship-agent'")" -ge 1 ]
stop_agent

# verify: false.
stop_collector
start_collector "$AS_TMP/col" --tls-cert "$P/server.pem" --tls-key "$P/server.key"
conf "{verify: false}"
start_agent "$AS_TMP/agent.yaml"
events
check "tls.verify: false: events arrive" wait_for 60 has_lines "$TOTAL" "$AS_TMP/col/dedup.ndjson"
check "SIGTERM exits 0" stop_agent
check "every event exactly once; the chain verifies" sh -c "
    python3 '$(dirname "$0")/exactly_once.py' --sent '$AS_TMP'/in/*.ndjson --got '$AS_TMP/col/dedup.ndjson' &&
    '$AUDITSHIPCTL' verify '$AS_TMP/col/dedup.ndjson'"
