/*
 * stderr logging.  Each message is formatted into one buffer and written with
 * a single write(2), so lines from different threads do not interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum as_log_level log_level = AS_LOG_INFO;
static const char *log_progname = "auditship";
static int log_journal = -1;

static const char *const log_names[] = {"error", "warn", "info", "debug"};
static const int log_prio[] = {3, 4, 6, 7};

void
as_log_init(const char *progname)
{
    log_progname = progname;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
as_log_set_level(enum as_log_level level)
{
    log_level = level;
}

enum as_log_level
as_log_get_level(void)
{
    return log_level;
}

int
as_log_enabled(enum as_log_level level)
{
    return level <= log_level;
}

static void log_emit(enum as_log_level level, const char *prefix,
                     const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
log_emit(enum as_log_level level, const char *prefix, const char *suffix,
         const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = 0;
    int r;

    if (log_journal < 0) {
        log_journal = getenv("JOURNAL_STREAM") != NULL;
    }
    if (log_journal) {
        r = snprintf(line, sizeof(line), "<%d>", log_prio[level]);
    } else {
        r = snprintf(line, sizeof(line), "%s: %s: ", log_progname,
                     log_names[level]);
    }
    if (r > 0) {
        n = (size_t) r;
    }
    if (prefix != NULL && n < sizeof(line)) {
        r = snprintf(line + n, sizeof(line) - n, "[%s] ", prefix);
        if (r > 0) {
            n += (size_t) r;
        }
    }
    if (n < sizeof(line)) {
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (r > 0) {
            n += (size_t) r;
        }
    }
    if (suffix != NULL && n < sizeof(line)) {
        r = snprintf(line + n, sizeof(line) - n, ": %s", suffix);
        if (r > 0) {
            n += (size_t) r;
        }
    }
    if (n >= sizeof(line)) {
        n = sizeof(line) - 1;
    }
    /* One line per message: fold any newline a caller let through. */
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nothing sensible to do when stderr is gone. */
    }
}

void
as_log(enum as_log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    log_emit(level, prefix, NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

void
as_log_errno(int err, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    if (err < 0) {
        err = -err;
    }
    va_start(ap, fmt);
    log_emit(AS_LOG_ERROR, NULL, strerror(err), fmt, ap);
    va_end(ap);
    errno = saved;
}

void
as_fatal(const char *fmt, ...)
{
    va_list ap;
    int err = errno;

    va_start(ap, fmt);
    log_emit(AS_LOG_ERROR, NULL, strerror(err), fmt, ap);
    va_end(ap);
    abort();
}

void
as_fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(AS_LOG_ERROR, NULL, NULL, fmt, ap);
    va_end(ap);
    abort();
}

int
as_ratelimit_ok(struct as_ratelimit *rl, uint64_t interval_ms)
{
    struct timespec ts;
    uint64_t now;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    if (rl->last_ms != 0 && now - rl->last_ms < interval_ms) {
        rl->suppressed++;
        return 0;
    }
    rl->last_ms = now;
    return 1;
}
