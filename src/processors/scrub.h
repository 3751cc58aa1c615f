/*
 * The scrub stage: removes secrets by key and by pattern before anything
 * touches disk.  (Issue "Secrets never leave the host" fills this in; until
 * then it removes values under the configured keys at any depth.)
 */
#ifndef AS_SCRUB_H
#define AS_SCRUB_H

#include "core/conf.h"
#include "core/record.h"

struct as_scrub;

int as_scrub_new(const struct as_conf_scrub *conf, struct as_scrub **out,
                 struct as_error *err);
void as_scrub_free(struct as_scrub *s);
/* Scrubs r->obj in place and adds to r->redacted. */
void as_scrub_record(struct as_scrub *s, struct as_record *r);

#endif
