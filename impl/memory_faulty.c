/*
 * A linear memory that fails on purpose, for tests: the n-th grow or write
 * fails, or grows stop at a cap. It forwards everything else to the memory
 * it wraps and counts what passes through.
 *
 * It also simulates crashes. The wrapped memory plays the page cache (what
 * the running process reads back); a second memory, the plan's disk, plays
 * the storage that survives. Storage calls (grow, write, discard) go to
 * both until the plan's crash point; from there on only the ones the plan
 * keeps, up to the next barrier, reach the disk. The process goes on as if
 * nothing happened, as a process whose writes are still in the page cache
 * would, so the calls it makes after the crash point are exactly those of
 * a run without it; the test then opens the disk as the next process would.
 */
#include "memory_internal.h"

#include <stdlib.h>

typedef struct faulty {
    mm_memory base;
    mm_memory *inner;
    mm_fault_plan plan;
    mm_fault_counts counts;
    bool epoch_over; /* a barrier fell after the crash point: nothing more reaches disk */
    uint64_t *barrier_at;
    size_t barrier_cap;
} faulty;

/* Counts a storage call; true when it reaches the disk. */
static bool reaches_disk(faulty *f) {
    uint64_t n = ++f->counts.calls;
    if (!f->plan.disk) return false;
    if (!f->plan.crash_at || n < f->plan.crash_at) return true;
    uint64_t j = n - f->plan.crash_at;
    if (!f->epoch_over && j < 64 && (f->plan.crash_keep >> j & 1)) return true;
    f->counts.lost++;
    return false;
}

static void disk_result(faulty *f, int err) {
    if (err) f->counts.disk_errors++;
}

static int faulty_grow(mm_memory *mem, uint64_t new_pages) {
    faulty *f = (faulty *)mem;
    f->counts.grows++;
    bool disk = reaches_disk(f);
    if (f->counts.grows == f->plan.fail_grow_at)
        return mm__fail(MM_EGROW, "injected fault: grow #%llu fails",
                        (unsigned long long)f->counts.grows);
    if (f->plan.max_pages && new_pages > f->plan.max_pages)
        return mm__fail(MM_EGROW, "injected cap: %llu pages is past %llu",
                        (unsigned long long)new_pages, (unsigned long long)f->plan.max_pages);
    int err = mm_memory_grow(f->inner, new_pages - f->inner->pages, NULL);
    if (!err && disk && f->plan.disk->pages < new_pages)
        disk_result(f, mm_memory_grow(f->plan.disk, new_pages - f->plan.disk->pages, NULL));
    return err;
}

static int faulty_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    faulty *f = (faulty *)mem;
    f->counts.reads++;
    return mm_memory_read(f->inner, off, buf, len);
}

static int faulty_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    faulty *f = (faulty *)mem;
    f->counts.writes++;
    bool disk = reaches_disk(f);
    if (f->counts.writes == f->plan.fail_write_at)
        return mm__fail(MM_EIO, "injected fault: write #%llu fails",
                        (unsigned long long)f->counts.writes);
    f->counts.bytes_written += len;
    int err = mm_memory_write(f->inner, off, buf, len);
    if (!err && disk) disk_result(f, mm_memory_write(f->plan.disk, off, buf, len));
    return err;
}

static int faulty_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    faulty *f = (faulty *)mem;
    f->counts.discards++;
    bool disk = reaches_disk(f);
    int err = mm_memory_discard(f->inner, first_page, pages);
    if (!err && disk) disk_result(f, mm_memory_discard(f->plan.disk, first_page, pages));
    return err;
}

static int faulty_barrier(mm_memory *mem) {
    faulty *f = (faulty *)mem;
    if (f->counts.barriers == f->barrier_cap) {
        size_t cap = f->barrier_cap ? 2 * f->barrier_cap : 64;
        uint64_t *p = realloc(f->barrier_at, cap * sizeof *p);
        if (p) f->barrier_at = p, f->barrier_cap = cap;
    }
    if (f->counts.barriers < f->barrier_cap) f->barrier_at[f->counts.barriers] = f->counts.calls;
    f->counts.barriers++;
    if (f->plan.crash_at && f->counts.calls >= f->plan.crash_at) f->epoch_over = true;
    return mm__memory_barrier(f->inner);
}

/* A sync orders the storage as a barrier does (and more). */
static int faulty_sync(mm_memory *mem) {
    int err = faulty_barrier(mem);
    return err ? err : mm_memory_sync(((faulty *)mem)->inner);
}

static void faulty_close(mm_memory *mem) {
    free(((faulty *)mem)->barrier_at);
    free(mem);
}

static const struct mm_memory_vt faulty_vt = {
    .grow = faulty_grow,
    .read = faulty_read,
    .write = faulty_write,
    .discard = faulty_discard,
    .sync = faulty_sync,
    .barrier = faulty_barrier,
    .close = faulty_close,
};

int mm_memory_faulty(mm_memory *inner, const mm_fault_plan *plan, mm_memory **out) {
    if (!inner || !out) return mm__fail(MM_EINVAL, "inner or out is NULL");
    faulty *f = calloc(1, sizeof *f);
    if (!f) return mm__fail(MM_ENOMEM, "cannot allocate a faulty memory");
    mm__memory_wrap(&f->base, &faulty_vt, inner);
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
    f->epoch_over = false;
}

mm_fault_counts mm_memory_fault_counts(const mm_memory *mem) {
    if (mem->vt != &faulty_vt) return (mm_fault_counts){0};
    return ((const faulty *)mem)->counts;
}

size_t mm_memory_fault_barriers(const mm_memory *mem, uint64_t *calls, size_t cap) {
    if (mem->vt != &faulty_vt) return 0;
    const faulty *f = (const faulty *)mem;
    size_t n = (size_t)f->counts.barriers;
    for (size_t j = 0; j < n && j < cap && j < f->barrier_cap; j++) calls[j] = f->barrier_at[j];
    return n;
}
