/*
 * mmrun: the command line of mmfree, for humans, scripts, hyperfine and
 * callgrind.
 *
 *   mmrun designs                       list the registered designs
 *   mmrun ops --design D [--memory F]   run ops read from standard input
 *   mmrun run --design D --workload W --n N [--seed S]
 *                                       run one standardized workload
 *
 * Exit status: 0 success, 1 an op or a run failed, 2 a usage error.
 */
#include "mmrun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------- */

int mmrun_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mmrun: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (try 'mmrun --help')\n", stderr);
    va_end(ap);
    return 2;
}

bool mmrun_parse_u64(const char *s, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* Options of the form --name VALUE; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* ------------------------------------------------------------------------
 * mmrun designs
 * ---------------------------------------------------------------------- */

static int cmd_designs(int argc, char **argv) {
    if (argc > 1) return mmrun_usage("designs takes no arguments, got '%s'", argv[1]);
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        printf("%-10s %s\n", d->name, d->description);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * mmrun ops
 * ---------------------------------------------------------------------- */

typedef struct session {
    const char *design;
    const char *path; /* NULL: RAM */
    uint32_t bucket_pages;
    unsigned flags;
    mm_memory *mem;
    mm *m;
} session;

static int session_open(session *s) {
    int err = s->mem ? MM_OK
              : s->path ? mm_memory_file(s->path, 0, &s->mem)
                        : mm_memory_ram(0, &s->mem);
    if (!err) err = mm_open(s->mem, s->design, s->bucket_pages, s->flags, &s->m);
    /* Formatting is asked for once; a reopen loads what was formatted. */
    s->flags &= ~MM_OPEN_FORMAT;
    return err;
}

static void session_close(session *s, bool keep_ram) {
    mm_close(s->m);
    s->m = NULL;
    if (s->path || !keep_ram) {
        mm_memory_close(s->mem);
        s->mem = NULL;
    }
}

static int op_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    return 1;
}

static int mm_op_error(int err) {
    return op_error("%s: %s", mm_strerror(err), mm_error_detail());
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The most bytes one read op prints, so a typo cannot ask for gigabytes. */
#define OPS_MAX_READ (1u << 20)

/* Runs one op line (already split into words); prints its one line. */
static int run_op(session *s, int n, char **w) {
    uint64_t a = 0, b = 0, c = 0;
    const char *op = w[0];
    bool needs_manager = strcmp(op, "reopen") != 0;
    if (needs_manager && !s->m) return op_error("no manager is open (the last reopen failed)");

#define ARGS(count, usage)                                                           \
    if (n != (count) + 1) return op_error("usage: %s", usage)
#define NUM(i, var, what)                                                            \
    if (!mmrun_parse_u64(w[i], &var)) return op_error("%s '%s' is not a number", what, w[i])

    int err;
    if (strcmp(op, "grow") == 0) {
        ARGS(2, "grow ID PAGES");
        NUM(1, a, "ID");
        NUM(2, b, "PAGES");
        err = mm_grow(s->m, a > UINT32_MAX ? UINT32_MAX : (unsigned)a, b, &c);
        if (err) return mm_op_error(err);
        printf("%llu\n", (unsigned long long)c);
    } else if (strcmp(op, "size") == 0) {
        ARGS(1, "size ID");
        NUM(1, a, "ID");
        err = mm_size(s->m, a > UINT32_MAX ? UINT32_MAX : (unsigned)a, &c);
        if (err) return mm_op_error(err);
        printf("%llu\n", (unsigned long long)c);
    } else if (strcmp(op, "write") == 0) {
        ARGS(3, "write ID OFFSET HEX");
        NUM(1, a, "ID");
        NUM(2, b, "OFFSET");
        size_t hex_len = strlen(w[3]);
        if (hex_len % 2) return op_error("HEX '%s' has an odd number of digits", w[3]);
        uint8_t *bytes = malloc(hex_len / 2 + 1);
        if (!bytes) return op_error("out of memory");
        for (size_t i = 0; i < hex_len / 2; i++) {
            int hi = hex_digit(w[3][2 * i]), lo = hex_digit(w[3][2 * i + 1]);
            if (hi < 0 || lo < 0) {
                free(bytes);
                return op_error("HEX '%s' is not hexadecimal", w[3]);
            }
            bytes[i] = (uint8_t)(hi << 4 | lo);
        }
        err = mm_write(s->m, a > UINT32_MAX ? UINT32_MAX : (unsigned)a, b, bytes, hex_len / 2);
        free(bytes);
        if (err) return mm_op_error(err);
        puts("ok");
    } else if (strcmp(op, "read") == 0) {
        ARGS(3, "read ID OFFSET LEN");
        NUM(1, a, "ID");
        NUM(2, b, "OFFSET");
        NUM(3, c, "LEN");
        if (c > OPS_MAX_READ) return op_error("LEN %llu is over the limit of %u bytes per read",
                                              (unsigned long long)c, OPS_MAX_READ);
        uint8_t *bytes = malloc(c ? c : 1);
        if (!bytes) return op_error("out of memory");
        err = mm_read(s->m, a > UINT32_MAX ? UINT32_MAX : (unsigned)a, b, bytes, c);
        if (!err) {
            for (uint64_t i = 0; i < c; i++) printf("%02x", bytes[i]);
            putchar('\n');
        }
        free(bytes);
        if (err) return mm_op_error(err);
    } else if (strcmp(op, "free") == 0) {
        ARGS(1, "free ID");
        NUM(1, a, "ID");
        err = mm_free(s->m, a > UINT32_MAX ? UINT32_MAX : (unsigned)a);
        if (err) return mm_op_error(err);
        puts("ok");
    } else if (strcmp(op, "reopen") == 0) {
        ARGS(0, "reopen");
        if (s->m) session_close(s, true);
        err = session_open(s);
        if (err) return mm_op_error(err);
        puts("ok");
    } else if (strcmp(op, "check") == 0) {
        ARGS(0, "check");
        err = mm_check(s->m);
        if (err) return mm_op_error(err);
        puts("ok");
    } else if (strcmp(op, "stats") == 0) {
        ARGS(0, "stats");
        mm_stats st;
        mm_stats_get(s->m, &st);
        printf("memories_in_use=%u buckets_allocated=%llu buckets_in_use=%llu buckets_free=%llu "
               "buckets_meta=%llu linear_pages=%llu header_bytes=%llu header_bytes_written=%llu "
               "header_writes=%llu bucket_pages=%u\n",
               st.memories_in_use, (unsigned long long)st.buckets_allocated,
               (unsigned long long)st.buckets_in_use, (unsigned long long)st.buckets_free,
               (unsigned long long)st.buckets_meta, (unsigned long long)st.linear_pages,
               (unsigned long long)st.header_bytes, (unsigned long long)st.header_bytes_written,
               (unsigned long long)st.header_writes, mm_bucket_pages(s->m));
    } else {
        return op_error("unknown op '%s' (ops: grow size write read free reopen check stats)", op);
    }
    return 0;
#undef ARGS
#undef NUM
}

#define OPS_MAX_WORDS 8

static int cmd_ops(int argc, char **argv) {
    session s = {0};
    uint64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--design") == 0) {
            if (!(s.design = opt_value(argc, argv, &i))) return mmrun_usage("--design needs a name");
        } else if (strcmp(a, "--memory") == 0) {
            if (!(s.path = opt_value(argc, argv, &i))) return mmrun_usage("--memory needs a file");
        } else if (strcmp(a, "--bucket-pages") == 0) {
            const char *val = opt_value(argc, argv, &i);
            if (!mmrun_parse_u64(val, &v) || v < 1 || v > MM_MAX_BUCKET_PAGES)
                return mmrun_usage("--bucket-pages needs a number in 1..%u", MM_MAX_BUCKET_PAGES);
            s.bucket_pages = (uint32_t)v;
        } else if (strcmp(a, "--format") == 0) {
            s.flags |= MM_OPEN_FORMAT;
        } else {
            return mmrun_usage("ops: unknown option '%s'", a);
        }
    }
    if (!s.design) return mmrun_usage("ops needs --design (one of 'mmrun designs')");
    if (!mm_design_find(s.design)) return mmrun_usage("no design is named '%s'", s.design);

    int err = session_open(&s);
    if (err) {
        fprintf(stderr, "mmrun: cannot open %s: %s: %s\n", s.path ? s.path : "the RAM memory",
                mm_strerror(err), mm_error_detail());
        session_close(&s, false);
        return 1;
    }
    int failed = 0;
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        bool whole = len && line[len - 1] == '\n';
        if (!whole && !feof(stdin)) {
            /* Longer than a line may be: report it, skip the rest. */
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n') {
            }
            failed |= op_error("op line longer than %zu bytes", sizeof line - 2);
            fflush(stdout);
            continue;
        }
        char *w[OPS_MAX_WORDS + 1];
        int n = 0;
        for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
            if (n == 0 && tok[0] == '#') break; /* a comment line */
            if (n < OPS_MAX_WORDS + 1) w[n] = tok;
            n++;
        }
        if (n == 0) continue;
        if (n > OPS_MAX_WORDS)
            failed |= op_error("too many words on the op line");
        else
            failed |= run_op(&s, n, w);
        fflush(stdout);
    }
    session_close(&s, false);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------- */

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
} commands[] = {
    {"designs", cmd_designs, "mmrun designs", "list the registered designs"},
    {"ops", cmd_ops, "mmrun ops --design D [--memory FILE] [--bucket-pages N] [--format]",
     "run grow/size/write/read/free/reopen/check/stats ops read from standard input"},
    {"run", mmrun_cmd_run, "mmrun run --design D --workload W --n N [--seed S]",
     "run one standardized workload and print its result record as JSON"},
};

static void print_help(void) {
    puts("mmrun: the command line of mmfree, a persistent memory manager that can free.\n");
    puts("usage:");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-70s %s\n", commands[i].usage, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) return mmrun_usage("a command is needed");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help();
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    return mmrun_usage("unknown command '%s'", argv[1]);
}
