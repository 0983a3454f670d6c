/*
 * mmrun run: one standardized workload in one process, for callgrind,
 * hyperfine and humans.
 *
 *   mmrun run --design D --workload W --n N [--seed S]
 *   mmrun run --list [--n N[,N...]]
 *
 * Prints one JSON line: the result record and, for each phase, its ops and
 * its wall-clock time per op, left out under valgrind (or status "n/a"
 * with the reason, exit 0). Exit 1 when the run fails (an
 * error or a failed self-check), 2 on a usage error. --design, --workload
 * and --n also take comma-separated lists: every combination then runs in
 * a child process of its own, one line each (raw only with design none). Under callgrind
 * (--collect-atstart=no --instr-atstart=no) each measured phase is counted
 * on its own: instrumentation starts, counters are zeroed and collection is
 * switched on at the phase's begin; at its end collection goes off and the
 * count is dumped under the phase's key, "workload.phase/design/n"
 * (results/FORMAT.md). Setup runs uninstrumented. A list costs one valgrind
 * start instead of one per run; scripts/count-instructions reads the dumps
 * (with %p in --callgrind-out-file, as each child writes its own).
 *
 * --list prints what can run: one line per workload, design (design "none"
 * for raw) and N, with the phases, the status, and what a run needs: the
 * RAM it commits and about how large its linear memory grows.
 */
#define _POSIX_C_SOURCE 200809L
#include "mmrun.h"
#include "workloads.h"

#include <alloca.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define MAX_SIZES 32
#define MAX_NAMES 64

/* A usage message, in a function that returns whether it succeeded. */
#define USAGE_FALSE(...) (mmrun_usage(__VA_ARGS__), false)

/* ------------------------------------------------------------------------
 * JSON output
 * ---------------------------------------------------------------------- */

static void json_phases(const mm_workload *w) {
    fputs("\"phases\":[", stdout);
    for (unsigned i = 0; i < w->nphases; i++) {
        if (i) putchar(',');
        mmrun_json_string(w->phases[i]);
    }
    putchar(']');
}

static void json_head(const mm_workload *w, const char *design, uint64_t n) {
    fputs("{\"workload\":", stdout);
    mmrun_json_string(w->name);
    fputs(",\"design\":", stdout);
    mmrun_json_string(design);
    printf(",\"n\":%llu,", (unsigned long long)n);
}

static void json_result(const mm_workload *w, const char *design, uint64_t n, uint64_t seed,
                        bool dirty, const mm_wl_result *r, const double *ns) {
    json_head(w, design, n);
    printf("\"seed\":%llu,", (unsigned long long)seed);
    if (r->status != MM_WL_OK) {
        fputs(r->status == MM_WL_NA ? "\"status\":\"n/a\",\"reason\":"
                                    : "\"status\":\"failed\",\"reason\":", stdout);
        mmrun_json_string(r->reason);
        puts("}");
        return;
    }
    const mm_wl_record *rec = &r->record;
    printf("\"status\":\"ok\",\"ops\":%llu,\"buckets_new\":%llu,\"buckets_reused\":%llu,"
           "\"pages_end\":%llu,\"header_bytes_written\":%llu,",
           (unsigned long long)rec->ops, (unsigned long long)rec->buckets_new,
           (unsigned long long)rec->buckets_reused, (unsigned long long)rec->pages_end,
           (unsigned long long)rec->header_bytes_written);
    fputs("\"phases\":[", stdout);
    for (unsigned i = 0; i < w->nphases; i++) {
        printf("%s{\"phase\":", i ? "," : "");
        mmrun_json_string(w->phases[i]);
        printf(",\"ops\":%llu,", (unsigned long long)r->phase_ops[i]);
        if (ns && r->phase_ops[i]) printf("\"ns_per_op\":%.4g,", ns[i] / (double)r->phase_ops[i]);
        printf("\"key\":\"%s.%s/%s/%llu\"", w->name, w->phases[i], design, (unsigned long long)n);
        const mm_wl_space *sp = &r->phase_space[i];
        printf(",\"pages_end\":%llu,\"header_bytes_written\":%llu,\"heap_bytes\":%llu",
               (unsigned long long)sp->pages_end, (unsigned long long)sp->header_bytes_written,
               (unsigned long long)sp->heap_bytes);
        if (dirty) printf(",\"dirty_pages\":%llu", (unsigned long long)sp->dirty_pages);
        putchar('}');
    }
    puts("]}");
}

/* ------------------------------------------------------------------------
 * Callgrind hooks: no-ops when not running under callgrind.
 * ---------------------------------------------------------------------- */

typedef struct cg_ctx {
    const mm_workload *w;
    const char *design;
    uint64_t n;
} cg_ctx;

static void cg_begin(void *ctx, unsigned phase, mm *m) {
    (void)ctx;
    (void)phase;
    (void)m;
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
}

static void cg_end(void *ctx, unsigned phase, uint64_t ops) {
    CALLGRIND_TOGGLE_COLLECT;
    (void)ops;
    const cg_ctx *c = ctx;
    char key[256];
    snprintf(key, sizeof key, "%s.%s/%s/%llu", c->w->name, c->w->phases[phase], c->design,
             (unsigned long long)c->n);
    CALLGRIND_DUMP_STATS_AT(key);
    CALLGRIND_STOP_INSTRUMENTATION;
}

static void cg_toggle(void *ctx, unsigned phase) {
    (void)ctx;
    (void)phase;
    CALLGRIND_TOGGLE_COLLECT;
}

/* ------------------------------------------------------------------------
 * Clock hooks: each phase's wall-clock time, pauses (setup inside a phase)
 * left out. Used when not under valgrind, where a time means nothing and
 * the clock reads would cost counted instructions in the hooks.
 * ---------------------------------------------------------------------- */

typedef struct clock_ctx {
    double ns[MM_WL_MAX_PHASES];
    double started;
} clock_ctx;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void clock_pause(void *ctx, unsigned phase) {
    clock_ctx *c = ctx;
    c->ns[phase] += now_ns() - c->started;
}

static void clock_resume(void *ctx, unsigned phase) {
    (void)phase;
    ((clock_ctx *)ctx)->started = now_ns();
}

static void clock_begin(void *ctx, unsigned phase, mm *m) {
    (void)m;
    clock_resume(ctx, phase);
}

static void clock_end(void *ctx, unsigned phase, uint64_t ops) {
    (void)ops;
    clock_pause(ctx, phase);
}

/* ------------------------------------------------------------------------
 * Arguments
 * ---------------------------------------------------------------------- */

/* Splits "a,b,c" into at most max words of buf; false (usage printed) on
 * an empty list or too many words. */
static bool split_list(const char *opt, const char *s, char *buf, size_t len, char **words,
                       unsigned max, unsigned *count) {
    if (strlen(s) >= len) return USAGE_FALSE("%s: the list is too long", opt);
    strcpy(buf, s);
    *count = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*count == max) return USAGE_FALSE("%s takes at most %u names or sizes", opt, max);
        words[(*count)++] = tok;
    }
    if (*count == 0) return USAGE_FALSE("%s needs a value", opt);
    return true;
}

static bool parse_sizes(const char *s, uint64_t *sizes, unsigned *count) {
    char buf[512], *words[MAX_SIZES];
    if (!split_list("--n", s, buf, sizeof buf, words, MAX_SIZES, count)) return false;
    for (unsigned i = 0; i < *count; i++)
        if (!mmrun_parse_u64(words[i], &sizes[i]) || sizes[i] < 1 || sizes[i] > MM_WL_MAX_N)
            return USAGE_FALSE("bad N %s: N is a whole number in 1..%llu",
                               mmrun_quote(words[i]), MM_WL_MAX_N);
    return true;
}

static const char *workload_name(size_t i) {
    return mm_workload_get(i)->name;
}

/* "grow_pages, grow_one, ...": the workloads, for error messages. */
static const char *workload_names(void) {
    static char buf[1024];
    mmrun_join(buf, sizeof buf, mm_workload_count(), workload_name, ", ");
    return buf;
}

static int list(const uint64_t *sizes, unsigned nsizes) {
    for (size_t wi = 0; wi < mm_workload_count(); wi++) {
        const mm_workload *w = mm_workload_get(wi);
        size_t ndesigns = w->raw ? 1 : mm_design_count();
        for (size_t di = 0; di < ndesigns; di++) {
            const char *design = w->raw ? MM_WL_NO_DESIGN : mm_design_get(di)->name;
            for (unsigned k = 0; k < nsizes; k++) {
                char why[320];
                json_head(w, design, sizes[k]);
                json_phases(w);
                if (mm_workload_applicable(w, design, sizes[k], why, sizeof why)) {
                    printf(",\"status\":\"ok\",\"resident_bytes\":%llu,\"linear_pages\":%llu}\n",
                           (unsigned long long)w->resident_bytes(sizes[k]),
                           (unsigned long long)mm_workload_linear_pages(w, design, sizes[k]));
                } else {
                    fputs(",\"status\":\"n/a\",\"reason\":", stdout);
                    mmrun_json_string(why);
                    puts("}");
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Runs
 * ---------------------------------------------------------------------- */

/* How every run of one `mmrun run` goes. */
typedef struct run_opts {
    uint64_t seed;
    unsigned extra;
    bool dirty; /* --count-dirty */
} run_opts;

/* run_here must be a frame of its own below run_one's gap. */
#define mm_noinline_run __attribute__((noinline))

/* One run in this process: prints its line; 1 when it failed. */
static mm_noinline_run int run_here(const mm_workload *w, const char *design, uint64_t n,
                                    const run_opts *o) {
    cg_ctx cg = {w, design, n};
    clock_ctx clock = {{0}, 0};
    bool valgrind = RUNNING_ON_VALGRIND;
    mm_wl_hooks hooks = valgrind ? (mm_wl_hooks){&cg, cg_begin, cg_end, cg_toggle, cg_toggle}
                                 : (mm_wl_hooks){&clock, clock_begin, clock_end, clock_pause,
                                                 clock_resume};
    mm_wl_params params = {.design = design, .n = n, .seed = o->seed, .extra_setup = o->extra,
                           .count_dirty = o->dirty};
    mm_wl_result r;
    mm_workload_run(w, &params, &hooks, &r);
    json_result(w, design, n, o->seed, o->dirty, &r, valgrind ? NULL : clock.ns);
    fflush(stdout);
    if (r.status != MM_WL_FAILED) return 0;
    fprintf(stderr, "mmrun: %s on %s at N = %llu failed: %s\n", w->name, design,
            (unsigned long long)n, r.reason);
    return 1;
}

/* A run starts at the same offset in a page of the stack, whatever lies
 * above it. glibc's memcpy and memset take more or fewer instructions by
 * how their buffers are aligned, and the stack buffers of a measured phase
 * (a design's header read on open) would otherwise move with the bytes of
 * environ and argv, and with the frame run_forked adds: reopen on v1
 * counted 12 instructions more with an environment 8 bytes longer, or as
 * `--workload reopen` than as `--workload grow_pages,reopen`. The
 * measured code is the same either way; only its place on the stack was
 * not. */
#define RUN_STACK_ALIGN 4096u

static int run_one(const mm_workload *w, const char *design, uint64_t n, const run_opts *o) {
    size_t pad = (uintptr_t)__builtin_frame_address(0) % RUN_STACK_ALIGN;
    char *gap = alloca(pad + 1);
    __asm__ volatile("" : : "r"(gap) : "memory"); /* keep the gap */
    return run_here(w, design, n, o);
}

/* Several runs: each in a child forked from the same state of this
 * process, so that one run's heap never shapes the next one's and each
 * count is the one a process of its own would give. */
static int run_forked(const mm_workload *w, const char *design, uint64_t n, const run_opts *o) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mmrun: fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) _exit(run_one(w, design, n, o));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 1;
    if (WIFEXITED(status)) return WEXITSTATUS(status) ? 1 : 0;
    fprintf(stderr, "mmrun: %s on %s at N = %llu was killed by signal %d\n", w->name, design,
            (unsigned long long)n, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}

/* What the options of mmrun run set. */
typedef struct run_args {
    const char *design, *workload, *n;
    uint64_t seed, extra;
    unsigned list, count_dirty;
} run_args;

static bool set_seed(void *ctx, const char *v) {
    if (mmrun_parse_u64(v, &((run_args *)ctx)->seed)) return true;
    return USAGE_FALSE("bad --seed %s: not a number", mmrun_quote(v));
}

static bool set_extra(void *ctx, const char *v) {
    uint64_t *extra = &((run_args *)ctx)->extra;
    if (mmrun_parse_u64(v, extra) && *extra <= 1000) return true;
    return USAGE_FALSE("bad --extra-setup %s: a number in 0..1000", mmrun_quote(v));
}

const mmrun_option mmrun_run_options[] = {
    {"--design", "D[,D...]", "the design(s) to run, or none for workload raw",
     .at = offsetof(run_args, design)},
    {"--workload", "W[,W...]", "the workload(s) to run", .at = offsetof(run_args, workload)},
    {"--n", "N[,N...]", "the size(s): what N counts is in each workload's line below",
     .at = offsetof(run_args, n)},
    {"--seed", "S", "the seed of the workloads that draw random numbers (default 1)",
     .set = set_seed},
    {"--count-dirty", NULL,
     "run over a memory that counts the distinct 4 KiB pages each phase writes "
     "(dirty_pages); every access then takes the general path, so leave it off to time or "
     "count instructions",
     .at = offsetof(run_args, count_dirty), .bits = 1},
    {"--extra-setup", "K",
     "for tests: K extra passes (0..1000) of setup work before each phase, to show that "
     "setup is not measured (default 0)",
     .set = set_extra},
    {"--list", NULL,
     "print what can run instead: one JSON line per workload, design and N (default 1024) "
     "with its phases and status \"ok\", with what a run needs (resident_bytes of RAM, about "
     "linear_pages pages), or \"n/a\" and the reason; takes only --n",
     .at = offsetof(run_args, list), .bits = 1},
    {0},
};

int mmrun_cmd_run(int argc, char **argv) {
    /* Output is buffered in static memory: the heap stays as it was when
     * each run starts. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    run_args args = {.seed = 1};
    int rc = mmrun_parse_options(mmrun_run_options, argc, argv, &args);
    if (rc) return rc;
    const char *design_arg = args.design, *workload_arg = args.workload, *n_arg = args.n;
    uint64_t seed = args.seed, extra = args.extra;
    uint64_t sizes[MAX_SIZES];
    unsigned nsizes = 0;
    if (args.list) {
        if (design_arg || workload_arg || args.count_dirty)
            return mmrun_usage("--list takes only --n");
        return parse_sizes(n_arg ? n_arg : "1024", sizes, &nsizes) ? list(sizes, nsizes) : 2;
    }
    if (!design_arg || !workload_arg || !n_arg)
        return mmrun_usage("needs --design, --workload and --n");
    char dbuf[1024], wbuf[1024], *dnames[MAX_NAMES], *wnames[MAX_NAMES];
    unsigned nd, nw;
    if (!split_list("--design", design_arg, dbuf, sizeof dbuf, dnames, MAX_NAMES, &nd) ||
        !split_list("--workload", workload_arg, wbuf, sizeof wbuf, wnames, MAX_NAMES, &nw) ||
        !parse_sizes(n_arg, sizes, &nsizes))
        return 2;
    const mm_workload *ws[MAX_NAMES];
    for (unsigned i = 0; i < nw; i++)
        if (!(ws[i] = mm_workload_find(wnames[i])))
            return mmrun_usage("no workload is named %s (workloads: %s)",
                               mmrun_quote(wnames[i]), workload_names());
    for (unsigned i = 0; i < nd; i++)
        if (strcmp(dnames[i], MM_WL_NO_DESIGN) != 0 && !mm_design_find(dnames[i]))
            return mmrun_usage("no design is named %s (designs: %s)", mmrun_quote(dnames[i]),
                               mmrun_design_names(true));
    if (nd == 1 && nw == 1) {
        bool none = strcmp(dnames[0], MM_WL_NO_DESIGN) == 0;
        if (ws[0]->raw && !none)
            return mmrun_usage("workload %s runs on a bare linear memory: use --design %s",
                               ws[0]->name, MM_WL_NO_DESIGN);
        if (!ws[0]->raw && none)
            return mmrun_usage("design %s is only for workload raw; %s needs a design",
                               MM_WL_NO_DESIGN, ws[0]->name);
    }

    /* Lists: every workload x design x N, but raw only with "none" and the
     * others never with it. */
    unsigned runs = 0;
    for (unsigned i = 0; i < nw; i++)
        for (unsigned j = 0; j < nd; j++)
            runs += (ws[i]->raw == (strcmp(dnames[j], MM_WL_NO_DESIGN) == 0)) * nsizes;
    run_opts opts = {.seed = seed, .extra = (unsigned)extra, .dirty = args.count_dirty};
    rc = 0;
    for (unsigned i = 0; i < nw; i++)
        for (unsigned j = 0; j < nd; j++) {
            if (ws[i]->raw != (strcmp(dnames[j], MM_WL_NO_DESIGN) == 0)) continue;
            for (unsigned k = 0; k < nsizes; k++)
                rc |= runs > 1 ? run_forked(ws[i], dnames[j], sizes[k], &opts)
                               : run_one(ws[i], dnames[j], sizes[k], &opts);
        }
    return rc;
}
