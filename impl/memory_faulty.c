/*
 * A linear memory that fails on purpose, for tests: the n-th grow or write
 * fails, or grows stop at a cap. It forwards everything else to the memory
 * it wraps and counts what passes through.
 */
#include "memory_internal.h"

#include <stdlib.h>

typedef struct faulty {
    mm_memory base;
    mm_memory *inner;
    mm_fault_plan plan;
    mm_fault_counts counts;
} faulty;

static int faulty_grow(mm_memory *mem, uint64_t new_pages) {
    faulty *f = (faulty *)mem;
    f->counts.grows++;
    if (f->counts.grows == f->plan.fail_grow_at)
        return mm__fail(MM_EGROW, "injected fault: grow #%llu fails",
                        (unsigned long long)f->counts.grows);
    if (f->plan.max_pages && new_pages > f->plan.max_pages)
        return mm__fail(MM_EGROW, "injected cap: %llu pages is past %llu",
                        (unsigned long long)new_pages, (unsigned long long)f->plan.max_pages);
    return mm_memory_grow(f->inner, new_pages - f->inner->pages, NULL);
}

static int faulty_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    faulty *f = (faulty *)mem;
    f->counts.reads++;
    return mm_memory_read(f->inner, off, buf, len);
}

static int faulty_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    faulty *f = (faulty *)mem;
    f->counts.writes++;
    if (f->counts.writes == f->plan.fail_write_at)
        return mm__fail(MM_EIO, "injected fault: write #%llu fails",
                        (unsigned long long)f->counts.writes);
    f->counts.bytes_written += len;
    return mm_memory_write(f->inner, off, buf, len);
}

static int faulty_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    faulty *f = (faulty *)mem;
    f->counts.discards++;
    return mm_memory_discard(f->inner, first_page, pages);
}

static int faulty_sync(mm_memory *mem) {
    return mm_memory_sync(((faulty *)mem)->inner);
}

static void faulty_close(mm_memory *mem) {
    free(mem);
}

static const struct mm_memory_vt faulty_vt = {
    .grow = faulty_grow,
    .read = faulty_read,
    .write = faulty_write,
    .discard = faulty_discard,
    .sync = faulty_sync,
    .close = faulty_close,
};

int mm_memory_faulty(mm_memory *inner, const mm_fault_plan *plan, mm_memory **out) {
    if (!inner || !out) return mm__fail(MM_EINVAL, "inner or out is NULL");
    faulty *f = calloc(1, sizeof *f);
    if (!f) return mm__fail(MM_ENOMEM, "cannot allocate a faulty memory");
    f->base.vt = &faulty_vt;
    f->base.pages = inner->pages;
    f->inner = inner;
    if (plan) f->plan = *plan;
    *out = &f->base;
    return MM_OK;
}

void mm_memory_fault_replan(mm_memory *mem, const mm_fault_plan *plan) {
    if (mem->vt != &faulty_vt) return;
    faulty *f = (faulty *)mem;
    f->plan = plan ? *plan : (mm_fault_plan){0};
    f->counts = (mm_fault_counts){0};
}

mm_fault_counts mm_memory_fault_counts(const mm_memory *mem) {
    if (mem->vt != &faulty_vt) return (mm_fault_counts){0};
    return ((const faulty *)mem)->counts;
}
