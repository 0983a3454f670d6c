/*
 * freestack: free bucket ids on a persisted stack. A grow pops, a free
 * pushes the memory's buckets; the linear memory grows only once the stack
 * is empty. A second persisted array, the records, says which memory owns
 * each bucket and at which position, so that open rebuilds every ordered
 * bucket table from bulk reads in O(buckets carved). Ids are u32.
 *
 * Data buckets stay exactly where V1 puts them (bucket b at page 1 + b*N,
 * N = bucket size in pages), so a V1 memory is upgraded in place without
 * moving a byte of data: only page 0 is rewritten.
 *
 * Entries. Entry e of both arrays belongs to bucket id / stack slot e:
 *   record[e]  5 bytes: owner memory u8 (255: none) + position u32 in its
 *              table; meaningful only while bucket e is owned
 *   slot[e]    4 bytes: the bucket id at stack position e (0 = bottom);
 *              meaningful only while e < depth
 * They live in segments. Segment 0 is in page 0 and holds entries
 * 0..4095. Segment j >= 1 is metadata bucket ("chunk") dir[j-1] and holds
 * E = floor(N * 65,536 / 9) entries, 4096 + (j-1)*E onwards: its first 5E
 * bytes are records, the next 4E stack slots. Chunks are carved from the
 * pool like data buckets and counted in nmeta, so the metadata grows with
 * the buckets carved, never as a table sized for the maximum.
 *
 * Page 0 (integers little-endian):
 *   offset  size          field
 *   0       3             magic "MGR"
 *   3       1             layout version 4 (132 while a V1 upgrade runs)
 *   4       2             zero (V1's u16 bucket count)
 *   6       2             bucket size in pages, u16 (as V1)
 *   8       4             buckets carved, u32 (count)
 *   12      4             stack depth = free buckets, u32 (depth)
 *   16      4             chunks, u32 (nchunks)
 *   20      8             last size: the size of memory (last - 1), u64
 *   28      1             last: 1 + the memory whose size the last commit
 *                         wrote at 20; 0: none
 *   29      11            reserved, zero
 *   40      255 x 8       size of memory i in pages, u64 (as V1); for
 *                         i = last - 1 the last size holds instead
 *   2080    4096 x 5      segment 0 records
 *   22560   4096 x 4      segment 0 stack slots
 *   38944   6648 x 4      dir: bucket id of chunk j
 *   65536                 end: the header is exactly page 0
 *
 * Invariants (open refuses a memory that breaks one; check walks them all):
 *   capacity = 4096 + nchunks * E >= count;  nchunks <= 6648
 *   linear memory pages >= 1 + count * N
 *   every bucket b < count is exactly one of: a chunk (b in dir[0..nchunks)),
 *     free (b in slot[0..depth)), or owned: record[b] = (i, k) with
 *     k < ceil(size[i] / N), and no other bucket has record (i, k)
 *   sum_i ceil(size[i] / N) + depth + nchunks == count
 *   memory i's table is the buckets with records (i, 0), (i, 1), ...
 *
 * Cost (k = buckets a grow adds or a free releases):
 *   grow   O(k): pops k ids off the in-heap stack mirror; writes k records
 *          (one call per run of adjacent ids), then the commit: the
 *          counters, when one changes, the last size and last (20 B, 8 B
 *          for a grow inside a bucket; 1 B more when last changes, after
 *          the previous memory's size to its own place). Carving past the
 *          stack may add a chunk: O(1) more (a directory entry; chunks
 *          need no initialization, since only entries below count and
 *          depth are ever read).
 *   free   O(k): writes k stack slots (one call per segment), then the
 *          commit. Records of freed buckets are left stale: the stack
 *          says they are free.
 *   open   O(count): page 0's fixed part and directory, then the slots
 *          and records of each segment, read where they lie in a RAM
 *          memory (copied in batches from other backings) into tables
 *          carved from one allocation; about 12 instructions a bucket.
 *   max    4096 + 6648 * 7281 = 48,408,184 buckets (the directory full at
 *          one page per bucket; the same limit for every bucket size).
 *
 * Fuzz builds only (-DMMFREE_FUZZ_SMALL_PAGE0, tests/fuzz/README.md):
 * segment 0 holds entries 0..7 (records at 2080, slots at 2120), the
 * directory 16 chunks at 2152 (bytes 2216..65535 are reserved), and E = 4
 * for every bucket size, so max = 8 + 16 * 4 = 72 buckets: the fuzzers'
 * few dozen buckets then need several chunks. No other build defines it.
 *
 * What a crash leaves. A grow or free changes the counters and a size,
 * and commits both with one write: bytes 8..28 hold the counters, the
 * size of the memory the last commit changed and `last`, which names it;
 * open reads that memory's size there, every other one in its own place.
 * When a commit names another memory, the previous one's size is first
 * written to its own place (the same value open reads until the commit
 * lands). Records and stack slots are written before the commit, where
 * nothing reads them (records of free or uncarved buckets, slots at or
 * past depth, directory entries past nchunks): a crash before the commit
 * reopens to the state before the op. In durable mode a barrier precedes
 * the commit.
 *
 * Upgrade from V1: the V1 header is validated, the tables built from the
 * owner bytes, V1's unallocated buckets (v1reclaim writes them) pushed on
 * the stack, and chunks taken (stack first, then new buckets) until the
 * capacity covers the count. Then, behind a journal (layout_v1.c): (1)
 * grow the linear memory for the chunks carved and the journal's page; a
 * refusal leaves the V1 memory untouched; (2) V1's header to the journal,
 * then version byte 132, which commits it; (3) rewrite page 0 (bytes 4..39
 * and what follows the sizes) and the chunks' entries; (4) version byte 4,
 * which commits the upgrade. A crash before (2) leaves valid V1; from (2)
 * to (4) freestack completes the upgrade on the next open and v1 or
 * v1reclaim roll it back; the other designs refuse it (MM_EINTERRUPTED).
 * Sizes and the buckets of V1's memories are never written; chunks may
 * take V1's unallocated buckets.
 */
#include "mm_internal.h"

#include <stdlib.h>

enum {
    FS_VERSION = 4,
    FS_UPGRADING = 0x80 | FS_VERSION,
    FS_OFF_V1_COUNT = 4,
    FS_OFF_BUCKET_PAGES = 6,
    FS_OFF_COUNT = 8,
    FS_OFF_DEPTH = 12,
    FS_OFF_CHUNKS = 16,
    FS_OFF_LAST_SIZE = 20,
    FS_OFF_LAST = 28,
    FS_OFF_RESERVED = 29,
    FS_OFF_SIZES = 40,
    FS_OFF_SEG0 = 2080,
    FS_RECORD_BYTES = 5,
    FS_SLOT_BYTES = 4,
    FS_ENTRY_BYTES = FS_RECORD_BYTES + FS_SLOT_BYTES,
    FS_HEADER_BYTES = 65536,
#ifndef MMFREE_FUZZ_SMALL_PAGE0
    FS_SEG0_ENTRIES = 4096,
    FS_OFF_DIR = FS_OFF_SEG0 + FS_SEG0_ENTRIES * FS_ENTRY_BYTES,
    FS_DIR_ENTRIES = (FS_HEADER_BYTES - FS_OFF_DIR) / 4,
    FS_MIN_CHUNK_ENTRIES = 65536 / FS_ENTRY_BYTES, /* one-page buckets */
#else
    /* Fuzz builds: the fuzzers carve at most a few dozen buckets, so with
     * 4,096 entries in segment 0 they would never reach a chunk. Small
     * chunks make them fill several; a small directory keeps the limit
     * (72 buckets) near them, where corrupted counts cross it. */
    FS_SEG0_ENTRIES = 8,
    FS_OFF_DIR = FS_OFF_SEG0 + FS_SEG0_ENTRIES * FS_ENTRY_BYTES,
    FS_DIR_ENTRIES = 16,
    FS_MIN_CHUNK_ENTRIES = 4, /* E, for every bucket size */
#endif
    FS_MAX_BUCKETS = FS_SEG0_ENTRIES + FS_DIR_ENTRIES * FS_MIN_CHUNK_ENTRIES,
    FS_NO_OWNER = 255,
    FS_BATCH = 4096, /* entries encoded per write or decoded per read */
};

static_assert((int)FS_OFF_SIZES == (int)MM_V1_OFF_SIZES, "sizes stay where V1 has them");
static_assert((int)FS_OFF_BUCKET_PAGES == (int)MM_V1_OFF_BUCKET_PAGES, "as V1");
static_assert(FS_OFF_SIZES + 8 * MM_MAX_MEMORIES == FS_OFF_SEG0, "segment 0 follows the sizes");
static_assert(FS_OFF_COUNT + 4 == FS_OFF_DEPTH && FS_OFF_DEPTH + 4 == FS_OFF_CHUNKS &&
                  FS_OFF_CHUNKS + 4 == FS_OFF_LAST_SIZE && FS_OFF_LAST_SIZE + 8 == FS_OFF_LAST,
              "the commit's span: counters (count and depth one u64), last size, last");
#ifndef MMFREE_FUZZ_SMALL_PAGE0
static_assert(FS_OFF_DIR == 38944, "the offset table above");
static_assert(FS_OFF_DIR + 4 * FS_DIR_ENTRIES == FS_HEADER_BYTES, "dir ends page 0");
static_assert(FS_MAX_BUCKETS == 48408184, "the limit the comment states");
#else
static_assert(FS_OFF_DIR == 2152, "the fuzz build's offsets in the comment above");
static_assert(FS_OFF_DIR + 4 * FS_DIR_ENTRIES <= FS_HEADER_BYTES, "dir fits in page 0");
static_assert(FS_MIN_CHUNK_ENTRIES * FS_ENTRY_BYTES <= MM_PAGE_SIZE, "a chunk fits a bucket");
static_assert(FS_MAX_BUCKETS == 72, "the limit the comment states");
#endif
static_assert(FS_HEADER_BYTES == MM_PAGE_SIZE, "the header is page 0: data starts at page 1");
static_assert(FS_MAX_BUCKETS < UINT32_MAX, "ids are u32");

/* The in-heap mirror of the stack and the directory. Their depths are
 * m->nfree and m->nmeta; entries past those are scratch. */
typedef struct fs_state {
    uint32_t *stack, *chunks;
    uint64_t stack_cap, chunks_cap;
    uint64_t chunk_entries; /* E */
    unsigned last;          /* as persisted: 1 + the memory whose size is the last size */
} fs_state;

enum region { RECORDS, SLOTS };

static inline uint64_t capacity(const fs_state *s, uint64_t nchunks) {
    return FS_SEG0_ENTRIES + nchunks * s->chunk_entries;
}

/* The byte offset of entry e of a region, and in *run how many entries
 * from e on lie in the same segment (and so are contiguous). */
static uint64_t entry_offset(const mm *m, const fs_state *s, enum region r, uint64_t e,
                             uint64_t *run) {
    uint64_t base = FS_OFF_SEG0, cap = FS_SEG0_ENTRIES, local = e;
    if (e >= FS_SEG0_ENTRIES) {
        uint64_t j = (e - FS_SEG0_ENTRIES) / s->chunk_entries;
        local = (e - FS_SEG0_ENTRIES) % s->chunk_entries;
        cap = s->chunk_entries;
        base = mm__bucket_page(m, s->chunks[j]) * MM_PAGE_SIZE;
    }
    *run = cap - local;
    return r == RECORDS ? base + local * FS_RECORD_BYTES
                        : base + cap * FS_RECORD_BYTES + local * FS_SLOT_BYTES;
}

/* Writes entries [first, first + n) of a region from buf, one call per
 * segment. (parse reads them through entries_view.) */
static int entries_write(mm *m, enum region r, uint64_t first, uint64_t n, const uint8_t *buf) {
    const fs_state *s = m->ds;
    size_t width = r == RECORDS ? FS_RECORD_BYTES : FS_SLOT_BYTES;
    while (n) {
        uint64_t run, off = entry_offset(m, s, r, first, &run);
        if (run > n) run = n;
        int err = mm__hwrite(m, off, buf, (size_t)run * width);
        if (err) return err;
        buf += run * width;
        first += run;
        n -= run;
    }
    return MM_OK;
}

static int fs_reserve(uint32_t **ids, uint64_t *cap, uint64_t need) {
    if (need <= *cap) return MM_OK;
    uint64_t want = *cap ? *cap * 2 : 64;
    if (want < need) want = need;
    uint32_t *p = realloc(*ids, (size_t)want * sizeof *p);
    if (!p) return mm__fail(MM_ENOMEM, "cannot grow a freestack array to %llu ids",
                            (unsigned long long)want);
    *ids = p;
    *cap = want;
    return MM_OK;
}

static int fs_new_state(mm *m) {
    fs_state *s = calloc(1, sizeof *s);
    if (!s) return mm__fail(MM_ENOMEM, "cannot allocate the freestack state");
#ifndef MMFREE_FUZZ_SMALL_PAGE0
    s->chunk_entries = m->bucket_bytes / FS_ENTRY_BYTES;
#else
    s->chunk_entries = FS_MIN_CHUNK_ENTRIES;
#endif
    m->ds = s;
    m->data_page = 1;
    return MM_OK;
}

static void fs_destroy(mm *m) {
    fs_state *s = m->ds;
    if (!s) return;
    free(s->stack);
    free(s->chunks);
    free(s);
    m->ds = NULL;
}

static uint64_t fs_heap_bytes(const mm *m) {
    const fs_state *s = m->ds;
    return s ? sizeof *s + (s->stack_cap + s->chunks_cap) * sizeof *s->stack : 0;
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

/* Records of memory id's table entries [first, first + n): (id, position),
 * one write per run of adjacent bucket ids. */
static int write_records(mm *m, unsigned id, uint32_t first, uint64_t n) {
    const mm_table *t = &m->tables[id];
    uint8_t buf[FS_BATCH * FS_RECORD_BYTES];
    for (uint64_t k = first; k < first + n;) {
        uint64_t run = 1;
        while (k + run < first + n && run < FS_BATCH && t->ids[k + run] == t->ids[k] + run)
            run++;
        for (uint64_t r = 0; r < run; r++) {
            buf[r * FS_RECORD_BYTES] = (uint8_t)id;
            mm_put_u32(buf + r * FS_RECORD_BYTES + 1, (uint32_t)(k + r));
        }
        int err = entries_write(m, RECORDS, t->ids[k], run, buf);
        if (err) return err;
        k += run;
    }
    return MM_OK;
}

/* Stack slots [first, first + n) from the in-heap mirror. */
static int write_slots(mm *m, uint64_t first, uint64_t n) {
    const fs_state *s = m->ds;
    uint8_t buf[FS_BATCH * FS_SLOT_BYTES];
    for (uint64_t done = 0; done < n;) {
        uint64_t run = n - done < FS_BATCH ? n - done : FS_BATCH;
        for (uint64_t r = 0; r < run; r++)
            mm_put_u32(buf + r * FS_SLOT_BYTES, s->stack[first + done + r]);
        int err = entries_write(m, SLOTS, first + done, run, buf);
        if (err) return err;
        done += run;
    }
    return MM_OK;
}

/* Directory entries [first, first + n) from the in-heap mirror. */
static int write_dir(mm *m, uint64_t first, uint64_t n) {
    const fs_state *s = m->ds;
    for (uint64_t j = first; j < first + n; j++) {
        uint8_t b[4];
        mm_put_u32(b, s->chunks[j]);
        int err = mm__hwrite(m, FS_OFF_DIR + 4 * j, b, sizeof b);
        if (err) return err;
    }
    return MM_OK;
}

static int write_size(mm *m, unsigned id, uint64_t pages) {
    uint8_t b[8];
    mm_put_u64(b, pages);
    return mm__hwrite(m, FS_OFF_SIZES + 8u * id, b, sizeof b);
}

/* The commit of a grow or free of memory id: one write of the counters
 * (when one changes), id's new size as the last size, and last = id + 1
 * (when it changes). When the last size was another memory's, that size
 * is first written to its own place, where open reads it once last names
 * id: until the commit lands both say the same. Each of the four spans is
 * a write of constant size (a few stores on a RAM memory). */
static int commit(mm *m, unsigned id, uint64_t size, uint64_t count,
                  uint64_t depth, uint64_t nchunks) {
    fs_state *s = m->ds;
    bool same = s->last == id + 1;
    int err = !same && s->last ? write_size(m, s->last - 1, m->sizes[s->last - 1]) : MM_OK;
    uint8_t b[FS_OFF_LAST + 1 - FS_OFF_COUNT], *tail = b + (FS_OFF_LAST_SIZE - FS_OFF_COUNT);
    mm_put_u64(tail, size);
    tail[8] = (uint8_t)(id + 1);
    if (err) {
    } else if (count != m->nbuckets || depth != m->nfree || nchunks != m->nmeta) {
        /* count and depth (both <= FS_MAX_BUCKETS < 2^32), side by side,
         * as one u64: as two u32, GCC built the pair's bytes one by one,
         * 34 instructions a grow. */
        mm_put_u64(b + FS_OFF_COUNT - FS_OFF_COUNT, count | depth << 32);
        mm_put_u32(b + FS_OFF_CHUNKS - FS_OFF_COUNT, (uint32_t)nchunks);
        err = same ? mm__hcommit(m, FS_OFF_COUNT, b, sizeof b - 1)
                   : mm__hcommit(m, FS_OFF_COUNT, b, sizeof b);
    } else {
        err = same ? mm__hcommit(m, FS_OFF_LAST_SIZE, tail, 8)
                   : mm__hcommit(m, FS_OFF_LAST_SIZE, tail, 9);
    }
    if (!err) s->last = id + 1;
    return err;
}

/* ------------------------------------------------------------------------
 * Format, grow, free
 * ---------------------------------------------------------------------- */

static int fs_format(mm *m) {
    int err = fs_new_state(m);
    if (err) return err;
    m->header_bytes = FS_HEADER_BYTES;
    /* The manager discarded the memory: every other byte of page 0 is zero. */
    uint8_t h[FS_OFF_SEG0] = {0};
    memcpy(h + MM_OFF_MAGIC, MM_MAGIC, 3);
    h[MM_OFF_VERSION] = FS_VERSION;
    mm_put_u16(h + FS_OFF_BUCKET_PAGES, (uint16_t)m->bucket_pages);
    err = mm__ensure_pages(m, 1);
    return err ? err : mm__hwrite(m, 0, h, sizeof h);
}

/* The record of one bucket: a write of constant size (a few stores on a
 * RAM memory), the common case of a grow into one bucket. */
static mm_always_inline int write_record(mm *m, unsigned id, uint32_t pos, uint32_t bucket) {
    uint8_t rec[FS_RECORD_BYTES];
    uint64_t run;
    rec[0] = (uint8_t)id;
    mm_put_u32(rec + 1, pos);
    return mm__hwrite(m, entry_offset(m, m->ds, RECORDS, bucket, &run), rec, sizeof rec);
}

/* fs_grow's common cases without its loops: a grow inside the last bucket
 * (the commit alone), and a grow into one bucket, popped or carved without
 * a chunk, with the heap room there already. The same writes in the same
 * order. MM_EAGAIN_INTERNAL: take the general path. */
static mm_always_inline int grow_one_bucket(mm *m, unsigned id, uint64_t new_size,
                                            uint64_t nnew) {
    fs_state *s = m->ds;
    mm_table *t = &m->tables[id];
    uint64_t count = m->nbuckets, depth = m->nfree;
    int err;
    if (nnew) {
        uint32_t b;
        if (depth) {
            b = s->stack[--depth];
        } else {
            b = (uint32_t)count++;
            if (count > capacity(s, m->nmeta) || count > s->stack_cap) return MM_EAGAIN_INTERNAL;
            err = mm__ensure_pages(m, mm__bucket_page(m, count));
            if (err) return err;
        }
        /* The record first: until the counters say so, nothing reads it. */
        err = write_record(m, id, t->len, b);
        if (err) return err;
        mm__table_push(t, b);
    }
    err = commit(m, id, new_size, count, depth, m->nmeta);
    if (err) {
        t->len -= (uint32_t)nnew;
        return err;
    }
    m->nbuckets = count;
    m->nfree = depth;
    m->sizes[id] = new_size;
    return MM_OK;
}

/* Takes the buckets of a grow: popped ids (top of the stack first), then
 * new ones from count on; chunks, when the capacity must follow, after the
 * new data buckets. */
static int fs_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    if (nnew <= 1) {
        int err = grow_one_bucket(m, id, new_size, nnew);
        if (err != MM_EAGAIN_INTERNAL) return err;
    }
    fs_state *s = m->ds;
    mm_table *t = &m->tables[id];
    uint64_t npop = nnew < m->nfree ? nnew : m->nfree, ncarve = nnew - npop;
    uint64_t count = m->nbuckets, nchunks = m->nmeta;
    if (ncarve) {
        if (ncarve > FS_MAX_BUCKETS - count)
            return mm__fail(MM_EFULL, "memory %u needs %llu new buckets; %llu of freestack's "
                            "%u are carved and none is free", id, (unsigned long long)ncarve,
                            (unsigned long long)count, FS_MAX_BUCKETS);
        count += ncarve;
        while (capacity(s, nchunks) < count) {
            nchunks++;
            count++;
        }
        if (count > FS_MAX_BUCKETS)
            return mm__fail(MM_EFULL, "memory %u needs %llu new buckets and %llu chunks; %llu "
                            "of freestack's %u are carved", id, (unsigned long long)ncarve,
                            (unsigned long long)(nchunks - m->nmeta),
                            (unsigned long long)m->nbuckets, FS_MAX_BUCKETS);
        /* A stack slot for every carved bucket now, so that free, which
         * runs after the manager has zeroed the buckets, never allocates. */
        int err = fs_reserve(&s->chunks, &s->chunks_cap, nchunks);
        if (!err && mm_unlikely(count > s->stack_cap))
            err = fs_reserve(&s->stack, &s->stack_cap, count);
        if (!err) err = mm__ensure_pages(m, mm__bucket_page(m, count));
        if (err) return err;
        for (uint64_t j = m->nmeta; j < nchunks; j++)
            s->chunks[j] = (uint32_t)(m->nbuckets + ncarve + (j - m->nmeta));
    }
    uint32_t first = t->len;
    for (uint64_t k = 0; k < npop; k++) mm__table_push(t, s->stack[m->nfree - 1 - k]);
    for (uint64_t k = 0; k < ncarve; k++) mm__table_push(t, (uint32_t)(m->nbuckets + k));
    /* Records and directory entries first: until the counters say so,
     * nothing reads them. */
    int err = write_records(m, id, first, nnew);
    if (!err) err = write_dir(m, m->nmeta, nchunks - m->nmeta);
    if (!err) err = commit(m, id, new_size, count, m->nfree - npop, nchunks);
    if (err) {
        t->len = first;
        return err;
    }
    m->nbuckets = count;
    m->nfree -= npop;
    m->nmeta = nchunks;
    m->header_bytes = FS_HEADER_BYTES + nchunks * m->bucket_bytes;
    m->sizes[id] = new_size;
    return MM_OK;
}

/* Pushes the buckets last first, so that pops hand them out again in the
 * memory's order and adjacent runs stay adjacent. */
static int fs_free(mm *m, unsigned id) {
    fs_state *s = m->ds;
    const mm_table *t = &m->tables[id];
    if (m->nfree + t->len > s->stack_cap) /* grow, open and upgrade reserved it */
        return mm__fail(MM_ECHECK, "freestack: the stack holds %llu ids, %llu needed",
                        (unsigned long long)s->stack_cap,
                        (unsigned long long)(m->nfree + t->len));
    for (uint32_t k = 0; k < t->len; k++) s->stack[m->nfree + k] = t->ids[t->len - 1 - k];
    int err = write_slots(m, m->nfree, t->len);
    if (!err) err = commit(m, id, 0, m->nbuckets, m->nfree + t->len, m->nmeta);
    if (err) return err;
    m->nfree += t->len;
    return MM_OK;
}

/* ------------------------------------------------------------------------
 * Reading: one parser for open and for check
 * ---------------------------------------------------------------------- */

/* What parse has learnt by the time it reads the entries. The tables are
 * start/lens with a 256th entry, for owner byte 255 (none), that has no
 * room: one bounds test refuses a position past its table and a record
 * without owner alike. */
typedef struct fs_parse {
    uint64_t *claimed; /* bit b: bucket b is a chunk or free */
    uint32_t *start[FS_NO_OWNER + 1];
    uint32_t lens[FS_NO_OWNER + 1];
    int bad;
} fs_parse;

enum { FS_DIR = -1 }; /* entries_view's region for the directory */

/* Entries [first, first + n) (n > 0) of a region or of the directory, as
 * bytes: in place when the memory is RAM (m->ram holds every page, and
 * parse has made sure the linear memory holds every carved bucket before
 * it reads a chunk), else copied into buf, FS_BATCH entries at most. *got:
 * how many entries *bytes holds, all of one segment. */
static int entries_view(mm *m, int r, uint64_t first, uint64_t n, uint8_t *buf,
                        const uint8_t **bytes, uint64_t *got) {
    uint64_t run = n, off = FS_OFF_DIR + 4 * first;
    if (r != FS_DIR) {
        off = entry_offset(m, m->ds, (enum region)r, first, &run);
        if (run > n) run = n;
    }
    if (m->ram) {
        *bytes = m->ram + off;
    } else {
        size_t width = r == RECORDS ? FS_RECORD_BYTES : 4; /* slots and chunks: u32 ids */
        if (run > FS_BATCH) run = FS_BATCH;
        int err = mm__hread(m, off, buf, (size_t)run * width);
        if (err) return err;
        *bytes = buf;
    }
    *got = run;
    return MM_OK;
}

static mm_noinline int claim_error(const mm *m, const fs_parse *ps, bool dir, uint64_t k,
                                   uint32_t b) {
    const char *what = dir ? "chunk" : "stack slot";
    if (b >= m->nbuckets)
        return mm__fail(ps->bad, "freestack: %s %llu names bucket %u, past the %llu carved", what,
                        (unsigned long long)k, b, (unsigned long long)m->nbuckets);
    /* Claimed before: by a chunk (the directory is read first, whole), or
     * by a lower stack slot. */
    const fs_state *s = m->ds;
    bool chunk = dir;
    for (uint64_t j = 0; j < m->nmeta && !chunk; j++) chunk = s->chunks[j] == b;
    return mm__fail(ps->bad, "freestack: %s %llu names bucket %u, already %s", what,
                    (unsigned long long)k, b, chunk ? "a chunk" : "on the stack");
}

/* Reads ids [0, n) of the directory (FS_DIR) or of the stack (SLOTS) into
 * ids; each must be a bucket below count not claimed yet, and gets
 * claimed. */
static int parse_ids(mm *m, fs_parse *ps, int r, uint64_t n, uint32_t *ids) {
    uint8_t buf[FS_BATCH * 4];
    for (uint64_t done = 0; done < n;) {
        const uint8_t *p;
        uint64_t run;
        int err = entries_view(m, r, done, n - done, buf, &p, &run);
        if (err) return err;
        for (uint64_t k = done; k < done + run; k++, p += 4) {
            uint32_t b = mm_get_u32(p);
            if (mm_unlikely(b >= m->nbuckets || mm_bit_get(ps->claimed, b)))
                return claim_error(m, ps, r == FS_DIR, k, b);
            mm_bit_set(ps->claimed, b);
            ids[k] = b;
        }
        done += run;
    }
    return MM_OK;
}

static mm_noinline int record_error(const mm *m, const fs_parse *ps, uint64_t b,
                                    const uint8_t *rec) {
    unsigned owner = rec[0];
    uint32_t pos = mm_get_u32(rec + 1);
    if (owner == FS_NO_OWNER)
        return mm__fail(ps->bad, "freestack: bucket %llu is neither free nor a chunk, but its "
                        "record names no owner", (unsigned long long)b);
    if (pos >= ps->lens[owner])
        return mm__fail(ps->bad, "freestack: bucket %llu is #%u of memory %u, which has %llu "
                        "pages and so %u buckets", (unsigned long long)b, pos, owner,
                        (unsigned long long)m->sizes[owner], ps->lens[owner]);
    return mm__fail(ps->bad, "freestack: buckets %u and %llu are both #%u of memory %u",
                    ps->start[owner][pos], (unsigned long long)b, pos, owner);
}

/* A table position no bucket has taken yet: no bucket id, and not a byte
 * repeated, so that fill_unplaced stays a loop of wide stores where GCC
 * would call memset, whose path for large sizes (rep stosb) callgrind
 * counts as an instruction per byte. */
#define FS_UNPLACED 0xFFFFFFFEu
static_assert(FS_UNPLACED >= FS_MAX_BUCKETS, "no bucket id");

static void fill_unplaced(uint32_t *ids, uint64_t n) {
    uint64_t k = 0;
    for (; n - k >= 16; k += 16)
        for (unsigned j = 0; j < 16; j++) ids[k + j] = FS_UNPLACED;
    for (; k < n; k++) ids[k] = FS_UNPLACED;
}

/* Puts buckets [b, end), whose records rec holds, at the table positions
 * the records name; with skip, not those whose bit is set in it (at most
 * 64 buckets then, from a multiple of 64 on). Returns the first bucket
 * whose record names no free position, or end. */
static mm_always_inline uint64_t place(const fs_parse *ps, const uint8_t *rec, uint64_t b,
                                       uint64_t end, uint64_t skip) {
    if (b < end) do {
        if (skip && (skip >> (b % 64) & 1)) continue;
        unsigned owner = rec[0];
        uint32_t pos = mm_get_u32(rec + 1);
        if (mm_unlikely(pos >= ps->lens[owner] || ps->start[owner][pos] != FS_UNPLACED)) break;
        ps->start[owner][pos] = (uint32_t)b;
    } while (rec += FS_RECORD_BYTES, ++b < end);
    return b;
}

/* Places every bucket that is neither a chunk nor free. Between claimed
 * buckets, in words of claimed bits that are zero (most of them), the loop
 * tests nothing but the record. */
static int parse_records(mm *m, const fs_parse *ps) {
    uint8_t buf[FS_BATCH * FS_RECORD_BYTES];
    for (uint64_t b = 0; b < m->nbuckets;) {
        const uint8_t *rec;
        uint64_t run;
        int err = entries_view(m, RECORDS, b, m->nbuckets - b, buf, &rec, &run);
        if (err) return err;
        /* Bucket x's record is at rec + (x - b0) * 5. */
        uint64_t b0 = b;
        for (uint64_t end = b + run; b < end;) {
            uint64_t w = b / 64, stop;
            if (ps->claimed[w]) {
                stop = (w + 1) * 64 < end ? (w + 1) * 64 : end;
                b = place(ps, rec + (b - b0) * FS_RECORD_BYTES, b, stop, ps->claimed[w]);
            } else {
                /* Up to the next word with a claimed bit, or the view's end. */
                uint64_t last = (end - 1) / 64;
                while (w < last && !ps->claimed[w + 1]) w++;
                stop = (w + 1) * 64 < end ? (w + 1) * 64 : end;
                b = place(ps, rec + (b - b0) * FS_RECORD_BYTES, b, stop, 0);
            }
            if (b < stop) return record_error(m, ps, b, rec + (b - b0) * FS_RECORD_BYTES);
        }
    }
    return MM_OK;
}

/* Reads the whole layout into m (tables, sizes, counters, the state),
 * validating every invariant of the offset table, which imply those of
 * impl/mm_internal.h; bad is the error for a broken one (MM_ECORRUPT on
 * open, MM_ECHECK in check). Writes nothing. A RAM memory's entries are
 * read where they lie; a check's parse (m->ram NULL) copies them, so that
 * check compares the two readings. */
static int parse(mm *m, int bad) {
    uint8_t copy[FS_OFF_SEG0];
    const uint8_t *h = m->ram;
    if (!h) {
        int err = mm__hread(m, 0, copy, sizeof copy);
        if (err) return err;
        h = copy;
    }
    if (memcmp(h + MM_OFF_MAGIC, MM_MAGIC, 3) != 0 || h[MM_OFF_VERSION] != FS_VERSION)
        return mm__fail(bad, "freestack: the header lost its magic or version %u (byte 3 is %u)",
                        FS_VERSION, h[MM_OFF_VERSION]);
    uint32_t bucket_pages = mm_get_u16(h + FS_OFF_BUCKET_PAGES);
    if (bucket_pages == 0) return mm__fail(bad, "freestack: the bucket size is 0 pages");
    mm__set_bucket_pages(m, bucket_pages);
    int err = fs_new_state(m);
    if (err) return err;
    fs_state *s = m->ds;
    s->last = h[FS_OFF_LAST];
    uint64_t count = mm_get_u32(h + FS_OFF_COUNT), depth = mm_get_u32(h + FS_OFF_DEPTH);
    uint64_t nchunks = mm_get_u32(h + FS_OFF_CHUNKS);
    if (count > FS_MAX_BUCKETS || nchunks > FS_DIR_ENTRIES || capacity(s, nchunks) < count)
        return mm__fail(bad, "freestack: %llu buckets carved with %llu chunks (at most %u of "
                        "%u buckets, holding %llu entries each)", (unsigned long long)count,
                        (unsigned long long)nchunks, FS_DIR_ENTRIES, FS_MAX_BUCKETS,
                        (unsigned long long)s->chunk_entries);
    if (depth + nchunks > count)
        return mm__fail(bad, "freestack: %llu free and %llu chunks, but only %llu buckets "
                        "carved", (unsigned long long)depth, (unsigned long long)nchunks,
                        (unsigned long long)count);
    if (mm_memory_size(m->mem) < mm__bucket_page(m, count))
        return mm__fail(bad, "freestack: %llu buckets of %u pages need %llu pages, but the "
                        "linear memory holds %llu", (unsigned long long)count, bucket_pages,
                        (unsigned long long)mm__bucket_page(m, count),
                        (unsigned long long)mm_memory_size(m->mem));
    fs_parse ps; /* not zeroed: most of it is written below */
    ps.bad = bad;
    ps.lens[FS_NO_OWNER] = 0;
    ps.start[FS_NO_OWNER] = NULL;
    uint64_t owned = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        m->sizes[i] = mm_get_u64(i + 1 == s->last ? h + FS_OFF_LAST_SIZE : h + FS_OFF_SIZES + 8 * i);
        uint64_t len = mm__buckets_for(m, m->sizes[i]);
        if (len > count - owned)
            return mm__fail(bad, "freestack: memory %u has %llu pages, more than the %llu "
                            "carved buckets hold", i, (unsigned long long)m->sizes[i],
                            (unsigned long long)count);
        owned += len;
        ps.lens[i] = (uint32_t)len;
    }
    if (owned + depth + nchunks != count)
        return mm__fail(bad, "freestack: the sizes need %llu buckets, + %llu free + %llu "
                        "chunks != %llu carved", (unsigned long long)owned,
                        (unsigned long long)depth, (unsigned long long)nchunks,
                        (unsigned long long)count);
    m->nbuckets = count;
    m->nfree = depth;
    m->nmeta = nchunks;
    m->header_bytes = FS_HEADER_BYTES + nchunks * m->bucket_bytes;
    err = mm__tables_carve(m, ps.lens, 0);
    if (err) return err;
    fill_unplaced(m->table_block, owned);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        m->tables[i].len = ps.lens[i];
        ps.start[i] = m->tables[i].ids;
    }
    uint64_t words = (count + 63) / 64;
    ps.claimed = calloc(words ? words : 1, sizeof *ps.claimed);
    err = ps.claimed ? MM_OK : mm__fail(MM_ENOMEM, "cannot allocate %llu words to parse "
                                        "buckets", (unsigned long long)words);
    if (!err) err = fs_reserve(&s->chunks, &s->chunks_cap, nchunks);
    if (!err) err = fs_reserve(&s->stack, &s->stack_cap, count);
    /* Chunks first: the entries of the other two live in them. */
    if (!err) err = parse_ids(m, &ps, FS_DIR, nchunks, s->chunks);
    if (!err) err = parse_ids(m, &ps, SLOTS, depth, s->stack);
    /* owned + depth + nchunks == count, so once every unclaimed bucket has
     * a distinct position, every position has its bucket. */
    if (!err) err = parse_records(m, &ps);
    free(ps.claimed);
    return err;
}

static int fs_load(mm *m) {
    return parse(m, MM_ECORRUPT);
}

static int differs(const uint32_t *a, const uint32_t *b, uint64_t n) {
    return n && memcmp(a, b, (size_t)n * sizeof *a) != 0;
}

/* Parses the persisted layout afresh and compares it with the heap. */
static int fs_check(mm *m) {
    mm *p = calloc(1, sizeof *p);
    if (!p) return mm__fail(MM_ENOMEM, "cannot allocate a manager to check against");
    p->mem = m->mem;
    p->ops = m->ops;
    int err = parse(p, MM_ECHECK);
    const fs_state *s = m->ds, *ps = p->ds;
    if (!err && (p->bucket_pages != m->bucket_pages || p->nbuckets != m->nbuckets ||
                 p->nfree != m->nfree || p->nmeta != m->nmeta))
        err = mm__fail(MM_ECHECK, "freestack: the header says %u pages per bucket, %llu "
                       "carved, %llu free, %llu chunks; the heap %u, %llu, %llu, %llu",
                       p->bucket_pages, (unsigned long long)p->nbuckets,
                       (unsigned long long)p->nfree, (unsigned long long)p->nmeta,
                       m->bucket_pages, (unsigned long long)m->nbuckets,
                       (unsigned long long)m->nfree, (unsigned long long)m->nmeta);
    if (!err && ps->last != s->last)
        err = mm__fail(MM_ECHECK, "freestack: the last size is memory %d's, the heap says "
                       "memory %d's", (int)ps->last - 1, (int)s->last - 1);
    if (!err && s->stack_cap < m->nbuckets)
        err = mm__fail(MM_ECHECK, "freestack: the heap stack has room for %llu ids, not for "
                       "every one of the %llu carved buckets (a free could not push them)",
                       (unsigned long long)s->stack_cap, (unsigned long long)m->nbuckets);
    if (!err && differs(s->stack, ps->stack, m->nfree))
        err = mm__fail(MM_ECHECK, "freestack: the persisted stack differs from the heap's");
    if (!err && differs(s->chunks, ps->chunks, m->nmeta))
        err = mm__fail(MM_ECHECK, "freestack: the persisted directory differs from the heap's");
    for (unsigned i = 0; i < MM_MAX_MEMORIES && !err; i++) {
        if (p->sizes[i] != m->sizes[i])
            err = mm__fail(MM_ECHECK, "freestack: memory %u: the header says %llu pages, the "
                           "heap %llu", i, (unsigned long long)p->sizes[i],
                           (unsigned long long)m->sizes[i]);
        else if (differs(p->tables[i].ids, m->tables[i].ids, m->tables[i].len))
            err = mm__fail(MM_ECHECK, "freestack: memory %u: the records give another bucket "
                           "order than the heap's table", i);
    }
    mm__destroy(p);
    return err;
}

/* ------------------------------------------------------------------------
 * Upgrade from V1
 * ---------------------------------------------------------------------- */

static int fs_upgrade_v1(mm *m, const struct mm_v1_image *v1) {
    int err = fs_new_state(m);
    if (!err) err = mm__v1_adopt(m, v1);
    if (err) return err;
    fs_state *s = m->ds;
    err = fs_reserve(&s->stack, &s->stack_cap, m->nbuckets);
    if (err) return err;
    /* Descending, so that the lowest unallocated bucket is on top. */
    uint64_t depth = 0, nchunks = 0, count = m->nbuckets;
    for (uint32_t b = v1->count; b-- > 0;)
        if (v1->owners[b] == MM_V1_UNALLOCATED) s->stack[depth++] = b;
    /* Chunks from the stack first, so that V1's holes are used before the
     * linear memory grows. Each carved chunk is a bucket more to cover. */
    while (capacity(s, nchunks) < count) {
        err = fs_reserve(&s->chunks, &s->chunks_cap, nchunks + 1);
        if (err) return err;
        s->chunks[nchunks++] = depth ? s->stack[--depth] : (uint32_t)count++;
    }
    if (count > FS_MAX_BUCKETS)
        return mm__fail(MM_EFULL, "upgrading %llu V1 buckets needs %llu chunks, past "
                        "freestack's %u buckets", (unsigned long long)m->nbuckets,
                        (unsigned long long)nchunks, FS_MAX_BUCKETS);
    err = fs_reserve(&s->stack, &s->stack_cap, count);
    if (err) return err; /* nothing written: the memory is still V1 */

    /* The journal first: from its commit on, the next open completes the
     * upgrade from it (or a V1 design rolls it back), whatever of the
     * writes below landed. V1's owner bytes give way to zeros; then the
     * entries are written. */
    err = mm__upgrade_begin(m, mm__bucket_page(m, count), FS_UPGRADING);
    static const uint8_t zeros[FS_HEADER_BYTES - FS_OFF_SEG0];
    if (!err) err = mm__hwrite(m, FS_OFF_SEG0, zeros, sizeof zeros);
    for (unsigned i = 0; i < MM_MAX_MEMORIES && !err; i++)
        err = write_records(m, i, 0, m->tables[i].len);
    if (!err) err = write_slots(m, 0, depth);
    if (!err) err = write_dir(m, 0, nchunks);
    if (!err) {
        uint8_t c[FS_OFF_SIZES - FS_OFF_V1_COUNT] = {0};
        mm_put_u16(c + FS_OFF_BUCKET_PAGES - FS_OFF_V1_COUNT, (uint16_t)m->bucket_pages);
        mm_put_u32(c + FS_OFF_COUNT - FS_OFF_V1_COUNT, (uint32_t)count);
        mm_put_u32(c + FS_OFF_DEPTH - FS_OFF_V1_COUNT, (uint32_t)depth);
        mm_put_u32(c + FS_OFF_CHUNKS - FS_OFF_V1_COUNT, (uint32_t)nchunks);
        static_assert(FS_OFF_RESERVED + 11 == FS_OFF_SIZES, "reserved ends at the sizes");
        err = mm__hwrite(m, FS_OFF_V1_COUNT, c, sizeof c);
    }
    if (!err) err = mm__upgrade_end(m, FS_VERSION);
    if (err) return err;
    m->nbuckets = count;
    m->nfree = depth;
    m->nmeta = nchunks;
    m->header_bytes = FS_HEADER_BYTES + nchunks * m->bucket_bytes;
    return MM_OK;
}

const struct mm_ops mm_design_freestack = {
    .info = {.name = "freestack",
             .description = "free bucket ids on a persisted stack, owner records in chunks; "
                            "u32 ids, reads V1",
             .max_buckets = FS_MAX_BUCKETS,
             .flags = MM_DESIGN_CAN_FREE | MM_DESIGN_READS_V1 | MM_DESIGN_REUSES_ALL},
    .version = FS_VERSION,
    .upgrading_version = FS_UPGRADING,
    .format = fs_format,
    .load = fs_load,
    .upgrade_v1 = fs_upgrade_v1,
    .grow = fs_grow,
    .free = fs_free,
    .check = fs_check,
    .destroy = fs_destroy,
    .heap_bytes = fs_heap_bytes,
};

uint64_t *mm__test_freestack_stack_cap(mm *m) {
    return &((fs_state *)m->ds)->stack_cap;
}
