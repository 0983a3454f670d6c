/*
 * A linear memory in RAM. Address space is reserved with mmap and committed
 * by the kernel on first touch, so a grow never copies: when the
 * reservation runs out it is doubled with mremap, which moves page-table
 * entries, not bytes. Benchmarks then measure the manager, not realloc.
 */
#define _GNU_SOURCE
#include "memory_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

/* 1 GiB: large enough that most runs never remap, small enough for any
 * address space (valgrind's included). */
#define RAM_FIRST_RESERVE_PAGES 16384u

typedef struct ram {
    mm_memory base;
    uint64_t reserved_pages;
} ram;

static int ram_reserve(ram *r, uint64_t pages) {
    size_t old_bytes = (size_t)(r->reserved_pages * MM_PAGE_SIZE);
    size_t new_bytes = (size_t)(pages * MM_PAGE_SIZE);
    void *p;
    if (r->base.base)
        p = mremap(r->base.base, old_bytes, new_bytes, MREMAP_MAYMOVE);
    else
        p = mmap(NULL, new_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char why[MM_ERRNO_TEXT];
    if (p == MAP_FAILED)
        return mm__fail(MM_EGROW, "cannot reserve %llu pages of address space: %s",
                        (unsigned long long)pages, mm__errno_text(errno, why));
    r->base.base = p;
    r->reserved_pages = pages;
    r->base.ready_pages = pages;
    return MM_OK;
}

static int ram_grow(mm_memory *mem, uint64_t new_pages) {
    ram *r = (ram *)mem;
    if (new_pages <= r->reserved_pages) return MM_OK;
    uint64_t want = r->reserved_pages ? r->reserved_pages : RAM_FIRST_RESERVE_PAGES;
    while (want < new_pages) want = want > MM_MAX_PAGES / 2 ? MM_MAX_PAGES : want * 2;
    if (mem->max_pages && want > mem->max_pages) want = mem->max_pages;
    if (want > SIZE_MAX / MM_PAGE_SIZE)
        return mm__fail(MM_EGROW, "%llu pages do not fit in this address space",
                        (unsigned long long)want);
    return ram_reserve(r, want);
}

static mm_noinline int discard_failed(int e) {
    char why[MM_ERRNO_TEXT];
    return mm__fail(MM_EIO, "madvise(MADV_DONTNEED) failed: %s", mm__errno_text(e, why));
}

/* The pages are not in the message: keeping them across the call would
 * cost every discard two saved registers (free discards each bucket), and
 * the caller knows them. */
static int ram_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    /* MADV_DONTNEED on private anonymous memory: the next touch maps a
     * zero page, exactly what a fresh grow gives. */
    if (mm_likely(madvise(mem->base + first_page * MM_PAGE_SIZE, (size_t)(pages * MM_PAGE_SIZE),
                          MADV_DONTNEED) == 0))
        return MM_OK;
    return discard_failed(errno);
}

static void ram_close(mm_memory *mem) {
    ram *r = (ram *)mem;
    if (r->base.base) munmap(r->base.base, (size_t)(r->reserved_pages * MM_PAGE_SIZE));
    free(r);
}

static const struct mm_memory_vt ram_vt = {
    .grow = ram_grow,
    .discard = ram_discard,
    .close = ram_close,
};

int mm_memory_ram(uint64_t max_pages, mm_memory **out) {
    if (!out) return mm__fail(MM_EINVAL, "out is NULL");
    ram *r = calloc(1, sizeof *r);
    if (!r) return mm__fail(MM_ENOMEM, "cannot allocate a RAM memory");
    r->base.vt = &ram_vt;
    r->base.max_pages = max_pages;
    *out = &r->base;
    return MM_OK;
}
