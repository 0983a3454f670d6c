/*
 * The linear memories (RAM, file, fault-injecting): WebAssembly stable
 * memory semantics, the O(1) RAM growth past its first reservation, the
 * exact and sparse file, and the injected faults and counts.
 */
#include "test_core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)

static uint64_t grow(mm_memory *mem, uint64_t delta) {
    uint64_t old = ~0ull, before = mm_memory_size(mem);
    OK(mm_memory_grow(mem, delta, &old));
    cr_assert_eq(old, before, "grow by %llu returned %llu; the size was %llu",
                 (unsigned long long)delta, (unsigned long long)old, (unsigned long long)before);
    cr_assert_eq(mm_memory_size(mem), before + delta);
    return old;
}

static void assert_zero(mm_memory *mem, uint64_t off, size_t len, const char *what) {
    uint8_t *buf = malloc(len);
    cr_assert(buf != NULL);
    memset(buf, 0xee, len);
    OK(mm_memory_read(mem, off, buf, len));
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(buf[i], 0, "%s: byte %llu reads %02x, not 0", what,
                     (unsigned long long)(off + i), buf[i]);
    free(buf);
}

static void assert_bytes(mm_memory *mem, uint64_t off, const uint8_t *want, size_t len,
                         const char *what) {
    uint8_t *buf = malloc(len);
    cr_assert(buf != NULL);
    OK(mm_memory_read(mem, off, buf, len));
    cr_assert(memcmp(buf, want, len) == 0, "%s: %zu bytes at %llu changed", what, len,
              (unsigned long long)off);
    free(buf);
}

/* The semantics every backing shares, on an empty memory. */
static void check_stable_memory_semantics(mm_memory *mem) {
    cr_assert_eq(mm_memory_size(mem), 0);
    uint8_t none[1] = {0xee};
    OK(mm_memory_read(mem, 0, none, 0)); /* empty accesses at the end of an empty memory */
    OK(mm_memory_write(mem, 0, none, 0));
    FAILS(mm_memory_read(mem, 0, none, 1), MM_EBOUNDS);
    FAILS(mm_memory_write(mem, 1, none, 0), MM_EBOUNDS);
    cr_assert_eq(none[0], 0xee);
    cr_assert_eq(grow(mem, 0), 0);
    cr_assert_eq(grow(mem, 2), 0);
    cr_assert_eq(grow(mem, 1), 2);
    cr_assert_eq(grow(mem, 0), 3);
    assert_zero(mem, 0, 3 * PAGE, "new pages");

    /* Fill, grow again: the old bytes stay, the new pages read zero. */
    uint8_t *fill = tc_patterned(3 * PAGE, 1);
    OK(mm_memory_write(mem, 0, fill, 3 * PAGE));
    cr_assert_eq(grow(mem, 2), 3);
    assert_bytes(mem, 0, fill, 3 * PAGE, "bytes before a grow");
    assert_zero(mem, 3 * PAGE, 2 * PAGE, "pages added after a write");

    /* Accesses that end exactly at the end are fine; one byte more is not,
     * and nothing is written or read. */
    uint64_t end = 5 * PAGE;
    uint8_t span[16], out[16];
    tc_pattern(span, sizeof span, 2);
    OK(mm_memory_write(mem, end - sizeof span, span, sizeof span));
    assert_bytes(mem, end - sizeof span, span, sizeof span, "a write ending at the end");
    OK(mm_memory_write(mem, end, span, 0));
    OK(mm_memory_read(mem, end, out, 0));
    size_t img_len;
    uint8_t *img = tu_image(mem, &img_len);
    struct {
        uint64_t off;
        size_t len;
    } bad[] = {
        {end - 15, 16}, {end, 1}, {end + 1, 0}, {UINT64_MAX, 2}, {UINT64_MAX - 3, 16},
        {0, (size_t)end + 1}, {8, SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, 0xee, sizeof out);
        FAILS(mm_memory_write(mem, bad[i].off, bad[i].len <= sizeof span ? span : fill,
                              bad[i].len),
              MM_EBOUNDS);
        FAILS(mm_memory_read(mem, bad[i].off, bad[i].len <= sizeof out ? out : fill, bad[i].len),
              MM_EBOUNDS);
        for (size_t k = 0; k < sizeof out; k++)
            cr_assert_eq(out[k], 0xee, "a refused read stored byte %zu", k);
    }
    tu_assert_image(mem, img, img_len, "after refused accesses");
    /* A grow that would pass 2^64 bytes is refused with nothing changed. */
    FAILS(mm_memory_grow(mem, MM_MAX_PAGES, NULL), MM_EGROW);
    FAILS(mm_memory_grow(mem, UINT64_MAX, NULL), MM_EGROW);
    tu_assert_image(mem, img, img_len, "after refused grows");
    OK(mm_memory_sync(mem));
    free(img);
    free(fill);
}

/* Writes a recognisable page at the start of pages[i]; checks them later. */
static void mark_pages(mm_memory *mem, const uint64_t *pages, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t mark[64];
        tc_pattern(mark, sizeof mark, 100 + pages[i]);
        OK(mm_memory_write(mem, pages[i] * PAGE, mark, sizeof mark));
    }
}

static void assert_marks(mm_memory *mem, const uint64_t *pages, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        uint8_t mark[64];
        tc_pattern(mark, sizeof mark, 100 + pages[i]);
        assert_bytes(mem, pages[i] * PAGE, mark, sizeof mark, what);
    }
}

/* ------------------------------------------------------------------------
 * RAM
 * ---------------------------------------------------------------------- */

Test(memory, ram_semantics) {
    mm_memory *mem;
    OK(mm_memory_ram(0, &mem));
    check_stable_memory_semantics(mem);
    mm_memory_close(mem);
    mm_memory_close(NULL);
}

Test(memory, ram_cap) {
    mm_memory *mem;
    OK(mm_memory_ram(5, &mem));
    grow(mem, 3);
    uint8_t b = 7;
    OK(mm_memory_write(mem, 3 * PAGE - 1, &b, 1));
    FAILS_WITH(mm_memory_grow(mem, 3, NULL), MM_EGROW, "cap of 5");
    cr_assert_eq(mm_memory_size(mem), 3);
    grow(mem, 2);
    FAILS(mm_memory_grow(mem, 1, NULL), MM_EGROW);
    cr_assert_eq(mm_memory_size(mem), 5);
    cr_assert_eq(grow(mem, 0), 5);
    assert_bytes(mem, 3 * PAGE - 1, &b, 1, "a byte under the cap");
    mm_memory_close(mem);
}

/* The first reservation holds 16,384 pages (1 GiB); growing past it
 * remaps. Bytes written before must survive each remap, and the pages
 * added after it must read zero. */
Test(memory, ram_grow_past_first_reservation_keeps_bytes) {
    mm_memory *mem;
    OK(mm_memory_ram(0, &mem));
    const uint64_t early[] = {0, 1, 777, 16383};
    grow(mem, 16384);
    mark_pages(mem, early, 4);
    grow(mem, 1); /* 16,385: past the first reservation */
    assert_marks(mem, early, 4, "after the first remap");
    assert_zero(mem, 16384 * PAGE, PAGE, "the page past the first reservation");
    const uint64_t later[] = {16384};
    mark_pages(mem, later, 1);
    grow(mem, 70000 - 16385); /* past two more doublings */
    assert_marks(mem, early, 4, "after more remaps");
    assert_marks(mem, later, 1, "after more remaps");
    assert_zero(mem, 69999 * PAGE, PAGE, "the last page");
    mm_memory_close(mem);
}

Test(memory, ram_discard_zeroes_pages) {
    mm_memory *mem;
    OK(mm_memory_ram(0, &mem));
    grow(mem, 4);
    uint8_t *fill = tc_patterned(4 * PAGE, 3);
    OK(mm_memory_write(mem, 0, fill, 4 * PAGE));
    OK(mm_memory_discard(mem, 1, 2));
    assert_bytes(mem, 0, fill, PAGE, "page 0 next to a discard");
    assert_zero(mem, PAGE, 2 * PAGE, "discarded pages");
    assert_bytes(mem, 3 * PAGE, fill + 3 * PAGE, PAGE, "page 3 next to a discard");
    cr_assert_eq(mm_memory_size(mem), 4);

    size_t len;
    uint8_t *img = tu_image(mem, &len);
    FAILS_WITH(mm_memory_discard(mem, 3, 2), MM_EBOUNDS, "3");
    FAILS(mm_memory_discard(mem, 5, 0), MM_EBOUNDS);
    FAILS(mm_memory_discard(mem, 1, UINT64_MAX), MM_EBOUNDS);
    OK(mm_memory_discard(mem, 4, 0));
    tu_assert_image(mem, img, len, "refused discards");
    free(img);
    free(fill);
    mm_memory_close(mem);
}

/* ------------------------------------------------------------------------
 * File
 * ---------------------------------------------------------------------- */

/* A file memory over a new temporary file, named in path. */
static mm_memory *new_file_memory(char path[64]) {
    mm_memory *mem;
    tc_temp_file(path);
    OK(mm_memory_file(path, 0, &mem));
    return mem;
}

static struct stat stat_of(const char *path) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st;
}

static void assert_file_pages(const char *path, uint64_t pages) {
    cr_assert_eq((uint64_t)stat_of(path).st_size, pages * PAGE,
                 "the file holds %lld bytes, not %llu pages", (long long)stat_of(path).st_size,
                 (unsigned long long)pages);
}

Test(memory, file_semantics_and_exact_length) {
    char path[64];
    mm_memory *mem = new_file_memory(path);
    check_stable_memory_semantics(mem);
    assert_file_pages(path, 5);
    grow(mem, 1);
    assert_file_pages(path, 6);
    mm_memory_close(mem);
    assert_file_pages(path, 6);
    unlink(path);
}

Test(memory, file_reopen_keeps_every_byte) {
    char path[64];
    mm_memory *mem = new_file_memory(path);
    grow(mem, 3);
    uint8_t *fill = tc_patterned(3 * PAGE, 4);
    /* In uneven pieces that cross page edges. */
    for (uint64_t off = 0; off < 3 * PAGE;) {
        size_t n = (size_t)(off % 7919 + 40000);
        if (n > 3 * PAGE - off) n = (size_t)(3 * PAGE - off);
        OK(mm_memory_write(mem, off, fill + off, n));
        off += n;
    }
    OK(mm_memory_sync(mem));
    mm_memory_close(mem);

    OK(mm_memory_file(path, 0, &mem));
    cr_assert_eq(mm_memory_size(mem), 3);
    tu_assert_image(mem, fill, 3 * PAGE, "reopened file");
    tc_assert_file(path, fill, 3 * PAGE, "the file on disk");
    /* Growing the reopened file keeps the old bytes and adds zeros. */
    cr_assert_eq(grow(mem, 1), 3);
    assert_bytes(mem, 0, fill, 3 * PAGE, "after growing a reopened file");
    assert_zero(mem, 3 * PAGE, PAGE, "a page added after reopening");
    mm_memory_close(mem);
    free(fill);
    unlink(path);
}

/* 4,096 pages is 256 MiB; a few written pages must cost a few pages. */
Test(memory, file_pages_never_written_take_no_space) {
    char path[64];
    mm_memory *mem = new_file_memory(path);
    grow(mem, 4096);
    const uint64_t pages[] = {0, 2000, 4095};
    mark_pages(mem, pages, 3);
    OK(mm_memory_sync(mem));
    struct stat st = stat_of(path);
    assert_file_pages(path, 4096);
    uint64_t used = (uint64_t)st.st_blocks * 512;
    cr_assert(used <= 16 * PAGE, "a 4,096-page file with 3 written pages uses %llu bytes on disk",
              (unsigned long long)used);
    mm_memory_close(mem);
    unlink(path);
}

Test(memory, file_discard_punches_holes) {
    char path[64];
    mm_memory *mem = new_file_memory(path);
    grow(mem, 64);
    uint8_t *fill = tc_patterned(64 * PAGE, 5);
    OK(mm_memory_write(mem, 0, fill, 64 * PAGE));
    OK(mm_memory_sync(mem));
    uint64_t before = (uint64_t)stat_of(path).st_blocks * 512;
    OK(mm_memory_discard(mem, 8, 48));
    OK(mm_memory_sync(mem));
    uint64_t after = (uint64_t)stat_of(path).st_blocks * 512;
    cr_assert(after + 40 * PAGE <= before,
              "discarding 48 of 64 pages took the file from %llu to %llu bytes on disk",
              (unsigned long long)before, (unsigned long long)after);
    assert_file_pages(path, 64);
    assert_zero(mem, 8 * PAGE, 48 * PAGE, "discarded pages");
    assert_bytes(mem, 0, fill, 8 * PAGE, "pages before the hole");
    assert_bytes(mem, 56 * PAGE, fill + 56 * PAGE, 8 * PAGE, "pages after the hole");
    mm_memory_close(mem);
    OK(mm_memory_file(path, 0, &mem));
    assert_zero(mem, 8 * PAGE, 48 * PAGE, "discarded pages, reopened");
    mm_memory_close(mem);
    free(fill);
    unlink(path);
}

/* A file that is not a whole number of pages is refused, byte for byte
 * untouched, and the detail gives its length. */
Test(memory, file_not_whole_pages_is_refused_untouched) {
    char path[64];
    tc_temp_file(path);
    const size_t lengths[] = {1, 100, PAGE - 1, PAGE + 1, 3 * PAGE + 4097};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t len = lengths[i];
        uint8_t *bytes = tc_patterned(len, 6 + i);
        tc_spit(path, bytes, len);
        mm_memory *mem = NULL;
        char len_text[32];
        snprintf(len_text, sizeof len_text, "%zu", len);
        FAILS_WITH(mm_memory_file(path, 0, &mem), MM_ESHORT, len_text);
        cr_assert_null(mem);
        tc_assert_file(path, bytes, len, "a refused short file");
        free(bytes);
    }
    unlink(path);
}

Test(memory, file_cap_and_open_errors) {
    char path[64];
    tc_temp_file(path);
    mm_memory *mem;
    OK(mm_memory_file(path, 2, &mem));
    grow(mem, 2);
    FAILS(mm_memory_grow(mem, 1, NULL), MM_EGROW);
    cr_assert_eq(mm_memory_size(mem), 2);
    assert_file_pages(path, 2);
    mm_memory_close(mem);
    unlink(path);
    FAILS_WITH(mm_memory_file("/nonexistent-dir/x", 0, &mem), MM_EIO, "/nonexistent-dir/x");
    FAILS(mm_memory_file(NULL, 0, &mem), MM_EINVAL);
    FAILS(mm_memory_file(path, 0, NULL), MM_EINVAL);
    FAILS(mm_memory_ram(0, NULL), MM_EINVAL);
}

/* ------------------------------------------------------------------------
 * Fault-injecting wrapper
 * ---------------------------------------------------------------------- */

/* A fault-injecting memory over a new RAM memory (*inner). */
static mm_memory *faulty_ram(mm_fault_plan plan, mm_memory **inner) {
    mm_memory *f;
    OK(mm_memory_ram(0, inner));
    OK(mm_memory_faulty(*inner, &plan, &f));
    cr_assert_eq(mm_memory_size(f), mm_memory_size(*inner));
    return f;
}

static void close_both(mm_memory *f, mm_memory *inner) {
    mm_memory_close(f);
    mm_memory_close(inner);
}

Test(memory, faulty_semantics_pass_through) {
    mm_memory *inner, *f = faulty_ram((mm_fault_plan){0}, &inner);
    check_stable_memory_semantics(f);
    cr_assert_eq(mm_memory_size(inner), mm_memory_size(f));
    close_both(f, inner);
}

Test(memory, faulty_fails_the_nth_grow_with_nothing_changed) {
    mm_memory *inner, *f = faulty_ram((mm_fault_plan){.fail_grow_at = 3}, &inner);
    grow(f, 1);
    grow(f, 2);
    uint8_t b = 9;
    OK(mm_memory_write(f, 3 * PAGE - 1, &b, 1));
    uint64_t old = 1234;
    FAILS_WITH(mm_memory_grow(f, 4, &old), MM_EGROW, "#3");
    cr_assert_eq(old, 1234, "a failed grow stored an old size");
    cr_assert_eq(mm_memory_size(f), 3);
    cr_assert_eq(mm_memory_size(inner), 3);
    cr_assert_eq(grow(f, 4), 3); /* the 4th grow passes */
    cr_assert_eq(mm_memory_size(inner), 7);
    assert_bytes(f, 3 * PAGE - 1, &b, 1, "a byte before the failed grow");
    assert_zero(f, 3 * PAGE, 4 * PAGE, "pages added after a failed grow");
    cr_assert_eq(mm_memory_fault_counts(f).grows, 4, "failed grows are counted");
    close_both(f, inner);
}

Test(memory, faulty_fails_the_nth_write_with_nothing_written) {
    mm_memory *inner, *f = faulty_ram((mm_fault_plan){.fail_write_at = 2}, &inner);
    grow(f, 1);
    uint8_t a[10], b[20], c[30];
    tc_pattern(a, sizeof a, 7);
    tc_pattern(b, sizeof b, 8);
    tc_pattern(c, sizeof c, 9);
    OK(mm_memory_write(f, 0, a, sizeof a));
    FAILS_WITH(mm_memory_write(f, 100, b, sizeof b), MM_EIO, "#2");
    assert_zero(inner, 100, sizeof b, "the target of a failed write");
    OK(mm_memory_write(f, 200, c, sizeof c));
    assert_bytes(inner, 0, a, sizeof a, "write #1");
    assert_bytes(inner, 200, c, sizeof c, "write #3");
    mm_fault_counts n = mm_memory_fault_counts(f);
    cr_assert_eq(n.writes, 3, "writes counted: %llu", (unsigned long long)n.writes);
    cr_assert_eq(n.bytes_written, sizeof a + sizeof c, "bytes written counted: %llu",
                 (unsigned long long)n.bytes_written);
    close_both(f, inner);
}

Test(memory, faulty_caps_pages) {
    mm_memory *inner, *f = faulty_ram((mm_fault_plan){.max_pages = 4}, &inner);
    grow(f, 3);
    FAILS_WITH(mm_memory_grow(f, 2, NULL), MM_EGROW, "4");
    cr_assert_eq(mm_memory_size(f), 3);
    cr_assert_eq(mm_memory_size(inner), 3);
    grow(f, 1);
    FAILS(mm_memory_grow(f, 1, NULL), MM_EGROW);
    cr_assert_eq(mm_memory_size(inner), 4);
    close_both(f, inner);
}

Test(memory, faulty_counts_and_replan) {
    mm_memory *inner, *f = faulty_ram((mm_fault_plan){0}, &inner);
    grow(f, 2);
    grow(f, 1);
    uint8_t buf[100] = {1};
    OK(mm_memory_write(f, 0, buf, 100));
    OK(mm_memory_write(f, PAGE - 3, buf, 7));
    OK(mm_memory_read(f, 5, buf, 50));
    OK(mm_memory_discard(f, 1, 1));
    FAILS(mm_memory_write(f, 3 * PAGE, buf, 1), MM_EBOUNDS); /* refused before the backing */
    mm_fault_counts n = mm_memory_fault_counts(f);
    cr_assert_eq(n.grows, 2);
    cr_assert_eq(n.writes, 2);
    cr_assert_eq(n.bytes_written, 107);
    cr_assert_eq(n.reads, 1);
    cr_assert_eq(n.discards, 1);

    /* A new plan restarts the counts, and its fault counts from there. */
    mm_memory_fault_replan(f, &(mm_fault_plan){.fail_grow_at = 1, .fail_write_at = 2});
    n = mm_memory_fault_counts(f);
    cr_assert(n.grows == 0 && n.reads == 0 && n.writes == 0 && n.bytes_written == 0 &&
              n.discards == 0, "replan keeps old counts");
    FAILS(mm_memory_grow(f, 1, NULL), MM_EGROW);
    OK(mm_memory_write(f, 0, buf, 1));
    FAILS(mm_memory_write(f, 0, buf, 1), MM_EIO);
    grow(f, 1);
    mm_memory_fault_replan(f, NULL); /* no faults at all */
    OK(mm_memory_write(f, 0, buf, 1));
    OK(mm_memory_write(f, 0, buf, 1));
    grow(f, 1);
    cr_assert_eq(mm_memory_size(inner), 5);

    /* Other memories have no plan and count nothing. */
    mm_memory_fault_replan(inner, &(mm_fault_plan){.fail_grow_at = 1});
    grow(inner, 1);
    n = mm_memory_fault_counts(inner);
    cr_assert(n.grows == 0 && n.writes == 0, "a RAM memory reports fault counts");
    close_both(f, inner);
}

/* ------------------------------------------------------------------------
 * Crash simulation: what reaches the plan's disk
 * ---------------------------------------------------------------------- */

/* Byte b of the disk's page 0, or 0xEE past its end. */
static uint8_t disk_byte(mm_memory *disk, uint64_t off) {
    uint8_t b = 0xEE;
    if (off < mm_memory_size(disk) * PAGE) OK(mm_memory_read(disk, off, &b, 1));
    return b;
}

/* Writes byte i + 1 at offset i, for i < n: one storage call each. */
static void write_each(mm_memory *f, unsigned first, unsigned n) {
    for (unsigned i = first; i < first + n; i++) {
        uint8_t b = (uint8_t)(i + 1);
        OK(mm_memory_write(f, i, &b, 1));
    }
}

/* A process crash: the first crash_at - 1 storage calls reach the disk,
 * none after; the process itself sees every one. */
Test(memory, faulty_crash_cuts_every_call_from_crash_at) {
    mm_memory *disk, *inner, *f;
    OK(mm_memory_ram(0, &disk));
    OK(mm_memory_ram(0, &inner));
    OK(mm_memory_faulty(inner, &(mm_fault_plan){.disk = disk, .crash_at = 4}, &f));
    grow(f, 1);          /* call 1 */
    write_each(f, 0, 4); /* calls 2..5 */
    for (unsigned i = 0; i < 4; i++) {
        assert_bytes(f, i, (uint8_t[]){(uint8_t)(i + 1)}, 1, "what the process reads");
        cr_assert_eq(disk_byte(disk, i), i < 2 ? i + 1 : 0, "disk byte %u", i);
    }
    mm_fault_counts n = mm_memory_fault_counts(f);
    cr_assert_eq(n.calls, 5);
    cr_assert_eq(n.lost, 2);
    cr_assert_eq(n.disk_errors, 0);
    close_both(f, inner);
    mm_memory_close(disk);
}

/* A power loss in durable mode: from crash_at (the first call after a
 * barrier; mm_memory_sync is one) the calls crash_keep selects reach the
 * disk, up to the next barrier, and nothing after it. */
Test(memory, faulty_crash_keeps_a_subset_up_to_the_next_barrier) {
    mm_memory *disk, *inner, *f;
    OK(mm_memory_ram(0, &disk));
    OK(mm_memory_ram(0, &inner));
    grow(disk, 1);
    grow(inner, 1);
    OK(mm_memory_faulty(inner, &(mm_fault_plan){.disk = disk, .crash_at = 2, .crash_keep = 2},
                        &f));
    write_each(f, 0, 1); /* call 1 */
    OK(mm_memory_sync(f));
    write_each(f, 1, 2); /* calls 2 and 3: only bit 1, call 3, is kept */
    OK(mm_memory_sync(f));
    write_each(f, 3, 1); /* call 4: past the barrier that ends the crash */
    static const uint8_t want[4] = {1, 0, 3, 0};
    for (unsigned i = 0; i < 4; i++)
        cr_assert_eq(disk_byte(disk, i), want[i], "disk byte %u is %u", i, disk_byte(disk, i));
    uint64_t at[4];
    cr_assert_eq(mm_memory_fault_barriers(f, at, 4), 2);
    cr_assert(at[0] == 1 && at[1] == 3, "barriers after calls %llu and %llu",
              (unsigned long long)at[0], (unsigned long long)at[1]);
    cr_assert_eq(mm_memory_fault_counts(f).lost, 2);
    close_both(f, inner);
    mm_memory_close(disk);

    /* A write kept while the grow before it was lost: the disk refuses it,
     * and the counts say so (a barrier after each grow rules it out). */
    OK(mm_memory_ram(0, &disk));
    OK(mm_memory_ram(0, &inner));
    OK(mm_memory_faulty(inner, &(mm_fault_plan){.disk = disk, .crash_at = 1, .crash_keep = 2},
                        &f));
    grow(f, 1);
    write_each(f, 0, 1);
    cr_assert_eq(mm_memory_size(disk), 0);
    cr_assert_eq(mm_memory_fault_counts(f).disk_errors, 1);
    close_both(f, inner);
    mm_memory_close(disk);
}

/* A manager opened with MM_OPEN_SYNC puts a barrier after each grow of
 * the linear memory and on both sides of each commit; without it, none. */
Test(memory, sync_managers_issue_barriers) {
    mm_memory *inner, *f;
    mm *m;
    OK(mm_memory_ram(0, &inner));
    OK(mm_memory_faulty(inner, NULL, &f));
    OK(mm_open(f, "v1", 1, MM_OPEN_SYNC, &m));
    mm_memory_fault_replan(f, NULL);
    OK(mm_grow(m, 0, 1, NULL)); /* grow | count, owner byte | size | */
    uint64_t at[8];
    size_t n = mm_memory_fault_barriers(f, at, 8);
    cr_assert_eq(n, 3, "a durable V1 grow: %zu barriers", n);
    cr_assert(at[0] == 1 && at[1] == 3 && at[2] == 4, "barriers after calls %llu %llu %llu",
              (unsigned long long)at[0], (unsigned long long)at[1], (unsigned long long)at[2]);
    mm_close(m);
    OK(mm_open(f, "v1", 0, 0, &m));
    mm_memory_fault_replan(f, NULL);
    OK(mm_grow(m, 0, 1, NULL));
    cr_assert_eq(mm_memory_fault_barriers(f, at, 8), 0);
    cr_assert_eq(mm_memory_fault_counts(f).barriers, 0);
    mm_close(m);
    close_both(f, inner);
}
