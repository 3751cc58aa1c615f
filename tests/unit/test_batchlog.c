/*
 * The batch journal file (core/batchlog.c): the text form round trip, the
 * damage it must refuse (every flipped byte, every truncation, values that
 * parse but make no sense, trailing bytes, too many entries), and the file
 * write and read in a mkdtemp directory (missing file, atomic replace,
 * oversized file).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "core/batchlog.h"
#include "core/buf.h"
#include "core/error.h"

static void
fill(struct as_batchlog_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        e[i].seg = 3 + i / 3;
        e[i].off = 4096 + 1000 * (i % 3);
        e[i].n = 1 + i * 7;
        e[i].bytes = 100 + i * 1000;
    }
}

static void
test_roundtrip(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 17, AS_BATCHLOG_MAX};
    struct as_batchlog_entry e[AS_BATCHLOG_MAX], d[AS_BATCHLOG_MAX];
    struct as_batchlog_entry big[2] = {
        {UINT64_MAX - 1, UINT64_MAX, UINT64_MAX, UINT64_MAX},
        {UINT64_MAX, 0, 1, 1},
    };
    struct as_buf b = AS_BUF_INIT;
    size_t n;

    (void) state;
    fill(e, AS_BATCHLOG_MAX);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        as_buf_reset(&b);
        as_batchlog_encode(e, sizes[k], &b);
        n = 99;
        assert_int_equal(as_batchlog_decode(b.data, b.len, d, &n), 0);
        assert_int_equal(n, sizes[k]);
        if (n > 0) {
            assert_memory_equal(d, e, n * sizeof(*d));
        }
    }
    /* The largest values survive. */
    as_buf_reset(&b);
    as_batchlog_encode(big, 2, &b);
    assert_int_equal(as_batchlog_decode(b.data, b.len, d, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(d, big, sizeof(big));
    /* The documented form. */
    as_buf_reset(&b);
    as_batchlog_encode(e, 2, &b);
    {
        static const char want[] = "auditship-batches 1\n"
                                   "3 4096 1 100\n"
                                   "3 5096 8 1100\n"
                                   "end 2 ";

        assert_int_equal(b.len, sizeof(want) - 1 + 9);
        assert_memory_equal(b.data, want, sizeof(want) - 1);
        assert_int_equal(b.data[b.len - 1], '\n');
    }
    as_buf_free(&b);
}

static void
test_every_damage(void **state)
{
    static const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
    struct as_batchlog_entry e[5], d[AS_BATCHLOG_MAX];
    struct as_buf b = AS_BUF_INIT;
    char *copy;
    size_t n;

    (void) state;
    fill(e, 5);
    as_batchlog_encode(e, 5, &b);
    copy = malloc(b.len);
    assert_non_null(copy);
    for (size_t i = 0; i < b.len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(copy, b.data, b.len);
            copy[i] = (char) (copy[i] ^ flips[f]);
            n = 99;
            assert_int_equal(as_batchlog_decode(copy, b.len, d, &n),
                             AS_ERR_CORRUPT);
            assert_int_equal(n, 0);
        }
    }
    for (size_t len = 0; len < b.len; len++) {
        assert_int_equal(as_batchlog_decode(b.data, len, d, &n),
                         AS_ERR_CORRUPT);
    }
    free(copy);
    as_buf_free(&b);
}

/*
 * Decodes "header, lines, end COUNT CRC" with a right count and CRC, so
 * that only the content checks can refuse it.
 */
static int
decode_lines(const char *lines, size_t *n)
{
    struct as_batchlog_entry d[AS_BATCHLOG_MAX];
    struct as_buf b = AS_BUF_INIT;
    size_t count = 0;
    char tail[64];
    int rc;

    as_buf_puts(&b, "auditship-batches 1\n");
    as_buf_puts(&b, lines);
    for (const char *p = lines; *p != '\0'; p++) {
        count += *p == '\n';
    }
    snprintf(tail, sizeof(tail), "end %zu %08lx\n", count,
             crc32(0L, (const Bytef *) b.data, (uInt) b.len));
    as_buf_puts(&b, tail);
    rc = as_batchlog_decode(b.data, b.len, d, n);
    as_buf_free(&b);
    return rc;
}

static void
test_content_checks(void **state)
{
    static const char *const bad[] = {
        "3 10 1 1\n3 10 1 1\n",          /* same end twice */
        "3 20 1 1\n3 10 1 1\n",          /* going back */
        "4 0 1 1\n3 99 1 1\n",           /* going back a segment */
        "3 10 0 0\n",                    /* no records */
        "3 10 5 4\n",                    /* fewer bytes than records */
        "3 10 1\n",                      /* a field missing */
        "3 10 1 1 1\n",                  /* a field too many */
        "3  10 1 1\n",                   /* two spaces */
        "+3 10 1 1\n",                   /* a sign */
        "3 10 1 1x\n",                   /* not a number */
        "3 10 1 18446744073709551616\n", /* past 64 bits */
        "3 10 1 1\r\n",                  /* CRLF */
        "3 10 1 1",                      /* no line end */
    };
    struct as_buf many = AS_BUF_INIT;
    char line[64];
    size_t n;

    (void) state;
    assert_int_equal(decode_lines("3 10 1 1\n3 11 1 1\n4 0 2 9\n", &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        assert_int_equal(decode_lines(bad[i], &n), AS_ERR_CORRUPT);
        assert_int_equal(n, 0);
    }
    for (size_t i = 0; i < AS_BATCHLOG_MAX; i++) {
        snprintf(line, sizeof(line), "1 %zu 1 1\n", i + 1);
        as_buf_puts(&many, line);
    }
    assert_int_equal(decode_lines(many.data, &n), 0);
    assert_int_equal(n, AS_BATCHLOG_MAX);
    as_buf_puts(&many, "1 1000 1 1\n");
    assert_int_equal(decode_lines(many.data, &n), AS_ERR_CORRUPT);
    as_buf_free(&many);
}

static void
test_trailing_and_header(void **state)
{
    struct as_batchlog_entry e[2], d[AS_BATCHLOG_MAX];
    struct as_buf b = AS_BUF_INIT;
    size_t n;

    (void) state;
    fill(e, 2);
    as_batchlog_encode(e, 2, &b);
    as_buf_puts(&b, "\n");
    assert_int_equal(as_batchlog_decode(b.data, b.len, d, &n), AS_ERR_CORRUPT);
    as_buf_reset(&b);
    as_buf_puts(&b, "auditship-batches 2\nend 0 00000000\n");
    assert_int_equal(as_batchlog_decode(b.data, b.len, d, &n), AS_ERR_CORRUPT);
    assert_int_equal(as_batchlog_decode("", 0, d, &n), AS_ERR_CORRUPT);
    as_buf_free(&b);
}

static void
test_file(void **state)
{
    char root[] = "/tmp/as-batchlog-XXXXXX";
    char path[128], tmp[160], cmd[192];
    struct as_batchlog_entry e[4], d[AS_BATCHLOG_MAX];
    struct as_buf b = AS_BUF_INIT;
    size_t n = 99;
    int fd;

    (void) state;
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof(path), "%s/out.batches", root);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(as_batchlog_read(path, d, &n), -ENOENT);
    assert_int_equal(n, 0);

    fill(e, 4);
    as_batchlog_encode(e, 4, &b);
    assert_int_equal(as_batchlog_write(path, b.data, b.len, false), 0);
    assert_int_equal(as_batchlog_read(path, d, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(d, e, sizeof(e));
    assert_int_equal(access(tmp, F_OK), -1);

    /* Replaced whole, synced (buffer.fsync: always). */
    as_buf_reset(&b);
    as_batchlog_encode(e + 1, 2, &b);
    assert_int_equal(as_batchlog_write(path, b.data, b.len, true), 0);
    assert_int_equal(as_batchlog_read(path, d, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(d, e + 1, 2 * sizeof(*e));

    /* Damaged on disk. */
    assert_int_equal(
        as_batchlog_write(path, "auditship-batches 1\n3 4", 23, false), 0);
    assert_int_equal(as_batchlog_read(path, d, &n), AS_ERR_CORRUPT);
    assert_int_equal(n, 0);

    /* Larger than any journal: refused without parsing. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    as_buf_reset(&b);
    for (size_t i = 0; i < (70u << 10); i++) {
        as_buf_putc(&b, '1');
    }
    assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
    close(fd);
    assert_int_equal(as_batchlog_read(path, d, &n), AS_ERR_CORRUPT);

    /* A directory that does not exist. */
    snprintf(path, sizeof(path), "%s/none/out.batches", root);
    assert_int_equal(as_batchlog_write(path, "x", 1, false), -ENOENT);

    as_buf_free(&b);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_every_damage),
        cmocka_unit_test(test_content_checks),
        cmocka_unit_test(test_trailing_and_header),
        cmocka_unit_test(test_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
