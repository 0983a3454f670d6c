/*
 * The conformance suite: what every design must do, run once per
 * registered design. Tests that need free run only for designs that can
 * free; designs that cannot are tested for refusing it.
 */
#include "rng.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

static void fill(uint8_t *buf, size_t len, uint8_t salt) {
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(i * 31 + salt);
}

DESIGN_TEST(conformance, format_empty, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 0);
    cr_assert_eq(mm_bucket_pages(t.m), MM_DEFAULT_BUCKET_PAGES);
    cr_assert_str_eq(mm_design(t.m)->name, THIS_DESIGN->name);
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) cr_assert_eq(tu_size(&t, id), 0);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.memories_in_use, 0);
    cr_assert_eq(st.buckets_in_use, 0);
    cr_assert(st.linear_pages >= 1, "formatting writes a header");
    cr_assert(st.header_bytes > 0 && st.header_bytes <= st.linear_pages * PAGE);
    tu_check(&t);
    tu_close(&t);
}

/* A first format's page 0 can land in part: the kernel copies a file
 * write a page at a time, and a process killed in it leaves the first
 * pages only. Cut at every 4 KiB boundary, what a format wrote opens as
 * the empty layout it was to be. */
DESIGN_TEST(conformance, format_cut_at_a_4_kib_boundary_opens, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    mm_close(t.m);
    t.m = NULL;
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    cr_assert(len >= PAGE);
    static const uint8_t zeros[PAGE];
    for (uint64_t cut = MM_DIRTY_PAGE_SIZE; cut < PAGE; cut += MM_DIRTY_PAGE_SIZE) {
        OK(mm_memory_write(t.mem, 0, img, PAGE));
        OK(mm_memory_write(t.mem, cut, zeros, (size_t)(PAGE - cut)));
        int err = mm_open(t.mem, THIS_DESIGN->name, 0, 0, &t.m);
        cr_assert_eq(err, MM_OK, "[%s] cut at byte %llu: open -> %s (%s)", THIS_DESIGN->name,
                     (unsigned long long)cut, mm_strerror(err), mm_error_detail());
        tu_check(&t);
        for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) cr_assert_eq(tu_size(&t, id), 0);
        tu_grow(&t, 254, 1);
        mm_close(t.m);
        t.m = NULL;
    }
    free(img);
    tu_close(&t);
}

DESIGN_TEST(conformance, grow_and_size, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 2);
    tu_grow(&t, 0, 1);
    tu_check(&t);
    tu_grow(&t, 0, 3);
    tu_check(&t);
    tu_grow(&t, 7, 5);
    tu_check(&t);
    tu_grow(&t, 254, 1);
    tu_check(&t);
    cr_assert_eq(tu_size(&t, 0), 4);
    cr_assert_eq(tu_size(&t, 7), 5);
    cr_assert_eq(tu_size(&t, 254), 1);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.memories_in_use, 3);
    cr_assert_eq(st.buckets_in_use, 2 + 3 + 1);
    cr_assert(st.linear_pages >= 1 + 6 * 2);
    tu_close(&t);
}

DESIGN_TEST(conformance, zero_page_grow_changes_nothing, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 3, 2);
    mm_stats before = tu_stats(&t);
    uint64_t old = 99;
    OK_CHECK(t.m, mm_grow(t.m, 3, 0, &old));
    cr_assert_eq(old, 2);
    OK_CHECK(t.m, mm_grow(t.m, 4, 0, &old));
    cr_assert_eq(old, 0);
    mm_stats after = tu_stats(&t);
    cr_assert_eq(after.header_bytes_written, before.header_bytes_written);
    cr_assert_eq(after.linear_pages, before.linear_pages);
    cr_assert_eq(after.memories_in_use, 1);
    tu_check(&t);
    tu_close(&t);
}

DESIGN_TEST(conformance, new_pages_read_zero, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 3);
    tu_grow(&t, 1, 5);
    uint8_t buf[PAGE];
    for (uint64_t p = 0; p < 5; p++) {
        OK(mm_read(t.m, 1, p * PAGE, buf, sizeof buf));
        for (size_t i = 0; i < sizeof buf; i++) cr_assert_eq(buf[i], 0);
    }
    tu_close(&t);
}

/* Memories grown in turn get interleaved buckets, so spans cross buckets
 * that are not adjacent in the linear memory. */
DESIGN_TEST(conformance, spans_cross_buckets, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    for (int round = 0; round < 4; round++) {
        tu_grow(&t, 0, 1);
        tu_grow(&t, 1, 1);
        tu_check(&t);
    }
    static uint8_t data[3 * PAGE], back[3 * PAGE], other[4 * PAGE];
    fill(data, sizeof data, 7);
    /* From the middle of bucket 0 to the middle of bucket 3 of memory 0. */
    OK_CHECK(t.m, mm_write(t.m, 0, PAGE / 2, data, sizeof data));
    tu_check(&t);
    OK(mm_read(t.m, 0, PAGE / 2, back, sizeof back));
    cr_assert_arr_eq(back, data, sizeof data);
    /* Memory 1 is untouched. */
    OK(mm_read(t.m, 1, 0, other, sizeof other));
    for (size_t i = 0; i < sizeof other; i++) cr_assert_eq(other[i], 0);
    /* Unaligned small spans across each edge. */
    for (uint64_t edge = PAGE; edge < 4 * PAGE; edge += PAGE) {
        uint8_t w[5] = {1, 2, 3, 4, (uint8_t)edge}, r[5];
        OK_CHECK(t.m, mm_write(t.m, 1, edge - 2, w, 5));
        OK(mm_read(t.m, 1, edge - 2, r, 5));
        cr_assert_arr_eq(r, w, 5);
    }
    OK(mm_read(t.m, 0, PAGE / 2, back, sizeof back));
    cr_assert_arr_eq(back, data, sizeof data, "memory 0 was changed by writes to memory 1");
    tu_close(&t);
}

DESIGN_TEST(conformance, out_of_bounds, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 2, 2);
    uint8_t buf[16] = {0xAA, 0xBB}, back[16];
    /* A span that ends exactly at the end is fine; one byte more is not. */
    OK_CHECK(t.m, mm_write(t.m, 2, 2 * PAGE - 16, buf, 16));
    FAILS(mm_write(t.m, 2, 2 * PAGE - 15, buf, 16), MM_EBOUNDS);
    FAILS(mm_read(t.m, 2, 2 * PAGE - 15, back, 16), MM_EBOUNDS);
    FAILS(mm_write(t.m, 2, UINT64_MAX - 3, buf, 16), MM_EBOUNDS);
    FAILS(mm_read(t.m, 2, UINT64_MAX, back, 1), MM_EBOUNDS);
    OK(mm_read(t.m, 2, 2 * PAGE, back, 0));
    FAILS(mm_read(t.m, 2, 2 * PAGE + 1, back, 0), MM_EBOUNDS);
    /* An empty memory has no byte at all. */
    FAILS(mm_read(t.m, 3, 0, back, 1), MM_EBOUNDS);
    FAILS(mm_write(t.m, 3, 0, buf, 1), MM_EBOUNDS);
    /* The refused write changed nothing, even its in-bounds part. */
    uint8_t last[16];
    OK(mm_read(t.m, 2, 2 * PAGE - 16, last, 16));
    cr_assert_arr_eq(last, buf, 16);
    OK(mm_read(t.m, 2, 0, back, 16));
    for (int i = 0; i < 16; i++) cr_assert_eq(back[i], 0);
    tu_check(&t);
    tu_close(&t);
}

DESIGN_TEST(conformance, invalid_ids, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    uint8_t b = 0;
    uint64_t v;
    for (unsigned id = MM_MAX_MEMORIES; id < 300; id += 44) {
        FAILS(mm_size(t.m, id, &v), MM_EINVAL);
        FAILS(mm_grow(t.m, id, 1, &v), MM_EINVAL);
        FAILS(mm_read(t.m, id, 0, &b, 1), MM_EINVAL);
        FAILS(mm_write(t.m, id, 0, &b, 1), MM_EINVAL);
        FAILS(mm_free(t.m, id), MM_EINVAL);
    }
    FAILS(mm_grow(t.m, UINT32_MAX, 1, &v), MM_EINVAL);
    cr_assert_eq(tu_stats(&t).buckets_in_use, 0);
    tu_check(&t);
    tu_close(&t);
}

DESIGN_TEST(conformance, grow_overflow_is_refused, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 3);
    mm_stats before = tu_stats(&t);
    uint64_t v;
    FAILS(mm_grow(t.m, 0, UINT64_MAX, &v), MM_EOVERFLOW);
    FAILS(mm_grow(t.m, 0, MM_MAX_PAGES - 2, &v), MM_EOVERFLOW);
    /* More buckets than the design addresses. */
    int err = mm_grow(t.m, 1, THIS_DESIGN->max_buckets + 1, &v);
    cr_assert(err == MM_EOVERFLOW || err == MM_EFULL, "got %s", mm_strerror(err));
    mm_stats after = tu_stats(&t);
    cr_assert_eq(tu_size(&t, 0), 3);
    cr_assert_eq(tu_size(&t, 1), 0);
    cr_assert_eq(after.header_bytes_written, before.header_bytes_written);
    cr_assert_eq(after.linear_pages, before.linear_pages);
    tu_check(&t);
    tu_close(&t);
}

DESIGN_TEST(conformance, reopen_file_keeps_everything, 0) {
    tu_mm t;
    tu_open_file(&t, THIS_DESIGN->name, 2);
    static uint8_t data[5 * PAGE], back[5 * PAGE];
    for (unsigned id = 0; id < 5; id++) {
        tu_grow(&t, id * 40, id + 1);
        fill(data, (id + 1) * PAGE, (uint8_t)id);
        OK_CHECK(t.m, mm_write(t.m, id * 40, 0, data, (id + 1) * PAGE));
    }
    tu_grow(&t, 0, 4); /* memory 0 now spans buckets far apart */
    fill(data, 5 * PAGE, 99);
    OK_CHECK(t.m, mm_write(t.m, 0, 0, data, 5 * PAGE));
    tu_check(&t);
    mm_stats before = tu_stats(&t);
    tu_reopen(&t);
    tu_check(&t);
    cr_assert_eq(mm_bucket_pages(t.m), 2);
    mm_stats after = tu_stats(&t);
    cr_assert_eq(after.buckets_in_use, before.buckets_in_use);
    cr_assert_eq(after.linear_pages, before.linear_pages);
    cr_assert_eq(tu_size(&t, 0), 5);
    OK(mm_read(t.m, 0, 0, back, 5 * PAGE));
    cr_assert_arr_eq(back, data, 5 * PAGE);
    for (unsigned id = 1; id < 5; id++) {
        cr_assert_eq(tu_size(&t, id * 40), id + 1);
        fill(data, (id + 1) * PAGE, (uint8_t)id);
        OK(mm_read(t.m, id * 40, 0, back, (id + 1) * PAGE));
        cr_assert_arr_eq(back, data, (id + 1) * PAGE, "memory %u", id * 40);
    }
    /* And it keeps working after the reopen. */
    tu_grow(&t, 40, 3);
    tu_check(&t);
    tu_close(&t);
}

DESIGN_TEST(conformance, stored_bucket_size_wins, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 3);
    tu_grow(&t, 0, 4);
    mm_close(t.m);
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    FAILS(mm_open(t.mem, THIS_DESIGN->name, 4, 0, &t.m), MM_EBUCKET_SIZE);
    tu_assert_image(t.mem, img, len, "after a refused bucket size");
    OK(mm_open(t.mem, THIS_DESIGN->name, 0, 0, &t.m));
    cr_assert_eq(mm_bucket_pages(t.m), 3);
    mm_close(t.m);
    OK(mm_open(t.mem, THIS_DESIGN->name, 3, 0, &t.m));
    cr_assert_eq(tu_size(&t, 0), 4);
    free(img);
    tu_close(&t);
}

DESIGN_TEST(conformance, failed_linear_grow_changes_nothing, 0) {
    mm_memory *ram, *mem;
    mm *m;
    OK(mm_memory_ram(0, &ram));
    mm_fault_plan plan = {0};
    OK(mm_memory_faulty(ram, &plan, &mem));
    OK(mm_open(mem, THIS_DESIGN->name, 1, 0, &m));
    uint64_t v;
    OK_CHECK(m, mm_grow(m, 0, 2, &v));
    uint8_t x[3] = {1, 2, 3};
    OK_CHECK(m, mm_write(m, 0, PAGE - 1, x, 3));
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    mm_stats before;
    OK(mm_stats_get(m, &before));
    plan.fail_grow_at = 1;
    mm_memory_fault_replan(mem, &plan);
    FAILS(mm_grow(m, 1, 1, &v), MM_EGROW);
    mm_memory_fault_replan(mem, &plan);
    FAILS(mm_grow(m, 0, 1, &v), MM_EGROW);
    uint64_t s0, s1;
    OK(mm_size(m, 0, &s0));
    OK(mm_size(m, 1, &s1));
    cr_assert_eq(s0, 2);
    cr_assert_eq(s1, 0);
    tu_assert_image(mem, img, len, "after a failed linear grow");
    OK(mm_check(m));
    mm_close(m);
    OK(mm_open(mem, THIS_DESIGN->name, 0, 0, &m));
    OK(mm_size(m, 0, &s0));
    cr_assert_eq(s0, 2);
    OK(mm_check(m));
    free(img);
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(ram);
}

/* ---- free ------------------------------------------------------------- */

static bool cannot_free(const mm_design_info *d) {
    return !(d->flags & MM_DESIGN_CAN_FREE);
}

DESIGN_TEST_WHERE(conformance_free, cannot_free_changes_nothing, cannot_free) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 5, 2);
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    FAILS(mm_free(t.m, 5), MM_ENOTSUP);
    FAILS(mm_free(t.m, 6), MM_ENOTSUP);
    cr_assert_eq(tu_size(&t, 5), 2);
    tu_assert_image(t.mem, img, len, "after a refused free");
    tu_check(&t);
    free(img);
    tu_close(&t);
}

DESIGN_TEST(conformance_free, free_postconditions, MM_DESIGN_CAN_FREE) {
    tu_mm t;
    tu_open_file(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 3);
    tu_grow(&t, 1, 2);
    tu_grow(&t, 0, 1);
    uint8_t x[4] = {9, 8, 7, 6}, r[4];
    OK_CHECK(t.m, mm_write(t.m, 0, 3 * PAGE, x, 4));
    OK_CHECK(t.m, mm_write(t.m, 1, 0, x, 4));
    mm_stats before = tu_stats(&t);
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_check(&t);
    /* 1. size zero */
    cr_assert_eq(tu_size(&t, 0), 0);
    FAILS(mm_read(t.m, 0, 0, r, 1), MM_EBOUNDS);
    /* 2. its buckets are unallocated */
    mm_stats after = tu_stats(&t);
    cr_assert_eq(after.buckets_in_use, before.buckets_in_use - 4);
    cr_assert_eq(after.buckets_free, before.buckets_free + 4);
    cr_assert_eq(after.memories_in_use, 1);
    /* Freeing an empty memory succeeds and changes nothing. */
    OK_CHECK(t.m, mm_free(t.m, 0));
    OK_CHECK(t.m, mm_free(t.m, 200));
    cr_assert_eq(tu_stats(&t).buckets_free, after.buckets_free);
    /* 4. it persists */
    tu_reopen(&t);
    tu_check(&t);
    cr_assert_eq(tu_size(&t, 0), 0);
    cr_assert_eq(tu_stats(&t).buckets_free, after.buckets_free);
    OK(mm_read(t.m, 1, 0, r, 4));
    cr_assert_arr_eq(r, x, 4, "the other memory keeps its bytes");
    tu_close(&t);
}

DESIGN_TEST(conformance_free, reuse_before_growing, MM_DESIGN_CAN_FREE | MM_DESIGN_REUSES_ALL) {
    tu_mm t;
    tu_open_file(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 4);
    tu_grow(&t, 1, 4);
    tu_grow(&t, 2, 4);
    uint8_t junk[64];
    memset(junk, 0x5A, sizeof junk);
    for (uint64_t p = 0; p < 4; p++) OK_CHECK(t.m, mm_write(t.m, 1, p * PAGE + 100, junk, sizeof junk));
    OK_CHECK(t.m, mm_free(t.m, 1));
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_reopen(&t); /* reuse must survive a reopen too */
    uint64_t pages = tu_stats(&t).linear_pages;
    cr_assert_eq(tu_stats(&t).buckets_free, 8);
    /* 3. grows of any memory take free buckets before the linear memory
     * grows (a design may spend some on its own metadata). */
    for (unsigned k = 0; tu_stats(&t).buckets_free > 0; k++) {
        cr_assert_lt(k, 8u, "more grows than free buckets");
        tu_grow(&t, 3 + k % 3, 1);
        tu_check(&t);
        cr_assert_eq(tu_stats(&t).linear_pages, pages, "the linear memory grew while %llu "
                     "buckets were free", (unsigned long long)tu_stats(&t).buckets_free);
    }
    /* Reused buckets read as zero: memory 1's junk is gone. */
    for (unsigned id = 3; id < 6; id++) {
        uint8_t buf[PAGE];
        for (uint64_t p = 0; p < tu_size(&t, id); p++) {
            OK(mm_read(t.m, id, p * PAGE, buf, PAGE));
            for (size_t i = 0; i < PAGE; i++)
                cr_assert_eq(buf[i], 0, "memory %u page %llu byte %zu", id,
                             (unsigned long long)p, i);
        }
    }
    tu_grow(&t, 3, 1);
    cr_assert_gt(tu_stats(&t).linear_pages, pages, "no free bucket left: the memory grows");
    tu_check(&t);
    tu_close(&t);
}

/* A manager caches where a RAM memory's bytes are; a grow from outside
 * could move them, so only the manager grows the memory it manages, and
 * only one manager is open over a memory at a time. */
DESIGN_TEST(conformance, one_manager_grows_its_memory, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 1);
    uint64_t pages = mm_memory_size(t.mem);
    FAILS(mm_memory_grow(t.mem, 20000, NULL), MM_EINVAL);
    cr_assert_eq(mm_memory_size(t.mem), pages);
    mm *second = NULL;
    FAILS(mm_open(t.mem, THIS_DESIGN->name, 0, 0, &second), MM_EINVAL);
    cr_assert_null(second);
    uint8_t x = 7, y = 0;
    OK_CHECK(t.m, mm_write(t.m, 0, 5, &x, 1));
    OK(mm_read(t.m, 0, 5, &y, 1));
    cr_assert_eq(y, 7);
    /* Empty spans are fine, even with no buffer. */
    OK(mm_read(t.m, 0, 0, NULL, 0));
    OK_CHECK(t.m, mm_write(t.m, 0, PAGE, NULL, 0));
    mm_close(t.m);
    OK(mm_memory_grow(t.mem, 20000, NULL)); /* free to grow (and move) now */
    OK(mm_open(t.mem, THIS_DESIGN->name, 0, 0, &t.m));
    OK(mm_read(t.m, 0, 5, &y, 1));
    cr_assert_eq(y, 7);
    tu_grow(&t, 1, 1);
    tu_check(&t);
    tu_close(&t);
}

/* Pages past the last carved bucket may hold bytes when a grow was cut
 * short (a crash between growing the linear memory and its header write).
 * Whatever later grow carves them must still hand out zeros. */
DESIGN_TEST(conformance, pages_past_the_buckets_read_zero_when_carved, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 1);
    mm_close(t.m);
    uint64_t end = mm_memory_size(t.mem);
    OK(mm_memory_grow(t.mem, 4, NULL));
    uint8_t junk[PAGE];
    memset(junk, 0xA5, sizeof junk);
    for (uint64_t p = end; p < end + 4; p++) OK(mm_memory_write(t.mem, p * PAGE, junk, PAGE));
    OK(mm_open(t.mem, THIS_DESIGN->name, 0, 0, &t.m));
    tu_grow(&t, 1, 4);
    tu_check(&t);
    uint8_t back[PAGE];
    for (uint64_t p = 0; p < 4; p++) {
        OK(mm_read(t.m, 1, p * PAGE, back, PAGE));
        for (size_t i = 0; i < PAGE; i++)
            cr_assert_eq(back[i], 0, "[%s] page %llu byte %zu of a new memory reads %02x",
                         THIS_DESIGN->name, (unsigned long long)p, i, back[i]);
    }
    tu_close(&t);
}

/* A formatted memory as a crashed grow can leave it: `extra` pages past
 * the carved end, holding bytes, which a grow must zero as it carves them. */
static void format_with_leftover_pages(mm_memory *mem, const char *design,
                                       uint32_t bucket_pages, uint64_t extra) {
    mm *m;
    OK(mm_open(mem, design, bucket_pages, 0, &m));
    mm_close(m);
    uint64_t old;
    OK(mm_memory_grow(mem, extra, &old));
    for (uint64_t p = 0; p < extra; p++) OK(mm_memory_write(mem, (old + p) * PAGE, "left", 4));
}

/* The same calls through a RAM memory, where mm_open gives the shortcuts of
 * a memory whose bytes are stores (the design's fast grow entry, header
 * writes as stores), and through a fault-free fault injector over another
 * RAM memory, which takes the memory's calls and the general path to the
 * design's own grow: every result, every statistic of the header and the
 * buckets, and in the end every byte of the two linear memories must agree.
 * (heap_bytes may differ: over any memory but RAM, a design may keep a heap
 * copy of its header.) Both start with leftover pages, so that the first
 * grows take the fast entries' cold side; then only grows, so that a design
 * that reuses takes its fast entry while nothing is free; then grows of 1
 * to 2 buckets' pages over a few memories, with frees where it can. */
static void same_on_both_paths(const mm_design_info *d, uint32_t bucket_pages, uint64_t seed) {
    mm_memory *ram, *inner, *general;
    mm *fast_m, *general_m;
    OK(mm_memory_ram(0, &ram));
    OK(mm_memory_ram(0, &inner));
    format_with_leftover_pages(ram, d->name, bucket_pages, 40);
    format_with_leftover_pages(inner, d->name, bucket_pages, 40);
    OK(mm_memory_faulty(inner, NULL, &general));
    OK(mm_open(ram, d->name, 0, 0, &fast_m));
    OK(mm_open(general, d->name, 0, 0, &general_m));
    bool can_free = d->flags & MM_DESIGN_CAN_FREE;
    mm_rng rng = mm_rng_seed(seed);
    for (unsigned k = 0; k < 600; k++) {
        unsigned id = (unsigned)mm_rng_below(&rng, 6);
        bool freeing = can_free && k >= 200 && mm_rng_below(&rng, 8) == 0;
        uint64_t pages = 1 + mm_rng_below(&rng, 2 * bucket_pages);
        uint64_t old_fast = ~0ull, old_general = ~1ull;
        int err_fast = freeing ? mm_free(fast_m, id) : mm_grow(fast_m, id, pages, &old_fast);
        int err_general = freeing ? mm_free(general_m, id)
                                  : mm_grow(general_m, id, pages, &old_general);
        const char *what = freeing ? "free" : "grow";
        cr_assert_eq(err_fast, err_general, "[%s] call %u, %s of memory %u: %s on RAM, %s on "
                     "the general path", d->name, k, what, id, mm_strerror(err_fast),
                     mm_strerror(err_general));
        if (!freeing && !err_fast)
            cr_assert_eq(old_fast, old_general, "[%s] call %u: old size %llu against %llu",
                         d->name, k, (unsigned long long)old_fast,
                         (unsigned long long)old_general);
        OK(mm_check(fast_m));
        OK(mm_check(general_m));
        mm_stats a, b;
        OK(mm_stats_get(fast_m, &a));
        OK(mm_stats_get(general_m, &b));
#define SAME_STAT(f)                                                                    \
    cr_assert_eq(a.f, b.f, "[%s] call %u, %s of memory %u by %llu: " #f " is %llu on RAM, " \
                 "%llu on the general path", d->name, k, what, id, (unsigned long long)pages, \
                 (unsigned long long)a.f, (unsigned long long)b.f)
        SAME_STAT(memories_in_use);
        SAME_STAT(buckets_allocated);
        SAME_STAT(buckets_in_use);
        SAME_STAT(buckets_free);
        SAME_STAT(buckets_meta);
        SAME_STAT(linear_pages);
        SAME_STAT(header_bytes);
        SAME_STAT(header_bytes_written);
        SAME_STAT(header_writes);
#undef SAME_STAT
    }
    size_t len;
    uint8_t *image = tu_image(inner, &len);
    tu_assert_image(ram, image, len, "RAM memory against the general path's");
    free(image);
    mm_close(fast_m);
    mm_close(general_m);
    mm_memory_close(general);
    mm_memory_close(inner);
    mm_memory_close(ram);
}

DESIGN_TEST(conformance, ram_shortcuts_write_what_the_general_path_writes, 0) {
    uint64_t seed = tu_seed("ram_shortcuts_write_what_the_general_path_writes", 17);
    same_on_both_paths(THIS_DESIGN, 1, seed);
    same_on_both_paths(THIS_DESIGN, 3, seed + 1);
}
