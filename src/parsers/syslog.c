/*
 * The `syslog` decoder: RFC 5424 and RFC 3164 messages -> a json-c event
 * (syslog.h says which forms are accepted and what the event looks like).
 *
 * One pass over the bytes: PRI, then either the RFC 5424 header (checked
 * strictly, every field against its ABNF) or the RFC 3164 header (read
 * liberally, nothing in it is an error), kept as slices of the input in a
 * struct syslog_msg; STRUCTURED-DATA becomes json-c objects while it is read.
 * Then MSG is checked for UTF-8, tried as a JSON object through
 * as_parse_json (JSON is never parsed here), and the event is built.
 *
 * Error offsets are 0-based byte offsets into the caller's buffer.
 *
 * Owns nothing between calls: pure function, no globals, fuzzable.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "json.h"
#include "syslog.h"

#define SYSLOG_HOSTNAME_MAX 255
#define SYSLOG_APPNAME_MAX  48
#define SYSLOG_PROCID_MAX   128
#define SYSLOG_MSGID_MAX    32
#define SYSLOG_SDNAME_MAX   32

/* A slice of the input; p == NULL when absent or NILVALUE. */
struct syslog_str {
    const char *p;
    size_t n;
};

/* One message's header, as slices of the input buffer. */
struct syslog_msg {
    int pri;
    int version; /* 0: RFC 3164 */
    struct syslog_str ts, host, app, procid, msgid;
    struct json_object *sd; /* owned; NULL when there is none */
    bool has_msg;
    size_t msg_off, msg_len;
};

static bool
syslog_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 5424 PRINTUSASCII: %d33-126. */
static bool
syslog_print(char c)
{
    return (unsigned char) c >= 33 && (unsigned char) c <= 126;
}

/* The value of the k decimal digits at p (checked by the caller). */
static int
syslog_num(const char *p, size_t k)
{
    int v = 0;

    for (size_t i = 0; i < k; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* PRI: "<" 1*3DIGIT ">", 0-191, no leading zero.  Sets *pos past '>'. */
static int
syslog_pri(const char *buf, size_t n, size_t *pos, int *pri,
           struct as_error *err)
{
    size_t i = 1;

    if (n == 0 || buf[0] != '<') {
        as_error_set(err, "missing PRI: expected '<' at byte 0");
        return AS_ERR_PARSE;
    }
    while (i < n && syslog_digit(buf[i]) && i <= 3) {
        i++;
    }
    if (i == 1) {
        as_error_set(err, "PRI: expected a number 0-191 at byte 1");
        return AS_ERR_PARSE;
    }
    if (i < n && syslog_digit(buf[i])) {
        as_error_set(err, "PRI: more than 3 digits at byte %zu", i);
        return AS_ERR_PARSE;
    }
    if (buf[1] == '0' && i > 2) {
        as_error_set(err, "PRI: leading zero at byte 1");
        return AS_ERR_PARSE;
    }
    if (i >= n || buf[i] != '>') {
        as_error_set(err, "PRI: expected '>' at byte %zu", i);
        return AS_ERR_PARSE;
    }
    *pri = syslog_num(buf + 1, i - 1);
    if (*pri > 191) {
        as_error_set(err, "PRI: %d is out of range 0-191 at byte 1", *pri);
        return AS_ERR_PARSE;
    }
    *pos = i + 1;
    return 0;
}

static int
syslog_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
        return 29;
    }
    return days[m - 1];
}

/*
 * Length of the RFC 3339 date-time at buf[pos..n) (FULL-DATE "T" FULL-TIME
 * with upper-case "T" and "Z", at most maxfrac fraction digits, seconds
 * 00-59), or 0 with *bad = offset of the first byte that does not fit.
 */
static size_t
syslog_rfc3339(const char *buf, size_t n, size_t pos, size_t maxfrac,
               size_t *bad)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    const char *p = buf + pos;
    size_t i = pos, k;
    int y, mo;

    for (k = 0; k < sizeof(pat) - 1; k++, i++) {
        if (i >= n ||
            (pat[k] == 'd' ? !syslog_digit(buf[i]) : buf[i] != pat[k])) {
            *bad = i;
            return 0;
        }
    }
    y = syslog_num(p, 4);
    mo = syslog_num(p + 5, 2);
    if (mo < 1 || mo > 12) {
        *bad = pos + 5;
        return 0;
    }
    if (syslog_num(p + 8, 2) < 1 ||
        syslog_num(p + 8, 2) > syslog_days_in_month(y, mo)) {
        *bad = pos + 8;
        return 0;
    }
    if (syslog_num(p + 11, 2) > 23) {
        *bad = pos + 11;
        return 0;
    }
    if (syslog_num(p + 14, 2) > 59) {
        *bad = pos + 14;
        return 0;
    }
    if (syslog_num(p + 17, 2) > 59) {
        *bad = pos + 17;
        return 0;
    }
    if (i < n && buf[i] == '.') {
        i++;
        for (k = 0; i < n && syslog_digit(buf[i]); k++, i++) {
            if (k == maxfrac) {
                *bad = i;
                return 0;
            }
        }
        if (k == 0) {
            *bad = i;
            return 0;
        }
    }
    if (i < n && buf[i] == 'Z') {
        return i + 1 - pos;
    }
    if (i >= n || (buf[i] != '+' && buf[i] != '-')) {
        *bad = i;
        return 0;
    }
    if (n - i < 6 || !syslog_digit(buf[i + 1]) || !syslog_digit(buf[i + 2]) ||
        buf[i + 3] != ':' || !syslog_digit(buf[i + 4]) ||
        !syslog_digit(buf[i + 5])) {
        *bad = i + 1;
        return 0;
    }
    if (syslog_num(buf + i + 1, 2) > 23) {
        *bad = i + 1;
        return 0;
    }
    if (syslog_num(buf + i + 4, 2) > 59) {
        *bad = i + 4;
        return 0;
    }
    return i + 6 - pos;
}

/* True when buf[pos..n) opens an RFC 3339 date: 4 digits and '-'. */
static bool
syslog_date_ahead(const char *buf, size_t n, size_t pos)
{
    return n - pos >= 5 && syslog_digit(buf[pos]) &&
           syslog_digit(buf[pos + 1]) && syslog_digit(buf[pos + 2]) &&
           syslog_digit(buf[pos + 3]) && buf[pos + 4] == '-';
}

/*
 * Length of the BSD timestamp "Mmm dd hh:mm:ss" at buf[pos..n) (day " d",
 * "d" or "dd"; an optional fraction of 1-9 digits), followed by SP or the
 * end, or 0 when there is none.
 */
static size_t
syslog_bsd_ts(const char *buf, size_t n, size_t pos)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    size_t i = pos, k;
    int day;

    if (n - pos < 14) {
        return 0;
    }
    for (k = 0; k < 12; k++) {
        if (memcmp(buf + i, months + 3 * k, 3) == 0) {
            break;
        }
    }
    if (k == 12 || buf[i + 3] != ' ') {
        return 0;
    }
    i += 4;
    if (buf[i] == ' ') {
        i++;
        if (!syslog_digit(buf[i])) {
            return 0;
        }
        day = buf[i++] - '0';
    } else if (syslog_digit(buf[i]) && syslog_digit(buf[i + 1])) {
        day = syslog_num(buf + i, 2);
        i += 2;
    } else if (syslog_digit(buf[i])) {
        day = buf[i++] - '0';
    } else {
        return 0;
    }
    if (day < 1 || day > 31 || n - i < 9 || buf[i] != ' ') {
        return 0;
    }
    i++;
    if (!syslog_digit(buf[i]) || !syslog_digit(buf[i + 1]) ||
        buf[i + 2] != ':' || !syslog_digit(buf[i + 3]) ||
        !syslog_digit(buf[i + 4]) || buf[i + 5] != ':' ||
        !syslog_digit(buf[i + 6]) || !syslog_digit(buf[i + 7]) ||
        syslog_num(buf + i, 2) > 23 || syslog_num(buf + i + 3, 2) > 59 ||
        syslog_num(buf + i + 6, 2) > 60) {
        return 0;
    }
    i += 8;
    if (i < n && buf[i] == '.') {
        for (k = 0, i++; i < n && syslog_digit(buf[i]); k++, i++) {
        }
        if (k == 0 || k > 9) {
            return 0;
        }
    }
    if (i < n && buf[i] != ' ') {
        return 0;
    }
    return i - pos;
}

/*
 * An RFC 5424 header field at *pos: NILVALUE or 1..max PRINTUSASCII,
 * followed by SP.  Sets *out (p NULL for NILVALUE) and *pos past the SP.
 */
static int
syslog_field(const char *buf, size_t n, size_t *pos, size_t max,
             const char *name, struct syslog_str *out, struct as_error *err)
{
    size_t s = *pos, i = s;

    while (i < n && syslog_print(buf[i])) {
        i++;
    }
    if (i == s) {
        as_error_set(err,
                     "RFC 5424 %s: expected printable US-ASCII or '-' at byte "
                     "%zu",
                     name, i);
        return AS_ERR_PARSE;
    }
    if (i - s > max) {
        as_error_set(err, "RFC 5424 %s: longer than %zu characters at byte %zu",
                     name, max, s + max);
        return AS_ERR_PARSE;
    }
    if (i >= n || buf[i] != ' ') {
        as_error_set(err, "RFC 5424: expected SP after %s at byte %zu", name,
                     i);
        return AS_ERR_PARSE;
    }
    out->p = i - s == 1 && buf[s] == '-' ? NULL : buf + s;
    out->n = i - s;
    *pos = i + 1;
    return 0;
}

/*
 * An SD-NAME (SD-ID or PARAM-NAME) at *pos into name (NUL-terminated):
 * 1-32 PRINTUSASCII except '=', SP, ']' and '"'.
 */
static int
syslog_sd_name(const char *buf, size_t n, size_t *pos, char *name,
               const char *what, struct as_error *err)
{
    size_t s = *pos, i = s;

    while (i < n && syslog_print(buf[i]) && buf[i] != '=' && buf[i] != ']' &&
           buf[i] != '"') {
        i++;
    }
    if (i == s) {
        as_error_set(err, "RFC 5424 %s: expected a name at byte %zu", what, i);
        return AS_ERR_PARSE;
    }
    if (i - s > SYSLOG_SDNAME_MAX) {
        as_error_set(err, "RFC 5424 %s: longer than %d characters at byte %zu",
                     what, SYSLOG_SDNAME_MAX, s + SYSLOG_SDNAME_MAX);
        return AS_ERR_PARSE;
    }
    memcpy(name, buf + s, i - s);
    name[i - s] = '\0';
    *pos = i;
    return 0;
}

/*
 * A quoted PARAM-VALUE at *pos (at its opening '"'): returns it decoded in
 * *val (a new json-c string).  '\' escapes '"', '\' and ']'; before any
 * other character it is an ordinary character (RFC 5424 section 6.3.3).
 */
static int
syslog_sd_value(const char *buf, size_t n, size_t *pos,
                struct json_object **val, struct as_error *err)
{
    size_t i = *pos, start, k;
    bool esc = false;
    char *tmp;

    if (i >= n || buf[i] != '"') {
        as_error_set(err, "RFC 5424 SD-PARAM: expected '\"' at byte %zu", i);
        return AS_ERR_PARSE;
    }
    start = ++i;
    while (i < n && buf[i] != '"') {
        if (buf[i] == '\\' && i + 1 < n &&
            (buf[i + 1] == '"' || buf[i + 1] == '\\' || buf[i + 1] == ']')) {
            esc = true;
            i += 2;
        } else if (buf[i] == ']') {
            as_error_set(err,
                         "RFC 5424 SD-PARAM: unescaped ']' in a value at byte "
                         "%zu",
                         i);
            return AS_ERR_PARSE;
        } else if ((unsigned char) buf[i] >= 0x80) {
            k = as_utf8_seq((const unsigned char *) buf + i, n - i);
            if (k == 0) {
                as_error_set(
                    err, "structured data is not valid UTF-8 at byte %zu", i);
                return AS_ERR_PARSE;
            }
            i += k;
        } else {
            i++;
        }
    }
    if (i >= n) {
        as_error_set(err, "RFC 5424 SD-PARAM: unterminated value at byte %zu",
                     n);
        return AS_ERR_PARSE;
    }
    *pos = i + 1;
    if (!esc) {
        *val = json_object_new_string_len(buf + start, (int) (i - start));
        return 0;
    }
    tmp = as_malloc(i - start);
    k = 0;
    for (size_t j = start; j < i; j++) {
        if (buf[j] == '\\' &&
            (buf[j + 1] == '"' || buf[j + 1] == '\\' || buf[j + 1] == ']')) {
            j++;
        }
        tmp[k++] = buf[j];
    }
    *val = json_object_new_string_len(tmp, (int) k);
    free(tmp);
    return 0;
}

/*
 * Adds PARAM-NAME name = val (taken) to an SD-ELEMENT: a repeated name
 * turns the value into an array of every value, in order.
 */
static void
syslog_sd_add(struct json_object *elem, const char *name,
              struct json_object *val)
{
    struct json_object *cur, *arr;

    if (!json_object_object_get_ex(elem, name, &cur)) {
        json_object_object_add(elem, name, val);
        return;
    }
    if (json_object_is_type(cur, json_type_array)) {
        json_object_array_add(cur, val);
        return;
    }
    arr = json_object_new_array();
    json_object_array_add(arr, json_object_get(cur));
    json_object_array_add(arr, val);
    json_object_object_add(elem, name, arr);
}

/*
 * STRUCTURED-DATA at *pos: NILVALUE (*out = NULL) or 1*SD-ELEMENT (*out a
 * new object {SD-ID: {PARAM-NAME: value}}).
 */
static int
syslog_sd(const char *buf, size_t n, size_t *pos, struct json_object **out,
          struct as_error *err)
{
    struct json_object *sd, *elem, *val;
    char id[SYSLOG_SDNAME_MAX + 1], name[SYSLOG_SDNAME_MAX + 1];
    size_t i = *pos, s;

    *out = NULL;
    if (i < n && buf[i] == '-') {
        *pos = i + 1;
        return 0;
    }
    if (i >= n || buf[i] != '[') {
        as_error_set(err,
                     "RFC 5424 STRUCTURED-DATA: expected '-' or '[' at byte "
                     "%zu",
                     i);
        return AS_ERR_PARSE;
    }
    sd = json_object_new_object();
    while (i < n && buf[i] == '[') {
        s = ++i;
        if (syslog_sd_name(buf, n, &i, id, "SD-ID", err) != 0) {
            goto fail;
        }
        if (json_object_object_get_ex(sd, id, NULL)) {
            as_error_set(err, "RFC 5424 SD-ID: duplicate \"%s\" at byte %zu",
                         id, s);
            goto fail;
        }
        elem = json_object_new_object();
        json_object_object_add(sd, id, elem);
        for (;;) {
            if (i < n && buf[i] == ']') {
                i++;
                break;
            }
            if (i >= n || buf[i] != ' ') {
                as_error_set(err,
                             "RFC 5424 SD-ELEMENT: expected SP or ']' at byte "
                             "%zu",
                             i);
                goto fail;
            }
            i++;
            if (syslog_sd_name(buf, n, &i, name, "PARAM-NAME", err) != 0) {
                goto fail;
            }
            if (i >= n || buf[i] != '=') {
                as_error_set(err, "RFC 5424 SD-PARAM: expected '=' at byte %zu",
                             i);
                goto fail;
            }
            i++;
            if (syslog_sd_value(buf, n, &i, &val, err) != 0) {
                goto fail;
            }
            syslog_sd_add(elem, name, val);
        }
    }
    *pos = i;
    *out = sd;
    return 0;
fail:
    json_object_put(sd);
    return AS_ERR_PARSE;
}

/* The RFC 5424 header from *pos (just past PRI), strictly. */
static int
syslog_parse_5424(const char *buf, size_t n, size_t pos, struct syslog_msg *m,
                  struct as_error *err)
{
    size_t i = pos, k, bad;

    while (i < n && syslog_digit(buf[i])) {
        i++;
    }
    if (buf[pos] == '0' || i - pos > 3) {
        as_error_set(err, "RFC 5424 VERSION: not in 1-999 at byte %zu", pos);
        return AS_ERR_PARSE;
    }
    if (i >= n || buf[i] != ' ') {
        as_error_set(err, "RFC 5424: expected SP after VERSION at byte %zu", i);
        return AS_ERR_PARSE;
    }
    m->version = syslog_num(buf + pos, i - pos);
    i++;
    if (i < n && buf[i] == '-') {
        i++;
    } else if ((k = syslog_rfc3339(buf, n, i, 6, &bad)) == 0) {
        as_error_set(err, "RFC 5424 TIMESTAMP: invalid at byte %zu", bad);
        return AS_ERR_PARSE;
    } else {
        m->ts.p = buf + i;
        m->ts.n = k;
        i += k;
    }
    if (i >= n || buf[i] != ' ') {
        as_error_set(err, "RFC 5424: expected SP after TIMESTAMP at byte %zu",
                     i);
        return AS_ERR_PARSE;
    }
    i++;
    if (syslog_field(buf, n, &i, SYSLOG_HOSTNAME_MAX, "HOSTNAME", &m->host,
                     err) != 0 ||
        syslog_field(buf, n, &i, SYSLOG_APPNAME_MAX, "APP-NAME", &m->app,
                     err) != 0 ||
        syslog_field(buf, n, &i, SYSLOG_PROCID_MAX, "PROCID", &m->procid,
                     err) != 0 ||
        syslog_field(buf, n, &i, SYSLOG_MSGID_MAX, "MSGID", &m->msgid, err) !=
            0 ||
        syslog_sd(buf, n, &i, &m->sd, err) != 0) {
        return AS_ERR_PARSE;
    }
    if (i == n) {
        return 0;
    }
    if (buf[i] != ' ') {
        as_error_set(
            err, "RFC 5424: expected SP after STRUCTURED-DATA at byte %zu", i);
        json_object_put(m->sd);
        m->sd = NULL;
        return AS_ERR_PARSE;
    }
    i++;
    if (n - i >= 3 && memcmp(buf + i, "\xef\xbb\xbf", 3) == 0) {
        i += 3;
    }
    m->has_msg = true;
    m->msg_off = i;
    m->msg_len = n - i;
    return 0;
}

/* End of the word at buf[pos..n): the next SP or n. */
static size_t
syslog_word_end(const char *buf, size_t n, size_t pos)
{
    const char *sp = memchr(buf + pos, ' ', n - pos);

    return sp != NULL ? (size_t) (sp - buf) : n;
}

/*
 * True when buf[s..e) is an RFC 3164 tag: NAME":" or NAME"["PID"]" with an
 * optional ':', all printable US-ASCII, NAME without '[', ']', ':' and PID
 * without ']'.  Sets *app and *pid when they are not NULL.
 */
static bool
syslog_tag(const char *buf, size_t s, size_t e, struct syslog_str *app,
           struct syslog_str *pid)
{
    size_t i = s, p;

    while (i < e && syslog_print(buf[i]) && buf[i] != '[' && buf[i] != ']' &&
           buf[i] != ':') {
        i++;
    }
    if (i == s || i == e) {
        return false;
    }
    if (app != NULL) {
        app->p = buf + s;
        app->n = i - s;
    }
    if (buf[i] == ':') {
        return i + 1 == e;
    }
    if (buf[i] != '[') {
        return false;
    }
    p = ++i;
    while (i < e && syslog_print(buf[i]) && buf[i] != ']') {
        i++;
    }
    if (i == p || i == e || buf[i] != ']') {
        return false;
    }
    if (pid != NULL) {
        pid->p = buf + p;
        pid->n = i - p;
    }
    i++;
    return i == e || (buf[i] == ':' && i + 1 == e);
}

/* True when buf[s..e) can be an RFC 3164 HOSTNAME. */
static bool
syslog_hostword(const char *buf, size_t s, size_t e)
{
    if (e == s || e - s > SYSLOG_HOSTNAME_MAX) {
        return false;
    }
    for (size_t i = s; i < e; i++) {
        if (!syslog_print(buf[i])) {
            return false;
        }
    }
    return true;
}

/* The RFC 3164 header from pos (just past PRI), liberally: never fails. */
static void
syslog_parse_3164(const char *buf, size_t n, size_t pos, struct syslog_msg *m)
{
    struct syslog_str app = {NULL, 0}, pid = {NULL, 0};
    size_t i = pos, k, w, bad;

    k = syslog_bsd_ts(buf, n, i);
    if (k == 0 && syslog_date_ahead(buf, n, i)) {
        k = syslog_rfc3339(buf, n, i, 9, &bad);
        if (k > 0 && i + k < n && buf[i + k] != ' ') {
            k = 0;
        }
    }
    if (k > 0) {
        m->ts.p = buf + i;
        m->ts.n = k;
        i += k;
        if (i < n) {
            i++;
        }
        /* The first word is the HOSTNAME unless it is the tag (the local
         * form written by glibc syslog(3) and logger has no hostname). */
        w = syslog_word_end(buf, n, i);
        if (!syslog_tag(buf, i, w, NULL, NULL) && syslog_hostword(buf, i, w)) {
            m->host.p = buf + i;
            m->host.n = w - i;
            i = w < n ? w + 1 : w;
        }
    }
    w = syslog_word_end(buf, n, i);
    if (syslog_tag(buf, i, w, &app, &pid)) {
        m->app = app;
        m->procid = pid;
        i = w < n ? w + 1 : w;
    }
    m->has_msg = true;
    m->msg_off = i;
    m->msg_len = n - i;
}

static void
syslog_add_str(struct json_object *o, const char *key,
               const struct syslog_str *s)
{
    if (s->p != NULL) {
        json_object_object_add(o, key,
                               json_object_new_string_len(s->p, (int) s->n));
    }
}

/* The "syslog" member; takes m->sd. */
static struct json_object *
syslog_header(struct syslog_msg *m)
{
    struct json_object *h = json_object_new_object();

    json_object_object_add(h, "facility", json_object_new_int(m->pri / 8));
    json_object_object_add(h, "severity", json_object_new_int(m->pri % 8));
    if (m->version > 0) {
        json_object_object_add(h, "version", json_object_new_int(m->version));
    }
    syslog_add_str(h, "timestamp", &m->ts);
    syslog_add_str(h, "hostname", &m->host);
    syslog_add_str(h, "app_name", &m->app);
    syslog_add_str(h, "procid", &m->procid);
    syslog_add_str(h, "msgid", &m->msgid);
    if (m->sd != NULL) {
        json_object_object_add(h, "structured_data", m->sd);
        m->sd = NULL;
    }
    return h;
}

/*
 * Moves a client member "syslog" of obj out of the way (syslog.h).
 * Returns false, changing nothing, when its destination name is taken.
 */
static bool
syslog_move_client(struct json_object *obj)
{
    struct json_object *client, *meta, *dst;
    bool has_meta;

    if (!json_object_object_get_ex(obj, "syslog", &client)) {
        return true;
    }
    has_meta = json_object_object_get_ex(obj, "metadata", &meta);
    dst = !has_meta || json_object_is_type(meta, json_type_object) ? meta : obj;
    if (dst != NULL && json_object_object_get_ex(dst, "client_syslog", NULL)) {
        return false;
    }
    json_object_get(client);
    json_object_object_del(obj, "syslog");
    if (dst == NULL) {
        dst = json_object_new_object();
        json_object_object_add(obj, "metadata", dst);
    }
    json_object_object_add(dst, "client_syslog", client);
    return true;
}

/*
 * MSG as the event: the JSON object after an optional "@cee:" cookie and
 * JSON whitespace, or NULL when MSG is not one (then it is plain text).
 */
static struct json_object *
syslog_json_event(const char *p, size_t n)
{
    struct json_object *obj = NULL;
    struct as_error jerr;
    size_t i = 0;

    if (n >= 5 && memcmp(p, "@cee:", 5) == 0) {
        i = 5;
    }
    while (i < n &&
           (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) {
        i++;
    }
    if (i >= n || p[i] != '{') {
        return NULL;
    }
    as_error_clear(&jerr);
    if (as_parse_json(p + i, n - i, &obj, &jerr) != 0) {
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object) ||
        !syslog_move_client(obj)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

int
as_parse_syslog(const char *buf, size_t len, struct json_object **out,
                struct as_error *err)
{
    struct syslog_msg m;
    struct json_object *ev;
    size_t n = len, pos = 0, bad;
    int r;

    *out = NULL;
    if (len > (size_t) INT32_MAX) {
        as_error_set(err, "message too large");
        return AS_ERR_TOOBIG;
    }
    memset(&m, 0, sizeof(m));
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
    }
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    if (n > 0 && buf[n - 1] == '\0') {
        n--;
    }
    if ((r = syslog_pri(buf, n, &pos, &m.pri, err)) != 0) {
        return r;
    }
    if (pos < n && syslog_digit(buf[pos]) && !syslog_date_ahead(buf, n, pos)) {
        if ((r = syslog_parse_5424(buf, n, pos, &m, err)) != 0) {
            return r;
        }
    } else {
        syslog_parse_3164(buf, n, pos, &m);
    }
    if (m.has_msg && !as_utf8_valid(buf + m.msg_off, m.msg_len, &bad)) {
        as_error_set(err, "message is not valid UTF-8 at byte %zu",
                     m.msg_off + bad);
        json_object_put(m.sd);
        return AS_ERR_PARSE;
    }
    ev = m.has_msg ? syslog_json_event(buf + m.msg_off, m.msg_len) : NULL;
    if (ev != NULL) {
        json_object_object_add(ev, "syslog", syslog_header(&m));
    } else {
        ev = json_object_new_object();
        json_object_object_add(ev, "syslog", syslog_header(&m));
        if (m.has_msg) {
            json_object_object_add(
                ev, "message",
                json_object_new_string_len(buf + m.msg_off, (int) m.msg_len));
        }
    }
    *out = ev;
    return 0;
}
