/*
 * mmcrash: the crash harness. For every design and every operation
 * scenario it enumerates every crash point of the operation, reopens the
 * memory that the crash leaves, and checks it against the model
 * (tests/model.c): it must open, pass mm_check, hold the sizes and bytes of
 * every memory as they were before the operation or after it (a free may
 * also leave its memory at its size with some or all of its buckets
 * zeroed: the manager zeroes them, one call per run, before the free's
 * commit), open again to the same state, and hand out zeros to later
 * grows. The open that recovers it may write (a repair, the rest of an
 * upgrade, a roll-back): a process that dies after any of its storage
 * calls must leave a memory that survives the same way, or the point does
 * not count as survived.
 *
 * A crash is simulated by the fault-injecting memory (impl/memory_faulty.c):
 * the operation runs over it as usual, and only the storage calls (grows,
 * writes, discards) the plan lets through reach a second memory, the disk,
 * which the next open reads. Two modes:
 *   plain    the process dies after any storage call: the disk holds the
 *            first k calls, for every k from 0 to all of them;
 *   durable  the manager runs with MM_OPEN_SYNC and the power fails: the
 *            disk holds every call before some barrier and any subset of
 *            the calls between it and the next, for every barrier and
 *            every subset (2^n - 1 per run of n calls, plus all of them).
 *
 *   mmcrash [--designs a,b] [--scenarios s,t] [--modes plain,durable]
 *           [--json FILE]
 *
 * Prints, per design, the crash points tried and survived, and the first
 * failure of each scenario; writes them as crash.json (schema
 * mmfree-crash/1, results/FORMAT.md) with --json. Exit 0 when every point
 * survived, 1 when one did not, 2 on bad arguments.
 *
 * Built twice: against the library (every scenario but grow_meta, whose
 * setup would take 15,092 buckets), and against the library built with
 * MMFREE_FUZZ_SMALL_PAGE0 (list and freestack with a few entries in page
 * 0, as the fuzzers use it), where grow_meta adds metadata buckets after a
 * dozen.
 */
#include "model.h"
#include "script.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)
/* A run of more calls between two barriers than this would make 2^n
 * subsets (each reopened, and its recovery crashed at every call) too
 * many to enumerate in make test; none of the scenarios has one, and the
 * harness stops rather than sample. */
#define MAX_EPOCH_CALLS 12

#ifdef MMFREE_FUZZ_SMALL_PAGE0
#define BUILD "small page 0 (MMFREE_FUZZ_SMALL_PAGE0)"
#else
#define BUILD "normal"
#endif

/* ------------------------------------------------------------------------
 * Scenarios
 * ---------------------------------------------------------------------- */

typedef struct scenario {
    const char *name, *what;
    script_setup_by by;
    unsigned need;           /* design flags the scenario needs */
    bool meta;               /* the op must add a metadata bucket */
    const char *reopen;      /* the design that opens the crashed memory; NULL: the same */
    script_call setup[SCRIPT_MAX_CALLS];
    script_call op;
} scenario;

static const scenario scenarios[] = {
    {"format", "the first format of an empty memory", BY_NOBODY, 0, false, NULL,
     {END}, OPEN(2, 0)},
    {"format_over_data", "MM_OPEN_FORMAT over memories with data", BY_SELF, 0, false, NULL,
     {OPEN(1, 0), GROW(0, 3), MARK(0), GROW(1, 2), MARK(1)}, OPEN(3, MM_OPEN_FORMAT)},
    /* Memory 0 committed last: most designs then write the size alone. */
    {"grow_in_bucket", "a grow inside the memory's last bucket", BY_SELF, 0, false, NULL,
     {OPEN(4, 0), GROW(0, 1), MARK(0), GROW(1, 1), GROW(0, 1)}, GROW(0, 2)},
    /* Memory 1 took the bucket after memory 0's last: two new buckets,
     * apart from memory 0's. */
    {"grow_new", "a grow into two new buckets", BY_SELF, 0, false, NULL,
     {OPEN(2, 0), GROW(0, 3), MARK(0), GROW(1, 1), MARK(1)}, GROW(0, 5)},
    /* Five freed buckets in two runs, then two new ones, in one grow of an
     * empty memory (so that v1reclaim, which reuses only above a memory's
     * last bucket, reuses them all too). */
    {"grow_reused", "a grow into five freed buckets and two new ones", BY_SELF,
     MM_DESIGN_CAN_FREE, false, NULL,
     {OPEN(1, 0), GROW(0, 2), MARK(0), GROW(1, 3), MARK(1), GROW(2, 2), MARK(2), FREE(1),
      FREE(0)},
     GROW(3, 7)},
#ifdef MMFREE_FUZZ_SMALL_PAGE0
    /* Page 0 holds 8 entries, a metadata bucket 4: memory 1's grow needs
     * two more metadata buckets, the first chained to the last one. */
    {"grow_meta", "a grow that adds metadata buckets", BY_SELF, MM_DESIGN_CAN_FREE, true, NULL,
     {OPEN(1, 0), GROW(0, 8), MARK(0), GROW(2, 2), MARK(2)}, GROW(1, 6)},
#endif
    /* Memory 0's buckets are 0, 1, 3, 4: two runs. */
    {"free", "a free of four buckets in two runs", BY_SELF, MM_DESIGN_CAN_FREE, false, NULL,
     {OPEN(1, 0), GROW(0, 2), GROW(1, 1), GROW(0, 2), MARK(0), MARK(1)}, FREE(0)},
    /* A V1 memory of 13 buckets with a hole (v1reclaim freed memory 0),
     * which the new layouts turn into a free or metadata bucket; in the
     * small build list and freestack need two metadata buckets, the hole
     * and one carved past V1's last bucket. */
    {"upgrade", "the upgrade of a V1 memory with holes, reopened by the design",
     BY_V1_FREEING, MM_DESIGN_READS_V1, false, NULL,
     {OPEN(1, 0), GROW(0, 1), MARK(0), GROW(1, 11), MARK(1), FREE(0), GROW(2, 1), MARK(2)},
     OPEN(0, MM_OPEN_UPGRADE)},
    {"upgrade_rollback", "the same upgrade, reopened by v1 (which rolls it back)",
     BY_V1_FREEING, MM_DESIGN_READS_V1, false, "v1",
     {OPEN(1, 0), GROW(0, 1), MARK(0), GROW(1, 11), MARK(1), FREE(0), GROW(2, 1), MARK(2)},
     OPEN(0, MM_OPEN_UPGRADE)},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* ------------------------------------------------------------------------
 * Memories, images and models
 * ---------------------------------------------------------------------- */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mmcrash: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Setup failures are the harness's, not the design's: they stop the run. */
static void must(int err, const char *what) {
    if (err) die("%s: %s (%s)", what, mm_strerror(err), mm_error_detail());
}

typedef struct image {
    uint8_t *bytes;
    size_t len;
} image;

static image snapshot(mm_memory *mem) {
    image im = {.len = (size_t)(mm_memory_size(mem) * PAGE)};
    im.bytes = malloc(im.len ? im.len : 1);
    if (!im.bytes) die("out of memory");
    must(mm_memory_read(mem, 0, im.bytes, im.len), "reading a memory");
    return im;
}

/* A fresh RAM memory holding im: each crash point starts from one. */
static mm_memory *restore(const image *im) {
    mm_memory *ram;
    must(script_restore(im->bytes, im->len, &ram), "restoring an image");
    return ram;
}

/* ------------------------------------------------------------------------
 * One design, one scenario, one mode
 * ---------------------------------------------------------------------- */

typedef struct run {
    const mm_design_info *d;
    const scenario *s;
    bool durable;
    unsigned flags; /* MM_OPEN_SYNC in durable mode */
    image im;       /* the memory before the operation */
    mm_model before, after;
    uint64_t calls; /* storage calls of the operation */
    uint64_t *barriers;
    size_t nbarriers;
    uint64_t points, survived;
    char failure[480];
} run;

#if defined(__GNUC__)
#define printf_like(f, a) __attribute__((format(printf, f, a)))
#else
#define printf_like(f, a)
#endif

/* Fills why; false, for `return failed(...)`. */
static bool failed(char *why, size_t cap, const char *fmt, ...) printf_like(3, 4);
static bool failed(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

/* Whether the design keeps metadata in buckets (list and freestack do,
 * past a few dozen buckets in the small build): grow_meta is theirs. */
static bool has_metadata(const mm_design_info *d) {
    mm_memory *ram;
    mm *m;
    mm_stats st = {0};
    must(mm_memory_ram(0, &ram), "a RAM memory");
    must(mm_open(ram, d->name, 1, 0, &m), "formatting");
    for (int k = 0; k < 32 && !st.buckets_meta && mm_grow(m, 0, 1, NULL) == MM_OK; k++)
        must(mm_stats_get(m, &st), "stats");
    mm_close(m);
    mm_memory_close(ram);
    return st.buckets_meta > 0;
}

/* script_apply skips a free the design cannot make: a scenario whose op
 * frees, or whose own-design setup does, must need MM_DESIGN_CAN_FREE, or
 * under such a design it would run something else and pass. Checked once,
 * whichever designs are listed. */
static void check_frees(void) {
    for (size_t i = 0; i < NSCENARIOS; i++) {
        const scenario *s = &scenarios[i];
        bool frees = s->op.kind == C_FREE;
        for (size_t k = 0; s->by == BY_SELF && k < script_length(s->setup); k++)
            frees |= s->setup[k].kind == C_FREE;
        if (frees && !(s->need & MM_DESIGN_CAN_FREE))
            die("scenario %s frees: its need must name MM_DESIGN_CAN_FREE", s->name);
    }
}

/* Builds the memory before the operation, then runs the operation once
 * without a crash: the state after it, its storage calls and barriers. */
static bool prepare(run *r) {
    const scenario *s = r->s;
    const char *setup;
    must(script_setup_writer(s->by, r->d->name, &setup), "finding the setup's writer");
    if (s->by != BY_NOBODY && !setup) return false;
    mm_memory *ram;
    mm *m = NULL;
    must(mm_memory_ram(0, &ram), "a RAM memory");
    if (setup) must(script_run(ram, &m, setup, s->setup, 0), "the setup");
    if (m) {
        must(model_capture(m, &r->before), "reading every memory");
        mm_close(m);
        m = NULL;
    } else {
        model_init(&r->before);
    }
    r->im = snapshot(ram);
    mm_memory_close(ram);

    mm_memory *inner = restore(&r->im), *mem;
    must(mm_memory_faulty(inner, NULL, &mem), "a faulty memory");
    if (s->op.kind != C_OPEN) must(mm_open(mem, r->d->name, 0, r->flags, &m), "opening the setup");
    mm_stats st0 = {0}, st1;
    if (m) must(mm_stats_get(m, &st0), "stats");
    mm_memory_fault_replan(mem, NULL);
    must(script_apply(mem, &m, r->d->name, &s->op, r->flags), "the operation");
    must(mm_check(m), "mm_check after the operation");
    must(mm_stats_get(m, &st1), "stats");
    if (s->meta && st1.buckets_meta <= st0.buckets_meta)
        die("%s: %s adds no metadata bucket in %s", r->d->name, s->name, BUILD);
    mm_fault_counts c = mm_memory_fault_counts(mem);
    r->calls = c.calls;
    r->nbarriers = mm_memory_fault_barriers(mem, NULL, 0);
    r->barriers = malloc((r->nbarriers + 1) * sizeof *r->barriers);
    if (!r->barriers) die("out of memory");
    mm_memory_fault_barriers(mem, r->barriers, r->nbarriers);
    must(model_capture(m, &r->after), "reading every memory");
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(inner);
    return true;
}

static void release(run *r) {
    model_destroy(&r->before);
    model_destroy(&r->after);
    free(r->im.bytes);
    free(r->barriers);
}

/* A free's middle state: every memory as before, but for the freed one's
 * pages, each as before or zero. Its copy goes to *out. */
static bool free_middle(const run *r, mm *m, mm_model *out) {
    static uint8_t page[PAGE];
    static const uint8_t zeros[PAGE];
    unsigned id = r->s->op.id;
    *out = model_copy(&r->before);
    uint64_t size;
    if (mm_size(m, id, &size) != MM_OK || size != out->size[id]) return false;
    for (uint64_t p = 0; p < size; p++) {
        if (mm_read(m, id, p * PAGE, page, PAGE) != MM_OK) return false;
        uint8_t *was = out->bytes[id] + p * PAGE;
        if (memcmp(page, was, PAGE) != 0 && memcmp(page, zeros, PAGE) != 0) return false;
        memcpy(was, page, PAGE);
    }
    return !model_compare(out, m);
}

/* The state m holds, copied into *out: before, after, or a free's middle
 * state. False with why filled when it is none of them. */
static bool state_of(const run *r, mm *m, mm_model *out, char *why, size_t cap) {
    char before[160];
    const char *diff = model_compare(&r->before, m);
    if (!diff) return *out = model_copy(&r->before), true;
    snprintf(before, sizeof before, "%s", diff);
    diff = model_compare(&r->after, m);
    if (!diff) return *out = model_copy(&r->after), true;
    if (r->s->op.kind == C_FREE) {
        if (free_middle(r, m, out)) return true;
        model_destroy(out);
    }
    return failed(why, cap, "neither the state before (%s) nor after (%s)", before, diff);
}

/* Opens what the crash left on disk, as the next process would: without
 * MM_OPEN_UPGRADE first, since an upgrade under way is completed unasked
 * (it was asked for when it began). */
static int reopen(run *r, mm_memory *disk, mm **m) {
    const char *design = r->s->reopen ? r->s->reopen : r->d->name;
    int err = mm_open(disk, design, 0, r->flags, m);
    uint8_t version = 0;
    if (err == MM_EWRONG_DESIGN && r->s->reopen) {
        /* A V1 design cannot open an upgrade that completed: the design can. */
        err = mm_open(disk, r->d->name, 0, r->flags, m);
    } else if (err == MM_EWRONG_DESIGN && (r->s->op.flags & MM_OPEN_UPGRADE) &&
               mm_memory_read(disk, 3, &version, 1) == MM_OK && version == 1) {
        /* A crash before the journal's commit left V1, which the design
         * upgrades only when asked again, as the process that crashed did. */
        err = mm_open(disk, design, 0, r->flags | MM_OPEN_UPGRADE, m);
    }
    return err;
}

/* Everything a crash must leave: see the top of the file. */
static bool survives(run *r, mm_memory *disk, char *why, size_t cap) {
    mm *m;
    int err = reopen(r, disk, &m);
    if (err)
        return failed(why, cap, "open -> %s (%s)", mm_strerror(err), mm_error_detail());
    mm_model st;
    err = mm_check(m);
    bool known = !err && state_of(r, m, &st, why, cap);
    if (err) failed(why, cap, "mm_check -> %s", mm_error_detail());
    mm_close(m);
    if (!known) return false;
    /* What the open repaired or completed opens again to the same state. */
    const char *diff = NULL;
    if ((err = reopen(r, disk, &m))) {
        model_destroy(&st);
        return failed(why, cap, "the second open -> %s (%s)", mm_strerror(err),
                      mm_error_detail());
    }
    if ((err = mm_check(m)) || (diff = model_compare(&st, m))) {
        mm_close(m);
        model_destroy(&st);
        return failed(why, cap, "the second open: %s", err ? mm_error_detail() : diff);
    }
    /* Later grows hand out zeros: a bucket the crash left half-taken, a
     * freed one, pages past the last bucket. */
    mm_model grown = st;
    uint64_t pages = 2 * mm_bucket_pages(m) < 8 ? 2 * mm_bucket_pages(m) : 8;
    unsigned ids[2] = {r->s->op.kind == C_OPEN ? 0 : r->s->op.id, 9};
    for (int k = 0; k < 2 && !err && !diff; k++) {
        err = mm_grow(m, ids[k], pages, NULL);
        model_grow(&grown, ids[k], pages, NULL);
    }
    if (!err && !diff) diff = model_compare(&grown, m);
    if (!err && !diff) err = mm_check(m);
    model_destroy(&grown);
    mm_close(m);
    if (err || diff)
        return failed(why, cap, "growing after the crash: %s",
                      err ? mm_error_detail() : diff);
    return true;
}

/* The open that recovers a crashed memory writes too (a repair, the rest
 * of an upgrade, a roll-back): a process that dies after any of its
 * storage calls must leave a memory that survives as well. */
static bool recovery_survives(run *r, const image *crashed, char *why, size_t cap) {
    mm_memory *inner = restore(crashed), *mem;
    mm *m;
    must(mm_memory_faulty(inner, NULL, &mem), "a faulty memory");
    must(reopen(r, mem, &m), "reopening a crashed memory");
    uint64_t calls = mm_memory_fault_counts(mem).calls;
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(inner);
    bool ok = true;
    for (uint64_t k = 0; ok && k < calls; k++) {
        mm_memory *disk = restore(crashed);
        inner = restore(crashed);
        mm_fault_plan plan = {.disk = disk, .crash_at = k + 1};
        must(mm_memory_faulty(inner, &plan, &mem), "a faulty memory");
        must(reopen(r, mem, &m), "reopening a crashed memory");
        mm_close(m);
        mm_memory_close(mem);
        mm_memory_close(inner);
        char inner_why[300];
        if (!survives(r, disk, inner_why, sizeof inner_why))
            ok = failed(why, cap, "a crash after %llu of the %llu storage calls of the open "
                        "that recovers it: %s", (unsigned long long)k,
                        (unsigned long long)calls, inner_why);
        mm_memory_close(disk);
    }
    return ok;
}

/* One crash point: the storage calls from crash_at on reach the disk only
 * as keep says, up to the next barrier. */
static void point(run *r, uint64_t crash_at, uint64_t keep) {
    char why[400] = "";
    mm_memory *inner = restore(&r->im), *disk = restore(&r->im), *mem;
    mm_fault_plan plan = {.disk = disk};
    must(mm_memory_faulty(inner, &plan, &mem), "a faulty memory");
    mm *m = NULL;
    if (r->s->op.kind != C_OPEN) must(mm_open(mem, r->d->name, 0, r->flags, &m), "opening");
    plan.crash_at = crash_at;
    plan.crash_keep = keep;
    mm_memory_fault_replan(mem, &plan);
    /* The process goes on (the page cache has every write): the op runs to
     * its end exactly as without the crash. */
    must(script_apply(mem, &m, r->d->name, &r->s->op, r->flags), "the operation");
    mm_fault_counts c = mm_memory_fault_counts(mem);
    mm_close(m);
    mm_memory_close(mem);
    mm_memory_close(inner);
    image crashed = snapshot(disk);
    bool ok = c.disk_errors ? failed(why, sizeof why, "%llu storage calls reached the disk "
                                     "past the pages that reached it",
                                     (unsigned long long)c.disk_errors)
                            : survives(r, disk, why, sizeof why) &&
                                  recovery_survives(r, &crashed, why, sizeof why);
    free(crashed.bytes);
    mm_memory_close(disk);
    r->points++;
    if (ok) {
        r->survived++;
    } else if (!r->failure[0]) {
        snprintf(r->failure, sizeof r->failure, "the first %llu of %llu storage calls, then "
                 "the subset %#llx of those up to the next barrier: %s",
                 (unsigned long long)(crash_at - 1), (unsigned long long)r->calls,
                 (unsigned long long)keep, why);
    }
}

static void enumerate(run *r) {
    if (!r->durable) {
        for (uint64_t k = 0; k <= r->calls; k++) point(r, k + 1, 0);
        return;
    }
    /* Runs of calls between barriers; the calls after the last barrier
     * end the operation. */
    uint64_t start = 0;
    for (size_t j = 0; j <= r->nbarriers; j++) {
        uint64_t end = j < r->nbarriers ? r->barriers[j] : r->calls;
        if (end <= start) continue;
        uint64_t n = end - start;
        if (n > MAX_EPOCH_CALLS)
            die("%s, %s: %llu calls between two barriers: too many subsets to enumerate",
                r->d->name, r->s->name, (unsigned long long)n);
        for (uint64_t keep = 0; keep + 1 < (1ull << n); keep++) point(r, start + 1, keep);
        start = end;
    }
    point(r, r->calls + 1, 0); /* every call landed */
}

/* ------------------------------------------------------------------------
 * Command line, table, JSON
 * ---------------------------------------------------------------------- */

static bool listed(const char *list, const char *name) {
    if (!list) return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        p += len + (comma != NULL);
    }
    return false;
}

static void check_list(const char *list, const char *what, bool (*known)(const char *)) {
    char buf[256];
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        if (!known(buf)) die("no %s is named '%s'", what, buf);
        p += len + (comma != NULL);
    }
}

static bool is_design(const char *name) {
    return mm_design_find(name) != NULL;
}

static bool is_scenario(const char *name) {
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (strcmp(scenarios[i].name, name) == 0) return true;
    return strcmp(name, "grow_meta") == 0; /* known, though only the small build has it */
}

static bool is_mode(const char *name) {
    return strcmp(name, "plain") == 0 || strcmp(name, "durable") == 0;
}

typedef struct result {
    const char *design, *scenario, *mode;
    uint64_t points, survived;
} result;

static void write_json(const char *path, const result *res, size_t n) {
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write %s", path);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\"schema\": \"mmfree-crash/1\", \"meta\": {\"date\": \"%s\", \"build\": \"%s\", "
            "\"library\": %d, \"plain\": \"a process dies after any storage call (grow, write, "
            "discard): the first k calls reach the disk, for every k\", \"durable\": "
            "\"MM_OPEN_SYNC, and the power fails: every call before a barrier and any subset "
            "of the calls up to the next reach the disk, for every barrier and subset\"}, "
            "\"results\": [",
            date, BUILD, mm_version(NULL, NULL, NULL));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n  {\"design\": \"%s\", \"scenario\": \"%s\", \"mode\": \"%s\", "
                "\"points\": %llu, \"survived\": %llu}", i ? "," : "", res[i].design,
                res[i].scenario, res[i].mode, (unsigned long long)res[i].points,
                (unsigned long long)res[i].survived);
    fprintf(f, "\n]}\n");
    if (fclose(f) != 0) die("cannot write %s", path);
}

int main(int argc, char **argv) {
    const char *designs = NULL, *names = NULL, *modes = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--designs") == 0     ? &designs
                           : strcmp(argv[i], "--scenarios") == 0 ? &names
                           : strcmp(argv[i], "--modes") == 0     ? &modes
                           : strcmp(argv[i], "--json") == 0      ? &json
                                                                 : NULL;
        if (!opt || i + 1 == argc)
            die("usage: mmcrash [--designs a,b] [--scenarios s,t] [--modes plain,durable] "
                "[--json FILE] (bad argument '%s')", argv[i]);
        *opt = argv[++i];
    }
    check_list(designs, "design", is_design);
    check_list(names, "scenario", is_scenario);
    check_list(modes, "mode", is_mode);
    check_frees();

    result *res = calloc(mm_design_count() * NSCENARIOS * 2, sizeof *res);
    if (!res) die("out of memory");
    size_t nres = 0;
    bool all = true;
    printf("crash points survived (%s build): plain = a process dies after any storage call; "
           "durable = MM_OPEN_SYNC and a power loss lands any subset of the calls since the "
           "last barrier\n", BUILD);
    printf("%-10s %-17s %15s %15s\n", "design", "scenario", "plain", "durable");
    for (size_t di = 0; di < mm_design_count(); di++) {
        const mm_design_info *d = mm_design_get(di);
        if (!listed(designs, d->name)) continue;
        uint64_t tot[2][2] = {{0}};
        for (size_t si = 0; si < NSCENARIOS; si++) {
            const scenario *s = &scenarios[si];
            if (!listed(names, s->name) || (d->flags & s->need) != s->need) continue;
            if (s->meta && !has_metadata(d)) continue;
            char cell[2][24] = {"-", "-"};
            for (int mode = 0; mode < 2; mode++) {
                const char *mname = mode ? "durable" : "plain";
                if (!listed(modes, mname)) continue;
                run r = {.d = d, .s = s, .durable = mode == 1, .flags = mode ? MM_OPEN_SYNC : 0};
                if (!prepare(&r)) continue;
                enumerate(&r);
                res[nres++] = (result){d->name, s->name, mname, r.points, r.survived};
                tot[mode][0] += r.points;
                tot[mode][1] += r.survived;
                snprintf(cell[mode], sizeof cell[mode], "%llu/%llu",
                         (unsigned long long)r.survived, (unsigned long long)r.points);
                if (r.survived != r.points) {
                    all = false;
                    fprintf(stderr, "FAILED: %s, %s, %s: %llu of %llu crash points not "
                            "survived; the first: %s\n", d->name, s->name, mname,
                            (unsigned long long)(r.points - r.survived),
                            (unsigned long long)r.points, r.failure);
                }
                release(&r);
            }
            printf("%-10s %-17s %15s %15s\n", d->name, s->name, cell[0], cell[1]);
        }
        printf("%-10s %-17s %7llu/%-7llu %7llu/%-7llu\n", d->name, "(all)",
               (unsigned long long)tot[0][1], (unsigned long long)tot[0][0],
               (unsigned long long)tot[1][1], (unsigned long long)tot[1][0]);
        fflush(stdout);
    }
    if (json) write_json(json, res, nres);
    free(res);
    printf("%s\n", all ? "mmcrash: every crash point survived"
                       : "mmcrash: crash points NOT survived (above)");
    return all ? 0 : 1;
}
