/*
 * The standardized workloads (bench/workloads.c) at small N, for every
 * registered design: they run, they are deterministic, their hooks bracket
 * the phases, designs that cannot run them get n/a with the reason, and
 * their self-checks fail when the manager misbehaves. The misbehaviour is
 * real: buckets stolen behind the workload's back, bytes overwritten, and a
 * registered design that does not reuse every freed bucket checked as if it
 * promised to.
 */
#include "test_util.h"
#include "workloads.h"

#include <string.h>

#define SMALL_N 64u

static mm_wl_params params(const char *design, uint64_t n) {
    return (mm_wl_params){.design = design, .n = n, .seed = 7};
}

static bool record_eq(const mm_wl_result *a, const mm_wl_result *b) {
    return memcmp(&a->record, &b->record, sizeof a->record) == 0 &&
           memcmp(a->phase_ops, b->phase_ops, sizeof a->phase_ops) == 0;
}

/* Runs w and asserts it succeeded, with the workload's reason if not. */
static void run_ok(const mm_workload *w, const mm_wl_params *p, const mm_wl_hooks *h,
                   mm_wl_result *r) {
    mm_wl_status st = mm_workload_run(w, p, h, r);
    cr_assert_eq(st, MM_WL_OK, "[%s] %s at N = %llu: status %d: %s", p->design, w->name,
                 (unsigned long long)p->n, st, r->reason);
}

DESIGN_TEST(workloads, every_workload_runs_or_is_na, 0) {
    const char *design = THIS_DESIGN->name;
    for (size_t i = 0; i < mm_workload_count(); i++) {
        const mm_workload *w = mm_workload_get(i);
        mm_wl_params p = params(design, SMALL_N);
        mm_wl_result r, again;
        char why[320];
        if (!mm_workload_applicable(w, design, SMALL_N, why, sizeof why)) {
            cr_assert_eq(mm_workload_run(w, &p, NULL, &r), MM_WL_NA, "[%s] %s", design, w->name);
            cr_assert_str_eq(r.reason, why);
            continue;
        }
        run_ok(w, &p, NULL, &r);
        uint64_t sum = 0;
        for (unsigned ph = 0; ph < w->nphases; ph++) {
            cr_assert_gt(r.phase_ops[ph], 0, "[%s] %s.%s did nothing", design, w->name,
                         w->phases[ph]);
            sum += r.phase_ops[ph];
        }
        cr_assert_eq(r.record.ops, sum, "[%s] %s: ops is not the sum of the phases", design,
                     w->name);
        cr_assert_gt(r.record.buckets_new + r.record.buckets_reused, 0, "[%s] %s", design,
                     w->name);
        cr_assert_geq(r.record.pages_end, r.record.buckets_new * w->bucket_pages,
                      "[%s] %s", design, w->name);
        run_ok(w, &p, NULL, &again);
        cr_assert(record_eq(&r, &again), "[%s] %s: two runs with one seed differ", design,
                  w->name);
    }
}

/* A run that counts dirty pages reports what one that does not reports,
 * record and per-phase figures alike, and dirty pages besides. */
static void expect_same_but_dirty(const mm_workload *w, const char *design) {
    mm_wl_params p = params(design, SMALL_N), pc = p;
    pc.count_dirty = true;
    mm_wl_result r, rc;
    run_ok(w, &p, NULL, &r);
    run_ok(w, &pc, NULL, &rc);
    cr_assert(record_eq(&r, &rc), "[%s] %s: counting dirty pages changed the record", design,
              w->name);
    for (unsigned ph = 0; ph < w->nphases; ph++) {
        const mm_wl_space *a = &r.phase_space[ph], *b = &rc.phase_space[ph];
        /* Not heap_bytes: the heap depends on the backing (link15 mirrors
         * page 0 where its bytes are behind calls, as behind the counter). */
        cr_assert(a->pages_end == b->pages_end &&
                      a->header_bytes_written == b->header_bytes_written,
                  "[%s] %s.%s: counting dirty pages changed a space figure", design, w->name,
                  w->phases[ph]);
        cr_assert_eq(a->dirty_pages, 0, "[%s] %s.%s: dirty pages counted though not asked",
                     design, w->name, w->phases[ph]);
        if (b->header_bytes_written)
            cr_assert_gt(b->dirty_pages, 0, "[%s] %s.%s wrote its header and dirtied nothing",
                         design, w->name, w->phases[ph]);
        cr_assert_leq(b->dirty_pages, b->pages_end * (MM_PAGE_SIZE / MM_DIRTY_PAGE_SIZE),
                      "[%s] %s.%s", design, w->name, w->phases[ph]);
    }
}

DESIGN_TEST(workloads, counting_dirty_pages_changes_no_other_figure, 0) {
    for (size_t i = 0; i < mm_workload_count(); i++) {
        const mm_workload *w = mm_workload_get(i);
        if (mm_workload_applicable(w, THIS_DESIGN->name, SMALL_N, NULL, 0))
            expect_same_but_dirty(w, THIS_DESIGN->name);
    }
}

Test(workloads, space_figures_per_phase) {
    expect_same_but_dirty(mm_workload_find("raw"), MM_WL_NO_DESIGN);
    /* v1 writes 11 bytes per new bucket, all of them in page 0: one dirty
     * page; the run's header writes are all the phase's. */
    mm_wl_params p = params("v1", SMALL_N);
    p.count_dirty = true;
    mm_wl_result r;
    run_ok(mm_workload_find("grow_pages"), &p, NULL, &r);
    cr_assert_eq(r.phase_space[0].header_bytes_written, 11 * SMALL_N);
    cr_assert_eq(r.phase_space[0].header_bytes_written, r.record.header_bytes_written);
    cr_assert_eq(r.phase_space[0].pages_end, SMALL_N + 1);
    cr_assert_eq(r.phase_space[0].dirty_pages, 1);
    cr_assert_gt(r.phase_space[0].heap_bytes, SMALL_N * sizeof(uint32_t));
    /* worst_scan's frees are paused setup: their bytes and pages are not the
     * grows'. A free discards its one-page bucket (16 dirty pages). */
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        if (!(d->flags & MM_DESIGN_CAN_FREE)) continue;
        p.design = d->name;
        run_ok(mm_workload_find("worst_scan"), &p, NULL, &r);
        cr_assert_lt(r.phase_space[0].header_bytes_written, r.record.header_bytes_written,
                     "[%s]", d->name);
        cr_assert_lt(r.phase_space[0].dirty_pages, MM_PAGE_SIZE / MM_DIRTY_PAGE_SIZE,
                     "[%s] the paused frees' discards were counted", d->name);
    }
    /* free_regrow's free discards N one-page buckets: 16 dirty pages each. */
    p.design = "list";
    run_ok(mm_workload_find("free_regrow"), &p, NULL, &r);
    cr_assert_geq(r.phase_space[1].dirty_pages, 16 * SMALL_N);
}

Test(workloads, raw_runs_on_no_design_only) {
    const mm_workload *raw = mm_workload_find("raw");
    cr_assert_not_null(raw);
    mm_wl_params p = params(MM_WL_NO_DESIGN, SMALL_N);
    mm_wl_result r;
    run_ok(raw, &p, NULL, &r);
    cr_assert_eq(r.phase_ops[0], 2 * SMALL_N, "raw.small does N writes and N reads");
    for (size_t i = 0; i < mm_design_count(); i++) {
        p.design = mm_design_get(i)->name;
        cr_assert_eq(mm_workload_run(raw, &p, NULL, &r), MM_WL_NA, "raw on %s", p.design);
    }
    p = params(MM_WL_NO_DESIGN, SMALL_N);
    cr_assert_eq(mm_workload_run(mm_workload_get(0), &p, NULL, &r), MM_WL_NA,
                 "a managed workload needs a design");
}

Test(workloads, na_says_why) {
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        mm_wl_result r;
        if (!(d->flags & MM_DESIGN_CAN_FREE)) {
            mm_wl_params p = params(d->name, SMALL_N);
            cr_assert_eq(mm_workload_run(mm_workload_find("free_regrow"), &p, NULL, &r),
                         MM_WL_NA, "%s", d->name);
            cr_assert(strstr(r.reason, "cannot free"), "%s: %s", d->name, r.reason);
        }
        if (d->max_buckets < MM_WL_MAX_N) {
            mm_wl_params p = params(d->name, d->max_buckets + 1);
            cr_assert_eq(mm_workload_run(mm_workload_find("grow_pages"), &p, NULL, &r),
                         MM_WL_NA, "%s", d->name);
            cr_assert(strstr(r.reason, "needs"), "%s: %s", d->name, r.reason);
        }
    }
}

Test(workloads, bad_n_is_an_error) {
    const mm_workload *w = mm_workload_find("grow_pages");
    mm_wl_result r;
    uint64_t bad[] = {0, MM_WL_MAX_N + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mm_wl_params p = params(mm_design_get(0)->name, bad[i]);
        cr_assert_eq(mm_workload_run(w, &p, NULL, &r), MM_WL_FAILED);
        cr_assert(strstr(r.reason, "outside"), "%s", r.reason);
    }
}

/* ------------------------------------------------------------------------
 * Hooks: what the harnesses rely on
 * ---------------------------------------------------------------------- */

typedef struct trace {
    int open_phase; /* -1: between phases */
    unsigned next_phase, pauses, resumes;
    bool paused, broken;
    uint64_t ops[MM_WL_MAX_PHASES];
} trace;

static void tr_begin(void *ctx, unsigned phase, mm *m) {
    trace *t = ctx;
    (void)m;
    t->broken |= t->open_phase != -1 || phase != t->next_phase;
    t->open_phase = (int)phase;
}
static void tr_end(void *ctx, unsigned phase, uint64_t ops) {
    trace *t = ctx;
    t->broken |= t->open_phase != (int)phase || t->paused;
    t->ops[phase] = ops;
    t->open_phase = -1;
    t->next_phase = phase + 1;
}
static void tr_pause(void *ctx, unsigned phase) {
    trace *t = ctx;
    t->broken |= t->open_phase != (int)phase || t->paused;
    t->paused = true;
    t->pauses++;
}
static void tr_resume(void *ctx, unsigned phase) {
    trace *t = ctx;
    t->broken |= t->open_phase != (int)phase || !t->paused;
    t->paused = false;
    t->resumes++;
}

DESIGN_TEST(workloads, hooks_bracket_every_phase_once, 0) {
    const char *design = THIS_DESIGN->name;
    for (size_t i = 0; i < mm_workload_count(); i++) {
        const mm_workload *w = mm_workload_get(i);
        if (!mm_workload_applicable(w, design, SMALL_N, NULL, 0)) continue;
        trace t = {.open_phase = -1};
        mm_wl_hooks h = {&t, tr_begin, tr_end, tr_pause, tr_resume};
        mm_wl_params p = params(design, SMALL_N);
        mm_wl_result r, plain;
        run_ok(w, &p, &h, &r);
        cr_assert(!t.broken && t.open_phase == -1, "[%s] %s: hooks out of order", design,
                  w->name);
        cr_assert_eq(t.next_phase, w->nphases, "[%s] %s: %u of %u phases", design, w->name,
                     t.next_phase, w->nphases);
        cr_assert_eq(t.pauses, t.resumes);
        cr_assert(memcmp(t.ops, r.phase_ops, sizeof t.ops) == 0, "[%s] %s", design, w->name);
        if (strcmp(w->name, "worst_scan") == 0)
            cr_assert_eq(t.pauses, SMALL_N, "[%s] worst_scan pauses around each free", design);
        run_ok(w, &p, NULL, &plain);
        cr_assert(record_eq(&r, &plain), "[%s] %s: hooks changed what the run did", design,
                  w->name);
    }
}

Test(workloads, extra_setup_changes_nothing_measured) {
    for (size_t i = 0; i < mm_workload_count(); i++) {
        const mm_workload *w = mm_workload_get(i);
        const char *design = w->raw ? MM_WL_NO_DESIGN : mm_design_get(0)->name;
        if (!mm_workload_applicable(w, design, SMALL_N, NULL, 0)) continue;
        mm_wl_params p = params(design, SMALL_N);
        mm_wl_result r, more;
        run_ok(w, &p, NULL, &r);
        p.extra_setup = 2;
        run_ok(w, &p, NULL, &more);
        cr_assert(record_eq(&r, &more), "%s: extra setup changed the record", w->name);
    }
}

/* ------------------------------------------------------------------------
 * Self-checks catch a misbehaving manager
 * ---------------------------------------------------------------------- */

/* A hook that does something behind the workload's back when a phase
 * begins. */
typedef struct sabotage {
    const char *phase;
    const mm_workload *w;
    void (*act)(mm *m);
    bool done;
} sabotage;

static void sab_begin(void *ctx, unsigned phase, mm *m) {
    sabotage *s = ctx;
    if (strcmp(s->w->phases[phase], s->phase) == 0 && m) {
        s->act(m);
        s->done = true;
    }
}

static mm_wl_status run_sabotaged(const char *design, const char *workload, const char *phase,
                                  void (*act)(mm *), mm_wl_result *r) {
    sabotage s = {phase, mm_workload_find(workload), act, false};
    mm_wl_hooks h = {.ctx = &s, .begin = sab_begin};
    mm_wl_params p = params(design, SMALL_N);
    mm_wl_status st = mm_workload_run(s.w, &p, &h, r);
    cr_assert(s.done, "[%s] the sabotage of %s.%s never ran", design, workload, phase);
    return st;
}

/* Takes the buckets free_regrow just freed, for a memory it does not use. */
static void steal_free_buckets(mm *m) {
    OK_CHECK(m, mm_grow(m, 200, SMALL_N, NULL));
}

DESIGN_TEST(workloads, reuse_check_catches_stolen_buckets,
            MM_DESIGN_CAN_FREE | MM_DESIGN_REUSES_ALL) {
    mm_wl_result r;
    cr_assert_eq(run_sabotaged(THIS_DESIGN->name, "free_regrow", "regrow", steal_free_buckets,
                               &r), MM_WL_FAILED);
    cr_assert(strstr(r.reason, "linear memory grew"), "[%s] %s", THIS_DESIGN->name, r.reason);
}

/* Overwrites data that migrate copied into memory 1. */
static void scribble(mm *m) {
    OK_CHECK(m, mm_write(m, 1, 5 * (uint64_t)MM_PAGE_SIZE + 3, "garbage", 7));
}

DESIGN_TEST(workloads, data_check_catches_overwritten_bytes, MM_DESIGN_CAN_FREE) {
    mm_wl_result r;
    cr_assert_eq(run_sabotaged(THIS_DESIGN->name, "migrate", "free", scribble, &r),
                 MM_WL_FAILED);
    cr_assert(strstr(r.reason, "does not hold the bytes written"), "[%s] %s",
              THIS_DESIGN->name, r.reason);
}

/* A size changed behind the workload's back: the model disagrees. */
static void grow_memory0(mm *m) {
    OK_CHECK(m, mm_grow(m, 0, 1, NULL));
}

DESIGN_TEST(workloads, size_check_catches_a_stray_grow, 0) {
    mm_wl_result r;
    cr_assert_eq(run_sabotaged(THIS_DESIGN->name, "grow_spread", "grow", grow_memory0, &r),
                 MM_WL_FAILED);
    cr_assert(strstr(r.reason, "memory 0 holds"), "[%s] %s", THIS_DESIGN->name, r.reason);
}

/* The designs that free without promising to reuse every free bucket: the
 * reuse check, demanded of them, must fail where they did not reuse. */
Test(workloads, reuse_check_fails_on_a_design_that_does_not_reuse) {
    unsigned checked = 0;
    const mm_workload *w = mm_workload_find("migrate");
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        if ((d->flags & (MM_DESIGN_CAN_FREE | MM_DESIGN_REUSES_ALL)) != MM_DESIGN_CAN_FREE)
            continue;
        mm_wl_params p = params(d->name, SMALL_N);
        mm_wl_result r;
        run_ok(w, &p, NULL, &r);
        if (r.record.buckets_reused == SMALL_N) continue; /* it reused here after all */
        p.expect_reuse = true;
        cr_assert_eq(mm_workload_run(w, &p, NULL, &r), MM_WL_FAILED, "[%s] reused %llu of %u",
                     d->name, (unsigned long long)r.record.buckets_reused, SMALL_N);
        cr_assert(strstr(r.reason, "linear memory grew"), "[%s] %s", d->name, r.reason);
        checked++;
    }
    if (!checked) cr_skip_test("no registered design frees without reusing in migrate");
}
