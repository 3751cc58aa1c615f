# Shared helpers for integration tests: TAP output and binaries paths.
# Each test sources this file, calls `plan N`, then `ok`/`not_ok`.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AS_SHARED:=$top_srcdir/../shared}"
# AS_AUDITSHIPD / AS_AUDITSHIPCTL replace the binaries (scripts/memcheck
# points them at wrappers running the real ones under valgrind).
AUDITSHIPD=${AS_AUDITSHIPD:-$top_builddir/auditshipd}
AUDITSHIPCTL=${AS_AUDITSHIPCTL:-$top_builddir/auditshipctl}
# AS_SLOW multiplies every wait_for deadline (e.g. 4 under valgrind).
AS_SLOW=${AS_SLOW:-1}
AS_TEST_N=0
AS_TEST_FAILED=0

plan() { echo "1..$1"; }
ok() { AS_TEST_N=$((AS_TEST_N + 1)); echo "ok $AS_TEST_N - $*"; }
not_ok() { AS_TEST_N=$((AS_TEST_N + 1)); AS_TEST_FAILED=1; echo "not ok $AS_TEST_N - $*"; }
# check DESC CMD...: ok when CMD succeeds.
check() { _desc=$1; shift; if "$@"; then ok "$_desc"; else not_ok "$_desc"; fi; }
diag() { echo "# $*"; }
# todo DESC REASON CMD...: like check, for a known defect: a failure is
# reported as expected (TAP TODO, XFAIL), a pass as XPASS, which fails the
# suite so that the TODO is removed once the defect is fixed.
todo() {
    _desc=$1 _why=$2; shift 2
    AS_TEST_N=$((AS_TEST_N + 1))
    if "$@"; then
        echo "ok $AS_TEST_N - $_desc # TODO $_why"
    else
        echo "not ok $AS_TEST_N - $_desc # TODO $_why"
    fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# A scratch directory removed at exit.
as_tmpdir() {
    AS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/auditship-test.XXXXXX")
    trap 'as_cleanup' EXIT
}
as_cleanup() {
    [ -n "${AS_AGENT_PID:-}" ] && kill -9 "$AS_AGENT_PID" 2>/dev/null
    [ -n "${AS_TMP:-}" ] && as_memcheck_logs "$AS_TMP"
    [ -n "${AS_TMP:-}" ] && [ -z "${AS_TEST_KEEP:-}" ] && rm -rf "$AS_TMP"
    return 0
}

# Memory errors valgrind reports in a log (with -q it prints nothing else
# that matches).  A run killed with SIGKILL has no exit status to carry
# them, so the logs are searched too.
AS_MEMCHECK_RE='^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|.*definitely lost in)'
# as_memcheck_logs DIR: "Bail out!" (an ERROR for the TAP driver) when an
# agent log under DIR holds a valgrind error.
as_memcheck_logs() {
    [ -n "${AS_VALGRIND:-}${AS_AUDITSHIPD:-}" ] || return 0
    _bad=$(grep -rlE "$AS_MEMCHECK_RE" "$1" --include='*.log' 2>/dev/null)
    [ -z "$_bad" ] && return 0
    for _f in $_bad; do
        grep -E -A 12 "$AS_MEMCHECK_RE" "$_f" | head -n 60 | sed 's/^/# /'
    done
    echo "Bail out! valgrind reported memory errors in $(echo $_bad)"
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; fails
# after SECONDS (times AS_SLOW).
wait_for() {
    _deadline=$(( $(date +%s) + $1 * AS_SLOW )); shift
    while ! "$@"; do
        [ "$(date +%s)" -ge "$_deadline" ] && return 1
        sleep 0.1
    done
    return 0
}

# lines FILE...: number of lines in the files (0 when absent).
lines() {
    cat "$@" 2>/dev/null | wc -l | tr -d ' '
}

# has_lines N FILE...: true when the files hold at least N lines.
has_lines() {
    _n=$1; shift
    [ "$(lines "$@")" -ge "$_n" ]
}

# start_agent CONFIG [LOG]: runs auditshipd in the background.
start_agent() {
    _log=${2:-$AS_TMP/agent.log}
    ${AS_VALGRIND:-} "$AUDITSHIPD" -c "$1" >>"$_log" 2>&1 &
    AS_AGENT_PID=$!
}

# stop_agent: SIGTERM and wait; returns the agent's exit status.
stop_agent() {
    [ -n "${AS_AGENT_PID:-}" ] || return 0
    kill -TERM "$AS_AGENT_PID" 2>/dev/null
    wait "$AS_AGENT_PID"
    _rc=$?
    AS_AGENT_PID=
    return $_rc
}

# Agent config writers.  Each prints one part of a config, in block style,
# on stdout, so that a test writes its whole agent.yaml with
#   { conf_agent ...; echo "inputs:"; conf_file_input ...; ...; } >FILE
# and the file stays complete and readable (AS_TEST_KEEP=1 keeps it).  A
# LINE argument is one more `key: value` (YAML) of the mapping written.

# conf_agent STATE_DIR HOSTNAME [LINE...]: the `agent:` section, without
# the health listener (http listen "").
conf_agent() {
    echo "agent:"
    printf '  state_dir: %s\n' "$1"
    printf '  hostname: %s\n' "$2"
    shift 2
    conf_lines "  " "$@"
    echo '  http: {listen: ""}'
}

# conf_file_input ID GLOB [LINE...]: one item of `inputs:`, a file input
# tailing the files GLOB matches.
conf_file_input() {
    printf '  - id: %s\n' "$1"
    echo "    type: file"
    printf '    paths: ["%s"]\n' "$2"
    shift 2
    conf_lines "    " "$@"
}

# conf_socket_input ID PATH [LINE...]: one item of `inputs:`, a socket
# input listening on PATH (a stream socket unless a LINE sets the mode).
conf_socket_input() {
    printf '  - id: %s\n' "$1"
    echo "    type: socket"
    printf '    path: %s\n' "$2"
    shift 2
    conf_lines "    " "$@"
}

# conf_file_output ID PATH [LINE...]: one item of `outputs:`, a file
# output writing PATH.
conf_file_output() {
    printf '  - id: %s\n' "$1"
    echo "    type: file"
    printf '    path: %s\n' "$2"
    shift 2
    conf_lines "    " "$@"
}

# conf_section NAME LINE...: a top-level section with these keys (buffer,
# scrub, validate, chain...).
conf_section() {
    printf '%s:\n' "$1"
    shift
    conf_lines "  " "$@"
}

# conf_lines INDENT LINE...: each LINE, indented.
conf_lines() {
    _ind=$1
    shift
    for _line in "$@"; do
        printf '%s%s\n' "$_ind" "$_line"
    done
}

# gen_events N [SEED]: reference workload on stdout.
gen_events() {
    python3 "$AS_SHARED/bench/gen-audit-events.py" -n "$1" --seed "${2:-1}"
}
