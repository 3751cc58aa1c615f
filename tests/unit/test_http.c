/*
 * The pure parts of the http output: the Idempotency-Key of a batch (a
 * pinned derivation, stable across retries, distinct for other batches and
 * for each half of a split), Retry-After parsing (seconds and the three
 * HTTP-date forms), status classification with response_actions, the gzip
 * framing (RFC 1952 header and trailer, round trip through zlib, compressor
 * reuse), the json_array encoding and the response-body excerpt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/error.h"
#include "outputs/batch.h"
#include "outputs/http.h"

/* ---- a batch built by hand ---- */

struct tb {
    struct as_buf data;
    struct as_batch_rec recs[64];
    struct as_batch b;
};

static void
tb_add(struct tb *t, const char *line, const char *chain, const char *epoch,
       uint64_t seq)
{
    struct as_batch_rec *r = &t->recs[t->b.n];

    assert_true(t->b.n < 64);
    r->off = t->data.len;
    r->len = strlen(line);
    r->input = "app";
    r->chain = chain;
    r->epoch = epoch;
    r->seq = seq;
    as_buf_puts(&t->data, line);
    as_buf_putc(&t->data, '\n');
    t->b.data = t->data.data;
    t->b.len = t->data.len;
    t->b.recs = t->recs;
    t->b.n++;
}

static void
tb_init(struct tb *t)
{
    memset(t, 0, sizeof(*t));
}

static void
tb_free(struct tb *t)
{
    as_buf_free(&t->data);
}

/* A view of records [lo, hi) of t, rebased as the core does for a split. */
static void
tb_range(const struct tb *t, size_t lo, size_t hi, struct tb *out)
{
    tb_init(out);
    for (size_t i = lo; i < hi; i++) {
        char line[256];

        assert_true(t->recs[i].len < sizeof(line));
        memcpy(line, t->b.data + t->recs[i].off, t->recs[i].len);
        line[t->recs[i].len] = '\0';
        tb_add(out, line, t->recs[i].chain, t->recs[i].epoch, t->recs[i].seq);
    }
}

static void
key_of(const struct tb *t, char key[AS_IDEM_KEY_LEN + 1])
{
    as_batch_idem_key(&t->b, key);
}

#define EP1 "0123456789abcdef0123456789abcdef"
#define EP2 "fedcba9876543210fedcba9876543210"

static void
test_idem_key_pinned(void **state)
{
    /* The documented derivation, recomputed independently. */
    static const char input[] = "auditship-idem-v1\n"
                                "ch/app\0" EP1 "\0"
                                "5 7 3\n"
                                "u0\n";
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char want[AS_IDEM_KEY_LEN + 1], got[AS_IDEM_KEY_LEN + 1];
    struct tb t;

    (void) state;
    assert_int_equal(
        EVP_Digest(input, sizeof(input) - 1, dig, &dlen, EVP_sha256(), NULL),
        1);
    for (size_t i = 0; i < AS_IDEM_KEY_LEN / 2; i++) {
        snprintf(want + 2 * i, 3, "%02x", dig[i]);
    }
    tb_init(&t);
    tb_add(&t, "{\"a\":1}", "h/app", EP1, 5);
    tb_add(&t, "{\"a\":2}", "h/app", EP1, 6);
    tb_add(&t, "{\"a\":3}", "h/app", EP1, 7);
    key_of(&t, got);
    assert_string_equal(got, want);
    assert_int_equal(strlen(got), 32);
    assert_int_equal(strspn(got, "0123456789abcdef"), 32);
    tb_free(&t);
}

static void
test_idem_key_properties(void **state)
{
    char k1[AS_IDEM_KEY_LEN + 1], k2[AS_IDEM_KEY_LEN + 1];
    char h1[AS_IDEM_KEY_LEN + 1], h2[AS_IDEM_KEY_LEN + 1];
    struct tb t, u, a, b;

    (void) state;
    tb_init(&t);
    for (uint64_t s = 10; s < 20; s++) {
        char line[64];

        snprintf(line, sizeof(line), "{\"n\":%llu}", (unsigned long long) s);
        tb_add(&t, line, "h/app", EP1, s);
    }
    /* Every retry of a batch carries the same key. */
    key_of(&t, k1);
    key_of(&t, k2);
    assert_string_equal(k1, k2);
    /* Each half of a split has its own, distinct from the whole. */
    tb_range(&t, 0, 5, &a);
    tb_range(&t, 5, 10, &b);
    key_of(&a, h1);
    key_of(&b, h2);
    assert_string_not_equal(h1, h2);
    assert_string_not_equal(h1, k1);
    assert_string_not_equal(h2, k1);
    /* A rebased range equals the same records read as a batch. */
    tb_range(&t, 0, 10, &u);
    key_of(&u, k2);
    assert_string_equal(k1, k2);
    tb_free(&u);
    /* Another last seq, epoch or chain: another key. */
    tb_range(&t, 0, 9, &u);
    key_of(&u, k2);
    assert_string_not_equal(k1, k2);
    tb_free(&u);
    tb_init(&u);
    for (size_t i = 0; i < t.b.n; i++) {
        tb_add(&u, "{}", "h/app", EP2, t.recs[i].seq);
    }
    key_of(&u, k2);
    assert_string_not_equal(k1, k2);
    tb_free(&u);
    tb_init(&u);
    for (size_t i = 0; i < t.b.n; i++) {
        tb_add(&u, "{}", "h/other", EP1, t.recs[i].seq);
    }
    key_of(&u, k2);
    assert_string_not_equal(k1, k2);
    tb_free(&u);
    /* Derived from chain positions, not bytes, for chained records. */
    tb_init(&u);
    for (size_t i = 0; i < t.b.n; i++) {
        tb_add(&u, "{\"other\":true}", "h/app", EP1, t.recs[i].seq);
    }
    key_of(&u, k2);
    assert_string_equal(k1, k2);
    tb_free(&u);
    tb_free(&a);
    tb_free(&b);
    tb_free(&t);
}

static void
test_idem_key_chains_and_unchained(void **state)
{
    char k1[AS_IDEM_KEY_LEN + 1], k2[AS_IDEM_KEY_LEN + 1];
    struct tb t, u;

    (void) state;
    /* Two chains interleaved: each one's first/last seq count. */
    tb_init(&t);
    tb_add(&t, "{}", "h/a", EP1, 1);
    tb_add(&t, "{}", "h/b", EP2, 7);
    tb_add(&t, "{}", "h/a", EP1, 2);
    tb_add(&t, "{}", "h/b", EP2, 8);
    key_of(&t, k1);
    tb_init(&u);
    tb_add(&u, "{}", "h/a", EP1, 1);
    tb_add(&u, "{}", "h/b", EP2, 7);
    tb_add(&u, "{}", "h/a", EP1, 2);
    tb_add(&u, "{}", "h/b", EP2, 9);
    key_of(&u, k2);
    assert_string_not_equal(k1, k2);
    tb_free(&u);
    tb_free(&t);
    /* chain.enabled: false: records have no chain; their bytes count, so
     * two batches never share a key by accident. */
    tb_init(&t);
    tb_add(&t, "{\"x\":1}", "", "", 0);
    tb_add(&t, "{\"x\":2}", "", "", 0);
    key_of(&t, k1);
    tb_init(&u);
    tb_add(&u, "{\"x\":1}", "", "", 0);
    tb_add(&u, "{\"x\":3}", "", "", 0);
    key_of(&u, k2);
    assert_string_not_equal(k1, k2);
    tb_free(&u);
    tb_init(&u);
    tb_add(&u, "{\"x\":1}", "", "", 0);
    tb_add(&u, "{\"x\":2}", "", "", 0);
    key_of(&u, k2);
    assert_string_equal(k1, k2);
    tb_free(&u);
    tb_free(&t);
}

/* ---- Retry-After ---- */

static void
test_retry_after(void **state)
{
    /* Wed, 21 Oct 2015 07:28:00 GMT */
    const time_t when = 1445412480;
    uint64_t ms = 12345;

    (void) state;
    assert_int_equal(as_http_retry_after("120", when, &ms), 0);
    assert_true(ms == 120000);
    assert_int_equal(as_http_retry_after(" 5 \r\n", when, &ms), 0);
    assert_true(ms == 5000);
    assert_int_equal(as_http_retry_after("0", when, &ms), 0);
    assert_true(ms == 0);
    assert_int_equal(as_http_retry_after("99999999999999999999999", when, &ms),
                     0);
    assert_true(ms == AS_RETRY_AFTER_MAX_MS);
    /* The three HTTP-date forms, 30 s ahead. */
    assert_int_equal(
        as_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when - 30, &ms),
        0);
    assert_true(ms == 30000);
    assert_int_equal(as_http_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT",
                                         when - 30, &ms),
                     0);
    assert_true(ms == 30000);
    assert_int_equal(
        as_http_retry_after("Wed Oct 21 07:28:00 2015", when - 30, &ms), 0);
    assert_true(ms == 30000);
    /* In the past: no wait; far ahead: the cap. */
    assert_int_equal(
        as_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when + 5, &ms), 0);
    assert_true(ms == 0);
    assert_int_equal(
        as_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when - 86400, &ms),
        0);
    assert_true(ms == AS_RETRY_AFTER_MAX_MS);
    /* Neither. */
    ms = 7;
    assert_int_equal(as_http_retry_after("", when, &ms), -1);
    assert_int_equal(as_http_retry_after("soon", when, &ms), -1);
    assert_int_equal(as_http_retry_after("-5", when, &ms), -1);
    assert_int_equal(as_http_retry_after("1.5", when, &ms), -1);
    assert_int_equal(as_http_retry_after("2015-10-21T07:28:00Z", when, &ms),
                     -1);
    assert_true(ms == 7);
}

/* ---- classification ---- */

static void
test_classify_defaults(void **state)
{
    static const long ack[] = {200, 201, 202, 204, 299};
    static const long retry[] = {408, 425, 429, 500, 502, 503, 504,
                                 599, 100, 301, 302, 307, 0,   600};
    static const long reject[] = {400, 401, 403, 404, 405, 409, 410, 422, 499};

    (void) state;
    for (size_t i = 0; i < AS_ARRAY_SIZE(ack); i++) {
        assert_int_equal(as_http_classify(ack[i], NULL), AS_HTTP_ACK);
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(retry); i++) {
        assert_int_equal(as_http_classify(retry[i], NULL), AS_HTTP_RETRY);
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(reject); i++) {
        assert_int_equal(as_http_classify(reject[i], NULL), AS_HTTP_REJECT);
    }
    assert_int_equal(as_http_classify(413, NULL), AS_HTTP_SPLIT);
}

static void
test_classify_actions(void **state)
{
    static const char yaml[] =
        "outputs:\n"
        "  - id: h\n"
        "    type: http\n"
        "    url: http://127.0.0.1:1/x\n"
        "    response_actions: {409: ack, 400: retry, 503: deadletter, "
        "413: reject, 202: retry}\n";
    static char k_bad[] = "4x9", k_low[] = "99", k_ok[] = "409",
                v_ack[] = "ack", v_bad[] = "maybe";
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    const struct as_conf_output_http *h;
    struct as_http_actions a;
    const struct as_kv *bad = NULL;
    struct as_kv kv[1];
    struct as_kvlist list = {kv, 1};

    (void) state;
    assert_int_equal(
        as_config_load_string("t.yaml", yaml, strlen(yaml), &c, &e), 0);
    h = c->outputs[0].conf;
    assert_int_equal(as_http_actions_parse(&h->response_actions, &a, &bad), 0);
    assert_int_equal(as_http_classify(409, &a), AS_HTTP_ACK);
    assert_int_equal(as_http_classify(400, &a), AS_HTTP_RETRY);
    assert_int_equal(as_http_classify(503, &a), AS_HTTP_REJECT);
    assert_int_equal(as_http_classify(413, &a), AS_HTTP_REJECT);
    assert_int_equal(as_http_classify(202, &a), AS_HTTP_RETRY);
    /* Codes not overridden keep their default class. */
    assert_int_equal(as_http_classify(200, &a), AS_HTTP_ACK);
    assert_int_equal(as_http_classify(500, &a), AS_HTTP_RETRY);
    assert_int_equal(as_http_classify(404, &a), AS_HTTP_REJECT);
    as_config_free(c);
    /* An empty map changes nothing. */
    list.n = 0;
    assert_int_equal(as_http_actions_parse(&list, &a, &bad), 0);
    assert_int_equal(as_http_classify(409, &a), AS_HTTP_REJECT);
    assert_int_equal(as_http_classify(413, &a), AS_HTTP_SPLIT);
    /* Bad entries (the loader refuses them first) are named. */
    list.n = 1;
    memset(kv, 0, sizeof(kv));
    kv[0].key = k_low;
    kv[0].val = v_ack;
    assert_int_equal(as_http_actions_parse(&list, &a, &bad), AS_ERR_CONFIG);
    assert_ptr_equal(bad, &kv[0]);
    kv[0].key = k_bad;
    assert_int_equal(as_http_actions_parse(&list, &a, &bad), AS_ERR_CONFIG);
    kv[0].key = k_ok;
    kv[0].val = v_bad;
    assert_int_equal(as_http_actions_parse(&list, &a, &bad), AS_ERR_CONFIG);
}

/* ---- gzip ---- */

static void
gunzip(const struct as_buf *z, struct as_buf *out)
{
    z_stream s;
    int r;

    memset(&s, 0, sizeof(s));
    assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
    as_buf_reset(out);
    s.next_in = (Bytef *) z->data;
    s.avail_in = (uInt) z->len;
    do {
        assert_int_equal(as_buf_reserve(out, 65536), 0);
        s.next_out = (Bytef *) out->data + out->len;
        s.avail_out = 65536;
        r = inflate(&s, Z_NO_FLUSH);
        assert_true(r == Z_OK || r == Z_STREAM_END);
        out->len = (size_t) ((char *) s.next_out - out->data);
    } while (r != Z_STREAM_END);
    /* One member, nothing after it. */
    assert_int_equal(s.avail_in, 0);
    inflateEnd(&s);
}

static void
check_round_trip(struct as_gzip *g, const char *in, size_t len)
{
    struct as_buf z = AS_BUF_INIT, out = AS_BUF_INIT;
    const unsigned char *p;
    uint32_t crc, isize;

    assert_int_equal(as_gzip_compress(g, in, len, &z), 0);
    p = (const unsigned char *) z.data;
    /* RFC 1952: ID1 ID2, CM = deflate ... CRC32 and ISIZE (LE) last. */
    assert_true(z.len >= 18);
    assert_int_equal(p[0], 0x1f);
    assert_int_equal(p[1], 0x8b);
    assert_int_equal(p[2], 8);
    crc = (uint32_t) crc32(0L, (const Bytef *) in, (uInt) len);
    isize = (uint32_t) p[z.len - 4] | (uint32_t) p[z.len - 3] << 8 |
            (uint32_t) p[z.len - 2] << 16 | (uint32_t) p[z.len - 1] << 24;
    assert_true(isize == (uint32_t) len);
    assert_true(((uint32_t) p[z.len - 8] | (uint32_t) p[z.len - 7] << 8 |
                 (uint32_t) p[z.len - 6] << 16 |
                 (uint32_t) p[z.len - 5] << 24) == crc);
    gunzip(&z, &out);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, in, len);
    as_buf_free(&z);
    as_buf_free(&out);
}

static void
test_gzip(void **state)
{
    struct as_gzip g0, g1, g2, g9;
    struct as_buf text = AS_BUF_INIT, noise = AS_BUF_INIT;
    struct as_buf z1 = AS_BUF_INIT, z9 = AS_BUF_INIT;
    uint32_t x = 12345;

    (void) state;
    for (int i = 0; i < 3000; i++) {
        as_buf_printf(&text,
                      "{\"action\":\"user.login\",\"actor_id\":\"user_%d\","
                      "\"seq\":%d}\n",
                      i % 97, i);
    }
    for (int i = 0; i < 200000; i++) {
        x = x * 1103515245u + 12345u;
        as_buf_putc(&noise, (char) (x >> 16));
    }
    assert_int_equal(as_gzip_init(&g0, 0), 0);
    assert_int_equal(as_gzip_init(&g1, 1), 0);
    assert_int_equal(as_gzip_init(&g2, 2), 0);
    assert_int_equal(as_gzip_init(&g9, 9), 0);
    assert_true(as_gzip_ready(&g0) && as_gzip_ready(&g1) &&
                as_gzip_ready(&g2) && as_gzip_ready(&g9));
    /* One compressor, several members in a row; level 1 is igzip, the
     * others libdeflate: incompressible input must fit the bound too. */
    check_round_trip(&g1, text.data, text.len);
    check_round_trip(&g1, noise.data, noise.len);
    check_round_trip(&g1, "", 0);
    check_round_trip(&g1, text.data, text.len);
    check_round_trip(&g0, text.data, text.len);
    check_round_trip(&g2, noise.data, noise.len);
    check_round_trip(&g2, text.data, text.len);
    check_round_trip(&g9, text.data, text.len);
    /* The level matters: 9 is no larger than 1 on text. */
    assert_int_equal(as_gzip_compress(&g1, text.data, text.len, &z1), 0);
    assert_int_equal(as_gzip_compress(&g9, text.data, text.len, &z9), 0);
    assert_true(z9.len <= z1.len);
    assert_true(z1.len < text.len / 4);
    as_gzip_close(&g0);
    as_gzip_close(&g1);
    assert_false(as_gzip_ready(&g1)); /* http.c inits it again */
    as_gzip_close(&g1);               /* idempotent */
    as_gzip_close(&g2);
    as_gzip_close(&g9);
    as_gzip_close(&g9);
    as_buf_free(&z1);
    as_buf_free(&z9);
    as_buf_free(&text);
    as_buf_free(&noise);
}

/* ---- json_array, excerpt ---- */

static void
test_json_array(void **state)
{
    struct as_buf out = AS_BUF_INIT;
    struct tb t, part;

    (void) state;
    tb_init(&t);
    as_batch_json_array(&t.b, &out);
    assert_string_equal(out.data, "[]");
    tb_add(&t, "{\"a\":1}", "c", EP1, 1);
    tb_add(&t, "{\"b\":[1,2]}", "c", EP1, 2);
    tb_add(&t, "{\"c\":\"x,y\"}", "c", EP1, 3);
    as_buf_reset(&out);
    as_batch_json_array(&t.b, &out);
    assert_string_equal(out.data, "[{\"a\":1},{\"b\":[1,2]},{\"c\":\"x,y\"}]");
    tb_range(&t, 1, 3, &part);
    as_buf_reset(&out);
    as_batch_json_array(&part.b, &out);
    assert_string_equal(out.data, "[{\"b\":[1,2]},{\"c\":\"x,y\"}]");
    tb_free(&part);
    tb_free(&t);
    as_buf_free(&out);
}

static void
test_excerpt(void **state)
{
    char out[16];

    (void) state;
    as_http_excerpt("bad\r\nrequest\t\x01\xff", 15, out, sizeof(out));
    assert_string_equal(out, "bad  request ??");
    as_http_excerpt("0123456789abcdefghij", 20, out, sizeof(out));
    assert_string_equal(out, "0123456789abcde");
    as_http_excerpt("trailing \n\n", 11, out, sizeof(out));
    assert_string_equal(out, "trailing");
    as_http_excerpt("", 0, out, sizeof(out));
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idem_key_pinned),
        cmocka_unit_test(test_idem_key_properties),
        cmocka_unit_test(test_idem_key_chains_and_unchained),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_classify_defaults),
        cmocka_unit_test(test_classify_actions),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_json_array),
        cmocka_unit_test(test_excerpt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
