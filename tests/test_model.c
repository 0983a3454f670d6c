/*
 * Model-based random test: seeded random ops (grow, write, read, free,
 * reopen, size, out-of-bounds and invalid ids) on every design and on the
 * trivial model of model.c, compared after every op, with mm_check after
 * every op and a full byte comparison every 2,000 ops and after each
 * reopen. 25,000 ops for each of four bucket sizes: 100,000 per design.
 */
#include "model.h"
#include "rng.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE

typedef struct run {
    const mm_design_info *d;
    uint32_t bucket_pages;
    mm_memory *mem;
    mm *m;
    mm_model md;
    mm_rng rng;
    uint64_t op, seed;
    uint64_t max_pages; /* the model grows only while it holds fewer pages */
    uint8_t *buf, *back;
    size_t buf_len;
} run;

#define AT(r) "[%s, %u pages/bucket, seed %llu, op %llu] "
#define AT_ARGS(r)                                                                       \
    (r)->d->name, (r)->bucket_pages, (unsigned long long)(r)->seed,                      \
        (unsigned long long)(r)->op

static unsigned pick_id(run *r) {
    uint64_t dice = mm_rng_below(&r->rng, 100);
    if (dice < 90) return (unsigned)mm_rng_below(&r->rng, 8);
    if (dice < 95) return 8 + (unsigned)mm_rng_below(&r->rng, MM_MAX_MEMORIES - 8);
    return MM_MAX_MEMORIES + (unsigned)mm_rng_below(&r->rng, 4); /* invalid */
}

/* An offset and length inside the memory most of the time, across its end
 * sometimes. */
static void pick_span(run *r, unsigned id, uint64_t *off, size_t *len) {
    uint64_t size = id < MM_MAX_MEMORIES ? r->md.size[id] * PAGE : 0;
    *len = 1 + (size_t)mm_rng_below(&r->rng, mm_rng_below(&r->rng, 4) ? 64 : r->buf_len);
    uint64_t dice = mm_rng_below(&r->rng, 100);
    if (dice < 85 && size >= *len)
        *off = mm_rng_below(&r->rng, size - *len + 1);
    else if (dice < 95)
        *off = size > *len ? size - *len + 1 + mm_rng_below(&r->rng, *len) : 0;
    else
        *off = UINT64_MAX - mm_rng_below(&r->rng, 8);
}

static void expect(run *r, int got, int want, const char *what) {
    cr_assert_eq(got, want, AT(r) "%s -> %s, expected %s (%s)", AT_ARGS(r), what,
                 mm_strerror(got), mm_strerror(want), mm_error_detail());
}

static void full_compare(run *r) {
    const char *diff = model_compare(&r->md, r->m);
    cr_assert_null(diff, AT(r) "%s", AT_ARGS(r), diff);
}

static void do_grow(run *r, unsigned id) {
    uint64_t pages = mm_rng_below(&r->rng, 3);
    if (mm_rng_below(&r->rng, 8) == 0) pages = r->bucket_pages + mm_rng_below(&r->rng, 3);
    if (model_total_pages(&r->md) + pages > r->max_pages) pages = 0;
    mm_stats before, after;
    mm_stats_get(r->m, &before);
    uint64_t old = ~0ull, mold = ~0ull;
    int err = mm_grow(r->m, id, pages, &old);
    int want = model_grow(&r->md, id, pages, &mold);
    expect(r, err, want, "grow");
    if (err) return;
    cr_assert_eq(old, mold, AT(r) "grow returned %llu, model %llu", AT_ARGS(r),
                 (unsigned long long)old, (unsigned long long)mold);
    mm_stats_get(r->m, &after);
    if ((r->d->flags & MM_DESIGN_REUSES_ALL) && after.linear_pages > before.linear_pages)
        cr_assert_eq(after.buckets_free, 0, AT(r) "the linear memory grew from %llu to %llu "
                     "pages while %llu buckets are free", AT_ARGS(r),
                     (unsigned long long)before.linear_pages,
                     (unsigned long long)after.linear_pages,
                     (unsigned long long)after.buckets_free);
}

static void do_write(run *r, unsigned id) {
    uint64_t off;
    size_t len;
    pick_span(r, id, &off, &len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = mm_rng_next(&r->rng);
        memcpy(r->buf + i, &v, len - i < 8 ? len - i : 8);
    }
    int err = mm_write(r->m, id, off, r->buf, len);
    expect(r, err, model_write(&r->md, id, off, r->buf, len), "write");
}

static void do_read(run *r, unsigned id) {
    uint64_t off;
    size_t len;
    pick_span(r, id, &off, &len);
    int err = mm_read(r->m, id, off, r->back, len);
    expect(r, err, model_read(&r->md, id, off, r->buf, len), "read");
    if (!err)
        cr_assert(memcmp(r->back, r->buf, len) == 0, AT(r) "read of %zu bytes at %llu of "
                  "memory %u differs from the model", AT_ARGS(r), len,
                  (unsigned long long)off, id);
}

static void do_free(run *r, unsigned id) {
    int err = mm_free(r->m, id);
    if (!(r->d->flags & MM_DESIGN_CAN_FREE)) {
        expect(r, err, id < MM_MAX_MEMORIES ? MM_ENOTSUP : MM_EINVAL, "free");
        return;
    }
    expect(r, err, model_free(&r->md, id), "free");
}

static void do_reopen(run *r) {
    mm_close(r->m);
    r->m = NULL;
    uint32_t ask = mm_rng_below(&r->rng, 2) ? r->bucket_pages : 0;
    int err = mm_open(r->mem, r->d->name, ask, 0, &r->m);
    expect(r, err, MM_OK, "reopen");
    full_compare(r);
}

static void do_size(run *r, unsigned id) {
    uint64_t size = ~0ull;
    int err = mm_size(r->m, id, &size);
    expect(r, err, id < MM_MAX_MEMORIES ? MM_OK : MM_EINVAL, "size");
    if (!err) cr_assert_eq(size, r->md.size[id]);
}

/* The tables must hold exactly the buckets the sizes need. */
static void check_counts(run *r) {
    uint64_t need = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++)
        need += r->md.size[i] / r->bucket_pages + (r->md.size[i] % r->bucket_pages != 0);
    mm_stats st;
    mm_stats_get(r->m, &st);
    cr_assert_eq(st.buckets_in_use, need, AT(r) "%llu buckets in use, the sizes need %llu",
                 AT_ARGS(r), (unsigned long long)st.buckets_in_use, (unsigned long long)need);
}

static void model_run(const mm_design_info *d, uint32_t bucket_pages, uint64_t max_pages) {
    run r = {.d = d, .bucket_pages = bucket_pages, .max_pages = max_pages};
    r.seed = tu_seed(d->name, 0x6d6d66726565ull + bucket_pages);
    r.rng = mm_rng_seed(r.seed);
    r.buf_len = (size_t)(bucket_pages < 3 ? bucket_pages + 1 : 3) * PAGE;
    r.buf = malloc(r.buf_len);
    r.back = malloc(r.buf_len);
    model_init(&r.md);
    OK(mm_memory_ram(0, &r.mem));
    OK(mm_open(r.mem, d->name, bucket_pages, 0, &r.m));

    const char *env = getenv("MMFREE_MODEL_OPS");
    uint64_t ops = env ? strtoull(env, NULL, 0) : 25000;
    for (r.op = 0; r.op < ops; r.op++) {
        unsigned id = pick_id(&r);
        uint64_t dice = mm_rng_below(&r.rng, 1000);
        if (dice < 300)
            do_grow(&r, id);
        else if (dice < 550)
            do_write(&r, id);
        else if (dice < 800)
            do_read(&r, id);
        else if (dice < 900)
            do_free(&r, id);
        else if (dice < 910)
            do_reopen(&r);
        else
            do_size(&r, id);
        int err = mm_check(r.m);
        cr_assert_eq(err, MM_OK, AT(r) "mm_check: %s", AT_ARGS(&r), mm_error_detail());
        check_counts(&r);
        if (r.op % 2000 == 1999) full_compare(&r);
    }
    full_compare(&r);
    mm_close(r.m);
    mm_memory_close(r.mem);
    model_destroy(&r.md);
    free(r.buf);
    free(r.back);
}

DESIGN_TEST(model, bucket_1_page, 0) {
    model_run(THIS_DESIGN, 1, 160);
}

DESIGN_TEST(model, bucket_2_pages, 0) {
    model_run(THIS_DESIGN, 2, 160);
}

DESIGN_TEST(model, bucket_3_pages, 0) {
    model_run(THIS_DESIGN, 3, 160);
}

DESIGN_TEST(model, bucket_128_pages, 0) {
    model_run(THIS_DESIGN, 128, 400);
}
