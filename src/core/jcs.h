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

/* Where as_jcs_write_gap's absent member goes relative to its neighbours. */
enum as_jcs_gap_sep {
    AS_JCS_GAP_NONE,   /* the object is empty: insert `"key":v` */
    AS_JCS_GAP_AFTER,  /* first of several: insert `"key":v,` */
    AS_JCS_GAP_BEFORE, /* after another member: insert `,"key":v` */
};

/*
 * Appends the canonical form of the object obj, which has no member named
 * key (a NUL-terminated UTF-8 string), and sets *gap_off to the offset in
 * out at which that member belongs in sorted order and *sep to the comma it
 * then needs.  Lets the chain stage write its own member as text.  Errors as
 * as_jcs_write, and AS_ERR_INVALID when obj is not an object or already has
 * the member.
 */
int as_jcs_write_gap(struct as_buf *out, struct json_object *obj,
                     const char *key, size_t *gap_off,
                     enum as_jcs_gap_sep *sep);

/* Append an integer as as_jcs_write does (all digits, no exponent). */
int as_jcs_int64(struct as_buf *out, int64_t v);
int as_jcs_uint64(struct as_buf *out, uint64_t v);

/* ES6 number to string; returns length, or AS_ERR_INVALID for NaN/Inf. */
int as_jcs_number(double d, char out[32]);

/* Appends s (len bytes) as a JCS string literal with quotes. */
int as_jcs_string(struct as_buf *out, const char *s, size_t len);

#endif
