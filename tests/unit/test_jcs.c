/*
 * JCS: the RFC 8785 vectors (input -> output byte for byte), every line of
 * es6-numbers.csv through as_jcs_number, the 64-bit integer departure,
 * UTF-16 member order, string escapes, errors, and a speed figure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "core/utf8.h"
#include "parsers/json.h"
#include "testutil.h"

static void
test_rfc8785_vectors(void **state)
{
    const char *shared = getenv("AS_SHARED");
    char dir[1024], path[2048];
    DIR *d;
    struct dirent *de;
    int count = 0;

    (void) state;
    assert_non_null(shared);
    snprintf(dir, sizeof(dir), "%s/testdata/jcs/input", shared);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        struct json_object *o;
        struct as_error err;
        struct as_buf b = AS_BUF_INIT;
        char *in, *want;
        size_t inlen, wantlen;

        if (strstr(de->d_name, ".json") == NULL) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        in = as_test_read_file(path, &inlen);
        snprintf(path, sizeof(path), "%s/testdata/jcs/output/%s", shared,
                 de->d_name);
        want = as_test_read_file(path, &wantlen);
        /* The output files end without a newline; tolerate one. */
        while (wantlen > 0 && want[wantlen - 1] == '\n') {
            wantlen--;
        }
        if (as_parse_json(in, inlen, &o, &err) != 0) {
            fail_msg("%s: %s", de->d_name, err.msg);
        }
        assert_int_equal(as_jcs_write(&b, o), 0);
        /*
         * No vector differs through the 64-bit integer departure: their
         * integers all fit in 2^53 or are written with exponents/fractions
         * (values.json has 4.50 and 1E30, both doubles).
         */
        if (b.len != wantlen || memcmp(b.data, want, wantlen) != 0) {
            fail_msg("%s: got %s", de->d_name, b.data);
        }
        as_buf_free(&b);
        json_object_put(o);
        free(in);
        free(want);
        count++;
    }
    closedir(d);
    assert_int_equal(count, 6);
}

static void
test_es6_numbers(void **state)
{
    const char *shared = getenv("AS_SHARED");
    char path[1024], line[256];
    FILE *f;
    int count = 0, bad = 0;

    (void) state;
    assert_non_null(shared);
    snprintf(path, sizeof(path), "%s/testdata/jcs/es6-numbers.csv", shared);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *comma = strchr(line, ',');
        char out[32];
        uint64_t bits;
        double d;
        size_t n;
        int len;

        assert_non_null(comma);
        *comma = '\0';
        n = strcspn(comma + 1, "\r\n");
        comma[1 + n] = '\0';
        bits = strtoull(line, NULL, 16);
        memcpy(&d, &bits, sizeof(d));
        len = as_jcs_number(d, out);
        if (len < 0 || strcmp(out, comma + 1) != 0) {
            if (bad++ < 10) {
                printf("# %s: got %s want %s\n", line, len < 0 ? "error" : out,
                       comma + 1);
            }
        } else {
            assert_int_equal((size_t) len, strlen(out));
        }
        count++;
    }
    fclose(f);
    assert_int_equal(bad, 0);
    assert_int_equal(count, 24020);
}

static const char *
canon(const char *s)
{
    static char out[4096];
    struct json_object *o;
    struct as_error err;
    struct as_buf b = AS_BUF_INIT;

    assert_int_equal(as_parse_json(s, strlen(s), &o, &err), 0);
    assert_int_equal(as_jcs_write(&b, o), 0);
    assert_true(b.len < sizeof(out));
    memcpy(out, b.data, b.len + 1);
    as_buf_free(&b);
    json_object_put(o);
    return out;
}

static void
test_departure_and_order(void **state)
{
    (void) state;
    /* 64-bit integers keep their digits (RFC 8785 would write 2^53+1 as
     * 9007199254740992). */
    assert_string_equal(canon("[9007199254740993,-9007199254740993]"),
                        "[9007199254740993,-9007199254740993]");
    assert_string_equal(canon("[18446744073709551615,-9223372036854775808]"),
                        "[18446744073709551615,-9223372036854775808]");
    /* Doubles are ES6 shaped. */
    assert_string_equal(canon("[1.0,1e21,1e20,0.000001,1e-7,-0.0,1.5e300]"),
                        "[1,1e+21,100000000000000000000,0.000001,1e-7,0,"
                        "1.5e+300]");
    /* U+E000 (ee 80 80) sorts after U+1F600 (f0 9f 98 80) in UTF-16. */
    assert_string_equal(canon("{\"\xee\x80\x80\":1,\"\xf0\x9f\x98\x80\":2,"
                              "\"b\":3,\"a\":4,\"\":5,\"aa\":6}"),
                        "{\"\":5,\"a\":4,\"aa\":6,\"b\":3,"
                        "\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":1}");
    /* Many members take the qsort path. */
    assert_string_equal(
        canon("{\"s\":1,\"r\":1,\"q\":1,\"p\":1,\"o\":1,\"n\":1,\"m\":1,"
              "\"l\":1,\"k\":1,\"j\":1,\"i\":1,\"h\":1,\"g\":1,\"f\":1,"
              "\"e\":1,\"d\":1,\"c\":1,\"b\":1,\"a\":{\"z\":[],\"y\":{}}}"),
        "{\"a\":{\"y\":{},\"z\":[]},\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
        "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
        "\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"s\":1}");
    assert_string_equal(canon("\"\\b\\t\\n\\f\\r\\\"\\\\\\u0001\\u007f\\/\""),
                        "\"\\b\\t\\n\\f\\r\\\"\\\\\\u0001\x7f/\"");
}

static void
test_errors(void **state)
{
    struct as_buf b = AS_BUF_INIT;
    struct json_object *o;
    char num[32];

    (void) state;
    assert_int_equal(as_jcs_number(NAN, num), AS_ERR_INVALID);
    assert_int_equal(as_jcs_number(INFINITY, num), AS_ERR_INVALID);
    assert_int_equal(as_jcs_number(-INFINITY, num), AS_ERR_INVALID);
    o = json_object_new_array();
    json_object_array_add(o, json_object_new_string("ok"));
    json_object_array_add(o, json_object_new_double(NAN));
    as_buf_puts(&b, "keep");
    assert_int_equal(as_jcs_write(&b, o), AS_ERR_INVALID);
    assert_string_equal(b.data, "keep"); /* restored on failure */
    json_object_put(o);
    o = json_object_new_string_len("a\xff", 2);
    assert_int_equal(as_jcs_write(&b, o), AS_ERR_INVALID);
    assert_int_equal(b.len, 4);
    json_object_put(o);
    as_buf_free(&b);
    as_buf_init(&b, 8);
    o = json_object_new_string("0123456789");
    assert_int_equal(as_jcs_write(&b, o), AS_ERR_TOOBIG);
    assert_int_equal(b.len, 0);
    json_object_put(o);
    o = json_object_new_string("012345");
    assert_int_equal(as_jcs_write(&b, o), 0); /* exactly 8 bytes fit */
    assert_string_equal(b.data, "\"012345\"");
    json_object_put(o);
    as_buf_free(&b);
}

/*
 * The plain per-byte form of a JCS string literal (what the word-at-a-time
 * writer must reproduce): returns its length, or -1 for invalid UTF-8.
 */
static long
ref_jcs_string(const unsigned char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, o = 0;

    out[o++] = '"';
    while (i < n) {
        unsigned char c = s[i];
        size_t k;

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;
        } else if (c == '\b' || c == '\t' || c == '\n' || c == '\f' ||
                   c == '\r') {
            out[o++] = '\\';
            out[o++] = "btn?fr"[c - '\b'];
        } else if (c < 0x20) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else if (c < 0x80) {
            out[o++] = (char) c;
        } else {
            if ((k = as_utf8_seq(s + i, n - i)) == 0) {
                return -1;
            }
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        i++;
    }
    out[o++] = '"';
    return (long) o;
}

/*
 * as_jcs_string of s[0..n) (copied to a heap block of exactly n bytes, so
 * that ASan sees any read past it) after `pre` bytes already in the
 * buffer, against ref_jcs_string; with bounded, also with max at the exact
 * size (fits) and one below (AS_ERR_TOOBIG, buffer unchanged).
 */
static void
check_string(const unsigned char *s, size_t n, size_t pre, bool bounded)
{
    static char want[6 * 64 + 2];
    unsigned char *copy = malloc(n > 0 ? n : 1);
    struct as_buf b = AS_BUF_INIT;
    long wl;
    int r;

    assert_true(n <= 64);
    assert_non_null(copy);
    if (n > 0) {
        memcpy(copy, s, n);
    }
    wl = ref_jcs_string(s, n, want);
    assert_int_equal(as_buf_put(&b, "01234567", pre), 0);
    r = as_jcs_string(&b, (const char *) copy, n);
    if (wl < 0) {
        assert_int_equal(r, AS_ERR_INVALID);
        assert_int_equal(b.len, pre);
        assert_int_equal(b.data[pre], '\0');
    } else {
        if (r != 0 || b.len != pre + (size_t) wl ||
            memcmp(b.data + pre, want, (size_t) wl) != 0) {
            fail_msg("n %zu pre %zu: got %d \"%s\" want %.*s", n, pre, r,
                     b.data + pre, (int) wl, want);
        }
        assert_int_equal(b.data[b.len], '\0');
    }
    as_buf_free(&b);
    if (bounded && wl >= 0) {
        for (size_t max = pre + (size_t) wl - 1; max <= pre + (size_t) wl;
             max++) {
            as_buf_init(&b, max);
            assert_int_equal(as_buf_put(&b, "01234567", pre), 0);
            r = as_jcs_string(&b, (const char *) copy, n);
            assert_int_equal(r, max == pre + (size_t) wl ? 0 : AS_ERR_TOOBIG);
            assert_int_equal(b.len, r == 0 ? max : pre);
            if (r == 0) {
                assert_memory_equal(b.data + pre, want, (size_t) wl);
            }
            as_buf_free(&b);
        }
    }
    free(copy);
}

/* Bytes that need attention, and valid and invalid UTF-8 sequences. */
static const char *const string_tokens[] = {
    "\x00",
    "\x01",
    "\x08",
    "\x1f",
    "\"",
    "\\",
    " ",
    "\x7f",
    "/",
    "!",
    "#",
    "[",
    "]",
    "]",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xef\xbf\xbf",
    "\xf0\x9f\x98\x80",
    "\xf4\x8f\xbf\xbf",
    "\xff",
    "\x80",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xe2\x82",
    "\xc3",
};
static const size_t string_token_len[] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 2, 3, 3, 4, 4, 1, 1, 2, 3, 4, 2, 1,
};

/*
 * The word-at-a-time string writer: every token at every position of
 * strings of 0..40 bytes (so at every lane of a full word and of the short
 * tail, and across word ends), after 0..7 bytes already in the buffer;
 * strings made of one special byte only; then random mixes, also under a
 * max that fits exactly or is one byte short.
 */
static void
test_string_lanes(void **state)
{
    unsigned char s[64];
    unsigned seed = 12345;

    (void) state;
    assert_int_equal(AS_ARRAY_SIZE(string_tokens),
                     AS_ARRAY_SIZE(string_token_len));
    for (size_t n = 0; n <= 40; n++) {
        for (size_t pos = 0; pos < n || (n == 0 && pos == 0); pos++) {
            for (size_t t = 0; t < AS_ARRAY_SIZE(string_tokens); t++) {
                size_t tl = string_token_len[t];

                memset(s, 'a', n);
                if (n > 0) {
                    /* A token cut at the end is a truncated sequence. */
                    memcpy(s + pos, string_tokens[t],
                           pos + tl <= n ? tl : n - pos);
                }
                check_string(s, n, (n + pos + t) % 8, false);
            }
        }
    }
    for (size_t t = 0; t < AS_ARRAY_SIZE(string_tokens); t++) {
        for (size_t n = 0; n <= 24; n++) {
            for (size_t i = 0; i < n; i++) {
                s[i] =
                    (unsigned char) string_tokens[t][i % string_token_len[t]];
            }
            check_string(s, n, n % 8, true);
        }
    }
    for (int round = 0; round < 20000; round++) {
        size_t n = 0, want;

        seed = seed * 1103515245 + 12345;
        want = (seed >> 16) % 41;
        while (n < want) {
            size_t t, tl;

            seed = seed * 1103515245 + 12345;
            /* Mostly plain bytes, as real strings are. */
            if ((seed >> 16) % 4 != 0) {
                s[n++] = (unsigned char) ('a' + (seed >> 20) % 26);
                continue;
            }
            t = (seed >> 18) % AS_ARRAY_SIZE(string_tokens);
            tl = string_token_len[t];
            if (n + tl > want) {
                break;
            }
            memcpy(s + n, string_tokens[t], tl);
            n += tl;
        }
        check_string(s, n, (size_t) round % 8, round % 4 == 0);
    }
}

/* Appends the UTF-16 code units of the UTF-8 key k to u; returns count. */
static size_t
utf16_units(const char *k, uint16_t *u)
{
    const unsigned char *p = (const unsigned char *) k;
    size_t n = 0;

    while (*p != '\0') {
        uint32_t cp;

        if (*p < 0x80) {
            cp = *p++;
        } else if (*p < 0xe0) {
            cp = (uint32_t) (p[0] & 0x1f) << 6 | (p[1] & 0x3f);
            p += 2;
        } else if (*p < 0xf0) {
            cp = (uint32_t) (p[0] & 0x0f) << 12 |
                 (uint32_t) (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            p += 3;
        } else {
            cp = (uint32_t) (p[0] & 0x07) << 18 |
                 (uint32_t) (p[1] & 0x3f) << 12 |
                 (uint32_t) (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
            p += 4;
        }
        if (cp >= 0x10000) {
            u[n++] = (uint16_t) (0xd800 + ((cp - 0x10000) >> 10));
            u[n++] = (uint16_t) (0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            u[n++] = (uint16_t) cp;
        }
    }
    return n;
}

/* RFC 8785 order, computed the way the RFC states it: UTF-16 code units. */
static int
utf16_cmp(const void *pa, const void *pb)
{
    const char *a = *(const char *const *) pa, *b = *(const char *const *) pb;
    uint16_t ua[64], ub[64];
    size_t na = utf16_units(a, ua), nb = utf16_units(b, ub);

    for (size_t i = 0; i < na && i < nb; i++) {
        if (ua[i] != ub[i]) {
            return ua[i] < ub[i] ? -1 : 1;
        }
    }
    return na < nb ? -1 : na > nb;
}

/*
 * Member order against utf16_cmp, for random keys around the 8-byte
 * prefix the sort compares first: keys of 0..14 bytes sharing long
 * prefixes, with BMP-private (U+E000, U+FFFF), supplementary and 2-byte
 * characters before, across and after byte 8; both the insertion sort
 * (<= 16 members) and qsort.  as_jcs_write_gap must place an absent key
 * exactly where as_jcs_write puts it once added.
 */
static void
test_member_order(void **state)
{
    static const char *const parts[] = {
        "a",
        "b",
        "a",
        "z",
        "_",
        "\xee\x80\x80",
        "\xef\xbf\xbf",
        "\xf0\x9f\x98\x80",
        "\xc3\xa9",
        "\xed\x9f\xbf",
        "~",
    };
    unsigned seed = 777;

    (void) state;
    for (int round = 0; round < 3000; round++) {
        char keys[40][32], want[4096], *sorted[40];
        struct json_object *o = json_object_new_object(), *v;
        struct as_buf b = AS_BUF_INIT, full = AS_BUF_INIT;
        enum as_jcs_gap_sep sep;
        size_t nkeys, w = 0, gap_off;
        int gap_key;

        seed = seed * 1103515245 + 12345;
        nkeys = 1 + (seed >> 16) % 24;
        for (size_t i = 0; i < nkeys; i++) {
            size_t len = 0, target;

            seed = seed * 1103515245 + 12345;
            target = (seed >> 16) % 15;
            /* A common stem makes prefixes tie often. */
            if ((seed >> 8) % 2 == 0 && target >= 6) {
                memcpy(keys[i], "target", 6);
                len = 6;
            }
            while (len < target) {
                const char *p;

                seed = seed * 1103515245 + 12345;
                p = parts[(seed >> 16) % AS_ARRAY_SIZE(parts)];
                if (len + strlen(p) > 28) {
                    break;
                }
                memcpy(keys[i] + len, p, strlen(p));
                len += strlen(p);
            }
            keys[i][len] = '\0';
            if (json_object_object_get_ex(o, keys[i], NULL)) {
                keys[i][0] = '\0';
                nkeys = i; /* a repeat ends this round's key set */
                break;
            }
            json_object_object_add(o, keys[i], json_object_new_int((int) i));
        }
        /* The last key made is left out, for the gap. */
        gap_key = nkeys > 1 ? (int) nkeys - 1 : -1;
        if (gap_key >= 0) {
            json_object_object_del(o, keys[gap_key]);
        }
        for (size_t i = 0; i < nkeys; i++) {
            sorted[i] = keys[i];
        }
        qsort(sorted, gap_key >= 0 ? nkeys - 1 : nkeys, sizeof(*sorted),
              utf16_cmp);
        want[w++] = '{';
        for (size_t i = 0; i < (gap_key >= 0 ? nkeys - 1 : nkeys); i++) {
            json_object_object_get_ex(o, sorted[i], &v);
            w += (size_t) snprintf(want + w, sizeof(want) - w, "%s\"%s\":%d",
                                   i > 0 ? "," : "", sorted[i],
                                   json_object_get_int(v));
        }
        want[w++] = '}';
        want[w] = '\0';
        assert_int_equal(as_jcs_write(&b, o), 0);
        assert_string_equal(b.data, want);
        /* Bounded: fits exactly, or fails whole one byte short. */
        for (size_t max = w - 1; max <= w; max++) {
            struct as_buf cap;

            as_buf_init(&cap, max);
            assert_int_equal(as_jcs_write(&cap, o),
                             max == w ? 0 : AS_ERR_TOOBIG);
            assert_int_equal(cap.len, max == w ? w : 0);
            if (max == w) {
                assert_string_equal(cap.data, want);
            }
            as_buf_free(&cap);
        }
        if (gap_key >= 0) {
            char member[64];
            const char *ins;

            as_buf_reset(&b);
            assert_int_equal(
                as_jcs_write_gap(&b, o, keys[gap_key], &gap_off, &sep), 0);
            assert_string_equal(b.data, want);
            json_object_object_add(o, keys[gap_key], json_object_new_int(99));
            assert_int_equal(as_jcs_write(&full, o), 0);
            snprintf(member, sizeof(member), "%s\"%s\":99%s",
                     sep == AS_JCS_GAP_BEFORE ? "," : "", keys[gap_key],
                     sep == AS_JCS_GAP_AFTER ? "," : "");
            ins = member;
            assert_int_equal(full.len, b.len + strlen(ins));
            assert_memory_equal(full.data, b.data, gap_off);
            assert_memory_equal(full.data + gap_off, ins, strlen(ins));
            assert_memory_equal(full.data + gap_off + strlen(ins),
                                b.data + gap_off, b.len - gap_off);
            /* The member present: refused. */
            assert_int_equal(
                as_jcs_write_gap(&b, o, keys[gap_key], &gap_off, &sep),
                AS_ERR_INVALID);
        }
        as_buf_free(&b);
        as_buf_free(&full);
        json_object_put(o);
    }
}

/* Member names are escaped like values; a name that is not UTF-8 fails. */
static void
test_member_escapes(void **state)
{
    struct json_object *o = json_object_new_object();
    struct as_buf b = AS_BUF_INIT;
    const char *want = "{\"\":1,\"\\u0001\":2,\"\\n\\\"\\\\x\":3,"
                       "\"a-very-long-name\\tover 8 bytes\":4}";

    (void) state;
    json_object_object_add(o, "a-very-long-name\tover 8 bytes",
                           json_object_new_int(4));
    json_object_object_add(o, "\n\"\\x", json_object_new_int(3));
    json_object_object_add(o, "\x01", json_object_new_int(2));
    json_object_object_add(o, "", json_object_new_int(1));
    as_buf_puts(&b, "keep");
    assert_int_equal(as_jcs_write(&b, o), 0);
    assert_string_equal(b.data + 4, want);
    for (size_t max = 4 + strlen(want) - 1; max <= 4 + strlen(want); max++) {
        struct as_buf cap;

        as_buf_init(&cap, max);
        as_buf_puts(&cap, "keep");
        assert_int_equal(as_jcs_write(&cap, o),
                         max == 4 + strlen(want) ? 0 : AS_ERR_TOOBIG);
        assert_string_equal(cap.data,
                            max == 4 + strlen(want) ? b.data : "keep");
        as_buf_free(&cap);
    }
    json_object_object_add(o, "zz\xc3", json_object_new_int(5));
    as_buf_reset(&b);
    as_buf_puts(&b, "keep");
    assert_int_equal(as_jcs_write(&b, o), AS_ERR_INVALID);
    assert_string_equal(b.data, "keep");
    as_buf_free(&b);
    json_object_put(o);
}

/* A representative 464-byte event (as gen-audit-events.py makes them). */
static const char bench_event[] =
    "{\"id\":\"evt_000000000042\",\"actor_id\":\"user_01234\","
    "\"actor_type\":\"user\",\"action\":\"flag_schedule.created\","
    "\"target_type\":\"feature_flag\",\"target_id\":\"feature-17\","
    "\"metadata\":{\"request_id\":\"req_1f2e3d4c5b6a7988\","
    "\"correlation_id\":\"c0a1b2c3d4e5f\",\"scheduleId\":\"sch_4242\","
    "\"flagKey\":\"feature-17\",\"scheduledAt\":\"2026-01-28T12:00:00.000Z\","
    "\"updates\":{\"enabled\":true,\"rolloutPercentage\":42},"
    "\"adminUserId\":\"user_01234\"},\"ip_address\":\"203.0.113.7\","
    "\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
    "Gecko/20100101 "
    "Firefox/128.0\",\"created_at\":\"2026-01-28T09:00:00.123Z\"}";

static void
test_speed(void **state)
{
    struct json_object *o;
    struct as_error err;
    struct as_buf b = AS_BUF_INIT;
    struct timespec t0, t1;
    int n = 20000;
    double ns;

    (void) state;
    assert_int_equal(as_parse_json(bench_event, strlen(bench_event), &o, &err),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        as_buf_reset(&b);
        assert_int_equal(as_jcs_write(&b, o), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double) (t1.tv_sec - t0.tv_sec) * 1e9 +
          (double) (t1.tv_nsec - t0.tv_nsec)) /
         n;
    /* Informational only: timing is never asserted. */
    printf("# as_jcs_write: %.0f ns per %zu-byte event\n", ns,
           strlen(bench_event));
    /* Same members, sorted, no whitespace: same length as the input. */
    assert_int_equal(b.len, strlen(bench_event));
    assert_memory_equal(b.data,
                        "{\"action\":\"flag_schedule.created\","
                        "\"actor_id\"",
                        44);
    as_buf_free(&b);
    json_object_put(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8785_vectors),
        cmocka_unit_test(test_es6_numbers),
        cmocka_unit_test(test_departure_and_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_string_lanes),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_member_escapes),
        cmocka_unit_test(test_speed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
