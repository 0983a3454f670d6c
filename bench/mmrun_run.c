/*
 * mmrun run: one standardized workload in one process, for callgrind,
 * hyperfine and humans.
 *
 *   mmrun run --design D --workload W --n N [--seed S]
 *   mmrun run --list [--n N[,N...]]
 *
 * Prints one JSON line: the result record and the ops of each phase (or
 * status "n/a" with the reason, exit 0). Exit 1 when the run fails (an
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define MAX_SIZES 32
#define MAX_NAMES 64

/* A usage message, in a function that returns whether it succeeded. */
#define USAGE_FALSE(...) (mmrun_usage(__VA_ARGS__), false)

/* ------------------------------------------------------------------------
 * JSON output
 * ---------------------------------------------------------------------- */

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_phases(const mm_workload *w) {
    fputs("\"phases\":[", stdout);
    for (unsigned i = 0; i < w->nphases; i++) {
        if (i) putchar(',');
        json_string(w->phases[i]);
    }
    putchar(']');
}

static void json_head(const mm_workload *w, const char *design, uint64_t n) {
    fputs("{\"workload\":", stdout);
    json_string(w->name);
    fputs(",\"design\":", stdout);
    json_string(design);
    printf(",\"n\":%llu,", (unsigned long long)n);
}

static void json_result(const mm_workload *w, const char *design, uint64_t n, uint64_t seed,
                        const mm_wl_result *r) {
    json_head(w, design, n);
    printf("\"seed\":%llu,", (unsigned long long)seed);
    if (r->status != MM_WL_OK) {
        fputs(r->status == MM_WL_NA ? "\"status\":\"n/a\",\"reason\":"
                                    : "\"status\":\"failed\",\"reason\":", stdout);
        json_string(r->reason);
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
        json_string(w->phases[i]);
        printf(",\"ops\":%llu,\"key\":\"%s.%s/%s/%llu\"}", (unsigned long long)r->phase_ops[i],
               w->name, w->phases[i], design, (unsigned long long)n);
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

/* "a, b, c": the registered names, for error messages. */
static const char *names(bool designs) {
    static char buf[1024];
    size_t len = 0, count = designs ? mm_design_count() : mm_workload_count();
    buf[0] = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = designs ? mm_design_get(i)->name : mm_workload_get(i)->name;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", name);
        if (len >= sizeof buf) break;
    }
    if (designs && len < sizeof buf)
        snprintf(buf + len, sizeof buf - len, ", %s (raw only)", MM_WL_NO_DESIGN);
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
                    json_string(why);
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

/* One run in this process: prints its line; 1 when it failed. */
static int run_one(const mm_workload *w, const char *design, uint64_t n, uint64_t seed,
                   unsigned extra) {
    cg_ctx ctx = {w, design, n};
    mm_wl_hooks hooks = {&ctx, cg_begin, cg_end, cg_toggle, cg_toggle};
    mm_wl_params params = {.design = design, .n = n, .seed = seed, .extra_setup = extra};
    mm_wl_result r;
    mm_workload_run(w, &params, &hooks, &r);
    json_result(w, design, n, seed, &r);
    fflush(stdout);
    if (r.status != MM_WL_FAILED) return 0;
    fprintf(stderr, "mmrun: %s on %s at N = %llu failed: %s\n", w->name, design,
            (unsigned long long)n, r.reason);
    return 1;
}

/* Several runs: each in a child forked from the same state of this
 * process, so that one run's heap never shapes the next one's and each
 * count is the one a process of its own would give. */
static int run_forked(const mm_workload *w, const char *design, uint64_t n, uint64_t seed,
                      unsigned extra) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mmrun: fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) _exit(run_one(w, design, n, seed, extra));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 1;
    if (WIFEXITED(status)) return WEXITSTATUS(status) ? 1 : 0;
    fprintf(stderr, "mmrun: %s on %s at N = %llu was killed by signal %d\n", w->name, design,
            (unsigned long long)n, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}

int mmrun_cmd_run(int argc, char **argv) {
    /* Output is buffered in static memory: the heap stays as it was when
     * each run starts. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    const char *design_arg = NULL, *workload_arg = NULL, *n_arg = NULL;
    uint64_t seed = 1, extra = 0;
    bool want_list = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            want_list = true;
            continue;
        }
        if (strcmp(a, "--design") && strcmp(a, "--workload") && strcmp(a, "--n") &&
            strcmp(a, "--seed") && strcmp(a, "--extra-setup"))
            return mmrun_usage("run: unknown option %s", mmrun_quote(a));
        if (!v) return mmrun_usage("run: %s needs a value", a);
        i++;
        if (strcmp(a, "--design") == 0) {
            design_arg = v;
        } else if (strcmp(a, "--workload") == 0) {
            workload_arg = v;
        } else if (strcmp(a, "--n") == 0) {
            n_arg = v;
        } else if (strcmp(a, "--seed") == 0) {
            if (!mmrun_parse_u64(v, &seed))
                return mmrun_usage("bad seed %s: not a number", mmrun_quote(v));
        } else if (!mmrun_parse_u64(v, &extra) || extra > 1000) {
            return mmrun_usage("bad --extra-setup %s: a number in 0..1000", mmrun_quote(v));
        }
    }
    uint64_t sizes[MAX_SIZES];
    unsigned nsizes = 0;
    if (want_list) {
        if (design_arg || workload_arg) return mmrun_usage("run --list takes only --n");
        return parse_sizes(n_arg ? n_arg : "1024", sizes, &nsizes) ? list(sizes, nsizes) : 2;
    }
    if (!design_arg || !workload_arg || !n_arg)
        return mmrun_usage("run needs --design, --workload and --n");
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
                               mmrun_quote(wnames[i]), names(false));
    for (unsigned i = 0; i < nd; i++)
        if (strcmp(dnames[i], MM_WL_NO_DESIGN) != 0 && !mm_design_find(dnames[i]))
            return mmrun_usage("no design is named %s (designs: %s)", mmrun_quote(dnames[i]),
                               names(true));
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
    int rc = 0;
    for (unsigned i = 0; i < nw; i++)
        for (unsigned j = 0; j < nd; j++) {
            if (ws[i]->raw != (strcmp(dnames[j], MM_WL_NO_DESIGN) == 0)) continue;
            for (unsigned k = 0; k < nsizes; k++)
                rc |= runs > 1 ? run_forked(ws[i], dnames[j], sizes[k], seed, (unsigned)extra)
                               : run_one(ws[i], dnames[j], sizes[k], seed, (unsigned)extra);
        }
    return rc;
}
