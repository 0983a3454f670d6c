/*
 * v1: the baseline. Byte for byte the V1 layout of ic-stable-structures
 * 0.7. It cannot free, so every figure of the freeing designs is divided
 * by this one's. Persisted layout, page 0 (integers little-endian; the
 * invariants and the encoder are in layout_v1.c, shared with v1reclaim):
 *
 *   offset  size          field
 *   0       3             magic "MGR"
 *   3       1             layout version (1)
 *   4       2             buckets allocated ("count"), u16, <= 32,768
 *   6       2             bucket size in pages, u16 (1..65,535)
 *   8       32            reserved, zero
 *   40      255 x 8       size of memory i in pages, u64
 *   2080    32,768 x 1    owner of bucket b, or 255 when unallocated
 *   34848   ..65535       unused, zero
 *   page 1 + b*N          bucket b (N = bucket size in pages)
 *
 * Policy: a memory's next bucket is always bucket `count`, the first never
 * carved; the linear memory grows to 1 + count * N pages to hold it.
 *
 * Cost of each operation:
 *   grow   O(buckets added); writes the new owner bytes (one run), the
 *          count (2 bytes) when buckets are added, and the size (8 bytes).
 *          Upstream rewrites the whole 2,080-byte fixed header instead.
 *   free   not supported (MM_ENOTSUP, nothing changed).
 *   open   O(32,768 + 255): two reads, the 2,080 fixed bytes and the
 *          32,768 owner bytes.
 *
 * Crash in the middle of a grow (layout_v1.c, "Crashes", has the
 * protocol): the count first, then the owner bytes, then the size, which
 * commits. Every crash point reopens to the state before the grow, in any
 * V1 reader, upstream's included; our open then writes back the clean V1
 * of that state: the owner bytes the grow left go back to 255 and, as v1
 * never reuses a bucket, the count drops over the unallocated buckets at
 * the top, which the next grow carves again. No write is added to the
 * grow, and nothing is written elsewhere than V1 writes.
 */
#include "mm_internal.h"

static int v1_format(mm *m) {
    return mm__v1_format(m, MM_V1_VERSION);
}

static int v1_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    uint64_t count = m->nbuckets;
    if (nnew > MM_V1_MAX_BUCKETS - count)
        return mm__fail(MM_EFULL, "memory %u needs %llu more buckets; %llu of V1's %u are "
                        "allocated", id, (unsigned long long)nnew, (unsigned long long)count,
                        MM_V1_MAX_BUCKETS);
    mm_table *t = &m->tables[id];
    for (uint64_t k = 0; k < nnew; k++) mm__table_push(t, (uint32_t)(count + k));
    return mm__v1_persist_grow(m, id, new_size, nnew, count + nnew);
}

static int v1_load(mm *m) {
    return mm__v1_load(m, true);
}

static int v1_check(mm *m) {
    return mm__v1_check(m, MM_V1_VERSION);
}

const struct mm_ops mm_design_v1 = {
    .info = {.name = "v1",
             .description = "ic-stable-structures V1 layout, byte for byte; cannot free",
             .max_buckets = MM_V1_MAX_BUCKETS,
             .flags = 0},
    .version = MM_V1_VERSION,
    .format = v1_format,
    .load = v1_load,
    .grow = v1_grow,
    .grow_fast = mm__v1_grow_fast,
    .check = v1_check,
};
