/*
 * The `http` output (as_output_http_ops): batches POSTed to a collector
 * with libcurl inside the libuv loop (curl_uv.c).  The pure parts are
 * exposed for tests: how a response status is classified, Retry-After
 * parsing, and the printable excerpt of a response body.
 */
#ifndef AS_OUTPUT_HTTP_H
#define AS_OUTPUT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/conf.h"
#include "core/stage.h"

extern const struct as_output_ops as_output_http_ops;

/* What a response means for the batch. */
enum as_http_class {
    AS_HTTP_ACK,    /* acknowledged: commit */
    AS_HTTP_RETRY,  /* send again after a backoff */
    AS_HTTP_SPLIT,  /* too large: send each half */
    AS_HTTP_REJECT, /* refused for good: dead-letter */
};

/* response_actions as a table: cls[status] (-1 = the default class). */
struct as_http_actions {
    signed char cls[600];
};

/*
 * Fills a from a response_actions map (keys: status codes 100-599;
 * values: ack | retry | reject | deadletter, where reject = deadletter).
 * Returns 0, or AS_ERR_CONFIG naming the bad entry in *bad.
 */
int as_http_actions_parse(const struct as_kvlist *kv, struct as_http_actions *a,
                          const struct as_kv **bad);

/*
 * The class of an HTTP status: the override in a (may be NULL), else 2xx
 * ack; 408, 425, 429 and 5xx retry; 413 split; other 4xx reject; anything
 * else (1xx, 3xx: redirects are not followed) retry, so that a wrong URL
 * loses nothing while an operator fixes it.
 */
enum as_http_class as_http_classify(long status,
                                    const struct as_http_actions *a);

/*
 * Parses a Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * and the obsolete RFC 850 and asctime forms).  Returns 0 with the wait in
 * *ms (0 for a date in the past; at most AS_RETRY_AFTER_MAX_MS), or -1
 * when the value is neither.
 */
int as_http_retry_after(const char *value, time_t now, uint64_t *ms);

/*
 * Writes at most cap-1 bytes of body into out as one printable ASCII line
 * (other bytes become '?', line ends and tabs a space) and NUL-terminates.
 */
void as_http_excerpt(const char *body, size_t len, char *out, size_t cap);

#endif
