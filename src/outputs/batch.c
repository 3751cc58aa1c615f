/*
 * Batch encoding for network outputs (see batch.h).
 *
 * The gzip member is made in one call over the whole batch, into an output
 * buffer reserved to the compressor's bound first.  Level 1, the default,
 * is ISA-L's igzip level 1; levels 0 and 2-9 are libdeflate's.  On the
 * reference records (about 840 bytes, a third of them hex hashes), 1 MiB
 * batches: igzip level 1 runs at about 830 MB/s and compresses to 0.179 of
 * the input, libdeflate's level 1 at 290 MB/s to the same 0.179 and zlib's
 * at 160 MB/s to 0.198.  igzip's levels 2 and 3 gain little (0.178, 0.182),
 * so from level 2 up libdeflate gives the smaller output: 0.171 at 190
 * MB/s, 0.148 at level 6 (130 MB/s), 0.143 at 9 (docs/ARCHITECTURE.md).
 * Any gzip reader decodes either: the tests inflate them with zlib.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "outputs/batch.h"

void
as_batch_json_array(const struct as_batch *b, struct as_buf *out)
{
    (void) as_buf_reserve(out, b->len + 2);
    (void) as_buf_putc(out, '[');
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0) {
            (void) as_buf_putc(out, ',');
        }
        (void) as_buf_put(out, b->data + b->recs[i].off, b->recs[i].len);
    }
    (void) as_buf_putc(out, ']');
}

int
as_gzip_init(struct as_gzip *g, int level)
{
    memset(g, 0, sizeof(*g));
    if (level < 0 || level > 9) {
        level = 6;
    }
    if (level == 1) {
        g->z = as_calloc(1, sizeof(*g->z));
        g->lvl_buf = as_malloc(ISAL_DEF_LVL1_DEFAULT);
        return 0;
    }
    g->c = libdeflate_alloc_compressor(level);
    return g->c != NULL ? 0 : AS_ERR_INTERNAL;
}

/* igzip, level 1: one stateless call (the stream is reset each time). */
static int
gzip_isal(struct as_gzip *g, const void *in, size_t len, struct as_buf *out)
{
    /* igzip's output never exceeds the input in stored blocks (5 bytes of
     * header per 65,535) plus the gzip header and trailer. */
    size_t bound = len + len / 1024 + 1024;

    if (len > UINT32_MAX || as_buf_reserve(out, bound) != 0) {
        return AS_ERR_INTERNAL;
    }
    isal_deflate_stateless_init(g->z);
    g->z->level = 1;
    g->z->level_buf = g->lvl_buf;
    g->z->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    g->z->gzip_flag = IGZIP_GZIP;
    g->z->end_of_stream = 1;
    g->z->flush = NO_FLUSH;
    g->z->next_in = (uint8_t *) (uintptr_t) in;
    g->z->avail_in = (uint32_t) len;
    g->z->next_out = (uint8_t *) out->data;
    g->z->avail_out = (uint32_t) (bound < UINT32_MAX ? bound : UINT32_MAX);
    if (isal_deflate_stateless(g->z) != COMP_OK) {
        return AS_ERR_INTERNAL;
    }
    out->len = g->z->total_out;
    return 0;
}

int
as_gzip_compress(struct as_gzip *g, const void *in, size_t len,
                 struct as_buf *out)
{
    size_t bound, n;

    as_buf_reset(out);
    if (g->z != NULL) {
        return gzip_isal(g, in, len, out);
    }
    if (g->c == NULL) {
        return AS_ERR_INTERNAL;
    }
    /* The bound leaves room for the gzip header and trailer. */
    bound = libdeflate_gzip_compress_bound(g->c, len);
    if (as_buf_reserve(out, bound) != 0) {
        return AS_ERR_INTERNAL;
    }
    n = libdeflate_gzip_compress(g->c, in, len, out->data, bound);
    if (n == 0) {
        return AS_ERR_INTERNAL;
    }
    out->len = n;
    return 0;
}

void
as_gzip_close(struct as_gzip *g)
{
    libdeflate_free_compressor(g->c);
    g->c = NULL;
    free(g->z);
    g->z = NULL;
    free(g->lvl_buf);
    g->lvl_buf = NULL;
}

/* One chain's span within a batch. */
struct batch_span {
    const char *chain, *epoch;
    uint64_t first, last, n;
};

void
as_batch_idem_key(const struct as_batch *b, char out[AS_IDEM_KEY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct batch_span one[8], *spans = one;
    size_t n_spans = 0, cap = AS_ARRAY_SIZE(one), cur = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint64_t unchained = 0;
    char line[96];
    int n;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        as_fatalx("idempotency key: SHA-256 unavailable");
    }
    EVP_DigestUpdate(md, "auditship-idem-v1\n", 18);
    for (size_t i = 0; i < b->n; i++) {
        const struct as_batch_rec *r = &b->recs[i];
        const char *chain = r->chain != NULL ? r->chain : "";

        if (chain[0] == '\0') {
            /* Not chained: the bytes themselves tell batches apart. */
            unchained++;
            EVP_DigestUpdate(md, "u", 1);
            EVP_DigestUpdate(md, b->data + r->off, r->len);
            EVP_DigestUpdate(md, "\n", 1);
            continue;
        }
        if (n_spans == 0 || strcmp(spans[cur].chain, chain) != 0) {
            for (cur = 0; cur < n_spans; cur++) {
                if (strcmp(spans[cur].chain, chain) == 0) {
                    break;
                }
            }
            if (cur == n_spans) {
                if (n_spans == cap) {
                    struct batch_span *more = as_calloc(cap * 2, sizeof(*more));

                    memcpy(more, spans, n_spans * sizeof(*spans));
                    if (spans != one) {
                        free(spans);
                    }
                    spans = more;
                    cap *= 2;
                }
                spans[cur].chain = chain;
                spans[cur].epoch = r->epoch != NULL ? r->epoch : "";
                spans[cur].first = r->seq;
                spans[cur].n = 0;
                n_spans++;
            }
        }
        spans[cur].last = r->seq;
        spans[cur].n++;
    }
    for (size_t i = 0; i < n_spans; i++) {
        EVP_DigestUpdate(md, "c", 1);
        EVP_DigestUpdate(md, spans[i].chain, strlen(spans[i].chain) + 1);
        EVP_DigestUpdate(md, spans[i].epoch, strlen(spans[i].epoch) + 1);
        n = snprintf(line, sizeof(line),
                     "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", spans[i].first,
                     spans[i].last, spans[i].n);
        EVP_DigestUpdate(md, line, (size_t) n);
    }
    n = snprintf(line, sizeof(line), "u%" PRIu64 "\n", unchained);
    EVP_DigestUpdate(md, line, (size_t) n);
    EVP_DigestFinal_ex(md, dig, &dlen);
    EVP_MD_CTX_free(md);
    if (spans != one) {
        free(spans);
    }
    for (size_t i = 0; i < AS_IDEM_KEY_LEN / 2; i++) {
        out[2 * i] = hex[dig[i] >> 4];
        out[2 * i + 1] = hex[dig[i] & 15];
    }
    out[AS_IDEM_KEY_LEN] = '\0';
}
