#!/bin/sh
# Proves `auditshipd --check`: a valid config exits 0; an invalid one exits 1
# with one FILE:LINE:COLUMN line per problem (all problems at once), and an
# unimplemented type is named as such; the shipped default config is valid.
. "$(dirname "$0")/lib.sh"
as_tmpdir
plan 11

cat > "$AS_TMP/bad.yaml" <<EOC
agent:
  state_dir: $AS_TMP/state
  shutdown_timeout: 10 parsecs
inputs:
  - id: app
    type: file
    paths: ["$AS_TMP/*.ndjson"]
    max_line_bytes: 12 furlongs
    colour: blue
  - id: app
    type: file
    paths: ["$AS_TMP/*.log"]
  - id: sock
    type: socket
    path: $AS_TMP/s.sock
outputs:
  - id: local
    type: nosuch
EOC
"$AUDITSHIPD" --check -c "$AS_TMP/bad.yaml" > "$AS_TMP/out" 2>&1
rc=$?
cat "$AS_TMP/out" | sed 's/^/# /'
check "invalid config exits 1" [ "$rc" -eq 1 ]
check "bad duration located" grep -q "^$AS_TMP/bad.yaml:3:[0-9]*: .*duration" "$AS_TMP/out"
check "bad size located" grep -q "^$AS_TMP/bad.yaml:8:[0-9]*: .*size" "$AS_TMP/out"
check "unknown key located" grep -q "^$AS_TMP/bad.yaml:9:[0-9]*: .*colour" "$AS_TMP/out"
check "duplicate id located" grep -q "^$AS_TMP/bad.yaml:10:[0-9]*: .*app" "$AS_TMP/out"
check "unknown output type named" grep -q "^$AS_TMP/bad.yaml:1[78]:[0-9]*: .*nosuch" "$AS_TMP/out"
check "every line is FILE:LINE:COLUMN: message" sh -c "! grep -v '^$AS_TMP/bad.yaml:[0-9]*:[0-9]*: ' '$AS_TMP/out'"
check "shipped default config is valid" sh -c \
    "sed 's|/var/lib/auditship|$AS_TMP/default|g' '$top_srcdir/conf/auditship.yaml' > '$AS_TMP/default.yaml' && '$AUDITSHIPD' --check -c '$AS_TMP/default.yaml'"

# Paths and keys the agent could not use are located too.
mkdir -p "$AS_TMP/locked"
chmod 700 "$AS_TMP/locked"
cat > "$AS_TMP/paths.yaml" <<EOC
agent:
  state_dir: $AS_TMP/locked/state
chain:
  signing_key: $AS_TMP/no-such.key
inputs:
  - id: app
    type: file
    paths: ["$AS_TMP/locked/in/*.ndjson"]
outputs:
  - id: local
    type: file
    path: $AS_TMP/locked/out/a.ndjson
EOC
"$AUDITSHIPD" --check -c "$AS_TMP/paths.yaml" > "$AS_TMP/out2" 2>&1
check "missing signing key located at its value" \
    grep -q "^$AS_TMP/paths.yaml:4:16: .*no-such.key" "$AS_TMP/out2"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    chmod 755 "$AS_TMP"
    # The plain binary: a memcheck wrapper's logs are not nobody's to write.
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$top_builddir/auditshipd" --check -c "$AS_TMP/paths.yaml" > "$AS_TMP/out3" 2>&1
    sed 's/^/# /' "$AS_TMP/out3"
    check "unwritable state_dir located" \
        grep -q "^$AS_TMP/paths.yaml:2:14: state_dir not writable" "$AS_TMP/out3"
    check "unreadable input directory and unwritable output located" sh -c \
        "grep -q '^$AS_TMP/paths.yaml:8:12: directory not readable' '$AS_TMP/out3' &&
         grep -q '^$AS_TMP/paths.yaml:12:11: directory not writable' '$AS_TMP/out3'"
else
    ok "unwritable state_dir located # SKIP needs root and setpriv"
    ok "unreadable input directory and unwritable output located # SKIP needs root and setpriv"
fi
