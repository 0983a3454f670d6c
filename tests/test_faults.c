/*
 * Fault injection over scripted scenarios: format, format over data, grow
 * into new buckets, grow into reused buckets, V1 upgrade (of a plain V1
 * memory and of one with freed buckets), and migration. Each scenario is a
 * setup, run once without faults, and an op list run under faults. For
 * every fault point in turn (the 1st, 2nd, ... grow of the linear memory,
 * then the 1st, 2nd, ... write, until the op list runs without reaching
 * the fault):
 *
 *  - a failed grow: the call returns MM_EGROW; the whole linear memory
 *    (pages and bytes), the sizes, the bytes and the stats are as before
 *    the call; mm_check passes; a copy of the memory opens to the same
 *    state; the call then succeeds when retried and the list ends in the
 *    same state as without faults;
 *  - a failed header write: the call returns MM_EIO and the handle refuses
 *    every change (MM_EBROKEN); a copy of the memory then opens, passes
 *    mm_check and holds the state from before or after the call (a free
 *    may also leave its memory zeroed at its size), as after a crash at
 *    that write (tests/crash/ enumerates those). A failed data write
 *    (mm_write) breaks nothing: it succeeds when retried.
 *
 * tests/test_freeing.c checks failed grows over one long mixed scenario;
 * this file sweeps both kinds of fault over each scenario on its own,
 * including the opens (format, upgrade) and the header writes.
 */
#include "model.h"
#include "script.h"
#include "test_util.h"

#include <stdlib.h>

#define PAGE MM_PAGE_SIZE

typedef struct scenario {
    const char *name;
    script_setup_by by;
    script_call setup[SCRIPT_MAX_CALLS];
    script_call op[SCRIPT_MAX_CALLS];
} scenario;

static const scenario format = {
    "format", BY_NOBODY, {END}, {OPEN(2, 0), GROW(0, 3), MARK(0)},
};
static const scenario reformat = {
    "format over data", BY_SELF,
    {OPEN(1, 0), GROW(0, 3), MARK(0), GROW(1, 2), MARK(1)},
    {OPEN(3, MM_OPEN_FORMAT), GROW(2, 4), MARK(2)},
};
static const scenario new_buckets = {
    "grow into new buckets", BY_SELF,
    {OPEN(2, 0), GROW(0, 3), MARK(0), GROW(1, 1), MARK(1)},
    {GROW(0, 2), GROW(2, 5), MARK(2), GROW(1, 1)},
};
/* Memory 3 is empty, so even a V1 writer may reuse any freed bucket. */
static const scenario reused_buckets = {
    "grow into reused buckets", BY_SELF,
    {OPEN(1, 0), GROW(0, 2), MARK(0), GROW(1, 3), MARK(1), GROW(2, 2), MARK(2), FREE(1),
     FREE(0)},
    {GROW(3, 2), GROW(4, 4), MARK(4), FREE(3), GROW(4, 2)},
};
static const scenario upgrade = {
    "V1 upgrade", BY_V1,
    {OPEN(1, 0), GROW(0, 3), MARK(0), GROW(1, 2), MARK(1), GROW(2, 1), MARK(2)},
    {OPEN(0, MM_OPEN_UPGRADE), GROW(3, 2), MARK(3)},
};
static const scenario upgrade_freed = {
    "V1 upgrade with freed buckets", BY_V1_FREEING,
    {OPEN(1, 0), GROW(0, 2), MARK(0), GROW(1, 3), MARK(1), FREE(0), GROW(2, 1), MARK(2)},
    {OPEN(0, MM_OPEN_UPGRADE), GROW(3, 3), MARK(3)},
};
/* Memory 0 is copied into memory 1 bucket by bucket, freed, and memory 1
 * grows on: the long-running upgrade pattern. */
static const scenario migrate = {
    "migrate", BY_SELF,
    {OPEN(1, 0), GROW(0, 3), MARK(0)},
    {GROW(1, 1), COPY(0, 1), GROW(1, 1), COPY(0, 1), GROW(1, 1), COPY(0, 1), FREE(0),
     GROW(1, 3), MARK(1)},
};

/* ------------------------------------------------------------------------
 * Running calls
 * ---------------------------------------------------------------------- */

typedef struct run {
    const mm_design_info *d; /* the design under test */
    mm_memory *ram, *mem;    /* mem wraps ram and injects the faults */
    mm *m;
} run;

static bool writes_data(const script_call *c) {
    return c->kind == C_MARK || c->kind == C_COPY;
}

static void assert_state(const mm_model *want, mm *m, const char *what) {
    const char *diff = model_compare(want, m);
    cr_assert_null(diff, "[%s] %s: %s", tu_design_name(), what, diff);
}

static bool same_stats(const mm_stats *a, const mm_stats *b) {
    return a->memories_in_use == b->memories_in_use &&
           a->buckets_allocated == b->buckets_allocated &&
           a->buckets_in_use == b->buckets_in_use && a->buckets_free == b->buckets_free &&
           a->buckets_meta == b->buckets_meta && a->linear_pages == b->linear_pages &&
           a->header_bytes == b->header_bytes;
}

/* ------------------------------------------------------------------------
 * One scenario for one design
 * ---------------------------------------------------------------------- */

typedef struct plan {
    const scenario *s;
    const mm_design_info *d;
    const char *setup_design; /* NULL: no setup */
    uint8_t *image;           /* the linear memory after the setup */
    size_t len;
    size_t nop;
    /* states[0]: after the setup (as its design sees it; empty when there is
     * no setup); states[i + 1]: after op i without faults. */
    mm_model states[SCRIPT_MAX_CALLS + 1];
    bool has_state[SCRIPT_MAX_CALLS + 1];
} plan;

/* Runs the setup and the ops once without faults, keeping the image after
 * the setup and the state after each step. */
static bool prepare(plan *p, const scenario *s, const mm_design_info *d) {
    *p = (plan){.s = s, .d = d, .nop = script_length(s->op)};
    OK(script_setup_writer(s->by, d->name, &p->setup_design));
    if (s->by != BY_NOBODY && !p->setup_design) return false;
    run r = {.d = d};
    OK(mm_memory_ram(0, &r.ram));
    r.mem = r.ram;
    if (p->setup_design) OK(script_run(r.mem, &r.m, p->setup_design, s->setup, 0));
    if (r.m) {
        OK(model_capture(r.m, &p->states[0]));
        p->has_state[0] = true;
        OK(mm_check(r.m));
    }
    p->image = tu_image(r.ram, &p->len);
    for (size_t i = 0; i < p->nop; i++) {
        if (!r.m && s->op[i].kind != C_OPEN) {
            OK(mm_open(r.mem, d->name, 0, 0, &r.m));
            assert_state(&p->states[0], r.m, "opening the setup");
        }
        OK(script_apply(r.mem, &r.m, d->name, &s->op[i], 0));
        OK(mm_check(r.m));
        OK(model_capture(r.m, &p->states[i + 1]));
        p->has_state[i + 1] = true;
        /* A load or an upgrade keeps every size and byte. */
        if (s->op[i].kind == C_OPEN && !(s->op[i].flags & MM_OPEN_FORMAT) && p->has_state[i])
            assert_state(&p->states[i], r.m, "opening the setup");
    }
    mm_close(r.m);
    mm_memory_close(r.ram);
    return true;
}

static void release(plan *p) {
    for (size_t i = 0; i <= SCRIPT_MAX_CALLS; i++)
        if (p->has_state[i]) model_destroy(&p->states[i]);
    free(p->image);
}

typedef enum fault_kind { FAIL_GROW, FAIL_WRITE } fault_kind;

/* Opens a copy of the memory after a failure. Returns the open's error;
 * on MM_OK *out is the manager. A refusal must leave the copy untouched.
 * An upgrade cut short may leave V1, which only an upgrade opens. */
static int open_copy(const plan *p, run *r, mm_memory **copy, mm **out, const char *what) {
    size_t len;
    uint8_t *image = tu_image(r->ram, &len);
    OK(script_restore(image, len, copy));
    *out = NULL;
    int err = mm_open(*copy, p->d->name, 0, MM_OPEN_UPGRADE, out);
    if (err) tu_assert_image(*copy, image, len, what);
    free(image);
    return err;
}

/* The failed call k changed nothing, and is then retried. */
static void after_failed_grow(const plan *p, run *r, size_t k, const uint8_t *image, size_t len,
                              const mm_stats *stats, const char *what) {
    tu_assert_image(r->ram, image, len, what);
    if (r->m && p->s->op[k].kind != C_OPEN) {
        assert_state(&p->states[k], r->m, what);
        mm_stats now;
        OK(mm_stats_get(r->m, &now));
        cr_assert(same_stats(&now, stats), "[%s] %s: the stats changed", p->d->name, what);
        OK(mm_check(r->m));
        mm_memory *copy;
        mm *m2;
        OK(open_copy(p, r, &copy, &m2, what));
        assert_state(&p->states[k], m2, what);
        OK(mm_check(m2));
        mm_close(m2);
        mm_memory_close(copy);
    }
    mm_memory_fault_replan(r->mem, NULL);
    OK(script_apply(r->mem, &r->m, p->d->name, &p->s->op[k], 0));
}

/* The handle is broken; a copy opens to the state before or after call k,
 * or is refused cleanly. */
static void after_failed_write(const plan *p, run *r, size_t k, const char *what) {
    if (r->m) {
        FAILS(mm_grow(r->m, 0, 1, NULL), MM_EBROKEN);
        if (p->d->flags & MM_DESIGN_CAN_FREE)
            for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
                uint64_t size;
                OK(mm_size(r->m, i, &size));
                if (size) {
                    FAILS(mm_free(r->m, i), MM_EBROKEN);
                    break;
                }
            }
    }
    mm_memory *copy;
    mm *m2;
    int err = open_copy(p, r, &copy, &m2, what);
    cr_assert_eq(err, MM_OK, "[%s] %s: reopening -> %s (%s)", p->d->name, what,
                 mm_strerror(err), mm_error_detail());
    {
        OK(mm_check(m2));
        /* model_compare's message is static: keep the first one. */
        char before[200] = "no state before";
        const char *diff = p->has_state[k] ? model_compare(&p->states[k], m2) : before;
        if (diff != before) snprintf(before, sizeof before, "%s", diff ? diff : "");
        const char *after = model_compare(&p->states[k + 1], m2);
        if (diff && after && p->s->op[k].kind == C_FREE && p->has_state[k]) {
            /* mm_free zeroes the buckets before the design writes its
             * header (so no state hands old bytes to a later grow): a
             * failed header write may leave the memory at its old size
             * with zeros for bytes, the one partial state a free leaves. */
            mm_model zeroed;
            model_init(&zeroed);
            for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
                uint64_t size = p->states[k].size[i];
                model_grow(&zeroed, i, size, NULL);
                if (i != p->s->op[k].id)
                    model_write(&zeroed, i, 0, p->states[k].bytes[i], (size_t)(size * PAGE));
            }
            if (!model_compare(&zeroed, m2)) diff = NULL;
            model_destroy(&zeroed);
        }
        cr_assert(!diff || !after, "[%s] %s: reopened to a state that is neither the one "
                  "before the call (%s) nor the one after it (%s)", p->d->name, what, before,
                  after);
        mm_close(m2);
    }
    mm_memory_close(copy);
}

/* Fault point n of the given kind. Returns whether the fault was reached. */
static bool run_point(const plan *p, fault_kind kind, uint64_t n) {
    run r = {.d = p->d};
    OK(script_restore(p->image, p->len, &r.ram));
    OK(mm_memory_faulty(r.ram, NULL, &r.mem));
    if (p->s->op[0].kind != C_OPEN) OK(mm_open(r.mem, p->d->name, 0, 0, &r.m));
    mm_fault_plan fp = {.fail_grow_at = kind == FAIL_GROW ? n : 0,
                        .fail_write_at = kind == FAIL_WRITE ? n : 0};
    mm_memory_fault_replan(r.mem, &fp);
    bool reached = false, broken = false;
    for (size_t k = 0; k < p->nop && !broken; k++) {
        const script_call *c = &p->s->op[k];
        char what[160];
        snprintf(what, sizeof what, "%s, %s %llu failing at op %zu", p->s->name,
                 kind == FAIL_GROW ? "grow" : "write", (unsigned long long)n, k);
        /* What a failed grow must leave as it was. */
        size_t len = 0;
        uint8_t *image = kind == FAIL_GROW ? tu_image(r.ram, &len) : NULL;
        mm_stats stats = {0};
        if (r.m) OK(mm_stats_get(r.m, &stats));
        int err = script_apply(r.mem, &r.m, p->d->name, c, 0);
        mm_fault_counts counts = mm_memory_fault_counts(r.mem);
        bool fired = kind == FAIL_GROW ? counts.grows >= n : counts.writes >= n;
        if (fired && !reached) {
            reached = true;
            cr_assert_eq(err, kind == FAIL_GROW ? MM_EGROW : MM_EIO, "[%s] %s -> %s (%s)",
                         p->d->name, what, mm_strerror(err), mm_error_detail());
            if (kind == FAIL_GROW) {
                after_failed_grow(p, &r, k, image, len, &stats, what);
            } else if (writes_data(c)) {
                mm_memory_fault_replan(r.mem, NULL);
                OK(script_apply(r.mem, &r.m, p->d->name, c, 0));
            } else {
                after_failed_write(p, &r, k, what);
                broken = true;
            }
        } else {
            cr_assert_eq(err, MM_OK, "[%s] %s -> %s (%s)", p->d->name, what, mm_strerror(err),
                         mm_error_detail());
        }
        /* Before the fault each call does what it did without faults; after
         * a retried one, the list must still end in the same state. */
        if (!broken) OK(mm_check(r.m));
        if (!broken && k + 1 == p->nop)
            assert_state(&p->states[k + 1], r.m, what);
        free(image);
    }
    mm_close(r.m);
    mm_memory_close(r.mem);
    mm_memory_close(r.ram);
    return reached;
}

static void sweep(const scenario *s, const mm_design_info *d) {
    plan p;
    if (!prepare(&p, s, d)) cr_skip_test("[%s] %s: no design writes this setup", d->name, s->name);
    uint64_t points[2] = {0, 0};
    for (int kind = FAIL_GROW; kind <= FAIL_WRITE; kind++) {
        uint64_t n = 1;
        while (run_point(&p, (fault_kind)kind, n)) {
            cr_assert_lt(n, 2000u, "[%s] %s: the ops never end", d->name, s->name);
            n++;
        }
        points[kind] = n - 1;
    }
    /* Every scenario writes a header; all but a load grow the memory. */
    cr_assert_gt(points[FAIL_WRITE], 0, "[%s] %s wrote nothing", d->name, s->name);
    cr_log_info("[%s] %s: %llu grow and %llu write fault points", d->name, s->name,
                (unsigned long long)points[FAIL_GROW], (unsigned long long)points[FAIL_WRITE]);
    release(&p);
}

DESIGN_TEST(faults, format, 0) {
    sweep(&format, THIS_DESIGN);
}

DESIGN_TEST(faults, format_over_data, 0) {
    sweep(&reformat, THIS_DESIGN);
}

DESIGN_TEST(faults, grow_into_new_buckets, 0) {
    sweep(&new_buckets, THIS_DESIGN);
}

DESIGN_TEST(faults, grow_into_reused_buckets, MM_DESIGN_CAN_FREE) {
    sweep(&reused_buckets, THIS_DESIGN);
}

DESIGN_TEST(faults, v1_upgrade, MM_DESIGN_READS_V1) {
    sweep(&upgrade, THIS_DESIGN);
}

DESIGN_TEST(faults, v1_upgrade_with_freed_buckets, MM_DESIGN_READS_V1) {
    sweep(&upgrade_freed, THIS_DESIGN);
}

DESIGN_TEST(faults, migrate, 0) {
    sweep(&migrate, THIS_DESIGN);
}
