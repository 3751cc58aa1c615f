/*
 * Fuzzes the json decoder and the canonical writer: any input must be
 * either rejected with a reason or accepted; an accepted document must have
 * a canonical form that parses back to the same canonical form (JCS is a
 * fixed point), and nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jcs.h"
#include "parsers/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *obj = NULL, *again = NULL;
    struct as_buf one = AS_BUF_INIT, two = AS_BUF_INIT;
    struct as_error err;

    as_error_clear(&err);
    if (as_parse_json((const char *) data, size, &obj, &err) != 0) {
        if (err.msg[0] == '\0') {
            abort(); /* a rejection always names its reason */
        }
        return 0;
    }
    if (as_jcs_write(&one, obj) == 0) {
        if (as_parse_json(one.data, one.len, &again, &err) != 0 ||
            as_jcs_write(&two, again) != 0 || one.len != two.len ||
            memcmp(one.data, two.data, one.len) != 0) {
            abort(); /* the canonical form is not a fixed point */
        }
    }
    json_object_put(obj);
    json_object_put(again);
    as_buf_free(&one);
    as_buf_free(&two);
    return 0;
}
