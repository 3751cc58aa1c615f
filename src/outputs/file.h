/*
 * The `file` output (as_output_file_ops): local NDJSON with rotation.
 */
#ifndef AS_OUTPUT_FILE_H
#define AS_OUTPUT_FILE_H

#include "core/stage.h"

extern const struct as_output_ops as_output_file_ops;

#endif
