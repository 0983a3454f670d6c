#define _GNU_SOURCE
#include "test_core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * The V1 model
 * ---------------------------------------------------------------------- */

void v1m_init(v1_model *v, uint32_t bucket_pages) {
    memset(v, 0, sizeof *v);
    v->bucket_pages = bucket_pages;
    memset(v->owners, V1T_UNALLOCATED, sizeof v->owners);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return a / b + (a % b != 0);
}

int64_t v1m_grow(v1_model *v, unsigned id, uint64_t pages) {
    uint64_t size = v->sizes[id];
    uint64_t needed = ceil_div(size + pages, v->bucket_pages) - ceil_div(size, v->bucket_pages);
    if (v->count + needed > V1T_MAX_BUCKETS) return -1;
    for (uint64_t k = 0; k < needed; k++) v->owners[v->count++] = (uint8_t)id;
    v->sizes[id] = size + pages;
    return (int64_t)needed;
}

uint64_t v1m_linear_pages(const v1_model *v) {
    uint64_t pages = 1 + (uint64_t)v->bucket_pages * v->count;
    return pages > v->floor_pages ? pages : v->floor_pages;
}

uint64_t v1m_bucket_page(const v1_model *v, uint32_t b) {
    return 1 + (uint64_t)b * v->bucket_pages;
}

void v1m_encode(const v1_model *v, uint8_t page0[V1T_PAGE]) {
    memset(page0, 0, V1T_PAGE);
    memcpy(page0 + V1T_OFF_MAGIC, "MGR", 3);
    page0[V1T_OFF_VERSION] = 1;
    tu_put_le(page0 + V1T_OFF_COUNT, v->count, 2);
    tu_put_le(page0 + V1T_OFF_BUCKET_PAGES, v->bucket_pages, 2);
    for (unsigned i = 0; i < 255; i++) tu_put_le(page0 + V1T_OFF_SIZES + 8 * i, v->sizes[i], 8);
    memcpy(page0 + V1T_OFF_OWNERS, v->owners, V1T_MAX_BUCKETS);
}

/* The field of the table that holds byte off of page 0, for messages. */
static void field_at(size_t off, char *out, size_t n) {
    if (off < V1T_OFF_VERSION)
        snprintf(out, n, "magic");
    else if (off < V1T_OFF_COUNT)
        snprintf(out, n, "version");
    else if (off < V1T_OFF_BUCKET_PAGES)
        snprintf(out, n, "bucket count");
    else if (off < V1T_OFF_RESERVED)
        snprintf(out, n, "bucket size");
    else if (off < V1T_OFF_SIZES)
        snprintf(out, n, "reserved");
    else if (off < V1T_OFF_OWNERS)
        snprintf(out, n, "size of memory %zu", (off - V1T_OFF_SIZES) / 8);
    else if (off < V1T_OFF_UNUSED)
        snprintf(out, n, "owner of bucket %zu", off - V1T_OFF_OWNERS);
    else
        snprintf(out, n, "unused tail of page 0");
}

uint8_t *tc_page0(mm_memory *mem) {
    uint8_t *page = malloc(V1T_PAGE);
    cr_assert(page != NULL);
    OK(mm_memory_read(mem, 0, page, V1T_PAGE));
    return page;
}

void v1m_assert_bytes(mm_memory *mem, const v1_model *v, const char *what) {
    cr_assert_eq(mm_memory_size(mem), v1m_linear_pages(v),
                 "%s: the linear memory holds %llu pages; 1 + %u * %u = %llu expected", what,
                 (unsigned long long)mm_memory_size(mem), v->bucket_pages, v->count,
                 (unsigned long long)v1m_linear_pages(v));
    uint8_t *want = malloc(V1T_PAGE), *got = tc_page0(mem);
    cr_assert(want != NULL);
    v1m_encode(v, want);
    if (memcmp(want, got, V1T_PAGE) != 0) {
        size_t off = 0;
        while (want[off] == got[off]) off++;
        char field[64];
        field_at(off, field, sizeof field);
        cr_assert_fail("%s: header byte %zu (%s) is %02x; the layout table gives %02x", what,
                       off, field, got[off], want[off]);
    }
    free(want);
    free(got);
}

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

void tc_assert_detail_(const char *what, ...) {
    const char *detail = mm_error_detail();
    va_list ap;
    va_start(ap, what);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        cr_assert(strstr(detail, s) != NULL, "%s: the error detail \"%s\" does not mention \"%s\"",
                  what, detail, s);
    va_end(ap);
}

const char *tc_u(uint64_t v) {
    static char bufs[8][24];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%llu", (unsigned long long)v);
    return b;
}

/* ------------------------------------------------------------------------
 * Files and bytes
 * ---------------------------------------------------------------------- */

void tc_temp_file(char path[64]) {
    strcpy(path, "/tmp/mmfree-core-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp failed");
    close(fd);
}

uint8_t *tc_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(n > 0 ? (size_t)n : 1);
    cr_assert(bytes != NULL);
    cr_assert_eq(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return bytes;
}

void tc_spit(const char *path, const uint8_t *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot create %s", path);
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

void tc_assert_file(const char *path, const uint8_t *bytes, size_t len, const char *what) {
    size_t now_len;
    uint8_t *now = tc_slurp(path, &now_len);
    cr_assert_eq(now_len, len, "%s: the file is %zu bytes, was %zu", what, now_len, len);
    cr_assert(memcmp(now, bytes, len) == 0, "%s: the file's bytes changed", what);
    free(now);
}

void tc_pattern(uint8_t *buf, size_t len, uint64_t seed) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)(x | 1); /* never zero, so a lost byte cannot pass for a fresh one */
    }
}

uint8_t *tc_patterned(size_t len, uint64_t seed) {
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert(buf != NULL);
    tc_pattern(buf, len, seed);
    return buf;
}
