/*
 * The `json` decoder: one NDJSON line -> a json-c tree, without altering a
 * value.
 *
 * json-c 0.16 parses (strict mode, UTF-8 validation, depth
 * AS_JSON_MAX_DEPTH).  After a successful parse, one pass over the raw bytes
 * (json_scan) catches what json-c changes silently:
 *   - lone UTF-16 surrogate escapes ("\ud800" alone, or a low surrogate
 *     without a high one) are rejected: json-c would store U+FFFD;
 *   - "\u0000" inside a member name is rejected: json-c keeps names as C
 *     strings and would cut the name there;
 *   - integers beyond 64 bits become doubles (the JCS form) instead of
 *     json-c's saturated INT64_MIN / UINT64_MAX (json_fix, the slow path,
 *     runs only when such an integer exists);
 *   - numbers that overflow a double (1e400) are rejected: JCS cannot write
 *     them;
 *   - what json-c 0.16 accepts even in strict mode is rejected: NaN,
 *     Infinity, numbers outside the RFC 8259 grammar (-01, 2., .5),
 *     unescaped control characters in strings, single quotes, overlong or
 *     surrogate UTF-8 sequences.
 * The one JSONTestSuite y_ case rejected: a member name containing \u0000
 * (y_object_escaped_null_in_key): json-c cannot hold it, and accepting it
 * would alter the name.
 * Decisions (documented in json.h and here): a byte order mark at the start
 * is rejected (RFC 8259 section 8.1 forbids sending one, and NDJSON lines
 * never start with one); duplicate member names keep the last value, as
 * ECMAScript JSON.parse does; trailing JSON whitespace is allowed.
 *
 * Owns nothing between calls: pure function, no globals, fuzzable.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/swar.h"
#include "core/utf8.h"
#include "json.h"

static bool
json_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
json_hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    return v;
}

/*
 * An integer token (digits only, optional '-') that does not fit in 64
 * bits: above UINT64_MAX, or below INT64_MIN.
 */
static bool
json_int_overflows(const char *p, size_t n)
{
    static const char umax[] = "18446744073709551615";
    static const char imin[] = "9223372036854775808";
    const char *lim = umax;
    size_t lim_len = sizeof(umax) - 1;

    if (*p == '-') {
        p++;
        n--;
        lim = imin;
        lim_len = sizeof(imin) - 1;
    }
    if (n != lim_len) {
        return n > lim_len;
    }
    return memcmp(p, lim, n) > 0;
}

/* strtod over a token that is not NUL-terminated. */
static double
json_strtod(const char *p, size_t n)
{
    char small[64];
    char *s = n < sizeof(small) ? small : as_malloc(n + 1);
    double d;

    memcpy(s, p, n);
    s[n] = '\0';
    d = strtod(s, NULL);
    if (s != small) {
        free(s);
    }
    return d;
}

/* RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? exactly. */
static bool
json_num_valid(const char *p, size_t n)
{
    size_t i = 0, d;

    if (i < n && p[i] == '-') {
        i++;
    }
    if (i >= n) {
        return false;
    }
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    } else {
        return false;
    }
    if (i < n && p[i] == '.') {
        i++;
        for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; d++) {
            i++;
        }
        if (d == 0) {
            return false;
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; d++) {
            i++;
        }
        if (d == 0) {
            return false;
        }
    }
    return i == n;
}

/* Length of the number token at p (within end). */
static size_t
json_num_len(const char *p, const char *end, bool *is_int)
{
    const char *q = p;

    *is_int = true;
    while (q < end) {
        char c = *q;

        if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
            q++;
        } else if (c == '.' || c == 'e' || c == 'E') {
            *is_int = false;
            q++;
        } else {
            break;
        }
    }
    return (size_t) (q - p);
}

/*
 * The cheap pass over a document json-c accepted.  Returns 0, or
 * AS_ERR_PARSE with err set.  Sets *need_fix when an integer needs the
 * slow path.
 */
static int
json_scan(const char *buf, size_t len, bool *need_fix, struct as_error *err)
{
    const char *p = buf, *end = buf + len;

    *need_fix = false;
    while (p < end) {
        char c = *p;

        if (c == '"') {
            const char *start = p;
            bool has_nul = false;

            p++;
            while (p < end && *p != '"') {
                int u, u2;

                /* Runs of plain ASCII, eight bytes at a time. */
                if (end - p >= 8) {
                    unsigned k = as_swar_plain_run8((const unsigned char *) p);

                    p += k;
                    if (k == 8) {
                        continue;
                    }
                    if (*p == '"') {
                        break;
                    }
                }
                if ((unsigned char) *p >= 0x80) {
                    size_t n = as_utf8_seq((const unsigned char *) p,
                                           (size_t) (end - p));

                    if (n == 0) {
                        as_error_set(err, "invalid UTF-8 at byte %zu",
                                     (size_t) (p - buf));
                        return AS_ERR_PARSE;
                    }
                    p += n;
                    continue;
                }
                if ((unsigned char) *p < 0x20) {
                    as_error_set(err, "unescaped control character at byte %zu",
                                 (size_t) (p - buf));
                    return AS_ERR_PARSE;
                }
                if (*p != '\\') {
                    p++;
                    continue;
                }
                if (p + 1 < end && p[1] != 'u') {
                    p += 2;
                    continue;
                }
                if (end - p < 6 || (u = json_hex4(p + 2)) < 0) {
                    as_error_set(err, "bad \\u escape at byte %zu",
                                 (size_t) (p - buf));
                    return AS_ERR_PARSE;
                }
                if (u == 0) {
                    has_nul = true;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    as_error_set(err, "lone low surrogate escape at byte %zu",
                                 (size_t) (p - buf));
                    return AS_ERR_PARSE;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
                        (u2 = json_hex4(p + 8)) < 0xdc00 || u2 > 0xdfff) {
                        as_error_set(err,
                                     "lone high surrogate escape at byte %zu",
                                     (size_t) (p - buf));
                        return AS_ERR_PARSE;
                    }
                    p += 6;
                }
                p += 6;
            }
            p++;
            if (has_nul) {
                const char *q = p;

                while (q < end && json_is_ws(*q)) {
                    q++;
                }
                if (q < end && *q == ':') {
                    as_error_set(err, "\\u0000 in a member name at byte %zu",
                                 (size_t) (start - buf));
                    return AS_ERR_PARSE;
                }
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            bool is_int;
            size_t n = json_num_len(p, end, &is_int);

            if (!json_num_valid(p, n)) {
                as_error_set(err, "invalid number at byte %zu",
                             (size_t) (p - buf));
                return AS_ERR_PARSE;
            }
            if (is_int ? (n >= 19 && json_int_overflows(p, n))
                       : (n > 300 || memchr(p, 'e', n) != NULL ||
                          memchr(p, 'E', n) != NULL)) {
                double d = json_strtod(p, n);

                if (isinf(d)) {
                    as_error_set(err, "number out of double range at byte %zu",
                                 (size_t) (p - buf));
                    return AS_ERR_PARSE;
                }
                if (is_int) {
                    *need_fix = true;
                }
            }
            p += n;
        } else if (c >= 'a' && c <= 'z') {
            const char *w = p;

            while (p < end &&
                   ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
                p++;
            }
            if (!((p - w == 4 &&
                   (memcmp(w, "true", 4) == 0 || memcmp(w, "null", 4) == 0)) ||
                  (p - w == 5 && memcmp(w, "false", 5) == 0))) {
                as_error_set(err, "invalid literal at byte %zu",
                             (size_t) (w - buf));
                return AS_ERR_PARSE;
            }
        } else if (json_is_ws(c) || c == '{' || c == '}' || c == '[' ||
                   c == ']' || c == ',' || c == ':') {
            p++;
        } else {
            as_error_set(err, "unexpected character at byte %zu",
                         (size_t) (p - buf));
            return AS_ERR_PARSE;
        }
    }
    return 0;
}

/* Skips one (valid) JSON string at *pos. */
static void
json_skip_string(const char *buf, size_t len, size_t *pos)
{
    size_t i = *pos + 1;

    while (i < len && buf[i] != '"') {
        i += buf[i] == '\\' ? 2 : 1;
    }
    *pos = i + 1;
}

static void
json_skip_ws(const char *buf, size_t len, size_t *pos)
{
    while (*pos < len && json_is_ws(buf[*pos])) {
        (*pos)++;
    }
}

/* Skips one (valid) JSON value at *pos. */
static void
json_skip_value(const char *buf, size_t len, size_t *pos)
{
    int depth = 0;

    do {
        char c;

        json_skip_ws(buf, len, pos);
        if (*pos >= len) {
            return;
        }
        c = buf[*pos];
        if (c == '"') {
            json_skip_string(buf, len, pos);
        } else if (c == '{' || c == '[') {
            depth++;
            (*pos)++;
        } else if (c == '}' || c == ']') {
            depth--;
            (*pos)++;
        } else if (c == ',' || c == ':') {
            (*pos)++;
        } else {
            while (*pos < len && !json_is_ws(buf[*pos]) && buf[*pos] != ',' &&
                   buf[*pos] != ']' && buf[*pos] != '}') {
                (*pos)++;
            }
        }
    } while (depth > 0);
}

struct json_member {
    char *key;
    size_t val;
};

/*
 * The slow path: walks the raw bytes and the tree together and replaces
 * every saturated integer that overflowed 64 bits by a double.  For
 * duplicate member names only the last occurrence (the one json-c kept) is
 * visited.  Returns the replacement for node, or NULL when unchanged.
 */
static struct json_object *
json_fix(const char *buf, size_t len, size_t *pos, struct json_object *node)
{
    char c;

    json_skip_ws(buf, len, pos);
    c = buf[*pos];
    if (c == '[') {
        size_t idx = 0;

        (*pos)++;
        for (;;) {
            struct json_object *rep;

            json_skip_ws(buf, len, pos);
            if (buf[*pos] == ']') {
                (*pos)++;
                break;
            }
            rep = json_fix(buf, len, pos, json_object_array_get_idx(node, idx));
            if (rep != NULL) {
                json_object_array_put_idx(node, idx, rep);
            }
            idx++;
            json_skip_ws(buf, len, pos);
            if (buf[*pos] == ',') {
                (*pos)++;
            }
        }
        return NULL;
    }
    if (c == '{') {
        struct json_member *m = NULL;
        size_t n = 0, cap = 0;
        struct json_object *seen = json_object_new_object();

        (*pos)++;
        for (;;) {
            size_t kstart;
            struct json_object *ks;
            enum json_tokener_error kerr;
            char *kraw;

            json_skip_ws(buf, len, pos);
            if (buf[*pos] == '}') {
                (*pos)++;
                break;
            }
            kstart = *pos;
            json_skip_string(buf, len, pos);
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                m = as_reallocarray(m, cap, sizeof(*m));
            }
            /* json-c unescapes the name exactly as it did for the tree. */
            kraw = as_strndup(buf + kstart, *pos - kstart);
            ks = json_tokener_parse_verbose(kraw, &kerr);
            free(kraw);
            m[n].key = NULL;
            if (ks != NULL) {
                m[n].key = as_strdup(json_object_get_string(ks));
                json_object_put(ks);
            }
            json_skip_ws(buf, len, pos);
            (*pos)++; /* ':' */
            json_skip_ws(buf, len, pos);
            m[n].val = *pos;
            n++;
            json_skip_value(buf, len, pos);
            json_skip_ws(buf, len, pos);
            if (buf[*pos] == ',') {
                (*pos)++;
            }
        }
        for (size_t i = n; i-- > 0;) {
            size_t vp = m[i].val;
            struct json_object *rep;

            if (m[i].key == NULL ||
                json_object_object_get_ex(seen, m[i].key, NULL)) {
                continue;
            }
            json_object_object_add(seen, m[i].key, NULL);
            rep =
                json_fix(buf, len, &vp, json_object_object_get(node, m[i].key));
            if (rep != NULL) {
                json_object_object_add(node, m[i].key, rep);
            }
        }
        for (size_t i = 0; i < n; i++) {
            free(m[i].key);
        }
        free(m);
        json_object_put(seen);
        return NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        bool is_int;
        size_t n = json_num_len(buf + *pos, buf + len, &is_int);
        size_t start = *pos;

        *pos += n;
        if (is_int && json_int_overflows(buf + start, n) &&
            json_object_is_type(node, json_type_int)) {
            return json_object_new_double(json_strtod(buf + start, n));
        }
        return NULL;
    }
    json_skip_value(buf, len, pos);
    return NULL;
}

/*
 * The calling thread's tokener (see as_parse_json).  The key's destructor
 * frees it when a worker thread exits; the main thread's stays reachable
 * until exit.
 */
static _Thread_local struct json_tokener *json_tok_cache;
static pthread_key_t json_tok_key;
static pthread_once_t json_tok_once = PTHREAD_ONCE_INIT;

static void
json_tok_free(void *tok)
{
    json_tokener_free(tok);
}

static void
json_tok_key_init(void)
{
    if (pthread_key_create(&json_tok_key, json_tok_free) != 0) {
        as_fatalx("pthread_key_create failed");
    }
}

int
as_parse_json(const char *buf, size_t len, struct json_object **out,
              struct as_error *err)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end, pos;
    bool need_fix;
    int r = AS_ERR_PARSE;

    *out = NULL;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        as_error_set(err, "byte order mark at byte 0");
        return AS_ERR_PARSE;
    }
    if (len > (size_t) INT32_MAX) {
        as_error_set(err, "document too large");
        return AS_ERR_TOOBIG;
    }
    /* One tokener per thread, reset between documents: creating one costs
     * more than parsing a small event. */
    if (json_tok_cache == NULL) {
        json_tok_cache = json_tokener_new_ex(AS_JSON_MAX_DEPTH);
        if (json_tok_cache == NULL) {
            as_fatalx("json_tokener_new_ex: out of memory");
        }
        pthread_once(&json_tok_once, json_tok_key_init);
        pthread_setspecific(json_tok_key, json_tok_cache);
    }
    tok = json_tok_cache;
    json_tokener_reset(tok);
    /* No JSON_TOKENER_VALIDATE_UTF8: json_scan validates UTF-8 more
     * strictly (overlongs, surrogates) in the same pass as its other
     * checks, and rejects the document before anyone uses it. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                    JSON_TOKENER_ALLOW_TRAILING_CHARS);
    obj = json_tokener_parse_ex(tok, buf, (int) len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (obj == NULL && jerr == json_tokener_continue) {
        /* The value may end at the buffer's end (a bare number): a NUL
         * byte tells json-c the input is over. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (obj == NULL && jerr == json_tokener_continue) {
            as_error_set(err, "unexpected end of input at byte %zu", len);
            goto out;
        }
        end = len;
    }
    if (obj == NULL && jerr != json_tokener_success) {
        as_error_set(err, "%s at byte %zu", json_tokener_error_desc(jerr),
                     end > 0 ? end - 1 : 0);
        goto out;
    }
    if (end > len) {
        end = len;
    }
    for (pos = end; pos < len; pos++) {
        if (!json_is_ws(buf[pos])) {
            as_error_set(err, "trailing data at byte %zu", pos);
            goto out;
        }
    }
    if ((r = json_scan(buf, end, &need_fix, err)) != 0) {
        goto out;
    }
    if (need_fix) {
        struct json_object *rep;

        pos = 0;
        rep = json_fix(buf, end, &pos, obj);
        if (rep != NULL) {
            json_object_put(obj);
            obj = rep;
        }
    }
    *out = obj;
    obj = NULL;
    r = 0;
out:
    json_object_put(obj);
    json_tokener_reset(tok);
    return r;
}
