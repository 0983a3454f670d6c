/*
 * The space figures the benchmarks report: the dirty 4 KiB pages a linear
 * memory counts (mm_memory_dirty_counter), and the heap bytes mm_stats_get
 * sums. Counting dirty pages must change no byte and no size of what a
 * manager stores; heap_bytes must be exactly what the manager holds, which
 * a counting allocator measures beside it (the test binary is linked with
 * --wrap=malloc,calloc,realloc,free: every allocation of the library goes
 * through the wrappers below).
 */
#include "rng.h"
#include "test_core.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)
#define DP ((uint64_t)MM_DIRTY_PAGE_SIZE)

/* ------------------------------------------------------------------------
 * A counting allocator: while `counting`, every block handed out is noted
 * with the size asked for, until it is freed.
 * ---------------------------------------------------------------------- */

void *__real_malloc(size_t len);
void *__real_calloc(size_t count, size_t len);
void *__real_realloc(void *p, size_t len);
void __real_free(void *p);
void *__wrap_malloc(size_t len);
void *__wrap_calloc(size_t count, size_t len);
void *__wrap_realloc(void *p, size_t len);
void __wrap_free(void *p);

#define MAX_LIVE 8192
static struct {
    void *p;
    size_t len;
} live[MAX_LIVE];
static size_t nlive;
static uint64_t live_bytes;
static bool counting;

static void note(void *p, size_t len) {
    if (!p || !counting) return;
    if (nlive == MAX_LIVE) abort(); /* the test holds more blocks than it expects */
    live[nlive].p = p;
    live[nlive++].len = len;
    live_bytes += len;
}

static void forget(void *p) {
    for (size_t i = 0; p && i < nlive; i++)
        if (live[i].p == p) {
            live_bytes -= live[i].len;
            live[i] = live[--nlive];
            return;
        }
}

void *__wrap_malloc(size_t len) {
    void *p = __real_malloc(len);
    note(p, len);
    return p;
}

void *__wrap_calloc(size_t count, size_t len) {
    void *p = __real_calloc(count, len);
    note(p, count * len);
    return p;
}

void *__wrap_realloc(void *old, size_t len) {
    void *p = __real_realloc(old, len);
    if (p || len == 0) forget(old);
    note(p, len);
    return p;
}

void __wrap_free(void *p) {
    forget(p);
    __real_free(p);
}

/* ------------------------------------------------------------------------
 * Dirty pages
 * ---------------------------------------------------------------------- */

#define DIRTY(mem, want, what)                                                            \
    cr_assert_eq(mm_memory_dirty_pages(mem), (uint64_t)(want), "%s: %llu dirty pages, "    \
                 "expected %llu", what, (unsigned long long)mm_memory_dirty_pages(mem),   \
                 (unsigned long long)(want))

/* What a counting memory counts over any backing: distinct 4 KiB pages of
 * writes and discards; not reads, grows, refused or empty writes, nor
 * writes while paused. */
static void check_dirty_counting(mm_memory *inner) {
    uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    mm_memory *mem;
    DIRTY(inner, 0, "a memory that does not count");
    OK(mm_memory_grow(inner, 2, NULL));
    OK(mm_memory_write(inner, 0, b, 1));
    DIRTY(inner, 0, "a memory that does not count, written");
    OK(mm_memory_dirty_counter(inner, &mem));
    cr_assert_eq(mm_memory_size(mem), 2, "the counter takes the inner memory's size");
    DIRTY(mem, 0, "a new counter");
    OK(mm_memory_write(mem, 10, b, 1));
    DIRTY(mem, 1, "one byte");
    OK(mm_memory_write(mem, 20, b, 8));
    DIRTY(mem, 1, "the same 4 KiB page again");
    OK(mm_memory_write(mem, DP - 1, b, 2));
    DIRTY(mem, 2, "two bytes across a 4 KiB edge");
    OK(mm_memory_write(mem, 3 * DP, b, 0));
    FAILS(mm_memory_write(mem, 2 * PAGE - 1, b, 2), MM_EBOUNDS);
    DIRTY(mem, 2, "an empty and a refused write");
    OK(mm_memory_grow(mem, 1, NULL));
    cr_assert_eq(mm_memory_size(inner), 3, "a grow reaches the inner memory");
    DIRTY(mem, 2, "a grow");
    size_t big_len = (size_t)(3 * DP + 1);
    uint8_t *big = tc_patterned(big_len, 7);
    OK(mm_memory_write(mem, 2 * PAGE + 5 * DP, big, big_len));
    DIRTY(mem, 6, "3 x 4 KiB + 1 bytes from a 4 KiB edge");
    OK(mm_memory_discard(mem, 1, 1));
    DIRTY(mem, 22, "a discarded 64 KiB page");
    OK(mm_memory_discard(mem, 1, 1));
    OK(mm_memory_read(mem, 0, b, 8));
    DIRTY(mem, 22, "the same discard again, and a read");
    mm_memory_dirty_pause(mem, 1);
    OK(mm_memory_write(mem, 2 * PAGE + 15 * DP, b, 8));
    DIRTY(mem, 22, "a write while paused");
    mm_memory_dirty_pause(mem, 0);
    OK(mm_memory_write(mem, 2 * PAGE + 15 * DP, b, 8));
    DIRTY(mem, 23, "the same write after resuming");
    mm_memory_dirty_reset(mem);
    DIRTY(mem, 0, "after a reset");
    OK(mm_memory_write(mem, 0, b, 8));
    DIRTY(mem, 1, "a page counted before the reset");
    DIRTY(inner, 0, "the inner memory");
    /* The bytes are in the inner memory, as without counting. */
    uint8_t got[8];
    OK(mm_memory_read(inner, 2 * PAGE + 5 * DP, got, 8));
    cr_assert(memcmp(got, big, 8) == 0, "bytes written while counting");
    OK(mm_memory_read(inner, 2 * PAGE + 15 * DP, got, 8));
    cr_assert(memcmp(got, b, 8) == 0, "bytes written while paused");
    OK(mm_memory_read(inner, PAGE, got, 8));
    cr_assert(got[0] == 0 && got[7] == 0, "a discarded page reads zero");
    mm_memory_dirty_pause(inner, 1); /* no-ops on a memory that does not count */
    mm_memory_dirty_reset(inner);
    mm_memory_close(mem);
    free(big);
}

Test(space, dirty_pages_over_ram) {
    mm_memory *mem;
    OK(mm_memory_ram(0, &mem));
    check_dirty_counting(mem);
    mm_memory_close(mem);
    cr_assert_eq(mm_memory_dirty_pages(NULL), 0);
    mm_memory_dirty_reset(NULL);
    mm_memory_dirty_pause(NULL, 1);
    FAILS(mm_memory_dirty_counter(NULL, &mem), MM_EINVAL);
}

Test(space, dirty_pages_over_a_file_and_a_faulty_memory) {
    char path[64];
    tc_temp_file(path);
    mm_memory *file, *ram, *faulty;
    OK(mm_memory_file(path, 0, &file));
    check_dirty_counting(file);
    mm_memory_close(file);
    unlink(path);
    OK(mm_memory_ram(0, &ram));
    OK(mm_memory_faulty(ram, NULL, &faulty));
    check_dirty_counting(faulty);
    mm_memory_close(faulty);
    mm_memory_close(ram);
}

Test(space, dirty_pages_under_a_manager) {
    mm_memory *ram, *mem;
    mm *m;
    OK(mm_memory_ram(0, &ram));
    OK(mm_memory_dirty_counter(ram, &mem));
    OK(mm_open(mem, "v1", 1, 0, &m));
    mm_memory_dirty_reset(mem);
    OK(mm_grow(m, 0, 1, NULL)); /* the owner byte, the count and the size: page 0 */
    DIRTY(mem, 1, "one v1 grow");
    OK(mm_write(m, 0, PAGE - 1, "x", 1)); /* the last 4 KiB page of bucket 0 (page 1) */
    DIRTY(mem, 2, "a grow and a write");
    mm_memory_dirty_pause(mem, 1);
    OK(mm_grow(m, 0, 1, NULL));
    OK(mm_write(m, 0, PAGE, "y", 1));
    mm_memory_dirty_pause(mem, 0);
    DIRTY(mem, 2, "a grow and a write while paused");
    cr_assert_eq(mm_memory_size(ram), 3);
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(ram);
}

/* Seeded ops on two managers of one design, one over a memory that counts
 * dirty pages: every result, size, stat and byte must be the same. */
DESIGN_TEST(space, counting_changes_no_byte_and_no_size, 0) {
    const mm_design_info *d = THIS_DESIGN;
    uint64_t seed = tu_seed("space/counting_changes_no_byte_and_no_size", 14);
    mm_rng rng = mm_rng_seed(seed);
    mm_memory *ram[2], *mem[2];
    mm *m[2];
    for (int k = 0; k < 2; k++) {
        OK(mm_memory_ram(0, &ram[k]));
        mem[k] = ram[k];
        if (k) OK(mm_memory_dirty_counter(ram[k], &mem[k]));
        OK(mm_open(mem[k], d->name, 1, 0, &m[k]));
    }
    uint8_t buf[3 * 4096];
    for (unsigned op = 0; op < 1500; op++) {
        unsigned id = (unsigned)mm_rng_below(&rng, 8), what = (unsigned)mm_rng_below(&rng, 10);
        uint64_t size;
        OK(mm_size(m[0], id, &size));
        int rc[2];
        if (what < 5 || size == 0) {
            uint64_t pages = 1 + mm_rng_below(&rng, 3);
            for (int k = 0; k < 2; k++) rc[k] = mm_grow(m[k], id, pages, NULL);
        } else if (what < 8) {
            size_t len = 1 + (size_t)mm_rng_below(&rng, sizeof buf);
            uint64_t off = mm_rng_below(&rng, size * PAGE + 16);
            tc_pattern(buf, sizeof buf, op);
            for (int k = 0; k < 2; k++) rc[k] = mm_write(m[k], id, off, buf, len);
        } else if (what < 9) {
            for (int k = 0; k < 2; k++) rc[k] = mm_free(m[k], id);
        } else {
            for (int k = 0; k < 2; k++) {
                mm_close(m[k]);
                rc[k] = mm_open(mem[k], d->name, 0, 0, &m[k]);
                cr_assert_eq(rc[k], MM_OK, "[%s] reopen: %s", d->name, mm_error_detail());
            }
        }
        cr_assert_eq(rc[0], rc[1], "[%s, seed %llu] op %u: %s without counting, %s with",
                     d->name, (unsigned long long)seed, op, mm_strerror(rc[0]),
                     mm_strerror(rc[1]));
        if (op % 100 != 99) continue;
        mm_stats st[2];
        for (int k = 0; k < 2; k++) {
            OK(mm_stats_get(m[k], &st[k]));
            OK(mm_check(m[k]));
            /* The heap depends on the backing: link15 mirrors page 0 where
             * its bytes are behind calls, as behind the counting memory. */
            st[k].heap_bytes = 0;
        }
        cr_assert(memcmp(&st[0], &st[1], sizeof st[0]) == 0, "[%s] op %u: the stats differ",
                  d->name, op);
        size_t len0, len1;
        uint8_t *img0 = tu_image(ram[0], &len0), *img1 = tu_image(ram[1], &len1);
        cr_assert_eq(len0, len1, "[%s] op %u: %zu bytes without counting, %zu with", d->name,
                     op, len0, len1);
        cr_assert(memcmp(img0, img1, len0) == 0, "[%s] op %u: the bytes differ", d->name, op);
        free(img0);
        free(img1);
    }
    cr_assert_gt(mm_memory_dirty_pages(mem[1]), 0);
    for (int k = 0; k < 2; k++) {
        mm_close(m[k]);
        if (k) mm_memory_close(mem[k]);
        mm_memory_close(ram[k]);
    }
}

/* ------------------------------------------------------------------------
 * Heap bytes
 * ---------------------------------------------------------------------- */

static void expect_heap(mm *m, const char *what, uint64_t step) {
    mm_stats st;
    OK(mm_stats_get(m, &st));
    cr_assert_eq(st.heap_bytes, live_bytes, "[%s] %s (step %llu): mm_stats_get says %llu heap "
                 "bytes, the allocator counts %llu in %zu blocks", tu_design_name(), what,
                 (unsigned long long)step, (unsigned long long)st.heap_bytes,
                 (unsigned long long)live_bytes, nlive);
}

/* Enough one-page buckets that list and freestack take metadata buckets
 * (list keeps 15,092 links in page 0) and every table reallocates. */
#define HEAP_GROWS 16000u

DESIGN_TEST(space, heap_bytes_is_what_the_manager_holds, 0) {
    const mm_design_info *d = THIS_DESIGN;
    mm_memory *mem;
    mm *m;
    OK(mm_memory_ram(0, &mem)); /* the memory's own block is not the manager's */
    counting = true;
    OK(mm_open(mem, d->name, 1, 0, &m));
    expect_heap(m, "after formatting", 0);
    for (uint64_t i = 0; i < HEAP_GROWS; i++) {
        OK(mm_grow(m, (unsigned)(i % 37), 1 + (i % 5 == 0), NULL));
        if (i % 997 == 0) expect_heap(m, "growing", i);
    }
    expect_heap(m, "after the grows", HEAP_GROWS);
    if (d->flags & MM_DESIGN_CAN_FREE) {
        for (unsigned id = 0; id < 37; id += 3) OK(mm_free(m, id));
        expect_heap(m, "after frees", 0);
        for (uint64_t i = 0; i < 500; i++) OK(mm_grow(m, 40 + (unsigned)(i % 3), 1, NULL));
        expect_heap(m, "after regrowing", 0);
    }
    OK(mm_check(m));
    expect_heap(m, "after mm_check", 0);
    mm_close(m);
    cr_assert_eq(live_bytes, 0, "[%s] closing left %llu bytes in %zu blocks", d->name,
                 (unsigned long long)live_bytes, nlive);
    OK(mm_open(mem, d->name, 0, 0, &m));
    expect_heap(m, "after loading", 0);
    mm_close(m);
    counting = false;
    mm_memory_close(mem);
}
