/*
 * `auditshipctl verify [--pubkey FILE] [--quiet] FILE...`: checks the hash
 * chains in NDJSON files as shipped (DESIGN section 6).
 *
 * Each line that is a JSON object with a string auditship.chain is a chained
 * record; other lines are counted as "not chained" (not a break).  Records
 * are grouped by (chain, epoch) and ordered by seq (stable in file order),
 * so lines reordered inside or across files are fine.  Per record only the
 * seq, the claimed hash, prev and a few flags are kept (about 80 bytes), never
 * the line, so millions of lines take bounded memory per chain.
 *
 * For every record the hash is recomputed (SHA-256 of the JCS form without
 * auditship.hash and auditship.signature).  Walking a chain in seq order,
 * the first break is reported with its seq and one reason:
 *   edited                       a record's hash does not match its content
 *                                (or its auditship fields are malformed)
 *   deleted                      a seq is missing (the chain must start at 1,
 *                                so every file of a chain must be given)
 *   inserted                     prev does not link to the previous record
 *                                and matches no record of the chain
 *   reordered                    prev links to a record of the chain that is
 *                                not the previous one
 *   duplicated seq               two different records with one seq
 *   restarted without new epoch  prev = zeros at seq > 1, or seq 1 twice
 *   bad signature                a checkpoint's Ed25519 signature is wrong
 *                                (only checked with --pubkey)
 *   no signed checkpoint         --pubkey given and the chain has none
 * Identical records with the same seq (at-least-once delivery) are counted
 * as duplicates, not a break.
 *
 * Output, one line per chain (intact chains are omitted with --quiet):
 *   CHAIN epoch EPOCH: N records, D duplicates, checkpoint at seq S
 *       (signature verified|unverified) | no checkpoint, U unsealed: intact
 *   ... : BROKEN at seq X: REASON [(inside the sealed part)]
 * then "not chained: N lines" when N > 0, and a summary line.  "unsealed" is
 * the number of records after the last checkpoint: with --pubkey, nothing up
 * to that checkpoint was altered or cut; what follows it is not proven.
 * Exit: 0 when every chain is intact (and there is at least one), 1 when a
 * break is found (or no chained record at all), 2 for usage or I/O errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/buf.h"
#include "core/jcs.h"
#include "core/mem.h"
#include "parsers/json.h"
#include "verify.h"

enum {
    VERIFY_OK = 1 << 0,     /* the claimed hash matches the content */
    VERIFY_CKPT = 1 << 1,   /* a checkpoint with a signature */
    VERIFY_SIG_OK = 1 << 2, /* its signature verified (--pubkey) */
    VERIFY_PREV_ZERO = 1 << 3,
};

struct verify_rec {
    uint64_t seq;
    uint64_t idx; /* position in the input, for a stable order */
    unsigned char hash[32];
    unsigned char prev[32];
    unsigned flags;
};

struct verify_chain {
    struct verify_chain *next;
    char *chain;
    char epoch[33];
    struct verify_rec *v;
    size_t n, cap;
};

struct verify_ctx {
    EVP_PKEY *pub;
    EVP_MD_CTX *md;
    struct verify_chain *chains;
    struct verify_chain *last; /* lookup cache */
    uint64_t not_chained;
    uint64_t lines;
    struct as_buf buf;
};

static bool
verify_unhex(const char *s, size_t len, unsigned char out[32])
{
    if (len != 64) {
        return false;
    }
    for (size_t i = 0; i < 32; i++) {
        int v = 0;

        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t) k];

            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= c - '0';
            } else if (c >= 'a' && c <= 'f') {
                v |= c - 'a' + 10;
            } else {
                return false;
            }
        }
        out[i] = (unsigned char) v;
    }
    return true;
}

static struct verify_chain *
verify_group(struct verify_ctx *vc, const char *chain, const char *epoch)
{
    struct verify_chain *g = vc->last;

    if (g != NULL && strcmp(g->chain, chain) == 0 &&
        strcmp(g->epoch, epoch) == 0) {
        return g;
    }
    for (g = vc->chains; g != NULL; g = g->next) {
        if (strcmp(g->chain, chain) == 0 && strcmp(g->epoch, epoch) == 0) {
            vc->last = g;
            return g;
        }
    }
    g = as_calloc(1, sizeof(*g));
    g->chain = as_strdup(chain);
    snprintf(g->epoch, sizeof(g->epoch), "%s", epoch);
    g->next = vc->chains;
    vc->chains = g;
    vc->last = g;
    return g;
}

static const char *
verify_str(struct json_object *o, const char *key, size_t *len)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    if (len != NULL) {
        *len = (size_t) json_object_get_string_len(v);
    }
    return json_object_get_string(v);
}

static bool
verify_sig(struct verify_ctx *vc, const char *hashhex, const char *sig64,
           size_t siglen)
{
    unsigned char raw[96];
    EVP_MD_CTX *ctx;
    int n, ok;

    if (siglen != 88) { /* base64 of 64 bytes */
        return false;
    }
    n = EVP_DecodeBlock(raw, (const unsigned char *) sig64, (int) siglen);
    if (n != 66) {
        return false;
    }
    if ((ctx = EVP_MD_CTX_new()) == NULL) {
        return false;
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, vc->pub) == 1 &&
         EVP_DigestVerify(ctx, raw, 64, (const unsigned char *) hashhex, 64) ==
             1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Examines one line; the record is added to its chain's group. */
static void
verify_line(struct verify_ctx *vc, const char *line, size_t len)
{
    struct json_object *obj = NULL, *as, *seqo;
    struct verify_chain *g;
    struct verify_rec rec;
    struct as_error err;
    const char *chain, *epoch, *hash, *prev, *sig, *action;
    char hashhex[65], sigcopy[128];
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t hlen = 0, plen = 0, slen = 0;
    bool fields_ok = true;

    memset(&rec, 0, sizeof(rec));
    rec.idx = vc->lines;
    if (as_parse_json(line, len, &obj, &err) != 0 ||
        !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "auditship", &as) ||
        !json_object_is_type(as, json_type_object) ||
        (chain = verify_str(as, "chain", NULL)) == NULL) {
        vc->not_chained++;
        goto out;
    }
    epoch = verify_str(as, "epoch", NULL);
    hash = verify_str(as, "hash", &hlen);
    prev = verify_str(as, "prev", &plen);
    sig = verify_str(as, "signature", &slen);
    action = verify_str(obj, "action", NULL);
    g = verify_group(vc, chain, epoch != NULL ? epoch : "");
    if (json_object_object_get_ex(as, "seq", &seqo) &&
        json_object_is_type(seqo, json_type_int) &&
        json_object_get_int64(seqo) > 0) {
        rec.seq = (uint64_t) json_object_get_int64(seqo);
        if (rec.seq == INT64_MAX) {
            rec.seq = json_object_get_uint64(seqo);
        }
    } else {
        fields_ok = false;
    }
    if (epoch == NULL || strlen(epoch) != 32 || hash == NULL || prev == NULL ||
        !verify_unhex(hash, hlen, rec.hash) ||
        !verify_unhex(prev, plen, rec.prev)) {
        fields_ok = false;
    }
    if (fields_ok) {
        static const unsigned char zero[32];

        memcpy(hashhex, hash, 65);
        if (sig != NULL && slen < sizeof(sigcopy)) {
            memcpy(sigcopy, sig, slen + 1);
        } else {
            slen = 0;
        }
        if (memcmp(rec.prev, zero, 32) == 0) {
            rec.flags |= VERIFY_PREV_ZERO;
        }
        if (sig != NULL && action != NULL &&
            strcmp(action, "auditship.checkpoint") == 0) {
            rec.flags |= VERIFY_CKPT;
        }
        json_object_object_del(as, "hash");
        json_object_object_del(as, "signature");
        as_buf_reset(&vc->buf);
        if (as_jcs_write(&vc->buf, obj) == 0 &&
            EVP_DigestInit_ex2(vc->md, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(vc->md, vc->buf.data, vc->buf.len) == 1 &&
            EVP_DigestFinal_ex(vc->md, md, &mdlen) == 1 &&
            memcmp(md, rec.hash, 32) == 0) {
            rec.flags |= VERIFY_OK;
        }
        if ((rec.flags & VERIFY_CKPT) && (rec.flags & VERIFY_OK) &&
            vc->pub != NULL && verify_sig(vc, hashhex, sigcopy, slen)) {
            rec.flags |= VERIFY_SIG_OK;
        }
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->v = as_reallocarray(g->v, g->cap, sizeof(*g->v));
    }
    g->v[g->n++] = rec;
out:
    json_object_put(obj);
}

static int
verify_rec_cmp(const void *pa, const void *pb)
{
    const struct verify_rec *a = pa, *b = pb;

    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int
verify_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Whether some record of g has the hash h. */
static bool
verify_known(const struct verify_chain *g, const unsigned char *h)
{
    unsigned char *all = as_reallocarray(NULL, g->n, 32);
    bool found;

    for (size_t i = 0; i < g->n; i++) {
        memcpy(all + 32 * i, g->v[i].hash, 32);
    }
    qsort(all, g->n, 32, verify_hash_cmp);
    found = bsearch(h, all, g->n, 32, verify_hash_cmp) != NULL;
    free(all);
    return found;
}

/* Checks one chain and prints its line; returns true when intact. */
static bool
verify_chain_report(struct verify_ctx *vc, struct verify_chain *g, bool quiet,
                    FILE *out)
{
    const struct verify_rec *p = NULL;
    const char *reason = NULL;
    uint64_t bseq = 0, dups = 0, ckpt = 0, last = 0;
    bool pub = vc->pub != NULL;

    qsort(g->v, g->n, sizeof(*g->v), verify_rec_cmp);
    /* The last checkpoint that counts, wherever a break is. */
    for (size_t i = 0; i < g->n; i++) {
        const struct verify_rec *e = &g->v[i];

        if ((e->flags & VERIFY_CKPT) && (e->flags & VERIFY_OK) &&
            (!pub || (e->flags & VERIFY_SIG_OK))) {
            ckpt = e->seq;
        }
    }
    for (size_t i = 0; i < g->n && reason == NULL; i++) {
        const struct verify_rec *e = &g->v[i];
        uint64_t expect = p != NULL ? p->seq + 1 : 1;

        if (!(e->flags & VERIFY_OK)) {
            reason = "edited";
            bseq = e->seq;
        } else if (p != NULL && e->seq == p->seq) {
            if (memcmp(e->hash, p->hash, 32) == 0) {
                dups++;
                continue;
            }
            reason =
                e->seq == 1 ? "restarted without new epoch" : "duplicated seq";
            bseq = e->seq;
        } else if (e->seq != expect) {
            reason = "deleted";
            bseq = expect;
        } else if (e->seq > 1 && (e->flags & VERIFY_PREV_ZERO)) {
            reason = "restarted without new epoch";
            bseq = e->seq;
        } else if ((p == NULL && !(e->flags & VERIFY_PREV_ZERO)) ||
                   (p != NULL && memcmp(e->prev, p->hash, 32) != 0)) {
            reason = verify_known(g, e->prev) ? "reordered" : "inserted";
            bseq = e->seq;
        } else if (pub && (e->flags & VERIFY_CKPT) &&
                   !(e->flags & VERIFY_SIG_OK)) {
            reason = "bad signature";
            bseq = e->seq;
        }
        p = e;
        last = e->seq;
    }
    if (reason == NULL && pub && ckpt == 0) {
        reason = "no signed checkpoint";
    }
    if (reason == NULL && quiet) {
        return true;
    }
    fprintf(out, "%s epoch %s: %zu records, %llu duplicates, ", g->chain,
            g->epoch[0] ? g->epoch : "(none)", g->n, (unsigned long long) dups);
    if (ckpt > 0) {
        fprintf(out, "checkpoint at seq %llu (%s), %llu unsealed: ",
                (unsigned long long) ckpt,
                pub ? "signature verified" : "unverified",
                (unsigned long long) (last > ckpt ? last - ckpt : 0));
    } else {
        fprintf(out,
                "no checkpoint, %llu unsealed: ", (unsigned long long) last);
    }
    if (reason == NULL) {
        fprintf(out, "intact\n");
        return true;
    }
    if (bseq == 0) {
        fprintf(out, "BROKEN: %s\n", reason);
    } else {
        fprintf(out, "BROKEN at seq %llu: %s%s\n", (unsigned long long) bseq,
                reason, ckpt >= bseq ? " (inside the sealed part)" : "");
    }
    return false;
}

static int
verify_file(struct verify_ctx *vc, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int r = 0;

    if (f == NULL) {
        fprintf(stderr, "auditshipctl verify: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t) n;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        verify_line(vc, line, len);
        vc->lines++;
    }
    if (ferror(f)) {
        fprintf(stderr, "auditshipctl verify: %s: read error\n", path);
        r = AS_ERR_INTERNAL;
    }
    free(line);
    if (f != stdin) {
        fclose(f);
    }
    return r;
}

static EVP_PKEY *
verify_load_pub(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;

    if (f == NULL) {
        fprintf(stderr, "auditshipctl verify: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        fprintf(stderr,
                "auditshipctl verify: %s: not an Ed25519 public key "
                "(PEM)\n",
                path);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

int
as_verify_run(const char *pubkey, char *const *files, int nfiles, bool quiet,
              FILE *out)
{
    struct verify_ctx vc;
    struct verify_chain *g, *next;
    size_t nchains = 0, nbroken = 0;
    int code = 2;

    memset(&vc, 0, sizeof(vc));
    as_buf_init(&vc.buf, 0);
    if ((vc.md = EVP_MD_CTX_new()) == NULL) {
        goto out;
    }
    if (pubkey != NULL && (vc.pub = verify_load_pub(pubkey)) == NULL) {
        goto out;
    }
    for (int i = 0; i < nfiles; i++) {
        if (verify_file(&vc, files[i]) != 0) {
            goto out;
        }
    }
    for (g = vc.chains; g != NULL; g = g->next) {
        nchains++;
        if (!verify_chain_report(&vc, g, quiet, out)) {
            nbroken++;
        }
    }
    if (vc.not_chained > 0) {
        fprintf(out, "not chained: %llu lines\n",
                (unsigned long long) vc.not_chained);
    }
    fprintf(out, "%zu chains, %zu intact, %zu broken\n", nchains,
            nchains - nbroken, nbroken);
    code = nbroken == 0 && nchains > 0 ? 0 : 1;
out:
    for (g = vc.chains; g != NULL; g = next) {
        next = g->next;
        free(g->chain);
        free(g->v);
        free(g);
    }
    EVP_PKEY_free(vc.pub);
    EVP_MD_CTX_free(vc.md);
    as_buf_free(&vc.buf);
    return code;
}

static void
verify_usage(FILE *f)
{
    fprintf(f, "usage: auditshipctl verify [--pubkey FILE] [--quiet] "
               "FILE...\n"
               "checks the hash chains of NDJSON files (\"-\" = stdin); "
               "exit 0 when every\nchain is intact, 1 on a break, 2 on "
               "usage or I/O errors\n");
}

int
as_ctl_verify(int argc, char **argv)
{
    const char *pubkey = NULL;
    bool quiet = false, opts = true;
    char **files;
    int i, n = 0, rc;

    files = as_calloc((size_t) argc, sizeof(*files));
    for (i = 1; i < argc; i++) {
        if (!opts || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            files[n++] = argv[i];
        } else if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
            pubkey = argv[++i];
        } else if (strncmp(argv[i], "--pubkey=", 9) == 0) {
            pubkey = argv[i] + 9;
        } else if (strcmp(argv[i], "--quiet") == 0 ||
                   strcmp(argv[i], "-q") == 0) {
            quiet = true;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            verify_usage(stdout);
            free(files);
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            opts = false;
        } else {
            fprintf(stderr, "auditshipctl verify: unknown option %s\n",
                    argv[i]);
            verify_usage(stderr);
            free(files);
            return 2;
        }
    }
    if (n == 0) {
        verify_usage(stderr);
        free(files);
        return 2;
    }
    rc = as_verify_run(pubkey, files, n, quiet, stdout);
    free(files);
    return rc;
}
