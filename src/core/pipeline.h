/*
 * The pipeline: the agent's data path, from inputs through decode, validate,
 * enrich, scrub and chain into the disk buffer, and from the buffer through
 * one runner per output (cursor -> batch -> send -> ack).
 *
 * It owns the buffer, the chain set, the input and output instances, and the
 * table of source positions (last offset per input and file), which is
 * snapshotted at the head of every buffer segment and recovered from it.
 * A reload stops inputs and outputs, swaps the config and starts them again;
 * the buffer, chains and positions survive it.
 */
#ifndef AS_PIPELINE_H
#define AS_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "conf.h"
#include "error.h"

struct as_pipeline;

/* Counters for one input or output (metrics, tests, shutdown log). */
struct as_stage_counters {
    uint64_t received;     /* inputs: events decoded */
    uint64_t bytes;        /* inputs: bytes received; outputs: bytes sent */
    uint64_t invalid;      /* inputs: failed decode or validation */
    uint64_t deadlettered; /* routed to the dead-letter file */
    uint64_t dropped;      /* discarded (on_invalid: drop, buffer full) */
    uint64_t redacted;     /* secrets removed */
    uint64_t shipped;      /* outputs: events acknowledged */
    uint64_t batches;      /* outputs: batches acknowledged */
    uint64_t retries;      /* outputs: failed attempts retried */
    uint64_t rejected;     /* outputs: events rejected for good */
};

/*
 * Builds the pipeline for conf: opens and recovers the buffer in
 * conf->agent.state_dir, restores chain heads and positions, and inits (but
 * does not start) every input and output.  conf is borrowed and must outlive
 * the pipeline (or be replaced through as_pipeline_reload).
 */
int as_pipeline_new(uv_loop_t *loop, const struct as_config *conf,
                    struct as_pipeline **out, struct as_error *err);
/* Starts outputs, then inputs. */
int as_pipeline_start(struct as_pipeline *p);
/*
 * Swaps in a new config (already validated).  Inputs and outputs are stopped
 * and rebuilt; done(arg, status) runs when the new ones are started (status
 * < 0: the new config failed to start and the old one was restored).  The
 * old config must stay valid until done runs; the caller frees it then.
 */
void as_pipeline_reload(struct as_pipeline *p, const struct as_config *conf,
                        void (*done)(void *arg, int status), void *arg);
/*
 * Graceful stop: inputs stop reading, final checkpoints are sealed, outputs
 * get until conf->agent.shutdown_timeout to ship what is buffered, then
 * everything is closed and the buffer synced.  done runs once at the end.
 */
void as_pipeline_stop(struct as_pipeline *p,
                      void (*done)(void *arg, int status), void *arg);
void as_pipeline_free(struct as_pipeline *p);

/* Emits a checkpoint for every chain now (also called by its timer). */
void as_pipeline_checkpoint(struct as_pipeline *p);

/* Counters by stage id; false when there is no such stage. */
bool as_pipeline_input_counters(struct as_pipeline *p, const char *id,
                                struct as_stage_counters *out);
bool as_pipeline_output_counters(struct as_pipeline *p, const char *id,
                                 struct as_stage_counters *out);

/*
 * --check: inits every input and output of conf without I/O and checks the
 * buffer in its state_dir (when present), the chain signing key and that
 * state_dir is usable.  Problems are appended to errs.  Returns 0 when all is
 * well.
 */
int as_pipeline_check(const struct as_config *conf,
                      struct as_conf_errors *errs);

#endif
