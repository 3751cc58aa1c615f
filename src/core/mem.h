/*
 * Allocation wrappers that never return NULL: on exhaustion they log and
 * abort (systemd restarts us into the crash-safe buffer).  Every size derived
 * from input must be checked against a configured limit before calling them.
 */
#ifndef AS_MEM_H
#define AS_MEM_H

#include <stddef.h>

void *as_malloc(size_t n);
void *as_calloc(size_t nmemb, size_t size);
void *as_realloc(void *p, size_t n);
void *as_reallocarray(void *p, size_t nmemb, size_t size);
char *as_strdup(const char *s);
char *as_strndup(const char *s, size_t n);
void *as_memdup(const void *p, size_t n);
int as_asprintf(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Cleanses n bytes at p (secrets, unscrubbed bytes), then frees. */
void as_freezero(void *p, size_t n);

#endif
