/*
 * The scrub stage: every built-in detector on a positive case (the secret
 * is gone, its context stays) and a near miss (left alone); key matching
 * at any depth, arrays included, whatever the value's type; hmac
 * replacement (format, determinism, keyed); custom regexes and their
 * compile errors; unknown pattern names; placeholders left alone and
 * counted; partial replacement in free text and DSNs; invalid records
 * (raw, raw_base64 of non-UTF-8 bytes, truncated lines); the detector
 * names documented in docs/SCRUBBING.md; and the labelled corpus
 * ($AS_SHARED/testdata/secrets/labelled-cases.jsonl) embedded at top
 * level, nested and in free text, with recall and false positives per
 * category printed as TAP diagnostics and 100% recall asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/record.h"
#include "processors/scrub.h"
#include "testutil.h"

#define RED "[REDACTED]"

static const char *const default_keys[] = {
    "password",      "passwd",        "secret",  "token",      "api_key",
    "apikey",        "authorization", "cookie",  "set-cookie", "private_key",
    "client_secret", "access_key",    "session",
};

/* A scrubber with the given patterns ("*" = every built-in). */
static struct as_scrub *
new_scrub(const char *const *patterns, size_t n, const char *replacement,
          const char *key_file, struct as_conf_scrub_custom *custom,
          size_t n_custom, int want_rc, char *msg, size_t msg_len)
{
    struct as_conf_scrub conf;
    struct as_scrub *s = NULL;
    struct as_error err;
    const char *const *all = as_scrub_builtin_names();
    const char *pv[64];
    int rc;

    memset(&conf, 0, sizeof(conf));
    conf.keys.v = (char **) default_keys;
    conf.keys.n = sizeof(default_keys) / sizeof(default_keys[0]);
    if (n == 1 && strcmp(patterns[0], "*") == 0) {
        for (n = 0; all[n] != NULL; n++) {
            pv[n] = all[n];
        }
        patterns = pv;
    }
    conf.patterns.v = (char **) patterns;
    conf.patterns.n = n;
    conf.custom.items = custom;
    conf.custom.n = n_custom;
    conf.replacement = (char *) (replacement != NULL ? replacement : RED);
    conf.key_file = (char *) (key_file != NULL ? key_file : "");
    as_error_clear(&err);
    rc = as_scrub_new(&conf, &s, &err);
    assert_int_equal(rc, want_rc);
    if (msg != NULL) {
        snprintf(msg, msg_len, "%s", err.msg);
    }
    return s;
}

static struct as_scrub *
scrub_one(const char *pattern)
{
    const char *p[1] = {pattern};

    return new_scrub(p, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
}

/* Scrubs text; returns the redaction count and the result in out. */
static unsigned
scrub_text(struct as_scrub *s, const char *text, struct as_buf *out)
{
    unsigned n = as_scrub_bytes(s, text, strlen(text), out);

    if (n == 0) {
        as_buf_reset(out);
        as_buf_puts(out, text);
    }
    return n;
}

struct det_case {
    const char *det;
    const char *hit;    /* contains a secret */
    const char *secret; /* must be gone from the result */
    const char *keep;   /* must stay in the result */
    const char *miss;   /* near miss: unchanged */
};

static const struct det_case det_cases[] = {
    {"private_key_block",
     "k: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7x\n"
     "-----END RSA PRIVATE KEY----- ok",
     "MIIEpAIBAAKCAQEA7x", " ok", "-----BEGIN PUBLIC KEY-----\nMIIB\n"},
    {"aws_access_key", "rotated key AKIAZ7Q4X2LMN3PQRS5T for deploy",
     "AKIAZ7Q4X2LMN3PQRS5T", "for deploy", "akiaz7q4x2lmn3pqrs5t AKIAZ7Q4"},
    {"aws_secret_key",
     "aws_secret_access_key = \"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\"",
     "k9Zq1Xv8Lm2Nb7Rt4Yp3Wc6Hd5Jf0Gs2Ae8Ui1Oo", "aws_secret_access_key",
     "aws_region = \"k9Zq1Xv8Lm2Nb7Rt4Yp3Wc6Hd5Jf0Gs2Ae8Ui1OoX\""},
    {"github_token", "push with 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 now",
     "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx", "push with",
     "foo_wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"},
    {"github_token",
     "github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyz0123456789"
     "ABCDEFGHIJKLMNOPQRSTUVW",
     "11ABCDEFG0123456789abc", "", "github_pat_short"},
    {"gitlab_token", "token glpat-hellOworld380_testin used",
     "hellOworld380_testin", "used", "glpat-hellOWorld380 testin"},
    {"slack_token", "xoxb-34532454-e039d02840a0b9379c", "e039d02840a0b9379c",
     "", "xoxb"},
    {"slack_webhook",
     "post to https://hooks.slack.com/services/T0123ABCD/B0123ABCD/"
     "abcdefghijklmnopqrstuvwx",
     "abcdefghijklmnopqrstuvwx", "https://hooks.slack.com/services/",
     "https://hooks.slack.com/"},
    {"stripe_key", "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD",
     "ReTllpYQYfIZu2Jnf2lAPFjD", "", "pk_live_j5krY8XTgIcDaHDb3YrsAfCl"},
    {"google_api_key", "key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&q=1",
     "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "&q=1", "AIzaShort"},
    {"openai_key", "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",
     "3UDnpdEwNNm6wVBpYM0o", "",
     "sk-proj-Xi8tdMjHV6pmbBbwilTeT4BlbkFJ3UDnpdEwNNm6wVBpYM0o"},
    {"npm_token",
     "//registry.npmjs.org/:_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
     "743b294a-cd03-11ec-9d64-0242ac120002", "//registry.npmjs.org/",
     "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"},
    {"pypi_token",
     "pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0MjNiNmEwNWIz"
     "YgACF1sxLFsitesttestbWluaW1hbC1wcm9qZWN0Il1dAAIsWzIsWyJjYWY4OTAwZi0x",
     "CJDU3OTM1MjliLWIyYTYtNDEwOC05NzRk", "", "pypi-AgEIcHlwaS5vcmcC"},
    {"sendgrid_key",
     "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",
     "TwL2iGABf9DHoTf", "",
     "SG.ngeVfQFYQlKU0ufo8x5d1A..TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"},
    {"twilio_key", "sid ACa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6 ok",
     "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "ok",
     "ACa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"},
    {"azure_storage_key",
     "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=lJzRc1YdHaAA2K"
     "CNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8"
     "rQ==;EndpointSuffix=core.windows.net",
     "lJzRc1YdHaAA2KCNJJ1tkYwF", "EndpointSuffix=core.windows.net",
     "AccountName=x;AccountKey=;"},
    {"jwt",
     "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w"
     "5N_XgL0n3I9PlFUP0THsR8U end",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0", " end",
     "eyJhbasdGciOiJIUaddasdasfsasdasdzI1NiIasdsInR5cCI6IkpXVCasdJasd9."
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0.x"},
    {"bearer", "Authorization: Bearer abc123.def456-ghi789 sent", "abc123",
     "Authorization: Bearer ", "Bearer authentication is required"},
    {"basic_auth", "Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy",
     "Authorization: Basic ", "basic configuration applied"},
    {"database_dsn", "db postgres://app:s3cr3tPw@db.internal:5432/app up",
     "s3cr3tPw", "postgres://app:" RED "@db.internal:5432/app up",
     "postgres://db.internal:5432/app"},
    {"database_dsn", "mongodb+srv://svc:Pa55w0rd@cluster0.example.net/x",
     "Pa55w0rd", "mongodb+srv://svc:", "mongodb://cluster0/x"},
    {"database_dsn", "redis://:r3disPass@cache:6379/0", "r3disPass",
     "redis://:", "redis://cache:6379/0"},
    {"url_credentials", "see https://alice:wonderland9@git.corp/x.git",
     "wonderland9", "https://alice:" RED "@git.corp/x.git",
     "https://url:8000 @something else"},
    {"secret_assignment", "login failed: user=bob password=hunter22 retry=1",
     "hunter22", " retry=1", "password changed by user bob"},
    {"secret_assignment", "config: api_key: \"zx81-spectrum-48k\"",
     "zx81-spectrum-48k", "api_key: \"" RED "\"", "api_key: \"\""},
    {"secret_comparison", "if (\"s3cr3t-value\" == password) {", "s3cr3t-value",
     "== password", "if (x == password) {"},
    {"credit_card", "card 4111 1111 1111 1111 charged", "1111 1111 1111",
     "charged", "card 4111 1111 1111 1112 charged"},
    {"ibm_cloud_iam",
     "ibm_cloud_iam-key : abcd1234abcd1234abcd1234ABCD1234ABCD1234--__",
     "abcd1234abcd1234abcd1234ABCD1234ABCD1234--__", "ibm_cloud_iam-key",
     "ibm_cloud_iam-key : abcd1234abcd1234abcd1234ABCD1234ABCD1234--__x"},
    {"softlayer_key",
     "sl-key: "
     "\"abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234"
     "\"",
     "abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
     "sl-key", "softlayer-key:=afakekey"},
    {"cloudant_key", "cloudant_key = \"abcdefghijabcdefghijabcd\"",
     "abcdefghijabcdefghijabcd", "cloudant_key", "cl_key = \"a-fake-api-key\""},
    {"ibm_cos_hmac",
     "cos_secret_key = \"1234567890abcdef1234567890abcdef1234567890abcdef\"",
     "1234567890abcdef1234567890abcdef", "cos_secret_key",
     "cos_secret_key = \"1234567890abcdef1234567890abcdef1234567890abcdefxx\""},
    {"artifactory_token", "X-JFrog-Art-Api: AKCp5budTFpbypBqQbGJPz3pGCi28pP",
     "AKCp5budTFpbypBqQbGJPz3pGCi28pP",
     "X-JFrog-Art-Api: ", "testAKCwithinsomeirrelevantstring"},
    {"discord_token",
     "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
     "ZnCjm1XVW7vRze4b7Cq4se7kKWs", "",
     "MZ1yGvKTj0rY0cV8i47CjAa.uRHQPq.Xb1Mk2nEhe-4iUcrGOuegj57zMC"},
    {"mailchimp_key", "mc 343ea45721923ed956e2b38c31db76aa-us30",
     "343ea45721923ed956e2b38c31db76aa", "mc ",
     "9276a43e2951aa46e2b1c33ED38357DB-us2"},
    {"telegram_token", "110201543:AAHdqTcvCH1vGWJxfSe1ofSAs0K5PALDsaw",
     "AAHdqTcvCH1vGWJxfSe1ofSAs0K5PALDsaw", "",
     "bot110201543:AAHdqTcvCH1vGWJxfSe1ofSAs0K5PALDsaw"},
    {"square_oauth", "sq0atp-0123456789ABCDEFGHIJKL", "0123456789ABCDEFGHIJKL",
     "", "sq0atp-short"},
    {"ip_public", "client 133.133.133.133:8080 in", "133.133.133.133",
     ":8080 in", "client 10.0.0.1 and 192.168.1.1 in"},
    {"high_entropy", "blob '2b00042f7481c7b056c4b410d28f33cf' end",
     "2b00042f7481c7b056c4b410d28f33cf", "' end",
     "blob 'c3VwZXIgc2VjcmV0IHZhbHVl' end"},
};

static void
test_every_detector(void **state)
{
    const char *const *names = as_scrub_builtin_names();
    struct as_buf out = AS_BUF_INIT;
    size_t n_names = 0;

    (void) state;
    for (size_t i = 0; i < AS_ARRAY_SIZE(det_cases); i++) {
        const struct det_case *c = &det_cases[i];
        struct as_scrub *s = scrub_one(c->det);
        unsigned n;

        n = scrub_text(s, c->hit, &out);
        if (n == 0 || strstr(out.data, c->secret) != NULL ||
            strstr(out.data, c->keep) == NULL) {
            fail_msg("%s: positive case not scrubbed as expected: %u "
                     "redactions, result \"%s\"",
                     c->det, n, out.data);
        }
        assert_int_equal(as_scrub_detector_hits(s, 0), n);
        n = scrub_text(s, c->miss, &out);
        if (n != 0 || strcmp(out.data, c->miss) != 0) {
            fail_msg("%s: near miss altered: \"%s\"", c->det, out.data);
        }
        as_scrub_free(s);
    }
    /* Every built-in has a case above. */
    for (; names[n_names] != NULL; n_names++) {
        bool found = false;

        for (size_t i = 0; i < AS_ARRAY_SIZE(det_cases); i++) {
            found = found || strcmp(det_cases[i].det, names[n_names]) == 0;
        }
        if (!found) {
            fail_msg("detector %s has no test case", names[n_names]);
        }
    }
    assert_true(n_names >= 25);
    as_buf_free(&out);
}

static struct json_object *
scrub_json(struct as_scrub *s, const char *json, unsigned *redacted)
{
    struct as_record r;

    memset(&r, 0, sizeof(r));
    r.obj = json_tokener_parse(json);
    assert_non_null(r.obj);
    as_scrub_record(s, &r);
    *redacted = r.redacted;
    return r.obj;
}

static void
test_keys_any_depth(void **state)
{
    const char *p[1] = {"jwt"};
    struct as_scrub *s = new_scrub(p, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
    struct json_object *o;
    unsigned n;
    const char *out;

    (void) state;
    o = scrub_json(s,
                   "{\"user\":\"bob\",\"apiKey\":12345,"
                   "\"a\":[{\"b\":[{\"API_KEY\":{\"x\":1}}],"
                   "\"Set-Cookie\":[\"s=1\",\"t=2\"]}],"
                   "\"nested\":{\"deeper\":{\"pass_word\":\"p\","
                   "\"client.secret\":null,\"Session\":true}},"
                   "\"tokens_left\":3}",
                   &n);
    out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    assert_string_equal(out,
                        "{\"user\":\"bob\",\"apiKey\":\"" RED "\","
                        "\"a\":[{\"b\":[{\"API_KEY\":\"" RED "\"}],"
                        "\"Set-Cookie\":\"" RED "\"}],"
                        "\"nested\":{\"deeper\":{\"pass_word\":\"" RED "\","
                        "\"client.secret\":\"" RED "\",\"Session\":\"" RED
                        "\"}},\"tokens_left\":3}");
    assert_int_equal(n, 6);
    assert_int_equal(as_scrub_key_hits(s), 6);
    json_object_put(o);
    as_scrub_free(s);
}

/*
 * Member names at the edges of the key prefilter (the first three bytes
 * taken as they are unless one is a separator or the end): separators
 * and case anywhere, names shorter than three bytes, UTF-8.
 */
static void
test_key_names(void **state)
{
    static const char *const keys[] = {"password", "api_key", "set-cookie",
                                       "db", "x"};
    static const struct {
        const char *name;
        bool match;
    } names[] = {
        {"password", true},
        {"PASSWORD", true},
        {"Password", true},
        {"_password", true},
        {"__password", true},
        {"-password", true},
        {".password", true},
        {" password", true},
        {"p_assword", true},
        {"pa-ssword", true},
        {"pas.sword", true},
        {"p a s s w o r d", true},
        {"passWord_", true},
        {"api_key", true},
        {"APIKEY", true},
        {"a_p_i_k_e_y", true},
        {"Set-Cookie", true},
        {"SETCOOKIE", true},
        {"db", true},
        {"DB", true},
        {"d_b", true},
        {"_x", true},
        {"X", true},
        {"x.", true},
        {"passwords", false},
        {"pass", false},
        {"pa", false},
        {"p", false},
        {"", false},
        {"_", false},
        {"___", false},
        {"xpassword", false},
        {"p\xc3\xa4ssword", false},
        {"password\xc3\xa9", false},
        {"\xc3\xa9x", false},
        {"dbx", false},
        {"xx", false},
        {"api", false},
    };
    struct as_conf_scrub conf;
    struct as_scrub *s = NULL;
    struct as_error err;

    (void) state;
    memset(&conf, 0, sizeof(conf));
    conf.keys.v = (char **) keys;
    conf.keys.n = AS_ARRAY_SIZE(keys);
    conf.replacement = (char *) RED;
    conf.key_file = (char *) "";
    assert_int_equal(as_scrub_new(&conf, &s, &err), 0);
    for (size_t i = 0; i < AS_ARRAY_SIZE(names); i++) {
        struct as_record r;
        struct json_object *v;
        uint64_t before = as_scrub_key_hits(s);

        memset(&r, 0, sizeof(r));
        r.obj = json_object_new_object();
        json_object_object_add(r.obj, names[i].name,
                               json_object_new_string("v4lue"));
        as_scrub_record(s, &r);
        v = json_object_object_get(r.obj, names[i].name);
        if ((as_scrub_key_hits(s) - before == 1) != names[i].match ||
            strcmp(json_object_get_string(v), names[i].match ? RED : "v4lue") !=
                0) {
            fail_msg("member \"%s\": expected %s, got \"%s\"", names[i].name,
                     names[i].match ? "a match" : "no match",
                     json_object_get_string(v));
        }
        json_object_put(r.obj);
    }
    as_scrub_free(s);
}

static char *
write_key_file(const char *content)
{
    char *path = strdup("/tmp/test_scrub_key.XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)),
                     (ssize_t) strlen(content));
    close(fd);
    return path;
}

static void
test_hmac(void **state)
{
    const char *p[2] = {"aws_access_key", "database_dsn"};
    char *k1 = write_key_file("key one\n");
    char *k2 = write_key_file("key two\n");
    struct as_scrub *s1 = new_scrub(p, 2, "hmac", k1, NULL, 0, 0, NULL, 0);
    struct as_scrub *s1b = new_scrub(p, 2, "hmac", k1, NULL, 0, 0, NULL, 0);
    struct as_scrub *s2 = new_scrub(p, 2, "hmac", k2, NULL, 0, 0, NULL, 0);
    struct as_buf a = AS_BUF_INIT, b = AS_BUF_INIT, c = AS_BUF_INIT;
    const char *text = "keys AKIAZ7Q4X2LMN3PQRS5T and AKIAZ7Q4X2LMN3PQRS5T, "
                       "AKIAZ7Q4X2LMN3PQRS5U";
    char first[64], second[64], third[64];
    struct json_object *o;
    unsigned n;
    char msg[256];

    (void) state;
    assert_int_equal(scrub_text(s1, text, &a), 3);
    assert_int_equal(
        sscanf(a.data, "keys %21s and %21s %21s", first, second, third), 3);
    /* "hmac:" + 16 hex; equal secrets, equal digests; others differ. */
    assert_int_equal(strlen(first), 21);
    assert_memory_equal(first, "hmac:", 5);
    assert_int_equal(strspn(first + 5, "0123456789abcdef"), 16);
    assert_memory_equal(first, second, 21);
    assert_memory_not_equal(first, third, 21);
    assert_int_equal(scrub_text(s1b, text, &b), 3);
    assert_string_equal(a.data, b.data);
    assert_int_equal(scrub_text(s2, text, &c), 3);
    assert_string_not_equal(a.data, c.data);
    assert_null(strstr(a.data, "AKIA"));
    /* A DSN keeps scheme, user and host. */
    assert_int_equal(scrub_text(s1, "postgres://app:pw1234@db/x", &a), 1);
    assert_memory_equal(a.data, "postgres://app:hmac:", 20);
    assert_string_equal(a.data + 20 + 16, "@db/x");
    /* Key matches use the digest too, for any type. */
    o = scrub_json(s1, "{\"password\":\"hunter22\",\"token\":{\"a\":1}}", &n);
    assert_int_equal(n, 2);
    assert_null(strstr(json_object_to_json_string(o), "hunter22"));
    assert_non_null(strstr(json_object_to_json_string(o), "\"hmac:"));
    json_object_put(o);
    /* hmac without a usable key file is a config error. */
    new_scrub(p, 2, "hmac", "", NULL, 0, AS_ERR_CONFIG, msg, sizeof(msg));
    assert_non_null(strstr(msg, "scrub.key_file"));
    new_scrub(p, 2, "hmac", "/nonexistent/key", NULL, 0, AS_ERR_CONFIG, msg,
              sizeof(msg));
    assert_non_null(strstr(msg, "scrub.key_file"));
    as_scrub_free(s1);
    as_scrub_free(s1b);
    as_scrub_free(s2);
    unlink(k1);
    unlink(k2);
    free(k1);
    free(k2);
    as_buf_free(&a);
    as_buf_free(&b);
    as_buf_free(&c);
}

static void
test_custom_and_errors(void **state)
{
    struct as_conf_scrub_custom custom[2] = {
        {(char *) "ticket_id", (char *) "TCK-[0-9]{8}"},
        {(char *) "emp", (char *) "emp:(?<s>[0-9]{6})"},
    };
    struct as_conf_scrub_custom bad[1] = {
        {(char *) "broken", (char *) "abc(def"},
    };
    const char *p[1] = {"jwt"};
    const char *unknown[2] = {"jwt", "no_such_detector"};
    struct as_scrub *s;
    struct as_buf out = AS_BUF_INIT;
    char msg[256];

    (void) state;
    s = new_scrub(p, 1, NULL, NULL, custom, 2, 0, NULL, 0);
    assert_int_equal(as_scrub_n_detectors(s), 3);
    assert_int_equal(scrub_text(s, "see TCK-12345678 and emp:004211.", &out),
                     2);
    assert_string_equal(out.data, "see " RED " and emp:" RED ".");
    assert_string_equal(as_scrub_detector_name(s, 1), "ticket_id");
    assert_int_equal(as_scrub_detector_hits(s, 1), 1);
    assert_int_equal(as_scrub_detector_hits(s, 2), 1);
    assert_int_equal(scrub_text(s, "TCK-1234567", &out), 0);
    as_scrub_free(s);
    new_scrub(p, 1, NULL, NULL, bad, 1, AS_ERR_CONFIG, msg, sizeof(msg));
    assert_non_null(strstr(msg, "scrub.custom[0].regex"));
    assert_non_null(strstr(msg, "broken"));
    assert_non_null(strstr(msg, "missing closing parenthesis"));
    new_scrub(unknown, 2, NULL, NULL, NULL, 0, AS_ERR_CONFIG, msg, sizeof(msg));
    assert_non_null(strstr(msg, "scrub.patterns"));
    assert_non_null(strstr(msg, "no_such_detector"));
    as_buf_free(&out);
}

static void
test_placeholders(void **state)
{
    static const char *const left[] = {
        "example key AKIAIOSFODNN7EXAMPLE in the docs",
        "password=${DB_PASSWORD}",
        "password: changeme",
        "secret=xxxxxxxx",
        "token = \"<your token here>\"",
        "postgres://app:${PGPASSWORD}@db/app",
        "https://user:xxxxxx@example.org/",
        "Authorization: Bearer ${TOKEN}",
        "api_key = \"dummy-api-key\"",
        "password = '%s'",
    };
    const char *all[1] = {"*"};
    struct as_scrub *s = new_scrub(all, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
    struct as_buf out = AS_BUF_INIT;

    (void) state;
    for (size_t i = 0; i < AS_ARRAY_SIZE(left); i++) {
        if (scrub_text(s, left[i], &out) != 0) {
            fail_msg("placeholder redacted: \"%s\" -> \"%s\"", left[i],
                     out.data);
        }
    }
    assert_true(as_scrub_placeholders(s) >= AS_ARRAY_SIZE(left));
    as_scrub_free(s);
    as_buf_free(&out);
}

static void
test_partial_replacement(void **state)
{
    const char *all[1] = {"*"};
    struct as_scrub *s = new_scrub(all, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
    struct as_buf out = AS_BUF_INIT;
    struct json_object *o;
    unsigned n;

    (void) state;
    assert_int_equal(
        scrub_text(s, "rotated key AKIAZ7Q4X2LMN3PQRS5T for deploy", &out), 1);
    assert_string_equal(out.data, "rotated key " RED " for deploy");
    assert_int_equal(
        scrub_text(s,
                   "connect mysql://root:Tr0ub4dor&3@10.1.2.3:3306/shop and "
                   "amqp://guest:rabbitPw9@mq:5672/%2f then retry",
                   &out),
        2);
    assert_string_equal(out.data, "connect mysql://root:" RED
                                  "@10.1.2.3:3306/shop and amqp://guest:" RED
                                  "@mq:5672/%2f then retry");
    /* Two secrets in one string, each counted. */
    assert_int_equal(
        scrub_text(s, "password=hunter22&token=q8w7e6r5t4 ok", &out), 2);
    assert_string_equal(out.data, "password=" RED "&token=" RED " ok");
    /* In a record: counted in redacted, the rest untouched, UTF-8 kept. */
    o = scrub_json(
        s,
        "{\"msg\":\"caf\\u00e9 postgres://u:p\\u00e4ss1@h/db \\u00fc\","
        "\"n\":[\"ok\",\"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\"]}",
        &n);
    assert_int_equal(n, 2);
    assert_string_equal(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"msg\":\"caf\xc3\xa9 postgres://u:" RED
        "@h/db \xc3\xbc\",\"n\":[\"ok\",\"" RED "\"]}");
    json_object_put(o);
    as_scrub_free(s);
    as_buf_free(&out);
}

static char *
raw_of(struct as_record *r, size_t *len)
{
    struct json_object *v;
    const char *enc;
    size_t elen;
    unsigned char *dec;
    int n;

    if (json_object_object_get_ex(r->obj, "raw", &v)) {
        *len = (size_t) json_object_get_string_len(v);
        return strdup(json_object_get_string(v));
    }
    assert_true(json_object_object_get_ex(r->obj, "raw_base64", &v));
    enc = json_object_get_string(v);
    elen = strlen(enc);
    dec = calloc(1, elen + 1);
    n = EVP_DecodeBlock(dec, (const unsigned char *) enc, (int) elen);
    assert_true(n >= 0);
    *len = (size_t) n - (elen > 0 && enc[elen - 1] == '=') -
           (elen > 1 && enc[elen - 2] == '=');
    return (char *) dec;
}

static void
test_invalid_records(void **state)
{
    const char *all[1] = {"*"};
    struct as_scrub *s = new_scrub(all, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
    static const char bad_json[] =
        "{\"user\":\"bob\",\"password\":\"hunter22\"";
    static const char not_utf8[] = "{\"x\":\"\xff\xfe\",\"m\":\"token=hunter22 "
                                   "AKIAZ7Q4X2LMN3PQRS5T\"}";
    static const char cut[] = "{\"m\":\"push ghp_wWPw5k4aXcaT4fNP";
    static const char cut8[] = "{\"m\":\"\xff key AKIAZ7Q4X2";
    struct as_record *r;
    char *raw;
    size_t len;

    (void) state;
    /* Bad JSON: raw is a string, scanned like any other. */
    r = as_record_new("in", NULL);
    as_record_set_invalid(r, bad_json, strlen(bad_json), "invalid JSON");
    as_scrub_record(s, r);
    raw = raw_of(r, &len);
    assert_null(strstr(raw, "hunter22"));
    assert_non_null(strstr(raw, "\"user\":\"bob\""));
    assert_true(r->redacted >= 1);
    free(raw);
    as_record_free(r);
    /* Not UTF-8: the bytes behind raw_base64 are scrubbed. */
    r = as_record_new("in", NULL);
    as_record_set_invalid(r, not_utf8, strlen(not_utf8), "invalid JSON");
    as_scrub_record(s, r);
    raw = raw_of(r, &len);
    assert_null(memmem(raw, len, "hunter22", 8));
    assert_null(memmem(raw, len, "AKIA", 4));
    assert_non_null(memmem(raw, len, "\xff\xfe", 2));
    assert_int_equal(r->redacted, 2);
    free(raw);
    as_record_free(r);
    /* Truncated: the visible half of a cut token goes too. */
    r = as_record_new("in", NULL);
    as_record_set_invalid(r, cut, strlen(cut), "too long");
    r->flags |= AS_REC_TRUNCATED;
    as_scrub_record(s, r);
    raw = raw_of(r, &len);
    assert_string_equal(raw, "{\"m\":\"push " RED);
    assert_int_equal(r->redacted, 1);
    free(raw);
    as_record_free(r);
    r = as_record_new("in", NULL);
    as_record_set_invalid(r, cut8, strlen(cut8), "too long");
    r->flags |= AS_REC_TRUNCATED;
    as_scrub_record(s, r);
    raw = raw_of(r, &len);
    assert_int_equal(len, strlen("{\"m\":\"\xff key " RED));
    assert_memory_equal(raw, "{\"m\":\"\xff key " RED, len);
    free(raw);
    as_record_free(r);
    as_scrub_free(s);
}

static void
test_names_documented(void **state)
{
    const char *const *names = as_scrub_builtin_names();
    const char *top = getenv("top_srcdir");
    char path[4096];
    char *doc;

    (void) state;
    snprintf(path, sizeof(path), "%s/docs/SCRUBBING.md",
             top != NULL ? top : "..");
    doc = as_test_read_file(path, NULL);
    assert_non_null(doc);
    for (size_t i = 0; names[i] != NULL; i++) {
        char cell[80];

        snprintf(cell, sizeof(cell), "| `%s` |", names[i]);
        if (strstr(doc, cell) == NULL) {
            fail_msg("%s is not in the table of docs/SCRUBBING.md", names[i]);
        }
    }
    free(doc);
}

/* ---- the labelled corpus ---- */

static int
tok_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           c == '+' || c == '/' || c == '_' || c == '.' || c == '-' ||
           c == '\\';
}

/*
 * The secret part of a should_flag:true text, by its shape: a PEM body,
 * the password of URL userinfo, the last path segment of API URLs, the
 * value of a keyword assignment or comparison, else the longest token
 * after the last assignment.
 */
static void
oracle_secret(const char *text, const char *cat, char *out, size_t out_len)
{
    const char *p, *q, *end = text + strlen(text);
    const char *best = text, *best_end = text;

    if ((p = strstr(text, "-----BEGIN")) != NULL &&
        (p = strchr(p, '\n')) != NULL) {
        p++;
        q = strstr(p, "\n-----END");
        snprintf(out, out_len, "%.*s", (int) ((q != NULL ? q : end) - p), p);
        return;
    }
    if ((p = strstr(text, "://")) != NULL && strchr(p, '@') != NULL &&
        strchr(p + 3, ':') != NULL && strchr(p + 3, ':') < strrchr(p, '@')) {
        p = strchr(p + 3, ':') + 1;
        q = strrchr(p, '@');
        snprintf(out, out_len, "%.*s", (int) (q - p), p);
        return;
    }
    if (strstr(text, "/soap/") != NULL ||
        strstr(text, "hooks.slack.com") != NULL) {
        p = strrchr(text, '/') + 1;
        snprintf(out, out_len, "%s", p);
        return;
    }
    if (strcmp(cat, "keyword") == 0) {
        if (strncmp(text, "if (", 4) == 0) {
            p = strchr(text, '"') + 1;
            q = strchr(p, '"');
            snprintf(out, out_len, "%.*s", (int) (q - p), p);
            return;
        }
        for (p = text; *p != '\0'; p++) {
            if (strchr("=:!", *p) != NULL ||
                (*p == ' ' && (p[1] == '"' || p[1] == '\''))) {
                break;
            }
        }
        p += strspn(p, "=:!> \t@");
        if (*p == '"' || *p == '\'' || *p == '`') {
            q = strchr(p + 1, *p);
            p++;
        } else {
            q = p + strcspn(p, " \t");
        }
        if (q == NULL) {
            q = end;
        }
        snprintf(out, out_len, "%.*s", (int) (q - p), p);
        return;
    }
    /* After the last "=" or ": " followed by something alphanumeric. */
    p = text;
    for (q = text; *q != '\0'; q++) {
        if (*q == '=' || (*q == ':' && q[1] == ' ')) {
            const char *r = q + 1;

            while (*r != '\0' && !tok_char((unsigned char) *r)) {
                r++;
            }
            if (*r != '\0' && *r != '=') {
                p = q + 1;
            }
        }
    }
    for (; p < end; p++) {
        if (tok_char((unsigned char) *p)) {
            q = p;
            while (q < end && tok_char((unsigned char) *q)) {
                q++;
            }
            if (q - p > best_end - best) {
                best = p;
                best_end = q;
            }
            p = q;
        }
    }
    snprintf(out, out_len, "%.*s", (int) (best_end - best), best);
}

/* No 8-byte window of secret (or all of it, if shorter) survives. */
static bool
secret_gone(const char *secret, const char *out)
{
    size_t len = strlen(secret), w = len < 8 ? len : 8;

    if (len == 0) {
        return true;
    }
    for (size_t i = 0; i + w <= len; i++) {
        if (memmem(out, strlen(out), secret + i, w) != NULL) {
            return false;
        }
    }
    return true;
}

struct cat_stats {
    char name[40];
    unsigned pos, found, neg, altered;
};

static struct cat_stats *
cat_get(struct cat_stats *cs, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(cs[i].name, name) == 0) {
            return &cs[i];
        }
    }
    snprintf(cs[*n].name, sizeof(cs[*n].name), "%s", name);
    return &cs[(*n)++];
}

static void
test_labelled_corpus(void **state)
{
    const char *shared = getenv("AS_SHARED");
    const char *all[1] = {"*"};
    struct as_scrub *s = new_scrub(all, 1, NULL, NULL, NULL, 0, 0, NULL, 0);
    struct cat_stats cs[64];
    size_t n_cat = 0;
    unsigned pos = 0, found = 0, neg = 0, altered = 0;
    char path[4096], *line = NULL, secret[4096];
    size_t cap = 0;
    FILE *f;

    (void) state;
    memset(cs, 0, sizeof(cs));
    snprintf(path, sizeof(path), "%s/testdata/secrets/labelled-cases.jsonl",
             shared != NULL ? shared : "../../shared");
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) > 0) {
        struct json_object *d = json_tokener_parse(line), *v, *ev[3];
        const char *text, *cat;
        bool flag, gone = true, changed = false;
        struct cat_stats *c;
        char *free_text;

        assert_non_null(d);
        assert_true(json_object_object_get_ex(d, "text", &v));
        text = json_object_get_string(v);
        json_object_object_get_ex(d, "category", &v);
        cat = json_object_get_string(v);
        json_object_object_get_ex(d, "should_flag", &v);
        flag = json_object_get_boolean(v);
        c = cat_get(cs, &n_cat, cat);
        as_asprintf(&free_text, "user reported: %s (end of note)", text);
        /* Top level, nested in objects and arrays, inside free text. */
        ev[0] = json_object_new_object();
        json_object_object_add(ev[0], "detail", json_object_new_string(text));
        ev[1] = json_object_new_object();
        v = json_object_new_array();
        json_object_array_add(v, json_object_new_string(text));
        json_object_object_add(ev[1], "metadata", json_object_new_object());
        json_object_object_add(json_object_object_get(ev[1], "metadata"),
                               "items", v);
        ev[2] = json_object_new_object();
        json_object_object_add(ev[2], "note",
                               json_object_new_string(free_text));
        if (flag) {
            oracle_secret(text, cat, secret, sizeof(secret));
        }
        for (size_t k = 0; k < 3; k++) {
            struct as_record r;
            const char *before = k == 2 ? free_text : text;
            const char *after;

            memset(&r, 0, sizeof(r));
            r.obj = ev[k];
            as_scrub_record(s, &r);
            v = k == 0   ? json_object_object_get(r.obj, "detail")
                : k == 1 ? json_object_array_get_idx(
                               json_object_object_get(
                                   json_object_object_get(r.obj, "metadata"),
                                   "items"),
                               0)
                         : json_object_object_get(r.obj, "note");
            after = json_object_get_string(v);
            changed = changed || strcmp(before, after) != 0;
            if (flag && (!secret_gone(secret, after) || r.redacted == 0)) {
                gone = false;
                print_message("# missed [%s] %s -> %s\n", cat, text, after);
            }
            json_object_put(r.obj);
        }
        if (flag) {
            c->pos++;
            pos++;
            c->found += gone;
            found += gone;
        } else {
            c->neg++;
            neg++;
            c->altered += changed;
            altered += changed;
        }
        free(free_text);
        json_object_put(d);
    }
    free(line);
    fclose(f);
    for (size_t i = 0; i < n_cat; i++) {
        print_message("# %-20s recall %3u/%-3u %5.1f%%   false positives "
                      "%2u/%-3u %5.1f%%\n",
                      cs[i].name, cs[i].found, cs[i].pos,
                      cs[i].pos ? 100.0 * cs[i].found / cs[i].pos : 100.0,
                      cs[i].altered, cs[i].neg,
                      cs[i].neg ? 100.0 * cs[i].altered / cs[i].neg : 0.0);
    }
    print_message("# total: recall %u/%u, should_flag:false altered %u/%u\n",
                  found, pos, altered, neg);
    assert_true(pos > 0);
    assert_int_equal(found, pos);
    as_scrub_free(s);
}

/* ---- the prefilters change no result ---- */

/*
 * Scrubs text[0..len) with s and with full (every detector on every
 * string); fails unless both give the same redactions and bytes.
 */
static unsigned
same_as_full(struct as_scrub *s, struct as_scrub *full, const char *text,
             size_t len)
{
    struct as_buf a = AS_BUF_INIT, b = AS_BUF_INIT;
    unsigned na = as_scrub_bytes(s, text, len, &a);
    unsigned nb = as_scrub_bytes(full, text, len, &b);

    if (na != nb ||
        (na > 0 && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))) {
        fail_msg("prefilters change the result for \"%.*s\": %u redactions "
                 "(\"%.*s\"), full scan %u (\"%.*s\")",
                 (int) len, text, na, na > 0 ? (int) a.len : 0,
                 na > 0 ? a.data : "", nb, nb > 0 ? (int) b.len : 0,
                 nb > 0 ? b.data : "");
    }
    as_buf_free(&a);
    as_buf_free(&b);
    return na;
}

/*
 * text at the start, the end and the middle of a string, between UTF-8
 * and other bytes, in upper, lower and swapped case; returns the number
 * of variants with a redaction.
 */
static unsigned
same_as_full_variants(struct as_scrub *s, struct as_scrub *full,
                      const char *text)
{
    static const char *const around[][2] = {
        {"", ""},
        {"", " end"},
        {"start ", ""},
        {"x", "x"},
        {"\xc3\xa9", "\xc3\xa9"},
        {"\xe6\x97\xa5 ", " \xe2\x82\xac"},
        {"\xff", "="},
        {"a=", "&b=1"},
        {"\"", "\""},
    };
    size_t len = strlen(text);
    char *v = as_malloc(len + 16);
    unsigned hits = 0;

    for (size_t i = 0; i < AS_ARRAY_SIZE(around); i++) {
        int n =
            snprintf(v, len + 16, "%s%s%s", around[i][0], text, around[i][1]);

        hits += same_as_full(s, full, v, (size_t) n) > 0;
    }
    for (int mode = 0; mode < 3; mode++) {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char) text[i];
            bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';

            v[i] =
                (char) ((mode == 0 && lower) || (mode == 2 && lower)   ? c - 32
                        : (mode == 1 && upper) || (mode == 2 && upper) ? c + 32
                                                                       : c);
        }
        hits += same_as_full(s, full, v, len) > 0;
    }
    free(v);
    return hits;
}

/*
 * Every prefix and suffix of text: each anchor, needed byte and minimum
 * length cut at every byte, each anchor at the very start and end.
 */
static void
same_as_full_cuts(struct as_scrub *s, struct as_scrub *full, const char *text)
{
    size_t len = strlen(text);

    for (size_t k = 0; k <= len; k++) {
        same_as_full(s, full, text, k);
        same_as_full(s, full, text + k, len - k);
    }
}

/*
 * Strings at the edges of the byte-set and length gates: every operator
 * and every white-space byte a gated pattern accepts, matches exactly as
 * long as the shortest possible one, the needed byte first or last.
 */
static const struct {
    const char *text;
    bool secret;
} gate_cases[] = {
    {"pwd:x", true}, /* secret_assignment's shortest match */
    {"pwd:", false},
    {"token=abc1", true},
    {"token:=abc1", true},
    {"token=>abc1", true},
    {"token==abc1", true},
    {"token===abc1", true},
    {"token!=abc1", true},
    {"token!==abc1", true},
    {"token 'abc1'", true},
    {"token\t'abc1'", true},
    {"token\n\"abc1\"", true},
    {"token\v`abc1`", true},
    {"token\f'abc1'", true},
    {"token\r'abc1'", true},
    {"token\xa0'abc1'", false},
    {"token\xc2\x85'abc1'", false},
    {"password_changed", false},
    {"api_key.created", false},
    {"Bearer abc123def456", true},
    {"Bearer\tabc123def456", true},
    {"bearer\nabc123def456", true},
    {"BEARER\vabc123def456", true},
    {"Bearer\fabc123def456", true},
    {"Bearer\rabc123def456", true},
    {"Bearer_abc123def456", false},
    {"Basic\tdXNlcjpodW50ZXIy", true},
    {"basic\rdXNlcjpodW50ZXIy", true},
    {"aws_secret_access_key:k9Zq1Xv8Lm2Nb7Rt4Yp3Wc6Hd5Jf0Gs2Ae8Ui1Oo", true},
    {"aws_secret_access_key=k9Zq1Xv8Lm2Nb7Rt4Yp3Wc6Hd5Jf0Gs2Ae8Ui1Oo", true},
    {"aws_secret_access_key k9Zq1Xv8Lm2Nb7Rt4Yp3Wc6Hd5Jf0Gs2Ae8Ui1Oo", false},
    {"postgres://app:s3cr3tPw@d", true},
    {"https://alice:wonderland9@g", true},
    {"https://alice:wonderland9/g", false},
    {"cos_secret_key=1234567890abcdef1234567890abcdef1234567890abcdef", true},
    {"secret_access_key:1234567890abcdef1234567890abcdef1234567890abcdef",
     true},
    {"ibm_cloud_iam-key:abcd1234abcd1234abcd1234ABCD1234ABCD1234--__", true},
    {"cloudant_key=abcdefghijabcdefghijabcd", true},
    {"cl_pwd:abcdefghijabcdefghijabcd", true},
    {"slkey abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
     true},
    {"sl_pass\t"
     "abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
     true},
    {"api.softlayer.com/soap/v3.1/"
     "abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
     true},
    {"softlayer_key_"
     "abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234abcd1234",
     false},
};

/*
 * The prefilters of a scrubber with the given patterns against the full
 * scan; expect: the gate cases' outcomes hold for these patterns.
 */
static void
check_prefilters(const char *const *patterns, size_t n, bool expect)
{
    const char *shared = getenv("AS_SHARED");
    struct as_scrub *s =
        new_scrub(patterns, n, NULL, NULL, NULL, 0, 0, NULL, 0);
    struct as_scrub *full =
        new_scrub(patterns, n, NULL, NULL, NULL, 0, 0, NULL, 0);
    char path[4096], *line = NULL;
    unsigned hits = 0, texts = 0;
    size_t cap = 0;
    FILE *f;

    as__scrub_without_prefilter(full);
    for (size_t i = 0; i < AS_ARRAY_SIZE(gate_cases); i++) {
        const char *t = gate_cases[i].text;
        unsigned r = same_as_full(s, full, t, strlen(t));

        if (expect && (r > 0) != gate_cases[i].secret) {
            fail_msg("\"%s\": %u redactions", t, r);
        }
        same_as_full_cuts(s, full, t);
        same_as_full_variants(s, full, t);
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(det_cases); i++) {
        same_as_full_cuts(s, full, det_cases[i].hit);
        hits += same_as_full_variants(s, full, det_cases[i].hit);
        same_as_full_variants(s, full, det_cases[i].miss);
    }
    snprintf(path, sizeof(path), "%s/testdata/secrets/labelled-cases.jsonl",
             shared != NULL ? shared : "../../shared");
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) > 0) {
        struct json_object *d = json_tokener_parse(line), *v;

        assert_non_null(d);
        assert_true(json_object_object_get_ex(d, "text", &v));
        hits += same_as_full_variants(s, full, json_object_get_string(v));
        texts++;
        json_object_put(d);
    }
    free(line);
    fclose(f);
    print_message("# %zu patterns: %u corpus texts, %u variants with a "
                  "redaction\n",
                  as_scrub_n_detectors(s), texts, hits);
    assert_true(texts > 500 && hits > 200);
    /* The same detectors were credited, the same placeholders skipped. */
    for (size_t i = 0; i < as_scrub_n_detectors(s); i++) {
        assert_int_equal(as_scrub_detector_hits(s, i),
                         as_scrub_detector_hits(full, i));
    }
    assert_int_equal(as_scrub_placeholders(s), as_scrub_placeholders(full));
    as_scrub_free(s);
    as_scrub_free(full);
}

/*
 * Three pair-probe steps: every built-in (one-byte anchors: step 1), the
 * default list (3-byte anchors: step 2) and detectors whose anchors are
 * all 4+ bytes long (step 3), with the run-gated ones.
 */
static void
test_prefilters_same_results(void **state)
{
    const char *all[1] = {"*"};
    const char *const *names = as_scrub_builtin_names();
    const char *defaults[64];
    const char *long_anchors[] = {
        "private_key_block", "github_token",  "gitlab_token",      "stripe_key",
        "google_api_key",    "pypi_token",    "azure_storage_key", "bearer",
        "basic_auth",        "slack_webhook", "credit_card",       "twilio_key",
        "discord_token",
    };
    size_t n = 0;

    (void) state;
    for (size_t i = 0; names[i] != NULL && n < AS_ARRAY_SIZE(defaults); i++) {
        if (strcmp(names[i], "ip_public") != 0 &&
            strcmp(names[i], "high_entropy") != 0) {
            defaults[n++] = names[i];
        }
    }
    check_prefilters(all, 1, true);
    check_prefilters(defaults, n, true);
    check_prefilters(long_anchors, AS_ARRAY_SIZE(long_anchors), false);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_detector),
        cmocka_unit_test(test_keys_any_depth),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_custom_and_errors),
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_partial_replacement),
        cmocka_unit_test(test_invalid_records),
        cmocka_unit_test(test_names_documented),
        cmocka_unit_test(test_labelled_corpus),
        cmocka_unit_test(test_prefilters_same_results),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
