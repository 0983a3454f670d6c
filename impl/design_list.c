/*
 * list: buckets chained in persisted singly linked lists, one per memory
 * and one of free buckets. Bucket ids are u32, so the design addresses up to
 * 2^32 - 2 buckets; the link table grows with the buckets carved: the first
 * 15,092 links live in page 0, the rest in metadata buckets taken from the
 * same pool as data buckets. Data buckets stay where V1 puts them (bucket b
 * at page 1 + b*N), so a V1 memory upgrades in place, keeping every byte.
 *
 * Page 0 (all integers little-endian; NONE = 0xFFFFFFFF):
 *   offset  size        field
 *   0       3           magic "MGR"
 *   3       1           layout version 3 (0x83 while a V1 upgrade runs)
 *   4       2           reserved, zero (V1's bucket count)
 *   6       2           bucket size N in pages, u16 (as V1)
 *   8       4           nbuckets: buckets carved, u32
 *   12      4           nmeta: metadata buckets, u32
 *   16      4           meta_head: first metadata bucket, or NONE
 *   20      4           meta_tail: last metadata bucket, or NONE
 *   24      4           free_count, u32
 *   28      4           free_head, or NONE
 *   32      4           free_tail, or NONE
 *   36      20          last record: memory (last - 1)'s record, as below
 *   56      1           last: 1 + the memory whose record the last commit
 *                       wrote at 36; 0: none
 *   57      7           reserved, zero
 *   64      255 x 20    memory i: size u64 (pages), count u32, head u32, tail u32;
 *                       for i = last - 1 the record at 36 holds instead
 *   5164    4           reserved, zero
 *   5168    15,092 x 4  link of bucket b, for b < 15,092
 *
 * Metadata bucket k (k = 0 .. nmeta-1, chained from meta_head):
 *   0       4           next metadata bucket (read only for k < nmeta - 1)
 *   4       4           k, so that a misplaced chain is caught
 *   8       P x 4       link of bucket 15,092 + k*P + s, s < P,
 *                       P = (N * 65,536 - 8) / 4 (16,382 for N = 1)
 *
 * A list is its `count` nodes from `head`: node j+1 = link[node j], and the
 * last node is `tail`. The link of a tail is never read, so a grow or a free
 * may write it before the list's own record says the list is longer.
 *
 * Invariants:
 *   count(i) == ceil(size(i) / N)                              each memory i
 *   sum(count(i)) + free_count + nmeta == nbuckets
 *   every bucket < nbuckets is a node of exactly one list (memory, free or
 *   metadata chain), so no list has a cycle
 *   15,092 + nmeta * P >= nbuckets (every carved bucket has a link slot)
 *   linear memory pages >= 1 + nbuckets * N
 *   the heap holds what page 0's fields (its reserved bytes aside), the
 *   metadata chain and link[b] for b < nbuckets say, and the slot's
 *   record as memory (last - 1)'s size and table encode it
 *   the records in their own places are current, but memory (last - 1)'s,
 *   which the record at 36 holds
 *
 * Cost of each operation (r = buckets a grow adds, k = buckets freed):
 *   grow   O(r) heap and bytes. Free buckets go first (popped from the free
 *          head, already chained); carved buckets are chained in one write of
 *          their links per link region. Writes: link of the old tail (4 B),
 *          then the commit: the global block, the memory's record and last
 *          (48 B, or 20 B for a grow inside a bucket; 1 B more when last
 *          changes, after the 20 B of the previous memory's record to its
 *          own place); a carving grow also writes 4 B per carved bucket and
 *          8 B per new metadata bucket, one per 16,382+ carved buckets.
 *   free   O(1) persisted writes: the whole chain is spliced onto the free
 *          tail (4 B), then the commit (48 B, as a grow's). The manager's
 *          discard of the freed buckets is the O(k) part.
 *   open   O(nbuckets): page 0's fields (in place on a RAM memory), one read
 *          of the metadata header per metadata bucket, one bulk copy of
 *          links per region into the heap, then one walk of every list into
 *          the tables (carved at once), a few instructions per bucket: it
 *          marks the lists' ends only (walk_all_fast). What it refuses is
 *          walked again by the walk of check, which says what breaks.
 *   upgrade from V1: O(32,768 + 255): one pass over V1's owner bytes. Writes:
 *          the journal (V1's header, 34,856 B), byte 3, 8 B per metadata
 *          bucket (none up to 15,092 buckets), the links of buckets past
 *          15,092, page 0's 5,168 bytes of fields, the links in page 0 (4 B
 *          per bucket), byte 3 again.
 *
 * Fuzz builds only (-DMMFREE_FUZZ_SMALL_PAGE0, tests/fuzz/README.md): page
 * 0 holds the links of buckets 0..7 only (bytes 5200..65535 are reserved)
 * and P = 4 for every bucket size, so that the fuzzers' few dozen buckets
 * fill a chain of several metadata buckets. No other build defines it: a
 * memory written under it is not a list memory of a normal build.
 *
 * What a crash leaves. A grow or a free changes two places, the global
 * block and the memory's record, and commits both with one write: the
 * commit slot at bytes 8..56 holds the global block, the record of the
 * memory the last commit changed and `last`, which names that memory; open
 * reads that memory's record from the slot, every other one from its own
 * place. When a commit names another memory than the slot did, the slot's
 * record is first written to its own place (the same bytes open reads
 * until the commit lands).
 *   grow   writes new metadata headers, new links, the old tail's link (all
 *          unread: links of tails, of buckets past nbuckets, metadata past
 *          nmeta), then the commit. A crash before it reopens to the state
 *          before the grow; the buckets it carved lie past the end and are
 *          zeroed before they are carved again.
 *   free   writes the free tail's link (unread), then the commit.
 * In durable mode a barrier precedes the commit. The upgrade writes a
 * journal first (layout_v1.c): (1) V1's header to a page past the last
 * bucket, grown for it and for new metadata buckets at once (a refusal
 * leaves the V1 memory untouched); (2) byte 3 = 0x83, which commits the
 * journal; (3) the metadata buckets, page 0's fields and links over V1's;
 * (4) byte 3 = 3, which commits the upgrade. A crash before (2) leaves V1;
 * from (2) to (4) list completes the upgrade on the next open and v1 or
 * v1reclaim roll it back; the other designs refuse it (MM_EINTERRUPTED).
 */
#include "mm_internal.h"

#include <stdio.h>
#include <stdlib.h>

enum {
    LIST_VERSION = 3,
    LIST_UPGRADING = 0x80 | LIST_VERSION,
    OFF_RESERVED = 4,
    OFF_BUCKET_PAGES = 6,
    OFF_GLOBALS = 8, /* the global block; its fields, from OFF_GLOBALS: */
    G_NBUCKETS = 0,
    G_NMETA = 4,
    G_META_HEAD = 8,
    G_META_TAIL = 12,
    G_FREE_COUNT = 16,
    G_FREE_HEAD = 20,
    G_FREE_TAIL = 24,
    GLOBALS_BYTES = 28,
    /* The commit slot: the global block, the last record and last, written
     * as one span (see "What a crash leaves"). */
    OFF_LAST_MEM = 36,
    OFF_LAST = 56,
    SLOT_BYTES = OFF_LAST + 1 - OFF_GLOBALS,
    OFF_MEMS = 64,
    MEM_BYTES = 20,
    MEM_OFF_SIZE = 0,
    MEM_OFF_COUNT = 8,
    MEM_OFF_HEAD = 12,
    MEM_OFF_TAIL = 16,
    OFF_LINKS = 5168,
#ifndef MMFREE_FUZZ_SMALL_PAGE0
    PAGE0_LINKS = (MM_PAGE_SIZE - OFF_LINKS) / 4,
#else
    /* Fuzz builds: the fuzzers carve at most a few dozen buckets, so with
     * 15,092 links in page 0 they would never reach the metadata chain. */
    PAGE0_LINKS = 8,
    FUZZ_META_LINKS = 4, /* P: links per metadata bucket */
#endif
    META_OFF_NEXT = 0,
    META_OFF_SEQ = 4,
    META_HDR = 8,
};
#define NONE UINT32_MAX
#define LIST_MAX_BUCKETS (UINT32_MAX - 1ull)

static_assert(G_FREE_TAIL + 4 == GLOBALS_BYTES, "the global block is seven u32");
static_assert(OFF_GLOBALS + GLOBALS_BYTES == OFF_LAST_MEM, "the last record follows the globals");
static_assert(OFF_LAST_MEM + MEM_BYTES == OFF_LAST && OFF_LAST < OFF_MEMS, "then last");
static_assert(OFF_MEMS + MEM_BYTES * MM_MAX_MEMORIES <= OFF_LINKS, "records end before links");
#ifndef MMFREE_FUZZ_SMALL_PAGE0
static_assert(OFF_LINKS % 4 == 0 && PAGE0_LINKS == 15092, "page 0 holds 15,092 links");
static_assert(OFF_LINKS + 4 * PAGE0_LINKS == MM_PAGE_SIZE, "links fill page 0");
#else
static_assert(OFF_LINKS % 4 == 0 && OFF_LINKS + 4 * PAGE0_LINKS <= MM_PAGE_SIZE,
              "the fuzz build's links fit in page 0");
static_assert(META_HDR + 4 * FUZZ_META_LINKS <= MM_PAGE_SIZE, "and in a one-page bucket");
#endif

/* The global block, in its persisted order. */
typedef struct list_globals {
    uint32_t nbuckets, nmeta, meta_head, meta_tail, free_count, free_head, free_tail;
} list_globals;

typedef struct list {
    list_globals g;    /* as persisted */
    uint64_t per_meta; /* links per metadata bucket */
    uint32_t *next;    /* link[b] as persisted, b < g.nbuckets */
    uint64_t next_cap;
    uint32_t *meta; /* metadata buckets in chain order, g.nmeta of them */
    uint64_t meta_cap;
    unsigned last; /* as persisted: 1 + the memory whose record is at OFF_LAST_MEM; 0: none */
    /* The commit slot's bytes (from OFF_GLOBALS), encoded in place for each
     * commit: its record is also what goes to its own place when a commit
     * names another memory. */
    uint8_t slot[SLOT_BYTES];
} list;

/* ------------------------------------------------------------------------
 * Encodings
 * ---------------------------------------------------------------------- */

static void put_globals(uint8_t *p, const list_globals *g) {
    mm_put_u32(p + G_NBUCKETS, g->nbuckets);
    mm_put_u32(p + G_NMETA, g->nmeta);
    mm_put_u32(p + G_META_HEAD, g->meta_head);
    mm_put_u32(p + G_META_TAIL, g->meta_tail);
    mm_put_u32(p + G_FREE_COUNT, g->free_count);
    mm_put_u32(p + G_FREE_HEAD, g->free_head);
    mm_put_u32(p + G_FREE_TAIL, g->free_tail);
}

static list_globals get_globals(const uint8_t *p) {
    return (list_globals){.nbuckets = mm_get_u32(p + G_NBUCKETS),
                          .nmeta = mm_get_u32(p + G_NMETA),
                          .meta_head = mm_get_u32(p + G_META_HEAD),
                          .meta_tail = mm_get_u32(p + G_META_TAIL),
                          .free_count = mm_get_u32(p + G_FREE_COUNT),
                          .free_head = mm_get_u32(p + G_FREE_HEAD),
                          .free_tail = mm_get_u32(p + G_FREE_TAIL)};
}

/* The record of memory i, encoded from the manager's size and table. */
static mm_always_inline void put_mem(uint8_t *p, uint64_t size, const mm_table *t) {
    mm_put_u64(p + MEM_OFF_SIZE, size);
    mm_put_u32(p + MEM_OFF_COUNT, t->len);
    mm_put_u32(p + MEM_OFF_HEAD, t->len ? t->ids[0] : NONE);
    mm_put_u32(p + MEM_OFF_TAIL, mm__table_last(t));
}

/* P: the links a metadata bucket of bucket_bytes holds after its header. */
static uint64_t links_per_meta(uint64_t bucket_bytes) {
#ifndef MMFREE_FUZZ_SMALL_PAGE0
    return (bucket_bytes - META_HDR) / 4;
#else
    (void)bucket_bytes;
    return FUZZ_META_LINKS;
#endif
}

static void set_header_bytes(mm *m) {
    m->header_bytes = MM_PAGE_SIZE + m->nmeta * m->bucket_bytes;
}

/* ------------------------------------------------------------------------
 * Link slots: page 0 for the first PAGE0_LINKS buckets, then per_meta in
 * each metadata bucket, in chain order.
 * ---------------------------------------------------------------------- */

static uint64_t link_off(const mm *m, uint64_t per_meta, const uint32_t *meta, uint64_t b) {
    if (b < PAGE0_LINKS) return OFF_LINKS + 4 * b;
    uint64_t r = b - PAGE0_LINKS;
    return mm__bucket_page(m, meta[r / per_meta]) * MM_PAGE_SIZE + META_HDR +
           4 * (r % per_meta);
}

/* The first bucket whose link lies in another region than b's. */
static uint64_t region_end(uint64_t per_meta, uint64_t b) {
    if (b < PAGE0_LINKS) return PAGE0_LINKS;
    return PAGE0_LINKS + ((b - PAGE0_LINKS) / per_meta + 1) * per_meta;
}

static uint64_t link_capacity(const list *ds, uint64_t nmeta) {
    return PAGE0_LINKS + nmeta * ds->per_meta;
}

/* Writes link[first + j] = vals[j] for j < n: one write per region, split
 * only by the encoding buffer. */
static int write_links(mm *m, uint64_t first, uint64_t n, const uint32_t *vals) {
    const list *ds = m->ds;
    uint8_t buf[16384];
    while (n) {
        uint64_t run = region_end(ds->per_meta, first) - first;
        if (run > n) run = n;
        if (run > sizeof buf / 4) run = sizeof buf / 4;
        for (uint64_t j = 0; j < run; j++) mm_put_u32(buf + 4 * j, vals[j]);
        int err = mm__hwrite(m, link_off(m, ds->per_meta, ds->meta, first), buf,
                             (size_t)(4 * run));
        if (err) return err;
        first += run, vals += run, n -= run;
    }
    return MM_OK;
}

/* One link: a write of constant size (one store on a RAM memory), the
 * common case of a grow into one bucket. */
static mm_always_inline int write_link(mm *m, uint32_t b, uint32_t next) {
    const list *ds = m->ds;
    uint8_t v[4];
    mm_put_u32(v, next);
    return mm__hwrite(m, link_off(m, ds->per_meta, ds->meta, b), v, sizeof v);
}

/* Reads link[0 .. n) into out, one read per region, decoded in place. */
static int read_links(mm *m, uint64_t per_meta, const uint32_t *meta, uint64_t n,
                      uint32_t *out) {
    for (uint64_t first = 0; first < n;) {
        uint64_t end = region_end(per_meta, first);
        if (end > n) end = n;
        uint8_t *raw = (uint8_t *)(out + first);
        int err = mm__hread(m, link_off(m, per_meta, meta, first), raw,
                            (size_t)(4 * (end - first)));
        if (err) return err;
        for (uint64_t j = 0; j < end - first; j++) out[first + j] = mm_get_u32(raw + 4 * j);
        first = end;
    }
    return MM_OK;
}

static int write_meta_header(mm *m, uint32_t bucket, uint32_t next, uint32_t seq) {
    uint8_t h[META_HDR];
    mm_put_u32(h + META_OFF_NEXT, next);
    mm_put_u32(h + META_OFF_SEQ, seq);
    return mm__hwrite(m, mm__bucket_page(m, bucket) * MM_PAGE_SIZE, h, sizeof h);
}

/* The commit of a grow or free of memory id: one write of the global block
 * g (when it changed), id's new record (size, table t) at OFF_LAST_MEM and
 * last = id + 1 (when it changes). When the slot held another memory's
 * record, that record is first written to its own place, where open reads
 * it once the slot names id: until the commit lands both say the same.
 * Each of the four spans is a write of constant size (a few stores on a
 * RAM memory), and commit is inlined into grow and free. */
static mm_always_inline int commit(mm *m, unsigned id, uint64_t size, const mm_table *t,
                                   const list_globals *g) {
    list *ds = m->ds;
    bool same = ds->last == id + 1;
    uint8_t *p = ds->slot, *rec = p + (OFF_LAST_MEM - OFF_GLOBALS);
    int err = !same && ds->last ? mm__hwrite(m, OFF_MEMS + (uint64_t)MEM_BYTES * (ds->last - 1),
                                             rec, MEM_BYTES)
                                : MM_OK;
    if (err) return err;
    /* From here the slot's bytes are the new ones: a failed write breaks
     * the handle (MM_EBROKEN), which never writes them again. */
    if (g) put_globals(p, g);
    put_mem(rec, size, t);
    p[OFF_LAST - OFF_GLOBALS] = (uint8_t)(id + 1);
    if (g)
        err = same ? mm__hcommit(m, OFF_GLOBALS, p, SLOT_BYTES - 1)
                   : mm__hcommit(m, OFF_GLOBALS, p, SLOT_BYTES);
    else
        err = same ? mm__hcommit(m, OFF_LAST_MEM, rec, MEM_BYTES)
                   : mm__hcommit(m, OFF_LAST_MEM, rec, MEM_BYTES + 1);
    if (!err) ds->last = id + 1;
    return err;
}

/* Page 0 up to the links, from the heap. */
static int write_fixed(mm *m, uint8_t version) {
    uint8_t *p = calloc(1, OFF_LINKS);
    if (!p) return mm__fail(MM_ENOMEM, "cannot allocate list's page 0");
    const list *ds = m->ds;
    memcpy(p + MM_OFF_MAGIC, MM_MAGIC, 3);
    p[MM_OFF_VERSION] = version;
    mm_put_u16(p + OFF_BUCKET_PAGES, (uint16_t)m->bucket_pages);
    put_globals(p + OFF_GLOBALS, &ds->g);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        put_mem(p + OFF_MEMS + MEM_BYTES * i, m->sizes[i], &m->tables[i]);
    /* A write a page at a time, as the kernel copies a file write (a fatal
     * signal stops it between pages), the first with the magic landing
     * first (a barrier between them in durable mode): the crash harness
     * then meets the point where only the first 4 KiB landed, and nothing
     * can land past them alone (torn_format_record). */
    int err = MM_OK;
    for (uint32_t at = 0, end; !err && at < OFF_LINKS; at = end) {
        end = (at / MM_DIRTY_PAGE_SIZE + 1) * MM_DIRTY_PAGE_SIZE;
        if (end > OFF_LINKS) end = OFF_LINKS;
        err = at ? mm__barrier(m) : MM_OK;
        if (!err) err = mm__hwrite(m, at, p + at, end - at);
    }
    free(p);
    return err;
}

/* ------------------------------------------------------------------------
 * Heap state
 * ---------------------------------------------------------------------- */

static int create(mm *m) {
    list *ds = calloc(1, sizeof *ds);
    if (!ds) return mm__fail(MM_ENOMEM, "cannot allocate list's state");
    ds->g = (list_globals){0, 0, NONE, NONE, 0, NONE, NONE};
    ds->per_meta = links_per_meta(m->bucket_bytes);
    m->data_page = 1;
    m->ds = ds;
    return MM_OK;
}

static void list_destroy(mm *m) {
    list *ds = m->ds;
    if (!ds) return;
    free(ds->next);
    free(ds->meta);
    free(ds);
    m->ds = NULL;
}

static uint64_t list_heap_bytes(const mm *m) {
    const list *ds = m->ds;
    return ds ? sizeof *ds + (ds->next_cap + ds->meta_cap) * sizeof *ds->next : 0;
}

static int reserve(uint32_t **arr, uint64_t *cap, uint64_t need) {
    if (need <= *cap) return MM_OK;
    uint64_t want = *cap * 2 > need ? *cap * 2 : need;
    uint32_t *p = want > SIZE_MAX / sizeof **arr ? NULL : realloc(*arr, (size_t)want * sizeof **arr);
    if (!p) return mm__fail(MM_ENOMEM, "cannot hold %llu bucket ids in the heap",
                            (unsigned long long)need);
    *arr = p;
    *cap = want;
    return MM_OK;
}

static void commit_globals(mm *m, const list_globals *g) {
    list *ds = m->ds;
    ds->g = *g;
    m->nbuckets = g->nbuckets;
    m->nmeta = g->nmeta;
    m->nfree = g->free_count;
    set_header_bytes(m);
}

/* The metadata buckets to add to nmeta so that every bucket has a link
 * slot, when nb buckets are carved before them and `avail` free buckets can
 * hold some of them (the rest are carved too, and need slots themselves). */
static uint64_t meta_needed(const list *ds, uint64_t nmeta, uint64_t nb, uint64_t avail) {
    uint64_t x = 0;
    while (link_capacity(ds, nmeta + x) < nb + (x > avail ? x - avail : 0)) x++;
    return x;
}

/* ------------------------------------------------------------------------
 * Reading and validating the persisted layout (load and check)
 * ---------------------------------------------------------------------- */

typedef struct list_image {
    uint32_t bucket_pages;
    list_globals g;
    uint64_t size[MM_MAX_MEMORIES];
    uint32_t count[MM_MAX_MEMORIES], head[MM_MAX_MEMORIES], tail[MM_MAX_MEMORIES];
    uint32_t *next, *meta;
    uint64_t *seen; /* one bit per bucket while walking */
    unsigned last;  /* the commit slot's: 1 + the memory whose record it holds */
} list_image;

static void image_free(list_image *img) {
    free(img->next);
    free(img->meta);
    free(img->seen);
}

/* An empty list is NONE at both ends (a memory's record past the first
 * 4 KiB may also read 0 at both: torn_format_record). */
static int check_ends(int err, const char *what, uint32_t count, uint32_t head, uint32_t tail) {
    if (count == 0 && (head != NONE || tail != NONE))
        return mm__fail(err, "list: %s is empty but its head is %u and its tail %u", what, head,
                        tail);
    return MM_OK;
}

/* Whether the record at offset off is what a format cut after its first
 * 4 KiB leaves past them: zeros, an empty list whose ends read 0. Such a
 * list is empty all the same (no walk reads its ends, and a grow sets
 * both), so the open goes on. */
static bool torn_format_record(size_t off, uint32_t count, uint32_t head, uint32_t tail) {
    return off + MEM_OFF_HEAD >= MM_DIRTY_PAGE_SIZE && count == 0 && head == 0 && tail == 0;
}

/* Page 0's fields from p (its first OFF_LINKS bytes), validated against
 * each other and the linear memory. */
static int parse_fixed(mm *m, const uint8_t *p, list_image *img, int err) {
    if (memcmp(p + MM_OFF_MAGIC, MM_MAGIC, 3) != 0 || p[MM_OFF_VERSION] != LIST_VERSION)
        return mm__fail(err, "list: byte 3 is %u and the magic %02x %02x %02x, not a list "
                        "layout", p[MM_OFF_VERSION], p[0], p[1], p[2]);
    img->bucket_pages = mm_get_u16(p + OFF_BUCKET_PAGES);
    img->g = get_globals(p + OFF_GLOBALS);
    img->last = p[OFF_LAST];
    const list_globals *g = &img->g;
    uint32_t n = img->bucket_pages;
    if (n == 0) return mm__fail(err, "list: the bucket size is 0 pages");
    if (g->nbuckets > LIST_MAX_BUCKETS)
        return mm__fail(err, "list: %u buckets carved, past the maximum of %llu", g->nbuckets,
                        LIST_MAX_BUCKETS);
    uint64_t need = 1 + (uint64_t)g->nbuckets * n;
    if (mm_memory_size(m->mem) < need)
        return mm__fail(err, "list: %u buckets of %u pages need %llu pages, but the linear "
                        "memory holds %llu", g->nbuckets, n, (unsigned long long)need,
                        (unsigned long long)mm_memory_size(m->mem));
    uint64_t per_meta = links_per_meta((uint64_t)n * MM_PAGE_SIZE);
    if (PAGE0_LINKS + (uint64_t)g->nmeta * per_meta < g->nbuckets)
        return mm__fail(err, "list: %u metadata buckets hold too few links for %u buckets",
                        g->nmeta, g->nbuckets);
    if (check_ends(err, "the metadata chain", g->nmeta, g->meta_head, g->meta_tail) ||
        check_ends(err, "the free list", g->free_count, g->free_head, g->free_tail))
        return err;
    uint64_t total = (uint64_t)g->nmeta + g->free_count;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        const uint8_t *r = i + 1 == img->last ? p + OFF_LAST_MEM : p + OFF_MEMS + MEM_BYTES * i;
        img->size[i] = mm_get_u64(r + MEM_OFF_SIZE);
        img->count[i] = mm_get_u32(r + MEM_OFF_COUNT);
        img->head[i] = mm_get_u32(r + MEM_OFF_HEAD);
        img->tail[i] = mm_get_u32(r + MEM_OFF_TAIL);
        uint64_t want = img->size[i] / n + (img->size[i] % n != 0);
        if (img->size[i] > MM_MAX_PAGES || want != img->count[i])
            return mm__fail(err, "list: memory %u has %llu pages, which need %llu buckets, but "
                            "its list counts %u", i, (unsigned long long)img->size[i],
                            (unsigned long long)want, img->count[i]);
        if (!torn_format_record((size_t)(r - p), img->count[i], img->head[i], img->tail[i]) &&
            check_ends(err, "a memory's list", img->count[i], img->head[i], img->tail[i]))
            return err;
        total += img->count[i];
    }
    if (total != g->nbuckets)
        return mm__fail(err, "list: the lists hold %llu buckets (with %u free and %u metadata), "
                        "but %u are carved", (unsigned long long)total, g->free_count, g->nmeta,
                        g->nbuckets);
    return MM_OK;
}

/* parse_fixed over a copy of page 0's fields (check, and load from a
 * backing that is not in this process). */
static int read_fixed(mm *m, list_image *img, int err) {
    uint8_t *p = malloc(OFF_LINKS);
    if (!p) return mm__fail(MM_ENOMEM, "cannot allocate list's page 0");
    int rc = mm__hread(m, 0, p, OFF_LINKS);
    if (!rc) rc = parse_fixed(m, p, img, err);
    free(p);
    return rc;
}

/* The lists, by number in error details: memory i's is i. */
enum { LIST_FREE = MM_MAX_MEMORIES, LIST_META };

/* A list's name, for an error detail: formatted only when one is given. */
static const char *list_name(char buf[32], unsigned which) {
    if (which == LIST_FREE) return "the free list";
    if (which == LIST_META) return "the metadata chain";
    snprintf(buf, 32, "memory %u's list", which);
    return buf;
}

/* Marks bucket b seen; fails when b is past the carved ones or seen before. */
static int visit(list_image *img, int err, unsigned which, uint32_t b) {
    char name[32];
    if (b >= img->g.nbuckets)
        return mm__fail(err, "list: %s reaches bucket %u, past the %u carved",
                        list_name(name, which), b, img->g.nbuckets);
    if (mm_bit_get(img->seen, b))
        return mm__fail(err, "list: %s reaches bucket %u, which is in a list already",
                        list_name(name, which), b);
    mm_bit_set(img->seen, b);
    return MM_OK;
}

/* The metadata chain (in order, into img->meta), then every link. Needs
 * m's bucket size to equal the stored one. */
static int read_links_of(mm *m, list_image *img, int err) {
    const list_globals *g = &img->g;
    img->seen = calloc(g->nbuckets / 64 + 1, sizeof *img->seen);
    img->meta = malloc(((size_t)g->nmeta + 1) * sizeof *img->meta);
    img->next = malloc(((size_t)g->nbuckets + 1) * sizeof *img->next);
    if (!img->seen || !img->meta || !img->next)
        return mm__fail(MM_ENOMEM, "cannot hold the links of %u buckets", g->nbuckets);
    uint32_t b = g->meta_head;
    for (uint32_t k = 0; k < g->nmeta; k++) {
        int rc = visit(img, err, LIST_META, b);
        if (rc) return rc;
        uint8_t h[META_HDR];
        rc = mm__hread(m, mm__bucket_page(m, b) * MM_PAGE_SIZE, h, sizeof h);
        if (rc) return rc;
        if (mm_get_u32(h + META_OFF_SEQ) != k)
            return mm__fail(err, "list: metadata bucket %u is #%u of the chain but says #%u", b,
                            k, mm_get_u32(h + META_OFF_SEQ));
        img->meta[k] = b;
        if (k + 1 == g->nmeta && b != g->meta_tail)
            return mm__fail(err, "list: the metadata chain ends at bucket %u, its tail says %u",
                            b, g->meta_tail);
        b = mm_get_u32(h + META_OFF_NEXT);
    }
    uint64_t per_meta = links_per_meta(m->bucket_bytes);
    return read_links(m, per_meta, img->meta, g->nbuckets, img->next);
}

/* Walks one list of the image. With a table to fill, pushes its nodes; with
 * a table to compare, each node must be the table's entry. */
static int walk(list_image *img, int err, unsigned which, uint32_t count, uint32_t head,
                uint32_t tail, mm_table *fill, const mm_table *compare) {
    char name[32];
    uint32_t b = head;
    for (uint32_t k = 0; k < count; k++) {
        int rc = visit(img, err, which, b);
        if (rc) return rc;
        if (fill) mm__table_push(fill, b);
        if (compare && compare->ids[k] != b)
            return mm__fail(err, "list: %s has bucket %u at #%u, the heap %u",
                            list_name(name, which), b, k, compare->ids[k]);
        if (k + 1 == count) {
            if (b != tail)
                return mm__fail(err, "list: %s ends at bucket %u after %u nodes, but its tail "
                                "is %u", list_name(name, which), b, count, tail);
        } else {
            b = img->next[b];
        }
    }
    return MM_OK;
}

/* Every memory's list and the free list, after read_links_of: the walk that
 * reports, in the order it meets them, the first bucket past the carved
 * ones, in a list already or out of place. Comparing (check), each list is
 * as long as its table: parse_fixed made count = ceil(size / N) of the
 * stored size and bucket size, list_check found both equal to the heap's,
 * and mm__check_tables made each table that long before check ran. */
static int walk_all(mm *m, list_image *img, int err, bool fill) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        mm_table *t = &m->tables[i];
        if (fill) {
            int rc = mm__table_reserve(m, t, img->count[i]);
            if (rc) return rc;
        }
        int rc = walk(img, err, i, img->count[i], img->head[i], img->tail[i], fill ? t : NULL,
                      fill ? NULL : t);
        if (rc) return rc;
    }
    return walk(img, err, LIST_FREE, img->g.free_count, img->g.free_head, img->g.free_tail,
                NULL, NULL);
}

/* Whether the list of count >= 1 nodes from head ends at tail, every link
 * before its end naming a carved bucket, with its nodes written to out when
 * store (a constant once inlined, so that the free list's walk stores
 * nothing and the others test nothing). The caller has checked that tail
 * is carved, so a list that passes has only carved nodes; each node is
 * checked before its link is read. Two links a step, so that the compiler need not copy the
 * node between registers at every link (GCC 12 does: two instructions of
 * nine). */
static mm_always_inline bool chain_ok(const uint32_t *next, uint32_t nb, uint32_t count,
                                      uint32_t head, uint32_t tail, uint32_t *out, bool store) {
    size_t b = head; /* size_t: an index that needs no widening */
    uint32_t left = count - 1; /* links to follow */
    if (left && b >= nb) return false;
    for (; left >= 2; left -= 2) {
        size_t v = next[b];
        if (v >= nb) return false;
        if (store) out[0] = (uint32_t)b;
        size_t w = next[v];
        if (w >= nb) return false;
        if (store) out[1] = (uint32_t)v, out += 2;
        b = w;
    }
    if (left) {
        size_t v = next[b];
        if (v >= nb) return false;
        if (store) *out++ = (uint32_t)b;
        b = v;
    }
    if (store) *out = (uint32_t)b;
    return b == tail;
}

/* load's walk: what walk_all(fill) proves, into tables carved to each
 * list's count, in a few instructions per bucket and without a word on
 * what breaks. It does not mark each bucket seen; instead it makes the link
 * of each list's tail and of each metadata bucket NONE for the walk (and
 * back after it), so that a list meeting one of them before its end reads
 * a link past the carved buckets, which no link before a list's end may be.
 * That suffices: the links are a function, so two walks that meet at a
 * bucket go on together from there, and the one that ends first ends at
 * its tail inside the other before that one's end (or, for a list that
 * meets itself, inside itself), or both end at one tail. So with the tails
 * carved, distinct and not metadata (the seen bits of read_links_of, which
 * hold the metadata buckets, tell), no list meets another or itself or the
 * metadata chain, which read_links_of made distinct and carved too; and
 * parse_fixed made them nbuckets in all: every carved bucket is in exactly
 * one list, as walk_all proves. Conversely a layout walk_all accepts
 * passes, so *ok is false exactly when walk_all refuses, which it can do
 * next: img is as it was. */
static int walk_all_fast(mm *m, list_image *img, bool *ok) {
    const list_globals *g = &img->g;
    uint32_t nb = g->nbuckets, *next = img->next;
    uint64_t most = (uint64_t)MM_MAX_MEMORIES + 1 + g->nmeta;
    uint32_t *ends = malloc((size_t)most * 2 * sizeof *ends), *saved = ends + most;
    if (!ends) return mm__fail(MM_ENOMEM, "cannot hold the ends of %llu lists",
                               (unsigned long long)most);
    uint32_t n = 0;
    bool all = true;
    for (unsigned i = 0; all && i <= MM_MAX_MEMORIES; i++) {
        uint32_t count = i < MM_MAX_MEMORIES ? img->count[i] : g->free_count;
        uint32_t tail = i < MM_MAX_MEMORIES ? img->tail[i] : g->free_tail;
        if (!count) continue;
        all = tail < nb && !mm_bit_get(img->seen, tail);
        if (all) {
            mm_bit_set(img->seen, tail);
            ends[n] = tail, saved[n++] = next[tail], next[tail] = NONE;
        }
    }
    uint32_t ntails = n;
    for (uint32_t k = 0; all && k < g->nmeta; k++) {
        uint32_t b = img->meta[k];
        ends[n] = b, saved[n++] = next[b], next[b] = NONE;
    }
    for (unsigned i = 0; all && i < MM_MAX_MEMORIES; i++) {
        mm_table *t = &m->tables[i];
        t->len = img->count[i];
        all = !t->len || chain_ok(next, nb, t->len, img->head[i], img->tail[i], t->ids, true);
    }
    if (all && g->free_count)
        all = chain_ok(next, nb, g->free_count, g->free_head, g->free_tail, NULL, false);
    for (uint32_t j = 0; j < n; j++) next[ends[j]] = saved[j];
    if (!all) { /* as it was, for walk_all */
        for (uint32_t j = 0; j < ntails; j++) mm_bit_clear(img->seen, ends[j]);
        for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) m->tables[i].len = 0;
    }
    free(ends);
    *ok = all;
    return MM_OK;
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */

static int list_format(mm *m) {
    int err = create(m);
    if (!err) err = mm__ensure_pages(m, 1);
    if (!err) err = write_fixed(m, LIST_VERSION);
    if (!err) set_header_bytes(m);
    return err;
}

static int list_load(mm *m) {
    list_image img; /* parse_fixed sets the fields; the pointers are for image_free */
    img.next = img.meta = NULL, img.seen = NULL;
    /* A backing in this process holds page 0: its fields are read in place. */
    int err = m->ram ? parse_fixed(m, m->ram, &img, MM_ECORRUPT)
                     : read_fixed(m, &img, MM_ECORRUPT);
    if (!err) {
        mm__set_bucket_pages(m, img.bucket_pages);
        err = create(m);
    }
    if (!err) err = mm__tables_carve(m, img.count, 0);
    if (!err) err = read_links_of(m, &img, MM_ECORRUPT);
    bool ok = false;
    if (!err) err = walk_all_fast(m, &img, &ok);
    if (!err && !ok) { /* refused: the general walk says why */
        err = walk_all(m, &img, MM_ECORRUPT, true);
        assert(err && "walk_all_fast refuses exactly what walk_all refuses");
    }
    if (!err) {
        list *ds = m->ds;
        ds->next = img.next, ds->next_cap = (uint64_t)img.g.nbuckets + 1;
        ds->meta = img.meta, ds->meta_cap = (uint64_t)img.g.nmeta + 1;
        img.next = img.meta = NULL;
        for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) m->sizes[i] = img.size[i];
        ds->last = img.last;
        if (ds->last)
            put_mem(ds->slot + (OFF_LAST_MEM - OFF_GLOBALS), m->sizes[ds->last - 1],
                    &m->tables[ds->last - 1]);
        commit_globals(m, &img.g);
    }
    image_free(&img);
    return err;
}

/* list_grow's common case, a grow into one bucket, without its loops: the
 * free head, or bucket nbuckets when its link slot and heap room exist
 * already; the same writes in the same order. MM_EAGAIN_INTERNAL: take the
 * general loop (a metadata bucket to carve, the heap to grow). */
static mm_always_inline int grow_one_bucket(mm *m, unsigned id, uint64_t new_size) {
    list *ds = m->ds;
    mm_table *t = &m->tables[id];
    list_globals ng = ds->g;
    uint32_t b, old_len = t->len, old_tail = mm__table_last(t);
    int err = MM_OK;
    if (ng.free_count) {
        b = ng.free_head;
        if (--ng.free_count) {
            ng.free_head = ds->next[b];
        } else {
            ng.free_head = ng.free_tail = NONE;
        }
    } else {
        b = ng.nbuckets;
        if (b >= link_capacity(ds, ng.nmeta) || b >= ds->next_cap || b >= LIST_MAX_BUCKETS)
            return MM_EAGAIN_INTERNAL;
        err = mm__ensure_pages(m, mm__bucket_page(m, (uint64_t)b + 1));
        if (!err) err = write_link(m, b, NONE); /* unread until the commit */
        ds->next[b] = NONE; /* past nbuckets: scratch until the commit */
        ng.nbuckets = b + 1;
    }
    if (!err && old_len) err = write_link(m, old_tail, b); /* a tail's link: unread */
    if (err) return err;
    mm__table_push(t, b);
    err = commit(m, id, new_size, t, &ng);
    if (err) {
        t->len = old_len;
        return err;
    }
    if (old_len) ds->next[old_tail] = b;
    /* commit_globals without what a grow into one bucket cannot change:
     * nmeta, and so the header's size. */
    ds->g = ng;
    m->nbuckets = ng.nbuckets;
    m->nfree = ng.free_count;
    m->sizes[id] = new_size;
    return MM_OK;
}

static int list_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    list *ds = m->ds;
    mm_table *t = &m->tables[id];
    if (!nnew) { /* inside the last bucket: the record alone */
        int err = commit(m, id, new_size, t, NULL);
        if (!err) m->sizes[id] = new_size;
        return err;
    }
    if (nnew == 1) {
        int err = grow_one_bucket(m, id, new_size);
        if (err != MM_EAGAIN_INTERNAL) return err;
    }
    const list_globals *g = &ds->g;
    uint64_t nb = g->nbuckets;
    uint64_t reuse = nnew < g->free_count ? nnew : g->free_count;
    uint64_t carve_data = nnew - reuse;
    /* Metadata buckets are needed only when carving, and carving happens
     * only once no free bucket is left: they are carved too. */
    uint64_t x = meta_needed(ds, g->nmeta, nb + carve_data, g->free_count - reuse);
    uint64_t carved = carve_data + x;
    if (carved > LIST_MAX_BUCKETS - nb)
        return mm__fail(MM_EFULL, "memory %u needs %llu more buckets; %llu of list's %llu are "
                        "carved", id, (unsigned long long)nnew, (unsigned long long)nb,
                        LIST_MAX_BUCKETS);
    int err = reserve(&ds->next, &ds->next_cap, nb + carved);
    if (!err) err = reserve(&ds->meta, &ds->meta_cap, g->nmeta + x);
    if (!err) err = mm__ensure_pages(m, mm__bucket_page(m, nb + carved));
    if (err) return err;

    /* Pick the buckets; entries past nb and past nmeta are scratch until
     * the commit below. */
    uint32_t old_len = t->len, old_tail = mm__table_last(t);
    uint32_t b = g->free_head, last_reused = NONE;
    for (uint64_t k = 0; k < reuse; k++) {
        mm__table_push(t, b);
        last_reused = b;
        if (k + 1 < reuse) b = ds->next[b];
    }
    list_globals ng = *g;
    ng.free_count = (uint32_t)(g->free_count - reuse);
    if (reuse) ng.free_head = ng.free_count ? ds->next[last_reused] : NONE;
    if (!ng.free_count) ng.free_tail = NONE;
    for (uint64_t k = 0; k < carve_data; k++) {
        mm__table_push(t, (uint32_t)(nb + k));
        ds->next[nb + k] = k + 1 < carve_data ? (uint32_t)(nb + k + 1) : NONE;
    }
    for (uint64_t j = 0; j < x; j++) {
        ds->meta[g->nmeta + j] = (uint32_t)(nb + carve_data + j);
        ds->next[nb + carve_data + j] = NONE;
    }
    ng.nbuckets = (uint32_t)(nb + carved);
    ng.nmeta = (uint32_t)(g->nmeta + x);
    if (x) {
        if (!g->nmeta) ng.meta_head = ds->meta[0];
        ng.meta_tail = ds->meta[ng.nmeta - 1];
    }

    /* Persist: only the global block and the record change what open reads. */
    for (uint64_t j = 0; !err && j < x; j++)
        err = write_meta_header(m, ds->meta[g->nmeta + j],
                                j + 1 < x ? ds->meta[g->nmeta + j + 1] : NONE,
                                (uint32_t)(g->nmeta + j));
    if (!err && carved)
        err = carved == 1 ? write_link(m, (uint32_t)nb, ds->next[nb])
                          : write_links(m, nb, carved, ds->next + nb);
    if (!err && reuse && carve_data) err = write_link(m, last_reused, (uint32_t)nb);
    if (!err && old_len) err = write_link(m, old_tail, t->ids[old_len]);
    if (!err && x && g->nmeta) {
        uint8_t next[4];
        mm_put_u32(next, ds->meta[g->nmeta]);
        err = mm__hwrite(m, mm__bucket_page(m, ds->meta[g->nmeta - 1]) * MM_PAGE_SIZE +
                         META_OFF_NEXT, next, sizeof next);
    }
    if (!err) err = commit(m, id, new_size, t, &ng);
    if (err) {
        t->len = old_len;
        return err;
    }
    if (reuse && carve_data) ds->next[last_reused] = (uint32_t)nb;
    if (old_len) ds->next[old_tail] = t->ids[old_len];
    commit_globals(m, &ng);
    m->sizes[id] = new_size;
    return MM_OK;
}

static int list_free(mm *m, unsigned id) {
    list *ds = m->ds;
    const mm_table *t = &m->tables[id];
    uint32_t head = t->ids[0], tail = mm__table_last(t);
    list_globals ng = ds->g;
    int err = MM_OK;
    if (ng.free_count)
        err = write_link(m, ng.free_tail, head);
    else
        ng.free_head = head;
    ng.free_tail = tail;
    ng.free_count += t->len;
    static const mm_table empty = {0};
    if (!err) err = commit(m, id, 0, &empty, &ng);
    if (err) return err;
    if (ds->g.free_count) ds->next[ds->g.free_tail] = head;
    commit_globals(m, &ng);
    return MM_OK;
}

static int list_upgrade_v1(mm *m, const struct mm_v1_image *v1) {
    int err = create(m);
    if (!err) err = mm__v1_adopt(m, v1);
    if (err) return err;
    list *ds = m->ds;
    uint64_t nb = v1->count, nfree = m->nfree;
    /* Metadata buckets take V1's free buckets first (only a freeing V1
     * writer leaves any), then new ones carved after the last. */
    uint64_t x = meta_needed(ds, 0, nb, nfree);
    uint64_t from_free = x < nfree ? x : nfree, carved = x - from_free;
    err = reserve(&ds->next, &ds->next_cap, nb + carved);
    if (!err) err = reserve(&ds->meta, &ds->meta_cap, x);
    if (err) return err;

    list_globals g = {(uint32_t)(nb + carved), (uint32_t)x, NONE, NONE,
                      (uint32_t)(nfree - from_free), NONE, NONE};
    for (uint64_t b = 0; b < nb + carved; b++) ds->next[b] = NONE;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        const mm_table *t = &m->tables[i];
        for (uint32_t k = 0; k + 1 < t->len; k++) ds->next[t->ids[k]] = t->ids[k + 1];
    }
    uint64_t nmeta = 0;
    for (uint32_t b = 0; b < nb; b++) {
        if (v1->owners[b] != MM_V1_UNALLOCATED) continue;
        if (nmeta < from_free) {
            ds->meta[nmeta++] = b;
            continue;
        }
        if (g.free_tail == NONE)
            g.free_head = b;
        else
            ds->next[g.free_tail] = b;
        g.free_tail = b;
    }
    for (uint64_t j = 0; j < carved; j++) ds->meta[nmeta++] = (uint32_t)(nb + j);
    if (x) g.meta_head = ds->meta[0], g.meta_tail = ds->meta[x - 1];
    commit_globals(m, &g);

    /* The journal first: from its commit on, the next open completes the
     * upgrade from it (or a V1 design rolls it back), whatever of the
     * writes below landed. */
    err = mm__upgrade_begin(m, mm__bucket_page(m, nb + carved), LIST_UPGRADING);
    for (uint64_t k = 0; !err && k < x; k++)
        err = write_meta_header(m, ds->meta[k], k + 1 < x ? ds->meta[k + 1] : NONE,
                                (uint32_t)k);
    if (!err && g.nbuckets > PAGE0_LINKS)
        err = write_links(m, PAGE0_LINKS, g.nbuckets - PAGE0_LINKS, ds->next + PAGE0_LINKS);
    if (!err) err = write_fixed(m, LIST_UPGRADING);
    if (!err) err = write_links(m, 0, g.nbuckets < PAGE0_LINKS ? g.nbuckets : PAGE0_LINKS,
                                ds->next);
    return err ? err : mm__upgrade_end(m, LIST_VERSION);
}

static int list_check(mm *m) {
    const list *ds = m->ds;
    list_image img = {0};
    int err = read_fixed(m, &img, MM_ECHECK);
    if (!err && img.bucket_pages != m->bucket_pages)
        err = mm__fail(MM_ECHECK, "list: the header says %u pages per bucket, the heap %u",
                       img.bucket_pages, m->bucket_pages);
    if (!err && img.last != ds->last)
        err = mm__fail(MM_ECHECK, "list: the commit slot holds memory %d's record, the heap "
                       "says memory %d's", (int)img.last - 1, (int)ds->last - 1);
    if (!err && ds->last) {
        /* What a commit writes to the record's own place when the slot
         * moves on: the slot's bytes, kept in the heap. */
        uint8_t rec[MEM_BYTES];
        put_mem(rec, m->sizes[ds->last - 1], &m->tables[ds->last - 1]);
        if (memcmp(rec, ds->slot + (OFF_LAST_MEM - OFF_GLOBALS), MEM_BYTES) != 0)
            err = mm__fail(MM_ECHECK, "list: the heap's copy of the commit slot's record "
                           "differs from memory %u's", ds->last - 1);
    }
    if (!err && memcmp(&img.g, &ds->g, sizeof img.g) != 0)
        err = mm__fail(MM_ECHECK, "list: the global block differs from the heap's (buckets "
                       "%u/%u, metadata %u/%u, free %u/%u from %u/%u to %u/%u)",
                       img.g.nbuckets, ds->g.nbuckets, img.g.nmeta, ds->g.nmeta,
                       img.g.free_count, ds->g.free_count, img.g.free_head, ds->g.free_head,
                       img.g.free_tail, ds->g.free_tail);
    if (!err && (m->nbuckets != ds->g.nbuckets || m->nmeta != ds->g.nmeta ||
                 m->nfree != ds->g.free_count))
        err = mm__fail(MM_ECHECK, "list: the manager counts %llu buckets, %llu metadata, %llu "
                       "free; the design %u, %u, %u", (unsigned long long)m->nbuckets,
                       (unsigned long long)m->nmeta, (unsigned long long)m->nfree,
                       ds->g.nbuckets, ds->g.nmeta, ds->g.free_count);
    for (unsigned i = 0; i < MM_MAX_MEMORIES && !err; i++)
        if (img.size[i] != m->sizes[i])
            err = mm__fail(MM_ECHECK, "list: memory %u: the header says %llu pages, the heap "
                           "%llu", i, (unsigned long long)img.size[i],
                           (unsigned long long)m->sizes[i]);
    if (!err) err = read_links_of(m, &img, MM_ECHECK);
    for (uint32_t k = 0; !err && k < img.g.nmeta; k++)
        if (img.meta[k] != ds->meta[k])
            err = mm__fail(MM_ECHECK, "list: metadata bucket #%u is %u, the heap says %u", k,
                           img.meta[k], ds->meta[k]);
    for (uint32_t b = 0; !err && b < img.g.nbuckets; b++)
        if (img.next[b] != ds->next[b])
            err = mm__fail(MM_ECHECK, "list: the link of bucket %u is %u, the heap says %u", b,
                           img.next[b], ds->next[b]);
    if (!err) err = walk_all(m, &img, MM_ECHECK, false);
    if (!err && m->header_bytes != MM_PAGE_SIZE + m->nmeta * m->bucket_bytes)
        err = mm__fail(MM_ECHECK, "list: header_bytes is %llu for %llu metadata buckets",
                       (unsigned long long)m->header_bytes, (unsigned long long)m->nmeta);
    image_free(&img);
    return err;
}

const struct mm_ops mm_design_list = {
    .info = {.name = "list",
             .description = "persisted linked lists of u32 bucket ids; free splices a chain "
                            "in O(1) writes",
             .max_buckets = LIST_MAX_BUCKETS,
             .flags = MM_DESIGN_CAN_FREE | MM_DESIGN_READS_V1 | MM_DESIGN_REUSES_ALL},
    .version = LIST_VERSION,
    .upgrading_version = LIST_UPGRADING,
    .format = list_format,
    .load = list_load,
    .upgrade_v1 = list_upgrade_v1,
    .grow = list_grow,
    .free = list_free,
    .check = list_check,
    .destroy = list_destroy,
    .heap_bytes = list_heap_bytes,
};

uint8_t *mm__test_list_slot_record(mm *m) {
    return ((list *)m->ds)->slot + (OFF_LAST_MEM - OFF_GLOBALS);
}
