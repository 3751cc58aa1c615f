/*
 * Message framing of one stream connection of the socket input: messages
 * ended by a newline (or a NUL byte, as syslog(3) sends them), or, for
 * syslog, RFC 6587 octet counting ("LEN SP MSG") detected from the
 * connection's first byte.  Pure: no I/O, no loop, so it
 * is unit-tested and fuzzable on its own.
 */
#ifndef AS_SOCKET_FRAME_H
#define AS_SOCKET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/carry.h"

enum as_sockframe_state {
    AS_SF_START,   /* nothing seen yet (octet counting still possible) */
    AS_SF_LINES,   /* ended by a newline or NUL */
    AS_SF_OCT_LEN, /* octet counting: reading the LEN digits */
    AS_SF_OCT_MSG, /* octet counting: inside a message */
};

struct as_sockframe {
    size_t max;    /* max_line_bytes: longer messages are truncated */
    bool octet_ok; /* a leading digit selects octet counting (syslog) */
    enum as_sockframe_state state;
    struct as_carry carry; /* the message in progress: max + 2 bytes kept */
    uint64_t want;         /* octet counting: bytes still due for the message */
    uint64_t len;          /* octet counting: the LEN being read */
    char hdr[16];          /* and its digits so far */
    unsigned len_digits;
    /* Counters, only ever increased. */
    uint64_t messages;       /* handed to emit */
    uint64_t truncated;      /* of which longer than max */
    uint64_t empty;          /* empty lines skipped (not events) */
    uint64_t framing_errors; /* bad octet-counting header: fell back to
                                lines for the rest of the connection */
    uint64_t incomplete;     /* a message cut short by the end of the
                                connection (emitted as it was) */
};

/*
 * Called once per message, with its bytes without the newline or NUL (and
 * a trailing "\r"): at most max of them; truncated says the message was
 * longer.  Returns false to stop the feed after this message (pause).
 */
typedef bool as_sockframe_emit_fn(void *arg, const char *msg, size_t len,
                                  bool truncated);

/* max is max_line_bytes (> 0); octet_ok for format: syslog. */
void as_sockframe_init(struct as_sockframe *f, size_t max, bool octet_ok);
/* Frees the carry; f may be inited again. */
void as_sockframe_free(struct as_sockframe *f);

/*
 * Splits the next n bytes of the connection into messages.  Returns how many
 * bytes were consumed: n, or fewer when emit returned false (the caller
 * feeds the rest again later).  Memory: the carry never exceeds max + 2
 * bytes, whatever the input.
 */
size_t as_sockframe_feed(struct as_sockframe *f, const char *p, size_t n,
                         as_sockframe_emit_fn *emit, void *arg);

/*
 * End of the connection: a last message without its newline (or an octet-
 * counted one cut short) is emitted as it is.  Returns true when something
 * was emitted.
 */
bool as_sockframe_eof(struct as_sockframe *f, as_sockframe_emit_fn *emit,
                      void *arg);

#endif
