/*
 * The chain stage: the auditship member per DESIGN section 6, hash = SHA-256
 * of the JCS form without hash/signature, the spliced line equal to the JCS
 * of itself parsed back and to r->obj plus the member, linking (seq, prev,
 * epoch), client `auditship` moved aside, unlinked records, failed seals
 * leaving the chain as it was, restored heads, signed checkpoints, signing
 * key errors, the member's place (empty event, first, last, Unicode names
 * around "auditship"), 3000 generated events (peer, no source, unlinked,
 * chaining off, checkpoints) against the member built with json-c as the
 * stage used to, and a speed figure for as_chain_seal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "ctl/keygen.h"
#include "parsers/json.h"
#include "processors/chain.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

static const char event[] =
    "{\"id\":\"evt_000000000042\",\"actor_id\":\"user_01234\","
    "\"actor_type\":\"user\",\"action\":\"flag_schedule.created\","
    "\"target_type\":\"feature_flag\",\"target_id\":\"feature-17\","
    "\"metadata\":{\"request_id\":\"req_1f2e3d4c5b6a7988\","
    "\"correlation_id\":\"c0a1b2c3d4e5f\",\"scheduleId\":\"sch_4242\","
    "\"flagKey\":\"feature-17\",\"updates\":{\"enabled\":true,"
    "\"rolloutPercentage\":42}},\"ip_address\":\"203.0.113.7\","
    "\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
    "Gecko/20100101 "
    "Firefox/128.0\",\"created_at\":\"2026-01-28T09:00:00.123Z\"}";

static char keydir[64];

static int
setup(void **state)
{
    struct as_error err;
    char prefix[128];

    (void) state;
    snprintf(keydir, sizeof(keydir), "/tmp/test_chain.XXXXXX");
    if (mkdtemp(keydir) == NULL) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "%s/k", keydir);
    return as_keygen_write(prefix, &err);
}

static int
teardown(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct as_record *
mkrec(const char *input, const char *json)
{
    struct as_srcinfo src = {0};
    struct as_record *r;
    struct as_error err;

    src.source = "/var/log/app/audit.ndjson";
    r = as_record_new(input, &src);
    r->received_ns = 1769590800123000000LL; /* 2026-01-28T09:00:00.123Z */
    assert_int_equal(as_parse_json(json, strlen(json), &r->obj, &err), 0);
    return r;
}

static struct as_chainset *
mkset(bool enabled, const char *key)
{
    struct as_conf_chain conf = {0};
    struct as_chainset *cs;
    struct as_error err;

    conf.enabled = enabled;
    conf.signing_key = (char *) (key ? key : "");
    assert_int_equal(as_chainset_new(&conf, "host1", &cs, &err), 0);
    return cs;
}

/* Trees parsed back from lines by as_member, put by put_parsed. */
static struct json_object *parsed[64];
static size_t n_parsed;

static int
put_parsed(void **state)
{
    (void) state;
    while (n_parsed > 0) {
        json_object_put(parsed[--n_parsed]);
    }
    return 0;
}

/* r->line parsed back (kept until the test's teardown). */
static struct json_object *
parse_line(const struct as_record *r)
{
    struct json_object *o = NULL;
    struct as_error err;

    assert_int_equal(as_parse_json(r->line.data, r->line.len, &o, &err), 0);
    assert_true(n_parsed < sizeof(parsed) / sizeof(parsed[0]));
    parsed[n_parsed++] = o;
    return o;
}

/* A member of the record's `auditship` member, read from r->line. */
static struct json_object *
as_member(struct as_record *r, const char *name)
{
    struct json_object *as, *v = NULL;

    assert_true(json_object_object_get_ex(parse_line(r), "auditship", &as));
    json_object_object_get_ex(as, name, &v);
    return v;
}

/*
 * Checks the line against independent computations: it is the JCS form of
 * itself parsed back, r->obj holds no `auditship` member, the line is r->obj
 * plus that member, and the hash is the SHA-256 of the JCS form of the
 * record without hash and signature.
 */
static void
check_sealed(struct as_record *r)
{
    struct as_buf b = AS_BUF_INIT, e = AS_BUF_INIT;
    struct json_object *back = NULL, *as, *h;
    unsigned char md[32];
    unsigned int mdlen;
    char hex[65];
    struct as_error err;

    assert_false(json_object_object_get_ex(r->obj, "auditship", NULL));
    assert_int_equal(as_parse_json(r->line.data, r->line.len, &back, &err), 0);
    assert_int_equal(as_jcs_write(&b, back), 0);
    assert_int_equal(b.len, r->line.len);
    assert_memory_equal(b.data, r->line.data, b.len);
    /* Without the member, the line is the event as the chain left it. */
    assert_true(json_object_object_get_ex(back, "auditship", &as));
    json_object_get(as);
    json_object_object_del(back, "auditship");
    as_buf_reset(&b);
    assert_int_equal(as_jcs_write(&b, back), 0);
    assert_int_equal(as_jcs_write(&e, r->obj), 0);
    assert_string_equal(b.data, e.data);
    json_object_object_add(back, "auditship", as);
    if (r->hash[0] == '\0') {
        assert_false(json_object_object_get_ex(as, "hash", NULL));
        goto out;
    }
    assert_true(json_object_object_get_ex(as, "hash", &h));
    assert_string_equal(json_object_get_string(h), r->hash);
    json_object_object_del(as, "hash");
    json_object_object_del(as, "signature");
    as_buf_reset(&b);
    assert_int_equal(as_jcs_write(&b, back), 0);
    assert_int_equal(EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL),
                     1);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(hex, r->hash);
out:
    json_object_put(back);
    as_buf_free(&b);
    as_buf_free(&e);
}

static void
test_link(void **state)
{
    struct as_chainset *cs = mkset(true, NULL);
    struct as_record *r1 = mkrec("app", event), *r2 = mkrec("app", event);
    struct as_record *o1 = mkrec("other", "{\"a\":1}");

    (void) state;
    assert_int_equal(as_chain_seal(cs, r1, true), 0);
    check_sealed(r1);
    assert_string_equal(r1->chain, "host1/app");
    assert_int_equal(r1->seq, 1);
    assert_int_equal(strlen(r1->epoch), 32);
    assert_int_equal(strspn(r1->epoch, "0123456789abcdef"), 32);
    assert_string_equal(json_object_get_string(as_member(r1, "prev")), ZEROS);
    assert_string_equal(json_object_get_string(as_member(r1, "chain")),
                        "host1/app");
    assert_string_equal(json_object_get_string(as_member(r1, "host")), "host1");
    assert_string_equal(json_object_get_string(as_member(r1, "input")), "app");
    assert_string_equal(json_object_get_string(as_member(r1, "source")),
                        "/var/log/app/audit.ndjson");
    assert_string_equal(json_object_get_string(as_member(r1, "received_at")),
                        "2026-01-28T09:00:00.123Z");
    assert_int_equal(json_object_get_int64(as_member(r1, "redacted")), 0);
    assert_null(as_member(r1, "peer"));
    assert_null(as_member(r1, "signature"));

    r2->redacted = 3;
    r2->peer.valid = true;
    r2->peer.pid = 4242;
    r2->peer.uid = 1000;
    r2->peer.gid = 1001;
    snprintf(r2->peer.comm, sizeof(r2->peer.comm), "node");
    r2->peer.exe = strdup("/usr/bin/node");
    assert_int_equal(as_chain_seal(cs, r2, true), 0);
    check_sealed(r2);
    assert_int_equal(r2->seq, 2);
    assert_string_equal(r2->epoch, r1->epoch);
    assert_string_equal(json_object_get_string(as_member(r2, "prev")),
                        r1->hash);
    assert_int_equal(json_object_get_int64(as_member(r2, "redacted")), 3);
    assert_non_null(strstr(r2->line.data,
                           "\"peer\":{\"comm\":\"node\",\"exe\":"
                           "\"/usr/bin/node\",\"gid\":1001,\"pid\":4242,"
                           "\"uid\":1000}"));
    assert_string_not_equal(r2->hash, r1->hash);

    assert_int_equal(as_chain_seal(cs, o1, true), 0);
    check_sealed(o1);
    assert_string_equal(o1->chain, "host1/other");
    assert_int_equal(o1->seq, 1);
    assert_string_not_equal(o1->epoch, r1->epoch);
    as_record_free(r1);
    as_record_free(r2);
    as_record_free(o1);
    as_chainset_free(cs);
}

static void
test_client_auditship(void **state)
{
    struct as_chainset *cs = mkset(true, NULL);
    struct as_record *a = mkrec("app", "{\"auditship\":{\"seq\":99}}");
    struct as_record *b =
        mkrec("app", "{\"auditship\":\"x\",\"metadata\":{\"k\":1}}");
    struct as_record *c =
        mkrec("app", "{\"auditship\":[1],\"metadata\":\"m\"}");
    struct json_object *m;

    (void) state;
    assert_int_equal(as_chain_seal(cs, a, true), 0);
    check_sealed(a);
    assert_int_equal(a->seq, 1);
    assert_true(json_object_object_get_ex(parse_line(a), "metadata", &m));
    assert_int_equal(json_object_get_int(json_object_object_get(
                         json_object_object_get(m, "client_auditship"), "seq")),
                     99);
    assert_int_equal(json_object_get_int64(as_member(a, "seq")), 1);

    assert_int_equal(as_chain_seal(cs, b, true), 0);
    check_sealed(b);
    assert_non_null(strstr(
        b->line.data, "\"metadata\":{\"client_auditship\":\"x\",\"k\":1}"));
    assert_int_equal(as_chain_seal(cs, c, true), 0);
    check_sealed(c);
    assert_non_null(strstr(c->line.data, "\"client_auditship\":[1],"));
    assert_non_null(strstr(c->line.data, "\"metadata\":\"m\""));
    as_record_free(a);
    as_record_free(b);
    as_record_free(c);

    /*
     * The member is moved even when the record then cannot be written (it
     * is found after the first write fails): same tree as before the
     * failure, the line empty, the chain untouched.
     */
    a = mkrec("app", "{\"auditship\":7,\"z\":1}");
    json_object_object_add(a->obj, "bad", json_object_new_string("\xff"));
    assert_int_equal(as_chain_seal(cs, a, true), AS_ERR_INVALID);
    assert_int_equal(a->line.len, 0);
    assert_false(json_object_object_get_ex(a->obj, "auditship", NULL));
    assert_true(json_object_object_get_ex(a->obj, "metadata", &m));
    assert_int_equal(
        json_object_get_int(json_object_object_get(m, "client_auditship")), 7);
    as_record_free(a);
    a = mkrec("app", "{\"z\":1}");
    json_object_object_add(a->obj, "bad", json_object_new_string("\xff"));
    assert_int_equal(as_chain_seal(cs, a, true), AS_ERR_INVALID);
    assert_false(json_object_object_get_ex(a->obj, "metadata", NULL));
    as_record_free(a);
    a = mkrec("app", "{\"b\":1}");
    assert_int_equal(as_chain_seal(cs, a, true), 0);
    assert_int_equal(a->seq, 4); /* the failures took no seq */
    as_record_free(a);
    as_chainset_free(cs);
}

static void
test_unlinked(void **state)
{
    struct as_chainset *on = mkset(true, NULL), *off = mkset(false, NULL);
    struct as_record *a = mkrec("app", event), *b = mkrec("app", event);
    struct as_record *c = mkrec("app", event);

    (void) state;
    assert_int_equal(as_chain_seal(on, a, false), 0);
    assert_int_equal(as_chain_seal(off, b, true), 0);
    check_sealed(a);
    check_sealed(b);
    assert_string_equal(a->line.data, b->line.data);
    assert_null(as_member(a, "chain"));
    assert_null(as_member(a, "seq"));
    assert_null(as_member(a, "hash"));
    assert_null(as_member(a, "prev"));
    assert_null(as_member(a, "epoch"));
    assert_non_null(as_member(a, "received_at"));
    assert_non_null(as_member(a, "redacted"));
    assert_string_equal(a->hash, "");
    /* The unlinked record did not advance the chain. */
    assert_int_equal(as_chain_seal(on, c, true), 0);
    assert_int_equal(c->seq, 1);
    as_record_free(a);
    as_record_free(b);
    as_record_free(c);
    as_chainset_free(on);
    as_chainset_free(off);
}

static void
test_failure_and_restore(void **state)
{
    struct as_chainset *cs = mkset(true, NULL);
    struct as_record *a = mkrec("app", event), *bad = mkrec("app", "{}");
    struct as_record *b = mkrec("app", event), *c = mkrec("app", event);
    struct as_record *arr = mkrec("app", "[1]");

    (void) state;
    assert_int_equal(as_chain_seal(cs, a, true), 0);
    json_object_object_add(bad->obj, "x", json_object_new_double(NAN));
    assert_int_equal(as_chain_seal(cs, bad, true), AS_ERR_INVALID);
    assert_int_equal(as_chain_seal(cs, arr, true), AS_ERR_INVALID);
    assert_int_equal(as_chain_seal(cs, b, true), 0);
    assert_int_equal(b->seq, 2);
    assert_string_equal(json_object_get_string(as_member(b, "prev")), a->hash);
    as_chainset_restore(cs, "host1/app", "0123456789abcdef0123456789abcdef", 41,
                        a->hash);
    assert_int_equal(as_chain_seal(cs, c, true), 0);
    assert_int_equal(c->seq, 42);
    assert_string_equal(c->epoch, "0123456789abcdef0123456789abcdef");
    assert_string_equal(json_object_get_string(as_member(c, "prev")), a->hash);
    check_sealed(c);
    as_record_free(a);
    as_record_free(b);
    as_record_free(c);
    as_record_free(bad);
    as_record_free(arr);
    as_chainset_free(cs);
}

static void
foreach_cb(void *arg, const char *chain, const char *epoch, uint64_t seq,
           const char *hash)
{
    int *n = arg;

    assert_string_equal(chain, "host1/app");
    assert_int_equal(strlen(epoch), 32);
    assert_int_equal(seq, 1);
    assert_int_equal(strlen(hash), 64);
    (*n)++;
}

static void
test_checkpoint(void **state)
{
    char key[128], pub[128];
    struct as_chainset *cs, *nokey = mkset(true, NULL);
    struct as_record *a = mkrec("app", event), *cp = NULL, *cp2 = NULL;
    struct json_object *meta, *sig, *line;
    unsigned char raw[128];
    EVP_PKEY *pk;
    EVP_MD_CTX *ctx;
    FILE *f;
    int n = 0;

    (void) state;
    snprintf(key, sizeof(key), "%s/k.key", keydir);
    snprintf(pub, sizeof(pub), "%s/k.pub", keydir);
    assert_int_equal(as_chain_checkpoint(nokey, "app", &cp), AS_ERR_NOTIMPL);
    assert_null(cp);
    cs = mkset(true, key);
    assert_int_equal(as_chain_seal(cs, a, true), 0);
    as_chainset_foreach(cs, foreach_cb, &n);
    assert_int_equal(n, 1);
    assert_int_equal(as_chain_checkpoint(cs, "app", &cp), 0);
    check_sealed(cp);
    assert_true(cp->flags & AS_REC_CHECKPOINT);
    assert_int_equal(cp->seq, 2);
    assert_string_equal(json_object_get_string(as_member(cp, "prev")), a->hash);
    line = parse_line(cp);
    assert_string_equal(
        json_object_get_string(json_object_object_get(line, "action")),
        "auditship.checkpoint");
    assert_string_equal(
        json_object_get_string(json_object_object_get(line, "target_id")),
        "host1/app");
    assert_true(json_object_object_get_ex(line, "metadata", &meta));
    assert_int_equal(
        json_object_get_int(json_object_object_get(meta, "records")), 1);
    sig = as_member(cp, "signature");
    assert_non_null(sig);
    assert_int_equal(
        EVP_DecodeBlock(raw,
                        (const unsigned char *) json_object_get_string(sig),
                        json_object_get_string_len(sig)),
        66); /* 64 bytes + base64 padding */
    f = fopen(pub, "r");
    assert_non_null(f);
    pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(pk);
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, raw, 64, (const unsigned char *) cp->hash, 64),
        1);
    EVP_MD_CTX_free(ctx);
    ctx = EVP_MD_CTX_new();
    raw[0] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk), 1);
    assert_int_not_equal(
        EVP_DigestVerify(ctx, raw, 64, (const unsigned char *) cp->hash, 64),
        1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    /* An idle interval is sealed too: records 0, seq continues. */
    assert_int_equal(as_chain_checkpoint(cs, "app", &cp2), 0);
    assert_int_equal(cp2->seq, 3);
    assert_int_equal(
        json_object_get_int(json_object_object_get(
            json_object_object_get(parse_line(cp2), "metadata"), "records")),
        0);
    as_record_free(a);
    as_record_free(cp);
    as_record_free(cp2);
    as_chainset_free(cs);
    as_chainset_free(nokey);
}

static void
test_key_errors(void **state)
{
    struct as_conf_chain conf = {0};
    struct as_chainset *cs = NULL;
    struct as_error err;
    char path[128];
    EVP_PKEY *ec;
    FILE *f;

    (void) state;
    conf.enabled = true;
    conf.signing_key = (char *) "/nonexistent/key.pem";
    assert_int_equal(as_chainset_new(&conf, "h", &cs, &err), AS_ERR_CONFIG);
    assert_null(cs);
    assert_non_null(strstr(err.msg, "cannot open"));
    snprintf(path, sizeof(path), "%s/k.pub", keydir);
    conf.signing_key = path;
    assert_int_equal(as_chainset_new(&conf, "h", &cs, &err), AS_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "not a PEM private key"));
    snprintf(path, sizeof(path), "%s/ec.key", keydir);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(ec);
    assert_int_equal(as_chainset_new(&conf, "h", &cs, &err), AS_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "not an Ed25519 key"));
    /* keygen refuses to overwrite. */
    snprintf(path, sizeof(path), "%s/k", keydir);
    assert_int_not_equal(as_keygen_write(path, &err), 0);
}

/* ---- generated events against a reference built with json-c ---- */

static uint64_t gen_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
gen_next(void)
{
    gen_state ^= gen_state << 13;
    gen_state ^= gen_state >> 7;
    gen_state ^= gen_state << 17;
    return gen_state;
}

static size_t
gen_pick(size_t n)
{
    return (size_t) (gen_next() % n);
}

/* Member names on either side of "auditship" in UTF-16 order. */
static const char *const gen_before[] = {
    "",         "A",     "Auditship", "a",         "action",
    "actor_id", "audit", "auditsh",   "auditshi",  "auditshio",
    "a\"b",     "a\\b",  "\n",        "auditshiP",
};
static const char *const gen_after[] = {
    "auditship0",
    "auditshipz",
    "auditship ",
    "auditshiq",
    "auditshi\xf0\x9f\x98\x80",
    "auditshi\xee\x80\x80",
    "a\xc3\xbc"
    "dit",
    "\xf0\x9f\x98\x80",
    "\xee\x80\x80",
    "\xef\xbf\xbd",
    "b",
    "metadata",
    "zz",
    "\xf0\x9f\x98\x80z",
    "auditshipauditship",
};
/* Pieces of generated strings: escapes, UTF-8 of every length. */
static const char *const gen_pieces[] = {
    "a",
    "Z",
    "0",
    " ",
    "/",
    "\"",
    "\\",
    "\n",
    "\t",
    "\x01",
    "\x1f",
    "\x7f",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xee\x80\x80",
    "\xef\xbf\xbd",
    "\xf0\x9f\x98\x80",
    "<",
    "\\u0041",
};

#define GEN_NPIECES (sizeof(gen_pieces) / sizeof(gen_pieces[0]))

/* A random valid UTF-8 string of at most max bytes into out. */
static void
gen_string(char *out, size_t max)
{
    size_t len = 0, n = gen_pick(12);

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *p = gen_pieces[gen_pick(GEN_NPIECES)];
        size_t pl = strlen(p);

        if (len + pl > max) {
            break;
        }
        memcpy(out + len, p, pl + 1);
        len += pl;
    }
}

static struct json_object *
gen_value(int depth)
{
    char s[64];
    struct json_object *o;

    switch (gen_pick(depth > 1 ? 7 : 9)) {
    case 0:
        return NULL;
    case 1:
        return json_object_new_boolean(gen_pick(2));
    case 2:
        return json_object_new_int64((int64_t) gen_next() >>
                                     (int) gen_pick(64));
    case 3:
        return json_object_new_uint64(gen_next() | (1ULL << 63));
    case 4:
        return json_object_new_double(
            ldexp((double) (int64_t) gen_next(), (int) gen_pick(200) - 150));
    case 5:
    case 6:
        gen_string(s, sizeof(s) - 1);
        return json_object_new_string(s);
    case 7:
        o = json_object_new_array();
        for (size_t i = gen_pick(4); i > 0; i--) {
            json_object_array_add(o, gen_value(depth + 1));
        }
        return o;
    default:
        o = json_object_new_object();
        for (size_t i = gen_pick(4); i > 0; i--) {
            gen_string(s, 16);
            json_object_object_add(o, s, gen_value(depth + 1));
        }
        return o;
    }
}

/* An event with members only before "auditship", only after, or both. */
static struct json_object *
gen_event(void)
{
    struct json_object *o = json_object_new_object();
    size_t mode = gen_pick(4), n = gen_pick(7);

    for (size_t i = 0; i < n; i++) {
        bool before = mode == 0 || (mode >= 2 && gen_pick(2));
        const char *k =
            before ? gen_before[gen_pick(sizeof(gen_before) / sizeof(char *))]
                   : gen_after[gen_pick(sizeof(gen_after) / sizeof(char *))];

        json_object_object_add(o, k, gen_value(0));
    }
    if (gen_pick(8) == 0) {
        json_object_object_add(o, "auditship", gen_value(1));
    }
    return o;
}

static struct json_object *
ref_str(const char *s)
{
    return json_object_new_string(s);
}

/* The `auditship` member as the chain stage built it with json-c. */
static struct json_object *
ref_member(const struct as_record *r, const char *host, const char *prev,
           const char *sig)
{
    struct json_object *as = json_object_new_object(), *p;
    char ts[32];

    if (r->hash[0] != '\0') {
        json_object_object_add(as, "chain", ref_str(r->chain));
        json_object_object_add(as, "epoch", ref_str(r->epoch));
        json_object_object_add(as, "seq", json_object_new_uint64(r->seq));
        json_object_object_add(as, "prev", ref_str(prev));
        json_object_object_add(as, "hash", ref_str(r->hash));
    }
    json_object_object_add(as, "host", ref_str(host));
    json_object_object_add(as, "input", ref_str(r->input));
    if (r->source != NULL) {
        json_object_object_add(as, "source", ref_str(r->source));
    }
    as_format_time(r->received_ns, ts);
    json_object_object_add(as, "received_at", ref_str(ts));
    json_object_object_add(as, "redacted",
                           json_object_new_int64((int64_t) r->redacted));
    if (r->peer.valid) {
        p = json_object_new_object();
        json_object_object_add(p, "pid", json_object_new_int64(r->peer.pid));
        json_object_object_add(p, "uid", json_object_new_int64(r->peer.uid));
        json_object_object_add(p, "gid", json_object_new_int64(r->peer.gid));
        json_object_object_add(
            p, "comm",
            json_object_new_string_len(
                r->peer.comm,
                (int) strnlen(r->peer.comm, sizeof(r->peer.comm))));
        if (r->peer.exe != NULL) {
            json_object_object_add(p, "exe", ref_str(r->peer.exe));
        }
        if (r->peer.unit != NULL) {
            json_object_object_add(p, "unit", ref_str(r->peer.unit));
        }
        json_object_object_add(as, "peer", p);
    }
    if (sig != NULL) {
        json_object_object_add(as, "signature", ref_str(sig));
    }
    return as;
}

/* Last hash per chain id, to check prev. */
struct gen_head {
    char chain[256];
    char hash[65];
};

static struct gen_head gen_heads[16];

static char *
gen_prev(const char *chain)
{
    size_t i;

    for (i = 0; i < 16 && gen_heads[i].chain[0] != '\0'; i++) {
        if (strcmp(gen_heads[i].chain, chain) == 0) {
            return gen_heads[i].hash;
        }
    }
    assert_true(i < 16);
    snprintf(gen_heads[i].chain, sizeof(gen_heads[i].chain), "%s", chain);
    memcpy(gen_heads[i].hash, ZEROS, 65);
    return gen_heads[i].hash;
}

/*
 * Checks a sealed record: check_sealed, then the line against the full
 * record built the old way (r->obj plus a json-c `auditship` member), the
 * chain link, and the signature's presence.
 */
static void
gen_check(struct as_record *r, const char *host, bool checkpoint)
{
    struct json_object *full = NULL, *sig = NULL, *as;
    struct as_buf b = AS_BUF_INIT;
    char *prev = NULL;

    check_sealed(r);
    assert_true(json_object_object_get_ex(parse_line(r), "auditship", &as));
    json_object_object_get_ex(as, "signature", &sig);
    if (checkpoint) {
        assert_non_null(sig);
        assert_int_equal(json_object_get_string_len(sig), 88);
    } else {
        assert_null(sig);
    }
    if (r->hash[0] != '\0') {
        prev = gen_prev(r->chain);
    }
    assert_int_equal(json_object_deep_copy(r->obj, &full, NULL), 0);
    json_object_object_add(
        full, "auditship",
        ref_member(r, host, prev,
                   sig != NULL ? json_object_get_string(sig) : NULL));
    assert_int_equal(as_jcs_write(&b, full), 0);
    assert_int_equal(b.len, r->line.len);
    assert_memory_equal(b.data, r->line.data, b.len);
    if (prev != NULL) {
        memcpy(prev, r->hash, 65);
    }
    json_object_put(full);
    as_buf_free(&b);
}

static void
test_generated(void **state)
{
    static const char *const inputs[] = {"app", "in\"put",
                                         "\xc3\xafnput\xf0\x9f\x98\x80"};
    static const char *const sources[] = {
        NULL, "/var/log/app/audit.ndjson",
        "/tmp/we\"ird\\path\n\xf0\x9f\x98\x80"};
    static const char *const hosts[] = {"host1", "h\xc3\xb4st\"1", "host1"};
    struct as_conf_chain conf = {0};
    struct as_chainset *sets[3];
    struct as_error err;
    char key[128];
    int checkpoints = 0;

    (void) state;
    snprintf(key, sizeof(key), "%s/k.key", keydir);
    for (int i = 0; i < 3; i++) {
        conf.enabled = i != 2;
        conf.signing_key = i == 0 ? key : (char *) "";
        assert_int_equal(as_chainset_new(&conf, hosts[i], &sets[i], &err), 0);
    }
    memset(gen_heads, 0, sizeof(gen_heads));
    for (int n = 0; n < 3000; n++) {
        size_t si = gen_pick(3);
        const char *input = inputs[gen_pick(3)];
        struct as_record *r;

        if (si == 0 && gen_pick(16) == 0) {
            assert_int_equal(as_chain_checkpoint(sets[0], input, &r), 0);
            gen_check(r, hosts[0], true);
            as_record_free(r);
            put_parsed(NULL);
            checkpoints++;
            continue;
        }
        r = as_record_new(input, NULL);
        if (sources[n % 3] != NULL) {
            r->source = strdup(sources[n % 3]);
        }
        r->received_ns = (int64_t) gen_pick(4000000000000000000ULL);
        r->redacted = (unsigned) (gen_pick(4) == 0 ? gen_next() : 0);
        if (gen_pick(2)) {
            r->peer.valid = true;
            r->peer.pid = (int64_t) gen_next() >> (int) gen_pick(64);
            r->peer.uid = gen_pick(2) ? 1000 : -1;
            r->peer.gid = (int64_t) gen_next();
            if (gen_pick(8) == 0) {
                memset(r->peer.comm, 'x', sizeof(r->peer.comm)); /* no NUL */
            } else {
                gen_string(r->peer.comm, sizeof(r->peer.comm) - 1);
            }
            if (gen_pick(2)) {
                r->peer.exe = strdup("/usr/bin/n\"ode\xc3\xa9");
            }
            if (gen_pick(2)) {
                r->peer.unit = strdup("app\\x2d1.service");
            }
        }
        r->obj = gen_event();
        assert_int_equal(as_chain_seal(sets[si], r, gen_pick(5) != 0), 0);
        gen_check(r, hosts[si], false);
        as_record_free(r);
        put_parsed(NULL);
    }
    assert_true(checkpoints > 10);
    for (int i = 0; i < 3; i++) {
        as_chainset_free(sets[i]);
    }
}

/* The edge places of the member: empty event, first, last, only one. */
static void
test_member_place(void **state)
{
    static const struct {
        const char *event, *line_start, *line_end;
    } cases[] = {
        {"{}", "{\"auditship\":{", "}}"},
        {"{\"a\":1}", "{\"a\":1,\"auditship\":{", "}}"},
        {"{\"b\":1}", "{\"auditship\":{", "},\"b\":1}"},
        {"{\"auditsh\":1,\"a\\u00fcdit\":2}", "{\"auditsh\":1,\"auditship\":{",
         "},\"a\xc3\xbc"
         "dit\":2}"},
        {"{\"auditshipz\":1,\"\\ud83d\\ude00\":2,\"\\ue000\":3}",
         "{\"auditship\":{",
         "},\"auditshipz\":1,\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":3}"},
        {"{\"auditship\":1}", "{\"auditship\":{",
         "},\"metadata\":{\"client_auditship\":1}}"},
    };
    struct as_chainset *cs = mkset(true, NULL);
    struct as_buf b = AS_BUF_INIT;
    struct json_object *o;
    enum as_jcs_gap_sep sep;
    size_t gap;

    (void) state;
    /* The gap itself: a member already there, or no object, is refused. */
    assert_int_equal(as_buf_put(&b, "x", 1), 0);
    o = json_tokener_parse("{\"a\":1,\"auditship\":2}");
    assert_int_equal(as_jcs_write_gap(&b, o, "auditship", &gap, &sep),
                     AS_ERR_INVALID);
    assert_string_equal(b.data, "x");
    json_object_put(o);
    o = json_tokener_parse("[1]");
    assert_int_equal(as_jcs_write_gap(&b, o, "auditship", &gap, &sep),
                     AS_ERR_INVALID);
    json_object_put(o);
    o = json_tokener_parse("{\"b\":{\"a\":1},\"d\":2}");
    assert_int_equal(as_jcs_write_gap(&b, o, "c", &gap, &sep), 0);
    assert_string_equal(b.data, "x{\"b\":{\"a\":1},\"d\":2}");
    assert_int_equal(gap, strlen("x{\"b\":{\"a\":1}"));
    assert_int_equal(sep, AS_JCS_GAP_BEFORE);
    json_object_put(o);
    as_buf_free(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct as_record *r = mkrec("app", cases[i].event);
        size_t el = strlen(cases[i].line_end);

        assert_int_equal(as_chain_seal(cs, r, i % 2 == 0), 0);
        check_sealed(r);
        assert_int_equal(strncmp(r->line.data, cases[i].line_start,
                                 strlen(cases[i].line_start)),
                         0);
        assert_true(r->line.len > el);
        assert_string_equal(r->line.data + r->line.len - el, cases[i].line_end);
        as_record_free(r);
    }
    as_chainset_free(cs);
}

static void
test_speed(void **state)
{
    struct as_chainset *cs = mkset(true, NULL);
    struct as_record *r = mkrec("app", event);
    struct json_object *orig = r->obj;
    struct timespec t0, t1;
    int n = 20000;
    double ns;

    (void) state;
    r->obj = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        json_object_put(r->obj);
        r->obj = NULL;
        assert_int_equal(json_object_deep_copy(orig, &r->obj, NULL), 0);
        assert_int_equal(as_chain_seal(cs, r, true), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double) (t1.tv_sec - t0.tv_sec) * 1e9 +
          (double) (t1.tv_nsec - t0.tv_nsec)) /
         n;
    /* Informational only: timing is never asserted. */
    printf("# as_chain_seal (incl. deep copy of the event): %.0f ns per "
           "%zu-byte event\n",
           ns, strlen(event));
    assert_int_equal(r->seq, (uint64_t) n);
    check_sealed(r);
    json_object_put(orig);
    as_record_free(r);
    as_chainset_free(cs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_link, put_parsed),
        cmocka_unit_test_teardown(test_client_auditship, put_parsed),
        cmocka_unit_test_teardown(test_unlinked, put_parsed),
        cmocka_unit_test_teardown(test_failure_and_restore, put_parsed),
        cmocka_unit_test_teardown(test_checkpoint, put_parsed),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test_teardown(test_member_place, put_parsed),
        cmocka_unit_test_teardown(test_generated, put_parsed),
        cmocka_unit_test(test_speed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
