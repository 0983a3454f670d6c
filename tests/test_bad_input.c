/*
 * Bad input: every memory a design refuses is left byte for byte as it
 * was, and the error names the problem (its code, and a detail that gives
 * the value at fault). Corrupt V1 headers are built by writing bytes at the
 * offsets of the layout table (test_core.h), not through the library.
 * Then invalid arguments, and faults injected into the linear memory.
 */
#include "test_core.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE ((uint64_t)MM_PAGE_SIZE)

/* ------------------------------------------------------------------------
 * Which layout each design writes
 * ---------------------------------------------------------------------- */

/* The version byte a design writes, found by formatting an empty memory. */
static uint8_t version_of(const mm_design_info *d) {
    mm_memory *mem;
    mm *m;
    OK(mm_memory_ram(0, &mem));
    OK(mm_open(mem, d->name, 1, 0, &m));
    uint8_t id[4];
    OK(mm_memory_read(mem, 0, id, sizeof id));
    cr_assert(memcmp(id, "MGR", 3) == 0, "%s formats without the magic", d->name);
    mm_close(m);
    mm_memory_close(mem);
    return id[3];
}

/* Whether a design opens V1 bytes: it writes them, or it upgrades them. */
static bool reads_v1(const mm_design_info *d) {
    return version_of(d) == 1 || (d->flags & MM_DESIGN_READS_V1);
}

/* ------------------------------------------------------------------------
 * A V1 memory to corrupt: bucket size 2, memories 0, 5 and 7, 13 pages.
 * owners: bucket 0 1 2 3 4 5 -> memory 0 0 5 7 7 0
 * ---------------------------------------------------------------------- */

static mm_memory *v1_memory(v1_model *v) {
    mm_memory *mem;
    mm *m;
    OK(mm_memory_ram(0, &mem));
    OK(mm_open(mem, "v1", 2, 0, &m));
    v1m_init(v, 2);
    const struct {
        unsigned id;
        uint64_t pages;
    } grows[] = {{0, 3}, {5, 1}, {7, 4}, {0, 3}};
    for (size_t k = 0; k < 4; k++) {
        OK_CHECK(m, mm_grow(m, grows[k].id, grows[k].pages, NULL));
        v1m_grow(v, grows[k].id, grows[k].pages);
    }
    uint8_t data[300];
    tc_pattern(data, sizeof data, 11);
    OK_CHECK(m, mm_write(m, 0, 2 * PAGE - 100, data, sizeof data));
    OK_CHECK(m, mm_write(m, 7, 4 * PAGE - 300, data, sizeof data));
    mm_close(m);
    v1m_assert_bytes(mem, v, "the V1 memory to corrupt");
    cr_assert_eq(mm_memory_size(mem), 13);
    return mem;
}

/* Every registered design refuses mem and leaves it as it was: the V1
 * readers with v1_err and a detail mentioning each of details[], the
 * others because the layout is not theirs. The upgraders are asked to
 * upgrade, so that they validate the V1 header as v1 does. */
static void assert_refused_by_all(mm_memory *mem, int v1_err, const char *const *details) {
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        bool v1 = reads_v1(d);
        int want = v1 || v1_err == MM_EMAGIC ? v1_err : MM_EWRONG_DESIGN;
        mm *m = NULL;
        int err = mm_open(mem, d->name, 0, MM_OPEN_UPGRADE, &m);
        cr_assert_eq(err, want, "[%s] open -> %s, expected %s (%s)", d->name, mm_strerror(err),
                     mm_strerror(want), mm_error_detail());
        cr_assert_null(m, "[%s] a refused open handed out a manager", d->name);
        for (size_t k = 0; want == v1_err && details[k]; k++)
            cr_assert(strstr(mm_error_detail(), details[k]) != NULL,
                      "[%s] the detail \"%s\" does not mention \"%s\"", d->name,
                      mm_error_detail(), details[k]);
        tu_assert_image(mem, img, len, d->name);
    }
    free(img);
}

#define REFUSED_BY_ALL(mem, err, ...)                                                 \
    assert_refused_by_all(mem, err, (const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------------
 * Corrupt V1 headers
 * ---------------------------------------------------------------------- */

Test(bad_input, v1_bucket_count_over_32768) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    tu_poke(mem, V1T_OFF_COUNT, 32769, 2);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "32769", "32768");
    tu_poke(mem, V1T_OFF_COUNT, 65535, 2);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "65535");
    mm_memory_close(mem);
}

/* What a V1 grow or free cut short leaves (layout_v1.c, "Crashes") is no
 * corruption: an owner byte at or past the count (a grow's owner bytes
 * that landed without its count, in durable mode), or a memory that owns
 * more buckets than its size needs (a grow's owner bytes without its size,
 * a free's size 0 without its owner bytes). Every design that reads V1
 * opens it as the state without those buckets; the V1-byte designs write
 * back exactly the clean V1 bytes of that state. */
Test(bad_input, v1_crash_leftovers_are_read_and_repaired) {
    struct leftover {
        const char *what;
        uint64_t off, value;
        unsigned bytes;
        unsigned id;      /* the memory whose size the state has */
        uint64_t size;    /* its pages */
        int clear[2];     /* buckets whose owner byte goes back to 255; -1: none */
    } cases[] = {
        {"an owner byte at the count", V1T_OFF_OWNERS + 6, 7, 1, 7, 4, {-1, -1}},
        {"an owner byte in a word past the count", V1T_OFF_OWNERS + 13, 254, 1, 7, 4, {-1, -1}},
        {"the very last owner byte", V1T_OFF_OWNERS + 32767, 0, 1, 7, 4, {-1, -1}},
        {"two buckets for a size that needs one", V1T_OFF_SIZES + 8 * 7, 2, 8, 7, 2, {4, -1}},
        {"buckets for size 0", V1T_OFF_SIZES + 8 * 7, 0, 8, 7, 0, {3, 4}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct leftover *k = &cases[c];
        for (size_t i = 0; i < mm_design_count(); i++) {
            const mm_design_info *d = mm_design_get(i);
            if (!reads_v1(d)) continue;
            v1_model v;
            mm_memory *mem = v1_memory(&v);
            tu_poke(mem, k->off, k->value, k->bytes);
            mm *m;
            /* Refused for another reason, it is left as it was: the repair
             * waits until an open is accepted. */
            size_t len;
            uint8_t *img = tu_image(mem, &len);
            unsigned flags = version_of(d) == 1 ? 0 : MM_OPEN_UPGRADE;
            FAILS(mm_open(mem, d->name, 3, flags, &m), MM_EBUCKET_SIZE);
            tu_assert_image(mem, img, len, "a refused open of a crash's leftovers");
            free(img);
            int err = mm_open(mem, d->name, 0, flags, &m);
            cr_assert_eq(err, MM_OK, "[%s] %s: open -> %s (%s)", d->name, k->what,
                         mm_strerror(err), mm_error_detail());
            OK(mm_check(m));
            uint64_t size;
            OK(mm_size(m, k->id, &size));
            cr_assert_eq(size, k->size, "[%s] %s: memory %u has %llu pages", d->name, k->what,
                         k->id, (unsigned long long)size);
            OK(mm_size(m, 0, &size));
            cr_assert_eq(size, 6, "[%s] %s: memory 0 lost pages", d->name, k->what);
            uint8_t data[300], want[300];
            tc_pattern(want, sizeof want, 11);
            OK(mm_read(m, 0, 2 * PAGE - 100, data, sizeof data));
            cr_assert(memcmp(data, want, sizeof data) == 0, "[%s] %s: memory 0's bytes",
                      d->name, k->what);
            mm_close(m);
            if (version_of(d) == 1) {
                v.sizes[k->id] = k->size;
                for (int j = 0; j < 2; j++)
                    if (k->clear[j] >= 0) v.owners[k->clear[j]] = V1T_UNALLOCATED;
                v1m_assert_bytes(mem, &v, k->what);
            }
            mm_memory_close(mem);
        }
    }
}

Test(bad_input, v1_sizes_disagree_with_buckets_owned) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    /* Memory 7 owns 2 buckets of 2 pages: 5 pages need 3. */
    tu_poke(mem, V1T_OFF_SIZES + 8 * 7, 5, 8);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "memory 7", "5 pages");
    tu_poke(mem, V1T_OFF_SIZES + 8 * 7, 4, 8);
    /* A size for a memory that owns nothing. */
    tu_poke(mem, V1T_OFF_SIZES + 8 * 254, 1, 8);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "memory 254");
    tu_poke(mem, V1T_OFF_SIZES + 8 * 254, 0, 8);
    /* An owner byte moved from memory 5 to memory 9. */
    tu_poke(mem, V1T_OFF_OWNERS + 2, 9, 1);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "memory 5");
    tu_poke(mem, V1T_OFF_OWNERS + 2, 5, 1);
    /* A size that would overflow any byte count. */
    tu_poke(mem, V1T_OFF_SIZES, UINT64_MAX, 8);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "memory 0");
    mm_memory_close(mem);
}

Test(bad_input, v1_bucket_size_zero) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    tu_poke(mem, V1T_OFF_BUCKET_PAGES, 0, 2);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "bucket size", "0");
    mm_memory_close(mem);
}

/* A copy of the first pages of mem. */
static mm_memory *truncated_copy(mm_memory *mem, uint64_t pages) {
    mm_memory *copy;
    OK(mm_memory_ram(0, &copy));
    OK(mm_memory_grow(copy, pages, NULL));
    uint8_t *bytes = malloc(pages * PAGE);
    cr_assert(bytes != NULL);
    OK(mm_memory_read(mem, 0, bytes, pages * PAGE));
    OK(mm_memory_write(copy, 0, bytes, pages * PAGE));
    free(bytes);
    return copy;
}

Test(bad_input, v1_linear_memory_shorter_than_the_buckets) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    /* 6 buckets of 2 pages end at page 13. */
    mm_memory *short12 = truncated_copy(mem, 12);
    REFUSED_BY_ALL(short12, MM_ECORRUPT, "13", "12");
    mm_memory *header_only = truncated_copy(mem, 1);
    REFUSED_BY_ALL(header_only, MM_ECORRUPT, "13");
    /* A header consistent in itself, one bucket longer than the memory. */
    tu_poke(mem, V1T_OFF_COUNT, 7, 2);
    tu_poke(mem, V1T_OFF_OWNERS + 6, 0, 1);
    tu_poke(mem, V1T_OFF_SIZES, 8, 8);
    REFUSED_BY_ALL(mem, MM_ECORRUPT, "15", "13");
    mm_memory_close(short12);
    mm_memory_close(header_only);
    mm_memory_close(mem);
}

Test(bad_input, v1_unknown_version) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    const uint8_t versions[] = {200, 0, 0x7f, 255};
    for (size_t k = 0; k < sizeof versions; k++) {
        bool known = false;
        for (size_t i = 0; i < mm_design_count(); i++)
            known |= version_of(mm_design_get(i)) == versions[k];
        cr_assert(!known, "version %u is a registered design's; pick another", versions[k]);
        tu_poke(mem, V1T_OFF_VERSION, versions[k], 1);
        REFUSED_BY_ALL(mem, MM_EVERSION, tc_u(versions[k]));
    }
    mm_memory_close(mem);
}

/* Foreign data is refused; formatting it must be asked for, and then the
 * buckets read zero wherever the old data lay. */
Test(bad_input, foreign_data_then_explicit_format) {
    uint8_t junk[3 * PAGE];
    tc_pattern(junk, sizeof junk, 12);
    memcpy(junk, "MGX", 3); /* close to the magic, not it */
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        mm_memory *mem;
        OK(mm_memory_ram(0, &mem));
        OK(mm_memory_grow(mem, 3, NULL));
        OK(mm_memory_write(mem, 0, junk, sizeof junk));
        REFUSED_BY_ALL(mem, MM_EMAGIC, "MGR", "4d 47 58");
        mm *m;
        OK(mm_open(mem, d->name, 1, MM_OPEN_FORMAT, &m));
        if (strcmp(d->name, "v1") == 0) {
            v1_model v;
            v1m_init(&v, 1);
            v.floor_pages = 3;
            v1m_assert_bytes(mem, &v, "v1 formatted over 3 pages of data");
        }
        OK_CHECK(m, mm_grow(m, 0, 2, NULL));
        OK_CHECK(m, mm_grow(m, 1, 3, NULL));
        uint8_t back[3 * PAGE];
        memset(back, 0xee, sizeof back);
        OK(mm_read(m, 0, 0, back, 2 * PAGE));
        OK(mm_read(m, 1, 0, back + 2 * PAGE, PAGE));
        for (size_t k = 0; k < 3 * PAGE; k++)
            cr_assert_eq(back[k], 0, "[%s] byte %zu of a memory formatted over data is %02x",
                         d->name, k, back[k]);
        OK(mm_check(m));
        mm_close(m);
        /* Formatted once, it now opens without the flag. */
        OK(mm_open(mem, d->name, 0, 0, &m));
        mm_close(m);
        mm_memory_close(mem);
    }
}

Test(bad_input, foreign_file_is_left_untouched) {
    char path[64];
    tc_temp_file(path);
    uint8_t junk[2 * PAGE];
    tc_pattern(junk, sizeof junk, 13);
    tc_spit(path, junk, sizeof junk);
    mm_memory *mem;
    OK(mm_memory_file(path, 0, &mem));
    REFUSED_BY_ALL(mem, MM_EMAGIC, "MGR");
    mm_memory_close(mem);
    tc_assert_file(path, junk, sizeof junk, "a refused foreign file");
    /* One byte that is not zero, anywhere, makes pages of zeros foreign. */
    memset(junk, 0, sizeof junk);
    junk[sizeof junk - 1] = 1;
    tc_spit(path, junk, sizeof junk);
    OK(mm_memory_file(path, 0, &mem));
    REFUSED_BY_ALL(mem, MM_EMAGIC, "00 00 00");
    mm_memory_close(mem);
    tc_assert_file(path, junk, sizeof junk, "refused pages of zeros but one byte");
    unlink(path);
}

/* Pages of zeros hold nothing: a first format that a crash cut short
 * leaves them (its grow landed, its header did not), and so does a format
 * over data after its discard. Every design formats them again. */
Test(bad_input, zeros_are_formatted_again) {
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        char path[64];
        tc_temp_file(path);
        uint8_t zeros[2 * PAGE] = {0};
        tc_spit(path, zeros, sizeof zeros);
        mm_memory *mem;
        mm *m;
        OK(mm_memory_file(path, 0, &mem));
        OK(mm_open(mem, d->name, 3, 0, &m));
        cr_assert_eq(mm_bucket_pages(m), 3);
        OK_CHECK(m, mm_grow(m, 4, 5, NULL));
        mm_close(m);
        mm_memory_close(mem);
        OK(mm_memory_file(path, 0, &mem));
        OK(mm_open(mem, d->name, 0, 0, &m));
        uint64_t size;
        OK(mm_size(m, 4, &size));
        cr_assert_eq(size, 5, "[%s] the formatted memory lost its grow", d->name);
        OK(mm_check(m));
        mm_close(m);
        mm_memory_close(mem);
        unlink(path);
    }
}

/* A V1 file that lost or gained a few bytes is refused before any layout
 * is read. */
Test(bad_input, short_file) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    mm_memory_close(mem);
    char path[64];
    tc_temp_file(path);
    const size_t lengths[] = {len - 1, len - PAGE + 10, len + 10};
    for (size_t k = 0; k < 3; k++) {
        uint8_t *bytes = malloc(lengths[k]);
        cr_assert(bytes != NULL);
        memset(bytes, 0, lengths[k]);
        memcpy(bytes, img, lengths[k] < len ? lengths[k] : len);
        tc_spit(path, bytes, lengths[k]);
        FAILS_WITH(mm_memory_file(path, 0, &mem), MM_ESHORT, tc_u(lengths[k]));
        tc_assert_file(path, bytes, lengths[k], "a refused short file");
        free(bytes);
    }
    unlink(path);
    free(img);
}

/* A stored bucket size wins over a different one asked for, for every
 * design that opens V1 bytes (asked to upgrade them), before any upgrade. */
Test(bad_input, v1_bucket_size_differs) {
    v1_model v;
    mm_memory *mem = v1_memory(&v);
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        if (!reads_v1(d)) continue;
        mm *m = NULL;
        FAILS_WITH(mm_open(mem, d->name, 3, MM_OPEN_UPGRADE, &m), MM_EBUCKET_SIZE, "2", "3");
        FAILS_WITH(mm_open(mem, d->name, 1, MM_OPEN_UPGRADE, &m), MM_EBUCKET_SIZE, "2", "1");
        cr_assert_null(m);
        tu_assert_image(mem, img, len, d->name);
    }
    free(img);
    mm_memory_close(mem);
}

/* A memory of one design opened by another: loaded when both write the
 * same layout; when it is V1 and the opener reads V1, refused with
 * MM_EWRONG_DESIGN (naming V1 and the flag) and left as it was, then
 * upgraded with MM_OPEN_UPGRADE; else refused and left as it was, with
 * the flag or without. */
Test(bad_input, memory_of_another_design) {
    size_t n = mm_design_count();
    for (size_t w = 0; w < n; w++) {
        const mm_design_info *writer = mm_design_get(w);
        uint8_t wv = version_of(writer);
        for (size_t o = 0; o < n; o++) {
            const mm_design_info *opener = mm_design_get(o);
            mm_memory *mem;
            mm *m;
            OK(mm_memory_ram(0, &mem));
            OK(mm_open(mem, writer->name, 1, 0, &m));
            uint8_t data[16];
            tc_pattern(data, sizeof data, w * 31 + o);
            OK_CHECK(m, mm_grow(m, 4, 2, NULL));
            OK_CHECK(m, mm_write(m, 4, PAGE - 8, data, sizeof data));
            mm_close(m);
            size_t len;
            uint8_t *img = tu_image(mem, &len);
            bool same = wv == version_of(opener);
            bool upgrades = !same && wv == 1 && (opener->flags & MM_DESIGN_READS_V1);
            m = NULL;
            int err = mm_open(mem, opener->name, 0, 0, &m);
            if (upgrades) {
                cr_assert_eq(err, MM_EWRONG_DESIGN, "%s opened a %s memory without "
                             "MM_OPEN_UPGRADE: %s (%s)", opener->name, writer->name,
                             mm_strerror(err), mm_error_detail());
                tc_assert_detail("V1 without MM_OPEN_UPGRADE", "V1", "MM_OPEN_UPGRADE",
                                 "--upgrade", opener->name);
                cr_assert_null(m);
                tu_assert_image(mem, img, len, "V1 opened without MM_OPEN_UPGRADE");
            }
            if (!same) err = mm_open(mem, opener->name, 0, MM_OPEN_UPGRADE, &m);
            if (same || upgrades) {
                cr_assert_eq(err, MM_OK, "%s cannot open a %s memory: %s (%s)", opener->name,
                             writer->name, mm_strerror(err), mm_error_detail());
                uint64_t size;
                uint8_t back[16];
                OK(mm_size(m, 4, &size));
                cr_assert_eq(size, 2);
                OK(mm_read(m, 4, PAGE - 8, back, sizeof back));
                cr_assert(memcmp(back, data, sizeof data) == 0, "%s lost the bytes of a %s memory",
                          opener->name, writer->name);
                OK(mm_check(m));
                mm_close(m);
            } else {
                cr_assert_eq(err, MM_EWRONG_DESIGN, "%s opening a %s memory -> %s (%s)",
                             opener->name, writer->name, mm_strerror(err), mm_error_detail());
                char version[32];
                snprintf(version, sizeof version, "version %u", wv);
                tc_assert_detail("a memory of another design", version, opener->name);
                cr_assert_null(m);
                tu_assert_image(mem, img, len, "a memory of another design");
            }
            free(img);
            mm_memory_close(mem);
        }
    }
}

/* ------------------------------------------------------------------------
 * Invalid arguments
 * ---------------------------------------------------------------------- */

DESIGN_TEST(bad_input, invalid_ids_name_the_id_and_change_nothing, 0) {
    tu_mm t;
    tu_open_ram(&t, THIS_DESIGN->name, 1);
    tu_grow(&t, 0, 2);
    tu_grow(&t, 254, 1);
    size_t len;
    uint8_t *img = tu_image(t.mem, &len);
    mm_stats st0 = tu_stats(&t);
    const unsigned ids[] = {255, 256, 1000, 65535, UINT32_MAX};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        unsigned id = ids[k];
        const char *text = tc_u(id);
        uint64_t v = 77;
        uint8_t b[4] = {1, 2, 3, 4};
        FAILS_WITH(mm_size(t.m, id, &v), MM_EINVAL, text);
        FAILS_WITH(mm_grow(t.m, id, 1, &v), MM_EINVAL, text);
        FAILS_WITH(mm_grow(t.m, id, 0, &v), MM_EINVAL, text);
        cr_assert_eq(v, 77, "a refused call stored a size");
        FAILS_WITH(mm_read(t.m, id, 0, b, 4), MM_EINVAL, text);
        FAILS_WITH(mm_read(t.m, id, 0, b, 0), MM_EINVAL, text);
        cr_assert(b[0] == 1 && b[3] == 4, "a refused read stored bytes");
        FAILS_WITH(mm_write(t.m, id, 0, b, 4), MM_EINVAL, text);
        FAILS_WITH(mm_free(t.m, id), MM_EINVAL, text);
    }
    mm_stats st = tu_stats(&t);
    cr_assert(memcmp(&st, &st0, sizeof st) == 0, "invalid ids changed the stats");
    tu_assert_image(t.mem, img, len, "after invalid ids");
    tu_check(&t);
    free(img);
    tu_close(&t);
}

DESIGN_TEST(bad_input, bucket_pages_past_65535, 0) {
    const char *name = THIS_DESIGN->name;
    mm_memory *mem;
    mm *m = NULL;
    OK(mm_memory_ram(0, &mem));
    FAILS_WITH(mm_open(mem, name, 65536, 0, &m), MM_EINVAL, "65536", "65535");
    FAILS_WITH(mm_open(mem, name, UINT32_MAX, MM_OPEN_FORMAT, &m), MM_EINVAL, tc_u(UINT32_MAX));
    cr_assert_null(m);
    cr_assert_eq(mm_memory_size(mem), 0, "a refused open formatted the memory");
    OK(mm_open(mem, name, 65535, 0, &m)); /* the largest allowed */
    cr_assert_eq(mm_bucket_pages(m), 65535);
    mm_close(m);
    size_t len;
    uint8_t *img = tu_image(mem, &len);
    m = NULL;
    FAILS(mm_open(mem, name, 65536, 0, &m), MM_EINVAL);
    cr_assert_null(m);
    tu_assert_image(mem, img, len, "an existing memory opened with bucket size 65536");
    free(img);
    mm_memory_close(mem);
}

Test(bad_input, unknown_design_and_null_arguments) {
    mm_memory *mem;
    mm *m = NULL;
    OK(mm_memory_ram(0, &mem));
    FAILS_WITH(mm_open(mem, "nosuch", 1, 0, &m), MM_EDESIGN_UNKNOWN, "nosuch");
    FAILS_WITH(mm_open(mem, "", 1, MM_OPEN_FORMAT, &m), MM_EDESIGN_UNKNOWN, "\"\"");
    FAILS(mm_open(mem, "V1", 1, 0, &m), MM_EDESIGN_UNKNOWN); /* names are exact */
    FAILS(mm_open(mem, NULL, 1, 0, &m), MM_EINVAL);
    FAILS(mm_open(NULL, "v1", 1, 0, &m), MM_EINVAL);
    FAILS(mm_open(mem, "v1", 1, 0, NULL), MM_EINVAL);
    FAILS_WITH(mm_open(mem, "v1", 1, 0x80, &m), MM_EINVAL, "0x80");
    cr_assert_null(m);
    cr_assert_eq(mm_memory_size(mem), 0, "a refused open formatted the memory");
    cr_assert_null(mm_design_find("nosuch"));
    cr_assert_null(mm_design_get(mm_design_count()));
    OK(mm_open(mem, "v1", 1, 0, &m));
    FAILS(mm_size(m, 0, NULL), MM_EINVAL);
    FAILS(mm_stats_get(m, NULL), MM_EINVAL);
    FAILS(mm_stats_get(NULL, &(mm_stats){0}), MM_EINVAL);
    uint64_t v;
    FAILS_WITH(mm_size(NULL, 0, &v), MM_EINVAL, "NULL");
    FAILS_WITH(mm_grow(NULL, 0, 1, &v), MM_EINVAL, "NULL");
    FAILS_WITH(mm_free(NULL, 0), MM_EINVAL, "NULL");
    FAILS_WITH(mm_check(NULL), MM_EINVAL, "NULL");
    mm_close(m);
    mm_close(NULL);
    mm_memory_close(mem);
}

/* ------------------------------------------------------------------------
 * Faults in the linear memory
 * ---------------------------------------------------------------------- */

typedef struct rig {
    mm_memory *ram, *mem; /* mem injects faults into ram */
    mm *m;
    uint64_t sizes[MM_MAX_MEMORIES];
} rig;

static void record_sizes(rig *r) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) OK(mm_size(r->m, i, &r->sizes[i]));
}

static void assert_sizes(rig *r, const char *what) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t s;
        OK(mm_size(r->m, i, &s));
        cr_assert_eq(s, r->sizes[i], "[%s] %s: memory %u has %llu pages, had %llu",
                     tu_design_name(), what, i, (unsigned long long)s,
                     (unsigned long long)r->sizes[i]);
    }
}

/* Memories 0, 1 and 2 in use (each with a tag at its last byte), memory 1
 * freed again where the design can free, so that free buckets exist. */
static void rig_open(rig *r, const char *design) {
    /* test_util learns the design name for OK/FAILS messages from tu_open_*. */
    tu_mm name_only;
    tu_open_ram(&name_only, design, 1);
    tu_close(&name_only);
    OK(mm_memory_ram(0, &r->ram));
    OK(mm_memory_faulty(r->ram, NULL, &r->mem));
    OK(mm_open(r->mem, design, 2, 0, &r->m));
    const uint64_t pages[] = {3, 4, 1};
    for (unsigned i = 0; i < 3; i++) {
        OK_CHECK(r->m, mm_grow(r->m, i, pages[i], NULL));
        uint8_t tag = (uint8_t)(0xa0 + i);
        OK_CHECK(r->m, mm_write(r->m, i, pages[i] * PAGE - 1, &tag, 1));
    }
    if (mm_design(r->m)->flags & MM_DESIGN_CAN_FREE) OK_CHECK(r->m, mm_free(r->m, 1));
    record_sizes(r);
}

/* zeroed_ok: the memory whose free failed, which may read zero (mm_free
 * discards before it writes the header). */
static void rig_assert_tags(rig *r, unsigned zeroed_ok) {
    for (unsigned i = 0; i < 3; i++) {
        if (r->sizes[i] == 0) continue;
        uint8_t tag;
        OK(mm_read(r->m, i, r->sizes[i] * PAGE - 1, &tag, 1));
        cr_assert(tag == 0xa0 + i || (i == zeroed_ok && tag == 0),
                  "[%s] memory %u lost its last byte", tu_design_name(), i);
    }
}

static void rig_close(rig *r) {
    mm_close(r->m);
    mm_memory_close(r->mem);
    mm_memory_close(r->ram);
}

/* Pages that need more buckets than are free, so that the grow must
 * extend the linear memory. */
static uint64_t pages_past_free(rig *r) {
    mm_stats st;
    OK(mm_stats_get(r->m, &st));
    return (st.buckets_free + 2) * mm_bucket_pages(r->m) + 1;
}

/* The n-th grow of the linear memory fails, for every n that one mm_grow
 * reaches, and a cap that stops it: sizes, bytes and header as before. */
DESIGN_TEST(bad_input, failed_linear_grow_changes_nothing, 0) {
    rig r;
    rig_open(&r, THIS_DESIGN->name);
    uint64_t pages = pages_past_free(&r);
    const mm_fault_plan plans[] = {
        {.max_pages = mm_memory_size(r.mem)},
        {.fail_grow_at = 1}, {.fail_grow_at = 2}, {.fail_grow_at = 3}, {.fail_grow_at = 4},
    };
    bool grown = false;
    for (size_t k = 0; k < sizeof plans / sizeof plans[0] && !grown; k++) {
        size_t len;
        uint8_t *img = tu_image(r.mem, &len);
        mm_stats st0, st;
        OK(mm_stats_get(r.m, &st0));
        mm_memory_fault_replan(r.mem, &plans[k]);
        uint64_t old = 4242;
        int err = mm_grow(r.m, 3, pages, &old);
        uint64_t grows = mm_memory_fault_counts(r.mem).grows;
        mm_memory_fault_replan(r.mem, NULL);
        if (err == MM_OK) {
            /* One mm_grow made fewer linear grows than this plan fails. */
            cr_assert(k > 1 && grows < plans[k].fail_grow_at, "[%s] grow passed plan %zu",
                      THIS_DESIGN->name, k);
            grown = true;
        } else {
            cr_assert_eq(err, MM_EGROW, "[%s] plan %zu: grow -> %s (%s)", THIS_DESIGN->name, k,
                         mm_strerror(err), mm_error_detail());
            cr_assert_eq(old, 4242);
            assert_sizes(&r, "after a failed linear grow");
            tu_assert_image(r.mem, img, len, "after a failed linear grow");
            OK(mm_stats_get(r.m, &st));
            cr_assert(st.buckets_allocated == st0.buckets_allocated &&
                      st.buckets_in_use == st0.buckets_in_use &&
                      st.buckets_free == st0.buckets_free &&
                      st.linear_pages == st0.linear_pages &&
                      st.memories_in_use == st0.memories_in_use,
                      "[%s] a failed linear grow changed the stats", THIS_DESIGN->name);
            OK(mm_check(r.m));
        }
        free(img);
    }
    /* The same grow then succeeds, reads zero, and survives a reopen. */
    if (!grown) OK_CHECK(r.m, mm_grow(r.m, 3, pages, NULL));
    uint8_t last = 0xee;
    OK(mm_read(r.m, 3, pages * PAGE - 1, &last, 1));
    cr_assert_eq(last, 0);
    OK(mm_check(r.m));
    r.sizes[3] = pages;
    mm_close(r.m);
    OK(mm_open(r.mem, THIS_DESIGN->name, 0, 0, &r.m));
    assert_sizes(&r, "reopened after failed grows");
    rig_assert_tags(&r, MM_MAX_MEMORIES);
    OK(mm_check(r.m));
    rig_close(&r);
}

/* The n-th header write of a grow (or a free) fails, for each n it makes:
 * the call returns MM_EIO, the handle refuses later changes (MM_EBROKEN),
 * and opening the memory again either works and passes mm_check with each
 * memory's size from before or after the call, or is refused cleanly with
 * the memory left as it was. */
static void header_write_fault(const char *design, bool op_is_free) {
    for (uint64_t n = 1;; n++) {
        cr_assert(n < 64, "[%s] the op still fails at write %llu", design,
                  (unsigned long long)n);
        rig r;
        rig_open(&r, design);
        unsigned id = op_is_free ? 0 : 3;
        uint64_t pages = pages_past_free(&r);
        mm_memory_fault_replan(r.mem, &(mm_fault_plan){.fail_write_at = n});
        int err = op_is_free ? mm_free(r.m, id) : mm_grow(r.m, id, pages, NULL);
        if (err == MM_OK) {
            cr_assert(n > 1, "[%s] the op passed its first write's fault", design);
            rig_close(&r);
            return;
        }
        cr_assert_eq(err, MM_EIO, "[%s] write %llu fails: %s (%s)", design,
                     (unsigned long long)n, mm_strerror(err), mm_error_detail());
        mm_memory_fault_replan(r.mem, NULL);
        FAILS_WITH(mm_grow(r.m, 2, 1, NULL), MM_EBROKEN, "failed");
        FAILS(mm_grow(r.m, 4, 1, NULL), MM_EBROKEN);
        bool can_free = mm_design(r.m)->flags & MM_DESIGN_CAN_FREE;
        FAILS(mm_free(r.m, 2), can_free ? MM_EBROKEN : MM_ENOTSUP);
        uint64_t before = r.sizes[id], after = op_is_free ? 0 : pages;
        mm_close(r.m);
        r.m = NULL;

        size_t len;
        uint8_t *img = tu_image(r.mem, &len);
        err = mm_open(r.mem, design, 0, 0, &r.m);
        if (err == MM_OK) {
            OK(mm_check(r.m));
            uint64_t s;
            OK(mm_size(r.m, id, &s));
            cr_assert(s == before || s == after,
                      "[%s] write %llu failed: memory %u reopens with %llu pages, neither %llu "
                      "nor %llu", design, (unsigned long long)n, id, (unsigned long long)s,
                      (unsigned long long)before, (unsigned long long)after);
            r.sizes[id] = s;
            assert_sizes(&r, "reopened after a failed header write");
            /* A failed free may leave its memory at its old size, zeroed. */
            rig_assert_tags(&r, op_is_free ? id : MM_MAX_MEMORIES);
            OK_CHECK(r.m, mm_grow(r.m, 5, 1, NULL)); /* and it works on */
            OK(mm_check(r.m));
        } else {
            cr_assert(err == MM_ECORRUPT || err == MM_EINTERRUPTED,
                      "[%s] write %llu failed: reopening -> %s (%s)", design,
                      (unsigned long long)n, mm_strerror(err), mm_error_detail());
            cr_assert_null(r.m);
            tu_assert_image(r.mem, img, len, "a refused reopen");
        }
        free(img);
        rig_close(&r);
    }
}

DESIGN_TEST(bad_input, failed_header_write_in_grow, 0) {
    header_write_fault(THIS_DESIGN->name, false);
}

DESIGN_TEST(bad_input, failed_header_write_in_free, MM_DESIGN_CAN_FREE) {
    header_write_fault(THIS_DESIGN->name, true);
}
