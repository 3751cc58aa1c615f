/*
 * The registry: which YAML `type:` means which plugin.  A new plugin is one
 * new line.  Types whose ops are NULL are known to the schema (so --check
 * validates their keys) but not implemented yet.
 */
#include <string.h>

#include "conf_schema.h"
#include "stage.h"

extern const struct as_input_ops as_input_tail_ops;
extern const struct as_input_ops as_input_socket_ops;
extern const struct as_output_ops as_output_file_ops;
extern const struct as_output_ops as_output_http_ops;

static const struct as_stage_type registry_input_file = {
    AS_STAGE_INPUT, "file", as_keys_input_file,
    sizeof(struct as_conf_input_file), &as_input_tail_ops};
static const struct as_stage_type registry_input_socket = {
    AS_STAGE_INPUT, "socket", as_keys_input_socket,
    sizeof(struct as_conf_input_socket), &as_input_socket_ops};
static const struct as_stage_type registry_output_file = {
    AS_STAGE_OUTPUT, "file", as_keys_output_file,
    sizeof(struct as_conf_output_file), &as_output_file_ops};
static const struct as_stage_type registry_output_http = {
    AS_STAGE_OUTPUT, "http", as_keys_output_http,
    sizeof(struct as_conf_output_http), &as_output_http_ops};
static const struct as_stage_type registry_output_cloudwatch = {
    AS_STAGE_OUTPUT, "cloudwatch_logs", as_keys_output_cloudwatch,
    sizeof(struct as_conf_output_cloudwatch), NULL};

const struct as_stage_type *const as_registry[] = {
    &registry_input_file,  &registry_input_socket,      &registry_output_file,
    &registry_output_http, &registry_output_cloudwatch, NULL,
};

const struct as_stage_type *
as_registry_find(enum as_stage_kind kind, const char *type)
{
    for (size_t i = 0; as_registry[i] != NULL; i++) {
        if (as_registry[i]->kind == kind &&
            strcmp(as_registry[i]->type, type) == 0) {
            return as_registry[i];
        }
    }
    return NULL;
}
