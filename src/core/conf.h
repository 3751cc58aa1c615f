/*
 * The configuration: one generic libyaml walker driven by declarative key
 * tables (conf_schema.c).  The walker, not the plugins, rejects unknown keys,
 * wrong types, bad sizes and durations, and reports each problem as
 * FILE:LINE:COLUMN: message.  A reload builds a complete new struct
 * as_config and swaps it in only when it is valid.
 */
#ifndef AS_CONF_H
#define AS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

enum as_conf_type {
    AS_CONF_STR,      /* char *            (strdup'ed; "" when empty) */
    AS_CONF_BOOL,     /* bool */
    AS_CONF_INT,      /* int64_t */
    AS_CONF_SIZE,     /* uint64_t bytes: 512, 64KiB, 1MiB, 1GiB */
    AS_CONF_DURATION, /* uint64_t milliseconds: 500ms, 10s, 1m, 1h */
    AS_CONF_ENUM,     /* int: index into choices */
    AS_CONF_LIST,     /* struct as_strlist: sequence of scalars */
    AS_CONF_MAP,      /* struct as_kvlist: mapping scalar -> scalar */
    AS_CONF_SECTION,  /* nested mapping described by `sub`, struct at off */
    AS_CONF_SECTIONS, /* sequence of mappings described by `sub`:
                         struct as_conf_array of item_size items */
};

/*
 * Optional extra check of each key of a MAP (e.g. HTTP status codes):
 * returns NULL when `key` is fine, else a static phrase saying what it must
 * be.  (Additive: the values of a MAP are checked against `choices`.)
 */
typedef const char *as_conf_check_fn(const char *key);

struct as_conf_key {
    const char *name;
    enum as_conf_type type;
    const char *def; /* default as YAML scalar text, parsed like input */
    size_t off;      /* offset of the field in the enclosing struct */
    const char *const *choices;    /* ENUM values, NULL-terminated */
    const char *help;              /* one line; documented in conf/ */
    const struct as_conf_key *sub; /* SECTION/SECTIONS: NULL-name-ended */
    size_t item_size;              /* SECTIONS: size of one item */
    as_conf_check_fn *check_key;   /* MAP: optional key check (additive) */
};

struct as_strlist {
    char **v;
    size_t n;
};

struct as_kv {
    char *key;
    char *val;
    int line, col;
};

struct as_kvlist {
    struct as_kv *v;
    size_t n;
};

struct as_conf_array {
    void *items; /* n * item_size bytes */
    size_t n;
};

/* Where a key was set, for plugins' cross-key checks (0 = default). */
struct as_conf_mark {
    int line, col;
};

/* ---- section structs ---- */

enum as_log_level_choice {
    AS_CONF_LOG_ERROR,
    AS_CONF_LOG_WARN,
    AS_CONF_LOG_INFO,
    AS_CONF_LOG_DEBUG
};

struct as_conf_agent {
    char *state_dir;
    char *hostname; /* resolved to gethostname() when "" */
    int log_level;  /* enum as_log_level */
    uint64_t shutdown_timeout_ms;
    struct {
        char *listen;
    } http;
};

enum { AS_ON_INVALID_DEADLETTER, AS_ON_INVALID_PASS, AS_ON_INVALID_DROP };
enum { AS_SCHEMA_AUDIT, AS_SCHEMA_NONE };

struct as_conf_validate {
    int schema;
    int on_invalid;
};

struct as_conf_scrub_custom {
    char *name;
    char *regex;
};

struct as_conf_scrub {
    struct as_strlist keys;
    struct as_strlist patterns;
    struct as_conf_array custom; /* of struct as_conf_scrub_custom */
    char *replacement;
    char *key_file;
};

struct as_conf_chain {
    bool enabled;
    char *signing_key;
    uint64_t checkpoint_interval_ms;
};

enum { AS_BUFFER_DISK, AS_BUFFER_MEMORY };
enum { AS_FSYNC_ALWAYS, AS_FSYNC_BATCH, AS_FSYNC_NEVER };
enum { AS_WHEN_FULL_BLOCK, AS_WHEN_FULL_DROP_NEWEST };

struct as_conf_buffer {
    int type;
    uint64_t max_bytes;
    int fsync;
    int when_full;
};

/* ---- plugin conf structs (one per type) ---- */

enum { AS_FORMAT_JSON, AS_FORMAT_AUDITD, AS_FORMAT_SYSLOG, AS_FORMAT_RAW };
enum { AS_START_BEGINNING, AS_START_END };

struct as_conf_input_file {
    struct as_strlist paths;
    struct as_strlist exclude;
    int format;
    int start_at;
    uint64_t max_line_bytes;
    uint64_t rescan_interval_ms; /* extension: periodic glob rescan */
};

enum { AS_SOCK_STREAM, AS_SOCK_DATAGRAM };

struct as_conf_input_socket {
    char *path;
    int mode;
    int format;
    char *permissions;
    char *group;
    uint64_t max_line_bytes;
};

struct as_conf_batch {
    int64_t max_events;
    uint64_t max_bytes;
    uint64_t timeout_ms;
};

struct as_conf_retry {
    uint64_t initial_ms;
    uint64_t max_ms;
};

struct as_conf_tls {
    bool verify;
    char *ca_file;
    char *cert_file;
    char *key_file;
};

struct as_conf_auth {
    char *bearer_token;
    char *basic_user;
    char *basic_password;
};

enum { AS_ENC_NDJSON, AS_ENC_JSON_ARRAY };
enum { AS_COMPRESS_GZIP, AS_COMPRESS_NONE };

struct as_conf_output_http {
    char *url;
    int format;
    int compression;
    int64_t compression_level;
    struct as_conf_batch batch;
    struct as_kvlist headers;
    struct as_conf_auth auth;
    struct as_conf_tls tls;
    struct as_conf_retry retry;
    struct as_kvlist response_actions;
    int64_t concurrency;
    uint64_t connect_timeout_ms;
    uint64_t request_timeout_ms;
};

struct as_conf_output_cloudwatch {
    char *region;
    char *log_group;
    char *log_stream;
    bool create;
    int64_t retention_days;
    char *endpoint;
    char *profile;
    int compression;
    struct as_conf_batch batch;
    struct as_conf_retry retry;
};

struct as_conf_rotate {
    uint64_t max_bytes;
    int64_t keep;
};

struct as_conf_output_file {
    char *path;
    struct as_conf_rotate rotate;
    struct as_conf_batch batch;
};

/* ---- inputs and outputs ---- */

/*
 * One entry of `inputs:` or `outputs:`.  `type` selects a struct
 * as_stage_type from the registry, whose key table fills `conf` (conf_size
 * bytes, owned).
 */
struct as_conf_stage {
    char *id;
    char *type;
    const struct as_stage_type *st;
    void *conf;
    struct as_strlist inputs; /* outputs only: routed input ids, [] = all */
    int line, col;            /* where the entry starts */
};

/* Where a key's value stands in the file: "agent.state_dir" -> 12:14. */
struct as_conf_markent {
    char *key; /* dotted path as in error messages, e.g. inputs[0].paths */
    int line, col;
};

struct as_config {
    char *path; /* the file it was loaded from */
    struct as_conf_markent *marks;
    size_t n_marks, cap_marks;
    struct as_conf_agent agent;
    struct as_conf_validate validate;
    struct as_conf_scrub scrub;
    struct as_conf_chain chain;
    struct as_conf_buffer buffer;
    struct as_conf_stage *inputs;
    size_t n_inputs;
    struct as_conf_stage *outputs;
    size_t n_outputs;
};

/*
 * Problems found while loading: every one is kept so --check can print them
 * all, one `FILE:LINE:COLUMN: message` line each.
 */
struct as_conf_errors {
    struct as_error *v;
    size_t n;
};

/*
 * Loads and validates `path`.  On success returns 0 and *out (free with
 * as_config_free).  On failure returns AS_ERR_CONFIG with every problem in
 * errs (free with as_conf_errors_free) and *out = NULL.  Expands ${VAR} and
 * ${VAR:-default} in scalars from the environment.
 */
int as_config_load(const char *path, struct as_config **out,
                   struct as_conf_errors *errs);
/* Loads from memory (tests, fuzzers); `name` is used in error lines. */
int as_config_load_string(const char *name, const char *text, size_t len,
                          struct as_config **out, struct as_conf_errors *errs);
void as_config_free(struct as_config *c);
void as_conf_errors_free(struct as_conf_errors *errs);
/* Appends a located error (plugins' cross-key checks use it too). */
void as_conf_errors_add(struct as_conf_errors *errs, const char *file, int line,
                        int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Prints each problem as one `FILE:LINE:COLUMN: message` line. */
void as_conf_errors_print(const struct as_conf_errors *e, FILE *out);

/* Value parsers, exposed for tests and for callers outside the walker. */
int as_parse_size(const char *s, uint64_t *out);
int as_parse_duration(const char *s, uint64_t *out_ms);

/*
 * Where the value of `key` (a dotted path: "agent.state_dir",
 * "outputs[1].path") was set in the file.  Returns false (line = col = 0)
 * for a key left at its default.
 */
bool as_config_mark(const struct as_config *c, const char *key, int *line,
                    int *col);

/* Looks up a stage conf by input id; NULL when absent. */
const struct as_conf_stage *as_config_input(const struct as_config *c,
                                            const char *id);
/* true when output o takes events of input id (its `inputs` list). */
bool as_conf_output_routes(const struct as_conf_stage *o, const char *input);

#endif
