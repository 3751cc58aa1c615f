/* Placeholder: the file tail input lands in a later commit. */
#include "core/stage.h"

const struct as_input_ops as_input_tail_ops = {0, NULL, NULL, NULL, NULL, NULL, NULL};
