/*
 * The scrub stage: removes secrets by key and by pattern before anything
 * touches disk.  Keys: the value of a member whose name matches scrub.keys
 * (case- and separator-insensitive, any depth) is replaced whatever its
 * type.  Patterns: the detectors named in scrub.patterns (see
 * docs/SCRUBBING.md) and scrub.custom run over every string value (and over
 * the raw bytes of invalid records); only the secret part of a match is
 * replaced.  Replacement: scrub.replacement, or "hmac" for "hmac:" + 16 hex
 * of HMAC-SHA256 keyed with the contents of scrub.key_file.
 */
#ifndef AS_SCRUB_H
#define AS_SCRUB_H

#include <stdint.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/record.h"

struct as_scrub;

/*
 * Builds a scrubber.  Returns 0, or AS_ERR_CONFIG with err->msg naming the
 * key ("scrub.patterns", "scrub.custom[1].regex", "scrub.key_file").
 */
int as_scrub_new(const struct as_conf_scrub *conf, struct as_scrub **out,
                 struct as_error *err);
/*
 * As as_scrub_new, and on error fills err->file, line and col from where
 * the offending key is set in c (as_config_mark).
 */
int as_scrub_new_config(const struct as_config *c, struct as_scrub **out,
                        struct as_error *err);
void as_scrub_free(struct as_scrub *s);

/*
 * A scrubber is not thread-safe (match data, span scratch, counters).  A
 * clone shares s's compiled detectors and keys (read-only while matching)
 * and has its own scratch and zeroed counters, so each worker thread can
 * scrub with its own clone.  A clone must be freed (as_scrub_free) before s.
 * as_scrub_merge_counts adds a clone's counters to s and zeroes them; call
 * it on s's thread while the clone is idle.
 */
struct as_scrub *as_scrub_clone(const struct as_scrub *s);
void as_scrub_merge_counts(struct as_scrub *s, struct as_scrub *clone);
/*
 * Scrubs r->obj in place and adds to r->redacted.  For invalid records the
 * raw_base64 bytes are decoded, scrubbed and re-encoded; for records
 * flagged AS_REC_TRUNCATED the last word of the kept bytes is redacted too
 * (a secret cut at the limit is not recognisable, so it is not kept).
 */
void as_scrub_record(struct as_scrub *s, struct as_record *r);
/*
 * Runs the pattern detectors over in[0..len) (any bytes).  When something
 * is redacted, returns the number of redactions and leaves the scrubbed
 * bytes in out (reset first); returns 0 and leaves out alone otherwise.
 */
unsigned as_scrub_bytes(struct as_scrub *s, const char *in, size_t len,
                        struct as_buf *out);

/* Per-detector counters (built-ins first, then scrub.custom), for metrics. */
size_t as_scrub_n_detectors(const struct as_scrub *s);
const char *as_scrub_detector_name(const struct as_scrub *s, size_t i);
uint64_t as_scrub_detector_hits(const struct as_scrub *s, size_t i);
/* Redactions by key, and candidates left alone as placeholders. */
uint64_t as_scrub_key_hits(const struct as_scrub *s);
uint64_t as_scrub_placeholders(const struct as_scrub *s);

/*
 * Tests only: makes s run every detector over every string, without the
 * prefilters (anchors, run lengths, minimum lengths, needed bytes), so
 * that a test can check they change no result.  Call before as_scrub_clone.
 */
void as__scrub_without_prefilter(struct as_scrub *s);

/* Every built-in detector name, NULL-terminated (docs and tests). */
const char *const *as_scrub_builtin_names(void);

#endif
