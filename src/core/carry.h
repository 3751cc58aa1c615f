/*
 * A carry: the first bytes of a line or message that spans reads, kept up
 * to a limit while the total length is still counted, so that an
 * over-long line costs bounded memory and is reported with its length.
 * The tail and the socket framer share it.
 */
#ifndef AS_CARRY_H
#define AS_CARRY_H

#include <stddef.h>
#include <stdint.h>

struct as_carry {
    char *data; /* the first len bytes */
    size_t len, cap;
    uint64_t total; /* bytes added since the last reset */
};

/* Counts n more bytes and keeps those that fit in limit. */
void as_carry_add(struct as_carry *c, const char *p, size_t n, size_t limit);
/* Empties c; its memory is kept unless above keep bytes (then cleansed and
 * freed). */
void as_carry_reset(struct as_carry *c, size_t keep);
/* Cleanses and frees the memory; c is empty. */
void as_carry_free(struct as_carry *c);

#endif
