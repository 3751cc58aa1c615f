/*
 * The key tables: every config key auditship knows, with its type, default
 * and one line of help (conf/auditship.yaml documents the same).
 *
 * Conventions of the tables: a key whose `def` is NULL (other than a
 * SECTION, whose defaults come from its `sub` table) is required; a required
 * LIST must not be empty.  An ENUM choice "" is a reserved slot: it keeps
 * the enum's numbering but is never accepted.
 */
#ifndef AS_CONF_SCHEMA_H
#define AS_CONF_SCHEMA_H

#include "conf.h"

/* Top-level sections (struct as_config fields). */
extern const struct as_conf_key as_keys_agent[];
extern const struct as_conf_key as_keys_validate[];
extern const struct as_conf_key as_keys_scrub[];
extern const struct as_conf_key as_keys_chain[];
extern const struct as_conf_key as_keys_buffer[];

/* Keys every input / output item has: id, type (and inputs for outputs). */
extern const struct as_conf_key as_keys_input_common[];
extern const struct as_conf_key as_keys_output_common[];

/* Type-specific keys of inputs and outputs (besides id, type, inputs). */
extern const struct as_conf_key as_keys_input_file[];
extern const struct as_conf_key as_keys_input_socket[];
extern const struct as_conf_key as_keys_output_http[];
extern const struct as_conf_key as_keys_output_cloudwatch[];
extern const struct as_conf_key as_keys_output_file[];

#endif
