/*
 * The manager: the work every design shares. It checks arguments,
 * dispatches open to format/load/upgrade by the layout's version byte,
 * translates virtual offsets through the in-heap bucket tables, splits
 * spans at bucket edges, and walks the invariants common to all designs.
 * Each design (design_*.c) supplies only its header bytes and its policy.
 */
#include "memory_internal.h"

#include <stdlib.h>


#ifdef MM_TEST_INJECT
/* ------------------------------------------------------------------------
 * Deliberate extra work in some designs, for the regression tracker's own
 * tests (tests/scripts/test_bench_diff.py): compiled only into a test-only
 * copy of the library (make B=... EXTRA_CFLAGS=-DMM_TEST_INJECT), never a
 * normal build. MMFREE_TEST_INJECT lists it as DESIGN:WORK entries joined
 * by commas, where WORK is
 *   spin=K   K turns of an empty loop in every grow (a constant cost)
 *   linear   a loop over every carved bucket in every grow (an O(N) cost)
 *   dirty    every grow that takes a bucket rewrites a byte of its second
 *            4 KiB page with what it holds (one more dirtied page per grow)
 *   page     every free grows the linear memory by one page it does not
 *            need (one more page at the end of the phase)
 * The variable is read once, as the library loads, so that no measured
 * phase reads the environment; a handle learns its design's work at open
 * by comparing ops pointers with every slot, which costs the same whatever
 * the variable says, so the designs without work run exactly the same
 * instructions whether it is set or not.
 * ---------------------------------------------------------------------- */

#include <stdio.h>

enum { INJECT_SPIN = 1, INJECT_LINEAR = 2, INJECT_DIRTY = 4, INJECT_PAGE = 8 };
#define INJECT_SLOTS 8
static struct {
    const struct mm_ops *ops;
    unsigned kind;
    uint32_t arg;
} inject_plan[INJECT_SLOTS];

static void inject_refuse(const char *spec) {
    fprintf(stderr, "libmmfree (test build): bad MMFREE_TEST_INJECT entry '%s' (DESIGN:spin=K, "
            "DESIGN:linear, DESIGN:dirty or DESIGN:page)\n", spec);
    abort();
}

__attribute__((constructor)) static void inject_read(void) {
    const char *env = getenv("MMFREE_TEST_INJECT");
    for (unsigned slot = 0; env && *env; slot++) {
        char entry[64], *colon;
        size_t len = strcspn(env, ",");
        if (len >= sizeof entry || slot == INJECT_SLOTS) inject_refuse(env);
        memcpy(entry, env, len);
        entry[len] = 0;
        env += len + (env[len] == ',');
        if (!(colon = strchr(entry, ':'))) inject_refuse(entry);
        *colon = 0;
        const char *work = colon + 1;
        char *end;
        if (!(inject_plan[slot].ops = mm__registry_find(entry))) inject_refuse(entry);
        if (strncmp(work, "spin=", 5) == 0) {
            unsigned long k = strtoul(work + 5, &end, 10);
            if (end == work + 5 || *end || k > UINT32_MAX) inject_refuse(work);
            inject_plan[slot].kind = INJECT_SPIN;
            inject_plan[slot].arg = (uint32_t)k;
        } else {
            inject_plan[slot].kind = strcmp(work, "linear") == 0  ? INJECT_LINEAR
                                     : strcmp(work, "dirty") == 0 ? INJECT_DIRTY
                                     : strcmp(work, "page") == 0  ? INJECT_PAGE
                                                                  : 0;
            if (!inject_plan[slot].kind) inject_refuse(work);
        }
    }
}

/* A design with a loop or a dirtied page to add takes the general path
 * (mm__grow_general runs them); a spin is in mm_grow. The other designs keep
 * their entry and run the same instructions whether the variable is set or
 * not. */
static void inject_open(mm *m) {
    for (unsigned i = 0; i < INJECT_SLOTS; i++)
        if (inject_plan[i].ops == m->ops) {
            m->inject |= inject_plan[i].kind;
            if (inject_plan[i].kind == INJECT_SPIN) m->inject_arg = inject_plan[i].arg;
        }
    /* The work that wraps the design's grow runs on the general path. */
    if (m->inject & (INJECT_LINEAR | INJECT_DIRTY)) m->grow = mm__grow_general;
}

/* The work but the spin: a linear loop, or a page dirtied, around the
 * design's grow. */
static mm_noinline int injected_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew) {
    if (m->inject & INJECT_LINEAR)
        for (volatile uint64_t b = 0; b < m->nbuckets; b = b + 1) {
        }
    int err = m->ops->grow(m, id, new_size, nnew);
    if (!err && (m->inject & INJECT_DIRTY) && nnew) {
        uint64_t at = mm__bucket_page(m, mm__table_last(&m->tables[id])) * MM_PAGE_SIZE +
                      MM_DIRTY_PAGE_SIZE;
        uint8_t held;
        err = mm_memory_read(m->mem, at, &held, 1);
        if (!err) err = mm_memory_write(m->mem, at, &held, 1);
    }
    return err;
}

#endif

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

static inline int check_id(const mm *m, unsigned id) {
    if (mm_likely(m && id < MM_MAX_MEMORIES)) return MM_OK;
    if (!m) return mm__fail(MM_EINVAL, "the manager handle is NULL");
    return mm__fail(MM_EINVAL, "memory id %u is not in 0..254", id);
}

/* Why a broken handle refuses a change: a failed header write, or a
 * read-only manager (mm_open breaks it from the start). */
static mm_noinline int refused(const mm *m) {
    if (m->mem->readonly)
        return mm__fail(MM_EREADONLY, "this manager is read-only (its file memory was opened "
                        "with MM_OPEN_READONLY): the change was refused");
    return mm__fail(MM_EBROKEN, "an earlier header write failed on this handle");
}

/* What the handle's writes may have left half-written: from now on it
 * refuses changes (LMDB's MDB_FATAL_ERROR). Grows take the general path,
 * which refuses them, so that the fast paths test nothing. */
static void mark_broken(mm *m) {
    m->broken = true;
    m->grow = mm__grow_general;
}

int mm__hwrite_slow(mm *m, uint64_t off, const void *buf, size_t len) {
    int err = mm_memory_write(m->mem, off, buf, len);
    if (mm_unlikely(err)) {
        /* The header may now be half-written: refuse further changes rather
         * than build on it (LMDB's MDB_FATAL_ERROR). */
        mark_broken(m);
        return err;
    }
    m->hbytes_written += len;
    m->hwrites++;
    return MM_OK;
}

int mm__barrier(mm *m) {
    if (!m->durable) return MM_OK;
    int err = mm__memory_barrier(m->mem);
    if (err) mark_broken(m);
    return err;
}

int mm__hcommit_slow(mm *m, uint64_t off, const void *buf, size_t len) {
    int err = mm__barrier(m);
    if (!err) err = mm__hwrite_slow(m, off, buf, len);
    return err ? err : mm__barrier(m);
}

/* Only this manager grows its memory (mm_open marks it managed), so the
 * RAM bytes and the reservation it caches change only here. */
static void set_fast_base(mm *m) {
    mm_memory *mem = m->mem;
    uint8_t *base = mem->base;
    m->fast_base = base && m->bucket_shift ? base + m->data_page * MM_PAGE_SIZE : NULL;
    m->ram = base;
    m->mem_pages = &mem->pages;
    uint64_t ready = base ? mem->ready_pages : mem->pages;
    if (ready > m->suspect_lo) ready = m->suspect_lo;
    /* Before the format or load has set the bucket size, nothing is carved. */
    uint64_t last = m->bucket_pages ? mm__bucket_page(m, m->ops->info.max_buckets) : 0;
    m->ready_pages = ready < last ? ready : last;
}

/* The cold side of mm__ensure_pages: growing the backing, and the rarer
 * zeroing of pages that held bytes when the memory was opened. */
int mm__prepare_pages(mm *m, uint64_t pages) {
    int err = MM_OK;
    if (mm_unlikely(pages > m->suspect_lo)) {
        uint64_t hi = pages < m->suspect_hi ? pages : m->suspect_hi;
        err = mm_memory_discard(m->mem, m->suspect_lo, hi - m->suspect_lo);
        if (!err) m->suspect_lo = hi < m->suspect_hi ? hi : UINT64_MAX;
    }
    bool grown = !err && pages > m->mem->pages;
    if (grown) err = mm__memory_grow(m->mem, pages - m->mem->pages, NULL);
    set_fast_base(m);
    /* Durable mode: the new length reaches the disk before anything is
     * written into it, so that no subset of the later writes lands past
     * the end. */
    return err || !grown || !m->durable ? err : mm__barrier(m);
}

int mm__table_grow(const mm *m, mm_table *t, uint64_t n, uint64_t limit) {
    uint64_t need = (uint64_t)t->len + n;
    if (limit > UINT32_MAX) limit = UINT32_MAX;
    if (need > limit)
        return mm__fail(MM_EOVERFLOW, "a memory cannot hold more than %llu buckets",
                        (unsigned long long)limit);
    uint64_t cap = t->cap ? (uint64_t)t->cap * 2 : 8;
    if (cap > limit) cap = limit;
    if (cap < need) cap = need;
    bool in_block = mm__table_in_block(m, t);
    uint32_t *ids = in_block ? malloc((size_t)cap * sizeof *ids)
                             : realloc(t->ids, (size_t)cap * sizeof *ids);
    if (!ids) return mm__fail(MM_ENOMEM, "cannot grow a bucket table to %llu entries",
                              (unsigned long long)cap);
    if (in_block) memcpy(ids, t->ids, (size_t)t->len * sizeof *ids);
    t->ids = ids;
    t->cap = (uint32_t)cap;
    return MM_OK;
}

/* What the tables hold, freed; they are unset after. */
static void free_tables(mm *m) {
    if (!m->tables_set) return;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        if (!mm__table_in_block(m, &m->tables[i])) free(m->tables[i].ids);
    free(m->table_block);
    m->table_block = NULL;
    m->table_block_bytes = 0;
    m->tables_set = false;
}

int mm__tables_carve(mm *m, const uint32_t lens[MM_MAX_MEMORIES], uint64_t spare) {
    uint64_t total = spare;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) total += lens[i];
    uint32_t *block = total ? malloc((size_t)total * sizeof *block) : NULL;
    if (total && !block)
        return mm__fail(MM_ENOMEM, "cannot allocate %llu bucket table entries",
                        (unsigned long long)total);
    free_tables(m);
    m->table_block = block;
    m->table_block_bytes = total * sizeof *block;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        m->tables[i] = (mm_table){.ids = lens[i] ? block : NULL, .cap = lens[i]};
        if (lens[i]) block += lens[i];
    }
    m->tables_set = true;
    return MM_OK;
}

void mm__tables_clear(mm *m) {
    static const uint32_t none[MM_MAX_MEMORIES];
    memset(m->sizes, 0, sizeof m->sizes);
    (void)mm__tables_carve(m, none, 0); /* allocates nothing */
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

void mm__destroy(mm *m) {
    if (m->ops->destroy) m->ops->destroy(m);
    free(m->v1_repair);
    free_tables(m);
    free(m);
}

void mm_close(mm *m) {
    if (!m) return;
    m->mem->managed = false;
    mm__destroy(m);
}

static int check_bucket_size(uint32_t asked, uint32_t stored) {
    if (asked && asked != stored)
        return mm__fail(MM_EBUCKET_SIZE, "the memory stores %u pages per bucket; %u were asked",
                        stored, asked);
    return MM_OK;
}

/* Formats the memory for m's design. Old buckets must read as zero once
 * the new layout hands them out, and in durable mode that discard reaches
 * the disk before the new header, as the grow to page 1 does. A crash
 * before the header lands leaves zeros, which the next open formats again
 * (holds_only_zeros). */
static int format(mm *m, uint32_t bucket_pages) {
    int err = mm_memory_discard(m->mem, 0, m->mem->pages);
    if (!err) err = mm__barrier(m);
    if (!err) {
        mm__set_bucket_pages(m, bucket_pages ? bucket_pages : MM_DEFAULT_BUCKET_PAGES);
        mm__tables_clear(m);
        err = m->ops->format(m);
    }
    return err;
}

/* A memory of zeros holds nothing a format could lose: it is what a first
 * format that a crash cut short leaves (its grow landed, its header did
 * not), and what a format over data leaves after its discard. Foreign
 * bytes anywhere make it foreign. */
static int holds_only_zeros(mm_memory *mem, bool *zero) {
    enum { CHUNK = 65536 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return mm__fail(MM_ENOMEM, "cannot allocate %u bytes to read the memory", CHUNK);
    int err = MM_OK;
    *zero = true;
    for (uint64_t off = 0; off < mem->pages * MM_PAGE_SIZE && *zero && !err; off += CHUNK) {
        err = mm_memory_read(mem, off, buf, CHUNK);
        if (!err) *zero = mm_all_bytes(buf, CHUNK, 0);
    }
    free(buf);
    return err;
}

/* Upgrades a V1 memory in place, or, when redo is set, completes an
 * upgrade that a crash interrupted, from its journal. */
static int upgrade_v1(mm *m, uint32_t bucket_pages, bool redo) {
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    int err = redo ? mm__v1_read_journal(m->mem, m->ops, img, &m->journal_page)
                   : mm__v1_read(m->mem, img, true);
    if (!err) err = check_bucket_size(bucket_pages, img->bucket_pages);
    if (!err) {
        mm__set_bucket_pages(m, img->bucket_pages);
        /* Pages past V1's buckets may hold what an earlier, interrupted
         * attempt wrote there: zeroed before the new layout carves them. */
        uint64_t end = 1 + (uint64_t)img->count * img->bucket_pages;
        if (end < m->mem->pages) m->suspect_lo = end, m->suspect_hi = m->mem->pages;
        m->upgrade_redo = redo;
        err = m->ops->upgrade_v1(m, img);
        m->upgrade_redo = false;
    }
    free(img);
    return err;
}

/* A bucket size asked for that differs from the one an interrupted
 * upgrade's journal holds refuses the open before the roll-back writes. */
static int journal_bucket_size(mm *m, const struct mm_ops *target, uint32_t bucket_pages) {
    struct mm_v1_image *img = malloc(sizeof *img);
    uint64_t page;
    int err = img ? mm__v1_read_journal(m->mem, target, img, &page)
                  : mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    if (!err) err = check_bucket_size(bucket_pages, img->bucket_pages);
    free(img);
    return err;
}

/* An open that would format a read-only memory is refused before it
 * writes anything; so is every other open that would write (an upgrade,
 * its completion or roll-back), each where it finds it would. */
static mm_noinline int cannot_format(const char *why) {
    return mm__fail(MM_EREADONLY, "the memory is open read-only, but %s: open it for writing "
                    "to format it", why);
}

static int open_existing(mm *m, uint32_t bucket_pages, unsigned flags) {
    uint8_t id[4];
    int err = mm_memory_read(m->mem, 0, id, sizeof id);
    if (err) return err;
    if (memcmp(id + MM_OFF_MAGIC, MM_MAGIC, 3) != 0) {
        bool zero = false;
        err = holds_only_zeros(m->mem, &zero);
        if (err) return err;
        if (zero && m->mem->readonly)
            return cannot_format("it holds only zeros (what a first format cut short leaves)");
        if (zero) return format(m, bucket_pages);
        return mm__fail(MM_EMAGIC, "the memory starts with %02x %02x %02x, not \"MGR\": it holds "
                        "no memory-manager layout (format it explicitly to overwrite it)",
                        id[0], id[1], id[2]);
    }
    const struct mm_ops *ops = m->ops;
    uint8_t version = id[MM_OFF_VERSION];
    if (version == ops->version) {
        err = ops->load(m);
        if (!err) err = check_bucket_size(bucket_pages, m->bucket_pages);
    } else if (ops->upgrading_version && version == ops->upgrading_version) {
        /* An upgrade to this design was asked for when it started: it is
         * completed whether or not this open asks again. */
        if (m->mem->readonly)
            return mm__fail(MM_EREADONLY, "the memory is open read-only, but an upgrade from V1 "
                            "to %s was interrupted: open it for writing to complete the "
                            "upgrade, or with v1 or v1reclaim to roll it back", ops->info.name);
        err = upgrade_v1(m, bucket_pages, true);
    } else if (version == MM_V1_VERSION && ops->upgrade_v1) {
        /* Only when asked: an upgrade cannot be undone (v1 cannot read the
         * result), so a mistyped design must not start one. */
        if (!(flags & MM_OPEN_UPGRADE))
            return mm__fail(MM_EWRONG_DESIGN, "the memory holds the V1 layout, not %s: open it "
                            "with v1 or v1reclaim, or upgrade it in place to %s with "
                            "MM_OPEN_UPGRADE (mmrun --upgrade), after which v1 cannot open it",
                            ops->info.name, ops->info.name);
        if (m->mem->readonly)
            return mm__fail(MM_EREADONLY, "the memory is open read-only, but it holds the V1 "
                            "layout and MM_OPEN_UPGRADE was asked: open it for writing to "
                            "upgrade it to %s", ops->info.name);
        err = upgrade_v1(m, bucket_pages, false);
    } else {
        const struct mm_ops *other = mm__registry_by_version(version);
        if (!other)
            return mm__fail(MM_EVERSION, "layout version %u is not one this library knows",
                            version);
        if (version != other->upgrading_version)
            return mm__fail(MM_EWRONG_DESIGN, "the memory holds a %s layout (version %u), not "
                            "%s", other->info.name, version, ops->info.name);
        /* Another design's upgrade from V1, cut short: a design that reads
         * V1 as its own layout rolls it back and opens the V1 memory. */
        if (ops->version != MM_V1_VERSION)
            return mm__fail(MM_EINTERRUPTED, "an upgrade from V1 to %s was interrupted "
                            "(version byte %u): open the memory with %s to complete it, or "
                            "with a V1 design to roll it back", other->info.name, version,
                            other->info.name);
        err = journal_bucket_size(m, other, bucket_pages);
        if (!err && m->mem->readonly)
            err = mm__fail(MM_EREADONLY, "the memory is open read-only, but an upgrade from V1 "
                           "to %s was interrupted: open it for writing with %s to complete "
                           "it, or with %s to roll it back", other->info.name,
                           other->info.name, ops->info.name);
        if (!err) err = mm__v1_rollback(m, other);
        if (!err) err = ops->load(m);
        if (!err) err = check_bucket_size(bucket_pages, m->bucket_pages);
    }
    return err;
}

int mm_open(mm_memory *mem, const char *design, uint32_t bucket_pages, unsigned flags,
            mm **out) {
    if (!mem || !design || !out) return mm__fail(MM_EINVAL, "mem, design or out is NULL");
    if (bucket_pages > MM_MAX_BUCKET_PAGES)
        return mm__fail(MM_EINVAL, "bucket size %u is past the maximum of %u pages",
                        bucket_pages, MM_MAX_BUCKET_PAGES);
    if (flags & ~(MM_OPEN_FORMAT | MM_OPEN_SYNC | MM_OPEN_UPGRADE))
        return mm__fail(MM_EINVAL, "flags 0x%x: mm_open takes MM_OPEN_FORMAT, MM_OPEN_SYNC and "
                        "MM_OPEN_UPGRADE%s", flags, flags & MM_OPEN_READONLY ?
                        " (MM_OPEN_READONLY concerns the file: it goes to mm_memory_file_open)" : "");
    const struct mm_ops *ops = mm__registry_find(design);
    if (!ops) {
        char name[MM_QUOTE_BYTES];
        return mm__fail(MM_EDESIGN_UNKNOWN, "no design is named %s", mm_quote(name, design));
    }
    if (mem->managed)
        return mm__fail(MM_EINVAL, "a manager is already open over this memory");
    if (mem->readonly && (mem->pages == 0 || (flags & MM_OPEN_FORMAT)))
        return cannot_format(mem->pages ? "MM_OPEN_FORMAT was asked" : "it is empty");

    mm *m = malloc(sizeof *m);
    if (!m) return mm__fail(MM_ENOMEM, "cannot allocate a manager");
    memset(m, 0, offsetof(mm, sizes)); /* the load or format sets the rest */
    m->mem = mem;
    m->ops = ops;
    m->suspect_lo = UINT64_MAX;
    m->durable = (flags & MM_OPEN_SYNC) != 0;
    set_fast_base(m);
    int err = mem->pages == 0 || (flags & MM_OPEN_FORMAT) ? format(m, bucket_pages)
                                                           : open_existing(m, bucket_pages, flags);
    /* Every load, upgrade and format builds tables that meet
     * mm__check_tables's invariants or refuses the memory (each design's
     * file says how): proving them again here cost a reopen up to a third
     * of its instructions. mm_check walks them. */
    /* Accepted: what a V1 load read past an interrupted operation is
     * written back now, and what a format, an upgrade or a repair wrote is
     * durable before the handle makes changes of its own. A read-only
     * handle keeps the repair in the heap instead: it serves the state the
     * repair gives, and leaves the memory as it found it. */
    if (!err && m->v1_repair && !mem->readonly) err = mm__v1_repair(m);
    if (!err) err = mm__barrier(m);
    if (err) {
        mm__destroy(m);
        return err;
    }
    /* A crash in a grow may have written pages it never carved. */
    uint64_t end = mm__bucket_page(m, m->nbuckets);
    if (end < mem->pages) {
        m->suspect_lo = end;
        m->suspect_hi = mem->pages;
    }
    /* A design's fast entry makes a RAM memory's writes stores; over any
     * other memory (a file, the Wasm stable memory) it would only pass the
     * grow on to the general path, one more call. */
    m->grow = ops->grow_fast && mem->base ? ops->grow_fast : mm__grow_common;
#ifdef MM_TEST_INJECT
    inject_open(m);
#endif
    set_fast_base(m);
    if (mem->readonly) mark_broken(m);
    mem->managed = true;
    /* Counters describe this handle's own writes, not the format's. */
    m->hbytes_written = m->hwrites = 0;
    *out = m;
    return MM_OK;
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */


int mm_size(const mm *m, unsigned id, uint64_t *pages) {
    int err = check_id(m, id);
    if (err) return err;
    if (!pages) return mm__fail(MM_EINVAL, "pages is NULL");
    *pages = m->sizes[id];
    return MM_OK;
}

/* The general grow: every check with its error, room reserved in the
 * table, then the design's grow. The fast entries of designs fall back to
 * it for anything but their common case. */
int mm__grow_general(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    int err = check_id(m, id);
    if (err) return err;
    uint64_t size = m->sizes[id];
    if (pages == 0) {
        if (old_pages) *old_pages = size;
        return MM_OK;
    }
    if (m->broken) return refused(m);
    if (pages > MM_MAX_PAGES - size)
        return mm__fail(MM_EOVERFLOW, "memory %u of %llu pages cannot grow by %llu pages", id,
                        (unsigned long long)size, (unsigned long long)pages);
    uint64_t new_size = size + pages;
    uint64_t nnew = mm__buckets_for(m, new_size) - m->tables[id].len;
    if (nnew > m->ops->info.max_buckets)
        return mm__fail(MM_EOVERFLOW, "%llu pages need %llu buckets; %s addresses at most %llu",
                        (unsigned long long)new_size, (unsigned long long)nnew,
                        m->ops->info.name, (unsigned long long)m->ops->info.max_buckets);
    mm_table *t = &m->tables[id];
    if (nnew > (uint64_t)(t->cap - t->len)) {
        err = mm__table_grow(m, t, nnew, m->ops->info.max_buckets);
        if (err) return err;
    }
#ifdef MM_TEST_INJECT
    if (mm_unlikely(m->inject & (INJECT_LINEAR | INJECT_DIRTY)))
        err = injected_grow(m, id, new_size, nnew);
    else
#endif
    err = m->ops->grow(m, id, new_size, nnew);
    if (!err && old_pages) *old_pages = size;
    return err;
}

/* mm_grow for a design without a fast entry of its own, and what a fast
 * entry hands on where its stores do not serve (a bucket past the ready
 * pages; v1reclaim with a bucket free): the common case's checks
 * (mm__grow_args) in line, then the design's grow; the rest takes the
 * general path. */
int mm__grow_common(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    uint64_t new_size, nnew;
    if (mm_unlikely(!mm__grow_args(m, id, pages, &new_size, &nnew)))
        return mm__grow_general(m, id, pages, old_pages);
    int err = m->ops->grow(m, id, new_size, nnew);
    if (!err && old_pages) *old_pages = new_size - pages;
    return err;
}

int mm_grow(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    if (mm_unlikely(!m)) return check_id(m, id);
#ifdef MM_TEST_INJECT
    /* The spin here, where every grow passes once, in every design and so
     * in both runs a test compares (its count is 0 where nothing is
     * added): a turn is the 2 instructions of a count down, so that 1% of
     * a grow of a few hundred instructions is within reach. */
    for (uint32_t k = m->inject_arg; k; k--) __asm__ volatile("");
#endif
    return m->grow(m, id, pages, old_pages);
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
 * bytes are there without a second bounds check. False: take the general
 * path, which also reports errors. */
static inline bool fast_span(const mm *m, unsigned id, uint64_t off, size_t len, uint8_t **at) {
    if (mm_unlikely(id >= MM_MAX_MEMORIES || !m->fast_base)) return false;
    /* The span's last byte: below off when len is 0 (buf may then be NULL)
     * or the sum wraps; both go to the general path, as do spans past the
     * size and spans that leave the bucket of their first byte. */
    uint64_t last = off + len - 1;
    if (mm_unlikely(last < off || last >= m->sizes[id] * MM_PAGE_SIZE ||
                    (off ^ last) >= m->bucket_bytes))
        return false;
    uint64_t k = off >> m->bucket_shift, bucket = m->tables[id].ids[k];
    /* In integers: (bucket - k) wraps when the memory's k-th bucket lies
     * below k, which pointer arithmetic may not do; the sum is exact. */
    *at = (uint8_t *)((uintptr_t)m->fast_base + off + ((bucket - k) << m->bucket_shift));
    return true;
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
    uint8_t *at;
    if (mm_likely(fast_span(m, id, off, len, &at))) {
        memcpy(buf, at, len);
        return MM_OK;
    }
    return read_spans(m, id, off, buf, len);
}

int mm_write(mm *m, unsigned id, uint64_t off, const void *buf, size_t len) {
    uint8_t *at;
    if (mm_likely(fast_span(m, id, off, len, &at))) {
        memcpy(at, buf, len);
        return MM_OK;
    }
    return write_spans(m, id, off, buf, len);
}

/* Zeroes a memory's buckets so that whoever reuses them reads zeros, as
 * from fresh pages; runs of adjacent buckets go in one call. */
static int discard_buckets(mm *m, const mm_table *t) {
    /* Locals: the calls below could otherwise make the compiler reload them. */
    const uint32_t *ids = t->ids;
    uint32_t len = t->len, bp = m->bucket_pages;
    mm_memory *mem = m->mem;
    bool ram = m->ram != NULL;
    for (uint32_t k = 0; k < len;) {
        uint32_t first = ids[k], run = 1;
        while (k + run < len && ids[k + run] == first + run) run++;
        uint64_t page = mm__bucket_page(m, first), pages = (uint64_t)run * bp;
        /* Carved buckets lie inside the memory: a RAM one needs no bounds
         * test per run. */
        int err = ram ? mem->vt->discard(mem, page, pages) : mm_memory_discard(mem, page, pages);
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
#ifdef MM_TEST_INJECT
    if (!err && (m->inject & INJECT_PAGE)) err = mm__ensure_pages(m, m->mem->pages + 1);
#endif
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

/* What mm_open and the grows since allocated and still hold: the handle,
 * the tables' capacity (kept after a free, for the next grow), a V1 repair
 * that a read-only handle keeps, and the design's state. Summed when
 * asked, so no operation pays for it. */
static uint64_t heap_bytes(const mm *m) {
    uint64_t bytes = sizeof *m + m->table_block_bytes +
                     (m->v1_repair ? sizeof *m->v1_repair : 0);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        if (!mm__table_in_block(m, &m->tables[i]))
            bytes += (uint64_t)m->tables[i].cap * sizeof *m->tables[i].ids;
    return bytes + (m->ops->heap_bytes ? m->ops->heap_bytes(m) : 0);
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
        .heap_bytes = heap_bytes(m),
    };
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        out->memories_in_use += m->sizes[i] != 0;
        out->buckets_in_use += m->tables[i].len;
    }
    return MM_OK;
}
