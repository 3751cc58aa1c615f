/*
 * The `auditd` decoder and record reassembler (see auditd.h for the
 * behaviour and the mapping onto the audit schema).
 *
 * Owns: the pending events, each a copy of its records' type and body
 * bytes (the text buffer) and their offsets.  Pending events form a list in
 * the order their first record arrived; max_events is small, so lookups
 * scan it from the newest end.
 *
 * Invariants: a pending event has at least one record, except while one of
 * its parts is being emitted; its cost (bytes of text plus the record
 * descriptors) never exceeds max_event_bytes plus one line; at most
 * max_events events are pending after a feed returns.  Every string put in
 * an object is valid UTF-8 (auditd_put).
 *
 * Record bodies are decoded only when their event is emitted; a line is
 * malformed only when its header (node=, type=, msg=audit(TIME:SERIAL)) is:
 * the body parser accepts anything.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "auditd.h"
#include "auditd_syscalls.h"

#define AUDITD_UNSET       "4294967295"
#define AUDITD_MAX_SEC     253402300799ULL /* 9999-12-31T23:59:59Z */
#define AUDITD_GAP_AHEAD   (1U << 20)      /* a bigger jump is a reset */
#define AUDITD_GAP_BEHIND  4096U           /* a late event, not a reset */
#define AUDITD_MAX_DEPTH   1               /* msg='...' inside a record */
#define AUDITD_REPLACEMENT "\xef\xbf\xbd"

/* One record of a pending event: offsets into its text buffer. */
struct auditd_rec {
    size_t type_off, type_len;
    size_t body_off, body_len;
};

struct auditd_event {
    struct auditd_event *prev, *next;
    uint64_t sec;
    unsigned ms;
    uint32_t serial;
    char *node; /* owned, NULL without node= */
    size_t node_len;
    uint64_t first_ms; /* now_ms of the first record */
    uint64_t min_tag;  /* smallest tag of the held records */
    unsigned part;     /* parts emitted so far */
    struct as_buf text;
    struct auditd_rec *recs;
    size_t nrecs, caprecs;
    size_t cost;
};

struct as_auditd {
    struct as_auditd_opts opts;
    struct auditd_event *head, *tail; /* by arrival of the first record */
    size_t nevents;
    size_t nlines;
    struct as_auditd_stats stats;
    /* Serial gap accounting: the last event emitted. */
    bool have_last;
    uint32_t last_serial;
    struct as_buf last_node;
};

/* A parsed line header; pointers into the line. */
struct auditd_hdr {
    const char *node;
    size_t node_len;
    const char *type;
    size_t type_len;
    uint64_t sec;
    unsigned ms;
    uint32_t serial;
    const char *body;
    size_t body_len;
};

/* A record to decode: pointers into a line or an event's text. */
struct auditd_view {
    const char *type;
    size_t type_len;
    const char *body;
    size_t body_len;
};

/* ---- strings ---- */

static bool
auditd_eq(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);

    return n == l && memcmp(s, lit, l) == 0;
}

static bool
auditd_prefix(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);

    return n >= l && memcmp(s, lit, l) == 0;
}

static int
auditd_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool
auditd_all_digits(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static bool
auditd_hex_digits(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (auditd_hexval((unsigned char) s[i]) < 0) {
            return false;
        }
    }
    return true;
}

/* Hex text that encodes bytes: hex digits, an even number of them. */
static bool
auditd_is_hex(const char *s, size_t n)
{
    return n % 2 == 0 && auditd_hex_digits(s, n);
}

/* Appends the bytes that the hex text s (auditd_is_hex) encodes. */
static void
auditd_unhex(struct as_buf *out, const char *s, size_t n)
{
    if (as_buf_reserve(out, n / 2) != 0) {
        return; /* unbounded buffers never fail */
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
        out->data[out->len++] =
            (char) (auditd_hexval((unsigned char) s[i]) << 4 |
                    auditd_hexval((unsigned char) s[i + 1]));
    }
    out->data[out->len] = '\0';
}

static void
auditd_tohex(struct as_buf *out, const char *s, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        as_buf_putc(out, digits[c >> 4]);
        as_buf_putc(out, digits[c & 15]);
    }
}

/*
 * Appends s[0..n) to out with every byte that is not part of valid UTF-8,
 * and every NUL (so that C-string views of a value are the whole value),
 * replaced by U+FFFD.  Returns true when something was replaced.
 */
static bool
auditd_utf8_put(struct as_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *) s;
    bool lossy = false;
    size_t i = 0;

    while (i < n) {
        size_t k = as_utf8_seq(u + i, n - i);

        if (k == 0 || u[i] == 0) {
            as_buf_puts(out, AUDITD_REPLACEMENT);
            lossy = true;
            i++;
        } else {
            as_buf_put(out, s + i, k);
            i += k;
        }
    }
    if (out->data == NULL) {
        as_buf_put(out, "", 0); /* an empty string is still a string */
    }
    return lossy;
}

static bool
auditd_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0, k;

    while (i < n) {
        if (u[i] >= 0x20 && u[i] < 0x80) {
            i++;
            continue;
        }
        k = as_utf8_seq(u + i, n - i);
        if (k == 0 || u[i] == 0) {
            return false;
        }
        i += k;
    }
    return true;
}

/*
 * rec[key] = value as a JSON string.  The key loses NULs and invalid UTF-8
 * (U+FFFD); a value with either gets U+FFFD and its exact bytes as hex in
 * rec[key + "_hex"].
 */
static void
auditd_put(struct json_object *rec, const char *key, size_t klen,
           const char *val, size_t vlen)
{
    struct as_buf k = AS_BUF_INIT, v = AS_BUF_INIT;
    char small[64];

    if (klen < sizeof(small) && auditd_utf8_valid(key, klen) &&
        auditd_utf8_valid(val, vlen)) {
        memcpy(small, key, klen);
        small[klen] = '\0';
        json_object_object_add(rec, small,
                               json_object_new_string_len(val, (int) vlen));
        return;
    }
    auditd_utf8_put(&k, key, klen);
    if (auditd_utf8_put(&v, val, vlen)) {
        struct as_buf hx = AS_BUF_INIT;

        as_buf_put(&hx, k.data, k.len);
        as_buf_puts(&hx, "_hex");
        as_buf_reset(&k);
        auditd_tohex(&k, val, vlen);
        json_object_object_add(rec, hx.data,
                               json_object_new_string_len(k.data, (int) k.len));
        as_buf_reset(&k);
        auditd_utf8_put(&k, key, klen);
        as_buf_free(&hx);
    }
    json_object_object_add(rec, k.data,
                           json_object_new_string_len(v.data, (int) v.len));
    as_buf_free(&k);
    as_buf_free(&v);
}

static void
auditd_puts(struct json_object *rec, const char *key, const char *val)
{
    auditd_put(rec, key, strlen(key), val, strlen(val));
}

/* rec[key] as a C string, or NULL. */
static const char *
auditd_get(struct json_object *rec, const char *key)
{
    struct json_object *v;

    if (rec == NULL || !json_object_object_get_ex(rec, key, &v) ||
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* ---- the line header ---- */

static bool
auditd_digits(const char **pp, const char *end, size_t max, uint64_t *out,
              size_t *ndigits)
{
    const char *p = *pp;
    uint64_t v = 0;
    size_t n = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        if (n == max) {
            return false;
        }
        v = v * 10 + (uint64_t) (*p - '0');
        n++;
        p++;
    }
    if (n == 0) {
        return false;
    }
    *pp = p;
    *out = v;
    if (ndigits != NULL) {
        *ndigits = n;
    }
    return true;
}

static bool
auditd_type_char(char c)
{
    return isalnum((unsigned char) c) || c == '_' || c == '[' || c == ']';
}

/* Parses [node=N ]type=T [msg=]audit(SEC.MS:SERIAL)[:] BODY. */
static int
auditd_header(const char *line, size_t len, struct auditd_hdr *h,
              struct as_error *err)
{
    const char *p = line, *end = line + len, *q;
    uint64_t v, frac;
    size_t nd;

    memset(h, 0, sizeof(*h));
    if (auditd_prefix(p, (size_t) (end - p), "node=")) {
        p += 5;
        h->node = p;
        while (p < end && *p != ' ') {
            p++;
        }
        h->node_len = (size_t) (p - h->node);
        if (h->node_len == 0) {
            h->node = NULL;
        }
        while (p < end && *p == ' ') {
            p++;
        }
    }
    if (!auditd_prefix(p, (size_t) (end - p), "type=")) {
        as_error_set(err, "auditd: no type= at byte %zu", (size_t) (p - line));
        return AS_ERR_PARSE;
    }
    p += 5;
    h->type = p;
    while (p < end && *p != ' ') {
        if (!auditd_type_char(*p)) {
            as_error_set(err, "auditd: bad record type at byte %zu",
                         (size_t) (p - line));
            return AS_ERR_PARSE;
        }
        p++;
    }
    h->type_len = (size_t) (p - h->type);
    if (h->type_len == 0) {
        as_error_set(err, "auditd: empty record type");
        return AS_ERR_PARSE;
    }
    while (p < end && *p == ' ') {
        p++;
    }
    if (auditd_prefix(p, (size_t) (end - p), "msg=")) {
        p += 4;
    }
    if (!auditd_prefix(p, (size_t) (end - p), "audit(")) {
        as_error_set(err, "auditd: no msg=audit(TIME:SERIAL) at byte %zu",
                     (size_t) (p - line));
        return AS_ERR_PARSE;
    }
    p += 6;
    q = p;
    if (!auditd_digits(&p, end, 12, &v, NULL) || p >= end || *p != '.') {
        as_error_set(err, "auditd: bad audit timestamp at byte %zu",
                     (size_t) (q - line));
        return AS_ERR_PARSE;
    }
    h->sec = v;
    p++;
    if (!auditd_digits(&p, end, 9, &frac, &nd) || p >= end || *p != ':') {
        as_error_set(err, "auditd: bad audit timestamp at byte %zu",
                     (size_t) (q - line));
        return AS_ERR_PARSE;
    }
    /* Milliseconds: the first three fraction digits ("5" is 500). */
    while (nd > 3) {
        frac /= 10;
        nd--;
    }
    while (nd < 3) {
        frac *= 10;
        nd++;
    }
    h->ms = (unsigned) frac;
    if (h->sec > AUDITD_MAX_SEC) {
        as_error_set(err, "auditd: audit timestamp out of range");
        return AS_ERR_PARSE;
    }
    p++;
    q = p;
    if (!auditd_digits(&p, end, 10, &v, NULL) || v > UINT32_MAX || p >= end ||
        *p != ')') {
        as_error_set(err, "auditd: bad audit serial at byte %zu",
                     (size_t) (q - line));
        return AS_ERR_PARSE;
    }
    h->serial = (uint32_t) v;
    p++;
    if (p < end && *p == ':') {
        p++;
    }
    while (p < end && *p == ' ') {
        p++;
    }
    h->body = p;
    h->body_len = (size_t) (end - p);
    return 0;
}

/*
 * Record types that user space sends through the kernel as one record:
 * they never get sibling records nor an EOE, so they are emitted at once
 * (ranges 1100-1299 and 2100-2999 of linux/audit.h, by name).
 */
static bool
auditd_standalone(const char *t, size_t n)
{
    static const char *const prefixes[] = {
        "USER_",  "DAEMON_", "CRED_",    "CRYPTO_", "ACCT_", "ADD_",
        "DEL_",   "GRP_",    "SERVICE_", "SYSTEM_", "USYS_", "ROLE_",
        "LABEL_", "VIRT_",   "RESP_",    "ANOM_"};
    static const char *const names[] = {
        "CHGRP_ID",    "CHUSER_ID",   "DAC_CHECK",       "MAC_CHECK",
        "TEST",        "TRUSTED_APP", "SOFTWARE_UPDATE", "DEV_ALLOC",
        "DEV_DEALLOC", "FS_RELABEL"};
    /* Kernel records with an ANOM_ name (1700-1799): they may have
     * siblings. */
    static const char *const kernel[] = {"ANOM_PROMISCUOUS", "ANOM_ABEND",
                                         "ANOM_LINK", "ANOM_CREAT"};
    const char *p = t, *end = t + n;
    uint64_t num;

    for (size_t i = 0; i < AS_ARRAY_SIZE(kernel); i++) {
        if (auditd_eq(t, n, kernel[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(names); i++) {
        if (auditd_eq(t, n, names[i])) {
            return true;
        }
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(prefixes); i++) {
        if (auditd_prefix(t, n, prefixes[i])) {
            return true;
        }
    }
    if (auditd_prefix(t, n, "UNKNOWN[")) {
        p += 8;
    }
    if (!auditd_digits(&p, end, 6, &num, NULL)) {
        return false;
    }
    return (num >= 1100 && num <= 1299) || (num >= 2100 && num <= 2999);
}

/* Record types that describe the syscall of an event rather than what the
 * event is about (the action comes from another record when there is
 * one). */
static bool
auditd_aux_type(const char *t, size_t n)
{
    static const char *const aux[] = {
        "SYSCALL",       "PATH",          "CWD",           "EXECVE",
        "PROCTITLE",     "SOCKADDR",      "SOCKETCALL",    "FD_PAIR",
        "BPRM_FCAPS",    "CAPSET",        "MMAP",          "IPC",
        "IPC_SET_PERM",  "MQ_OPEN",       "MQ_SENDRECV",   "MQ_NOTIFY",
        "MQ_GETSETATTR", "OBJ_PID",       "OPENAT2",       "KERN_MODULE",
        "EOE",           "UNKNOWN[1300]", "UNKNOWN[1302]", "UNKNOWN[1307]",
        "UNKNOWN[1309]", "UNKNOWN[1327]"};

    for (size_t i = 0; i < AS_ARRAY_SIZE(aux); i++) {
        if (auditd_eq(t, n, aux[i])) {
            return true;
        }
    }
    return false;
}

/* ---- record bodies ---- */

struct auditd_tok {
    const char *key, *val;
    size_t klen, vlen;
    char quote; /* '"', '\'' or 0 */
    bool bare;  /* a word without '=' (val holds it) */
};

/* The next space-separated token of [*pp, end); false at the end. */
static bool
auditd_next(const char **pp, const char *end, struct auditd_tok *t)
{
    const char *p = *pp, *k, *e;

    while (p < end && *p == ' ') {
        p++;
    }
    if (p >= end) {
        *pp = p;
        return false;
    }
    memset(t, 0, sizeof(*t));
    k = p;
    while (p < end && *p != ' ' && *p != '=') {
        p++;
    }
    if (p >= end || *p == ' ' || p == k) {
        while (p < end && *p != ' ') {
            p++;
        }
        t->bare = true;
        t->val = k;
        t->vlen = (size_t) (p - k);
        *pp = p;
        return true;
    }
    t->key = k;
    t->klen = (size_t) (p - k);
    p++;
    if (p < end && (*p == '"' || *p == '\'')) {
        t->quote = *p++;
        t->val = p;
        e = memchr(p, t->quote, (size_t) (end - p));
        if (e == NULL) {
            e = end; /* unterminated: the rest of the line */
        }
        t->vlen = (size_t) (e - p);
        p = e < end ? e + 1 : end;
    } else {
        t->val = p;
        while (p < end && *p != ' ') {
            p++;
        }
        t->vlen = (size_t) (p - t->val);
    }
    *pp = p;
    return true;
}

/* Record parsing state. */
struct auditd_rp {
    struct json_object *rec;
    bool execve;
    bool avc;      /* saw "avc:": the next bare word is the result */
    bool in_perms; /* inside "{ perm ... }" */
    struct as_buf perms;
    char prefix[8];    /* "old_" / "new_" for the next key, or "" */
    struct as_buf arg; /* EXECVE aN[i] pieces of argument argn */
    struct as_buf argkey;
    struct as_buf key; /* scratch */
    struct as_buf val; /* scratch */
};

/* Fields whose values the kernel or user space hex-encodes when they hold
 * bytes outside printable ASCII, a space or a quote. */
static bool
auditd_hex_field(const char *k, size_t n)
{
    static const char *const f[] = {
        "acct",        "cmd",         "comm",      "cwd",       "data",
        "dir",         "exe",         "file",      "key",       "name",
        "ocomm",       "path",        "proctitle", "root_dir",  "sw",
        "vm",          "watch",       "grp",       "new_group", "cgroup",
        "old-chardev", "new-chardev", "old-disk",  "new-disk",  "old-fs",
        "new-fs",      "old-net",     "new-net",   "old-rng",   "new-rng",
        "device"};

    for (size_t i = 0; i < AS_ARRAY_SIZE(f); i++) {
        if (auditd_eq(k, n, f[i])) {
            return true;
        }
    }
    return false;
}

/* EXECVE argument keys: aN (returns 1) and aN[i] (returns 2). */
static int
auditd_arg_key(const char *k, size_t n, size_t *base_len)
{
    size_t i = 1;

    if (n < 2 || k[0] != 'a' || !isdigit((unsigned char) k[1])) {
        return 0;
    }
    while (i < n && isdigit((unsigned char) k[i])) {
        i++;
    }
    *base_len = i;
    if (i == n) {
        return 1;
    }
    if (k[i] != '[' || k[n - 1] != ']' || i + 2 >= n) {
        return 0;
    }
    for (size_t j = i + 1; j < n - 1; j++) {
        if (!isdigit((unsigned char) k[j])) {
            return 0;
        }
    }
    return 2;
}

static void
auditd_flush_arg(struct auditd_rp *rp)
{
    if (rp->argkey.len > 0) {
        auditd_put(rp->rec, rp->argkey.data, rp->argkey.len,
                   rp->arg.data != NULL ? rp->arg.data : "", rp->arg.len);
    }
    as_buf_reset(&rp->argkey);
    as_buf_reset(&rp->arg);
}

static bool
auditd_unset_field(const char *k)
{
    static const char *const f[] = {"auid",    "ses",      "old-auid",
                                    "old-ses", "old_auid", "new_auid",
                                    "old_ses", "new_ses",  "sauid"};

    for (size_t i = 0; i < AS_ARRAY_SIZE(f); i++) {
        if (strcmp(k, f[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* subj=user:role:type:level[:category] -> subj_user, subj_role,
 * subj_domain, subj_level, subj_category (SELinux contexts only: at least
 * three colons). */
static void
auditd_split_context(struct json_object *rec, const char *name, const char *v,
                     size_t n)
{
    static const char *const part[] = {"user", "role", "domain", "level",
                                       "category"};
    const char *p = v, *end = v + n;
    char key[32];
    size_t colons = 0;

    for (size_t i = 0; i < n; i++) {
        colons += v[i] == ':';
    }
    if (colons < 3) {
        return;
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(part); i++) {
        const char *c = i == 4 ? NULL : memchr(p, ':', (size_t) (end - p));

        if (c == NULL) {
            c = end;
        }
        snprintf(key, sizeof(key), "%s_%s", name, part[i]);
        if (c > p) {
            auditd_put(rec, key, strlen(key), p, (size_t) (c - p));
        }
        if (c == end) {
            break;
        }
        p = c + 1;
    }
}

/* SOCKADDR saddr (hex of a struct sockaddr, host byte order for the
 * family; little endian assumed) -> family, addr, port, path. */
static void
auditd_sockaddr(struct json_object *rec, const char *b, size_t n)
{
    const unsigned char *u = (const unsigned char *) b;
    char ip[INET6_ADDRSTRLEN], num[16];
    unsigned family;

    if (n < 2) {
        return;
    }
    family = (unsigned) u[0] | (unsigned) u[1] << 8;
    if (family == AF_INET && n >= 8) {
        auditd_puts(rec, "family", "ipv4");
        inet_ntop(AF_INET, u + 4, ip, sizeof(ip));
        auditd_puts(rec, "addr", ip);
        snprintf(num, sizeof(num), "%u", (unsigned) u[2] << 8 | u[3]);
        auditd_puts(rec, "port", num);
    } else if (family == AF_INET6 && n >= 24) {
        auditd_puts(rec, "family", "ipv6");
        inet_ntop(AF_INET6, u + 8, ip, sizeof(ip));
        auditd_puts(rec, "addr", ip);
        snprintf(num, sizeof(num), "%u", (unsigned) u[2] << 8 | u[3]);
        auditd_puts(rec, "port", num);
    } else if (family == AF_UNIX) {
        const char *p = b + 2, *z;
        size_t len = n - 2;

        auditd_puts(rec, "family", "unix");
        if (len > 0 && p[0] == '\0') {
            /* Abstract name: '@' + the bytes up to the end. */
            struct as_buf path = AS_BUF_INIT;

            as_buf_putc(&path, '@');
            as_buf_put(&path, p + 1, len - 1);
            auditd_put(rec, "path", 4, path.data, path.len);
            as_buf_free(&path);
        } else if (len > 0) {
            z = memchr(p, '\0', len);
            auditd_put(rec, "path", 4, p, z != NULL ? (size_t) (z - p) : len);
        }
    } else if (family == AF_NETLINK) {
        auditd_puts(rec, "family", "netlink");
    } else {
        snprintf(num, sizeof(num), "%u", family);
        auditd_puts(rec, "family", num);
    }
}

/* rec["keys"] += the parts of a rule key (several keys are joined by
 * \x01). */
static void
auditd_keys(struct json_object *rec, const char *v, size_t n)
{
    struct json_object *arr;
    struct as_buf part = AS_BUF_INIT;
    const char *p = v, *end = v + n;

    if (!json_object_object_get_ex(rec, "keys", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        arr = json_object_new_array();
        json_object_object_add(rec, "keys", arr);
    }
    for (;;) {
        const char *c = memchr(p, '\x01', (size_t) (end - p));

        if (c == NULL) {
            c = end;
        }
        if (c > p) {
            as_buf_reset(&part);
            if (auditd_utf8_put(&part, p, (size_t) (c - p))) {
                struct as_buf hx = AS_BUF_INIT;

                auditd_tohex(&hx, v, n);
                auditd_put(rec, "key_hex", 7, hx.data, hx.len);
                as_buf_free(&hx);
            }
            json_object_array_add(
                arr, json_object_new_string_len(part.data, (int) part.len));
        }
        if (c == end) {
            break;
        }
        p = c + 1;
    }
    as_buf_free(&part);
}

static void auditd_fields(struct auditd_rp *rp, const char *p, const char *end,
                          int depth);

static void
auditd_field(struct auditd_rp *rp, const struct auditd_tok *t, int depth)
{
    const char *k = t->key, *v = t->val;
    size_t kn = t->klen, vn = t->vlen, base;
    const char *key;
    int argk;

    /* "(hostname=?," in "(hostname=?, addr=?, terminal=cron res=success)" */
    while (kn > 0 && *k == '(') {
        k++;
        kn--;
    }
    if (kn == 0) {
        return;
    }
    if (auditd_eq(k, kn, "msg") && t->quote == '\'' &&
        depth < AUDITD_MAX_DEPTH) {
        auditd_fields(rp, v, v + vn, depth + 1);
        return;
    }
    if (t->quote == 0) {
        while (vn > 0 && v[vn - 1] == ',') {
            vn--;
        }
        if (vn > 0 && v[vn - 1] == ')' && memchr(v, '(', vn) == NULL) {
            vn--;
        }
    }
    if (vn == 0 || auditd_eq(v, vn, "?") ||
        (t->quote == 0 && auditd_eq(v, vn, "(null)"))) {
        rp->prefix[0] = '\0';
        return;
    }
    as_buf_reset(&rp->key);
    as_buf_puts(&rp->key, rp->prefix);
    as_buf_put(&rp->key, k, kn);
    rp->prefix[0] = '\0';
    key = rp->key.data;
    kn = rp->key.len;
    as_buf_reset(&rp->val);

    argk = rp->execve ? auditd_arg_key(key, kn, &base) : 0;
    if (argk == 2) {
        /* A long argument in pieces: a2_len=N a2[0]=HEX a2[1]=HEX ... */
        if (rp->argkey.len != base || memcmp(rp->argkey.data, key, base) != 0) {
            auditd_flush_arg(rp);
            as_buf_put(&rp->argkey, key, base);
        }
        if (t->quote == 0 && auditd_is_hex(v, vn)) {
            auditd_unhex(&rp->arg, v, vn);
        } else {
            as_buf_put(&rp->arg, v, vn);
        }
        return;
    }
    if (t->quote == 0 && (argk == 1 || auditd_hex_field(key, kn))) {
        size_t hn = vn;

        /* Tolerate one stray closing quote after the hex digits. */
        if (hn > 0 && v[hn - 1] == '"') {
            hn--;
        }
        if (auditd_is_hex(v, hn)) {
            auditd_unhex(&rp->val, v, hn);
            v = rp->val.data;
            vn = rp->val.len;
            if (strcmp(key, "proctitle") == 0) {
                /* argv: NUL-separated; trailing NULs dropped. */
                while (vn > 0 && v[vn - 1] == '\0') {
                    vn--;
                }
                for (size_t i = 0; i < vn; i++) {
                    if (rp->val.data[i] == '\0') {
                        rp->val.data[i] = ' ';
                    }
                }
            }
        }
    }
    if (strcmp(key, "key") == 0) {
        auditd_keys(rp->rec, v, vn);
        return;
    }
    if (strcmp(key, "arch") == 0 && t->quote == 0 && vn <= 8 &&
        auditd_hex_digits(v, vn)) {
        char num[9];
        const char *name;

        memcpy(num, v, vn);
        num[vn] = '\0';
        name = as__auditd_arch_name((uint32_t) strtoul(num, NULL, 16));
        if (name != NULL) {
            auditd_puts(rp->rec, "arch", name);
            return;
        }
    }
    if (auditd_unset_field(key) &&
        (auditd_eq(v, vn, AUDITD_UNSET) || auditd_eq(v, vn, "-1"))) {
        auditd_puts(rp->rec, key, "unset");
        return;
    }
    if (strcmp(key, "exit") == 0 && vn > 1 && vn < 8 && v[0] == '-' &&
        auditd_all_digits(v + 1, vn - 1)) {
        char num[8];
        long e;

        memcpy(num, v + 1, vn - 1);
        num[vn - 1] = '\0';
        e = strtol(num, NULL, 10);
        if (e >= 1 && e <= 4095) {
            const char *name = strerrorname_np((int) e);

            if (name != NULL) {
                auditd_puts(rp->rec, "exit", name);
                return;
            }
        }
    }
    if (strcmp(key, "sig") == 0 && vn <= 2 && auditd_all_digits(v, vn)) {
        char num[3] = {0};
        const char *name;

        memcpy(num, v, vn);
        name = sigabbrev_np(atoi(num));
        if (name != NULL) {
            char sig[24];

            snprintf(sig, sizeof(sig), "SIG%s", name);
            auditd_puts(rp->rec, "sig", sig);
            return;
        }
    }
    auditd_put(rp->rec, key, kn, v, vn);
    if (strcmp(key, "success") == 0 || strcmp(key, "res") == 0) {
        if (auditd_eq(v, vn, "yes") || auditd_eq(v, vn, "success") ||
            auditd_eq(v, vn, "1")) {
            auditd_puts(rp->rec, "result", "success");
        } else if (auditd_eq(v, vn, "no") || auditd_eq(v, vn, "failed") ||
                   auditd_eq(v, vn, "fail") || auditd_eq(v, vn, "0")) {
            auditd_puts(rp->rec, "result", "fail");
        }
    } else if (strcmp(key, "subj") == 0 || strcmp(key, "obj") == 0) {
        auditd_split_context(rp->rec, key, v, vn);
    } else if (strcmp(key, "saddr") == 0 && t->quote == 0 &&
               auditd_is_hex(v, vn)) {
        struct as_buf sa = AS_BUF_INIT;

        auditd_unhex(&sa, v, vn);
        auditd_sockaddr(rp->rec, sa.data, sa.len);
        as_buf_free(&sa);
    }
}

static void
auditd_bare(struct auditd_rp *rp, const char *w, size_t n)
{
    rp->prefix[0] = '\0';
    if (rp->in_perms) {
        if (auditd_eq(w, n, "}")) {
            rp->in_perms = false;
            if (rp->perms.len > 0) {
                auditd_put(rp->rec, "seperms", 7, rp->perms.data,
                           rp->perms.len);
            }
        } else {
            if (rp->perms.len > 0) {
                as_buf_putc(&rp->perms, ',');
            }
            as_buf_put(&rp->perms, w, n);
        }
        return;
    }
    if (auditd_eq(w, n, "{")) {
        rp->in_perms = true;
        as_buf_reset(&rp->perms);
    } else if (auditd_eq(w, n, "avc:")) {
        rp->avc = true;
        return;
    } else if (rp->avc) {
        auditd_put(rp->rec, "seresult", 8, w, n);
    } else if (auditd_eq(w, n, "old") || auditd_eq(w, n, "new")) {
        memcpy(rp->prefix, w, 3);
        memcpy(rp->prefix + 3, "_", 2);
    }
    rp->avc = false;
}

static void
auditd_fields(struct auditd_rp *rp, const char *p, const char *end, int depth)
{
    struct auditd_tok t;

    while (auditd_next(&p, end, &t)) {
        if (t.bare) {
            auditd_bare(rp, t.val, t.vlen);
        } else {
            auditd_field(rp, &t, depth);
        }
    }
}

/* The enriched format's interpreted fields (after 0x1d): kept as given. */
static void
auditd_enriched(struct json_object *rec, const char *p, const char *end)
{
    struct auditd_tok t;

    while (auditd_next(&p, end, &t)) {
        if (!t.bare && t.klen > 0) {
            auditd_put(rec, t.key, t.klen, t.val, t.vlen);
        }
    }
}

/* Decodes one record body into a new object of string fields. */
static struct json_object *
auditd_record(const struct auditd_view *r)
{
    struct auditd_rp rp;
    const char *end = r->body + r->body_len;
    const char *sep = memchr(r->body, '\x1d', r->body_len);
    const char *arch, *sc;

    memset(&rp, 0, sizeof(rp));
    rp.rec = json_object_new_object();
    rp.execve = auditd_eq(r->type, r->type_len, "EXECVE");
    auditd_fields(&rp, r->body, sep != NULL ? sep : end, 0);
    auditd_flush_arg(&rp);
    if (rp.in_perms && rp.perms.len > 0) {
        auditd_put(rp.rec, "seperms", 7, rp.perms.data, rp.perms.len);
    }
    if (sep != NULL) {
        auditd_enriched(rp.rec, sep + 1, end);
    }
    /* syscall -> name, once arch is known. */
    arch = auditd_get(rp.rec, "arch");
    sc = auditd_get(rp.rec, "syscall");
    if (arch != NULL && sc != NULL && sc[0] != '\0' &&
        strspn(sc, "0123456789") == strlen(sc) && strlen(sc) < 8) {
        const char *name = as__auditd_syscall_name(arch, strtoul(sc, NULL, 10));

        if (name != NULL) {
            auditd_puts(rp.rec, "syscall", name);
        }
    }
    as_buf_free(&rp.perms);
    as_buf_free(&rp.arg);
    as_buf_free(&rp.argkey);
    as_buf_free(&rp.key);
    as_buf_free(&rp.val);
    return rp.rec;
}

/* ---- events ---- */

/* Appends "user_login" for USER_LOGIN: letters, digits, '_' and '-' only;
 * "unknown" when nothing is left. */
static void
auditd_type_name(struct as_buf *out, const char *t, size_t n)
{
    size_t at = out->len;

    for (size_t i = 0; i < n; i++) {
        char c = (char) tolower((unsigned char) t[i]);

        if (isalnum((unsigned char) c) || c == '_' || c == '-') {
            as_buf_putc(out, c);
        }
    }
    if (out->len == at) {
        as_buf_puts(out, "unknown");
    }
}

/* The target: see auditd.h. */
static void
auditd_target(struct json_object *obj, struct json_object *records,
              struct json_object *primary, struct json_object *syscall,
              bool group)
{
    struct json_object *arr, *rec, *pick = NULL;
    const char *type = NULL, *id = NULL, *v;
    struct as_buf b = AS_BUF_INIT;

    if (json_object_object_get_ex(records, "path", &arr)) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            rec = json_object_array_get_idx(arr, i);
            if (auditd_get(rec, "name") == NULL) {
                continue;
            }
            v = auditd_get(rec, "nametype");
            if (v == NULL) {
                v = auditd_get(rec, "objtype");
            }
            if (v == NULL || strcmp(v, "PARENT") != 0) {
                pick = rec;
                break;
            }
            if (pick == NULL) {
                pick = rec;
            }
        }
    }
    if (pick != NULL) {
        const char *cwd = NULL;

        id = auditd_get(pick, "name");
        if (id[0] != '/' && json_object_object_get_ex(records, "cwd", &arr) &&
            (cwd = auditd_get(json_object_array_get_idx(arr, 0), "cwd")) !=
                NULL) {
            as_buf_puts(&b, cwd);
            if (b.len == 0 || b.data[b.len - 1] != '/') {
                as_buf_putc(&b, '/');
            }
            as_buf_puts(&b, id);
            id = b.data;
        }
        type = "file";
    } else if (json_object_object_get_ex(records, "sockaddr", &arr) &&
               (rec = json_object_array_get_idx(arr, 0)) != NULL &&
               (auditd_get(rec, "addr") != NULL ||
                auditd_get(rec, "path") != NULL)) {
        const char *addr = auditd_get(rec, "addr");
        const char *port = auditd_get(rec, "port");

        if (addr != NULL) {
            type = "address";
            if (port != NULL && strchr(addr, ':') != NULL) {
                as_buf_printf(&b, "[%s]:%s", addr, port);
            } else if (port != NULL) {
                as_buf_printf(&b, "%s:%s", addr, port);
            } else {
                as_buf_puts(&b, addr);
            }
            id = b.data;
        } else {
            type = "socket";
            id = auditd_get(rec, "path");
        }
    } else if ((id = auditd_get(primary, "name")) != NULL) {
        type = "file"; /* AVC (AppArmor) and others without a PATH */
    } else if (primary != NULL && (id = auditd_get(primary, "unit")) != NULL) {
        type = "service";
    } else if (primary != NULL && (id = auditd_get(primary, "cmd")) != NULL) {
        type = "command";
    } else if (primary != NULL && ((id = auditd_get(primary, "acct")) != NULL ||
                                   (id = auditd_get(primary, "id")) != NULL)) {
        type = group ? "group" : "user";
    } else if ((id = auditd_get(syscall, "exe")) != NULL ||
               (id = auditd_get(primary, "exe")) != NULL ||
               (id = auditd_get(syscall, "comm")) != NULL ||
               (id = auditd_get(primary, "comm")) != NULL) {
        type = "process";
    } else if (json_object_object_get_ex(records, "cwd", &arr) &&
               (id = auditd_get(json_object_array_get_idx(arr, 0), "cwd")) !=
                   NULL) {
        type = "directory";
    }
    if (type == NULL || id == NULL || id[0] == '\0') {
        type = "system";
        id = "system";
    }
    json_object_object_add(obj, "target_type", json_object_new_string(type));
    json_object_object_add(obj, "target_id", json_object_new_string(id));
    as_buf_free(&b);
}

/* Builds the event object from its records (see auditd.h). */
static struct json_object *
auditd_build(const struct auditd_view *recs, size_t n, uint64_t sec,
             unsigned ms, uint32_t serial, const char *node, size_t node_len,
             unsigned part)
{
    struct json_object *obj = json_object_new_object();
    struct json_object *meta = json_object_new_object();
    struct json_object *records = json_object_new_object();
    struct json_object *syscall = NULL, *primary = NULL, *first = NULL;
    struct json_object **objs = as_reallocarray(NULL, n, sizeof(*objs));
    const char *primary_type = "", *v, *actor = NULL, *result = NULL;
    struct as_buf b = AS_BUF_INIT;
    size_t primary_type_len = 0;
    struct tm tm;
    time_t t = (time_t) sec;
    char ts[64];

    for (size_t i = 0; i < n; i++) {
        struct json_object *rec = auditd_record(&recs[i]);
        struct json_object *arr;

        objs[i] = rec;
        as_buf_reset(&b);
        auditd_type_name(&b, recs[i].type, recs[i].type_len);
        if (!json_object_object_get_ex(records, b.data, &arr)) {
            arr = json_object_new_array();
            json_object_object_add(records, b.data, arr);
        }
        json_object_array_add(arr, rec);
        if (first == NULL) {
            first = rec;
        }
        if (syscall == NULL &&
            auditd_eq(recs[i].type, recs[i].type_len, "SYSCALL")) {
            syscall = rec;
        }
        if (primary == NULL &&
            !auditd_aux_type(recs[i].type, recs[i].type_len)) {
            primary = rec;
            primary_type = recs[i].type;
            primary_type_len = recs[i].type_len;
        }
    }

    /* actor: auid, else uid; the SYSCALL record's, else the first. */
    v = auditd_get(syscall, "auid");
    for (size_t i = 0; v == NULL && i < n; i++) {
        v = auditd_get(objs[i], "auid");
    }
    if (v != NULL && v[0] != '\0' && strcmp(v, "unset") != 0) {
        actor = v;
    } else {
        v = auditd_get(syscall, "uid");
        for (size_t i = 0; v == NULL && i < n; i++) {
            v = auditd_get(objs[i], "uid");
        }
        if (v != NULL && v[0] != '\0' && strcmp(v, AUDITD_UNSET) != 0) {
            actor = v;
        }
    }
    json_object_object_add(obj, "actor_type",
                           json_object_new_string(actor ? "user" : "system"));
    json_object_object_add(obj, "actor_id",
                           json_object_new_string(actor ? actor : "system"));

    /* action */
    as_buf_reset(&b);
    as_buf_puts(&b, "auditd.");
    if (primary != NULL) {
        auditd_type_name(&b, primary_type, primary_type_len);
    } else if (syscall != NULL) {
        as_buf_puts(&b, "syscall");
        v = auditd_get(syscall, "syscall");
        if (v != NULL) {
            as_buf_putc(&b, '.');
            auditd_type_name(&b, v, strlen(v));
        }
    } else {
        auditd_type_name(&b, recs[0].type, recs[0].type_len);
    }
    json_object_object_add(obj, "action",
                           json_object_new_string_len(b.data, (int) b.len));

    auditd_target(obj, records, primary, syscall,
                  memmem(primary_type, primary_type_len, "GROUP", 5) != NULL ||
                      memmem(primary_type, primary_type_len, "GRP", 3) != NULL);

    /* ip_address: addr of a user-space record, when it is an IP. */
    v = auditd_get(primary, "addr");
    if (v != NULL) {
        unsigned char addr[16];

        if (inet_pton(AF_INET, v, addr) == 1 ||
            inet_pton(AF_INET6, v, addr) == 1) {
            json_object_object_add(obj, "ip_address",
                                   json_object_new_string(v));
        }
    }

    gmtime_r(&t, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms % 1000);
    json_object_object_add(obj, "created_at", json_object_new_string(ts));

    json_object_object_add(meta, "serial", json_object_new_int64(serial));
    if (node != NULL) {
        auditd_put(meta, "node", 4, node, node_len);
    }
    result = auditd_get(syscall, "result");
    if (result == NULL) {
        result = auditd_get(primary != NULL ? primary : first, "result");
    }
    if (result != NULL) {
        auditd_puts(meta, "result", result);
    }
    if (part > 0) {
        json_object_object_add(meta, "part", json_object_new_int(part));
    }
    json_object_object_add(meta, "records", records);
    json_object_object_add(obj, "metadata", meta);
    as_buf_free(&b);
    free(objs);
    return obj;
}

/* ---- the reassembler ---- */

struct as_auditd *
as_auditd_new(const struct as_auditd_opts *opts)
{
    struct as_auditd *a = as_calloc(1, sizeof(*a));

    if (opts != NULL) {
        a->opts = *opts;
    }
    if (a->opts.max_events == 0) {
        a->opts.max_events = AS_AUDITD_MAX_EVENTS;
    }
    if (a->opts.max_event_bytes == 0) {
        a->opts.max_event_bytes = AS_AUDITD_MAX_EVENT_BYTES;
    }
    if (a->opts.max_wait_ms == 0) {
        a->opts.max_wait_ms = AS_AUDITD_MAX_WAIT_MS;
    }
    return a;
}

static void
auditd_event_free(struct auditd_event *ev)
{
    free(ev->node);
    as_buf_free(&ev->text);
    free(ev->recs);
    free(ev);
}

void
as_auditd_free(struct as_auditd *a)
{
    struct auditd_event *ev, *next;

    if (a == NULL) {
        return;
    }
    for (ev = a->head; ev != NULL; ev = next) {
        next = ev->next;
        auditd_event_free(ev);
    }
    as_buf_free(&a->last_node);
    free(a);
}

static void
auditd_unlink(struct as_auditd *a, struct auditd_event *ev)
{
    if (ev->prev != NULL) {
        ev->prev->next = ev->next;
    } else {
        a->head = ev->next;
    }
    if (ev->next != NULL) {
        ev->next->prev = ev->prev;
    } else {
        a->tail = ev->prev;
    }
    ev->prev = ev->next = NULL;
    a->nevents--;
    a->nlines -= ev->nrecs;
}

static struct auditd_event *
auditd_find(struct as_auditd *a, const struct auditd_hdr *h)
{
    for (struct auditd_event *ev = a->tail; ev != NULL; ev = ev->prev) {
        if (ev->serial == h->serial && ev->sec == h->sec && ev->ms == h->ms &&
            ev->node_len == h->node_len &&
            (h->node_len == 0 || memcmp(ev->node, h->node, h->node_len) == 0)) {
            return ev;
        }
    }
    return NULL;
}

/* Counts the serials skipped since the last event emitted (auditd.h). */
static void
auditd_gaps(struct as_auditd *a, uint32_t serial, const char *node,
            size_t node_len)
{
    uint32_t d;

    if (!a->have_last || a->last_node.len != node_len ||
        (node_len > 0 && memcmp(a->last_node.data, node, node_len) != 0)) {
        as_buf_reset(&a->last_node);
        as_buf_put(&a->last_node, node != NULL ? node : "", node_len);
        a->have_last = true;
        a->last_serial = serial;
        return;
    }
    d = serial - a->last_serial;
    if (d == 0) {
        return;
    }
    if (d < AUDITD_GAP_AHEAD) {
        a->stats.serial_gaps += d - 1;
        a->last_serial = serial;
    } else if (a->last_serial - serial <= AUDITD_GAP_BEHIND) {
        if (a->stats.serial_gaps > 0) {
            a->stats.serial_gaps--;
        }
    } else {
        a->last_serial = serial; /* a reset (reboot) or a huge jump */
    }
}

/* Builds the object for the records ev holds now. */
static struct json_object *
auditd_event_json(struct auditd_event *ev, bool split)
{
    struct auditd_view *v = as_reallocarray(NULL, ev->nrecs, sizeof(*v));
    struct json_object *obj;

    for (size_t i = 0; i < ev->nrecs; i++) {
        v[i].type = ev->text.data + ev->recs[i].type_off;
        v[i].type_len = ev->recs[i].type_len;
        v[i].body = ev->text.data + ev->recs[i].body_off;
        v[i].body_len = ev->recs[i].body_len;
    }
    if (split || ev->part > 0) {
        ev->part++;
    }
    obj = auditd_build(v, ev->nrecs, ev->sec, ev->ms, ev->serial, ev->node,
                       ev->node_len, ev->part);
    free(v);
    return obj;
}

/* Unlinks ev, emits it and frees it. */
static void
auditd_complete(struct as_auditd *a, struct auditd_event *ev,
                as_auditd_emit_fn *emit, void *arg)
{
    struct json_object *obj;

    auditd_unlink(a, ev);
    obj = auditd_event_json(ev, false);
    if (ev->part <= 1) {
        auditd_gaps(a, ev->serial, ev->node, ev->node_len);
    }
    a->stats.events++;
    emit(arg, obj, NULL, 0, NULL);
    auditd_event_free(ev);
}

static void
auditd_age(struct as_auditd *a, uint64_t now_ms, uint64_t max_wait_ms,
           as_auditd_emit_fn *emit, void *arg)
{
    struct auditd_event *ev, *next;

    for (ev = a->head; ev != NULL; ev = next) {
        next = ev->next;
        if (max_wait_ms == 0 ||
            (now_ms >= ev->first_ms && now_ms - ev->first_ms >= max_wait_ms)) {
            a->stats.aged++;
            auditd_complete(a, ev, emit, arg);
        }
    }
}

static void
auditd_append(struct auditd_event *ev, const struct auditd_hdr *h, uint64_t tag,
              size_t cost)
{
    struct auditd_rec *r;

    if (ev->nrecs == ev->caprecs) {
        ev->caprecs = ev->caprecs ? ev->caprecs * 2 : 4;
        ev->recs = as_reallocarray(ev->recs, ev->caprecs, sizeof(*ev->recs));
    }
    r = &ev->recs[ev->nrecs++];
    r->type_off = ev->text.len;
    r->type_len = h->type_len;
    as_buf_put(&ev->text, h->type, h->type_len);
    r->body_off = ev->text.len;
    r->body_len = h->body_len;
    as_buf_put(&ev->text, h->body, h->body_len);
    ev->cost += cost;
    if (tag < ev->min_tag) {
        ev->min_tag = tag;
    }
}

void
as_auditd_feed(struct as_auditd *a, const char *line, size_t len, uint64_t tag,
               uint64_t now_ms, as_auditd_emit_fn *emit, void *arg)
{
    struct auditd_event *ev;
    struct json_object *part = NULL;
    struct auditd_hdr h;
    struct as_error err;
    size_t cost, blank = 0;

    a->stats.lines++;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) {
        len--;
    }
    while (blank < len && (line[blank] == ' ' || line[blank] == '\t')) {
        blank++;
    }
    if (blank == len) {
        goto age;
    }
    as_error_clear(&err);
    if (len > a->opts.max_event_bytes) {
        as_error_set(&err, "auditd: line of %zu bytes exceeds %zu", len,
                     a->opts.max_event_bytes);
        goto malformed;
    }
    if (auditd_header(line, len, &h, &err) != 0) {
        goto malformed;
    }
    ev = auditd_find(a, &h);
    if (auditd_eq(h.type, h.type_len, "EOE")) {
        if (ev != NULL) {
            auditd_complete(a, ev, emit, arg);
        } else {
            a->stats.stray_eoe++;
        }
        goto age;
    }
    if (ev == NULL && auditd_standalone(h.type, h.type_len)) {
        struct auditd_view v = {h.type, h.type_len, h.body, h.body_len};
        struct json_object *obj =
            auditd_build(&v, 1, h.sec, h.ms, h.serial, h.node, h.node_len, 0);

        auditd_gaps(a, h.serial, h.node, h.node_len);
        a->stats.events++;
        emit(arg, obj, NULL, 0, NULL);
        goto age;
    }
    cost = h.type_len + h.body_len + sizeof(struct auditd_rec);
    if (ev == NULL) {
        ev = as_calloc(1, sizeof(*ev));
        ev->sec = h.sec;
        ev->ms = h.ms;
        ev->serial = h.serial;
        if (h.node != NULL) {
            ev->node = as_memdup(h.node, h.node_len);
            ev->node_len = h.node_len;
        }
        ev->first_ms = now_ms;
        ev->min_tag = UINT64_MAX;
        ev->prev = a->tail;
        if (a->tail != NULL) {
            a->tail->next = ev;
        } else {
            a->head = ev;
        }
        a->tail = ev;
        a->nevents++;
    } else if (ev->cost + cost > a->opts.max_event_bytes) {
        /* Too big: what it holds goes out as a part, this line starts the
         * next part (held before emitting, see emit_fn). */
        part = auditd_event_json(ev, true);
        a->nlines -= ev->nrecs;
        ev->nrecs = 0;
        ev->cost = 0;
        ev->min_tag = UINT64_MAX;
        as_buf_reset(&ev->text);
    }
    auditd_append(ev, &h, tag, cost);
    a->nlines++;
    if (part != NULL) {
        if (ev->part == 1) {
            auditd_gaps(a, ev->serial, ev->node, ev->node_len);
        }
        a->stats.splits++;
        a->stats.events++;
        emit(arg, part, NULL, 0, NULL);
    }
    while (a->nevents > a->opts.max_events) {
        a->stats.evicted++;
        auditd_complete(a, a->head, emit, arg);
    }
    goto age;

malformed:
    a->stats.malformed++;
    emit(arg, NULL, line, len, &err);
age:
    auditd_age(a, now_ms, a->opts.max_wait_ms, emit, arg);
}

void
as_auditd_flush(struct as_auditd *a, uint64_t now_ms, uint64_t max_wait_ms,
                as_auditd_emit_fn *emit, void *arg)
{
    auditd_age(a, now_ms, max_wait_ms, emit, arg);
}

bool
as_auditd_oldest_pending(const struct as_auditd *a, uint64_t *tag)
{
    bool found = false;
    uint64_t min = UINT64_MAX;

    for (const struct auditd_event *ev = a->head; ev != NULL; ev = ev->next) {
        if (ev->nrecs > 0 && ev->min_tag <= min) {
            min = ev->min_tag;
            found = true;
        }
    }
    if (found && tag != NULL) {
        *tag = min;
    }
    return found;
}

size_t
as_auditd_pending_lines(const struct as_auditd *a)
{
    return a->nlines;
}

const struct as_auditd_stats *
as_auditd_stats(const struct as_auditd *a)
{
    return &a->stats;
}
