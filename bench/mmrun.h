/* What the files of mmrun share (mmrun.c dispatches, mmrun_run.c runs workloads). */
#ifndef MMRUN_H
#define MMRUN_H

#include "mm_quote.h"
#include "mmfree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Prints "mmrun COMMAND: <message>" and a hint naming the command's own
 *  help to stderr; returns 2 (usage error). */
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

/**
 * One option of a command: everything about it is this entry, so adding an
 * option is adding an entry (and, for a value that needs checking, its set
 * function). The help, the man page test and the parser all read the
 * table.
 */
typedef struct mmrun_option {
    const char *name;  /**< "--bucket-pages" */
    const char *value; /**< the value's name in the help ("N"), or NULL for a flag */
    const char *help;  /**< what it does, for `mmrun COMMAND --help` */
    /** Stores the value (NULL for a flag) in the command's context; false
     *  after printing a usage error (mmrun_usage) for a bad value. NULL:
     *  the parser stores it at `at` in the context, a value as its
     *  `const char *`, a flag by setting `bits` in its `unsigned`. */
    bool (*set)(void *ctx, const char *value);
    size_t at;     /**< offsetof the context's field, when set is NULL */
    unsigned bits; /**< what a flag sets there */
} mmrun_option;

/** Parses argv[1..argc-1] against opts (ended by an entry without a name):
 *  `--name VALUE` and `--name=VALUE` alike. Returns 0, or 2 after a usage
 *  error (an unknown option, a missing value, a value given to a flag, or
 *  whatever set refused). */
int mmrun_parse_options(const mmrun_option *opts, int argc, char **argv, void *ctx);

/** Writes the count names name_of(0..count-1) into buf, sep between them
 *  (cut short at size); returns the length written. */
size_t mmrun_join(char *buf, size_t size, size_t count, const char *(*name_of)(size_t),
                  const char *sep);

/** "v1, v1reclaim, ...": the registered designs, for error messages; with
 *  with_none, the raw workload's "none" too. */
const char *mmrun_design_names(bool with_none);

/** Prints s as a JSON string, quoted and escaped. */
void mmrun_json_string(const char *s);

/** mmrun run: its options and what runs them. */
extern const mmrun_option mmrun_run_options[];
int mmrun_cmd_run(int argc, char **argv);

#endif
