/*
 * A linear memory that counts dirty pages: it wraps another and forwards
 * every call, marking one bit per 4 KiB page that a write or a discard
 * touches (mmfree.h says why a discard counts and a grow does not). The
 * count is what a phase costs on WebAssembly stable memory or a file,
 * where writes are paid by the page.
 *
 * A wrapper, not a mode of every memory, so that no other memory carries
 * even a test of a flag on its paths: the manager's fast paths need a
 * memory's direct bytes (base), which this one has not, so a manager over
 * it takes the general path for every access and every write is seen here.
 * Benchmarks count instructions without it and dirty pages with it, in two
 * runs of the same deterministic workload.
 */
#include "memory_internal.h"

#include <stdlib.h>

#define DIRTY_PER_PAGE (MM_PAGE_SIZE / MM_DIRTY_PAGE_SIZE)

typedef struct counter {
    mm_memory base;
    mm_memory *inner;
    uint64_t *bits;  /* bit p: 4 KiB page p was written since the last reset */
    uint64_t words;  /* allocated */
    uint64_t count;  /* bits set */
    bool paused;
} counter;

static const struct mm_memory_vt counter_vt;

static counter *as_counter(const mm_memory *mem) {
    return mem && mem->vt == &counter_vt ? (counter *)mem : NULL;
}

/* Room for the bits of pages [0, pages), zeroed. */
static int cover(counter *c, uint64_t pages) {
    uint64_t need = (pages * DIRTY_PER_PAGE + 63) / 64; /* pages <= MM_MAX_PAGES: no overflow */
    if (need <= c->words) return MM_OK;
    uint64_t want = c->words * 2 > need ? c->words * 2 : need;
    uint64_t *bits = want > SIZE_MAX / sizeof *bits ? NULL
                                                    : realloc(c->bits, (size_t)want * sizeof *bits);
    if (!bits)
        return mm__fail(MM_ENOMEM, "cannot count the dirty pages of %llu pages",
                        (unsigned long long)pages);
    memset(bits + c->words, 0, (size_t)(want - c->words) * sizeof *bits);
    c->bits = bits;
    c->words = want;
    return MM_OK;
}

/* Marks the 4 KiB pages of bytes [off, off + len), len > 0, a word at a time. */
static void mark(counter *c, uint64_t off, uint64_t len) {
    if (c->paused) return;
    uint64_t first = off / MM_DIRTY_PAGE_SIZE, end = (off + len - 1) / MM_DIRTY_PAGE_SIZE + 1;
    while (first < end) {
        uint64_t lo = first % 64, n = end - first < 64 - lo ? end - first : 64 - lo;
        uint64_t bits = (n == 64 ? ~0ull : (1ull << n) - 1) << lo;
        c->count += mm_popcount64(bits & ~c->bits[first / 64]);
        c->bits[first / 64] |= bits;
        first += n;
    }
}

static int counter_grow(mm_memory *mem, uint64_t new_pages) {
    counter *c = (counter *)mem;
    int err = cover(c, new_pages);
    return err ? err : mm_memory_grow(c->inner, new_pages - c->inner->pages, NULL);
}

static int counter_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    return mm_memory_read(((counter *)mem)->inner, off, buf, len);
}

static int counter_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    counter *c = (counter *)mem;
    int err = mm_memory_write(c->inner, off, buf, len);
    if (!err) mark(c, off, len);
    return err;
}

static int counter_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    counter *c = (counter *)mem;
    int err = mm_memory_discard(c->inner, first_page, pages);
    if (!err) mark(c, first_page * MM_PAGE_SIZE, pages * MM_PAGE_SIZE);
    return err;
}

static int counter_sync(mm_memory *mem) {
    return mm_memory_sync(((counter *)mem)->inner);
}

static void counter_close(mm_memory *mem) {
    counter *c = (counter *)mem;
    free(c->bits);
    free(c);
}

static const struct mm_memory_vt counter_vt = {
    .grow = counter_grow,
    .read = counter_read,
    .write = counter_write,
    .discard = counter_discard,
    .sync = counter_sync,
    .close = counter_close,
};

int mm_memory_dirty_counter(mm_memory *inner, mm_memory **out) {
    if (!inner || !out) return mm__fail(MM_EINVAL, "inner or out is NULL");
    counter *c = calloc(1, sizeof *c);
    if (!c) return mm__fail(MM_ENOMEM, "cannot allocate a dirty-page counter");
    int err = cover(c, inner->pages);
    if (err) {
        free(c);
        return err;
    }
    mm__memory_wrap(&c->base, &counter_vt, inner);
    c->inner = inner;
    *out = &c->base;
    return MM_OK;
}

uint64_t mm_memory_dirty_pages(const mm_memory *mem) {
    const counter *c = as_counter(mem);
    return c ? c->count : 0;
}

void mm_memory_dirty_reset(mm_memory *mem) {
    counter *c = as_counter(mem);
    if (!c) return;
    memset(c->bits, 0, (size_t)c->words * sizeof *c->bits);
    c->count = 0;
}

void mm_memory_dirty_pause(mm_memory *mem, int paused) {
    counter *c = as_counter(mem);
    if (c) c->paused = paused != 0;
}
