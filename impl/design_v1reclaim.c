/*
 * v1reclaim: the V1-compatible attempt at freeing that ic-stable-structures
 * shipped in 2025 (`reclaim_memory`) and then reverted. It is here as the
 * measured proof of why that approach failed.
 *
 * Layout: V1, byte for byte, version byte 1, so `v1` opens whatever this
 * design writes. A freed bucket is one below `count` whose owner byte is
 * 255; V1 readers accept such buckets. Page 0 (integers little-endian;
 * layout_v1.c has the invariants and the shared encoder):
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
 * Policy: V1 translates through each memory's buckets in ascending order,
 * so a memory can only take buckets above its highest one. A grow of memory
 * m with highest bucket h takes the lowest free bucket above h, then the
 * next free one above that, and so on; when none is left above, it carves
 * new buckets at `count`, as V1 does. A free bucket below h stays unused by
 * m forever. In the common migration (copy memory A into a new memory B,
 * free A, keep growing B) every bucket of B lies above every bucket of A,
 * so nothing is ever reused and the linear memory keeps growing.
 *
 * Invariants, on top of V1's (layout_v1.c):
 *   free bit b set  <=>  b < count and owner[b] == 255
 *   popcount(free bits) == nfree
 *   each memory's buckets ascend (the owner bytes cannot say otherwise)
 *
 * Cost of each operation (k = buckets of the memory, r = buckets added):
 *   grow   O(r + 32,768/64) in the heap: a scan of the free bitmap with
 *          mm_ctz64 from h + 1; with no bucket free, v1's grow, fast entry
 *          included (mm__v1_grow_fast_reusing). Persisted: the owner bytes
 *          of the new buckets (one write per run of adjacent ones), the
 *          count (2 bytes) when buckets are carved, the size (8 bytes).
 *   free   O(k): the size (8 bytes) set to 0, then owner bytes set to 255
 *          (one write per run).
 *   open   O(32,768 + 255): one V1 header read, then one bitmap pass.
 *
 * Crash in the middle (layout_v1.c, "Crashes"): a grow writes the count,
 * the owner bytes, then the size, which commits (as v1); a free writes the
 * size 0, which commits, then the owner bytes 255. Every crash point
 * reopens to the state before or after, and open writes back the clean V1
 * of it. Buckets a crashed grow carved stay carved and free.
 */
#include "mm_internal.h"

#include <stdlib.h>

enum { RECLAIM_WORDS = MM_V1_MAX_BUCKETS / 64 };

/* Bit b set: bucket b is carved and free. */
typedef struct reclaim {
    uint64_t free_bits[RECLAIM_WORDS];
} reclaim;


/* The lowest free bucket in [from, end), or end when there is none. */
static uint32_t lowest_free_from(const reclaim *r, uint32_t from, uint32_t end) {
    if (from >= end) return end;
    uint32_t w = from / 64, last = (end - 1) / 64;
    uint64_t word = r->free_bits[w] & (~0ull << (from % 64));
    while (!word) {
        if (++w > last) return end;
        word = r->free_bits[w];
    }
    uint32_t b = w * 64 + mm_ctz64(word);
    return b < end ? b : end;
}

/* Every carved bucket that no table holds is free: none when nfree is 0
 * (most loads), else all carved ones but those the tables hold. */
static int rebuild_free_bits(mm *m) {
    reclaim *r = m->ds;
    if (!r) {
        r = malloc(sizeof *r);
        if (!r) return mm__fail(MM_ENOMEM, "cannot allocate the v1reclaim free bitmap");
        m->ds = r;
    }
    mm_bits_set_below(r->free_bits, RECLAIM_WORDS, m->nfree ? (uint32_t)m->nbuckets : 0);
    if (!m->nfree) return MM_OK;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        const uint32_t *ids = m->tables[i].ids;
        for (uint32_t k = 0, len = m->tables[i].len; k < len; k++) mm_bit_clear(r->free_bits, ids[k]);
    }
    return MM_OK;
}

static int reclaim_format(mm *m) {
    int err = mm__v1_format(m, MM_V1_VERSION);
    return err ? err : rebuild_free_bits(m);
}

static int reclaim_load(mm *m) {
    int err = mm__v1_load(m, false);
    return err ? err : rebuild_free_bits(m);
}

static int reclaim_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    reclaim *r = m->ds;
    mm_table *t = &m->tables[id];
    uint32_t last = mm__table_last(t);
    uint32_t from = last == UINT32_MAX ? 0 : last + 1;
    uint64_t reused = 0;
    uint32_t end = (uint32_t)m->nbuckets;
    for (; reused < nnew && reused < m->nfree; reused++) {
        uint32_t b = lowest_free_from(r, from, end);
        if (b == end) break;
        mm__table_push(t, b);
        from = b + 1;
    }
    uint64_t count = m->nbuckets, carved = nnew - reused;
    if (carved > MM_V1_MAX_BUCKETS - count) {
        t->len -= (uint32_t)reused;
        return mm__fail(MM_EFULL, "memory %u needs %llu more buckets; %llu reuse free ones "
                        "above its last bucket and %llu of V1's %u are carved", id,
                        (unsigned long long)nnew, (unsigned long long)reused,
                        (unsigned long long)count, MM_V1_MAX_BUCKETS);
    }
    for (uint64_t k = 0; k < carved; k++) mm__table_push(t, (uint32_t)(count + k));
    int err = mm__v1_persist_grow(m, id, new_size, nnew, count + carved);
    if (err) return err;
    for (uint64_t k = 0; k < reused; k++) mm_bit_clear(r->free_bits, t->ids[t->len - nnew + k]);
    m->nfree -= reused;
    return MM_OK;
}

static int reclaim_free(mm *m, unsigned id) {
    reclaim *r = m->ds;
    const mm_table *t = &m->tables[id];
    /* The size commits; the owner bytes after it only tidy up what a load
     * reads as unallocated anyway (a memory owning more than it needs). */
    static const uint8_t zero[8];
    int err = mm__hcommit(m, MM_V1_OFF_SIZES + 8u * id, zero, sizeof zero);
    if (!err) err = mm__v1_write_owners(m, t->ids, t->len, MM_V1_UNALLOCATED);
    if (err) return err;
    for (uint32_t k = 0; k < t->len; k++) mm_bit_set(r->free_bits, t->ids[k]);
    m->nfree += t->len;
    return MM_OK;
}

static int reclaim_check(mm *m) {
    int err = mm__v1_check(m, MM_V1_VERSION);
    if (err) return err;
    /* The bitmap is the complement of the tables among carved buckets:
     * no bit past the count, no bit on an owned bucket, and as many bits
     * as free buckets (mm__check_tables counts those against the tables). */
    const reclaim *r = m->ds;
    uint64_t bits = 0;
    for (uint32_t w = 0; w < RECLAIM_WORDS; w++) bits += mm_popcount64(r->free_bits[w]);
    uint32_t past = lowest_free_from(r, (uint32_t)m->nbuckets, MM_V1_MAX_BUCKETS);
    if (past < MM_V1_MAX_BUCKETS)
        return mm__fail(MM_ECHECK, "v1reclaim: bucket %u is marked free, but only %llu are "
                        "carved", past, (unsigned long long)m->nbuckets);
    if (bits != m->nfree)
        return mm__fail(MM_ECHECK, "v1reclaim: %llu buckets are marked free, the count of free "
                        "buckets is %llu", (unsigned long long)bits,
                        (unsigned long long)m->nfree);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        for (uint32_t k = 0; k < m->tables[i].len; k++)
            if (mm_bit_get(r->free_bits, m->tables[i].ids[k]))
                return mm__fail(MM_ECHECK, "v1reclaim: bucket %u of memory %u is marked free",
                                m->tables[i].ids[k], i);
    return MM_OK;
}

static void reclaim_destroy(mm *m) {
    free(m->ds);
    m->ds = NULL;
}

static uint64_t reclaim_heap_bytes(const mm *m) {
    return m->ds ? sizeof(reclaim) : 0;
}

const struct mm_ops mm_design_v1reclaim = {
    .info = {.name = "v1reclaim",
             .description = "V1 bytes; frees, but reuses only buckets above a memory's last "
                            "(the reverted 2025 attempt)",
             .max_buckets = MM_V1_MAX_BUCKETS,
             .flags = MM_DESIGN_CAN_FREE},
    .version = MM_V1_VERSION,
    .format = reclaim_format,
    .load = reclaim_load,
    .grow = reclaim_grow,
    .grow_fast = mm__v1_grow_fast_reusing,
    .free = reclaim_free,
    .check = reclaim_check,
    .destroy = reclaim_destroy,
    .heap_bytes = reclaim_heap_bytes,
};

uint64_t *mm__test_v1reclaim_free_bits(mm *m) {
    return ((reclaim *)m->ds)->free_bits;
}
