/*
 * The chain stage: builds each record's reserved `auditship` member, links
 * records into one SHA-256 hash chain per input ("{host}/{input}") and
 * makes signed checkpoint records (DESIGN section 6).
 *
 * Owns: the chain heads (id, epoch, seq, hash of the last record, records
 * since the last checkpoint), the Ed25519 signing key, a reusable SHA-256
 * context and a scratch buffer.
 *
 * Sealing serializes once: the record is written in JCS form without
 * auditship.hash, that text is hashed, then the hash member is spliced in at
 * its sorted place (right after "epoch": chain < epoch < hash < host < ...).
 * The result is byte for byte the JCS form of the full record (tested).
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

#define CHAIN_ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

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
    size_t line_hint;   /* longest line so far (capped): one allocation */
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
    cs->line_hint = 1024;
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

/* Adds a member under a constant name to an object that lacks it. */
static void
chain_add(struct json_object *o, const char *key, struct json_object *v)
{
    json_object_object_add_ex(o, key, v,
                              JSON_C_OBJECT_ADD_KEY_IS_NEW |
                                  JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

/* Moves a client-sent `auditship` member out of the agent's way. */
static void
chain_move_client(struct json_object *obj)
{
    struct json_object *client, *meta;

    if (!json_object_object_get_ex(obj, "auditship", &client)) {
        return;
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
}

static struct json_object *
chain_peer(const struct as_peer *p)
{
    struct json_object *o = json_object_new_object();

    chain_add(o, "pid", json_object_new_int64(p->pid));
    chain_add(o, "uid", json_object_new_int64(p->uid));
    chain_add(o, "gid", json_object_new_int64(p->gid));
    chain_add(
        o, "comm",
        json_object_new_string_len(p->comm, (int) strnlen(p->comm,
                                                         sizeof(p->comm))));
    if (p->exe != NULL) {
        chain_add(o, "exe", json_object_new_string(p->exe));
    }
    if (p->unit != NULL) {
        chain_add(o, "unit", json_object_new_string(p->unit));
    }
    return o;
}

/* SHA-256 of p[0..n) as 64 lowercase hex characters. */
static int
chain_sha256(struct as_chainset *cs, const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_DigestInit_ex2(cs->md, cs->sha256, NULL) != 1 ||
        EVP_DigestUpdate(cs->md, p, n) != 1 ||
        EVP_DigestFinal_ex(cs->md, md, &mdlen) != 1 || mdlen != 32) {
        return AS_ERR_INTERNAL;
    }
    chain_hex(md, 32, out);
    return 0;
}

/*
 * Offset just past the "epoch" member inside the auditship object that
 * starts at line[off]: `{"chain":"<JCS string>","epoch":"<32 hex>"`.
 */
static size_t
chain_after_epoch(const char *line, size_t len, size_t off)
{
    size_t i = off + sizeof("{\"chain\":\"") - 1;

    while (i < len && line[i] != '"') {
        i += line[i] == '\\' ? 2 : 1;
    }
    return i + 1 + sizeof(",\"epoch\":\"") - 1 + 32 + 1;
}

int
as_chain_seal(struct as_chainset *cs, struct as_record *r, bool link)
{
    struct json_object *as, *obj = r->obj;
    struct chain *c = NULL;
    char id[256], ts[32], hash[65], epoch[33], prev[65];
    char ins[sizeof(",\"hash\":\"\"") + 64];
    size_t mark = 0, at, inslen;
    uint64_t seq = 0;
    int rc;

    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        return AS_ERR_INVALID;
    }
    link = link && cs->enabled;
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

    chain_move_client(obj);
    as = json_object_new_object();
    if (link) {
        chain_add(as, "chain", json_object_new_string(c->id));
        chain_add(as, "epoch", json_object_new_string(epoch));
        chain_add(as, "seq",
                               json_object_new_uint64(seq));
        chain_add(as, "prev", json_object_new_string(prev));
    }
    chain_add(as, "host", json_object_new_string(cs->host));
    chain_add(as, "input", json_object_new_string(r->input));
    if (r->source != NULL) {
        chain_add(as, "source",
                               json_object_new_string(r->source));
    }
    chain_format_time(cs, r->received_ns, ts);
    chain_add(as, "received_at", json_object_new_string(ts));
    chain_add(as, "redacted",
                           json_object_new_int64((int64_t) r->redacted));
    if (r->peer.valid) {
        chain_add(as, "peer", chain_peer(&r->peer));
    }
    json_object_object_add(obj, "auditship", as);

    as_buf_reset(&r->line);
    if (r->line.cap < cs->line_hint) {
        /* Best effort: a line over line.max fails below anyway. */
        (void) as_buf_reserve(&r->line, cs->line_hint);
    }
    if ((rc = as_jcs_write_mark(&r->line, obj, as, &mark)) != 0) {
        return rc;
    }
    if (r->line.len + 128 > cs->line_hint && r->line.len < 65536) {
        cs->line_hint = r->line.len + 128;
    }
    if (!link) {
        r->chain[0] = '\0';
        r->hash[0] = '\0';
        r->epoch[0] = '\0';
        r->seq = 0;
        return 0;
    }
    if ((rc = chain_sha256(cs, r->line.data, r->line.len, hash)) != 0) {
        return rc;
    }
    memcpy(ins, ",\"hash\":\"", 9);
    memcpy(ins + 9, hash, 64);
    ins[73] = '"';
    inslen = 74;
    at = chain_after_epoch(r->line.data, r->line.len, mark);
    if ((rc = as_buf_reserve(&r->line, inslen)) != 0) {
        return rc;
    }
    memmove(r->line.data + at + inslen, r->line.data + at,
            r->line.len - at + 1);
    memcpy(r->line.data + at, ins, inslen);
    r->line.len += inslen;
    chain_add(as, "hash", json_object_new_string_len(hash, 64));

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
}

int
as_chain_checkpoint(struct as_chainset *cs, const char *input,
                    struct as_record **out)
{
    struct as_record *r = NULL;
    struct json_object *obj, *meta, *as;
    struct chain *c;
    char id[256], ts[32];
    unsigned char sig[64];
    char sig64[89];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *sctx = NULL;
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
    json_object_object_add(obj, "actor_type",
                           json_object_new_string("system"));
    json_object_object_add(obj, "action",
                           json_object_new_string("auditship.checkpoint"));
    json_object_object_add(obj, "target_type",
                           json_object_new_string("chain"));
    json_object_object_add(obj, "target_id", json_object_new_string(id));
    json_object_object_add(obj, "created_at", json_object_new_string(ts));
    meta = json_object_new_object();
    json_object_object_add(meta, "records", json_object_new_uint64(since));
    json_object_object_add(obj, "metadata", meta);
    r->obj = obj;
    if ((rc = as_chain_seal(cs, r, true)) != 0) {
        goto out;
    }
    /* The signature covers the 64 hex characters of the hash. */
    if ((sctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(sctx, NULL, NULL, NULL, cs->key) != 1 ||
        EVP_DigestSign(sctx, sig, &siglen, (const unsigned char *) r->hash,
                       64) != 1 ||
        siglen != sizeof(sig)) {
        as_log_error("chain %s: Ed25519 signing failed", id);
        rc = AS_ERR_INTERNAL;
        goto out;
    }
    EVP_EncodeBlock((unsigned char *) sig64, sig, (int) siglen);
    as = json_object_object_get(r->obj, "auditship");
    json_object_object_add(as, "signature", json_object_new_string(sig64));
    as_buf_reset(&r->line);
    if ((rc = as_jcs_write(&r->line, r->obj)) != 0) {
        goto out;
    }
    c->since_checkpoint = 0;
    *out = r;
    r = NULL;
    rc = 0;
out:
    EVP_MD_CTX_free(sctx);
    as_record_free(r);
    return rc;
}
