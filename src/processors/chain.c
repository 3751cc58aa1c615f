/*
 * The chain stage: builds each record's reserved `auditship` member, links
 * records into one SHA-256 hash chain per input ("{host}/{input}") and
 * makes signed checkpoint records (DESIGN section 6).
 *
 * Owns: the chain heads (id, epoch, seq, hash of the last record, records
 * since the last checkpoint), the Ed25519 signing key, a reusable SHA-256
 * context and a scratch buffer (the member text of the record being sealed).
 *
 * Sealing serializes the event once and builds no JSON objects for the
 * `auditship` member: the event (r->obj, which never holds that member) is
 * written in JCS form with the offset where a top-level "auditship" member
 * sorts, the member is written as JCS text without hash and signature into
 * a scratch buffer, SHA-256 is streamed over the three pieces, then the
 * member with its hash (after "epoch": chain < epoch < hash < host) and, on
 * checkpoints, its signature (after "seq": seq < signature < source) is
 * spliced in.  The result is byte for byte the JCS form of the full record
 * (tested against as_jcs_write of the line parsed back).
 *
 * A client-sent top-level `auditship` member is moved to
 * metadata.client_auditship; when `metadata` exists but is not an object it
 * is kept as it is and the client's member goes to top-level
 * `client_auditship` instead (replacing any member of that name).
 *
 * Invariants: a chain head advances only after the record's line was fully
 * written (a failed seal leaves the chain as it was); seq starts at 1 with
 * prev = 64 zeros and a fresh random epoch for a chain seen the first time.
 * Not thread-safe: one chainset per pipeline thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/jcs.h"
#include "core/log.h"
#include "core/mem.h"
#include "chain.h"

#define CHAIN_ZEROS                                                            \
    "0000000000000000000000000000000000000000000000000000000000000000"

struct chain {
    struct chain *next;
    char *input;
    char id[256];
    char epoch[33];
    uint64_t seq;
    char hash[65];
    uint64_t since_checkpoint;
};

struct as_chainset {
    bool enabled;
    char *host;
    EVP_PKEY *key; /* NULL when no signing key is configured */
    struct chain *chains;
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    struct as_buf tmp;
    int64_t time_sec;   /* second of time_text, or -1 */
    char time_text[32]; /* as_format_time of time_sec */
};

/* as_format_time, reusing the formatted second (no gmtime per record). */
static void
chain_format_time(struct as_chainset *cs, int64_t ns, char out[32])
{
    int64_t sec = ns / 1000000000;
    int ms = (int) ((ns % 1000000000) / 1000000);

    if (ns < 0 || sec != cs->time_sec) {
        as_format_time(ns, out);
        if (ns >= 0 && strlen(out) == 24) {
            memcpy(cs->time_text, out, 25);
            cs->time_sec = sec;
        }
        return;
    }
    memcpy(out, cs->time_text, 20); /* "YYYY-MM-DDTHH:MM:SS." */
    out[20] = (char) ('0' + ms / 100);
    out[21] = (char) ('0' + ms / 10 % 10);
    out[22] = (char) ('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static void
chain_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
chain_load_key(const char *path, EVP_PKEY **out, struct as_error *err)
{
    FILE *f;
    EVP_PKEY *k;

    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        return 0;
    }
    if ((f = fopen(path, "r")) == NULL) {
        as_error_set(err, "chain.signing_key: cannot open %s", path);
        return AS_ERR_CONFIG;
    }
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL) {
        as_error_set(err, "chain.signing_key: %s is not a PEM private key",
                     path);
        return AS_ERR_CONFIG;
    }
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        as_error_set(err, "chain.signing_key: %s is not an Ed25519 key", path);
        return AS_ERR_CONFIG;
    }
    *out = k;
    return 0;
}

int
as_chainset_new(const struct as_conf_chain *conf, const char *host,
                struct as_chainset **out, struct as_error *err)
{
    struct as_chainset *cs;
    EVP_PKEY *key;
    int r;

    *out = NULL;
    if ((r = chain_load_key(conf->signing_key, &key, err)) != 0) {
        return r;
    }
    cs = as_calloc(1, sizeof(*cs));
    cs->enabled = conf->enabled;
    cs->host = as_strdup(host);
    cs->key = key;
    cs->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cs->md = EVP_MD_CTX_new();
    if (cs->sha256 == NULL || cs->md == NULL) {
        as_fatalx("chain: OpenSSL SHA-256 unavailable");
    }
    as_buf_init(&cs->tmp, 0);
    cs->time_sec = -1;
    *out = cs;
    return 0;
}

void
as_chainset_free(struct as_chainset *cs)
{
    struct chain *c, *n;

    if (cs == NULL) {
        return;
    }
    for (c = cs->chains; c != NULL; c = n) {
        n = c->next;
        free(c->input);
        free(c);
    }
    EVP_PKEY_free(cs->key);
    EVP_MD_free(cs->sha256);
    EVP_MD_CTX_free(cs->md);
    as_buf_free(&cs->tmp);
    free(cs->host);
    free(cs);
}

int
as_chainset_reconfigure(struct as_chainset *cs,
                        const struct as_conf_chain *conf, struct as_error *err)
{
    EVP_PKEY *key;
    int r;

    if ((r = chain_load_key(conf->signing_key, &key, err)) != 0) {
        return r;
    }
    EVP_PKEY_free(cs->key);
    cs->key = key;
    cs->enabled = conf->enabled;
    return 0;
}

/* The chain with id `id`, created (epoch zeroed, seq 0) when absent. */
static struct chain *
chain_by_id(struct as_chainset *cs, const char *id, const char *input)
{
    struct chain *c;

    for (c = cs->chains; c != NULL; c = c->next) {
        if (strcmp(c->id, id) == 0) {
            return c;
        }
    }
    c = as_calloc(1, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->input = as_strdup(input);
    c->next = cs->chains;
    cs->chains = c;
    return c;
}

static int
chain_id(const struct as_chainset *cs, const char *input, char id[256])
{
    int n = snprintf(id, 256, "%s/%s", cs->host, input);

    return n < 0 || n >= 256 ? AS_ERR_INVALID : 0;
}

void
as_chainset_restore(struct as_chainset *cs, const char *chain,
                    const char *epoch, uint64_t seq, const char *hash)
{
    size_t hl = strlen(cs->host);
    /* A chain of another host name (renamed machine) keeps its id and is
     * never continued by this host's inputs. */
    const char *input = strncmp(chain, cs->host, hl) == 0 && chain[hl] == '/'
                            ? chain + hl + 1
                            : chain;
    struct chain *c = chain_by_id(cs, chain, input);

    snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
    snprintf(c->hash, sizeof(c->hash), "%s", hash);
    c->seq = seq;
}

void
as_chainset_foreach(struct as_chainset *cs,
                    void (*cb)(void *arg, const char *chain, const char *epoch,
                               uint64_t seq, const char *hash),
                    void *arg)
{
    for (struct chain *c = cs->chains; c != NULL; c = c->next) {
        if (c->seq > 0) {
            cb(arg, c->id, c->epoch, c->seq, c->hash);
        }
    }
}

/*
 * Moves a client-sent `auditship` member out of the agent's way; returns
 * whether there was one.
 */
static bool
chain_move_client(struct json_object *obj)
{
    struct json_object *client, *meta;

    if (!json_object_object_get_ex(obj, "auditship", &client)) {
        return false;
    }
    json_object_get(client);
    json_object_object_del(obj, "auditship");
    if (!json_object_object_get_ex(obj, "metadata", &meta)) {
        meta = json_object_new_object();
        json_object_object_add(obj, "metadata", meta);
    }
    if (json_object_is_type(meta, json_type_object)) {
        json_object_object_add(meta, "client_auditship", client);
    } else {
        json_object_object_add(obj, "client_auditship", client);
    }
    return true;
}

/* Appends a constant: a member name with its quotes, punctuation. */
#define CHAIN_PUT(b, lit) as_buf_put((b), (lit), sizeof(lit) - 1)

/* Appends the constant lit (`,"name":`) then s as a JCS string. */
static int
chain_put_str(struct as_buf *b, const char *lit, size_t litlen, const char *s,
              size_t len)
{
    int rc;

    if ((rc = as_buf_put(b, lit, litlen)) != 0) {
        return rc;
    }
    return as_jcs_string(b, s, len);
}

#define CHAIN_PUT_STR(b, lit, s, len)                                          \
    chain_put_str((b), (lit), sizeof(lit) - 1, (s), (len))

/* Appends `,"peer":{...}` with its members in JCS order. */
static int
chain_put_peer(struct as_buf *b, const struct as_peer *p)
{
    int rc;

    if ((rc = CHAIN_PUT_STR(b, ",\"peer\":{\"comm\":", p->comm,
                            strnlen(p->comm, sizeof(p->comm)))) != 0 ||
        (p->exe != NULL &&
         (rc = CHAIN_PUT_STR(b, ",\"exe\":", p->exe, strlen(p->exe))) != 0) ||
        (rc = CHAIN_PUT(b, ",\"gid\":")) != 0 ||
        (rc = as_jcs_int64(b, p->gid)) != 0 ||
        (rc = CHAIN_PUT(b, ",\"pid\":")) != 0 ||
        (rc = as_jcs_int64(b, p->pid)) != 0 ||
        (rc = CHAIN_PUT(b, ",\"uid\":")) != 0 ||
        (rc = as_jcs_int64(b, p->uid)) != 0 ||
        (p->unit != NULL && (rc = CHAIN_PUT_STR(b, ",\"unit\":", p->unit,
                                                strlen(p->unit))) != 0)) {
        return rc;
    }
    return as_buf_putc(b, '}');
}

/*
 * Where the member text in cs->tmp takes the hash and the signature: both
 * are left out of it, as the hash covers the record without them.
 */
struct chain_member {
    size_t hash_at; /* just past "epoch" (chain < epoch < hash < host) */
    size_t sig_at;  /* just past "seq" (seq < signature < source) */
};

/*
 * Writes the `auditship` member into cs->tmp in JCS form, with the comma
 * that sep asks for, without hash and signature.  c is NULL for an unlinked
 * record.  Returns 0, AS_ERR_INVALID (a string that is not UTF-8) or
 * AS_ERR_TOOBIG.
 */
static int
chain_member(struct as_chainset *cs, const struct as_record *r,
             const struct chain *c, const char *epoch, const char *prev,
             uint64_t seq, enum as_jcs_gap_sep sep, struct chain_member *at)
{
    struct as_buf *b = &cs->tmp;
    char ts[32];
    int rc;

    as_buf_reset(b);
    at->hash_at = at->sig_at = 0;
    if (sep == AS_JCS_GAP_BEFORE && (rc = as_buf_putc(b, ',')) != 0) {
        return rc;
    }
    if ((rc = CHAIN_PUT(b, "\"auditship\":{")) != 0) {
        return rc;
    }
    if (c != NULL) {
        if ((rc = CHAIN_PUT_STR(b, "\"chain\":", c->id, strlen(c->id))) != 0 ||
            (rc = CHAIN_PUT_STR(b, ",\"epoch\":", epoch, 32)) != 0 ||
            (rc = as_buf_putc(b, ',')) != 0) {
            return rc;
        }
        at->hash_at = b->len - 1;
    }
    if ((rc = CHAIN_PUT_STR(b, "\"host\":", cs->host, strlen(cs->host))) != 0 ||
        (rc = CHAIN_PUT_STR(b, ",\"input\":", r->input, strlen(r->input))) !=
            0 ||
        (r->peer.valid && (rc = chain_put_peer(b, &r->peer)) != 0) ||
        (c != NULL && (rc = CHAIN_PUT_STR(b, ",\"prev\":", prev, 64)) != 0)) {
        return rc;
    }
    chain_format_time(cs, r->received_ns, ts);
    if ((rc = CHAIN_PUT_STR(b, ",\"received_at\":", ts, strlen(ts))) != 0 ||
        (rc = CHAIN_PUT(b, ",\"redacted\":")) != 0 ||
        (rc = as_jcs_uint64(b, r->redacted)) != 0) {
        return rc;
    }
    if (c != NULL) {
        if ((rc = CHAIN_PUT(b, ",\"seq\":")) != 0 ||
            (rc = as_jcs_uint64(b, seq)) != 0) {
            return rc;
        }
        at->sig_at = b->len;
    }
    if (r->source != NULL && (rc = CHAIN_PUT_STR(b, ",\"source\":", r->source,
                                                 strlen(r->source))) != 0) {
        return rc;
    }
    if ((rc = as_buf_putc(b, '}')) != 0) {
        return rc;
    }
    if (sep == AS_JCS_GAP_AFTER) {
        return as_buf_putc(b, ',');
    }
    return 0;
}

/*
 * SHA-256, as 64 lowercase hex characters, of the record line[0..gap) +
 * cs->tmp + line[gap..len): streamed, never joined.
 */
static int
chain_hash(struct as_chainset *cs, const struct as_buf *line, size_t gap,
           char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_DigestInit_ex2(cs->md, cs->sha256, NULL) != 1 ||
        EVP_DigestUpdate(cs->md, line->data, gap) != 1 ||
        EVP_DigestUpdate(cs->md, cs->tmp.data, cs->tmp.len) != 1 ||
        EVP_DigestUpdate(cs->md, line->data + gap, line->len - gap) != 1 ||
        EVP_DigestFinal_ex(cs->md, md, &mdlen) != 1 || mdlen != 32) {
        return AS_ERR_INTERNAL;
    }
    chain_hex(md, 32, out);
    return 0;
}

/* Base64 Ed25519 signature of the 64 hex characters of hash. */
static int
chain_sign(struct as_chainset *cs, const char *chain, const char hash[65],
           char sig64[89])
{
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *sctx;
    int rc = AS_ERR_INTERNAL;

    if ((sctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(sctx, NULL, NULL, NULL, cs->key) != 1 ||
        EVP_DigestSign(sctx, sig, &siglen, (const unsigned char *) hash, 64) !=
            1 ||
        siglen != sizeof(sig)) {
        as_log_error("chain %s: Ed25519 signing failed", chain);
        goto out;
    }
    EVP_EncodeBlock((unsigned char *) sig64, sig, (int) siglen);
    rc = 0;
out:
    EVP_MD_CTX_free(sctx);
    return rc;
}

/*
 * as_chain_seal; with sign (checkpoints, linked, cs->key set) the member
 * also gets the signature of the hash.  The record is written without the
 * member and the member as text (cs->tmp), the hash taken over the three
 * pieces, then the member with hash (and signature) is spliced in at its
 * place.
 */
int
as_chain_prepare(struct as_record *r)
{
    enum as_jcs_gap_sep sep;
    size_t gap;
    int rc;

    if (r->obj == NULL || !json_object_is_type(r->obj, json_type_object)) {
        return AS_ERR_INVALID;
    }
    as_buf_reset(&r->line);
    if (r->line.cap < 1024) {
        /* Best effort: a line over line.max fails below anyway. */
        (void) as_buf_reserve(&r->line, 1024);
    }
    /*
     * as_jcs_write_gap refuses an object that has the member already, so a
     * client-sent `auditship` (rare) is looked up and moved only when the
     * first write fails, then the record is written again.
     */
    rc = as_jcs_write_gap(&r->line, r->obj, "auditship", &gap, &sep);
    if (rc != 0 && chain_move_client(r->obj)) {
        rc = as_jcs_write_gap(&r->line, r->obj, "auditship", &gap, &sep);
    }
    if (rc != 0) {
        as_buf_reset(&r->line);
        return rc;
    }
    r->gap = gap;
    r->gap_sep = (int) sep;
    return 0;
}

/*
 * The ordered half of sealing; with sign (checkpoints, linked, cs->key set)
 * the member also gets the signature of the hash.  r->line holds the record
 * without the member (as_chain_prepare); the member is written as text
 * (cs->tmp), the hash taken over the three pieces, then the member with hash
 * (and signature) is spliced in at its place.
 */
static int
chain_finish(struct as_chainset *cs, struct as_record *r, bool link, bool sign)
{
    static const char hash_key[] = ",\"hash\":\"";
    static const char sig_key[] = ",\"signature\":\"";
    struct chain *c = NULL;
    struct chain_member at;
    enum as_jcs_gap_sep sep = (enum as_jcs_gap_sep) r->gap_sep;
    char id[256], hash[65] = "", epoch[33] = "", prev[65] = "", sig64[89];
    size_t gap = r->gap, after, extra, hlen = 0, slen = 0;
    uint64_t seq = 0;
    char *w;
    int rc;

    if (r->line.len == 0 || gap > r->line.len) {
        return AS_ERR_INVALID;
    }
    link = link && cs->enabled;
    sign = sign && link && cs->key != NULL;
    if (link) {
        for (c = cs->chains; c != NULL; c = c->next) {
            if (strcmp(c->input, r->input) == 0) {
                break;
            }
        }
        if (c == NULL) {
            if (chain_id(cs, r->input, id) != 0) {
                return AS_ERR_INVALID;
            }
            c = chain_by_id(cs, id, r->input);
        }
        if (c->seq == 0) {
            unsigned char rnd[16];

            if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
                as_fatalx("chain: RAND_bytes failed");
            }
            chain_hex(rnd, sizeof(rnd), c->epoch);
            snprintf(c->hash, sizeof(c->hash), "%s", CHAIN_ZEROS);
        }
        seq = c->seq + 1;
        memcpy(epoch, c->epoch, sizeof(epoch));
        memcpy(prev, c->hash, sizeof(prev));
    }
    if ((rc = chain_member(cs, r, c, epoch, prev, seq, sep, &at)) != 0) {
        goto fail;
    }
    extra = cs->tmp.len;
    if (link) {
        if ((rc = chain_hash(cs, &r->line, gap, hash)) != 0) {
            goto fail;
        }
        hlen = sizeof(hash_key) - 1 + 64 + 1;
        extra += hlen;
    }
    if (sign) {
        if ((rc = chain_sign(cs, c->id, hash, sig64)) != 0) {
            goto fail;
        }
        slen = sizeof(sig_key) - 1 + 88 + 1;
        extra += slen;
    }
    if ((rc = as_buf_reserve(&r->line, extra)) != 0) {
        goto fail;
    }
    after = r->line.len - gap;
    w = r->line.data + gap;
    memmove(w + extra, w, after + 1); /* with the NUL */
    if (link) {
        memcpy(w, cs->tmp.data, at.hash_at);
        w += at.hash_at;
        memcpy(w, hash_key, sizeof(hash_key) - 1);
        memcpy(w + sizeof(hash_key) - 1, hash, 64);
        w[hlen - 1] = '"';
        w += hlen;
        memcpy(w, cs->tmp.data + at.hash_at, at.sig_at - at.hash_at);
        w += at.sig_at - at.hash_at;
        if (sign) {
            memcpy(w, sig_key, sizeof(sig_key) - 1);
            memcpy(w + sizeof(sig_key) - 1, sig64, 88);
            w[slen - 1] = '"';
            w += slen;
        }
        memcpy(w, cs->tmp.data + at.sig_at, cs->tmp.len - at.sig_at);
    } else {
        memcpy(w, cs->tmp.data, cs->tmp.len);
    }
    r->line.len += extra;
    if (!link) {
        r->chain[0] = '\0';
        r->hash[0] = '\0';
        r->epoch[0] = '\0';
        r->seq = 0;
        return 0;
    }
    memcpy(r->chain, c->id, sizeof(r->chain));
    memcpy(r->epoch, epoch, sizeof(r->epoch));
    memcpy(r->hash, hash, sizeof(r->hash));
    r->seq = seq;
    c->seq = seq;
    memcpy(c->hash, hash, sizeof(c->hash));
    if (!(r->flags & AS_REC_CHECKPOINT)) {
        c->since_checkpoint++;
    }
    return 0;

fail:
    as_buf_reset(&r->line);
    return rc;
}

static int
chain_seal(struct as_chainset *cs, struct as_record *r, bool link, bool sign)
{
    int rc = as_chain_prepare(r);

    return rc != 0 ? rc : chain_finish(cs, r, link, sign);
}

int
as_chain_finish(struct as_chainset *cs, struct as_record *r, bool link)
{
    return chain_finish(cs, r, link, false);
}

int
as_chain_seal(struct as_chainset *cs, struct as_record *r, bool link)
{
    return chain_seal(cs, r, link, false);
}

int
as_chain_checkpoint(struct as_chainset *cs, const char *input,
                    struct as_record **out)
{
    struct as_record *r = NULL;
    struct json_object *obj, *meta;
    struct chain *c;
    char id[256], ts[32];
    uint64_t since;
    int rc = AS_ERR_INTERNAL;

    *out = NULL;
    if (cs->key == NULL || !cs->enabled) {
        return AS_ERR_NOTIMPL;
    }
    if (chain_id(cs, input, id) != 0) {
        return AS_ERR_INVALID;
    }
    c = chain_by_id(cs, id, input);
    since = c->since_checkpoint;
    r = as_record_new(c->input, NULL); /* borrows the chain's copy */
    r->flags |= AS_REC_CHECKPOINT;
    as_format_time(r->received_ns, ts);
    obj = json_object_new_object();
    json_object_object_add(obj, "actor_id", json_object_new_string("system"));
    json_object_object_add(obj, "actor_type", json_object_new_string("system"));
    json_object_object_add(obj, "action",
                           json_object_new_string("auditship.checkpoint"));
    json_object_object_add(obj, "target_type", json_object_new_string("chain"));
    json_object_object_add(obj, "target_id", json_object_new_string(id));
    json_object_object_add(obj, "created_at", json_object_new_string(ts));
    meta = json_object_new_object();
    json_object_object_add(meta, "records", json_object_new_uint64(since));
    json_object_object_add(obj, "metadata", meta);
    r->obj = obj;
    if ((rc = chain_seal(cs, r, true, true)) != 0) {
        goto out;
    }
    c->since_checkpoint = 0;
    *out = r;
    r = NULL;
    rc = 0;
out:
    as_record_free(r);
    return rc;
}
