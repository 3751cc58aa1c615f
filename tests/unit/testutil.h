/*
 * Helpers shared by the unit tests.
 */
#ifndef AS_TESTUTIL_H
#define AS_TESTUTIL_H

#include <stddef.h>

/*
 * Reads a whole file (test vectors, docs) into a NUL-terminated buffer the
 * caller frees; fails the running test when the file cannot be read.  len
 * may be NULL.
 */
char *as_test_read_file(const char *path, size_t *len);

#endif
