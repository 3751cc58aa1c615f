/*
 * The pipeline: inputs -> decode -> validate -> enrich -> scrub -> chain ->
 * disk buffer -> one runner per output -> ack.
 *
 * Owns: the buffer, the chain set, the scrubber, every input and output
 * instance (struct pipe_input / pipe_output), the internal dead-letter sink
 * (a file output on state_dir/deadletter.ndjson reading only dead-letter
 * records), the position table (last offset per input and source), and the
 * processing jobs with their worker threads (see "the emit path").
 *
 * Invariants:
 * - Every byte an input emits ends in the buffer as an event, a dead-letter
 *   record, or (when dropped by policy) a position-only state record, so
 *   that tail offsets recovered from the buffer never skip or repeat.
 * - A runner has at most its output's `concurrency` batches in flight; its
 *   cursor is committed only up to the oldest batch not yet acknowledged
 *   (or dead-lettered).
 * - Handles live inside their owners, which are freed only after the last
 *   close callback (counted in `closing`).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "buffer/buffer.h"
#include "core/batchlog.h"
#include "core/fsutil.h"
#include "core/jcs.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pipeline.h"
#include "core/stage.h"
#include "core/workq.h"
#include "parsers/auditd.h"
#include "parsers/json.h"
#include "parsers/syslog.h"
#include "processors/chain.h"
#include "processors/scrub.h"
#include "processors/validate.h"

extern const struct as_output_ops as_output_file_ops;

struct pipe_pos {
    char *input;
    char *source;
    struct as_srcpos pos;
    struct pipe_pos *next;
};

struct pipe_input {
    struct as_input in;
    const struct as_conf_stage *cs;
    struct as_pipeline *p;
    int format;
    struct as_stage_counters c;
    struct pipe_pos *last; /* position cache: the source emitted last */
    struct as_srcstate *recovered;
    struct as_ratelimit rl_drop;
    struct pipe_auditd *auditd; /* format auditd: one reassembler per file */
    bool started;
    bool stopped;
};

/* An auditd reassembler and where the last line fed to it ended. */
struct pipe_auditd {
    struct pipe_auditd *next;
    char *source;
    struct as_auditd *a;
    bool has_pos;
    struct as_srcpos pos;
};

/* Most batches one output may have in flight (its `concurrency`). */
#define PIPE_MAX_CONCURRENCY 64

enum pipe_slot_state {
    PIPE_SLOT_FREE,
    PIPE_SLOT_JOURNAL, /* read; sent once the journal holds it */
    PIPE_SLOT_SENDING, /* the output has batch */
    PIPE_SLOT_WAITING, /* retry backoff (or stopping with ranges left) */
    PIPE_SLOT_DONE,    /* every record acknowledged or dead-lettered */
};

/* One batch of a runner (see "output runners"). */
struct pipe_slot {
    struct pipe_output *po;
    struct as_rbatch rb;      /* the records, owned until committed */
    struct as_batch batch;    /* what the output borrows: range [lo, hi) */
    struct as_batch_rec *sub; /* a split range's records, rebased */
    size_t sub_cap;
    size_t lo, hi;
    size_t *todo; /* ranges left after splits: (lo, hi) pairs, a stack */
    size_t n_todo, cap_todo;
    enum pipe_slot_state state;
    unsigned attempt; /* failed sends of the current range */
    uint64_t jgen;    /* journal generation that records this batch */
    uv_timer_t timer; /* retry backoff */
};

struct pipe_output {
    struct as_output out;
    const struct as_conf_stage *cs;
    struct as_pipeline *p;
    bool deadletter; /* the internal dead-letter sink */
    struct as_conf_output_file dl_conf;
    struct as_cursor *cur;
    struct pipe_slot *slots; /* a ring of n_slots in read order */
    size_t n_slots, head, used;
    uv_timer_t timer; /* batch fill timeout, hold_until, read errors */
    bool timer_init;  /* timer and every slot timer */
    bool started;
    bool stopping;
    bool stopped;
    bool idle; /* the last read found nothing */
    uint64_t max_n, max_bytes, timeout_ms, retry_initial_ms, retry_max_ms;
    uint64_t wait_since;
    uint64_t hold_until; /* no new batch before (as_mono_ms) */
    uint64_t skip_seg;   /* segment of the last commit of skipped records */
    struct as_stage_counters c;
    struct as_ratelimit rl, rl_split, rl_journal;
    /* The batch journal (see "batch journal"); jpath NULL = none. */
    char *jpath;
    struct as_batchlog_entry replay[AS_BATCHLOG_MAX]; /* to form again */
    size_t n_replay, i_replay;
    uint64_t j_want, j_done; /* generations asked for, and written */
    bool j_busy;             /* a write on the thread pool (fsync always) */
    bool j_file;             /* the file may exist */
    uint64_t j_gen;          /* generation being written by the pool */
    int j_status;
    struct as_buf j_data;
    uv_work_t j_work;
};

/* A set of stages built from one config. */
struct pipe_stages {
    struct pipe_input **inputs;
    size_t n_inputs;
    struct pipe_output **outputs; /* the dead-letter sink is the last */
    size_t n_outputs;
};

struct as_pipeline {
    uv_loop_t *loop;
    const struct as_config *conf;
    struct as_buffer *buffer;
    struct as_chainset *chains;
    struct as_scrub *scrub;
    struct pipe_stages st;
    struct pipe_pos *positions;
    bool full;
    bool full_logged; /* "buffer full (max_bytes)" was logged */
    bool draining;
    bool stopping;
    uv_timer_t checkpoint_timer;
    uv_timer_t drain_timer;
    uint64_t drain_deadline;
    int closing; /* pending close callbacks and stop completions */
    void (*done)(void *arg, int status);
    void *done_arg;
    int phase; /* enum pipe_phase */
    bool timers_init;
    uv_check_t check; /* dispatches the open job once per loop iteration */
    uv_timer_t auditd_timer; /* completes auditd events that waited */
    struct as_workq *wq;
    /* Jobs (see "the emit path"). */
    struct pipe_job *open;                  /* lines being collected */
    struct pipe_job *jobs_head, *jobs_tail; /* in flight, in order */
    size_t jobs_inflight;
    struct pipe_job *jobs_free; /* cache, with their scrubber clones */
    size_t n_jobs_free;
    bool inputs_paused;
    struct as_record rec; /* the line being committed */
    bool reloading;
    /* reload */
    const struct as_config *next_conf;
    struct as_scrub *next_scrub;
    struct pipe_stages next;
    char *dl_path;
};

enum pipe_phase {
    PIPE_RUNNING,
    PIPE_STOP_INPUTS,
    PIPE_DRAIN,
    PIPE_WAIT_SENDS,
    PIPE_STOP_OUTPUTS,
    PIPE_CLOSE_HANDLES,
    PIPE_CLOSE_BUFFER,
    PIPE_DONE,
};

static void pipe_kick(struct pipe_output *po);
static void pipe_send_done(struct as_output *o, const struct as_batch *b,
                           int status);
static void pipe_stop_step(struct as_pipeline *p);
static void pipe_update_pause(struct as_pipeline *p);

/* ---- positions ---- */

static struct pipe_pos *
pipe_pos_find(struct as_pipeline *p, const char *input, const char *source)
{
    for (struct pipe_pos *e = p->positions; e != NULL; e = e->next) {
        if (strcmp(e->input, input) == 0 && strcmp(e->source, source) == 0) {
            return e;
        }
    }
    return NULL;
}

static struct pipe_pos *
pipe_pos_set(struct as_pipeline *p, const char *input, const char *source,
             const struct as_srcpos *pos)
{
    struct pipe_pos *e = pipe_pos_find(p, input, source);

    if (e == NULL) {
        e = as_calloc(1, sizeof(*e));
        e->input = as_strdup(input);
        e->source = as_strdup(source);
        e->next = p->positions;
        p->positions = e;
    }
    e->pos = *pos;
    return e;
}

/* Drops the position of (input, source) if it still names the same file. */
static void
pipe_pos_remove(struct as_pipeline *p, const char *input, const char *source,
                const struct as_srcpos *pos)
{
    for (struct pipe_pos **ep = &p->positions; *ep != NULL; ep = &(*ep)->next) {
        struct pipe_pos *e = *ep;

        if (strcmp(e->input, input) == 0 && strcmp(e->source, source) == 0) {
            if (pos != NULL &&
                (e->pos.dev != pos->dev || e->pos.ino != pos->ino)) {
                return; /* the name now belongs to another file */
            }
            *ep = e->next;
            free(e->input);
            free(e->source);
            free(e);
            return;
        }
    }
}

/* ---- buffer hooks ---- */

static void
pipe_recover_cb(void *arg, const struct as_brec *r)
{
    struct as_pipeline *p = arg;

    if (r->has_pos && r->input != NULL && r->input[0] != '\0' &&
        r->source != NULL && r->source[0] != '\0') {
        pipe_pos_set(p, r->input, r->source, &r->pos);
    }
    if (r->chain != NULL && r->chain[0] != '\0' && r->epoch != NULL &&
        r->hash != NULL) {
        as_chainset_restore(p->chains, r->chain, r->epoch, r->seq, r->hash);
    }
}

struct pipe_snap {
    struct as_buffer *b;
};

static void
pipe_snapshot_chain_cb(void *arg, const char *chain, const char *epoch,
                       uint64_t seq, const char *hash)
{
    struct pipe_snap *s = arg;
    struct as_brec r;

    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_STATE;
    r.input = "";
    r.source = "";
    r.chain = chain;
    r.epoch = epoch;
    r.seq = seq;
    r.hash = hash;
    as_buffer_append(s->b, &r);
}

static void
pipe_snapshot_cb(void *arg, struct as_buffer *b)
{
    struct as_pipeline *p = arg;
    struct pipe_snap s = {b};
    struct as_brec r;

    for (struct pipe_pos *e = p->positions; e != NULL; e = e->next) {
        memset(&r, 0, sizeof(r));
        r.type = AS_BREC_STATE;
        r.input = e->input;
        r.source = e->source;
        r.has_pos = true;
        r.pos = e->pos;
        r.chain = "";
        r.epoch = "";
        r.hash = "";
        as_buffer_append(b, &r);
    }
    as_chainset_foreach(p->chains, pipe_snapshot_chain_cb, &s);
}

static void
pipe_readable_cb(void *arg)
{
    struct as_pipeline *p = arg;

    for (size_t i = 0; i < p->st.n_outputs; i++) {
        pipe_kick(p->st.outputs[i]);
    }
}

static void
pipe_full_cb(void *arg, bool full)
{
    struct as_pipeline *p = arg;

    if (p->full == full) {
        return;
    }
    p->full = full;
    if (full && as_buffer_over_max(p->buffer)) {
        p->full_logged = true;
        as_log(AS_LOG_WARN, "buffer", "buffer full (max_bytes): %s",
               p->conf->buffer.when_full == AS_WHEN_FULL_BLOCK
                   ? "inputs paused"
                   : "dropping newest events");
    } else if (!full && p->full_logged) {
        p->full_logged = false;
        as_log(AS_LOG_INFO, "buffer", "buffer has room again");
    } else {
        /* Staged records wait for a flush: a short, normal pause. */
        as_log(AS_LOG_DEBUG, "buffer", "%s",
               full ? "staging full: inputs wait for a flush"
                    : "flushed: inputs resumed");
    }
    pipe_update_pause(p);
}

/* ---- the emit path ----
 *
 * Inputs emit on the loop thread; their lines are copied into a job (one
 * input, up to PIPE_JOB_LINES lines or PIPE_JOB_BYTES bytes, closed early at
 * the end of each loop iteration).  Jobs run on the pipeline's own worker
 * threads (as_workq: one per CPU, so that they never queue behind the
 * buffer's and the outputs' disk I/O on the libuv pool), several at a time:
 * decode, validate, enrich, scrub, and the canonical form of the
 * record without its `auditship` member (as_chain_prepare) need no shared
 * state.  Jobs are committed on the loop thread in the order they were made:
 * each line is linked into its chain (as_chain_finish), appended to the
 * buffer and its position noted, so the buffer holds lines in input order
 * and chains, counters and positions are touched by one thread only.
 * Inputs are paused while PIPE_JOBS_MAX jobs are in flight.
 */

#define PIPE_JOB_LINES 128
#define PIPE_JOB_BYTES (64 * 1024)
#define PIPE_JOBS_MAX  8

enum pipe_line_kind {
    PIPE_LINE_EVENT,
    PIPE_LINE_FORGET, /* as_input.forget, kept in order with the lines */
};

enum pipe_line_status {
    PIPE_LINE_OK,
    PIPE_LINE_DROP, /* invalid, on_invalid: drop */
    PIPE_LINE_FAIL, /* cannot be written even as an invalid record */
};

struct pipe_line {
    int kind;   /* enum pipe_line_kind */
    size_t off; /* bytes in job->in */
    size_t len;
    unsigned flags; /* AS_EMIT_* */
    uint32_t src;   /* index in job->srcs */
    bool has_pos;
    struct as_srcpos pos;
    int64_t received_ns;
    struct json_object *obj; /* decoded already (auditd); the worker's */
    size_t why_len;          /* > 0: bytes are an undecodable record, and
                                the reason follows them in job->in */
    /* Results, written by the worker. */
    int status;            /* enum pipe_line_status */
    bool invalid, recanon; /* failed decode/validation; canonical form */
    unsigned rflags;       /* AS_REC_* */
    unsigned redacted;
    size_t out_off, out_len; /* record without `auditship`, in job->out */
    size_t gap;
    int gap_sep;
    size_t err_off, err_len; /* why it is invalid, in job->out */
};

struct pipe_src {
    char *source; /* NULL when the input gave none */
    struct as_peer peer;
};

struct pipe_job {
    struct as_work w; /* first: the job is its work item */
    struct as_pipeline *p;
    struct pipe_input *pi;
    struct pipe_job *next;
    struct as_scrub *scrub; /* a clone of p->scrub, for this job only */
    struct as_buf in, out;
    struct pipe_line *lines;
    size_t n, cap;
    struct pipe_src *srcs;
    size_t n_srcs, cap_srcs;
    bool done;
};

static void pipe_job_dispatch(struct as_pipeline *p);
static void pipe_job_done(struct as_work *w);

static int
pipe_parse_raw(const char *buf, size_t len, struct json_object **out,
               struct as_error *err)
{
    (void) err;
    *out = json_object_new_object();
    json_object_object_add(*out, "message",
                           json_object_new_string_len(buf, (int) len));
    return 0;
}

/* Appends a record that only moves the source position forward. */
static void
pipe_append_position(struct pipe_input *pi, const struct as_srcinfo *src)
{
    struct as_brec b;

    if (!src->has_pos || src->source == NULL) {
        return;
    }
    memset(&b, 0, sizeof(b));
    b.type = AS_BREC_STATE;
    b.input = pi->in.id;
    b.source = src->source;
    b.has_pos = true;
    b.pos = src->pos;
    b.chain = "";
    b.epoch = "";
    b.hash = "";
    as_buffer_append(pi->p->buffer, &b);
}

static void
pipe_note_position(struct pipe_input *pi, const struct as_srcinfo *src)
{
    if (!src->has_pos || src->source == NULL) {
        return;
    }
    if (pi->last != NULL && strcmp(pi->last->source, src->source) == 0) {
        pi->last->pos = src->pos;
        return;
    }
    pi->last = pipe_pos_set(pi->p, pi->in.id, src->source, &src->pos);
}

static int
pipe_append_record(struct as_pipeline *p, struct as_record *r)
{
    struct as_brec b;

    memset(&b, 0, sizeof(b));
    b.type =
        (r->flags & AS_REC_DEADLETTER) ? AS_BREC_DEADLETTER : AS_BREC_EVENT;
    b.input = r->input;
    b.source = r->source != NULL ? r->source : "";
    b.has_pos = r->has_pos;
    b.pos = r->pos;
    b.chain = r->chain;
    b.epoch = r->epoch;
    b.seq = r->seq;
    b.hash = r->hash;
    b.received_ns = r->received_ns;
    b.payload = r->line.data;
    b.payload_len = r->line.len;
    return as_buffer_append(p->buffer, &b);
}

/*
 * Decodes and validates one event's bytes into r.  Returns 0 for a valid
 * event, 1 for an invalid one (r holds raw + error).  Runs on workers.
 */
static int
pipe_decode(struct pipe_input *pi, struct as_record *r, const char *bytes,
            size_t len, unsigned flags, struct pipe_line *l)
{
    const struct as_config *conf = pi->p->conf;
    struct as_error e;
    char why[320];
    int rc;

    if (flags & AS_EMIT_TRUNCATED) {
        snprintf(why, sizeof(why), "line exceeds max_line_bytes (kept %zu)",
                 len);
        as_record_set_invalid(r, bytes, len, why);
        r->flags |= AS_REC_TRUNCATED;
        return 1;
    }
    as_error_clear(&e);
    if (l->why_len > 0) {
        snprintf(why, sizeof(why), "invalid auditd record: %.*s",
                 (int) l->why_len, bytes + len);
        as_record_set_invalid(r, bytes, len, why);
        return 1;
    }
    if (l->obj != NULL) {
        r->obj = l->obj;
        l->obj = NULL;
        goto decoded;
    }
    switch (pi->format) {
    case AS_FORMAT_RAW:
        rc = pipe_parse_raw(bytes, len, &r->obj, &e);
        break;
    case AS_FORMAT_SYSLOG:
        rc = as_parse_syslog(bytes, len, &r->obj, &e);
        break;
    default:
        rc = as_parse_json(bytes, len, &r->obj, &e);
        break;
    }
    if (rc != 0) {
        snprintf(why, sizeof(why), "invalid %s: %s",
                 pi->format == AS_FORMAT_SYSLOG ? "syslog message" : "JSON",
                 e.msg);
        as_record_set_invalid(r, bytes, len, why);
        return 1;
    }
decoded:
    if (!json_object_is_type(r->obj, json_type_object)) {
        as_record_set_invalid(r, bytes, len, "event is not a JSON object");
        return 1;
    }
    if (conf->validate.schema == AS_SCHEMA_AUDIT) {
        if (as_validate_audit(r->obj, why, sizeof(why)) != 0) {
            as_record_set_invalid(r, bytes, len, why);
            return 1;
        }
        as_enrich(r);
    }
    return 0;
}

/* Clears what a record holds between two lines; keeps line's memory. */
static void
pipe_rec_clear(struct as_record *r)
{
    json_object_put(r->obj);
    r->obj = NULL;
    free(r->error);
    r->error = NULL;
    r->flags = 0;
    r->redacted = 0;
    as_buf_reset(&r->line);
}

/* The worker half of one line: everything but the chain link. */
static void
pipe_work_line(struct pipe_job *job, struct as_record *r, struct pipe_line *l)
{
    const struct as_config *conf = job->p->conf;
    const char *bytes = job->in.data + l->off;

    pipe_rec_clear(r);
    r->received_ns = l->received_ns;
    if (pipe_decode(job->pi, r, bytes, l->len, l->flags, l) != 0) {
        l->invalid = true;
        if ((l->flags & AS_EMIT_TRUNCATED) ||
            conf->validate.on_invalid == AS_ON_INVALID_DEADLETTER) {
            r->flags |= AS_REC_DEADLETTER;
        } else if (conf->validate.on_invalid == AS_ON_INVALID_DROP) {
            l->status = PIPE_LINE_DROP;
            goto error_text;
        }
    }
    as_scrub_record(job->scrub, r);
    if (as_chain_prepare(r) != 0) {
        /* A value canonical JSON cannot express: keep the raw bytes. */
        l->recanon = true;
        as_record_set_invalid(r, bytes, l->len,
                              "value cannot be canonicalized");
        r->flags |= AS_REC_DEADLETTER;
        r->redacted = 0;
        as_scrub_record(job->scrub, r);
        if (as_chain_prepare(r) != 0) {
            l->status = PIPE_LINE_FAIL;
            return;
        }
    }
    l->rflags = r->flags;
    l->redacted = r->redacted;
    l->gap = r->gap;
    l->gap_sep = r->gap_sep;
    l->out_off = job->out.len;
    l->out_len = r->line.len;
    as_buf_put(&job->out, r->line.data, r->line.len);
    return;

error_text:
    if (r->error != NULL) {
        l->err_off = job->out.len;
        l->err_len = strlen(r->error);
        as_buf_put(&job->out, r->error, l->err_len);
    }
}

static void
pipe_job_work(struct as_work *w)
{
    struct pipe_job *job = (struct pipe_job *) w;
    struct as_record r;

    memset(&r, 0, sizeof(r));
    r.input = job->pi->in.id;
    as_buf_init(&r.line, 0);
    as_buf_reset(&job->out);
    for (size_t i = 0; i < job->n; i++) {
        if (job->lines[i].kind == PIPE_LINE_EVENT) {
            pipe_work_line(job, &r, &job->lines[i]);
        }
    }
    pipe_rec_clear(&r);
    free(r.line.data);
}

/* The loop-thread half of one line: link, buffer, position, counters. */
static void
pipe_commit_line(struct pipe_job *job, const struct pipe_line *l)
{
    struct pipe_input *pi = job->pi;
    struct as_pipeline *p = pi->p;
    const struct pipe_src *s = &job->srcs[l->src];
    struct as_record *r = &p->rec;
    struct as_srcinfo src;

    src.source = s->source;
    src.has_pos = l->has_pos;
    src.pos = l->pos;
    src.peer = s->peer.valid ? &s->peer : NULL;
    if (l->kind == PIPE_LINE_FORGET) {
        pi->last = NULL;
        pipe_pos_remove(p, pi->in.id, s->source, l->has_pos ? &l->pos : NULL);
        return;
    }
    if (pi->format != AS_FORMAT_AUDITD) {
        pi->c.bytes += l->len; /* auditd lines are counted as fed */
    }
    pi->c.invalid += (uint64_t) l->invalid + (uint64_t) l->recanon;
    if (l->status == PIPE_LINE_DROP) {
        pi->c.dropped++;
        if (as_ratelimit_ok(&pi->rl_drop, 10000)) {
            as_slog_warn(pi->in.prefix,
                         "dropping invalid event (on_invalid: drop): %.*s "
                         "(%llu dropped so far)",
                         l->err_len > 0 ? (int) l->err_len : 7,
                         l->err_len > 0 ? job->out.data + l->err_off
                                        : "invalid",
                         (unsigned long long) pi->c.dropped);
        }
        goto position_only;
    }
    pi->c.received++;
    if (l->status == PIPE_LINE_FAIL) {
        pi->c.dropped++;
        goto position_only;
    }
    pi->c.redacted += l->redacted;
    /* With when_full: drop_newest, the append below refuses the record
     * (AS_ERR_FULL) when the backlog is over max_bytes. */
    /* p->rec borrows source and peer for this line only. */
    r->input = pi->in.id;
    r->source = s->source;
    r->has_pos = l->has_pos;
    r->pos = l->pos;
    r->peer = s->peer;
    r->received_ns = l->received_ns;
    r->flags = l->rflags;
    r->redacted = l->redacted;
    as_buf_reset(&r->line);
    as_buf_put(&r->line, job->out.data + l->out_off, l->out_len);
    r->gap = l->gap;
    r->gap_sep = l->gap_sep;
    if (as_chain_finish(p->chains, r, !(r->flags & AS_REC_DEADLETTER)) != 0) {
        as_record_set_invalid(r, job->in.data + l->off, l->len,
                              "value cannot be canonicalized");
        r->flags |= AS_REC_DEADLETTER;
        r->redacted = 0;
        as_scrub_record(p->scrub, r);
        pi->c.invalid++;
        if (as_chain_seal(p->chains, r, false) != 0) {
            pi->c.dropped++;
            goto position_only_clear;
        }
    }
    if (r->flags & AS_REC_DEADLETTER) {
        pi->c.deadlettered++;
    }
    if (pipe_append_record(p, r) == AS_ERR_FULL) {
        pi->c.dropped++;
        goto position_only_clear;
    }
    pipe_note_position(pi, &src);
    pipe_rec_clear(r);
    r->source = NULL;
    memset(&r->peer, 0, sizeof(r->peer));
    return;

position_only_clear:
    pipe_rec_clear(r);
    r->source = NULL;
    memset(&r->peer, 0, sizeof(r->peer));
position_only:
    pipe_append_position(pi, &src);
    pipe_note_position(pi, &src);
}

/* Pauses inputs while the buffer is full (when_full: block) or while too
 * many jobs are in flight; resumes them when neither holds. */
static void
pipe_update_pause(struct as_pipeline *p)
{
    /* p->full: over max_bytes with when_full: block, or staged records
     * waiting for a flush (both modes). */
    bool want = p->full || p->jobs_inflight >= PIPE_JOBS_MAX;

    if (!want && p->inputs_paused && p->jobs_inflight > PIPE_JOBS_MAX / 2) {
        want = true; /* hysteresis: resume once half the jobs are done */
    }
    if (want == p->inputs_paused) {
        return;
    }
    p->inputs_paused = want;
    for (size_t i = 0; i < p->st.n_inputs; i++) {
        struct pipe_input *pi = p->st.inputs[i];

        if (!pi->started || pi->stopped) {
            continue;
        }
        if (want && pi->in.ops->pause != NULL) {
            pi->in.ops->pause(&pi->in);
        } else if (!want && pi->in.ops->resume != NULL) {
            pi->in.ops->resume(&pi->in);
        }
    }
}

static void
pipe_job_reset(struct pipe_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        json_object_put(job->lines[i].obj);
    }
    for (size_t i = 0; i < job->n_srcs; i++) {
        free(job->srcs[i].source);
        free(job->srcs[i].peer.exe);
        free(job->srcs[i].peer.unit);
    }
    job->n_srcs = 0;
    job->n = 0;
    job->done = false;
    job->next = NULL;
    job->pi = NULL;
    as_buf_reset(&job->in);
    as_buf_reset(&job->out);
}

static void
pipe_job_free(struct pipe_job *job)
{
    if (job == NULL) {
        return;
    }
    pipe_job_reset(job);
    as_scrub_free(job->scrub);
    free(job->lines);
    free(job->srcs);
    as_buf_free(&job->in); /* cleansed: it held unscrubbed bytes */
    as_buf_free(&job->out);
    free(job);
}

/* A job from the free list, or a new one, for input pi. */
static struct pipe_job *
pipe_job_get(struct as_pipeline *p, struct pipe_input *pi)
{
    struct pipe_job *job = p->jobs_free;

    if (job != NULL) {
        p->jobs_free = job->next;
        p->n_jobs_free--;
    } else {
        job = as_calloc(1, sizeof(*job));
        job->p = p;
        job->w.work = pipe_job_work;
        job->w.done = pipe_job_done;
        as_buf_init(&job->in, 0);
        as_buf_init(&job->out, 0);
    }
    if (job->scrub == NULL) {
        job->scrub = as_scrub_clone(p->scrub);
    }
    job->pi = pi;
    return job;
}

static void
pipe_job_put(struct as_pipeline *p, struct pipe_job *job)
{
    as_scrub_merge_counts(p->scrub, job->scrub);
    pipe_job_reset(job);
    if (p->n_jobs_free >= PIPE_JOBS_MAX + 1 ||
        job->in.cap > 4 * PIPE_JOB_BYTES) {
        pipe_job_free(job);
        return;
    }
    job->next = p->jobs_free;
    p->jobs_free = job;
    p->n_jobs_free++;
}

/* Frees the cached jobs (with their scrubber clones). */
static void
pipe_jobs_free_cache(struct as_pipeline *p)
{
    while (p->jobs_free != NULL) {
        struct pipe_job *job = p->jobs_free;

        p->jobs_free = job->next;
        pipe_job_free(job);
    }
    p->n_jobs_free = 0;
}

static bool
pipe_peer_eq(const struct as_peer *a, const struct as_peer *b)
{
    if (!a->valid || !b->valid) {
        return a->valid == b->valid;
    }
    return a->pid == b->pid && a->uid == b->uid && a->gid == b->gid &&
           strcmp(a->comm, b->comm) == 0 &&
           (a->exe == b->exe || (a->exe != NULL && b->exe != NULL &&
                                 strcmp(a->exe, b->exe) == 0)) &&
           (a->unit == b->unit || (a->unit != NULL && b->unit != NULL &&
                                   strcmp(a->unit, b->unit) == 0));
}

/* The index in job->srcs of src's source and peer (added when new). */
static uint32_t
pipe_job_src(struct pipe_job *job, const struct as_srcinfo *src)
{
    static const struct as_peer none;
    const struct as_peer *peer =
        src->peer != NULL && src->peer->valid ? src->peer : &none;
    struct pipe_src *s;

    if (job->n_srcs > 0) {
        s = &job->srcs[job->n_srcs - 1];
        if ((s->source == src->source ||
             (s->source != NULL && src->source != NULL &&
              strcmp(s->source, src->source) == 0)) &&
            pipe_peer_eq(&s->peer, peer)) {
            return (uint32_t) (job->n_srcs - 1);
        }
    }
    if (job->n_srcs == job->cap_srcs) {
        job->cap_srcs = job->cap_srcs == 0 ? 4 : 2 * job->cap_srcs;
        job->srcs =
            as_reallocarray(job->srcs, job->cap_srcs, sizeof(*job->srcs));
    }
    s = &job->srcs[job->n_srcs];
    s->source = src->source != NULL ? as_strdup(src->source) : NULL;
    s->peer = *peer;
    s->peer.exe = peer->exe != NULL ? as_strdup(peer->exe) : NULL;
    s->peer.unit = peer->unit != NULL ? as_strdup(peer->unit) : NULL;
    return (uint32_t) job->n_srcs++;
}

/* A new line slot in the open job of pi (opened when needed). */
static struct pipe_line *
pipe_job_line(struct pipe_input *pi, const struct as_srcinfo *src)
{
    struct as_pipeline *p = pi->p;
    struct pipe_job *job = p->open;
    struct pipe_line *l;

    if (job != NULL && job->pi != pi) {
        pipe_job_dispatch(p);
        job = NULL;
    }
    if (job == NULL) {
        job = p->open = pipe_job_get(p, pi);
    }
    if (job->n == job->cap) {
        job->cap = job->cap == 0 ? 64 : 2 * job->cap;
        job->lines = as_reallocarray(job->lines, job->cap, sizeof(*job->lines));
    }
    l = &job->lines[job->n++];
    memset(l, 0, sizeof(*l));
    l->src = pipe_job_src(job, src);
    l->has_pos = src->has_pos;
    l->pos = src->pos;
    return l;
}

static void
pipe_job_done(struct as_work *w)
{
    struct pipe_job *job = (struct pipe_job *) w;
    struct as_pipeline *p = job->p;

    job->done = true;
    while (p->jobs_head != NULL && p->jobs_head->done) {
        job = p->jobs_head;
        p->jobs_head = job->next;
        if (p->jobs_head == NULL) {
            p->jobs_tail = NULL;
        }
        p->jobs_inflight--;
        for (size_t i = 0; i < job->n; i++) {
            pipe_commit_line(job, &job->lines[i]);
        }
        pipe_job_put(p, job);
    }
    pipe_update_pause(p);
    if (p->stopping) {
        pipe_stop_step(p);
    }
}

/* Hands the open job to the thread pool. */
static void
pipe_job_dispatch(struct as_pipeline *p)
{
    struct pipe_job *job = p->open;

    if (job == NULL) {
        return;
    }
    p->open = NULL;
    if (job->n == 0) {
        pipe_job_put(p, job);
        return;
    }
    job->next = NULL;
    if (p->jobs_tail != NULL) {
        p->jobs_tail->next = job;
    } else {
        p->jobs_head = job;
    }
    p->jobs_tail = job;
    p->jobs_inflight++;
    as_workq_submit(p->wq, &job->w);
    pipe_update_pause(p);
}

/* End of a loop iteration: what inputs emitted goes to work now. */
static void
pipe_check_cb(uv_check_t *h)
{
    pipe_job_dispatch(h->data);
}

/* ---- format auditd: reassembly on the loop thread, in order ---- */

static struct pipe_auditd *
pipe_auditd_find(struct pipe_input *pi, const char *source, bool create)
{
    struct pipe_auditd *ad;

    for (ad = pi->auditd; ad != NULL; ad = ad->next) {
        if ((ad->source == NULL && source == NULL) ||
            (ad->source != NULL && source != NULL &&
             strcmp(ad->source, source) == 0)) {
            return ad;
        }
    }
    if (!create) {
        return NULL;
    }
    ad = as_calloc(1, sizeof(*ad));
    ad->source = source != NULL ? as_strdup(source) : NULL;
    ad->a = as_auditd_new(NULL);
    ad->next = pi->auditd;
    pi->auditd = ad;
    return ad;
}

static void
pipe_auditd_free(struct pipe_input *pi, struct pipe_auditd *ad)
{
    for (struct pipe_auditd **ap = &pi->auditd; *ap != NULL;
         ap = &(*ap)->next) {
        if (*ap == ad) {
            *ap = ad->next;
            break;
        }
    }
    as_auditd_free(ad->a);
    free(ad->source);
    free(ad);
}

struct pipe_auditd_arg {
    struct pipe_input *pi;
    struct pipe_auditd *ad;
};

/*
 * An event (or a malformed line) from a reassembler becomes a job line.
 * Its position is the start of the oldest line the reassembler still holds
 * (or the end of the last line fed): a restart re-reads those lines, so an
 * event is never lost, though records of events interleaved with a pending
 * one may be read twice (see docs/AUDITD.md).
 */
static void
pipe_auditd_out(void *arg, struct json_object *obj, const char *raw,
                size_t rawlen, const struct as_error *err)
{
    struct pipe_auditd_arg *aa = arg;
    struct pipe_auditd *ad = aa->ad;
    struct pipe_input *pi = aa->pi;
    const char *why = err != NULL && err->msg[0] != '\0' ? err->msg : "?";
    struct as_srcinfo src;
    struct pipe_line *l;
    struct pipe_job *job;
    uint64_t tag;

    memset(&src, 0, sizeof(src));
    src.source = ad->source;
    src.has_pos = ad->has_pos;
    src.pos = ad->pos;
    if (as_auditd_oldest_pending(ad->a, &tag) && tag < src.pos.offset) {
        src.pos.offset = tag;
    }
    l = pipe_job_line(pi, &src);
    job = pi->p->open;
    l->kind = PIPE_LINE_EVENT;
    l->received_ns = as_now_ns();
    l->off = job->in.len;
    if (obj != NULL) {
        l->obj = obj;
    } else {
        l->len = rawlen;
        l->why_len = strlen(why);
        as_buf_put(&job->in, raw, rawlen);
        as_buf_put(&job->in, why, l->why_len);
    }
    if (job->n >= PIPE_JOB_LINES || job->in.len >= PIPE_JOB_BYTES) {
        pipe_job_dispatch(pi->p);
    }
}

static void
pipe_auditd_feed(struct pipe_input *pi, const char *bytes, size_t len,
                 const struct as_srcinfo *src, unsigned flags)
{
    struct pipe_auditd *ad = pipe_auditd_find(pi, src->source, true);
    struct pipe_auditd_arg aa = {pi, ad};
    uint64_t tag = 0;

    /* The line starts where the previous one of the same file ended. */
    if (src->has_pos) {
        if (ad->has_pos && ad->pos.dev == src->pos.dev &&
            ad->pos.ino == src->pos.ino && ad->pos.offset <= src->pos.offset) {
            tag = ad->pos.offset;
        } else if (src->pos.offset > len) {
            tag = src->pos.offset - len - 1;
        }
    }
    ad->has_pos = src->has_pos;
    ad->pos = src->pos;
    pi->c.bytes += len;
    if (flags & AS_EMIT_TRUNCATED) {
        struct as_error e;

        as_error_clear(&e);
        as_error_set(&e, "line exceeds max_line_bytes (kept %zu)", len);
        pipe_auditd_out(&aa, NULL, bytes, len, &e);
        return;
    }
    as_auditd_feed(ad->a, bytes, len, tag, as_mono_ms(), pipe_auditd_out, &aa);
}

/* Emits what has waited long enough (all of it when all is set). */
static void
pipe_auditd_flush(struct pipe_input *pi, struct pipe_auditd *ad, bool all)
{
    struct pipe_auditd_arg aa = {pi, ad};

    as_auditd_flush(ad->a, as_mono_ms(), all ? 0 : AS_AUDITD_MAX_WAIT_MS,
                    pipe_auditd_out, &aa);
}

static void
pipe_auditd_timer_cb(uv_timer_t *t)
{
    struct as_pipeline *p = t->data;

    for (size_t i = 0; i < p->st.n_inputs; i++) {
        struct pipe_input *pi = p->st.inputs[i];

        if (!pi->started || pi->stopped) {
            continue;
        }
        for (struct pipe_auditd *ad = pi->auditd; ad != NULL; ad = ad->next) {
            pipe_auditd_flush(pi, ad, false);
        }
    }
}

static void
pipe_emit(struct as_input *in, const char *bytes, size_t len,
          const struct as_srcinfo *src, unsigned flags)
{
    struct pipe_input *pi = in->core;
    struct pipe_line *l;
    struct pipe_job *job;

    if (pi->format == AS_FORMAT_AUDITD) {
        pipe_auditd_feed(pi, bytes, len, src, flags);
        return;
    }
    l = pipe_job_line(pi, src);
    job = pi->p->open;

    l->kind = PIPE_LINE_EVENT;
    l->flags = flags;
    l->received_ns = as_now_ns();
    l->off = job->in.len;
    l->len = len;
    as_buf_put(&job->in, bytes, len);
    if (job->n >= PIPE_JOB_LINES || job->in.len >= PIPE_JOB_BYTES) {
        pipe_job_dispatch(pi->p);
    }
}

static void
pipe_forget(struct as_input *in, const char *source,
            const struct as_srcpos *pos)
{
    struct pipe_input *pi = in->core;
    struct pipe_auditd *ad = pipe_auditd_find(pi, source, false);
    struct as_srcinfo src;
    struct pipe_line *l;

    if (ad != NULL) {
        /* The file is gone for good: nothing will complete its events. */
        pipe_auditd_flush(pi, ad, true);
        pipe_auditd_free(pi, ad);
    }
    memset(&src, 0, sizeof(src));
    src.source = source;
    if (pos != NULL) {
        src.has_pos = true;
        src.pos = *pos;
    }
    l = pipe_job_line(pi, &src);
    l->kind = PIPE_LINE_FORGET;
}

/* ---- output runners ----
 *
 * A runner reads batches from its cursor into slots, a ring of the
 * output's `concurrency` entries (1 for the file output and the dead-letter
 * sink) kept in read order.  Each slot owns its records until they are
 * committed, so a retried batch is sent again from memory and batches in
 * flight are never read twice.  The cursor is committed only up to the end
 * of the oldest slot not yet finished (acknowledged or dead-lettered):
 * slots finish in any order but commit in order.
 *
 * A 413-style refusal (AS_ERR_TOOBIG) splits the slot's range in halves:
 * the first half is sent at once, the second waits on the slot's stack of
 * ranges; a range of one record is dead-lettered.  A retryable failure
 * waits with full-jitter backoff (or the destination's Retry-After) on the
 * slot's own timer, and holds new batches back for as long, so a down
 * destination gets at most `concurrency` requests per backoff period.
 */

static void
pipe_output_limits(struct pipe_output *po)
{
    const struct as_conf_batch *b = NULL;
    const struct as_conf_retry *rt = NULL;
    const char *type = po->deadletter ? "file" : po->cs->type;
    int64_t conc = 1;

    if (strcmp(type, "file") == 0) {
        b = &((const struct as_conf_output_file *) po->out.conf)->batch;
    } else if (strcmp(type, "http") == 0) {
        const struct as_conf_output_http *h = po->out.conf;

        b = &h->batch;
        rt = &h->retry;
        conc = h->concurrency;
    } else if (strcmp(type, "cloudwatch_logs") == 0) {
        b = &((const struct as_conf_output_cloudwatch *) po->out.conf)->batch;
        rt = &((const struct as_conf_output_cloudwatch *) po->out.conf)->retry;
    }
    po->max_n =
        b != NULL && b->max_events > 0 ? (uint64_t) b->max_events : 10000;
    po->max_bytes = b != NULL && b->max_bytes > 0 ? b->max_bytes : 1 << 20;
    po->timeout_ms = b != NULL ? b->timeout_ms : 1000;
    po->retry_initial_ms =
        rt != NULL && rt->initial_ms > 0 ? rt->initial_ms : 500;
    po->retry_max_ms = rt != NULL && rt->max_ms > 0 ? rt->max_ms : 60000;
    if (conc < 1) {
        conc = 1;
    } else if (conc > PIPE_MAX_CONCURRENCY) {
        conc = PIPE_MAX_CONCURRENCY;
    }
    po->n_slots = (size_t) conc;
}

static bool
pipe_want_cb(void *arg, const struct as_brec *r)
{
    struct pipe_output *po = arg;

    if (po->deadletter) {
        return r->type == AS_BREC_DEADLETTER;
    }
    return r->type == AS_BREC_EVENT && as_conf_output_routes(po->cs, r->input);
}

static void
pipe_timer_cb(uv_timer_t *t)
{
    struct pipe_output *po = t->data;

    pipe_kick(po);
}

static void
pipe_arm(struct pipe_output *po, uint64_t ms)
{
    uv_timer_start(&po->timer, pipe_timer_cb, ms, 0);
}

/* Full-jitter exponential backoff: uniform in [0, min(max, initial*2^n)]. */
static uint64_t
pipe_backoff_ms(const struct pipe_output *po, unsigned attempt)
{
    uint64_t cap = po->retry_initial_ms;
    uint32_t rnd = 0;

    for (unsigned i = 0; i < attempt && cap < po->retry_max_ms; i++) {
        cap *= 2;
    }
    if (cap > po->retry_max_ms) {
        cap = po->retry_max_ms;
    }
    if (RAND_bytes((unsigned char *) &rnd, sizeof(rnd)) != 1) {
        rnd = (uint32_t) random();
    }
    return cap == 0 ? 0 : (uint64_t) rnd % (cap + 1);
}

/*
 * Re-appends records [lo, hi) of a slot as dead-letter records naming the
 * output and the reason (reason, then detail, else as_strerror(status)).
 */
static void
pipe_deadletter_range(struct pipe_output *po, const struct pipe_slot *s,
                      size_t lo, size_t hi, int status, const char *reason,
                      const char *detail)
{
    struct as_buf line = AS_BUF_INIT;
    struct as_buf why = AS_BUF_INIT;
    struct as_brec b;

    as_buf_puts(&why, reason[0] != '\0' ? reason : as_strerror(status));
    if (detail[0] != '\0') {
        struct as_buf clean = AS_BUF_INIT;

        /* The start of a response body is the collector's text: it is
         * scrubbed like anything else before it reaches the disk. */
        as_buf_puts(&why, ": ");
        if (as_scrub_bytes(po->p->scrub, detail, strlen(detail), &clean) > 0) {
            as_buf_put(&why, clean.data, clean.len);
        } else {
            as_buf_puts(&why, detail);
        }
        as_buf_free(&clean);
    }
    for (size_t i = lo; i < hi; i++) {
        const struct as_batch_rec *br = &s->rb.recs[i];

        as_buf_reset(&line);
        as_buf_puts(&line, "{\"deadletter\":{\"output\":");
        as_jcs_string(&line, po->out.id, strlen(po->out.id));
        as_buf_puts(&line, ",\"reason\":");
        if (as_jcs_string(&line, why.data, why.len) != 0) {
            as_buf_puts(&line, "\"rejected\"");
        }
        as_buf_puts(&line, "},\"record\":");
        as_buf_put(&line, s->rb.data.data + br->off, br->len);
        as_buf_putc(&line, '}');
        b = s->rb.meta[i];
        b.type = AS_BREC_DEADLETTER;
        b.has_pos = false;
        b.chain = "";
        b.payload = line.data;
        b.payload_len = line.len;
        as_buffer_append(po->p->buffer, &b);
    }
    as_buf_free(&why);
    as_buf_free(&line);
}

/* Hands the slot's current range to the output. */
static void
pipe_slot_send(struct pipe_slot *s)
{
    struct pipe_output *po = s->po;
    const struct as_rbatch *rb = &s->rb;
    struct as_batch *b = &s->batch;
    size_t n = s->hi - s->lo;

    if (s->lo == 0 && s->hi == rb->n) {
        b->data = rb->data.data;
        b->len = rb->data.len;
        b->recs = rb->recs;
    } else {
        /* A part of a split batch: its records, rebased on its first. */
        size_t base = rb->recs[s->lo].off;
        const struct as_batch_rec *last = &rb->recs[s->hi - 1];

        if (s->sub_cap < n) {
            s->sub = as_reallocarray(s->sub, n, sizeof(*s->sub));
            s->sub_cap = n;
        }
        for (size_t i = 0; i < n; i++) {
            s->sub[i] = rb->recs[s->lo + i];
            s->sub[i].off -= base;
        }
        b->data = rb->data.data + base;
        b->len = last->off + last->len + 1 - base;
        b->recs = s->sub;
    }
    b->n = n;
    b->end_seg = rb->end.segment;
    b->end_off = rb->end.offset;
    s->state = PIPE_SLOT_SENDING;
    po->out.ops->send(&po->out, b, pipe_send_done);
}

/* ---- batch journal ----
 *
 * After a restart (kill -9 included), a reload, or a stop that left
 * batches unacknowledged, a runner reads again from its committed cursor.
 * Cut anew, those records could form batches with other boundaries
 * (max_events, max_bytes and the fill timeout fire differently), so a batch
 * the destination had accepted would come back under another
 * Idempotency-Key.  Outputs that do not record their own progress (no
 * `acked`: http, cloudwatch_logs) therefore keep a journal of the batches
 * in the ring (batchlog.h, state_dir/outputs/ID.batches): before a new
 * batch is sent, the journal is rewritten with every batch in the ring, the
 * new one included.  The write runs on the loop thread (like cursor
 * commits); with buffer.fsync always it runs with fdatasync on the thread
 * pool, one at a time, and the batch waits for it (PIPE_SLOT_JOURNAL).
 *
 * At start, the journaled batches whose end lies past the committed cursor
 * are formed again first, in order, each exactly up to its recorded end
 * (as_cursor_read_upto) and checked against its recorded count and bytes,
 * before any new batch is cut; the same records give the same key.
 * Entries the cursor passed are ignored when read and left out of the next
 * write, and the file is removed when nothing is in flight, so it holds at
 * most `concurrency` entries (more only while batches journaled under a
 * larger concurrency are formed again).  A missing, damaged or unwritable
 * journal never stops the runner: it warns and cuts batches as before (the
 * destination may then get some events again under new keys).
 */

static void pipe_journal_clear(struct pipe_output *po);

static bool
pipe_journal_wanted(const struct pipe_output *po)
{
    return !po->deadletter && po->out.ops->acked == NULL &&
           po->p->conf->buffer.type != AS_BUFFER_MEMORY;
}

/* Reads the journal left by the last run (once the cursor is open). */
static void
pipe_journal_open(struct pipe_output *po)
{
    struct as_batchlog_entry e[AS_BATCHLOG_MAX];
    struct as_bpos cpos;
    size_t n = 0, k = 0;
    int rc;

    po->n_replay = 0;
    po->i_replay = 0;
    if (!pipe_journal_wanted(po)) {
        return;
    }
    as_asprintf(&po->jpath, "%s/outputs/%s.batches", po->out.state_dir,
                po->out.id);
    if ((rc = as_mkdirs(po->jpath, true)) != 0) {
        as_slog_warn(po->out.prefix,
                     "no batch journal (%s): %s; after a restart, batches in "
                     "flight are cut anew (some events may reach the "
                     "destination again under new Idempotency-Keys)",
                     po->jpath, as_strerror(rc));
        free(po->jpath);
        po->jpath = NULL;
        return;
    }
    rc = as_batchlog_read(po->jpath, e, &n);
    if (rc == -ENOENT) {
        return;
    }
    po->j_file = true;
    if (rc != 0) {
        as_slog_warn(po->out.prefix,
                     "batch journal %s is unusable (%s): the batches not "
                     "acknowledged before the restart or reload are cut "
                     "anew (some events may reach the destination again "
                     "under new Idempotency-Keys)",
                     po->jpath,
                     rc == AS_ERR_CORRUPT ? "damaged" : as_strerror(rc));
        return;
    }
    as_cursor_committed(po->cur, &cpos);
    for (size_t i = 0; i < n; i++) {
        if (e[i].seg > cpos.segment ||
            (e[i].seg == cpos.segment && e[i].off > cpos.offset)) {
            po->replay[k++] = e[i];
        }
    }
    po->n_replay = k;
    if (k == 0) {
        pipe_journal_clear(po); /* the cursor passed every entry */
    } else {
        as_slog_info(po->out.prefix,
                     "sending again first the %zu batch(es) not acknowledged "
                     "before the restart or reload, as they were cut (same "
                     "Idempotency-Keys)",
                     k);
    }
}

/* The journal's text: every batch in the ring, then those to form again. */
static void
pipe_journal_encode(const struct pipe_output *po, struct as_buf *out)
{
    struct as_batchlog_entry e[AS_BATCHLOG_MAX];
    size_t n = 0;

    for (size_t i = 0; i < po->used && n < AS_BATCHLOG_MAX; i++) {
        const struct pipe_slot *s = &po->slots[(po->head + i) % po->n_slots];

        e[n].seg = s->rb.end.segment;
        e[n].off = s->rb.end.offset;
        e[n].n = s->rb.n;
        e[n].bytes = s->rb.data.len;
        n++;
    }
    for (size_t i = po->i_replay; i < po->n_replay && n < AS_BATCHLOG_MAX;
         i++) {
        e[n++] = po->replay[i];
    }
    as_buf_reset(out);
    as_batchlog_encode(e, n, out);
}

/* Sends the batches the journal now holds (or parks them when stopping). */
static void
pipe_journal_release(struct pipe_output *po)
{
    for (size_t i = 0; i < po->used; i++) {
        struct pipe_slot *s = &po->slots[(po->head + i) % po->n_slots];

        if (s->state != PIPE_SLOT_JOURNAL) {
            continue;
        }
        if (po->stopping) {
            s->state = PIPE_SLOT_WAITING;
        } else if (s->jgen <= po->j_done) {
            pipe_slot_send(s);
        }
    }
}

static void
pipe_journal_written(struct pipe_output *po, uint64_t gen, int status)
{
    if (status != 0 && as_ratelimit_ok(&po->rl_journal, 120000)) {
        as_slog_warn(po->out.prefix,
                     "cannot write the batch journal %s: %s; sending anyway "
                     "(after a restart some events may reach the "
                     "destination again under new Idempotency-Keys)",
                     po->jpath, as_strerror(status));
    }
    po->j_done = gen;
    pipe_journal_release(po);
}

static void pipe_journal_write(struct pipe_output *po);

static void
pipe_journal_work_cb(uv_work_t *w)
{
    struct pipe_output *po = w->data;

    po->j_status =
        as_batchlog_write(po->jpath, po->j_data.data, po->j_data.len, true);
}

static void
pipe_journal_after_cb(uv_work_t *w, int status)
{
    struct pipe_output *po = w->data;

    po->j_busy = false;
    pipe_journal_written(po, po->j_gen, status != 0 ? status : po->j_status);
    if (po->j_want > po->j_done && !po->stopping) {
        pipe_journal_write(po);
    }
    pipe_stop_step(po->p);
}

/* Writes the journal as it stands now (generation j_want). */
static void
pipe_journal_write(struct pipe_output *po)
{
    int rc;

    if (po->j_busy) {
        return; /* written again when that write returns */
    }
    pipe_journal_encode(po, &po->j_data);
    po->j_gen = po->j_want;
    po->j_file = true;
    if (po->out.fsync == AS_FSYNC_ALWAYS) {
        po->j_work.data = po;
        if (uv_queue_work(po->p->loop, &po->j_work, pipe_journal_work_cb,
                          pipe_journal_after_cb) == 0) {
            po->j_busy = true;
            return;
        }
    }
    rc = as_batchlog_write(po->jpath, po->j_data.data, po->j_data.len, false);
    pipe_journal_written(po, po->j_gen, rc);
}

/* A new batch in s: journal it, then send it. */
static void
pipe_journal_add(struct pipe_output *po, struct pipe_slot *s)
{
    s->state = PIPE_SLOT_JOURNAL;
    s->jgen = ++po->j_want;
    pipe_journal_write(po);
}

/* Nothing in flight: the journal has nothing to say any more. */
static void
pipe_journal_clear(struct pipe_output *po)
{
    if (po->jpath == NULL || !po->j_file || po->j_busy || po->used > 0 ||
        po->i_replay < po->n_replay) {
        return;
    }
    if (unlink(po->jpath) != 0 && errno != ENOENT &&
        as_ratelimit_ok(&po->rl_journal, 120000)) {
        as_slog_warn(po->out.prefix, "cannot remove the batch journal %s: %s",
                     po->jpath, strerror(errno));
    }
    po->j_file = false;
}

/* Moves the read position back to the end of the last batch in flight. */
static void
pipe_give_back(struct pipe_output *po)
{
    if (po->used > 0) {
        const struct pipe_slot *prev =
            &po->slots[(po->head + po->used - 1) % po->n_slots];

        as_cursor_seek(po->cur, &prev->rb.end);
    } else {
        as_cursor_rewind(po->cur);
    }
}

/*
 * Forms the next journaled batch into s: the records up to its recorded
 * end, which must match its recorded count and bytes.  Returns 1 when s
 * holds it; 0 when it does not match (the journal is dropped and the read
 * position restored: cut anew); negative on a read error (retry later).
 */
static int
pipe_replay_read(struct pipe_output *po, struct pipe_slot *s)
{
    const struct as_batchlog_entry *e = &po->replay[po->i_replay];
    struct as_bpos end;
    int n;

    end.segment = e->seg;
    end.offset = e->off;
    n = as_cursor_read_upto(po->cur, &end, e->n < SIZE_MAX ? e->n + 1 : e->n,
                            pipe_want_cb, po, &s->rb);
    if (n > 0 && (uint64_t) n == e->n && s->rb.end.segment == e->seg &&
        s->rb.end.offset == e->off && s->rb.data.len == e->bytes) {
        po->i_replay++;
        return 1;
    }
    pipe_give_back(po);
    if (n < 0) {
        return n;
    }
    as_slog_warn(po->out.prefix,
                 "batch journal: batch %zu of %zu no longer matches the "
                 "buffer (%d of %llu events); cutting batches anew (some "
                 "events may reach the destination again under new "
                 "Idempotency-Keys)",
                 po->i_replay + 1, po->n_replay, n, (unsigned long long) e->n);
    po->n_replay = 0;
    po->i_replay = 0;
    return 0;
}

static void
pipe_slot_timer_cb(uv_timer_t *t)
{
    struct pipe_slot *s = t->data;

    if (s->state == PIPE_SLOT_WAITING && !s->po->stopping) {
        pipe_slot_send(s);
    }
}

/* Commits the finished slots at the head of the ring, in order. */
static void
pipe_slots_commit(struct pipe_output *po)
{
    int rc;

    while (po->used > 0 && po->slots[po->head].state == PIPE_SLOT_DONE) {
        struct pipe_slot *s = &po->slots[po->head];

        rc = as_cursor_commit(po->cur, &s->rb.end);
        if (rc != 0) {
            as_slog_error(po->out.prefix, "cursor commit failed: %s",
                          as_strerror(rc));
        }
        s->state = PIPE_SLOT_FREE;
        s->n_todo = 0;
        s->attempt = 0;
        po->head = (po->head + 1) % po->n_slots;
        po->used--;
    }
    pipe_journal_clear(po);
}

/* The slot's range is settled: send the next one, or finish the slot. */
static void
pipe_slot_next(struct pipe_slot *s)
{
    struct pipe_output *po = s->po;

    if (s->n_todo > 0) {
        s->n_todo--;
        s->lo = s->todo[2 * s->n_todo];
        s->hi = s->todo[2 * s->n_todo + 1];
        s->attempt = 0;
        if (po->stopping) {
            s->state = PIPE_SLOT_WAITING;
        } else {
            pipe_slot_send(s);
        }
        return;
    }
    s->state = PIPE_SLOT_DONE;
    pipe_slots_commit(po);
}

/* AS_ERR_TOOBIG: sends the first half now, keeps the second for later. */
static void
pipe_slot_split(struct pipe_slot *s)
{
    size_t mid = s->lo + (s->hi - s->lo) / 2;

    if (s->n_todo == s->cap_todo) {
        s->cap_todo = s->cap_todo == 0 ? 8 : s->cap_todo * 2;
        s->todo = as_reallocarray(s->todo, s->cap_todo, 2 * sizeof(size_t));
    }
    s->todo[2 * s->n_todo] = mid;
    s->todo[2 * s->n_todo + 1] = s->hi;
    s->n_todo++;
    s->hi = mid;
    s->attempt = 0;
    if (s->po->stopping) {
        s->state = PIPE_SLOT_WAITING;
    } else {
        pipe_slot_send(s);
    }
}

static void
pipe_send_done(struct as_output *o, const struct as_batch *b, int status)
{
    struct pipe_output *po = o->core;
    struct pipe_slot *s =
        (struct pipe_slot *) (void *) ((char *) (uintptr_t) b -
                                       offsetof(struct pipe_slot, batch));
    char reason[AS_OUTPUT_REASON_MAX], detail[AS_OUTPUT_DETAIL_MAX];
    const char *why;
    uint64_t hint = o->retry_after_ms, delay;

    memcpy(reason, o->reason, sizeof(reason));
    memcpy(detail, o->detail, sizeof(detail));
    reason[sizeof(reason) - 1] = '\0';
    detail[sizeof(detail) - 1] = '\0';
    o->retry_after_ms = 0;
    o->reason[0] = '\0';
    o->detail[0] = '\0';
    why = reason[0] != '\0' ? reason : as_strerror(status);
    if (status == 0) {
        po->c.shipped += b->n;
        po->c.batches++;
        po->c.bytes += b->len;
        po->hold_until = 0;
        pipe_slot_next(s);
    } else if (status == AS_ERR_TOOBIG && b->n > 1) {
        if (as_ratelimit_ok(&po->rl_split, 10000)) {
            as_slog_info(po->out.prefix,
                         "destination refused %zu events as too large (%s): "
                         "sending them in halves",
                         b->n, why);
        }
        pipe_slot_split(s);
    } else if (status == AS_ERR_REJECT || status == AS_ERR_TOOBIG) {
        po->c.rejected += b->n;
        if (status == AS_ERR_TOOBIG) {
            as_slog_error(po->out.prefix,
                          "one event is too large for the destination (%s): "
                          "dead-lettered",
                          why);
        } else {
            as_slog_error(po->out.prefix,
                          "destination rejected %zu events (%s): "
                          "dead-lettered",
                          b->n, why);
        }
        if (!po->deadletter) {
            pipe_deadletter_range(po, s, s->lo, s->hi, status, reason, detail);
        }
        pipe_slot_next(s);
    } else {
        po->c.retries++;
        if (hint > 0) {
            delay = hint < AS_RETRY_AFTER_MAX_MS ? hint : AS_RETRY_AFTER_MAX_MS;
        } else {
            delay = pipe_backoff_ms(po, s->attempt);
        }
        s->attempt++;
        s->state = PIPE_SLOT_WAITING;
        po->hold_until = as_mono_ms() + delay;
        if (!po->stopping && as_ratelimit_ok(&po->rl, 10000)) {
            as_slog_warn(po->out.prefix, "send failed (%s): retry in %llu ms%s",
                         why, (unsigned long long) delay,
                         hint > 0 ? " (Retry-After)" : "");
        }
        if (!po->stopping) {
            uv_timer_start(&s->timer, pipe_slot_timer_cb, delay, 0);
        }
    }
    if (!po->stopping) {
        pipe_kick(po);
    }
    pipe_stop_step(po->p);
}

/*
 * Reads and sends new batches while a slot is free, the destination is not
 * being left alone after a failure, and a batch is full (or its timeout
 * passed, or the pipeline drains).
 */
static void
pipe_kick(struct pipe_output *po)
{
    struct as_pipeline *p = po->p;
    struct pipe_slot *s;
    uint64_t now;
    int n;

    if (!po->started || po->stopping || po->cur == NULL) {
        return;
    }
    while (po->used < po->n_slots) {
        now = as_mono_ms();
        if (po->hold_until > now) {
            if (!uv_is_active((uv_handle_t *) &po->timer)) {
                pipe_arm(po, po->hold_until - now);
            }
            return;
        }
        s = &po->slots[(po->head + po->used) % po->n_slots];
        if (po->i_replay < po->n_replay) {
            /* Batches in flight when the agent last stopped come first,
             * with the same boundaries. */
            if ((n = pipe_replay_read(po, s)) < 0) {
                if (as_ratelimit_ok(&po->rl, 10000)) {
                    as_slog_error(po->out.prefix, "buffer read failed: %s",
                                  as_strerror(n));
                }
                pipe_arm(po, 1000);
                return;
            }
            if (n > 0) {
                po->idle = false;
                po->used++;
                s->lo = 0;
                s->hi = s->rb.n;
                s->n_todo = 0;
                s->attempt = 0;
                pipe_slot_send(s);
                continue;
            }
        }
        if (po->wait_since != 0 && !p->draining &&
            as_cursor_pending_bytes(po->cur) < po->max_bytes) {
            /* A batch is filling: read it once, when full or at its
             * timeout, not again at every flush. */
            if (now - po->wait_since < po->timeout_ms) {
                if (!uv_is_active((uv_handle_t *) &po->timer)) {
                    pipe_arm(po, po->timeout_ms - (now - po->wait_since));
                }
                return;
            }
        }
        n = as_cursor_read(po->cur, po->max_n, po->max_bytes, pipe_want_cb, po,
                           &s->rb);
        if (n < 0) {
            if (as_ratelimit_ok(&po->rl, 10000)) {
                as_slog_error(po->out.prefix, "buffer read failed: %s",
                              as_strerror(n));
            }
            pipe_arm(po, 1000);
            return;
        }
        if (n == 0) {
            /* Only records this output does not take were passed.  With
             * nothing in flight that position is acknowledged: commit it
             * once per segment, so passed segments can be deleted. */
            if (po->used == 0 && s->rb.end.segment != po->skip_seg) {
                po->skip_seg = s->rb.end.segment;
                (void) as_cursor_commit(po->cur, &s->rb.end);
            }
            po->idle = true;
            po->wait_since = 0;
            return;
        }
        po->idle = false;
        if ((uint64_t) n < po->max_n && s->rb.data.len < po->max_bytes &&
            po->timeout_ms > 0 && !p->draining) {
            if (po->wait_since == 0) {
                po->wait_since = now;
            }
            if (now - po->wait_since < po->timeout_ms) {
                /* Let the batch fill up until its timeout: give it back,
                 * behind the batches in flight. */
                pipe_give_back(po);
                if (!uv_is_active((uv_handle_t *) &po->timer)) {
                    pipe_arm(po, po->timeout_ms - (now - po->wait_since));
                }
                return;
            }
        }
        po->wait_since = 0;
        uv_timer_stop(&po->timer);
        po->used++;
        s->lo = 0;
        s->hi = (size_t) n;
        s->n_todo = 0;
        s->attempt = 0;
        if (po->jpath != NULL) {
            pipe_journal_add(po, s);
        } else {
            pipe_slot_send(s);
        }
    }
}

/* ---- building stages ---- */

static struct pipe_input *
pipe_input_new(struct as_pipeline *p, const struct as_conf_stage *cs)
{
    struct pipe_input *pi = as_calloc(1, sizeof(*pi));
    const struct as_input_ops *ops = cs->st->ops;

    pi->cs = cs;
    pi->p = p;
    pi->in.ops = ops;
    pi->in.id = cs->id;
    pi->in.conf = cs->conf;
    pi->in.ctx = as_calloc(1, ops->ctx_size);
    pi->in.loop = p != NULL ? p->loop : NULL;
    pi->in.emit = pipe_emit;
    pi->in.forget = pipe_forget;
    pi->in.core = pi;
    snprintf(pi->in.prefix, sizeof(pi->in.prefix), "input:%s:%s", cs->type,
             cs->id);
    if (strcmp(cs->type, "file") == 0) {
        pi->format = ((const struct as_conf_input_file *) cs->conf)->format;
    } else if (strcmp(cs->type, "socket") == 0) {
        pi->format = ((const struct as_conf_input_socket *) cs->conf)->format;
    }
    return pi;
}

static void
pipe_input_free(struct pipe_input *pi)
{
    if (pi == NULL) {
        return;
    }
    if (pi->in.ops->destroy != NULL) {
        pi->in.ops->destroy(&pi->in);
    }
    while (pi->auditd != NULL) {
        pipe_auditd_free(pi, pi->auditd);
    }
    free(pi->recovered);
    free(pi->in.ctx);
    free(pi);
}

static struct pipe_output *
pipe_output_new(struct as_pipeline *p, const struct as_conf_stage *cs,
                const struct as_config *conf)
{
    struct pipe_output *po = as_calloc(1, sizeof(*po));
    const struct as_output_ops *ops;

    po->p = p;
    po->cs = cs;
    if (cs == NULL) {
        /* The dead-letter sink: a file output in state_dir. */
        po->deadletter = true;
        ops = &as_output_file_ops;
        po->dl_conf.path = p->dl_path;
        po->dl_conf.rotate.max_bytes = 100 << 20;
        po->dl_conf.rotate.keep = 10;
        po->dl_conf.batch.max_events = 10000;
        po->dl_conf.batch.max_bytes = 1 << 20;
        po->dl_conf.batch.timeout_ms = 0;
        po->out.id = "deadletter";
        po->out.conf = &po->dl_conf;
        snprintf(po->out.prefix, sizeof(po->out.prefix), "deadletter");
    } else {
        ops = cs->st->ops;
        po->out.id = cs->id;
        po->out.conf = cs->conf;
        snprintf(po->out.prefix, sizeof(po->out.prefix), "output:%s:%s",
                 cs->type, cs->id);
    }
    po->out.ops = ops;
    po->out.ctx = as_calloc(1, ops->ctx_size);
    po->out.loop = p != NULL ? p->loop : NULL;
    po->out.state_dir = conf->agent.state_dir;
    po->out.fsync = conf->buffer.fsync;
    po->out.core = po;
    pipe_output_limits(po);
    po->slots = as_calloc(po->n_slots, sizeof(*po->slots));
    for (size_t i = 0; i < po->n_slots; i++) {
        po->slots[i].po = po;
        as_rbatch_init(&po->slots[i].rb);
    }
    return po;
}

static void
pipe_output_free(struct pipe_output *po)
{
    if (po == NULL) {
        return;
    }
    if (po->out.ops->destroy != NULL) {
        po->out.ops->destroy(&po->out);
    }
    if (po->cur != NULL) {
        as_cursor_close(po->cur);
    }
    for (size_t i = 0; i < po->n_slots; i++) {
        as_rbatch_free(&po->slots[i].rb);
        free(po->slots[i].sub);
        free(po->slots[i].todo);
    }
    free(po->slots);
    free(po->jpath);
    as_buf_free(&po->j_data);
    free(po->out.ctx);
    free(po);
}

static void
pipe_stages_free(struct pipe_stages *st)
{
    for (size_t i = 0; i < st->n_inputs; i++) {
        pipe_input_free(st->inputs[i]);
    }
    for (size_t i = 0; i < st->n_outputs; i++) {
        pipe_output_free(st->outputs[i]);
    }
    free(st->inputs);
    free(st->outputs);
    memset(st, 0, sizeof(*st));
}

/* Errors a stage's init added without a file name the config file. */
static void
pipe_errors_name_file(struct as_conf_errors *errs, size_t from,
                      const char *path)
{
    for (size_t i = from; errs != NULL && path != NULL && i < errs->n; i++) {
        if (errs->v[i].file != NULL &&
            strcmp(errs->v[i].file, "<config>") == 0) {
            free((char *) errs->v[i].file);
            errs->v[i].file = as_strdup(path);
        }
    }
}

/* Builds and inits the stages of conf (no I/O).  Errors go to errs. */
static int
pipe_stages_build(struct as_pipeline *p, const struct as_config *conf,
                  struct pipe_stages *st, struct as_conf_errors *errs)
{
    int rc = 0, r;

    memset(st, 0, sizeof(*st));
    st->inputs = as_calloc(conf->n_inputs + 1, sizeof(*st->inputs));
    st->outputs = as_calloc(conf->n_outputs + 2, sizeof(*st->outputs));
    for (size_t i = 0; i < conf->n_inputs; i++) {
        const struct as_conf_stage *cs = &conf->inputs[i];
        struct pipe_input *pi;

        if (cs->st == NULL || cs->st->ops == NULL) {
            as_conf_errors_add(errs, conf->path, cs->line, cs->col,
                               "input type '%s' is not implemented yet",
                               cs->type);
            rc = AS_ERR_CONFIG;
            continue;
        }
        pi = pipe_input_new(p, cs);
        st->inputs[st->n_inputs++] = pi;
        if (pi->in.ops->init != NULL &&
            (r = pi->in.ops->init(&pi->in, cs, errs)) != 0) {
            rc = r;
        }
    }
    for (size_t i = 0; i < conf->n_outputs; i++) {
        const struct as_conf_stage *cs = &conf->outputs[i];
        size_t n_errs = errs != NULL ? errs->n : 0;
        struct pipe_output *po;

        if (cs->st == NULL || cs->st->ops == NULL) {
            as_conf_errors_add(errs, conf->path, cs->line, cs->col,
                               "output type '%s' is not implemented yet",
                               cs->type);
            rc = AS_ERR_CONFIG;
            continue;
        }
        po = pipe_output_new(p, cs, conf);
        st->outputs[st->n_outputs++] = po;
        if (po->out.ops->init != NULL &&
            (r = po->out.ops->init(&po->out, cs, errs)) != 0) {
            rc = r;
        }
        pipe_errors_name_file(errs, n_errs, conf->path);
    }
    if (p != NULL) {
        struct pipe_output *dl = pipe_output_new(p, NULL, conf);

        st->outputs[st->n_outputs++] = dl;
        if (dl->out.ops->init != NULL &&
            (r = dl->out.ops->init(&dl->out, NULL, errs)) != 0) {
            rc = r;
        }
    }
    return rc;
}

/* ---- starting ---- */

static int
pipe_output_start(struct pipe_output *po)
{
    struct as_pipeline *p = po->p;
    uint64_t seg, off;
    struct as_bpos pos;
    int rc;

    uv_timer_init(p->loop, &po->timer);
    po->timer.data = po;
    for (size_t i = 0; i < po->n_slots; i++) {
        uv_timer_init(p->loop, &po->slots[i].timer);
        po->slots[i].timer.data = &po->slots[i];
    }
    po->timer_init = true;
    if ((rc = as_buffer_cursor_open(p->buffer, po->out.id, &po->cur)) != 0) {
        as_slog_error(po->out.prefix, "cannot open buffer cursor: %s",
                      as_strerror(rc));
        return rc;
    }
    /* What pipe_want_cb takes. */
    as_cursor_want_types(po->cur, po->deadletter ? 1u << AS_BREC_DEADLETTER
                                                 : 1u << AS_BREC_EVENT);
    if (po->out.ops->start != NULL &&
        (rc = po->out.ops->start(&po->out)) != 0) {
        as_slog_error(po->out.prefix, "cannot start: %s", as_strerror(rc));
        return rc;
    }
    if (po->out.ops->acked != NULL &&
        po->out.ops->acked(&po->out, &seg, &off) == 0) {
        /* The output wrote past the committed cursor before a crash. */
        pos.segment = seg;
        pos.offset = off;
        as_cursor_commit(po->cur, &pos);
    }
    pipe_journal_open(po);
    po->started = true;
    return 0;
}

static int
pipe_input_start(struct pipe_input *pi)
{
    struct as_pipeline *p = pi->p;
    size_t n = 0;
    int rc;

    free(pi->recovered);
    pi->recovered = NULL;
    for (struct pipe_pos *e = p->positions; e != NULL; e = e->next) {
        if (strcmp(e->input, pi->in.id) == 0) {
            n++;
        }
    }
    pi->recovered = as_calloc(n + 1, sizeof(*pi->recovered));
    n = 0;
    for (struct pipe_pos *e = p->positions; e != NULL; e = e->next) {
        if (strcmp(e->input, pi->in.id) == 0) {
            pi->recovered[n].source = e->source;
            pi->recovered[n].pos = e->pos;
            n++;
        }
    }
    pi->in.recovered = pi->recovered;
    pi->in.n_recovered = n;
    pi->last = NULL;
    rc = pi->in.ops->start(&pi->in);
    pi->in.recovered = NULL;
    pi->in.n_recovered = 0;
    if (rc != 0) {
        as_slog_error(pi->in.prefix, "cannot start: %s", as_strerror(rc));
        return rc;
    }
    pi->started = true;
    if (pi->format == AS_FORMAT_AUDITD &&
        !uv_is_active((uv_handle_t *) &p->auditd_timer)) {
        uv_timer_start(&p->auditd_timer, pipe_auditd_timer_cb, 500, 500);
    }
    if (p->inputs_paused && pi->in.ops->pause != NULL) {
        pi->in.ops->pause(&pi->in);
    }
    return 0;
}

static int
pipe_stages_start(struct pipe_stages *st)
{
    int rc;

    for (size_t i = 0; i < st->n_outputs; i++) {
        if ((rc = pipe_output_start(st->outputs[i])) != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < st->n_inputs; i++) {
        if ((rc = pipe_input_start(st->inputs[i])) != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < st->n_outputs; i++) {
        pipe_kick(st->outputs[i]);
    }
    return 0;
}

static void
pipe_checkpoint_cb(uv_timer_t *t)
{
    as_pipeline_checkpoint(t->data);
}

int
as_pipeline_new(uv_loop_t *loop, const struct as_config *conf,
                struct as_pipeline **out, struct as_error *err)
{
    struct as_pipeline *p = as_calloc(1, sizeof(*p));
    struct as_buffer_hooks hooks;
    struct as_conf_errors errs = {NULL, 0};
    char *bufdir = NULL;
    int rc;

    p->loop = loop;
    p->conf = conf;
    if ((rc = as_mkdirs(conf->agent.state_dir, false)) != 0) {
        as_error_set(err, "cannot create state_dir %s: %s",
                     conf->agent.state_dir, as_strerror(rc));
        goto out;
    }
    as_asprintf(&p->dl_path, "%s/deadletter.ndjson", conf->agent.state_dir);
    if ((rc = as_chainset_new(&conf->chain, conf->agent.hostname, &p->chains,
                              err)) != 0) {
        goto out;
    }
    if ((rc = as_scrub_new_config(conf, &p->scrub, err)) != 0) {
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        as_error_set(err, "%s:%d:%d: %s", conf->path, err->line, err->col, msg);
        goto out;
    }
    memset(&hooks, 0, sizeof(hooks));
    hooks.recover = pipe_recover_cb;
    hooks.snapshot = pipe_snapshot_cb;
    hooks.readable = pipe_readable_cb;
    hooks.full = pipe_full_cb;
    hooks.arg = p;
    as_asprintf(&bufdir, "%s/buffer", conf->agent.state_dir);
    if ((rc = as_buffer_open(loop, bufdir, &conf->buffer, &hooks,
                             &p->buffer)) != 0) {
        as_error_set(err, "cannot open the buffer in %s: %s", bufdir,
                     as_strerror(rc));
        goto out;
    }
    if ((rc = pipe_stages_build(p, conf, &p->st, &errs)) != 0) {
        as_error_set(err, "%s", errs.n > 0 ? errs.v[0].msg : as_strerror(rc));
        goto out;
    }
    rc = 0;
out:
    as_conf_errors_free(&errs);
    free(bufdir);
    if (rc != 0) {
        p->stopping = true;
        as_pipeline_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

int
as_pipeline_start(struct as_pipeline *p)
{
    int rc;

    if (!p->timers_init) {
        uv_timer_init(p->loop, &p->checkpoint_timer);
        p->checkpoint_timer.data = p;
        uv_timer_init(p->loop, &p->drain_timer);
        p->drain_timer.data = p;
        uv_check_init(p->loop, &p->check);
        p->check.data = p;
        uv_check_start(&p->check, pipe_check_cb);
        uv_timer_init(p->loop, &p->auditd_timer);
        p->auditd_timer.data = p;
        p->wq = as_workq_new(p->loop, 0);
        p->timers_init = true;
    }
    if ((rc = pipe_stages_start(&p->st)) != 0) {
        return rc;
    }
    if (p->conf->chain.enabled && p->conf->chain.signing_key != NULL &&
        p->conf->chain.signing_key[0] != '\0' &&
        p->conf->chain.checkpoint_interval_ms > 0) {
        uv_timer_start(&p->checkpoint_timer, pipe_checkpoint_cb,
                       p->conf->chain.checkpoint_interval_ms,
                       p->conf->chain.checkpoint_interval_ms);
    }
    return 0;
}

void
as_pipeline_checkpoint(struct as_pipeline *p)
{
    struct as_record *r;

    for (size_t i = 0; i < p->st.n_inputs; i++) {
        if (as_chain_checkpoint(p->chains, p->st.inputs[i]->in.id, &r) != 0) {
            continue;
        }
        if (pipe_append_record(p, r) != 0) {
            as_log_warn("checkpoint for %s not buffered: buffer full",
                        p->st.inputs[i]->in.id);
        }
        as_record_free(r);
    }
}

/* ---- stopping and reloading ---- */

static void
pipe_input_stopped_cb(void *stage, int status)
{
    struct as_input *in = stage;
    struct pipe_input *pi = in->core;

    (void) status;
    pi->stopped = true;
    pi->p->closing--;
    pipe_stop_step(pi->p);
}

static void
pipe_output_stopped_cb(void *stage, int status)
{
    struct as_output *o = stage;
    struct pipe_output *po = o->core;

    (void) status;
    po->stopped = true;
    po->p->closing--;
    pipe_stop_step(po->p);
}

static void
pipe_handle_closed_cb(uv_handle_t *h)
{
    struct as_pipeline *p = h->data;

    p->closing--;
    pipe_stop_step(p);
}

static void
pipe_wq_closed_cb(void *arg)
{
    struct as_pipeline *p = arg;

    p->closing--;
    pipe_stop_step(p);
}

static void
pipe_buffer_closed_cb(void *arg, int status)
{
    struct as_pipeline *p = arg;

    if (status != 0) {
        as_log_error("buffer close failed: %s", as_strerror(status));
    }
    p->closing--;
    pipe_stop_step(p);
}

static bool
pipe_all_drained(struct as_pipeline *p)
{
    if (as_buffer_pending(p->buffer)) {
        return false;
    }
    for (size_t i = 0; i < p->st.n_outputs; i++) {
        struct pipe_output *po = p->st.outputs[i];

        if (po->started && (po->used > 0 || !po->idle)) {
            return false;
        }
    }
    return true;
}

static bool
pipe_any_sending(struct as_pipeline *p)
{
    for (size_t i = 0; i < p->st.n_outputs; i++) {
        const struct pipe_output *po = p->st.outputs[i];

        for (size_t k = 0; k < po->n_slots; k++) {
            if (po->slots[k].state == PIPE_SLOT_SENDING ||
                po->slots[k].state == PIPE_SLOT_JOURNAL) {
                return true;
            }
        }
    }
    return false;
}

/* A batch journal write is on the thread pool. */
static bool
pipe_any_journal(const struct as_pipeline *p)
{
    for (size_t i = 0; i < p->st.n_outputs; i++) {
        if (p->st.outputs[i]->j_busy) {
            return true;
        }
    }
    return false;
}

static void
pipe_drain_cb(uv_timer_t *t)
{
    struct as_pipeline *p = t->data;

    for (size_t i = 0; i < p->st.n_outputs; i++) {
        pipe_kick(p->st.outputs[i]);
    }
    pipe_stop_step(p);
}

static void
pipe_stop_inputs(struct as_pipeline *p)
{
    for (size_t i = 0; i < p->st.n_inputs; i++) {
        struct pipe_input *pi = p->st.inputs[i];

        if (pi->started && !pi->stopped && pi->in.ops->stop != NULL) {
            p->closing++;
            pi->in.ops->stop(&pi->in, pipe_input_stopped_cb);
        }
    }
}

static void
pipe_reload_finish(struct as_pipeline *p)
{
    void (*done)(void *, int) = p->done;
    void *arg = p->done_arg;
    struct as_error err;
    int rc;

    pipe_stages_free(&p->st);
    p->st = p->next;
    memset(&p->next, 0, sizeof(p->next));
    p->conf = p->next_conf;
    p->next_conf = NULL;
    pipe_jobs_free_cache(p); /* their clones belong to the old scrubber */
    as_scrub_free(p->scrub);
    p->scrub = p->next_scrub;
    p->next_scrub = NULL;
    p->stopping = false;
    p->phase = PIPE_RUNNING;
    p->done = NULL;
    as_error_clear(&err);
    as_buffer_reconfigure(p->buffer, &p->conf->buffer);
    if ((rc = as_chainset_reconfigure(p->chains, &p->conf->chain, &err)) != 0) {
        as_log_error("reload: chain: %s", err.msg);
    }
    uv_timer_stop(&p->checkpoint_timer);
    rc = as_pipeline_start(p);
    if (done != NULL) {
        done(arg, rc);
    }
}

/*
 * The stop (and reload) state machine: every completion calls it again, and
 * it moves on only when the current phase has no pending completions.  A
 * reload skips the checkpoint and drain phases and ends by starting the new
 * stages instead of closing the buffer.
 */
static void
pipe_stop_step(struct as_pipeline *p)
{
    if (!p->stopping || p->closing > 0) {
        return;
    }
    switch (p->phase) {
    case PIPE_RUNNING:
        return;
    case PIPE_STOP_INPUTS:
        /* What the inputs emitted is committed before anything else. */
        pipe_job_dispatch(p);
        if (p->jobs_head != NULL) {
            return;
        }
        if (!p->reloading) {
            /* All inputs have stopped: seal, then let outputs drain. */
            if (p->conf->chain.enabled && p->conf->chain.signing_key != NULL &&
                p->conf->chain.signing_key[0] != '\0') {
                as_pipeline_checkpoint(p);
            }
            p->draining = true;
            p->drain_deadline =
                as_mono_ms() + p->conf->agent.shutdown_timeout_ms;
            p->phase = PIPE_DRAIN;
            uv_timer_start(&p->drain_timer, pipe_drain_cb, 0, 20);
            return;
        }
        p->phase = PIPE_DRAIN;
        AS_FALLTHROUGH;
    case PIPE_DRAIN:
        if (!p->reloading) {
            if (!pipe_all_drained(p) && as_mono_ms() < p->drain_deadline) {
                return;
            }
            if (!pipe_all_drained(p)) {
                as_log_warn("shutdown_timeout reached: undelivered events "
                            "stay in the buffer for the next start");
            }
            uv_timer_stop(&p->drain_timer);
        }
        for (size_t i = 0; i < p->st.n_outputs; i++) {
            struct pipe_output *po = p->st.outputs[i];

            po->stopping = true;
            if (po->timer_init) {
                uv_timer_stop(&po->timer);
                for (size_t k = 0; k < po->n_slots; k++) {
                    uv_timer_stop(&po->slots[k].timer);
                }
            }
        }
        p->phase = PIPE_WAIT_SENDS;
        AS_FALLTHROUGH;
    case PIPE_WAIT_SENDS:
        /* A reload lets the batches in flight finish (fewer sent twice;
         * the new runner forms the others again from the batch journal);
         * a stop past its drain deadline has the outputs' stop abort
         * them.  Both wait for a journal write on the thread pool. */
        if ((p->reloading && pipe_any_sending(p)) || pipe_any_journal(p)) {
            return;
        }
        p->phase = PIPE_STOP_OUTPUTS;
        for (size_t i = 0; i < p->st.n_outputs; i++) {
            struct pipe_output *po = p->st.outputs[i];

            if (po->started && po->out.ops->stop != NULL) {
                p->closing++;
                po->out.ops->stop(&po->out, pipe_output_stopped_cb);
            }
        }
        if (p->closing > 0) {
            return;
        }
        AS_FALLTHROUGH;
    case PIPE_STOP_OUTPUTS:
        p->phase = PIPE_CLOSE_HANDLES;
        for (size_t i = 0; i < p->st.n_outputs; i++) {
            struct pipe_output *po = p->st.outputs[i];

            if (po->timer_init) {
                po->timer.data = p;
                p->closing++;
                uv_close((uv_handle_t *) &po->timer, pipe_handle_closed_cb);
                for (size_t k = 0; k < po->n_slots; k++) {
                    po->slots[k].timer.data = p;
                    p->closing++;
                    uv_close((uv_handle_t *) &po->slots[k].timer,
                             pipe_handle_closed_cb);
                }
                po->timer_init = false;
            }
        }
        if (!p->reloading && p->timers_init) {
            p->closing += 3;
            uv_close((uv_handle_t *) &p->checkpoint_timer,
                     pipe_handle_closed_cb);
            uv_close((uv_handle_t *) &p->drain_timer, pipe_handle_closed_cb);
            uv_close((uv_handle_t *) &p->check, pipe_handle_closed_cb);
            p->closing++;
            uv_close((uv_handle_t *) &p->auditd_timer, pipe_handle_closed_cb);
            p->closing++;
            as_workq_close(p->wq, pipe_wq_closed_cb, p);
            p->wq = NULL;
        }
        if (p->closing > 0) {
            return;
        }
        AS_FALLTHROUGH;
    case PIPE_CLOSE_HANDLES:
        if (p->reloading) {
            p->reloading = false;
            pipe_reload_finish(p);
            return;
        }
        p->phase = PIPE_CLOSE_BUFFER;
        p->closing++;
        as_buffer_close(p->buffer, pipe_buffer_closed_cb, p);
        return;
    case PIPE_CLOSE_BUFFER:
        p->phase = PIPE_DONE;
        if (p->done != NULL) {
            p->done(p->done_arg, 0);
        }
        return;
    case PIPE_DONE:
        return;
    }
}

void
as_pipeline_stop(struct as_pipeline *p, void (*done)(void *arg, int status),
                 void *arg)
{
    if (p->stopping) {
        return;
    }
    p->stopping = true;
    p->done = done;
    p->done_arg = arg;
    p->phase = PIPE_STOP_INPUTS;
    if (p->timers_init) {
        uv_timer_stop(&p->checkpoint_timer);
    }
    pipe_stop_inputs(p);
    pipe_stop_step(p);
}

void
as_pipeline_reload(struct as_pipeline *p, const struct as_config *conf,
                   void (*done)(void *arg, int status), void *arg)
{
    struct as_conf_errors errs = {NULL, 0};
    struct pipe_stages next;
    struct as_scrub *scrub = NULL;
    struct as_error err;

    if (p->stopping) {
        done(arg, AS_ERR_STOPPED);
        return;
    }
    as_error_clear(&err);
    if (as_scrub_new_config(conf, &scrub, &err) != 0) {
        as_log_error("reload rejected: %s:%d:%d: %s", conf->path, err.line,
                     err.col, err.msg);
        done(arg, AS_ERR_CONFIG);
        return;
    }
    if (pipe_stages_build(p, conf, &next, &errs) != 0) {
        as_scrub_free(scrub);
        for (size_t i = 0; i < errs.n; i++) {
            as_log_error("reload rejected: %s:%d:%d: %s", conf->path,
                         errs.v[i].line, errs.v[i].col, errs.v[i].msg);
        }
        as_conf_errors_free(&errs);
        pipe_stages_free(&next);
        done(arg, AS_ERR_CONFIG);
        return;
    }
    as_conf_errors_free(&errs);
    p->next = next;
    p->next_conf = conf;
    p->next_scrub = scrub;
    p->reloading = true;
    p->stopping = true;
    p->done = done;
    p->done_arg = arg;
    p->phase = PIPE_STOP_INPUTS;
    pipe_stop_inputs(p);
    pipe_stop_step(p);
}

bool
as_pipeline_input_counters(struct as_pipeline *p, const char *id,
                           struct as_stage_counters *out)
{
    for (size_t i = 0; i < p->st.n_inputs; i++) {
        if (strcmp(p->st.inputs[i]->in.id, id) == 0) {
            *out = p->st.inputs[i]->c;
            return true;
        }
    }
    return false;
}

bool
as_pipeline_output_counters(struct as_pipeline *p, const char *id,
                            struct as_stage_counters *out)
{
    for (size_t i = 0; i < p->st.n_outputs; i++) {
        if (strcmp(p->st.outputs[i]->out.id, id) == 0) {
            *out = p->st.outputs[i]->c;
            return true;
        }
    }
    return false;
}

/*
 * --check: the directory that holds `path` (or would: its closest existing
 * ancestor) must allow `mode` (access(2)).  A missing directory is fine when
 * it can be created or may appear later (input globs).
 */
static int
pipe_check_dir(const struct as_config *conf, struct as_conf_errors *errs,
               const char *key, const char *what, const char *path, bool parent,
               int mode)
{
    char *dir = as_strdup(path);
    char *slash;
    struct stat sb;
    int line, col, rc = 0;

    if (parent && (slash = strrchr(dir, '/')) != NULL) {
        *slash = '\0';
    }
    while (dir[0] != '\0' && stat(dir, &sb) != 0) {
        if ((slash = strrchr(dir, '/')) == NULL) {
            dir[0] = '\0';
            break;
        }
        *slash = '\0';
    }
    if (dir[0] == '\0' && path[0] == '/') {
        snprintf(dir, strlen(path) + 1, "/");
    }
    if (dir[0] != '\0' && access(dir, mode) != 0) {
        as_config_mark(conf, key, &line, &col);
        as_conf_errors_add(errs, conf->path, line, col, "%s: %s: %s", what, dir,
                           strerror(errno));
        rc = AS_ERR_CONFIG;
    }
    free(dir);
    return rc;
}

int
as_pipeline_check(const struct as_config *conf, struct as_conf_errors *errs)
{
    struct pipe_stages st;
    struct as_chainset *cs = NULL;
    struct as_scrub *scrub = NULL;
    struct as_error err;
    char *bufdir = NULL;
    struct stat sb;
    int rc = 0;

    if (pipe_stages_build(NULL, conf, &st, errs) != 0) {
        rc = AS_ERR_CONFIG;
    }
    pipe_stages_free(&st);
    if (pipe_check_dir(conf, errs, "agent.state_dir", "state_dir not writable",
                       conf->agent.state_dir, false, W_OK | X_OK) != 0) {
        rc = AS_ERR_CONFIG;
    }
    for (size_t i = 0; i < conf->n_inputs; i++) {
        const struct as_conf_stage *cs_in = &conf->inputs[i];
        const struct as_conf_input_file *fc = cs_in->conf;
        char key[64];

        if (cs_in->st == NULL || strcmp(cs_in->type, "file") != 0) {
            continue;
        }
        snprintf(key, sizeof(key), "inputs[%zu].paths", i);
        for (size_t k = 0; k < fc->paths.n; k++) {
            if (strpbrk(fc->paths.v[k], "*?[") != NULL &&
                strpbrk(strrchr(fc->paths.v[k], '/') != NULL
                            ? strrchr(fc->paths.v[k], '/')
                            : fc->paths.v[k],
                        "*?[") == NULL) {
                continue; /* a glob in a directory name: checked at run */
            }
            if (pipe_check_dir(conf, errs, key, "directory not readable",
                               fc->paths.v[k], true, R_OK | X_OK) != 0) {
                rc = AS_ERR_CONFIG;
            }
        }
    }
    for (size_t i = 0; i < conf->n_outputs; i++) {
        const struct as_conf_stage *cs_out = &conf->outputs[i];
        char key[64];

        if (cs_out->st == NULL || strcmp(cs_out->type, "file") != 0) {
            continue;
        }
        snprintf(key, sizeof(key), "outputs[%zu].path", i);
        if (pipe_check_dir(
                conf, errs, key, "directory not writable",
                ((const struct as_conf_output_file *) cs_out->conf)->path, true,
                W_OK | X_OK) != 0) {
            rc = AS_ERR_CONFIG;
        }
    }
    as_error_clear(&err);
    if (as_chainset_new(&conf->chain, conf->agent.hostname, &cs, &err) != 0) {
        int line, col;

        as_config_mark(conf, "chain.signing_key", &line, &col);
        as_conf_errors_add(errs, conf->path, line, col, "%s", err.msg);
        rc = AS_ERR_CONFIG;
    }
    as_chainset_free(cs);
    as_error_clear(&err);
    if (as_scrub_new_config(conf, &scrub, &err) != 0) {
        as_conf_errors_add(errs, conf->path, err.line, err.col, "%s", err.msg);
        rc = AS_ERR_CONFIG;
    }
    as_scrub_free(scrub);
    as_asprintf(&bufdir, "%s/buffer", conf->agent.state_dir);
    if (stat(bufdir, &sb) == 0 && as_buffer_check(bufdir, stderr) != 0) {
        as_conf_errors_add(errs, conf->path, 0, 0,
                           "the buffer in %s is damaged (details above); the "
                           "agent salvages what it can at start",
                           bufdir);
        rc = AS_ERR_CORRUPT;
    }
    free(bufdir);
    return rc;
}

void
as_pipeline_free(struct as_pipeline *p)
{
    if (p == NULL) {
        return;
    }
    pipe_job_free(p->open);
    pipe_jobs_free_cache(p);
    pipe_rec_clear(&p->rec);
    free(p->rec.line.data);
    pipe_stages_free(&p->st);
    as_buffer_free(p->buffer);
    as_chainset_free(p->chains);
    as_scrub_free(p->scrub);
    while (p->positions != NULL) {
        struct pipe_pos *e = p->positions;

        p->positions = e->next;
        free(e->input);
        free(e->source);
        free(e);
    }
    free(p->dl_path);
    free(p);
}
