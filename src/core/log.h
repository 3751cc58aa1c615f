/*
 * The agent's own log: one line per message on stderr, with a level word, or
 * a "<N>" syslog priority prefix when stderr is the journal (JOURNAL_STREAM).
 * Never log record contents: only ids, offsets and lengths.
 */
#ifndef AS_LOG_H
#define AS_LOG_H

#include <stdint.h>

enum as_log_level {
    AS_LOG_ERROR = 0,
    AS_LOG_WARN = 1,
    AS_LOG_INFO = 2,
    AS_LOG_DEBUG = 3,
};

void as_log_init(const char *progname);
void as_log_set_level(enum as_log_level level);
enum as_log_level as_log_get_level(void);
int as_log_enabled(enum as_log_level level);

void as_log(enum as_log_level level, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like as_log_error but appends ": strerror(err)"; preserves errno. */
void as_log_errno(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void as_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));
void as_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

#define as_log_error(...) as_log(AS_LOG_ERROR, NULL, __VA_ARGS__)
#define as_log_warn(...)  as_log(AS_LOG_WARN, NULL, __VA_ARGS__)
#define as_log_info(...)  as_log(AS_LOG_INFO, NULL, __VA_ARGS__)
#define as_log_debug(...) as_log(AS_LOG_DEBUG, NULL, __VA_ARGS__)

/* Stage logging: prefix is e.g. "input:file:app-files". */
#define as_slog_error(p, ...) as_log(AS_LOG_ERROR, (p), __VA_ARGS__)
#define as_slog_warn(p, ...)  as_log(AS_LOG_WARN, (p), __VA_ARGS__)
#define as_slog_info(p, ...)  as_log(AS_LOG_INFO, (p), __VA_ARGS__)
#define as_slog_debug(p, ...) as_log(AS_LOG_DEBUG, (p), __VA_ARGS__)

/*
 * Rate limiter for repeated messages (syslogd's 120 s): returns 1 when a
 * message may be logged now, and counts the suppressed ones in *suppressed.
 */
struct as_ratelimit {
    uint64_t last_ms;
    uint64_t suppressed;
};
int as_ratelimit_ok(struct as_ratelimit *rl, uint64_t interval_ms);

#endif
