/*
 * `auditshipctl keygen --out PREFIX`: an Ed25519 key pair for signed chain
 * checkpoints (chain.signing_key takes PREFIX.key, `verify --pubkey` takes
 * PREFIX.pub).
 */
#ifndef AS_KEYGEN_H
#define AS_KEYGEN_H

#include "../core/error.h"

/*
 * Writes PREFIX.key (PKCS#8 PEM private key, mode 0600, refused when it
 * exists) and PREFIX.pub (SubjectPublicKeyInfo PEM).  Returns 0, -errno or
 * AS_ERR_INTERNAL, with err set.
 */
int as_keygen_write(const char *prefix, struct as_error *err);

/* argv[0] is "keygen".  Returns the process exit code (0, 1 or 2). */
int as_ctl_keygen(int argc, char **argv);

#endif
