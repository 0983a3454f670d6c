/*
 * list: more buckets than V1 can address, free in O(1) header writes,
 * reopen after many frees, the V1 upgrade in place (and its failures), and
 * corrupt headers refused untouched. Layout offsets are tests/layouts.h's,
 * read off the table at the top of impl/design_list.c, not the library's.
 */
#include "layouts.h"
#include "rng.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

/* A recognizable stamp per memory and page, written at both ends of it. */
static void stamp(mm *m, unsigned id, uint64_t page) {
    uint8_t s[8] = {0x5E, (uint8_t)id, (uint8_t)page, (uint8_t)(page >> 8),
                    (uint8_t)(page >> 16), 0xA1, 0xB2, 0xC3};
    OK_CHECK(m, mm_write(m, id, page * PAGE, s, sizeof s));
    OK_CHECK(m, mm_write(m, id, page * PAGE + PAGE - sizeof s, s, sizeof s));
}

static void assert_stamp(mm *m, unsigned id, uint64_t page) {
    uint8_t want[8] = {0x5E, (uint8_t)id, (uint8_t)page, (uint8_t)(page >> 8),
                       (uint8_t)(page >> 16), 0xA1, 0xB2, 0xC3};
    uint8_t got[8];
    OK(mm_read(m, id, page * PAGE, got, sizeof got));
    cr_assert_arr_eq(got, want, 8, "memory %u page %llu: start stamp lost", id,
                     (unsigned long long)page);
    OK(mm_read(m, id, page * PAGE + PAGE - sizeof got, got, sizeof got));
    cr_assert_arr_eq(got, want, 8, "memory %u page %llu: end stamp lost", id,
                     (unsigned long long)page);
}

/* ---- more than V1's 32,768 buckets --------------------------------------- */

Test(list, one_hundred_thousand_buckets) {
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    tu_grow(&t, 1, 1);
    for (int step = 0; step < 4; step++) tu_grow(&t, 0, 25000);
    tu_grow(&t, 1, 1);
    cr_assert_eq(tu_size(&t, 0), 100000);
    static const uint8_t data[] = "the last of 100,000 buckets";
    OK_CHECK(t.m, mm_write(t.m, 0, 100000ull * PAGE - sizeof data, data, sizeof data));
    stamp(t.m, 0, 0);
    stamp(t.m, 1, 1);
    tu_check(&t);
    mm_stats st = tu_stats(&t);
    /* 15,092 links in page 0, 16,382 in each one-page metadata bucket. */
    uint64_t carved = 100002 + st.buckets_meta;
    cr_assert_eq(st.buckets_meta, (carved - LT_PAGE0_LINKS + 16381) / 16382);
    cr_assert_eq(st.buckets_allocated, carved);
    cr_assert_eq(st.linear_pages, 1 + carved);
    cr_assert_eq(st.header_bytes, PAGE * (1 + st.buckets_meta));

    tu_reopen(&t);
    tu_check(&t);
    uint8_t back[sizeof data];
    OK(mm_read(t.m, 0, 100000ull * PAGE - sizeof back, back, sizeof back));
    cr_assert_arr_eq(back, data, sizeof data);
    assert_stamp(t.m, 0, 0);
    assert_stamp(t.m, 1, 1);
    cr_assert_eq(tu_stats(&t).buckets_allocated, carved);

    /* All 100,000 come back, and another memory takes them all without
     * growing the linear memory. */
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_check(&t);
    tu_grow(&t, 2, 100000);
    tu_check(&t);
    cr_assert_eq(tu_stats(&t).linear_pages, 1 + carved);
    cr_assert_eq(tu_stats(&t).buckets_free, 0);
    OK(mm_read(t.m, 2, 100000ull * PAGE - sizeof back, back, sizeof back));
    for (size_t i = 0; i < sizeof back; i++) cr_assert_eq(back[i], 0, "reused bytes read 0");
    tu_reopen(&t);
    tu_check(&t);
    assert_stamp(t.m, 1, 1);
    tu_close(&t);
}

/* ---- free costs O(1) header writes ---------------------------------------- */

static mm_stats free_cost(uint64_t buckets, bool free_list_empty) {
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    tu_grow(&t, 1, 1);
    for (uint64_t done = 0; done < buckets; done += 2500)
        tu_grow(&t, 0, buckets - done < 2500 ? buckets - done : 2500);
    tu_grow(&t, 2, 1);
    if (!free_list_empty) OK_CHECK(t.m, mm_free(t.m, 2));
    mm_stats before = tu_stats(&t), after;
    OK_CHECK(t.m, mm_free(t.m, 0));
    after = tu_stats(&t);
    tu_check(&t);
    cr_assert_eq(after.buckets_free, before.buckets_free + buckets);
    tu_close(&t);
    return (mm_stats){.header_writes = after.header_writes - before.header_writes,
                      .header_bytes_written =
                          after.header_bytes_written - before.header_bytes_written};
}

Test(list, free_writes_do_not_depend_on_the_size) {
    for (int empty = 0; empty < 2; empty++) {
        mm_stats small = free_cost(10, empty), large = free_cost(10000, empty);
        cr_assert_eq(small.header_writes, large.header_writes,
                     "free list %s: freeing 10 buckets takes %llu writes, 10,000 take %llu",
                     empty ? "empty" : "not empty", (unsigned long long)small.header_writes,
                     (unsigned long long)large.header_writes);
        cr_assert_eq(small.header_bytes_written, large.header_bytes_written);
        cr_assert_leq(large.header_writes, 3, "a splice: free tail's link, globals, record");
    }
}

/* ---- the free list's order, byte for byte ------------------------------ */


static void assert_free_list(mm_memory *mem, uint32_t count, uint32_t head, uint32_t tail,
                             const char *what) {
    cr_assert_eq(tu_peek(mem, LT_OFF_FREE_COUNT, 4), count, "%s: free_count", what);
    cr_assert_eq(tu_peek(mem, LT_OFF_FREE_HEAD, 4), head, "%s: free_head", what);
    cr_assert_eq(tu_peek(mem, LT_OFF_FREE_TAIL, 4), tail, "%s: free_tail", what);
}

/* Memory id's record where open reads it: in the commit slot when the last
 * commit named the memory, else in its own place. */
static void assert_record(mm_memory *mem, unsigned id, uint64_t size, uint32_t count,
                          uint32_t head, uint32_t tail) {
    uint64_t at = tu_peek(mem, LT_OFF_LAST, 1) == id + 1 ? LT_OFF_LAST_MEM : LT_MEM(id, 0);
    cr_assert_eq(tu_peek(mem, at, 8), size, "memory %u's size", id);
    cr_assert_eq(tu_peek(mem, at + 8, 4), count, "memory %u's count", id);
    cr_assert_eq(tu_peek(mem, at + 12, 4), head, "memory %u's head", id);
    cr_assert_eq(tu_peek(mem, at + 16, 4), tail, "memory %u's tail", id);
}

/* A free splices the memory's whole chain onto the tail of the free list
 * (design_list.c): the list keeps its head, its old tail now links to the
 * freed head, and grows take buckets from the head in that order. */
Test(list, free_splices_onto_the_tail) {
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    tu_grow(&t, 0, 2); /* buckets 0, 1 */
    tu_grow(&t, 1, 1); /* 2 */
    tu_grow(&t, 2, 2); /* 3, 4 */
    tu_grow(&t, 3, 1); /* 5 */
    assert_free_list(t.mem, 0, LT_NONE, LT_NONE, "before any free");

    OK_CHECK(t.m, mm_free(t.m, 2));
    assert_free_list(t.mem, 2, 3, 4, "memory 2 freed onto the empty list");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LAST, 1), 2 + 1, "the free's commit names memory 2");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LINKS + 4 * 3, 4), 4);
    assert_record(t.mem, 2, 0, 0, LT_NONE, LT_NONE);

    OK_CHECK(t.m, mm_free(t.m, 0));
    assert_free_list(t.mem, 4, 3, 1, "memory 0 spliced onto the tail");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LINKS + 4 * 4, 4), 0, "the old tail links to the freed head");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LINKS + 4 * 0, 4), 1, "the freed chain keeps its links");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LAST, 1), 0 + 1, "the free's commit names memory 0");
    assert_record(t.mem, 0, 0, 0, LT_NONE, LT_NONE);
    assert_record(t.mem, 2, 0, 0, LT_NONE, LT_NONE); /* handed to its own place */

    /* Grows take the head first: 3, 4, then 0; bucket 1 is left. */
    tu_grow(&t, 5, 3);
    assert_free_list(t.mem, 1, 1, 1, "three buckets taken from the head");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LAST, 1), 5 + 1, "the grow's commit names memory 5");
    assert_record(t.mem, 5, 3, 3, 3, 0);
    assert_record(t.mem, 0, 0, 0, LT_NONE, LT_NONE);
    const uint32_t order[3] = {3, 4, 0};
    for (uint32_t k = 0; k < 3; k++) {
        uint8_t mark[4] = {0xF1, 0x5E, (uint8_t)k, 0x77}, at[4];
        OK(mm_write(t.m, 5, k * PAGE, mark, sizeof mark));
        OK(mm_memory_read(t.mem, (1 + (uint64_t)order[k]) * PAGE, at, sizeof at));
        cr_assert_arr_eq(at, mark, sizeof mark, "page %u of memory 5 is not in bucket %u", k,
                         order[k]);
    }
    tu_reopen(&t);
    assert_free_list(t.mem, 1, 1, 1, "after a reopen");
    tu_close(&t);
}

/* ---- reopen after many frees and regrows --------------------------------- */

/* Memories 0..7 grow and free at random across the 15,092 links of page 0,
 * with a reopen and a check after every round; every page keeps its stamp. */
Test(list, reopen_after_many_frees_and_regrows) {
    mm_rng rng = mm_rng_seed(tu_seed("list reopen", 0x11575));
    tu_mm t;
    tu_open_file(&t, "list", 1);
    /* Start past page 0's links, with a free list to draw from. */
    tu_grow(&t, 8, 16000);
    OK_CHECK(t.m, mm_free(t.m, 8));
    cr_assert_gt(tu_stats(&t).buckets_allocated, LT_PAGE0_LINKS);
    for (int round = 0; round < 24; round++) {
        for (int op = 0; op < 6; op++) {
            unsigned id = (unsigned)mm_rng_below(&rng, 8);
            if (mm_rng_below(&rng, 3) == 0) {
                OK_CHECK(t.m, mm_free(t.m, id));
                continue;
            }
            mm_stats before = tu_stats(&t);
            uint64_t old = tu_size(&t, id), add = 1 + mm_rng_below(&rng, 3000);
            tu_grow(&t, id, add);
            mm_stats after = tu_stats(&t);
            if (after.linear_pages > before.linear_pages)
                cr_assert_eq(after.buckets_free, 0, "grew while %llu buckets were free",
                             (unsigned long long)after.buckets_free);
            for (uint64_t p = (old + 96) / 97 * 97; p < old + add; p += 97) stamp(t.m, id, p);
            stamp(t.m, id, old + add - 1);
        }
        tu_reopen(&t);
        tu_check(&t);
        for (unsigned id = 0; id < 8; id++) {
            uint64_t size = tu_size(&t, id);
            for (uint64_t p = 0; p < size; p += 97) assert_stamp(t.m, id, p);
            if (size) assert_stamp(t.m, id, size - 1);
        }
    }
    tu_close(&t);
}

/* ---- V1 upgrade ---------------------------------------------------------- */

/* Memories written by v1 (or v1reclaim) with interleaved buckets and a stamp
 * on every page. */
static void write_v1(mm_memory *mem, const char *design, uint32_t bucket_pages) {
    mm *m;
    tu_use_design(design);
    OK(mm_open(mem, design, bucket_pages, 0, &m));
    static const unsigned ids[] = {0, 3, 254, 3, 7, 0, 100, 7, 3};
    static const uint64_t pages[] = {2, 1, 5, 4, 1, 3, 2, 2, 1};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        uint64_t old;
        OK_CHECK(m, mm_grow(m, ids[k], pages[k], &old));
        for (uint64_t p = old; p < old + pages[k]; p++) stamp(m, ids[k], p);
    }
    if (strcmp(design, "v1reclaim") == 0) OK_CHECK(m, mm_free(m, 7));
    OK(mm_check(m));
    mm_close(m);
    tu_use_design("list");
}

static void assert_v1_memories(mm *m, bool freed_7) {
    static const unsigned ids[] = {0, 3, 7, 100, 254};
    static const uint64_t sizes[] = {5, 6, 3, 2, 5};
    for (size_t k = 0; k < 5; k++) {
        uint64_t size;
        OK(mm_size(m, ids[k], &size));
        uint64_t want = freed_7 && ids[k] == 7 ? 0 : sizes[k];
        cr_assert_eq(size, want, "memory %u has %llu pages, want %llu", ids[k],
                     (unsigned long long)size, (unsigned long long)want);
        for (uint64_t p = 0; p < size; p++) assert_stamp(m, ids[k], p);
    }
}

Test(list, upgrades_v1_in_place) {
    static const uint32_t bucket_sizes[] = {1, 3, 128};
    static const char *writers[] = {"v1", "v1reclaim"};
    for (size_t s = 0; s < 3; s++)
        for (size_t w = 0; w < 2; w++) {
            bool freed = w == 1;
            uint32_t n = bucket_sizes[s];
            tu_mm t = {.design = "list", .bucket_pages = n};
            OK(mm_memory_ram(0, &t.mem));
            write_v1(t.mem, writers[w], n);
            uint64_t pages = mm_memory_size(t.mem);
            OK(mm_open(t.mem, "list", 0, MM_OPEN_UPGRADE, &t.m));
            cr_assert_eq(tu_peek(t.mem, LT_OFF_VERSION, 1), LT_VERSION);
            cr_assert_eq(mm_bucket_pages(t.m), n);
            tu_check(&t);
            assert_v1_memories(t.m, freed);
            mm_stats st = tu_stats(&t);
            cr_assert_eq(st.linear_pages, pages + 1, "%s, %u pages: a small V1 memory "
                         "upgrades growing by the journal's page only", writers[w], n);
            cr_assert_eq(st.buckets_meta, 0);
            uint64_t freed_buckets = freed ? (3 + n - 1) / n : 0;
            cr_assert_eq(st.buckets_free, freed_buckets);
            tu_reopen(&t);
            tu_check(&t);
            assert_v1_memories(t.m, freed);
            /* Free and reuse. */
            OK_CHECK(t.m, mm_free(t.m, 3));
            tu_check(&t);
            uint64_t free_now = tu_stats(&t).buckets_free;
            tu_grow(&t, 9, free_now * n);
            tu_check(&t);
            cr_assert_eq(tu_stats(&t).linear_pages, pages + 1, "free buckets are reused first");
            cr_assert_eq(tu_stats(&t).buckets_free, 0);
            tu_reopen(&t);
            tu_check(&t);
            for (unsigned id = 0; id < MM_MAX_MEMORIES; id += 254) {
                uint64_t size = tu_size(&t, id);
                for (uint64_t p = 0; p < size; p++) assert_stamp(t.m, id, p);
            }
            tu_close(&t);
        }
}

/* A V1 memory with more buckets than page 0 has links for needs a
 * metadata bucket, which is carved after the last: when the linear memory
 * refuses to grow, nothing is written and the memory still opens as V1. */
Test(list, failed_grow_during_upgrade_leaves_v1) {
    mm_memory *ram, *mem;
    OK(mm_memory_ram(0, &ram));
    mm *m;
    tu_use_design("v1");
    OK(mm_open(ram, "v1", 1, 0, &m));
    OK_CHECK(m, mm_grow(m, 0, 15000, NULL));
    OK_CHECK(m, mm_grow(m, 1, 200, NULL));
    stamp(m, 0, 14999);
    stamp(m, 1, 0);
    mm_close(m);
    tu_use_design("list");
    uint64_t pages = mm_memory_size(ram);
    uint8_t *page0 = malloc(PAGE), *now = malloc(PAGE);
    cr_assert(page0 && now);
    OK(mm_memory_read(ram, 0, page0, PAGE));

    mm_fault_plan plan = {.fail_grow_at = 1};
    OK(mm_memory_faulty(ram, &plan, &mem));
    FAILS(mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m), MM_EGROW);
    mm_fault_counts c = mm_memory_fault_counts(mem);
    cr_assert_eq(c.grows, 1);
    cr_assert_eq(c.writes, 0, "the refused upgrade wrote %llu times",
                 (unsigned long long)c.writes);
    cr_assert_eq(mm_memory_size(ram), pages);
    OK(mm_memory_read(ram, 0, now, PAGE));
    cr_assert(memcmp(now, page0, PAGE) == 0, "page 0 changed");

    tu_use_design("v1");
    OK(mm_open(ram, "v1", 0, 0, &m));
    OK(mm_check(m));
    assert_stamp(m, 0, 14999);
    assert_stamp(m, 1, 0);
    mm_close(m);

    /* The grows pass (the metadata bucket, the journal's page), the second
     * write (the journal's commit) fails: the memory is still V1, and the
     * pages the upgrade took read as zero when V1 hands them out. */
    tu_use_design("list");
    plan = (mm_fault_plan){.fail_write_at = 2};
    mm_memory_fault_replan(mem, &plan);
    FAILS(mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m), MM_EIO);
    cr_assert_eq(mm_memory_size(ram), pages + 2);
    OK(mm_memory_read(ram, 0, now, PAGE));
    cr_assert(memcmp(now, page0, PAGE) == 0, "page 0 changed");
    tu_use_design("v1");
    OK(mm_open(ram, "v1", 0, 0, &m));
    OK_CHECK(m, mm_grow(m, 1, 2, NULL));
    for (uint64_t p = 200; p < 202; p++) {
        OK(mm_read(m, 1, p * PAGE, now, PAGE));
        for (size_t i = 0; i < PAGE; i++)
            cr_assert_eq(now[i], 0, "byte %zu of V1's new bucket at page %llu", i,
                         (unsigned long long)p);
    }
    OK(mm_check(m));
    mm_close(m);

    /* With room to grow, the same memory upgrades. */
    tu_use_design("list");
    mm_memory_fault_replan(mem, NULL);
    OK(mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m));
    OK(mm_check(m));
    mm_stats st;
    OK(mm_stats_get(m, &st));
    cr_assert_eq(st.buckets_meta, 1);
    cr_assert_eq(st.buckets_allocated, 15203);
    cr_assert_eq(st.linear_pages, pages + 4, "V1's 2 buckets, the metadata bucket, the "
                 "journal's page");
    assert_stamp(m, 0, 14999);
    assert_stamp(m, 1, 0);
    mm_close(m);
    OK(mm_open(ram, "list", 0, 0, &m));
    OK(mm_check(m));
    assert_stamp(m, 0, 14999);
    mm_close(m);
    free(page0);
    free(now);
    mm_memory_close(mem);
    mm_memory_close(ram);
}

/* Each write of the upgrade fails in turn: before the journal's commit
 * the memory is still V1, byte for byte in page 0; after it, list
 * completes the upgrade, v1 and v1reclaim roll it back, each with every
 * byte, and the other designs refuse it as an interrupted upgrade,
 * leaving it untouched. */
Test(list, interrupted_upgrade_completes_or_rolls_back) {
    unsigned v1_kept = 0, interrupted = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 100u, "the upgrade never succeeds");
        mm_memory *ram, *mem;
        OK(mm_memory_ram(0, &ram));
        write_v1(ram, "v1", 2);
        uint8_t *page0 = malloc(PAGE), *now = malloc(PAGE);
        OK(mm_memory_read(ram, 0, page0, PAGE));
        mm_fault_plan plan = {.fail_write_at = n};
        OK(mm_memory_faulty(ram, &plan, &mem));
        mm *m;
        int err = mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m);
        if (err == MM_OK) {
            OK(mm_check(m));
            mm_close(m);
            free(page0);
            free(now);
            mm_memory_close(mem);
            mm_memory_close(ram);
            break;
        }
        FAILS(err, MM_EIO);
        uint8_t version = tu_peek(ram, LT_OFF_VERSION, 1);
        if (version == 1) {
            v1_kept++;
            OK(mm_memory_read(ram, 0, now, PAGE));
            cr_assert(memcmp(now, page0, PAGE) == 0, "write %llu failed before the journal's "
                      "commit, but page 0 changed", (unsigned long long)n);
        } else {
            interrupted++;
            cr_assert_eq(version, LT_UPGRADING, "write %llu: byte 3 is %u", (unsigned long long)n,
                         version);
        }
        size_t len;
        uint8_t *img = tu_image(ram, &len);
        for (size_t d = 0; d < mm_design_count(); d++) {
            const char *name = mm_design_get(d)->name;
            bool v1_bytes = strcmp(name, "v1") == 0 || strcmp(name, "v1reclaim") == 0;
            mm_memory *copy;
            OK(mm_memory_ram(0, &copy));
            OK(mm_memory_grow(copy, len / PAGE, NULL));
            OK(mm_memory_write(copy, 0, img, len));
            tu_use_design(name);
            /* V1 still: a freeing design upgrades it only when asked. The
             * upgrade under way: list completes it unasked (it was asked
             * for when it began), and asking changes nothing for the
             * designs that can neither complete nor roll it back. */
            bool ask = version == 1 && !v1_bytes;
            if (ask) {
                FAILS(mm_open(copy, name, 0, 0, &m), MM_EWRONG_DESIGN);
                tu_assert_image(copy, img, len, "a V1 memory opened without MM_OPEN_UPGRADE");
            }
            if (version == 1 || v1_bytes || strcmp(name, "list") == 0) {
                OK(mm_open(copy, name, 0, ask ? MM_OPEN_UPGRADE : 0, &m));
                OK(mm_check(m));
                assert_v1_memories(m, false);
                mm_close(m);
            } else {
                FAILS(mm_open(copy, name, 0, 0, &m), MM_EINTERRUPTED);
                FAILS(mm_open(copy, name, 0, MM_OPEN_UPGRADE, &m), MM_EINTERRUPTED);
                tu_assert_image(copy, img, len, "a refused interrupted upgrade");
            }
            mm_memory_close(copy);
        }
        tu_use_design("list");
        free(img);
        free(page0);
        free(now);
        mm_memory_close(mem);
        mm_memory_close(ram);
    }
    cr_assert_geq(v1_kept, 2);
    cr_assert_geq(interrupted, 1);
}

/* ---- corrupt headers ----------------------------------------------------- */

typedef struct corruption {
    const char *what;
    uint64_t off;
    uint32_t value; /* added to the u32 at off */
} corruption;

/* Memory 0 holds buckets 0, 2, 4, memory 1 holds 1, 3, 5; 6, 7, 8 are free
 * in that order, and the commit slot holds memory 2's record. The manager
 * is closed, its memory (RAM or a file) left open. */
static void small_layout(tu_mm *t, bool file) {
    if (file)
        tu_open_file(t, "list", 1);
    else
        tu_open_ram(t, "list", 1);
    for (int k = 0; k < 3; k++) {
        tu_grow(t, 0, 1);
        tu_grow(t, 1, 1);
    }
    tu_grow(t, 2, 3);
    OK_CHECK(t->m, mm_free(t->m, 2));
    tu_check(t);
    mm_close(t->m);
    t->m = NULL;
}

Test(list, corrupt_header_is_refused_untouched) {
    tu_mm t;
    small_layout(&t, false);
    cr_assert_eq(tu_peek(t.mem, LT_OFF_LINKS + 4 * 0, 4), 2, "the layout is as documented");
    cr_assert_eq(tu_peek(t.mem, LT_OFF_MEMS + LT_MEM_BYTES * 1 + 12, 4), 1);

    const corruption cases[] = {
        {"memory 0's link 0 -> 2", LT_OFF_LINKS + 4 * 0, 1},
        {"memory 1's link 3 -> 5", LT_OFF_LINKS + 4 * 3, (uint32_t)-2},
        {"the free list's link 6 -> 7", LT_OFF_LINKS + 4 * 6, 1},
        {"memory 0's head", LT_OFF_MEMS + 12, 2},
        {"memory 1's tail", LT_OFF_MEMS + LT_MEM_BYTES + 16, (uint32_t)-2},
        {"memory 1's count", LT_OFF_MEMS + LT_MEM_BYTES + 8, 1},
        {"memory 0's size", LT_OFF_MEMS + 0, 1},
        {"the free count", LT_OFF_FREE_COUNT, 1},
        {"the free head", LT_OFF_FREE_HEAD, 1},
        {"the bucket count", LT_OFF_NBUCKETS, (uint32_t)-1},
        {"the bucket count, up", LT_OFF_NBUCKETS, 1},
        /* 0 at one end only: not what a cut format leaves. */
        {"memory 220's head, past 4 KiB", LT_MEM(220, LT_MEM_HEAD), 1},
    };
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const corruption *c = &cases[k];
        tu_poke(t.mem, c->off, tu_peek(t.mem, c->off, 4) + c->value, 4);
        size_t bad_len;
        uint8_t *bad = tu_image(t.mem, &bad_len);
        mm *m = NULL;
        int err = mm_open(t.mem, "list", 0, 0, &m);
        cr_assert_eq(err, MM_ECORRUPT, "%s: open -> %s (%s)", c->what, mm_strerror(err),
                     mm_error_detail());
        tu_assert_image(t.mem, bad, bad_len, c->what);
        free(bad);
        OK(mm_memory_write(t.mem, 0, img, len));
        OK(mm_open(t.mem, "list", 0, 0, &m));
        mm_close(m);
    }
    free(img);
    tu_close(&t);
}

/* A first format cut after its first 4 KiB (the kernel writes a file a
 * page at a time, and a fatal signal stops it between pages) leaves the
 * records past them zero: the open goes on, and those memories are empty
 * and grow, free and reopen like any other. */
Test(list, format_cut_after_its_first_4_kib_opens) {
    tu_mm t;
    tu_open_file(&t, "list", 1);
    static const uint8_t zeros[LT_OFF_LINKS - MM_DIRTY_PAGE_SIZE];
    OK(mm_memory_write(t.mem, MM_DIRTY_PAGE_SIZE, zeros, sizeof zeros));
    tu_reopen(&t);
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++)
        cr_assert_eq(tu_size(&t, id), 0, "memory %u", id);
    cr_assert_eq(tu_peek(t.mem, LT_MEM(254, LT_MEM_HEAD), 4), 0, "still zero");
    tu_grow(&t, 254, 2);
    tu_grow(&t, 201, 1);
    tu_grow(&t, 0, 1);
    stamp(t.m, 254, 1);
    stamp(t.m, 201, 0);
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_reopen(&t);
    assert_stamp(t.m, 254, 1);
    assert_stamp(t.m, 201, 0);
    OK_CHECK(t.m, mm_free(t.m, 254));
    tu_reopen(&t);
    cr_assert_eq(tu_size(&t, 254), 0);
    tu_close(&t);
}

/* Every other design refuses list's bytes by name: no other design claims
 * list's version bytes. */
Test(list, other_designs_refuse_the_layout) {
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    tu_grow(&t, 0, 2);
    mm_close(t.m);
    t.m = NULL;
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    for (size_t d = 0; d < mm_design_count(); d++) {
        const char *name = mm_design_get(d)->name;
        if (strcmp(name, "list") == 0) continue;
        mm *m = NULL;
        tu_use_design(name);
        FAILS(mm_open(t.mem, name, 0, 0, &m), MM_EWRONG_DESIGN);
        cr_assert(strstr(mm_error_detail(), "list") != NULL, "%s: %s", name, mm_error_detail());
        tu_assert_image(t.mem, img, len, name);
    }
    free(img);
    tu_close(&t);
}

/* ---- what a load refuses, and why --------------------------------------- */

/* A load proves that the lists partition the carved buckets without
 * walking them the way check does; what it refuses, it refuses with the
 * detail of that walk: the first break in list order. */
typedef struct refusal {
    const char *what;
    struct {
        uint64_t off;
        uint32_t value; /* stored at off */
    } pokes[3];
    const char *detail;
} refusal;


/* Each case on the memory as it is, which it leaves as it was. A load
 * writes nothing, so page 0 and the pages poked are all it could change. */
static void assert_refusals(tu_mm *t, const refusal *cases, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const refusal *c = &cases[k];
        uint32_t old[3];
        uint8_t *pages[4];
        size_t np = 0;
        for (; np < 3 && c->pokes[np].off; np++) {
            old[np] = tu_peek(t->mem, c->pokes[np].off, 4);
            tu_poke(t->mem, c->pokes[np].off, c->pokes[np].value, 4);
        }
        for (size_t j = 0; j <= np; j++) {
            pages[j] = malloc(PAGE);
            cr_assert_not_null(pages[j]);
            OK(mm_memory_read(t->mem, j ? c->pokes[j - 1].off / PAGE * PAGE : 0, pages[j], PAGE));
        }
        mm *m = NULL;
        int err = mm_open(t->mem, "list", 0, 0, &m);
        cr_assert_eq(err, MM_ECORRUPT, "%s: open -> %s (%s)", c->what, mm_strerror(err),
                     mm_error_detail());
        cr_assert(strstr(mm_error_detail(), c->detail) != NULL, "%s: the detail is \"%s\"",
                  c->what, mm_error_detail());
        uint8_t *now = malloc(PAGE);
        cr_assert_not_null(now);
        for (size_t j = 0; j <= np; j++) {
            OK(mm_memory_read(t->mem, j ? c->pokes[j - 1].off / PAGE * PAGE : 0, now, PAGE));
            cr_assert_arr_eq(now, pages[j], PAGE, "%s: the open changed the memory", c->what);
            free(pages[j]);
        }
        free(now);
        while (np--) tu_poke(t->mem, c->pokes[np].off, old[np], 4);
        OK(mm_open(t->mem, "list", 0, 0, &m));
        OK(mm_check(m));
        mm_close(m);
    }
}

/* small_layout over RAM, where the load reads page 0 in place, or over a
 * file, where it reads a copy. */
static void refusals_small(bool file) {
    tu_mm t;
    small_layout(&t, file);
    cr_assert_eq(tu_peek(t.mem, LT_LINK(7), 4), 8, "the layout is as documented");
    const refusal cases[] = {
        {"a link past the carved buckets", {{LT_LINK(6), 100}},
         "the free list reaches bucket 100, past the 9 carved"},
        {"a head past the carved buckets", {{LT_MEM(1, LT_MEM_HEAD), 9}},
         "memory 1's list reaches bucket 9, past the 9 carved"},
        {"a one-bucket list past the carved buckets",
         {{LT_MEM(0, LT_MEM_COUNT), 1}, {LT_MEM(0, LT_MEM_HEAD), 9}, {LT_MEM(0, LT_MEM_TAIL), 9}},
         "memory 0 has 3 pages, which need 3 buckets, but its list counts 1"},
        {"a list that meets itself", {{LT_LINK(2), 0}},
         "memory 0's list reaches bucket 0, which is in a list already"},
        {"a list that meets itself at its tail", {{LT_LINK(0), 4}, {LT_LINK(4), 0}},
         "memory 0's list reaches bucket 0, which is in a list already"},
        {"two lists with one tail", {{LT_LINK(2), 5}, {LT_MEM(0, LT_MEM_TAIL), 5}},
         "memory 1's list reaches bucket 5, which is in a list already"},
        {"a list that runs into another's head, ending at its tail",
         {{LT_LINK(0), 1}, {LT_MEM(0, LT_MEM_TAIL), 3}},
         "memory 1's list reaches bucket 1, which is in a list already"},
        {"a list that runs into another's middle, ending at its own tail",
         {{LT_LINK(0), 3}, {LT_MEM(0, LT_MEM_TAIL), 5}},
         "memory 1's list reaches bucket 3, which is in a list already"},
        {"the free list running into a memory's tail", {{LT_LINK(7), 4}, {LT_OFF_FREE_TAIL, 4}},
         "the free list reaches bucket 4, which is in a list already"},
        {"a list that ends at another's tail", {{LT_LINK(2), 5}},
         "memory 0's list ends at bucket 5 after 3 nodes, but its tail is 4"},
        {"a list that runs past its tail", {{LT_LINK(0), 4}},
         "memory 0's list reaches bucket 4294967295, past the 9 carved"},
    };
    assert_refusals(&t, cases, sizeof cases / sizeof cases[0]);
    tu_close(&t);
}

Test(list, load_refusals_name_the_first_break) {
    refusals_small(false);
    refusals_small(true);
}

/* Memory 0 of 15,100 one-page buckets needs one metadata bucket, carved
 * after them (bucket 15,100); memory 1 then holds 15,101 and 15,102, and
 * memory 2 15,103, so that memory 1's record is in its own place. */
Test(list, load_refuses_a_list_through_a_metadata_bucket) {
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    OK(mm_grow(t.m, 0, 15100, NULL));
    OK(mm_grow(t.m, 1, 2, NULL));
    OK(mm_grow(t.m, 2, 1, NULL));
    tu_check(&t);
    cr_assert_eq(tu_stats(&t).buckets_meta, 1);
    mm_close(t.m);
    t.m = NULL;
    enum { META = 15100, M1 = 15101 };
    uint64_t link_m1 = ((uint64_t)1 + META) * PAGE + 8 + 4 * (M1 - LT_PAGE0_LINKS);
    uint64_t link_meta = ((uint64_t)1 + META) * PAGE + 8 + 4 * (META - LT_PAGE0_LINKS);
    cr_assert_eq(tu_peek(t.mem, link_m1, 4), M1 + 1, "the layout is as documented");
    const refusal cases[] = {
        {"a tail that is the metadata bucket", {{link_m1, META}, {LT_MEM(1, LT_MEM_TAIL), META}},
         "memory 1's list reaches bucket 15100, which is in a list already"},
        {"a list through the metadata bucket", {{link_m1, META}},
         "memory 1's list reaches bucket 15100, which is in a list already"},
        {"a list from the metadata bucket on to its tail",
         {{LT_MEM(1, LT_MEM_HEAD), META}, {link_meta, M1 + 1}},
         "memory 1's list reaches bucket 15100, which is in a list already"},
    };
    assert_refusals(&t, cases, sizeof cases / sizeof cases[0]);
    tu_close(&t);
}

/* Links, heads and tails set at random to carved buckets (or NONE): what a
 * load accepts passes mm_check, and what it refuses is MM_ECORRUPT. A load
 * that refused a layout the walk of check would accept stops at its assert. */
Test(list, load_agrees_with_check_on_random_links) {
    mm_rng rng = mm_rng_seed(tu_seed("list load links", 0x17115));
    tu_mm t;
    tu_open_ram(&t, "list", 1);
    for (int op = 0; op < 60; op++) {
        unsigned id = (unsigned)mm_rng_below(&rng, 6);
        if (mm_rng_below(&rng, 4) == 0)
            OK_CHECK(t.m, mm_free(t.m, id));
        else
            tu_grow(&t, id, 1 + mm_rng_below(&rng, 4));
    }
    uint32_t nb = (uint32_t)tu_stats(&t).buckets_allocated;
    mm_close(t.m);
    t.m = NULL;
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    unsigned accepted = 0;
    for (int round = 0; round < 2000; round++) {
        unsigned pokes = 1 + (unsigned)mm_rng_below(&rng, 3);
        for (unsigned j = 0; j < pokes; j++) {
            uint64_t r = mm_rng_below(&rng, 8), off;
            if (r < 5)
                off = LT_LINK(mm_rng_below(&rng, nb));
            else if (r < 7)
                off = LT_MEM(mm_rng_below(&rng, 6), r == 5 ? LT_MEM_HEAD : LT_MEM_TAIL);
            else
                off = mm_rng_below(&rng, 2) ? LT_OFF_FREE_HEAD : LT_OFF_FREE_TAIL;
            uint64_t v = mm_rng_below(&rng, nb + 2);
            tu_poke(t.mem, off, v > nb ? 0xFFFFFFFFu : (uint32_t)v, 4);
        }
        mm *m = NULL;
        int err = mm_open(t.mem, "list", 0, 0, &m);
        if (err == MM_OK) {
            accepted++;
            OK(mm_check(m));
            mm_close(m);
        } else {
            cr_assert_eq(err, MM_ECORRUPT, "round %d: open -> %s (%s)", round,
                         mm_strerror(err), mm_error_detail());
        }
        OK(mm_memory_write(t.mem, 0, img, len));
    }
    cr_assert_gt(accepted, 0, "no round left a layout the load accepts");
    free(img);
    tu_close(&t);
}
