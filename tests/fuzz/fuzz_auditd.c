/*
 * Fuzzes the auditd decoder and reassembler: the input is a log (lines
 * split at '\n'); its first two bytes pick the limits (window, event size,
 * wait) so eviction, splitting and aging all run, and each line advances a
 * fake clock.  Every event must pass the audit schema and serialize to JSON
 * that the json decoder accepts (valid UTF-8); every malformed line must
 * come with a reason and its bytes; a flush must leave nothing pending;
 * nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "parsers/auditd.h"
#include "parsers/json.h"
#include "processors/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_emit_cb(void *arg, struct json_object *obj, const char *raw, size_t rawlen,
             const struct as_error *err)
{
    struct json_object *again = NULL;
    struct as_error e2;
    const char *text;
    char why[256];

    (void) arg;
    if (obj == NULL) {
        if (err == NULL || err->msg[0] == '\0' || (raw == NULL && rawlen > 0)) {
            abort(); /* a malformed line always names its reason */
        }
        return;
    }
    if (as_validate_audit(obj, why, sizeof(why)) != 0) {
        abort(); /* every event fits the audit schema */
    }
    text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    as_error_clear(&e2);
    if (as_parse_json(text, strlen(text), &again, &e2) != 0) {
        abort(); /* not valid JSON / UTF-8 */
    }
    json_object_put(again);
    json_object_put(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct as_auditd_opts opts = {0};
    struct as_auditd *a;
    const char *p = (const char *) data, *end = p + size;
    uint64_t now = 0;

    if (size >= 2) {
        opts.max_events = 1 + (data[0] & 7);
        opts.max_event_bytes = 64 + (size_t) (data[0] >> 3) * 128;
        opts.max_wait_ms = 1 + data[1];
        p += 2;
    }
    a = as_auditd_new(&opts);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = nl != NULL ? (size_t) (nl - p) : (size_t) (end - p);

        now += len % 7;
        as_auditd_feed(a, p, len, (uint64_t) (p - (const char *) data), now,
                       fuzz_emit_cb, NULL);
        p += len + 1;
    }
    as_auditd_flush(a, now + 1, 1, fuzz_emit_cb, NULL);
    as_auditd_flush(a, now, 0, fuzz_emit_cb, NULL);
    if (as_auditd_oldest_pending(a, NULL) || as_auditd_pending_lines(a) != 0) {
        abort(); /* a full flush leaves nothing held */
    }
    as_auditd_free(a);
    return 0;
}
