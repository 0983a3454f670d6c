/*
 * The interface between the manager (manager.c) and the designs
 * (design_*.c). Not installed; only the library's own files include it.
 *
 * Glossary
 *   linear memory   the growable array of 64 KiB pages (mm_memory)
 *   bucket          bucket_pages consecutive pages of the linear memory;
 *                   bucket b starts at page data_page + b * bucket_pages
 *   carved          a bucket below nbuckets: the linear memory holds it
 *   table           the in-heap, ordered list of a memory's buckets; the
 *                   k-th entry holds virtual bytes [k, k+1) * bucket_bytes
 *   header          the design's persisted layout, at the start of page 0
 *
 * Division of work
 *   The manager checks arguments, translates virtual offsets through the
 *   tables, splits spans at bucket edges, keeps sizes in the heap, discards
 *   freed buckets and walks the invariants that hold for every design. A
 *   design owns its header bytes and its allocation policy: which bucket a
 *   grow takes, how a free is recorded, how the tables are rebuilt on open.
 *
 * Invariants every design keeps (checked by mm__check_tables):
 *   table_len(i) == ceil(size(i) / bucket_pages)            for each memory i
 *   every table entry < nbuckets, and no bucket is in two tables or twice
 *   sum(table_len) + nfree + nmeta == nbuckets
 *   linear memory pages >= data_page + nbuckets * bucket_pages
 */
#ifndef MM_INTERNAL_H
#define MM_INTERNAL_H

#include "mmfree.h"
#include "mm_quote.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define mm_likely(x) __builtin_expect(!!(x), 1)
#define mm_unlikely(x) __builtin_expect(!!(x), 0)
#define mm_noinline __attribute__((noinline))
#define mm_always_inline inline __attribute__((always_inline))
#define mm_printf_like(f, a) __attribute__((format(printf, f, a)))
#else
#define mm_likely(x) (x)
#define mm_unlikely(x) (x)
#define mm_noinline
#define mm_always_inline inline
#define mm_printf_like(f, a)
#endif

/* ------------------------------------------------------------------------
 * Little-endian encoding: every persisted integer goes through these.
 * ---------------------------------------------------------------------- */

static inline void mm_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
/* Written out byte by byte, not as loops: GCC merges such stores and loads
 * into one little-endian access, and does not merge the loops. */
static inline void mm_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void mm_put_u64(uint8_t *p, uint64_t v) {
    mm_put_u32(p, (uint32_t)v);
    mm_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t mm_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t mm_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t mm_get_u64(const uint8_t *p) {
    return (uint64_t)mm_get_u32(p) | (uint64_t)mm_get_u32(p + 4) << 32;
}

/** Whether n bytes at p all equal v: every open checks a header's tens of
 *  KiB of unused bytes. Each byte equals the next and the first is v: one
 *  memcmp, SIMD in glibc. wasi-libc's memcmp is a byte loop (about 20
 *  metered Wasm instructions a byte), so Wasm compares eight bytes a load,
 *  four loads between exits. */
static inline bool mm_all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    if (n == 0) return true;
#if defined(__wasm__)
    const uint64_t pattern = 0x0101010101010101ull * v;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 32 <= n && !diff; i += 32)
        diff = (mm_get_u64(p + i) ^ pattern) | (mm_get_u64(p + i + 8) ^ pattern) |
               (mm_get_u64(p + i + 16) ^ pattern) | (mm_get_u64(p + i + 24) ^ pattern);
    for (; i < n && !diff; i++) diff = p[i] ^ v;
    return diff == 0;
#else
    return p[0] == v && memcmp(p, p + 1, n - 1) == 0;
#endif
}

/* ------------------------------------------------------------------------
 * Bit scans. The result for 0 is defined (64), so callers need no guard.
 * ---------------------------------------------------------------------- */

static inline unsigned mm_ctz64(uint64_t x) {
#if defined(__GNUC__)
    return x ? (unsigned)__builtin_ctzll(x) : 64u;
#else
    unsigned n = 0;
    if (!x) return 64u;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/** Bit b of an array of 64-bit words: the one bitmap accessor set. */
static inline bool mm_bit_get(const uint64_t *words, uint64_t b) {
    return (words[b / 64] >> (b % 64)) & 1;
}
static inline void mm_bit_set(uint64_t *words, uint64_t b) {
    words[b / 64] |= 1ull << (b % 64);
}
static inline void mm_bit_clear(uint64_t *words, uint64_t b) {
    words[b / 64] &= ~(1ull << (b % 64));
}
/** Bits [0, n) of words[0 .. nwords) set, the others clear. */
static inline void mm_bits_set_below(uint64_t *words, size_t nwords, uint32_t n) {
    memset(words, 0xFF, n / 64 * sizeof *words);
    memset(words + n / 64, 0, (nwords - n / 64) * sizeof *words);
    if (n % 64) words[n / 64] = (1ull << (n % 64)) - 1;
}

/** Index of the highest set bit; 64 for 0. */
static inline unsigned mm_fls64(uint64_t x) {
#if defined(__GNUC__)
    return x ? 63u - (unsigned)__builtin_clzll(x) : 64u;
#else
    unsigned n = 0;
    if (!x) return 64u;
    while (x >>= 1) n++;
    return n;
#endif
}

/** Number of set bits. */
static inline unsigned mm_popcount64(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_popcountll(x);
#else
    unsigned n = 0;
    for (; x; x &= x - 1) n++;
    return n;
#endif
}

/* ------------------------------------------------------------------------
 * The manager's state, shared with the designs.
 * ---------------------------------------------------------------------- */

/** The ordered buckets of one memory. */
typedef struct mm_table {
    uint32_t *ids; /* its own allocation, or a part of m->table_block */
    uint32_t len, cap;
} mm_table;

/** mm_grow's entry for one handle (struct mm's `grow`). */
typedef int (*mm_grow_fn)(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);

struct mm {
    mm_memory *mem;
    const struct mm_ops *ops;
    void *ds; /* the design's own heap state */
    /* What mm_grow calls: the design's fast entry, the manager's general
     * path, or a refusal once the handle is broken. */
    mm_grow_fn grow;

    uint32_t bucket_pages;
    uint64_t bucket_bytes;
    unsigned bucket_shift; /* log2(bucket_bytes) when it is a power of two, else 0 */
    uint64_t data_page;    /* first page of bucket 0 */

    /* The fast path of read/write (manager.c): where bucket 0's bytes are,
     * for a RAM memory and a bucket size that is a power of two; NULL
     * otherwise. Refreshed whenever the manager grows the linear memory,
     * which may move a RAM memory. */
    uint8_t *fast_base;
    /* The same for header writes: the RAM memory's bytes (NULL for other
     * backings). */
    uint8_t *ram;
    /* The linear memory's size in pages (&mem->pages), and the size up to
     * which growing it is only a store: within a RAM memory's reservation,
     * below the suspect pages and the end of the design's last possible
     * bucket; for another backing, the pages it holds already. So a fast
     * path that finds its pages ready knows the bucket within the maximum,
     * and a grow within the pages a backing holds makes no call. */
    uint64_t *mem_pages;
    uint64_t ready_pages;

    /* The tables' one allocation at load (mm__tables_carve): a table whose
     * ids lie in it moves to an allocation of its own when it first grows
     * past its room (mm__table_grow). */
    uint32_t *table_block;
    uint64_t table_block_bytes;

    uint64_t nbuckets; /* carved */
    uint64_t nfree;    /* carved and unallocated */
    uint64_t nmeta;    /* carved and holding the design's metadata */

    /* Pages [suspect_lo, suspect_hi) lay past the last carved bucket when
     * the memory was opened: an interrupted grow may have left bytes there,
     * so they are discarded before any bucket is carved over them.
     * suspect_lo is UINT64_MAX when there are none (mm__ensure_pages). */
    uint64_t suspect_lo, suspect_hi;

    uint64_t header_bytes;
    uint64_t hbytes_written, hwrites;
    /* broken: refuse changes (mm_grow and mm_free test it). A read-only
     * manager is broken from the start, so that its refusal costs the hot
     * paths no test of their own; mem->readonly says which error to give. */
    bool broken;
    /* Durable mode (MM_OPEN_SYNC): barriers around every commit, after
     * every grow of the linear memory and after a format's discard. */
    bool durable;
    /* An interrupted V1 upgrade is being redone from its journal: the
     * journal and the "upgrading" version byte are in place already. */
    bool upgrade_redo;
    /* tables[] is set (mm__tables_carve), so destroy frees what it holds. */
    bool tables_set;
    uint64_t journal_page; /* the journal of an upgrade under way */
    /* What a V1 load read past an interrupted operation, written back in V1
     * bytes once the open is accepted (mm__v1_repair), so that an open
     * refused later (a bucket size that differs) changes nothing. A
     * read-only manager cannot write it back and keeps it instead: its
     * check compares the header as the repair would leave it. */
    struct mm_v1_image *v1_repair;
#ifdef MM_TEST_INJECT
    unsigned inject;     /* the extra work of this handle's design (manager.c) */
    uint32_t inject_arg; /* its count, for MM_TEST_INJECT's spin */
#endif

    /* Last, and not zeroed by mm_open, which zeroes only the fields above:
     * a load sets every size from the header and carves every table, an
     * upgrade takes V1's (mm__v1_adopt), and a format starts from
     * mm__tables_clear. Zeroing these 6 KB first cost a reopen of 1,024
     * buckets a seventh of its instructions. */
    uint64_t sizes[MM_MAX_MEMORIES]; /* pages */
    mm_table tables[MM_MAX_MEMORIES];
};
/* Only the struct's tail padding may follow the tables. */
static_assert(offsetof(struct mm, sizes) + sizeof(uint64_t[MM_MAX_MEMORIES]) ==
                      offsetof(struct mm, tables) &&
                  sizeof(struct mm) - offsetof(struct mm, tables) -
                          sizeof(mm_table[MM_MAX_MEMORIES]) < _Alignof(struct mm),
              "sizes and tables end the handle: mm_open zeroes every field before them");

/* ------------------------------------------------------------------------
 * What a design supplies.
 *
 * Layout identification: every layout starts with the magic "MGR" and a
 * version byte at offset 3. The manager reads those four bytes and calls
 * load, upgrade_v1, or refuses, so no design parses a foreign layout.
 * ---------------------------------------------------------------------- */

#define MM_MAGIC "MGR"
#define MM_OFF_MAGIC 0
#define MM_OFF_VERSION 3
#define MM_V1_VERSION 1

/** A parsed and validated V1 header (see layout_v1.c). */
struct mm_v1_image;

struct mm_ops {
    mm_design_info info; /* first, so the registry can hand out &ops->info */

    uint8_t version;           /* byte 3 of this design's layout */
    uint8_t upgrading_version; /* byte 3 while an upgrade from V1 is under way; 0: none */

    /* Writes a fresh header for m->bucket_pages and sets data_page. The
     * linear memory is empty, or holds data the caller asked to overwrite. */
    int (*format)(mm *m);
    /* Reads this design's header (version already matched), sets
     * bucket_pages and data_page, rebuilds tables, sizes and counters.
     * Writes nothing. MM_ECORRUPT with a detail on any inconsistency. */
    int (*load)(mm *m);
    /* Rewrites a V1 header (validated, bucket size already agreed) as this
     * design's layout, keeping every memory's buckets and bytes, and sets
     * up the heap state as load would. NULL when the design cannot. */
    int (*upgrade_v1)(mm *m, const struct mm_v1_image *v1);
    /* Persists size(id) = new_size and takes nnew more buckets for id, and
     * on success sets m->sizes[id] (so that mm_grow ends in this call).
     * The manager has checked the arguments and reserved room for nnew
     * entries in the table. The design picks the buckets, grows the linear
     * memory if it must (mm__ensure_pages), writes its header, appends the
     * bucket ids with mm__table_push and updates nbuckets/nfree/nmeta. On
     * error nothing may have changed (MM_EIO from a header write aside). */
    int (*grow)(mm *m, unsigned id, uint64_t new_size, uint64_t nnew);
    /* mm_grow itself for this design over a RAM memory (m->ram is set), or
     * NULL: the design's common case (mm__grow_args) in one function, and
     * mm__grow_general for the rest. m is not NULL. */
    mm_grow_fn grow_fast;
    /* Marks every bucket of id unallocated and its size 0 in the header and
     * in the design's heap state, and updates nfree/nmeta. The manager
     * empties the table and the size afterwards. NULL: cannot free. */
    int (*free)(mm *m, unsigned id);
    /* Walks the design's own invariants, comparing the persisted header with
     * the heap state. Returns MM_ECHECK via mm__fail on the first broken one. */
    int (*check)(mm *m);
    /* Releases the design's heap state (m->ds). May be NULL. */
    void (*destroy)(mm *m);
    /* The bytes the design's heap state holds (what destroy releases), for
     * mm_stats_get. NULL: none. */
    uint64_t (*heap_bytes)(const mm *m);
};

/** The registered design of that name, or NULL (designs.c). */
const struct mm_ops *mm__registry_find(const char *name);
/** The design whose layout (or interrupted upgrade) has that version byte. */
const struct mm_ops *mm__registry_by_version(uint8_t version);

/* ------------------------------------------------------------------------
 * Services the manager offers to designs.
 * ---------------------------------------------------------------------- */

/** Sets the calling thread's error detail and returns err. */
int mm__fail(int err, const char *fmt, ...) mm_printf_like(2, 3);
/** Frees a manager and everything it holds (the design's state, its
 *  tables), as mm_close does, without touching its memory. */
void mm__destroy(mm *m);
/** What a design's fast case returns to decline: take its general path.
 *  No mm_error, and never returned past the design. */
#define MM_EAGAIN_INTERNAL (-1)
/** The system error errnum in words ("No space left on device"), in buf,
 *  for error details: a number alone means nothing to a reader. */
enum { MM_ERRNO_TEXT = 96 };
const char *mm__errno_text(int errnum, char buf[MM_ERRNO_TEXT]);

/** Reads header bytes. */
int mm__hread(mm *m, uint64_t off, void *buf, size_t len);
/** mm__hwrite's general path: any backing, errors, the broken mark. */
int mm__hwrite_slow(mm *m, uint64_t off, const void *buf, size_t len);
/** mm__hcommit's general path: mm__hwrite_slow between two barriers. */
int mm__hcommit_slow(mm *m, uint64_t off, const void *buf, size_t len);
/** The RAM path every header write shares: true when it wrote. Inline, so a
 *  field of constant size becomes one store on a RAM memory. */
static inline bool mm__hwrite_ram(mm *m, uint64_t off, const void *buf, size_t len) {
    uint64_t bytes = *m->mem_pages * MM_PAGE_SIZE;
    if (mm_likely(m->ram != NULL && off <= bytes && len <= bytes - off)) {
        memcpy(m->ram + off, buf, len);
        m->hbytes_written += len;
        m->hwrites++;
        return true;
    }
    return false;
}
/** Writes header bytes and counts them; a failure marks m broken. */
static inline int mm__hwrite(mm *m, uint64_t off, const void *buf, size_t len) {
    return mm__hwrite_ram(m, off, buf, len) ? MM_OK : mm__hwrite_slow(m, off, buf, len);
}
/** Writes an operation's commit: the one small write that makes what the
 *  operation wrote before it visible (../shared/DESIGN.md, crash
 *  atomicity). In durable mode a barrier comes before it, so that
 *  everything written before reaches the storage first, and one after it,
 *  so that the operation is durable when it returns. A RAM memory keeps
 *  nothing past the process and has no barrier: the same store as
 *  mm__hwrite, so commits cost nothing when not durable. */
static inline int mm__hcommit(mm *m, uint64_t off, const void *buf, size_t len) {
    return mm__hwrite_ram(m, off, buf, len) ? MM_OK : mm__hcommit_slow(m, off, buf, len);
}
/** In durable mode, orders the storage (fdatasync); else nothing. A
 *  failure marks m broken: what was written may not have reached the disk. */
int mm__barrier(mm *m);

/** mm__ensure_pages's common case, which the designs' fast entries take
 *  alone: pages within the ready ones, the linear memory's size moved up
 *  to them with a store. False: nothing done, the general path's turn.
 *  (The hint keeps the store in line: out of line, GCC made it a jump
 *  back on every grow into a new bucket; callgrind, grow_pages.) */
static mm_always_inline bool mm__pages_ready(mm *m, uint64_t pages) {
    if (mm_unlikely(pages > m->ready_pages)) return false;
    if (mm_likely(pages > *m->mem_pages)) *m->mem_pages = pages;
    return true;
}
/** mm__ensure_pages's general path: grows the backing, zeroes suspect pages. */
int mm__prepare_pages(mm *m, uint64_t pages);
/** Makes pages [0, pages) ready to carve buckets in: grows the linear
 *  memory to at least pages, and zeroes pages that held bytes past the last
 *  carved bucket when the memory was opened. Designs call it before they
 *  carve buckets or write into newly carved ones. Inline: most grows only
 *  move the size within a RAM memory's reservation. */
static inline int mm__ensure_pages(mm *m, uint64_t pages) {
    return mm__pages_ready(m, pages) ? MM_OK : mm__prepare_pages(m, pages);
}
/** The first page of bucket b; for b = nbuckets, the end of the last one. */
static inline uint64_t mm__bucket_page(const mm *m, uint64_t b) {
    return m->data_page + b * m->bucket_pages;
}

/** Reallocates a table of m to hold n more entries, and at most limit in
 *  all (so that room in a table also bounds a grow by the design's maximum). */
int mm__table_grow(const mm *m, mm_table *t, uint64_t n, uint64_t limit);
/** Gives the empty tables of a load lens[i] entries of room each, out of
 *  one allocation: a memory's tables all at once, not 255 allocations.
 *  spare entries more follow the last table's (scratch for the load). */
int mm__tables_carve(mm *m, const uint32_t lens[MM_MAX_MEMORIES], uint64_t spare);
/** Every size zero and every table empty, as a format starts (a load
 *  sets both from the header instead, an upgrade from V1's). */
void mm__tables_clear(mm *m);
/** Makes room for n more entries in a table of m. */
static inline int mm__table_reserve(const mm *m, mm_table *t, uint64_t n) {
    return mm_likely(n <= (uint64_t)(t->cap - t->len)) ? MM_OK
                                                       : mm__table_grow(m, t, n, UINT32_MAX);
}
/** Whether a table's ids lie in m->table_block. */
static inline bool mm__table_in_block(const mm *m, const mm_table *t) {
    return t->ids && t->ids >= m->table_block &&
           (uint64_t)(t->ids - m->table_block) * sizeof *t->ids < m->table_block_bytes;
}
/** Appends an entry; room must have been reserved. */
static inline void mm__table_push(mm_table *t, uint32_t bucket) {
    t->ids[t->len++] = bucket;
}
/** Highest bucket id in a table, or UINT32_MAX for an empty one. */
static inline uint32_t mm__table_last(const mm_table *t) {
    return t->len ? t->ids[t->len - 1] : UINT32_MAX;
}

/** Sets the bucket size and the derived fields. */
void mm__set_bucket_pages(mm *m, uint32_t bucket_pages);
/** ceil(pages / bucket_pages): the buckets a memory of that size holds. */
static inline uint64_t mm__buckets_for(const mm *m, uint64_t pages) {
    return pages / m->bucket_pages + (pages % m->bucket_pages != 0);
}

/** mm_grow's general path: every check with its error, then ops->grow. */
int mm__grow_general(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);

/** mm_grow for a design without a fast entry of its own (and for one whose
 *  fast entry does not serve the state it is in): mm__grow_args in line,
 *  then ops->grow; the rest takes mm__grow_general. */
int mm__grow_common(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);

/** The common case of mm__grow_general, for the designs' fast entries: a
 *  valid id and 1 <= pages <= bucket_pages, so that the grow takes at most
 *  one new bucket, with room for it in the table. (A broken handle never
 *  gets here: its m->grow refuses.) Sets *new_size and *nnew (0 or 1);
 *  false: take the general path, which also reports the errors. The caller
 *  sets *old_pages once it has succeeded: a refused grow leaves it alone.
 *  No overflow: the new size is at most (len + 1) * bucket_pages, below
 *  2^32 * 2^16 <= MM_MAX_PAGES + 1. */
static inline bool mm__grow_args(const mm *m, unsigned id, uint64_t pages, uint64_t *new_size,
                                 uint64_t *nnew) {
    /* pages - 1 wraps for pages == 0. */
    if (mm_unlikely(id >= MM_MAX_MEMORIES || pages - 1 >= m->bucket_pages)) return false;
    const mm_table *t = &m->tables[id];
    *new_size = m->sizes[id] + pages;
    *nnew = *new_size > (uint64_t)t->len * m->bucket_pages;
    return mm_likely(!*nnew || t->len != t->cap);
}
/** The invariants above, for load (err = MM_ECORRUPT) and check (MM_ECHECK). */
int mm__check_tables(mm *m, int err);

/* ------------------------------------------------------------------------
 * The V1 layout, shared by v1, v1reclaim and every design that upgrades it
 * (layout_v1.c). Offsets from ../shared/v1-layout.md.
 * ---------------------------------------------------------------------- */

enum {
    MM_V1_OFF_COUNT = 4,        /* u16 buckets allocated */
    MM_V1_OFF_BUCKET_PAGES = 6, /* u16 */
    MM_V1_OFF_RESERVED = 8,     /* 32 bytes, zero */
    MM_V1_OFF_SIZES = 40,       /* 255 x u64 pages */
    MM_V1_OFF_OWNERS = 2080,    /* 32,768 x u8 memory id, 255 = unallocated */
    MM_V1_HEADER_BYTES = 34848,
    MM_V1_MAX_BUCKETS = 32768,
    MM_V1_UNALLOCATED = 255,
};

struct mm_v1_image {
    uint32_t count;        /* buckets allocated */
    uint32_t bucket_pages;
    uint64_t sizes[MM_MAX_MEMORIES];
    /* As recovered: 255 where an interrupted operation left an owner byte
     * that the state before or after it does not have (repairs counts them). */
    uint8_t owners[MM_V1_MAX_BUCKETS];
    uint8_t fixed[MM_V1_OFF_SIZES]; /* bytes 0..39 as stored, reserved ones included */
    uint32_t repairs;
    uint32_t stored_count; /* the count as stored, when count was lowered since */
};

/** Reads the V1 header of mem (magic and version already matched) into
 *  img and validates it against itself and the linear memory's size. With
 *  recover, what an interrupted grow or free of a V1-byte design leaves is
 *  read as the state before or after it (layout_v1.c, "Crashes"); without
 *  it, that is refused too. Errors: MM_ECORRUPT with a detail, MM_EIO. */
int mm__v1_read(mm_memory *mem, struct mm_v1_image *img, bool recover);
/** Rebuilds m's tables, sizes and counters from a validated V1 image:
 *  memory i owns the buckets whose owner byte is i, in ascending order. */
int mm__v1_adopt(mm *m, const struct mm_v1_image *img);
/** Writes a fresh V1 header with version byte `version` into m. */
int mm__v1_format(mm *m, uint8_t version);
/** load for the designs whose bytes are V1: read, validate, adopt. What an
 *  interrupted operation left (owner bytes the recovery dropped; with trim,
 *  also the count over unallocated buckets at the top, for a design that
 *  never reuses them) is kept in m->v1_repair for mm__v1_repair. */
int mm__v1_load(mm *m, bool trim);
/** Writes back m->v1_repair in V1 bytes and drops it: the owner bytes, then
 *  the count. The manager calls it once an open is accepted. */
int mm__v1_repair(mm *m);
/** Sets the owner byte of buckets ids[0..n) to owner, one write per run of
 *  adjacent buckets. */
int mm__v1_write_owners(mm *m, const uint32_t *ids, uint64_t n, uint8_t owner);
/** Persists a grow in V1 bytes. The last nnew entries of id's table are the
 *  new buckets (pushed by the caller); new_count is the bucket count after.
 *  Grows the linear memory first, then writes the count if it changed, the
 *  owner bytes (a run of adjacent buckets at once), and the size, which
 *  commits. On error the table entries are popped again. */
int mm__v1_persist_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew,
                        uint64_t new_count);
/** grow_fast for the V1-byte designs (ops->grow_fast): V1's grow into
 *  bucket `count` as stores into page 0, the rest through ops->grow or the
 *  general path. _reusing is for a design whose grow may take a free
 *  bucket (v1reclaim): while any is free, every grow is mm__grow_common's. */
int mm__v1_grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);
int mm__v1_grow_fast_reusing(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);
/** check for the V1-byte designs: the header is valid, clean V1 with this
 *  version byte (for a read-only handle that keeps a repair: V1 as the
 *  repair leaves it) and says exactly what the heap says; tables ascend. */
int mm__v1_check(mm *m, uint8_t version);

/* ------------------------------------------------------------------------
 * The V1 upgrade journal (layout_v1.c). An upgrade rewrites page 0 in
 * place; first it copies V1's header to a journal page past every bucket
 * of both layouts, so that a crash at any point can be completed (by the
 * design upgraded to) or rolled back (by a V1 design).
 * ---------------------------------------------------------------------- */

/** Starts an upgrade whose new layout's buckets end at end_page: grows the
 *  linear memory to hold them and the journal, writes the journal, then the
 *  version byte `upgrading`, which commits it. When m->upgrade_redo (both
 *  are in place) only makes the pages below end_page ready. The design
 *  writes its layout after this, in any order, then calls mm__upgrade_end. */
int mm__upgrade_begin(mm *m, uint64_t end_page, uint8_t upgrading);
/** Ends it: writes the final version byte (the commit), then drops the
 *  journal. */
int mm__upgrade_end(mm *m, uint8_t version);
/** Reads the V1 image from the journal of an interrupted upgrade to
 *  target (in its last page) and sets *page to the journal's page.
 *  Errors: MM_EINTERRUPTED (no journal: an upgrade by an older library),
 *  MM_ECORRUPT, MM_EIO, MM_ENOMEM. */
int mm__v1_read_journal(mm_memory *mem, const struct mm_ops *target, struct mm_v1_image *img,
                        uint64_t *page);
/** Rolls an interrupted upgrade to target back to the V1 memory it started
 *  from; the caller then loads it as V1. */
int mm__v1_rollback(mm *m, const struct mm_ops *target);

/* ------------------------------------------------------------------------
 * Test hooks: the designs' heap indexes that no stored byte reaches, so
 * that tests/test_check.c can break each invariant check() walks over
 * them, one at a time. Nothing else calls them.
 * ---------------------------------------------------------------------- */

/** v1reclaim: its free bitmap, bit b set when carved bucket b is free. */
uint64_t *mm__test_v1reclaim_free_bits(mm *m);
/** hbitmap15: its summary words (one per 64 leaf words) and, in *top, the
 *  word above them. */
uint64_t *mm__test_hbitmap15_summary(mm *m, uint64_t **top);
/** freestack: the room for ids in its in-heap stack. */
uint64_t *mm__test_freestack_stack_cap(mm *m);
/** list: the heap's copy of the commit slot's record (20 bytes), which a
 *  commit that names another memory writes to the record's own place. */
uint8_t *mm__test_list_slot_record(mm *m);

#endif /* MM_INTERNAL_H */
