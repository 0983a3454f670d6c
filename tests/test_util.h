/*
 * Shared by every Criterion test: run a test once per registered design,
 * open managers over RAM or temporary files, and assert with the design's
 * name, the error code and the library's detail in the message.
 */
#ifndef MM_TEST_UTIL_H
#define MM_TEST_UTIL_H

#include "mmfree.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Criterion may run each test in a re-executed process, so parameters are
 * design indexes, never pointers. */
struct criterion_test_params tu_design_params(unsigned need_flags);
/** The designs for which applies() holds: a test that means nothing for a
 *  design is not registered for it, rather than counted as a pass that
 *  tested nothing. */
struct criterion_test_params tu_design_params_where(bool (*applies)(const mm_design_info *d));

#define DESIGN_TEST_(suite_, test_, params)                                             \
    static void suite_##_##test_##_body(size_t *design_index);                          \
    ParameterizedTestParameters(suite_, test_) {                                        \
        return params;                                                                \
    }                                                                                 \
    ParameterizedTest(size_t *design_index, suite_, test_) {                            \
        tu_use_design(mm_design_get(*design_index)->name);                            \
        suite_##_##test_##_body(design_index);                                          \
    }                                                                                 \
    static void suite_##_##test_##_body(size_t *design_index)

/** A test body that runs once per registered design with all need_flags. */
#define DESIGN_TEST(suite_, test_, need_flags) \
    DESIGN_TEST_(suite_, test_, tu_design_params(need_flags))
/** A test body that runs once per registered design for which applies(). */
#define DESIGN_TEST_WHERE(suite_, test_, applies) \
    DESIGN_TEST_(suite_, test_, tu_design_params_where(applies))

/** The design a DESIGN_TEST body runs for. */
#define THIS_DESIGN (mm_design_get(*design_index))

/** Asserts that expr returns MM_OK, naming the design and the error. */
#define OK(expr)                                                                      \
    do {                                                                              \
        int e_ = (expr);                                                              \
        cr_assert_eq(e_, MM_OK, "[%s] %s -> %s (%s)", tu_design_name(), #expr,        \
                     mm_strerror(e_), mm_error_detail());                             \
    } while (0)

/** OK(expr), then mm_check(mgr): every invariant holds after the operation. */
#define OK_CHECK(mgr, expr)                                                           \
    do {                                                                              \
        OK(expr);                                                                     \
        int c_ = mm_check(mgr);                                                       \
        cr_assert_eq(c_, MM_OK, "[%s] mm_check after %s -> %s (%s)", tu_design_name(),  \
                     #expr, mm_strerror(c_), mm_error_detail());                      \
    } while (0)

/** Asserts that expr returns the error code want. */
#define FAILS(expr, want)                                                             \
    do {                                                                              \
        int e_ = (expr);                                                              \
        cr_assert_eq(e_, (want), "[%s] %s -> %s, expected %s (%s)", tu_design_name(), \
                     #expr, mm_strerror(e_), mm_strerror(want), mm_error_detail());   \
    } while (0)

/** A manager over a linear memory, for one test. */
typedef struct tu_mm {
    const char *design;
    uint32_t bucket_pages;
    char path[64]; /* empty: RAM */
    mm_memory *mem;
    mm *m;
} tu_mm;

/** Opens a new manager of design over a fresh RAM memory. */
void tu_open_ram(tu_mm *t, const char *design, uint32_t bucket_pages);
/** Opens a new manager of design over a fresh temporary file. */
void tu_open_file(tu_mm *t, const char *design, uint32_t bucket_pages);
/** Closes the manager (and, for a file, the memory), opens both again, mm_check. */
void tu_reopen(tu_mm *t);
/** Closes everything and removes the temporary file. */
void tu_close(tu_mm *t);
/** mm_check, asserted. */
void tu_check(tu_mm *t);

/** Grows id, checks the old size it returns, then mm_check. */
void tu_grow(tu_mm *t, unsigned id, uint64_t pages);
/** Size of id, asserted to succeed. */
uint64_t tu_size(tu_mm *t, unsigned id);
/** mm_stats_get, asserted. */
mm_stats tu_stats(tu_mm *t);

/** A copy of the whole linear memory (free() it), and its length. */
uint8_t *tu_image(mm_memory *mem, size_t *len);
/** Asserts the linear memory still equals image. */
void tu_assert_image(mm_memory *mem, const uint8_t *image, size_t len, const char *what);

/** Little-endian integers of 1 to 8 bytes: in a buffer, and at an offset of
 *  a linear memory (asserting the access succeeds). How the tests read the
 *  layouts' fields and write corrupt ones. */
void tu_put_le(uint8_t *p, uint64_t v, unsigned bytes);
uint64_t tu_get_le(const uint8_t *p, unsigned bytes);
void tu_poke(mm_memory *mem, uint64_t off, uint64_t v, unsigned bytes);
uint64_t tu_peek(mm_memory *mem, uint64_t off, unsigned bytes);

/** The design name for messages (set by DESIGN_TEST and tu_open_*). */
const char *tu_design_name(void);
void tu_use_design(const char *name);
/** A seed for randomized tests: MMFREE_SEED from the environment, else dflt.
 *  Printed, so that any failure can be replayed. */
uint64_t tu_seed(const char *test, uint64_t dflt);

#endif
