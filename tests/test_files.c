/*
 * File memories shared between handles and processes, and what their
 * errors say: one writer per file (any other opener, in this process or
 * another, gets MM_EBUSY at once and changes nothing), read-only openers
 * side by side under a shared lock (every change refused with
 * MM_EREADONLY, on a file without write permission too), system errors in
 * words, and bad tokens echoed short and escaped.
 */
#define _GNU_SOURCE
#include "test_core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)

/* A file memory formatted by design with one-page buckets: memory 0 of 2
 * pages, memory 3 of 1 page holding "kept" at byte 10. Closed again. */
static void make_file(char path[64], const char *design) {
    tc_temp_file(path);
    mm_memory *mem;
    mm *m;
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_open(mem, design, 1, 0, &m));
    OK(mm_grow(m, 0, 2, NULL));
    OK(mm_grow(m, 3, 1, NULL));
    OK(mm_write(m, 3, 10, "kept", 4));
    mm_close(m);
    mm_memory_close(mem);
}

/* What make_file stored, read through m. */
static void assert_kept(mm *m) {
    uint64_t size;
    char text[5] = {0};
    OK(mm_size(m, 0, &size));
    cr_assert_eq(size, 2);
    OK(mm_size(m, 3, &size));
    cr_assert_eq(size, 1);
    OK(mm_read(m, 3, 10, text, 4));
    cr_assert_str_eq(text, "kept");
    OK(mm_check(m));
}

/* ------------------------------------------------------------------------
 * One writer per file
 * ---------------------------------------------------------------------- */

Test(files, one_writer_per_file_in_one_process) {
    char path[64];
    make_file(path, "hbitmap15");
    size_t len;
    uint8_t *before = tc_slurp(path, &len);
    mm_memory *w, *other = NULL;
    OK(mm_memory_file(path, 0, &w));
    FAILS_WITH(mm_memory_file(path, 0, &other), MM_EBUSY, path, "one writer");
    FAILS_WITH(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &other), MM_EBUSY, path,
               "for writing");
    cr_assert_null(other);
    cr_assert(strncmp(mm_strerror(MM_EBUSY), "MM_EBUSY:", 9) == 0);
    /* The writer is unaffected by the refusals. */
    mm *m;
    OK(mm_open(w, "hbitmap15", 0, 0, &m));
    assert_kept(m);
    mm_close(m);
    mm_memory_close(w);
    tc_assert_file(path, before, len, "after refused openers");

    /* Readers share the file, and keep a writer out until the last leaves. */
    mm_memory *r1, *r2;
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &r1));
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &r2));
    FAILS_WITH(mm_memory_file(path, 0, &other), MM_EBUSY, path);
    mm_memory_close(r1);
    FAILS_WITH(mm_memory_file(path, 0, &other), MM_EBUSY, path);
    mm_memory_close(r2);
    OK(mm_memory_file(path, 0, &w));
    mm_memory_close(w);
    tc_assert_file(path, before, len, "after readers");
    free(before);
    unlink(path);
}

/* A child process that holds path open (with flags) until release(). */
typedef struct holder {
    pid_t pid;
    int go; /* closing it lets the child close the file and exit */
} holder;

static holder hold_file(const char *path, unsigned flags) {
    int ready[2], go[2];
    cr_assert(pipe(ready) == 0 && pipe(go) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        mm_memory *mem = NULL;
        char opened = mm_memory_file_open(path, 0, flags, &mem) == MM_OK ? 'y' : 'n';
        char c;
        if (write(ready[1], &opened, 1) == 1) (void)!read(go[0], &c, 1);
        mm_memory_close(mem);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char opened = 0;
    cr_assert_eq(read(ready[0], &opened, 1), 1, "the child died");
    close(ready[0]);
    cr_assert_eq(opened, 'y', "the child could not open %s", path);
    return (holder){pid, go[1]};
}

static void release(holder h) {
    close(h.go);
    int status;
    cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(files, one_writer_per_file_across_processes) {
    char path[64];
    make_file(path, "list");
    size_t len;
    uint8_t *before = tc_slurp(path, &len);
    /* A lock that waited for its holder would hang here: every refusal
     * below comes at once, or SIGALRM ends the test. */
    alarm(60);
    mm_memory *mem = NULL;

    holder h = hold_file(path, 0);
    FAILS_WITH(mm_memory_file(path, 0, &mem), MM_EBUSY, path);
    FAILS_WITH(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem), MM_EBUSY, path);
    release(h);

    /* A read-only opener beside another process's read-only opener. */
    h = hold_file(path, MM_OPEN_READONLY);
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    mm *m;
    OK(mm_open(mem, "list", 0, 0, &m));
    assert_kept(m);
    mm_memory *w = NULL;
    FAILS_WITH(mm_memory_file(path, 0, &w), MM_EBUSY, path);
    mm_close(m);
    mm_memory_close(mem);
    FAILS_WITH(mm_memory_file(path, 0, &w), MM_EBUSY, path); /* the child still reads */
    release(h);

    /* This process writes: the child is refused. */
    OK(mm_memory_file(path, 0, &w));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        mm_memory *c = NULL;
        int a = mm_memory_file(path, 0, &c), b = mm_memory_file_open(path, 0, MM_OPEN_READONLY, &c);
        _exit(a == MM_EBUSY && b == MM_EBUSY ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a child opened a file this process writes");
    mm_memory_close(w);
    alarm(0);
    tc_assert_file(path, before, len, "after refused openers in other processes");
    free(before);
    unlink(path);
}

/* ------------------------------------------------------------------------
 * Read-only openers
 * ---------------------------------------------------------------------- */

/* As a user without write permission on path (a child that drops root,
 * when the tests run as root, for root may write any file): a writer is
 * refused and told how to read the file; a read-only opener loads it. */
static void assert_permission_respected(const char *path, const char *design) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) _exit(2);
        mm_memory *mem = NULL;
        mm *m = NULL;
        int err = mm_memory_file(path, 0, &mem);
        if (err != MM_EIO || !strstr(mm_error_detail(), strerror(EACCES)) ||
            !strstr(mm_error_detail(), "MM_OPEN_READONLY"))
            _exit(3);
        if (mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem) ||
            mm_open(mem, design, 0, 0, &m) || mm_check(m))
            _exit(4);
        mm_close(m);
        mm_memory_close(mem);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "without write permission: child exit %d (2: cannot drop root, 3: a writer was "
              "not refused with EACCES and the hint, 4: a read-only opener failed)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

DESIGN_TEST(files, read_only_manager_refuses_every_change, 0) {
    const char *design = THIS_DESIGN->name;
    char path[64];
    make_file(path, design);
    cr_assert(chmod(path, 0444) == 0);
    size_t len;
    uint8_t *before = tc_slurp(path, &len);
    mm_memory *mem;
    mm *m;
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    OK(mm_open(mem, design, 0, 0, &m));
    assert_kept(m);
    mm_stats st;
    OK(mm_stats_get(m, &st));
    cr_assert_eq(st.memories_in_use, 2);

    FAILS_WITH(mm_grow(m, 3, 1, NULL), MM_EREADONLY, "read-only");
    FAILS_WITH(mm_grow(m, 7, 1, NULL), MM_EREADONLY, "MM_OPEN_READONLY");
    FAILS_WITH(mm_write(m, 3, 10, "lost", 4), MM_EREADONLY, path, "read-only");
    if (THIS_DESIGN->flags & MM_DESIGN_CAN_FREE)
        FAILS_WITH(mm_free(m, 3), MM_EREADONLY, "read-only");
    else
        FAILS(mm_free(m, 3), MM_ENOTSUP);
    FAILS_WITH(mm_memory_write(mem, 0, "x", 1), MM_EREADONLY, path);
    FAILS_WITH(mm_memory_discard(mem, 1, 1), MM_EREADONLY, path);
    assert_kept(m);
    mm_close(m);
    FAILS_WITH(mm_memory_grow(mem, 1, NULL), MM_EREADONLY, path);
    FAILS_WITH(mm_open(mem, design, 0, MM_OPEN_FORMAT, &m), MM_EREADONLY, "MM_OPEN_FORMAT");
    /* The refusals change nothing of the handle: it still opens. */
    OK(mm_open(mem, design, 0, 0, &m));
    assert_kept(m);
    mm_close(m);
    mm_memory_close(mem);
    tc_assert_file(path, before, len, "a read-only manager");
    assert_permission_respected(path, design);
    free(before);
    unlink(path);
}

/* A memory over a read-only file (the fault injector, the dirty-page
 * counter) is read-only too: its manager refuses a change as read-only
 * each time. A grow within the last bucket writes only the header: were
 * the wrapper taken for writable, its refused write would break the
 * handle, and the next change would be refused as broken. */
DESIGN_TEST(files, a_memory_over_a_read_only_file_is_read_only, 0) {
    const char *design = THIS_DESIGN->name;
    char path[64];
    tc_temp_file(path);
    mm_memory *file, *mem;
    mm *m;
    OK(mm_memory_file(path, 0, &file));
    OK(mm_open(file, design, 2, 0, &m));
    OK(mm_grow(m, 3, 1, NULL));
    mm_close(m);
    mm_memory_close(file);
    size_t len;
    uint8_t *before = tc_slurp(path, &len);
    for (int k = 0; k < 2; k++) {
        OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &file));
        OK(k ? mm_memory_dirty_counter(file, &mem) : mm_memory_faulty(file, NULL, &mem));
        OK(mm_open(mem, design, 0, 0, &m));
        for (int again = 0; again < 2; again++)
            FAILS_WITH(mm_grow(m, 3, 1, NULL), MM_EREADONLY, "read-only");
        uint64_t size;
        OK(mm_size(m, 3, &size));
        cr_assert_eq(size, 1);
        mm_close(m);
        FAILS(mm_memory_grow(mem, 1, NULL), MM_EREADONLY);
        mm_memory_close(mem);
        mm_memory_close(file);
    }
    tc_assert_file(path, before, len, "a read-only file under a wrapper");
    free(before);
    unlink(path);
}

Test(files, read_only_open_refuses_what_would_write) {
    char path[64], missing[80];
    mm_memory *mem;
    mm *m = NULL;
    /* A missing file is not created. */
    tc_temp_file(path);
    snprintf(missing, sizeof missing, "%s-missing", path);
    FAILS_WITH(mm_memory_file_open(missing, 0, MM_OPEN_READONLY, &mem), MM_EIO, missing,
               "read-only", strerror(ENOENT));
    cr_assert(access(missing, F_OK) != 0, "a read-only open created %s", missing);
    /* An empty file has nothing to load and may not be formatted. */
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    FAILS_WITH(mm_open(mem, "list", 1, 0, &m), MM_EREADONLY, "empty");
    cr_assert_null(m);
    mm_memory_close(mem);
    size_t len;
    free(tc_slurp(path, &len));
    cr_assert_eq(len, 0);
    unlink(path);

    /* A V1 file: v1 reads it; an upgrade would write, with the flag or without. */
    make_file(path, "v1");
    uint8_t *before = tc_slurp(path, &len);
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    FAILS_WITH(mm_open(mem, "list", 0, 0, &m), MM_EWRONG_DESIGN, "V1", "MM_OPEN_UPGRADE");
    FAILS_WITH(mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m), MM_EREADONLY, "V1", "list");
    OK(mm_open(mem, "v1", 0, 0, &m));
    assert_kept(m);
    mm_close(m);
    mm_memory_close(mem);
    tc_assert_file(path, before, len, "a V1 file opened read-only");
    free(before);

    /* Each flag goes to the call it belongs to. */
    FAILS_WITH(mm_memory_file_open(path, 0, MM_OPEN_FORMAT, &mem), MM_EINVAL, "MM_OPEN_READONLY");
    FAILS_WITH(mm_memory_file_open(path, 0, MM_OPEN_UPGRADE, &mem), MM_EINVAL, "mm_open");
    FAILS_WITH(mm_memory_file_open(path, 0, MM_OPEN_SYNC, &mem), MM_EINVAL, "MM_OPEN_SYNC",
               "mm_open");
    FAILS(mm_memory_file_open(NULL, 0, MM_OPEN_READONLY, &mem), MM_EINVAL);
    OK(mm_memory_ram(0, &mem));
    m = NULL;
    FAILS_WITH(mm_open(mem, "v1", 0, MM_OPEN_READONLY, &m), MM_EINVAL, "mm_memory_file_open");
    cr_assert_null(m);
    mm_memory_close(mem);
    unlink(path);
}

/* Writes bytes at off of the file at path, as a crash left them. */
static void poke_file(const char *path, uint64_t off, const void *bytes, size_t len) {
    mm_memory *mem;
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_memory_write(mem, off, bytes, len));
    mm_memory_close(mem);
}

/* make_file's V1 memory (one-page buckets 0 and 1 of memory 0, 2 of memory
 * 3, a count of 3) with what crashes leave (layout_v1.c, "Crashes"): a grow
 * of memory 3 cut short before its size (the count 4 and bucket 3's owner
 * byte landed) and, from a durable grow, an owner byte far past the count.
 * A read-only open writes no repair back: it serves the state the repair
 * gives, mm_check compares the header as the repair leaves it, and the
 * file stays as it was; a writer's open then repairs it. */
Test(files, read_only_open_of_a_crashed_v1_file) {
    static const char *const designs[] = {"v1", "v1reclaim"};
    for (int k = 0; k < 2; k++) {
        const char *design = designs[k];
        bool trims = k == 0; /* v1 never reuses a bucket: it lowers the count */
        tu_use_design(design);
        char path[64];
        make_file(path, design);
        const uint8_t count[2] = {4, 0}, memory3 = 3, memory0 = 0;
        mm_memory *grown;
        OK(mm_memory_file(path, 0, &grown)); /* a grow grows the memory first */
        OK(mm_memory_grow(grown, 1, NULL));
        mm_memory_close(grown);
        poke_file(path, 4, count, 2);
        poke_file(path, 2080 + 3, &memory3, 1);
        poke_file(path, 2080 + 10, &memory0, 1);
        size_t len;
        uint8_t *crashed = tc_slurp(path, &len);
        for (int round = 0; round < 2; round++) {
            mm_memory *mem;
            mm *m;
            OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
            FAILS_WITH(mm_open(mem, "list", 0, 0, &m), MM_EWRONG_DESIGN, "V1");
            FAILS_WITH(mm_open(mem, "list", 0, MM_OPEN_UPGRADE, &m), MM_EREADONLY, "V1");
            OK(mm_open(mem, design, 0, MM_OPEN_SYNC, &m)); /* nothing to order */
            assert_kept(m);
            mm_stats st;
            OK(mm_stats_get(m, &st));
            cr_assert_eq(st.buckets_allocated, trims ? 3 : 4, "[%s] round %d", design, round);
            cr_assert_eq(st.buckets_free, trims ? 0 : 1, "[%s] round %d", design, round);
            FAILS(mm_grow(m, 3, 1, NULL), MM_EREADONLY);
            mm_close(m);
            mm_memory_close(mem);
            if (round == 0) {
                tc_assert_file(path, crashed, len, "a read-only open of a crashed V1 file");
                /* A writer repairs it: the file changes, the state does not. */
                OK(mm_memory_file(path, 0, &mem));
                OK(mm_open(mem, design, 0, 0, &m));
                assert_kept(m);
                mm_close(m);
                mm_memory_close(mem);
                size_t now_len;
                uint8_t *now = tc_slurp(path, &now_len);
                cr_assert(now_len == len && memcmp(now, crashed, len) != 0,
                          "[%s] the writer's open repaired nothing", design);
                cr_assert_eq(now[2080 + 3], 255);
                cr_assert_eq(now[2080 + 10], 255);
                cr_assert_eq(now[4], trims ? 3 : 4);
                free(now);
            }
        }
        free(crashed);
        unlink(path);
    }
}

/* A file whose first format a crash cut short (its grow landed, its header
 * did not) holds only zeros: a writer formats it again, a read-only open
 * refuses and leaves it. */
Test(files, read_only_open_of_an_all_zero_file) {
    char path[64];
    tc_temp_file(path);
    mm_memory *mem;
    mm *m = NULL;
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_memory_grow(mem, 2, NULL));
    mm_memory_close(mem);
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    FAILS_WITH(mm_open(mem, "hbitmap15", 1, 0, &m), MM_EREADONLY, "only zeros", "format");
    cr_assert_null(m);
    mm_memory_close(mem);
    size_t len;
    uint8_t *bytes = tc_slurp(path, &len);
    cr_assert_eq(len, 2 * PAGE);
    for (size_t i = 0; i < len; i++) cr_assert_eq(bytes[i], 0, "byte %zu", i);
    free(bytes);
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_open(mem, "hbitmap15", 1, 0, &m));
    OK(mm_check(m));
    mm_close(m);
    mm_memory_close(mem);
    unlink(path);
}

/* An upgrade to list cut short after its journal's commit (the third
 * write fails): a read-only open neither completes it (list) nor rolls it
 * back (v1), and says how to; another design cannot do either, asked to
 * upgrade or not. A writer's open with list completes it unasked: the
 * upgrade was asked for when it began. */
Test(files, read_only_open_of_an_interrupted_upgrade) {
    char path[64];
    make_file(path, "v1");
    mm_memory *file, *faulty;
    mm *m = NULL;
    OK(mm_memory_file(path, 0, &file));
    mm_fault_plan plan = {.fail_write_at = 3};
    OK(mm_memory_faulty(file, &plan, &faulty));
    FAILS(mm_open(faulty, "list", 0, MM_OPEN_UPGRADE, &m), MM_EIO);
    mm_memory_close(faulty);
    mm_memory_close(file);
    size_t len;
    uint8_t *before = tc_slurp(path, &len);
    cr_assert_eq(before[3], 0x83, "byte 3: the journal's commit landed");

    mm_memory *mem;
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    FAILS_WITH(mm_open(mem, "list", 0, 0, &m), MM_EREADONLY, "list was interrupted",
               "complete");
    FAILS_WITH(mm_open(mem, "v1", 0, 0, &m), MM_EREADONLY, "list was interrupted", "roll it back");
    FAILS_WITH(mm_open(mem, "v1reclaim", 0, 0, &m), MM_EREADONLY, "roll it back");
    FAILS_WITH(mm_open(mem, "hbitmap15", 0, 0, &m), MM_EINTERRUPTED, "list");
    FAILS_WITH(mm_open(mem, "hbitmap15", 0, MM_OPEN_UPGRADE, &m), MM_EINTERRUPTED, "list");
    cr_assert_null(m);
    mm_memory_close(mem);
    tc_assert_file(path, before, len, "read-only opens of an interrupted upgrade");

    tu_use_design("list");
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_open(mem, "list", 0, 0, &m));
    assert_kept(m);
    mm_close(m);
    mm_memory_close(mem);
    OK(mm_memory_file_open(path, 0, MM_OPEN_READONLY, &mem));
    OK(mm_open(mem, "list", 0, 0, &m));
    assert_kept(m);
    mm_close(m);
    mm_memory_close(mem);
    free(before);
    unlink(path);
}

/* ------------------------------------------------------------------------
 * What errors say
 * ---------------------------------------------------------------------- */

Test(files, system_errors_in_words) {
    mm_memory *mem;
    FAILS_WITH(mm_memory_file("/nonexistent-dir/x", 0, &mem), MM_EIO, "/nonexistent-dir/x",
               strerror(ENOENT));
    FAILS_WITH(mm_memory_file("/tmp", 0, &mem), MM_EIO, "/tmp", strerror(EISDIR));

    /* Past the largest file this process may write: "File too large". */
    char path[64];
    tc_temp_file(path);
    struct rlimit old, small;
    cr_assert(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small = (struct rlimit){.rlim_cur = 2 * PAGE, .rlim_max = old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    cr_assert(setrlimit(RLIMIT_FSIZE, &small) == 0);
    OK(mm_memory_file(path, 0, &mem));
    OK(mm_memory_grow(mem, 2, NULL));
    FAILS_WITH(mm_memory_grow(mem, 1, NULL), MM_EGROW, path, "3 pages", strerror(EFBIG));
    cr_assert(setrlimit(RLIMIT_FSIZE, &old) == 0);

    /* The file cut short behind the memory's back: no errno, said in words. */
    cr_assert(truncate(path, 0) == 0);
    uint8_t b;
    FAILS_WITH(mm_memory_read(mem, PAGE, &b, 1), MM_EIO, path, "ends before");
    mm_memory_close(mem);
    unlink(path);
}

/* The detail is one short line that shows `shown` (as escaped text). */
static void assert_short_detail(const char *shown) {
    const char *d = mm_error_detail();
    cr_assert(strchr(d, '\n') == NULL && strchr(d, '\r') == NULL,
              "the detail holds a line break: %s", d);
    cr_assert_lt(strlen(d), 200, "the detail is %zu bytes long: %s", strlen(d), d);
    cr_assert(strstr(d, shown) != NULL, "the detail \"%s\" does not show %s", d, shown);
}

Test(files, bad_tokens_are_quoted_short_and_escaped) {
    enum { LONG = 10000 };
    char *token = malloc(LONG + 1);
    cr_assert(token != NULL);
    memset(token, 'a', LONG);
    token[LONG] = '\0';
    token[3] = '\n';
    token[5] = '"';
    token[6] = '\x1b';
    mm_memory *mem;
    mm *m = NULL;
    OK(mm_memory_ram(0, &mem));
    FAILS(mm_open(mem, token, 1, 0, &m), MM_EDESIGN_UNKNOWN);
    assert_short_detail("\"aaa\\na\\\"\\x1baaa");
    assert_short_detail("aaa\"...");
    mm_memory_close(mem);

    /* A path: 10,000 bytes, then a short one holding a newline. */
    token[0] = '/';
    FAILS(mm_memory_file(token, 0, &mem), MM_EIO);
    assert_short_detail(strerror(ENAMETOOLONG));
    assert_short_detail("\"/aa\\na\\\"\\x1b");
    FAILS(mm_memory_file_open("/nonexistent-dir/a\nb", 0, MM_OPEN_READONLY, &mem), MM_EIO);
    assert_short_detail("\"/nonexistent-dir/a\\nb\"");
    free(token);
}
