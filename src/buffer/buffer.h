/*
 * The disk buffer: the agent's single source of truth.
 *
 * Records are appended to segment files under DIR (state_dir/buffer), each
 * framed with a length and a checksum.  Appends are staged in memory and
 * written by group commit on the libuv thread pool (fsync per
 * buffer.fsync); a record becomes readable by outputs once it is written
 * (and synced, unless fsync: never).  Every segment starts with a snapshot
 * of the state (AS_BREC_STATE records supplied by hooks.snapshot), so that
 * recovery needs only the newest segment(s): tail offsets and chain heads
 * are recovered from the buffer itself.
 *
 * Each output reads through its own persisted cursor (DIR/cursors/NAME) and
 * commits it after the destination acknowledged.  A segment is deleted once
 * every open cursor has passed it.  A torn or corrupt tail is detected,
 * counted and skipped; the agent never crash-loops on a damaged buffer.
 */
#ifndef AS_BUFFER_H
#define AS_BUFFER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "../core/conf.h"
#include "../core/record.h"

enum as_brec_type {
    AS_BREC_EVENT = 1,      /* a sealed line for the outputs */
    AS_BREC_DEADLETTER = 2, /* a sealed line for the dead-letter sink */
    AS_BREC_STATE = 3,      /* position and/or chain head, no payload */
};

/* One buffer record.  All pointers are borrowed. */
struct as_brec {
    uint8_t type;       /* enum as_brec_type */
    const char *input;  /* input id ("" = none) */
    const char *source; /* "" = none */
    bool has_pos;
    struct as_srcpos pos;
    const char *chain; /* "" = not chained */
    const char *epoch; /* 32 hex, when chain != "" */
    uint64_t seq;
    const char *hash; /* 64 hex, when chain != "" */
    int64_t received_ns;
    const char *payload; /* the sealed line, no newline */
    size_t payload_len;
};

struct as_buffer;
struct as_cursor;

struct as_buffer_hooks {
    /* Recovery: called in order for every snapshot entry and record that
     * determines the current state; later calls override earlier ones. */
    void (*recover)(void *arg, const struct as_brec *r);
    /* A new segment starts: append the current state with
     * as_buffer_append() of AS_BREC_STATE records. */
    void (*snapshot)(void *arg, struct as_buffer *b);
    /* Newly durable records can be read. */
    void (*readable)(void *arg);
    /* The backlog crossed max_bytes, or staged records wait for a flush
     * (full = true); or neither holds any more. */
    void (*full)(void *arg, bool full);
    void *arg;
};

struct as_buffer_stats {
    uint64_t bytes; /* bytes on disk in segments */
    uint64_t max_bytes;
    uint64_t segments;
    uint64_t records_appended;
    uint64_t corrupt_records;    /* skipped during recovery or reads */
    uint64_t torn_tails;         /* truncated partial frames */
    uint64_t dropped_full;       /* rejected with drop_newest */
    int64_t oldest_unshipped_ns; /* received_ns of the oldest record not
                                    passed by every cursor; 0 = none */
    uint64_t read_bytes;         /* read from segments (cursors, the scan
                                    for oldest_unshipped_ns) in this run */
};

/*
 * Opens (creating) the buffer in dir and recovers its state, calling
 * hooks->recover synchronously before returning.  Errors: -errno.
 */
int as_buffer_open(uv_loop_t *loop, const char *dir,
                   const struct as_conf_buffer *conf,
                   const struct as_buffer_hooks *hooks, struct as_buffer **out);

/*
 * Appends a copy of r.  Returns 0, or AS_ERR_FULL when the buffer is full
 * and when_full is drop_newest (r was not appended; AS_BREC_STATE records
 * are always accepted).  With when_full: block the record is accepted and
 * hooks->full(true) tells the caller to stop reading.
 */
int as_buffer_append(struct as_buffer *b, const struct as_brec *r);

/*
 * True when the backlog (bytes some output has not passed yet) is above
 * max_bytes, as opposed to the short pauses while staged records wait for
 * a flush (hooks->full reports both).
 */
bool as_buffer_over_max(struct as_buffer *b);

/* Applies a new buffer config on reload (max_bytes, fsync, when_full). */
void as_buffer_reconfigure(struct as_buffer *b,
                           const struct as_conf_buffer *conf);

/*
 * Writes and syncs everything staged, then closes; done(b, status) runs
 * once it is on disk.  as_buffer_free after done.
 */
void as_buffer_close(struct as_buffer *b, void (*done)(void *arg, int status),
                     void *arg);
void as_buffer_free(struct as_buffer *b);

void as_buffer_get_stats(const struct as_buffer *b, struct as_buffer_stats *s);

/* true while appended records are staged or being written (not readable
 * yet); the pipeline waits for false before it declares outputs drained. */
bool as_buffer_pending(const struct as_buffer *b);

/* ---- readers ---- */

/* A read position: segment id and byte offset within it. */
struct as_bpos {
    uint64_t segment;
    uint64_t offset;
};

/*
 * Records read by as_cursor_read.  recs[i] views data; each line in data is
 * followed by '\n'.  meta[i] carries the record's header (pointers into
 * internal storage valid until the next read into this batch).
 */
struct as_rbatch {
    struct as_buf data;
    struct as_batch_rec *recs;
    struct as_brec *meta;
    size_t n, cap;
    struct as_bpos end; /* position just past the last record read */
    struct as_buf raw;  /* internal: the frames meta[] points into */
};

void as_rbatch_init(struct as_rbatch *rb);
void as_rbatch_free(struct as_rbatch *rb);

/*
 * Opens the persisted cursor `name` (an output id, or "deadletter"); a
 * cursor seen for the first time starts at the oldest retained record.
 */
int as_buffer_cursor_open(struct as_buffer *b, const char *name,
                          struct as_cursor **out);
void as_cursor_close(struct as_cursor *c);

/*
 * Declares that the want() given to as_cursor_read takes no record whose
 * type is not in types, a mask of (1u << AS_BREC_EVENT) and (1u <<
 * AS_BREC_DEADLETTER); 0 (the default) means any.  The cursor then passes,
 * without reading them, the bytes written by this process that hold no
 * record of those types (the dead-letter cursor skips the events).
 */
void as_cursor_want_types(struct as_cursor *c, unsigned types);

/*
 * Reads up to max_n records / max_bytes of payload that are readable and
 * lie after the cursor's read position, keeping only records for which
 * want(arg, brec) is true (type EVENT or DEADLETTER only; STATE records are
 * never returned).  Skipped records still advance the position.  Fills rb
 * (reset first) and advances the read position.  Returns the number of
 * records read (0 = nothing new), or a negative error.
 */
int as_cursor_read(struct as_cursor *c, size_t max_n, size_t max_bytes,
                   bool (*want)(void *arg, const struct as_brec *r), void *arg,
                   struct as_rbatch *rb);

/*
 * Re-reads a batch whose end is known (a batch in flight before a restart,
 * see pipeline.c "batch journal"): like as_cursor_read without a byte
 * limit, but stops before the first record at or past `upto`, or after
 * max_n records.  The caller checks rb->end == *upto (a position that is
 * not a record boundary, or lies past the readable end, leaves it short of
 * or past upto).  Returns the number of records read, or a negative error.
 */
int as_cursor_read_upto(struct as_cursor *c, const struct as_bpos *upto,
                        size_t max_n,
                        bool (*want)(void *arg, const struct as_brec *r),
                        void *arg, struct as_rbatch *rb);

/* The committed position (where a restart reads from). */
void as_cursor_committed(const struct as_cursor *c, struct as_bpos *pos);

/*
 * Readable bytes (framed records of every type) after the cursor's read
 * position: an upper bound on what as_cursor_read would return, without
 * reading.  Lets a reader wait for a batch to fill without reading the same
 * records again and again.
 */
uint64_t as_cursor_pending_bytes(struct as_cursor *c);

/* Moves the read position back to the committed one (after a failure). */
void as_cursor_rewind(struct as_cursor *c);

/*
 * Moves the read position to `pos`, a position returned in as_rbatch.end
 * by an earlier read (never before the committed position).  A reader with
 * several batches in flight uses it to give back a batch it read too early
 * without re-reading the ones in flight.
 */
void as_cursor_seek(struct as_cursor *c, const struct as_bpos *pos);

/*
 * Persists the cursor at `upto` (everything before it is acknowledged) and
 * deletes segments every open cursor has passed.  Errors: -errno.
 */
int as_cursor_commit(struct as_cursor *c, const struct as_bpos *upto);

/* ---- offline (auditshipctl, --check) ---- */

/* Prints segments, sizes, records, cursors and damage found in dir. */
int as_buffer_stat(const char *dir, FILE *out);
/* Checks integrity; prints one line per problem to out; 0 = intact. */
int as_buffer_check(const char *dir, FILE *out);
/* Calls cb for every readable record in order (dump). */
int as_buffer_scan(const char *dir,
                   int (*cb)(void *arg, const struct as_brec *r,
                             const struct as_bpos *at),
                   void *arg);

#endif
