#!/bin/sh
# Proves that secrets never leave the host: the real agent ships the
# reference workload (20,000 events, 10% carrying secrets marked SECRET in
# password fields, Authorization headers, nested DSNs, free-text AWS keys
# and key lists) with the default scrub config, and then no output line
# holds SECRET; every event without a secret is byte-for-byte the event
# sent apart from the `auditship` member (stricter than exactly_once.py,
# which accepts "[REDACTED]" anywhere); in events with a secret only the
# values holding it changed; auditship.redacted counts the redactions; the
# chain verifies; nothing in the state directory (buffer segments,
# dead-letter file) holds SECRET; and dead-lettered invalid lines (bad
# JSON, non-UTF-8 bytes stored as raw_base64, an over-long line cut in the
# middle of a secret) are scrubbed before they are written.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 13

mkdir -p "$AS_TMP/in"
gen_events 20000 11 > "$AS_TMP/in/a.ndjson"
{
    conf_agent "$AS_TMP/state" testhost
    echo "inputs:"
    conf_file_input app "$AS_TMP/in/*.ndjson" "max_line_bytes: 4KiB" "rescan_interval: 200ms"
    echo "outputs:"
    conf_file_output local "$AS_TMP/out/audit.ndjson" \
        "batch: {max_events: 1000, max_bytes: 1MiB, timeout: 50ms}"
} > "$AS_TMP/agent.yaml"
# Invalid lines: bad JSON, bytes that are not UTF-8, a line longer than
# max_line_bytes whose cut falls inside a secret.
python3 - "$AS_TMP/in/b.ndjson" <<'EOP'
import sys
head = '{"note":"login password=SECRETtrunc01 ctx ' 
filler = "a " * ((4096 - len(head) - 40) // 2)
with open(sys.argv[1], "wb") as f:
    f.write(b'{"id":"bad","note":"KEEPME password=SECRETbadjson1 AKIASECRETABCDEFGHJK",\n')
    f.write(b'{"id":"bin","x":"\xff\xfe","note":"KEEPME token=SECRETnonutf8x"}\n')
    f.write((head + filler + "SECRET" * 40 + '"}\n').encode())
EOP
check "--check accepts the config" "$AUDITSHIPD" --check -c "$AS_TMP/agent.yaml"
# Config errors are located: an unknown detector, a regex that does not
# compile (with PCRE2's message), both at --check and at start.
sed 's|^outputs:|scrub:\n  patterns: [jwt, no_such_detector]\noutputs:|' \
    "$AS_TMP/agent.yaml" > "$AS_TMP/bad1.yaml"
printf 'scrub:\n  custom:\n    - name: t\n      regex: "abc(def"\n' |
    cat "$AS_TMP/agent.yaml" - > "$AS_TMP/bad2.yaml"
check "unknown pattern name located at --check" sh -c "
    '$AUDITSHIPD' --check -c '$AS_TMP/bad1.yaml' 2>&1 |
    grep -q 'bad1.yaml:[1-9][0-9]*:[1-9][0-9]*: scrub.patterns: unknown pattern \"no_such_detector\"'"
check "bad custom regex located, with PCRE2's message" sh -c "
    '$AUDITSHIPD' --check -c '$AS_TMP/bad2.yaml' 2>&1 |
    grep -q 'bad2.yaml:[1-9][0-9]*:[1-9][0-9]*: scrub.custom\[0\].regex: pattern \"t\" does not compile: missing closing parenthesis'"
check "the agent refuses to start on it, naming the place" sh -c "
    ! '$AUDITSHIPD' -c '$AS_TMP/bad1.yaml' > '$AS_TMP/bad1.log' 2>&1 &&
    grep -q 'bad1.yaml:[1-9][0-9]*:[1-9][0-9]*: scrub.patterns' '$AS_TMP/bad1.log'"
start_agent "$AS_TMP/agent.yaml"
check "20000 events shipped" wait_for 60 has_lines 20000 "$AS_TMP/out/audit.ndjson"
check "3 dead-letter records" wait_for 30 has_lines 3 "$AS_TMP/state/deadletter.ndjson"
check "SIGTERM exits 0" stop_agent
check "the workload has secrets to find" \
    test "$(grep -c SECRET "$AS_TMP/in/a.ndjson")" -ge 1500
check "no output line holds SECRET" sh -c "! grep -q SECRET '$AS_TMP/out/audit.ndjson'"
cat > "$AS_TMP/unchanged.py" <<'EOP'
"""Events without a secret unchanged; in the others only secret values."""
import json, sys

sent = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    sent[e["id"]] = e
bad = clean = dirty = 0


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b):
        for k in a:
            diff(a[k], b[k], path + "." + k, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s[%d]" % (path, i), out)
    elif a != b or type(a) != type(b):
        out.append((path, a))


for line in open(sys.argv[2]):
    g = json.loads(line)
    meta = g.pop("auditship")
    s = sent.pop(g["id"])
    changed = []
    diff(s, g, "", changed)
    has_secret = "SECRET" in json.dumps(s)
    if not has_secret:
        clean += 1
        if changed or s != g or meta.get("redacted", 0):
            bad += 1
            if bad <= 10:
                print("# changed without a secret:", s["id"], changed[:3])
    else:
        dirty += 1
        if any("SECRET" not in json.dumps(v) for _, v in changed) or \
                meta.get("redacted", 0) != len(changed) or not changed:
            bad += 1
            if bad <= 10:
                print("# wrong redaction:", s["id"], changed[:3],
                      meta.get("redacted"))
print("# %d events without a secret unchanged, %d with a secret scrubbed, "
      "%d wrong, %d missing" % (clean - bad, dirty, bad, len(sent)))
sys.exit(1 if bad or sent else 0)
EOP
check "events without a secret unchanged; only secret values changed, each counted" \
    python3 "$AS_TMP/unchanged.py" "$AS_TMP/in/a.ndjson" "$AS_TMP/out/audit.ndjson"
check "the scrubbed chain verifies" "$AUDITSHIPCTL" verify "$AS_TMP/out/audit.ndjson"
check "nothing in the state directory holds SECRET" \
    sh -c "! grep -raq SECRET '$AS_TMP/state'"
cat > "$AS_TMP/deadletter.py" <<'EOP'
"""Dead letters scrubbed, raw_base64 decoded, context kept."""
import base64, json, sys

recs = [json.loads(l) for l in open(sys.argv[1])]
raws = []
for r in recs:
    if "raw_base64" in r:
        raws.append(("b64", base64.b64decode(r["raw_base64"])))
    else:
        raws.append(("raw", r["raw"].encode()))
ok = len(raws) == 3
for kind, b in raws:
    print("# %s %d bytes, SECRET %s, REDACTED %s" % (kind, len(b), b"SECRET" in b, b"[REDACTED]" in b))
    ok = ok and b"SECRET" not in b and b"[REDACTED]" in b
ok = ok and any(k == "b64" and b"\xff\xfe" in b and b"KEEPME" in b for k, b in raws)
ok = ok and any(k == "raw" and b"KEEPME" in b for k, b in raws)
ok = ok and any(b"ctx" in b and len(b) > 4000 for _, b in raws)
sys.exit(0 if ok else 1)
EOP
check "dead letters (bad JSON, non-UTF-8, cut secret) are scrubbed" \
    python3 "$AS_TMP/deadletter.py" "$AS_TMP/state/deadletter.ndjson"
