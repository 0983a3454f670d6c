/*
 * Scripted calls: the short lists of opens, grows, frees and marks that the
 * fault tests (tests/test_faults.c) and the crash harness
 * (tests/crash/mmcrash.c) build their memories with and run their
 * operations from. Plain C without Criterion, so both share one meaning of
 * each call; every function returns the library's error code and leaves the
 * reaction (an assertion, or stopping the harness) to its caller.
 */
#ifndef MM_SCRIPT_H
#define MM_SCRIPT_H

#include "mmfree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for every scenario; a list shorter than this ends with C_END. */
#define SCRIPT_MAX_CALLS 12

typedef enum script_kind {
    C_END,  /* ends a list */
    C_OPEN, /* mm_open(bucket pages, flags): format, load or upgrade */
    C_GROW, /* mm_grow(id, pages) */
    C_FREE, /* mm_free(id), skipped by designs that cannot free */
    C_MARK, /* model_mark(id): recognizable bytes in every page of id */
    C_COPY, /* copies id's pages into `to`, as far as both reach */
} script_kind;

typedef struct script_call {
    script_kind kind;
    unsigned id, to;
    uint64_t pages; /* C_GROW: pages; C_OPEN: bucket pages */
    unsigned flags; /* C_OPEN */
} script_call;

/* Short enough that a scenario's list reads as one line. */
#define END {C_END, 0, 0, 0, 0}
#define OPEN(b, fl) {C_OPEN, 0, 0, b, fl}
#define GROW(i, p) {C_GROW, i, 0, p, 0}
#define FREE(i) {C_FREE, i, 0, 0, 0}
#define MARK(i) {C_MARK, i, 0, 0, 0}
#define COPY(i, to) {C_COPY, i, to, 0, 0}

/** Applies c to *m, a manager of design over mem (NULL before the first
 *  C_OPEN, which closes *m and opens it again with open_flags added, such
 *  as MM_OPEN_SYNC). C_FREE does nothing under a design that cannot free,
 *  so that one setup serves every design. */
int script_apply(mm_memory *mem, mm **m, const char *design, const script_call *c,
                 unsigned open_flags);
/** The calls of list before its C_END (at most SCRIPT_MAX_CALLS). */
size_t script_length(const script_call *list);
/** script_apply over every call of list, up to the first that fails. */
int script_run(mm_memory *mem, mm **m, const char *design, const script_call *list,
               unsigned open_flags);

/** A fresh RAM memory holding the len bytes of image, into *out: what each
 *  crash point or fault point starts from, many times a scenario. Only 4 KiB
 *  blocks with a byte in them are written: the others read as zero already,
 *  and touching them would cost a page fault each. */
int script_restore(const uint8_t *image, size_t len, mm_memory **out);

/* Who writes a scenario's setup: nobody (an empty memory), the design
 * under test, or the first design that writes V1 bytes and cannot free
 * (BY_V1) or frees (BY_V1_FREEING). */
typedef enum script_setup_by { BY_NOBODY, BY_SELF, BY_V1, BY_V1_FREEING } script_setup_by;

/** The design that writes a setup by `by`, self being the design under
 *  test, into *name (NULL for BY_NOBODY, or when no design fits). */
int script_setup_writer(script_setup_by by, const char *self, const char **name);

/** The first registered design whose format writes V1 bytes (version byte
 *  1) and that can free or not, as frees asks, into *name (NULL when none
 *  does). Found by what it writes rather than by name, so that the V1
 *  setups follow whichever designs are built in. */
int script_v1_writer(bool frees, const char **name);

#endif
