/*
 * RFC 8785 (JCS) canonical JSON serialization of a json-c tree, with the
 * project's one documented departure: an integer that fits in 64 bits
 * (json-c int64 or uint64) is written with all its digits.  Doubles are
 * written in ECMAScript Number.prototype.toString form; object members are
 * sorted by their UTF-16 code units; strings use the minimal JCS escapes.
 */
#ifndef AS_JCS_H
#define AS_JCS_H

#include <json-c/json.h>

#include "buf.h"

/*
 * Appends the canonical form of obj to out.  Returns 0, AS_ERR_INVALID for a
 * value JCS cannot express (NaN, Infinity, a string that is not valid
 * UTF-8), or AS_ERR_TOOBIG when out->max would be exceeded.
 */
int as_jcs_write(struct as_buf *out, struct json_object *obj);

/*
 * As as_jcs_write, and sets *mark_off to the offset in out at which the
 * value `mark` (a node inside obj, compared by address) starts.  Used by the
 * chain stage to splice the hash member in without serializing twice.
 */
int as_jcs_write_mark(struct as_buf *out, struct json_object *obj,
                      const struct json_object *mark, size_t *mark_off);

/* ES6 number to string; returns length, or AS_ERR_INVALID for NaN/Inf. */
int as_jcs_number(double d, char out[32]);

/* Appends s (len bytes) as a JCS string literal with quotes. */
int as_jcs_string(struct as_buf *out, const char *s, size_t len);

#endif
