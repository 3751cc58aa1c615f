/*
 * as_verify_run on chains made by as_chain_seal: the output line and exit
 * code for an intact chain, malformed auditship members (reported as
 * edited), one chain id with two epochs (two groups), signed checkpoints
 * with the right and a wrong key, and a 20000-record file (time reported).
 * The tampering cases run end to end in tests/integration/30-tamper.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "ctl/keygen.h"
#include "ctl/verify.h"
#include "parsers/json.h"
#include "processors/chain.h"

static char dir[64];

static int
setup(void **state)
{
    char prefix[128];
    struct as_error err;

    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/test_verify.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "%s/k", dir);
    if (as_keygen_write(prefix, &err) != 0) {
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "%s/other", dir);
    return as_keygen_write(prefix, &err);
}

static int
teardown(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes n sealed events (+ a checkpoint after each `every`) to f. */
static void
write_chain(FILE *f, const char *key, int n, int every)
{
    struct as_conf_chain conf = {0};
    struct as_chainset *cs;
    struct as_error err;

    conf.enabled = true;
    conf.signing_key = (char *) (key ? key : "");
    assert_int_equal(as_chainset_new(&conf, "h", &cs, &err), 0);
    for (int i = 1; i <= n; i++) {
        struct as_record *r = as_record_new("in", NULL), *cp = NULL;
        char ev[128];

        snprintf(ev, sizeof(ev), "{\"action\":\"a.b\",\"n\":%d}", i);
        assert_int_equal(as_parse_json(ev, strlen(ev), &r->obj, &err), 0);
        assert_int_equal(as_chain_seal(cs, r, true), 0);
        fprintf(f, "%s\n", r->line.data);
        as_record_free(r);
        if (every > 0 && i % every == 0) {
            assert_int_equal(as_chain_checkpoint(cs, "in", &cp), 0);
            fprintf(f, "%s\n", cp->line.data);
            as_record_free(cp);
        }
    }
    as_chainset_free(cs);
}

/* Runs verify on path; returns the exit code and the output in out. */
static int
run(const char *pub, const char *path, char *out, size_t outsz)
{
    char *files[1];
    FILE *o = fmemopen(out, outsz, "w");
    int rc;

    assert_non_null(o);
    files[0] = (char *) path;
    rc = as_verify_run(pub, files, 1, false, o);
    fclose(o);
    return rc;
}

static void
test_intact(void **state)
{
    char path[128], out[2048];
    FILE *f;

    (void) state;
    snprintf(path, sizeof(path), "%s/a.ndjson", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    write_chain(f, NULL, 5, 0);
    fprintf(f, "\n[1,2]\n");
    fclose(f);
    assert_int_equal(run(NULL, path, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "h/in epoch "));
    assert_non_null(strstr(out, ": 5 records, 0 duplicates, no checkpoint, "
                                "5 unsealed: intact\n"));
    assert_non_null(strstr(out, "not chained: 1 lines\n"));
    assert_non_null(strstr(out, "1 chains, 1 intact, 0 broken\n"));
}

static void
test_malformed(void **state)
{
    static const char *bad[] = {
        "\"seq\":\"1\"",    "\"seq\":0",       "\"seq\":1.5",
        "\"hash\":\"abc\"", "\"hash\":\"ZZ\"", "\"prev\":null",
    };
    char path[128], out[2048];

    (void) state;
    snprintf(path, sizeof(path), "%s/m.ndjson", dir);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fprintf(f,
                "{\"auditship\":{\"chain\":\"c\",\"epoch\":"
                "\"0123456789abcdef0123456789abcdef\",\"seq\":1,"
                "\"prev\":\"%064d\",\"hash\":\"%064d\",%s}}\n",
                0, 0, bad[k]);
        fclose(f);
        /* The later duplicate member name wins (json.c), so each case
         * overrides one field with a bad one: a chained record, never
         * "not chained", and never a crash. */
        assert_int_equal(run(NULL, path, out, sizeof(out)), 1);
        if (strstr(out, ": edited\n") == NULL) {
            fail_msg("case %s: %s", bad[k], out);
        }
    }
}

static void
test_epochs_and_keys(void **state)
{
    char path[128], key[128], pub[128], other[128], out[4096];
    FILE *f;

    (void) state;
    snprintf(path, sizeof(path), "%s/e.ndjson", dir);
    snprintf(key, sizeof(key), "%s/k.key", dir);
    snprintf(pub, sizeof(pub), "%s/k.pub", dir);
    snprintf(other, sizeof(other), "%s/other.pub", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    write_chain(f, key, 6, 3); /* two chainsets: same id, two epochs */
    write_chain(f, key, 4, 2);
    fclose(f);
    assert_int_equal(run(pub, path, out, sizeof(out)), 0);
    assert_non_null(strstr(out, ": 8 records, 0 duplicates, checkpoint at "
                                "seq 8 (signature verified), 0 unsealed: "
                                "intact\n"));
    assert_non_null(strstr(out, ": 6 records, 0 duplicates, checkpoint at "
                                "seq 6 (signature verified), 0 unsealed: "
                                "intact\n"));
    assert_non_null(strstr(out, "2 chains, 2 intact, 0 broken\n"));
    assert_int_equal(run(other, path, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "BROKEN at seq 4: bad signature\n"));
    assert_non_null(strstr(out, "BROKEN at seq 3: bad signature\n"));
    assert_int_equal(run(key, path, out, sizeof(out)), 2);
}

static void
test_many(void **state)
{
    char path[128], out[2048];
    struct timespec t0, t1;
    FILE *f;
    double s;

    (void) state;
    snprintf(path, sizeof(path), "%s/big.ndjson", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    write_chain(f, NULL, 20000, 0);
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run(NULL, path, out, sizeof(out)), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double) (t1.tv_sec - t0.tv_sec) +
        (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("# verify: 20000 records in %.3f s (%.1f us per record)\n", s,
           s * 1e6 / 20000);
    assert_non_null(strstr(out, ": 20000 records, 0 duplicates"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_epochs_and_keys),
        cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
