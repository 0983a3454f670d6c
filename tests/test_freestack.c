/*
 * freestack's own bytes, read with the offsets of the table in
 * impl/design_freestack.c (restated in tests/layouts.h, not the library's):
 * what each op writes, where records and stack slots land in page 0 and in
 * chunks, what open refuses, what check catches, and the upgrade marker.
 */
#include "layouts.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

/* Entry e's record or stack slot with one-page buckets (E = 7281), given
 * the chunks' bucket ids. */
static uint64_t entry_off(const uint32_t *chunks, uint64_t e, bool slot) {
    if (e < FT_SEG0) return slot ? FT_OFF_SLOTS + 4 * e : FT_OFF_RECORDS + 5 * e;
    uint64_t E = PAGE / 9, j = (e - FT_SEG0) / E, local = (e - FT_SEG0) % E;
    uint64_t base = (1 + (uint64_t)chunks[j]) * PAGE;
    return slot ? base + 5 * E + 4 * local : base + 5 * local;
}

static void assert_record(mm_memory *mem, const uint32_t *chunks, uint64_t b, unsigned owner,
                          uint32_t pos) {
    uint64_t off = entry_off(chunks, b, false);
    cr_assert_eq(tu_peek(mem, off, 1), owner, "bucket %llu's owner", (unsigned long long)b);
    cr_assert_eq(tu_peek(mem, off + 1, 4), pos, "bucket %llu's position", (unsigned long long)b);
}

/* Header bytes and write calls that op added. */
#define WRITES(t, op, bytes, calls)                                                     \
    do {                                                                              \
        mm_stats b_ = tu_stats(t);                                                    \
        op;                                                                           \
        mm_stats a_ = tu_stats(t);                                                    \
        cr_assert_eq(a_.header_bytes_written - b_.header_bytes_written, (bytes),      \
                     "%s wrote %llu header bytes", #op,                               \
                     (unsigned long long)(a_.header_bytes_written - b_.header_bytes_written)); \
        cr_assert_eq(a_.header_writes - b_.header_writes, (calls), "%s: %llu writes", #op, \
                     (unsigned long long)(a_.header_writes - b_.header_writes));      \
    } while (0)

/* open reads a RAM memory's entries where they lie and copies a file's:
 * the tests that reopen or corrupt a memory run over both. */
static const struct {
    const char *name;
    void (*open)(tu_mm *t, const char *design, uint32_t bucket_pages);
} backings[] = {{"RAM", tu_open_ram}, {"file", tu_open_file}};
#define NBACKINGS (sizeof backings / sizeof backings[0])

Test(freestack, bytes_of_each_op) {
    tu_mm t;
    tu_open_ram(&t, "freestack", 1);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_VERSION, 1), FT_VERSION);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_BUCKET_PAGES, 2), 1);
    /* A new bucket: its record (5), then the commit: the counters from the
     * count (12), the last size (8) and last (1), which names memory 0. */
    WRITES(&t, tu_grow(&t, 0, 1), 5u + 21, 2u);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_LAST, 1), 1);
    /* last names memory 0 already: the commit stops at the last size. */
    WRITES(&t, tu_grow(&t, 0, 1), 5u + 20, 2u);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_LAST_SIZE, 8), 2);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_SIZES, 8), 0, "memory 0's own size lags");
    /* Three adjacent new buckets of memory 1: memory 0's size goes to its
     * own place first (8), then one write of three records, the commit. */
    WRITES(&t, tu_grow(&t, 1, 3), 8u + 15 + 21, 3u);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_SIZES, 8), 2);
    assert_record(t.mem, NULL, 0, 0, 0);
    assert_record(t.mem, NULL, 1, 0, 1);
    assert_record(t.mem, NULL, 4, 1, 2);
    /* Free: three stack slots, the commit (counters and last size). */
    WRITES(&t, OK_CHECK(t.m, mm_free(t.m, 1)), 12u + 20, 2u);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_DEPTH, 4), 3);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_SLOTS, 4), 4, "pushed last bucket first");
    cr_assert_eq(tu_peek(t.mem, FT_OFF_SLOTS + 8, 4), 2, "the first bucket on top");
    /* Two pops come back adjacent and in order: one record write. */
    WRITES(&t, tu_grow(&t, 2, 2), 8u + 10 + 21, 3u);
    assert_record(t.mem, NULL, 2, 2, 0);
    assert_record(t.mem, NULL, 3, 2, 1);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_DEPTH, 4), 1);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_COUNT, 4), 5);
    /* Pop the last free one (4) and carve 5: still one run of records. */
    WRITES(&t, tu_grow(&t, 3, 2), 8u + 10 + 21, 3u);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_LAST_SIZE, 8), 2);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_LAST, 1), 4);
    tu_close(&t);
    /* A grow inside the last bucket writes the size alone. */
    tu_open_ram(&t, "freestack", 4);
    tu_grow(&t, 9, 1);
    WRITES(&t, tu_grow(&t, 9, 3), 8u, 1u);
    tu_check(&t);
    tu_close(&t);
}

/* Past 4,096 buckets the entries move into chunks carved after the data
 * buckets of the grow that needs them. */
Test(freestack, entries_cross_into_chunks) {
    for (size_t k = 0; k < NBACKINGS; k++) {
    cr_log_info("over %s", backings[k].name);
    tu_mm t;
    backings[k].open(&t, "freestack", 1);
    tu_grow(&t, 0, 4000);
    cr_assert_eq(tu_stats(&t).buckets_meta, 0);
    tu_grow(&t, 1, 200);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.buckets_meta, 1);
    cr_assert_eq(st.buckets_allocated, 4201);
    cr_assert_eq(st.linear_pages, 1 + 4201);
    cr_assert_eq(st.header_bytes, PAGE + PAGE);
    uint32_t chunks[1] = {(uint32_t)tu_peek(t.mem, FT_OFF_DIR, 4)};
    cr_assert_eq(chunks[0], 4200);
    cr_assert_eq(tu_peek(t.mem, FT_OFF_CHUNKS, 4), 1);
    assert_record(t.mem, chunks, 4100, 1, 100);
    assert_record(t.mem, chunks, 4199, 1, 199);
    OK_CHECK(t.m, mm_free(t.m, 0));
    OK_CHECK(t.m, mm_free(t.m, 1)); /* its slots 4000..4199 cross into the chunk */
    cr_assert_eq(tu_peek(t.mem, entry_off(chunks, 4199, true), 4), 4000, "memory 1's first bucket "
                 "is on top");
    tu_reopen(&t);
    tu_check(&t);
    cr_assert_eq(tu_stats(&t).buckets_free, 4200);
    tu_grow(&t, 2, 4200);
    cr_assert_eq(tu_stats(&t).linear_pages, 1 + 4201, "all 4,200 reused");
    tu_reopen(&t);
    tu_check(&t);
    tu_close(&t);
    }
}

/* memory 0 held buckets 0..2 and was freed (stack 2, 1, 0 from the top);
 * memory 1 holds 3 and 4. */
static void small_memory(tu_mm *t, size_t backing) {
    backings[backing].open(t, "freestack", 1);
    tu_grow(t, 0, 3);
    tu_grow(t, 1, 2);
    OK_CHECK(t->m, mm_free(t->m, 0));
    mm_close(t->m);
    t->m = NULL;
}

Test(freestack, corrupt_headers_are_refused_untouched) {
    struct {
        const char *what;
        uint64_t off, value;
        unsigned bytes;
    } cases[] = {
        {"bucket size 0", FT_OFF_BUCKET_PAGES, 0, 2},
        {"a count past the linear memory", FT_OFF_COUNT, 6, 4},
        {"a count past the capacity of no chunk", FT_OFF_COUNT, 5000, 4},
        {"a depth that leaves a bucket unaccounted", FT_OFF_DEPTH, 2, 4},
        {"a chunk count the buckets do not add up to", FT_OFF_CHUNKS, 1, 4},
        {"a stack slot past the count", FT_OFF_SLOTS, 9, 4},
        {"a bucket twice on the stack", FT_OFF_SLOTS, 1, 4},
        {"an owned bucket on the stack", FT_OFF_SLOTS, 3, 4},
        {"two buckets at one position", FT_OFF_RECORDS + 5 * 3 + 1, 1, 4},
        {"a position past the memory's size", FT_OFF_RECORDS + 5 * 4 + 1, 2, 4},
        {"an owned bucket without owner", FT_OFF_RECORDS + 5 * 4, 255, 1},
        {"a bucket owned by another memory", FT_OFF_RECORDS + 5 * 4, 7, 1},
        {"a size that needs another bucket", FT_OFF_SIZES + 8, 3, 8},
    };
    for (size_t k = 0; k < NBACKINGS; k++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tu_mm t;
        small_memory(&t, k);
        tu_poke(t.mem, cases[c].off, cases[c].value, cases[c].bytes);
        size_t len;
        uint8_t *img = tu_image(t.mem, &len);
        int err = mm_open(t.mem, "freestack", 0, 0, &t.m);
        cr_assert_eq(err, MM_ECORRUPT, "%s over %s: open -> %s", cases[c].what,
                     backings[k].name, mm_strerror(err));
        tu_assert_image(t.mem, img, len, cases[c].what);
        free(img);
        tu_close(&t);
    }
}

/* The same in a chunk. Memory 2 holds buckets 4201..4500, whose records lie
 * in the chunk (bucket 4200); memories 0 and 1 were freed, so stack slots
 * 4096..4199 lie there too. Each case breaks one entry; open refuses the
 * memory and writes nothing (page 0 and the chunk are compared, not the
 * whole 282 MiB). */
Test(freestack, corrupt_chunk_entries_are_refused_untouched) {
    const uint32_t chunks[1] = {4200};
    const struct {
        const char *what;
        uint64_t off, value;
        unsigned bytes;
    } cases[] = {
        {"two buckets at one position", entry_off(chunks, 4300, false) + 1, 100, 4},
        {"a position past the memory's size", entry_off(chunks, 4300, false) + 1, 300, 4},
        {"an owned bucket without owner", entry_off(chunks, 4300, false), 255, 1},
        {"a bucket of a freed memory", entry_off(chunks, 4500, false), 1, 1},
        {"a stack slot past the count", entry_off(chunks, 4150, true), 4501, 4},
        {"a chunk on the stack", entry_off(chunks, 4150, true), 4200, 4},
        {"an owned bucket on the stack", entry_off(chunks, 4150, true), 4300, 4},
        {"a bucket twice on the stack", entry_off(chunks, 4199, true), 0, 4},
        {"a chunk that is an owned bucket", FT_OFF_DIR, 4300, 4},
    };
    for (size_t k = 0; k < NBACKINGS; k++) {
        tu_mm t;
        backings[k].open(&t, "freestack", 1);
        tu_grow(&t, 0, 4000);
        tu_grow(&t, 1, 200);
        tu_grow(&t, 2, 300);
        OK_CHECK(t.m, mm_free(t.m, 0));
        OK_CHECK(t.m, mm_free(t.m, 1));
        cr_assert_eq(tu_peek(t.mem, FT_OFF_DIR, 4), chunks[0]);
        cr_assert_eq(tu_peek(t.mem, FT_OFF_DEPTH, 4), 4200);
        assert_record(t.mem, chunks, 4300, 2, 99);
        cr_assert_eq(tu_peek(t.mem, entry_off(chunks, 4199, true), 4), 4000, "memory 1's first");
        mm_close(t.m);
        t.m = NULL;
        uint8_t *before = malloc(2 * PAGE), *after = malloc(2 * PAGE);
        cr_assert(before && after);
        OK(mm_memory_read(t.mem, 0, before, PAGE));
        OK(mm_memory_read(t.mem, (1 + chunks[0]) * PAGE, before + PAGE, PAGE));
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            uint64_t was = tu_peek(t.mem, cases[c].off, cases[c].bytes);
            tu_poke(t.mem, cases[c].off, cases[c].value, cases[c].bytes);
            int err = mm_open(t.mem, "freestack", 0, 0, &t.m);
            cr_assert_eq(err, MM_ECORRUPT, "%s over %s: open -> %s", cases[c].what,
                         backings[k].name, mm_strerror(err));
            tu_poke(t.mem, cases[c].off, was, cases[c].bytes);
            OK(mm_memory_read(t.mem, 0, after, PAGE));
            OK(mm_memory_read(t.mem, (1 + chunks[0]) * PAGE, after + PAGE, PAGE));
            cr_assert(memcmp(before, after, 2 * PAGE) == 0, "%s over %s: open wrote",
                      cases[c].what, backings[k].name);
        }
        /* Restored, it opens with every bucket. */
        OK(mm_open(t.mem, "freestack", 0, 0, &t.m));
        tu_check(&t);
        cr_assert_eq(tu_size(&t, 2), 300);
        free(before);
        free(after);
        tu_close(&t);
    }
}

/* check compares the persisted layout with the heap: a byte changed behind
 * the manager's back is found. */
Test(freestack, check_catches_changed_bytes) {
    const struct {
        uint64_t off, value;
        unsigned bytes;
    } cases[] = {
        {FT_OFF_RECORDS + 5 * 3 + 1, 1, 4}, /* positions of 3 and 4 swapped */
        {FT_OFF_SLOTS, 1, 4},               /* a stack slot */
        {FT_OFF_SIZES + 8, 1, 8},           /* a size */
        {FT_OFF_VERSION, 1, 1},             /* the version */
    };
    for (size_t k = 0; k < NBACKINGS; k++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tu_mm t;
        small_memory(&t, k);
        OK(mm_open(t.mem, "freestack", 0, 0, &t.m));
        tu_check(&t);
        if (c == 0) tu_poke(t.mem, FT_OFF_RECORDS + 5 * 4 + 1, 0, 4);
        tu_poke(t.mem, cases[c].off, cases[c].value, cases[c].bytes);
        FAILS(mm_check(t.m), MM_ECHECK);
        tu_close(&t);
    }
}

/* A V1 memory past 4,096 buckets gets a chunk carved after V1's buckets;
 * an upgrade cut short at any write opens, completed by freestack or
 * rolled back by v1, with every bucket. */
Test(freestack, upgrade_chunk_and_journal) {
    enum { BUCKETS = 5000 };
    for (uint64_t fail_at = 0; fail_at <= 3; fail_at++) {
        mm_memory *ram, *mem;
        mm *m;
        OK(mm_memory_ram(0, &ram));
        OK(mm_open(ram, "v1", 1, 0, &m));
        OK_CHECK(m, mm_grow(m, 3, BUCKETS, NULL));
        mm_close(m);
        mm_fault_plan plan = {.fail_write_at = fail_at};
        OK(mm_memory_faulty(ram, &plan, &mem));
        int err = mm_open(mem, "freestack", 0, MM_OPEN_UPGRADE, &m);
        if (fail_at == 0) {
            OK(err);
            OK(mm_check(m));
            /* The chunk, then the journal's page past it. */
            cr_assert_eq(mm_memory_size(ram), 1 + BUCKETS + 1 + 1);
            cr_assert_eq(tu_peek(ram, FT_OFF_DIR, 4), BUCKETS);
            cr_assert_eq(tu_peek(ram, FT_OFF_COUNT, 4), BUCKETS + 1);
            cr_assert_eq(tu_peek(ram, 4, 2), 0, "V1's u16 count is cleared");
            uint32_t chunks[1] = {BUCKETS};
            assert_record(ram, chunks, BUCKETS - 1, 3, BUCKETS - 1);
            mm_close(m);
        } else {
            FAILS(err, MM_EIO);
            mm_memory_close(mem);
            /* Writes 1 and 2 are the journal and its commit: V1 stays
             * until the second lands. */
            bool still_v1 = fail_at <= 2;
            cr_assert_eq(tu_peek(ram, FT_OFF_VERSION, 1), still_v1 ? 1 : FT_UPGRADING);
            size_t len;
            uint8_t *img = tu_image(ram, &len);
            for (int by_v1 = 0; by_v1 <= 1; by_v1++) {
                mm_memory *copy;
                OK(mm_memory_ram(0, &copy));
                OK(mm_memory_grow(copy, len / PAGE, NULL));
                OK(mm_memory_write(copy, 0, img, len));
                /* The upgrade under way is completed unasked (it was asked
                 * for when it began); a V1 memory is upgraded only when
                 * asked again. */
                if (!by_v1 && still_v1)
                    FAILS(mm_open(copy, "freestack", 0, 0, &m), MM_EWRONG_DESIGN);
                unsigned flags = !by_v1 && still_v1 ? MM_OPEN_UPGRADE : 0;
                OK(mm_open(copy, by_v1 ? "v1" : "freestack", 0, flags, &m));
                OK(mm_check(m));
                uint64_t size;
                OK(mm_size(m, 3, &size));
                cr_assert_eq(size, BUCKETS);
                cr_assert_eq(tu_peek(copy, FT_OFF_VERSION, 1), by_v1 ? 1 : FT_VERSION);
                mm_close(m);
                mm_memory_close(copy);
            }
            free(img);
            mem = NULL;
        }
        mm_memory_close(mem);
        mm_memory_close(ram);
    }
}
