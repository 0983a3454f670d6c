/*
 * The link15 layout (version 2): V1's fixed fields, then each memory's
 * buckets as a chain of 15-bit links, all inside page 0. Shared by bitmap15
 * and hbitmap15, which write exactly these bytes and differ only in how
 * their heap index finds the lowest free bucket.
 *
 *   offset  size             field
 *   0       3                magic "MGR"
 *   3       1                layout version: 2 (0x82 while a V1 upgrade runs)
 *   4       2                buckets carved ("count"), u16, at most 32,768
 *   6       2                bucket size in pages, u16 (1..65,535)
 *   8       32               reserved (kept from V1)
 *   40      255 x 8          size of memory i in pages, u64
 *   2080    255 x 2          first bucket of memory i, u16
 *   2590    32,768 x 15 bits link of bucket b, packed little-endian at
 *                            bit 15*b: (next - b - 1) mod 2^15
 *   64030   ..65535          unused
 *
 * Buckets start at page 1, bucket b at page 1 + b*N, exactly as in V1, so
 * an upgrade moves no data. Memory i owns the chain first[i], next(first[i]),
 * ... of len(i) = ceil(size[i] / N) buckets; its k-th bucket holds virtual
 * bytes [k, k+1) * N * 64 KiB. The chain's length follows from the size, so
 * no link ends a chain, and first[i] and the link of a chain's last bucket
 * mean nothing. Buckets below count in no chain are free.
 *
 * Invariants (load refuses a header that breaks one, check() walks them):
 *   1 <= N, count <= 32,768, linear memory pages >= 1 + count * N
 *   sum of len(i) <= count; every chain stays below count; no bucket is
 *   in two chains or twice in one
 *   link[b] == 0 for every b >= count (never carved, never linked)
 *
 * Why relative links: a zero link reads "next is b + 1". Fresh buckets come
 * from count upwards and have zero links, so a memory that grows into
 * adjacent buckets needs no link write at all, and upgrading V1's ascending
 * runs writes mostly zeros.
 *
 * Writes: the heap keeps a mirror of these bytes and a change writes only
 * the bytes that differ, as one span per field. Per operation:
 *   grow that adds k buckets: the entry link (link of the memory's last
 *     bucket, or first[i] when it was empty; nothing when the new bucket is
 *     the next adjacent fresh one), the k-1 links between the new buckets
 *     (nothing for adjacent fresh ones), count when it changes (<= 2 bytes)
 *     and the size (its low byte when only that changes, as in most grows,
 *     else its bytes up to the highest that changes: 2 on a carry past a
 *     byte, 4 at most, as sizes stay under 2^32 pages). A grow into fresh
 *     buckets thus writes 1 + 1 + 3 bytes at most in the common case and
 *     3 + 2 + 4 when every field carries, against V1's k + 2 + 8; one that
 *     adds no bucket writes 1 to 4 bytes of size. A grow into freed
 *     buckets writes each link that changes (<= 3 bytes): one bucket costs
 *     <= 3 + 4, under V1's 11, but k >= 3 scattered ones can cost more
 *     than V1's k + 10 (which V1, unable to reuse, never faces). Measured
 *     (the workloads' header_bytes_written, N = 1,024 to 32,768): 2.0
 *     bytes per grow in grow_pages, 3.57 to 3.75 in grow_spread (round-robin
 *     over 255 memories), 1.0 in grow_one (mostly inside a bucket).
 *   free: the size only (one write of 1 to 4 bytes, whatever the number of
 *     buckets): the chain is unreachable once the size is 0, and a later
 *     grow overwrites first[i]. Stale links of freed buckets stay; a grow
 *     that reuses a bucket rewrites its link only if it changes.
 *   open: one read of the 64,030 header bytes; O(buckets carved) work,
 *     with 2 bytes a carved bucket of heap held while it runs. Upgrade
 *     from V1: four writes (see below).
 *
 * What no check can see: a header whose size of memory i was lowered (by
 * damage, not by a free) still meets every invariant, since a chain's
 * length follows from the size. The buckets past the new length become
 * free with their bytes in them, and a later grow hands those bytes out.
 * V1's owner bytes would disagree with such a size; link15 trades that
 * redundancy for its one-byte commits. (tests/fuzz/README.md)
 *
 * Crash behaviour. A grow writes links, then count, then size; the size
 * write is the commit. Before it lands the old chain length hides every new
 * link, and a larger count only carves free buckets: reopening gives the
 * state before the grow. A free is the one size write. Sizes are 8-byte
 * aligned fields, each written as its first 1 to 4 bytes, so storage that
 * writes an aligned word atomically makes each grow and free atomic. (The
 * manager zeroes a memory's buckets before free's size write: a crash in
 * between leaves the memory whole in the header, with zeroed bytes.) In
 * durable mode a barrier comes before the size write, so that the links,
 * the count and a free's zeroing are on the disk first.
 *
 * V1 upgrade, in place. V1's fixed fields (0..2079) are kept as they are;
 * the owner bytes at 2080.. are overwritten by first[] and the links:
 *   1. the journal: V1's header copied to a page past the last bucket,
 *      then byte 3 = 0x82 ("upgrading"), which commits it
 *      (mm__upgrade_begin, layout_v1.c);
 *   2. bytes 2080..64029, first[] and every link, one write;
 *   3. byte 3 = 2, which commits the upgrade; the journal page is dropped.
 * A crash before byte 3 = 0x82 lands leaves V1 intact: the next open
 * upgrades again. From it until byte 3 = 2, bitmap15 and hbitmap15 complete
 * the upgrade from the journal, and v1 or v1reclaim roll it back to the V1
 * memory. Data pages are never touched by an upgrade.
 */
#include "layout_link15.h"

#include <stdlib.h>

static_assert((int)MM_L15_OFF_FIRST == (int)MM_V1_OFF_OWNERS, "first[] replaces V1's owner bytes");
static_assert(MM_L15_OFF_FIRST + 2 * MM_MAX_MEMORIES == MM_L15_OFF_LINKS, "links follow first[]");
static_assert(MM_L15_HEADER_BYTES == 64030, "the link table ends at byte 64,030");
static_assert(MM_L15_HEADER_BYTES <= MM_PAGE_SIZE, "the header fits in page 0");
static_assert((int)MM_L15_MAX_BUCKETS == (int)MM_V1_MAX_BUCKETS, "every V1 bucket has a link");

static inline struct mm_l15 *state(mm *m) {
    return m->ds;
}

static inline void mark_in_use(struct mm_l15 *h, uint32_t b) {
    mm_bit_clear(h->free_map, b);
}

/* Marks buckets [0, count) free. */
static void mark_carved_free(struct mm_l15 *h, uint32_t count) {
    mm_bits_set_below(h->free_map, MM_L15_WORDS, count);
}

/* ------------------------------------------------------------------------
 * Writing through the mirror
 * ---------------------------------------------------------------------- */

/* Writes a little-endian field of `width` bytes that changes from old to
 * new: nothing when nothing changes, the low byte when only it changes (a
 * size or count that steps by one, mostly), else its bytes from the low
 * one up to the highest that changes (2 on a carry past one byte; never
 * more than 4 of a size's 8, as sizes stay under 2^32 pages). The write
 * starts at the field's aligned start, so it stays inside the aligned word
 * that makes a size write atomic. The mirror takes the new bytes first and
 * is the write's source; a failed write puts the old ones back. */
static inline void put_width(uint8_t *p, uint64_t v, unsigned width) {
    if (width == 8) {
        mm_put_u64(p, v);
    } else {
        mm_put_u16(p, (uint16_t)v);
        if (width == 3) p[2] = (uint8_t)(v >> 16);
    }
}

/* The header bytes the design reads and changes. A RAM memory's bytes are
 * in this process: its page 0 is the header's one copy, and a change is a
 * store there. A file's (or any other backing's) are behind calls: the heap
 * mirror holds them, and a change is a store into the mirror followed by a
 * write of the bytes that changed. */
static inline uint8_t *hdr_of(mm *m) {
    return m->ram ? m->ram : state(m)->hdr;
}

/* How many bytes from a field's start a change of diff (not 0) writes: up
 * to the highest byte that changes. For diff < 256, fls / 8 + 1 is 1 as
 * well: testing it first keeps most grows' count a constant. */
static inline size_t changed_bytes(uint64_t diff) {
    return diff < 256 ? 1 : mm_fls64(diff) / 8 + 1;
}

/* put_le on a RAM memory: the store is the write. The bytes of the field
 * past the ones that change hold their value already, so storing the whole
 * field leaves page 0 as writing only those would; the count is theirs. */
static mm_always_inline void ram_put_le(mm *m, uint32_t off, uint64_t diff, uint64_t new,
                                        unsigned width) {
    /* The two counts on either side of the store, which may alias them:
     * side by side, GCC adds to them with four vector instructions. */
    m->hbytes_written += changed_bytes(diff);
    put_width(m->ram + off, new, width);
    m->hwrites++;
}

/* A size write is an operation's commit (mm__hcommit: the same store on a
 * RAM memory, between barriers in durable mode); commit is a constant at
 * every call, and put_le always inlined, so the choice costs nothing. */
static mm_always_inline int put_le(mm *m, uint32_t off, uint64_t old, uint64_t new,
                                   unsigned width, bool commit) {
    uint64_t diff = old ^ new;
    if (!diff) return MM_OK;
    if (mm_likely(m->ram != NULL)) {
        ram_put_le(m, off, diff, new, width);
        return MM_OK;
    }
    uint8_t *held = state(m)->hdr + off;
    put_width(held, new, width);
    int err = commit ? mm__hcommit_slow(m, off, held, changed_bytes(diff))
                     : mm__hwrite_slow(m, off, held, changed_bytes(diff));
    if (err) put_width(held, old, width);
    return err;
}

static mm_always_inline int put_size(mm *m, unsigned id, uint64_t pages) {
    return put_le(m, MM_V1_OFF_SIZES + 8u * id, m->sizes[id], pages, 8, true);
}

static int put_first(mm *m, unsigned id, uint32_t b) {
    uint32_t off = MM_L15_OFF_FIRST + 2 * id;
    return put_le(m, off, mm_get_u16(hdr_of(m) + off), b, 2, false);
}

/* A link shares its bytes with its neighbours: its window is the field.
 * Sets the link of b to next in hdr; *old gets the window before, *at the
 * offset of the first byte that changed and the result the number of
 * bytes that changed from there: 0 (nothing), or 1 to 3. */
static inline unsigned set_link(uint8_t *hdr, uint32_t b, uint32_t next, uint32_t *old,
                                uint32_t *at) {
    uint32_t bit = b * MM_L15_LINK_BITS, off = MM_L15_OFF_LINKS + bit / 8;
    uint8_t *held = hdr + off;
    *old = mm__l15_window(held, bit % 8);
    uint32_t new = mm__l15_window_with(*old, bit % 8, next - b - 1);
    if (*old == new) return 0;
    put_width(held, new, mm__l15_window_bytes(bit % 8));
    uint32_t diff = *old ^ new;
    unsigned lo = (diff & 0xFF) ? 0 : (diff & 0xFF00) ? 1 : 2;
    unsigned hi = (diff >> 16) ? 2 : (diff >> 8) ? 1 : 0;
    *at = off + lo;
    return hi - lo + 1;
}

/* Makes bucket b follow bucket last on a RAM memory, on the one copy: the
 * 4 bytes from the link's first one hold it (page 0 has room past the
 * links), and storing back the bytes that did not change leaves them as
 * they were; the count is of the bytes that did. */
static mm_always_inline void link_in_ram(mm *m, uint32_t last, uint32_t b) {
    uint32_t bit = last * MM_L15_LINK_BITS, shift = bit % 8;
    uint8_t *p = m->ram + MM_L15_OFF_LINKS + bit / 8;
    uint32_t w = mm_get_u32(p);
    uint32_t diff = (w ^ ((b - last - 1) << shift)) & ((uint32_t)MM_L15_LINK_MASK << shift);
    if (diff) {
        /* The counts on either side of the store, which may alias them:
         * side by side, GCC added to them with five vector instructions. */
        m->hbytes_written += mm_fls64(diff) / 8 - mm_ctz64(diff) / 8 + 1;
        mm_put_u32(p, w ^ diff);
        m->hwrites++;
    }
}

static int put_link(mm *m, uint32_t b, uint32_t next) {
    if (mm_likely(m->ram != NULL)) {
        link_in_ram(m, b, next);
        return MM_OK;
    }
    uint32_t old, at;
    uint8_t *hdr = state(m)->hdr;
    unsigned n = set_link(hdr, b, next, &old, &at);
    int err = n ? mm__hwrite_slow(m, at, hdr + at, n) : MM_OK;
    if (err) { /* the old window back */
        uint32_t bit = b * MM_L15_LINK_BITS;
        put_width(hdr + MM_L15_OFF_LINKS + bit / 8, old, mm__l15_window_bytes(bit % 8));
    }
    return err;
}

/* ------------------------------------------------------------------------
 * Opening: format, load, upgrade
 * ---------------------------------------------------------------------- */

static struct mm_l15 *attach(mm *m, const struct mm_l15_index *ix, bool mirror) {
    struct mm_l15 *h = calloc(1, ix->state_bytes);
    uint8_t *hdr = mirror ? calloc(1, MM_L15_HEADER_BYTES) : NULL;
    if (!h || (mirror && !hdr)) {
        free(h);
        free(hdr);
        mm__fail(MM_ENOMEM, "cannot allocate %zu bytes of link15 state",
                 ix->state_bytes + (mirror ? MM_L15_HEADER_BYTES : 0));
        return NULL;
    }
    h->ix = ix;
    h->hdr = hdr;
    m->ds = h;
    m->data_page = 1;
    m->header_bytes = MM_L15_HEADER_BYTES;
    return h;
}

/* After a format or an upgrade has built and written the header: a RAM
 * memory's page 0 is the header from now on. */
static int drop_mirror_on_ram(mm *m, int err) {
    struct mm_l15 *h = state(m);
    if (!err && m->ram) {
        free(h->hdr);
        h->hdr = NULL;
    }
    return err;
}

/* Every carved bucket free, then the buckets of every table in use. */
static void index_tables(mm *m, struct mm_l15 *h) {
    mark_carved_free(h, (uint32_t)m->nbuckets);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        for (uint32_t k = 0; k < m->tables[i].len; k++) mark_in_use(h, m->tables[i].ids[k]);
}

static void rebuilt(mm *m, struct mm_l15 *h) {
    if (h->ix->rebuild) h->ix->rebuild(m);
}

int mm__l15_format(mm *m, const struct mm_l15_index *ix) {
    struct mm_l15 *h = attach(m, ix, true); /* the header is built there */
    if (!h) return MM_ENOMEM;
    memcpy(h->hdr + MM_OFF_MAGIC, MM_MAGIC, 3);
    h->hdr[MM_OFF_VERSION] = MM_L15_VERSION;
    mm_put_u16(h->hdr + MM_V1_OFF_BUCKET_PAGES, (uint16_t)m->bucket_pages);
    index_tables(m, h);
    rebuilt(m, h);
    int err = mm__ensure_pages(m, 1);
    if (!err) err = mm__hwrite(m, 0, h->hdr, MM_L15_HEADER_BYTES);
    return drop_mirror_on_ram(m, err);
}

/* Links at and past count were never written, so they are zero: the first
 * byte of them that is not, or MM_L15_HEADER_BYTES. */
static uint32_t nonzero_link_past(const uint8_t *hdr, uint32_t count) {
    uint32_t bit = count * MM_L15_LINK_BITS, at = MM_L15_OFF_LINKS + bit / 8;
    if (at == MM_L15_HEADER_BYTES) return at;
    if (hdr[at] & (0xFFu << (bit % 8))) return at;
    at++;
    if (mm_all_bytes(hdr + at, MM_L15_HEADER_BYTES - at, 0)) return MM_L15_HEADER_BYTES;
    while (!hdr[at]) at++;
    return at;
}

/* The fixed fields of a header image against themselves and the linear
 * memory; err is MM_ECORRUPT for load and MM_ECHECK for check. */
static int check_fixed(mm *m, const uint8_t *hdr, int err) {
    uint32_t count = mm_get_u16(hdr + MM_V1_OFF_COUNT);
    uint32_t pages = mm_get_u16(hdr + MM_V1_OFF_BUCKET_PAGES);
    if (pages == 0) return mm__fail(err, "link15 header: bucket size is 0 pages");
    if (count > MM_L15_MAX_BUCKETS)
        return mm__fail(err, "link15 header: %u buckets carved, over the maximum of %u", count,
                        MM_L15_MAX_BUCKETS);
    uint64_t need = 1 + (uint64_t)count * pages;
    if (mm_memory_size(m->mem) < need)
        return mm__fail(err, "link15 header: %u buckets of %u pages need %llu pages, but the "
                        "linear memory holds %llu", count, pages, (unsigned long long)need,
                        (unsigned long long)mm_memory_size(m->mem));
    uint32_t at = nonzero_link_past(hdr, count);
    if (at < MM_L15_HEADER_BYTES)
        return mm__fail(err, "link15 header: byte %u (in the link of bucket %u) is %02x, but "
                        "no bucket from %u on was ever linked", at,
                        (at - MM_L15_OFF_LINKS) * 8 / MM_L15_LINK_BITS, hdr[at], count);
    return MM_OK;
}

/* The chains' buckets into the tables and the free map, checking every
 * bucket: the one that is past the count or already in a chain is named
 * in the message. index_chains' fallback, so only a damaged header (or a
 * failed allocation) comes here. */
static int index_chains_precisely(mm *m, struct mm_l15 *h, const uint8_t *hdr, uint32_t count,
                                  const uint32_t *lens) {
    /* Every carved bucket free; each chain's buckets taken out as it is
     * walked. A bucket that is not free then is past the count or already
     * in a chain. A first[] entry can be up to 65,535, past free_map's
     * bits: the count is tested before the map. */
    mark_carved_free(h, count);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint32_t len = lens[i], *out = m->tables[i].ids;
        uint32_t b = mm_get_u16(hdr + MM_L15_OFF_FIRST + 2 * i);
        for (uint32_t k = 0; k < len; k++) {
            if (b >= count || !mm__l15_is_free(h, b))
                return mm__fail(MM_ECORRUPT, "link15 header: bucket #%llu of memory %u is "
                                "bucket %u, which is %s", (unsigned long long)k, i, b,
                                b >= count ? "not carved" : "already in a chain");
            mark_in_use(h, b);
            out[k] = b;
            b = mm__l15_next(hdr, b);
        }
        m->tables[i].len = len;
    }
    return MM_OK;
}

/* A walked bucket's entry in index_chains' next[]: no bucket's id, as
 * links are 15 bits, and past any count. */
enum { WALKED = 0xFFFF };

/* The bucket after b from the bits of a word that start with b's link:
 * the low 15 bits of the sum depend only on the link's, so the bits above
 * it need no mask before the add. */
static inline uint16_t next_of(uint32_t b, uint64_t link_and_above) {
    return (uint16_t)((b + 1 + (uint32_t)link_and_above) & MM_L15_LINK_MASK);
}

/* The bucket after b, for each b in [0, n) (n a multiple of 8), decoded in
 * one pass over the link table: eight links are 15 bytes, read as two
 * 8-byte words that hold them at constant shifts (written out: GCC does
 * not unroll a loop over the eight). Reads up to byte 15 * n / 8 of the
 * links, inside the header for n <= 32,768. */
static void decode_next(const uint8_t *links, uint32_t n, uint16_t *next) {
    for (uint32_t b = 0; b < n; b += 8, links += 15) {
        uint64_t lo = mm_get_u64(links), hi = mm_get_u64(links + 7); /* bits 0.., 56.. */
        next[b + 0] = next_of(b + 0, lo);
        next[b + 1] = next_of(b + 1, lo >> 15);
        next[b + 2] = next_of(b + 2, lo >> 30);
        next[b + 3] = next_of(b + 3, lo >> 45);
        next[b + 4] = next_of(b + 4, hi >> 4);
        next[b + 5] = next_of(b + 5, hi >> 19);
        next[b + 6] = next_of(b + 6, hi >> 34);
        next[b + 7] = next_of(b + 7, hi >> 49);
    }
}

/* next[0..3] as the four 16-bit lanes of one word, low lane first: one load. */
static inline uint64_t lanes4(const uint16_t *next) {
    return next[0] | (uint64_t)next[1] << 16 | (uint64_t)next[2] << 32 | (uint64_t)next[3] << 48;
}

/* Bit j set for each of next[0..15] that was walked. Only WALKED has a
 * lane's high bit set; the four high bits of next[4d..4d+3] are moved to
 * bits 16j + 4d of one word (j = 0..3), and one multiply by
 * 2^48 + 2^33 + 2^18 + 2^3 moves bit 16j + 4d on to bit 48 + 4d + j. Its
 * 64 partial products all land on different bits, none of the others in
 * 48..63, so nothing carries into the result. */
static inline uint64_t walked16(const uint16_t *next) {
    const uint64_t lane_bit0 = 0x0001000100010001ull;
    uint64_t high = (lanes4(next) >> 15 & lane_bit0) | (lanes4(next + 4) >> 11 & lane_bit0 << 4) |
                    (lanes4(next + 8) >> 7 & lane_bit0 << 8) |
                    (lanes4(next + 12) >> 3 & lane_bit0 << 12);
    return high * 0x0001000200040008ull >> 48;
}

/* The chains' buckets into the tables and the free map, the common case
 * fast: the links decoded in one pass, each walked bucket's next[] entry
 * overwritten with WALKED, and the free map built afterwards from next[],
 * a word at a time, instead of a bit test-and-clear per bucket. The one
 * test per bucket, b < count, also catches a bucket walked twice, one step
 * later: the bucket read after it is WALKED. A chain's last bucket has no
 * step after it, so its test is one per chain. False on a damaged header,
 * or if next[] cannot be allocated: index_chains_precisely then walks
 * again, and names what is wrong. */
static bool index_chains(mm *m, struct mm_l15 *h, const uint8_t *hdr, uint32_t count,
                         const uint32_t *lens) {
    uint32_t words = (count + 63) / 64; /* of free_map; attach zeroed the rest */
    /* + 1: malloc(0) may be NULL. Freed before the load returns, so the
     * heap holds no more after it than before. */
    uint16_t *next = malloc((size_t)words * 64 * sizeof *next + 1);
    if (!next) return false;
    decode_next(hdr + MM_L15_OFF_LINKS, words * 64, next);
    bool ok = true;
    for (unsigned i = 0; i < MM_MAX_MEMORIES && ok; i++) {
        uint32_t len = lens[i], *out = m->tables[i].ids;
        uint32_t b = mm_get_u16(hdr + MM_L15_OFF_FIRST + 2 * i);
        for (uint32_t k = 0; k < len; k++) {
            if (mm_unlikely(b >= count)) {
                ok = false;
                break;
            }
            out[k] = b;
            uint32_t after = next[b];
            next[b] = WALKED;
            b = after;
        }
        if (len && b == WALKED) ok = false; /* its last bucket was walked before */
        if (ok) m->tables[i].len = len;
    }
    for (uint32_t w = 0; w < words && ok; w++) {
        const uint16_t *at = next + 64 * w;
        h->free_map[w] = ~(walked16(at) | walked16(at + 16) << 16 | walked16(at + 32) << 32 |
                           walked16(at + 48) << 48);
    }
    if (ok && count % 64) h->free_map[count / 64] &= (1ull << (count % 64)) - 1;
    free(next);
    return ok;
}

int mm__l15_load(mm *m, const struct mm_l15_index *ix) {
    struct mm_l15 *h = attach(m, ix, !m->ram);
    if (!h) return MM_ENOMEM;
    /* A RAM memory's page 0 is read where it is (hdr_of). */
    const uint8_t *hdr = hdr_of(m);
    int err = m->ram ? MM_OK : mm__hread(m, 0, h->hdr, MM_L15_HEADER_BYTES);
    if (!err) err = check_fixed(m, hdr, MM_ECORRUPT);
    if (err) return err;
    uint32_t count = mm_get_u16(hdr + MM_V1_OFF_COUNT);
    mm__set_bucket_pages(m, mm_get_u16(hdr + MM_V1_OFF_BUCKET_PAGES));
    /* Sizes first: their buckets must fit in count before any table is
     * sized from them. */
    uint64_t owned = 0;
    uint32_t lens[MM_MAX_MEMORIES];
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        m->sizes[i] = mm_get_u64(hdr + MM_V1_OFF_SIZES + 8 * i);
        uint64_t len = mm__buckets_for(m, m->sizes[i]);
        if (len > count - owned) /* not owned + len > count: that could wrap */
            return mm__fail(MM_ECORRUPT, "link15 header: memory %u has %llu pages, which need "
                            "%llu buckets; memories 0..%u need more than the %u carved", i,
                            (unsigned long long)m->sizes[i], (unsigned long long)len, i, count);
        owned += len;
        lens[i] = (uint32_t)len;
    }
    if ((err = mm__tables_carve(m, lens, 0))) return err;
    if (!index_chains(m, h, hdr, count, lens)) {
        err = index_chains_precisely(m, h, hdr, count, lens);
        if (err) return err;
    }
    m->nbuckets = count;
    m->nfree = count - owned;
    rebuilt(m, h);
    return MM_OK;
}

int mm__l15_upgrade_v1(mm *m, const struct mm_v1_image *v1, const struct mm_l15_index *ix) {
    struct mm_l15 *h = attach(m, ix, true); /* the header is built there */
    if (!h) return MM_ENOMEM;
    int err = mm__v1_adopt(m, v1);
    if (err) return err;
    /* V1's fixed fields stay byte for byte, reserved bytes included. */
    memcpy(h->hdr, v1->fixed, sizeof v1->fixed);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        mm_put_u64(h->hdr + MM_V1_OFF_SIZES + 8 * i, v1->sizes[i]);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        const mm_table *t = &m->tables[i];
        if (!t->len) continue;
        mm_put_u16(h->hdr + MM_L15_OFF_FIRST + 2 * i, (uint16_t)t->ids[0]);
        for (uint32_t k = 1; k < t->len; k++) mm__l15_set_next(h->hdr, t->ids[k - 1], t->ids[k]);
    }
    index_tables(m, h);
    rebuilt(m, h);
    h->hdr[MM_OFF_VERSION] = MM_L15_VERSION;
    err = mm__upgrade_begin(m, mm__bucket_page(m, m->nbuckets), MM_L15_UPGRADING);
    if (!err)
        err = mm__hwrite(m, MM_L15_OFF_FIRST, h->hdr + MM_L15_OFF_FIRST,
                         MM_L15_HEADER_BYTES - MM_L15_OFF_FIRST);
    return drop_mirror_on_ram(m, err ? err : mm__upgrade_end(m, MM_L15_VERSION));
}

void mm__l15_destroy(mm *m) {
    struct mm_l15 *h = m->ds;
    if (h) free(h->hdr);
    free(h);
}


uint64_t mm__l15_heap_bytes(const mm *m) {
    const struct mm_l15 *h = m->ds;
    return h ? h->ix->state_bytes + (h->hdr ? MM_L15_HEADER_BYTES : 0) : 0;
}

/* ------------------------------------------------------------------------
 * Grow and free
 * ---------------------------------------------------------------------- */

/* Writes what grow() took: links, count, size, in that order (the size is
 * the commit; see the crash notes above). m->nbuckets follows count as
 * soon as its write lands. */
static int persist_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew,
                        uint64_t new_count) {
    const mm_table *t = &m->tables[id];
    const uint32_t *ids = t->ids + t->len - nnew;
    int err = mm__ensure_pages(m, mm__bucket_page(m, new_count));
    if (!err && nnew)
        err = t->len > nnew ? put_link(m, ids[-1], ids[0]) : put_first(m, id, ids[0]);
    for (uint64_t k = 1; !err && k < nnew; k++) err = put_link(m, ids[k - 1], ids[k]);
    if (!err && new_count != m->nbuckets) {
        err = put_le(m, MM_V1_OFF_COUNT, m->nbuckets, new_count, 2, false);
        if (!err) {
            m->nfree += new_count - m->nbuckets; /* carved; the caller takes its own */
            m->nbuckets = new_count;
        }
    }
    return err ? err : put_size(m, id, new_size);
}

int mm__l15_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    struct mm_l15 *h = state(m);
    h->tail = 0; /* the chains and links it may change are not followed */
    uint64_t left = m->nfree + (MM_L15_MAX_BUCKETS - m->nbuckets);
    if (nnew > left)
        return mm__fail(MM_EFULL, "memory %u needs %llu more buckets; %llu of the %u a link15 "
                        "layout addresses are free or not carved", id, (unsigned long long)nnew,
                        (unsigned long long)left, MM_L15_MAX_BUCKETS);
    mm_table *t = &m->tables[id];
    uint64_t new_count = m->nbuckets;
    if (nnew == 1) { /* most grows: the loop below without its bookkeeping */
        uint32_t b = m->nfree || !h->ix->trusts_nfree ? h->ix->take(m, 0) : MM_L15_MAX_BUCKETS;
        if (b == MM_L15_MAX_BUCKETS) b = (uint32_t)new_count++;
        mm__table_push(t, b);
    } else {
        for (uint32_t k = 0, from = 0; k < nnew; k++) {
            /* The lowest free bucket, else the lowest fresh one. */
            uint32_t b = h->ix->take(m, from);
            if (b == MM_L15_MAX_BUCKETS) b = from > new_count ? from : (uint32_t)new_count;
            mm__table_push(t, b);
            if (b >= new_count) new_count = b + 1;
            from = b + 1;
        }
    }
    int err = persist_grow(m, id, new_size, nnew, new_count);
    if (err) { /* what is carved now (the count may have landed) is free */
        for (uint64_t k = 0; k < nnew; k++) {
            uint32_t b = t->ids[--t->len];
            if (b < m->nbuckets) h->ix->give(m, &b, 1);
        }
        return err;
    }
    m->nfree -= nnew; /* persist_grow counted the newly carved ones free */
    m->sizes[id] = new_size;
    return MM_OK;
}

/* Sets the size of memory id of a RAM memory: its commit, a store. */
static mm_always_inline void size_in_ram(mm *m, unsigned id, uint64_t new_size) {
    ram_put_le(m, MM_V1_OFF_SIZES + 8u * id, m->sizes[id] ^ new_size, new_size, 8);
    m->sizes[id] = new_size;
}

/* Takes bucket b for memory id of a RAM memory and sets its size:
 * mm__l15_grow's writes as stores into page 0, which cannot fail, so
 * without its undo, and counted as its writes are. fresh: b is bucket
 * count, whose pages are ready; else a free one the index took. Inlined
 * into each fast path: the call it replaces cost more than its body
 * (callgrind, grow_pages). */
static mm_always_inline int grow_in_ram(mm *m, unsigned id, uint64_t old_size,
                                        uint64_t new_size, uint64_t count, uint32_t b,
                                        bool fresh) {
    mm_table *t = &m->tables[id];
    uint32_t len = t->len;
    /* The count's write and the size's, as one addition to each counter:
     * the count steps by one, so it writes its low byte, and its high one
     * too on a carry into it. */
    uint64_t bytes = changed_bytes(old_size ^ new_size), writes = 1;
    if (fresh) {
        bytes += 1 + !(uint8_t)(count + 1);
        writes++;
        m->nbuckets = count + 1;
    } else {
        m->nfree--;
    }
    m->hbytes_written += bytes;
    m->hwrites += writes;
    m->sizes[id] = new_size;
    mm__table_push(t, b);
    /* Page 0 after the heap: stores through it may alias the heap. */
    uint8_t *hdr = m->ram;
    if (fresh) mm_put_u16(hdr + MM_V1_OFF_COUNT, (uint16_t)(count + 1));
    mm_put_u64(hdr + MM_V1_OFF_SIZES + 8u * id, new_size);
    /* A fresh bucket right after the chain's last one, whose link is zero
     * (h->tail), takes no link write: the link stays zero. Tested after
     * the stores, and h loaded again, so that no register holds them
     * through the rest: with them held, GCC saved two more registers, 4
     * instructions per grow. */
    struct mm_l15 *h = state(m);
    if (fresh && h->tail == id + 1) return MM_OK;
    h->tail = fresh ? id + 1 : 0;
    if (!len) return put_first(m, id, b);
    link_in_ram(m, m->tables[id].ids[len - 1], b);
    return MM_OK;
}

/* grow_in_ram into bucket count, a fresh one, when its pages are ready
 * (and then the bucket is within the layout's); else mm__l15_grow, through
 * the manager's default entry. */
static mm_always_inline int grow_fresh(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages,
                                       uint64_t new_size) {
    uint64_t count = m->nbuckets;
    if (!mm__pages_ready(m, mm__bucket_page(m, count + 1)))
        return mm__grow_common(m, id, pages, old_pages);
    if (old_pages) *old_pages = new_size - pages;
    return grow_in_ram(m, id, new_size - pages, new_size, count, (uint32_t)count, true);
}

/* grow_in_ram into the bucket the index hands out: the lowest free one, or
 * none (bitmap15 scans whether or not a bucket is free), and then a fresh
 * one when its pages are ready. */
static mm_noinline int grow_taking(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages,
                                   uint64_t new_size) {
    uint32_t b = state(m)->ix->take(m, 0);
    if (b == MM_L15_MAX_BUCKETS) return grow_fresh(m, id, pages, old_pages, new_size);
    if (old_pages) *old_pages = new_size - pages;
    return grow_in_ram(m, id, new_size - pages, new_size, m->nbuckets, b, false);
}

/* mm_grow for the link15 designs over a RAM memory (mm_open gives this
 * entry no other): a grow into at most one bucket, the lowest free one or
 * else bucket count, makes the writes of mm__l15_grow as stores into page
 * 0; the counts are those of the general path's writes. Anything else,
 * and a bucket past the ready pages, takes mm__l15_grow or the general
 * path. trusting: the design's index trusts m->nfree (hbitmap15), so that
 * with none free the bucket is count without asking it; a constant, as
 * each design has its own entry. */
static mm_always_inline int grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages,
                                      bool trusting) {
    uint64_t new_size, nnew;
    if (mm_unlikely(!mm__grow_args(m, id, pages, &new_size, &nnew)))
        return mm__grow_general(m, id, pages, old_pages);
    if (!nnew) {
        if (old_pages) *old_pages = new_size - pages;
        size_in_ram(m, id, new_size);
        return MM_OK;
    }
    if (!trusting || m->nfree) return grow_taking(m, id, pages, old_pages, new_size);
    return grow_fresh(m, id, pages, old_pages, new_size);
}

int mm__l15_grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    return grow_fast(m, id, pages, old_pages, false);
}

int mm__l15_grow_fast_trusting(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    return grow_fast(m, id, pages, old_pages, true);
}

int mm__l15_free(mm *m, unsigned id) {
    struct mm_l15 *h = state(m);
    if (h->tail == id + 1) h->tail = 0; /* its chain goes; the others stay as they are */
    int err = put_size(m, id, 0);
    if (err) return err;
    const mm_table *t = &m->tables[id];
    h->ix->give(m, t->ids, t->len);
    m->nfree += t->len;
    return MM_OK;
}

/* ------------------------------------------------------------------------
 * check
 * ---------------------------------------------------------------------- */

/* The heap state against the header (the mirror, which check() has
 * compared with the memory, or a RAM memory's page 0): fixed fields, every
 * chain, and the free bits. */
static int check_mirror(mm *m, const struct mm_l15 *h) {
    const uint8_t *hdr = hdr_of(m);
    int err = check_fixed(m, hdr, MM_ECHECK);
    if (err) return err;
    if (memcmp(hdr, MM_MAGIC, 3) != 0 || hdr[MM_OFF_VERSION] != MM_L15_VERSION)
        return mm__fail(MM_ECHECK, "the header lost its magic or version %u", MM_L15_VERSION);
    uint32_t count = mm_get_u16(hdr + MM_V1_OFF_COUNT);
    uint32_t pages = mm_get_u16(hdr + MM_V1_OFF_BUCKET_PAGES);
    if (count != m->nbuckets || pages != m->bucket_pages)
        return mm__fail(MM_ECHECK, "the header says %u buckets of %u pages, the heap %llu of %u",
                        count, pages, (unsigned long long)m->nbuckets, m->bucket_pages);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        const mm_table *t = &m->tables[i];
        uint64_t size = mm_get_u64(hdr + MM_V1_OFF_SIZES + 8 * i);
        if (size != m->sizes[i])
            return mm__fail(MM_ECHECK, "memory %u: the header says %llu pages, the heap %llu",
                            i, (unsigned long long)size, (unsigned long long)m->sizes[i]);
        uint32_t b = mm_get_u16(hdr + MM_L15_OFF_FIRST + 2 * i);
        for (uint32_t k = 0; k < t->len; k++, b = mm__l15_next(hdr, b)) {
            if (b != t->ids[k])
                return mm__fail(MM_ECHECK, "memory %u: bucket #%u is %u in the header chain, "
                                "%u in the table", i, k, b, t->ids[k]);
            if (mm__l15_is_free(h, b))
                return mm__fail(MM_ECHECK, "memory %u owns bucket %u, which the index marks "
                                "free", i, b);
        }
    }
    if (h->tail) { /* what it claims: the chain ends at count - 1, with a zero link */
        const mm_table *t = &m->tables[h->tail - 1];
        if (!t->len || t->ids[t->len - 1] != count - 1 ||
            mm__l15_next(hdr, count - 1) != count % MM_L15_MAX_BUCKETS)
            return mm__fail(MM_ECHECK, "memory %u's chain does not end at bucket %u with a "
                            "zero link, as the grow's shortcut assumes", h->tail - 1, count - 1);
    }
    /* Table buckets are in use (above) and distinct (mm__check_tables);
     * with nfree free bits, all below count, every other carved bucket is
     * in use. */
    uint64_t nfree = 0;
    for (uint32_t w = 0; w < MM_L15_WORDS; w++) {
        uint64_t carved = 0;
        if (64 * w + 64 <= count)
            carved = ~0ull;
        else if (64 * w < count)
            carved = (1ull << (count % 64)) - 1;
        if (h->free_map[w] & ~carved)
            return mm__fail(MM_ECHECK, "bucket %u is marked free, but only %u are carved",
                            64 * w + mm_ctz64(h->free_map[w] & ~carved), count);
        nfree += mm_popcount64(h->free_map[w]);
    }
    if (nfree != m->nfree)
        return mm__fail(MM_ECHECK, "the index marks %llu buckets free, the heap counts %llu",
                        (unsigned long long)nfree, (unsigned long long)m->nfree);
    return h->ix->check ? h->ix->check(m) : MM_OK;
}

int mm__l15_check(mm *m) {
    struct mm_l15 *h = state(m);
    /* In chunks on the stack: check runs after every op in tests, and a
     * 64 KiB malloc each time costs more than the compare. A RAM memory has
     * no mirror to compare: page 0 is the header's one copy. */
    uint8_t disk[4096];
    for (uint32_t off = 0; !m->ram && off < MM_L15_HEADER_BYTES; off += sizeof disk) {
        uint32_t len = MM_L15_HEADER_BYTES - off < sizeof disk ? MM_L15_HEADER_BYTES - off
                                                                : (uint32_t)sizeof disk;
        int err = mm__hread(m, off, disk, len);
        if (err) return err;
        if (memcmp(disk, h->hdr + off, len) != 0) {
            uint32_t at = 0;
            while (disk[at] == h->hdr[off + at]) at++;
            return mm__fail(MM_ECHECK, "header byte %u is %02x in the memory, %02x in the "
                            "heap mirror", off + at, disk[at], h->hdr[off + at]);
        }
    }
    return check_mirror(m, h);
}
