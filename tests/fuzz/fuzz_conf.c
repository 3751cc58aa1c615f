/*
 * Fuzzes the YAML config loader: any bytes must either load or be rejected
 * with located errors, never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct as_conf_errors errs = {NULL, 0};
    struct as_config *c = NULL;
    int r;

    r = as_config_load_string("fuzz.yaml", (const char *) data, size, &c,
                              &errs);
    if (r != 0 && errs.n == 0) {
        abort(); /* a rejection always says why */
    }
    as_config_free(c);
    as_conf_errors_free(&errs);
    return 0;
}
