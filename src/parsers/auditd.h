/*
 * The `auditd` decoder: Linux audit.log lines -> audit events (DESIGN
 * section 7), one event per msg=audit(TIME:SERIAL).
 *
 * Stateful but pure: a reassembler holds the records of events that are not
 * complete yet; it does no I/O and reads no clock (the caller passes a
 * monotonic now_ms).  One reassembler per source file, used by one thread
 * at a time.  Memory is bounded by opts: at most max_events pending events
 * of at most max_event_bytes each.
 *
 * An event is emitted when
 *   - its EOE record arrives;
 *   - it is a single-record user-space message (USER_*, CRED_*, DAEMON_*,
 *     CRYPTO_*, ... and UNKNOWN[n] with n in 1100-1299 or 2100-2999: the
 *     types user space sends through the kernel, which never get siblings
 *     or an EOE), at once;
 *   - more than max_events events newer than it are pending (the kernel
 *     interleaves records of concurrent events, and kernels without EOE
 *     records never say an event is over): oldest first;
 *   - it has waited max_wait_ms since its first record (checked by every
 *     feed), or by as_auditd_flush.
 * Events leave in the order they complete; among events completed by the
 * window or by age, in the order their first records arrived, which also
 * keeps serial rollover (4294967295 -> 0) in order.  A record arriving for
 * an event already emitted starts a new event with the same serial.  An
 * event larger than max_event_bytes is emitted in parts (metadata.part =
 * 1, 2, ...).
 *
 * The produced object:
 *   actor_type/actor_id: "user" and the auid when set (not 4294967295),
 *     else "user" and the uid, else "system"/"system".  Taken from the
 *     SYSCALL record, else from the first record carrying the field.
 *   action: "auditd.syscall.<name>" (e.g. auditd.syscall.openat; the
 *     number when the architecture or number is unknown) for events whose
 *     records all describe a syscall (SYSCALL, PATH, CWD, EXECVE,
 *     PROCTITLE, SOCKADDR, ...); otherwise "auditd.<type>" from the first
 *     other record, lowercased (auditd.user_login, auditd.avc,
 *     auditd.config_change).
 *   target_type/target_id: "file" and the PATH name (the first item that
 *     is not a PARENT; a relative name is joined to the CWD); else
 *     "address" and ip:port ([ip]:port for IPv6) or "socket" and a unix
 *     path from SOCKADDR; else "file" and the name field of the main
 *     record (AppArmor AVC); else from user-space fields: "service" (unit),
 *     "command" (cmd), "user" or "group" (acct, else id); else "process"
 *     and exe (else comm); else "directory" and cwd; else
 *     "system"/"system".
 *   ip_address: the addr field of a user-space record when it is an IP.
 *   created_at: the audit timestamp, RFC 3339 UTC with milliseconds.
 *   metadata: {serial, node (when the line had node=), result ("success" or
 *     "fail" from success= or res=), records: {<type lowercased>: [ {field:
 *     value, ...} per record, in arrival order ]}, part (split events)}.
 * Record fields are strings.  Quoted values lose their quotes; hex-encoded
 * values of fields the kernel encodes (name, exe, comm, cwd, cmd, data,
 * proctitle, acct, key, path, ..., EXECVE aN and aN[i] pieces) are decoded;
 * proctitle's NULs become spaces; key becomes "keys" (an array, split at
 * \x01); arch and syscall become names (x86_64, i386 and aarch64 syscall
 * tables); a negative exit becomes its errno name; sig its signal name;
 * auid and ses 4294967295 become "unset"; success/res add "result"; SELinux
 * subj and obj are also split into subj_user/role/domain/level/category;
 * SOCKADDR saddr adds family, addr, port or path; AVC "denied { read }"
 * adds seresult and seperms; msg='...' of user-space records is decoded
 * into the same record; "old auid=" becomes old_auid.  Values "?", "" and
 * "(null)" are left out.  The enriched format's interpreted fields (after
 * the 0x1d byte, e.g. AUID="root") are kept as they are, uppercase keys.
 * Every string is valid UTF-8 without NUL: a value that is not (raw bytes,
 * or what hex decoded to) gets U+FFFD for each bad byte and each NUL, and
 * its exact bytes are kept as hex in "<field>_hex"; a bad key byte becomes
 * U+FFFD.
 */
#ifndef AS_PARSER_AUDITD_H
#define AS_PARSER_AUDITD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "../core/error.h"

struct as_auditd_opts {
    size_t max_events;      /* pending events held for reassembly */
    size_t max_event_bytes; /* per event part; a longer line is malformed */
    uint64_t max_wait_ms;   /* an older pending event goes at the next feed */
};
#define AS_AUDITD_MAX_EVENTS      32
#define AS_AUDITD_MAX_EVENT_BYTES (64 * 1024)
#define AS_AUDITD_MAX_WAIT_MS     2000

struct as_auditd_stats {
    uint64_t lines;     /* lines fed */
    uint64_t events;    /* objects emitted (each part counts) */
    uint64_t malformed; /* lines reported as malformed */
    uint64_t evicted;   /* events completed by the max_events window */
    uint64_t aged;      /* events completed by max_wait_ms or a flush */
    uint64_t splits;    /* parts emitted because of max_event_bytes */
    uint64_t stray_eoe; /* EOE records whose event was not held */
    /* Serials skipped between consecutive events of one node (kernel
     * backlog losses, or events that never reached this file); a late
     * event filling a counted gap takes it back. */
    uint64_t serial_gaps;
};

struct as_auditd; /* one reassembler per source file */

/* Called once per emitted event, in the order events complete; obj is owned
 * by the callee.  On a malformed line: obj == NULL, err names the reason,
 * raw/rawlen is the line (for a dead-letter/invalid record); otherwise raw
 * is NULL and err NULL.  While emit runs, every line fed so far that is not
 * part of an already emitted event is pending, so emit may call
 * as_auditd_oldest_pending to learn the safe resume offset (when it returns
 * false: just past the line being fed, or the last line fed for a flush).
 * emit must not call feed or flush. */
typedef void as_auditd_emit_fn(void *arg, struct json_object *obj,
                               const char *raw, size_t rawlen,
                               const struct as_error *err);

/* opts may be NULL (the AS_AUDITD_* defaults); zero members take defaults
 * too. */
struct as_auditd *as_auditd_new(const struct as_auditd_opts *opts);
/* Drops pending events without emitting them (flush first to keep them). */
void as_auditd_free(struct as_auditd *a);

/*
 * Feeds one line (without its newline; a trailing '\r' is ignored).  tag is
 * the caller's name for the line (its start offset in the source);
 * now_ms a monotonic clock.  Blank lines are skipped.
 */
void as_auditd_feed(struct as_auditd *a, const char *line, size_t len,
                    uint64_t tag, uint64_t now_ms, as_auditd_emit_fn *emit,
                    void *arg);
/* Emits the events that have waited at least max_wait_ms since their first
 * record (all of them when max_wait_ms == 0). */
void as_auditd_flush(struct as_auditd *a, uint64_t now_ms, uint64_t max_wait_ms,
                     as_auditd_emit_fn *emit, void *arg);
/* The smallest tag of the lines still held; false when none is. */
bool as_auditd_oldest_pending(const struct as_auditd *a, uint64_t *tag);
/* Number of lines held (records of pending events). */
size_t as_auditd_pending_lines(const struct as_auditd *a);
const struct as_auditd_stats *as_auditd_stats(const struct as_auditd *a);

#endif
