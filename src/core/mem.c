/*
 * xmalloc-style allocation: failure is fatal, so callers never test for NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "mem.h"

void *
as_malloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);

    if (p == NULL) {
        as_fatalx("out of memory allocating %zu bytes", n);
    }
    return p;
}

void *
as_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

    if (p == NULL) {
        as_fatalx("out of memory allocating %zu*%zu bytes", nmemb, size);
    }
    return p;
}

void *
as_realloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);

    if (q == NULL) {
        as_fatalx("out of memory reallocating %zu bytes", n);
    }
    return q;
}

void *
as_reallocarray(void *p, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > (size_t) -1 / size) {
        as_fatalx("allocation overflow %zu*%zu", nmemb, size);
    }
    return as_realloc(p, nmemb * size);
}

char *
as_strdup(const char *s)
{
    return as_strndup(s, strlen(s));
}

char *
as_strndup(const char *s, size_t n)
{
    char *p = as_malloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *
as_memdup(const void *p, size_t n)
{
    void *q = as_malloc(n);

    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

int
as_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        as_fatalx("out of memory formatting a string");
    }
    return n;
}

void
as_freezero(void *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    OPENSSL_cleanse(p, n);
    free(p);
}
