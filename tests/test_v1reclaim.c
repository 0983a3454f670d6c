/*
 * v1reclaim: the documented reuse rule (only free buckets above a memory's
 * highest one), the migration pattern where that rule reuses nothing, and
 * byte compatibility with v1. Owner bytes are read straight from the linear
 * memory at the offset ../shared/v1-layout.md gives, not through the
 * library's constants.
 */
#include "test_core.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

static uint8_t owner(tu_mm *t, uint32_t bucket) {
    return (uint8_t)tu_peek(t->mem, V1T_OFF_OWNERS + bucket, 1);
}

static void assert_owners(tu_mm *t, const uint8_t *want, uint32_t n) {
    for (uint32_t b = 0; b < n; b++)
        cr_assert_eq(owner(t, b), want[b], "bucket %u is owned by %u, expected %u", b,
                     owner(t, b), want[b]);
}

/* Memory A gets buckets 0,1,2, B gets 3,4,5; A is freed and B grows by
 * three buckets. B's buckets all lie above A's, so V1 bytes cannot give
 * B any of them: nothing is reused and the linear memory grows. */
Test(v1reclaim, migration_reuses_nothing) {
    tu_mm t;
    tu_open_ram(&t, "v1reclaim", 1);
    tu_grow(&t, 0, 3);
    tu_grow(&t, 1, 3);
    assert_owners(&t, (const uint8_t[]){0, 0, 0, 1, 1, 1}, 6);
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_check(&t);
    uint64_t pages = tu_stats(&t).linear_pages;
    cr_assert_eq(pages, 1 + 6);
    cr_assert_eq(tu_stats(&t).buckets_free, 3);
    tu_grow(&t, 1, 3);
    tu_check(&t);
    assert_owners(&t, (const uint8_t[]){255, 255, 255, 1, 1, 1, 1, 1, 1}, 9);
    mm_stats st = tu_stats(&t);
    cr_assert_eq(st.linear_pages, pages + 3, "the linear memory grows by the 3 buckets");
    cr_assert_eq(st.buckets_free, 3, "A's buckets stay free, unused");
    cr_assert_eq(st.buckets_allocated, 9);
    tu_close(&t);
}

/* A holds 0,4,5 and B holds 1,2,3: freeing A frees 4 and 5 above B's
 * highest bucket, so B's next grows reuse 4, then 5; bucket 0 lies below
 * and is never B's, so B's third grow carves bucket 6 although 0 is free. */
Test(v1reclaim, reuses_free_buckets_above_the_last) {
    tu_mm t;
    tu_open_file(&t, "v1reclaim", 1);
    tu_grow(&t, 0, 1);
    tu_grow(&t, 1, 3);
    tu_grow(&t, 0, 2);
    assert_owners(&t, (const uint8_t[]){0, 1, 1, 1, 0, 0}, 6);
    uint8_t mark[3] = {0xB1, 0xB2, 0xB3};
    OK_CHECK(t.m, mm_write(t.m, 1, 3 * PAGE - 3, mark, 3));
    uint8_t junk[PAGE];
    memset(junk, 0xEE, sizeof junk);
    for (uint64_t p = 0; p < 3; p++) OK_CHECK(t.m, mm_write(t.m, 0, p * PAGE, junk, PAGE));
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_check(&t);
    uint64_t pages = tu_stats(&t).linear_pages;

    tu_grow(&t, 1, 1);
    tu_check(&t);
    assert_owners(&t, (const uint8_t[]){255, 1, 1, 1, 1, 255}, 6);
    cr_assert_eq(tu_stats(&t).linear_pages, pages, "bucket 4 is reused: no growth");
    cr_assert_eq(tu_stats(&t).buckets_free, 2);

    tu_reopen(&t); /* the rule and the free buckets survive a reopen */
    tu_check(&t);
    tu_grow(&t, 1, 1);
    assert_owners(&t, (const uint8_t[]){255, 1, 1, 1, 1, 1}, 6);
    cr_assert_eq(tu_stats(&t).linear_pages, pages, "bucket 5 is reused: no growth");

    tu_grow(&t, 1, 1);
    tu_check(&t);
    assert_owners(&t, (const uint8_t[]){255, 1, 1, 1, 1, 1, 1}, 7);
    cr_assert_eq(tu_stats(&t).linear_pages, pages + 1, "bucket 0 is below: a new bucket");
    cr_assert_eq(tu_stats(&t).buckets_free, 1);

    /* Another memory, with no bucket yet, takes bucket 0. */
    tu_grow(&t, 2, 1);
    cr_assert_eq(owner(&t, 0), 2);
    cr_assert_eq(tu_stats(&t).buckets_free, 0);
    uint8_t back[3], zero[PAGE];
    OK(mm_read(t.m, 1, 3 * PAGE - 3, back, 3));
    cr_assert_arr_eq(back, mark, 3);
    /* Reused buckets read as zero, not as A's junk. */
    for (uint64_t p = 3; p < 6; p++) {
        OK(mm_read(t.m, 1, p * PAGE, zero, PAGE));
        for (size_t i = 0; i < PAGE; i++) cr_assert_eq(zero[i], 0, "page %llu byte %zu",
                                                       (unsigned long long)p, i);
    }
    tu_check(&t);
    tu_close(&t);
}

/* Bytes that differ by memory and page. */
static void write_pattern(tu_mm *t, unsigned id, uint8_t salt) {
    uint64_t size = tu_size(t, id);
    uint8_t *buf = malloc(PAGE);
    cr_assert(buf);
    for (uint64_t p = 0; p < size; p++) {
        for (size_t i = 0; i < PAGE; i++) buf[i] = (uint8_t)(salt * 31u + p * 7u + i);
        OK_CHECK(t->m, mm_write(t->m, id, p * PAGE, buf, PAGE));
    }
    free(buf);
}

/* Every memory's bytes as mm_read gives them, concatenated (free() it). */
static uint8_t *all_bytes(mm *m, uint64_t sizes[MM_MAX_MEMORIES], size_t *len) {
    *len = 0;
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) {
        OK(mm_size(m, id, &sizes[id]));
        *len += (size_t)(sizes[id] * PAGE);
    }
    uint8_t *out = malloc(*len ? *len : 1), *p = out;
    cr_assert(out);
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) {
        OK(mm_read(m, id, 0, p, (size_t)(sizes[id] * PAGE)));
        p += sizes[id] * PAGE;
    }
    return out;
}

static void assert_v1_reads_the_same(tu_mm *t, const char *when) {
    uint64_t sizes[MM_MAX_MEMORIES], v1_sizes[MM_MAX_MEMORIES];
    size_t len, v1_len;
    uint8_t *bytes = all_bytes(t->m, sizes, &len);
    mm_close(t->m);
    t->m = NULL;
    /* Through a counting wrapper: v1 must open it without a write. */
    mm_memory *counted;
    OK(mm_memory_faulty(t->mem, NULL, &counted));
    mm *v1;
    tu_use_design("v1");
    OK(mm_open(counted, "v1", 0, 0, &v1));
    OK(mm_check(v1));
    uint8_t *v1_bytes = all_bytes(v1, v1_sizes, &v1_len);
    cr_assert_arr_eq(v1_sizes, sizes, sizeof sizes, "%s: v1 reads other sizes", when);
    cr_assert_eq(v1_len, len);
    cr_assert(memcmp(v1_bytes, bytes, len) == 0, "%s: v1 reads other bytes", when);
    mm_close(v1);
    mm_fault_counts c = mm_memory_fault_counts(counted);
    cr_assert_eq(c.writes + c.grows + c.discards, 0, "%s: opening in v1 wrote or grew", when);
    mm_memory_close(counted);
    tu_use_design("v1reclaim");
    OK(mm_open(t->mem, "v1reclaim", 0, 0, &t->m));
    free(bytes);
    free(v1_bytes);
}

Test(v1reclaim, v1_opens_what_it_writes) {
    static const uint32_t bucket_sizes[] = {1, 3, 128};
    for (size_t s = 0; s < sizeof bucket_sizes / sizeof bucket_sizes[0]; s++) {
        tu_mm t;
        tu_open_ram(&t, "v1reclaim", bucket_sizes[s]);
        for (unsigned id = 0; id < 6; id++) tu_grow(&t, id * 7, 1 + id % 3);
        tu_grow(&t, 0, 4);
        tu_grow(&t, 14, 2);
        for (unsigned id = 0; id < 6; id++) write_pattern(&t, id * 7, (uint8_t)(id + 1));
        assert_v1_reads_the_same(&t, "before any free");
        OK_CHECK(t.m, mm_free(t.m, 7));
        OK_CHECK(t.m, mm_free(t.m, 28));
        assert_v1_reads_the_same(&t, "after two frees");
        tu_grow(&t, 35, 5); /* may reuse buckets above memory 35's last */
        tu_grow(&t, 100, 2);
        write_pattern(&t, 35, 0x35);
        write_pattern(&t, 100, 0x64);
        tu_check(&t);
        assert_v1_reads_the_same(&t, "after frees and regrows");
        tu_check(&t);
        tu_close(&t);
    }
}
