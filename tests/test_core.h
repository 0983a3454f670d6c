/*
 * What the core-library tests (test_memory.c, test_v1_bytes.c,
 * test_bad_input.c) share: an independent model of the V1 layout, built
 * from the table in ../shared/v1-layout.md and nothing in impl/, so that the
 * tests compare the library's bytes with a second reading of the spec;
 * assertions on the error detail; and temporary files.
 */
#ifndef MM_TEST_CORE_H
#define MM_TEST_CORE_H

#include "test_util.h"

/* ------------------------------------------------------------------------
 * The V1 layout, as the table of v1-layout.md states it. Deliberately not
 * the library's MM_V1_* constants.
 * ---------------------------------------------------------------------- */

enum {
    V1T_OFF_MAGIC = 0,        /* 3 bytes "MGR" */
    V1T_OFF_VERSION = 3,      /* 1 byte, 1 */
    V1T_OFF_COUNT = 4,        /* u16 LE: buckets allocated */
    V1T_OFF_BUCKET_PAGES = 6, /* u16 LE */
    V1T_OFF_RESERVED = 8,     /* 32 bytes, zero */
    V1T_OFF_SIZES = 40,       /* 255 x u64 LE pages */
    V1T_OFF_OWNERS = 2080,    /* 32,768 x u8, 255 = unallocated */
    V1T_OFF_UNUSED = 34848,   /* zero up to the end of page 0 */
    V1T_MAX_BUCKETS = 32768,
    V1T_UNALLOCATED = 255,
    V1T_PAGE = 65536,
};

/** What a V1 header says, kept by the test beside the library. */
typedef struct v1_model {
    uint32_t bucket_pages;
    uint32_t count;
    uint64_t floor_pages; /* pages the linear memory held before formatting */
    uint64_t sizes[255];
    uint8_t owners[V1T_MAX_BUCKETS];
} v1_model;

/** The header of a freshly formatted memory. */
void v1m_init(v1_model *v, uint32_t bucket_pages);
/** Applies grow(id, pages) as the Behaviour section of v1-layout.md states
 *  it. Returns the number of buckets added, or -1 when the grow must fail
 *  (the 32,768-bucket limit) and the model is left as it was. */
int64_t v1m_grow(v1_model *v, unsigned id, uint64_t pages);
/** The pages the linear memory must hold: 1 + N * count, or floor_pages
 *  when it was larger (the linear memory never shrinks). */
uint64_t v1m_linear_pages(const v1_model *v);
/** The first page of bucket b. */
uint64_t v1m_bucket_page(const v1_model *v, uint32_t b);
/** Encodes page 0, little-endian at the table's offsets. */
void v1m_encode(const v1_model *v, uint8_t page0[V1T_PAGE]);
/** Asserts that page 0 of mem is exactly v1m_encode(v) and that mem holds
 *  exactly v1m_linear_pages(v) pages; names the first field that differs. */
void v1m_assert_bytes(mm_memory *mem, const v1_model *v, const char *what);
/** Page 0 of mem (free() it). */
uint8_t *tc_page0(mm_memory *mem);

/* ------------------------------------------------------------------------
 * Errors and files
 * ---------------------------------------------------------------------- */

/** Asserts that mm_error_detail() mentions each of the (NULL-terminated)
 *  strings: the error must name the value at fault. */
void tc_assert_detail_(const char *what, ...);
#define tc_assert_detail(what, ...) tc_assert_detail_(what, __VA_ARGS__, (const char *)NULL)

/** Asserts that expr fails with want and that the detail mentions each
 *  string that follows. */
#define FAILS_WITH(expr, want, ...)                                                   \
    do {                                                                              \
        FAILS(expr, want);                                                            \
        tc_assert_detail(#expr, __VA_ARGS__);                                         \
    } while (0)

/** v as decimal text, for tc_assert_detail (eight rotating buffers). */
const char *tc_u(uint64_t v);

/** A new empty temporary file; its path goes to path (64 bytes). */
void tc_temp_file(char path[64]);
/** The whole content of the file at path (free() it) and its length. */
uint8_t *tc_slurp(const char *path, size_t *len);
/** Creates the file at path holding exactly bytes[0..len). */
void tc_spit(const char *path, const uint8_t *bytes, size_t len);
/** Asserts that the file at path holds exactly bytes[0..len). */
void tc_assert_file(const char *path, const uint8_t *bytes, size_t len, const char *what);

/** Fills buf with bytes derived from seed (none of them zero). */
void tc_pattern(uint8_t *buf, size_t len, uint64_t seed);
/** A new buffer of len bytes filled by tc_pattern (free() it). */
uint8_t *tc_patterned(size_t len, uint64_t seed);

#endif
