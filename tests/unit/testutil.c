/*
 * Helpers shared by the unit tests: see testutil.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

char *
as_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    data = malloc((size_t) n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t) n, f), (size_t) n);
    data[n] = '\0';
    fclose(f);
    if (len != NULL) {
        *len = (size_t) n;
    }
    return data;
}
