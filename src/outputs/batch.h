/*
 * Batch encoding for network outputs: the JSON array form of a batch, gzip
 * (RFC 1952) with ISA-L or libdeflate, and the Idempotency-Key of a batch. Pure
 * functions and a reusable compressor; no loop, no globals, safe on any thread.
 */
#ifndef AS_OUTPUT_BATCH_H
#define AS_OUTPUT_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/stage.h"

/* Appends `[line,line,...]` (the batch's lines, no newlines) to out. */
void as_batch_json_array(const struct as_batch *b, struct as_buf *out);

/*
 * A gzip compressor kept across batches instead of a new state per batch:
 * ISA-L's igzip for level 1 (the fastest), libdeflate for the others.  Use
 * it from one thread at a time.
 */
struct libdeflate_compressor;
struct isal_zstream;

struct as_gzip {
    struct libdeflate_compressor *c; /* levels 0, 2-9 */
    struct isal_zstream *z;          /* level 1 */
    unsigned char *lvl_buf;          /* igzip's work area for level 1 */
};

/* level: 0 (store) to 9.  Returns 0 or AS_ERR_INTERNAL. */
int as_gzip_init(struct as_gzip *g, int level);
/* true once as_gzip_init succeeded (and until as_gzip_close). */
static inline bool
as_gzip_ready(const struct as_gzip *g)
{
    return g->c != NULL || g->z != NULL;
}
/*
 * Replaces out's contents with the gzip member (header, deflate data,
 * CRC-32 and size trailer) of in[0..len).  Returns 0, or AS_ERR_INTERNAL
 * when the compressor fails.
 */
int as_gzip_compress(struct as_gzip *g, const void *in, size_t len,
                     struct as_buf *out);
void as_gzip_close(struct as_gzip *g);

/* Length of an Idempotency-Key (lowercase hex), without the NUL. */
#define AS_IDEM_KEY_LEN 32

/*
 * The Idempotency-Key of a batch: the first 128 bits (hex) of a SHA-256
 * over "auditship-idem-v1\n"; for each record that is not chained
 * (chain.enabled: false), in order, "u", its bytes and "\n"; for each chain
 * in the batch in order of first appearance, "c", its id, NUL, its epoch,
 * NUL and "FIRST LAST COUNT\n" (seqs, decimal); finally "u" and the number
 * of unchained records and "\n".  It depends only on the records, so it is
 * the same on every retry of the batch; each half of a split batch gets its
 * own.
 */
void as_batch_idem_key(const struct as_batch *b, char out[AS_IDEM_KEY_LEN + 1]);

#endif
