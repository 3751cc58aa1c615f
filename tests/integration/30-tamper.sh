#!/bin/sh
# Proves that `auditshipctl verify` detects every kind of tampering with a
# chained NDJSON file, with the right reason and exit code 1: an edited
# value, a deleted line, a forged line (recomputed hash, wrong prev), two
# records swapped with recomputed hashes, a second record with one seq, a
# chain restarted without a new epoch, an edit before a checkpoint (reported
# inside the sealed part), a bad checkpoint signature, a wrong public key and
# a chain without any checkpoint under --pubkey.  It also proves what must
# pass: the intact file, lines reordered in the file, an exact duplicate line
# (at-least-once delivery, counted), lines that are not chained, and a file
# truncated after its last checkpoint (reported as 0 unsealed).
# The chain comes from tests/tools/mkchain (as_chain_seal, signed by a key
# from `auditshipctl keygen`): 20 events with a checkpoint after every 8, so
# seq 1..22 with checkpoints at seq 9 and 18 and 4 unsealed records.
. "$(dirname "$0")/lib.sh"
MKCHAIN="$top_builddir/tests/tools/mkchain"
[ -x "$MKCHAIN" ] || skip_all "tests/tools/mkchain not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 missing"
as_tmpdir
plan 40

"$AUDITSHIPCTL" keygen --out "$AS_TMP/k" >/dev/null
"$AUDITSHIPCTL" keygen --out "$AS_TMP/other" >/dev/null
check "keygen writes a 0600 private key" \
    test "$(stat -c %a "$AS_TMP/k.key")" = 600
"$MKCHAIN" --key "$AS_TMP/k.key" --every 8 20 >"$AS_TMP/good.ndjson"
"$MKCHAIN" 5 >"$AS_TMP/nokey.ndjson"
check "mkchain made 22 lines" test "$(wc -l <"$AS_TMP/good.ndjson")" -eq 22

# mut MODE SEQ: prints good.ndjson changed by MODE at the record with seq
# SEQ (line SEQ); `rehash` lines are re-sealed by mkchain --rehash, as a
# forger with write access (but no signing key) would.
cat >"$AS_TMP/mut.py" <<'PYEOF'
import json, sys
mode, seq = sys.argv[1], int(sys.argv[2])
lines = open(sys.argv[3]).read().splitlines()
recs = [json.loads(l) for l in lines]
i = seq - 1
def dump(r):
    return json.dumps(r, separators=(",", ":"), ensure_ascii=False)
out = list(lines)
if mode == "edit":
    recs[i]["metadata"]["note"] = "tampered"
    out[i] = dump(recs[i])
elif mode == "delete":
    del out[i]
elif mode == "forge":
    recs[i]["metadata"]["note"] = "forged"
    recs[i]["auditship"]["prev"] = "ab" * 32
    out[i] = "REHASH" + dump(recs[i])
elif mode == "swap":
    a, b = recs[i], recs[i + 2]
    a["auditship"]["seq"], b["auditship"]["seq"] = seq + 2, seq
    out[i], out[i + 2] = "REHASH" + dump(b), "REHASH" + dump(a)
elif mode == "dupline":
    out.insert(len(out) // 2, lines[i])
elif mode == "dupseq":
    recs[i]["metadata"]["note"] = "second"
    out.append("REHASH" + dump(recs[i]))
elif mode == "restart":
    recs[i]["metadata"]["note"] = "restarted"
    recs[i]["auditship"]["prev"] = "0" * 64
    if seq > 1:
        recs[i]["auditship"]["seq"] = len(lines) + 1
    out.append("REHASH" + dump(recs[i]))
elif mode == "badsig":
    s = recs[i]["auditship"]["signature"]
    recs[i]["auditship"]["signature"] = ("B" if s[0] == "A" else "A") + s[1:]
    out[i] = dump(recs[i])
elif mode == "reverse":
    out.reverse()
elif mode == "junk":
    out.insert(3, "this is not json")
    out.insert(5, '{"a":1}')
for l in out:
    print(l)
PYEOF

# tamper MODE SEQ NAME: writes $AS_TMP/NAME.ndjson.
tamper() {
    python3 "$AS_TMP/mut.py" "$1" "$2" "$AS_TMP/good.ndjson" >"$AS_TMP/$3.raw"
    python3 - "$AS_TMP/$3.raw" "$MKCHAIN" >"$AS_TMP/$3.ndjson" <<'PYEOF'
import subprocess, sys
for l in open(sys.argv[1]).read().splitlines():
    if l.startswith("REHASH"):
        l = subprocess.run([sys.argv[2], "--rehash"], input=l[6:] + "\n",
                           capture_output=True, text=True).stdout.rstrip("\n")
    print(l)
PYEOF
}

# expect CODE PATTERN NAME [verify args...]: verify exits CODE and prints a
# line matching PATTERN.
expect() {
    code=$1 pat=$2 name=$3
    shift 3
    out=$("$AUDITSHIPCTL" verify "$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$code" ] && printf '%s\n' "$out" | grep -q -- "$pat"; then
        ok "$name"
    else
        not_ok "$name (exit $rc)"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
}

K="$AS_TMP/k.pub"
expect 0 "22 records, 0 duplicates, checkpoint at seq 18 (unverified), 4 unsealed: intact" \
    "intact chain passes" "$AS_TMP/good.ndjson"
expect 0 "checkpoint at seq 18 (signature verified), 4 unsealed: intact" \
    "intact chain passes with --pubkey" --pubkey "$K" "$AS_TMP/good.ndjson"
expect 0 "1 chains, 1 intact, 0 broken" "summary line, options after files" \
    "$AS_TMP/good.ndjson" --quiet --pubkey "$K"

tamper reverse 1 reverse
expect 0 ": intact" "lines reordered in the file pass" --pubkey "$K" "$AS_TMP/reverse.ndjson"

tamper junk 1 junk
expect 0 "not chained: 2 lines" "lines that are not chained are counted, not a break" \
    --pubkey "$K" "$AS_TMP/junk.ndjson"

tamper dupline 5 dupline
expect 0 "23 records, 1 duplicates.*intact" "an exact duplicate line passes, counted" \
    --pubkey "$K" "$AS_TMP/dupline.ndjson"

tamper edit 21 edit
expect 1 "BROKEN at seq 21: edited$" "edited value detected" "$AS_TMP/edit.ndjson"
expect 1 "BROKEN at seq 21: edited$" "edited value detected (--pubkey, unsealed part)" \
    --pubkey "$K" "$AS_TMP/edit.ndjson"

tamper edit 5 edit5
expect 1 "BROKEN at seq 5: edited (inside the sealed part)" \
    "edit before the checkpoint reported inside the sealed part" --pubkey "$K" "$AS_TMP/edit5.ndjson"

tamper delete 5 delete
expect 1 "BROKEN at seq 5: deleted" "deleted line detected" "$AS_TMP/delete.ndjson"
tamper delete 1 delete1
expect 1 "BROKEN at seq 1: deleted" "deleted first line detected" "$AS_TMP/delete1.ndjson"

tamper forge 5 forge
expect 1 "BROKEN at seq 5: inserted" "forged line (recomputed hash, wrong prev) detected" \
    "$AS_TMP/forge.ndjson"

tamper swap 5 swap
expect 1 "BROKEN at seq 5: reordered" "swapped records (seq kept, rehashed) detected" \
    "$AS_TMP/swap.ndjson"

tamper dupseq 5 dupseq
expect 1 "BROKEN at seq 5: duplicated seq" "two different records with one seq detected" \
    "$AS_TMP/dupseq.ndjson"

tamper restart 1 restart
expect 1 "BROKEN at seq 1: restarted without new epoch" "seq 1 twice detected" \
    "$AS_TMP/restart.ndjson"
tamper restart 12 restart12
expect 1 "BROKEN at seq 23: restarted without new epoch" "zero prev at seq > 1 detected" \
    "$AS_TMP/restart12.ndjson"

tamper badsig 18 badsig
expect 1 "BROKEN at seq 18: bad signature" "bad checkpoint signature detected" \
    --pubkey "$K" "$AS_TMP/badsig.ndjson"
expect 0 "checkpoint at seq 18 (unverified)" "without --pubkey signatures are unverified" \
    "$AS_TMP/badsig.ndjson"
expect 1 "BROKEN at seq 9: bad signature" "wrong public key detected" \
    --pubkey "$AS_TMP/other.pub" "$AS_TMP/good.ndjson"

expect 1 "no checkpoint, 5 unsealed: BROKEN: no signed checkpoint" \
    "--pubkey on a chain without checkpoint fails" --pubkey "$K" "$AS_TMP/nokey.ndjson"
expect 0 "no checkpoint, 5 unsealed: intact" "a chain without checkpoint passes without --pubkey" \
    "$AS_TMP/nokey.ndjson"

head -n 18 "$AS_TMP/good.ndjson" >"$AS_TMP/trunc.ndjson"
expect 0 "18 records.*checkpoint at seq 18 (signature verified), 0 unsealed: intact" \
    "truncated after the last checkpoint passes, 0 unsealed" --pubkey "$K" "$AS_TMP/trunc.ndjson"
head -n 15 "$AS_TMP/good.ndjson" >"$AS_TMP/trunc15.ndjson"
expect 0 "checkpoint at seq 9 (signature verified), 6 unsealed: intact" \
    "truncated before a checkpoint: only the earlier checkpoint counts" --pubkey "$K" "$AS_TMP/trunc15.ndjson"

# Two files of one chain and a second chain: grouped separately.
head -n 10 "$AS_TMP/good.ndjson" >"$AS_TMP/part1.ndjson"
tail -n +11 "$AS_TMP/good.ndjson" >"$AS_TMP/part2.ndjson"
expect 0 "2 chains, 2 intact, 0 broken" "chains split across files and two chains" \
    "$AS_TMP/part2.ndjson" "$AS_TMP/nokey.ndjson" "$AS_TMP/part1.ndjson"
expect 1 "2 chains, 1 intact, 1 broken" "one broken chain among two fails" \
    "$AS_TMP/edit.ndjson" "$AS_TMP/nokey.ndjson"
out=$("$AUDITSHIPCTL" verify --quiet "$AS_TMP/edit.ndjson" "$AS_TMP/nokey.ndjson")
printf '%s\n' "$out" | grep -q "intact$" && not_ok "--quiet omits intact chains" ||
    ok "--quiet omits intact chains"

# Usage and I/O errors exit 2.
"$AUDITSHIPCTL" verify "$AS_TMP/missing.ndjson" >/dev/null 2>&1
check "missing file exits 2" test $? -eq 2
"$AUDITSHIPCTL" verify >/dev/null 2>&1
check "no file exits 2" test $? -eq 2
"$AUDITSHIPCTL" verify --pubkey "$AS_TMP/k.key" "$AS_TMP/good.ndjson" >/dev/null 2>&1
check "a private key as --pubkey exits 2" test $? -eq 2
"$AUDITSHIPCTL" verify --bogus "$AS_TMP/good.ndjson" >/dev/null 2>&1
check "unknown option exits 2" test $? -eq 2
"$AUDITSHIPCTL" verify - <"$AS_TMP/good.ndjson" >/dev/null 2>&1
check "reads stdin with -" test $? -eq 0
printf 'not json\n' >"$AS_TMP/none.ndjson"
"$AUDITSHIPCTL" verify "$AS_TMP/none.ndjson" >/dev/null 2>&1
check "a file without any chained record exits 1" test $? -eq 1

# keygen and the ctl main.
"$AUDITSHIPCTL" keygen --out "$AS_TMP/k" >/dev/null 2>&1
check "keygen refuses to overwrite a key" test $? -ne 0
"$AUDITSHIPCTL" keygen >/dev/null 2>&1
check "keygen without --out exits 2" test $? -eq 2
"$AUDITSHIPCTL" status >/dev/null 2>&1
check "status is not implemented yet (exit 2)" test $? -eq 2
"$AUDITSHIPCTL" send >/dev/null 2>&1
check "send is not implemented yet (exit 2)" test $? -eq 2
"$AUDITSHIPCTL" --help | grep -q "verify" && ok "--help lists verify" || not_ok "--help lists verify"
"$AUDITSHIPCTL" frobnicate >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
