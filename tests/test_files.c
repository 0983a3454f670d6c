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
