#!/bin/sh
# Bytes read per event: N reference events (default 200,000) through
# tail -> decode -> validate -> scrub -> chain -> disk buffer -> file output
# (the config of bench/tail-to-file.sh).  Just before SIGTERM it prints the
# agent's rchar and read syscalls per event from /proc/PID/io, next to what
# a reader that reads each byte once needs: the input file plus the buffer
# bytes written (wchar less the output file).  Counts, not time: the
# figures hold on a shared machine, though how often the pipeline pushes
# back (and so where the tail stops a chunk) varies a little between runs.
#
# AS_READS_STRACE=1 also runs the agent under strace -f and splits the
# read/pread64 bytes by file (input, buffer segments, other), with the bytes
# a pread read more than once (a byte counts once per extra read).
#
# usage: bench/read-bytes.sh [N]
# Needs a built tree: AS_BUILDDIR (default build/) holds auditshipd.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-200000}
bin=${AS_BUILDDIR:-$top/build}/auditshipd
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
. "$top/bench/lib.sh"
bench_tail_input "$n"
# The output's default batch timeout, as a deployment runs it: a batch
# given back to fill up is what may be read twice.
AS_BENCH_FILE_TIMEOUT=${AS_BENCH_FILE_TIMEOUT:-1s}
{ bench_conf tail "fsync: batch"; bench_conf_file_output; } > "$work/agent.yaml"
if [ -n "${AS_READS_STRACE:-}" ]; then
    strace -f -qq -y -e trace=read,pread64 -e signal=none -o "$work/strace" \
        "$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
else
    "$bin" -c "$work/agent.yaml" 2> "$work/agent.log" &
fi
pid=$!
agent=$pid
if [ -n "${AS_READS_STRACE:-}" ]; then
    # The agent is strace's child (pgrep only looks it up).
    while agent=$(pgrep -P $pid -x auditshipd); [ -z "$agent" ]; do
        kill -0 $pid 2>/dev/null || { cat "$work/agent.log" >&2; exit 1; }
        sleep 0.05
    done
fi
bench_wait_lines "$work/out/audit.ndjson" "$n" "$agent" >/dev/null ||
    { echo "agent died or stalled" >&2; cat "$work/agent.log" >&2; exit 1; }
io=$(cat "/proc/$agent/io")
outb=$(wc -c < "$work/out/audit.ndjson")
kill -TERM $agent
wait $pid || true
pid=
python3 - "$n" "$bytes" "$outb" "$work/strace" "$io" <<'EOP'
import os, re, sys
n, size, outb, trace, io = sys.argv[1:]
n, size, outb = int(n), int(size), int(outb)
v = dict(l.split(': ') for l in io.splitlines())
rchar, syscr, wchar = int(v['rchar']), int(v['syscr']), int(v['wchar'])
buf = max(wchar - outb, 0)
need = size + buf
print(f"{n} events ({size / n:.0f} B each): rchar {rchar / n:.0f} B/event "
      f"({rchar / 1e6:.1f} MB), {syscr / n:.3f} read syscalls/event; "
      f"input + buffer written = {need / n:.0f} B/event: "
      f"{rchar / need:.2f}x what is needed")
if not os.path.exists(trace):
    sys.exit(0)
# pid pread64(5</path>, "..."..., 524288, 474549) = 524288
pat = re.compile(r'^\d+ +(read|pread64)\((\d+)<([^>]*)>, .*?(?:, (\d+), (\d+))?\) += (\d+)')
tot = {}
spans = {}
for line in open(trace, errors='replace'):
    m = pat.match(line)
    if not m:
        continue
    call, _, path, _, off, got = m.groups()
    got = int(got)
    kind = ('input' if path.endswith('.ndjson') else
            'buffer' if os.path.basename(path).startswith('seg-') else 'other')
    t = tot.setdefault(kind, [0, 0])
    t[0] += got
    t[1] += 1
    if call == 'pread64' and got > 0:
        spans.setdefault((kind, path), []).append((int(off), int(off) + got))
again = {}
for (kind, _), s in spans.items():
    # Bytes read more than once: the total minus the union of the ranges.
    s.sort()
    union, end = 0, -1
    for a, b in s:
        if b > end:
            union += b - max(a, end)
            end = b
    again[kind] = again.get(kind, 0) + sum(b - a for a, b in s) - union
for kind in ('input', 'buffer', 'other'):
    if kind in tot:
        b, c = tot[kind]
        print(f"  {kind:6}: {b / n:7.0f} B/event in {c / n:.3f} reads/event, "
              f"read again {again.get(kind, 0) / n:.0f} B/event")
EOP
