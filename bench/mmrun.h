/* What the files of mmrun share (mmrun.c dispatches, mmrun_run.c runs workloads). */
#ifndef MMRUN_H
#define MMRUN_H

#include "mm_quote.h"
#include "mmfree.h"

#include <stdbool.h>
#include <stdint.h>

/** Prints "mmrun: <message>" and a hint to stderr; returns 2 (usage error). */
int mmrun_usage(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/** A token from the command line or the ops, quoted for a message as the
 *  library quotes one (mm_quote.h: a short, escaped prefix), in single
 *  quotes; four calls may share one message. */
const char *mmrun_quote(const char *s);
/** Parses a whole decimal number; false on anything else. */
bool mmrun_parse_u64(const char *s, uint64_t *out);

/** mmrun run --design D --workload W --n N [--seed S] */
int mmrun_cmd_run(int argc, char **argv);

#endif
