# Shared helpers for integration tests: TAP output and binaries paths.
# Each test sources this file, calls `plan N`, then `ok`/`not_ok`.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AS_SHARED:=$top_srcdir/../shared}"
AUDITSHIPD="$top_builddir/auditshipd"
AUDITSHIPCTL="$top_builddir/auditshipctl"
AS_TEST_N=0
AS_TEST_FAILED=0

plan() { echo "1..$1"; }
ok() { AS_TEST_N=$((AS_TEST_N + 1)); echo "ok $AS_TEST_N - $*"; }
not_ok() { AS_TEST_N=$((AS_TEST_N + 1)); AS_TEST_FAILED=1; echo "not ok $AS_TEST_N - $*"; }
# check DESC CMD...: ok when CMD succeeds.
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# A scratch directory removed at exit.
as_tmpdir() {
    AS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/auditship-test.XXXXXX")
    trap 'as_cleanup' EXIT
}
as_cleanup() {
    [ -n "${AS_AGENT_PID:-}" ] && kill -9 "$AS_AGENT_PID" 2>/dev/null
    [ -n "${AS_TMP:-}" ] && rm -rf "$AS_TMP"
    return 0
}
