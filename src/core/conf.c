/*
 * The configuration loader: one generic libyaml walker driven by the key
 * tables of conf_schema.c.  It parses the document with libyaml's document
 * API, expands ${VAR} / ${VAR:-default} / $$ in every value scalar, types
 * each value by its table entry, writes it at the entry's offset, applies
 * the `def` text of every absent key (parsed like input) and collects every
 * problem as FILE:LINE:COLUMN (1-based, from yaml_mark_t) without stopping
 * at the first.
 *
 * Ownership: struct as_config and everything it points to is allocated
 * here and freed by as_config_free(), which walks the same tables, so a
 * partly filled config (every field zeroed by calloc first) frees cleanly.
 * struct as_conf_errors owns its messages and a copy of each file name.
 *
 * Invariants: a successful load has every key set (default or value),
 * agent.hostname non-empty, unique valid ids, known implemented types and
 * output routes naming existing inputs.  Aliases are followed, but the
 * number of nodes visited is bounded (no billion-laughs blow-up).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "buf.h"
#include "conf.h"
#include "conf_schema.h"
#include "mem.h"
#include "stage.h"

#define CONF_MAX_FILE   (4u << 20) /* largest config file read */
#define CONF_MAX_SCALAR (1u << 20) /* largest value after expansion */
#define CONF_MAX_VISITS 100000     /* nodes walked, aliases included */
#define CONF_MAX_ID     64         /* ids name files, chains, prefixes */
#define CONF_WHERE      160        /* "outputs[12].batch" and the like */

struct conf_ctx {
    const char *file;
    yaml_document_t *doc;
    struct as_conf_errors *errs;
    bool expand; /* ${VAR} expansion: off for the built-in defaults */
    size_t visits;
    bool too_deep;         /* the visit bound was hit (reported once) */
    struct as_config *cfg; /* receives the marks of values set */
};

#define CONF_FIELD(base, k, T) ((T *) ((char *) (base) + (k)->off))

static void conf_walk_map(struct conf_ctx *x, yaml_node_t *node,
                          const struct as_conf_key *const *tables,
                          void *const *bases, size_t ntab, bool strict,
                          const char *where);
static void conf_apply_defaults(struct conf_ctx *x,
                                const struct as_conf_key *keys, void *base,
                                const char *where);
static void conf_free_keys(const struct as_conf_key *keys, void *base);

/* ---- errors ---- */

void
as_conf_errors_add(struct as_conf_errors *errs, const char *file, int line,
                   int col, const char *fmt, ...)
{
    struct as_error *e;
    va_list ap;

    if (errs == NULL) {
        return;
    }
    errs->v = as_reallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
    e = &errs->v[errs->n++];
    memset(e, 0, sizeof(*e));
    e->file = as_strdup(file != NULL ? file : "<config>");
    e->line = line;
    e->col = col;
    va_start(ap, fmt);
    as_error_setv(e, fmt, ap);
    va_end(ap);
}

void
as_conf_errors_free(struct as_conf_errors *errs)
{
    if (errs == NULL) {
        return;
    }
    for (size_t i = 0; i < errs->n; i++) {
        /* The file name is our own copy (as_conf_errors_add). */
        free((char *) errs->v[i].file);
    }
    free(errs->v);
    errs->v = NULL;
    errs->n = 0;
}

void
as_conf_errors_print(const struct as_conf_errors *e, FILE *out)
{
    for (size_t i = 0; e != NULL && i < e->n; i++) {
        fprintf(out, "%s:%d:%d: %s\n", e->v[i].file, e->v[i].line, e->v[i].col,
                e->v[i].msg);
    }
}

/* Sorts errors from `from` on by position, keeping equal ones in order. */
static void
conf_errors_sort(struct as_conf_errors *errs, size_t from)
{
    for (size_t i = from + 1; i < errs->n; i++) {
        struct as_error t = errs->v[i];
        size_t j = i;

        while (j > from && (errs->v[j - 1].line > t.line ||
                            (errs->v[j - 1].line == t.line &&
                             errs->v[j - 1].col > t.col))) {
            errs->v[j] = errs->v[j - 1];
            j--;
        }
        errs->v[j] = t;
    }
}

static void conf_err(struct conf_ctx *x, const yaml_mark_t *m, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static void
conf_err(struct conf_ctx *x, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[sizeof(((struct as_error *) 0)->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (x->expand) {
        as_conf_errors_add(x->errs, x->file, (int) m->line + 1,
                           (int) m->column + 1, "%s", msg);
    } else {
        /* A built-in default failed to parse: a bug in conf_schema.c. */
        as_conf_errors_add(x->errs, x->file, 0, 0,
                           "internal: bad built-in default: %s", msg);
    }
}

/* ---- small helpers ---- */

static const char *
conf_node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* Bounds the walk: aliases can make a small document huge. */
static bool
conf_visit(struct conf_ctx *x, const yaml_node_t *n)
{
    if (++x->visits <= CONF_MAX_VISITS) {
        return true;
    }
    if (!x->too_deep) {
        x->too_deep = true;
        conf_err(x, &n->start_mark,
                 "document too large (more than %d nodes, aliases included)",
                 CONF_MAX_VISITS);
    }
    return false;
}

/* A plain empty, ~ or null scalar: "" for a STR, empty for containers. */
static bool
conf_is_null(const yaml_node_t *n)
{
    const char *v;

    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    v = (const char *) n->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

/* The key text of a mapping pair, or NULL when the key is not a scalar. */
static const char *
conf_key_text(const yaml_node_t *kn)
{
    if (kn == NULL || kn->type != YAML_SCALAR_NODE) {
        return NULL;
    }
    return (const char *) kn->data.scalar.value;
}

static size_t
conf_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];

    if (la > 64 || lb > 64) {
        return 1000;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Closest known key within a small edit distance, or NULL. */
static const char *
conf_suggest(const char *name, const struct as_conf_key *const *tables,
             size_t ntab, const char *const *extra)
{
    const char *best = NULL;
    size_t bestd = strlen(name) <= 4 ? 2 : 3;

    for (size_t t = 0; t < ntab; t++) {
        for (const struct as_conf_key *k = tables[t];
             k != NULL && k->name != NULL; k++) {
            size_t d = conf_levenshtein(name, k->name);

            if (d < bestd) {
                bestd = d;
                best = k->name;
            }
        }
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        size_t d = conf_levenshtein(name, extra[i]);

        if (d < bestd) {
            bestd = d;
            best = extra[i];
        }
    }
    return best;
}

/* `in` says where, with its preposition: "in inputs[0]", "at the top level". */
static void
conf_err_unknown(struct conf_ctx *x, const yaml_node_t *kn, const char *name,
                 const char *in, const char *suggestion)
{
    if (suggestion != NULL) {
        conf_err(x, &kn->start_mark, "unknown key '%s' %s (did you mean '%s'?)",
                 name, in, suggestion);
    } else {
        conf_err(x, &kn->start_mark, "unknown key '%s' %s", name, in);
    }
}

/* ---- scalars: expansion and typing ---- */

/*
 * Expands ${VAR}, ${VAR:-default} and $$ in a scalar into *out (malloc'ed,
 * caller frees).  Returns 0, or -1 after reporting the problem.
 */
static int
conf_expand(struct conf_ctx *x, const yaml_node_t *n, const char *where,
            char **out)
{
    const char *s = (const char *) n->data.scalar.value;
    size_t len = n->data.scalar.length;
    struct as_buf b;
    int r = -1;

    *out = NULL;
    if (memchr(s, '\0', len) != NULL) {
        conf_err(x, &n->start_mark, "NUL byte in the value of %s", where);
        return -1;
    }
    if (!x->expand || memchr(s, '$', len) == NULL) {
        *out = as_strndup(s, len);
        return 0;
    }
    as_buf_init(&b, CONF_MAX_SCALAR);
    for (size_t i = 0; i < len; i++) {
        const char *close, *val, *def = NULL;
        size_t nlen = 0, dlen = 0;
        char name[128];

        if (s[i] != '$' || i + 1 >= len ||
            (s[i + 1] != '$' && s[i + 1] != '{')) {
            if (as_buf_putc(&b, s[i]) != 0) {
                goto toolong;
            }
            continue;
        }
        if (s[i + 1] == '$') {
            if (as_buf_putc(&b, '$') != 0) {
                goto toolong;
            }
            i++;
            continue;
        }
        close = memchr(s + i + 2, '}', len - i - 2);
        if (close == NULL) {
            conf_err(x, &n->start_mark, "unterminated '${' in the value of %s",
                     where);
            goto out;
        }
        while (s + i + 2 + nlen < close &&
               (isalnum((unsigned char) s[i + 2 + nlen]) ||
                s[i + 2 + nlen] == '_')) {
            nlen++;
        }
        if (s + i + 2 + nlen < close) {
            if (close - (s + i + 2 + nlen) >= 2 && s[i + 2 + nlen] == ':' &&
                s[i + 3 + nlen] == '-') {
                def = s + i + 4 + nlen;
                dlen = (size_t) (close - def);
            } else {
                nlen = 0; /* garbage in the name: reported below */
            }
        }
        if (nlen == 0 || nlen >= sizeof(name) ||
            isdigit((unsigned char) s[i + 2])) {
            conf_err(x, &n->start_mark,
                     "invalid variable reference '%.*s' in the value of %s "
                     "(use ${NAME} or ${NAME:-default}; $$ for a dollar)",
                     (int) (close - (s + i) + 1), s + i, where);
            goto out;
        }
        memcpy(name, s + i + 2, nlen);
        name[nlen] = '\0';
        val = getenv(name);
        if (val != NULL && (val[0] != '\0' || def == NULL)) {
            if (as_buf_puts(&b, val) != 0) {
                goto toolong;
            }
        } else if (def != NULL) {
            if (as_buf_put(&b, def, dlen) != 0) {
                goto toolong;
            }
        } else {
            conf_err(x, &n->start_mark,
                     "environment variable '%s' is not set (in the value of "
                     "%s; use ${%s:-default} for a fallback)",
                     name, where, name);
            goto out;
        }
        i = (size_t) (close - s);
    }
    *out = b.data != NULL ? as_buf_steal(&b, NULL) : as_strdup("");
    r = 0;
    goto out;
toolong:
    conf_err(x, &n->start_mark, "the value of %s is too long (max %u bytes)",
             where, CONF_MAX_SCALAR);
out:
    as_buf_free(&b);
    return r;
}

/* Requires a scalar node and returns its expanded text (caller frees). */
static int
conf_scalar(struct conf_ctx *x, const yaml_node_t *n, const char *where,
            char **out)
{
    *out = NULL;
    if (n->type != YAML_SCALAR_NODE) {
        conf_err(x, &n->start_mark, "expected a scalar for %s, got %s", where,
                 conf_node_kind(n));
        return -1;
    }
    return conf_expand(x, n, where, out);
}

static uint64_t
conf_pow_mult(const char *suffix, const char *const *names,
              const uint64_t *mults, size_t n, bool *found)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(suffix, names[i]) == 0) {
            *found = true;
            return mults[i];
        }
    }
    *found = false;
    return 0;
}

/*
 * Leading decimal digits of s into *v; *end past them.  Returns 0,
 * AS_ERR_PARSE (no digit) or -ERANGE.
 */
static int
conf_digits(const char *s, uint64_t *v, const char **end)
{
    uint64_t acc = 0;
    size_t i = 0;

    if (s == NULL || !isdigit((unsigned char) s[0])) {
        return AS_ERR_PARSE;
    }
    for (; isdigit((unsigned char) s[i]); i++) {
        unsigned d = (unsigned) (s[i] - '0');

        if (acc > (UINT64_MAX - d) / 10) {
            return -ERANGE;
        }
        acc = acc * 10 + d;
    }
    *v = acc;
    *end = s + i;
    return 0;
}

int
as_parse_size(const char *s, uint64_t *out)
{
    static const char *const names[] = {"", "B", "KiB", "MiB", "GiB"};
    static const uint64_t mults[] = {1, 1, 1ULL << 10, 1ULL << 20, 1ULL << 30};
    const char *end;
    uint64_t v, mult;
    bool found;
    int r;

    if ((r = conf_digits(s, &v, &end)) != 0) {
        return r;
    }
    mult = conf_pow_mult(end, names, mults, AS_ARRAY_SIZE(names), &found);
    if (!found) {
        return AS_ERR_PARSE;
    }
    if (v > UINT64_MAX / mult) {
        return -ERANGE;
    }
    *out = v * mult;
    return 0;
}

int
as_parse_duration(const char *s, uint64_t *out_ms)
{
    static const char *const names[] = {"ms", "s", "m", "h"};
    static const uint64_t mults[] = {1, 1000, 60 * 1000, 3600 * 1000};
    const char *end;
    uint64_t v, mult;
    bool found;
    int r;

    if ((r = conf_digits(s, &v, &end)) != 0) {
        return r;
    }
    if (*end == '\0') {
        /* A unit is required, except for a plain 0. */
        if (v != 0) {
            return AS_ERR_PARSE;
        }
        *out_ms = 0;
        return 0;
    }
    mult = conf_pow_mult(end, names, mults, AS_ARRAY_SIZE(names), &found);
    if (!found) {
        return AS_ERR_PARSE;
    }
    if (v > UINT64_MAX / mult) {
        return -ERANGE;
    }
    *out_ms = v * mult;
    return 0;
}

/* INT keys are counts: non-negative decimal integers up to INT64_MAX. */
static int
conf_parse_int(const char *s, int64_t *out)
{
    const char *end;
    uint64_t v;
    int r;

    if ((r = conf_digits(s, &v, &end)) != 0) {
        return r;
    }
    if (*end != '\0') {
        return AS_ERR_PARSE;
    }
    if (v > (uint64_t) INT64_MAX) {
        return -ERANGE;
    }
    *out = (int64_t) v;
    return 0;
}

/* "a, b or c" of the accepted choices (the "" slots are not accepted). */
static void
conf_choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t n = 0, total = 0, used = 0;

    buf[0] = '\0';
    for (size_t i = 0; choices[i] != NULL; i++) {
        total += choices[i][0] != '\0';
    }
    for (size_t i = 0; choices[i] != NULL; i++) {
        int w;

        if (choices[i][0] == '\0') {
            continue;
        }
        n++;
        w = snprintf(buf + used, len - used, "%s%s",
                     n == 1 ? "" : (n == total ? " or " : ", "), choices[i]);
        if (w < 0 || (size_t) w >= len - used) {
            return;
        }
        used += (size_t) w;
    }
}

static int
conf_choice(const char *const *choices, const char *v)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (choices[i][0] != '\0' && strcmp(choices[i], v) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- typed values ---- */

static void
conf_set_list(struct conf_ctx *x, const struct as_conf_key *k, yaml_node_t *n,
              struct as_strlist *l, const char *where)
{
    char iwhere[CONF_WHERE];

    if (conf_is_null(n)) {
        /* An empty list, checked below like `[]`. */
    } else if (n->type != YAML_SEQUENCE_NODE) {
        conf_err(x, &n->start_mark, "expected a sequence for %s, got %s", where,
                 conf_node_kind(n));
        return;
    } else {
        size_t cnt = (size_t) (n->data.sequence.items.top -
                               n->data.sequence.items.start);

        l->v = as_calloc(cnt, sizeof(*l->v));
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *it =
                yaml_document_get_node(x->doc, n->data.sequence.items.start[i]);
            char *s;

            if (it == NULL || !conf_visit(x, it)) {
                return;
            }
            snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
            if (conf_scalar(x, it, iwhere, &s) == 0) {
                l->v[l->n++] = s;
            }
        }
    }
    if (k->def == NULL && l->n == 0) {
        conf_err(x, &n->start_mark, "%s must list at least one item", where);
    }
}

static void
conf_set_map(struct conf_ctx *x, const struct as_conf_key *k, yaml_node_t *n,
             struct as_kvlist *m, const char *where)
{
    char iwhere[CONF_WHERE], choices[160];
    size_t cnt;

    if (conf_is_null(n)) {
        return;
    }
    if (n->type != YAML_MAPPING_NODE) {
        conf_err(x, &n->start_mark, "expected a mapping for %s, got %s", where,
                 conf_node_kind(n));
        return;
    }
    cnt = (size_t) (n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    m->v = as_calloc(cnt, sizeof(*m->v));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        const char *key, *bad;
        bool dup = false;
        char *val;

        if (kn == NULL || vn == NULL || !conf_visit(x, vn)) {
            return;
        }
        if ((key = conf_key_text(kn)) == NULL) {
            conf_err(x, &kn->start_mark, "expected a scalar key in %s, got %s",
                     where, conf_node_kind(kn));
            continue;
        }
        for (size_t j = 0; j < m->n; j++) {
            dup = dup || strcmp(m->v[j].key, key) == 0;
        }
        if (dup) {
            conf_err(x, &kn->start_mark, "duplicate key '%s' in %s", key,
                     where);
            continue;
        }
        if (k->check_key != NULL && (bad = k->check_key(key)) != NULL) {
            conf_err(x, &kn->start_mark, "invalid key '%s' in %s: expected %s",
                     key, where, bad);
            continue;
        }
        snprintf(iwhere, sizeof(iwhere), "%s.%s", where, key);
        if (conf_scalar(x, vn, iwhere, &val) != 0) {
            continue;
        }
        if (k->choices != NULL && conf_choice(k->choices, val) < 0) {
            conf_choices_text(k->choices, choices, sizeof(choices));
            conf_err(x, &vn->start_mark,
                     "invalid value '%s' for %s (expected %s)", val, iwhere,
                     choices);
            free(val);
            continue;
        }
        m->v[m->n].key = as_strdup(key);
        m->v[m->n].val = val;
        m->v[m->n].line = (int) kn->start_mark.line + 1;
        m->v[m->n].col = (int) kn->start_mark.column + 1;
        m->n++;
    }
}

static void
conf_set_sections(struct conf_ctx *x, const struct as_conf_key *k,
                  yaml_node_t *n, struct as_conf_array *a, const char *where)
{
    char iwhere[CONF_WHERE];
    size_t cnt;

    if (conf_is_null(n)) {
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        conf_err(x, &n->start_mark, "expected a sequence for %s, got %s", where,
                 conf_node_kind(n));
        return;
    }
    cnt = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
    a->items = as_calloc(cnt, k->item_size);
    a->n = cnt;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it =
            yaml_document_get_node(x->doc, n->data.sequence.items.start[i]);
        void *base = (char *) a->items + i * k->item_size;

        if (it == NULL || !conf_visit(x, it)) {
            return;
        }
        snprintf(iwhere, sizeof(iwhere), "%s[%zu]", where, i);
        if (it->type != YAML_MAPPING_NODE) {
            conf_err(x, &it->start_mark, "expected a mapping for %s, got %s",
                     iwhere, conf_node_kind(it));
            continue;
        }
        conf_walk_map(x, it, &k->sub, &base, 1, true, iwhere);
    }
}

/* Types node by k and stores it at base + k->off (the field is zero). */
static void
conf_set(struct conf_ctx *x, const struct as_conf_key *k, yaml_node_t *n,
         void *base, const char *where)
{
    char *s = NULL, choices[160];
    void *sub;
    int r, i;

    switch (k->type) {
    case AS_CONF_LIST:
        conf_set_list(x, k, n, CONF_FIELD(base, k, struct as_strlist), where);
        return;
    case AS_CONF_MAP:
        conf_set_map(x, k, n, CONF_FIELD(base, k, struct as_kvlist), where);
        return;
    case AS_CONF_SECTIONS:
        conf_set_sections(x, k, n, CONF_FIELD(base, k, struct as_conf_array),
                          where);
        return;
    case AS_CONF_SECTION:
        sub = (char *) base + k->off;
        if (conf_is_null(n)) {
            conf_apply_defaults(x, k->sub, sub, where);
        } else if (n->type != YAML_MAPPING_NODE) {
            conf_err(x, &n->start_mark, "expected a mapping for %s, got %s",
                     where, conf_node_kind(n));
            conf_apply_defaults(x, k->sub, sub, where);
        } else {
            conf_walk_map(x, n, &k->sub, &sub, 1, true, where);
        }
        return;
    default:
        break;
    }
    if (k->type == AS_CONF_STR && conf_is_null(n)) {
        *CONF_FIELD(base, k, char *) = as_strdup("");
        return;
    }
    if (conf_scalar(x, n, where, &s) != 0) {
        return;
    }
    switch (k->type) {
    case AS_CONF_STR:
        *CONF_FIELD(base, k, char *) = s;
        return;
    case AS_CONF_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            *CONF_FIELD(base, k, bool) = s[0] == 't';
        } else {
            conf_err(x, &n->start_mark,
                     "invalid boolean '%s' for %s (expected true or false)", s,
                     where);
        }
        break;
    case AS_CONF_INT:
        if ((r = conf_parse_int(s, CONF_FIELD(base, k, int64_t))) != 0) {
            conf_err(
                x, &n->start_mark, "invalid integer '%s' for %s (%s)", s, where,
                r == -ERANGE ? "too large" : "expected a non-negative integer");
        }
        break;
    case AS_CONF_SIZE:
        if ((r = as_parse_size(s, CONF_FIELD(base, k, uint64_t))) != 0) {
            conf_err(x, &n->start_mark, "invalid size '%s' for %s (%s)", s,
                     where,
                     r == -ERANGE ? "too large"
                                  : "expected bytes with an optional B, KiB, "
                                    "MiB or GiB suffix, e.g. 64KiB");
        }
        break;
    case AS_CONF_DURATION:
        if ((r = as_parse_duration(s, CONF_FIELD(base, k, uint64_t))) != 0) {
            conf_err(x, &n->start_mark, "invalid duration '%s' for %s (%s)", s,
                     where,
                     r == -ERANGE ? "too large"
                                  : "expected a number with a unit ms, s, m "
                                    "or h, e.g. 10s");
        }
        break;
    case AS_CONF_ENUM:
        if ((i = conf_choice(k->choices, s)) >= 0) {
            *CONF_FIELD(base, k, int) = i;
        } else {
            conf_choices_text(k->choices, choices, sizeof(choices));
            conf_err(x, &n->start_mark,
                     "invalid value '%s' for %s (expected %s)", s, where,
                     choices);
        }
        break;
    default:
        break;
    }
    free(s);
}

/* Parses k->def as a YAML document and stores it like input. */
static void
conf_set_default(struct conf_ctx *x, const struct as_conf_key *k, void *base,
                 const char *where)
{
    struct conf_ctx dx;
    yaml_parser_t p;
    yaml_document_t d;
    yaml_node_t *root;

    memset(&dx, 0, sizeof(dx));
    dx.file = x->file;
    dx.doc = &d;
    dx.errs = x->errs;
    dx.expand = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *) k->def,
                                 strlen(k->def));
    if (!yaml_parser_load(&p, &d)) {
        as_conf_errors_add(x->errs, x->file, 0, 0,
                           "internal: bad built-in default for %s", where);
        yaml_parser_delete(&p);
        return;
    }
    root = yaml_document_get_root_node(&d);
    if (root == NULL) {
        as_conf_errors_add(x->errs, x->file, 0, 0,
                           "internal: empty built-in default for %s", where);
    } else {
        conf_set(&dx, k, root, base, where);
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
}

static void
conf_apply_default(struct conf_ctx *x, const struct as_conf_key *k, void *base,
                   const char *where)
{
    if (k->type == AS_CONF_SECTION) {
        conf_apply_defaults(x, k->sub, (char *) base + k->off, where);
    } else if (k->def != NULL) {
        conf_set_default(x, k, base, where);
    }
}

static void
conf_apply_defaults(struct conf_ctx *x, const struct as_conf_key *keys,
                    void *base, const char *where)
{
    char kwhere[CONF_WHERE];

    for (const struct as_conf_key *k = keys; k->name != NULL; k++) {
        snprintf(kwhere, sizeof(kwhere), "%s.%s", where, k->name);
        conf_apply_default(x, k, base, kwhere);
    }
}

/* ---- mappings ---- */

static size_t
conf_count(const struct as_conf_key *keys)
{
    size_t n = 0;

    while (keys != NULL && keys[n].name != NULL) {
        n++;
    }
    return n;
}

/*
 * Walks a mapping against up to two key tables (an item's common keys and
 * its type's keys), each filling its own base.  Unknown keys are reported
 * only when strict.  Absent keys get their default; absent required keys
 * are reported at the mapping.
 */
/* Records where a key's value stands, for checks made after loading. */
static void
conf_mark(struct conf_ctx *x, const char *key, const yaml_node_t *vn)
{
    struct as_config *c = x->cfg;

    if (c == NULL) {
        return;
    }
    if (c->n_marks == c->cap_marks) {
        c->cap_marks = c->cap_marks == 0 ? 32 : c->cap_marks * 2;
        c->marks = as_reallocarray(c->marks, c->cap_marks, sizeof(*c->marks));
    }
    c->marks[c->n_marks].key = as_strdup(key);
    c->marks[c->n_marks].line = (int) vn->start_mark.line + 1;
    c->marks[c->n_marks].col = (int) vn->start_mark.column + 1;
    c->n_marks++;
}

bool
as_config_mark(const struct as_config *c, const char *key, int *line, int *col)
{
    for (size_t i = c->n_marks; i > 0; i--) {
        if (strcmp(c->marks[i - 1].key, key) == 0) {
            *line = c->marks[i - 1].line;
            *col = c->marks[i - 1].col;
            return true;
        }
    }
    *line = 0;
    *col = 0;
    return false;
}

static void
conf_walk_map(struct conf_ctx *x, yaml_node_t *node,
              const struct as_conf_key *const *tables, void *const *bases,
              size_t ntab, bool strict, const char *where)
{
    yaml_node_t **seen[2] = {NULL, NULL};
    char kwhere[CONF_WHERE];
    size_t cnt;

    for (size_t t = 0; t < ntab; t++) {
        seen[t] = as_calloc(conf_count(tables[t]) + 1, sizeof(*seen[t]));
    }
    cnt = (size_t) (node->data.mapping.pairs.top -
                    node->data.mapping.pairs.start);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        const struct as_conf_key *k = NULL;
        const char *name;
        size_t t = 0, ki = 0;

        if (kn == NULL || vn == NULL || !conf_visit(x, vn)) {
            break;
        }
        if ((name = conf_key_text(kn)) == NULL) {
            conf_err(x, &kn->start_mark, "expected a scalar key in %s, got %s",
                     where, conf_node_kind(kn));
            continue;
        }
        for (t = 0; t < ntab && k == NULL; t++) {
            for (ki = 0; tables[t][ki].name != NULL; ki++) {
                if (strcmp(tables[t][ki].name, name) == 0) {
                    k = &tables[t][ki];
                    break;
                }
            }
        }
        if (k == NULL) {
            if (strict) {
                snprintf(kwhere, sizeof(kwhere), "in %s", where);
                conf_err_unknown(x, kn, name, kwhere,
                                 conf_suggest(name, tables, ntab, NULL));
            }
            continue;
        }
        t--; /* the loop stepped past the table that matched */
        if (seen[t][ki] != NULL) {
            conf_err(x, &kn->start_mark,
                     "duplicate key '%s' in %s (first at line %d)", name, where,
                     (int) seen[t][ki]->start_mark.line + 1);
            continue;
        }
        seen[t][ki] = kn;
        if (where[0] != '\0') {
            snprintf(kwhere, sizeof(kwhere), "%s.%s", where, name);
        } else {
            snprintf(kwhere, sizeof(kwhere), "%s", name);
        }
        conf_mark(x, kwhere, vn);
        conf_set(x, k, vn, bases[t], kwhere);
    }
    for (size_t t = 0; t < ntab; t++) {
        for (size_t ki = 0; tables[t][ki].name != NULL; ki++) {
            const struct as_conf_key *k = &tables[t][ki];

            if (seen[t][ki] != NULL) {
                continue;
            }
            snprintf(kwhere, sizeof(kwhere), "%s.%s", where, k->name);
            if (k->def == NULL && k->type != AS_CONF_SECTION) {
                conf_err(x, &node->start_mark,
                         "missing required key '%s' in %s", k->name, where);
            } else {
                conf_apply_default(x, k, bases[t], kwhere);
            }
        }
        free(seen[t]);
    }
}

/* ---- inputs and outputs ---- */

/* The value node of key `name` in mapping n (first occurrence), or NULL. */
static yaml_node_t *
conf_map_get(struct conf_ctx *x, yaml_node_t *n, const char *name)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        const char *s = conf_key_text(kn);

        if (s != NULL && strcmp(s, name) == 0) {
            return yaml_document_get_node(x->doc, p->value);
        }
    }
    return NULL;
}

static bool
conf_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > CONF_MAX_ID || strcmp(id, ".") == 0 ||
        strcmp(id, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char) id[i]) && id[i] != '.' && id[i] != '_' &&
            id[i] != '-') {
            return false;
        }
    }
    return true;
}

static void
conf_err_unknown_type(struct conf_ctx *x, const yaml_node_t *tn,
                      enum as_stage_kind kind, const char *kindw,
                      const char *type)
{
    char known[160];
    size_t used = 0;

    known[0] = '\0';
    for (size_t i = 0; as_registry[i] != NULL; i++) {
        int w;

        if (as_registry[i]->kind != kind) {
            continue;
        }
        w = snprintf(known + used, sizeof(known) - used, "%s%s",
                     used == 0 ? "" : ", ", as_registry[i]->type);
        if (w < 0 || (size_t) w >= sizeof(known) - used) {
            break;
        }
        used += (size_t) w;
    }
    conf_err(x, &tn->start_mark, "unknown %s type '%s' (known: %s)", kindw,
             type, known);
}

/* Checks an output's routes against the inputs already loaded. */
static void
conf_check_routes(struct conf_ctx *x, const struct as_config *c,
                  const struct as_conf_stage *s, yaml_node_t *item,
                  const char *where)
{
    yaml_node_t *ln = conf_map_get(x, item, "inputs");
    size_t cnt = 0;

    if (ln != NULL && ln->type == YAML_SEQUENCE_NODE) {
        cnt = (size_t) (ln->data.sequence.items.top -
                        ln->data.sequence.items.start);
    }
    for (size_t j = 0; j < s->inputs.n; j++) {
        const yaml_node_t *at = item;

        if (as_config_input(c, s->inputs.v[j]) != NULL) {
            continue;
        }
        if (cnt == s->inputs.n) {
            at = yaml_document_get_node(x->doc,
                                        ln->data.sequence.items.start[j]);
        }
        conf_err(x, &at->start_mark, "%s.inputs routes unknown input '%s'",
                 where, s->inputs.v[j]);
    }
}

static void
conf_stages(struct conf_ctx *x, struct as_config *c, yaml_node_t *node,
            enum as_stage_kind kind)
{
    const char *kindw = kind == AS_STAGE_INPUT ? "input" : "output";
    const char *list = kind == AS_STAGE_INPUT ? "inputs" : "outputs";
    const struct as_conf_key *common =
        kind == AS_STAGE_INPUT ? as_keys_input_common : as_keys_output_common;
    struct as_conf_stage *v;
    char where[CONF_WHERE];
    size_t cnt;

    if (node == NULL || conf_is_null(node)) {
        return;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        conf_err(x, &node->start_mark, "expected a sequence for %s, got %s",
                 list, conf_node_kind(node));
        return;
    }
    cnt = (size_t) (node->data.sequence.items.top -
                    node->data.sequence.items.start);
    v = as_calloc(cnt, sizeof(*v));
    if (kind == AS_STAGE_INPUT) {
        c->inputs = v;
        c->n_inputs = cnt;
    } else {
        c->outputs = v;
        c->n_outputs = cnt;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *item =
            yaml_document_get_node(x->doc, node->data.sequence.items.start[i]);
        struct as_conf_stage *s = &v[i];
        const struct as_conf_key *tables[2];
        void *bases[2];
        yaml_node_t *tn, *idn;

        if (item == NULL || !conf_visit(x, item)) {
            return;
        }
        snprintf(where, sizeof(where), "%s[%zu]", list, i);
        s->line = (int) item->start_mark.line + 1;
        s->col = (int) item->start_mark.column + 1;
        if (item->type != YAML_MAPPING_NODE) {
            conf_err(x, &item->start_mark, "expected a mapping for %s, got %s",
                     where, conf_node_kind(item));
            continue;
        }
        /* The type picks the key table, so find it before the walk. */
        tn = conf_map_get(x, item, "type");
        if (tn != NULL && tn->type == YAML_SCALAR_NODE) {
            char *type = NULL;
            struct conf_ctx quiet = *x;

            quiet.errs = NULL; /* the walk below reports its problems */
            if (conf_expand(&quiet, tn, where, &type) == 0) {
                s->st = as_registry_find(kind, type);
            }
            free(type);
        }
        tables[0] = common;
        bases[0] = s;
        if (s->st != NULL) {
            s->conf = as_calloc(1, s->st->conf_size);
            tables[1] = s->st->keys;
            bases[1] = s->conf;
        }
        conf_walk_map(x, item, tables, bases, s->st != NULL ? 2 : 1,
                      s->st != NULL, where);
        if (s->type != NULL && s->st == NULL) {
            conf_err_unknown_type(x, tn, kind, kindw, s->type);
        } else if (s->st != NULL && s->st->ops == NULL) {
            conf_err(x, &tn->start_mark, "%s type '%s' is not implemented yet",
                     kindw, s->type);
        }
        if (s->id == NULL) {
            continue;
        }
        idn = conf_map_get(x, item, "id");
        if (!conf_id_ok(s->id)) {
            conf_err(x, &idn->start_mark,
                     "invalid %s id '%s' (1-%d characters of A-Z a-z 0-9 . _ "
                     "-, not . or ..)",
                     kindw, s->id, CONF_MAX_ID);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (v[j].id != NULL && strcmp(v[j].id, s->id) == 0) {
                conf_err(x, &idn->start_mark,
                         "duplicate %s id '%s' (first at line %d)", kindw,
                         s->id, v[j].line);
                break;
            }
        }
        if (kind == AS_STAGE_OUTPUT) {
            conf_check_routes(x, c, s, item, where);
        }
    }
}

/* ---- top level ---- */

static const struct as_conf_key conf_keys_top[] = {
    {.name = "agent",
     .type = AS_CONF_SECTION,
     .off = offsetof(struct as_config, agent),
     .sub = as_keys_agent},
    {.name = "validate",
     .type = AS_CONF_SECTION,
     .off = offsetof(struct as_config, validate),
     .sub = as_keys_validate},
    {.name = "scrub",
     .type = AS_CONF_SECTION,
     .off = offsetof(struct as_config, scrub),
     .sub = as_keys_scrub},
    {.name = "chain",
     .type = AS_CONF_SECTION,
     .off = offsetof(struct as_config, chain),
     .sub = as_keys_chain},
    {.name = "buffer",
     .type = AS_CONF_SECTION,
     .off = offsetof(struct as_config, buffer),
     .sub = as_keys_buffer},
    {.name = NULL},
};

static void
conf_top(struct conf_ctx *x, struct as_config *c, yaml_node_t *root)
{
    static const char *const lists[] = {"inputs", "outputs", NULL};
    const struct as_conf_key *tables[1] = {conf_keys_top};
    yaml_node_t *seen[AS_ARRAY_SIZE(conf_keys_top)] = {NULL};
    yaml_node_t *stage[2] = {NULL, NULL}, *stage_key[2] = {NULL, NULL};
    size_t nsec = AS_ARRAY_SIZE(conf_keys_top) - 1;

    if (root != NULL && !conf_is_null(root) &&
        root->type != YAML_MAPPING_NODE) {
        conf_err(x, &root->start_mark,
                 "expected a mapping at the top level, got %s",
                 conf_node_kind(root));
        root = NULL;
    }
    if (root != NULL && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
            yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
            const char *name = conf_key_text(kn);
            size_t i;

            if (kn == NULL || vn == NULL || !conf_visit(x, vn)) {
                break;
            }
            if (name == NULL) {
                conf_err(x, &kn->start_mark,
                         "expected a scalar key at the top level, got %s",
                         conf_node_kind(kn));
                continue;
            }
            for (i = 0; i < 2 && strcmp(name, lists[i]) != 0; i++) {
            }
            if (i < 2) {
                if (stage[i] != NULL) {
                    conf_err(x, &kn->start_mark,
                             "duplicate key '%s' at the top level (first at "
                             "line %d)",
                             name, (int) stage_key[i]->start_mark.line + 1);
                } else {
                    stage[i] = vn;
                    stage_key[i] = kn;
                }
                continue;
            }
            for (i = 0; i < nsec && strcmp(name, conf_keys_top[i].name) != 0;
                 i++) {
            }
            if (i == nsec) {
                conf_err_unknown(x, kn, name, "at the top level",
                                 conf_suggest(name, tables, 1, lists));
            } else if (seen[i] != NULL) {
                conf_err(x, &kn->start_mark,
                         "duplicate key '%s' at the top level (first at line "
                         "%d)",
                         name, (int) seen[i]->start_mark.line + 1);
            } else {
                seen[i] = kn;
                conf_set(x, &conf_keys_top[i], vn, c, name);
            }
        }
    }
    for (size_t i = 0; i < nsec; i++) {
        if (seen[i] == NULL) {
            conf_apply_default(x, &conf_keys_top[i], c, conf_keys_top[i].name);
        }
    }
    /* Inputs first: outputs route to input ids. */
    conf_stages(x, c, stage[0], AS_STAGE_INPUT);
    conf_stages(x, c, stage[1], AS_STAGE_OUTPUT);
}

/* agent.hostname "" means this host's name. */
static void
conf_resolve_hostname(struct as_config *c)
{
    char host[256];

    if (c->agent.hostname != NULL && c->agent.hostname[0] != '\0') {
        return;
    }
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    free(c->agent.hostname);
    c->agent.hostname = as_strdup(host);
}

int
as_config_load_string(const char *name, const char *text, size_t len,
                      struct as_config **out, struct as_conf_errors *errs)
{
    struct as_conf_errors local = {NULL, 0};
    struct as_config *c = NULL;
    struct conf_ctx x;
    yaml_parser_t p;
    yaml_document_t doc, extra;
    bool have_doc = false;
    size_t first;
    int r = AS_ERR_CONFIG;

    *out = NULL;
    if (errs == NULL) {
        errs = &local;
    }
    first = errs->n;
    memset(&x, 0, sizeof(x));
    x.file = name;
    x.doc = &doc;
    x.errs = errs;
    x.expand = true;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *) text, len);
    if (!yaml_parser_load(&p, &doc)) {
        as_conf_errors_add(
            errs, name, (int) p.problem_mark.line + 1,
            (int) p.problem_mark.column + 1, "YAML syntax error: %s%s%s",
            p.problem != NULL ? p.problem : "unknown",
            p.context != NULL ? " " : "", p.context != NULL ? p.context : "");
        goto out;
    }
    have_doc = true;
    if (yaml_document_get_root_node(&doc) != NULL) {
        if (!yaml_parser_load(&p, &extra)) {
            as_conf_errors_add(errs, name, (int) p.problem_mark.line + 1,
                               (int) p.problem_mark.column + 1,
                               "YAML syntax error: %s",
                               p.problem != NULL ? p.problem : "unknown");
        } else {
            yaml_node_t *er = yaml_document_get_root_node(&extra);

            if (er != NULL) {
                as_conf_errors_add(errs, name, (int) er->start_mark.line + 1,
                                   (int) er->start_mark.column + 1,
                                   "only one YAML document is allowed");
            }
            yaml_document_delete(&extra);
        }
    }
    c = as_calloc(1, sizeof(*c));
    c->path = as_strdup(name);
    x.cfg = c;
    conf_top(&x, c, yaml_document_get_root_node(&doc));
    conf_resolve_hostname(c);
    if (errs->n == first) {
        r = 0;
    }
out:
    if (have_doc) {
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    if (r == 0) {
        *out = c;
    } else {
        as_config_free(c);
        conf_errors_sort(errs, first);
    }
    as_conf_errors_free(&local);
    return r;
}

int
as_config_load(const char *path, struct as_config **out,
               struct as_conf_errors *errs)
{
    struct as_buf b;
    char chunk[65536];
    ssize_t n;
    int fd = -1, r = AS_ERR_CONFIG;

    *out = NULL;
    as_buf_init(&b, CONF_MAX_FILE);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        as_conf_errors_add(errs, path, 0, 0, "cannot read the config file: %s",
                           strerror(errno));
        goto out;
    }
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            as_conf_errors_add(errs, path, 0, 0,
                               "cannot read the config file: %s",
                               strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (as_buf_put(&b, chunk, (size_t) n) != 0) {
            as_conf_errors_add(errs, path, 0, 0,
                               "the config file is larger than %u bytes",
                               CONF_MAX_FILE);
            goto out;
        }
    }
    r = as_config_load_string(path, b.data != NULL ? b.data : "", b.len, out,
                              errs);
out:
    if (fd >= 0) {
        close(fd);
    }
    as_buf_free(&b);
    return r;
}

/* ---- freeing ---- */

/* Config strings may hold credentials (auth, headers): cleanse them. */
static void
conf_freestr(char *p)
{
    if (p != NULL) {
        as_freezero(p, strlen(p));
    }
}

static void
conf_free_keys(const struct as_conf_key *keys, void *base)
{
    for (const struct as_conf_key *k = keys; k != NULL && k->name != NULL;
         k++) {
        struct as_strlist *l;
        struct as_kvlist *m;
        struct as_conf_array *a;

        switch (k->type) {
        case AS_CONF_STR:
            conf_freestr(*CONF_FIELD(base, k, char *));
            *CONF_FIELD(base, k, char *) = NULL;
            break;
        case AS_CONF_LIST:
            l = CONF_FIELD(base, k, struct as_strlist);
            for (size_t i = 0; i < l->n; i++) {
                conf_freestr(l->v[i]);
            }
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        case AS_CONF_MAP:
            m = CONF_FIELD(base, k, struct as_kvlist);
            for (size_t i = 0; i < m->n; i++) {
                conf_freestr(m->v[i].key);
                conf_freestr(m->v[i].val);
            }
            free(m->v);
            m->v = NULL;
            m->n = 0;
            break;
        case AS_CONF_SECTION:
            conf_free_keys(k->sub, (char *) base + k->off);
            break;
        case AS_CONF_SECTIONS:
            a = CONF_FIELD(base, k, struct as_conf_array);
            for (size_t i = 0; a->items != NULL && i < a->n; i++) {
                conf_free_keys(k->sub, (char *) a->items + i * k->item_size);
            }
            free(a->items);
            a->items = NULL;
            a->n = 0;
            break;
        default:
            break;
        }
    }
}

static void
conf_free_stages(struct as_conf_stage *v, size_t n,
                 const struct as_conf_key *common)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        if (v[i].st != NULL && v[i].conf != NULL) {
            conf_free_keys(v[i].st->keys, v[i].conf);
        }
        free(v[i].conf);
        conf_free_keys(common, &v[i]);
    }
    free(v);
}

void
as_config_free(struct as_config *c)
{
    if (c == NULL) {
        return;
    }
    conf_free_keys(conf_keys_top, c);
    conf_free_stages(c->inputs, c->n_inputs, as_keys_input_common);
    conf_free_stages(c->outputs, c->n_outputs, as_keys_output_common);
    for (size_t i = 0; i < c->n_marks; i++) {
        free(c->marks[i].key);
    }
    free(c->marks);
    free(c->path);
    free(c);
}

/* ---- lookups ---- */

const struct as_conf_stage *
as_config_input(const struct as_config *c, const char *id)
{
    for (size_t i = 0; c != NULL && i < c->n_inputs; i++) {
        if (c->inputs[i].id != NULL && strcmp(c->inputs[i].id, id) == 0) {
            return &c->inputs[i];
        }
    }
    return NULL;
}

bool
as_conf_output_routes(const struct as_conf_stage *o, const char *input)
{
    if (o->inputs.n == 0) {
        return true;
    }
    for (size_t i = 0; i < o->inputs.n; i++) {
        if (strcmp(o->inputs.v[i], input) == 0) {
            return true;
        }
    }
    return false;
}
