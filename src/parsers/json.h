/*
 * The `json` decoder: one NDJSON line -> a json-c tree, without altering any
 * value.  json-c does the parsing (strict mode, UTF-8 validation); this
 * module adds what json-c silently changes: lone UTF-16 surrogate escapes
 * are rejected (json-c would turn them into U+FFFD), and integers beyond 64
 * bits become doubles (json-c would saturate them).  Duplicate member names
 * keep the last value, as ECMAScript JSON.parse does (JCS's model).  Also
 * rejected: a byte order mark at the start, numbers that overflow a double
 * (1e400), and "\u0000" inside a member name (json-c would cut the name);
 * see json.c for what else json-c 0.16 lets through that we refuse.
 */
#ifndef AS_PARSER_JSON_H
#define AS_PARSER_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "../core/error.h"

#define AS_JSON_MAX_DEPTH 64

/*
 * Parses exactly one JSON value spanning buf[0..len) (surrounding JSON
 * whitespace allowed; a trailing '\r' too).  Returns 0 and *out (owned by
 * the caller, json_object_put), or AS_ERR_PARSE with a reason in err->msg
 * naming the byte offset.
 */
int as_parse_json(const char *buf, size_t len, struct json_object **out,
                  struct as_error *err);

#endif
