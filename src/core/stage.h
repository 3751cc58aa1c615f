/*
 * The stage interface: one small ops struct per kind (input, output), and
 * the registry entry that ties a YAML `type:` to its key table and ops.
 *
 * Lifecycle (owned by the core): init everything, then start outputs, the
 * buffer and processors, then inputs.  stop runs in reverse and is
 * asynchronous; destroy runs only after every done callback.  --check runs
 * only init.
 */
#ifndef AS_STAGE_H
#define AS_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf.h"
#include "record.h"

typedef void as_done_cb(void *stage, int status);

struct as_input;
struct as_output;
struct as_batch;

enum as_stage_kind { AS_STAGE_INPUT, AS_STAGE_OUTPUT };

/* A registry entry: what a YAML `type:` means. */
struct as_stage_type {
    enum as_stage_kind kind;
    const char *type;               /* YAML `type:` */
    const struct as_conf_key *keys; /* type-specific keys (not id/type) */
    size_t conf_size;
    const void *ops; /* struct as_input_ops / as_output_ops; NULL = not
                        implemented yet (rejected by --check) */
};

/* ---- inputs ---- */

/* Flags for as_input.emit. */
enum {
    AS_EMIT_TRUNCATED = 1 << 0, /* line exceeded max_line_bytes; bytes hold
                                   its first max_line_bytes, total in
                                   srcinfo-independent `len` arg is the
                                   kept length */
};

/* A position recovered from the buffer for one source of an input. */
struct as_srcstate {
    const char *source; /* path as last seen */
    struct as_srcpos pos;
};

struct as_input {
    const struct as_input_ops *ops;
    const char *id;   /* borrowed from conf */
    const void *conf; /* type-specific conf (e.g. as_conf_input_file) */
    void *ctx;        /* the plugin's; ctx_size bytes, calloc'ed by core */
    uv_loop_t *loop;
    char prefix[128]; /* log prefix "input:file:ID" */

    /*
     * Set by the core before start.  emit hands over one event's bytes
     * (copied by the core before it returns); src->pos.offset must point
     * just past the event's bytes including its newline.  forget tells the
     * core that a source is gone for good (its position is dropped from
     * future buffer snapshots).
     */
    void (*emit)(struct as_input *in, const char *bytes, size_t len,
                 const struct as_srcinfo *src, unsigned flags);
    void (*forget)(struct as_input *in, const char *source,
                   const struct as_srcpos *pos);
    /* Positions recovered from the buffer; valid until start returns. */
    const struct as_srcstate *recovered;
    size_t n_recovered;
    void *core; /* the core's private pointer */
};

struct as_input_ops {
    size_t ctx_size;
    /* Cross-key checks, no I/O; errors go to errs with the stage's line. */
    int (*init)(struct as_input *in, const struct as_conf_stage *cs,
                struct as_conf_errors *errs);
    int (*start)(struct as_input *in);  /* open fds, arm uv handles */
    void (*pause)(struct as_input *in); /* buffer full: stop reading */
    void (*resume)(struct as_input *in);
    void (*stop)(struct as_input *in, as_done_cb *done); /* async */
    void (*destroy)(struct as_input *in);
};

/* ---- outputs ---- */

/* One record in a batch: a view into as_batch.data. */
struct as_batch_rec {
    size_t off, len; /* the line, without newline */
    const char *input;
    const char *chain; /* "" = not chained */
    const char *epoch; /* the chain's epoch (32 hex), "" when not chained */
    uint64_t seq;
};

/*
 * A batch of sealed lines read from the buffer.  data holds the lines, each
 * followed by '\n' (so NDJSON outputs can write it in one go).
 */
struct as_batch {
    const char *data;
    size_t len;
    const struct as_batch_rec *recs;
    size_t n;
    /* Opaque buffer position just past the batch, for outputs that persist
     * their own acknowledgement (see as_output_ops.acked). */
    uint64_t end_seg, end_off;
};

/*
 * The end of one send: b is the batch that was passed to send (the core
 * tells concurrent sends apart by it).  Runs on the loop thread.
 */
typedef void as_send_cb(struct as_output *o, const struct as_batch *b,
                        int status);

/* Sizes of as_output.reason and as_output.detail. */
#define AS_OUTPUT_REASON_MAX 160
#define AS_OUTPUT_DETAIL_MAX 256

struct as_output {
    const struct as_output_ops *ops;
    const char *id;
    const void *conf;
    void *ctx;
    uv_loop_t *loop;
    char prefix[128]; /* "output:file:ID" */
    const char *state_dir;
    int fsync; /* buffer.fsync: AS_FSYNC_*, for outputs that write files */
    void *core;
    /*
     * The details of a send's result, set by the output just before it
     * calls that send's done (the core reads them in done and clears them,
     * so concurrent sends cannot mix them up):
     * - retry_after_ms: with AS_ERR_RETRY, how long the destination asked
     *   to be left alone (HTTP Retry-After); 0 = no hint.  The core then
     *   waits that long (at most AS_RETRY_AFTER_MAX_MS) instead of its own
     *   backoff.
     * - reason: one short printable line naming the failure ("HTTP 503",
     *   "TLS: ..."), "" = none.  It is logged and goes into dead-letter
     *   records: never credentials nor record contents.
     * - detail: with AS_ERR_REJECT / AS_ERR_TOOBIG, more about it (the
     *   start of the response body, printable ASCII), "" = none.  It may
     *   echo record contents, so it goes only into dead-letter records,
     *   never into the agent's log.
     */
    uint64_t retry_after_ms;
    char reason[AS_OUTPUT_REASON_MAX];
    char detail[AS_OUTPUT_DETAIL_MAX];
};

/* Longest Retry-After honoured; a longer one is cut to this. */
#define AS_RETRY_AFTER_MAX_MS (60ULL * 60 * 1000)

struct as_output_ops {
    size_t ctx_size;
    int (*init)(struct as_output *o, const struct as_conf_stage *cs,
                struct as_conf_errors *errs);
    int (*start)(struct as_output *o);
    /*
     * Borrows b until done runs; calls done exactly once, never from inside
     * send, with:
     * - 0: acknowledged;
     * - AS_ERR_RETRY: transient failure (network, 408, 429, 5xx); the core
     *   sends the same batch again after a backoff (retry_after_ms);
     * - AS_ERR_REJECT: refused for good; the core dead-letters every
     *   record of b with `reason`;
     * - AS_ERR_TOOBIG: the destination refused b as too large (HTTP 413);
     *   the core splits b in halves and sends each (each as a batch of its
     *   own), down to one record, which it dead-letters.
     * The core has at most the output's concurrency batches in flight
     * (1 unless the output's conf says otherwise) and commits its cursor
     * only up to the oldest batch not yet acknowledged.
     */
    void (*send)(struct as_output *o, const struct as_batch *b,
                 as_send_cb *done);
    /*
     * Finishes or aborts every send in flight (each one's done runs first,
     * AS_ERR_RETRY when aborted), releases its handles, then calls done.
     */
    void (*stop)(struct as_output *o, as_done_cb *done);
    void (*destroy)(struct as_output *o);
    /*
     * Optional.  Called once after start: an output that records durably
     * what it wrote (the local file output) reports the end position of the
     * last batch it completed, so that a crash between its write and the
     * cursor commit neither loses nor duplicates.  Returns 0 and fills
     * seg/off, or AS_ERR_NOTIMPL when it knows nothing.
     */
    int (*acked)(struct as_output *o, uint64_t *seg, uint64_t *off);
};

/* Registry (registry.c): one line per plugin. */
const struct as_stage_type *as_registry_find(enum as_stage_kind kind,
                                             const char *type);
extern const struct as_stage_type *const as_registry[];

/* Parser table: a parser is pure (bytes -> json object), fuzzable. */
typedef int as_parse_fn(const char *buf, size_t len, struct json_object **out,
                        struct as_error *err);

#endif
