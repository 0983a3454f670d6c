/*
 * Freeing across designs: the post-conditions of free after reopens, no
 * growth while a bucket is free, the migration pattern, V1 upgrades (with
 * holes, and with their growth refused), failed grows at every point of a
 * scripted scenario, and the bucket limits. Every test runs once per registered design that has the flags
 * it needs, so designs added later are covered without an edit here. The
 * single-design details live in the conformance suite and in each design's
 * own tests.
 */
#include "rng.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

/* ------------------------------------------------------------------------
 * Helpers: recognizable bytes in every page, checked after every change
 * ---------------------------------------------------------------------- */

enum { MARK_BYTES = 256 };

/* A few bytes that only page `page` of memory `id` (written in generation
 * `salt`) holds, at an offset that moves with the page. */
static uint64_t mark_offset(uint64_t page) {
    return page * PAGE + (page * 977) % (PAGE - MARK_BYTES);
}

static void mark_bytes(uint8_t *buf, unsigned id, uint64_t page, uint8_t salt) {
    for (size_t i = 0; i < MARK_BYTES; i++)
        buf[i] = (uint8_t)(i * 7 + id * 13 + page * 31 + salt + 1);
}

static void mark_pages(mm *m, unsigned id, uint64_t from, uint64_t to, uint8_t salt) {
    uint8_t buf[MARK_BYTES];
    for (uint64_t p = from; p < to; p++) {
        mark_bytes(buf, id, p, salt);
        OK_CHECK(m, mm_write(m, id, mark_offset(p), buf, sizeof buf));
    }
}

/* Memory id holds the marks of pages [0, marked) and zeros at the marks of
 * pages [marked, size). */
static void assert_marks(mm *m, unsigned id, uint64_t marked, uint8_t salt, const char *what) {
    uint64_t size;
    OK(mm_size(m, id, &size));
    uint8_t want[MARK_BYTES], got[MARK_BYTES];
    for (uint64_t p = 0; p < size; p++) {
        if (p < marked)
            mark_bytes(want, id, p, salt);
        else
            memset(want, 0, sizeof want);
        OK(mm_read(m, id, mark_offset(p), got, sizeof got));
        cr_assert(memcmp(got, want, sizeof got) == 0, "[%s] %s: memory %u page %llu lost its "
                  "bytes", tu_design_name(), what, id, (unsigned long long)p);
    }
}

static void assert_sizes(mm *m, const uint64_t want[MM_MAX_MEMORIES], const char *what) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size;
        OK(mm_size(m, i, &size));
        cr_assert_eq(size, want[i], "[%s] %s: memory %u has %llu pages, not %llu",
                     tu_design_name(), what, i, (unsigned long long)size,
                     (unsigned long long)want[i]);
    }
}

static void sizes_of(mm *m, uint64_t out[MM_MAX_MEMORIES]) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) OK(mm_size(m, i, &out[i]));
}

static bool reuses_all(const mm_design_info *d) {
    return d->flags & MM_DESIGN_REUSES_ALL;
}

/* Grows id by pages and asserts the promise of MM_DESIGN_REUSES_ALL: the
 * linear memory grows only when no bucket is left free. */
static void grow_reusing(tu_mm *t, unsigned id, uint64_t pages) {
    mm_stats before = tu_stats(t);
    tu_grow(t, id, pages);
    mm_stats after = tu_stats(t);
    if (after.linear_pages > before.linear_pages)
        cr_assert_eq(after.buckets_free, 0, "[%s] the linear memory grew from %llu to %llu "
                     "pages while %llu buckets stay free", t->design,
                     (unsigned long long)before.linear_pages,
                     (unsigned long long)after.linear_pages,
                     (unsigned long long)after.buckets_free);
}

/* ------------------------------------------------------------------------
 * Post-conditions of free, across reopens
 * ---------------------------------------------------------------------- */

/* Five memories with interleaved buckets and sizes that end inside a
 * bucket; two are freed, one regrown, all across reopens of a file. */
DESIGN_TEST(freeing, postconditions_across_reopens, MM_DESIGN_CAN_FREE) {
    tu_mm t;
    tu_open_file(&t, THIS_DESIGN->name, 2);
    const unsigned ids[5] = {0, 1, 2, 77, 254};
    for (unsigned round = 0; round < 3; round++)
        for (unsigned k = 0; k < 5; k++) tu_grow(&t, ids[k], 1 + (k + round) % 3);
    uint64_t sizes[MM_MAX_MEMORIES];
    sizes_of(t.m, sizes);
    for (unsigned k = 0; k < 5; k++) mark_pages(t.m, ids[k], 0, sizes[ids[k]], 1);
    mm_stats start = tu_stats(&t);

    /* Freeing an empty memory writes nothing at all. */
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    OK_CHECK(t.m, mm_free(t.m, 3));
    tu_assert_image(t.mem, img, len, "after freeing an empty memory");
    cr_assert_eq(tu_stats(&t).header_bytes_written, start.header_bytes_written);
    free(img);

    uint64_t freed = 0;
    for (unsigned id = 1; id <= 2; id++) {
        freed += (sizes[id] + 1) / 2;
        OK_CHECK(t.m, mm_free(t.m, id));
        sizes[id] = 0;
        tu_check(&t);
    }
    for (int reopen = 0; reopen < 2; reopen++) {
        /* 1. sizes are zero, 2. the buckets are unallocated, 4. after a
         * reopen as well. */
        assert_sizes(t.m, sizes, reopen ? "reopened after free" : "after free");
        mm_stats st = tu_stats(&t);
        cr_assert_eq(st.buckets_in_use, start.buckets_in_use - freed);
        cr_assert_eq(st.buckets_free, start.buckets_free + freed);
        cr_assert_eq(st.memories_in_use, 3);
        uint8_t b;
        FAILS(mm_read(t.m, 1, 0, &b, 1), MM_EBOUNDS);
        FAILS(mm_write(t.m, 2, 0, &b, 1), MM_EBOUNDS);
        for (unsigned k = 0; k < 5; k++) assert_marks(t.m, ids[k], sizes[ids[k]], 1, "kept");
        tu_reopen(&t);
        tu_check(&t);
    }

    /* A freed memory grows again from zero, reading zeros; the others keep
     * their bytes; a second free after a reopen frees the reused buckets. */
    tu_grow(&t, 1, 3);
    assert_marks(t.m, 1, 0, 0, "regrown after free");
    mark_pages(t.m, 1, 0, 3, 2);
    OK_CHECK(t.m, mm_free(t.m, 254));
    sizes[254] = 0;
    tu_reopen(&t);
    tu_check(&t);
    sizes[1] = 3;
    assert_sizes(t.m, sizes, "after regrow, free and reopen");
    assert_marks(t.m, 1, 3, 2, "regrown memory");
    for (unsigned k = 0; k < 4; k++)
        if (ids[k] != 1) assert_marks(t.m, ids[k], sizes[ids[k]], 1, "untouched memory");
    OK_CHECK(t.m, mm_free(t.m, 1));
    tu_reopen(&t);
    tu_check(&t);
    mm_stats end = tu_stats(&t);
    cr_assert_eq(end.buckets_in_use, (sizes[0] + 1) / 2 + (sizes[77] + 1) / 2);
    cr_assert_eq(end.buckets_in_use + end.buckets_free + end.buckets_meta, end.buckets_allocated);
    tu_close(&t);
}

/* 3. and 4. for the designs that promise to reuse everything: what a
 * reopen finds free is handed out before the linear memory grows, across
 * two frees and reopens in a row. */
DESIGN_TEST(freeing, reopened_free_buckets_are_reused_first,
            MM_DESIGN_CAN_FREE | MM_DESIGN_REUSES_ALL) {
    tu_mm t;
    tu_open_file(&t, THIS_DESIGN->name, 1);
    for (unsigned round = 0; round < 6; round++)
        for (unsigned id = 0; id < 3; id++) tu_grow(&t, id, 1);
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_reopen(&t);
    OK_CHECK(t.m, mm_free(t.m, 2));
    tu_reopen(&t);
    tu_check(&t);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.buckets_free, 12);
    uint64_t pages = st.linear_pages;
    tu_grow(&t, 9, 5);
    tu_reopen(&t);
    cr_assert_eq(tu_stats(&t).buckets_free, 7, "the reuse persisted");
    tu_grow(&t, 10, 7);
    cr_assert_eq(tu_stats(&t).linear_pages, pages, "12 grows took the 12 free buckets");
    cr_assert_eq(tu_stats(&t).buckets_free, 0);
    assert_marks(t.m, 9, 0, 0, "reused buckets read zero");
    assert_marks(t.m, 10, 0, 0, "reused buckets read zero");
    tu_grow(&t, 10, 1);
    cr_assert_gt(tu_stats(&t).linear_pages, pages);
    tu_check(&t);
    tu_close(&t);
}

/* ------------------------------------------------------------------------
 * No growth while a bucket is free
 * ---------------------------------------------------------------------- */

DESIGN_TEST(freeing, no_growth_while_buckets_are_free,
            MM_DESIGN_CAN_FREE | MM_DESIGN_REUSES_ALL) {
    uint64_t seed = tu_seed(THIS_DESIGN->name, 0x6e6f67726f77ull);
    mm_rng rng = mm_rng_seed(seed);
    for (unsigned bucket_pages = 1; bucket_pages <= 3; bucket_pages += 2) {
        tu_mm t;
        tu_open_ram(&t, THIS_DESIGN->name, bucket_pages);
        for (unsigned round = 0; round < 20; round++) {
            /* Build: random grows of 12 memories. */
            for (unsigned k = 0; k < 40; k++)
                grow_reusing(&t, (unsigned)mm_rng_below(&rng, 12),
                             1 + mm_rng_below(&rng, 2 * bucket_pages));
            /* Free a random subset, sometimes across a reopen. */
            for (unsigned id = 0; id < 12; id++)
                if (mm_rng_below(&rng, 2)) OK_CHECK(t.m, mm_free(t.m, id));
            if (mm_rng_below(&rng, 2)) tu_reopen(&t);
            tu_check(&t);
            /* Refill: one bucket at a time, the linear memory stays put
             * until no bucket is free. */
            mm_stats st = tu_stats(&t);
            uint64_t pages = st.linear_pages, refills = 0, free0 = st.buckets_free;
            while (st.buckets_free > 0) {
                tu_grow(&t, 12 + (unsigned)mm_rng_below(&rng, 4), bucket_pages);
                refills++;
                cr_assert_leq(refills, free0, "[%s] seed %llu: more one-bucket grows than "
                              "free buckets", t.design, (unsigned long long)seed);
                mm_stats now = tu_stats(&t);
                if (now.linear_pages != pages)
                    cr_assert_eq(now.buckets_free, 0, "[%s] seed %llu, round %u: the linear "
                                 "memory grew with %llu buckets still free", t.design,
                                 (unsigned long long)seed, round,
                                 (unsigned long long)now.buckets_free);
                st = now;
            }
            tu_check(&t);
            for (unsigned id = 12; id < 16; id++) OK_CHECK(t.m, mm_free(t.m, id));
        }
        tu_close(&t);
    }
}

/* ------------------------------------------------------------------------
 * Migration: copy A into B, free A, grow B
 * ---------------------------------------------------------------------- */

static void migrate(const mm_design_info *d, uint32_t bucket_pages) {
    enum { N = 64, A = 0, B = 1 };
    tu_mm t;
    tu_open_ram(&t, d->name, bucket_pages);
    for (uint64_t k = 0; k < N; k++) tu_grow(&t, A, bucket_pages);
    mark_pages(t.m, A, 0, N * bucket_pages, 5);
    /* B grows a bucket at a time while A stays, copying as it goes. */
    static uint8_t bucket[3 * PAGE];
    for (uint64_t k = 0; k < N; k++) {
        tu_grow(&t, B, bucket_pages);
        OK(mm_read(t.m, A, k * bucket_pages * PAGE, bucket, bucket_pages * PAGE));
        OK_CHECK(t.m, mm_write(t.m, B, k * bucket_pages * PAGE, bucket, bucket_pages * PAGE));
    }
    FAILS(mm_free(t.m, A), (d->flags & MM_DESIGN_CAN_FREE) ? MM_OK : MM_ENOTSUP);
    for (uint64_t k = 0; k < N; k++) tu_grow(&t, B, bucket_pages);
    tu_check(&t);
    mm_stats st = tu_stats(&t);
    /* Page 0 holds the header; metadata buckets count as header too. */
    uint64_t data = (reuses_all(d) ? 2 : 3) * (uint64_t)N;
    cr_assert_eq(st.linear_pages, 1 + (data + st.buckets_meta) * bucket_pages,
                 "[%s] %u pages per bucket: the linear memory holds %llu pages, not header + "
                 "%llu buckets (%llu of them metadata)", d->name, bucket_pages,
                 (unsigned long long)st.linear_pages, (unsigned long long)data,
                 (unsigned long long)st.buckets_meta);
    /* B is A's copy followed by zeros. */
    uint8_t want[MARK_BYTES], got[MARK_BYTES];
    for (uint64_t p = 0; p < 2 * N * bucket_pages; p++) {
        if (p < N * bucket_pages)
            mark_bytes(want, A, p, 5);
        else
            memset(want, 0, sizeof want);
        OK(mm_read(t.m, B, mark_offset(p), got, sizeof got));
        cr_assert(memcmp(got, want, sizeof got) == 0, "[%s] B's page %llu", d->name,
                  (unsigned long long)p);
    }
    tu_close(&t);
}

DESIGN_TEST(freeing, migration_1_page_buckets, 0) {
    migrate(THIS_DESIGN, 1);
}

DESIGN_TEST(freeing, migration_3_page_buckets, 0) {
    migrate(THIS_DESIGN, 3);
}

/* ------------------------------------------------------------------------
 * V1 memories opened by the designs that read V1 (test_link15.c upgrades
 * plain, corrupt and interrupted V1 for every such design; these are the
 * cases it leaves out)
 * ---------------------------------------------------------------------- */

enum { V1_IDS = 4 };
static const unsigned v1_ids[V1_IDS] = {0, 7, 254, 100};

/* Writes a V1 memory with `writer` (v1 or v1reclaim): four memories grown
 * in turns, so their buckets interleave, every page marked. */
static void write_v1(mm_memory *mem, const char *writer, uint32_t bucket_pages,
                     uint64_t sizes[MM_MAX_MEMORIES]) {
    mm *m;
    OK(mm_open(mem, writer, bucket_pages, 0, &m));
    const uint64_t step[V1_IDS] = {1, bucket_pages + 1, 2, 2 * bucket_pages};
    for (unsigned round = 0; round < 3; round++)
        for (unsigned k = 0; k < V1_IDS; k++) OK_CHECK(m, mm_grow(m, v1_ids[k], step[k], NULL));
    sizes_of(m, sizes);
    for (unsigned k = 0; k < V1_IDS; k++) mark_pages(m, v1_ids[k], 0, sizes[v1_ids[k]], 3);
    OK(mm_check(m));
    mm_close(m);
}

static void assert_v1_content(mm *m, const uint64_t sizes[MM_MAX_MEMORIES], const char *what) {
    assert_sizes(m, sizes, what);
    for (unsigned k = 0; k < V1_IDS; k++) assert_marks(m, v1_ids[k], sizes[v1_ids[k]], 3, what);
    int err = mm_check(m);
    cr_assert_eq(err, MM_OK, "[%s] %s: check -> %s", tu_design_name(), what, mm_error_detail());
}

/* v1reclaim leaves V1 bytes with unallocated buckets below the count: an
 * upgrade must count them free and (for REUSES_ALL) reuse them first. */
DESIGN_TEST(freeing, upgrades_v1_with_holes, MM_DESIGN_READS_V1) {
    if (!mm_design_find("v1reclaim")) cr_skip_test("no v1reclaim is registered to free in V1");
    mm_memory *mem;
    mm *m;
    uint64_t sizes[MM_MAX_MEMORIES];
    OK(mm_memory_ram(0, &mem));
    write_v1(mem, "v1reclaim", 1, sizes);
    OK(mm_open(mem, "v1reclaim", 0, 0, &m));
    OK_CHECK(m, mm_free(m, 7));
    uint64_t holes = sizes[7];
    sizes[7] = 0;
    mm_close(m);
    uint64_t v1_pages = mm_memory_size(mem);
    OK(mm_open(mem, THIS_DESIGN->name, 0, MM_OPEN_UPGRADE, &m));
    assert_v1_content(m, sizes, "upgraded with holes");
    mm_stats st;
    OK(mm_stats_get(m, &st));
    /* Each hole is free or holds metadata; metadata beyond the holes was
     * carved (one page per bucket here), and one page more held the
     * upgrade's journal. */
    cr_assert_eq(st.buckets_free + st.buckets_meta, holes + (st.linear_pages - v1_pages - 1),
                 "[%s] V1's %llu holes: %llu free, %llu metadata buckets, %llu pages added",
                 THIS_DESIGN->name, (unsigned long long)holes,
                 (unsigned long long)st.buckets_free, (unsigned long long)st.buckets_meta,
                 (unsigned long long)(st.linear_pages - v1_pages));
    if (reuses_all(THIS_DESIGN)) {
        uint64_t upgraded_pages = st.linear_pages;
        OK_CHECK(m, mm_grow(m, 9, st.buckets_free, NULL));
        OK(mm_stats_get(m, &st));
        cr_assert_eq(mm_memory_size(mem), st.linear_pages);
        cr_assert_eq(st.linear_pages, upgraded_pages, "[%s] the holes were not reused",
                     THIS_DESIGN->name);
    }
    OK(mm_check(m));
    mm_close(m);
    mm_memory_close(mem);
}

/* A V1 memory with enough buckets that an upgrade may need room for
 * metadata: if that room is refused, the memory is still V1, unchanged. */
DESIGN_TEST(freeing, upgrade_refused_growth_leaves_v1, MM_DESIGN_READS_V1) {
    enum { BUCKETS = 6000 };
    mm_memory *ram, *mem;
    mm *m;
    OK(mm_memory_ram(0, &ram));
    OK(mm_open(ram, "v1", 1, 0, &m));
    OK_CHECK(m, mm_grow(m, 3, BUCKETS / 2, NULL));
    OK_CHECK(m, mm_grow(m, 4, BUCKETS / 2, NULL));
    /* A mark in a few pages is enough: an upgrade writes no data bucket. */
    const uint64_t pages[3] = {0, 1234, BUCKETS / 2 - 1};
    uint8_t buf[MARK_BYTES];
    for (unsigned k = 0; k < 3; k++) {
        mark_bytes(buf, 3, pages[k], 9);
        OK_CHECK(m, mm_write(m, 3, mark_offset(pages[k]), buf, sizeof buf));
    }
    mm_close(m);
    uint8_t *page0 = malloc(PAGE), *now = malloc(PAGE);
    OK(mm_memory_read(ram, 0, page0, PAGE));
    uint64_t v1_pages = mm_memory_size(ram);
    mm_fault_plan plan = {.fail_grow_at = 1};
    OK(mm_memory_faulty(ram, &plan, &mem));
    int err = mm_open(mem, THIS_DESIGN->name, 0, MM_OPEN_UPGRADE, &m);
    if (err == MM_OK) {
        /* This design needed no growth. */
        cr_assert_eq(mm_memory_size(ram), v1_pages);
        OK(mm_check(m));
        mm_close(m);
    } else {
        cr_assert_eq(err, MM_EGROW, "[%s] open -> %s (%s)", THIS_DESIGN->name,
                     mm_strerror(err), mm_error_detail());
        cr_assert_eq(mm_memory_size(ram), v1_pages);
        OK(mm_memory_read(ram, 0, now, PAGE));
        cr_assert(memcmp(now, page0, PAGE) == 0, "[%s] a refused upgrade changed page 0",
                  THIS_DESIGN->name);
        OK(mm_open(ram, "v1", 0, 0, &m));
        OK(mm_check(m));
        mm_close(m);
        OK(mm_open(ram, THIS_DESIGN->name, 0, MM_OPEN_UPGRADE, &m));
        OK(mm_check(m));
        for (unsigned k = 0; k < 3; k++) {
            uint8_t got[MARK_BYTES];
            mark_bytes(buf, 3, pages[k], 9);
            OK(mm_read(m, 3, mark_offset(pages[k]), got, sizeof got));
            cr_assert(memcmp(got, buf, sizeof buf) == 0);
        }
        mm_close(m);
    }
    free(page0);
    free(now);
    mm_memory_close(mem);
    mm_memory_close(ram);
}

/* ------------------------------------------------------------------------
 * Failed grows of the linear memory, at every point of a scenario
 * ---------------------------------------------------------------------- */

/* The scenario: grows into new buckets, grows inside a bucket, a free, a
 * grow into reused buckets, and a migration (copy, free, grow on). */
typedef struct sstep {
    char op; /* g: grow, w: mark, f: free, c: copy a's pages into b */
    unsigned a, b;
    uint64_t pages;
} sstep;

static const sstep scenario[] = {
    {'g', 0, 0, 3}, {'w', 0, 0, 0}, {'g', 1, 0, 2}, {'w', 1, 0, 0}, {'g', 0, 0, 1},
    {'g', 2, 0, 5}, {'w', 2, 0, 0}, {'f', 0, 0, 0}, {'g', 3, 0, 2}, {'w', 3, 0, 0},
    {'g', 4, 0, 2}, {'c', 2, 4, 2}, {'g', 4, 0, 3}, {'c', 2, 4, 5}, {'f', 2, 0, 0},
    {'g', 4, 0, 6}, {'g', 5, 0, 9},
};

static int run_sstep(mm *m, const mm_design_info *d, const sstep *s) {
    uint64_t size;
    switch (s->op) {
    case 'g':
        return mm_grow(m, s->a, s->pages, NULL);
    case 'w':
        OK(mm_size(m, s->a, &size));
        mark_pages(m, s->a, 0, size, 4);
        return MM_OK;
    case 'f':
        return (d->flags & MM_DESIGN_CAN_FREE) ? mm_free(m, s->a) : MM_OK;
    default: { /* 'c' */
        uint8_t page[PAGE];
        for (uint64_t p = 0; p < s->pages; p++) {
            OK(mm_read(m, s->a, p * PAGE, page, PAGE));
            OK_CHECK(m, mm_write(m, s->b, p * PAGE, page, PAGE));
        }
        return MM_OK;
    }
    }
}

DESIGN_TEST(freeing, every_failed_grow_changes_nothing, 0) {
    uint64_t grows = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 1000u);
        mm_memory *ram, *mem;
        mm *m = NULL;
        OK(mm_memory_ram(0, &ram));
        mm_fault_plan plan = {.fail_grow_at = n};
        OK(mm_memory_faulty(ram, &plan, &mem));
        int err = mm_open(mem, THIS_DESIGN->name, 2, 0, &m);
        bool failed = err != MM_OK;
        if (failed) {
            cr_assert_eq(err, MM_EGROW, "[%s] format with grow %llu failing -> %s",
                         THIS_DESIGN->name, (unsigned long long)n, mm_strerror(err));
            cr_assert_eq(mm_memory_size(ram), 0, "a failed format left pages behind");
        }
        for (size_t k = 0; !failed && k < sizeof scenario / sizeof scenario[0]; k++) {
            const sstep *s = &scenario[k];
            size_t len = 0;
            uint8_t *img = NULL;
            uint64_t before[MM_MAX_MEMORIES];
            mm_stats st0, st1;
            if (s->op == 'g') {
                img = tu_image(mem, &len);
                sizes_of(m, before);
                OK(mm_stats_get(m, &st0));
            }
            err = run_sstep(m, THIS_DESIGN, s);
            if (err == MM_EGROW) {
                failed = true;
                char what[96];
                snprintf(what, sizeof what, "grow %llu failing at step %zu",
                         (unsigned long long)n, k);
                tu_assert_image(mem, img, len, what);
                assert_sizes(m, before, what);
                OK(mm_stats_get(m, &st1));
                cr_assert_eq(st1.buckets_allocated, st0.buckets_allocated, "%s", what);
                cr_assert_eq(st1.buckets_free, st0.buckets_free, "%s", what);
                cr_assert_eq(st1.buckets_meta, st0.buckets_meta, "%s", what);
                OK(mm_check(m));
                /* A reopen finds the same, and the step then succeeds. */
                mm_close(m);
                OK(mm_open(ram, THIS_DESIGN->name, 0, 0, &m));
                assert_sizes(m, before, what);
                OK(mm_check(m));
                OK(run_sstep(m, THIS_DESIGN, s));
                OK(mm_check(m));
            } else {
                cr_assert_eq(err, MM_OK, "[%s] step %zu -> %s (%s)", THIS_DESIGN->name, k,
                             mm_strerror(err), mm_error_detail());
                OK(mm_check(m));
            }
            free(img);
        }
        if (!failed) grows = mm_memory_fault_counts(mem).grows;
        mm_close(m);
        mm_memory_close(mem);
        mm_memory_close(ram);
        if (!failed) break;
    }
    cr_assert_geq(grows, 4u, "[%s] the scenario grew the linear memory only %llu times",
                  THIS_DESIGN->name, (unsigned long long)grows);
}

/* ------------------------------------------------------------------------
 * Bucket limits
 * ---------------------------------------------------------------------- */

static bool addresses_32768(const mm_design_info *d) {
    return d->max_buckets == 32768;
}

static bool addresses_more(const mm_design_info *d) {
    return d->max_buckets > 32768;
}

DESIGN_TEST_WHERE(freeing, refuses_the_32769th_bucket, addresses_32768) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    for (unsigned k = 0; k < 4; k++) tu_grow(&t, k, 8192);
    mm_stats before = tu_stats(&t);
    cr_assert_eq(before.buckets_in_use, 32768);
    uint8_t *page0 = malloc(PAGE), *now = malloc(PAGE);
    OK(mm_memory_read(t.mem, 0, page0, PAGE));
    uint64_t v;
    FAILS(mm_grow(t.m, 4, 1, &v), MM_EFULL);
    FAILS(mm_grow(t.m, 0, 1, &v), MM_EFULL);
    mm_stats after = tu_stats(&t);
    cr_assert_eq(after.linear_pages, before.linear_pages);
    cr_assert_eq(after.header_bytes_written, before.header_bytes_written);
    cr_assert_eq(after.buckets_allocated, before.buckets_allocated);
    OK(mm_memory_read(t.mem, 0, now, PAGE));
    cr_assert(memcmp(now, page0, PAGE) == 0, "[%s] a refused grow changed page 0", t.design);
    cr_assert_eq(tu_size(&t, 4), 0);
    cr_assert_eq(tu_size(&t, 0), 8192);
    tu_check(&t);
    free(page0);
    free(now);
    tu_close(&t);
}

DESIGN_TEST_WHERE(freeing, allocates_100000_buckets, addresses_more) {
    enum { BUCKETS = 100000, MEMS = 10 };
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    for (unsigned k = 0; k < MEMS; k++) tu_grow(&t, k, BUCKETS / MEMS);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.buckets_in_use, BUCKETS);
    cr_assert_eq(st.linear_pages, 1 + BUCKETS + st.buckets_meta);
    /* Marks in the last page of the last memory, and in a few others. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < MEMS; k += 3) {
            uint64_t last = BUCKETS / MEMS - 1;
            if (pass == 0)
                mark_pages(t.m, k, last, last + 1, 8);
            uint8_t want[MARK_BYTES], got[MARK_BYTES];
            mark_bytes(want, k, last, 8);
            OK(mm_read(t.m, k, mark_offset(last), got, sizeof got));
            cr_assert(memcmp(got, want, sizeof got) == 0, "[%s] memory %u's last page",
                      t.design, k);
        }
        tu_check(&t);
        tu_reopen(&t);
    }
    tu_close(&t);
}
