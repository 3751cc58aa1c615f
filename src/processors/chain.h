/*
 * The chain stage and record sealing.
 *
 * Every input has a chain "{host}/{input}" with a random epoch, a seq and the
 * hash of its last record.  as_chain_seal() writes the record's reserved
 * `auditship` member into the final canonical line r->line (not into
 * r->obj), links it into its input's chain (when chain.enabled):
 *   hash = hex SHA-256 of the JCS form of the record without
 *   auditship.hash and auditship.signature.
 * Chains continue across restarts (heads recovered from the buffer) and
 * reloads.  With chain.signing_key set, as_chain_checkpoint() makes a signed
 * checkpoint record (auditship.signature = base64 Ed25519 signature of the
 * 64 lowercase hex characters of its hash).
 */
#ifndef AS_CHAIN_H
#define AS_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/conf.h"
#include "../core/error.h"
#include "../core/record.h"

struct as_chainset;

/* Loads the signing key if configured.  Errors: AS_ERR_CONFIG with err. */
int as_chainset_new(const struct as_conf_chain *conf, const char *host,
                    struct as_chainset **out, struct as_error *err);
void as_chainset_free(struct as_chainset *cs);
/* Re-applies config on reload (signing key, enabled); chains are kept. */
int as_chainset_reconfigure(struct as_chainset *cs,
                            const struct as_conf_chain *conf,
                            struct as_error *err);

/* Restores a chain head recovered from the buffer. */
void as_chainset_restore(struct as_chainset *cs, const char *chain,
                         const char *epoch, uint64_t seq, const char *hash);

/* Calls cb for every chain head (for buffer snapshots). */
void as_chainset_foreach(struct as_chainset *cs,
                         void (*cb)(void *arg, const char *chain,
                                    const char *epoch, uint64_t seq,
                                    const char *hash),
                         void *arg);

/*
 * Seals r: moves a client-sent `auditship` member of r->obj to
 * metadata.client_auditship, links r into the chain of r->input when `link`
 * is true and chaining is enabled, and writes to r->line the JCS line of
 * r->obj plus the agent's `auditship` member.  Fills r->chain/epoch/seq/hash.
 * The member exists only in r->line: r->obj is left without it (nothing
 * reads r->obj after sealing; parse r->line to inspect the record).
 * Returns 0, AS_ERR_INVALID (a value JCS cannot express; r is then
 * unchanged in its chain, r->line empty, and the caller makes it an invalid
 * record and seals again) or AS_ERR_TOOBIG (r->line.max).  With link false
 * (or chaining disabled) the member has host, input, source, received_at,
 * redacted and peer only.
 */
int as_chain_seal(struct as_chainset *cs, struct as_record *r, bool link);

/*
 * as_chain_seal in two halves, so that the costly one runs on worker
 * threads.  as_chain_prepare is stateless and thread-safe: it moves a client
 * `auditship` member away and writes r->obj's canonical form without the
 * member to r->line, noting in r->gap / r->gap_sep where the member goes
 * (errors as as_chain_seal).  as_chain_finish, in record order on the
 * chainset's thread, links r->line into its chain and splices the member
 * in; r->obj is not read.
 */
int as_chain_prepare(struct as_record *r);
int as_chain_finish(struct as_chainset *cs, struct as_record *r, bool link);

/*
 * Makes a sealed, signed checkpoint record for the chain of `input`, or
 * returns AS_ERR_NOTIMPL when no signing key is configured.
 */
int as_chain_checkpoint(struct as_chainset *cs, const char *input,
                        struct as_record **out);

#endif
