/*
 * Growable byte buffer modeled on openssh's sshbuf.  `max` (0 = unbounded)
 * caps growth: a put that would exceed it fails with AS_ERR_TOOBIG and leaves
 * the buffer unchanged.  data is always NUL-terminated past len (for
 * convenience; the NUL is not counted).
 */
#ifndef AS_BUF_H
#define AS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct as_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define AS_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0, 0                                                          \
    }

void as_buf_init(struct as_buf *b, size_t max);
/* Frees the storage (cleansed) and resets to empty. */
void as_buf_free(struct as_buf *b);
void as_buf_reset(struct as_buf *b);
int as_buf_reserve(struct as_buf *b, size_t extra);
int as_buf_put(struct as_buf *b, const void *p, size_t n);
int as_buf_putc(struct as_buf *b, char c);
int as_buf_puts(struct as_buf *b, const char *s);
int as_buf_printf(struct as_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Little-endian fixed-width integers. */
int as_buf_put_u32(struct as_buf *b, uint32_t v);
int as_buf_put_u64(struct as_buf *b, uint64_t v);
/* Removes the first n bytes. */
void as_buf_consume(struct as_buf *b, size_t n);
/* Detaches the storage; the caller frees it. */
char *as_buf_steal(struct as_buf *b, size_t *len);

uint32_t as_le32(const void *p);
uint64_t as_le64(const void *p);

#endif
