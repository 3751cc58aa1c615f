/*
 * The audit event schema (DESIGN section 7) and the enrich step.
 *
 * Pure functions over a json-c object: no state, no allocation besides the
 * created_at member that as_enrich adds.  as_validate_audit walks the
 * event's members once and picks out the ten the schema names, rather than
 * looking each one up by hash.  Letters and digits are ASCII ones (what
 * isalnum means in the C locale, which the agent never changes).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "validate.h"

/* The members the schema names, in the order their rules are checked. */
enum validate_member {
    VALIDATE_ACTOR_ID,
    VALIDATE_ACTOR_TYPE,
    VALIDATE_ACTION,
    VALIDATE_TARGET_TYPE,
    VALIDATE_TARGET_ID, /* the last required one */
    VALIDATE_ID,
    VALIDATE_METADATA,
    VALIDATE_USER_AGENT,
    VALIDATE_IP_ADDRESS,
    VALIDATE_CREATED_AT,
    VALIDATE_MEMBERS
};

static const char *const validate_names[VALIDATE_MEMBERS] = {
    "actor_id", "actor_type", "action",     "target_type", "target_id",
    "id",       "metadata",   "user_agent", "ip_address",  "created_at",
};

/* True when k (n bytes) is the literal lit. */
#define VALIDATE_IS(k, n, lit)                                                 \
    ((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

/* The enum validate_member that the member name k stands for, or -1. */
static int
validate_member(const char *k)
{
    size_t n = strlen(k);

    switch (k[0]) {
    case 'a':
        return VALIDATE_IS(k, n, "actor_id")     ? VALIDATE_ACTOR_ID
               : VALIDATE_IS(k, n, "actor_type") ? VALIDATE_ACTOR_TYPE
               : VALIDATE_IS(k, n, "action")     ? VALIDATE_ACTION
                                                 : -1;
    case 't':
        return VALIDATE_IS(k, n, "target_type") ? VALIDATE_TARGET_TYPE
               : VALIDATE_IS(k, n, "target_id") ? VALIDATE_TARGET_ID
                                                : -1;
    case 'i':
        return VALIDATE_IS(k, n, "id")           ? VALIDATE_ID
               : VALIDATE_IS(k, n, "ip_address") ? VALIDATE_IP_ADDRESS
                                                 : -1;
    case 'm':
        return VALIDATE_IS(k, n, "metadata") ? VALIDATE_METADATA : -1;
    case 'u':
        return VALIDATE_IS(k, n, "user_agent") ? VALIDATE_USER_AGENT : -1;
    case 'c':
        return VALIDATE_IS(k, n, "created_at") ? VALIDATE_CREATED_AT : -1;
    }
    return -1;
}

static bool
validate_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
validate_isalnum(char c)
{
    return validate_isdigit(c) || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

/* "segment.segment[...]": letters, digits, '_' and '-', no empty segment. */
static int
validate_action(const char *s)
{
    int dots = 0;
    size_t seg = 0;

    for (; *s != '\0'; s++) {
        if (*s == '.') {
            if (seg == 0) {
                return 0;
            }
            dots++;
            seg = 0;
        } else if (validate_isalnum(*s) || *s == '_' || *s == '-') {
            seg++;
        } else {
            return 0;
        }
    }
    return dots > 0 && seg > 0;
}

static int
validate_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!validate_isdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* RFC 3339 date-time: 2026-01-28T09:00:00(.123)?(Z|+01:00). */
static int
validate_rfc3339(const char *s)
{
    int mon, day, hour, min, sec;

    if (!validate_digits(s, 4) || s[4] != '-' || !validate_digits(s + 5, 2) ||
        s[7] != '-' || !validate_digits(s + 8, 2) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !validate_digits(s + 11, 2) || s[13] != ':' ||
        !validate_digits(s + 14, 2) || s[16] != ':' ||
        !validate_digits(s + 17, 2)) {
        return 0;
    }
    mon = (s[5] - '0') * 10 + (s[6] - '0');
    day = (s[8] - '0') * 10 + (s[9] - '0');
    hour = (s[11] - '0') * 10 + (s[12] - '0');
    min = (s[14] - '0') * 10 + (s[15] - '0');
    sec = (s[17] - '0') * 10 + (s[18] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 60) {
        return 0;
    }
    s += 19;
    if (*s == '.') {
        s++;
        if (!validate_isdigit(*s)) {
            return 0;
        }
        while (validate_isdigit(*s)) {
            s++;
        }
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
        return 1;
    }
    if ((*s == '+' || *s == '-') && validate_digits(s + 1, 2) && s[3] == ':' &&
        validate_digits(s + 4, 2) && s[6] == '\0') {
        return (s[1] - '0') * 10 + (s[2] - '0') <= 23 &&
               (s[4] - '0') * 10 + (s[5] - '0') <= 59;
    }
    return 0;
}

int
as_validate_audit(struct json_object *obj, char *why, size_t why_len)
{
    struct json_object *m[VALIDATE_MEMBERS];
    const char *v[VALIDATE_TARGET_ID + 1];
    unsigned seen = 0; /* bit i: member i is there (its value may be null) */
    struct lh_entry *e;
    unsigned char addr[16];
    int i;

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(why, why_len, "event is not a JSON object");
        return AS_ERR_INVALID;
    }
    /* Member names are unique in a json-c object: one walk finds all. */
    for (e = json_object_get_object(obj)->head; e != NULL; e = e->next) {
        if ((i = validate_member((const char *) lh_entry_k(e))) >= 0) {
            m[i] = (struct json_object *) lh_entry_v(e);
            seen |= 1u << i;
        }
    }
    for (i = 0; i <= VALIDATE_TARGET_ID; i++) {
        if (!(seen & 1u << i)) {
            snprintf(why, why_len, "missing required member %s",
                     validate_names[i]);
            return AS_ERR_INVALID;
        }
        if (!json_object_is_type(m[i], json_type_string) ||
            json_object_get_string_len(m[i]) == 0) {
            snprintf(why, why_len, "%s must be a non-empty string",
                     validate_names[i]);
            return AS_ERR_INVALID;
        }
        v[i] = json_object_get_string(m[i]);
    }
    if (strcmp(v[VALIDATE_ACTOR_TYPE], "user") != 0 &&
        strcmp(v[VALIDATE_ACTOR_TYPE], "system") != 0 &&
        strcmp(v[VALIDATE_ACTOR_TYPE], "api_key") != 0) {
        snprintf(why, why_len, "actor_type must be user, system or api_key");
        return AS_ERR_INVALID;
    }
    if (strcmp(v[VALIDATE_ACTOR_TYPE], "system") == 0 &&
        strcmp(v[VALIDATE_ACTOR_ID], "system") != 0) {
        snprintf(why, why_len, "a system actor must have actor_id system");
        return AS_ERR_INVALID;
    }
    if (!validate_action(v[VALIDATE_ACTION])) {
        snprintf(why, why_len, "action must be dotted, like project.deleted");
        return AS_ERR_INVALID;
    }
    if ((seen & 1u << VALIDATE_ID) &&
        !json_object_is_type(m[VALIDATE_ID], json_type_string) &&
        !json_object_is_type(m[VALIDATE_ID], json_type_int)) {
        snprintf(why, why_len, "id must be a string or an integer");
        return AS_ERR_INVALID;
    }
    if ((seen & 1u << VALIDATE_METADATA) &&
        !json_object_is_type(m[VALIDATE_METADATA], json_type_object)) {
        snprintf(why, why_len, "metadata must be an object");
        return AS_ERR_INVALID;
    }
    if ((seen & 1u << VALIDATE_USER_AGENT) &&
        !json_object_is_type(m[VALIDATE_USER_AGENT], json_type_string)) {
        snprintf(why, why_len, "user_agent must be a string");
        return AS_ERR_INVALID;
    }
    if ((seen & 1u << VALIDATE_IP_ADDRESS) &&
        !json_object_is_type(m[VALIDATE_IP_ADDRESS], json_type_null)) {
        const char *ip = json_object_get_string(m[VALIDATE_IP_ADDRESS]);

        if (!json_object_is_type(m[VALIDATE_IP_ADDRESS], json_type_string) ||
            (inet_pton(AF_INET, ip, addr) != 1 &&
             inet_pton(AF_INET6, ip, addr) != 1)) {
            snprintf(why, why_len, "ip_address must be IPv4 or IPv6 text");
            return AS_ERR_INVALID;
        }
    }
    if ((seen & 1u << VALIDATE_CREATED_AT) &&
        (!json_object_is_type(m[VALIDATE_CREATED_AT], json_type_string) ||
         !validate_rfc3339(json_object_get_string(m[VALIDATE_CREATED_AT])))) {
        snprintf(why, why_len, "created_at must be an RFC 3339 date-time");
        return AS_ERR_INVALID;
    }
    return 0;
}

void
as_enrich(struct as_record *r)
{
    char ts[32];

    if (r->obj == NULL || !json_object_is_type(r->obj, json_type_object) ||
        json_object_object_get_ex(r->obj, "created_at", NULL)) {
        return;
    }
    as_format_time(r->received_ns, ts);
    json_object_object_add(r->obj, "created_at", json_object_new_string(ts));
}
