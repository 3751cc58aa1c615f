/*
 * The scrub stage alone, per event: reads NDJSON, parses every line once,
 * then times as_scrub_record over all events (a fresh copy each round, the
 * copy not timed) with the default keys and the default pattern list, or
 * with every built-in (-a), or keys only (-k), or (-n) the default
 * detectors' regexes run on every string without the anchor prefilter (as
 * scrub.custom patterns: the naive cost).  -d prints each event the
 * scrubber changed (before and after), for finding false positives by eye.
 *
 * usage: bench/scrub-per-event [-a|-k|-n] [-d] [-r ROUNDS] FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/mem.h"
#include "core/record.h"
#include "parsers/json.h"
#include "processors/scrub.h"
#include "processors/scrub_patterns.h"

static const char *const bench_keys[] = {
    "password",      "passwd",        "secret",  "token",      "api_key",
    "apikey",        "authorization", "cookie",  "set-cookie", "private_key",
    "client_secret", "access_key",    "session",
};

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    struct as_conf_scrub conf;
    struct as_scrub *s = NULL;
    struct as_error err;
    struct json_object **ev = NULL;
    struct json_object **copy;
    double clock_cost = 0;
    size_t n = 0, cap = 0, rounds = 5, linecap = 0;
    const char *const *names = as_scrub_builtin_names();
    char *line = NULL;
    ssize_t len;
    FILE *f;
    int c, all = 0, diff = 0, keys_only = 0, naive = 0;
    struct as_conf_scrub_custom custom[64];
    double best = 0;
    unsigned long long redacted = 0;

    while ((c = getopt(argc, argv, "adknr:")) != -1) {
        switch (c) {
        case 'k':
            keys_only = 1;
            break;
        case 'n':
            naive = 1;
            break;
        case 'a':
            all = 1;
            break;
        case 'd':
            diff = 1;
            break;
        case 'r':
            rounds = (size_t) atoi(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: scrub-per-event [-a|-k|-n] [-d] [-r N] FILE\n");
            return 2;
        }
    }
    if (optind >= argc || (f = fopen(argv[optind], "r")) == NULL) {
        fprintf(stderr, "usage: scrub-per-event [-a|-k|-n] [-d] [-r N] FILE\n");
        return 2;
    }
    memset(&conf, 0, sizeof(conf));
    conf.keys.v = (char **) bench_keys;
    conf.keys.n = sizeof(bench_keys) / sizeof(bench_keys[0]);
    conf.patterns.v = as_calloc(64, sizeof(char *));
    for (size_t i = 0; names[i] != NULL; i++) {
        /* -a: every built-in; default: the shipped default list. */
        if (all || (strcmp(names[i], "ip_public") != 0 &&
                    strcmp(names[i], "high_entropy") != 0)) {
            conf.patterns.v[conf.patterns.n++] = (char *) names[i];
        }
    }
    if (keys_only || naive) {
        conf.patterns.n = 0;
    }
    for (size_t i = 0; naive && i < as__scrub_n_builtins && i < 64; i++) {
        if (!as__scrub_builtins[i].opt_in) {
            custom[conf.custom.n].name = (char *) as__scrub_builtins[i].name;
            custom[conf.custom.n].regex = (char *) as__scrub_builtins[i].regex;
            conf.custom.n++;
        }
    }
    conf.custom.items = custom;
    conf.replacement = (char *) "[REDACTED]";
    as_error_clear(&err);
    if (as_scrub_new(&conf, &s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    while ((len = getline(&line, &linecap, f)) > 0) {
        if (n == cap) {
            cap = cap == 0 ? 1024 : 2 * cap;
            ev = as_reallocarray(ev, cap, sizeof(*ev));
        }
        if (as_parse_json(line, (size_t) len, &ev[n], &err) == 0) {
            n++;
        }
    }
    free(line);
    fclose(f);
    copy = as_calloc(n + 1, sizeof(*copy));
    /*
     * Each event is copied then scrubbed at once, as in the pipeline (the
     * tree is hot in the cache); the clock reads around each call are
     * measured alone and subtracted.
     */
    for (size_t i = 0; i < 200000; i++) {
        double t0 = bench_now();

        clock_cost += bench_now() - t0;
    }
    clock_cost /= 200000;
    for (size_t r = 0; r < rounds; r++) {
        double t0, el = 0;

        redacted = 0;
        for (size_t i = 0; i < n; i++) {
            struct as_record rec;

            copy[i] = NULL;
            json_object_deep_copy(ev[i], &copy[i], NULL);
            memset(&rec, 0, sizeof(rec));
            rec.obj = copy[i];
            t0 = bench_now();
            as_scrub_record(s, &rec);
            el += bench_now() - t0 - clock_cost;
            redacted += rec.redacted;
            if (diff && r == 0 && rec.redacted > 0) {
                printf("- %s\n+ %s\n",
                       json_object_to_json_string_ext(ev[i],
                                                      JSON_C_TO_STRING_PLAIN),
                       json_object_to_json_string_ext(copy[i],
                                                      JSON_C_TO_STRING_PLAIN));
            }
            json_object_put(copy[i]);
        }
        if (r == 0 || el < best) {
            best = el;
        }
    }
    printf("%zu events, %llu redactions, %zu detectors: %.0f ns/event "
           "(best of %zu rounds; %.0f ns clock overhead subtracted)\n",
           n, redacted, as_scrub_n_detectors(s), best / (double) n, rounds,
           clock_cost);
    for (size_t i = 0; i < n; i++) {
        json_object_put(ev[i]);
    }
    free(ev);
    free(copy);
    free(conf.patterns.v);
    as_scrub_free(s);
    return 0;
}
