/*
 * Test helper for chained NDJSON files.
 *
 *   mkchain [--key FILE] [--every K] [--input ID] [--host H] N
 *       writes N generated audit events sealed by as_chain_seal into one
 *       chain, with a signed checkpoint after every K events when --key is
 *       given (events after the last checkpoint stay unsealed).
 *   mkchain --rehash
 *       reads NDJSON lines on stdin and writes them back with
 *       auditship.hash recomputed from their content (what a forger with
 *       file access, but without the signing key, can do).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/jcs.h"
#include "core/record.h"
#include "parsers/json.h"
#include "processors/chain.h"

static int
mkchain_rehash(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    struct as_buf b = AS_BUF_INIT;
    int rc = 0;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        struct json_object *o = NULL, *as;
        struct as_error err;
        unsigned char md[32];
        unsigned int mdlen;
        char hex[65];

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }
        if (as_parse_json(line, (size_t) n, &o, &err) != 0 ||
            !json_object_object_get_ex(o, "auditship", &as)) {
            fwrite(line, 1, (size_t) n, stdout);
            putchar('\n');
            json_object_put(o);
            continue;
        }
        json_object_object_del(as, "hash");
        as_buf_reset(&b);
        {
            struct json_object *sig = NULL;

            if (json_object_object_get_ex(as, "signature", &sig)) {
                json_object_get(sig);
                json_object_object_del(as, "signature");
            }
            if (as_jcs_write(&b, o) != 0) {
                rc = 1;
            }
            EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL);
            for (int i = 0; i < 32; i++) {
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
            }
            json_object_object_add(as, "hash", json_object_new_string(hex));
            if (sig != NULL) {
                json_object_object_add(as, "signature", sig);
            }
        }
        as_buf_reset(&b);
        as_jcs_write(&b, o);
        fwrite(b.data, 1, b.len, stdout);
        putchar('\n');
        json_object_put(o);
    }
    free(line);
    as_buf_free(&b);
    return rc;
}

static int
mkchain_emit(struct as_record *r)
{
    fwrite(r->line.data, 1, r->line.len, stdout);
    putchar('\n');
    return 0;
}

int
main(int argc, char **argv)
{
    const char *key = "", *input = "app", *host = "host1";
    long n = -1, every = 0;
    struct as_conf_chain conf = {0};
    struct as_chainset *cs;
    struct as_error err;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rehash") == 0) {
            return mkchain_rehash();
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
            every = atol(argv[++i]);
        } else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
            input = argv[++i];
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else {
            n = atol(argv[i]);
        }
    }
    if (n < 0) {
        fprintf(stderr, "usage: mkchain [--key FILE] [--every K] "
                        "[--input ID] [--host H] N | --rehash\n");
        return 2;
    }
    conf.enabled = true;
    conf.signing_key = (char *) key;
    if (as_chainset_new(&conf, host, &cs, &err) != 0) {
        fprintf(stderr, "mkchain: %s\n", err.msg);
        return 1;
    }
    for (long i = 1; i <= n && rc == 0; i++) {
        struct as_record *r = as_record_new(input, NULL);
        char ev[512];
        struct as_record *cp = NULL;

        snprintf(ev, sizeof(ev),
                 "{\"actor_id\":\"user_%05ld\",\"actor_type\":\"user\","
                 "\"action\":\"user.login\",\"target_type\":\"user\","
                 "\"target_id\":\"user_%05ld\",\"id\":\"evt_%ld\","
                 "\"metadata\":{\"n\":%ld,\"note\":\"event %ld\"}}",
                 i % 100, i % 100, i, i, i);
        if (as_parse_json(ev, strlen(ev), &r->obj, &err) != 0 ||
            as_chain_seal(cs, r, true) != 0) {
            rc = 1;
        } else {
            mkchain_emit(r);
        }
        as_record_free(r);
        if (key[0] != '\0' && every > 0 && i % every == 0) {
            if (as_chain_checkpoint(cs, input, &cp) != 0) {
                rc = 1;
            } else {
                mkchain_emit(cp);
            }
            as_record_free(cp);
        }
    }
    as_chainset_free(cs);
    return rc;
}
