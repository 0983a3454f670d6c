/*
 * The page-0 layouts of link15 (bitmap15, hbitmap15), list and freestack,
 * as the tables at the top of impl/layout_link15.c, impl/design_list.c and
 * impl/design_freestack.c state them. Deliberately not the library's own
 * constants: the tests read and corrupt the bytes by a second reading of
 * each table (test_core.h does the same for V1). One copy for every test
 * that needs them.
 */
#ifndef MM_TEST_LAYOUTS_H
#define MM_TEST_LAYOUTS_H

#include <stdint.h>

/* link15 (layout version 2). */
enum {
    L15T_OFF_VERSION = 3,
    L15T_VERSION = 2,
    L15T_OFF_COUNT = 4,
    L15T_OFF_BUCKET_PAGES = 6,
    L15T_OFF_SIZES = 40,
    L15T_OFF_FIRST = 2080, /* 255 x u16 */
    L15T_OFF_LINKS = 2590, /* 32,768 x 15 bits */
    L15T_END = 64030,
    L15T_MAX_BUCKETS = 32768,
};

/* list (layout version 3). */
enum {
    LT_OFF_VERSION = 3,
    LT_VERSION = 3,
    LT_UPGRADING = 0x83,
    LT_OFF_BUCKET_PAGES = 6,
    LT_OFF_NBUCKETS = 8,
    LT_OFF_META_HEAD = 16,
    LT_OFF_FREE_COUNT = 24,
    LT_OFF_FREE_HEAD = 28,
    LT_OFF_FREE_TAIL = 32,
    LT_OFF_LAST_MEM = 36, /* the commit slot's record: memory (last - 1)'s */
    LT_OFF_LAST = 56,     /* last: 1 + the memory the last commit named */
    LT_OFF_MEMS = 64,     /* 255 x {size u64, count u32, head u32, tail u32} */
    LT_MEM_BYTES = 20,
    LT_MEM_COUNT = 8,
    LT_MEM_HEAD = 12,
    LT_MEM_TAIL = 16,
    LT_OFF_LINKS = 5168, /* u32 link of bucket b, b < 15,092 */
    LT_PAGE0_LINKS = 15092,
    LT_META_NEXT = 0, /* in a metadata bucket: u32 next, u32 sequence number */
    LT_META_SEQ = 4,
};
#define LT_NONE 0xFFFFFFFFu
#define LT_LINK(b) (LT_OFF_LINKS + 4 * (uint64_t)(b))
#define LT_MEM(i, field) (LT_OFF_MEMS + LT_MEM_BYTES * (uint64_t)(i) + (field))

/* freestack (layout version 4). */
enum {
    FT_OFF_VERSION = 3,
    FT_VERSION = 4,
    FT_UPGRADING = 132,
    FT_OFF_BUCKET_PAGES = 6,
    FT_OFF_COUNT = 8,
    FT_OFF_DEPTH = 12,
    FT_OFF_CHUNKS = 16,
    FT_OFF_LAST_SIZE = 20, /* the size of memory (last - 1), u64 */
    FT_OFF_LAST = 28,      /* last: 1 + the memory the last commit named */
    FT_OFF_SIZES = 40,
    FT_OFF_RECORDS = 2080, /* 4096 x {owner u8, position u32} */
    FT_SEG0 = 4096,        /* records and slots page 0 holds */
    FT_OFF_SLOTS = FT_OFF_RECORDS + 5 * FT_SEG0, /* 4096 x u32 */
    FT_OFF_DIR = FT_OFF_SLOTS + 4 * FT_SEG0,     /* 6648 x u32 */
};
#define FT_RECORD(b) (FT_OFF_RECORDS + 5 * (uint64_t)(b))

#endif
