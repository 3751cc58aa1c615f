/*
 * The json decoder against JSONTestSuite (every y_ accepted, every n_
 * rejected with a reason, i_ reported as TAP diagnostics) and the values
 * json-c would alter silently: big integers, NUL in strings, surrogates,
 * nesting depth, BOM, duplicate names, trailing data.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "parsers/json.h"
#include "testutil.h"

/* Parses s and returns its JCS form (static buffer), or NULL + err. */
static const char *
canon(const char *s, size_t len, struct as_error *err)
{
    static char out[4096];
    struct json_object *o;
    struct as_buf b = AS_BUF_INIT;

    if (as_parse_json(s, len, &o, err) != 0) {
        assert_true(strlen(err->msg) > 0);
        return NULL;
    }
    assert_int_equal(as_jcs_write(&b, o), 0);
    assert_true(b.len < sizeof(out));
    memcpy(out, b.data, b.len + 1);
    as_buf_free(&b);
    json_object_put(o);
    return out;
}

static const char *
canons(const char *s)
{
    struct as_error err;

    return canon(s, strlen(s), &err);
}

static void
test_suite(void **state)
{
    const char *shared = getenv("AS_SHARED");
    char dir[1024], path[2048];
    DIR *d;
    struct dirent *de;
    int y = 0, n = 0, iacc = 0, irej = 0, bad = 0;

    (void) state;
    assert_non_null(shared);
    snprintf(dir, sizeof(dir), "%s/testdata/json/test_parsing", shared);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        struct json_object *o = NULL;
        struct as_error err;
        size_t len;
        char *data;
        int r;

        if (de->d_name[0] != 'y' && de->d_name[0] != 'n' &&
            de->d_name[0] != 'i') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        data = as_test_read_file(path, &len);
        as_error_clear(&err);
        r = as_parse_json(data, len, &o, &err);
        if (de->d_name[0] == 'y') {
            if (r != 0 &&
                strcmp(de->d_name, "y_object_escaped_null_in_key.json") == 0) {
                /* Documented exception (json.c): json-c cuts member names
                 * at NUL, so we reject rather than alter the name. */
                printf("# %s rejected on purpose: %s\n", de->d_name, err.msg);
            } else if (r != 0) {
                printf("# FAIL %s rejected: %s\n", de->d_name, err.msg);
                bad++;
            }
            y++;
        } else if (de->d_name[0] == 'n') {
            if (r == 0 || o != NULL || strlen(err.msg) == 0) {
                printf("# FAIL %s accepted\n", de->d_name);
                bad++;
            }
            n++;
        } else {
            printf("# %s: %s%s\n", de->d_name,
                   r == 0 ? "accepted" : "rejected: ", r == 0 ? "" : err.msg);
            r == 0 ? iacc++ : irej++;
        }
        json_object_put(o);
        free(data);
    }
    closedir(d);
    printf("# JSONTestSuite: %d y_ accepted, %d n_ rejected, i_: %d accepted, "
           "%d rejected\n",
           y, n, iacc, irej);
    assert_int_equal(bad, 0);
    assert_true(y > 90);
    assert_true(n > 180);
}

static void
test_big_ints(void **state)
{
    (void) state;
    /* 64-bit values keep every digit. */
    assert_string_equal(canons("18446744073709551615"), "18446744073709551615");
    assert_string_equal(canons("-9223372036854775808"), "-9223372036854775808");
    assert_string_equal(canons("9223372036854775807"), "9223372036854775807");
    assert_string_equal(canons("9223372036854775808"), "9223372036854775808");
    /* Beyond 64 bits: a double, not json-c's saturated value. */
    assert_string_equal(canons("18446744073709551616"), "18446744073709552000");
    assert_string_equal(canons("-9223372036854775809"), "-9223372036854776000");
    assert_string_equal(canons("[1, 100000000000000000000000, 2]"),
                        "[1,1e+23,2]");
    assert_string_equal(canons("{\"a\":123456789012345678901234567890}"),
                        "{\"a\":1.2345678901234568e+29}");
    /* Duplicate names: the last wins, also when an earlier one overflows. */
    assert_string_equal(canons("{\"a\":99999999999999999999,"
                               "\"a\":18446744073709551615}"),
                        "{\"a\":18446744073709551615}");
    assert_string_equal(canons("{\"a\":1,\"\\u0061\":99999999999999999999}"),
                        "{\"a\":100000000000000000000}");
    assert_string_equal(canons("1.0"), "1");
    assert_string_equal(canons("-0"), "0");
    assert_string_equal(canons("-0.0"), "0");
    assert_string_equal(canons("1E2"), "100");
    assert_null(canons("1e400"));
    assert_null(canons("-1e400"));
    assert_string_equal(canons("1e-400"), "0");
}

static void
test_strings(void **state)
{
    struct json_object *o;
    struct as_error err;

    (void) state;
    assert_int_equal(as_parse_json("\"a\\u0000b\"", 10, &o, &err), 0);
    assert_int_equal(json_object_get_string_len(o), 3);
    assert_memory_equal(json_object_get_string(o), "a\0b", 3);
    json_object_put(o);
    assert_string_equal(canons("\"a\\u0000b\""), "\"a\\u0000b\"");
    assert_string_equal(canons("\"\\ud83d\\ude00\""), "\"\xf0\x9f\x98\x80\"");
    assert_null(canon("\"\\ud800\"", 8, &err));
    assert_non_null(strstr(err.msg, "surrogate"));
    assert_non_null(strstr(err.msg, "byte 1"));
    assert_null(canons("\"\\udc00\\ud800\""));
    assert_null(canons("\"\\ud800x\""));
    assert_null(canons("{\"\\ud800\":1}"));
    assert_null(canons("{\"a\\u0000b\":1}"));
    assert_null(canons("\"\xc0\xaf\""));
    assert_null(canons("\"\xed\xa0\x80\""));
    assert_string_equal(canons("\"\\u00e9\\/\\t\\u001f\""),
                        "\"\xc3\xa9/\\t\\u001f\"");
}

/*
 * json_scan skips plain ASCII eight bytes at a time: every byte it must
 * look at (control, backslash escape, UTF-8 lead, closing quote) is put at
 * each offset within and after the first eight-byte words, so each lane and
 * the tail loop see it.
 */
static void
test_string_lanes(void **state)
{
    static const struct {
        const char *mid; /* bytes after the run of 'a' */
        bool ok;
        const char *msg; /* part of the error, when rejected */
    } cases[] = {
        {"\x01", false, "control character"},
        {"\x1f", false, "control character"},
        {"\\ud800", false, "surrogate"},
        {"\\udc00", false, "surrogate"},
        {"\xc0\xaf", false, "UTF-8"},
        {"\xed\xa0\x80", false, "UTF-8"},
        {"\xff", false, "UTF-8"},
        {"\xc3\xa9", true, NULL},
        {"\xf0\x9f\x98\x80", true, NULL},
        {"\\u0000", true, NULL},
        {"\\n\\\"", true, NULL},
        {"", true, NULL},
    };
    char doc[128];
    struct json_object *o;
    struct as_error err;

    (void) state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int pre = 0; pre <= 20; pre++) {
            for (int post = 0; post <= 9; post += 9) {
                int n = snprintf(doc, sizeof(doc), "[\"%.*s%s%.*s\"]", pre,
                                 "aaaaaaaaaaaaaaaaaaaa", cases[c].mid, post,
                                 "bbbbbbbbb");
                int r = as_parse_json(doc, (size_t) n, &o, &err);

                if (cases[c].ok) {
                    assert_int_equal(r, 0);
                    json_object_put(o);
                } else {
                    assert_int_equal(r, AS_ERR_PARSE);
                    assert_non_null(strstr(err.msg, cases[c].msg));
                    assert_null(o);
                }
            }
        }
    }
}

static void
test_structure(void **state)
{
    struct as_buf b = AS_BUF_INIT;
    struct as_error err;
    int i;

    (void) state;
    /* Depth: AS_JSON_MAX_DEPTH - 1 nested arrays pass, much more fail. */
    for (i = 0; i < AS_JSON_MAX_DEPTH - 1; i++) {
        as_buf_putc(&b, '[');
    }
    for (i = 0; i < AS_JSON_MAX_DEPTH - 1; i++) {
        as_buf_putc(&b, ']');
    }
    assert_non_null(canon(b.data, b.len, &err));
    as_buf_reset(&b);
    for (i = 0; i < 1000; i++) {
        as_buf_putc(&b, '[');
    }
    for (i = 0; i < 1000; i++) {
        as_buf_putc(&b, ']');
    }
    assert_null(canon(b.data, b.len, &err));
    printf("# deep nesting: %s\n", err.msg);
    as_buf_free(&b);
    /* BOM rejected (decision, see json.c). */
    assert_null(canon("\xef\xbb\xbf{}", 5, &err));
    assert_non_null(strstr(err.msg, "byte order mark"));
    /* Exactly one value, trailing whitespace only. */
    assert_string_equal(canons(" {\"b\":1,\"a\":2} \r\n"), "{\"a\":2,\"b\":1}");
    assert_null(canon("{} {}", 5, &err));
    assert_non_null(strstr(err.msg, "byte 3"));
    assert_null(canon("{}x", 3, &err));
    assert_null(canon("{}\0", 3, &err));
    assert_null(canon("", 0, &err));
    assert_null(canon("  ", 2, &err));
    assert_null(canon("{\"a\":1,}", 8, &err));
    assert_null(canon("[01]", 4, &err));
    assert_null(canon("{\"a\":1", 6, &err));
    assert_string_equal(canons("12"), "12");
    assert_string_equal(canons("{\"a\":1,\"a\":2}"), "{\"a\":2}");
}

/*
 * Deterministic byte mutations of every y_ file (and of big-integer
 * documents, for the slow path): never a crash (ASan builds check memory),
 * whatever is accepted can be written in JCS form, and that form is
 * stable: JCS(parse(JCS(x))) equals JCS(x).
 */
static void
test_mutations(void **state)
{
    const char *shared = getenv("AS_SHARED");
    static const char extra[] =
        "{\"a\":[99999999999999999999,{\"b\":-99999999999999999999}],"
        "\"a\":{\"c\":123456789012345678901234567890,\"d\":\"\\ud83d\\ude00\"}"
        "}";
    char dir[1024], path[2048];
    unsigned seed = 12345;
    DIR *d;
    struct dirent *de;
    int accepted = 0, total = 0;

    (void) state;
    assert_non_null(shared);
    snprintf(dir, sizeof(dir), "%s/testdata/json/test_parsing", shared);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len;
        char *data;

        if (de->d_name[0] != 'y') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        data = as_test_read_file(path, &len);
        for (int k = 0; k < 40; k++) {
            const char *src = k < 20 ? data : extra;
            size_t n = k < 20 ? len : sizeof(extra) - 1;
            char *m = malloc(n + 1);
            struct json_object *o = NULL, *o2 = NULL;
            struct as_error err;

            assert_non_null(m);
            memcpy(m, src, n);
            if (n > 0) {
                static const char pool[] =
                    "{}[]\",:\\u0123456789eE.-+ \xc3\xa9\x80\x00";

                seed = seed * 1103515245u + 12345u;
                m[(seed >> 8) % n] = pool[(seed >> 20) % (sizeof(pool) - 1)];
            }
            if (as_parse_json(m, n, &o, &err) == 0) {
                struct as_buf a = AS_BUF_INIT, b = AS_BUF_INIT;

                accepted++;
                /* Accepted means JCS can express it. */
                assert_int_equal(as_jcs_write(&a, o), 0);
                assert_int_equal(as_parse_json(a.data, a.len, &o2, &err), 0);
                assert_int_equal(as_jcs_write(&b, o2), 0);
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.data, b.data, a.len);
                as_buf_free(&a);
                as_buf_free(&b);
            }
            total++;
            json_object_put(o);
            json_object_put(o2);
            free(m);
        }
        free(data);
    }
    closedir(d);
    printf("# mutations: %d of %d accepted, all canonical-stable\n", accepted,
           total);
    assert_true(accepted > 0 && accepted < total);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),     cmocka_unit_test(test_big_ints),
        cmocka_unit_test(test_strings),   cmocka_unit_test(test_string_lanes),
        cmocka_unit_test(test_structure), cmocka_unit_test(test_mutations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
