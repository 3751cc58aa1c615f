/*
 * The audit event schema (DESIGN section 7) and the enrich step.
 *
 * Pure functions over a json-c object: no state, no allocation besides the
 * created_at member that as_enrich adds.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "validate.h"

/* A non-empty string member, or NULL. */
static const char *
validate_string(struct json_object *obj, const char *key, int *present)
{
    struct json_object *v;

    *present = json_object_object_get_ex(obj, key, &v);
    if (!*present || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0) {
        return NULL;
    }
    return json_object_get_string(v);
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
        } else if (isalnum((unsigned char) *s) || *s == '_' || *s == '-') {
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
        if (!isdigit((unsigned char) s[i])) {
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
        if (!isdigit((unsigned char) *s)) {
            return 0;
        }
        while (isdigit((unsigned char) *s)) {
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
    static const char *const required[] = {"actor_id", "actor_type", "action",
                                           "target_type", "target_id"};
    const char *v[AS_ARRAY_SIZE(required)];
    struct json_object *m;
    int present;
    unsigned char addr[16];

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(why, why_len, "event is not a JSON object");
        return AS_ERR_INVALID;
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(required); i++) {
        v[i] = validate_string(obj, required[i], &present);
        if (v[i] == NULL) {
            snprintf(why, why_len,
                     present ? "%s must be a non-empty string"
                             : "missing required member %s",
                     required[i]);
            return AS_ERR_INVALID;
        }
    }
    if (strcmp(v[1], "user") != 0 && strcmp(v[1], "system") != 0 &&
        strcmp(v[1], "api_key") != 0) {
        snprintf(why, why_len, "actor_type must be user, system or api_key");
        return AS_ERR_INVALID;
    }
    if (strcmp(v[1], "system") == 0 && strcmp(v[0], "system") != 0) {
        snprintf(why, why_len, "a system actor must have actor_id system");
        return AS_ERR_INVALID;
    }
    if (!validate_action(v[2])) {
        snprintf(why, why_len, "action must be dotted, like project.deleted");
        return AS_ERR_INVALID;
    }
    if (json_object_object_get_ex(obj, "id", &m) &&
        !json_object_is_type(m, json_type_string) &&
        !json_object_is_type(m, json_type_int)) {
        snprintf(why, why_len, "id must be a string or an integer");
        return AS_ERR_INVALID;
    }
    if (json_object_object_get_ex(obj, "metadata", &m) &&
        !json_object_is_type(m, json_type_object)) {
        snprintf(why, why_len, "metadata must be an object");
        return AS_ERR_INVALID;
    }
    if (json_object_object_get_ex(obj, "user_agent", &m) &&
        !json_object_is_type(m, json_type_string)) {
        snprintf(why, why_len, "user_agent must be a string");
        return AS_ERR_INVALID;
    }
    if (json_object_object_get_ex(obj, "ip_address", &m) &&
        !json_object_is_type(m, json_type_null)) {
        const char *ip = json_object_get_string(m);

        if (!json_object_is_type(m, json_type_string) ||
            (inet_pton(AF_INET, ip, addr) != 1 &&
             inet_pton(AF_INET6, ip, addr) != 1)) {
            snprintf(why, why_len, "ip_address must be IPv4 or IPv6 text");
            return AS_ERR_INVALID;
        }
    }
    if (json_object_object_get_ex(obj, "created_at", &m) &&
        (!json_object_is_type(m, json_type_string) ||
         !validate_rfc3339(json_object_get_string(m)))) {
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
