/*
 * `auditshipctl verify [--pubkey FILE] [--quiet] FILE...`: verifies the hash
 * chains in NDJSON files (output format and reasons: see verify.c).
 */
#ifndef AS_VERIFY_H
#define AS_VERIFY_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Verifies files[0..nfiles) ("-" = stdin) and prints one line per chain to
 * out.  pubkey: Ed25519 public key PEM, or NULL.  Returns the exit code:
 * 0 every chain intact, 1 a break (or no chained record), 2 usage/IO error.
 */
int as_verify_run(const char *pubkey, char *const *files, int nfiles,
                  bool quiet, FILE *out);

/* argv[0] is "verify".  Returns the process exit code. */
int as_ctl_verify(int argc, char **argv);

#endif
