/*
 * hbitmap15: bitmap15's one-page header and in-place V1 upgrade, with grow
 * and free in time independent of the number of buckets. It writes exactly
 * the bytes bitmap15 writes (the link15 layout, layout_link15.c, version 2),
 * so each opens the other's memories; only the heap index differs. Page 0
 * (integers little-endian; layout_link15.c has the invariants):
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
 * The seed's cost was never the header: it was finding the lowest free
 * bucket by testing one bit at a time. Here the bitmap gets a hierarchy
 * (hence "h"): 512 words of one bit per bucket, 8 words with one bit per
 * leaf word that is not zero, and one word with one bit per such summary
 * word. The lowest free bucket is three mm_ctz64 calls away, "none" is one
 * test of the top word, and marking a bucket touches at most one word per
 * level.
 *
 *   level   words   bit set when
 *   leaf    512     bucket 64*w + i is free (carved, in no chain)
 *   mid     8       leaf word 64*j + i is not zero
 *   top     1       mid word j is not zero
 *
 * The policy is bitmap15's (the lowest free bucket, else fresh ones from
 * count on), so both designs make the same choices and differ only in what
 * the choice costs.
 *
 * Cost of each operation (k = buckets added or freed):
 *   grow   O(k): three ctz and at most three word updates per bucket;
 *          writes as the layout says: into a fresh bucket usually 2 to 5
 *          bytes in 2 or 3 writes, at most 9 (v1: 11), no link for
 *          adjacent buckets.
 *   free   O(k) bit sets; one write of the size (1 byte; 2 to 4 from 256 pages).
 *   open   one 64,030-byte read; O(512 + buckets allocated).
 * Crash behaviour: the layout's (each grow and free commits with its size
 * write; an interrupted V1 upgrade is completed on the next open from its
 * journal, or rolled back by v1 and v1reclaim).
 */
#include "layout_link15.h"

enum { HB_MID_WORDS = MM_L15_WORDS / 64 };
static_assert(HB_MID_WORDS <= 64, "one top word covers every mid word");

typedef struct hbitmap15 {
    struct mm_l15 l; /* l.free_map is the leaf level */
    uint64_t mid[HB_MID_WORDS];
    uint64_t top;
} hbitmap15;

static uint32_t hb_take(mm *m, uint32_t from) {
    (void)from; /* nothing below it is free: the lowest is above */
    hbitmap15 *s = m->ds;
    if (!s->top) return MM_L15_MAX_BUCKETS;
    unsigned j = mm_ctz64(s->top);
    unsigned w = 64 * j + mm_ctz64(s->mid[j]);
    uint64_t *leaf = &s->l.free_map[w];
    uint32_t b = 64 * w + mm_ctz64(*leaf);
    *leaf &= *leaf - 1;
    if (!*leaf) {
        mm_bit_clear(s->mid, w);
        if (!s->mid[j]) mm_bit_clear(&s->top, j);
    }
    return b;
}

static void hb_give(mm *m, const uint32_t *ids, uint64_t n) {
    hbitmap15 *s = m->ds;
    uint64_t top = s->top;
    for (uint64_t k = 0; k < n; k++) {
        uint32_t b = ids[k];
        mm_bit_set(s->l.free_map, b);
        mm_bit_set(s->mid, b / 64);
        top |= 1ull << (b / 64 / 64);
    }
    s->top = top;
}

/* The summary words the leaf words imply. */
static void hb_summarize(const hbitmap15 *s, uint64_t mid[HB_MID_WORDS], uint64_t *top) {
    *top = 0;
    for (unsigned j = 0; j < HB_MID_WORDS; j++) {
        mid[j] = 0;
        for (unsigned i = 0; i < 64; i++)
            mid[j] |= (uint64_t)(s->l.free_map[64 * j + i] != 0) << i;
        *top |= (uint64_t)(mid[j] != 0) << j;
    }
}

static void hb_rebuild(mm *m) {
    hbitmap15 *s = m->ds;
    hb_summarize(s, s->mid, &s->top);
}

static int hb_check(mm *m) {
    const hbitmap15 *s = m->ds;
    uint64_t mid[HB_MID_WORDS], top;
    hb_summarize(s, mid, &top);
    for (unsigned j = 0; j < HB_MID_WORDS; j++)
        if (mid[j] != s->mid[j])
            return mm__fail(MM_ECHECK, "summary word %u is %016llx; the leaf words under it "
                            "give %016llx", j, (unsigned long long)s->mid[j],
                            (unsigned long long)mid[j]);
    if (top != s->top)
        return mm__fail(MM_ECHECK, "the top word is %llx; the summary words give %llx",
                        (unsigned long long)s->top, (unsigned long long)top);
    return MM_OK;
}

static const struct mm_l15_index hb_index = {
    .state_bytes = sizeof(hbitmap15),
    .take = hb_take,
    .trusts_nfree = true,
    .give = hb_give,
    .rebuild = hb_rebuild,
    .check = hb_check,
};

static int hb_format(mm *m) {
    return mm__l15_format(m, &hb_index);
}

static int hb_load(mm *m) {
    return mm__l15_load(m, &hb_index);
}

static int hb_upgrade_v1(mm *m, const struct mm_v1_image *v1) {
    return mm__l15_upgrade_v1(m, v1, &hb_index);
}

const struct mm_ops mm_design_hbitmap15 = {
    .info = {.name = "hbitmap15",
             .description = "bitmap15's bytes; a 3-level heap bitmap finds the lowest free "
                            "bucket in O(1)",
             .max_buckets = MM_L15_MAX_BUCKETS,
             .flags = MM_DESIGN_CAN_FREE | MM_DESIGN_READS_V1 | MM_DESIGN_REUSES_ALL},
    .version = MM_L15_VERSION,
    .upgrading_version = MM_L15_UPGRADING,
    .format = hb_format,
    .load = hb_load,
    .upgrade_v1 = hb_upgrade_v1,
    .grow = mm__l15_grow,
    .grow_fast = mm__l15_grow_fast_trusting,
    .free = mm__l15_free,
    .check = mm__l15_check,
    .destroy = mm__l15_destroy,
    .heap_bytes = mm__l15_heap_bytes,
};

uint64_t *mm__test_hbitmap15_summary(mm *m, uint64_t **top) {
    hbitmap15 *s = m->ds;
    *top = &s->top;
    return s->mid;
}
