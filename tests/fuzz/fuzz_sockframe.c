/*
 * Fuzzes the socket input's framer (src/inputs/socket_frame.c).  The first
 * input byte picks max_line_bytes (1-64), octet counting and the read size;
 * the rest is a connection's bytes.  Fed at once, and fed in small reads
 * with a pause after every third message (the rest fed again, as the input
 * does on resume), the connection must give the same messages; no message
 * may exceed max, the carry may never exceed max + 2 bytes, and nothing may
 * crash, leak or read out of bounds.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "inputs/socket_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    struct as_buf out; /* each message: length, flag, bytes */
    size_t max;
    unsigned n;
    unsigned pause_every; /* 0 = never */
};

static bool
fz_emit(void *arg, const char *msg, size_t len, bool truncated)
{
    struct fz *z = arg;
    uint32_t l = (uint32_t) len;

    if (len > z->max || (truncated && len != z->max)) {
        abort();
    }
    as_buf_put(&z->out, &l, sizeof(l));
    as_buf_putc(&z->out, truncated ? 'T' : 'M');
    as_buf_put(&z->out, msg, len);
    z->n++;
    return z->pause_every == 0 || z->n % z->pause_every != 0;
}

static void
fz_run(struct fz *z, const char *p, size_t n, size_t step, bool octet)
{
    struct as_sockframe f;
    size_t pos = 0, k, used;

    as_sockframe_init(&f, z->max, octet);
    while (pos < n) {
        k = n - pos < step ? n - pos : step;
        used = as_sockframe_feed(&f, p + pos, k, fz_emit, z);
        if (used > k || f.carry.len > z->max + 2) {
            abort();
        }
        pos += used;
    }
    (void) as_sockframe_eof(&f, fz_emit, z);
    as_sockframe_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz a, b;
    bool octet;

    if (size < 1) {
        return 0;
    }
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    as_buf_init(&a.out, 0);
    as_buf_init(&b.out, 0);
    a.max = b.max = (size_t) (data[0] & 63) + 1;
    octet = (data[0] & 64) != 0;
    b.pause_every = 3;
    fz_run(&a, (const char *) data + 1, size - 1, size, octet);
    fz_run(&b, (const char *) data + 1, size - 1,
           (data[0] & 128) ? 1 : (size_t) (data[0] & 7) + 1, octet);
    if (a.n != b.n || a.out.len != b.out.len ||
        memcmp(a.out.data, b.out.data, a.out.len) != 0) {
        abort(); /* the messages depend on how the bytes were read */
    }
    as_buf_free(&a.out);
    as_buf_free(&b.out);
    return 0;
}
