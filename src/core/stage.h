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
    const char *chain;
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
};

struct as_output_ops {
    size_t ctx_size;
    int (*init)(struct as_output *o, const struct as_conf_stage *cs,
                struct as_conf_errors *errs);
    int (*start)(struct as_output *o);
    /*
     * Borrows b until done runs; calls done exactly once, never from inside
     * send, with 0, AS_ERR_RETRY or AS_ERR_REJECT.
     */
    void (*send)(struct as_output *o, const struct as_batch *b,
                 as_done_cb *done);
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
