/*
 * RFC 8785 (JCS) canonical serialization of json-c trees.
 *
 * Departure (DESIGN section 6): json-c int64 and uint64 integers are written
 * with all their digits, never rounded through a double.  Doubles follow
 * ECMAScript Number.prototype.toString: the shortest digits that round-trip
 * (found by trying "%.*e" precisions 1..17 with strtod), laid out per ES6
 * (exponent form at >= 1e21 or < 1e-6, -0 written "0").  Integral doubles
 * below 2^53 take a fast path (their shortest digits are their digits).
 * Object members are sorted by UTF-16 code units: UTF-8 byte order equals
 * code point order, which differs from UTF-16 order only between U+E000..
 * U+FFFF (lead bytes 0xEE, 0xEF) and supplementary planes (0xF0..0xF4).
 * Strings get the minimal JCS escapes and are checked to be UTF-8.
 *
 * Owns nothing between calls.  Invariant: on failure out->len is restored.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jcs.h"
#include "mem.h"
#include "swar.h"
#include "utf8.h"

/* Members sorted on the stack up to this count, on the heap beyond. */
#define JCS_STACK_MEMBERS 32

struct jcs_member {
    uint64_t pre; /* jcs_prefix of key */
    const char *key;
    size_t len;
    struct json_object *val;
};

/* Where a member absent from an object would go (as_jcs_write_gap). */
struct jcs_gap {
    struct jcs_member key;
    size_t off;
    enum as_jcs_gap_sep sep;
    bool found;
};

static int jcs_value(struct as_buf *out, struct json_object *obj,
                     const struct json_object *mark, size_t *mark_off);

/* Writes the decimal digits of v (backwards) ending at end; returns start. */
static char *
jcs_utoa(uint64_t v, char *end)
{
    do {
        *--end = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

int
as_jcs_uint64(struct as_buf *out, uint64_t v)
{
    char num[24], *end = num + sizeof(num), *s = jcs_utoa(v, end);

    return as_buf_put(out, s, (size_t) (end - s));
}

int
as_jcs_int64(struct as_buf *out, int64_t v)
{
    char num[24], *end = num + sizeof(num), *s;

    if (v >= 0) {
        return as_jcs_uint64(out, (uint64_t) v);
    }
    s = jcs_utoa((uint64_t) 0 - (uint64_t) v, end);
    *--s = '-';
    return as_buf_put(out, s, (size_t) (end - s));
}

int
as_jcs_number(double d, char out[32])
{
    char tmp[40], digits[20];
    int prec, k = 0, n, e, len = 0;
    char *p;

    if (isnan(d) || isinf(d)) {
        return AS_ERR_INVALID;
    }
    if (d == 0) {
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    if (d < 0) {
        out[len++] = '-';
        d = -d;
    }
    if (d < 9007199254740992.0 && d == floor(d)) {
        char num[24];
        char *s = jcs_utoa((uint64_t) d, num + sizeof(num));
        size_t sl = (size_t) (num + sizeof(num) - s);

        memcpy(out + len, s, sl);
        len += (int) sl;
        out[len] = '\0';
        return len;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
        if (strtod(tmp, NULL) == d) {
            break;
        }
    }
    /* tmp is "D.DDDDe[+-]XX" or "De[+-]XX". */
    p = tmp;
    while (*p != 'e') {
        if (*p != '.') {
            digits[k++] = *p;
        }
        p++;
    }
    e = atoi(p + 1);
    while (k > 1 && digits[k - 1] == '0') {
        k--;
    }
    n = e + 1; /* value = 0.DIGITS x 10^n */
    if (k <= n && n <= 21) {
        memcpy(out + len, digits, (size_t) k);
        len += k;
        for (int i = k; i < n; i++) {
            out[len++] = '0';
        }
    } else if (0 < n && n <= 21) {
        memcpy(out + len, digits, (size_t) n);
        len += n;
        out[len++] = '.';
        memcpy(out + len, digits + n, (size_t) (k - n));
        len += k - n;
    } else if (-6 < n && n <= 0) {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -n; i++) {
            out[len++] = '0';
        }
        memcpy(out + len, digits, (size_t) k);
        len += k;
    } else {
        out[len++] = digits[0];
        if (k > 1) {
            out[len++] = '.';
            memcpy(out + len, digits + 1, (size_t) (k - 1));
            len += k - 1;
        }
        len += snprintf(out + len, (size_t) (32 - len), "e%c%d",
                        n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    out[len] = '\0';
    return len;
}

/*
 * The byte after '\\' for the escapes with a short form; 0 for the other
 * control characters, written \u00XX.
 */
static const char jcs_short_escape[0x60] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',  ['\f'] = 'f',
    ['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\',
};

/*
 * Writes the escape of the ASCII byte c (a control character, '"' or '\\')
 * at w; returns the bytes written.
 */
static size_t
jcs_escape(unsigned char c, char *w)
{
    static const char hex[] = "0123456789abcdef";

    w[0] = '\\';
    if (jcs_short_escape[c] != 0) {
        w[1] = jcs_short_escape[c];
        return 2;
    }
    memcpy(w + 1, "u00", 3);
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    return 6;
}

/*
 * Writes s (len bytes) as a JCS string literal at w and returns its end,
 * or NULL when s is not UTF-8.  The caller has reserved 6 * len + 2 bytes
 * at w (the worst case) plus the NUL after them.
 *
 * Eight bytes at a time: each word is stored at w before it is looked at,
 * then i and w move past its plain bytes only, up to the first byte that
 * needs attention.  The store always has room: w is at most 1 + 6 * i
 * bytes into the reserved space while a byte of s is left, so 8 bytes fit;
 * what it writes past the plain bytes is overwritten or lies past the
 * NUL.  The last 1..7 bytes are loaded without reading past s + len, the
 * word's free high bytes made spaces (plain).
 *
 * Forced inline into its two callers: for the short names and values most
 * members have, the call and its register saves cost as much as the copy.
 */
static inline __attribute__((always_inline)) char *
jcs_string_at(char *w, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0;

    *w++ = '"';
    while (i < len) {
        size_t n = len - i, k;
        uint64_t v, m;

        if (n >= 8) {
            v = as_swar_load(u + i);
            n = 8;
        } else {
            v = as_swar_load_short(u + i, n) | (AS_SWAR_ONES * ' ') << (8 * n);
        }
        as_swar_store(w, v);
        if ((m = as_swar_special(v)) == 0) {
            i += n;
            w += n;
            continue;
        }
        k = as_swar_first(m);
        i += k;
        w += k;
        if (u[i] < 0x80) {
            w += jcs_escape(u[i], w);
            i++;
            continue;
        }
        if ((n = as_utf8_seq(u + i, len - i)) == 0) {
            return NULL;
        }
        for (k = 0; k < n; k++) {
            *w++ = (char) u[i++];
        }
    }
    *w++ = '"';
    return w;
}

/*
 * as_jcs_string when the worst case does not fit under out->max: the
 * string is written to a scratch buffer, and copied if its real form fits.
 */
static int
jcs_string_bounded(struct as_buf *out, const char *s, size_t len, int r)
{
    struct as_buf tmp = AS_BUF_INIT;

    if (out->max == 0) {
        return r;
    }
    if ((r = as_jcs_string(&tmp, s, len)) == 0) {
        r = as_buf_put(out, tmp.data, tmp.len);
    }
    as_buf_free(&tmp);
    return r;
}

int
as_jcs_string(struct as_buf *out, const char *s, size_t len)
{
    char *w;
    int r;

    if (len > ((size_t) -1 - 2) / 6) {
        return AS_ERR_TOOBIG;
    }
    if ((r = as_buf_reserve(out, 6 * len + 2)) != 0) {
        return jcs_string_bounded(out, s, len, r);
    }
    if ((w = jcs_string_at(out->data + out->len, s, len)) == NULL) {
        out->data[out->len] = '\0';
        return AS_ERR_INVALID;
    }
    out->len = (size_t) (w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/*
 * Appends `,"key":` (the comma when comma is set) in one reservation; on a
 * bounded buffer where the worst case does not fit, piece by piece.
 */
static int
jcs_member_key(struct as_buf *out, const struct jcs_member *m, bool comma)
{
    char *w;
    int r;

    if (m->len <= ((size_t) -1 - 4) / 6 &&
        as_buf_reserve(out, 6 * m->len + 4) == 0) {
        /* jcs_string_at's room: 6 * len + 2 after the comma, then ':'. */
        w = out->data + out->len;
        if (comma) {
            *w++ = ',';
        }
        if ((w = jcs_string_at(w, m->key, m->len)) == NULL) {
            out->data[out->len] = '\0';
            return AS_ERR_INVALID;
        }
        *w++ = ':';
        out->len = (size_t) (w - out->data);
        out->data[out->len] = '\0';
        return 0;
    }
    if ((comma && (r = as_buf_putc(out, ',')) != 0) ||
        (r = as_jcs_string(out, m->key, m->len)) != 0) {
        return r;
    }
    return as_buf_putc(out, ':');
}

/* Compares member names by UTF-16 code units (see the file comment). */
static int
jcs_key_cmp(const void *pa, const void *pb)
{
    const struct jcs_member *ma = pa, *mb = pb;
    const unsigned char *a = (const unsigned char *) ma->key;
    const unsigned char *b = (const unsigned char *) mb->key;
    size_t n = ma->len < mb->len ? ma->len : mb->len, i = 0;

    while (i < n && a[i] == b[i]) {
        i++;
    }
    if (i == n) {
        return ma->len < mb->len ? -1 : ma->len > mb->len;
    }
    if ((a[i] == 0xee || a[i] == 0xef) && b[i] >= 0xf0) {
        return 1;
    }
    if ((b[i] == 0xee || b[i] == 0xef) && a[i] >= 0xf0) {
        return -1;
    }
    return a[i] < b[i] ? -1 : 1;
}

/*
 * The rank of a byte in UTF-16 order, for the first byte in which two
 * keys differ: itself, except that 0xEE and 0xEF (U+E000..U+FFFF) rank
 * above 0xF0..0xFF (supplementary planes, surrogates in UTF-16).  Ordering
 * by rank is what jcs_key_cmp does at the first difference.
 */
static inline unsigned char
jcs_rank(unsigned char c)
{
    if (c < 0xee) {
        return c;
    }
    return (unsigned char) (c >= 0xf0 ? c - 2 : c + 0x10);
}

/*
 * The ranks of the first 8 bytes of a key (len bytes, no NUL inside, as
 * json-c keys are C strings) as a big-endian number, zero-padded.  Two
 * keys whose prefixes differ compare as their prefixes do: the first
 * differing byte is among those 8, and a key that ends there pads with 0,
 * which ranks below every byte.  Equal prefixes need jcs_key_cmp.
 */
static inline uint64_t
jcs_prefix(const char *key, size_t len)
{
    const unsigned char *u = (const unsigned char *) key;
    uint64_t v, r = 0;

    if (len == 0) {
        return 0;
    }
    v = len >= 8 ? as_swar_load(u) : as_swar_load_short(u, len);
    if ((v & AS_SWAR_HIGH) != 0) {
        for (int i = 0; i < 8; i++) {
            r |= (uint64_t) jcs_rank((unsigned char) (v >> (8 * i))) << (8 * i);
        }
        v = r;
    }
    return __builtin_bswap64(v); /* the first byte most significant */
}

/* jcs_key_cmp, deciding on the prefixes when they differ. */
static inline int
jcs_member_cmp(const struct jcs_member *a, const struct jcs_member *b)
{
    if (a->pre != b->pre) {
        return a->pre < b->pre ? -1 : 1;
    }
    return jcs_key_cmp(a, b);
}

static int
jcs_member_qcmp(const void *pa, const void *pb)
{
    return jcs_member_cmp(pa, pb);
}

/* Notes the gap before member i of n (n: past the last member). */
static void
jcs_note_gap(struct jcs_gap *gap, const struct as_buf *out, size_t i, size_t n)
{
    gap->found = true;
    gap->off = out->len;
    if (i > 0) {
        gap->sep = AS_JCS_GAP_BEFORE;
    } else {
        gap->sep = n > 0 ? AS_JCS_GAP_AFTER : AS_JCS_GAP_NONE;
    }
}

/* gap: NULL, or a member name whose place in obj to note (top level). */
static int
jcs_object(struct as_buf *out, struct json_object *obj,
           const struct json_object *mark, size_t *mark_off,
           struct jcs_gap *gap)
{
    struct jcs_member stack[JCS_STACK_MEMBERS], *m = stack;
    struct lh_table *t = json_object_get_object(obj);
    struct lh_entry *e;
    size_t n = 0, count = (size_t) t->count;
    int r = 0;

    if (count > JCS_STACK_MEMBERS) {
        m = as_reallocarray(NULL, count, sizeof(*m));
    }
    for (e = t->head; e != NULL && n < count; e = e->next) {
        m[n].key = (const char *) lh_entry_k(e);
        m[n].len = strlen(m[n].key);
        m[n].pre = jcs_prefix(m[n].key, m[n].len);
        m[n].val = (struct json_object *) lh_entry_v(e);
        n++;
    }
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            struct jcs_member x = m[i];
            size_t j = i;

            while (j > 0 && jcs_member_cmp(&m[j - 1], &x) > 0) {
                m[j] = m[j - 1];
                j--;
            }
            m[j] = x;
        }
    } else {
        qsort(m, n, sizeof(*m), jcs_member_qcmp);
    }
    if ((r = as_buf_putc(out, '{')) != 0) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (gap != NULL && !gap->found) {
            int c = jcs_member_cmp(&gap->key, &m[i]);

            if (c == 0) {
                r = AS_ERR_INVALID; /* the member is already there */
                goto out;
            }
            if (c < 0) {
                jcs_note_gap(gap, out, i, n);
            }
        }
        if ((r = jcs_member_key(out, &m[i], i > 0)) != 0 ||
            (r = jcs_value(out, m[i].val, mark, mark_off)) != 0) {
            goto out;
        }
    }
    if (gap != NULL && !gap->found) {
        jcs_note_gap(gap, out, n, n);
    }
    r = as_buf_putc(out, '}');
out:
    if (m != stack) {
        free(m);
    }
    return r;
}

static int
jcs_value(struct as_buf *out, struct json_object *obj,
          const struct json_object *mark, size_t *mark_off)
{
    char num[32];
    int n, r;

    if (obj != NULL && obj == mark && mark_off != NULL) {
        *mark_off = out->len;
    }
    switch (json_object_get_type(obj)) {
    case json_type_null:
        return as_buf_put(out, "null", 4);
    case json_type_boolean:
        return json_object_get_boolean(obj) ? as_buf_put(out, "true", 4)
                                            : as_buf_put(out, "false", 5);
    case json_type_int: {
        int64_t i = json_object_get_int64(obj);

        if (i == INT64_MAX) {
            /* json-c saturates uint64 values above INT64_MAX here. */
            return as_jcs_uint64(out, json_object_get_uint64(obj));
        }
        return as_jcs_int64(out, i);
    }
    case json_type_double:
        if ((n = as_jcs_number(json_object_get_double(obj), num)) < 0) {
            return n;
        }
        return as_buf_put(out, num, (size_t) n);
    case json_type_string:
        return as_jcs_string(out, json_object_get_string(obj),
                             (size_t) json_object_get_string_len(obj));
    case json_type_array: {
        size_t len = json_object_array_length(obj);

        if ((r = as_buf_putc(out, '[')) != 0) {
            return r;
        }
        for (size_t i = 0; i < len; i++) {
            if (i > 0 && (r = as_buf_putc(out, ',')) != 0) {
                return r;
            }
            if ((r = jcs_value(out, json_object_array_get_idx(obj, i), mark,
                               mark_off)) != 0) {
                return r;
            }
        }
        return as_buf_putc(out, ']');
    }
    case json_type_object:
        return jcs_object(out, obj, mark, mark_off, NULL);
    }
    return AS_ERR_INVALID;
}

int
as_jcs_write_mark(struct as_buf *out, struct json_object *obj,
                  const struct json_object *mark, size_t *mark_off)
{
    size_t olen = out->len;
    int r;

    if ((r = jcs_value(out, obj, mark, mark_off)) != 0) {
        out->len = olen;
        if (out->data != NULL) {
            out->data[olen] = '\0';
        }
    }
    return r;
}

int
as_jcs_write_gap(struct as_buf *out, struct json_object *obj, const char *key,
                 size_t *gap_off, enum as_jcs_gap_sep *sep)
{
    struct jcs_gap gap;
    size_t olen = out->len;
    int r;

    if (!json_object_is_type(obj, json_type_object)) {
        return AS_ERR_INVALID;
    }
    memset(&gap, 0, sizeof(gap));
    gap.key.key = key;
    gap.key.len = strlen(key);
    gap.key.pre = jcs_prefix(key, gap.key.len);
    if ((r = jcs_object(out, obj, NULL, NULL, &gap)) != 0) {
        out->len = olen;
        if (out->data != NULL) {
            out->data[olen] = '\0';
        }
        return r;
    }
    *gap_off = gap.off;
    *sep = gap.sep;
    return 0;
}

int
as_jcs_write(struct as_buf *out, struct json_object *obj)
{
    return as_jcs_write_mark(out, obj, NULL, NULL);
}
