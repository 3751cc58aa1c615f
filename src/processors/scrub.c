/*
 * The scrub engine.  By key: the value of any member whose name matches a
 * configured key, at any depth (objects inside arrays inside objects), is
 * replaced whatever its type; names are compared case- and
 * separator-insensitively ("apiKey", "api-key", "API_KEY" all match
 * "api_key") after an FNV-1a hash prefilter.  By pattern: every string
 * value is scanned once for the literal anchors of the enabled detectors
 * (a 256-entry first-byte table); only detectors whose anchor occurs (or,
 * for anchor-less ones, whose run-length precondition holds) run their
 * PCRE2 JIT pattern.  Matches from all detectors are merged (overlaps count
 * once, credited to the earliest) and only the secret part is replaced, by
 * the replacement text or by "hmac:" + 16 hex of HMAC-SHA256.
 *
 * Owns: the normalized key list, compiled patterns, one match data block,
 * the anchor table, the HMAC key (cleansed on free) and the counters.
 * Invariants: keys are normalized (lower case, no '_', '-', '.' or ' ');
 * at most SCRUB_MAX_DET detectors; patterns run on bytes (no PCRE2_UTF),
 * and a valid UTF-8 string stays valid (spans start and end on ASCII
 * boundaries or at the ends of non-ASCII runs).  Nothing here logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pcre2.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "scrub.h"
#include "scrub_patterns.h"

#define SCRUB_MAX_DET      64
#define SCRUB_MAX_NEEDS    8 /* distinct .needs sets (bits of need_cls) */
#define SCRUB_MAX_KEY_FILE 4096
#define SCRUB_HMAC_HEX     16

struct scrub_det {
    const char *name; /* borrowed from the built-in table or conf */
    pcre2_code *re;
    bool jit;
    int s_group, t_group; /* numbers of groups "s" and "t", or -1 */
    size_t min_len;       /* PCRE2_INFO_MINLENGTH: no shorter match */
    uint8_t need;         /* its bit in need_cls, or 0 */
    const struct as__scrub_builtin *b; /* NULL for scrub.custom */
    uint64_t hits;
};

struct scrub_anchor {
    const char *lit;
    size_t len;
    unsigned char c1a, c1b; /* the accepted values of lit[1] */
    bool ci;
    uint8_t det;
};

/* Byte classes for the run-length preconditions. */
#define SCRUB_CLS_TOKEN 1 /* [A-Za-z0-9_.+/=-] */
#define SCRUB_CLS_DIGIT 2
#define SCRUB_CLS_SEP   4 /* ' ' and '-' inside a card number */

struct scrub_span {
    size_t start, end;
    uint8_t det;
};

struct as_scrub {
    char **keys;
    uint32_t *hashes; /* scrub_normalize hash of each key */
    size_t n_keys;
    uint64_t key_tri[32768 / 64]; /* first 3 normalized chars of the keys */
    bool key_short;               /* some key is shorter than 3 chars */
    bool key_plain[256]; /* not NUL nor a separator scrub_normalize drops */
    char *replacement;
    size_t replacement_len;
    bool hmac;
    unsigned char *hmac_key;
    size_t hmac_key_len;

    struct scrub_det det[SCRUB_MAX_DET];
    size_t n_det;
    uint64_t always;   /* detectors without anchors or preconditions */
    uint64_t by_run;   /* anchor-less detectors gated by min_run */
    uint64_t by_digit; /* gated by min_digits */
    unsigned min_run, min_digits;
    struct scrub_anchor *anchors[256]; /* per first byte, NULL-terminated */
    uint64_t bigram[65536 / 64];       /* scrub_pair of byte pairs of anchors */
    uint64_t anchor_tri[32768 / 64];   /* scrub_tri of their first three */
    bool first[256];                   /* first byte of some anchor */
    unsigned char cls[256];            /* SCRUB_CLS_* of each byte */
    bool one_byte[256];                /* a one-byte anchor starts with it */
    size_t min_anchor, n_anchor_total;
    size_t step; /* bytes between two probes of the pair filter */
    size_t n_anchors[256];
    size_t min_len;        /* the shortest min_len of any detector */
    uint64_t gated;        /* detectors with a min_len or a need */
    uint8_t need_cls[256]; /* bit i: the byte is in need_sets[i] */
    const char *need_sets[SCRUB_MAX_NEEDS];
    size_t n_need_sets;
    pcre2_match_data *md;

    struct scrub_span *spans;
    size_t n_spans, cap_spans;
    uint64_t key_hits, placeholders;
    bool clone; /* as_scrub_clone: owns md and spans only */
};

/*
 * Lower case without separators, into out (at most out_len - 1 chars), and
 * an FNV-1a hash of the result in *hash, so that most member names are
 * ruled out without a string comparison.
 */
static size_t
scrub_normalize(const char *s, char *out, size_t out_len, uint32_t *hash)
{
    uint32_t h = 2166136261u;
    size_t n = 0;

    for (; *s != '\0' && n + 1 < out_len; s++) {
        char c = *s;

        if (c == '_' || c == '-' || c == '.' || c == ' ') {
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            c = (char) (c - 'A' + 'a');
        }
        out[n++] = c;
        h = (h ^ (unsigned char) c) * 16777619u;
    }
    out[n] = '\0';
    *hash = h;
    return n;
}

/*
 * 15 bits from the low 5 bits of three characters: the upper and lower
 * case of a letter give the same bits.
 */
static unsigned
scrub_tri(const char *c)
{
    return ((unsigned) c[0] & 31) << 10 | ((unsigned) c[1] & 31) << 5 |
           ((unsigned) c[2] & 31);
}

/*
 * The first three characters of name as scrub_normalize would keep them;
 * false when the name has fewer.
 */
static bool
scrub_name_tri(const char *name, unsigned *k)
{
    char c[3];
    size_t n = 0;

    for (; *name != '\0' && n < 3; name++) {
        if (*name == '_' || *name == '-' || *name == '.' || *name == ' ') {
            continue;
        }
        c[n++] = *name;
    }
    if (n < 3) {
        return false;
    }
    *k = scrub_tri(c);
    return true;
}

const char *const *
as_scrub_builtin_names(void)
{
    static const char *names[SCRUB_MAX_DET + 1];

    if (names[0] == NULL) {
        for (size_t i = 0; i < as__scrub_n_builtins && i < SCRUB_MAX_DET; i++) {
            names[i] = as__scrub_builtins[i].name;
        }
    }
    return names;
}

static void
scrub_add_anchor(struct as_scrub *s, unsigned char first, const char *lit,
                 bool ci, uint8_t det)
{
    size_t n = s->n_anchors[first];

    s->anchors[first] =
        as_reallocarray(s->anchors[first], n + 2, sizeof(struct scrub_anchor));
    s->anchors[first][n].lit = lit;
    s->anchors[first][n].len = strlen(lit);
    s->anchors[first][n].ci = ci;
    s->anchors[first][n].c1a = s->anchors[first][n].c1b =
        (unsigned char) lit[1];
    if (ci && ((unsigned char) lit[1] | 0x20) >= 'a' &&
        ((unsigned char) lit[1] | 0x20) <= 'z') {
        s->anchors[first][n].c1a = (unsigned char) lit[1] | 0x20;
        s->anchors[first][n].c1b = (unsigned char) lit[1] & ~0x20u;
    }
    s->anchors[first][n].det = det;
    memset(&s->anchors[first][n + 1], 0, sizeof(struct scrub_anchor));
    s->n_anchors[first] = n + 1;
    s->first[first] = true;
    if (s->n_anchor_total == 0 || strlen(lit) < s->min_anchor) {
        s->min_anchor = strlen(lit);
    }
    s->n_anchor_total++;
}

/*
 * The index of the byte pair at p in the pair set: p[0] | p[1] << 8, one
 * 16-bit load on a little-endian machine.
 */
static inline unsigned
scrub_pair(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
#else
    return (unsigned) p[0] | (unsigned) p[1] << 8;
#endif
}

static void
scrub_bigram_set(struct as_scrub *s, unsigned char a, unsigned char b, bool ci)
{
    unsigned char va[2] = {a, a}, vb[2] = {b, b};

    if (ci && (a | 0x20) >= 'a' && (a | 0x20) <= 'z') {
        va[0] = a | 0x20;
        va[1] = a & ~0x20u;
    }
    if (ci && (b | 0x20) >= 'a' && (b | 0x20) <= 'z') {
        vb[0] = b | 0x20;
        vb[1] = b & ~0x20u;
    }
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            unsigned char pair[2] = {va[i], vb[j]};
            unsigned k = scrub_pair(pair);

            s->bigram[k / 64] |= UINT64_C(1) << (k % 64);
        }
    }
}

/*
 * The prefilter: with every anchor at least m >= 3 bytes long, probing the
 * byte pairs at every (m - 1)-th offset (at most every 3rd) is enough when
 * the pair set holds each anchor's pairs at offsets 0 .. step - 1: one of
 * them starts at a probed offset.  A pair hit leaves step places an anchor
 * may start at; the set of the anchors' first three bytes (scrub_tri, so
 * both cases of a letter) rules most of them out before the anchors are
 * compared.  One-byte or two-byte anchors (opt-in detectors) make the
 * step 1.
 */
static void
scrub_build_filter(struct as_scrub *s)
{
    s->step = s->min_anchor >= 3 ? s->min_anchor - 1 : 1;
    if (s->step > 3) {
        s->step = 3;
    }
    for (size_t c = 0; c < 256; c++) {
        for (size_t i = 0; i < s->n_anchors[c]; i++) {
            const struct scrub_anchor *a = &s->anchors[c][i];

            if (a->len == 1) {
                s->one_byte[c] = true;
                continue;
            }
            for (size_t o = 0; o < s->step && o + 1 < a->len; o++) {
                scrub_bigram_set(s, (unsigned char) a->lit[o],
                                 (unsigned char) a->lit[o + 1], a->ci);
            }
            if (a->len >= 3) {
                unsigned k = scrub_tri(a->lit);

                s->anchor_tri[k / 64] |= UINT64_C(1) << (k % 64);
            }
        }
    }
}

/* false when the environment asks for no JIT (AS_PCRE2_JIT=0). */
static bool
scrub_jit_wanted(void)
{
    const char *v = getenv("AS_PCRE2_JIT");

    return v == NULL || strcmp(v, "0") != 0;
}

/* Compiles one pattern into s->det[s->n_det]; err names it on failure. */
static int
scrub_add_det(struct as_scrub *s, const char *name, const char *regex,
              const struct as__scrub_builtin *b, const char *key,
              struct as_error *err)
{
    struct scrub_det *d;
    int ec, num;
    uint32_t min_len;
    PCRE2_SIZE off;

    if (s->n_det >= SCRUB_MAX_DET) {
        as_error_set(err, "%s: at most %d patterns", key, SCRUB_MAX_DET);
        return AS_ERR_CONFIG;
    }
    d = &s->det[s->n_det];
    d->re = pcre2_compile((PCRE2_SPTR) regex, PCRE2_ZERO_TERMINATED, 0, &ec,
                          &off, NULL);
    if (d->re == NULL) {
        PCRE2_UCHAR msg[160];

        pcre2_get_error_message(ec, msg, sizeof(msg));
        as_error_set(err,
                     "%s: pattern \"%s\" does not compile: %s at offset "
                     "%zu",
                     key, name, (const char *) msg, (size_t) off);
        return AS_ERR_CONFIG;
    }
    /*
     * Without JIT support pcre2_match interprets: slower, still correct.
     * AS_PCRE2_JIT=0 turns JIT off on purpose: valgrind cannot follow JIT
     * code and reports its vector reads as errors (scripts/memcheck).
     */
    d->jit =
        scrub_jit_wanted() && pcre2_jit_compile(d->re, PCRE2_JIT_COMPLETE) == 0;
    num = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR) "s");
    d->s_group = num > 0 ? num : -1;
    num = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR) "t");
    d->t_group = num > 0 ? num : -1;
    /* A lower bound on the length of any match (0 when not known). */
    if (pcre2_pattern_info(d->re, PCRE2_INFO_MINLENGTH, &min_len) != 0) {
        min_len = 0;
    }
    d->min_len = min_len;
    d->name = name;
    d->b = b;
    s->n_det++;
    return 0;
}

/* Gives d the need_cls bit of the byte set needs (shared by equal sets). */
static void
scrub_add_need(struct as_scrub *s, struct scrub_det *d, const char *needs)
{
    size_t i = 0;

    while (i < s->n_need_sets && strcmp(s->need_sets[i], needs) != 0) {
        i++;
    }
    if (i == SCRUB_MAX_NEEDS) {
        return; /* no bit left: the detector runs without this gate */
    }
    if (i == s->n_need_sets) {
        s->need_sets[s->n_need_sets++] = needs;
        for (const char *c = needs; *c != '\0'; c++) {
            s->need_cls[(unsigned char) *c] |= (uint8_t) (1u << i);
        }
    }
    d->need = (uint8_t) (1u << i);
}

static int
scrub_add_builtin(struct as_scrub *s, const struct as__scrub_builtin *b,
                  struct as_error *err)
{
    uint8_t id = (uint8_t) s->n_det;
    int rc;

    if ((rc = scrub_add_det(s, b->name, b->regex, b, "scrub.patterns", err)) !=
        0) {
        return rc;
    }
    if (b->needs != NULL) {
        scrub_add_need(s, &s->det[id], b->needs);
    }
    if (b->anchors[0] == NULL) {
        if (b->min_run > 0) {
            s->by_run |= UINT64_C(1) << id;
            if (s->min_run == 0 || b->min_run < s->min_run) {
                s->min_run = b->min_run;
            }
        } else if (b->min_digits > 0) {
            s->by_digit |= UINT64_C(1) << id;
            if (s->min_digits == 0 || b->min_digits < s->min_digits) {
                s->min_digits = b->min_digits;
            }
        } else {
            s->always |= UINT64_C(1) << id;
        }
        return 0;
    }
    for (size_t i = 0; i < SCRUB_MAX_ANCHORS && b->anchors[i] != NULL; i++) {
        unsigned char c = (unsigned char) b->anchors[i][0];

        if (b->anchors_ci && c >= 'a' && c <= 'z') {
            scrub_add_anchor(s, c, b->anchors[i], true, id);
            scrub_add_anchor(s, (unsigned char) (c - 'a' + 'A'), b->anchors[i],
                             true, id);
        } else if (b->anchors_ci && c >= 'A' && c <= 'Z') {
            scrub_add_anchor(s, c, b->anchors[i], true, id);
            scrub_add_anchor(s, (unsigned char) (c - 'A' + 'a'), b->anchors[i],
                             true, id);
        } else {
            scrub_add_anchor(s, c, b->anchors[i], b->anchors_ci, id);
        }
    }
    return 0;
}

static const struct as__scrub_builtin *
scrub_find_builtin(const char *name)
{
    for (size_t i = 0; i < as__scrub_n_builtins; i++) {
        if (strcmp(as__scrub_builtins[i].name, name) == 0) {
            return &as__scrub_builtins[i];
        }
    }
    return NULL;
}

/* Reads the HMAC key file (at most SCRUB_MAX_KEY_FILE bytes). */
static int
scrub_read_key(struct as_scrub *s, const char *path, struct as_error *err)
{
    unsigned char buf[SCRUB_MAX_KEY_FILE + 1];
    size_t n = 0;
    ssize_t r;
    int fd, rc = AS_ERR_CONFIG;

    if (path == NULL || path[0] == '\0') {
        as_error_set(err, "scrub.key_file: replacement \"hmac\" needs a key "
                          "file");
        return AS_ERR_CONFIG;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        as_error_set(err, "scrub.key_file: cannot open %s: %s", path,
                     strerror(errno));
        return AS_ERR_CONFIG;
    }
    while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            as_error_set(err, "scrub.key_file: cannot read %s: %s", path,
                         strerror(errno));
            goto out;
        }
        n += (size_t) r;
    }
    if (n == 0 || n > SCRUB_MAX_KEY_FILE) {
        as_error_set(err, "scrub.key_file: %s must hold 1 to %d bytes", path,
                     SCRUB_MAX_KEY_FILE);
        goto out;
    }
    s->hmac_key = as_memdup(buf, n);
    s->hmac_key_len = n;
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

/*
 * as_scrub_new, also naming in where the config key to blame on error
 * ("scrub.patterns", "scrub.custom[N].regex", "scrub.key_file"), in a
 * buffer of where_len bytes.
 */
static int
scrub_new(const struct as_conf_scrub *conf, struct as_scrub **out,
          struct as_error *err, char *where, size_t where_len)
{
    struct as_scrub *s = as_calloc(1, sizeof(*s));
    char norm[256];
    size_t max_groups = 1;
    char *key = NULL;
    int rc;

    *out = NULL;
    where[0] = '\0';
    for (unsigned c = 0; c < 256; c++) {
        bool digit = c >= '0' && c <= '9';
        bool alpha = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';

        s->cls[c] =
            (unsigned char) (((digit || alpha ||
                               strchr("_.+/=-", (int) c) != NULL) &&
                                      c != 0
                                  ? SCRUB_CLS_TOKEN
                                  : 0) |
                             (digit ? SCRUB_CLS_DIGIT : 0) |
                             ((c == ' ' || c == '-') ? SCRUB_CLS_SEP : 0));
    }
    for (unsigned c = 1; c < 256; c++) {
        s->key_plain[c] = c != '_' && c != '-' && c != '.' && c != ' ';
    }
    s->keys = as_calloc(conf->keys.n + 1, sizeof(char *));
    s->hashes = as_calloc(conf->keys.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < conf->keys.n; i++) {
        if (scrub_normalize(conf->keys.v[i], norm, sizeof(norm),
                            &s->hashes[s->n_keys]) > 0) {
            s->keys[s->n_keys++] = as_strdup(norm);
            if (strlen(norm) < 3) {
                s->key_short = true;
            } else {
                unsigned k = scrub_tri(norm);

                s->key_tri[k / 64] |= UINT64_C(1) << (k % 64);
            }
        }
    }
    s->replacement =
        as_strdup(conf->replacement != NULL ? conf->replacement : "[REDACTED]");
    s->replacement_len = strlen(s->replacement);
    if (strcmp(s->replacement, "hmac") == 0) {
        s->hmac = true;
        if ((rc = scrub_read_key(s, conf->key_file, err)) != 0) {
            snprintf(where, where_len, "scrub.key_file");
            goto out;
        }
    }
    for (size_t i = 0; i < conf->patterns.n; i++) {
        const struct as__scrub_builtin *b =
            scrub_find_builtin(conf->patterns.v[i]);
        bool dup = false;

        if (b == NULL) {
            as_error_set(err,
                         "scrub.patterns: unknown pattern \"%s\" (see "
                         "docs/SCRUBBING.md)",
                         conf->patterns.v[i]);
            snprintf(where, where_len, "scrub.patterns");
            rc = AS_ERR_CONFIG;
            goto out;
        }
        for (size_t k = 0; k < s->n_det; k++) {
            dup = dup || s->det[k].b == b;
        }
        if (!dup && (rc = scrub_add_builtin(s, b, err)) != 0) {
            snprintf(where, where_len, "scrub.patterns");
            goto out;
        }
    }
    for (size_t i = 0; i < conf->custom.n; i++) {
        const struct as_conf_scrub_custom *c =
            (const struct as_conf_scrub_custom *) conf->custom.items + i;

        free(key);
        as_asprintf(&key, "scrub.custom[%zu].regex", i);
        if (c->regex == NULL || c->regex[0] == '\0') {
            as_error_set(err, "%s: empty regex", key);
            rc = AS_ERR_CONFIG;
            goto out;
        }
        if ((rc = scrub_add_det(s, c->name != NULL ? c->name : "custom",
                                c->regex, NULL, key, err)) != 0) {
            goto out;
        }
        s->always |= UINT64_C(1) << (s->n_det - 1);
    }
    scrub_build_filter(s);
    s->min_len = s->n_det > 0 ? s->det[0].min_len : 0;
    for (size_t i = 0; i < s->n_det; i++) {
        uint32_t n;

        if (s->det[i].min_len > 0 || s->det[i].need != 0) {
            s->gated |= UINT64_C(1) << i;
        }
        if (s->det[i].min_len < s->min_len) {
            s->min_len = s->det[i].min_len;
        }

        pcre2_pattern_info(s->det[i].re, PCRE2_INFO_CAPTURECOUNT, &n);
        if (n + 1 > max_groups) {
            max_groups = n + 1;
        }
    }
    s->md = pcre2_match_data_create((uint32_t) max_groups, NULL);
    if (s->md == NULL) {
        as_fatalx("out of memory");
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    if (rc != 0 && where[0] == '\0' && key != NULL) {
        snprintf(where, where_len, "%s", key);
    }
    free(key);
    as_scrub_free(s);
    return rc;
}

int
as_scrub_new(const struct as_conf_scrub *conf, struct as_scrub **out,
             struct as_error *err)
{
    char where[64];

    return scrub_new(conf, out, err, where, sizeof(where));
}

int
as_scrub_new_config(const struct as_config *c, struct as_scrub **out,
                    struct as_error *err)
{
    char where[64];
    int rc = scrub_new(&c->scrub, out, err, where, sizeof(where));
    int line = 0, col = 0;

    if (rc != 0 && where[0] != '\0') {
        as_config_mark(c, where, &line, &col);
        err->file = c->path;
        err->line = line;
        err->col = col;
    }
    return rc;
}

struct as_scrub *
as_scrub_clone(const struct as_scrub *s)
{
    struct as_scrub *c = as_malloc(sizeof(*c));
    uint32_t groups = pcre2_get_ovector_count(s->md);

    *c = *s;
    c->clone = true;
    c->spans = NULL;
    c->n_spans = c->cap_spans = 0;
    c->key_hits = c->placeholders = 0;
    for (size_t i = 0; i < c->n_det; i++) {
        c->det[i].hits = 0;
    }
    c->md = pcre2_match_data_create(groups, NULL);
    if (c->md == NULL) {
        as_fatalx("out of memory");
    }
    return c;
}

void
as_scrub_merge_counts(struct as_scrub *s, struct as_scrub *clone)
{
    for (size_t i = 0; i < s->n_det && i < clone->n_det; i++) {
        s->det[i].hits += clone->det[i].hits;
        clone->det[i].hits = 0;
    }
    s->key_hits += clone->key_hits;
    s->placeholders += clone->placeholders;
    clone->key_hits = clone->placeholders = 0;
}

void
as_scrub_free(struct as_scrub *s)
{
    if (s == NULL) {
        return;
    }
    if (s->clone) {
        pcre2_match_data_free(s->md);
        free(s->spans);
        free(s);
        return;
    }
    for (size_t i = 0; i < s->n_keys; i++) {
        free(s->keys[i]);
    }
    for (size_t i = 0; i < s->n_det; i++) {
        pcre2_code_free(s->det[i].re);
    }
    for (size_t i = 0; i < 256; i++) {
        free(s->anchors[i]);
    }
    pcre2_match_data_free(s->md);
    if (s->hmac_key != NULL) {
        as_freezero(s->hmac_key, s->hmac_key_len);
    }
    free(s->spans);
    free(s->keys);
    free(s->hashes);
    free(s->replacement);
    free(s);
}

void
as__scrub_without_prefilter(struct as_scrub *s)
{
    /* Every detector is a candidate whatever the scan finds, ungated. */
    s->always = s->n_det < 64 ? (UINT64_C(1) << s->n_det) - 1 : ~UINT64_C(0);
    s->gated = 0;
    s->min_len = 0;
}

size_t
as_scrub_n_detectors(const struct as_scrub *s)
{
    return s->n_det;
}

const char *
as_scrub_detector_name(const struct as_scrub *s, size_t i)
{
    return i < s->n_det ? s->det[i].name : NULL;
}

uint64_t
as_scrub_detector_hits(const struct as_scrub *s, size_t i)
{
    return i < s->n_det ? s->det[i].hits : 0;
}

uint64_t
as_scrub_key_hits(const struct as_scrub *s)
{
    return s->key_hits;
}

uint64_t
as_scrub_placeholders(const struct as_scrub *s)
{
    return s->placeholders;
}

/* Appends the replacement for secret[0..len) to out. */
static void
scrub_put_replacement(const struct as_scrub *s, const char *secret, size_t len,
                      struct as_buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char hex[5 + SCRUB_HMAC_HEX + 1];

    if (!s->hmac) {
        as_buf_put(out, s->replacement, s->replacement_len);
        return;
    }
    HMAC(EVP_sha256(), s->hmac_key, (int) s->hmac_key_len,
         (const unsigned char *) secret, len, md, &md_len);
    memcpy(hex, "hmac:", 5);
    for (size_t i = 0; i < SCRUB_HMAC_HEX / 2; i++) {
        snprintf(hex + 5 + 2 * i, 3, "%02x", md[i]);
    }
    as_buf_put(out, hex, 5 + SCRUB_HMAC_HEX);
    OPENSSL_cleanse(md, sizeof(md));
}

/*
 * Whether p[0..len) holds `need` bytes of class `cls` in one run, where
 * bytes of class `gap` may sit between two of them (card numbers: "4111
 * 1111-..." ).  Probes every need-th byte and measures only the runs a
 * probe lands in: a run that long cannot fall between two probes.
 */
static inline bool
scrub_has_run(const struct as_scrub *s, const unsigned char *p, size_t len,
              unsigned char cls, unsigned char gap, size_t need)
{
    size_t j = need - 1;

    while (j < len) {
        size_t a = j, b = j, n = 0;

        if (!(s->cls[p[j]] & (cls | gap))) {
            j += need;
            continue;
        }
        while (a > 0 && (s->cls[p[a - 1]] & (cls | gap))) {
            a--;
        }
        while (b < len && (s->cls[p[b]] & (cls | gap))) {
            b++;
        }
        if (b - a < need) {
            j = b + need; /* too short to hold need bytes of cls */
            continue;
        }
        for (size_t i = a; i < b; i++) {
            if (s->cls[p[i]] & cls) {
                if (++n >= need) {
                    return true;
                }
            } else if (i == a || !(s->cls[p[i - 1]] & cls)) {
                n = 0; /* two gap bytes in a row end a card number */
            }
        }
        j = b + need;
    }
    return false;
}

/* Case-insensitive comparison with lit, which is ASCII. */
static bool
scrub_ieq(const unsigned char *p, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char a = p[i], b = (unsigned char) lit[i];

        if (a != b && ((a | 0x20) != (b | 0x20) || (a | 0x20) < 'a' ||
                       (a | 0x20) > 'z')) {
            return false;
        }
    }
    return true;
}

/* The detectors (beyond mask) whose anchors start at p[i]. */
static uint64_t
scrub_anchors_at(const struct as_scrub *s, const unsigned char *p, size_t len,
                 size_t i, uint64_t mask)
{
    const struct scrub_anchor *a = s->anchors[p[i]];

    if (a == NULL) {
        return 0;
    }
    for (; a->lit != NULL; a++) {
        if (a->len > len - i ||
            (a->len > 1 && p[i + 1] != a->c1a && p[i + 1] != a->c1b) ||
            (mask >> a->det) & 1) {
            continue;
        }
        if (a->ci ? scrub_ieq(p + i, a->lit, a->len)
                  : memcmp(p + i, a->lit, a->len) == 0) {
            mask |= UINT64_C(1) << a->det;
        }
    }
    return mask;
}

/*
 * One pass over the bytes: which detectors' anchors occur, and whether the
 * run-length preconditions of anchor-less detectors hold.
 */
static uint64_t
scrub_candidates(const struct as_scrub *s, const unsigned char *p, size_t len)
{
    uint64_t mask = s->always;

    if (s->step > 1) {
        for (size_t i = 0; i + 1 < len; i += s->step) {
            unsigned k = scrub_pair(p + i);

            if (!((s->bigram[k / 64] >> (k % 64)) & 1)) {
                continue;
            }
            for (size_t o = 0; o < s->step && o <= i; o++) {
                size_t j = i - o;
                unsigned t;

                /* Every anchor is 3+ bytes long when the step is 2 or 3. */
                if (j + 3 > len) {
                    continue;
                }
                t = scrub_tri((const char *) p + j);
                if ((s->anchor_tri[t / 64] >> (t % 64)) & 1) {
                    mask |= scrub_anchors_at(s, p, len, j, mask);
                }
            }
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned k;

            if (!s->first[p[i]]) {
                continue;
            }
            if (i + 1 < len) {
                k = scrub_pair(p + i);
            } else {
                unsigned char last[2] = {p[i], 0};

                k = scrub_pair(last);
            }
            if ((s->bigram[k / 64] >> (k % 64)) & 1 || s->one_byte[p[i]]) {
                mask |= scrub_anchors_at(s, p, len, i, mask);
            }
        }
    }
    if (s->by_run != 0 && len >= s->min_run &&
        scrub_has_run(s, p, len, SCRUB_CLS_TOKEN, 0, s->min_run)) {
        mask |= s->by_run;
    }
    if (s->by_digit != 0 && len >= s->min_digits &&
        scrub_has_run(s, p, len, SCRUB_CLS_DIGIT, SCRUB_CLS_SEP,
                      s->min_digits)) {
        mask |= s->by_digit;
    }
    return mask;
}

static void
scrub_push_span(struct as_scrub *s, size_t start, size_t end, size_t det)
{
    if (s->n_spans == s->cap_spans) {
        s->cap_spans = s->cap_spans == 0 ? 8 : 2 * s->cap_spans;
        s->spans = as_reallocarray(s->spans, s->cap_spans, sizeof(*s->spans));
    }
    s->spans[s->n_spans].start = start;
    s->spans[s->n_spans].end = end;
    s->spans[s->n_spans].det = (uint8_t) det;
    s->n_spans++;
}

/* Collects the secret spans of detector d over p[0..len). */
static void
scrub_run_det(struct as_scrub *s, size_t d, const char *p, size_t len)
{
    const struct scrub_det *det = &s->det[d];
    PCRE2_SIZE off = 0;

    while (off <= len) {
        PCRE2_SIZE *ov;
        size_t a, b;
        int rc = det->jit ? pcre2_jit_match(det->re, (PCRE2_SPTR) p, len, off,
                                            0, s->md, NULL)
                          : pcre2_match(det->re, (PCRE2_SPTR) p, len, off, 0,
                                        s->md, NULL);

        if (rc < 0) {
            break;
        }
        ov = pcre2_get_ovector_pointer(s->md);
        a = ov[0];
        b = ov[1];
        if (det->s_group > 0 && det->s_group < rc &&
            ov[2 * det->s_group] != PCRE2_UNSET) {
            a = ov[2 * det->s_group];
            b = ov[2 * det->s_group + 1];
        } else if (det->t_group > 0 && det->t_group < rc &&
                   ov[2 * det->t_group] != PCRE2_UNSET) {
            a = ov[2 * det->t_group];
            b = ov[2 * det->t_group + 1];
        }
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        /* Keep quotes around a quoted value: "[REDACTED]". */
        if (b - a >= 2 && (p[a] == '"' || p[a] == '\'' || p[a] == '`') &&
            p[b - 1] == p[a]) {
            a++;
            b--;
        }
        if (b <= a) {
            continue;
        }
        if (det->b != NULL && det->b->check != NULL &&
            !det->b->check(p + a, b - a)) {
            s->placeholders++;
            continue;
        }
        if (det->b != NULL && det->b->placeholders &&
            as__scrub_is_placeholder(p + a, b - a)) {
            s->placeholders++;
            continue;
        }
        scrub_push_span(s, a, b, d);
    }
}

static int
scrub_span_cmp(const void *x, const void *y)
{
    const struct scrub_span *a = x, *b = y;

    if (a->start != b->start) {
        return a->start < b->start ? -1 : 1;
    }
    return a->det < b->det ? -1 : a->det > b->det;
}

/* Replaces the collected spans; returns the number of redactions. */
static unsigned
scrub_apply(struct as_scrub *s, const char *p, size_t len, struct as_buf *out)
{
    size_t pos = 0, i = 0;
    unsigned n = 0;

    qsort(s->spans, s->n_spans, sizeof(*s->spans), scrub_span_cmp);
    as_buf_reset(out);
    while (i < s->n_spans) {
        size_t start = s->spans[i].start, end = s->spans[i].end;

        s->det[s->spans[i].det].hits++;
        for (i++; i < s->n_spans && s->spans[i].start < end; i++) {
            end = s->spans[i].end > end ? s->spans[i].end : end;
        }
        if (start < pos) {
            start = pos; /* cannot happen after the merge; kept safe */
        }
        as_buf_put(out, p + pos, start - pos);
        scrub_put_replacement(s, p + start, end - start, out);
        pos = end;
        n++;
    }
    as_buf_put(out, p + pos, len - pos);
    return n;
}

/*
 * Drops from mask the detectors that cannot match p[0..len): shorter than
 * their shortest match, or without any byte of their .needs set (an
 * assignment needs ':' or '=', "Bearer" white space...).  Both are facts
 * about every match, so the result is the same as running them.
 */
static uint64_t
scrub_gate(const struct as_scrub *s, const unsigned char *p, size_t len,
           uint64_t mask)
{
    uint8_t want = 0, have = 0;

    for (uint64_t m = mask & s->gated; m != 0; m &= m - 1) {
        const struct scrub_det *d = &s->det[__builtin_ctzll(m)];

        if (len < d->min_len) {
            mask &= ~(m & -m);
        } else {
            want |= d->need;
        }
    }
    if (want == 0) {
        return mask;
    }
    for (size_t i = 0; i < len && (have & want) != want; i++) {
        have |= s->need_cls[p[i]];
    }
    for (uint64_t m = mask & s->gated; m != 0; m &= m - 1) {
        const struct scrub_det *d = &s->det[__builtin_ctzll(m)];

        if (d->need != 0 && !(have & d->need)) {
            mask &= ~(m & -m);
        }
    }
    return mask;
}

/* Runs the detectors in mask over in[0..len), for as_scrub_bytes. */
static __attribute__((noinline)) unsigned
scrub_run_dets(struct as_scrub *s, const char *in, size_t len, uint64_t mask,
               struct as_buf *out)
{
    mask = scrub_gate(s, (const unsigned char *) in, len, mask);
    if (mask == 0) {
        return 0;
    }
    s->n_spans = 0;
    for (; mask != 0; mask &= mask - 1) {
        scrub_run_det(s, (size_t) __builtin_ctzll(mask), in, len);
    }
    if (s->n_spans == 0) {
        return 0;
    }
    return scrub_apply(s, in, len, out);
}

unsigned
as_scrub_bytes(struct as_scrub *s, const char *in, size_t len,
               struct as_buf *out)
{
    uint64_t mask;

    if (s == NULL || s->n_det == 0 || len < s->min_len) {
        return 0;
    }
    mask = scrub_candidates(s, (const unsigned char *) in, len);
    return mask != 0 ? scrub_run_dets(s, in, len, mask, out) : 0;
}

/* The exact comparison, for names that pass the prefilter. */
static __attribute__((noinline)) int
scrub_key_compare(const struct as_scrub *s, const char *key)
{
    char norm[256];
    uint32_t h;

    if (scrub_normalize(key, norm, sizeof(norm), &h) == 0) {
        return 0;
    }
    for (size_t i = 0; i < s->n_keys; i++) {
        if (s->hashes[i] == h && strcmp(norm, s->keys[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static inline int
scrub_key_matches(const struct as_scrub *s, const char *key)
{
    unsigned k;

    if (s->n_keys == 0) {
        return 0;
    }
    /*
     * Most names are ruled out by their first three characters.  When none
     * of them is a separator (or the end), they are the first three of the
     * normalized name; key_plain[0] is false, so a byte past the end is
     * never read.
     */
    if (s->key_plain[(unsigned char) key[0]] &&
        s->key_plain[(unsigned char) key[1]] &&
        s->key_plain[(unsigned char) key[2]]) {
        k = scrub_tri(key);
        if (!((s->key_tri[k / 64] >> (k % 64)) & 1)) {
            return 0;
        }
    } else if (scrub_name_tri(key, &k)) {
        if (!((s->key_tri[k / 64] >> (k % 64)) & 1)) {
            return 0;
        }
    } else if (!s->key_short) {
        return 0;
    }
    return scrub_key_compare(s, key);
}

static struct json_object *
scrub_key_replacement(const struct as_scrub *s, struct json_object *v)
{
    struct as_buf b = AS_BUF_INIT;
    struct json_object *o;
    const char *text;
    size_t len;

    if (!s->hmac) {
        return json_object_new_string_len(s->replacement,
                                          (int) s->replacement_len);
    }
    if (json_object_is_type(v, json_type_string)) {
        text = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
    } else {
        text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        len = strlen(text);
    }
    scrub_put_replacement(s, text, len, &b);
    o = json_object_new_string_len(b.data, (int) b.len);
    as_buf_free(&b);
    return o;
}

/* Scrubs the string v, len bytes long. */
static unsigned
scrub_string_len(struct as_scrub *s, struct json_object *v, size_t len,
                 struct as_buf *tmp)
{
    unsigned n;

    if (len < s->min_len) {
        return 0; /* shorter than any match: spare the json-c call */
    }
    n = as_scrub_bytes(s, json_object_get_string(v), len, tmp);
    if (n > 0) {
        json_object_set_string_len(v, tmp->data, (int) tmp->len);
    }
    return n;
}

static unsigned
scrub_string(struct as_scrub *s, struct json_object *v, struct as_buf *tmp)
{
    return scrub_string_len(s, v, (size_t) json_object_get_string_len(v), tmp);
}

static unsigned
scrub_walk(struct as_scrub *s, struct json_object *v, struct as_buf *tmp)
{
    unsigned n = 0;

    switch (json_object_get_type(v)) {
    case json_type_object: {
        /* The members in place, as jcs.c reads them: no call per member. */
        struct lh_entry *e = json_object_get_object(v)->head, *next;

        for (; e != NULL; e = next) {
            const char *k = (const char *) lh_entry_k(e);
            struct json_object *c = (struct json_object *) lh_entry_v(e);

            next = lh_entry_next(e);
            if (scrub_key_matches(s, k)) {
                /* The value is replaced in the same entry. */
                json_object_object_add(v, k, scrub_key_replacement(s, c));
                s->key_hits++;
                n++;
            } else {
                /* 0 for all but a non-empty string: one call for most. */
                size_t len = (size_t) json_object_get_string_len(c);

                if (len > 0) {
                    n += scrub_string_len(s, c, len, tmp);
                } else if (c != NULL) {
                    n += scrub_walk(s, c, tmp);
                }
            }
        }
        break;
    }
    case json_type_array: {
        size_t len = json_object_array_length(v);

        for (size_t i = 0; i < len; i++) {
            n += scrub_walk(s, json_object_array_get_idx(v, i), tmp);
        }
        break;
    }
    case json_type_string:
        n += scrub_string(s, v, tmp);
        break;
    default:
        break;
    }
    return n;
}

/*
 * The tail of a truncated line: the last whitespace-delimited word may be
 * the visible half of a secret no detector recognises any more, so it goes.
 */
static unsigned
scrub_truncated_tail(struct as_scrub *s, struct as_buf *b, struct as_buf *tmp)
{
    size_t i = b->len;

    while (i > 0 && b->data[i - 1] != ' ' && b->data[i - 1] != '\t' &&
           b->data[i - 1] != '\n' && b->data[i - 1] != '\r') {
        i--;
    }
    if (i == b->len) {
        return 0;
    }
    /* Keep a UTF-8 sequence whole: i is after an ASCII byte or at 0. */
    as_buf_reset(tmp);
    as_buf_put(tmp, b->data, i);
    scrub_put_replacement(s, b->data + i, b->len - i, tmp);
    as_buf_reset(b);
    as_buf_put(b, tmp->data, tmp->len);
    return 1;
}

/* Scrubs the bytes behind raw_base64 and re-encodes them. */
static unsigned
scrub_raw_base64(struct as_scrub *s, struct as_record *r, struct json_object *v,
                 struct as_buf *tmp)
{
    const char *enc = json_object_get_string(v);
    size_t elen = (size_t) json_object_get_string_len(v);
    struct as_buf raw = AS_BUF_INIT;
    unsigned char *dec;
    char *reenc;
    size_t dlen;
    int n;
    unsigned red = 0;

    if (elen == 0 || elen % 4 != 0) {
        return 0;
    }
    dec = as_malloc(elen / 4 * 3 + 1);
    n = EVP_DecodeBlock(dec, (const unsigned char *) enc, (int) elen);
    if (n < 0) {
        as_freezero(dec, elen / 4 * 3 + 1);
        return 0;
    }
    dlen = (size_t) n - (enc[elen - 1] == '=') - (enc[elen - 2] == '=');
    if ((red = as_scrub_bytes(s, (const char *) dec, dlen, tmp)) > 0) {
        as_buf_put(&raw, tmp->data, tmp->len);
    } else {
        as_buf_put(&raw, dec, dlen);
    }
    as_freezero(dec, elen / 4 * 3 + 1);
    if (r->flags & AS_REC_TRUNCATED) {
        red += scrub_truncated_tail(s, &raw, tmp);
    }
    if (red > 0) {
        size_t olen = 4 * ((raw.len + 2) / 3);

        reenc = as_malloc(olen + 1);
        EVP_EncodeBlock((unsigned char *) reenc,
                        (const unsigned char *) raw.data, (int) raw.len);
        json_object_set_string_len(v, reenc, (int) olen);
        as_freezero(reenc, olen + 1);
    }
    OPENSSL_cleanse(raw.data, raw.cap);
    as_buf_free(&raw);
    return red;
}

void
as_scrub_record(struct as_scrub *s, struct as_record *r)
{
    struct as_buf tmp = AS_BUF_INIT;
    struct json_object *v;

    if (s == NULL || r->obj == NULL || (s->n_keys == 0 && s->n_det == 0)) {
        return;
    }
    if ((r->flags & AS_REC_INVALID) &&
        json_object_object_get_ex(r->obj, "raw_base64", &v)) {
        r->redacted += scrub_raw_base64(s, r, v, &tmp);
        if (json_object_object_get_ex(r->obj, "error", &v)) {
            r->redacted += scrub_walk(s, v, &tmp);
        }
        goto out;
    } else if ((r->flags & (AS_REC_INVALID | AS_REC_TRUNCATED)) ==
                   (AS_REC_INVALID | AS_REC_TRUNCATED) &&
               json_object_object_get_ex(r->obj, "raw", &v) &&
               json_object_is_type(v, json_type_string)) {
        struct as_buf raw = AS_BUF_INIT;
        unsigned red = scrub_string(s, v, &tmp);

        as_buf_put(&raw, json_object_get_string(v),
                   (size_t) json_object_get_string_len(v));
        if (scrub_truncated_tail(s, &raw, &tmp) > 0) {
            json_object_set_string_len(v, raw.data, (int) raw.len);
            red++;
        }
        OPENSSL_cleanse(raw.data, raw.cap);
        as_buf_free(&raw);
        r->redacted += red;
        json_object_object_get_ex(r->obj, "error", &v);
        r->redacted += v != NULL ? scrub_walk(s, v, &tmp) : 0;
        goto out;
    }
    r->redacted += scrub_walk(s, r->obj, &tmp);
out:
    if (tmp.data != NULL) {
        OPENSSL_cleanse(tmp.data, tmp.cap);
    }
    as_buf_free(&tmp);
}
