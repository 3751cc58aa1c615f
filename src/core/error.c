/*
 * as_strerror() for both -errno and AS_ERR_* codes, and struct as_error
 * helpers.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *
as_strerror(int r)
{
    switch (r) {
    case 0:
        return "success";
    case AS_ERR_INTERNAL:
        return "internal error";
    case AS_ERR_CONFIG:
        return "invalid configuration";
    case AS_ERR_PARSE:
        return "malformed input";
    case AS_ERR_RETRY:
        return "temporary failure";
    case AS_ERR_REJECT:
        return "rejected";
    case AS_ERR_CORRUPT:
        return "damaged data";
    case AS_ERR_FULL:
        return "buffer full";
    case AS_ERR_TOOBIG:
        return "too large";
    case AS_ERR_INVALID:
        return "invalid event";
    case AS_ERR_NOTIMPL:
        return "not implemented";
    case AS_ERR_STOPPED:
        return "stopped";
    default:
        break;
    }
    if (r < 0 && r > -1000) {
        return strerror(-r);
    }
    return "unknown error";
}

void
as_error_setv(struct as_error *e, const char *fmt, va_list ap)
{
    if (e == NULL) {
        return;
    }
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void
as_error_set(struct as_error *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    as_error_setv(e, fmt, ap);
    va_end(ap);
}

void
as_error_clear(struct as_error *e)
{
    if (e != NULL) {
        memset(e, 0, sizeof(*e));
    }
}
