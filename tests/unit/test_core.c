/*
 * Core helpers: struct as_buf bounds and growth, the invalid-event form of a
 * record (raw kept as text when it is UTF-8, base64 otherwise), time format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/record.h"

static void
test_buf_bounds(void **state)
{
    struct as_buf b;

    (void) state;
    as_buf_init(&b, 8);
    assert_int_equal(as_buf_put(&b, "12345678", 8), 0);
    assert_int_equal(as_buf_putc(&b, '9'), AS_ERR_TOOBIG);
    assert_int_equal(b.len, 8);
    as_buf_consume(&b, 3);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "45678");
    as_buf_reset(&b);
    assert_int_equal(as_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    as_buf_free(&b);
}

/*
 * The inline fast path of as_buf_reserve (room already there) and its slow
 * path (grow, or refuse) meet exactly at cap - len - 1 and at max.
 */
static void
test_buf_reserve_edges(void **state)
{
    struct as_buf b;
    char fill[300];
    char *data;

    (void) state;
    memset(fill, 'x', sizeof(fill));
    as_buf_init(&b, 0);
    assert_int_equal(as_buf_reserve(&b, 0), 0); /* room for the NUL */
    assert_non_null(b.data);
    assert_int_equal(b.cap, 256);
    assert_int_equal(as_buf_put(&b, fill, 254), 0);
    data = b.data;
    assert_int_equal(as_buf_reserve(&b, 1), 0); /* 254 + 1 + NUL = cap */
    assert_int_equal(as_buf_putc(&b, 'y'), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, 256);
    assert_int_equal(as_buf_putc(&b, 'z'), 0); /* grows */
    assert_int_equal(b.cap, 512);
    assert_int_equal(b.len, 256);
    assert_int_equal(b.data[254], 'y');
    assert_int_equal(b.data[255], 'z');
    assert_int_equal(b.data[256], '\0');
    assert_int_equal(as_buf_reserve(&b, SIZE_MAX), AS_ERR_TOOBIG);
    assert_int_equal(as_buf_reserve(&b, SIZE_MAX - 256), AS_ERR_TOOBIG);
    assert_int_equal(b.len, 256);
    as_buf_free(&b);

    /* max below cap: the fast path must still refuse past max. */
    as_buf_init(&b, 10);
    assert_int_equal(as_buf_put(&b, fill, 9), 0);
    assert_int_equal(b.cap, 256);
    assert_int_equal(as_buf_reserve(&b, 1), 0);
    assert_int_equal(as_buf_reserve(&b, 2), AS_ERR_TOOBIG);
    assert_int_equal(as_buf_put(&b, "ab", 2), AS_ERR_TOOBIG);
    assert_int_equal(b.len, 9);
    assert_int_equal(as_buf_putc(&b, 'a'), 0);
    assert_int_equal(as_buf_putc(&b, 'b'), AS_ERR_TOOBIG);
    assert_int_equal(as_buf_put(&b, "", 0), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(b.data[9], 'a');
    assert_int_equal(b.data[10], '\0');
    as_buf_free(&b);
}

static void
test_buf_le(void **state)
{
    struct as_buf b = AS_BUF_INIT;

    (void) state;
    as_buf_put_u32(&b, 0xdeadbeef);
    as_buf_put_u64(&b, 0x0102030405060708ULL);
    assert_int_equal(b.len, 12);
    assert_true(as_le32(b.data) == 0xdeadbeef);
    assert_true(as_le64(b.data + 4) == 0x0102030405060708ULL);
    as_buf_free(&b);
}

static void
test_record_invalid(void **state)
{
    struct as_record *r = as_record_new("in", NULL);
    struct json_object *v;

    (void) state;
    as_record_set_invalid(r, "{\"a\":", 5, "unexpected end");
    assert_true(json_object_object_get_ex(r->obj, "raw", &v));
    assert_string_equal(json_object_get_string(v), "{\"a\":");
    assert_true(r->flags & AS_REC_INVALID);
    as_record_set_invalid(r, "\xff\xfe", 2, "bad utf-8");
    assert_false(json_object_object_get_ex(r->obj, "raw", &v));
    assert_true(json_object_object_get_ex(r->obj, "raw_base64", &v));
    assert_string_equal(json_object_get_string(v), "//4=");
    assert_string_equal(r->error, "bad utf-8");
    as_record_free(r);
}

static void
test_time_format(void **state)
{
    char out[32];

    (void) state;
    as_format_time(1769590800123000000LL, out);
    assert_string_equal(out, "2026-01-28T09:00:00.123Z");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_bounds),
        cmocka_unit_test(test_buf_reserve_edges),
        cmocka_unit_test(test_buf_le),
        cmocka_unit_test(test_record_invalid),
        cmocka_unit_test(test_time_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
