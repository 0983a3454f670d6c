/*
 * bitmap15: the seed design. Its header stays inside page 0 so that a V1
 * memory converts in place: the link15 layout, shared with hbitmap15
 * (layout_link15.c has its invariants, the bytes each op writes and the V1
 * upgrade). Page 0 (integers little-endian):
 *
 *   offset  size             field
 *   0       3                magic "MGR"
 *   3       1                layout version 2 (0x82 while a V1 upgrade runs)
 *   4       2                buckets carved ("count"), u16, <= 32,768
 *   6       2                bucket size in pages, u16 (1..65,535)
 *   8       32               reserved (kept from V1)
 *   40      255 x 8          size of memory i in pages, u64
 *   2080    255 x 2          first bucket of memory i, u16
 *   2590    32,768 x 15 bits link of bucket b: (next - b - 1) mod 2^15
 *   64030   ..65535          unused
 *   page 1 + b*N             bucket b (N = bucket size in pages), as in V1
 *
 * This file holds only the policy.
 *
 * Policy: a grow takes the lowest free bucket, found the way the seed
 * found it: testing bucket after bucket from 0 in a bitmap of the carved
 * buckets (in the heap, rebuilt on open); when the scan reaches `count`
 * without finding one, the grow takes fresh buckets from `count` on. That
 * scan is the cost this design exists to measure: every grow that finds no
 * free bucket has tested every carved one. hbitmap15 writes the same bytes
 * and finds the same bucket in constant time.
 *
 * Cost of each operation (k = buckets added or freed):
 *   grow   O(position of the k-th lowest free bucket, or count when none
 *          is free) bit tests: up to 32,768; writes as the layout says (at
 *          most 9 bytes for a grow into fresh buckets).
 *   free   O(k) bit sets; one write of the size (1 byte; 2 to 4 from 256 pages).
 *   open   one 64,030-byte read; O(512 + buckets allocated).
 *
 * Crash behaviour (the layout's): a grow writes links, then count, then the
 * size, which commits it: a crash before the size write reopens to the
 * state before the grow. A free is its one size write. An upgrade cut
 * short is completed on the next open from its journal (or rolled back by
 * v1 and v1reclaim). In durable mode a barrier precedes each commit.
 */
#include "layout_link15.h"

static uint32_t b15_take(mm *m, uint32_t from) {
    struct mm_l15 *h = m->ds;
    for (uint32_t b = from; b < m->nbuckets; b++)
        if (mm__l15_is_free(h, b)) {
            mm_bit_clear(h->free_map, b);
            return b;
        }
    return MM_L15_MAX_BUCKETS;
}

static void b15_give(mm *m, const uint32_t *ids, uint64_t n) {
    struct mm_l15 *h = m->ds;
    for (uint64_t k = 0; k < n; k++) mm_bit_set(h->free_map, ids[k]);
}

static const struct mm_l15_index b15_index = {
    .state_bytes = sizeof(struct mm_l15),
    .take = b15_take,
    .give = b15_give,
};

static int b15_format(mm *m) {
    return mm__l15_format(m, &b15_index);
}

static int b15_load(mm *m) {
    return mm__l15_load(m, &b15_index);
}

static int b15_upgrade_v1(mm *m, const struct mm_v1_image *v1) {
    return mm__l15_upgrade_v1(m, v1, &b15_index);
}

const struct mm_ops mm_design_bitmap15 = {
    .info = {.name = "bitmap15",
             .description = "one-page header of 15-bit bucket chains; grow scans a bitmap "
                            "from bucket 0 (the seed)",
             .max_buckets = MM_L15_MAX_BUCKETS,
             .flags = MM_DESIGN_CAN_FREE | MM_DESIGN_READS_V1 | MM_DESIGN_REUSES_ALL},
    .version = MM_L15_VERSION,
    .upgrading_version = MM_L15_UPGRADING,
    .format = b15_format,
    .load = b15_load,
    .upgrade_v1 = b15_upgrade_v1,
    .grow = mm__l15_grow,
    .grow_fast = mm__l15_grow_fast,
    .free = mm__l15_free,
    .check = mm__l15_check,
    .destroy = mm__l15_destroy,
    .heap_bytes = mm__l15_heap_bytes,
};
