/*
 * The linear memory, as WebAssembly stable memory defines it: a size in
 * 64 KiB pages that only grows, and byte access inside that size. Bounds
 * and caps are checked here, once for every backing.
 */
#include "memory_internal.h"

uint64_t mm_memory_size(const mm_memory *mem) {
    return mem->pages;
}

int mm_memory_grow(mm_memory *mem, uint64_t delta, uint64_t *old_pages) {
    if (mem->managed)
        return mm__fail(MM_EINVAL, "a manager is open over this memory: grow it with mm_grow");
    return mm__memory_grow(mem, delta, old_pages);
}

int mm__memory_grow(mm_memory *mem, uint64_t delta, uint64_t *old_pages) {
    uint64_t cur = mem->pages;
    if (mm_likely(delta <= mem->ready_pages && cur <= mem->ready_pages - delta)) {
        mem->pages = cur + delta;
        if (old_pages) *old_pages = cur;
        return MM_OK;
    }
    if (delta > MM_MAX_PAGES - cur)
        return mm__fail(MM_EGROW, "growing %llu pages by %llu would pass the %llu-page limit",
                        (unsigned long long)cur, (unsigned long long)delta,
                        (unsigned long long)MM_MAX_PAGES);
    if (mem->max_pages && cur + delta > mem->max_pages)
        return mm__fail(MM_EGROW, "growing %llu pages by %llu would pass the cap of %llu pages",
                        (unsigned long long)cur, (unsigned long long)delta,
                        (unsigned long long)mem->max_pages);
    if (delta) {
        int err = mem->vt->grow(mem, cur + delta);
        if (err) return err;
        mem->pages = cur + delta;
    }
    if (old_pages) *old_pages = cur;
    return MM_OK;
}

static inline bool in_bounds(const mm_memory *mem, uint64_t off, size_t len) {
    uint64_t size = mem->pages * MM_PAGE_SIZE;
    return off <= size && len <= size - off;
}

static mm_noinline int out_of_bounds(const mm_memory *mem, uint64_t off, size_t len) {
    return mm__fail(MM_EBOUNDS, "linear memory access of %zu bytes at %llu passes its %llu bytes",
                    len, (unsigned long long)off,
                    (unsigned long long)(mem->pages * MM_PAGE_SIZE));
}

int mm_memory_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    if (mm_unlikely(!in_bounds(mem, off, len))) return out_of_bounds(mem, off, len);
    if (mm_unlikely(len == 0)) return MM_OK; /* buf may be NULL */
    if (mm_likely(mem->base != NULL)) {
        memcpy(buf, mem->base + off, len);
        return MM_OK;
    }
    return mem->vt->read(mem, off, buf, len);
}

int mm_memory_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    if (mm_unlikely(!in_bounds(mem, off, len))) return out_of_bounds(mem, off, len);
    if (mm_unlikely(len == 0)) return MM_OK; /* buf may be NULL */
    if (mm_likely(mem->base != NULL)) {
        memcpy(mem->base + off, buf, len);
        return MM_OK;
    }
    return mem->vt->write(mem, off, buf, len);
}

int mm_memory_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    if (first_page > mem->pages || pages > mem->pages - first_page)
        return mm__fail(MM_EBOUNDS, "discarding pages %llu..+%llu passes the %llu pages",
                        (unsigned long long)first_page, (unsigned long long)pages,
                        (unsigned long long)mem->pages);
    return pages ? mem->vt->discard(mem, first_page, pages) : MM_OK;
}

int mm_memory_sync(mm_memory *mem) {
    return mem->vt->sync ? mem->vt->sync(mem) : MM_OK;
}

void mm_memory_close(mm_memory *mem) {
    if (mem) mem->vt->close(mem);
}
