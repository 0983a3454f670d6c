/*
 * The manager: the work every design shares. It checks arguments,
 * dispatches open to format/load/upgrade by the layout's version byte,
 * translates virtual offsets through the in-heap bucket tables, splits
 * spans at bucket edges, and walks the invariants common to all designs.
 * Each design (design_*.c) supplies only its header bytes and its policy.
 */
#include "memory_internal.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------
 * Registry
 * ---------------------------------------------------------------------- */

const mm_design_info *mm_design(const mm *m) {
    return &m->ops->info;
}

uint32_t mm_bucket_pages(const mm *m) {
    return m->bucket_pages;
}

/* ------------------------------------------------------------------------
 * Services for designs
 * ---------------------------------------------------------------------- */

int mm__hread(mm *m, uint64_t off, void *buf, size_t len) {
    return mm_memory_read(m->mem, off, buf, len);
}

int mm__hwrite_slow(mm *m, uint64_t off, const void *buf, size_t len) {
    int err = mm_memory_write(m->mem, off, buf, len);
    if (mm_unlikely(err)) {
        /* The header may now be half-written: refuse further changes rather
         * than build on it (LMDB's MDB_FATAL_ERROR). */
        m->broken = true;
        return err;
    }
    m->hbytes_written += len;
    m->hwrites++;
    return MM_OK;
}

/* Only this manager grows its memory (mm_open marks it managed), so the
 * RAM bytes it caches move only here. */
static void set_fast_base(mm *m) {
    uint8_t *base = m->mem->base;
    m->fast_base = base && m->bucket_shift ? base + m->data_page * MM_PAGE_SIZE : NULL;
    m->ram = base;
    m->ram_bytes = base ? m->mem->pages * MM_PAGE_SIZE : 0;
}

static inline int grow_linear(mm *m, uint64_t pages) {
    int err = mm__memory_grow(m->mem, pages - m->mem->pages, NULL);
    if (mm_likely(m->mem->base == m->ram && m->ram))
        m->ram_bytes = m->mem->pages * MM_PAGE_SIZE; /* grown in place */
    else
        set_fast_base(m);
    return err;
}

/* The cold side of mm__ensure_pages: growing the linear memory, and the
 * rarer zeroing of pages that held bytes when the memory was opened. */
mm_noinline static int prepare_pages(mm *m, uint64_t pages) {
    if (mm_unlikely(pages > m->suspect_lo)) {
        uint64_t hi = pages < m->suspect_hi ? pages : m->suspect_hi;
        int err = mm_memory_discard(m->mem, m->suspect_lo, hi - m->suspect_lo);
        if (err) return err;
        m->suspect_lo = hi < m->suspect_hi ? hi : UINT64_MAX;
    }
    return pages > m->mem->pages ? grow_linear(m, pages) : MM_OK;
}

int mm__ensure_pages(mm *m, uint64_t pages) {
    if (mm_likely(pages <= m->mem->pages && pages <= m->suspect_lo)) return MM_OK;
    return prepare_pages(m, pages);
}

int mm__table_grow(mm_table *t, uint64_t n) {
    uint64_t need = (uint64_t)t->len + n;
    if (need > UINT32_MAX)
        return mm__fail(MM_EOVERFLOW, "a memory cannot hold more than %u buckets", UINT32_MAX);
    uint64_t cap = t->cap ? (uint64_t)t->cap * 2 : 8;
    if (cap < need) cap = need;
    if (cap > UINT32_MAX) cap = UINT32_MAX;
    uint32_t *ids = realloc(t->ids, (size_t)cap * sizeof *ids);
    if (!ids) return mm__fail(MM_ENOMEM, "cannot grow a bucket table to %llu entries",
                              (unsigned long long)cap);
    t->ids = ids;
    t->cap = (uint32_t)cap;
    return MM_OK;
}

void mm__set_bucket_pages(mm *m, uint32_t bucket_pages) {
    m->bucket_pages = bucket_pages;
    m->bucket_bytes = (uint64_t)bucket_pages * MM_PAGE_SIZE;
    m->bucket_shift = (m->bucket_bytes & (m->bucket_bytes - 1)) ? 0 : mm_ctz64(m->bucket_bytes);
}

int mm__check_tables(mm *m, int err) {
    uint64_t end = mm__bucket_page(m, m->nbuckets);
    if (m->nbuckets > m->ops->info.max_buckets)
        return mm__fail(err, "%llu buckets are carved, past the design's maximum of %llu",
                        (unsigned long long)m->nbuckets,
                        (unsigned long long)m->ops->info.max_buckets);
    if (m->mem->pages < end)
        return mm__fail(err, "%llu buckets of %u pages end at page %llu, but the linear memory "
                        "holds only %llu pages", (unsigned long long)m->nbuckets,
                        m->bucket_pages, (unsigned long long)end,
                        (unsigned long long)m->mem->pages);
    uint64_t in_use = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t want = mm__buckets_for(m, m->sizes[i]);
        if (m->tables[i].len != want)
            return mm__fail(err, "memory %u has %llu pages, which need %llu buckets, but owns %u",
                            i, (unsigned long long)m->sizes[i], (unsigned long long)want,
                            m->tables[i].len);
        in_use += want;
    }
    if (in_use + m->nfree + m->nmeta != m->nbuckets)
        return mm__fail(err, "%llu buckets in use + %llu free + %llu metadata != %llu carved",
                        (unsigned long long)in_use, (unsigned long long)m->nfree,
                        (unsigned long long)m->nmeta, (unsigned long long)m->nbuckets);
    /* Each bucket in at most one table, at most once. */
    uint64_t words = (m->nbuckets + 63) / 64;
    uint64_t *seen = calloc(words ? words : 1, sizeof *seen);
    if (!seen) return mm__fail(MM_ENOMEM, "cannot allocate %llu words to check buckets",
                               (unsigned long long)words);
    int rc = MM_OK;
    for (unsigned i = 0; i < MM_MAX_MEMORIES && !rc; i++) {
        const mm_table *t = &m->tables[i];
        for (uint32_t k = 0; k < t->len; k++) {
            uint32_t b = t->ids[k];
            if (b >= m->nbuckets) {
                rc = mm__fail(err, "memory %u's bucket #%u is bucket %u, past the %llu carved",
                              i, k, b, (unsigned long long)m->nbuckets);
                break;
            }
            if (mm_bit_get(seen, b)) {
                rc = mm__fail(err, "bucket %u is used twice (again by memory %u at #%u)", b, i,
                              k);
                break;
            }
            mm_bit_set(seen, b);
        }
    }
    free(seen);
    return rc;
}

/* ------------------------------------------------------------------------
 * Open and close
 * ---------------------------------------------------------------------- */

static void destroy(mm *m) {
    if (m->ops->destroy) m->ops->destroy(m);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) free(m->tables[i].ids);
    free(m);
}

void mm_close(mm *m) {
    if (!m) return;
    m->mem->managed = false;
    destroy(m);
}

static int check_bucket_size(uint32_t asked, uint32_t stored) {
    if (asked && asked != stored)
        return mm__fail(MM_EBUCKET_SIZE, "the memory stores %u pages per bucket; %u were asked",
                        stored, asked);
    return MM_OK;
}

static int upgrade_v1(mm *m, uint32_t bucket_pages) {
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    int err = mm__v1_read(m->mem, img);
    if (!err) err = check_bucket_size(bucket_pages, img->bucket_pages);
    if (!err) {
        mm__set_bucket_pages(m, img->bucket_pages);
        err = m->ops->upgrade_v1(m, img);
    }
    free(img);
    return err;
}

static int open_existing(mm *m, uint32_t bucket_pages, unsigned flags) {
    uint8_t id[4];
    int err = mm_memory_read(m->mem, 0, id, sizeof id);
    if (err) return err;
    if (memcmp(id + MM_OFF_MAGIC, MM_MAGIC, 3) != 0)
        return mm__fail(MM_EMAGIC, "the memory starts with %02x %02x %02x, not \"MGR\": it holds "
                        "no memory-manager layout (format it explicitly to overwrite it)",
                        id[0], id[1], id[2]);
    const struct mm_ops *ops = m->ops;
    uint8_t version = id[MM_OFF_VERSION];
    if (version == ops->version) {
        err = ops->load(m);
        if (!err) err = check_bucket_size(bucket_pages, m->bucket_pages);
    } else if (ops->upgrading_version && version == ops->upgrading_version) {
        return mm__fail(MM_EINTERRUPTED, "an upgrade from V1 to %s was interrupted (version "
                        "byte %u); the header is partly rewritten and must be repaired",
                        ops->info.name, version);
    } else if (version == MM_V1_VERSION && ops->upgrade_v1) {
        /* Only when asked: an upgrade cannot be undone (v1 cannot read the
         * result), so a mistyped design must not start one. */
        if (!(flags & MM_OPEN_UPGRADE))
            return mm__fail(MM_EWRONG_DESIGN, "the memory holds the V1 layout, not %s: open it "
                            "with v1 or v1reclaim, or upgrade it in place to %s with "
                            "MM_OPEN_UPGRADE (mmrun --upgrade), after which v1 cannot open it",
                            ops->info.name, ops->info.name);
        if (m->mem->readonly)
            return mm__fail(MM_EREADONLY, "the memory holds the V1 layout and is open "
                            "read-only: upgrading it to %s would write it", ops->info.name);
        err = upgrade_v1(m, bucket_pages);
    } else {
        const struct mm_ops *other = mm__registry_by_version(version);
        if (!other)
            return mm__fail(MM_EVERSION, "layout version %u is not one this library knows",
                            version);
        if (version == other->upgrading_version)
            return mm__fail(MM_EINTERRUPTED, "an upgrade from V1 to %s was interrupted "
                            "(version byte %u)", other->info.name, version);
        return mm__fail(MM_EWRONG_DESIGN, "the memory holds a %s layout (version %u), not %s",
                        other->info.name, version, ops->info.name);
    }
    if (!err) err = mm__check_tables(m, MM_ECORRUPT);
    if (err) return err;
    /* A crash in a grow may have written pages it never carved. */
    uint64_t end = mm__bucket_page(m, m->nbuckets);
    if (end < m->mem->pages) {
        m->suspect_lo = end;
        m->suspect_hi = m->mem->pages;
    }
    return MM_OK;
}

int mm_open(mm_memory *mem, const char *design, uint32_t bucket_pages, unsigned flags,
            mm **out) {
    if (!mem || !design || !out) return mm__fail(MM_EINVAL, "mem, design or out is NULL");
    if (bucket_pages > MM_MAX_BUCKET_PAGES)
        return mm__fail(MM_EINVAL, "bucket size %u is past the maximum of %u pages",
                        bucket_pages, MM_MAX_BUCKET_PAGES);
    if (flags & ~(MM_OPEN_FORMAT | MM_OPEN_UPGRADE))
        return mm__fail(MM_EINVAL, "flags 0x%x: mm_open takes MM_OPEN_FORMAT and "
                        "MM_OPEN_UPGRADE (MM_OPEN_READONLY goes to mm_memory_file_open)", flags);
    const struct mm_ops *ops = mm__registry_find(design);
    if (!ops) {
        char name[MM_QUOTE_BYTES];
        return mm__fail(MM_EDESIGN_UNKNOWN, "no design is named %s", mm_quote(name, design));
    }
    if (mem->managed)
        return mm__fail(MM_EINVAL, "a manager is already open over this memory");
    if (mem->readonly && (mem->pages == 0 || (flags & MM_OPEN_FORMAT)))
        return mm__fail(MM_EREADONLY, "the memory is open read-only, so it cannot be "
                        "formatted (%s)", mem->pages ? "MM_OPEN_FORMAT was asked" : "it is empty");

    mm *m = calloc(1, sizeof *m);
    if (!m) return mm__fail(MM_ENOMEM, "cannot allocate a manager");
    m->mem = mem;
    m->ops = ops;
    m->suspect_lo = UINT64_MAX;
    int err;
    if (mem->pages == 0 || (flags & MM_OPEN_FORMAT)) {
        /* Old buckets must read as zero once a new layout hands them out. */
        err = mm_memory_discard(mem, 0, mem->pages);
        if (!err) {
            mm__set_bucket_pages(m, bucket_pages ? bucket_pages : MM_DEFAULT_BUCKET_PAGES);
            err = ops->format(m);
        }
    } else {
        err = open_existing(m, bucket_pages, flags);
    }
    if (err) {
        destroy(m);
        return err;
    }
#ifdef MM_TEST_SLOW_GROW
    /* A deliberate slowdown of one design's grow, for the regression
     * tracker's own test (tests/scripts); never defined in a normal build.
     * Decided here once, so the other designs pay nothing on their grows. */
    m->test_slow_grow = strcmp(ops->info.name, MM_TEST_SLOW_GROW) == 0;
#endif
    set_fast_base(m);
    m->readonly = m->broken = mem->readonly;
    mem->managed = true;
    /* Counters describe this handle's own writes, not the format's. */
    m->hbytes_written = m->hwrites = 0;
    *out = m;
    return MM_OK;
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */

/* Why a broken handle refuses a change: a failed header write, or a
 * read-only manager (mm_open breaks it from the start). */
static mm_noinline int refused(const mm *m) {
    if (m->readonly)
        return mm__fail(MM_EREADONLY, "this manager is read-only (its file memory was opened "
                        "with MM_OPEN_READONLY): the change was refused");
    return mm__fail(MM_EBROKEN, "an earlier header write failed on this handle");
}

static inline int check_id(const mm *m, unsigned id) {
    if (mm_likely(m && id < MM_MAX_MEMORIES)) return MM_OK;
    if (!m) return mm__fail(MM_EINVAL, "the manager handle is NULL");
    return mm__fail(MM_EINVAL, "memory id %u is not in 0..254", id);
}

int mm_size(const mm *m, unsigned id, uint64_t *pages) {
    int err = check_id(m, id);
    if (err) return err;
    if (!pages) return mm__fail(MM_EINVAL, "pages is NULL");
    *pages = m->sizes[id];
    return MM_OK;
}

int mm_grow(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    int err = check_id(m, id);
    if (mm_unlikely(err)) return err;
    uint64_t size = m->sizes[id];
    if (pages) {
        if (mm_unlikely(m->broken)) return refused(m);
        if (mm_unlikely(pages > MM_MAX_PAGES - size))
            return mm__fail(MM_EOVERFLOW, "memory %u of %llu pages cannot grow by %llu pages",
                            id, (unsigned long long)size, (unsigned long long)pages);
        uint64_t new_size = size + pages;
        uint64_t nnew = mm__buckets_for(m, new_size) - m->tables[id].len;
        if (nnew) {
            if (mm_unlikely(nnew > m->ops->info.max_buckets))
                return mm__fail(MM_EOVERFLOW, "%llu pages need %llu buckets; %s addresses at "
                                "most %llu", (unsigned long long)new_size,
                                (unsigned long long)nnew, m->ops->info.name,
                                (unsigned long long)m->ops->info.max_buckets);
            err = mm__table_reserve(&m->tables[id], nnew);
            if (err) return err;
        }
#ifdef MM_TEST_SLOW_GROW
        if (m->test_slow_grow)
            for (volatile int spin = 0; spin < 64; spin = spin + 1) {
            }
#endif
        err = m->ops->grow(m, id, new_size, nnew);
        if (err) return err;
        m->sizes[id] = new_size;
    }
    if (old_pages) *old_pages = size;
    return MM_OK;
}

static mm_noinline int out_of_bounds(const mm *m, unsigned id, uint64_t off, size_t len) {
    return mm__fail(MM_EBOUNDS, "%zu bytes at offset %llu pass the end of memory %u "
                    "(%llu pages)", len, (unsigned long long)off, id,
                    (unsigned long long)m->sizes[id]);
}

/* The linear-memory byte offset of virtual byte off in table t, and how
 * many bytes remain in its bucket. */
static inline uint64_t translate(const mm *m, const mm_table *t, uint64_t off, uint64_t *room) {
    uint64_t k, in;
    if (mm_likely(m->bucket_shift)) {
        k = off >> m->bucket_shift;
        in = off & (m->bucket_bytes - 1);
    } else {
        k = off / m->bucket_bytes;
        in = off % m->bucket_bytes;
    }
    *room = m->bucket_bytes - in;
    return (m->data_page + (uint64_t)t->ids[k] * m->bucket_pages) * MM_PAGE_SIZE + in;
}

/* Checks a span and moves it bucket by bucket. */
#define FOR_EACH_SPAN(m, id, off, len, MOVE)                                      \
    do {                                                                           \
        int err_ = check_id(m, id);                                                \
        if (mm_unlikely(err_)) return err_;                                        \
        uint64_t end_ = (m)->sizes[id] * MM_PAGE_SIZE;                             \
        if (mm_unlikely((off) > end_ || (len) > end_ - (off)))                     \
            return out_of_bounds(m, id, off, len);                                 \
        const mm_table *t_ = &(m)->tables[id];                                     \
        size_t done_ = 0;                                                          \
        while (done_ < (len)) {                                                    \
            uint64_t room_, at_ = translate(m, t_, (off) + done_, &room_);         \
            size_t n_ = (len) - done_ < room_ ? (len) - done_ : (size_t)room_;     \
            err_ = MOVE(m->mem, at_, p + done_, n_);                               \
            if (mm_unlikely(err_)) return err_;                                    \
            done_ += n_;                                                           \
        }                                                                          \
        return MM_OK;                                                              \
    } while (0)

/* The common case: the span lies in one bucket of a RAM memory whose
 * bucket size is a power of two. The tables only name carved buckets and
 * the linear memory holds every carved bucket (mm__check_tables), so the
 * bytes are there without a second bounds check. NULL: take the general
 * path, which also reports errors. */
static inline uint8_t *fast_span(const mm *m, unsigned id, uint64_t off, size_t len) {
    if (mm_unlikely(id >= MM_MAX_MEMORIES || !m->fast_base)) return NULL;
    uint64_t end = m->sizes[id] * MM_PAGE_SIZE;
    uint64_t in = off & (m->bucket_bytes - 1);
    /* off < end, so end - off >= 1, and len - 1 < end - off holds exactly
     * for len in 1..end-off: empty spans (whose buf may be NULL) and spans
     * at the very end take the general path. */
    if (mm_unlikely(off >= end || len - 1 >= end - off || len > m->bucket_bytes - in))
        return NULL;
    uint64_t bucket = m->tables[id].ids[off >> m->bucket_shift];
    return m->fast_base + (bucket << m->bucket_shift) + in;
}

/* Everything else: checks with errors, spans across buckets, backings
 * without a base. Kept out of line so the fast path saves no registers. */
static mm_noinline int read_spans(mm *m, unsigned id, uint64_t off, void *buf, size_t len) {
    uint8_t *p = buf;
    FOR_EACH_SPAN(m, id, off, len, mm_memory_read);
}

static mm_noinline int write_spans(mm *m, unsigned id, uint64_t off, const void *buf,
                                   size_t len) {
    const uint8_t *p = buf;
    FOR_EACH_SPAN(m, id, off, len, mm_memory_write);
}

int mm_read(mm *m, unsigned id, uint64_t off, void *buf, size_t len) {
    uint8_t *at = fast_span(m, id, off, len);
    if (mm_likely(at != NULL)) {
        memcpy(buf, at, len);
        return MM_OK;
    }
    return read_spans(m, id, off, buf, len);
}

int mm_write(mm *m, unsigned id, uint64_t off, const void *buf, size_t len) {
    uint8_t *at = fast_span(m, id, off, len);
    if (mm_likely(at != NULL)) {
        memcpy(at, buf, len);
        return MM_OK;
    }
    return write_spans(m, id, off, buf, len);
}

/* Zeroes a memory's buckets so that whoever reuses them reads zeros, as
 * from fresh pages; runs of adjacent buckets go in one call. */
static int discard_buckets(mm *m, const mm_table *t) {
    for (uint32_t k = 0; k < t->len;) {
        uint32_t first = t->ids[k], run = 1;
        while (k + run < t->len && t->ids[k + run] == first + run) run++;
        int err = mm_memory_discard(m->mem, mm__bucket_page(m, first),
                                    (uint64_t)run * m->bucket_pages);
        if (err) return err;
        k += run;
    }
    return MM_OK;
}

int mm_free(mm *m, unsigned id) {
    int err = check_id(m, id);
    if (err) return err;
    if (!m->ops->free)
        return mm__fail(MM_ENOTSUP, "design %s cannot free memory", m->ops->info.name);
    if (m->sizes[id] == 0) return MM_OK;
    if (m->broken) return refused(m);
    /* The buckets are zeroed before the header calls them free, so no
     * state, not even one a crash leaves, hands old bytes to a later grow.
     * The price: a free whose header write then fails (or a crash between
     * the two) leaves the memory at its size with its bytes zeroed. */
    err = discard_buckets(m, &m->tables[id]);
    if (!err) err = m->ops->free(m, id);
    if (err) return err;
    m->tables[id].len = 0;
    m->sizes[id] = 0;
    return MM_OK;
}

int mm_check(mm *m) {
    if (!m) return mm__fail(MM_EINVAL, "the manager handle is NULL");
    int err = mm__check_tables(m, MM_ECHECK);
    return err ? err : m->ops->check(m);
}

int mm_stats_get(const mm *m, mm_stats *out) {
    if (!m || !out) return mm__fail(MM_EINVAL, "m or out is NULL");
    *out = (mm_stats){
        .buckets_allocated = m->nbuckets,
        .buckets_free = m->nfree,
        .buckets_meta = m->nmeta,
        .linear_pages = m->mem->pages,
        .header_bytes = m->header_bytes,
        .header_bytes_written = m->hbytes_written,
        .header_writes = m->hwrites,
    };
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        out->memories_in_use += m->sizes[i] != 0;
        out->buckets_in_use += m->tables[i].len;
    }
    return MM_OK;
}
