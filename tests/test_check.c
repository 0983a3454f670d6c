/*
 * mm_check() catches what it claims. For each invariant that a design's
 * check() (and mm__check_tables, for every design) walks, one case breaks
 * exactly that invariant and expects MM_ECHECK with a detail that names
 * it: in the stored bytes, written through the linear memory as damage
 * would, or, for what lives only in the heap (the manager's tables, the
 * designs' indexes), in the heap state through impl/mm_internal.h and the
 * test hooks declared there. A case whose check were deleted would see
 * another check fire with another detail, or none: either fails it.
 *
 * The stored offsets are the layout tables at the top of each design file,
 * written down here again rather than taken from the library.
 */
#include "layout_link15.h"
#include "layouts.h"
#include "mm_internal.h"
#include "test_core.h"

#include <stdlib.h>
#include <string.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)

/* ------------------------------------------------------------------------
 * Cases
 * ---------------------------------------------------------------------- */

typedef struct ccase {
    const char *invariant;     /* what the case breaks, for messages */
    void (*corrupt)(tu_mm *t); /* breaks it in a manager that passes mm_check */
    const char *detail[4];     /* what mm_error_detail() must mention */
} ccase;

typedef void (*setup_fn)(tu_mm *t, const char *design);

static void run_cases(const char *design, setup_fn setup, const ccase *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const ccase *c = &cases[i];
        tu_mm t;
        setup(&t, design);
        tu_check(&t);
        c->corrupt(&t);
        int err = mm_check(t.m);
        cr_assert_eq(err, MM_ECHECK, "[%s] %s: mm_check -> %s (%s)", design, c->invariant,
                     mm_strerror(err), mm_error_detail());
        for (size_t k = 0; k < 4 && c->detail[k]; k++)
            cr_assert(strstr(mm_error_detail(), c->detail[k]) != NULL,
                      "[%s] %s: the detail \"%s\" does not mention \"%s\"", design, c->invariant,
                      mm_error_detail(), c->detail[k]);
        tu_close(&t);
    }
}

#define RUN_CASES(design, setup, cases) \
    run_cases(design, setup, cases, sizeof cases / sizeof cases[0])

/* A manager of design over a RAM memory that holds `pages` pages before
 * it is formatted: a header may then claim more buckets than the data
 * uses and still fit in the memory, so that the check comparing it with
 * the heap is the one that fires. */
static void open_roomy(tu_mm *t, const char *design, uint32_t bucket_pages, uint64_t pages) {
    *t = (tu_mm){.design = design, .bucket_pages = bucket_pages};
    tu_use_design(design);
    OK(mm_memory_ram(0, &t->mem));
    OK(mm_memory_grow(t->mem, pages, NULL));
    OK(mm_open(t->mem, design, bucket_pages, MM_OPEN_FORMAT, &t->m));
}

/* Two-page buckets in a memory of `pages` pages: memory 0 owns buckets 0
 * and 1 (4 pages), memory 3 bucket 2 (1 page); memories 5 and 7 owned
 * buckets 3 and 4 and were freed in that order. */
static void open_two_freed(tu_mm *t, const char *design, uint64_t pages) {
    open_roomy(t, design, 2, pages);
    const unsigned ids[4] = {0, 3, 5, 7};
    const uint64_t grows[4] = {4, 1, 1, 1};
    for (int k = 0; k < 4; k++) OK(mm_grow(t->m, ids[k], grows[k], NULL));
    OK(mm_free(t->m, 5));
    OK(mm_free(t->m, 7));
}

/* ------------------------------------------------------------------------
 * The manager's tables (mm__check_tables), for every design: heap only.
 * Memory 0 holds 2 one-page buckets, memory 3 one, and memory 5 two,
 * freed where the design frees.
 * ---------------------------------------------------------------------- */

static void setup_tables(tu_mm *t, const char *design) {
    tu_open_ram(t, design, 1);
    OK(mm_grow(t->m, 0, 2, NULL));
    OK(mm_grow(t->m, 3, 1, NULL));
    OK(mm_grow(t->m, 5, 2, NULL));
    if (mm_design(t->m)->flags & MM_DESIGN_CAN_FREE) OK(mm_free(t->m, 5));
}

static void past_the_maximum(tu_mm *t) {
    t->m->nbuckets = mm_design(t->m)->max_buckets + 1;
}
static void past_the_linear_memory(tu_mm *t) {
    t->m->nbuckets++;
}
static void table_shorter_than_the_size(tu_mm *t) {
    t->m->sizes[3]++;
}
static void counts_unbalanced(tu_mm *t) {
    t->m->nfree++;
}
static void table_entry_not_carved(tu_mm *t) {
    t->m->tables[3].ids[0] = (uint32_t)t->m->nbuckets;
}
static void bucket_in_two_tables(tu_mm *t) {
    t->m->tables[3].ids[0] = t->m->tables[0].ids[0];
}

static const ccase table_cases[] = {
    {"buckets carved within the design's maximum", past_the_maximum,
     {"buckets are carved, past the design's maximum"}},
    {"the linear memory holds every carved bucket", past_the_linear_memory,
     {"but the linear memory holds only"}},
    {"table length == ceil(size / bucket pages)", table_shorter_than_the_size,
     {"memory 3 has 2 pages, which need 2 buckets, but owns 1"}},
    {"in use + free + metadata == carved", counts_unbalanced,
     {"buckets in use +", "free +", "metadata != ", "carved"}},
    {"every table entry is carved", table_entry_not_carved,
     {"memory 3's bucket #0 is bucket", "past the"}},
    {"no bucket in two tables", bucket_in_two_tables, {"is used twice (again by memory 3"}},
};

DESIGN_TEST(check, manager_tables, 0) {
    RUN_CASES(THIS_DESIGN->name, setup_tables, table_cases);
}

/* ------------------------------------------------------------------------
 * V1 bytes (layout_v1.c; v1 and v1reclaim). Two-page buckets in a memory
 * of 16 pages: memory 0 owns buckets 0 and 1 (4 pages), memory 3 bucket 2
 * and memory 5 bucket 3 (1 page each); 4 buckets end at page 9.
 * ---------------------------------------------------------------------- */

static void setup_v1(tu_mm *t, const char *design) {
    open_roomy(t, design, 2, 16);
    OK(mm_grow(t->m, 0, 4, NULL));
    OK(mm_grow(t->m, 3, 1, NULL));
    OK(mm_grow(t->m, 5, 1, NULL));
}

static void v1_version(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_VERSION, 2, 1);
}
static void v1_count_over_maximum(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_COUNT, 32769, 2);
}
static void v1_bucket_size_zero(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_BUCKET_PAGES, 0, 2);
}
static void v1_owner_past_count(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_OWNERS + 4, 3, 1);
}
static void v1_size_against_owners(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_SIZES + 8 * 3, 3, 8); /* 2 buckets for the 1 it owns */
}
static void v1_count_past_memory(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_COUNT, 8, 2); /* 8 buckets end at page 17 */
}
static void v1_count_against_heap(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_COUNT, 5, 2); /* bucket 4 unallocated, within the 16 pages */
}
static void v1_bucket_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_BUCKET_PAGES, 3, 2); /* 4 pages and 1 page need as many buckets */
}
static void v1_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_SIZES + 8 * 3, 2, 8); /* still one bucket */
}
static void v1_owners_swapped(tu_mm *t) {
    tu_poke(t->mem, V1T_OFF_OWNERS + 2, 5, 1);
    tu_poke(t->mem, V1T_OFF_OWNERS + 3, 3, 1);
}
static void v1_table_descends(tu_mm *t) {
    mm_table *tb = &t->m->tables[0];
    uint32_t b = tb->ids[0];
    tb->ids[0] = tb->ids[1];
    tb->ids[1] = b;
}

static const ccase v1_cases[] = {
    {"magic and version", v1_version, {"lost its magic or version 1"}},
    {"count <= 32,768", v1_count_over_maximum, {"32769 buckets allocated, over the maximum"}},
    {"bucket size >= 1", v1_bucket_size_zero, {"bucket size is 0 pages"}},
    {"owner[b] == 255 for b >= count", v1_owner_past_count,
     {"bucket 4 is owned by memory 3, but only 4 buckets are allocated"}},
    {"ceil(size / N) == buckets owned", v1_size_against_owners,
     {"memory 3 has 3 pages, which need 2 buckets, but it owns 1"}},
    {"linear memory >= 1 + count * N", v1_count_past_memory,
     {"need 17 pages, but the linear memory holds 16"}},
    {"the header's count is the heap's", v1_count_against_heap,
     {"the header counts 5 buckets, the heap 4"}},
    {"the header's bucket size is the heap's", v1_bucket_size_against_heap,
     {"the header says 3 pages per bucket, the heap 2"}},
    {"the header's sizes are the heap's", v1_size_against_heap,
     {"memory 3: the header says 2 pages, the heap 1"}},
    {"each table bucket has its memory's owner byte", v1_owners_swapped,
     {"memory 3's bucket 2 has owner byte 5"}},
    {"each table ascends", v1_table_descends, {"memory 0's buckets do not ascend"}},
};

Test(check, v1) {
    RUN_CASES("v1", setup_v1, v1_cases);
}

/* A read-only handle over a V1 file that crashes left keeps the open's
 * repair instead of writing it (manager.c): check compares the header as
 * the repair leaves it. Two-page buckets: memory 0 owns buckets 0 and 1,
 * memory 3 bucket 2, memory 5 bucket 3; then a grow of memory 3 cut short
 * before its size (the count 5 and bucket 4's owner byte landed) and,
 * from a durable grow, an owner byte far past the count. The setup's
 * tu_check shows the header passes as repaired (v1 also lowers the count
 * to 4 in the heap); the cases show what the heap gets wrong is named. */
static void setup_v1_read_only_crashed(tu_mm *t, const char *design) {
    *t = (tu_mm){.design = design, .bucket_pages = 2};
    tu_use_design(design);
    tc_temp_file(t->path);
    OK(mm_memory_file(t->path, 0, &t->mem));
    OK(mm_open(t->mem, design, 2, 0, &t->m));
    OK(mm_grow(t->m, 0, 4, NULL));
    OK(mm_grow(t->m, 3, 1, NULL));
    OK(mm_grow(t->m, 5, 1, NULL));
    mm_close(t->m);
    OK(mm_memory_grow(t->mem, 2, NULL));
    tu_poke(t->mem, V1T_OFF_COUNT, 5, 2);
    tu_poke(t->mem, V1T_OFF_OWNERS + 4, 3, 1);
    tu_poke(t->mem, V1T_OFF_OWNERS + 10, 0, 1);
    mm_memory_close(t->mem);
    OK(mm_memory_file_open(t->path, 0, MM_OPEN_READONLY, &t->mem));
    OK(mm_open(t->mem, design, 0, 0, &t->m));
}

static void v1_heap_size(tu_mm *t) {
    t->m->sizes[3] = 2; /* still one bucket */
}

static const ccase v1_read_only_cases[] = {
    {"the header's sizes are the heap's", v1_heap_size,
     {"memory 3: the header says 1 pages, the heap 2"}},
    {"each table ascends", v1_table_descends, {"memory 0's buckets do not ascend"}},
};

Test(check, v1_read_only_with_a_repair_kept) {
    RUN_CASES("v1", setup_v1_read_only_crashed, v1_read_only_cases);
    RUN_CASES("v1reclaim", setup_v1_read_only_crashed, v1_read_only_cases);
}

/* v1reclaim checks V1's bytes as v1 does, then its free bitmap (heap
 * only: the test hook). */
static void reclaim_bit_past_count(tu_mm *t) {
    mm__test_v1reclaim_free_bits(t->m)[0] |= 1ull << 10;
}
static void reclaim_bit_lost(tu_mm *t) {
    OK(mm_free(t->m, 5));
    tu_check(t);
    mm__test_v1reclaim_free_bits(t->m)[0] &= ~(1ull << 3);
}
static void reclaim_owned_marked_free(tu_mm *t) {
    OK(mm_free(t->m, 5));
    tu_check(t);
    uint64_t *bits = mm__test_v1reclaim_free_bits(t->m);
    bits[0] = (bits[0] & ~(1ull << 3)) | 1ull << 2; /* as many bits, one on bucket 2 */
}

static const ccase reclaim_cases[] = {
    {"no free bit at or past the count", reclaim_bit_past_count,
     {"v1reclaim: bucket 10 is marked free, but only 4 are carved"}},
    {"free bits == free buckets", reclaim_bit_lost,
     {"0 buckets are marked free, the count of free buckets is 1"}},
    {"no owned bucket marked free", reclaim_owned_marked_free,
     {"bucket 2 of memory 3 is marked free"}},
};

Test(check, v1reclaim) {
    RUN_CASES("v1reclaim", setup_v1, v1_cases);
    RUN_CASES("v1reclaim", setup_v1, reclaim_cases);
}

/* ------------------------------------------------------------------------
 * link15 (layout_link15.c; bitmap15 and hbitmap15). One-page buckets in a
 * memory of 16 pages: memory 0 owns buckets 0 and 1, memory 3 bucket 2,
 * bucket 3 is free (memory 5 freed it).
 * ---------------------------------------------------------------------- */

/* link15 keeps a heap mirror of the header only where the header's bytes
 * are behind calls (a file here, stable memory in the Wasm build): on a RAM
 * memory page 0 is the header's one copy. The cases run over a file of 16
 * pages, so that every invariant the mirror adds is there to break. */
static void open_roomy_file(tu_mm *t, const char *design, uint32_t bucket_pages,
                            uint64_t pages) {
    tu_open_file(t, design, bucket_pages);
    mm_close(t->m);
    OK(mm_memory_grow(t->mem, pages - mm_memory_size(t->mem), NULL));
    OK(mm_open(t->mem, design, bucket_pages, MM_OPEN_FORMAT, &t->m));
}

static void setup_link15(tu_mm *t, const char *design) {
    open_roomy_file(t, design, 1, 16);
    OK(mm_grow(t->m, 0, 2, NULL));
    OK(mm_grow(t->m, 3, 1, NULL));
    OK(mm_grow(t->m, 5, 1, NULL));
    OK(mm_free(t->m, 5));
}

static struct mm_l15 *l15(tu_mm *t) {
    return t->m->ds;
}

/* The stored bytes and the heap's mirror of them changed alike: the
 * comparison of the two passes, and the mirror's checks see the damage. */
static void poke_both(tu_mm *t, uint64_t off, uint64_t value, unsigned bytes) {
    tu_poke(t->mem, off, value, bytes);
    tu_put_le(l15(t)->hdr + off, value, bytes);
}

static void l15_memory_differs(tu_mm *t) {
    tu_poke(t->mem, L15T_OFF_SIZES + 8 * 3, 2, 1);
}
static void l15_bucket_size_zero(tu_mm *t) {
    poke_both(t, L15T_OFF_BUCKET_PAGES, 0, 2);
}
static void l15_count_over_maximum(tu_mm *t) {
    poke_both(t, L15T_OFF_COUNT, 32769, 2);
}
static void l15_count_past_memory(tu_mm *t) {
    poke_both(t, L15T_OFF_COUNT, 16, 2); /* 16 buckets end at page 17 */
}
static void l15_link_past_count(tu_mm *t) {
    poke_both(t, L15T_OFF_LINKS + 19, 1, 1); /* bits 152..159: the link of bucket 10 */
}
static void l15_magic(tu_mm *t) {
    poke_both(t, 0, 'X', 1);
}
static void l15_count_against_heap(tu_mm *t) {
    poke_both(t, L15T_OFF_COUNT, 5, 2);
}
static void l15_size_against_heap(tu_mm *t) {
    poke_both(t, L15T_OFF_SIZES + 8 * 3, 2, 8);
}
static void l15_chain_against_table(tu_mm *t) {
    poke_both(t, L15T_OFF_FIRST + 2 * 0, 2, 2);
}
static void l15_owned_marked_free(tu_mm *t) {
    mm_bit_set(l15(t)->free_map, 2);
}
static void l15_free_past_count(tu_mm *t) {
    mm_bit_set(l15(t)->free_map, 10);
}
static void l15_free_bit_lost(tu_mm *t) {
    mm_bit_clear(l15(t)->free_map, 3);
}

/* Memory 3's chain is bucket 2; bucket 3, the last carved, is free. */
static void l15_tail_not_last(tu_mm *t) {
    l15(t)->tail = 3 + 1;
}

/* Memory 7 takes bucket 3, the last carved, whose link is zero: the claim
 * holds; then that link is 1. */
static void l15_tail_link_not_zero(tu_mm *t) {
    OK(mm_grow(t->m, 7, 1, NULL));
    l15(t)->tail = 7 + 1;
    OK(mm_check(t->m));
    /* bits 45..59: bit 5 of byte 5 is its lowest */
    poke_both(t, L15T_OFF_LINKS + 5, tu_peek(t->mem, L15T_OFF_LINKS + 5, 1) | 0x20, 1);
}

static const ccase l15_cases[] = {
    {"the header in the memory is the heap's mirror", l15_memory_differs,
     {"header byte 64 is 02 in the memory, 01 in the heap mirror"}},
    {"bucket size >= 1", l15_bucket_size_zero, {"link15 header: bucket size is 0 pages"}},
    {"count <= 32,768", l15_count_over_maximum,
     {"32769 buckets carved, over the maximum of 32768"}},
    {"linear memory >= 1 + count * N", l15_count_past_memory,
     {"need 17 pages, but the linear memory holds 16"}},
    {"link[b] == 0 for b >= count", l15_link_past_count,
     {"(in the link of bucket 10)", "no bucket from 4 on was ever linked"}},
    {"magic and version", l15_magic, {"lost its magic or version 2"}},
    {"the header's count is the heap's", l15_count_against_heap,
     {"the header says 5 buckets of 1 pages, the heap 4 of 1"}},
    {"the header's sizes are the heap's", l15_size_against_heap,
     {"memory 3: the header says 2 pages, the heap 1"}},
    {"each chain is its memory's table", l15_chain_against_table,
     {"memory 0: bucket #0 is 2 in the header chain, 0 in the table"}},
    {"no owned bucket marked free", l15_owned_marked_free,
     {"memory 3 owns bucket 2, which the index marks free"}},
    {"no free bit at or past the count", l15_free_past_count,
     {"bucket 10 is marked free, but only 4 are carved"}},
    {"free bits == free buckets", l15_free_bit_lost,
     {"the index marks 0 buckets free, the heap counts 1"}},
    {"the grow's tail ends its chain at count - 1", l15_tail_not_last,
     {"memory 3's chain does not end at bucket 3 with a zero link"}},
    {"the grow's tail has a zero link", l15_tail_link_not_zero,
     {"memory 7's chain does not end at bucket 3 with a zero link"}},
};

/* On a RAM memory there is no mirror: a change of page 0 is a change of
 * the header itself, which the comparison with the heap sees. */
static void setup_link15_ram(tu_mm *t, const char *design) {
    open_roomy(t, design, 1, 16);
    OK(mm_grow(t->m, 0, 2, NULL));
    OK(mm_grow(t->m, 3, 1, NULL));
    OK(mm_grow(t->m, 5, 1, NULL));
    OK(mm_free(t->m, 5));
}

static const ccase l15_ram_cases[] = {
    {"page 0 of a RAM memory is the header", l15_memory_differs,
     {"memory 3: the header says 2 pages, the heap 1"}},
};

Test(check, bitmap15) {
    RUN_CASES("bitmap15", setup_link15, l15_cases);
    RUN_CASES("bitmap15", setup_link15_ram, l15_ram_cases);
}

/* hbitmap15 adds its summary levels, in the heap only (the test hook). */
static void hb_mid_wrong(tu_mm *t) {
    uint64_t *top;
    mm__test_hbitmap15_summary(t->m, &top)[0] |= 2; /* leaf word 1 is zero */
}
static void hb_top_wrong(tu_mm *t) {
    uint64_t *top;
    mm__test_hbitmap15_summary(t->m, &top);
    *top |= 2; /* summary word 1 is zero */
}

static const ccase hb_cases[] = {
    {"a summary bit per non-zero leaf word", hb_mid_wrong,
     {"summary word 0 is 0000000000000003; the leaf words under it give 0000000000000001"}},
    {"a top bit per non-zero summary word", hb_top_wrong,
     {"the top word is 3; the summary words give 1"}},
};

Test(check, hbitmap15) {
    RUN_CASES("hbitmap15", setup_link15, l15_cases);
    RUN_CASES("hbitmap15", setup_link15_ram, l15_ram_cases);
    RUN_CASES("hbitmap15", setup_link15, hb_cases);
}

/* ------------------------------------------------------------------------
 * list (design_list.c). Two-page buckets in a memory of 30,200 pages:
 * memory 0 owns buckets 0 and 1 (4 pages), memory 3 bucket 2 (1 page);
 * memories 5 and 7 owned buckets 3 and 4 and were freed in that order, so
 * the free list is 3, 4.
 * ---------------------------------------------------------------------- */

static void setup_list(tu_mm *t, const char *design) {
    open_two_freed(t, design, 30200);
}

static void list_version(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_VERSION, 9, 1);
}
static void list_bucket_size_zero(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_BUCKET_PAGES, 0, 2);
}
static void list_nbuckets_over_maximum(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_NBUCKETS, 0xFFFFFFFF, 4);
}
static void list_nbuckets_past_memory(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_NBUCKETS, 15100, 4); /* they end at page 30,201 */
}
static void list_links_without_slots(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_NBUCKETS, 15093, 4); /* page 0 has 15,092 links, no metadata bucket */
}
static void list_empty_meta_chain_with_head(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_META_HEAD, 0, 4);
}
static void list_empty_free_list_with_head(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_FREE_COUNT, 0, 4);
}
static void list_count_against_size(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(3, LT_MEM_COUNT), 2, 4);
}
static void list_empty_memory_with_head(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(9, LT_MEM_HEAD), 0, 4);
}
static void list_lists_against_nbuckets(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_FREE_COUNT, 3, 4);
}
static void list_bucket_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_BUCKET_PAGES, 3, 2); /* 4 pages and 1 page need as many buckets */
}
static void list_globals_against_heap(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_FREE_HEAD, 4, 4);
}
static void list_manager_counts_against_design(tu_mm *t) {
    t->m->nfree--; /* still balanced for mm__check_tables */
    t->m->nmeta++;
}
static void list_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_MEMS + LT_MEM_BYTES * 3, 2, 8); /* still one bucket */
}
static void list_link_against_heap(tu_mm *t) {
    tu_poke(t->mem, LT_OFF_LINKS + 4 * 2, 0, 4); /* the link of memory 3's tail: never walked */
}
static void list_head_past_carved(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(3, LT_MEM_HEAD), 5, 4);
}
static void list_head_in_another_list(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(3, LT_MEM_HEAD), 0, 4);
}
static void list_head_against_table(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(3, LT_MEM_HEAD), 3, 4); /* a free bucket, walked after memory 3 */
}
static void list_tail_against_walk(tu_mm *t) {
    tu_poke(t->mem, LT_MEM(0, LT_MEM_TAIL), 0, 4);
}
static void list_header_bytes(tu_mm *t) {
    t->m->header_bytes++;
}
/* The free of memory 7 committed last: its record is in the slot, and its
 * own place, which open does not read, still holds the record before the
 * free. Made current first (mm_check still passes), the slot is then said
 * to hold memory 9's record: every record reads as before, only `last`
 * differs from the heap's. */
static void list_last_against_heap(tu_mm *t) {
    cr_assert_eq(tu_peek(t->mem, LT_OFF_LAST, 1), 7 + 1);
    uint8_t rec[LT_MEM_BYTES];
    OK(mm_memory_read(t->mem, LT_OFF_LAST_MEM, rec, sizeof rec));
    OK(mm_memory_write(t->mem, LT_MEM(7, 0), rec, sizeof rec));
    OK(mm_check(t->m));
    tu_poke(t->mem, LT_OFF_LAST, 9 + 1, 1);
}
static void list_slot_copy_against_heap(tu_mm *t) {
    mm__test_list_slot_record(t->m)[LT_MEM_COUNT] ^= 1;
}

static const ccase list_cases[] = {
    {"magic and version", list_version, {"list: byte 3 is 9", "not a list layout"}},
    {"bucket size >= 1", list_bucket_size_zero, {"list: the bucket size is 0 pages"}},
    {"nbuckets <= 2^32 - 2", list_nbuckets_over_maximum,
     {"4294967295 buckets carved, past the maximum"}},
    {"linear memory >= 1 + nbuckets * N", list_nbuckets_past_memory,
     {"need 30201 pages, but the linear memory holds 30200"}},
    {"15,092 + nmeta * P >= nbuckets", list_links_without_slots,
     {"0 metadata buckets hold too few links for 15093 buckets"}},
    {"an empty metadata chain has no ends", list_empty_meta_chain_with_head,
     {"the metadata chain is empty but its head is 0"}},
    {"an empty free list has no ends", list_empty_free_list_with_head,
     {"the free list is empty but its head is 3"}},
    {"count(i) == ceil(size(i) / N)", list_count_against_size,
     {"memory 3 has 1 pages, which need 1 buckets, but its list counts 2"}},
    {"an empty memory's list has no ends", list_empty_memory_with_head,
     {"a memory's list is empty but its head is 0"}},
    {"sum(count) + free_count + nmeta == nbuckets", list_lists_against_nbuckets,
     {"the lists hold 6 buckets (with 3 free and 0 metadata), but 5 are carved"}},
    {"the header's bucket size is the heap's", list_bucket_size_against_heap,
     {"the header says 3 pages per bucket, the heap 2"}},
    {"the global block is the heap's", list_globals_against_heap,
     {"the global block differs from the heap's", "from 4/3"}},
    {"the manager's counters are the design's", list_manager_counts_against_design,
     {"the manager counts 5 buckets, 1 metadata, 1 free; the design 5, 0, 2"}},
    {"the header's sizes are the heap's", list_size_against_heap,
     {"memory 3: the header says 2 pages, the heap 1"}},
    {"link[b] is the heap's for every carved b", list_link_against_heap,
     {"the link of bucket 2 is 0, the heap says 4294967295"}},
    {"every list stays below nbuckets", list_head_past_carved,
     {"memory 3's list reaches bucket 5, past the 5 carved"}},
    {"no bucket in two lists", list_head_in_another_list,
     {"memory 3's list reaches bucket 0, which is in a list already"}},
    {"each memory's list is its table", list_head_against_table,
     {"memory 3's list has bucket 3 at #0, the heap 2"}},
    {"each list ends at its tail", list_tail_against_walk,
     {"memory 0's list ends at bucket 1 after 2 nodes, but its tail is 0"}},
    {"header_bytes covers page 0 and the metadata buckets", list_header_bytes,
     {"header_bytes is 65537 for 0 metadata buckets"}},
    {"the commit slot names the memory the heap says", list_last_against_heap,
     {"the commit slot holds memory 9's record, the heap says memory 7's"}},
    {"the heap's copy of the slot's record is that memory's", list_slot_copy_against_heap,
     {"the heap's copy of the commit slot's record differs from memory 7's"}},
};

/* One-page buckets, memory 0 of 47,860 pages: 15,092 links in page 0 and
 * 16,382 in each metadata bucket need three of them, carved after the data
 * (buckets 47,860 to 47,862, chained in that order). */
enum { LIST_BIG = 47860 };

static void setup_list_meta(tu_mm *t, const char *design) {
    tu_open_ram(t, design, 1);
    OK(mm_grow(t->m, 0, LIST_BIG, NULL));
    cr_assert_eq(tu_stats(t).buckets_meta, 3);
}

static uint64_t meta_at(uint32_t k, unsigned field) {
    return (1 + (uint64_t)LIST_BIG + k) * PAGE + field;
}

/* Data bucket 100 (memory 0's page 100) made to look like metadata bucket
 * #seq whose next is `next`: user bytes, written through the API. */
static void fake_meta(tu_mm *t, uint32_t seq, uint32_t next) {
    uint8_t h[8];
    tu_put_le(h, next, 4);
    tu_put_le(h + 4, seq, 4);
    OK(mm_write(t->m, 0, 100 * PAGE, h, sizeof h));
}

static void list_meta_seq(tu_mm *t) {
    tu_poke(t->mem, meta_at(1, LT_META_SEQ), 7, 4);
}
static void list_meta_chain_past_carved(tu_mm *t) {
    tu_poke(t->mem, meta_at(0, LT_META_NEXT), LIST_BIG + 3, 4);
}
static void list_meta_chain_cycle(tu_mm *t) {
    tu_poke(t->mem, meta_at(0, LT_META_NEXT), LIST_BIG, 4);
}
static void list_meta_chain_misses_tail(tu_mm *t) {
    fake_meta(t, 2, LT_NONE);
    tu_poke(t->mem, meta_at(1, LT_META_NEXT), 100, 4);
}
static void list_meta_chain_against_heap(tu_mm *t) {
    fake_meta(t, 1, LIST_BIG + 2); /* so the chain still ends at its tail */
    tu_poke(t->mem, meta_at(0, LT_META_NEXT), 100, 4);
}

static const ccase list_meta_cases[] = {
    {"metadata bucket k says k", list_meta_seq,
     {"metadata bucket 47861 is #1 of the chain but says #7"}},
    {"the metadata chain stays below nbuckets", list_meta_chain_past_carved,
     {"the metadata chain reaches bucket 47863, past the 47863 carved"}},
    {"the metadata chain has no cycle", list_meta_chain_cycle,
     {"the metadata chain reaches bucket 47860, which is in a list already"}},
    {"the metadata chain ends at meta_tail", list_meta_chain_misses_tail,
     {"the metadata chain ends at bucket 100, its tail says 47862"}},
    {"the metadata chain is the heap's", list_meta_chain_against_heap,
     {"metadata bucket #1 is 100, the heap says 47861"}},
};

Test(check, list) {
    RUN_CASES("list", setup_list, list_cases);
    RUN_CASES("list", setup_list_meta, list_meta_cases);
}

/* ------------------------------------------------------------------------
 * freestack (design_freestack.c). Two-page buckets in a memory of 16
 * pages: memory 0 owns buckets 0 and 1 (4 pages), memory 3 bucket 2 (1
 * page); memories 5 and 7 owned buckets 3 and 4 and were freed in that
 * order, so the stack is 3, 4 (4 on top).
 * ---------------------------------------------------------------------- */

static void setup_freestack(tu_mm *t, const char *design) {
    open_two_freed(t, design, 16);
}

static void fs_version(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_VERSION, 9, 1);
}
static void fs_bucket_size_zero(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_BUCKET_PAGES, 0, 2);
}
static void fs_count_past_capacity(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_COUNT, 4097, 4); /* segment 0 holds 4,096 entries, no chunk */
}
static void fs_chunks_past_directory(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_CHUNKS, 6649, 4);
}
static void fs_depth_past_count(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_DEPTH, 6, 4);
}
static void fs_count_past_memory(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_COUNT, 8, 4); /* 8 buckets end at page 17 */
}
static void fs_size_past_count(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_SIZES + 8 * 3, 100, 8);
}
static void fs_unbalanced(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_DEPTH, 1, 4);
}
static void fs_slot_past_count(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_SLOTS, 5, 4);
}
static void fs_slot_twice(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_SLOTS + 4, 3, 4);
}
static void fs_record_without_owner(tu_mm *t) {
    tu_poke(t->mem, FT_RECORD(2), 255, 1);
}
static void fs_record_past_table(tu_mm *t) {
    tu_poke(t->mem, FT_RECORD(2) + 1, 5, 4);
}
static void fs_records_same_position(tu_mm *t) {
    tu_poke(t->mem, FT_RECORD(1) + 1, 0, 4);
}
static void fs_bucket_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_BUCKET_PAGES, 3, 2); /* 4 pages and 1 page need as many buckets */
}
static void fs_stack_without_room(tu_mm *t) {
    *mm__test_freestack_stack_cap(t->m) = 0;
}
static void fs_stack_against_heap(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_SLOTS, 4, 4);
    tu_poke(t->mem, FT_OFF_SLOTS + 4, 3, 4);
}
static void fs_size_against_heap(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_SIZES + 8 * 3, 2, 8); /* still one bucket */
}
/* The free of memory 7 committed last: its size is the last size, and its
 * own place, which open does not read, still holds the size before the
 * free. Made current first (mm_check still passes), the last size is then
 * said to be memory 9's: every size reads as before, only `last` differs
 * from the heap's. */
static void fs_last_against_heap(tu_mm *t) {
    cr_assert_eq(tu_peek(t->mem, FT_OFF_LAST, 1), 7 + 1);
    tu_poke(t->mem, FT_OFF_SIZES + 8 * 7, tu_peek(t->mem, FT_OFF_LAST_SIZE, 8), 8);
    OK(mm_check(t->m));
    tu_poke(t->mem, FT_OFF_LAST, 9 + 1, 1);
}
static void fs_order_against_heap(tu_mm *t) {
    tu_poke(t->mem, FT_RECORD(0) + 1, 1, 4);
    tu_poke(t->mem, FT_RECORD(1) + 1, 0, 4);
}

static const ccase fs_cases[] = {
    {"magic and version", fs_version, {"lost its magic or version 4 (byte 3 is 9)"}},
    {"bucket size >= 1", fs_bucket_size_zero, {"freestack: the bucket size is 0 pages"}},
    {"capacity >= count", fs_count_past_capacity, {"4097 buckets carved with 0 chunks"}},
    {"nchunks <= 6,648", fs_chunks_past_directory, {"with 6649 chunks (at most 6648"}},
    {"depth + nchunks <= count", fs_depth_past_count,
     {"6 free and 0 chunks, but only 5 buckets carved"}},
    {"linear memory >= 1 + count * N", fs_count_past_memory,
     {"need 17 pages, but the linear memory holds 16"}},
    {"the sizes fit in the carved buckets", fs_size_past_count,
     {"memory 3 has 100 pages, more than the 5 carved buckets hold"}},
    {"sum ceil(size / N) + depth + nchunks == count", fs_unbalanced,
     {"the sizes need 3 buckets, + 1 free + 0 chunks != 5 carved"}},
    {"stack slots name carved buckets", fs_slot_past_count,
     {"stack slot 0 names bucket 5, past the 5 carved"}},
    {"a bucket is on the stack once", fs_slot_twice,
     {"stack slot 1 names bucket 3, already on the stack"}},
    {"an owned bucket's record names its owner", fs_record_without_owner,
     {"bucket 2 is neither free nor a chunk, but its record names no owner"}},
    {"a record's position is within its memory", fs_record_past_table,
     {"bucket 2 is #5 of memory 3, which has 1 pages and so 1 buckets"}},
    {"no two buckets at one position", fs_records_same_position,
     {"buckets 0 and 1 are both #0 of memory 0"}},
    {"the header's counters are the heap's", fs_bucket_size_against_heap,
     {"the header says 3 pages per bucket, 5 carved, 2 free, 0 chunks; the heap 2"}},
    {"the heap stack has room for every carved bucket", fs_stack_without_room,
     {"the heap stack has room for 0 ids", "5 carved buckets"}},
    {"the stack is the heap's", fs_stack_against_heap,
     {"the persisted stack differs from the heap's"}},
    {"the header's sizes are the heap's", fs_size_against_heap,
     {"memory 3: the header says 2 pages, the heap 1"}},
    {"the last size names the memory the heap says", fs_last_against_heap,
     {"the last size is memory 9's, the heap says memory 7's"}},
    {"each table's order is the records'", fs_order_against_heap,
     {"memory 0: the records give another bucket order than the heap's table"}},
};

/* One-page buckets, memory 0 of 11,380 pages: segment 0 and one chunk of
 * 7,281 entries are too few, so two chunks are carved after the data
 * (buckets 11,380 and 11,381, in that order in the directory). */
enum { FS_BIG = 11380 };

static void setup_freestack_chunks(tu_mm *t, const char *design) {
    tu_open_ram(t, design, 1);
    OK(mm_grow(t->m, 0, FS_BIG, NULL));
    cr_assert_eq(tu_stats(t).buckets_meta, 2);
}

/* The two chunks trade places in the directory and in the memory: every
 * entry reads as before, only the directory differs from the heap's. */
static void fs_directory_against_heap(tu_mm *t) {
    uint8_t *a = malloc(PAGE), *b = malloc(PAGE);
    cr_assert(a && b);
    cr_assert_eq(tu_peek(t->mem, FT_OFF_DIR, 4), FS_BIG);
    cr_assert_eq(tu_peek(t->mem, FT_OFF_DIR + 4, 4), FS_BIG + 1);
    OK(mm_memory_read(t->mem, (1 + FS_BIG) * PAGE, a, PAGE));
    OK(mm_memory_read(t->mem, (2 + FS_BIG) * PAGE, b, PAGE));
    OK(mm_memory_write(t->mem, (1 + FS_BIG) * PAGE, b, PAGE));
    OK(mm_memory_write(t->mem, (2 + FS_BIG) * PAGE, a, PAGE));
    tu_poke(t->mem, FT_OFF_DIR, FS_BIG + 1, 4);
    tu_poke(t->mem, FT_OFF_DIR + 4, FS_BIG, 4);
    free(a);
    free(b);
}

static void fs_chunk_past_count(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_DIR, FS_BIG + 7, 4);
}
static void fs_chunk_twice(tu_mm *t) {
    tu_poke(t->mem, FT_OFF_DIR + 4, FS_BIG, 4);
}

static const ccase fs_chunk_cases[] = {
    {"the directory names carved buckets", fs_chunk_past_count,
     {"chunk 0 names bucket 11387, past the 11382 carved"}},
    {"a bucket is a chunk once", fs_chunk_twice,
     {"chunk 1 names bucket 11380, already a chunk"}},
    {"the directory is the heap's", fs_directory_against_heap,
     {"the persisted directory differs from the heap's"}},
};

Test(check, freestack) {
    RUN_CASES("freestack", setup_freestack, fs_cases);
    RUN_CASES("freestack", setup_freestack_chunks, fs_chunk_cases);
}
