/*
 * JSON library benchmark: parse + serialize per event for cJSON, json-c and
 * jansson (each when built with it), then our own path: as_parse_json +
 * as_jcs_write, and as_chain_seal (both serializations and SHA-256).
 *
 * usage: bench/json-libs [-r ROUNDS] FILE
 *   FILE: NDJSON events, e.g. from /work/shared/bench/gen-audit-events.py.
 * Prints CPU ns per event (process CPU time, best of 3 runs over all events,
 * so that other load on the machine disturbs less) and the mean event
 * size.  Owns its event array; single-threaded.  See bench/README.md.
 *
 * jansson and json-c export the same symbol names (json_object_get, ...),
 * so one process cannot hold both: built with -DBENCH_JANSSON_ONLY this
 * file makes bench/json-libs-jansson, which measures jansson alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_JANSSON_ONLY
#include <jansson.h>
#else
#include <json-c/json.h>
#ifdef HAVE_CJSON
#include <cjson/cJSON.h>
#endif

#include "core/buf.h"
#include "core/jcs.h"
#include "core/record.h"
#include "parsers/json.h"
#include "processors/chain.h"
#endif

struct bench_ev {
    char *s;
    size_t len;
};

static struct bench_ev *bench_evs;
static size_t bench_n;
static size_t bench_sink;

static double
bench_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

#ifndef BENCH_JANSSON_ONLY
static void
bench_jsonc(void)
{
    for (size_t i = 0; i < bench_n; i++) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o =
            json_tokener_parse_ex(tok, bench_evs[i].s, (int) bench_evs[i].len);

        bench_sink +=
            strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        json_tokener_free(tok);
    }
}

#ifdef HAVE_CJSON
static void
bench_cjson(void)
{
    for (size_t i = 0; i < bench_n; i++) {
        cJSON *o = cJSON_ParseWithLength(bench_evs[i].s, bench_evs[i].len);
        char *s = cJSON_PrintUnformatted(o);

        bench_sink += strlen(s);
        cJSON_free(s);
        cJSON_Delete(o);
    }
}
#endif

#endif /* !BENCH_JANSSON_ONLY */

#ifdef BENCH_JANSSON_ONLY
static void
bench_jansson(void)
{
    for (size_t i = 0; i < bench_n; i++) {
        json_error_t err;
        json_t *o = json_loadb(bench_evs[i].s, bench_evs[i].len, 0, &err);
        char *s = json_dumps(o, JSON_COMPACT);

        bench_sink += strlen(s);
        free(s);
        json_decref(o);
    }
}
#else

static void
bench_parse_only(void)
{
    for (size_t i = 0; i < bench_n; i++) {
        struct json_object *o;
        struct as_error err;

        if (as_parse_json(bench_evs[i].s, bench_evs[i].len, &o, &err) == 0) {
            bench_sink++;
        }
        json_object_put(o);
    }
}

static void
bench_ours(void)
{
    struct as_buf b = AS_BUF_INIT;

    for (size_t i = 0; i < bench_n; i++) {
        struct json_object *o;
        struct as_error err;

        if (as_parse_json(bench_evs[i].s, bench_evs[i].len, &o, &err) == 0) {
            as_buf_reset(&b);
            as_jcs_write(&b, o);
            bench_sink += b.len;
        }
        json_object_put(o);
    }
    as_buf_free(&b);
}

static struct json_object **bench_trees;

static void
bench_jcs_only(void)
{
    struct as_buf b = AS_BUF_INIT;

    for (size_t i = 0; i < bench_n; i++) {
        as_buf_reset(&b);
        as_jcs_write(&b, bench_trees[i]);
        bench_sink += b.len;
    }
    as_buf_free(&b);
}

static struct as_chainset *bench_cs;

static void
bench_parse_seal(void)
{
    for (size_t i = 0; i < bench_n; i++) {
        struct as_record *r = as_record_new("app", NULL);
        struct as_error err;

        if (as_parse_json(bench_evs[i].s, bench_evs[i].len, &r->obj, &err) ==
                0 &&
            as_chain_seal(bench_cs, r, true) == 0) {
            bench_sink += r->line.len;
        }
        as_record_free(r);
    }
}

#endif

static double
bench_run(const char *name, void (*fn)(void), int rounds)
{
    double best = 0;

    for (int k = 0; k < 3; k++) {
        double t0 = bench_now(), t;

        for (int r = 0; r < rounds; r++) {
            fn();
        }
        t = (bench_now() - t0) / ((double) rounds * (double) bench_n);
        if (k == 0 || t < best) {
            best = t;
        }
    }
    if (name != NULL) {
        printf("%-44s %8.0f ns/event\n", name, best);
    }
    return best;
}

/* Loads the events of path; returns the mean size, 0 on failure. */
static size_t
bench_load(const char *path)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;

    if ((f = fopen(path, "r")) == NULL) {
        perror(path);
        return 0;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        bench_evs = realloc(bench_evs, (bench_n + 1) * sizeof(*bench_evs));
        if (bench_evs == NULL) {
            abort();
        }
        bench_evs[bench_n].s = strndup(line, (size_t) len);
        bench_evs[bench_n].len = (size_t) len;
        total += (size_t) len;
        bench_n++;
    }
    free(line);
    fclose(f);
    if (bench_n == 0) {
        fprintf(stderr, "json-libs: no events in %s\n", path);
        return 0;
    }
    return total / bench_n;
}

static int
bench_args(int argc, char **argv, int *rounds, size_t *mean)
{
    const char *path = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            *rounds = atoi(argv[++i]);
        } else {
            path = argv[i];
        }
    }
    if (path == NULL || *rounds < 1) {
        fprintf(stderr, "usage: json-libs [-r ROUNDS] FILE.ndjson\n");
        return 2;
    }
    if ((*mean = bench_load(path)) == 0) {
        return 2;
    }
    printf("%zu events, mean %zu bytes, %d rounds, best of 3\n", bench_n, *mean,
           *rounds);
    return 0;
}

#ifdef BENCH_JANSSON_ONLY
int
main(int argc, char **argv)
{
    int rounds = 5, r;
    size_t mean;

    if ((r = bench_args(argc, argv, &rounds, &mean)) != 0) {
        return r;
    }
    bench_run("jansson " JANSSON_VERSION, bench_jansson, rounds);
    fprintf(stderr, "(%zu)\n", bench_sink % 10);
    return 0;
}
#else
int
main(int argc, char **argv)
{
    int rounds = 5, r;
    size_t mean;
    struct as_conf_chain conf = {0};
    struct as_error err;
    double parse, seal;

    if ((r = bench_args(argc, argv, &rounds, &mean)) != 0) {
        return r;
    }
    bench_trees = calloc(bench_n, sizeof(*bench_trees));
    for (size_t i = 0; i < bench_n; i++) {
        if (as_parse_json(bench_evs[i].s, bench_evs[i].len, &bench_trees[i],
                          &err) != 0) {
            fprintf(stderr, "json-libs: event %zu: %s\n", i + 1, err.msg);
            return 1;
        }
    }
    conf.enabled = true;
    conf.signing_key = (char *) "";
    if (as_chainset_new(&conf, "host1", &bench_cs, &err) != 0) {
        return 1;
    }
    printf("-- parse + serialize (compact) per event --\n");
#ifdef HAVE_CJSON
    {
        char name[64];

        snprintf(name, sizeof(name), "cJSON %s", cJSON_Version());
        bench_run(name, bench_cjson, rounds);
    }
#endif
    bench_run("json-c " JSON_C_VERSION, bench_jsonc, rounds);
    printf("(jansson: see bench/json-libs-jansson)\n");
    printf("-- auditship --\n");
    parse = bench_run("as_parse_json", bench_parse_only, rounds);
    bench_run("as_parse_json + as_jcs_write", bench_ours, rounds);
    bench_run("as_jcs_write (parsed tree)", bench_jcs_only, rounds);
    seal = bench_run(NULL, bench_parse_seal, rounds);
    printf("%-44s %8.0f ns/event\n", "as_parse_json + as_chain_seal", seal);
    printf("%-44s %8.0f ns/event\n", "as_chain_seal (difference)",
           seal - parse);
    for (size_t i = 0; i < bench_n; i++) {
        json_object_put(bench_trees[i]);
        free(bench_evs[i].s);
    }
    free(bench_trees);
    free(bench_evs);
    as_chainset_free(bench_cs);
    fprintf(stderr, "(%zu)\n", bench_sink % 10);
    return 0;
}
#endif
