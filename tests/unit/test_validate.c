/*
 * The audit schema (DESIGN section 7) and the enrich step: every rule with
 * its exact reason, the order in which rules are reported when several
 * fail, members whose names are near the schema's (same length, one byte
 * off; a longer or shorter name), JSON null for each member, and many
 * members around the schema's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/record.h"
#include "parsers/json.h"
#include "processors/validate.h"

#define BASE                                                                   \
    "\"actor_id\":\"user_1\",\"actor_type\":\"user\",\"action\":"              \
    "\"user.login\",\"target_type\":\"project\",\"target_id\":\"p1\""

/* An event with the required members: the reason "" means valid. */
static const struct {
    const char *json;
    const char *why;
} cases[] = {
    {"{" BASE "}", ""},
    {"[1]", "event is not a JSON object"},
    {"\"x\"", "event is not a JSON object"},
    {"{}", "missing required member actor_id"},
    /* Required members, the first failing one in schema order. */
    {"{\"actor_type\":\"user\",\"action\":\"a.b\",\"target_type\":\"t\","
     "\"target_id\":\"i\"}",
     "missing required member actor_id"},
    {"{\"actor_id\":\"u\",\"action\":\"a.b\",\"target_type\":\"t\","
     "\"target_id\":\"i\"}",
     "missing required member actor_type"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"target_type\":\"t\","
     "\"target_id\":\"i\"}",
     "missing required member action"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_id\":\"i\"}",
     "missing required member target_type"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_type\":\"t\"}",
     "missing required member target_id"},
    {"{\"actor_id\":1,\"actor_type\":\"user\",\"action\":\"a.b\"}",
     "actor_id must be a non-empty string"},
    {"{\"actor_id\":\"u\",\"actor_type\":null}",
     "actor_type must be a non-empty string"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"\"}",
     "action must be a non-empty string"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_type\":[],\"target_id\":\"i\"}",
     "target_type must be a non-empty string"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":{}}",
     "target_id must be a non-empty string"},
    {"{\"target_id\":\"\",\"actor_id\":\"\"}",
     "actor_id must be a non-empty string"},
    /* Names near the schema's are other members. */
    {"{\"actor_ie\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "missing required member actor_id"},
    {"{\"actor_idx\":\"u\",\"actor_i\":\"u\",\"Actor_id\":\"u\","
     "\"actor_type\":\"user\",\"action\":\"a.b\",\"target_type\":\"t\","
     "\"target_id\":\"i\"}",
     "missing required member actor_id"},
    {"{\"actor_id\":\"u\",\"actor_typf\":\"user\",\"action\":\"a.b\"}",
     "missing required member actor_type"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"actioN\":\"a.b\"}",
     "missing required member action"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_typ\":\"t\",\"target_id\":\"i\"}",
     "missing required member target_type"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_ie\":\"i\"}",
     "missing required member target_id"},
    {"{" BASE ",\"metadatb\":1,\"ip_addresz\":1,\"user_agenT\":1,"
     "\"created_aT\":1,\"iD\":1.5,\"ids\":null}",
     ""},
    /* actor_type and the system actor. */
    {"{\"actor_id\":\"u\",\"actor_type\":\"admin\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "actor_type must be user, system or api_key"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"users\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "actor_type must be user, system or api_key"},
    {"{\"actor_id\":\"k\",\"actor_type\":\"api_key\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     ""},
    {"{\"actor_id\":\"u\",\"actor_type\":\"system\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "a system actor must have actor_id system"},
    {"{\"actor_id\":\"system\",\"actor_type\":\"system\",\"action\":\"a.b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     ""},
    /* action. */
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"login\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a..b\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\".a\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b c\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.\\u00e9\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b/c\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b:c\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"a.b@[`{\","
     "\"target_type\":\"t\",\"target_id\":\"i\"}",
     "action must be dotted, like project.deleted"},
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\","
     "\"action\":\"AZaz09_-.x.Y-z_9\",\"target_type\":\"t\","
     "\"target_id\":\"i\"}",
     ""},
    /* The optional members. */
    {"{" BASE ",\"id\":\"e1\",\"metadata\":{},\"user_agent\":\"ua\"}", ""},
    {"{" BASE ",\"id\":-42}", ""},
    {"{" BASE ",\"id\":1.5}", "id must be a string or an integer"},
    {"{" BASE ",\"id\":null}", "id must be a string or an integer"},
    {"{" BASE ",\"id\":true}", "id must be a string or an integer"},
    {"{" BASE ",\"metadata\":[]}", "metadata must be an object"},
    {"{" BASE ",\"metadata\":null}", "metadata must be an object"},
    {"{" BASE ",\"user_agent\":null}", "user_agent must be a string"},
    {"{" BASE ",\"user_agent\":7}", "user_agent must be a string"},
    {"{" BASE ",\"ip_address\":\"10.0.0.1\"}", ""},
    {"{" BASE ",\"ip_address\":\"255.255.255.255\"}", ""},
    {"{" BASE ",\"ip_address\":\"2001:db8::1\"}", ""},
    {"{" BASE ",\"ip_address\":\"::ffff:10.0.0.1\"}", ""},
    {"{" BASE ",\"ip_address\":null}", ""},
    {"{" BASE ",\"ip_address\":\"\"}", "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":\"1.2.3\"}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":\"256.1.1.1\"}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":\"1.2.3.4 \"}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":\"fe80::1%eth0\"}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":\"host.example\"}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"ip_address\":167772161}",
     "ip_address must be IPv4 or IPv6 text"},
    {"{" BASE ",\"created_at\":\"2026-01-28T09:00:00Z\"}", ""},
    {"{" BASE ",\"created_at\":\"2026-01-28t09:00:00.123456z\"}", ""},
    {"{" BASE ",\"created_at\":\"2026-01-28 23:59:60+14:00\"}", ""},
    {"{" BASE ",\"created_at\":\"2026-12-31T00:00:00.1-23:59\"}", ""},
    {"{" BASE ",\"created_at\":\"2026-13-28T09:00:00Z\"}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":\"2026-01-28T09:00:00\"}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":\"2026-01-28T09:00:00.Z\"}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":\"2026-01-28T09:00:00+24:00\"}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":\"2026-01-28T09:00:00Zx\"}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":null}",
     "created_at must be an RFC 3339 date-time"},
    {"{" BASE ",\"created_at\":1769590800}",
     "created_at must be an RFC 3339 date-time"},
    /* Several failures: the schema's order decides. */
    {"{\"actor_id\":\"u\",\"actor_type\":\"user\",\"action\":\"bad\","
     "\"target_type\":\"t\",\"target_id\":\"i\",\"id\":1.5,"
     "\"metadata\":1}",
     "action must be dotted, like project.deleted"},
    {"{" BASE ",\"created_at\":1,\"ip_address\":1,\"user_agent\":1,"
     "\"metadata\":1,\"id\":1.5}",
     "id must be a string or an integer"},
    {"{" BASE ",\"created_at\":1,\"ip_address\":1,\"user_agent\":1,"
     "\"metadata\":1}",
     "metadata must be an object"},
    {"{" BASE ",\"created_at\":1,\"ip_address\":1,\"user_agent\":1}",
     "user_agent must be a string"},
    {"{" BASE ",\"created_at\":1,\"ip_address\":1}",
     "ip_address must be IPv4 or IPv6 text"},
    /* Many members around the schema's. */
    {"{\"m01\":1,\"m02\":2,\"m03\":3,\"m04\":4,\"m05\":5,\"m06\":6,\"m07\":7,"
     "\"m08\":8,\"m09\":9,\"m10\":10,\"m11\":11,\"m12\":12,\"m13\":13,"
     "\"m14\":14,\"m15\":15,\"m16\":16,\"m17\":17," BASE
     ",\"m18\":18,\"metadata\":{\"actor_id\":1},\"m19\":[]}",
     ""},
    /* Members inside metadata are not the event's. */
    {"{\"metadata\":{" BASE "}}", "missing required member actor_id"},
};

static void
test_schema(void **state)
{
    (void) state;
    for (size_t i = 0; i < AS_ARRAY_SIZE(cases); i++) {
        struct json_object *o = NULL;
        struct as_error err;
        char why[256];
        int r;

        as_error_clear(&err);
        if (as_parse_json(cases[i].json, strlen(cases[i].json), &o, &err) !=
            0) {
            fail_msg("case %zu does not parse: %s", i, err.msg);
        }
        strcpy(why, "untouched");
        r = as_validate_audit(o, why, sizeof(why));
        if (cases[i].why[0] == '\0') {
            if (r != 0) {
                fail_msg("case %zu: %s: %s", i, cases[i].json, why);
            }
            assert_string_equal(why, "untouched");
        } else {
            assert_int_equal(r, AS_ERR_INVALID);
            if (strcmp(why, cases[i].why) != 0) {
                fail_msg("case %zu: %s: got \"%s\" want \"%s\"", i,
                         cases[i].json, why, cases[i].why);
            }
        }
        json_object_put(o);
    }
}

/* A short why buffer gets the reason cut, NUL-terminated. */
static void
test_short_why(void **state)
{
    struct json_object *o = json_object_new_object();
    char why[8];

    (void) state;
    assert_int_equal(as_validate_audit(o, why, sizeof(why)), AS_ERR_INVALID);
    assert_string_equal(why, "missing");
    json_object_put(o);
}

/* created_at is filled from received_ns only when absent. */
static void
test_enrich(void **state)
{
    struct as_record *r = as_record_new("in", NULL);
    struct json_object *v;

    (void) state;
    r->received_ns = INT64_C(1769590800123000000);
    r->obj = json_object_new_object();
    as_enrich(r);
    assert_true(json_object_object_get_ex(r->obj, "created_at", &v));
    assert_string_equal(json_object_get_string(v), "2026-01-28T09:00:00.123Z");
    json_object_object_add(r->obj, "created_at", json_object_new_int(5));
    as_enrich(r);
    assert_true(json_object_object_get_ex(r->obj, "created_at", &v));
    assert_int_equal(json_object_get_int(v), 5);
    as_record_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_short_why),
        cmocka_unit_test(test_enrich),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
