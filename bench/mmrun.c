/*
 * mmrun: the command line of mmfree, for humans, scripts, hyperfine and
 * callgrind.
 *
 *   mmrun designs [--json]              list the registered designs
 *   mmrun ops --design D [--memory F]   run ops read from standard input
 *   mmrun run --design D --workload W --n N [--seed S]
 *                                       run one standardized workload
 *   mmrun --help                        the commands, one line each
 *   mmrun COMMAND --help                one command: options, lists, examples
 *                                       (the command table below;
 *                                       man/mmrun.1 says the same)
 *   mmrun --version                     the versions of mmrun and libmmfree
 *
 * Options are entries of a table per command (mmrun_option): `--name VALUE`
 * and `--name=VALUE` both work. Exit status: 0 success, 1 an op or a run
 * failed, 2 a usage error.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include "mmrun.h"
#include "workloads.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(array) (sizeof(array) / sizeof(array)[0])

/* ------------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------- */

/* The command being run, so that a usage error names its own help. */
static const char *usage_command;

int mmrun_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mmrun%s%s: ", usage_command ? " " : "", usage_command ? usage_command : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try 'mmrun%s%s --help')\n", usage_command ? " " : "",
            usage_command ? usage_command : "");
    va_end(ap);
    return 2;
}

const char *mmrun_quote(const char *s) {
    static char buf[4][MM_QUOTE_BYTES];
    static unsigned next;
    return mm_quote_with(buf[next++ % 4], s, '\'');
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

int mmrun_parse_options(const mmrun_option *opts, int argc, char **argv, void *ctx) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const mmrun_option *o = NULL;
        for (const mmrun_option *p = opts; p->name && !o; p++)
            if (strlen(p->name) == len && strncmp(p->name, a, len) == 0) o = p;
        if (!o) {
            /* The name alone, cut past what a quote shows: "=VALUE" is not the option. */
            char name[MM_QUOTE_MAX + 2];
            size_t n = len < sizeof name - 1 ? len : sizeof name - 1;
            memcpy(name, a, n);
            name[n] = 0;
            return mmrun_usage("unknown option %s", mmrun_quote(name));
        }
        const char *value = NULL;
        if (o->value) {
            value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!value) return mmrun_usage("%s needs a value: %s %s", o->name, o->name, o->value);
        } else if (eq) {
            return mmrun_usage("%s takes no value, got %s", o->name, mmrun_quote(a));
        }
        if (o->set) {
            if (!o->set(ctx, value)) return 2;
        } else if (value) {
            *(const char **)((char *)ctx + o->at) = value;
        } else {
            *(unsigned *)((char *)ctx + o->at) |= o->bits;
        }
    }
    return 0;
}

size_t mmrun_join(char *buf, size_t size, size_t count, const char *(*name_of)(size_t),
                  const char *sep) {
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < count && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? sep : "", name_of(i));
    return len < size ? len : size;
}

static const char *design_name(size_t i) {
    return mm_design_get(i)->name;
}

const char *mmrun_design_names(bool with_none) {
    static char buf[1024];
    size_t len = mmrun_join(buf, sizeof buf, mm_design_count(), design_name, ", ");
    if (with_none && len < sizeof buf)
        snprintf(buf + len, sizeof buf - len, ", %s (raw only)", MM_WL_NO_DESIGN);
    return buf;
}

/* ------------------------------------------------------------------------
 * mmrun designs
 * ---------------------------------------------------------------------- */

static const mmrun_option designs_options[] = {
    {"--json", NULL,
     "print them as one JSON document instead (schema mmfree-designs/1: name, description, "
     "max_buckets, can_free, reads_v1, reuses_all), which make bench keeps as designs.json",
     .bits = 1},
    {0},
};

void mmrun_json_string(const char *s) {
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

static int cmd_designs(int argc, char **argv) {
    unsigned json = 0;
    int rc = mmrun_parse_options(designs_options, argc, argv, &json);
    if (rc) return rc;
    if (json) printf("{\"schema\": \"mmfree-designs/1\", \"designs\": [\n");
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        if (!json) {
            printf("%-10s %s\n", d->name, d->description);
            continue;
        }
        fputs(" {\"name\": ", stdout);
        mmrun_json_string(d->name);
        fputs(", \"description\": ", stdout);
        mmrun_json_string(d->description);
        printf(", \"max_buckets\": %llu, \"can_free\": %s, \"reads_v1\": %s, "
               "\"reuses_all\": %s}%s\n",
               (unsigned long long)d->max_buckets, d->flags & MM_DESIGN_CAN_FREE ? "true" : "false",
               d->flags & MM_DESIGN_READS_V1 ? "true" : "false",
               d->flags & MM_DESIGN_REUSES_ALL ? "true" : "false",
               i + 1 < mm_design_count() ? "," : "");
    }
    if (json) puts("]}");
    return 0;
}

/* ------------------------------------------------------------------------
 * mmrun ops
 * ---------------------------------------------------------------------- */

typedef struct session {
    const char *design;
    const char *path; /* NULL: RAM */
    uint32_t bucket_pages;
    unsigned flags;        /* mm_open's */
    unsigned memory_flags; /* mm_memory_file_open's */
    mm_memory *mem;
    mm *m;
} session;

static int session_open(session *s) {
    int err = s->mem ? MM_OK
              : s->path ? mm_memory_file_open(s->path, 0, s->memory_flags, &s->mem)
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

/* w[i] as a number; prints the error line otherwise. */
static bool op_number(char **w, int i, const char *what, uint64_t *out) {
    if (mmrun_parse_u64(w[i], out)) return true;
    op_error("%s %s is not a number", what, mmrun_quote(w[i]));
    return false;
}

/* w[1] as a memory id. The library refuses ids from 255 on; one that does
 * not even fit its argument is refused here, in the library's words, so
 * the message names the id as typed. */
static bool op_id(char **w, unsigned *id) {
    uint64_t v;
    if (!op_number(w, 1, "ID", &v)) return false;
    if (v > UINT32_MAX) {
        op_error("%s: memory id %llu is not in 0..%u", mm_strerror(MM_EINVAL),
                 (unsigned long long)v, MM_MAX_MEMORIES - 1);
        return false;
    }
    *id = (unsigned)v;
    return true;
}

static int op_grow(session *s, char **w) {
    unsigned id;
    uint64_t pages, old;
    if (!op_id(w, &id) || !op_number(w, 2, "PAGES", &pages)) return 1;
    int err = mm_grow(s->m, id, pages, &old);
    if (err) return mm_op_error(err);
    printf("%llu\n", (unsigned long long)old);
    return 0;
}

static int op_size(session *s, char **w) {
    unsigned id;
    uint64_t pages;
    if (!op_id(w, &id)) return 1;
    int err = mm_size(s->m, id, &pages);
    if (err) return mm_op_error(err);
    printf("%llu\n", (unsigned long long)pages);
    return 0;
}

static int op_write(session *s, char **w) {
    unsigned id;
    uint64_t off;
    if (!op_id(w, &id) || !op_number(w, 2, "OFFSET", &off)) return 1;
    size_t hex_len = strlen(w[3]);
    if (hex_len % 2) return op_error("HEX %s has an odd number of digits", mmrun_quote(w[3]));
    uint8_t *bytes = malloc(hex_len / 2 + 1);
    if (!bytes) return op_error("out of memory");
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = hex_digit(w[3][2 * i]), lo = hex_digit(w[3][2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(bytes);
            return op_error("HEX %s is not hexadecimal", mmrun_quote(w[3]));
        }
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    int err = mm_write(s->m, id, off, bytes, hex_len / 2);
    free(bytes);
    if (err) return mm_op_error(err);
    puts("ok");
    return 0;
}

static int op_read(session *s, char **w) {
    unsigned id;
    uint64_t off, len;
    if (!op_id(w, &id) || !op_number(w, 2, "OFFSET", &off) || !op_number(w, 3, "LEN", &len))
        return 1;
    if (len > OPS_MAX_READ)
        return op_error("LEN %llu is over the limit of %u bytes per read", (unsigned long long)len,
                        OPS_MAX_READ);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes) return op_error("out of memory");
    int err = mm_read(s->m, id, off, bytes, len);
    if (!err) {
        for (uint64_t i = 0; i < len; i++) printf("%02x", bytes[i]);
        putchar('\n');
    }
    free(bytes);
    return err ? mm_op_error(err) : 0;
}

static int op_free(session *s, char **w) {
    unsigned id;
    if (!op_id(w, &id)) return 1;
    int err = mm_free(s->m, id);
    if (err) return mm_op_error(err);
    puts("ok");
    return 0;
}

static int op_reopen(session *s, char **w) {
    (void)w;
    if (s->m) session_close(s, true);
    int err = session_open(s);
    if (err) return mm_op_error(err);
    puts("ok");
    return 0;
}

static int op_check(session *s, char **w) {
    (void)w;
    int err = mm_check(s->m);
    if (err) return mm_op_error(err);
    puts("ok");
    return 0;
}

static int op_stats(session *s, char **w) {
    (void)w;
    mm_stats st;
    mm_stats_get(s->m, &st);
    printf("memories_in_use=%u buckets_allocated=%llu buckets_in_use=%llu buckets_free=%llu "
           "buckets_meta=%llu linear_pages=%llu header_bytes=%llu header_bytes_written=%llu "
           "header_writes=%llu bucket_pages=%u heap_bytes=%llu\n",
           st.memories_in_use, (unsigned long long)st.buckets_allocated,
           (unsigned long long)st.buckets_in_use, (unsigned long long)st.buckets_free,
           (unsigned long long)st.buckets_meta, (unsigned long long)st.linear_pages,
           (unsigned long long)st.header_bytes, (unsigned long long)st.header_bytes_written,
           (unsigned long long)st.header_writes, mm_bucket_pages(s->m),
           (unsigned long long)st.heap_bytes);
    return 0;
}

/* The ops, in the order --help and the unknown-op error list them. */
static const struct op {
    const char *name;
    const char *args; /* the words after the name, as usage errors show them */
    bool needs_manager;
    const char *summary;
    int (*run)(session *s, char **w);
} ops[] = {
    {"grow", "ID PAGES", true,
     "grows memory ID (0..254) by PAGES pages, which read as zero; prints the size before",
     op_grow},
    {"size", "ID", true, "prints the size of memory ID in pages", op_size},
    {"write", "ID OFFSET HEX", true,
     "writes the bytes spelled by HEX (two digits a byte) at byte OFFSET of memory ID; "
     "prints ok",
     op_write},
    {"read", "ID OFFSET LEN", true,
     "prints LEN bytes (at most 1 MiB) at byte OFFSET of memory ID, in hex", op_read},
    {"free", "ID", true,
     "frees memory ID: its size becomes 0 and its buckets go to later grows; prints ok "
     "(MM_ENOTSUP on a design that cannot free, as v1)",
     op_free},
    {"reopen", "", false,
     "closes the manager and opens it again on the same memory, as a new process would; "
     "prints ok",
     op_reopen},
    {"check", "", true, "walks every invariant of the layout; prints ok", op_check},
    {"stats", "", true,
     "prints the manager's counters as key=value pairs (memories_in_use, buckets_allocated, "
     "buckets_in_use, buckets_free, buckets_meta, linear_pages, header_bytes, "
     "header_bytes_written, header_writes, bucket_pages, heap_bytes)",
     op_stats},
};

#define NOPS COUNT(ops)

static int word_count(const char *s) {
    int n = 0;
    for (bool in_word = false; *s; s++) {
        if (*s != ' ' && !in_word) n++;
        in_word = *s != ' ';
    }
    return n;
}

static const char *op_name(size_t i) {
    return ops[i].name;
}

/* "grow size ...": every op name, for the unknown-op error. */
static const char *op_names(void) {
    static char buf[128];
    if (!buf[0]) mmrun_join(buf, sizeof buf, NOPS, op_name, " ");
    return buf;
}

/* Runs one op line (already split into words); prints its one line. */
static int run_op(session *s, int n, char **w) {
    const struct op *op = NULL;
    for (size_t i = 0; i < NOPS && !op; i++)
        if (strcmp(w[0], ops[i].name) == 0) op = &ops[i];
    if ((!op || op->needs_manager) && !s->m)
        return op_error("no manager is open (the last reopen failed)");
    if (!op) return op_error("unknown op %s (ops: %s)", mmrun_quote(w[0]), op_names());
    if (n != word_count(op->args) + 1)
        return op_error("usage: %s%s%s", op->name, *op->args ? " " : "", op->args);
    return op->run(s, w);
}

#define OPS_MAX_WORDS 8

static bool set_design(void *ctx, const char *value) {
    session *s = ctx;
    s->design = value;
    if (mm_design_find(value)) return true;
    mmrun_usage("no design is named %s (designs: %s)", mmrun_quote(value),
                mmrun_design_names(false));
    return false;
}

static bool set_bucket_pages(void *ctx, const char *value) {
    uint64_t v;
    if (!mmrun_parse_u64(value, &v) || v < 1 || v > MM_MAX_BUCKET_PAGES) {
        mmrun_usage("--bucket-pages needs a number in 1..%u, not %s", MM_MAX_BUCKET_PAGES,
                    mmrun_quote(value));
        return false;
    }
    ((session *)ctx)->bucket_pages = (uint32_t)v;
    return true;
}

static const mmrun_option ops_options[] = {
    {"--design", "D", "the design to open (required)", .set = set_design},
    {"--memory", "FILE",
     "a linear memory backed by FILE, created when missing; without it the memory is in RAM, "
     "kept across reopen and gone at exit",
     .at = offsetof(session, path)},
    {"--bucket-pages", "N",
     "pages per bucket, 1..65535, when formatting (default 128); a loaded layout must have "
     "the same size (MM_EBUCKET_SIZE)",
     .set = set_bucket_pages},
    {"--format", NULL, "format the memory even if it holds data, which is lost",
     .at = offsetof(session, flags), .bits = MM_OPEN_FORMAT},
    {"--sync", NULL,
     "durable mode (MM_OPEN_SYNC): each grow, free, format and upgrade is on the disk when "
     "its line is printed, and a power loss leaves the state before or after each",
     .at = offsetof(session, flags), .bits = MM_OPEN_SYNC},
    {"--upgrade", NULL,
     "upgrade a V1 memory in place to D (a design that reads V1); v1 cannot open it "
     "afterwards. Without it such a memory is refused (MM_EWRONG_DESIGN)",
     .at = offsetof(session, flags), .bits = MM_OPEN_UPGRADE},
    {"--read-only", NULL,
     "open FILE read-only, under a shared lock beside other --read-only runs: size, read, "
     "check and stats work, every change fails with MM_EREADONLY; works on a file without "
     "write permission",
     .at = offsetof(session, memory_flags), .bits = MM_OPEN_READONLY},
    {0},
};

static int cmd_ops(int argc, char **argv) {
    session s = {0};
    int rc = mmrun_parse_options(ops_options, argc, argv, &s);
    if (rc) return rc;
    if (!s.design) return mmrun_usage("--design is needed (designs: %s)", mmrun_design_names(false));
    if ((s.memory_flags & MM_OPEN_READONLY) && !s.path)
        return mmrun_usage("--read-only needs --memory FILE");
    if ((s.memory_flags & MM_OPEN_READONLY) && (s.flags & (MM_OPEN_FORMAT | MM_OPEN_UPGRADE)))
        return mmrun_usage("--read-only cannot --format or --upgrade: both write the file");

    int err = session_open(&s);
    if (err) {
        fprintf(stderr, "mmrun: cannot open %s: %s: %s\n",
                s.path ? mmrun_quote(s.path) : "the RAM memory", mm_strerror(err),
                mm_error_detail());
        session_close(&s, false);
        return 1;
    }
    int failed = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) != -1) {
        if (strlen(line) != (size_t)got) {
            /* Text stops at the NUL; the op would be run cut short. */
            failed |= op_error("op line holds a NUL byte");
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
    free(line);
    if (ferror(stdin)) failed |= op_error("cannot read the ops: %s", strerror(errno));
    session_close(&s, false);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Help: `mmrun --help` fits one screen (the commands, one line each);
 * `mmrun COMMAND --help` says the rest about one command.
 * tests/cli/test-help.sh runs every example and checks that the option
 * tables, the help and man/mmrun.1 name the same things.
 * ---------------------------------------------------------------------- */

#define HELP_WIDTH 79

/* Prints text wrapped to HELP_WIDTH, starting at column col (already
 * printed); wrapped lines are indented to indent. A '\n' in text ends a
 * line. */
static void print_wrapped(const char *text, int col, int indent) {
    bool line_empty = true;
    while (*text) {
        if (*text == '\n') {
            putchar('\n');
            text++;
            col = 0;
            line_empty = true;
            if (*text && *text != '\n') col = printf("%*s", indent, "");
            continue;
        }
        if (*text == ' ') {
            text++;
            continue;
        }
        int len = (int)strcspn(text, " \n");
        if (!line_empty && col + 1 + len > HELP_WIDTH) {
            col = printf("\n%*s", indent, "") - 1;
            line_empty = true;
        }
        if (!line_empty) col += printf(" ");
        col += printf("%.*s", len, text);
        text += len;
        line_empty = false;
    }
    putchar('\n');
}

/* "  NAME  text", the text wrapped in a column of its own. */
static void print_item(const char *name, const char *text, int width) {
    int col = printf("  %-*s ", width, name);
    print_wrapped(text, col, 2 + width + 1);
}

static void print_designs(bool with_none) {
    puts("\ndesigns (--design):");
    for (size_t i = 0; i < mm_design_count(); i++)
        print_item(mm_design_get(i)->name, mm_design_get(i)->description, 10);
    if (with_none)
        print_item(MM_WL_NO_DESIGN, "no manager: a bare linear memory, for workload raw", 10);
}

static void list_for_ops(void) {
    print_designs(false);
    puts("\nops (one per line on standard input):");
    for (size_t i = 0; i < NOPS; i++) {
        char usage[64];
        snprintf(usage, sizeof usage, "%s %s", ops[i].name, ops[i].args);
        print_item(usage, ops[i].summary, 20);
    }
    print_wrapped("\nBlank lines and lines starting with '#' are skipped. A failed op prints "
                  "'error: MM_ECODE: detail' instead of its line, and the run goes on; the exit "
                  "status is then 1.",
                  0, 0);
}

static void list_for_run(void) {
    print_designs(true);
    puts("\nworkloads (--workload), with their measured phases:");
    for (size_t i = 0; i < mm_workload_count(); i++) {
        const mm_workload *w = mm_workload_get(i);
        char text[512];
        int len = snprintf(text, sizeof text, "%s (phases:", w->summary);
        for (unsigned p = 0; p < w->nphases && len < (int)sizeof text; p++)
            len += snprintf(text + len, sizeof text - (size_t)len, " %s", w->phases[p]);
        if (len < (int)sizeof text) snprintf(text + len, sizeof text - (size_t)len, ")");
        print_item(w->name, text, 15);
    }
    printf("\nN is a whole number in 1..%llu.\n", MM_WL_MAX_N);
}

/* Every command, with its help: the one list of them. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line of `mmrun --help` */
    const char *usage[3];
    const char *about;
    const mmrun_option *options;
    void (*print_lists)(void); /* the names its options and input take */
    const char *examples[4];   /* shell command lines, run by the help test */
} commands[] = {
    {"designs",
     cmd_designs,
     "list the registered designs",
     {"mmrun designs [--json]"},
     "Prints one line per design, in registry order: its name (what --design takes), then "
     "a one-line description.",
     designs_options,
     NULL,
     {"mmrun designs", "mmrun designs --json"}},
    {"ops",
     cmd_ops,
     "run grow, size, write, read, free, reopen, check and stats ops from standard input",
     {"mmrun ops --design D [--memory FILE] [--bucket-pages N] [--format]",
      "          [--sync] [--upgrade] [--read-only] < OPS"},
     "Opens a manager of design D over a linear memory and runs the ops read from standard "
     "input, one per line, printing one line for each. An empty memory is formatted; a "
     "memory that holds D's layout is loaded with its stored bucket size (a V1 layout only "
     "with --upgrade, which converts it in place for the designs that read V1); anything "
     "else is refused with exit status 1 and left untouched, unless --format. A file is "
     "locked while it is open: a second mmrun on it fails at once with MM_EBUSY, unless "
     "both are --read-only.",
     ops_options,
     list_for_ops,
     {"printf 'grow 0 1\\ngrow 1 2\\nwrite 1 65535 cafe\\nfree 0\\nreopen\\nsize 0\\n"
      "read 1 65535 2\\ngrow 2 1\\nstats\\n' | mmrun ops --design list --memory demo.mem",
      "echo 'grow 7 3' | mmrun ops --design=v1 --bucket-pages=1"}},
    {"run",
     mmrun_cmd_run,
     "run one standardized workload and print its result record as JSON",
     {"mmrun run --design D[,D...] --workload W[,W...] --n N[,N...] [--seed S]",
      "mmrun run --count-dirty --design D --workload W --n N [--seed S]",
      "mmrun run --list [--n N[,N...]]"},
     "Runs workload W at size N on a fresh RAM memory with a manager of design D, checks its "
     "effect, and prints one JSON line: the result record (ops, buckets_new, buckets_reused, "
     "pages_end, header_bytes_written) and, for each measured phase, its key "
     "workload.phase/design/N, its ops, its wall-clock time per op in ns (ns_per_op, "
     "one run: make bench times the repetitions) and its space figures (pages_end, "
     "header_bytes_written, heap_bytes; dirty_pages with --count-dirty). A design that "
     "cannot run the workload gets status \"n/a\" and the reason, with exit status 0; a "
     "failed run (an error or a failed self-check) gets status \"failed\" and exit "
     "status 1. --design, --workload and --n also take comma-separated lists: every "
     "combination then runs in a child process of its own, one line each (workload raw "
     "only with design none).\n\n"
     "Under callgrind (valgrind --tool=callgrind --collect-atstart=no --instr-atstart=no) "
     "only the measured phases are counted, each dumped under its key; setup and the clock "
     "reads are not.",
     mmrun_run_options,
     list_for_run,
     {"mmrun run --design list --workload free_regrow --n 1024",
      "mmrun run --design=v1,list --workload=grow_pages --n=1024,4096",
      "mmrun run --list --n 1024"}},
};

#define NCOMMANDS COUNT(commands)

static void print_command_help(const struct command *c) {
    print_wrapped(c->summary, printf("mmrun %s: ", c->name), 2);
    putchar('\n');
    for (size_t i = 0; i < COUNT(c->usage) && c->usage[i]; i++)
        printf("%s%s\n", i ? "       " : "usage: ", c->usage[i]);
    putchar('\n');
    print_wrapped(c->about, 0, 0);
    if (c->options[0].name) puts("\noptions (--name VALUE or --name=VALUE):");
    for (const mmrun_option *o = c->options; o->name; o++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", o->name, o->value ? " " : "",
                 o->value ? o->value : "");
        print_item(name, o->help, 20);
    }
    if (c->print_lists) c->print_lists();
    printf("\nexample%s:\n", c->examples[1] ? "s" : "");
    for (size_t i = 0; i < COUNT(c->examples) && c->examples[i]; i++)
        printf("  $ %s\n", c->examples[i]);
}

static void print_help(void) {
    puts("mmrun: the command line of mmfree, a persistent memory manager that can free.\n");
    puts("usage: mmrun COMMAND [OPTION...]\n"
         "       mmrun COMMAND --help     the command's options, lists and examples\n"
         "       mmrun --version\n\ncommands:");
    for (size_t i = 0; i < NCOMMANDS; i++) print_item(commands[i].name, commands[i].summary, 8);
    print_wrapped("\nOptions take their value as --name VALUE or --name=VALUE. Exit status: 0 "
                  "success, 1 an op or a run failed, 2 a usage error (one line on standard "
                  "error). man mmrun says everything on one page.",
                  0, 0);
}

static const char *command_name(size_t i) {
    return commands[i].name;
}

/* "designs, ops, run": every command, for the errors that want one. */
static const char *command_names(void) {
    static char buf[128];
    mmrun_join(buf, sizeof buf, NCOMMANDS, command_name, ", ");
    return buf;
}

static bool is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return mmrun_usage("a command is needed (commands: %s)", command_names());
    if (is_help(argv[1])) {
        if (argc > 2) return mmrun_usage("--help goes after the command: mmrun %s --help", argv[2]);
        print_help();
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (argc > 2) return mmrun_usage("--version takes no arguments");
        int major, minor, patch;
        mm_version(&major, &minor, &patch);
        printf("mmrun %d.%d.%d (libmmfree %d.%d.%d)\n", MMFREE_VERSION_MAJOR,
               MMFREE_VERSION_MINOR, MMFREE_VERSION_PATCH, major, minor, patch);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        usage_command = commands[i].name;
        for (int j = 2; j < argc; j++)
            if (is_help(argv[j])) {
                print_command_help(&commands[i]);
                return 0;
            }
        return commands[i].run(argc - 1, argv + 1);
    }
    if (argv[1][0] == '-') return mmrun_usage("unknown option %s", mmrun_quote(argv[1]));
    return mmrun_usage("unknown command %s (commands: %s)", mmrun_quote(argv[1]),
                       command_names());
}
