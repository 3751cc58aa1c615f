/*
 * The configuration loader: sizes and durations, defaults, every value
 * type, ${VAR} expansion, each kind of error with its exact
 * FILE:LINE:COLUMN line, all problems reported at once, routing helpers,
 * and that conf/auditship.yaml documents every key of the tables with its
 * default and help (and loads).  Leaks are caught by the ASan build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conf.h"
#include "core/conf_schema.h"
#include "core/error.h"
#include "core/stage.h"

/* ---- helpers ---- */

static const char *
srcdir(void)
{
    const char *d = getenv("top_srcdir");

    return d != NULL ? d : ".";
}

static char *
srcpath(const char *rel)
{
    size_t n = strlen(srcdir()) + strlen(rel) + 2;
    char *p = malloc(n);

    assert_non_null(p);
    snprintf(p, n, "%s/%s", srcdir(), rel);
    return p;
}

static struct as_config *
load_ok(const char *text)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    int r;

    r = as_config_load_string("t.yaml", text, strlen(text), &c, &e);
    if (r != 0) {
        as_conf_errors_print(&e, stderr);
    }
    assert_int_equal(r, 0);
    assert_int_equal(e.n, 0);
    assert_non_null(c);
    as_conf_errors_free(&e);
    return c;
}

/* The printed errors of a load that must fail (caller frees). */
static char *
print_errors(const struct as_conf_errors *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    as_conf_errors_print(e, f);
    fclose(f);
    return buf;
}

static char *
load_fail(const char *text)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = (struct as_config *) 1;
    char *out;

    assert_int_equal(
        as_config_load_string("t.yaml", text, strlen(text), &c, &e),
        AS_ERR_CONFIG);
    assert_null(c);
    assert_true(e.n > 0);
    out = print_errors(&e);
    as_conf_errors_free(&e);
    return out;
}

static void
expect_errors(const char *text, const char *want)
{
    char *got = load_fail(text);

    if (strcmp(got, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", got, want);
    }
    assert_string_equal(got, want);
    free(got);
}

/* ---- value parsers ---- */

static void
test_parse_size(void **state)
{
    uint64_t v = 0;

    (void) state;
    assert_int_equal(as_parse_size("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(as_parse_size("512", &v), 0);
    assert_true(v == 512);
    assert_int_equal(as_parse_size("512B", &v), 0);
    assert_true(v == 512);
    assert_int_equal(as_parse_size("64KiB", &v), 0);
    assert_true(v == 65536);
    assert_int_equal(as_parse_size("1MiB", &v), 0);
    assert_true(v == 1048576);
    assert_int_equal(as_parse_size("3GiB", &v), 0);
    assert_true(v == 3ULL << 30);
    assert_int_equal(as_parse_size("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(as_parse_size("18446744073709551616", &v), -ERANGE);
    assert_int_equal(as_parse_size("17179869184GiB", &v), -ERANGE);
    assert_int_equal(as_parse_size("17179869183GiB", &v), 0);
    v = 7;
    assert_int_equal(as_parse_size("", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size(NULL, &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("-1", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("+1", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1KB", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1MB", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1kib", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1 KiB", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1.5MiB", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("KiB", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size("1KiBx", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_size(" 1", &v), AS_ERR_PARSE);
    assert_true(v == 7); /* untouched on failure */
}

static void
test_parse_duration(void **state)
{
    uint64_t v = 0;

    (void) state;
    assert_int_equal(as_parse_duration("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(as_parse_duration("0s", &v), 0);
    assert_true(v == 0);
    assert_int_equal(as_parse_duration("500ms", &v), 0);
    assert_true(v == 500);
    assert_int_equal(as_parse_duration("10s", &v), 0);
    assert_true(v == 10000);
    assert_int_equal(as_parse_duration("2m", &v), 0);
    assert_true(v == 120000);
    assert_int_equal(as_parse_duration("1h", &v), 0);
    assert_true(v == 3600000);
    assert_int_equal(as_parse_duration("5124095576030h", &v), 0);
    assert_true(v == 5124095576030ULL * 3600000ULL);
    assert_int_equal(as_parse_duration("5124095576031h", &v), -ERANGE);
    assert_int_equal(as_parse_duration("99999999999999999999ms", &v), -ERANGE);
    v = 7;
    assert_int_equal(as_parse_duration("10", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration(NULL, &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("-1s", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("1d", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("1.5s", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("1S", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("s", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("1 s", &v), AS_ERR_PARSE);
    assert_int_equal(as_parse_duration("1sec", &v), AS_ERR_PARSE);
    assert_true(v == 7);
}

/* ---- defaults ---- */

static void
test_defaults(void **state)
{
    struct as_config *c = load_ok("");
    const struct as_conf_scrub_custom *cu;

    (void) state;
    assert_string_equal(c->path, "t.yaml");
    assert_string_equal(c->agent.state_dir, "/var/lib/auditship");
    assert_non_null(c->agent.hostname);
    assert_true(c->agent.hostname[0] != '\0'); /* gethostname() */
    assert_int_equal(c->agent.log_level, AS_CONF_LOG_INFO);
    assert_true(c->agent.shutdown_timeout_ms == 10000);
    assert_string_equal(c->agent.http.listen, "127.0.0.1:9880");
    assert_int_equal(c->validate.schema, AS_SCHEMA_AUDIT);
    assert_int_equal(c->validate.on_invalid, AS_ON_INVALID_DEADLETTER);
    assert_int_equal(c->scrub.keys.n, 13);
    assert_string_equal(c->scrub.keys.v[0], "password");
    assert_string_equal(c->scrub.keys.v[8], "set-cookie");
    assert_string_equal(c->scrub.keys.v[12], "session");
    /* Every built-in detector but the opt-in ones (docs/SCRUBBING.md). */
    assert_int_equal(c->scrub.patterns.n, 32);
    assert_string_equal(c->scrub.patterns.v[0], "private_key_block");
    assert_string_equal(c->scrub.patterns.v[31], "square_oauth");
    assert_int_equal(c->scrub.custom.n, 0);
    cu = c->scrub.custom.items;
    (void) cu;
    assert_string_equal(c->scrub.replacement, "[REDACTED]");
    assert_string_equal(c->scrub.key_file, "");
    assert_true(c->chain.enabled);
    assert_string_equal(c->chain.signing_key, "");
    assert_true(c->chain.checkpoint_interval_ms == 60000);
    assert_int_equal(c->buffer.type, AS_BUFFER_DISK);
    assert_true(c->buffer.max_bytes == 1ULL << 30);
    assert_int_equal(c->buffer.fsync, AS_FSYNC_BATCH);
    assert_int_equal(c->buffer.when_full, AS_WHEN_FULL_BLOCK);
    assert_int_equal(c->n_inputs, 0);
    assert_int_equal(c->n_outputs, 0);
    as_config_free(c);

    /* Empty sections and null values mean "all defaults" too. */
    c = load_ok("agent: {state_dir: ~}\nvalidate: {}\nscrub: ~\ninputs:\n"
                "outputs: []\nchain:\n");
    assert_string_equal(c->agent.state_dir, ""); /* a null STR is "" */
    assert_string_equal(c->agent.http.listen, "127.0.0.1:9880");
    assert_int_equal(c->scrub.keys.n, 13);
    assert_int_equal(c->n_inputs, 0);
    as_config_free(c);
}

static void
test_stage_defaults(void **state)
{
    struct as_config *c;
    const struct as_conf_input_file *f;
    const struct as_conf_output_file *o;

    (void) state;
    c = load_ok("inputs:\n"
                "  - {id: a, type: file, paths: [/x]}\n"
                "outputs:\n"
                "  - {id: o, type: file, path: /y}\n");
    assert_int_equal(c->n_inputs, 1);
    assert_string_equal(c->inputs[0].id, "a");
    assert_string_equal(c->inputs[0].type, "file");
    assert_non_null(c->inputs[0].st);
    assert_int_equal(c->inputs[0].st->kind, AS_STAGE_INPUT);
    assert_int_equal(c->inputs[0].line, 2);
    assert_int_equal(c->inputs[0].col, 5);
    f = c->inputs[0].conf;
    assert_int_equal(f->paths.n, 1);
    assert_string_equal(f->paths.v[0], "/x");
    assert_int_equal(f->exclude.n, 1);
    assert_string_equal(f->exclude.v[0], "*.gz");
    assert_int_equal(f->format, AS_FORMAT_JSON);
    assert_int_equal(f->start_at, AS_START_BEGINNING);
    assert_true(f->max_line_bytes == 256 * 1024);
    assert_true(f->rescan_interval_ms == 1000);
    o = c->outputs[0].conf;
    assert_string_equal(o->path, "/y");
    assert_true(o->rotate.max_bytes == 100ULL << 20);
    assert_true(o->rotate.keep == 10);
    assert_true(o->batch.max_events == 10000);
    assert_true(o->batch.max_bytes == 1ULL << 20);
    assert_true(o->batch.timeout_ms == 1000);
    assert_int_equal(c->outputs[0].inputs.n, 0);
    assert_true(as_conf_output_routes(&c->outputs[0], "a"));
    as_config_free(c);
}

/* ---- every type set ---- */

static void
test_every_type(void **state)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    const struct as_conf_scrub_custom *cu;
    const struct as_conf_input_file *f;
    const struct as_conf_output_file *o;
    char *path = srcpath("tests/data/conf/every-type.yaml");

    (void) state;
    assert_int_equal(as_config_load(path, &c, &e), 0);
    assert_int_equal(e.n, 0);
    assert_string_equal(c->path, path);
    assert_string_equal(c->agent.state_dir, "/srv/as");
    assert_string_equal(c->agent.hostname, "host-a");
    assert_int_equal(c->agent.log_level, AS_CONF_LOG_DEBUG);
    assert_true(c->agent.shutdown_timeout_ms == 1500);
    assert_string_equal(c->agent.http.listen, "");
    assert_int_equal(c->validate.schema, AS_SCHEMA_NONE);
    assert_int_equal(c->validate.on_invalid, AS_ON_INVALID_DROP);
    assert_int_equal(c->scrub.keys.n, 1);
    assert_string_equal(c->scrub.keys.v[0], "pin");
    assert_int_equal(c->scrub.patterns.n, 0);
    assert_int_equal(c->scrub.custom.n, 2);
    cu = c->scrub.custom.items;
    assert_string_equal(cu[0].name, "order");
    assert_string_equal(cu[0].regex, "ORD-[0-9]+");
    assert_string_equal(cu[1].name, "phone");
    assert_string_equal(cu[1].regex, "\\+[0-9]{11}");
    assert_string_equal(c->scrub.replacement, "hmac");
    assert_string_equal(c->scrub.key_file, "/etc/auditship/scrub.key");
    assert_false(c->chain.enabled);
    assert_string_equal(c->chain.signing_key, "/etc/auditship/sign.pem");
    assert_true(c->chain.checkpoint_interval_ms == 120000);
    assert_int_equal(c->buffer.type, AS_BUFFER_MEMORY);
    assert_true(c->buffer.max_bytes == 512);
    assert_int_equal(c->buffer.fsync, AS_FSYNC_ALWAYS);
    assert_int_equal(c->buffer.when_full, AS_WHEN_FULL_DROP_NEWEST);

    assert_int_equal(c->n_inputs, 2);
    f = c->inputs[0].conf;
    assert_string_equal(c->inputs[0].id, "in.1");
    assert_int_equal(f->paths.n, 2);
    assert_string_equal(f->paths.v[1], "/b/x.log");
    assert_int_equal(f->exclude.n, 0);
    assert_int_equal(f->format, AS_FORMAT_RAW);
    assert_int_equal(f->start_at, AS_START_END);
    assert_true(f->max_line_bytes == 1024);
    assert_true(f->rescan_interval_ms == 0);
    f = c->inputs[1].conf;
    assert_int_equal(f->format, AS_FORMAT_AUDITD);

    assert_int_equal(c->n_outputs, 1);
    o = c->outputs[0].conf;
    assert_string_equal(o->path, "/out/x.ndjson");
    assert_true(o->rotate.max_bytes == 2ULL << 30);
    assert_true(o->rotate.keep == 0);
    assert_true(o->batch.max_events == 1);
    assert_true(o->batch.max_bytes == 3);
    assert_true(o->batch.timeout_ms == 3600000);
    assert_int_equal(c->outputs[0].inputs.n, 1);

    /* Routing helpers. */
    assert_ptr_equal(as_config_input(c, "in_2"), &c->inputs[1]);
    assert_null(as_config_input(c, "in_3"));
    assert_true(as_conf_output_routes(&c->outputs[0], "in_2"));
    assert_false(as_conf_output_routes(&c->outputs[0], "in.1"));
    as_config_free(c);
    free(path);
}

/*
 * Types the loader rejects as not implemented still have their keys typed:
 * a full cloudwatch item yields only the not-implemented error (full socket
 * and http items, implemented, none), and a bad value in them is reported
 * too.
 */
static void
test_unimplemented_types_validated(void **state)
{
    (void) state;
    expect_errors(
        "inputs:\n"
        "  - id: s\n"
        "    type: socket\n"
        "    path: /run/a.sock\n"
        "    mode: datagram\n"
        "    format: syslog\n"
        "    permissions: \"0600\"\n"
        "    group: adm\n"
        "    max_line_bytes: 1MiB\n"
        "outputs:\n"
        "  - id: h\n"
        "    type: http\n"
        "    url: https://c.example/x\n"
        "    format: json_array\n"
        "    compression: none\n"
        "    compression_level: 9\n"
        "    batch: {max_events: 1, max_bytes: 1KiB, timeout: 10ms}\n"
        "    headers: {X-A: b, X-C: d}\n"
        "    auth: {bearer_token: t, basic_user: u, basic_password: p}\n"
        "    tls: {verify: false, ca_file: a, cert_file: b, key_file: c}\n"
        "    retry: {initial: 1s, max: 1m}\n"
        "    response_actions: {409: ack, 400: retry, 404: deadletter, "
        "500: reject}\n"
        "    concurrency: 4\n"
        "    connect_timeout: 2s\n"
        "    request_timeout: 1m\n"
        "  - id: cw\n"
        "    type: cloudwatch_logs\n"
        "    region: eu-west-1\n"
        "    log_group: /g\n"
        "    log_stream: s\n"
        "    create: false\n"
        "    retention_days: 30\n"
        "    endpoint: http://127.0.0.1:1\n"
        "    profile: p\n"
        "    compression: none\n"
        "    batch: {timeout: 5s}\n"
        "    retry: {max: 1h}\n",
        "t.yaml:27:11: output type 'cloudwatch_logs' is not implemented "
        "yet\n");
    /* The socket has no auditd format: the reserved slot is refused. */
    expect_errors("inputs:\n"
                  "  - {id: s, type: socket, path: /a, format: auditd}\n",
                  "t.yaml:2:45: invalid value 'auditd' for inputs[0].format "
                  "(expected json, syslog or raw)\n");
}

/* ---- ${VAR} expansion ---- */

static void
test_env_expansion(void **state)
{
    struct as_config *c;

    (void) state;
    setenv("AS_T_DIR", "/tmp/as", 1);
    setenv("AS_T_SIZE", "2MiB", 1);
    setenv("AS_T_EMPTY", "", 1);
    unsetenv("AS_T_UNSET");
    c = load_ok("agent:\n"
                "  state_dir: ${AS_T_DIR}/state\n"
                "  hostname: ${AS_T_UNSET:-h1}\n"
                "  http: {listen: \"$$${AS_T_DIR}$$x$\"}\n"
                "buffer: {max_bytes: \"${AS_T_SIZE}\"}\n"
                "scrub:\n"
                "  replacement: \"a${AS_T_EMPTY}b${AS_T_EMPTY:-c}\"\n"
                "  key_file: ${AS_T_UNSET:-}\n"
                "  keys: [\"${AS_T_DIR}\", $AS_T_DIR]\n");
    assert_string_equal(c->agent.state_dir, "/tmp/as/state");
    assert_string_equal(c->agent.hostname, "h1");
    assert_string_equal(c->agent.http.listen, "$/tmp/as$x$");
    assert_true(c->buffer.max_bytes == 2ULL << 20);
    assert_string_equal(c->scrub.replacement, "abc");
    assert_string_equal(c->scrub.key_file, "");
    assert_string_equal(c->scrub.keys.v[0], "/tmp/as");
    assert_string_equal(c->scrub.keys.v[1], "$AS_T_DIR");
    as_config_free(c);

    expect_errors(
        "agent:\n"
        "  state_dir: /x/${AS_T_UNSET}\n"
        "  hostname: ${AS_T_DIR\n"
        "  http: {listen: \"${1X}\"}\n",
        "t.yaml:2:14: environment variable 'AS_T_UNSET' is not set "
        "(in the value of agent.state_dir; use ${AS_T_UNSET:-default} "
        "for a fallback)\n"
        "t.yaml:3:13: unterminated '${' in the value of "
        "agent.hostname\n"
        "t.yaml:4:18: invalid variable reference '${1X}' in the "
        "value of agent.http.listen (use ${NAME} or "
        "${NAME:-default}; $$ for a dollar)\n");
    /* Typing happens after expansion. */
    setenv("AS_T_SIZE", "2MB", 1);
    expect_errors("buffer:\n  max_bytes: ${AS_T_SIZE}\n",
                  "t.yaml:2:14: invalid size '2MB' for buffer.max_bytes "
                  "(expected bytes with an optional B, KiB, MiB or GiB "
                  "suffix, e.g. 64KiB)\n");
    unsetenv("AS_T_DIR");
    unsetenv("AS_T_SIZE");
    unsetenv("AS_T_EMPTY");
}

/* ---- errors ---- */

static void
test_value_errors_at_once(void **state)
{
    (void) state;
    expect_errors(
        "agent:\n"
        "  log_levl: info\n"
        "  shutdown_timeout: 10\n"
        "buffer:\n"
        "  max_bytes: 1GB\n"
        "  fsync: sometimes\n"
        "chain:\n"
        "  enabled: yes\n"
        "outputs:\n"
        "  - {id: o, type: file, path: /x, rotate: {keep: x},\n"
        "     batch: {max_events: 99999999999999999999}}\n",
        "t.yaml:2:3: unknown key 'log_levl' in agent (did you mean "
        "'log_level'?)\n"
        "t.yaml:3:21: invalid duration '10' for agent.shutdown_timeout "
        "(expected a number with a unit ms, s, m or h, e.g. 10s)\n"
        "t.yaml:5:14: invalid size '1GB' for buffer.max_bytes (expected "
        "bytes with an optional B, KiB, MiB or GiB suffix, e.g. 64KiB)\n"
        "t.yaml:6:10: invalid value 'sometimes' for buffer.fsync (expected "
        "always, batch or never)\n"
        "t.yaml:8:12: invalid boolean 'yes' for chain.enabled (expected "
        "true or false)\n"
        "t.yaml:10:50: invalid integer 'x' for outputs[0].rotate.keep "
        "(expected a non-negative integer)\n"
        "t.yaml:11:26: invalid integer '99999999999999999999' for "
        "outputs[0].batch.max_events (too large)\n");
    expect_errors("agent: {shutdown_timeout: 99999999999999999999h}\n",
                  "t.yaml:1:27: invalid duration '99999999999999999999h' for "
                  "agent.shutdown_timeout (too large)\n");
}

static void
test_wrong_shapes(void **state)
{
    (void) state;
    expect_errors("agent: [1]\n"
                  "inputs: {a: 1}\n"
                  "scrub:\n"
                  "  keys: password\n"
                  "  patterns: [[jwt]]\n"
                  "  custom:\n"
                  "    - name: x\n"
                  "    - 3\n"
                  "chain: {signing_key: {a: b}}\n"
                  "outputs: [3]\n",
                  "t.yaml:1:8: expected a mapping for agent, got a sequence\n"
                  "t.yaml:2:9: expected a sequence for inputs, got a mapping\n"
                  "t.yaml:4:9: expected a sequence for scrub.keys, got a "
                  "scalar\n"
                  "t.yaml:5:14: expected a scalar for scrub.patterns[0], got "
                  "a sequence\n"
                  "t.yaml:7:7: missing required key 'regex' in "
                  "scrub.custom[0]\n"
                  "t.yaml:8:7: expected a mapping for scrub.custom[1], got a "
                  "scalar\n"
                  "t.yaml:9:22: expected a scalar for chain.signing_key, got "
                  "a mapping\n"
                  "t.yaml:10:11: expected a mapping for outputs[0], got a "
                  "scalar\n");
    expect_errors("- a\n- b\n",
                  "t.yaml:1:1: expected a mapping at the top level, got a "
                  "sequence\n");
}

static void
test_duplicate_and_unknown_keys(void **state)
{
    (void) state;
    expect_errors("agent:\n"
                  "  state_dir: /a\n"
                  "  state_dir: /b\n"
                  "agnet: {}\n"
                  "agent: {}\n"
                  "inputs: []\n"
                  "inputs: []\n"
                  "zzzzzz: 1\n"
                  "outputs:\n"
                  "  - {id: o, type: file, path: /x, pth: /y, bach: {}}\n",
                  "t.yaml:3:3: duplicate key 'state_dir' in agent (first at "
                  "line 2)\n"
                  "t.yaml:4:1: unknown key 'agnet' at the top level (did you "
                  "mean 'agent'?)\n"
                  "t.yaml:5:1: duplicate key 'agent' at the top level (first "
                  "at line 1)\n"
                  "t.yaml:7:1: duplicate key 'inputs' at the top level (first "
                  "at line 6)\n"
                  "t.yaml:8:1: unknown key 'zzzzzz' at the top level\n"
                  "t.yaml:10:35: unknown key 'pth' in outputs[0] (did you "
                  "mean 'path'?)\n"
                  "t.yaml:10:44: unknown key 'bach' in outputs[0] (did you "
                  "mean 'batch'?)\n");
}

static void
test_yaml_syntax(void **state)
{
    (void) state;
    expect_errors("agent:\n  state_dir: [unclosed\n",
                  "t.yaml:3:1: YAML syntax error: did not find expected ',' "
                  "or ']' while parsing a flow sequence\n");
    expect_errors("agent:\n  a: b\n c: d\n",
                  "t.yaml:3:2: YAML syntax error: did not find expected key "
                  "while parsing a block mapping\n");
    expect_errors("agent: {}\n---\nbuffer: {}\n",
                  "t.yaml:3:1: only one YAML document is allowed\n");
}

/* The fixture holds one problem of each stage kind; all are reported. */
static void
test_stage_errors(void **state)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    char *path = srcpath("tests/data/conf/stage-errors.yaml");
    char *got, *want = NULL;
    const char *lines[] = {
        "5:12: inputs[0].paths must list at least one item",
        "6:5: missing required key 'path' in inputs[1]",
        "6:9: duplicate input id 'a' (first at line 3)",
        "8:5: unknown key 'pahts' in inputs[1] (did you mean 'path'?)",
        "9:9: invalid input id 'bad id' (1-64 characters of A-Z a-z 0-9 . _ "
        "-, not . or ..)",
        "10:11: unknown input type 'kafka' (known: file, socket)",
        "12:5: missing required key 'id' in inputs[3]",
        "17:17: outputs[0].inputs routes unknown input 'nope'",
        "19:22: invalid duration '5' for outputs[0].batch.timeout (expected "
        "a number with a unit ms, s, m or h, e.g. 10s)",
        "20:20: invalid integer '-1' for outputs[0].rotate.keep (expected a "
        "non-negative integer)",
        "21:5: missing required key 'url' in outputs[1]",
        "23:24: invalid key '999' in outputs[1].response_actions: expected "
        "an HTTP status code (100-599)",
        "23:39: invalid value 'maybe' for outputs[1].response_actions.409 "
        "(expected ack, retry, reject or deadletter)",
        "24:21: duplicate key 'A' in outputs[1].headers",
        "25:5: missing required key 'region' in outputs[2]",
        "25:5: missing required key 'log_group' in outputs[2]",
        "26:11: output type 'cloudwatch_logs' is not implemented yet",
    };
    size_t wlen = 0;
    FILE *f = open_memstream(&want, &wlen);

    (void) state;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        fprintf(f, "%s:%s\n", path, lines[i]);
    }
    fclose(f);
    assert_int_equal(as_config_load(path, &c, &e), AS_ERR_CONFIG);
    assert_null(c);
    assert_int_equal(e.n, sizeof(lines) / sizeof(lines[0]));
    got = print_errors(&e);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", got, want);
    }
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(path);
    as_conf_errors_free(&e);
}

static void
test_ids(void **state)
{
    (void) state;
    expect_errors("inputs:\n"
                  "  - {id: ., type: file, paths: [a]}\n"
                  "  - {id: \"\", type: file, paths: [a]}\n"
                  "  - {id: a/b, type: file, paths: [a]}\n"
                  "  - {id: x, paths: [a]}\n"
                  "outputs:\n"
                  "  - {id: x, type: file, path: /a}\n"
                  "  - {id: x, type: file, path: /b}\n"
                  "  - {id: y, type: files, path: /c}\n",
                  "t.yaml:2:10: invalid input id '.' (1-64 characters of A-Z "
                  "a-z 0-9 . _ -, not . or ..)\n"
                  "t.yaml:3:10: invalid input id '' (1-64 characters of A-Z "
                  "a-z 0-9 . _ -, not . or ..)\n"
                  "t.yaml:4:10: invalid input id 'a/b' (1-64 characters of "
                  "A-Z a-z 0-9 . _ -, not . or ..)\n"
                  "t.yaml:5:5: missing required key 'type' in inputs[3]\n"
                  "t.yaml:8:10: duplicate output id 'x' (first at line 7)\n"
                  "t.yaml:9:19: unknown output type 'files' (known: file, "
                  "http, cloudwatch_logs)\n");
    /* An input and an output may share an id; routes then work. */
    {
        struct as_config *c = load_ok("inputs:\n"
                                      "  - {id: x, type: file, paths: [a]}\n"
                                      "  - {id: y, type: file, paths: [a]}\n"
                                      "outputs:\n"
                                      "  - {id: x, type: file, path: /a,\n"
                                      "     inputs: [y]}\n");

        assert_true(as_conf_output_routes(&c->outputs[0], "y"));
        assert_false(as_conf_output_routes(&c->outputs[0], "x"));
        as_config_free(c);
    }
}

static void
test_unreadable_file(void **state)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    char *got;

    (void) state;
    assert_int_equal(as_config_load("/nonexistent/auditship.yaml", &c, &e),
                     AS_ERR_CONFIG);
    assert_null(c);
    got = print_errors(&e);
    assert_string_equal(got, "/nonexistent/auditship.yaml:0:0: cannot read "
                             "the config file: No such file or directory\n");
    free(got);
    as_conf_errors_free(&e);
    /* errs may be NULL when the caller only wants the verdict. */
    assert_int_equal(as_config_load("/nonexistent/x.yaml", &c, NULL),
                     AS_ERR_CONFIG);
    assert_int_equal(as_config_load_string("x", "agent: [", 8, &c, NULL),
                     AS_ERR_CONFIG);
}

static void
test_errors_api(void **state)
{
    struct as_conf_errors e = {NULL, 0};
    char file[] = "plug.yaml";
    char *got;

    (void) state;
    as_conf_errors_add(&e, file, 4, 7, "bad %s %d", "thing", 42);
    as_conf_errors_add(&e, NULL, 0, 0, "no file");
    file[0] = 'X'; /* the errors keep their own copy of the name */
    got = print_errors(&e);
    assert_string_equal(got, "plug.yaml:4:7: bad thing 42\n"
                             "<config>:0:0: no file\n");
    free(got);
    as_conf_errors_free(&e);
    assert_int_equal(e.n, 0);
    as_conf_errors_free(&e);
    as_conf_errors_add(NULL, "x", 1, 1, "ignored");
    as_config_free(NULL);
}

/* Aliases are followed, but a billion-laughs document is refused fast. */
static void
test_alias_bomb(void **state)
{
    const char *bomb = "inputs:\n"
                       "  - &a {id: a, type: file, paths: [x]}\n"
                       "  - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "  - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "  - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "  - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "scrub:\n"
                       "  keys: &l [k, k, k, k, k, k, k, k, k, k]\n"
                       "  patterns: [*l, *l]\n";
    struct as_config *c;
    clock_t t0 = clock();
    char *got;

    (void) state;
    c = load_ok("scrub:\n  keys: &k [a, b]\n  patterns: *k\n");
    assert_int_equal(c->scrub.patterns.n, 2);
    assert_string_equal(c->scrub.patterns.v[1], "b");
    as_config_free(c);
    got = load_fail(bomb);
    assert_non_null(strstr(got, "expected a mapping for inputs[1], got a "
                                "sequence"));
    free(got);
    /*
     * The schema bounds the depth, so aliases cannot multiply the walk;
     * the node count is bounded too: a 200k-item list is refused.
     */
    {
        size_t cap = 16 + 2 * 200000 + 16, n = 0;
        char *big = malloc(cap);

        assert_non_null(big);
        n += (size_t) snprintf(big, cap, "scrub: {keys: [k");
        for (int k = 1; k < 200000; k++) {
            big[n++] = ',';
            big[n++] = 'k';
        }
        snprintf(big + n, cap - n, "]}\n");
        got = load_fail(big);
        assert_non_null(strstr(got, "t.yaml:1:"));
        assert_non_null(strstr(got, "document too large (more than 100000 "
                                    "nodes, aliases included)"));
        free(got);
        free(big);
    }
    /* Bounded: well under a second even under sanitizers. */
    assert_true((double) (clock() - t0) / CLOCKS_PER_SEC < 5.0);
}

/* ---- the shipped config documents every key ---- */

/* Strips indentation, comment marks and a list dash. */
static const char *
doc_norm(const char *line)
{
    while (*line == ' ' || *line == '#') {
        line++;
    }
    if (line[0] == '-' && line[1] == ' ') {
        line += 2;
    }
    return line;
}

static char **
doc_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, buf[1024];

    assert_non_null(f);
    *n = 0;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        v = realloc(v, (*n + 1) * sizeof(*v));
        assert_non_null(v);
        v[(*n)++] = strdup(buf);
    }
    fclose(f);
    return v;
}

/*
 * A key is documented when some line is `name: DEFAULT` (any value for a
 * required key, nothing for a section) and the line above is `# HELP`.
 */
static int
doc_has_key(char **lines, size_t n, const struct as_conf_key *k)
{
    size_t nl = strlen(k->name);

    for (size_t i = 1; i < n; i++) {
        const char *l = doc_norm(lines[i]);
        const char *help = doc_norm(lines[i - 1]);
        const char *val;

        if (strncmp(l, k->name, nl) != 0 || l[nl] != ':' ||
            strcmp(help, k->help) != 0) {
            continue;
        }
        val = l + nl + 1;
        while (*val == ' ') {
            val++;
        }
        if (k->type == AS_CONF_SECTION) {
            if (*val == '\0') {
                return 1;
            }
        } else if (k->def == NULL || strcmp(val, k->def) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
doc_check_table(char **lines, size_t n, const struct as_conf_key *keys,
                const char *table)
{
    int missing = 0;

    for (const struct as_conf_key *k = keys; k->name != NULL; k++) {
        assert_non_null(k->help);
        if (!doc_has_key(lines, n, k)) {
            fprintf(stderr,
                    "conf/auditship.yaml does not document %s.%s "
                    "(default %s) with '# %s' above it\n",
                    table, k->name, k->def != NULL ? k->def : "-", k->help);
            missing++;
        }
        if (k->sub != NULL) {
            missing += doc_check_table(lines, n, k->sub, k->name);
        }
    }
    return missing;
}

static void
test_shipped_config_documents_every_key(void **state)
{
    static const struct {
        const char *name;
        const struct as_conf_key *keys;
    } tables[] = {
        {"agent", as_keys_agent},
        {"validate", as_keys_validate},
        {"scrub", as_keys_scrub},
        {"chain", as_keys_chain},
        {"buffer", as_keys_buffer},
        {"inputs[]", as_keys_input_common},
        {"outputs[]", as_keys_output_common},
        {"inputs[file]", as_keys_input_file},
        {"inputs[socket]", as_keys_input_socket},
        {"outputs[http]", as_keys_output_http},
        {"outputs[cloudwatch_logs]", as_keys_output_cloudwatch},
        {"outputs[file]", as_keys_output_file},
    };
    char *path = srcpath("conf/auditship.yaml");
    size_t n = 0;
    char **lines = doc_lines(path, &n);
    int missing = 0;
    struct as_conf_key fake = {.name = "no_such_key",
                               .type = AS_CONF_STR,
                               .def = "x",
                               .help = "Nothing."};

    (void) state;
    assert_true(n > 100);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        missing += doc_check_table(lines, n, tables[i].keys, tables[i].name);
    }
    assert_int_equal(missing, 0);
    /* The checker itself can fail. */
    assert_int_equal(doc_has_key(lines, n, &fake), 0);
    fake.name = "state_dir";
    fake.def = "/var/lib/other";
    fake.help = as_keys_agent[0].help;
    assert_int_equal(doc_has_key(lines, n, &fake), 0);
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
    free(path);
}

static void
test_shipped_configs_load(void **state)
{
    struct as_conf_errors e = {NULL, 0};
    struct as_config *c = NULL;
    const struct as_conf_input_file *f;
    const struct as_conf_output_file *o;
    char *path = srcpath("conf/auditship.yaml");

    (void) state;
    assert_int_equal(as_config_load(path, &c, &e), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(c->n_inputs, 1);
    assert_int_equal(c->n_outputs, 1);
    f = c->inputs[0].conf;
    assert_string_equal(f->paths.v[0], "/var/log/app/audit*.ndjson");
    assert_string_equal(c->outputs[0].type, "file");
    o = c->outputs[0].conf;
    assert_string_equal(o->path, "/var/lib/auditship/out/audit.ndjson");
    as_config_free(c);
    free(path);

    path = srcpath("conf/examples/minimal.yaml");
    assert_int_equal(as_config_load(path, &c, &e), 0);
    as_config_free(c);
    free(path);

    path = srcpath("conf/examples/socket-http.yaml");
    assert_int_equal(as_config_load(path, &c, &e), 0);
    as_config_free(c);
    free(path);

    /* The examples of unimplemented types fail only for that reason. */
    path = srcpath("conf/examples/cloudwatch.yaml");
    assert_int_equal(as_config_load(path, &c, &e), AS_ERR_CONFIG);
    assert_int_equal(e.n, 1);
    assert_non_null(strstr(e.v[0].msg, "'cloudwatch_logs' is not "
                                       "implemented yet"));
    as_conf_errors_free(&e);
    free(path);
}

/* A reload is not a hot path, but it must stay cheap. */
static void
test_load_speed(void **state)
{
    char *path = srcpath("conf/auditship.yaml");
    clock_t t0 = clock();
    double per;
    int rounds = 200;

    (void) state;
    for (int i = 0; i < rounds; i++) {
        struct as_config *c = NULL;

        assert_int_equal(as_config_load(path, &c, NULL), 0);
        as_config_free(c);
    }
    per = (double) (clock() - t0) / CLOCKS_PER_SEC / rounds;
    fprintf(stderr, "# as_config_load(conf/auditship.yaml): %.3f ms\n",
            per * 1000);
    assert_true(per < 0.05);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_stage_defaults),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_unimplemented_types_validated),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_value_errors_at_once),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_duplicate_and_unknown_keys),
        cmocka_unit_test(test_yaml_syntax),
        cmocka_unit_test(test_stage_errors),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_errors_api),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_shipped_config_documents_every_key),
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_load_speed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
