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

int mm__v1_read(mm_memory *mem, struct mm_v1_image *img) {
    uint8_t fixed[MM_V1_OFF_OWNERS];
    int err = mm_memory_read(mem, 0, fixed, sizeof fixed);
    if (!err) err = mm_memory_read(mem, MM_V1_OFF_OWNERS, img->owners, sizeof img->owners);
    if (err) return err;
    img->count = mm_get_u16(fixed + MM_V1_OFF_COUNT);
    img->bucket_pages = mm_get_u16(fixed + MM_V1_OFF_BUCKET_PAGES);
    if (img->count > MM_V1_MAX_BUCKETS)
        return mm__fail(MM_ECORRUPT, "V1 header: %u buckets allocated, over the maximum of %u",
                        img->count, MM_V1_MAX_BUCKETS);
    if (img->bucket_pages == 0) return mm__fail(MM_ECORRUPT, "V1 header: bucket size is 0 pages");
    uint32_t stray = first_owned_from(img->owners, img->count);
    if (stray < MM_V1_MAX_BUCKETS)
        return mm__fail(MM_ECORRUPT, "V1 header: bucket %u is owned by memory %u, but only "
                        "%u buckets are allocated", stray, img->owners[stray], img->count);
    uint32_t owned[MM_V1_UNALLOCATED + 1] = {0}; /* the last counts unallocated buckets */
    for (uint32_t b = 0; b < img->count; b++) owned[img->owners[b]]++;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = mm_get_u64(fixed + MM_V1_OFF_SIZES + 8 * i);
        uint64_t want = size / img->bucket_pages + (size % img->bucket_pages != 0);
        if (want != owned[i])
            return mm__fail(MM_ECORRUPT, "V1 header: memory %u has %llu pages, which need %llu "
                            "buckets, but it owns %u", i, (unsigned long long)size,
                            (unsigned long long)want, owned[i]);
        img->sizes[i] = size;
    }
    uint64_t need = 1 + (uint64_t)img->count * img->bucket_pages;
    if (mm_memory_size(mem) < need)
        return mm__fail(MM_ECORRUPT, "V1 header: %u buckets of %u pages need %llu pages, but the "
                        "linear memory holds %llu", img->count, img->bucket_pages,
                        (unsigned long long)need, (unsigned long long)mm_memory_size(mem));
    return MM_OK;
}

int mm__v1_adopt(mm *m, const struct mm_v1_image *img) {
    uint32_t owned[MM_MAX_MEMORIES] = {0};
    for (uint32_t b = 0; b < img->count; b++)
        if (img->owners[b] != MM_V1_UNALLOCATED) owned[img->owners[b]]++;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        int err = mm__table_reserve(&m->tables[i], owned[i]);
        if (err) return err;
        m->sizes[i] = img->sizes[i];
    }
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

int mm__v1_load(mm *m) {
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    int err = mm__v1_read(m->mem, img);
    if (!err) {
        mm__set_bucket_pages(m, img->bucket_pages);
        m->header_bytes = MM_V1_HEADER_BYTES;
        err = mm__v1_adopt(m, img);
    }
    free(img);
    return err;
}

int mm__v1_write_owners(mm *m, const uint32_t *ids, uint64_t n, uint8_t owner) {
    /* A run of adjacent buckets is one write. */
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

int mm__v1_persist_grow(mm *m, unsigned id, uint64_t new_size, uint64_t nnew,
                        uint64_t new_count) {
    mm_table *t = &m->tables[id];
    int err = mm__ensure_pages(m, mm__bucket_page(m, new_count));
    if (!err) err = mm__v1_write_owners(m, t->ids + t->len - nnew, nnew, (uint8_t)id);
    if (!err && new_count != m->nbuckets) {
        uint8_t count[2];
        mm_put_u16(count, (uint16_t)new_count);
        err = mm__hwrite(m, MM_V1_OFF_COUNT, count, sizeof count);
    }
    if (!err) {
        uint8_t size[8];
        mm_put_u64(size, new_size);
        err = mm__hwrite(m, MM_V1_OFF_SIZES + 8u * id, size, sizeof size);
    }
    if (err) {
        t->len -= (uint32_t)nnew;
        return err;
    }
    m->nbuckets = new_count;
    m->sizes[id] = new_size;
    return MM_OK;
}

int mm__v1_check(mm *m, uint8_t version) {
    struct mm_v1_image *img = malloc(sizeof *img);
    if (!img) return mm__fail(MM_ENOMEM, "cannot allocate a V1 image");
    uint8_t id[4];
    int err = mm__hread(m, 0, id, sizeof id);
    if (!err && (memcmp(id, MM_MAGIC, 3) != 0 || id[MM_OFF_VERSION] != version))
        err = mm__fail(MM_ECHECK, "the header lost its magic or version %u", version);
    if (!err) {
        err = mm__v1_read(m->mem, img);
        if (err == MM_ECORRUPT) err = MM_ECHECK; /* keep the detail, report as a check */
    }
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
