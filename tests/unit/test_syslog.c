/*
 * The syslog decoder against the go-syslog vectors in
 * ../shared/testdata/syslog (every valid vector yields every field it
 * expects, every malformed one is rejected with a reason; the few where we
 * differ on purpose are listed in vec_allow with the reason) and edge
 * cases: BOM, SD escapes and repeated parameters, JSON messages with and
 * without "@cee:", a client "syslog" member, non-UTF-8, CRLF and NUL, and
 * the bytes real clients send (captured from util-linux logger 2.38.1,
 * glibc 2.36 syslog(3) and Python 3.11 logging.handlers.SysLogHandler).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "parsers/syslog.h"
#include "testutil.h"

/*
 * Decodes s (n bytes) and returns the JCS form of the event, or "ERR: " and
 * the reason (static buffer).
 */
static const char *
canon_n(const char *s, size_t n)
{
    static char out[8192];
    struct json_object *o = NULL;
    struct as_buf b = AS_BUF_INIT;
    struct as_error err;

    as_error_clear(&err);
    if (as_parse_syslog(s, n, &o, &err) != 0) {
        assert_null(o);
        assert_true(strlen(err.msg) > 0);
        snprintf(out, sizeof(out), "ERR: %s", err.msg);
        return out;
    }
    assert_non_null(o);
    assert_int_equal(as_jcs_write(&b, o), 0);
    assert_true(b.len < sizeof(out));
    memcpy(out, b.data, b.len + 1);
    as_buf_free(&b);
    json_object_put(o);
    return out;
}

static const char *
canon(const char *s)
{
    return canon_n(s, strlen(s));
}

/* ---- the vectors ---- */

/* A vector whose expectation we do not follow, on purpose. */
enum vec_dev {
    DEV_REJECT_UTF8, /* library accepts and writes U+FFFD; we reject */
    DEV_ACCEPT_3164, /* library rejects as 5424; we read it as liberal 3164 */
    DEV_ACCEPT_ESC,  /* library rejects; RFC 5424 6.3.3 keeps the '\' */
};

static const struct vec_allow {
    const char *file;
    int line;
    enum vec_dev dev;
    const char *why;
} vec_allow[] = {
    /* The brief: a MSG that is not UTF-8 is rejected so the pipeline keeps
     * the original bytes (raw_base64); nothing is replaced by U+FFFD. */
    {"rfc5424-vectors.jsonl", 139, DEV_REJECT_UTF8, "MSG is Latin-1"},
    {"rfc5424-vectors.jsonl", 140, DEV_REJECT_UTF8, "MSG is Latin-1"},
    {"rfc5424-vectors.jsonl", 141, DEV_REJECT_UTF8, "MSG is 0xf6"},
    {"rfc5424-vectors.jsonl", 142, DEV_REJECT_UTF8, "MSG is 0xf6 x2"},
    {"rfc5424-vectors.jsonl", 143, DEV_REJECT_UTF8, "MSG is 0xf6 x3"},
    {"rfc5424-vectors.jsonl", 144, DEV_REJECT_UTF8, "MSG is 0xf6 x4"},
    {"rfc5424-vectors.jsonl", 145, DEV_REJECT_UTF8, "MSG is 0xf6 x5"},
    /* "<PRI>" then no digit: not 5424 by our detection, so RFC 3164
     * without a timestamp, which a receiver must accept (Python's
     * SysLogHandler sends exactly "<PRI>text"). */
    {"rfc5424-vectors.jsonl", 19, DEV_ACCEPT_3164, "\"<100> 2018-11-22\""},
    {"rfc5424-vectors.jsonl", 26, DEV_ACCEPT_3164, "\"<102>abc 2018-11-22\""},
    /* PARAM-VALUE "\n": RFC 5424 section 6.3.3 says a '\' before any
     * character other than '"', '\' and ']' is kept as an ordinary
     * character, not an error. */
    {"rfc5424-vectors.jsonl", 116, DEV_ACCEPT_ESC, "escape=\"\\n\""},
};

/* Decodes base64 text (padding allowed); returns a malloc'ed buffer. */
static char *
b64dec(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 1);
    int r;

    assert_non_null(out);
    assert_true(n % 4 == 0);
    r = n > 0 ? EVP_DecodeBlock(out, (const unsigned char *) s, (int) n) : 0;
    assert_true(r >= 0);
    if (n > 0 && s[n - 1] == '=') {
        r--;
    }
    if (n > 1 && s[n - 2] == '=') {
        r--;
    }
    *len = (size_t) r;
    return (char *) out;
}

/* A timestamp broken into fields: RFC 3339, or BSD with year 0 and UTC. */
struct ts {
    int y, mo, d, h, mi, s, off;
    char frac[16]; /* digits without trailing zeros */
};

static bool
ts_split(const char *s, struct ts *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *p;
    char sign;
    int oh, om, k = 0;

    memset(t, 0, sizeof(*t));
    for (int m = 0; m < 12 && strlen(s) > 4; m++) {
        if (memcmp(s, months + 3 * m, 3) == 0 && s[3] == ' ') {
            /* "Mmm dd hh:mm:ss": year 0, UTC (the library's reading). */
            t->mo = m + 1;
            return sscanf(s + 4, "%d %d:%d:%d", &t->d, &t->h, &t->mi, &t->s) ==
                   4;
        }
    }
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &t->y, &t->mo, &t->d, &t->h,
               &t->mi, &t->s) != 6 ||
        strlen(s) < 20) {
        return false;
    }
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9' && k < 15; p++) {
            t->frac[k++] = *p;
        }
        while (k > 0 && t->frac[k - 1] == '0') {
            t->frac[--k] = '\0';
        }
    }
    if (*p == 'Z') {
        return p[1] == '\0';
    }
    if (sscanf(p, "%c%2d:%2d", &sign, &oh, &om) != 3 ||
        (sign != '+' && sign != '-')) {
        return false;
    }
    t->off = (sign == '-' ? -1 : 1) * (oh * 60 + om);
    return true;
}

/* Same instant written the same way, up to the format (Z vs +00:00...). */
static bool
ts_same(const char *a, const char *b)
{
    struct ts x, y;

    return ts_split(a, &x) && ts_split(b, &y) && x.y == y.y && x.mo == y.mo &&
           x.d == y.d && x.h == y.h && x.mi == y.mi && x.s == y.s &&
           x.off == y.off && strcmp(x.frac, y.frac) == 0;
}

/* A member as a string, or NULL when absent. */
static const char *
mstr(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* Both {SD-ID: {name: string}} trees hold the same members and values. */
static bool
sd_same(struct json_object *want, struct json_object *got)
{
    if (got == NULL ||
        json_object_object_length(want) != json_object_object_length(got)) {
        return false;
    }
    json_object_object_foreach(want, id, wparams)
    {
        struct json_object *gparams;

        if (!json_object_object_get_ex(got, id, &gparams) ||
            json_object_object_length(wparams) !=
                json_object_object_length(gparams)) {
            return false;
        }
        json_object_object_foreach(wparams, name, wval)
        {
            const char *g = mstr(gparams, name);

            if (g == NULL || strcmp(g, json_object_get_string(wval)) != 0) {
                return false;
            }
        }
    }
    return true;
}

struct vec_count {
    int valid, matched, malformed, rejected, allowed, bom_norm, ts_norm;
    int col_seen, col_same;
};

/*
 * Compares one decoded valid vector with its expected fields.  Returns
 * NULL or the name of the first field that differs.
 */
static const char *
vec_compare(struct json_object *exp, struct json_object *ev, const char *input,
            struct vec_count *c)
{
    static const char *const strs[][2] = {
        {"hostname", "hostname"},
        {"appname", "app_name"},
        {"procid", "procid"},
        {"msgid", "msgid"},
    };
    struct json_object *h, *v, *sd = NULL, *esd;
    const char *e, *g;
    int fac, sev;

    if (!json_object_object_get_ex(ev, "syslog", &h)) {
        return "syslog";
    }
    fac = json_object_get_int(json_object_object_get(h, "facility"));
    sev = json_object_get_int(json_object_object_get(h, "severity"));
    if (fac != json_object_get_int(json_object_object_get(exp, "facility"))) {
        return "facility";
    }
    if (sev != json_object_get_int(json_object_object_get(exp, "severity"))) {
        return "severity";
    }
    if (fac * 8 + sev !=
        json_object_get_int(json_object_object_get(exp, "priority"))) {
        return "priority";
    }
    if (json_object_object_get_ex(exp, "version", &v)) {
        if (!json_object_object_get_ex(h, "version", NULL) ||
            json_object_get_int(json_object_object_get(h, "version")) !=
                json_object_get_int(v)) {
            return "version";
        }
    } else if (json_object_object_get_ex(h, "version", NULL)) {
        return "version";
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        e = mstr(exp, strs[i][0]);
        g = mstr(h, strs[i][1]);
        if ((e == NULL) != (g == NULL) || (e != NULL && strcmp(e, g) != 0)) {
            return strs[i][0];
        }
    }
    e = mstr(exp, "timestamp");
    g = mstr(h, "timestamp");
    if ((e == NULL) != (g == NULL)) {
        return "timestamp";
    }
    if (e != NULL && strcmp(e, g) != 0) {
        /* We keep the timestamp as sent; the library reformats it. */
        if (!ts_same(e, g)) {
            return "timestamp";
        }
        c->ts_norm++;
    }
    json_object_object_get_ex(h, "structured_data", &sd);
    if (json_object_object_get_ex(exp, "structured_data", &esd)) {
        if (!sd_same(esd, sd)) {
            return "structured_data";
        }
    } else if (sd != NULL) {
        return "structured_data";
    }
    e = mstr(exp, "message");
    g = mstr(ev, "message");
    if (e == NULL) {
        if (g != NULL && g[0] != '\0') {
            return "message";
        }
    } else if (g == NULL) {
        return "message";
    } else if (strcmp(e, g) != 0) {
        /* We remove the BOM that opens MSG (RFC 5424 section 6.4); the
         * library keeps it. */
        if (strncmp(e, "\xef\xbb\xbf", 3) != 0 || strcmp(e + 3, g) != 0 ||
            strstr(input, " \xef\xbb\xbf") == NULL) {
            return "message";
        }
        c->bom_norm++;
    }
    return NULL;
}

/* Checks the behaviour promised for an allow-listed vector. */
static void
vec_check_dev(const struct vec_allow *a, int r, struct json_object *ev,
              const struct as_error *err)
{
    struct json_object *h, *sd;

    switch (a->dev) {
    case DEV_REJECT_UTF8:
        assert_int_equal(r, AS_ERR_PARSE);
        assert_non_null(strstr(err->msg, "message is not valid UTF-8 at byte"));
        break;
    case DEV_ACCEPT_3164:
        assert_int_equal(r, 0);
        assert_true(json_object_object_get_ex(ev, "syslog", &h));
        assert_false(json_object_object_get_ex(h, "version", NULL));
        assert_non_null(mstr(ev, "message"));
        break;
    case DEV_ACCEPT_ESC:
        assert_int_equal(r, 0);
        assert_true(json_object_object_get_ex(ev, "syslog", &h));
        assert_true(json_object_object_get_ex(h, "structured_data", &sd));
        assert_string_equal(mstr(json_object_object_get(sd, "meta"), "escape"),
                            "\\n");
        break;
    }
}

static void
vec_run(const char *file, struct vec_count *c, int *bad, int *allow_hit)
{
    const char *shared = getenv("AS_SHARED");
    char path[2048];
    char *data, *line, *next;
    int lineno = 0;

    assert_non_null(shared);
    snprintf(path, sizeof(path), "%s/testdata/syslog/%s", shared, file);
    data = as_test_read_file(path, NULL);
    for (line = data; line != NULL && *line != '\0'; line = next) {
        struct json_object *v, *exp, *ev = NULL;
        const struct vec_allow *allow = NULL;
        struct as_error err;
        const char *why, *col;
        size_t len;
        char *input;
        bool valid;
        int r;

        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        lineno++;
        v = json_tokener_parse(line);
        assert_non_null(v);
        valid = json_object_get_boolean(json_object_object_get(v, "valid"));
        exp = json_object_object_get(v, "expected");
        input = b64dec(mstr(v, "input_b64"), &len);
        for (size_t i = 0; i < sizeof(vec_allow) / sizeof(vec_allow[0]); i++) {
            if (strcmp(vec_allow[i].file, file) == 0 &&
                vec_allow[i].line == lineno) {
                allow = &vec_allow[i];
                allow_hit[i]++;
            }
        }
        as_error_clear(&err);
        r = as_parse_syslog(input, len, &ev, &err);
        valid ? c->valid++ : c->malformed++;
        if (allow != NULL) {
            printf("# %s:%d differs on purpose (%s): %s\n", file, lineno,
                   allow->why, r == 0 ? "accepted" : err.msg);
            vec_check_dev(allow, r, ev, &err);
            c->allowed++;
        } else if (valid && r != 0) {
            printf("# FAIL %s:%d rejected: %s\n", file, lineno, err.msg);
            (*bad)++;
        } else if (valid) {
            if ((why = vec_compare(exp, ev, input, c)) != NULL) {
                printf("# FAIL %s:%d field %s differs\n", file, lineno, why);
                (*bad)++;
            } else {
                c->matched++;
            }
        } else if (r != AS_ERR_PARSE || ev != NULL || err.msg[0] == '\0') {
            printf("# FAIL %s:%d accepted (library: %s)\n", file, lineno,
                   mstr(v, "error"));
            (*bad)++;
        } else {
            c->rejected++;
            /* Information only: does our offset equal the library's? */
            col = strstr(mstr(v, "error"), "[col ");
            if (col != NULL && strstr(err.msg, "at byte ") != NULL) {
                c->col_seen++;
                c->col_same +=
                    atoi(col + 5) == atoi(strstr(err.msg, "at byte ") + 8);
            }
        }
        json_object_put(ev);
        json_object_put(v);
        free(input);
    }
    free(data);
}

static void
test_vectors(void **state)
{
    struct vec_count c5, c3;
    int bad = 0, hit[sizeof(vec_allow) / sizeof(vec_allow[0])] = {0};
    int dev_valid = 0, dev_malformed = 0;

    (void) state;
    memset(&c5, 0, sizeof(c5));
    memset(&c3, 0, sizeof(c3));
    vec_run("rfc5424-vectors.jsonl", &c5, &bad, hit);
    vec_run("rfc3164-vectors.jsonl", &c3, &bad, hit);
    for (size_t i = 0; i < sizeof(vec_allow) / sizeof(vec_allow[0]); i++) {
        /* A stale entry (the vector moved or changed) is a failure. */
        assert_int_equal(hit[i], 1);
        vec_allow[i].dev == DEV_REJECT_UTF8 ? dev_valid++ : dev_malformed++;
    }
    printf("# RFC 5424: %d valid matched of %d (%d differ on purpose; "
           "%d after removing the BOM the library keeps, %d timestamps "
           "equal up to format), %d malformed rejected of %d (%d differ on "
           "purpose)\n",
           c5.matched, c5.valid, dev_valid, c5.bom_norm, c5.ts_norm,
           c5.rejected, c5.malformed, dev_malformed);
    printf("# RFC 3164: %d valid matched of %d (%d timestamps equal up to "
           "format), %d malformed rejected of %d\n",
           c3.matched, c3.valid, c3.ts_norm, c3.rejected, c3.malformed);
    printf("# error offset equal to the library's column: %d of %d\n",
           c5.col_same, c5.col_seen);
    assert_int_equal(bad, 0);
    assert_int_equal(c5.valid, 527);
    assert_int_equal(c5.malformed, 140);
    assert_int_equal(c5.matched, c5.valid - dev_valid);
    assert_int_equal(c5.rejected, c5.malformed - dev_malformed);
    assert_int_equal(c3.valid, 8);
    assert_int_equal(c3.matched, 8);
}

/* ---- the mapping, field by field ---- */

static void
test_mapping(void **state)
{
    (void) state;
    /* RFC 5424 section 6.5, example 3, with the BOM of example 1. */
    assert_string_equal(
        canon("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog"
              " - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\""
              " eventID=\"1011\"][examplePriority@32473 class=\"high\"] "
              "\xef\xbb\xbf"
              "An application event log entry"),
        "{\"message\":\"An application event log entry\",\"syslog\":{"
        "\"app_name\":\"evntslog\",\"facility\":20,\"hostname\":"
        "\"mymachine.example.com\",\"msgid\":\"ID47\",\"severity\":5,"
        "\"structured_data\":{\"examplePriority@32473\":{\"class\":\"high\"},"
        "\"exampleSDID@32473\":{\"eventID\":\"1011\",\"eventSource\":"
        "\"Application\",\"iut\":\"3\"}},\"timestamp\":"
        "\"2003-10-11T22:14:15.003Z\",\"version\":1}}");
    /* All NILVALUE and no MSG: only the numbers. */
    assert_string_equal(canon("<0>1 - - - - - -"),
                        "{\"syslog\":{\"facility\":0,\"severity\":0,"
                        "\"version\":1}}");
    /* SP after STRUCTURED-DATA: an empty MSG is present. */
    assert_string_equal(canon("<191>999 - - - - - - "),
                        "{\"message\":\"\",\"syslog\":{\"facility\":23,"
                        "\"severity\":7,\"version\":999}}");
    /* RFC 3164 section 5.4 example 1. */
    assert_string_equal(
        canon("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for "
              "lonvick on /dev/pts/8"),
        "{\"message\":\"'su root' failed for lonvick on /dev/pts/8\","
        "\"syslog\":{\"app_name\":\"su\",\"facility\":4,\"hostname\":"
        "\"mymachine\",\"severity\":2,\"timestamp\":\"Oct 11 22:14:15\"}}");
}

/* ---- edge cases ---- */

static void
test_bom(void **state)
{
    (void) state;
    /* A BOM opening MSG is removed, once; elsewhere it is content. */
    assert_string_equal(
        canon("<1>1 - - - - - - \xef\xbb\xbfhi"),
        "{\"message\":\"hi\",\"syslog\":{\"facility\":0,\"severity\":1,"
        "\"version\":1}}");
    assert_string_equal(canon("<1>1 - - - - - - \xef\xbb\xbf\xef\xbb\xbfhi"),
                        "{\"message\":\"\xef\xbb\xbfhi\",\"syslog\":{"
                        "\"facility\":0,\"severity\":1,\"version\":1}}");
    assert_string_equal(canon("<1>1 - - - - - - a\xef\xbb\xbf"),
                        "{\"message\":\"a\xef\xbb\xbf\",\"syslog\":{"
                        "\"facility\":0,\"severity\":1,\"version\":1}}");
    /* BOM then a JSON object: the object is the event. */
    assert_string_equal(canon("<1>1 - - - - - - \xef\xbb\xbf{\"a\":1}"),
                        "{\"a\":1,\"syslog\":{\"facility\":0,\"severity\":1,"
                        "\"version\":1}}");
    /* RFC 3164 has no BOM rule: the bytes stay in MSG. */
    assert_string_equal(canon("<13>\xef\xbb\xbfx"),
                        "{\"message\":\"\xef\xbb\xbfx\",\"syslog\":{"
                        "\"facility\":1,\"severity\":5}}");
}

static void
test_sd(void **state)
{
    (void) state;
    /* Escapes: \" \\ \] decoded; '\' before anything else kept. */
    assert_string_equal(
        canon(
            "<1>1 - - - - - [a x=\"q\\\"b\\\\c\\]d\" y=\"\\n\\x\" z=\"\\\\\"]"),
        "{\"syslog\":{\"facility\":0,\"severity\":1,\"structured_data\":{"
        "\"a\":{\"x\":\"q\\\"b\\\\c]d\",\"y\":\"\\\\n\\\\x\",\"z\":\"\\\\\"}},"
        "\"version\":1}}");
    /* A repeated PARAM-NAME: an array of every value, in order. */
    assert_string_equal(
        canon("<1>1 - - - - - [a p=\"1\" q=\"x\" p=\"2\" p=\"3\"][b p=\"4\"]"),
        "{\"syslog\":{\"facility\":0,\"severity\":1,\"structured_data\":{"
        "\"a\":{\"p\":[\"1\",\"2\",\"3\"],\"q\":\"x\"},\"b\":{\"p\":\"4\"}},"
        "\"version\":1}}");
    /* Empty element, empty value, UTF-8, '=' and ' ' inside a value. */
    assert_string_equal(
        canon("<1>1 - - - - - [e][f k=\"\" u=\"\xc3\xb1 =x\"] m"),
        "{\"message\":\"m\",\"syslog\":{\"facility\":0,\"severity\":1,"
        "\"structured_data\":{\"e\":{},\"f\":{\"k\":\"\",\"u\":"
        "\"\xc3\xb1 =x\"}},\"version\":1}}");
    /* 32 characters is the limit for SD-ID and PARAM-NAME. */
    assert_string_equal(
        canon("<1>1 - - - - - [abcdefghijklmnopqrstuvwxyz012345 "
              "abcdefghijklmnopqrstuvwxyz012345=\"v\"]"),
        "{\"syslog\":{\"facility\":0,\"severity\":1,\"structured_data\":{"
        "\"abcdefghijklmnopqrstuvwxyz012345\":{"
        "\"abcdefghijklmnopqrstuvwxyz012345\":\"v\"}},\"version\":1}}");
    /* Malformed, with the offset of the offending byte. */
    assert_string_equal(
        canon("<1>1 - - - - - [abcdefghijklmnopqrstuvwxyz0123456]"),
        "ERR: RFC 5424 SD-ID: longer than 32 characters at "
        "byte 48");
    assert_string_equal(canon("<1>1 - - - - - [a x=\"]\"]"),
                        "ERR: RFC 5424 SD-PARAM: unescaped ']' in a value at "
                        "byte 21");
    assert_string_equal(canon("<1>1 - - - - - [a][b][a]"),
                        "ERR: RFC 5424 SD-ID: duplicate \"a\" at byte 22");
    assert_string_equal(canon("<1>1 - - - - - [a x=\"1\"y=\"2\"]"),
                        "ERR: RFC 5424 SD-ELEMENT: expected SP or ']' at byte "
                        "23");
    assert_string_equal(
        canon("<1>1 - - - - - [a x=\"1"),
        "ERR: RFC 5424 SD-PARAM: unterminated value at byte 22");
    assert_string_equal(canon("<1>1 - - - - - [a x=1]"),
                        "ERR: RFC 5424 SD-PARAM: expected '\"' at byte 20");
    assert_string_equal(canon("<1>1 - - - - - [a  x=\"1\"]"),
                        "ERR: RFC 5424 PARAM-NAME: expected a name at byte 18");
    assert_string_equal(canon("<1>1 - - - - - [a x]"),
                        "ERR: RFC 5424 SD-PARAM: expected '=' at byte 19");
    assert_string_equal(canon("<1>1 - - - - - [a]x"),
                        "ERR: RFC 5424: expected SP after STRUCTURED-DATA at "
                        "byte 18");
    assert_string_equal(canon("<1>1 - - - - - [a x=\"\xc3\"]"),
                        "ERR: structured data is not valid UTF-8 at byte 21");
}

static void
test_json_message(void **state)
{
    (void) state;
    /* 5424 MSG that is a JSON object: the object is the event. */
    assert_string_equal(
        canon("<110>1 2026-01-28T09:00:00Z h app 42 - - {\"action\":\"a.b\","
              "\"n\":1}"),
        "{\"action\":\"a.b\",\"n\":1,\"syslog\":{\"app_name\":\"app\","
        "\"facility\":13,\"hostname\":\"h\",\"procid\":\"42\",\"severity\":6,"
        "\"timestamp\":\"2026-01-28T09:00:00Z\",\"version\":1}}");
    /* With the "@cee:" cookie, with and without whitespace. */
    assert_string_equal(
        canon("<13>Jan  2 03:04:05 h t: @cee: {\"a\":1}"),
        "{\"a\":1,\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
        "\"hostname\":\"h\",\"severity\":5,\"timestamp\":"
        "\"Jan  2 03:04:05\"}}");
    assert_string_equal(
        canon("<13>t: @cee:{\"a\":1}"),
        "{\"a\":1,\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
        "\"severity\":5}}");
    assert_string_equal(
        canon("<13>t:  \t{\"a\":1}  "),
        "{\"a\":1,\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
        "\"severity\":5}}");
    /* Not JSON, or not an object: a plain message, cookie and all. */
    assert_string_equal(canon("<13>t: @cee: {\"a\":"),
                        "{\"message\":\"@cee: {\\\"a\\\":\",\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: {\"a\":1} trailing"),
                        "{\"message\":\"{\\\"a\\\":1} trailing\",\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: [1,2]"),
                        "{\"message\":\"[1,2]\",\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: @cee: [1]"),
                        "{\"message\":\"@cee: [1]\",\"syslog\":{\"app_name\":"
                        "\"t\",\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: @CEE: {\"a\":1}"),
                        "{\"message\":\"@CEE: {\\\"a\\\":1}\",\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    /* as_parse_json's rules apply: a lone surrogate escape is not JSON. */
    assert_string_equal(canon("<13>t: {\"a\":\"\\ud800\"}"),
                        "{\"message\":\"{\\\"a\\\":\\\"\\\\ud800\\\"}\","
                        "\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
                        "\"severity\":5}}");
}

static void
test_client_syslog(void **state)
{
    (void) state;
    /* The client's member moves to metadata.client_syslog... */
    assert_string_equal(canon("<13>t: {\"syslog\":{\"x\":1},\"a\":2}"),
                        "{\"a\":2,\"metadata\":{\"client_syslog\":{\"x\":1}},"
                        "\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
                        "\"severity\":5}}");
    /* ...into an existing metadata object... */
    assert_string_equal(
        canon("<13>t: {\"syslog\":\"s\",\"metadata\":{\"m\":true}}"),
        "{\"metadata\":{\"client_syslog\":\"s\",\"m\":true},\"syslog\":{"
        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    /* ...a null value too... */
    assert_string_equal(canon("<13>t: {\"syslog\":null}"),
                        "{\"metadata\":{\"client_syslog\":null},\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    /* ...or to top-level client_syslog when metadata is not an object. */
    assert_string_equal(canon("<13>t: {\"syslog\":1,\"metadata\":\"m\"}"),
                        "{\"client_syslog\":1,\"metadata\":\"m\",\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: {\"syslog\":1,\"metadata\":null}"),
                        "{\"client_syslog\":1,\"metadata\":null,\"syslog\":{"
                        "\"app_name\":\"t\",\"facility\":1,\"severity\":5}}");
    /* The destination is taken: nothing is overwritten, MSG stays text. */
    assert_string_equal(
        canon("<13>t: {\"syslog\":1,\"metadata\":{\"client_syslog\":2}}"),
        "{\"message\":\"{\\\"syslog\\\":1,\\\"metadata\\\":{\\\"client_syslog"
        "\\\":2}}\",\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
        "\"severity\":5}}");
    assert_string_equal(
        canon("<13>t: {\"syslog\":1,\"metadata\":[],\"client_syslog\":2}"),
        "{\"message\":\"{\\\"syslog\\\":1,\\\"metadata\\\":[],\\\"client_"
        "syslog\\\":2}\",\"syslog\":{\"app_name\":\"t\",\"facility\":1,"
        "\"severity\":5}}");
    /* Without a client "syslog", a top-level client_syslog is just data. */
    assert_string_equal(canon("<13>t: {\"client_syslog\":2}"),
                        "{\"client_syslog\":2,\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":5}}");
}

static void
test_utf8(void **state)
{
    (void) state;
    /* Offsets are into the caller's buffer (here after PRI and header). */
    assert_string_equal(canon("<13>Nov 22 07:00:00 h t: caf\xe9"),
                        "ERR: message is not valid UTF-8 at byte 28");
    assert_string_equal(canon("<1>1 - - - - - - ok \xc0\xaf"),
                        "ERR: message is not valid UTF-8 at byte 20");
    assert_string_equal(canon("<1>1 - - - - - - \xed\xa0\x80"),
                        "ERR: message is not valid UTF-8 at byte 17");
    assert_string_equal(canon("<1>1 - - - - - - \xf4\x90\x80\x80"),
                        "ERR: message is not valid UTF-8 at byte 17");
    assert_string_equal(canon("<1>1 - - - - - - \xe2\x82"),
                        "ERR: message is not valid UTF-8 at byte 17");
    /* A broken JSON message is still checked as text first. */
    assert_string_equal(canon("<13>{\"a\":\"\xff\"}"),
                        "ERR: message is not valid UTF-8 at byte 10");
    /* Every valid length passes, U+10FFFF included. */
    assert_string_equal(
        canon("<13>\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"),
        "{\"message\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\","
        "\"syslog\":{\"facility\":1,\"severity\":5}}");
    /* Non-ASCII where 3164 expects a hostname or tag: it stays in MSG. */
    assert_string_equal(canon("<13>Nov 22 07:00:00 h\xc3\xa9 x"),
                        "{\"message\":\"h\xc3\xa9 x\",\"syslog\":{\"facility\":"
                        "1,\"severity\":5,\"timestamp\":\"Nov 22 07:00:00\"}}");
}

static void
test_line_ends(void **state)
{
    (void) state;
    assert_string_equal(canon("<13>t: m\r\n"),
                        "{\"message\":\"m\",\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>t: m\n"),
                        "{\"message\":\"m\",\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":5}}");
    /* A tailed CRLF file: the input stripped "\n", "\r" is left. */
    assert_string_equal(canon("<1>1 - - - - - -\r"),
                        "{\"syslog\":{\"facility\":0,\"severity\":1,"
                        "\"version\":1}}");
    /* Only one line end is removed; inner ones are content. */
    assert_string_equal(canon("<13>t: m\n\n"),
                        "{\"message\":\"m\\n\",\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<1>1 - - - - - - x\ny\n"),
                        "{\"message\":\"x\\ny\",\"syslog\":{\"facility\":0,"
                        "\"severity\":1,\"version\":1}}");
    /* A NUL ends Python's datagrams; one is removed, inner ones kept. */
    assert_string_equal(canon_n("<13>m\0", 6),
                        "{\"message\":\"m\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5}}");
    assert_string_equal(canon_n("<13>a\0b\0\n", 9),
                        "{\"message\":\"a\\u0000b\",\"syslog\":{\"facility\":"
                        "1,\"severity\":5}}");
    /* A line end inside the 5424 header is malformed. */
    assert_string_equal(canon("<1>1 - - - - - -\n\n"),
                        "ERR: RFC 5424: expected SP after STRUCTURED-DATA at "
                        "byte 16");
}

/* Bytes captured from real clients on Debian 12 (see the file comment). */
static void
test_real_clients(void **state)
{
    (void) state;
    /* logger -u SOCK --rfc3164 -t mytag -p auth.notice --id=4242 ... */
    assert_string_equal(
        canon("<37>Nov 22 07:36:13 vm mytag[4242]: hello {\"a\":1}"),
        "{\"message\":\"hello {\\\"a\\\":1}\",\"syslog\":{\"app_name\":"
        "\"mytag\",\"facility\":4,\"hostname\":\"vm\",\"procid\":\"4242\","
        "\"severity\":5,\"timestamp\":\"Nov 22 07:36:13\"}}");
    /* logger -u SOCK (no format option: the local form, no hostname);
     * -T adds the "\n" line end. */
    assert_string_equal(
        canon("<37>Nov 22 07:36:13 mytag[4242]: hello {\"a\":1}\n"),
        "{\"message\":\"hello {\\\"a\\\":1}\",\"syslog\":{\"app_name\":"
        "\"mytag\",\"facility\":4,\"procid\":\"4242\",\"severity\":5,"
        "\"timestamp\":\"Nov 22 07:36:13\"}}");
    /* logger -u SOCK --rfc5424 */
    assert_string_equal(
        canon("<37>1 2026-11-22T07:36:13.314058+00:00 vm mytag 4242 - "
              "[timeQuality tzKnown=\"1\" isSynced=\"0\"] hello {\"a\":1}"),
        "{\"message\":\"hello {\\\"a\\\":1}\",\"syslog\":{\"app_name\":"
        "\"mytag\",\"facility\":4,\"hostname\":\"vm\",\"procid\":\"4242\","
        "\"severity\":5,\"structured_data\":{\"timeQuality\":{\"isSynced\":"
        "\"0\",\"tzKnown\":\"1\"}},\"timestamp\":"
        "\"2026-11-22T07:36:13.314058+00:00\",\"version\":1}}");
    /* logger -u SOCK --rfc5424=notime,nohost, with a JSON event. */
    assert_string_equal(
        canon("<37>1 - - mytag 4242 - - {\"actor_id\":\"u\"}\n"),
        "{\"actor_id\":\"u\",\"syslog\":{\"app_name\":\"mytag\",\"facility\":"
        "4,\"procid\":\"4242\",\"severity\":5,\"version\":1}}");
    /* glibc syslog(3) with LOG_PID, and without (ident = program name). */
    assert_string_equal(canon("<37>Nov 22 07:36:23 mytag[14200]: hello glibc"),
                        "{\"message\":\"hello glibc\",\"syslog\":{\"app_name\":"
                        "\"mytag\",\"facility\":4,\"procid\":\"14200\","
                        "\"severity\":5,\"timestamp\":\"Nov 22 07:36:23\"}}");
    assert_string_equal(canon("<14>Nov 22 07:36:23 glibc_sl: @cee: {\"x\":1}"),
                        "{\"syslog\":{\"app_name\":\"glibc_sl\",\"facility\":1,"
                        "\"severity\":6,\"timestamp\":\"Nov 22 07:36:23\"},"
                        "\"x\":1}");
    /* glibc pads a one-digit day with a space. */
    assert_string_equal(canon("<14>Nov  2 07:36:23 t: m"),
                        "{\"message\":\"m\",\"syslog\":{\"app_name\":\"t\","
                        "\"facility\":1,\"severity\":6,\"timestamp\":"
                        "\"Nov  2 07:36:23\"}}");
    /* Python SysLogHandler: no timestamp, no hostname, a NUL at the end;
     * with ident "myapp: " the tag precedes the JSON event. */
    assert_string_equal(
        canon_n("<12>hello python\0", 17),
        "{\"message\":\"hello python\",\"syslog\":{\"facility\":"
        "1,\"severity\":4}}");
    assert_string_equal(
        canon_n("<12>myapp: {\"actor_id\":\"u\"}\0", 28),
        "{\"actor_id\":\"u\",\"syslog\":{\"app_name\":\"myapp\","
        "\"facility\":1,\"severity\":4}}");
    /* The documented limit: plain text that starts with a digit reads as
     * an RFC 5424 VERSION. */
    assert_string_equal(canon_n("<14>3 files copied\0", 19),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 6");
}

static void
test_3164_forms(void **state)
{
    (void) state;
    /* rsyslog's RFC 3339 timestamps (RSYSLOG_ForwardFormat). */
    assert_string_equal(
        canon("<13>2016-02-21T04:32:57.123456789+01:00 web1 app[7]: m"),
        "{\"message\":\"m\",\"syslog\":{\"app_name\":\"app\",\"facility\":1,"
        "\"hostname\":\"web1\",\"procid\":\"7\",\"severity\":5,\"timestamp\":"
        "\"2016-02-21T04:32:57.123456789+01:00\"}}");
    /* An invalid RFC 3339 date is no timestamp: everything is MSG. */
    assert_string_equal(canon("<13>2016-02-30T04:32:57Z web1 app: m"),
                        "{\"message\":\"2016-02-30T04:32:57Z web1 app: m\","
                        "\"syslog\":{\"facility\":1,\"severity\":5}}");
    /* Fractions after BSD seconds; an IPv6 hostname; a tag without ':'. */
    assert_string_equal(canon("<13>Jan 31 23:59:59.123 fe80::1 d[x-1] m"),
                        "{\"message\":\"m\",\"syslog\":{\"app_name\":\"d\","
                        "\"facility\":1,\"hostname\":\"fe80::1\",\"procid\":"
                        "\"x-1\",\"severity\":5,\"timestamp\":"
                        "\"Jan 31 23:59:59.123\"}}");
    /* Not a timestamp (bad month, day 32): MSG, no hostname. */
    assert_string_equal(canon("<13>Foo 12 06:30:00 h t: m"),
                        "{\"message\":\"Foo 12 06:30:00 h t: m\",\"syslog\":{"
                        "\"facility\":1,\"severity\":5}}");
    assert_string_equal(canon("<13>Jan 32 06:30:00 h t: m"),
                        "{\"message\":\"Jan 32 06:30:00 h t: m\",\"syslog\":{"
                        "\"facility\":1,\"severity\":5}}");
    /* Timestamp and hostname only; timestamp only. */
    assert_string_equal(canon("<13>Jan 12 06:30:00 host"),
                        "{\"message\":\"\",\"syslog\":{\"facility\":1,"
                        "\"hostname\":\"host\",\"severity\":5,\"timestamp\":"
                        "\"Jan 12 06:30:00\"}}");
    assert_string_equal(canon("<13>Jan 12 06:30:00"),
                        "{\"message\":\"\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5,\"timestamp\":\"Jan 12 06:30:00\"}}");
    /* Words that are no tag: "a:b", "x[]:", "[1]:". */
    assert_string_equal(canon("<13>a:b c"),
                        "{\"message\":\"a:b c\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5}}");
    assert_string_equal(canon("<13>x[]: c"),
                        "{\"message\":\"x[]: c\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5}}");
    assert_string_equal(canon("<13>[1]: c"),
                        "{\"message\":\"[1]: c\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5}}");
    /* Only PRI. */
    assert_string_equal(canon("<13>"),
                        "{\"message\":\"\",\"syslog\":{\"facility\":1,"
                        "\"severity\":5}}");
}

static void
test_malformed(void **state)
{
    (void) state;
    assert_string_equal(canon(""), "ERR: missing PRI: expected '<' at byte 0");
    assert_string_equal(canon("hello"),
                        "ERR: missing PRI: expected '<' at byte 0");
    assert_string_equal(canon("<192>x"),
                        "ERR: PRI: 192 is out of range 0-191 at byte 1");
    assert_string_equal(canon("<01>x"), "ERR: PRI: leading zero at byte 1");
    assert_string_equal(canon("<1000>x"), "ERR: PRI: more than 3 digits at "
                                          "byte 4");
    assert_string_equal(canon("<13"), "ERR: PRI: expected '>' at byte 3");
    assert_string_equal(canon("<1>0 - - - - - -"),
                        "ERR: RFC 5424 VERSION: not in 1-999 at byte 3");
    assert_string_equal(canon("<1>1000 - - - - - -"),
                        "ERR: RFC 5424 VERSION: not in 1-999 at byte 3");
    /* Timestamps: leap second, 7 fraction digits, lower case, calendar. */
    assert_string_equal(canon("<1>1 2016-12-31T23:59:60Z - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 22");
    assert_string_equal(canon("<1>1 2016-12-31T23:59:59.1234567Z - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 31");
    assert_string_equal(canon("<1>1 2016-12-31t23:59:59Z - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 15");
    assert_string_equal(canon("<1>1 2019-02-29T00:00:00Z - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 13");
    assert_string_equal(canon("<1>1 1900-02-29T00:00:00Z - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 13");
    assert_string_equal(canon("<1>1 2000-02-29T00:00:00+23:59 - - - - -"),
                        "{\"syslog\":{\"facility\":0,\"severity\":1,"
                        "\"timestamp\":\"2000-02-29T00:00:00+23:59\","
                        "\"version\":1}}");
    assert_string_equal(canon("<1>1 2000-02-29T00:00:00+24:00 - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 25");
    assert_string_equal(canon("<1>1 2000-02-29T00:00:00 - - - - -"),
                        "ERR: RFC 5424 TIMESTAMP: invalid at byte 24");
    /* Header fields: empty, too long, not printable US-ASCII. */
    assert_string_equal(canon("<1>1 -  - - - -"),
                        "ERR: RFC 5424 HOSTNAME: expected printable US-ASCII "
                        "or '-' at byte 7");
    assert_string_equal(canon("<1>1 - - 0123456789012345678901234567890123456"
                              "789012345678 - - -"),
                        "ERR: RFC 5424 APP-NAME: longer than 48 characters at "
                        "byte 57");
    assert_string_equal(canon("<1>1 - - - - 0123456789012345678901234567890123"
                              " -"),
                        "ERR: RFC 5424 MSGID: longer than 32 characters at "
                        "byte 45");
    assert_string_equal(canon("<1>1 - h\xc3\xa9 - - - -"),
                        "ERR: RFC 5424: expected SP after HOSTNAME at byte 8");
    assert_string_equal(canon("<1>1 - - - -"),
                        "ERR: RFC 5424: expected SP after PROCID at byte 12");
    assert_string_equal(canon("<1>1 - - - - - "),
                        "ERR: RFC 5424 STRUCTURED-DATA: expected '-' or '[' at "
                        "byte 15");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_sd),
        cmocka_unit_test(test_json_message),
        cmocka_unit_test(test_client_syslog),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_real_clients),
        cmocka_unit_test(test_3164_forms),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
