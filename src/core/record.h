/*
 * struct as_record: one event on its way from an input to the buffer.
 *
 * Ownership: a record has one owner at a time.  Inputs hand bytes to the core
 * (struct as_input.emit); the core decodes them into a record, runs the
 * processors (validate, enrich, scrub, chain), which mutate it in place, then
 * appends the sealed line to the buffer and frees the record.
 */
#ifndef AS_RECORD_H
#define AS_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"

/*
 * Where an event came from inside a file, so that a restart resumes after
 * it.  A file is identified by device + inode + a fingerprint of its first
 * fp_len bytes (fp_len < AS_FP_MAX while the file is shorter than that), so a
 * reused inode never inherits an old offset.
 */
#define AS_FP_MAX 256
struct as_srcpos {
    uint64_t dev;
    uint64_t ino;
    uint64_t fp;     /* 64-bit hash of the first fp_len bytes */
    uint32_t fp_len; /* 0 = unknown (non-file sources) */
    uint64_t offset; /* byte offset just past this event's bytes */
};

/* Kernel-attested identity of a socket peer (issue: socket input). */
struct as_peer {
    bool valid;
    int64_t pid, uid, gid;
    char comm[32];
    char *exe;  /* owned */
    char *unit; /* owned */
};

/* What an input tells the core about bytes it emits. */
struct as_srcinfo {
    const char *source; /* file path or socket path; borrowed */
    bool has_pos;       /* pos is meaningful (file inputs) */
    struct as_srcpos pos;
    const struct as_peer *peer; /* socket inputs; NULL otherwise */
};

enum as_rec_flags {
    AS_REC_INVALID = 1 << 0,    /* decode or validation failed: raw+error */
    AS_REC_DEADLETTER = 1 << 1, /* route to the dead-letter sink only */
    AS_REC_CHECKPOINT = 1 << 2, /* synthesized chain checkpoint */
    AS_REC_TRUNCATED = 1 << 3,  /* raw holds the first max_line_bytes only */
};

struct as_record {
    struct json_object *obj; /* the event's own members; owned */
    const char *input;       /* input id; borrowed from the running config */
    char *source;            /* owned copy of as_srcinfo.source; may be NULL */
    bool has_pos;
    struct as_srcpos pos;
    struct as_peer peer;
    int64_t received_ns; /* CLOCK_REALTIME at receipt */
    unsigned flags;      /* enum as_rec_flags */
    unsigned redacted;   /* redactions made by scrub */
    char *error;         /* owned; why the record is invalid */

    /* Filled by the chain stage (as_chain_seal). */
    char chain[256]; /* chain id "{host}/{input}"; "" when chaining is off */
    char epoch[33];  /* 32 hex */
    uint64_t seq;
    char hash[65];      /* 64 hex; "" when chaining is off */
    struct as_buf line; /* the canonical NDJSON line, without newline */
    size_t gap;         /* as_chain_prepare: where `auditship` goes in line */
    int gap_sep;        /* enum as_jcs_gap_sep */
};

struct as_record *as_record_new(const char *input,
                                const struct as_srcinfo *src);
void as_record_free(struct as_record *r);

/*
 * Turns r into an invalid-event record: obj becomes {"raw": ..., "error":
 * reason} (or "raw_base64" when the bytes are not valid UTF-8).  The original
 * bytes are copied; the caller still owns them.
 */
void as_record_set_invalid(struct as_record *r, const char *bytes, size_t len,
                           const char *reason);

/* Formats ns since the epoch as RFC 3339 UTC with milliseconds. */
void as_format_time(int64_t ns, char out[32]);
int64_t as_now_ns(void);
uint64_t as_mono_ms(void);

#endif
