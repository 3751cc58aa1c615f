/*
 * Scrubbing by key: the value of any member whose name matches a configured
 * key, at any depth (objects inside arrays inside objects), is replaced by
 * scrub.replacement, whatever its type.  Names are compared case- and
 * separator-insensitively: "apiKey", "api-key" and "API_KEY" all match
 * "api_key".  Pattern detectors (scrub.patterns, scrub.custom) belong to the
 * scrub issue and are not applied yet.
 *
 * Owns: the normalized key list.  Invariant: keys are normalized (lower
 * case, no '_', '-', '.' or ' ').
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "scrub.h"

struct as_scrub {
    char **keys;
    uint32_t *hashes; /* scrub_normalize hash of each key */
    size_t n_keys;
    char *replacement;
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

int
as_scrub_new(const struct as_conf_scrub *conf, struct as_scrub **out,
             struct as_error *err)
{
    struct as_scrub *s = as_calloc(1, sizeof(*s));
    char norm[256];

    (void) err;
    s->keys = as_calloc(conf->keys.n + 1, sizeof(char *));
    s->hashes = as_calloc(conf->keys.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < conf->keys.n; i++) {
        if (scrub_normalize(conf->keys.v[i], norm, sizeof(norm),
                            &s->hashes[s->n_keys]) > 0) {
            s->keys[s->n_keys++] = as_strdup(norm);
        }
    }
    s->replacement = as_strdup(conf->replacement != NULL ? conf->replacement
                                                         : "[REDACTED]");
    *out = s;
    return 0;
}

void
as_scrub_free(struct as_scrub *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_keys; i++) {
        free(s->keys[i]);
    }
    free(s->keys);
    free(s->hashes);
    free(s->replacement);
    free(s);
}

static int
scrub_key_matches(const struct as_scrub *s, const char *key)
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

static unsigned
scrub_walk(const struct as_scrub *s, struct json_object *v)
{
    unsigned n = 0;

    if (json_object_is_type(v, json_type_object)) {
        struct json_object_iterator it = json_object_iter_begin(v);
        struct json_object_iterator end = json_object_iter_end(v);

        while (!json_object_iter_equal(&it, &end)) {
            const char *k = json_object_iter_peek_name(&it);
            struct json_object *c = json_object_iter_peek_value(&it);

            if (scrub_key_matches(s, k)) {
                /* Replacing the value in place keeps the iterator valid. */
                json_object_object_add(v, k,
                                       json_object_new_string(s->replacement));
                n++;
            } else {
                n += scrub_walk(s, c);
            }
            json_object_iter_next(&it);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        size_t len = json_object_array_length(v);

        for (size_t i = 0; i < len; i++) {
            n += scrub_walk(s, json_object_array_get_idx(v, i));
        }
    }
    return n;
}

void
as_scrub_record(struct as_scrub *s, struct as_record *r)
{
    if (s == NULL || r->obj == NULL || s->n_keys == 0) {
        return;
    }
    r->redacted += scrub_walk(s, r->obj);
}
