/* as_utf8_valid: see utf8.h. */
#include "utf8.h"

bool
as_utf8_valid(const char *s, size_t n, size_t *bad)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0, k;

    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = as_utf8_seq(u + i, n - i)) == 0) {
            if (bad != NULL) {
                *bad = i;
            }
            return false;
        }
        i += k;
    }
    return true;
}
