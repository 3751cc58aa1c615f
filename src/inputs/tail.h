/*
 * The `file` input (tail): follows files matched by glob patterns, delivers
 * each complete line with its source position, and survives rotation
 * (rename+create, copytruncate, truncation, deletion) and restarts without
 * loss or duplicate.  See tail.c.
 */
#ifndef AS_TAIL_H
#define AS_TAIL_H

#include <stdint.h>

#include "core/stage.h"

extern const struct as_input_ops as_input_tail_ops;

/* Per-input counters, for the metrics endpoint. */
struct as_tail_stats {
    uint64_t lines;           /* lines delivered (emit calls) */
    uint64_t bytes;           /* file bytes consumed, newlines included */
    uint64_t bytes_read;      /* file bytes read (each once, unless a file
                                 shrank or was truncated under a pause) */
    uint64_t truncated_lines; /* lines longer than max_line_bytes */
    uint64_t files_open;      /* files currently open (gauge) */
    uint64_t rotations;       /* rename/delete rotations seen */
    uint64_t truncations;     /* truncations and copytruncates seen */
    uint64_t copies;          /* copies of truncated files drained */
    uint64_t read_errors;     /* failed read/stat/open calls */
};

/* Copies the counters of a started tail input into *out. */
void as_tail_stats(const struct as_input *in, struct as_tail_stats *out);

#endif
