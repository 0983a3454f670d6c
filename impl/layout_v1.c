/*
 * The V1 layout of ic-stable-structures 0.7 (../shared/v1-layout.md),
 * shared by the designs that write it (v1, v1reclaim) and by those that
 * read it to upgrade in place.
 *
 *   offset  size          field
 *   0       3             magic "MGR"
 *   3       1             layout version (1)
 *   4       2             buckets allocated, u16 (at most 32,768)
 *   6       2             bucket size in pages, u16 (1..65,535)
 *   8       32            reserved, zero
 *   40      255 x 8       size of memory i in pages, u64
 *   2080    32,768 x 1    owner of bucket b, or 255 when unallocated
 *   34848   ..65535       unused, zero
 *
 * Bucket b occupies pages 1 + b*N .. 1 + (b+1)*N - 1 (N = bucket size).
 * Memory i owns the buckets whose owner byte is i; its k-th bucket in
 * ascending order holds its virtual bytes [k, k+1) * N * 64 KiB.
 *
 * Invariants (what mm__v1_read refuses as corrupt when broken):
 *   count <= 32,768 and bucket size >= 1
 *   owner[b] == 255 for every b >= count
 *   ceil(size[i] / N) == #{b < count : owner[b] == i}   for every memory i
 *   linear memory pages >= 1 + count * N
 * Buckets below count with owner 255 are unallocated: upstream never makes
 * them, but a freeing V1 writer (v1reclaim) does, and V1 readers accept it.
 *
 * Crashes. V1 bytes cannot commit a grow in one write: the owner bytes, the
 * count and the size lie apart. So the order of the writes does it, with a
 * load that reads every partial state as the state before or after:
 *   grow   count (when buckets are carved), then the new owner bytes, then
 *          the size, which commits. A crash after the count leaves carved
 *          buckets that nobody owns; after the owner bytes, a memory that
 *          owns more buckets than its size needs. Upstream's loader (which
 *          builds each memory's list from every owner byte) reads both as
 *          the state before the grow, and so does ours: the buckets a
 *          memory owns past what its size needs are its highest ones (a
 *          V1 grow only takes buckets above a memory's last), left by an
 *          interrupted grow, and are unallocated.
 *   free   (v1reclaim) the size 0 first, which commits (the manager has
 *          zeroed the buckets before), then the owner bytes 255, one write
 *          per run: a memory left owning buckets its size 0 does not need.
 * In durable mode (a power loss lands any subset of the writes between two
 * barriers) a grow's owner bytes may also land without its count: owner
 * bytes at or past the count are read as 255. Open then rewrites, in V1
 * bytes, the owner bytes it read as 255 (and v1, which never reuses a
 * bucket, lowers the count over unallocated buckets at the top), so that
 * upstream sees the clean V1 of the state before or after. A size that
 * needs more buckets than the memory owns is no crash's doing: refused.
 *
 * Upgrades from V1 to another layout rewrite page 0 in place behind a
 * journal (mm__upgrade_begin, below): a copy of the V1 header in a page
 * past every bucket, marked at byte 34,848 with "MGRJ" and the version
 * byte the upgrade writes while it runs. That byte at offset 3 is the
 * journal's commit; the final version byte is the upgrade's.
 */
#include "mm_internal.h"

#include <stdlib.h>

static_assert(MM_V1_OFF_SIZES + 8 * MM_MAX_MEMORIES == MM_V1_OFF_OWNERS, "sizes end at owners");
static_assert(MM_V1_OFF_OWNERS + MM_V1_MAX_BUCKETS == MM_V1_HEADER_BYTES, "owners end the header");
static_assert(MM_V1_HEADER_BYTES <= MM_PAGE_SIZE, "the header fits in page 0");

/* The first bucket at or past `from` whose owner byte is not 255, or
 * MM_V1_MAX_BUCKETS: eight owner bytes per compare, because every open and
 * check looks at all 32,768 of them while a memory has few buckets. */
static uint32_t first_owned_from(const uint8_t *owners, uint32_t from) {
    uint32_t b = from;
    for (; b % 8 && b < MM_V1_MAX_BUCKETS; b++)
        if (owners[b] != MM_V1_UNALLOCATED) return b;
    for (; b < MM_V1_MAX_BUCKETS; b += 8) {
        uint64_t held = ~mm_get_u64(owners + b); /* a non-zero byte is an owner */
        if (held) return b + mm_ctz64(held) / 8;
    }
    return MM_V1_MAX_BUCKETS;
}

enum { V1_JOURNAL_OFF_MARK = MM_V1_HEADER_BYTES, V1_JOURNAL_MARK_BYTES = 8 };
static const char v1_journal_magic[4] = {'M', 'G', 'R', 'J'};

/* Memory i owns more buckets than its size needs: its highest ones, which
 * an interrupted grow or free left, become unallocated. */
static void release_extra(struct mm_v1_image *img, unsigned i, uint32_t extra) {
    for (uint32_t b = img->count; extra && b-- > 0;)
        if (img->owners[b] == i) {
            img->owners[b] = MM_V1_UNALLOCATED;
            img->repairs++;
            extra--;
        }
}

/* Parses a V1 header whose first 2,080 bytes are fixed and whose owner
 * bytes are already in img->owners, for a linear memory of mem_pages. */
static int v1_parse(const uint8_t *fixed, uint64_t mem_pages, struct mm_v1_image *img,
                    bool recover) {
    memcpy(img->fixed, fixed, sizeof img->fixed);
    img->repairs = 0;
    img->count = mm_get_u16(fixed + MM_V1_OFF_COUNT);
    img->bucket_pages = mm_get_u16(fixed + MM_V1_OFF_BUCKET_PAGES);
    if (img->count > MM_V1_MAX_BUCKETS)
        return mm__fail(MM_ECORRUPT, "V1 header: %u buckets allocated, over the maximum of %u",
                        img->count, MM_V1_MAX_BUCKETS);
    if (img->bucket_pages == 0) return mm__fail(MM_ECORRUPT, "V1 header: bucket size is 0 pages");
    for (uint32_t stray = first_owned_from(img->owners, img->count); stray < MM_V1_MAX_BUCKETS;
         stray = first_owned_from(img->owners, stray + 1)) {
        if (!recover)
            return mm__fail(MM_ECORRUPT, "V1 header: bucket %u is owned by memory %u, but only "
                            "%u buckets are allocated", stray, img->owners[stray], img->count);
        img->owners[stray] = MM_V1_UNALLOCATED;
        img->repairs++;
    }
    uint32_t owned[MM_V1_UNALLOCATED + 1] = {0}; /* the last counts unallocated buckets */
    for (uint32_t b = 0; b < img->count; b++) owned[img->owners[b]]++;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = mm_get_u64(fixed + MM_V1_OFF_SIZES + 8 * i);
        uint64_t want = size / img->bucket_pages + (size % img->bucket_pages != 0);
        if (want < owned[i] && recover)
            release_extra(img, i, (uint32_t)(owned[i] - want));
        else if (want != owned[i])
            return mm__fail(MM_ECORRUPT, "V1 header: memory %u has %llu pages, which need %llu "
                            "buckets, but it owns %u", i, (unsigned long long)size,
                            (unsigned long long)want, owned[i]);
        img->sizes[i] = size;
    }
    uint64_t need = 1 + (uint64_t)img->count * img->bucket_pages;
    if (mem_pages < need)
        return mm__fail(MM_ECORRUPT, "V1 header: %u buckets of %u pages need %llu pages, but the "
                        "linear memory holds %llu", img->count, img->bucket_pages,
                        (unsigned long long)need, (unsigned long long)mem_pages);
    return MM_OK;
}

/* The V1 header at byte offset `at` of mem. */
static int v1_read_at(mm_memory *mem, uint64_t at, struct mm_v1_image *img, bool recover) {
    uint8_t fixed[MM_V1_OFF_OWNERS];
    int err = mm_memory_read(mem, at, fixed, sizeof fixed);
    if (!err) err = mm_memory_read(mem, at + MM_V1_OFF_OWNERS, img->owners, sizeof img->owners);
    return err ? err : v1_parse(fixed, mm_memory_size(mem), img, recover);
}

int mm__v1_read(mm_memory *mem, struct mm_v1_image *img, bool recover) {
    return v1_read_at(mem, 0, img, recover);
}

int mm__v1_adopt(mm *m, const struct mm_v1_image *img) {
    uint32_t owned[MM_MAX_MEMORIES] = {0};
    for (uint32_t b = 0; b < img->count; b++)
        if (img->owners[b] != MM_V1_UNALLOCATED) owned[img->owners[b]]++;
    int err = mm__tables_carve(m, owned, 0);
    if (err) return err;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) m->sizes[i] = img->sizes[i];
    m->nfree = 0;
    for (uint32_t b = 0; b < img->count; b++) {
        if (img->owners[b] == MM_V1_UNALLOCATED)
            m->nfree++;
        else
            mm__table_push(&m->tables[img->owners[b]], b);
    }
    m->data_page = 1;
    m->nbuckets = img->count;
    return MM_OK;
}

int mm__v1_format(mm *m, uint8_t version) {
    uint8_t *h = calloc(1, MM_V1_HEADER_BYTES);
    if (!h) return mm__fail(MM_ENOMEM, "cannot allocate a V1 header");
    memcpy(h + MM_OFF_MAGIC, MM_MAGIC, 3);
    h[MM_OFF_VERSION] = version;
    mm_put_u16(h + MM_V1_OFF_BUCKET_PAGES, (uint16_t)m->bucket_pages);
    memset(h + MM_V1_OFF_OWNERS, MM_V1_UNALLOCATED, MM_V1_MAX_BUCKETS);
    m->data_page = 1;
    m->header_bytes = MM_V1_HEADER_BYTES;
    int err = mm__ensure_pages(m, 1);
    if (!err) err = mm__hwrite(m, 0, h, MM_V1_HEADER_BYTES);
    free(h);
    return err;
}

/* Rewrites the owner bytes that differ from img's (those the recovery
 * read as 255), one write per run of adjacent ones. */
static int repair_owners(mm *m, const struct mm_v1_image *img) {
    uint8_t *now = malloc(MM_V1_MAX_BUCKETS);
    if (!now) return mm__fail(MM_ENOMEM, "cannot allocate %u owner bytes", MM_V1_MAX_BUCKETS);
    int err = mm__hread(m, MM_V1_OFF_OWNERS, now, MM_V1_MAX_BUCKETS);
    for (uint32_t b = 0; !err && b < MM_V1_MAX_BUCKETS;) {
        if (now[b] == img->owners[b]) {
            b++;
            continue;
        }
        uint32_t run = 1;
        while (b + run < MM_V1_MAX_BUCKETS && now[b + run] != img->owners[b + run]) run++;
        err = mm__hwrite(m, MM_V1_OFF_OWNERS + b, img->owners + b, run);
        b += run;
    }
    free(now);
    return err;
}

/* The load of a V1 header that needs no repair, in one pass over the owner
 * bytes below the count and without a copy of a RAM memory's page 0: each
 * bucket is appended to its owner's table through a write pointer; tables
 * are carved from the sizes first. Whatever does not fit that picture (an
 * owner byte past the count, a memory owning more or fewer buckets than its
 * size needs, an unallocated bucket at the top of v1's count, a count or
 * size out of range) leaves it to the general load, which reports or
 * repairs it: 1 then, else an error or MM_OK. */
static int v1_load_clean(mm *m, bool trim) {
    const uint8_t *h = m->ram;
    uint8_t *copy = NULL;
    if (!h) {
        copy = malloc(MM_V1_HEADER_BYTES);
        if (!copy) return mm__fail(MM_ENOMEM, "cannot allocate a V1 header");
        int err = mm__hread(m, 0, copy, MM_V1_HEADER_BYTES);
        if (err) {
            free(copy);
            return err;
        }
        h = copy;
    }
    const uint8_t *owners = h + MM_V1_OFF_OWNERS;
    uint32_t count = mm_get_u16(h + MM_V1_OFF_COUNT), bp = mm_get_u16(h + MM_V1_OFF_BUCKET_PAGES);
    int rc = 1;
    if (count > MM_V1_MAX_BUCKETS || bp == 0 ||
        !mm_all_bytes(owners + count, MM_V1_MAX_BUCKETS - count, MM_V1_UNALLOCATED) ||
        (trim && count && owners[count - 1] == MM_V1_UNALLOCATED) ||
        mm_memory_size(m->mem) < 1 + (uint64_t)count * bp)
        goto out;
    mm__set_bucket_pages(m, bp);
    uint32_t lens[MM_MAX_MEMORIES];
    uint64_t owned = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = mm_get_u64(h + MM_V1_OFF_SIZES + 8 * i);
        uint64_t len = mm__buckets_for(m, size);
        if (len > count - owned) goto out;
        owned += len;
        lens[i] = (uint32_t)len;
        m->sizes[i] = size;
    }
    /* The spare entries take the unallocated buckets, and whatever a
     * memory owning too many writes past its table stays in the block. */
    if ((rc = mm__tables_carve(m, lens, count))) goto out;
    if (count) { /* else every table is empty, and the block is none */
        uint32_t *w[MM_V1_UNALLOCATED + 1], *start[MM_MAX_MEMORIES];
        w[0] = m->table_block;
        for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) w[i + 1] = (start[i] = w[i]) + lens[i];
        for (uint32_t b = 0; b < count; b++) *w[owners[b]]++ = b;
        for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
            if (w[i] != start[i] + lens[i]) { /* more or fewer than its size needs */
                rc = 1;
                goto out;
            }
            m->tables[i].len = lens[i];
        }
    }
    m->header_bytes = MM_V1_HEADER_BYTES;
    m->data_page = 1;
    m->nbuckets = count;
    m->nfree = count - owned;
out:
    free(copy);
    return rc;
}

int mm__v1_load(mm *m, bool trim) {
    int rc = v1_load_clean(m, trim);
    if (rc <= 0) return rc;
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    int err = mm__v1_read(m->mem, img, true);
    if (!err) {
        mm__set_bucket_pages(m, img->bucket_pages);
        m->header_bytes = MM_V1_HEADER_BYTES;
        img->stored_count = img->count;
        while (trim && img->count && img->owners[img->count - 1] == MM_V1_UNALLOCATED)
            img->count--;
        err = mm__v1_adopt(m, img);
    }
    if (!err && (img->repairs || img->count != img->stored_count)) {
        free(m->v1_repair);
        m->v1_repair = img;
    } else {
        free(img);
    }
    return err;
}

int mm__v1_repair(mm *m) {
    struct mm_v1_image *img = m->v1_repair;
    m->v1_repair = NULL;
    /* Owner bytes first: a crash between the two leaves unallocated buckets
     * at the top, which the next open trims again. */
    int err = img->repairs ? repair_owners(m, img) : MM_OK;
    if (!err && img->count != img->stored_count) {
        uint8_t count[2];
        mm_put_u16(count, (uint16_t)img->count);
        err = mm__hcommit(m, MM_V1_OFF_COUNT, count, sizeof count);
    }
    free(img);
    return err;
}

/* The owner bytes of a memory that is not RAM: a run of adjacent buckets
 * is one write. */
static mm_noinline int write_owner_runs(mm *m, const uint32_t *ids, uint64_t n, uint8_t owner) {
    uint8_t run[256];
    int err = MM_OK;
    for (uint64_t k = 0; !err && k < n;) {
        uint64_t len = 1;
        while (k + len < n && len < sizeof run && ids[k + len] == ids[k] + len) len++;
        if (len == 1) {
            err = mm__hwrite(m, MM_V1_OFF_OWNERS + ids[k], &owner, 1);
        } else {
            memset(run, owner, (size_t)len);
            err = mm__hwrite(m, MM_V1_OFF_OWNERS + ids[k], run, (size_t)len);
        }
        k += len;
    }
    return err;
}

int mm__v1_write_owners(mm *m, const uint32_t *ids, uint64_t n, uint8_t owner) {
    if (m->ram) { /* the stores are the writes, counted as the loop below writes */
        uint8_t *owners = m->ram + MM_V1_OFF_OWNERS;
        uint64_t writes = 0, len = 0;
        for (uint64_t k = 0; k < n; k++) {
            owners[ids[k]] = owner;
            len = k && ids[k] == ids[k - 1] + 1 && len < 256 ? len + 1 : 1;
            writes += len == 1;
        }
        m->hbytes_written += n;
        m->hwrites += writes;
        return MM_OK;
    }
    if (n <= 1) return n ? mm__hwrite(m, MM_V1_OFF_OWNERS + ids[0], &owner, 1) : MM_OK;
    return write_owner_runs(m, ids, n, owner);
}

int mm__v1_persist_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew,
                        uint64_t new_count) {
    mm_table *t = &m->tables[id];
    /* The order is the commit protocol (see "Crashes" above): each write
     * before the size leaves a header that reads as before the grow. */
    int err = mm__ensure_pages(m, mm__bucket_page(m, new_count));
    if (!err && new_count != m->nbuckets) {
        uint8_t count[2];
        mm_put_u16(count, (uint16_t)new_count);
        err = mm__hwrite(m, MM_V1_OFF_COUNT, count, sizeof count);
    }
    if (!err) err = mm__v1_write_owners(m, t->ids + t->len - nnew, nnew, (uint8_t)id);
    if (!err) {
        uint8_t size[8];
        mm_put_u64(size, new_size);
        err = mm__hcommit(m, MM_V1_OFF_SIZES + 8u * id, size, sizeof size);
    }
    if (err) {
        t->len -= (uint32_t)nnew;
        return err;
    }
    m->nbuckets = new_count;
    m->sizes[id] = new_size;
    return MM_OK;
}

/* mm_grow for the V1-byte designs over a RAM memory (mm_open gives this
 * entry no other). The common grow, into at most one new bucket (bucket
 * `count`), ends here with V1's bytes stored straight into page 0: the
 * order of those stores matters only to a memory that outlives the
 * process, which a RAM one does not. A bucket past the ready pages is the
 * design's grow's (through mm__grow_common); anything else takes the
 * general path. reuses: the
 * design may hand out a free bucket instead (v1reclaim): while any is
 * free, every grow takes the manager's default entry (one test costs the
 * common grow less than two); with none free, its grow is v1's. A
 * constant, as each design has its own entry. */
static mm_always_inline int v1_grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages,
                                         bool reuses) {
    if (reuses && mm_unlikely(m->nfree)) return mm__grow_common(m, id, pages, old_pages);
    uint64_t new_size, nnew;
    if (mm_unlikely(!mm__grow_args(m, id, pages, &new_size, &nnew)))
        return mm__grow_general(m, id, pages, old_pages);
    uint64_t count = m->nbuckets;
    /* Within the ready pages, the bucket is within V1's. */
    if (!mm__pages_ready(m, mm__bucket_page(m, count + nnew)))
        return mm__grow_common(m, id, pages, old_pages);
    if (old_pages) *old_pages = new_size - pages;
    uint8_t *h = m->ram;
    m->sizes[id] = new_size;
    if (nnew) {
        /* The heap first: stores through h may alias it. */
        mm__table_push(&m->tables[id], (uint32_t)count);
        m->nbuckets = count + 1;
        m->hbytes_written += 1 + 2 + 8;
        m->hwrites += 3;
        h[MM_V1_OFF_OWNERS + count] = (uint8_t)id;
        mm_put_u16(h + MM_V1_OFF_COUNT, (uint16_t)(count + 1));
    } else {
        m->hbytes_written += 8;
        m->hwrites += 1;
    }
    mm_put_u64(h + MM_V1_OFF_SIZES + 8 * id, new_size);
    return MM_OK;
}

int mm__v1_grow_fast(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    return v1_grow_fast(m, id, pages, old_pages, false);
}

int mm__v1_grow_fast_reusing(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages) {
    return v1_grow_fast(m, id, pages, old_pages, true);
}

int mm__v1_check(mm *m, uint8_t version) {
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    uint8_t id[4];
    int err = mm__hread(m, 0, id, sizeof id);
    if (!err && (memcmp(id, MM_MAGIC, 3) != 0 || id[MM_OFF_VERSION] != version))
        err = mm__fail(MM_ECHECK, "the header lost its magic or version %u", version);
    /* A read-only handle could not write back what a crash left: it keeps
     * the repair (m->v1_repair), and its header is read as the repair
     * leaves it, the count lowered as far as the load lowered it. Every
     * other handle's header must be clean V1. */
    const struct mm_v1_image *pending = m->v1_repair;
    if (!err) {
        err = mm__v1_read(m->mem, img, pending != NULL);
        if (err == MM_ECORRUPT) err = MM_ECHECK; /* keep the detail, report as a check */
    }
    while (!err && pending && img->count > pending->count &&
           img->owners[img->count - 1] == MM_V1_UNALLOCATED)
        img->count--;
    if (!err && img->count != m->nbuckets)
        err = mm__fail(MM_ECHECK, "the header counts %u buckets, the heap %llu", img->count,
                       (unsigned long long)m->nbuckets);
    if (!err && img->bucket_pages != m->bucket_pages)
        err = mm__fail(MM_ECHECK, "the header says %u pages per bucket, the heap %u",
                       img->bucket_pages, m->bucket_pages);
    for (unsigned i = 0; i < MM_MAX_MEMORIES && !err; i++) {
        const mm_table *t = &m->tables[i];
        if (img->sizes[i] != m->sizes[i])
            err = mm__fail(MM_ECHECK, "memory %u: the header says %llu pages, the heap %llu", i,
                           (unsigned long long)img->sizes[i], (unsigned long long)m->sizes[i]);
        for (uint32_t k = 0; k < t->len && !err; k++) {
            if (img->owners[t->ids[k]] != i)
                err = mm__fail(MM_ECHECK, "memory %u's bucket %u has owner byte %u", i,
                               t->ids[k], img->owners[t->ids[k]]);
            else if (k && t->ids[k] <= t->ids[k - 1])
                err = mm__fail(MM_ECHECK, "memory %u's buckets do not ascend at #%u (%u after %u)",
                               i, k, t->ids[k], t->ids[k - 1]);
        }
    }
    free(img);
    return err;
}

/* ------------------------------------------------------------------------
 * The upgrade journal
 * ---------------------------------------------------------------------- */

int mm__upgrade_begin(mm *m, uint64_t end_page, uint8_t upgrading) {
    /* Redone: the journal lies past end_page; what the first attempt wrote
     * below it is zeroed before it is written again. */
    if (m->upgrade_redo) return mm__ensure_pages(m, end_page);
    /* The journal's page is the last of the memory and lies past the new
     * layout's buckets: both layouts read it as a page no bucket has
     * reached, and zero it before they carve one over it. The memory grows
     * by one page only if no page lies past them already; that page is the
     * first of the next bucket carved. */
    uint64_t pages = mm_memory_size(m->mem), page = pages > end_page ? pages - 1 : end_page;
    /* One grow for the new layout's buckets and the journal: a refusal
     * leaves the V1 memory as it was. */
    int err = mm__ensure_pages(m, page + 1);
    if (err) return err;
    uint8_t *j = malloc(MM_V1_HEADER_BYTES + V1_JOURNAL_MARK_BYTES);
    if (!j) return mm__fail(MM_ENOMEM, "cannot allocate the upgrade journal");
    err = mm__hread(m, 0, j, MM_V1_HEADER_BYTES);
    memcpy(j + V1_JOURNAL_OFF_MARK, v1_journal_magic, sizeof v1_journal_magic);
    j[V1_JOURNAL_OFF_MARK + 4] = upgrading;
    memset(j + V1_JOURNAL_OFF_MARK + 5, 0, V1_JOURNAL_MARK_BYTES - 5);
    if (!err) err = mm__hwrite(m, page * MM_PAGE_SIZE, j, MM_V1_HEADER_BYTES + V1_JOURNAL_MARK_BYTES);
    free(j);
    /* In durable mode hcommit's barrier puts the journal on the disk before
     * the version byte that makes it the truth, and its second barrier that
     * byte before the first write over V1. */
    if (!err) err = mm__hcommit(m, MM_OFF_VERSION, &upgrading, 1);
    if (!err) m->journal_page = page;
    return err;
}

int mm__upgrade_end(mm *m, uint8_t version) {
    int err = mm__hcommit(m, MM_OFF_VERSION, &version, 1);
    /* The upgrade is done; the journal page, past every bucket, would be
     * zeroed before any bucket is carved over it anyway: this gives its
     * storage back, and a failure changes nothing that is read. */
    if (!err) (void)mm_memory_discard(m->mem, m->journal_page, 1);
    return err;
}

int mm__v1_read_journal(mm_memory *mem, const struct mm_ops *target, struct mm_v1_image *img,
                        uint64_t *page) {
    uint8_t mark[V1_JOURNAL_MARK_BYTES];
    uint64_t last = mm_memory_size(mem) - 1;
    int err = mm_memory_size(mem) < 2 ? MM_EINTERRUPTED
              : mm_memory_read(mem, last * MM_PAGE_SIZE + V1_JOURNAL_OFF_MARK, mark, sizeof mark);
    if (err == MM_EINTERRUPTED ||
        (!err && (memcmp(mark, v1_journal_magic, sizeof v1_journal_magic) != 0 ||
                  mark[4] != target->upgrading_version)))
        return mm__fail(MM_EINTERRUPTED, "an upgrade from V1 to %s was interrupted (version "
                        "byte %u) and left no journal in the last page: the header is partly "
                        "rewritten and cannot be recovered", target->info.name,
                        target->upgrading_version);
    if (err) return err;
    uint8_t id[4];
    err = mm_memory_read(mem, last * MM_PAGE_SIZE, id, sizeof id);
    if (!err && (memcmp(id, MM_MAGIC, 3) != 0 || id[MM_OFF_VERSION] != MM_V1_VERSION))
        return mm__fail(MM_ECORRUPT, "the journal of the upgrade to %s holds no V1 header",
                        target->info.name);
    if (!err) err = v1_read_at(mem, last * MM_PAGE_SIZE, img, true);
    *page = last;
    return err;
}

/* Discards buckets [first, first + n) of an image's bucket size. */
static int discard_buckets(mm *m, uint64_t first, uint64_t n) {
    return mm_memory_discard(m->mem, mm__bucket_page(m, first), n * m->bucket_pages);
}

int mm__v1_rollback(mm *m, const struct mm_ops *target) {
    struct mm_v1_image *img = malloc(sizeof *img);
    uint8_t *p0 = calloc(1, MM_PAGE_SIZE);
    int err = img && p0 ? MM_OK : mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    uint64_t page = 0;
    if (!err) err = mm__v1_read_journal(m->mem, target, img, &page);
    if (!err) {
        mm__set_bucket_pages(m, img->bucket_pages);
        m->data_page = 1;
        /* The upgrade may have written its metadata into V1's unallocated
         * buckets and past V1's last one: V1 hands both out as zeros. */
        for (uint32_t b = 0; !err && b < img->count;) {
            uint32_t run = 0;
            while (b + run < img->count && img->owners[b + run] == MM_V1_UNALLOCATED) run++;
            if (run) err = discard_buckets(m, b, run);
            b += run ? run : 1;
        }
        uint64_t end = mm__bucket_page(m, img->count);
        if (!err && end < page) err = mm_memory_discard(m->mem, end, page - end);
    }
    /* V1's header comes back from the journal, the bytes past it as zeros,
     * then the magic and version byte, which commits the roll-back. */
    if (!err) err = mm__hread(m, page * MM_PAGE_SIZE, p0, MM_V1_HEADER_BYTES);
    if (!err) err = mm__hwrite(m, 4, p0 + 4, MM_PAGE_SIZE - 4);
    if (!err) err = mm__hcommit(m, 0, p0, 4);
    if (!err) (void)mm_memory_discard(m->mem, page, 1); /* as mm__upgrade_end */
    free(p0);
    free(img);
    return err;
}
