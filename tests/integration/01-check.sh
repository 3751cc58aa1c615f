#!/bin/sh
# Proves the binaries start: --version answers on both.
. "$(dirname "$0")/lib.sh"
plan 2
"$AUDITSHIPD" --version | grep -q '^auditshipd ' && ok "auditshipd --version" || not_ok "auditshipd --version"
"$AUDITSHIPCTL" --version | grep -q '^auditshipctl ' && ok "auditshipctl --version" || not_ok "auditshipctl --version"
