/*
 * The link15 layout (version 2), shared by bitmap15 and hbitmap15
 * (layout_link15.c). Only these two designs and that file include it.
 */
#ifndef MM_LAYOUT_LINK15_H
#define MM_LAYOUT_LINK15_H

#include "mm_internal.h"

/* ------------------------------------------------------------------------
 * The link15 layout (version 2), shared by bitmap15 and hbitmap15
 * (layout_link15.c has the offset table). The two designs write the same
 * bytes; they differ only in the in-heap index that finds the lowest free
 * bucket, which each supplies as a struct mm_l15_index.
 * ---------------------------------------------------------------------- */

enum {
    MM_L15_VERSION = 2,
    MM_L15_UPGRADING = 0x80 | MM_L15_VERSION, /* byte 3 while a V1 upgrade is under way */
    MM_L15_OFF_FIRST = 2080,                  /* 255 x u16: first bucket of memory i */
    MM_L15_OFF_LINKS = 2590,                  /* 32,768 x 15 bits: link of bucket b */
    MM_L15_LINK_BITS = 15,
    MM_L15_LINK_MASK = (1 << MM_L15_LINK_BITS) - 1,
    MM_L15_MAX_BUCKETS = 1 << MM_L15_LINK_BITS,
    MM_L15_HEADER_BYTES = MM_L15_OFF_LINKS + MM_L15_MAX_BUCKETS * MM_L15_LINK_BITS / 8,
    MM_L15_WORDS = MM_L15_MAX_BUCKETS / 64, /* 64-bit words of one bit per bucket */
};

/* Link b holds (next - b - 1) mod 2^15, packed little-endian at bit 15*b of
 * the link table: a zero link means "next is b + 1". A link starting at bit
 * shift (0..7) of a byte p[0] lies in the "window" of p[0], p[1] and, when
 * it does not fit in two bytes, p[2], read as one little-endian integer. */
static inline unsigned mm__l15_window_bytes(unsigned shift) {
    return shift > 16 - MM_L15_LINK_BITS ? 3 : 2;
}
static inline uint32_t mm__l15_window(const uint8_t *p, unsigned shift) {
    uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    return mm__l15_window_bytes(shift) == 3 ? w | (uint32_t)p[2] << 16 : w;
}
/** The window w with the link at shift set to link. */
static inline uint32_t mm__l15_window_with(uint32_t w, unsigned shift, uint32_t link) {
    return (w & ~((uint32_t)MM_L15_LINK_MASK << shift)) | (link & MM_L15_LINK_MASK) << shift;
}
/** The bucket that follows bucket b in its chain, read from a header image. */
static inline uint32_t mm__l15_next(const uint8_t *hdr, uint32_t b) {
    uint32_t bit = b * MM_L15_LINK_BITS;
    uint32_t w = mm__l15_window(hdr + MM_L15_OFF_LINKS + bit / 8, bit % 8);
    return (b + 1 + (w >> bit % 8)) & MM_L15_LINK_MASK;
}
/** Makes next follow bucket b in a header image. */
static inline void mm__l15_set_next(uint8_t *hdr, uint32_t b, uint32_t next) {
    uint32_t bit = b * MM_L15_LINK_BITS, shift = bit % 8;
    uint8_t *p = hdr + MM_L15_OFF_LINKS + bit / 8;
    uint32_t w = mm__l15_window_with(mm__l15_window(p, shift), shift, next - b - 1);
    for (unsigned i = 0; i < mm__l15_window_bytes(shift); i++) p[i] = (uint8_t)(w >> 8 * i);
}

/** What a link15 design supplies: its index of free buckets (carved and
 *  in no chain). Both designs grow into the lowest free bucket, and into
 *  fresh buckets from `count` on when none is free. */
struct mm_l15_index {
    size_t state_bytes; /* the design's heap state, which starts with a struct mm_l15 */
    /* The lowest free bucket, now marked in use, or MM_L15_MAX_BUCKETS
     * when none is free. No bucket below from is free. */
    uint32_t (*take)(mm *m, uint32_t from);
    /* The index knows in O(1) that nothing is free when m->nfree is 0, so
     * a grow need not ask take(). False for bitmap15, whose grow scans as
     * the seed's did, free buckets or not. The design's grow_fast entry
     * says the same: mm__l15_grow_fast_trusting when true. */
    bool trusts_nfree;
    /* Marks the carved buckets ids[0..n) free (a whole memory's, at a
     * free: one call, not one per bucket). */
    void (*give)(mm *m, const uint32_t *ids, uint64_t n);
    /* Derives the design's index from free_map[] after format/load/upgrade.
     * May be NULL. */
    void (*rebuild)(mm *m);
    /* Walks the design's index against free_map[]. May be NULL. */
    int (*check)(mm *m);
};

/** The heap state every link15 design starts with. */
struct mm_l15 {
    const struct mm_l15_index *ix;
    /* id + 1 of a memory whose chain ends at bucket count - 1 with a zero
     * link, or 0 when that is not known. A grow of that memory into bucket
     * count then changes no link, and so need not read it: the fast path
     * sets it when it grows a memory into a fresh bucket (whose link is
     * zero, as every one from count on), and whatever else could end that
     * chain elsewhere or change that link (the general grow, a grow into a
     * freed bucket, a free of that memory) clears it. Never persisted:
     * an open starts at 0. mm__l15_check verifies it. */
    unsigned tail;
    /* Bit b set: bucket b is free (carved, in no chain). The designs keep
     * it; the layout rebuilds it on open and checks it. */
    uint64_t free_map[MM_L15_WORDS];
    /* The header bytes as the linear memory holds them, where those bytes
     * are behind calls (a file, stable memory; and the header a format or
     * an upgrade builds): a write is issued only for the bytes that differ,
     * and the mirror follows each write that succeeds. NULL for a RAM
     * memory's load: its page 0 is the header's one copy. */
    uint8_t *hdr;
};

static inline bool mm__l15_is_free(const struct mm_l15 *h, uint32_t b) {
    return mm_bit_get(h->free_map, b);
}

/* The mm_ops entries, with the design's index where the op needs it. */
int mm__l15_format(mm *m, const struct mm_l15_index *ix);
int mm__l15_load(mm *m, const struct mm_l15_index *ix);
int mm__l15_upgrade_v1(mm *m, const struct mm_v1_image *v1, const struct mm_l15_index *ix);
int mm__l15_free(mm *m, unsigned id);
int mm__l15_check(mm *m);
void mm__l15_destroy(mm *m);
/** heap_bytes for the designs built on it: the state destroy releases. */
uint64_t mm__l15_heap_bytes(const mm *m);


int mm__l15_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew);
int mm__l15_grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);
/** The same for an index that trusts m->nfree (hbitmap15's): with none
 *  free, a grow goes to bucket count without asking the index. */
int mm__l15_grow_fast_trusting(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);

#endif /* MM_LAYOUT_LINK15_H */
