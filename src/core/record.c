/*
 * struct as_record lifetime and the invalid-event form.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mem.h"
#include "record.h"
#include "utf8.h"

struct as_record *
as_record_new(const char *input, const struct as_srcinfo *src)
{
    struct as_record *r = as_calloc(1, sizeof(*r));

    r->input = input;
    r->received_ns = as_now_ns();
    if (src != NULL) {
        if (src->source != NULL) {
            r->source = as_strdup(src->source);
        }
        r->has_pos = src->has_pos;
        r->pos = src->pos;
        if (src->peer != NULL && src->peer->valid) {
            r->peer = *src->peer;
            r->peer.exe = src->peer->exe ? as_strdup(src->peer->exe) : NULL;
            r->peer.unit = src->peer->unit ? as_strdup(src->peer->unit) : NULL;
        }
    }
    as_buf_init(&r->line, 0);
    return r;
}

void
as_record_free(struct as_record *r)
{
    if (r == NULL) {
        return;
    }
    json_object_put(r->obj);
    free(r->source);
    free(r->peer.exe);
    free(r->peer.unit);
    free(r->error);
    /* The line is the sealed, scrubbed record: no need to cleanse it. */
    free(r->line.data);
    free(r);
}

void
as_record_set_invalid(struct as_record *r, const char *bytes, size_t len,
                      const char *reason)
{
    struct json_object *o = json_object_new_object();

    if (as_utf8_valid(bytes, len, NULL)) {
        json_object_object_add(o, "raw",
                               json_object_new_string_len(bytes, (int) len));
    } else {
        size_t elen = 4 * ((len + 2) / 3);
        char *enc = as_malloc(elen + 1);

        EVP_EncodeBlock((unsigned char *) enc, (const unsigned char *) bytes,
                        (int) len);
        json_object_object_add(o, "raw_base64",
                               json_object_new_string_len(enc, (int) elen));
        as_freezero(enc, elen + 1);
    }
    json_object_object_add(o, "error", json_object_new_string(reason));
    json_object_put(r->obj);
    r->obj = o;
    free(r->error);
    r->error = as_strdup(reason);
    r->flags |= AS_REC_INVALID;
}

void
as_format_time(int64_t ns, char out[32])
{
    time_t secs = (time_t) (ns / 1000000000);
    int ms = (int) ((ns % 1000000000) / 1000000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    /* Years beyond 9999 cannot occur from a real clock; truncation is ok. */
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, ms % 1000);
}

int64_t
as_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t
as_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}
