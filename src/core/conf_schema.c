/*
 * The key tables: every configuration key auditship knows, with its type,
 * default (YAML text, parsed exactly like user input), the offset of the
 * field it fills and one line of help.  conf.c walks these tables; nothing
 * else in the agent knows key names.  conf/auditship.yaml documents every
 * key with the same default and help (tests/unit/test_conf.c diffs them).
 *
 * Invariants: each table ends with an entry whose name is NULL; the order
 * of `choices` is the numbering of the matching enum in conf.h; a key whose
 * def is NULL (except SECTION) is required.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf_schema.h"

#define KEY(n, t, d, s, f, h)                                                  \
    {                                                                          \
        .name = (n), .type = (t), .def = (d), .off = offsetof(s, f),           \
        .help = (h)                                                            \
    }
#define KEYE(n, d, s, f, c, h)                                                 \
    {                                                                          \
        .name = (n), .type = AS_CONF_ENUM, .def = (d), .off = offsetof(s, f),  \
        .choices = (c), .help = (h)                                            \
    }
#define KEYS(n, s, f, sb, h)                                                   \
    {                                                                          \
        .name = (n), .type = AS_CONF_SECTION, .off = offsetof(s, f),           \
        .help = (h), .sub = (sb)                                               \
    }
#define KEY_END                                                                \
    {                                                                          \
        .name = NULL                                                           \
    }

/* ---- shared choices ---- */

static const char *const schema_log_levels[] = {"error", "warn", "info",
                                                "debug", NULL};
static const char *const schema_file_formats[] = {"json", "auditd", "syslog",
                                                  "raw", NULL};
/* The socket has no auditd framing: "" keeps AS_FORMAT_* numbering. */
static const char *const schema_socket_formats[] = {"json", "", "syslog", "raw",
                                                    NULL};
static const char *const schema_start_at[] = {"beginning", "end", NULL};
static const char *const schema_sock_modes[] = {"stream", "datagram", NULL};
static const char *const schema_schemas[] = {"audit", "none", NULL};
static const char *const schema_on_invalid[] = {"deadletter", "pass", "drop",
                                                NULL};
static const char *const schema_buffer_types[] = {"disk", "memory", NULL};
static const char *const schema_fsync[] = {"always", "batch", "never", NULL};
static const char *const schema_when_full[] = {"block", "drop_newest", NULL};
static const char *const schema_encodings[] = {"ndjson", "json_array", NULL};
static const char *const schema_compressions[] = {"gzip", "none", NULL};
static const char *const schema_actions[] = {"ack", "retry", "reject",
                                             "deadletter", NULL};

/* response_actions keys are HTTP status codes. */
static const char *
schema_check_status(const char *key)
{
    char *end = NULL;
    long v;

    if (key[0] < '0' || key[0] > '9' || strlen(key) != 3) {
        return "an HTTP status code (100-599)";
    }
    v = strtol(key, &end, 10);
    if (*end != '\0' || v < 100 || v > 599) {
        return "an HTTP status code (100-599)";
    }
    return NULL;
}

/* ---- agent ---- */

/* Offsets inside the anonymous agent.http struct. */
#define AGENT_HTTP_OFF(f)                                                      \
    (offsetof(struct as_conf_agent, http.f) -                                  \
     offsetof(struct as_conf_agent, http))

static const struct as_conf_key schema_agent_http[] = {
    {.name = "listen",
     .type = AS_CONF_STR,
     .def = "127.0.0.1:9880",
     .off = AGENT_HTTP_OFF(listen),
     .help = "Address of the health and metrics server; \"\" disables it."},
    KEY_END,
};

const struct as_conf_key as_keys_agent[] = {
    KEY("state_dir", AS_CONF_STR, "/var/lib/auditship", struct as_conf_agent,
        state_dir, "Directory of the buffer, chain state and checkpoints."),
    KEY("hostname", AS_CONF_STR, "\"\"", struct as_conf_agent, hostname,
        "Host name stamped on records; \"\" means gethostname()."),
    KEYE("log_level", "info", struct as_conf_agent, log_level,
         schema_log_levels,
         "Least severe level logged: error|warn|info|debug."),
    KEY("shutdown_timeout", AS_CONF_DURATION, "10s", struct as_conf_agent,
        shutdown_timeout_ms, "Time allowed to flush and persist on SIGTERM."),
    KEYS("http", struct as_conf_agent, http, schema_agent_http,
         "Health and metrics HTTP server."),
    KEY_END,
};

/* ---- validate ---- */

const struct as_conf_key as_keys_validate[] = {
    KEYE("schema", "audit", struct as_conf_validate, schema, schema_schemas,
         "Event schema to enforce: audit|none."),
    KEYE("on_invalid", "deadletter", struct as_conf_validate, on_invalid,
         schema_on_invalid,
         "What to do with invalid events: deadletter|pass|drop."),
    KEY_END,
};

/* ---- scrub ---- */

static const struct as_conf_key schema_scrub_custom[] = {
    KEY("name", AS_CONF_STR, NULL, struct as_conf_scrub_custom, name,
        "Name of the custom pattern (counted in metrics)."),
    KEY("regex", AS_CONF_STR, NULL, struct as_conf_scrub_custom, regex,
        "PCRE2 regular expression whose matches are redacted."),
    KEY_END,
};

const struct as_conf_key as_keys_scrub[] = {
    KEY("keys", AS_CONF_LIST,
        "[password, passwd, secret, token, api_key, apikey, authorization, "
        "cookie, set-cookie, private_key, client_secret, access_key, session]",
        struct as_conf_scrub, keys,
        "Member names whose values are redacted (case-insensitive)."),
    KEY("patterns", AS_CONF_LIST,
        "[private_key_block, aws_access_key, aws_secret_key, "
        "github_token, gitlab_token, slack_token, slack_webhook, "
        "stripe_key, google_api_key, openai_key, npm_token, "
        "pypi_token, sendgrid_key, twilio_key, azure_storage_key, jwt, "
        "bearer, basic_auth, database_dsn, url_credentials, "
        "secret_assignment, secret_comparison, credit_card, "
        "ibm_cloud_iam, softlayer_key, cloudant_key, ibm_cos_hmac, "
        "artifactory_token, discord_token, mailchimp_key, "
        "telegram_token, square_oauth]",
        struct as_conf_scrub, patterns,
        "Built-in secret patterns redacted inside any string value."),
    {.name = "custom",
     .type = AS_CONF_SECTIONS,
     .def = "[]",
     .off = offsetof(struct as_conf_scrub, custom),
     .help = "Extra patterns: a list of {name, regex}.",
     .sub = schema_scrub_custom,
     .item_size = sizeof(struct as_conf_scrub_custom)},
    KEY("replacement", AS_CONF_STR, "\"[REDACTED]\"", struct as_conf_scrub,
        replacement,
        "Text replacing a secret, or \"hmac\" for a keyed digest."),
    KEY("key_file", AS_CONF_STR, "\"\"", struct as_conf_scrub, key_file,
        "Key file for replacement: hmac."),
    KEY_END,
};

/* ---- chain ---- */

const struct as_conf_key as_keys_chain[] = {
    KEY("enabled", AS_CONF_BOOL, "true", struct as_conf_chain, enabled,
        "Link records into a SHA-256 hash chain per input."),
    KEY("signing_key", AS_CONF_STR, "\"\"", struct as_conf_chain, signing_key,
        "Ed25519 private key (PEM) signing checkpoints; \"\" = unsigned."),
    KEY("checkpoint_interval", AS_CONF_DURATION, "60s", struct as_conf_chain,
        checkpoint_interval_ms, "Time between checkpoint records per chain."),
    KEY_END,
};

/* ---- buffer ---- */

const struct as_conf_key as_keys_buffer[] = {
    KEYE("type", "disk", struct as_conf_buffer, type, schema_buffer_types,
         "Where events wait for outputs: disk|memory."),
    KEY("max_bytes", AS_CONF_SIZE, "1GiB", struct as_conf_buffer, max_bytes,
        "Largest backlog kept before when_full applies."),
    KEYE("fsync", "batch", struct as_conf_buffer, fsync, schema_fsync,
         "When appended events are synced to disk: always|batch|never."),
    KEYE("when_full", "block", struct as_conf_buffer, when_full,
         schema_when_full, "What a full buffer does: block|drop_newest."),
    KEY_END,
};

/* ---- common keys of inputs and outputs ---- */

const struct as_conf_key as_keys_input_common[] = {
    KEY("id", AS_CONF_STR, NULL, struct as_conf_stage, id,
        "Unique input id ([A-Za-z0-9._-]); names the chain and metrics."),
    KEY("type", AS_CONF_STR, NULL, struct as_conf_stage, type,
        "Input type: file|socket."),
    KEY_END,
};

const struct as_conf_key as_keys_output_common[] = {
    KEY("id", AS_CONF_STR, NULL, struct as_conf_stage, id,
        "Unique output id ([A-Za-z0-9._-]); names its cursor and metrics."),
    KEY("type", AS_CONF_STR, NULL, struct as_conf_stage, type,
        "Output type: file|http|cloudwatch_logs."),
    KEY("inputs", AS_CONF_LIST, "[]", struct as_conf_stage, inputs,
        "Input ids routed to this output; [] = all."),
    KEY_END,
};

/* ---- inputs ---- */

const struct as_conf_key as_keys_input_file[] = {
    KEY("paths", AS_CONF_LIST, NULL, struct as_conf_input_file, paths,
        "Files or glob patterns to tail."),
    KEY("exclude", AS_CONF_LIST, "[\"*.gz\"]", struct as_conf_input_file,
        exclude, "Glob patterns of file names never read."),
    KEYE("format", "json", struct as_conf_input_file, format,
         schema_file_formats, "Line format: json|auditd|syslog|raw."),
    KEYE("start_at", "beginning", struct as_conf_input_file, start_at,
         schema_start_at, "Where to start in files first seen: beginning|end."),
    KEY("max_line_bytes", AS_CONF_SIZE, "256KiB", struct as_conf_input_file,
        max_line_bytes, "Longer lines are truncated and flagged."),
    KEY("rescan_interval", AS_CONF_DURATION, "1s", struct as_conf_input_file,
        rescan_interval_ms, "How often the glob patterns are expanded again."),
    KEY_END,
};

const struct as_conf_key as_keys_input_socket[] = {
    KEY("path", AS_CONF_STR, NULL, struct as_conf_input_socket, path,
        "Path of the Unix socket to listen on."),
    KEYE("mode", "stream", struct as_conf_input_socket, mode, schema_sock_modes,
         "stream (newline-delimited) | datagram."),
    KEYE("format", "json", struct as_conf_input_socket, format,
         schema_socket_formats, "Message format: json|syslog|raw."),
    KEY("permissions", AS_CONF_STR, "\"0660\"", struct as_conf_input_socket,
        permissions, "Octal mode of the socket file."),
    KEY("group", AS_CONF_STR, "\"\"", struct as_conf_input_socket, group,
        "Owner group of the socket file; \"\" = the agent's."),
    KEY("max_line_bytes", AS_CONF_SIZE, "256KiB", struct as_conf_input_socket,
        max_line_bytes, "Longer messages are truncated and flagged."),
    KEY_END,
};

/* ---- outputs: shared sub-sections ---- */

static const struct as_conf_key schema_batch[] = {
    KEY("max_events", AS_CONF_INT, "10000", struct as_conf_batch, max_events,
        "Send a batch once it holds this many events."),
    KEY("max_bytes", AS_CONF_SIZE, "1MiB", struct as_conf_batch, max_bytes,
        "Send a batch once it holds this many bytes."),
    KEY("timeout", AS_CONF_DURATION, "1s", struct as_conf_batch, timeout_ms,
        "Send a non-empty batch after this long."),
    KEY_END,
};

/* CloudWatch: the same keys, a longer timeout (fewer PutLogEvents calls). */
static const struct as_conf_key schema_batch_cw[] = {
    KEY("max_events", AS_CONF_INT, "10000", struct as_conf_batch, max_events,
        "Send a batch once it holds this many events."),
    KEY("max_bytes", AS_CONF_SIZE, "1MiB", struct as_conf_batch, max_bytes,
        "Send a batch once it holds this many bytes."),
    KEY("timeout", AS_CONF_DURATION, "5s", struct as_conf_batch, timeout_ms,
        "Send a non-empty batch after this long."),
    KEY_END,
};

static const struct as_conf_key schema_retry[] = {
    KEY("initial", AS_CONF_DURATION, "500ms", struct as_conf_retry, initial_ms,
        "First retry delay (full-jitter exponential backoff)."),
    KEY("max", AS_CONF_DURATION, "60s", struct as_conf_retry, max_ms,
        "Largest retry delay."),
    KEY_END,
};

static const struct as_conf_key schema_auth[] = {
    KEY("bearer_token", AS_CONF_STR, "\"\"", struct as_conf_auth, bearer_token,
        "Sent as Authorization: Bearer; use ${VAR}."),
    KEY("basic_user", AS_CONF_STR, "\"\"", struct as_conf_auth, basic_user,
        "HTTP basic auth user."),
    KEY("basic_password", AS_CONF_STR, "\"\"", struct as_conf_auth,
        basic_password, "HTTP basic auth password; use ${VAR}."),
    KEY_END,
};

static const struct as_conf_key schema_tls[] = {
    KEY("verify", AS_CONF_BOOL, "true", struct as_conf_tls, verify,
        "Verify the server certificate and host name."),
    KEY("ca_file", AS_CONF_STR, "\"\"", struct as_conf_tls, ca_file,
        "CA bundle (PEM); \"\" = the system's."),
    KEY("cert_file", AS_CONF_STR, "\"\"", struct as_conf_tls, cert_file,
        "Client certificate (PEM) for mutual TLS."),
    KEY("key_file", AS_CONF_STR, "\"\"", struct as_conf_tls, key_file,
        "Client private key (PEM) for mutual TLS."),
    KEY_END,
};

static const struct as_conf_key schema_rotate[] = {
    KEY("max_bytes", AS_CONF_SIZE, "100MiB", struct as_conf_rotate, max_bytes,
        "Rotate the file once it reaches this size."),
    KEY("keep", AS_CONF_INT, "10", struct as_conf_rotate, keep,
        "Rotated files kept."),
    KEY_END,
};

/* ---- outputs ---- */

const struct as_conf_key as_keys_output_http[] = {
    KEY("url", AS_CONF_STR, NULL, struct as_conf_output_http, url,
        "Collector URL (http or https)."),
    KEYE("format", "ndjson", struct as_conf_output_http, format,
         schema_encodings, "Body encoding: ndjson|json_array."),
    KEYE("compression", "gzip", struct as_conf_output_http, compression,
         schema_compressions, "Body compression: gzip|none."),
    KEY("compression_level", AS_CONF_INT, "1", struct as_conf_output_http,
        compression_level, "gzip level, 1 (fast) to 9 (small)."),
    KEYS("batch", struct as_conf_output_http, batch, schema_batch,
         "Batching limits."),
    {.name = "headers",
     .type = AS_CONF_MAP,
     .def = "{}",
     .off = offsetof(struct as_conf_output_http, headers),
     .help = "Extra request headers: {name: value}."},
    KEYS("auth", struct as_conf_output_http, auth, schema_auth, "Credentials."),
    KEYS("tls", struct as_conf_output_http, tls, schema_tls, "TLS settings."),
    KEYS("retry", struct as_conf_output_http, retry, schema_retry,
         "Retry backoff."),
    {.name = "response_actions",
     .type = AS_CONF_MAP,
     .def = "{}",
     .off = offsetof(struct as_conf_output_http, response_actions),
     .choices = schema_actions,
     .help = "Status code overrides: {409: ack}; ack|retry|reject|deadletter.",
     .check_key = schema_check_status},
    KEY("concurrency", AS_CONF_INT, "2", struct as_conf_output_http,
        concurrency, "Requests in flight at once (1-64)."),
    KEY("connect_timeout", AS_CONF_DURATION, "10s", struct as_conf_output_http,
        connect_timeout_ms, "Longest wait for a connection (TCP and TLS)."),
    KEY("request_timeout", AS_CONF_DURATION, "30s", struct as_conf_output_http,
        request_timeout_ms,
        "Longest time for a whole request; then it is retried."),
    KEY_END,
};

const struct as_conf_key as_keys_output_cloudwatch[] = {
    KEY("region", AS_CONF_STR, NULL, struct as_conf_output_cloudwatch, region,
        "AWS region, e.g. us-east-1."),
    KEY("log_group", AS_CONF_STR, NULL, struct as_conf_output_cloudwatch,
        log_group, "Log group name."),
    KEY("log_stream", AS_CONF_STR, "\"{hostname}/{input}\"",
        struct as_conf_output_cloudwatch, log_stream,
        "Log stream name; {hostname} and {input} are replaced."),
    KEY("create", AS_CONF_BOOL, "true", struct as_conf_output_cloudwatch,
        create, "Create the group and stream when missing."),
    KEY("retention_days", AS_CONF_INT, "0", struct as_conf_output_cloudwatch,
        retention_days, "Retention set on a created group; 0 = leave as is."),
    KEY("endpoint", AS_CONF_STR, "\"\"", struct as_conf_output_cloudwatch,
        endpoint, "Endpoint override (VPC/FIPS endpoints, tests)."),
    KEY("profile", AS_CONF_STR, "\"\"", struct as_conf_output_cloudwatch,
        profile, "Shared-config profile for credentials."),
    KEYE("compression", "gzip", struct as_conf_output_cloudwatch, compression,
         schema_compressions, "Request compression: gzip|none."),
    KEYS("batch", struct as_conf_output_cloudwatch, batch, schema_batch_cw,
         "Batching limits."),
    KEYS("retry", struct as_conf_output_cloudwatch, retry, schema_retry,
         "Retry backoff."),
    KEY_END,
};

const struct as_conf_key as_keys_output_file[] = {
    KEY("path", AS_CONF_STR, NULL, struct as_conf_output_file, path,
        "NDJSON file written."),
    KEYS("rotate", struct as_conf_output_file, rotate, schema_rotate,
         "Size-based rotation."),
    KEYS("batch", struct as_conf_output_file, batch, schema_batch,
         "Batching limits."),
    KEY_END,
};
