/*
 * Fuzzes the syslog decoder: any input must be either rejected with a
 * reason or accepted as a JSON object whose "syslog" member holds a
 * facility 0-23 and a severity 0-7 and whose strings are all valid UTF-8
 * (as_jcs_write refuses anything else); one more "\n" at the end must not
 * change the result (a line end is tolerated); and nothing may crash, leak
 * or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "parsers/syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *obj = NULL, *again = NULL, *h, *v;
    struct as_buf one = AS_BUF_INIT, two = AS_BUF_INIT;
    struct as_error err;
    char *nl;
    int r;

    as_error_clear(&err);
    r = as_parse_syslog((const char *) data, size, &obj, &err);
    if (r != 0) {
        if (r != AS_ERR_PARSE || obj != NULL || err.msg[0] == '\0') {
            abort(); /* a rejection always names its reason */
        }
    } else {
        if (!json_object_is_type(obj, json_type_object) ||
            !json_object_object_get_ex(obj, "syslog", &h) ||
            !json_object_object_get_ex(h, "facility", &v) ||
            json_object_get_int(v) < 0 || json_object_get_int(v) > 23 ||
            !json_object_object_get_ex(h, "severity", &v) ||
            json_object_get_int(v) < 0 || json_object_get_int(v) > 7 ||
            as_jcs_write(&one, obj) != 0) {
            abort();
        }
    }
    if (size == 0 || data[size - 1] != '\n') {
        nl = malloc(size + 1);
        if (nl == NULL) {
            abort();
        }
        memcpy(nl, data, size);
        nl[size] = '\n';
        as_error_clear(&err);
        if (as_parse_syslog(nl, size + 1, &again, &err) != r) {
            abort(); /* a trailing line end changed the verdict */
        }
        if (r == 0 && (as_jcs_write(&two, again) != 0 || one.len != two.len ||
                       memcmp(one.data, two.data, one.len) != 0)) {
            abort(); /* ... or the event */
        }
        free(nl);
    }
    json_object_put(obj);
    json_object_put(again);
    as_buf_free(&one);
    as_buf_free(&two);
    return 0;
}
