/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  The one checker every decoder, the canonical writer and the
 * invalid-event path share.
 */
#ifndef AS_UTF8_H
#define AS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the sequence at s (n >= 1 bytes left): 1 for an ASCII byte,
 * 2-4 for a valid multi-byte sequence, 0 when it is invalid or truncated.
 */
static inline size_t
as_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)) {
            return 0; /* truncated, overlong, or a surrogate */
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80 || (c == 0xf0 && s[1] < 0x90) ||
            (c == 0xf4 && s[1] >= 0x90)) {
            return 0; /* truncated, overlong, or beyond U+10FFFF */
        }
        return 4;
    }
    return 0;
}

/*
 * True when s[0..n) is strict UTF-8; otherwise false, with the offset of
 * the first invalid byte in *bad (when bad is not NULL).
 */
bool as_utf8_valid(const char *s, size_t n, size_t *bad);

#endif
