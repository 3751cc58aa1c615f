/*
 * validate.schema: audit (DESIGN section 7) and the enrich step that fills
 * created_at with the receive time when absent.
 */
#ifndef AS_VALIDATE_H
#define AS_VALIDATE_H

#include <stddef.h>

#include "core/record.h"

/*
 * Checks r->obj against the audit schema.  Returns 0, or AS_ERR_INVALID with
 * the reason in why (why_len bytes).
 */
int as_validate_audit(struct json_object *obj, char *why, size_t why_len);

/* Fills created_at with r->received_ns when absent. */
void as_enrich(struct as_record *r);

#endif
