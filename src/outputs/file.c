/* Placeholder: the file output lands in a later commit. */
#include "core/stage.h"

const struct as_output_ops as_output_file_ops = {0, NULL, NULL, NULL, NULL, NULL};
