/*
 * The v1 design against the V1 layout table, byte for byte. The expected
 * header comes from test_core.c's own encoder (v1m_*), which reads only
 * ../shared/v1-layout.md, and is compared with page 0 of the linear memory
 * after every operation. The linear memory is wrapped in the fault-injecting
 * memory, whose byte counts check mm_stats from outside the manager.
 */
#include "test_core.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rig {
    char path[64]; /* empty: RAM */
    mm_memory *inner, *mem; /* mem wraps inner and counts */
    mm *m;
    v1_model v;
} rig;

static void rig_open_memory(rig *r) {
    if (r->path[0])
        OK(mm_memory_file(r->path, 0, &r->inner));
    OK(mm_memory_faulty(r->inner, NULL, &r->mem));
}

static void rig_open(rig *r, bool file, uint32_t bucket_pages) {
    memset(r, 0, sizeof *r);
    if (file)
        tc_temp_file(r->path);
    else
        OK(mm_memory_ram(0, &r->inner));
    rig_open_memory(r);
    OK(mm_open(r->mem, "v1", bucket_pages, 0, &r->m));
    v1m_init(&r->v, bucket_pages);
    v1m_assert_bytes(r->mem, &r->v, "a freshly formatted memory");
}

static void rig_close(rig *r) {
    mm_close(r->m);
    mm_memory_close(r->mem);
    mm_memory_close(r->inner);
    if (r->path[0]) unlink(r->path);
}

static mm_stats stats_of(rig *r) {
    mm_stats st;
    OK(mm_stats_get(r->m, &st));
    return st;
}

/* What a call that must change nothing is compared with: the bytes (all
 * of a small linear memory, page 0 of a large one), its size, the stats
 * and the linear memory's counts. */
typedef struct snap {
    uint8_t *bytes;
    size_t len;
    uint64_t pages;
    mm_stats st;
    mm_fault_counts n;
} snap;

static snap snap_take(rig *r) {
    snap s = {.len = V1T_PAGE, .pages = mm_memory_size(r->mem), .st = stats_of(r),
              .n = mm_memory_fault_counts(r->mem)};
    s.bytes = s.pages <= 1024 ? tu_image(r->mem, &s.len) : tc_page0(r->mem);
    return s;
}

static void snap_assert_bytes(rig *r, snap *s, const char *what) {
    uint8_t *now = malloc(s->len);
    cr_assert(now != NULL);
    OK(mm_memory_read(r->mem, 0, now, s->len));
    for (size_t i = 0; i < s->len; i++)
        if (now[i] != s->bytes[i])
            cr_assert_fail("%s: byte %zu changed from %02x to %02x", what, i, s->bytes[i],
                           now[i]);
    cr_assert_eq(mm_memory_size(r->mem), s->pages, "%s: the linear memory changed size", what);
    free(now);
    free(s->bytes);
}

/* Nothing changed, nothing was written, and no grow reached the memory. */
static void snap_assert_same(rig *r, snap *s, const char *what) {
    mm_stats st = stats_of(r);
    st.heap_bytes = s->st.heap_bytes; /* a refused grow keeps the table room it reserved */
    cr_assert(memcmp(&st, &s->st, sizeof st) == 0, "%s: the stats changed", what);
    mm_fault_counts n = mm_memory_fault_counts(r->mem);
    cr_assert(n.writes == s->n.writes && n.grows == s->n.grows && n.discards == s->n.discards,
              "%s: the linear memory saw %llu writes, %llu grows, %llu discards", what,
              (unsigned long long)(n.writes - s->n.writes),
              (unsigned long long)(n.grows - s->n.grows),
              (unsigned long long)(n.discards - s->n.discards));
    snap_assert_bytes(r, s, what);
    v1m_assert_bytes(r->mem, &r->v, what);
}

/* Closes the manager and the memories (RAM stays) and opens them again:
 * same bytes, same sizes. */
static void rig_reopen(rig *r) {
    snap before = snap_take(r);
    mm_close(r->m);
    mm_memory_close(r->mem);
    if (r->path[0]) mm_memory_close(r->inner);
    rig_open_memory(r);
    OK(mm_open(r->mem, "v1", 0, 0, &r->m));
    cr_assert_eq(mm_bucket_pages(r->m), r->v.bucket_pages);
    snap_assert_bytes(r, &before, "reopened");
    v1m_assert_bytes(r->mem, &r->v, "reopened");
    for (unsigned i = 0; i < 255; i++) {
        uint64_t pages;
        OK(mm_size(r->m, i, &pages));
        cr_assert_eq(pages, r->v.sizes[i], "memory %u reopened with %llu pages, not %llu", i,
                     (unsigned long long)pages, (unsigned long long)r->v.sizes[i]);
    }
    OK(mm_check(r->m));
}

/* One grow, checked against the model: the old size, every header byte,
 * the linear memory's size, and the bytes written, counted both by the
 * manager (stats) and by the linear memory (fault counts): a grow that
 * adds buckets writes their owner bytes, the count (2) and the size (8);
 * one that adds none writes the size; a zero-page grow writes nothing. */
static void rig_grow(rig *r, unsigned id, uint64_t pages) {
    mm_stats st0 = stats_of(r);
    uint64_t bytes0 = mm_memory_fault_counts(r->mem).bytes_written;
    uint64_t want_old = r->v.sizes[id], old = ~0ull;
    int64_t added = v1m_grow(&r->v, id, pages);
    cr_assert(added >= 0, "the scenario passes the bucket limit at grow(%u, %llu)", id,
              (unsigned long long)pages);
    OK_CHECK(r->m, mm_grow(r->m, id, pages, &old));
    cr_assert_eq(old, want_old, "grow(%u, %llu) returned %llu, not %llu", id,
                 (unsigned long long)pages, (unsigned long long)old,
                 (unsigned long long)want_old);
    char what[64];
    snprintf(what, sizeof what, "after grow(%u, %llu)", id, (unsigned long long)pages);
    v1m_assert_bytes(r->mem, &r->v, what);
    uint64_t want = added ? (uint64_t)added + 2 + 8 : pages ? 8 : 0;
    mm_stats st = stats_of(r);
    cr_assert_eq(st.header_bytes_written - st0.header_bytes_written, want,
                 "%s: stats count %llu header bytes written; %llu change", what,
                 (unsigned long long)(st.header_bytes_written - st0.header_bytes_written),
                 (unsigned long long)want);
    uint64_t bytes = mm_memory_fault_counts(r->mem).bytes_written - bytes0;
    cr_assert_eq(bytes, want, "%s: the linear memory saw %llu bytes written; %llu change", what,
                 (unsigned long long)bytes, (unsigned long long)want);
    cr_assert_eq(st.buckets_allocated, r->v.count);
    cr_assert_eq(st.linear_pages, v1m_linear_pages(&r->v));
}

/* Writes a tag into every bucket of every memory through the manager and
 * finds it where the layout puts it: the k-th bucket of memory i (ascending
 * owner bytes) holds its bytes [k, k+1) * N * 64 KiB. */
static void rig_check_translation(rig *r) {
    uint64_t bucket_bytes = (uint64_t)r->v.bucket_pages * MM_PAGE_SIZE;
    uint64_t k[255] = {0}; /* buckets of each memory met so far */
    for (uint32_t b = 0; b < r->v.count; b++) {
        unsigned i = r->v.owners[b];
        if (i == V1T_UNALLOCATED) continue;
        uint8_t tag[8], got[8];
        tc_pattern(tag, sizeof tag, i * 100003 + k[i]);
        uint64_t in = 8 * i + 8 * (k[i] % 64); /* inside the first page of the bucket */
        OK_CHECK(r->m, mm_write(r->m, i, k[i] * bucket_bytes + in, tag, sizeof tag));
        OK(mm_memory_read(r->mem, v1m_bucket_page(&r->v, b) * MM_PAGE_SIZE + in, got,
                          sizeof got));
        cr_assert(memcmp(tag, got, sizeof tag) == 0,
                  "byte %llu of memory %u is not in bucket %u (its #%llu)",
                  (unsigned long long)(k[i] * bucket_bytes + in), i, b,
                  (unsigned long long)k[i]);
        k[i]++;
    }
    v1m_assert_bytes(r->mem, &r->v, "after data writes");
}

/* Grows of every kind: zero pages, inside a bucket, exactly a bucket,
 * several buckets, across memories so that their buckets interleave. */
static void scenario(uint32_t n) {
    rig r;
    rig_open(&r, true, n);
    const struct {
        unsigned id;
        uint64_t pages;
    } ops[] = {
        {0, 0}, {3, 1},         {0, 2},     {3, 1},         {3, 2 * n},     {254, 1},
        {7, 3 * n + 1}, {0, n - 1}, {3, 0},     {200, 5},       {0, 1},         {254, n},
        {7, n - 1},     {1, 1},     {254, 2 * n + 2}, {0, 0},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        rig_grow(&r, ops[k].id, ops[k].pages);
        OK(mm_check(r.m));
    }
    rig_check_translation(&r);
    rig_reopen(&r);
    rig_grow(&r, 3, 1);
    rig_grow(&r, 9, n + 1);
    rig_reopen(&r);
    rig_check_translation(&r);
    rig_close(&r);
}

Test(v1_bytes, bucket_size_1) {
    scenario(1);
}

Test(v1_bytes, bucket_size_3) {
    scenario(3);
}

Test(v1_bytes, bucket_size_128) {
    scenario(128);
}

/* The default bucket size is stored as 128. */
Test(v1_bytes, default_bucket_size_is_128) {
    mm_memory *mem;
    mm *m;
    OK(mm_memory_ram(0, &mem));
    OK(mm_open(mem, "v1", 0, 0, &m));
    v1_model v;
    v1m_init(&v, 128);
    v1m_assert_bytes(mem, &v, "formatted with bucket size 0 (default)");
    mm_close(m);
    mm_memory_close(mem);
}

/* Every memory id, grown in rounds and in a scrambled order, so that the
 * owner bytes interleave all 255 ids. */
Test(v1_bytes, all_255_memories_interleaved) {
    rig r;
    rig_open(&r, false, 3);
    for (unsigned round = 0; round < 3; round++)
        for (unsigned k = 0; k < 255; k++) {
            unsigned id = (k * 97 + round * 31) % 255;
            rig_grow(&r, id, (id + round) % 5);
        }
    OK(mm_check(r.m));
    mm_stats st = stats_of(&r);
    cr_assert_eq(st.memories_in_use, 255);
    rig_check_translation(&r);
    rig_reopen(&r);
    rig_close(&r);
}

/* A grow refused at the limit changes nothing. */
static void assert_refused(rig *r, unsigned id, uint64_t pages, int want) {
    snap before = snap_take(r);
    uint64_t old = 4242;
    cr_assert_eq(v1m_grow(&r->v, id, pages), -1, "the model accepts grow(%u, %llu)", id,
                 (unsigned long long)pages);
    int err = mm_grow(r->m, id, pages, &old);
    cr_assert(err == want, "grow(%u, %llu) at %u buckets -> %s, expected %s (%s)", id,
              (unsigned long long)pages, r->v.count, mm_strerror(err), mm_strerror(want),
              mm_error_detail());
    tc_assert_detail("a grow past the bucket limit", "32768");
    cr_assert_eq(old, 4242, "a refused grow stored an old size");
    snap_assert_same(r, &before, "after a refused grow");
    OK(mm_check(r->m));
}

/* Bucket size 1: 32,768 one-page buckets fit, the 32,769th does not. Big
 * steps first, then single pages near the limit. */
Test(v1_bytes, limit_32768_buckets_of_1_page) {
    rig r;
    rig_open(&r, false, 1);
    rig_grow(&r, 0, 20000);
    rig_grow(&r, 1, 12000);
    rig_grow(&r, 0, 700);
    for (unsigned k = 0; r.v.count < 32768; k++) rig_grow(&r, 2 + k % 3, 1);
    cr_assert_eq(mm_memory_size(r.mem), 1 + 32768);
    assert_refused(&r, 5, 1, MM_EFULL);
    assert_refused(&r, 0, 1, MM_EFULL);
    assert_refused(&r, 2, 7, MM_EFULL);
    rig_grow(&r, 4, 0);
    rig_check_translation(&r);
    rig_reopen(&r);
    assert_refused(&r, 6, 1, MM_EFULL);
    rig_close(&r);
}

/* Bucket size 2: a grow that needs two buckets when one is left fails; one
 * that fits in its last bucket's spare page still succeeds at the limit. */
Test(v1_bytes, limit_with_room_in_the_last_bucket) {
    rig r;
    rig_open(&r, false, 2);
    rig_grow(&r, 0, 2 * 32767 - 1); /* 32,767 buckets, the last half full */
    assert_refused(&r, 1, 3, MM_EFULL);
    rig_grow(&r, 0, 1); /* fills the spare page: no bucket added */
    rig_grow(&r, 1, 2); /* the last bucket */
    assert_refused(&r, 2, 1, MM_EFULL);
    assert_refused(&r, 1, 1, MM_EFULL);
    cr_assert_eq(mm_memory_size(r.mem), 1 + 2 * 32768);
    rig_close(&r);
}

/* More buckets than V1 can address in one grow, on an empty memory. */
Test(v1_bytes, one_grow_past_the_limit) {
    rig r;
    rig_open(&r, false, 1);
    snap before = snap_take(&r);
    int err = mm_grow(r.m, 0, 32769, NULL);
    cr_assert(err == MM_EFULL || err == MM_EOVERFLOW, "grow(0, 32769) -> %s (%s)",
              mm_strerror(err), mm_error_detail());
    tc_assert_detail("grow(0, 32769)", "32768");
    snap_assert_same(&r, &before, "after a grow past the limit");
    rig_grow(&r, 0, 32768); /* exactly the limit, in one grow */
    rig_close(&r);
}

Test(v1_bytes, zero_page_grows_write_nothing) {
    rig r;
    rig_open(&r, false, 3);
    rig_grow(&r, 0, 4);
    rig_grow(&r, 9, 1);
    snap before = snap_take(&r);
    const unsigned ids[] = {0, 9, 254, 17};
    for (size_t k = 0; k < 4; k++) {
        uint64_t old = ~0ull;
        OK_CHECK(r.m, mm_grow(r.m, ids[k], 0, &old));
        cr_assert_eq(old, r.v.sizes[ids[k]]);
    }
    snap_assert_same(&r, &before, "after zero-page grows");
    rig_close(&r);
}

Test(v1_bytes, free_is_not_supported_and_changes_nothing) {
    rig r;
    rig_open(&r, true, 2);
    rig_grow(&r, 4, 3);
    uint8_t data[] = {0xde, 0xad, 0xbe, 0xef};
    OK_CHECK(r.m, mm_write(r.m, 4, 100, data, sizeof data));
    snap before = snap_take(&r);
    FAILS_WITH(mm_free(r.m, 4), MM_ENOTSUP, "v1");
    FAILS(mm_free(r.m, 5), MM_ENOTSUP); /* an empty memory: still not supported */
    snap_assert_same(&r, &before, "after a refused free");
    uint8_t back[4];
    OK(mm_read(r.m, 4, 100, back, sizeof back));
    cr_assert(memcmp(back, data, sizeof data) == 0);
    rig_reopen(&r);
    rig_close(&r);
}
