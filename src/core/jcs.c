/* Placeholder: implemented in a later commit. */
#include "core/error.h"
