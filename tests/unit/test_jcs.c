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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
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
        cmocka_unit_test(test_speed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
