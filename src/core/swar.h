/*
 * Eight bytes at a time, in portable C (SIMD within a register): the test
 * string scanners use to skip runs of bytes that need no attention.
 *
 * Words are in string order: the least significant byte of a loaded word
 * is the first byte in memory on any host (as_swar_load byte-swaps on a
 * big-endian one), so the lowest flagged byte is the first in the string.
 * Loads and stores go through memcpy (no alignment assumed, no aliasing).
 */
#ifndef AS_SWAR_H
#define AS_SWAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define AS_SWAR_ONES UINT64_C(0x0101010101010101)
#define AS_SWAR_HIGH UINT64_C(0x8080808080808080)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define AS_SWAR_LE64(v) __builtin_bswap64(v)
#define AS_SWAR_LE32(v) __builtin_bswap32(v)
#define AS_SWAR_LE16(v) __builtin_bswap16(v)
#else
#define AS_SWAR_LE64(v) (v)
#define AS_SWAR_LE32(v) (v)
#define AS_SWAR_LE16(v) (v)
#endif

/* The 8 bytes at p, p[0] least significant. */
static inline uint64_t
as_swar_load(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return AS_SWAR_LE64(v);
}

/*
 * The n (1..7) bytes at p as the low n bytes of a word, the others zero;
 * reads p[0..n) only.  Two overlapping loads instead of a byte loop: the
 * bytes they share land on the same places, so OR keeps them as they are.
 */
static inline uint64_t
as_swar_load_short(const unsigned char *p, size_t n)
{
    uint32_t a, b;
    uint16_t c, d;

    if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return (uint64_t) AS_SWAR_LE32(a) | (uint64_t) AS_SWAR_LE32(b)
                                                << (8 * (n - 4));
    }
    if (n >= 2) {
        memcpy(&c, p, 2);
        memcpy(&d, p + n - 2, 2);
        return (uint64_t) (uint16_t) AS_SWAR_LE16(c) |
               (uint64_t) (uint16_t) AS_SWAR_LE16(d) << (8 * (n - 2));
    }
    return p[0];
}

/* Stores the 8 bytes of v at p, the least significant first. */
static inline void
as_swar_store(void *p, uint64_t v)
{
    v = AS_SWAR_LE64(v);
    memcpy(p, &v, 8);
}

/*
 * 0x80 in the lowest byte of v that is a control character (< 0x20), '"',
 * '\\' or a non-ASCII byte (>= 0x80): the bytes a JSON string does not hold
 * as they are; 0 when there is none.  Bytes above that one may be flagged
 * too (a borrow out of a matching byte can flag the next), so only the
 * lowest flag is exact: as_swar_first.
 */
static inline uint64_t
as_swar_special(uint64_t v)
{
    uint64_t quote, bslash, ctl;

    ctl = (v - AS_SWAR_ONES * 0x20) & ~v;
    quote = v ^ (AS_SWAR_ONES * '"');
    quote = (quote - AS_SWAR_ONES) & ~quote;
    bslash = v ^ (AS_SWAR_ONES * '\\');
    bslash = (bslash - AS_SWAR_ONES) & ~bslash;
    return (ctl | quote | bslash | v) & AS_SWAR_HIGH;
}

/* Index (0..7) of the first flagged byte of m != 0 (as_swar_special). */
static inline size_t
as_swar_first(uint64_t m)
{
    return (size_t) __builtin_ctzll(m) / 8;
}

/*
 * True when none of the 8 bytes at p is a control character (< 0x20), '"',
 * '\\' or a non-ASCII byte (>= 0x80): the bytes a JSON string holds as they
 * are.  Exact: each test in as_swar_special is non-zero iff some byte
 * matches.
 */
static inline bool
as_swar_plain8(const unsigned char *p)
{
    return as_swar_special(as_swar_load(p)) == 0;
}

/*
 * How many of the 8 bytes at p are plain (see as_swar_plain8) before the
 * first that is not: 8 when all are.
 */
static inline unsigned
as_swar_plain_run8(const unsigned char *p)
{
    uint64_t m = as_swar_special(as_swar_load(p));

    return m == 0 ? 8 : (unsigned) as_swar_first(m);
}

#endif
