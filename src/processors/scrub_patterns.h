/*
 * The built-in detector pack of the scrub stage (scrub_patterns.c), shared
 * with scrub.c only.  Each detector names a PCRE2 pattern (compiled without
 * PCRE2_UTF: it runs on bytes, so the same code scrubs raw non-UTF-8
 * lines), the literal anchors one of which must occur in a string for the
 * pattern to run, and an optional check of the candidate secret.
 */
#ifndef AS_SCRUB_PATTERNS_H
#define AS_SCRUB_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>

#define SCRUB_MAX_ANCHORS 20

/* Returns true when the candidate secret s[0..len) is to be redacted. */
typedef bool as__scrub_check_fn(const char *s, size_t len);

struct as__scrub_builtin {
    const char *name;
    const char *regex; /* group "s", if any, is the part redacted */
    const char *anchors[SCRUB_MAX_ANCHORS]; /* NULL-terminated */
    bool anchors_ci;     /* anchors compared case-insensitively */
    unsigned min_run;    /* needs a run of token bytes this long; 0 = any */
    unsigned min_digits; /* needs a run of digits (with ' ', '-') */
    bool placeholders;   /* leave placeholder values alone */
    /*
     * Bytes one of which is in every match, whichever alternative matches
     * (NULL: no such set): the scanner does not run the pattern over a
     * string that holds none of them.
     */
    const char *needs;
    as__scrub_check_fn *check;
    bool opt_in; /* not in the default list: too broad for audit data */
};

extern const struct as__scrub_builtin as__scrub_builtins[];
extern const size_t as__scrub_n_builtins;

/* True when s[0..len) is an obvious placeholder (see scrub_patterns.c). */
bool as__scrub_is_placeholder(const char *s, size_t len);

#endif
