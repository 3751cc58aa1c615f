/* Placeholder: the key tables land with the config walker. */
#include <stddef.h>

#include "conf_schema.h"

const struct as_conf_key as_keys_agent[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_validate[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_scrub[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_chain[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_buffer[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_input_file[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_input_socket[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_output_http[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_output_cloudwatch[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
const struct as_conf_key as_keys_output_file[] = {{NULL, 0, NULL, 0, NULL, NULL, NULL, 0}};
