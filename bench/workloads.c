/*
 * The standardized workloads (workloads.h has what each does and measures).
 *
 * Each workload body does its setup, brackets each measured phase with
 * begin()/end() and keeps a model of what the memories must hold: their
 * sizes and how many buckets its grows took. finish() then compares the
 * manager with the model, and the bodies add the checks of their own effect
 * (reuse, bytes read back). Measured loops hold the API calls and nothing
 * else: operands are prepared before a phase and checked after it.
 */
#include "workloads.h"

#include "rng.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define wl_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define wl_unlikely(x) (x)
#endif

#define PAGE ((uint64_t)MM_PAGE_SIZE)
#define MIB (1024u * 1024u)

/* ------------------------------------------------------------------------
 * A run: what every body shares
 * ---------------------------------------------------------------------- */

struct wl_run {
    const mm_workload *w;
    const mm_wl_params *p;
    const mm_wl_hooks *h;
    mm_wl_result *r;
    const mm_design_info *design; /* NULL for raw */
    mm_memory *ram;               /* the RAM linear memory */
    mm_memory *mem;               /* what the run uses: ram, or a dirty-page counter over it */
    mm *m;
    uint64_t carved_at_open; /* data buckets the format carved */
    uint64_t hbytes_closed;  /* header bytes written by handles closed already */
    uint64_t hbytes_begin;   /* header bytes written when the phase began, plus those
                              * written while it was paused (not the phase's) */
    uint64_t hbytes_paused;  /* header bytes written when the pause began */
    /* The model: what the memories must hold after the body. */
    uint64_t size[MM_MAX_MEMORIES];
    uint64_t taken; /* buckets the grows took */
    uint64_t noise; /* the sink of extra_setup */
    int last_err;   /* of the first failed library call */
};

typedef struct wl_run wl_run;

static const mm_wl_hooks no_hooks;

/* Records the first failure; later ones are consequences. Returns false so
 * that callers can `return fail(...)`. */
static bool fail(wl_run *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static bool fail(wl_run *x, const char *fmt, ...) {
    if (x->r->status == MM_WL_FAILED) return false;
    x->r->status = MM_WL_FAILED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->r->reason, sizeof x->r->reason, fmt, ap);
    va_end(ap);
    return false;
}

static bool failed(const wl_run *x) {
    return x->r->status == MM_WL_FAILED;
}

/* A failed library call, named by what the workload was doing. */
static bool api_fail(wl_run *x, int err, const char *what, uint64_t step) {
    if (!failed(x)) x->last_err = err;
    return fail(x, "%s (step %llu): %s: %s", what, (unsigned long long)step, mm_strerror(err),
                mm_error_detail());
}

#define API(x, call, what)                                                         \
    do {                                                                           \
        int e_ = (call);                                                           \
        if (e_) {                                                                  \
            api_fail(x, e_, what, 0);                                              \
            return;                                                                \
        }                                                                          \
    } while (0)

/* Setup work that must not show in any measurement (extra_setup passes):
 * reads the start of every page of the linear memory. */
static void setup_work(wl_run *x) {
    uint8_t buf[256];
    uint64_t pages = mm_memory_size(x->mem);
    for (unsigned pass = 0; pass < x->p->extra_setup; pass++)
        for (uint64_t pg = 0; pg < pages; pg++)
            if (mm_memory_read(x->mem, pg * PAGE, buf, sizeof buf) == MM_OK)
                x->noise += buf[pass % sizeof buf] + 1;
}

static mm_stats stats(wl_run *x);

/* Header bytes written by every handle of the run so far. */
static uint64_t hbytes_total(wl_run *x) {
    return x->hbytes_closed + (x->m ? stats(x).header_bytes_written : 0);
}

/* The space figures are taken before begin's hook and after end's, so that
 * no harness measures them. */
static void begin(wl_run *x, unsigned phase) {
    setup_work(x);
    x->hbytes_begin = hbytes_total(x);
    mm_memory_dirty_reset(x->mem);
    if (x->h->begin) x->h->begin(x->h->ctx, phase, x->m);
}

static void end(wl_run *x, unsigned phase, uint64_t ops) {
    if (x->h->end) x->h->end(x->h->ctx, phase, ops);
    x->r->phase_ops[phase] = ops;
    x->r->record.ops += ops;
    x->r->phase_space[phase] = (mm_wl_space){
        .pages_end = mm_memory_size(x->mem),
        .header_bytes_written = hbytes_total(x) - x->hbytes_begin,
        .dirty_pages = mm_memory_dirty_pages(x->mem),
        .heap_bytes = x->m ? stats(x).heap_bytes : 0,
    };
}

/* What a pause does (worst_scan's frees) is not the phase's: neither its
 * header bytes nor its dirty pages count. */
static inline void pause_phase(wl_run *x, unsigned phase) {
    if (x->h->pause) x->h->pause(x->h->ctx, phase);
    x->hbytes_paused = hbytes_total(x);
    mm_memory_dirty_pause(x->mem, 1);
}

static inline void resume_phase(wl_run *x, unsigned phase) {
    setup_work(x);
    x->hbytes_begin += hbytes_total(x) - x->hbytes_paused;
    mm_memory_dirty_pause(x->mem, 0);
    if (x->h->resume) x->h->resume(x->h->ctx, phase);
}

static bool reuses_all(const wl_run *x) {
    return x->design && ((x->design->flags & MM_DESIGN_REUSES_ALL) || x->p->expect_reuse);
}

static mm_stats stats(wl_run *x) {
    mm_stats st = {0};
    mm_stats_get(x->m, &st);
    return st;
}

static uint64_t data_buckets(const mm_stats *st) {
    return st->buckets_allocated - st->buckets_meta;
}

static uint64_t buckets_for(const wl_run *x, uint64_t pages) {
    uint32_t bp = x->w->bucket_pages;
    return pages / bp + (pages % bp != 0);
}

/* ------------------------------------------------------------------------
 * Grow loops shared by several workloads. They return the error of the
 * first failed call and leave the number done in *done.
 * ---------------------------------------------------------------------- */

/* n one-page grows of one memory. */
static int grow_one_by_one(mm *m, unsigned id, uint64_t n, uint64_t *done) {
    uint64_t i;
    int err = MM_OK;
    for (i = 0; i < n; i++) {
        err = mm_grow(m, id, 1, NULL);
        if (wl_unlikely(err)) break;
    }
    *done = i;
    return err;
}

/* n grows of `pages` each, round-robin over memories 0..nmem-1. */
static int grow_round_robin(mm *m, unsigned nmem, uint64_t pages, uint64_t n, uint64_t *done) {
    uint64_t i;
    unsigned id = 0;
    int err = MM_OK;
    for (i = 0; i < n; i++) {
        err = mm_grow(m, id, pages, NULL);
        if (wl_unlikely(err)) break;
        if (++id == nmem) id = 0;
    }
    *done = i;
    return err;
}

/* The model after grow_round_robin. */
static void model_round_robin(wl_run *x, unsigned nmem, uint64_t pages, uint64_t n) {
    for (unsigned i = 0; i < nmem; i++)
        x->size[i] += pages * (n / nmem + (i < n % nmem));
    x->taken += n * buckets_for(x, pages);
}

/* ------------------------------------------------------------------------
 * Self-checks
 * ---------------------------------------------------------------------- */

/* The linear memory must not have grown since `before` pages: for the
 * designs that promise to reuse every free bucket first. */
static bool expect_no_growth(wl_run *x, uint64_t before, const char *during, uint64_t nfree) {
    uint64_t now = mm_memory_size(x->mem);
    if (!reuses_all(x) || now == before) return true;
    return fail(x, "%s: the linear memory grew from %llu to %llu pages although %llu buckets "
                "were free (%s should reuse every free bucket first)",
                during, (unsigned long long)before, (unsigned long long)now,
                (unsigned long long)nfree, x->design->name);
}

/* 64 bytes that identify bucket k of a run. */
static void pattern64(uint64_t seed, uint64_t k, uint8_t out[64]) {
    mm_rng r = mm_rng_seed(seed ^ (k * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e995ull);
    for (int i = 0; i < 8; i++) {
        uint64_t v = mm_rng_next(&r);
        memcpy(out + 8 * i, &v, 8);
    }
}

/* Bucket k of memory id starts with pattern64(k) (or with zeros). */
static bool expect_bytes(wl_run *x, unsigned id, uint64_t first, uint64_t count, bool zero,
                         const char *what) {
    uint8_t want[64], got[64];
    uint64_t bucket_bytes = x->w->bucket_pages * PAGE;
    for (uint64_t k = first; k < first + count; k++) {
        if (zero)
            memset(want, 0, sizeof want);
        else
            pattern64(x->p->seed, k, want);
        int err = mm_read(x->m, id, k * bucket_bytes, got, sizeof got);
        if (err) return api_fail(x, err, "reading back", k);
        if (memcmp(want, got, sizeof want) != 0)
            return fail(x, "%s: bucket #%llu of memory %u does not hold %s", what,
                        (unsigned long long)k, id, zero ? "zeros" : "the bytes written to it");
    }
    return true;
}

static bool write_patterns(wl_run *x, unsigned id, uint64_t count) {
    uint8_t buf[64];
    uint64_t bucket_bytes = x->w->bucket_pages * PAGE;
    for (uint64_t k = 0; k < count; k++) {
        pattern64(x->p->seed, k, buf);
        int err = mm_write(x->m, id, k * bucket_bytes, buf, sizeof buf);
        if (err) return api_fail(x, err, "writing bucket data", k);
    }
    return true;
}

/* Compares the manager with the model and fills the record. */
static void finish(wl_run *x) {
    mm_wl_record *rec = &x->r->record;
    rec->pages_end = mm_memory_size(x->mem);
    if (!x->m) return; /* raw */
    uint64_t in_use = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = 0;
        mm_size(x->m, i, &size);
        if (size != x->size[i]) {
            fail(x, "memory %u holds %llu pages; the workload grew it to %llu", i,
                 (unsigned long long)size, (unsigned long long)x->size[i]);
            return;
        }
        in_use += buckets_for(x, size);
    }
    mm_stats st = stats(x);
    if (st.buckets_in_use != in_use) {
        fail(x, "the manager counts %llu buckets in use; the sizes need %llu",
             (unsigned long long)st.buckets_in_use, (unsigned long long)in_use);
        return;
    }
    uint64_t carved = data_buckets(&st) - x->carved_at_open;
    if (carved > x->taken) {
        fail(x, "%llu data buckets were carved, but the grows took only %llu",
             (unsigned long long)carved, (unsigned long long)x->taken);
        return;
    }
    rec->buckets_new = carved;
    rec->buckets_reused = x->taken - carved;
    rec->header_bytes_written = x->hbytes_closed + st.header_bytes_written;
    int err = mm_check(x->m);
    if (err) api_fail(x, err, "mm_check after the workload", 0);
}

/* ------------------------------------------------------------------------
 * The workloads
 * ---------------------------------------------------------------------- */

/* grow_pages and grow_one: N one-page grows of memory 0. */
static void body_grow_memory0(wl_run *x) {
    uint64_t n = x->p->n, done;
    begin(x, 0);
    int err = grow_one_by_one(x->m, 0, n, &done);
    end(x, 0, done);
    if (err) {
        api_fail(x, err, "one-page grow of memory 0", done);
        return;
    }
    x->size[0] = n;
    x->taken = buckets_for(x, n);
}

static void body_grow_spread(wl_run *x) {
    uint64_t n = x->p->n, done;
    begin(x, 0);
    int err = grow_round_robin(x->m, MM_MAX_MEMORIES, 1, n, &done);
    end(x, 0, done);
    if (err) {
        api_fail(x, err, "round-robin grow", done);
        return;
    }
    model_round_robin(x, MM_MAX_MEMORIES, 1, n);
}

#define FREE_REGROW_MEMORIES 8u

/* Writes one byte at the start of every page of memories 0..nmem-1 (so a
 * reused bucket that was not zeroed shows), or checks they read zero. */
static bool mark_pages(wl_run *x, unsigned nmem, bool check_zero) {
    for (unsigned id = 0; id < nmem; id++) {
        for (uint64_t pg = 0; pg < x->size[id]; pg++) {
            uint8_t b = 0xa5;
            int err = check_zero ? mm_read(x->m, id, pg * PAGE, &b, 1)
                                 : mm_write(x->m, id, pg * PAGE, &b, 1);
            if (err) return api_fail(x, err, check_zero ? "reading a page" : "marking a page", pg);
            if (check_zero && b != 0)
                return fail(x, "page %llu of memory %u reads %u after its bucket was freed and "
                            "reused; a reused bucket must read as zero",
                            (unsigned long long)pg, id, b);
        }
    }
    return true;
}

static void body_free_regrow(wl_run *x) {
    uint64_t n = x->p->n, done;
    mm *m = x->m;
    begin(x, 0);
    int err = grow_round_robin(m, FREE_REGROW_MEMORIES, 1, n, &done);
    end(x, 0, done);
    if (err) {
        api_fail(x, err, "grow", done);
        return;
    }
    model_round_robin(x, FREE_REGROW_MEMORIES, 1, n);
    if (!mark_pages(x, FREE_REGROW_MEMORIES, false)) return;
    uint64_t pages = mm_memory_size(x->mem);

    unsigned id;
    begin(x, 1);
    for (id = 0; id < FREE_REGROW_MEMORIES; id++) {
        err = mm_free(m, id);
        if (wl_unlikely(err)) break;
    }
    end(x, 1, n);
    if (err) {
        api_fail(x, err, "free", id);
        return;
    }
    memset(x->size, 0, sizeof x->size);

    begin(x, 2);
    err = grow_round_robin(m, FREE_REGROW_MEMORIES, 1, n, &done);
    end(x, 2, done);
    if (err) {
        api_fail(x, err, "regrow", done);
        return;
    }
    model_round_robin(x, FREE_REGROW_MEMORIES, 1, n);
    if (!expect_no_growth(x, pages, "regrow", n)) return;
    mark_pages(x, FREE_REGROW_MEMORIES, true);
}

/* One migration: dst grows bucket by bucket, each step copying the first 64
 * bytes of the matching bucket of src. */
static int migrate_once(mm *m, unsigned src, unsigned dst, uint64_t n, uint64_t bucket_bytes,
                        uint64_t *done) {
    uint8_t buf[64];
    uint64_t k;
    int err = MM_OK;
    for (k = 0; k < n; k++) {
        err = mm_grow(m, dst, 1, NULL);
        if (wl_unlikely(err)) break;
        err = mm_read(m, src, k * bucket_bytes, buf, sizeof buf);
        if (wl_unlikely(err)) break;
        err = mm_write(m, dst, k * bucket_bytes, buf, sizeof buf);
        if (wl_unlikely(err)) break;
    }
    *done = k;
    return err;
}

static void body_migrate(wl_run *x) {
    uint64_t n = x->p->n, done, bucket_bytes = x->w->bucket_pages * PAGE;
    mm *m = x->m;
    API(x, mm_grow(m, 0, n, NULL), "growing memory 0 before the migration");
    x->size[0] = n;
    x->taken = n;
    if (!write_patterns(x, 0, n)) return;

    begin(x, 0);
    int err = migrate_once(m, 0, 1, n, bucket_bytes, &done);
    end(x, 0, done);
    if (err) {
        api_fail(x, err, "build", done);
        return;
    }
    x->size[1] = n;
    x->taken += n;
    if (!expect_bytes(x, 1, 0, n, false, "after build")) return;
    uint64_t pages = mm_memory_size(x->mem);

    begin(x, 1);
    err = mm_free(m, 0);
    end(x, 1, n);
    if (err) {
        api_fail(x, err, "free of memory 0", 0);
        return;
    }
    x->size[0] = 0;

    begin(x, 2);
    err = grow_one_by_one(m, 1, n, &done);
    end(x, 2, done);
    if (err) {
        api_fail(x, err, "grow of memory 1", done);
        return;
    }
    x->size[1] = 2 * n;
    x->taken += n;
    if (!expect_no_growth(x, pages, "grow after the free", n)) return;
    if (!expect_bytes(x, 1, 0, n, false, "after grow")) return;
    expect_bytes(x, 1, n, n, true, "after grow");
}

#define MIGRATE_REPEATS 8u

static void body_migrate_repeat(wl_run *x) {
    uint64_t n = x->p->n, done = 0, bucket_bytes = x->w->bucket_pages * PAGE;
    mm *m = x->m;
    API(x, mm_grow(m, 0, n, NULL), "growing memory 0 before the migrations");
    x->size[0] = n;
    x->taken = n;
    if (!write_patterns(x, 0, n)) return;

    unsigned src = 0, rep;
    int err = MM_OK;
    begin(x, 0);
    for (rep = 0; rep < MIGRATE_REPEATS; rep++) {
        err = migrate_once(m, src, src ^ 1, n, bucket_bytes, &done);
        if (wl_unlikely(err)) break;
        err = mm_free(m, src);
        if (wl_unlikely(err)) break;
        src ^= 1;
    }
    end(x, 0, rep * n + done);
    if (err) {
        api_fail(x, err, "migration", rep);
        return;
    }
    x->size[0] = src == 0 ? n : 0;
    x->size[1] = src == 1 ? n : 0;
    x->taken += MIGRATE_REPEATS * n;
    mm_stats st = stats(x);
    if (reuses_all(x) && data_buckets(&st) - x->carved_at_open != 2 * n) {
        fail(x, "%llu data buckets are carved after %u migrations of %llu buckets; a design "
             "that reuses every free bucket needs exactly %llu",
             (unsigned long long)(data_buckets(&st) - x->carved_at_open), MIGRATE_REPEATS,
             (unsigned long long)n, (unsigned long long)(2 * n));
        return;
    }
    expect_bytes(x, src, 0, n, false, "after the migrations");
}

#define CHURN_MEMORIES 16u
#define CHURN_MAX_GROW 8u

/* An op of churn: a grow of `pages` pages, or a free when pages is 0. */
typedef struct churn_op {
    uint8_t id, pages;
} churn_op;

static void body_churn(wl_run *x) {
    uint64_t n = x->p->n;
    /* The policy depends only on the model, so the op sequence is drawn
     * before the phase and the phase only replays it. Every grow allocates
     * at least one bucket and every free follows a grow: at most 2N ops. */
    churn_op *ops = malloc(2 * n * sizeof *ops);
    if (!ops) {
        fail(x, "cannot allocate %llu churn ops", (unsigned long long)(2 * n));
        return;
    }
    mm_rng rng = mm_rng_seed(x->p->seed);
    uint64_t allocated = 0, in_use = 0, peak = 0, nops = 0;
    while (allocated < n) {
        unsigned id = (unsigned)mm_rng_below(&rng, CHURN_MEMORIES);
        uint64_t pages = 1 + mm_rng_below(&rng, CHURN_MAX_GROW);
        if (x->size[id] && 2 * in_use >= allocated) {
            in_use -= x->size[id];
            x->size[id] = 0;
            ops[nops++] = (churn_op){(uint8_t)id, 0};
            continue;
        }
        if (pages > n - allocated) pages = n - allocated;
        x->size[id] += pages;
        in_use += pages;
        allocated += pages;
        if (in_use > peak) peak = in_use;
        ops[nops++] = (churn_op){(uint8_t)id, (uint8_t)pages};
    }
    x->taken = allocated;

    mm *m = x->m;
    uint64_t i;
    int err = MM_OK;
    begin(x, 0);
    for (i = 0; i < nops; i++) {
        err = ops[i].pages ? mm_grow(m, ops[i].id, ops[i].pages, NULL) : mm_free(m, ops[i].id);
        if (wl_unlikely(err)) break;
    }
    end(x, 0, i);
    if (err) api_fail(x, err, ops[i].pages ? "churn grow" : "churn free", i);
    free(ops);
    if (err) return;
    mm_stats st = stats(x);
    if (reuses_all(x) && data_buckets(&st) - x->carved_at_open > peak)
        fail(x, "%llu data buckets are carved though at most %llu were ever in use at once",
             (unsigned long long)(data_buckets(&st) - x->carved_at_open),
             (unsigned long long)peak);
}

static void body_worst_scan(wl_run *x) {
    uint64_t n = x->p->n, i;
    mm *m = x->m;
    API(x, mm_grow(m, 0, n - 1, NULL), "growing memory 0");
    API(x, mm_grow(m, 1, 1, NULL), "growing memory 1");
    uint64_t pages = mm_memory_size(x->mem);
    int err = MM_OK;
    bool freeing = false;
    begin(x, 0);
    for (i = 0; i < n; i++) {
        pause_phase(x, 0);
        err = mm_free(m, 1);
        resume_phase(x, 0);
        if (wl_unlikely(err)) {
            freeing = true;
            break;
        }
        err = mm_grow(m, 1, 1, NULL);
        if (wl_unlikely(err)) break;
    }
    end(x, 0, i);
    if (err) {
        api_fail(x, err, freeing ? "free of memory 1" : "grow of memory 1", i);
        return;
    }
    x->size[0] = n - 1;
    x->size[1] = 1;
    x->taken = 2 * n;
    expect_no_growth(x, pages, "the grows", 1);
}

/* ---- reads and writes: the managed workloads and their raw floor ------- */

#define RW_SMALL_BUCKETS 4u
#define RW_SMALL_LEN 8u

/* The operands of rw_small, drawn before the phase. */
typedef struct small_plan {
    uint64_t n, span;
    uint64_t *woff, *val, *roff;
} small_plan;

static bool small_plan_make(wl_run *x, small_plan *pl, uint64_t span) {
    pl->n = x->p->n;
    pl->span = span;
    pl->woff = malloc(pl->n * sizeof *pl->woff);
    pl->val = malloc(pl->n * sizeof *pl->val);
    pl->roff = malloc(pl->n * sizeof *pl->roff);
    if (!pl->woff || !pl->val || !pl->roff)
        return fail(x, "cannot allocate %llu rw_small operands", (unsigned long long)pl->n);
    mm_rng rng = mm_rng_seed(x->p->seed);
    for (uint64_t i = 0; i < pl->n; i++) {
        pl->woff[i] = mm_rng_below(&rng, span - RW_SMALL_LEN + 1);
        pl->val[i] = mm_rng_next(&rng);
    }
    for (uint64_t i = 0; i < pl->n; i++) pl->roff[i] = mm_rng_below(&rng, span - RW_SMALL_LEN + 1);
    return true;
}

static void small_plan_free(small_plan *pl) {
    free(pl->woff);
    free(pl->val);
    free(pl->roff);
}

/* What the reads of rw_small must fold to: the writes replayed on a copy. */
static uint64_t small_expected(const small_plan *pl, uint8_t *shadow) {
    memset(shadow, 0, pl->span);
    for (uint64_t i = 0; i < pl->n; i++) memcpy(shadow + pl->woff[i], &pl->val[i], RW_SMALL_LEN);
    uint64_t acc = 0, v;
    for (uint64_t i = 0; i < pl->n; i++) {
        memcpy(&v, shadow + pl->roff[i], RW_SMALL_LEN);
        acc ^= v + i;
    }
    return acc;
}

/* The measured phase of rw_small, over the manager or over the bare linear
 * memory: WRITE and READ are the calls, TARGET their first arguments.
 * Checked after the phase against the writes replayed on a shadow copy. */
#define SMALL_PHASE(x, phase, WRITE, READ, TARGET, pl, shadow)                     \
    do {                                                                           \
        uint64_t i_, v_, acc_ = 0, done_;                                          \
        int err_ = MM_OK;                                                          \
        begin(x, phase);                                                           \
        for (i_ = 0; i_ < (pl)->n; i_++) {                                         \
            err_ = WRITE(TARGET, (pl)->woff[i_], &(pl)->val[i_], RW_SMALL_LEN);    \
            if (wl_unlikely(err_)) break;                                          \
        }                                                                          \
        done_ = i_;                                                                \
        for (i_ = 0; !err_ && i_ < (pl)->n; i_++) {                                \
            err_ = READ(TARGET, (pl)->roff[i_], &v_, RW_SMALL_LEN);                \
            if (wl_unlikely(err_)) break;                                          \
            acc_ ^= v_ + i_;                                                       \
        }                                                                          \
        done_ += i_;                                                               \
        end(x, phase, done_);                                                      \
        if (err_)                                                                  \
            api_fail(x, err_, "8-byte access", done_);                             \
        else if (acc_ != small_expected(pl, shadow))                               \
            fail(x, "the values read back do not match the values written");       \
    } while (0)

#define RW_LARGE_MEMORIES 5u
#define RW_LARGE_SLOTS 16u /* MiB per memory */

/* Spans of rw_large at N: bounded work per run (workloads.h). */
static uint64_t large_spans(uint64_t n) {
    return n / 1024 ? n / 1024 : 1;
}

/* The slots the spans touch: the period of the round robin at most. */
static uint64_t large_slots_used(uint64_t spans) {
    uint64_t period = RW_LARGE_MEMORIES * RW_LARGE_SLOTS;
    return spans < period ? spans : period;
}

/* Memory and offset of span k. */
static inline unsigned large_memory(uint64_t k) {
    return (unsigned)(k % RW_LARGE_MEMORIES);
}
static inline uint64_t large_offset(uint64_t k) {
    return (k / RW_LARGE_MEMORIES % RW_LARGE_SLOTS) * MIB;
}

/* The stamp the reads of rw_large must fold to: span k reads the slot that
 * the last span with the same memory and offset wrote. */
static uint64_t large_expected(uint64_t spans) {
    uint64_t period = RW_LARGE_MEMORIES * RW_LARGE_SLOTS, acc = 0;
    for (uint64_t k = 0; k < spans; k++) acc ^= k + period * ((spans - 1 - k) / period);
    return acc;
}

typedef struct large_bufs {
    uint8_t *src, *dst;
} large_bufs;

static bool large_bufs_make(wl_run *x, large_bufs *b) {
    /* Aligned like any large buffer, so that memcpy takes the same path in
     * every run and instruction counts repeat. */
    b->src = aligned_alloc(4096, MIB);
    b->dst = aligned_alloc(4096, MIB);
    if (!b->src || !b->dst) return fail(x, "cannot allocate two 1 MiB buffers");
    mm_rng rng = mm_rng_seed(x->p->seed);
    for (size_t i = 0; i < MIB; i += 8) {
        uint64_t v = mm_rng_next(&rng);
        memcpy(b->src + i, &v, 8);
    }
    memset(b->dst, 0, MIB);
    return true;
}

/* After the reads, dst holds the last span read: the source bytes after
 * the 8-byte stamp. */
static bool large_check(wl_run *x, const large_bufs *b, uint64_t acc, uint64_t spans) {
    if (acc != large_expected(spans))
        return fail(x, "rw_large: the stamps read back do not match the spans written");
    if (memcmp(b->src + 8, b->dst + 8, MIB - 8) != 0)
        return fail(x, "rw_large: the last span read back differs from the bytes written");
    return true;
}

static void large_bufs_free(large_bufs *b) {
    free(b->src);
    free(b->dst);
}

/* The measured phase of rw_large, over the manager or over the bare linear
 * memory. Each span is stamped with its number (8 bytes) so that the reads
 * prove where they read; checked after the phase. */
#define LARGE_PHASE(x, phase, WRITE, READ, TARGET_OF, OFFSET_OF, b, spans)         \
    do {                                                                           \
        uint64_t k_, v_, acc_ = 0, done_;                                          \
        int err_ = MM_OK;                                                          \
        begin(x, phase);                                                           \
        for (k_ = 0; k_ < (spans); k_++) {                                         \
            memcpy((b)->src, &k_, 8);                                              \
            err_ = WRITE(TARGET_OF(k_), OFFSET_OF(k_), (b)->src, MIB);             \
            if (wl_unlikely(err_)) break;                                          \
        }                                                                          \
        done_ = k_;                                                                \
        for (k_ = 0; !err_ && k_ < (spans); k_++) {                                \
            err_ = READ(TARGET_OF(k_), OFFSET_OF(k_), (b)->dst, MIB);              \
            if (wl_unlikely(err_)) break;                                          \
            memcpy(&v_, (b)->dst, 8);                                              \
            acc_ ^= v_;                                                            \
        }                                                                          \
        done_ += k_;                                                               \
        end(x, phase, done_);                                                      \
        if (err_)                                                                  \
            api_fail(x, err_, "1 MiB access", done_);                              \
        else                                                                       \
            large_check(x, b, acc_, spans);                                        \
    } while (0)

static void body_rw_small(wl_run *x) {
    mm *m = x->m;
    uint64_t span = RW_SMALL_BUCKETS * x->w->bucket_pages * PAGE;
    API(x, mm_grow(m, 0, RW_SMALL_BUCKETS * x->w->bucket_pages, NULL), "growing memory 0");
    x->size[0] = RW_SMALL_BUCKETS * x->w->bucket_pages;
    x->taken = RW_SMALL_BUCKETS;
    small_plan pl = {0};
    uint8_t *shadow = malloc(span);
    if (!shadow) fail(x, "cannot allocate a %llu-byte shadow", (unsigned long long)span);
    if (!failed(x) && small_plan_make(x, &pl, span)) {
        /* Touch every page first, as raw does: the phase then measures
         * accesses, not the kernel's first-touch faults. */
        memset(shadow, 0, span);
        int err = mm_write(m, 0, 0, shadow, span);
        if (err) api_fail(x, err, "committing memory 0", 0);
    }
    if (!failed(x)) {
#define MEMORY0 m, 0
        SMALL_PHASE(x, 0, mm_write, mm_read, MEMORY0, &pl, shadow);
#undef MEMORY0
    }
    small_plan_free(&pl);
    free(shadow);
}

#define LARGE_MEMORY(k) m, large_memory(k)
#define RAW_MEMORY(k) mem
#define RAW_LARGE_OFFSET(k) (large_base + large_memory(k) * RW_LARGE_SLOTS * MIB + large_offset(k))

static void body_rw_large(wl_run *x) {
    mm *m = x->m;
    uint64_t spans = large_spans(x->p->n);
    uint32_t bp = x->w->bucket_pages;
    uint64_t buckets = RW_LARGE_SLOTS * MIB / (bp * PAGE);
    /* Bucket by bucket, round-robin: the memories interleave in the linear
     * memory, as upstream's do. */
    for (uint64_t b = 0; b < buckets; b++)
        for (unsigned id = 0; id < RW_LARGE_MEMORIES; id++)
            API(x, mm_grow(m, id, bp, NULL), "growing the five memories");
    for (unsigned id = 0; id < RW_LARGE_MEMORIES; id++) x->size[id] = buckets * bp;
    x->taken = buckets * RW_LARGE_MEMORIES;
    large_bufs b = {0};
    if (large_bufs_make(x, &b)) {
        /* Commit the slots the phase uses before it: page faults are not
         * the manager's cost. */
        for (uint64_t k = 0; k < large_slots_used(spans) && !failed(x); k++) {
            int err = mm_write(m, large_memory(k), large_offset(k), b.dst, MIB);
            if (err) api_fail(x, err, "committing the memories", k);
        }
    }
    if (!failed(x)) LARGE_PHASE(x, 0, mm_write, mm_read, LARGE_MEMORY, large_offset, &b, spans);
    large_bufs_free(&b);
}

/* The allocator as a new process has it, where an open runs (a canister's
 * post_upgrade): glibc keeps small freed chunks unmerged until a large
 * request, and the open's first one would otherwise merge the 255 tables
 * the close before it just freed, a cost of that close. */
static void settle_allocator(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void body_reopen(wl_run *x) {
    uint64_t n = x->p->n, done;
    int err = grow_round_robin(x->m, MM_MAX_MEMORIES, 1, n, &done);
    if (err) {
        api_fail(x, err, "round-robin grow", done);
        return;
    }
    model_round_robin(x, MM_MAX_MEMORIES, 1, n);
    mm_stats st = stats(x);
    x->hbytes_closed = st.header_bytes_written;
    mm_close(x->m);
    x->m = NULL;
    settle_allocator();
    begin(x, 0);
    err = mm_open(x->mem, x->design->name, 0, 0, &x->m);
    end(x, 0, 1);
    if (err) {
        x->m = NULL;
        api_fail(x, err, "reopening", 0);
    }
}

static void body_raw(wl_run *x) {
    mm_memory *mem = x->mem;
    uint64_t small_span = RW_SMALL_BUCKETS * PAGE;
    uint64_t large_base = small_span, spans = large_spans(x->p->n);
    uint64_t pages = (small_span + RW_LARGE_MEMORIES * RW_LARGE_SLOTS * MIB) / PAGE;
    API(x, mm_memory_grow(mem, pages, NULL), "growing the linear memory");
    small_plan pl = {0};
    large_bufs b = {0};
    uint8_t *shadow = malloc(small_span);
    if (!shadow) fail(x, "cannot allocate a %llu-byte shadow", (unsigned long long)small_span);
    if (!failed(x) && small_plan_make(x, &pl, small_span) && large_bufs_make(x, &b)) {
        int err = mm_memory_write(mem, 0, b.dst, small_span);
        if (err) api_fail(x, err, "committing the linear memory", 0);
        for (uint64_t k = 0; k < large_slots_used(spans) && !failed(x); k++) {
            err = mm_memory_write(mem, RAW_LARGE_OFFSET(k), b.dst, MIB);
            if (err) api_fail(x, err, "committing the linear memory", k);
        }
    }
    if (!failed(x)) SMALL_PHASE(x, 0, mm_memory_write, mm_memory_read, mem, &pl, shadow);
    if (!failed(x))
        LARGE_PHASE(x, 1, mm_memory_write, mm_memory_read, RAW_MEMORY, RAW_LARGE_OFFSET, &b,
                    spans);
    small_plan_free(&pl);
    large_bufs_free(&b);
    free(shadow);
}

/* ------------------------------------------------------------------------
 * The table
 * ---------------------------------------------------------------------- */

/* RAM a run commits: one OS page per bucket it writes, and the buffers. */
#define OS_PAGE 4096u
static uint64_t resident_header(uint64_t n) {
    return 16 * (uint64_t)OS_PAGE + 8 * n;
}
static uint64_t resident_n(uint64_t n) {
    return resident_header(n) + n * OS_PAGE;
}
static uint64_t resident_2n(uint64_t n) {
    return resident_header(n) + 2 * n * OS_PAGE;
}
static uint64_t resident_rw_small(uint64_t n) {
    return resident_header(n) + 2 * RW_SMALL_BUCKETS * PAGE + 24 * n;
}
static uint64_t resident_rw_large(uint64_t n) {
    return resident_header(n) + (large_slots_used(large_spans(n)) + 2) * (uint64_t)MIB;
}
static uint64_t resident_raw(uint64_t n) {
    return resident_rw_small(n) + resident_rw_large(n);
}

/* Bucket counts as multiples of N (or of N / 128 for grow_one) plus a
 * constant: peak = the most in use at once, taken = all the grows take. */
#define N_TIMES(k) {k, 1, 0}
#define FIXED(c) {0, 1, c}
#define RW_LARGE_BUCKETS (RW_LARGE_MEMORIES * RW_LARGE_SLOTS * MIB / (MM_DEFAULT_BUCKET_PAGES * PAGE))

static const mm_workload workloads[] = {
    {.name = "grow_pages", .phases = {"grow"}, .nphases = 1, .bucket_pages = 1,
     .summary = "N one-page grows of memory 0, bucket size 1 page (upstream's canbench)",
     .peak = N_TIMES(1), .taken = N_TIMES(1), .resident_bytes = resident_header,
     .body = body_grow_memory0},
    {.name = "grow_one", .phases = {"grow"}, .nphases = 1,
     .bucket_pages = MM_DEFAULT_BUCKET_PAGES,
     .summary = "N one-page grows of memory 0, 128-page buckets",
     .peak = {1, MM_DEFAULT_BUCKET_PAGES, 0}, .taken = {1, MM_DEFAULT_BUCKET_PAGES, 0},
     .resident_bytes = resident_header, .body = body_grow_memory0},
    {.name = "grow_spread", .phases = {"grow"}, .nphases = 1, .bucket_pages = 1,
     .summary = "N one-page grows round-robin over all 255 memories",
     .peak = N_TIMES(1), .taken = N_TIMES(1), .resident_bytes = resident_header,
     .body = body_grow_spread},
    {.name = "free_regrow", .phases = {"grow", "free", "regrow"}, .nphases = 3,
     .bucket_pages = 1, .needs_free = true,
     .summary = "N buckets over 8 memories, all freed, then N grows again",
     .peak = N_TIMES(1), .taken = N_TIMES(2), .resident_bytes = resident_n,
     .body = body_free_regrow},
    {.name = "migrate", .phases = {"build", "free", "grow"}, .nphases = 3, .bucket_pages = 1,
     .needs_free = true,
     .summary = "N buckets copied one by one into a new memory, the old one freed, N more grown",
     .peak = N_TIMES(2), .taken = N_TIMES(3), .resident_bytes = resident_2n,
     .body = body_migrate},
    {.name = "migrate_repeat", .phases = {"migrate"}, .nphases = 1, .bucket_pages = 1,
     .needs_free = true, .summary = "the migration of N buckets, 8 times back and forth",
     .peak = N_TIMES(2), .taken = N_TIMES(1 + MIGRATE_REPEATS),
     .resident_bytes = resident_2n, .body = body_migrate_repeat},
    {.name = "churn", .phases = {"ops"}, .nphases = 1, .bucket_pages = 1, .needs_free = true,
     .summary = "seeded grows and frees over 16 memories until N buckets were allocated",
     .peak = N_TIMES(1), .taken = N_TIMES(1), .resident_bytes = resident_header,
     .body = body_churn},
    {.name = "worst_scan", .phases = {"grow"}, .nphases = 1, .bucket_pages = 1,
     .needs_free = true,
     .summary = "N grows that each must find the one free bucket, the highest",
     .peak = N_TIMES(1), .taken = N_TIMES(2), .resident_bytes = resident_header,
     .body = body_worst_scan},
    {.name = "rw_small", .phases = {"rw"}, .nphases = 1, .bucket_pages = 1,
     .summary = "N 8-byte writes then N reads at random offsets of a 4-bucket memory",
     .peak = FIXED(RW_SMALL_BUCKETS), .taken = FIXED(RW_SMALL_BUCKETS),
     .resident_bytes = resident_rw_small, .body = body_rw_small},
    {.name = "rw_large", .phases = {"rw"}, .nphases = 1,
     .bucket_pages = MM_DEFAULT_BUCKET_PAGES,
     .summary = "N/1024 one-MiB spans written then read over five 16 MiB memories",
     .peak = FIXED(RW_LARGE_BUCKETS), .taken = FIXED(RW_LARGE_BUCKETS),
     .resident_bytes = resident_rw_large, .body = body_rw_large},
    {.name = "reopen", .phases = {"load"}, .nphases = 1, .bucket_pages = 1,
     .summary = "N buckets over 255 memories, then the manager opened again",
     .peak = N_TIMES(1), .taken = N_TIMES(1), .resident_bytes = resident_header,
     .body = body_reopen},
    {.name = "raw", .phases = {"small", "large"}, .nphases = 2, .bucket_pages = 1, .raw = true,
     .summary = "rw_small's and rw_large's accesses on a bare linear memory (design none)",
     .peak = FIXED(0), .taken = FIXED(0), .resident_bytes = resident_raw, .body = body_raw},
};

#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

size_t mm_workload_count(void) {
    return NWORKLOADS;
}

const mm_workload *mm_workload_get(size_t index) {
    return index < NWORKLOADS ? &workloads[index] : NULL;
}

const mm_workload *mm_workload_find(const char *name) {
    for (size_t i = 0; name && i < NWORKLOADS; i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

int mm_workload_phase(const mm_workload *w, const char *phase) {
    for (unsigned i = 0; phase && i < w->nphases; i++)
        if (strcmp(w->phases[i], phase) == 0) return (int)i;
    return -1;
}

const char *mm_workload_grouped(char buf[32], unsigned long long v) {
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", v), o = 0;
    for (int k = 0; k < n; k++) {
        if (k && (n - k) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[k];
    }
    buf[o] = 0;
    return buf;
}

static bool not_applicable(char *why, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static bool not_applicable(char *why, size_t len, const char *fmt, ...) {
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return false;
}

uint64_t mm_workload_buckets(const mm_wl_buckets *b, uint64_t n) {
    return b->per * (n / b->div + (n % b->div != 0)) + b->fixed;
}

uint64_t mm_workload_linear_pages(const mm_workload *w, const char *design, uint64_t n) {
    const mm_design_info *d = design ? mm_design_find(design) : NULL;
    if (w->raw || !d) return w->resident_bytes(n) / PAGE + 1;
    const mm_wl_buckets *b = (d->flags & MM_DESIGN_REUSES_ALL) ? &w->peak : &w->taken;
    return mm_workload_buckets(b, n) * w->bucket_pages + 1;
}

bool mm_workload_applicable(const mm_workload *w, const char *design, uint64_t n, char *why,
                            size_t why_len) {
    bool none = design && strcmp(design, MM_WL_NO_DESIGN) == 0;
    if (w->raw != none)
        return not_applicable(why, why_len, w->raw ? "%s runs on a bare linear memory (design "
                              "%s), not on %s" : "%s needs a design, not %s", w->name,
                              w->raw ? MM_WL_NO_DESIGN : design, design);
    if (none) return true;
    const mm_design_info *d = mm_design_find(design);
    if (!d) return not_applicable(why, why_len, "no design is named '%s'", design);
    if (w->needs_free && !(d->flags & MM_DESIGN_CAN_FREE))
        return not_applicable(why, why_len, "%s cannot free", d->name);
    uint64_t need = mm_workload_buckets(&w->peak, n);
    if (need > d->max_buckets)
    {
        char a[32], b[32], c[32];
        return not_applicable(why, why_len, "%s at N = %s needs %s buckets; %s addresses at "
                              "most %s", w->name, mm_workload_grouped(a, n),
                              mm_workload_grouped(b, need), d->name,
                              mm_workload_grouped(c, d->max_buckets));
    }
    return true;
}

/* A design that does not promise to reuse every freed bucket may carve
 * more than the peak in use, up to what the grows take; when that passes
 * its max_buckets and it runs out, the workload is n/a for it, not broken.
 * (One that promises reuse and runs out fails: its promise is the bug.) */
static void out_of_buckets(wl_run *x) {
    uint64_t taken = mm_workload_buckets(&x->w->taken, x->p->n);
    if (x->last_err != MM_EFULL || !x->design || reuses_all(x) ||
        taken <= x->design->max_buckets)
        return;
    char msg[2 * sizeof x->r->reason], a[32], b[32], c[32];
    size_t len = (size_t)snprintf(
        msg, sizeof msg, "%s ran out of buckets: it does not reuse every freed bucket, and %s at "
        "N = %s grows %s buckets in all, over its %s (%s)", x->design->name, x->w->name,
        mm_workload_grouped(a, x->p->n), mm_workload_grouped(b, taken),
        mm_workload_grouped(c, x->design->max_buckets), x->r->reason);
    if (len >= sizeof x->r->reason) len = sizeof x->r->reason - 1;
    memcpy(x->r->reason, msg, len);
    x->r->reason[len] = 0;
    x->r->status = MM_WL_NA;
}

mm_wl_status mm_workload_run(const mm_workload *w, const mm_wl_params *params,
                             const mm_wl_hooks *hooks, mm_wl_result *out) {
    memset(out, 0, sizeof *out);
    wl_run *x = calloc(1, sizeof *x);
    if (!x) {
        out->status = MM_WL_FAILED;
        snprintf(out->reason, sizeof out->reason, "cannot allocate the run's state");
        return out->status;
    }
    *x = (wl_run){.w = w, .p = params, .h = hooks ? hooks : &no_hooks, .r = out};
    if (params->n < 1 || params->n > MM_WL_MAX_N) {
        fail(x, "N = %llu is outside 1..%llu", (unsigned long long)params->n, MM_WL_MAX_N);
    } else if (!mm_workload_applicable(w, params->design, params->n, out->reason,
                                       sizeof out->reason)) {
        out->status = MM_WL_NA;
    } else {
        int err = mm_memory_ram(0, &x->ram);
        x->mem = x->ram;
        if (!err && params->count_dirty) err = mm_memory_dirty_counter(x->ram, &x->mem);
        if (err) {
            api_fail(x, err, "creating a RAM linear memory", 0);
        } else if (!w->raw) {
            x->design = mm_design_find(params->design);
            err = mm_open(x->mem, params->design, w->bucket_pages, 0, &x->m);
            if (err) {
                x->m = NULL;
                api_fail(x, err, "opening the manager", 0);
            } else {
                mm_stats st = stats(x);
                x->carved_at_open = data_buckets(&st);
            }
        }
        if (!failed(x)) w->body(x);
        if (!failed(x)) finish(x);
        if (failed(x)) out_of_buckets(x);
    }
    mm_close(x->m);
    if (x->mem != x->ram) mm_memory_close(x->mem);
    mm_memory_close(x->ram);
    free(x);
    return out->status;
}
