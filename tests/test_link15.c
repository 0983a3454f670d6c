/*
 * bitmap15 and hbitmap15, the two designs of the link15 layout, and the V1
 * upgrade of every design that reads V1.
 *
 * The layout is read here by a decoder of its own, written from the table
 * in impl/layout_link15.c (offsets, 15-bit links packed little-endian,
 * next = b + 1 + link mod 2^15), not from the library's accessors: the
 * tests compare the library's bytes with a second reading of the spec.
 */
#include "layouts.h"
#include "rng.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

/* ------------------------------------------------------------------------
 * The layout as its table states it (offsets: tests/layouts.h)
 * ---------------------------------------------------------------------- */

static uint32_t t_link(const uint8_t *page0, uint32_t b) {
    uint64_t bit = (uint64_t)b * 15;
    const uint8_t *p = page0 + L15T_OFF_LINKS + bit / 8;
    uint32_t w = p[0] | p[1] << 8 | (L15T_OFF_LINKS + bit / 8 + 2 < L15T_END ? p[2] << 16 : 0);
    return (w >> (bit % 8)) & 0x7FFF;
}

/* The chain of memory id (its buckets in order), as page 0 states it. */
static uint32_t t_chain(const uint8_t *page0, unsigned id, uint32_t *out) {
    uint32_t n = (uint32_t)tu_get_le(page0 + L15T_OFF_BUCKET_PAGES, 2);
    uint64_t size = tu_get_le(page0 + L15T_OFF_SIZES + 8 * id, 8);
    uint32_t len = (uint32_t)(size / n + (size % n != 0));
    uint32_t b = (uint32_t)tu_get_le(page0 + L15T_OFF_FIRST + 2 * id, 2);
    for (uint32_t k = 0; k < len; k++) {
        out[k] = b;
        b = (b + 1 + t_link(page0, b)) & 0x7FFF;
    }
    return len;
}

static uint8_t *page0_of(mm_memory *mem) {
    uint8_t *p = malloc(PAGE);
    cr_assert(p != NULL);
    OK(mm_memory_read(mem, 0, p, PAGE));
    return p;
}

/* ------------------------------------------------------------------------
 * Running a test for each link15 design
 * ---------------------------------------------------------------------- */

static const char *const link15_names[] = {"bitmap15", "hbitmap15"};

static struct criterion_test_params link15_params(void) {
    static size_t idx[2];
    for (size_t i = 0; i < 2; i++) {
        idx[i] = SIZE_MAX;
        for (size_t d = 0; d < mm_design_count(); d++)
            if (strcmp(mm_design_get(d)->name, link15_names[i]) == 0) idx[i] = d;
    }
    return cr_make_param_array(size_t, idx, 2);
}

#define LINK15_TEST(test_)                                                                 \
    static void link15_##test_##_body(const char *design);                                 \
    ParameterizedTestParameters(link15, test_) {                                           \
        return link15_params();                                                            \
    }                                                                                      \
    ParameterizedTest(size_t *design_index, link15, test_) {                               \
        cr_assert_neq(*design_index, SIZE_MAX, "a link15 design is not registered");       \
        tu_use_design(mm_design_get(*design_index)->name);                                 \
        link15_##test_##_body(mm_design_get(*design_index)->name);                         \
    }                                                                                      \
    static void link15_##test_##_body(const char *design)

static bool is_link15(const char *design) {
    return strcmp(design, "bitmap15") == 0 || strcmp(design, "hbitmap15") == 0;
}

/* ------------------------------------------------------------------------
 * Data that tells every page apart: the first and last 32 bytes of page p
 * of memory id hold a pattern, the rest is zero.
 * ---------------------------------------------------------------------- */

enum { MARK = 32 };

static void mark_bytes(unsigned id, uint64_t p, uint8_t out[2 * MARK]) {
    for (unsigned i = 0; i < 2 * MARK; i++) out[i] = (uint8_t)(id * 7 + p * 13 + i * 3 + 1);
}

static void mark_pages(mm *m, unsigned id, uint64_t from, uint64_t to) {
    uint8_t mk[2 * MARK];
    for (uint64_t p = from; p < to; p++) {
        mark_bytes(id, p, mk);
        OK_CHECK(m, mm_write(m, id, p * PAGE, mk, MARK));
        OK_CHECK(m, mm_write(m, id, p * PAGE + PAGE - MARK, mk + MARK, MARK));
    }
}

/* Every byte of page p of memory id: its marks, zeros elsewhere. */
static void assert_page_marked(mm *m, unsigned id, uint64_t p, const char *what) {
    static uint8_t buf[PAGE], want[PAGE];
    uint8_t mk[2 * MARK];
    mark_bytes(id, p, mk);
    memset(want, 0, PAGE);
    memcpy(want, mk, MARK);
    memcpy(want + PAGE - MARK, mk + MARK, MARK);
    OK(mm_read(m, id, p * PAGE, buf, PAGE));
    if (memcmp(buf, want, PAGE) != 0)
        cr_assert_fail("[%s] %s: memory %u page %llu differs", tu_design_name(), what, id,
                       (unsigned long long)p);
}

static void assert_marked(mm *m, unsigned id, uint64_t pages, const char *what) {
    uint64_t size;
    OK(mm_size(m, id, &size));
    cr_assert_eq(size, pages, "[%s] %s: memory %u has %llu pages, not %llu", tu_design_name(),
                 what, id, (unsigned long long)size, (unsigned long long)pages);
    for (uint64_t p = 0; p < pages; p++) assert_page_marked(m, id, p, what);
}

/* ------------------------------------------------------------------------
 * V1 memories written by the v1 design
 * ---------------------------------------------------------------------- */

/* Interleaved grows: memories own buckets far apart and share none. */
typedef struct v1_script {
    unsigned ids[4];
    uint64_t pages[4];
} v1_script;

static v1_script v1_script_for(uint32_t n) {
    return (v1_script){{0, 1, 7, 254}, {2 * n + 1, n + 2, n + 1, 2 * n + 3}};
}

/* A RAM memory holding a V1 layout of bucket size n, every page marked. */
static mm_memory *make_v1(uint32_t n, v1_script *s) {
    *s = v1_script_for(n);
    mm_memory *mem;
    mm *m;
    OK(mm_memory_ram(0, &mem));
    OK(mm_open(mem, "v1", n, 0, &m));
    uint64_t v;
    /* Each memory grows in two steps, in turns, so buckets interleave. */
    for (int half = 0; half < 2; half++)
        for (int i = 0; i < 4; i++) {
            uint64_t step = half ? s->pages[i] - s->pages[i] / 2 : s->pages[i] / 2;
            OK_CHECK(m, mm_grow(m, s->ids[i], step, &v));
        }
    for (int i = 0; i < 4; i++) mark_pages(m, s->ids[i], 0, s->pages[i]);
    OK(mm_check(m));
    mm_close(m);
    return mem;
}

static void assert_script(mm *m, const v1_script *s, const char *what) {
    for (int i = 0; i < 4; i++) assert_marked(m, s->ids[i], s->pages[i], what);
}

/* ------------------------------------------------------------------------
 * V1 upgrade, for every design that reads V1
 * ---------------------------------------------------------------------- */

static void upgrade_case(const char *design, uint32_t n) {
    v1_script s;
    mm_memory *mem = make_v1(n, &s);
    uint8_t *v1_page0 = page0_of(mem);
    uint64_t v1_pages = mm_memory_size(mem);
    mm *m = NULL;
    /* Only when asked: without MM_OPEN_UPGRADE the memory stays V1. */
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    int refused = mm_open(mem, design, 0, 0, &m);
    cr_assert_eq(refused, MM_EWRONG_DESIGN, "[%s] opened V1 without MM_OPEN_UPGRADE: %s (%s)",
                 design, mm_strerror(refused), mm_error_detail());
    cr_assert(strstr(mm_error_detail(), "V1") && strstr(mm_error_detail(), "MM_OPEN_UPGRADE"),
              "[%s] the refusal does not say how to upgrade: %s", design, mm_error_detail());
    cr_assert_null(m);
    tu_assert_image(mem, img, len, "V1 opened without MM_OPEN_UPGRADE");
    free(img);
    OK(mm_open(mem, design, 0, MM_OPEN_UPGRADE, &m));
    cr_assert_eq(mm_bucket_pages(m), n);
    OK(mm_check(m));
    assert_script(m, &s, "after the upgrade");
    mm_stats st;
    OK(mm_stats_get(m, &st));
    cr_assert_eq(st.memories_in_use, 4);
    if (is_link15(design)) {
        /* In place: V1's fixed fields kept byte for byte. The one page the
         * memory gains is the journal's, past the last bucket (the first
         * page of the next one), given back as zeros once the upgrade is
         * done. */
        uint8_t *now = page0_of(mem);
        cr_assert_eq(mm_memory_size(mem), v1_pages + 1, "[%s] the upgrade added %lld pages, "
                     "not the journal's one", design,
                     (long long)(mm_memory_size(mem) - v1_pages));
        uint8_t last[PAGE];
        OK(mm_memory_read(mem, v1_pages * PAGE, last, PAGE));
        for (size_t k = 0; k < PAGE; k++)
            cr_assert_eq(last[k], 0, "[%s] byte %zu of the journal's page is %02x after the "
                         "upgrade", design, k, last[k]);
        cr_assert_eq(now[3], L15T_VERSION);
        cr_assert(memcmp(now + 4, v1_page0 + 4, L15T_OFF_FIRST - 4) == 0,
                  "[%s] the upgrade changed V1's fixed fields", design);
        /* Each chain is the memory's V1 buckets in ascending order. */
        uint32_t chain[8 * 3 + 8];
        for (int i = 0; i < 4; i++) {
            uint32_t len = t_chain(now, s.ids[i], chain), k = 0;
            for (uint32_t b = 0; b < L15T_MAX_BUCKETS; b++)
                if (v1_page0[L15T_OFF_FIRST + b] == s.ids[i]) {
                    cr_assert_lt(k, len);
                    cr_assert_eq(chain[k], b, "[%s] memory %u's bucket #%u", design, s.ids[i], k);
                    k++;
                }
            cr_assert_eq(k, len);
        }
        free(now);
    }
    /* The upgraded layout persists and is no longer V1. */
    mm_close(m);
    int err = mm_open(mem, "v1", 0, 0, &m);
    cr_assert(err == MM_EWRONG_DESIGN || err == MM_EVERSION, "[%s] v1 opened the upgraded "
              "memory: %s", design, mm_strerror(err));
    OK(mm_open(mem, design, n, 0, &m));
    OK(mm_check(m));
    assert_script(m, &s, "after reopening the upgraded memory");
    /* It frees, and the freed buckets are reused before the memory grows. */
    OK_CHECK(m, mm_free(m, s.ids[1]));
    OK(mm_check(m));
    uint64_t pages = mm_memory_size(mem), v;
    OK_CHECK(m, mm_grow(m, 9, s.pages[1], &v));
    OK(mm_check(m));
    cr_assert_eq(mm_memory_size(mem), pages, "[%s] a grow into freed buckets grew the memory",
                 design);
    mark_pages(m, 9, 0, s.pages[1]);
    mm_close(m);
    OK(mm_open(mem, design, 0, 0, &m));
    OK(mm_check(m));
    assert_marked(m, 9, s.pages[1], "reused buckets");
    assert_marked(m, s.ids[0], s.pages[0], "after reuse");
    assert_marked(m, s.ids[3], s.pages[3], "after reuse");
    mm_close(m);
    mm_memory_close(mem);
    free(v1_page0);
}

DESIGN_TEST(v1_upgrade, bucket_size_1, MM_DESIGN_READS_V1) {
    upgrade_case(THIS_DESIGN->name, 1);
}

DESIGN_TEST(v1_upgrade, bucket_size_3, MM_DESIGN_READS_V1) {
    upgrade_case(THIS_DESIGN->name, 3);
}

DESIGN_TEST(v1_upgrade, bucket_size_128, MM_DESIGN_READS_V1) {
    upgrade_case(THIS_DESIGN->name, 128);
}

/* A corrupt V1 header is refused, and nothing in the memory changes. */
DESIGN_TEST(v1_upgrade, corrupt_v1_is_refused_untouched, MM_DESIGN_READS_V1) {
    struct corruption {
        const char *what;
        uint32_t off;
        uint64_t value;
        unsigned bytes;
    } cases[] = {
        {"count past 32,768", 4, 32769, 2},
        {"count past the linear memory", 4, 500, 2},
        {"bucket size 0", 6, 0, 2},
        {"a size that disagrees with the owner bytes", 40 + 8 * 7, 999, 8},
        {"an owner byte moved to another memory", 2080 + 0, 7, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        v1_script s;
        mm_memory *mem = make_v1(2, &s);
        tu_poke(mem, cases[c].off, cases[c].value, cases[c].bytes);
        size_t len;
        uint8_t *img = tu_image(mem, &len);
        mm *m = NULL;
        int err = mm_open(mem, THIS_DESIGN->name, 0, MM_OPEN_UPGRADE, &m);
        cr_assert_eq(err, MM_ECORRUPT, "[%s] %s: open -> %s (%s)", THIS_DESIGN->name,
                     cases[c].what, mm_strerror(err), mm_error_detail());
        tu_assert_image(mem, img, len, cases[c].what);
        free(img);
        mm_memory_close(mem);
    }
}

/* An owner byte past the count is what a V1 grow cut short in durable
 * mode may leave (its owner bytes landed, its count did not): read as
 * unallocated, so the upgrade keeps every byte and writes over it. */
DESIGN_TEST(v1_upgrade, stale_owner_byte_past_the_count, MM_DESIGN_READS_V1) {
    v1_script s;
    mm_memory *mem = make_v1(2, &s);
    uint8_t owner = (uint8_t)s.ids[1];
    OK(mm_memory_write(mem, 2080 + 300, &owner, 1));
    mm *m;
    OK(mm_open(mem, THIS_DESIGN->name, 0, MM_OPEN_UPGRADE, &m));
    OK(mm_check(m));
    assert_script(m, &s, "after upgrading past a stale owner byte");
    mm_close(m);
    mm_memory_close(mem);
}

/* A copy of mem opened with design: it must open, pass mm_check and hold
 * every byte of the script. A V1 memory is upgraded only when asked (and
 * refused untouched otherwise); an upgrade under way is completed unasked,
 * as it was asked for when it began. */
static void opens_intact(mm_memory *mem, const char *design, const v1_script *s, unsigned n) {
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    mm_memory *copy;
    OK(mm_memory_ram(0, &copy));
    OK(mm_memory_grow(copy, len / PAGE, NULL));
    OK(mm_memory_write(copy, 0, img, len));
    mm *m;
    bool ask = strcmp(design, "v1") != 0 && tu_peek(copy, L15T_OFF_VERSION, 1) == 1;
    if (ask) {
        FAILS(mm_open(copy, design, 0, 0, &m), MM_EWRONG_DESIGN);
        tu_assert_image(copy, img, len, "a V1 memory opened without MM_OPEN_UPGRADE");
    }
    free(img);
    int err = mm_open(copy, design, 0, ask ? MM_OPEN_UPGRADE : 0, &m);
    cr_assert_eq(err, MM_OK, "[%s] after write %u of the upgrade failed: open -> %s (%s)",
                 design, n, mm_strerror(err), mm_error_detail());
    OK(mm_check(m));
    assert_script(m, s, "after an interrupted upgrade");
    mm_close(m);
    OK(mm_open(copy, design, 0, 0, &m)); /* and what that open wrote opens again */
    OK(mm_check(m));
    assert_script(m, s, "reopened after an interrupted upgrade");
    mm_close(m);
    mm_memory_close(copy);
}

/* A crash at each write of the upgrade (the n-th write fails, and the
 * memory is then opened again) leaves a memory that the design opens with
 * every byte (it upgrades V1, or completes the upgrade from its journal)
 * and that v1 opens with every byte (V1 still, or the upgrade rolled
 * back): never a refusal, never a byte lost. */
DESIGN_TEST(v1_upgrade, interrupted_at_every_write, MM_DESIGN_READS_V1) {
    const char *design = THIS_DESIGN->name;
    v1_script s;
    mm_memory *v1mem = make_v1(2, &s);
    size_t len;
    uint8_t *v1img = tu_image(v1mem, &len);
    mm_memory_close(v1mem);
    unsigned interrupted = 0, n;
    for (n = 1; n < 1000; n++) {
        mm_memory *ram, *faulty;
        mm *m;
        OK(mm_memory_ram(0, &ram));
        OK(mm_memory_grow(ram, len / PAGE, NULL));
        OK(mm_memory_write(ram, 0, v1img, len));
        mm_fault_plan plan = {.fail_write_at = n};
        OK(mm_memory_faulty(ram, &plan, &faulty));
        int err = mm_open(faulty, design, 0, MM_OPEN_UPGRADE, &m);
        if (err == MM_OK) mm_close(m);
        mm_memory_close(faulty);
        if (err == MM_OK) { /* n is past the upgrade's last write */
            mm_memory_close(ram);
            break;
        }
        cr_assert_eq(err, MM_EIO, "[%s] write %u failed: open -> %s (%s)", design, n,
                     mm_strerror(err), mm_error_detail());
        interrupted += tu_peek(ram, L15T_OFF_VERSION, 1) != 1;
        opens_intact(ram, "v1", &s, n);
        opens_intact(ram, design, &s, n);
        mm_memory_close(ram);
    }
    cr_assert_lt(n, 1000u, "[%s] the upgrade never completed", design);
    if (is_link15(design)) {
        /* journal, its commit (byte 3 = 0x82), tables, version: a failure
         * at the first two leaves V1, at the others the journal in force */
        cr_assert_eq(n, 5u, "[%s] the upgrade took %u writes, not 4", design, n - 1);
        cr_assert_eq(interrupted, 2u);
    }
    free(v1img);
}

/* ------------------------------------------------------------------------
 * link15: policy, bytes and limits
 * ---------------------------------------------------------------------- */

/* Which bucket holds virtual page p of memory id: the mark written there
 * shows up at the start of that bucket's page in the linear memory. */
static void assert_bucket(tu_mm *t, unsigned id, uint64_t p, uint32_t bucket) {
    uint8_t mk[2 * MARK], at[MARK];
    mark_pages(t->m, id, p, p + 1);
    mark_bytes(id, p, mk);
    OK(mm_memory_read(t->mem, (1 + (uint64_t)bucket) * PAGE, at, MARK));
    cr_assert(memcmp(at, mk, MARK) == 0, "[%s] page %llu of memory %u is not in bucket %u",
              t->design, (unsigned long long)p, id, bucket);
    uint8_t *page0 = page0_of(t->mem);
    uint32_t *chain = malloc(L15T_MAX_BUCKETS * sizeof *chain);
    cr_assert(chain != NULL);
    cr_assert_gt(t_chain(page0, id, chain), p);
    cr_assert_eq(chain[p], bucket, "[%s] page 0 puts page %llu of memory %u in bucket %u, "
                 "not %u", t->design, (unsigned long long)p, id, chain[p], bucket);
    free(chain);
    free(page0);
}

LINK15_TEST(grow_takes_the_lowest_free_bucket) {
    tu_mm t;
    tu_open_file(&t, design, 1);
    for (unsigned id = 0; id < 6; id++) tu_grow(&t, id, 1); /* buckets 0..5 */
    for (unsigned id = 0; id < 6; id++) assert_bucket(&t, id, 0, id);
    OK_CHECK(t.m, mm_free(t.m, 4));
    OK_CHECK(t.m, mm_free(t.m, 1));
    OK_CHECK(t.m, mm_free(t.m, 3));
    tu_reopen(&t); /* the index is rebuilt from the chains */
    tu_check(&t);
    uint64_t pages = tu_stats(&t).linear_pages;
    tu_grow(&t, 7, 1);
    assert_bucket(&t, 7, 0, 1);
    tu_grow(&t, 8, 2); /* one grow, two buckets: 3 then 4 */
    assert_bucket(&t, 8, 0, 3);
    assert_bucket(&t, 8, 1, 4);
    cr_assert_eq(tu_stats(&t).linear_pages, pages);
    tu_grow(&t, 7, 1); /* no bucket free: the next fresh one */
    assert_bucket(&t, 7, 1, 6);
    cr_assert_eq(tu_peek(t.mem, L15T_OFF_COUNT, 2), 7);
    OK_CHECK(t.m, mm_free(t.m, 0));
    tu_grow(&t, 8, 1);
    assert_bucket(&t, 8, 2, 0);
    tu_check(&t);
    tu_close(&t);
}

/* The two designs write one layout: each opens and extends the other's. */
Test(link15, designs_share_the_layout) {
    tu_mm t;
    tu_open_ram(&t, "hbitmap15", 2);
    tu_grow(&t, 0, 5);
    tu_grow(&t, 1, 3);
    OK_CHECK(t.m, mm_free(t.m, 0));
    mark_pages(t.m, 1, 0, 3);
    mm_close(t.m);
    const char *order[] = {"bitmap15", "hbitmap15", "bitmap15"};
    for (int i = 0; i < 3; i++) {
        tu_use_design(order[i]);
        OK(mm_open(t.mem, order[i], 0, 0, &t.m));
        OK(mm_check(t.m));
        assert_marked(t.m, 1, 3 + (uint64_t)i, order[i]);
        uint64_t v;
        OK_CHECK(t.m, mm_grow(t.m, 1, 1, &v));
        mark_pages(t.m, 1, 3 + (uint64_t)i, 4 + (uint64_t)i);
        mm_close(t.m);
    }
    t.m = NULL;
    tu_close(&t);
}

/* Bucket size 1: 32,768 buckets fit, the 32,769th is refused and nothing
 * changes; freed buckets can still be used. */
LINK15_TEST(the_32769th_bucket_is_refused) {
    tu_mm t;
    tu_open_ram(&t, design, 1);
    for (unsigned id = 0; id < 8; id++) tu_grow(&t, id, 4096);
    mark_pages(t.m, 7, 4095, 4096);
    assert_bucket(&t, 7, 4095, 32767);
    uint8_t *page0 = page0_of(t.mem);
    mm_stats before = tu_stats(&t);
    cr_assert_eq(before.linear_pages, 1 + 32768);
    uint64_t v;
    FAILS(mm_grow(t.m, 8, 1, &v), MM_EFULL);
    FAILS(mm_grow(t.m, 0, 1, &v), MM_EFULL);
    FAILS(mm_grow(t.m, 9, 5, &v), MM_EFULL);
    mm_stats after = tu_stats(&t);
    cr_assert_eq(after.header_bytes_written, before.header_bytes_written);
    cr_assert_eq(after.linear_pages, before.linear_pages);
    cr_assert_eq(tu_size(&t, 0), 4096);
    cr_assert_eq(tu_size(&t, 8), 0);
    uint8_t *page0_after = page0_of(t.mem);
    cr_assert(memcmp(page0, page0_after, PAGE) == 0, "[%s] a refused grow changed page 0",
              design);
    tu_check(&t);
    tu_reopen(&t);
    tu_check(&t);
    assert_page_marked(t.m, 7, 4095, "the last bucket");
    OK_CHECK(t.m, mm_free(t.m, 3));
    FAILS(mm_grow(t.m, 9, 4097, &v), MM_EFULL);
    tu_grow(&t, 9, 4096);
    FAILS(mm_grow(t.m, 9, 1, &v), MM_EFULL);
    cr_assert_eq(tu_stats(&t).linear_pages, 1 + 32768);
    tu_check(&t);
    free(page0);
    free(page0_after);
    tu_close(&t);
}

/* A damaged link15 header is refused, and nothing in the memory changes. */
LINK15_TEST(corrupt_header_is_refused_untouched) {
    struct corruption {
        const char *what;
        uint32_t off;
        uint32_t value, bytes; /* bytes == 0: set the link of bucket off to value */
    } cases[] = {
        {"bucket size 0", L15T_OFF_BUCKET_PAGES, 0, 2},
        {"count past 32,768", L15T_OFF_COUNT, 40000, 2},
        {"count past the linear memory", L15T_OFF_COUNT, 100, 2},
        {"sizes that need more buckets than carved", L15T_OFF_SIZES + 8 * 2, 3, 4},
        {"a chain into another chain", L15T_OFF_FIRST + 2 * 1, 1, 2},
        {"a chain past the count", L15T_OFF_FIRST + 2 * 2, 6, 2},
        /* first[] is 16 bits: an id past 15 bits is past the count too. */
        {"a chain from past 15 bits", L15T_OFF_FIRST + 2 * 2, 40000, 2},
        {"a chain of another chain's last bucket", L15T_OFF_FIRST + 2 * 2, 2, 2},
        {"a chain that loops", 0, 0x7FFF, 0}, /* next(0) = 0 */
        {"a link past the count", 10, 5, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tu_mm t;
        tu_open_ram(&t, design, 1);
        tu_grow(&t, 0, 3); /* buckets 0, 1, 2 */
        tu_grow(&t, 1, 2); /* 3, 4 */
        tu_grow(&t, 2, 1); /* 5 */
        mm_close(t.m);
        t.m = NULL;
        uint8_t *page0 = page0_of(t.mem);
        if (cases[c].bytes) {
            tu_put_le(page0 + cases[c].off, cases[c].value, cases[c].bytes);
        } else {
            uint32_t bit = cases[c].off * 15;
            uint8_t *p = page0 + L15T_OFF_LINKS + bit / 8;
            uint32_t w = (uint32_t)tu_get_le(p, 3);
            w = (w & ~(0x7FFFu << bit % 8)) | cases[c].value << bit % 8;
            tu_put_le(p, w, 3);
        }
        OK(mm_memory_write(t.mem, 0, page0, PAGE));
        size_t len;
        uint8_t *img = tu_image(t.mem, &len);
        for (size_t d = 0; d < 2; d++) {
            int err = mm_open(t.mem, link15_names[d], 0, 0, &t.m);
            cr_assert_eq(err, MM_ECORRUPT, "[%s] %s: open -> %s (%s)", link15_names[d],
                         cases[c].what, mm_strerror(err), mm_error_detail());
            tu_assert_image(t.mem, img, len, cases[c].what);
        }
        t.m = NULL;
        free(img);
        free(page0);
        tu_close(&t);
    }
}

/* A V1 memory with unallocated buckets below its count (as v1reclaim
 * leaves them) upgrades with those buckets free, reused lowest first. */
LINK15_TEST(upgrade_keeps_v1_holes_free) {
    v1_script s;
    tu_mm t = {.design = design};
    t.mem = make_v1(1, &s);
    /* Free memory 7 by hand, the way a freeing V1 writer records it. */
    uint8_t page0[L15T_OFF_FIRST + L15T_MAX_BUCKETS];
    OK(mm_memory_read(t.mem, 0, page0, sizeof page0));
    uint32_t holes[8], nholes = 0;
    for (uint32_t b = 0; b < L15T_MAX_BUCKETS; b++)
        if (page0[L15T_OFF_FIRST + b] == 7) {
            holes[nholes++] = b;
            page0[L15T_OFF_FIRST + b] = 255;
        }
    cr_assert_eq(nholes, s.pages[2]);
    memset(page0 + L15T_OFF_SIZES + 8 * 7, 0, 8);
    OK(mm_memory_write(t.mem, 0, page0, sizeof page0));
    OK(mm_open(t.mem, design, 0, MM_OPEN_UPGRADE, &t.m));
    tu_check(&t);
    cr_assert_eq(tu_stats(&t).buckets_free, nholes);
    for (uint32_t k = 0; k < nholes; k++) {
        tu_grow(&t, 20, 1);
        assert_bucket(&t, 20, k, holes[k]);
    }
    tu_check(&t);
    assert_marked(t.m, 0, s.pages[0], "memory 0");
    tu_close(&t);
}

/* A grow whose k-th header write fails (a crash there) leaves the state
 * before the grow, in the heap and after a reopen: the size write is the
 * commit. The grow reuses three freed buckets and carves two (so it writes
 * a link, the count and the size). */
LINK15_TEST(failed_write_in_a_grow_leaves_the_state_before) {
    unsigned k;
    for (k = 1; k < 10; k++) {
        mm_memory *ram, *mem;
        mm *m;
        uint64_t v, size;
        OK(mm_memory_ram(0, &ram));
        OK(mm_memory_faulty(ram, NULL, &mem));
        OK(mm_open(mem, design, 1, 0, &m));
        OK_CHECK(m, mm_grow(m, 0, 3, &v)); /* buckets 0..2 */
        OK_CHECK(m, mm_grow(m, 1, 2, &v)); /* 3, 4 */
        mark_pages(m, 1, 0, 2);
        OK_CHECK(m, mm_free(m, 0));
        uint64_t pages = mm_memory_size(mem);
        mm_fault_plan plan = {.fail_write_at = k};
        mm_memory_fault_replan(mem, &plan);
        int err = mm_grow(m, 2, 5, &v);
        if (err == MM_OK) { /* k is past the grow's last write */
            OK(mm_check(m));
            mm_close(m);
            mm_memory_close(mem);
            mm_memory_close(ram);
            break;
        }
        cr_assert_eq(err, MM_EIO, "[%s] write %u: grow -> %s", design, k, mm_strerror(err));
        OK(mm_check(m)); /* the heap was rolled back to what the memory says */
        OK(mm_size(m, 2, &size));
        cr_assert_eq(size, 0);
        FAILS(mm_grow(m, 3, 1, &v), MM_EBROKEN);
        mm_close(m);
        mm_memory_fault_replan(mem, &(mm_fault_plan){0});
        OK(mm_open(mem, design, 0, 0, &m));
        OK(mm_check(m));
        OK(mm_size(m, 2, &size));
        cr_assert_eq(size, 0, "[%s] write %u failed, yet memory 2 has %llu pages", design, k,
                     (unsigned long long)size);
        assert_marked(m, 1, 2, "after a failed grow");
        OK_CHECK(m, mm_grow(m, 2, 5, &v));
        OK(mm_check(m));
        cr_assert_eq(mm_memory_size(mem), pages + 2, "[%s] the regrow carved more", design);
        mm_close(m);
        mm_memory_close(mem);
        mm_memory_close(ram);
    }
    cr_assert_eq(k, 4u, "[%s] the grow made %u writes, not 3 (link, count, size)", design,
                 k - 1);
}

/* ------------------------------------------------------------------------
 * Bytes written per grow, against v1 on the same grows
 * ---------------------------------------------------------------------- */

static uint64_t written(mm *m) {
    mm_stats st;
    OK(mm_stats_get(m, &st));
    return st.header_bytes_written;
}

/* Runs the same grows on v1 and design; asserts per grow that design
 * writes no more header bytes. reuse: design frees memories now and then,
 * so that its grows take freed buckets; v1, which cannot free, moves on to
 * an unused memory instead, so both grow memories of the same size. */
static void compare_bytes(const char *design, uint32_t n, bool adds, bool reuse) {
    enum { IDS = 12 };
    mm_memory *vmem, *dmem;
    mm *v1, *d;
    OK(mm_memory_ram(0, &vmem));
    OK(mm_memory_ram(0, &dmem));
    OK(mm_open(vmem, "v1", n, 0, &v1));
    OK(mm_open(dmem, design, n, 0, &d));
    unsigned v1_id[IDS], next_v1_id = IDS;
    for (unsigned i = 0; i < IDS; i++) v1_id[i] = i;
    mm_rng rng = mm_rng_seed(tu_seed("link15 bytes", 0x6279746573ull + n));
    uint64_t total_v1 = 0, total_d = 0, grows = 0, v;
    if (!adds) /* each memory gets its bucket first; the grows then fill it */
        for (unsigned i = 0; i < IDS; i++) {
            OK_CHECK(v1, mm_grow(v1, i, 1, &v));
            OK_CHECK(d, mm_grow(d, i, 1, &v));
        }
    for (int op = 0; op < 3000; op++) {
        unsigned id = (unsigned)mm_rng_below(&rng, IDS);
        if (reuse && next_v1_id < MM_MAX_MEMORIES && mm_rng_below(&rng, 16) == 0) {
            OK_CHECK(d, mm_free(d, id));
            v1_id[id] = next_v1_id++;
            id = (unsigned)mm_rng_below(&rng, IDS);
        }
        uint64_t size;
        OK(mm_size(d, id, &size));
        uint64_t room = (n - size % n) % n; /* pages left in its last bucket */
        uint64_t pages;
        if (adds) /* past the last bucket, by up to three buckets */
            pages = room + 1 + mm_rng_below(&rng, reuse ? n : 3 * n);
        else
            pages = room ? 1 + mm_rng_below(&rng, room < 2 ? room : 2) : 0;
        uint64_t v0 = written(v1), d0 = written(d);
        if (mm_grow(v1, v1_id[id], pages, &v) == MM_EFULL) break;
        OK_CHECK(d, mm_grow(d, id, pages, &v));
        uint64_t dv = written(v1) - v0, dd = written(d) - d0;
        cr_assert_leq(dd, dv, "[%s] grow(%u, %llu) at op %d wrote %llu header bytes; v1 wrote "
                      "%llu", design, id, (unsigned long long)pages, op,
                      (unsigned long long)dd, (unsigned long long)dv);
        total_v1 += dv;
        total_d += dd;
        grows += pages != 0;
    }
    OK(mm_check(d));
    cr_assert_gt(grows, 100u);
    if (reuse)
        cr_assert_lt(mm_memory_size(dmem), mm_memory_size(vmem), "[%s] no freed bucket was "
                     "reused", design);
    cr_assert_gt(total_d, 0u, "[%s] no header byte was written", design);
    cr_log_info("%s, %u pages/bucket, grows that %s: %llu grows, %.2f header bytes per grow "
                "(v1 %.2f)", design, n, adds ? (reuse ? "add or reuse buckets" : "add buckets")
                                              : "add none",
                (unsigned long long)grows, (double)total_d / grows, (double)total_v1 / grows);
    mm_close(v1);
    mm_close(d);
    mm_memory_close(vmem);
    mm_memory_close(dmem);
}

LINK15_TEST(bytes_per_grow_that_adds_buckets) {
    compare_bytes(design, 1, true, false);
    compare_bytes(design, 3, true, false);
}

LINK15_TEST(bytes_per_grow_that_adds_none) {
    /* Memories first get a bucket of 128 pages, then grow inside it. */
    compare_bytes(design, 128, false, false);
}

/* The worst one-bucket grow into a fresh bucket with one-page buckets:
 * its link writes 3 bytes, the count carries (1023 -> 1024) and so does
 * the size (255 -> 256 pages). Memory 1 takes buckets 0..2, memory 0
 * buckets 3..257, memory 1 the next 765, then memory 0 grows by a page
 * into bucket 1023: bucket 257's link becomes 765, stored at bit 7 of its
 * window (bits 7..21: 0x17E80, so all three bytes change). 3 + 2 + 2 = 7
 * bytes, where writing the whole count and size would be 13. */
LINK15_TEST(bytes_per_grow_when_link_count_and_size_carry) {
    mm_memory *vmem, *dmem;
    mm *v1, *d;
    OK(mm_memory_ram(0, &vmem));
    OK(mm_memory_ram(0, &dmem));
    mm *both[2];
    OK(mm_open(vmem, "v1", 1, 0, &v1));
    OK(mm_open(dmem, design, 1, 0, &d));
    both[0] = v1;
    both[1] = d;
    uint64_t v;
    for (int k = 0; k < 2; k++) {
        OK_CHECK(both[k], mm_grow(both[k], 1, 3, &v));
        for (int page = 0; page < 255; page++) OK_CHECK(both[k], mm_grow(both[k], 0, 1, &v));
        OK_CHECK(both[k], mm_grow(both[k], 1, 765, &v));
    }
    uint64_t v0 = written(v1), d0 = written(d);
    OK(mm_grow(v1, 0, 1, &v));
    OK_CHECK(d, mm_grow(d, 0, 1, &v));
    uint64_t dv = written(v1) - v0, dd = written(d) - d0;
    cr_assert_eq(dv, 11u, "v1 wrote %llu bytes: owner byte, count and size are 11",
                 (unsigned long long)dv);
    cr_assert_leq(dd, dv, "[%s] the grow wrote %llu header bytes; v1 wrote %llu", design,
                  (unsigned long long)dd, (unsigned long long)dv);
    cr_assert_eq(dd, 3u + 2 + 2, "[%s] the grow wrote %llu bytes, not the 3 of the link, 2 of "
                 "the count and 2 of the size", design, (unsigned long long)dd);
    mm_stats st;
    OK(mm_stats_get(d, &st));
    cr_assert_eq(st.buckets_allocated, 1024u);
    mm_close(v1);
    mm_close(d);
    mm_memory_close(vmem);
    mm_memory_close(dmem);
}

/* One-bucket grows into freed buckets also write no more than v1's grow
 * of one new bucket (a grow that reuses k >= 3 scattered buckets may: its
 * k links cost up to 3 bytes each, where V1 writes one owner byte). */
LINK15_TEST(bytes_per_grow_that_reuses_one_bucket) {
    compare_bytes(design, 1, true, true);
}

/* ------------------------------------------------------------------------
 * I/O per operation does not depend on the number of buckets
 * ---------------------------------------------------------------------- */

typedef struct io {
    uint64_t grow_reads, grow_writes, free_writes, free_reads, open_reads;
} io;

static mm_fault_counts since(mm_memory *faulty) {
    mm_fault_counts c = mm_memory_fault_counts(faulty);
    mm_fault_plan none = {0};
    mm_memory_fault_replan(faulty, &none);
    return c;
}

/* nbuckets one-page buckets in use, then: a grow into a fresh bucket, a
 * free of a memory holding half of them, a grow into a freed bucket, a
 * reopen. Returns the reads and writes each did. */
static io io_at(const char *design, uint32_t nbuckets) {
    mm_memory *ram, *mem;
    mm *m;
    OK(mm_memory_ram(0, &ram));
    OK(mm_memory_faulty(ram, NULL, &mem));
    OK(mm_open(mem, design, 1, 0, &m));
    uint64_t v;
    OK_CHECK(m, mm_grow(m, 0, nbuckets / 2, &v));
    OK_CHECK(m, mm_grow(m, 1, nbuckets / 2 - 4, &v));
    /* mm_check reads the header, so it runs between the counted ops. */
    io r = {0};
    since(mem);
    OK(mm_grow(m, 2, 1, &v));
    mm_fault_counts c = since(mem);
    r.grow_reads = c.reads;
    r.grow_writes = c.writes;
    OK(mm_check(m));
    since(mem);
    OK(mm_free(m, 0));
    c = since(mem);
    r.free_reads = c.reads;
    r.free_writes = c.writes;
    OK(mm_check(m));
    since(mem);
    OK(mm_grow(m, 3, 1, &v));
    c = since(mem);
    r.grow_reads += c.reads;
    r.grow_writes += c.writes;
    OK(mm_check(m));
    mm_close(m);
    since(mem);
    OK(mm_open(mem, design, 0, 0, &m));
    r.open_reads = since(mem).reads;
    OK(mm_check(m));
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(ram);
    return r;
}

LINK15_TEST(io_per_op_is_independent_of_bucket_count) {
    io small = io_at(design, 1024), large = io_at(design, 32768);
    cr_assert_eq(small.grow_reads, 0u, "[%s] grows read the header", design);
    cr_assert_leq(small.grow_writes, 2 * 3u);
    cr_assert_eq(small.free_writes, 1u, "[%s] a free of 512 buckets made %llu writes", design,
                 (unsigned long long)small.free_writes);
    cr_assert_eq(small.free_reads, 0u);
    cr_assert_leq(small.open_reads, 2u, "[%s] open made %llu reads", design,
                  (unsigned long long)small.open_reads);
    cr_assert(memcmp(&small, &large, sizeof small) == 0,
              "[%s] reads/writes at 1,024 buckets (grows %llu/%llu, free %llu/%llu, open %llu) "
              "differ at 32,768 (grows %llu/%llu, free %llu/%llu, open %llu)", design,
              (unsigned long long)small.grow_reads, (unsigned long long)small.grow_writes,
              (unsigned long long)small.free_reads, (unsigned long long)small.free_writes,
              (unsigned long long)small.open_reads, (unsigned long long)large.grow_reads,
              (unsigned long long)large.grow_writes, (unsigned long long)large.free_reads,
              (unsigned long long)large.free_writes, (unsigned long long)large.open_reads);
}
