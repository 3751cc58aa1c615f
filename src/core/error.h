/*
 * Error codes and the config/parse error record.
 *
 * Functions return 0 on success and a negative code on failure: -errno for
 * system errors (equal to libuv's UV_E* codes, passed through unchanged) and
 * AS_ERR_* at or below -1000 for the project's own.  Processors may also
 * return the positive results AS_DROP and AS_DEADLETTER.
 */
#ifndef AS_ERROR_H
#define AS_ERROR_H

#include <stdarg.h>

#define AS_OK   0
#define AS_DROP 1 /* processor: discard the record (counted) */
#define AS_DEADLETTER                                                          \
    2 /* processor: route the record to the dead-letter file */

enum {
    AS_ERR_INTERNAL = -1000,
    AS_ERR_CONFIG = -1001,  /* invalid configuration */
    AS_ERR_PARSE = -1002,   /* malformed input */
    AS_ERR_RETRY = -1003,   /* output: transient failure, send again */
    AS_ERR_REJECT = -1004,  /* output: permanent failure, dead-letter */
    AS_ERR_CORRUPT = -1005, /* damaged on-disk data */
    AS_ERR_FULL = -1006,    /* buffer full */
    AS_ERR_TOOBIG = -1007,  /* input exceeds a configured limit */
    AS_ERR_INVALID = -1008, /* event fails validation */
    AS_ERR_NOTIMPL = -1009, /* feature not implemented yet */
    AS_ERR_STOPPED = -1010, /* component is shutting down */
};

/*
 * A located error: `FILE:LINE:COLUMN: message` for config problems, or just
 * a message (file NULL) for parse errors.  line/col are 1-based; 0 = unknown.
 */
struct as_error {
    const char *file;
    int line, col;
    char msg[256];
};

const char *as_strerror(int r);
void as_error_set(struct as_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void as_error_setv(struct as_error *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void as_error_clear(struct as_error *e);

#define AS_FALLTHROUGH   __attribute__((fallthrough))
#define AS_UNUSED        __attribute__((unused))
#define AS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
