/*
 * Framing of a stream connection (see socket_frame.h).
 *
 * Owns the carry: the first bytes of a message that spans reads.  A
 * message that fits in one read is handed on straight from the caller's
 * bytes, without a copy.
 *
 * Invariants:
 * - carry.len <= max + 2 (a message of max bytes may still end in "\r\n"
 *   inside an octet count, or in "\r" before a newline); carry.total counts
 *   every byte of the message in progress, kept or not.  A message longer
 *   than max is emitted once, truncated to max bytes; the rest of it is
 *   read and discarded.
 * - In octet counting, the LEN digits read so far are kept in hdr, so that a
 *   bad header (not "DIGITS SP") falls back to newline framing for the rest
 *   of the connection with those bytes as the start of a line: nothing the
 *   client sent is dropped without being emitted.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "socket_frame.h"

#define SF_CARRY_KEEP (64 * 1024) /* carry capacity kept between messages */
#define SF_MAX_DIGITS 12          /* LEN up to 999,999,999,999 */

void
as_sockframe_init(struct as_sockframe *f, size_t max, bool octet_ok)
{
    memset(f, 0, sizeof(*f));
    f->max = max > 0 ? max : 1;
    f->octet_ok = octet_ok;
    f->state = octet_ok ? AS_SF_START : AS_SF_LINES;
}

void
as_sockframe_free(struct as_sockframe *f)
{
    as_carry_free(&f->carry);
}

/*
 * Hands one message on: data holds its first kept bytes out of total.  A
 * complete message loses a trailing "\r" (and, inside an octet count, a
 * trailing "\n" first).  Returns emit's answer (true for a skipped empty
 * message).
 */
static bool
sf_deliver(struct as_sockframe *f, const char *data, size_t kept,
           uint64_t total, bool strip_lf, as_sockframe_emit_fn *emit, void *arg)
{
    size_t len = kept;
    bool trunc = false;

    if (total == kept) {
        if (strip_lf && len > 0 && data[len - 1] == '\n') {
            len--;
        }
        if (len > 0 && data[len - 1] == '\r') {
            len--;
        }
    }
    if (total != kept || len > f->max) {
        len = f->max;
        trunc = true;
    }
    if (len == 0 && !trunc) {
        f->empty++;
        return true;
    }
    f->messages++;
    if (trunc) {
        f->truncated++;
    }
    return emit(arg, data, len, trunc);
}

/*
 * Line framing from p[0]: a message ends at a newline or a NUL byte (glibc
 * syslog(3) and Python's SysLogHandler end each message on a stream socket
 * with a NUL).  Returns the bytes consumed.
 */
static size_t
sf_lines(struct as_sockframe *f, const char *p, size_t n,
         as_sockframe_emit_fn *emit, void *arg)
{
    const char *nul = memchr(p, '\0', n), *end;
    size_t pos = 0, seg, lim;
    bool more;

    while (pos < n) {
        if (nul != NULL && nul < p + pos) {
            nul = memchr(p + pos, '\0', n - pos);
        }
        lim = nul != NULL ? (size_t) (nul - (p + pos)) : n - pos;
        end = memchr(p + pos, '\n', lim);
        if (end == NULL) {
            end = nul;
        }
        if (end == NULL) {
            as_carry_add(&f->carry, p + pos, n - pos, f->max + 2);
            return n;
        }
        seg = (size_t) (end - (p + pos));
        if (f->carry.total == 0) {
            more = sf_deliver(f, p + pos, seg, seg, false, emit, arg);
        } else {
            as_carry_add(&f->carry, p + pos, seg, f->max + 2);
            more = sf_deliver(f, f->carry.data, f->carry.len, f->carry.total,
                              false, emit, arg);
            as_carry_reset(&f->carry, SF_CARRY_KEEP);
        }
        pos = (size_t) (end - p) + 1;
        if (!more) {
            return pos;
        }
    }
    return n;
}

/* A bad octet-counting header: the rest of the connection is lines. */
static void
sf_fall_back(struct as_sockframe *f)
{
    f->framing_errors++;
    f->state = AS_SF_LINES;
    as_carry_reset(&f->carry, SF_CARRY_KEEP);
    if (f->len_digits > 0) {
        as_carry_add(&f->carry, f->hdr, f->len_digits, f->max + 2);
    }
    f->len_digits = 0;
    f->len = 0;
}

size_t
as_sockframe_feed(struct as_sockframe *f, const char *p, size_t n,
                  as_sockframe_emit_fn *emit, void *arg)
{
    size_t pos = 0, take;
    bool more;
    char c;

    while (pos < n) {
        switch (f->state) {
        case AS_SF_START:
            f->state = (f->octet_ok && p[pos] >= '0' && p[pos] <= '9')
                           ? AS_SF_OCT_LEN
                           : AS_SF_LINES;
            break;
        case AS_SF_LINES:
            return pos + sf_lines(f, p + pos, n - pos, emit, arg);
        case AS_SF_OCT_LEN:
            c = p[pos];
            if (c >= '0' && c <= '9' && f->len_digits < SF_MAX_DIGITS) {
                f->hdr[f->len_digits++] = c;
                f->len = f->len * 10 + (uint64_t) (c - '0');
                pos++;
            } else if (c == ' ' && f->len_digits > 0) {
                pos++;
                f->want = f->len;
                f->len = 0;
                f->len_digits = 0;
                f->state = AS_SF_OCT_MSG;
                if (f->want == 0) {
                    f->empty++;
                    f->state = AS_SF_OCT_LEN;
                }
            } else if (f->len_digits == 0 &&
                       (c == '\n' || c == '\r' || c == ' ')) {
                pos++; /* tolerated between frames */
            } else {
                sf_fall_back(f);
            }
            break;
        case AS_SF_OCT_MSG:
            take = n - pos < f->want ? n - pos : (size_t) f->want;
            if (f->carry.total == 0 && take == f->want) {
                more = sf_deliver(f, p + pos, take, take, true, emit, arg);
            } else {
                as_carry_add(&f->carry, p + pos, take, f->max + 2);
                if (take < f->want) {
                    f->want -= take;
                    return n;
                }
                more = sf_deliver(f, f->carry.data, f->carry.len,
                                  f->carry.total, true, emit, arg);
                as_carry_reset(&f->carry, SF_CARRY_KEEP);
            }
            pos += take;
            f->want = 0;
            f->state = AS_SF_OCT_LEN;
            if (!more) {
                return pos;
            }
            break;
        }
    }
    return n;
}

bool
as_sockframe_eof(struct as_sockframe *f, as_sockframe_emit_fn *emit, void *arg)
{
    uint64_t before = f->messages;

    switch (f->state) {
    case AS_SF_START:
        break;
    case AS_SF_LINES:
        if (f->carry.total > 0) {
            (void) sf_deliver(f, f->carry.data, f->carry.len, f->carry.total,
                              false, emit, arg);
        }
        break;
    case AS_SF_OCT_LEN:
        if (f->len_digits > 0) {
            /* Digits and then nothing: not a frame, but the client's. */
            f->framing_errors++;
            (void) sf_deliver(f, f->hdr, f->len_digits, f->len_digits, false,
                              emit, arg);
        }
        break;
    case AS_SF_OCT_MSG:
        f->incomplete++;
        if (f->carry.total > 0) {
            (void) sf_deliver(f, f->carry.data, f->carry.len, f->carry.total,
                              true, emit, arg);
        }
        break;
    }
    as_carry_reset(&f->carry, SF_CARRY_KEEP);
    f->len_digits = 0;
    f->len = 0;
    f->want = 0;
    f->state = f->octet_ok ? AS_SF_START : AS_SF_LINES;
    return f->messages != before;
}
