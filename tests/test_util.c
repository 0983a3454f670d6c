#define _GNU_SOURCE
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *current_design = "?";

const char *tu_design_name(void) {
    return current_design;
}

void tu_use_design(const char *name) {
    current_design = name;
}

/* The indexes of the designs that pass the filter, in a static array of
 * their own for each caller. */
static struct criterion_test_params params(size_t idx[64], unsigned need_flags,
                                           bool (*applies)(const mm_design_info *d)) {
    size_t n = 0;
    for (size_t i = 0; i < mm_design_count() && n < 64; i++) {
        const mm_design_info *d = mm_design_get(i);
        if ((d->flags & need_flags) == need_flags && (!applies || applies(d))) idx[n++] = i;
    }
    return cr_make_param_array(size_t, idx, n);
}

struct criterion_test_params tu_design_params(unsigned need_flags) {
    static size_t idx[64];
    return params(idx, need_flags, NULL);
}

struct criterion_test_params tu_design_params_where(bool (*applies)(const mm_design_info *d)) {
    static size_t idx[64];
    return params(idx, 0, applies);
}

static void open_manager(tu_mm *t) {
    int err = mm_open(t->mem, t->design, t->bucket_pages, 0, &t->m);
    cr_assert_eq(err, MM_OK, "[%s] mm_open -> %s (%s)", t->design, mm_strerror(err),
                 mm_error_detail());
}

void tu_open_ram(tu_mm *t, const char *design, uint32_t bucket_pages) {
    *t = (tu_mm){.design = design, .bucket_pages = bucket_pages};
    current_design = design;
    OK(mm_memory_ram(0, &t->mem));
    open_manager(t);
}

void tu_open_file(tu_mm *t, const char *design, uint32_t bucket_pages) {
    *t = (tu_mm){.design = design, .bucket_pages = bucket_pages};
    current_design = design;
    strcpy(t->path, "/tmp/mmfree-test-XXXXXX");
    int fd = mkstemp(t->path);
    cr_assert(fd >= 0, "mkstemp failed");
    close(fd);
    OK(mm_memory_file(t->path, 0, &t->mem));
    open_manager(t);
}

void tu_reopen(tu_mm *t) {
    mm_close(t->m);
    t->m = NULL;
    if (t->path[0]) {
        mm_memory_close(t->mem);
        OK(mm_memory_file(t->path, 0, &t->mem));
    }
    /* 0: load whatever bucket size is stored. */
    int err = mm_open(t->mem, t->design, 0, 0, &t->m);
    cr_assert_eq(err, MM_OK, "[%s] reopen -> %s (%s)", t->design, mm_strerror(err),
                 mm_error_detail());
    tu_check(t);
}

void tu_close(tu_mm *t) {
    mm_close(t->m);
    mm_memory_close(t->mem);
    if (t->path[0]) unlink(t->path);
    *t = (tu_mm){0};
}

void tu_check(tu_mm *t) {
    int err = mm_check(t->m);
    cr_assert_eq(err, MM_OK, "[%s] mm_check -> %s (%s)", t->design, mm_strerror(err),
                 mm_error_detail());
}

void tu_grow(tu_mm *t, unsigned id, uint64_t pages) {
    uint64_t before = tu_size(t, id), old = ~0ull;
    OK(mm_grow(t->m, id, pages, &old));
    cr_assert_eq(old, before, "[%s] grow of memory %u returned %llu, size was %llu", t->design,
                 id, (unsigned long long)old, (unsigned long long)before);
    cr_assert_eq(tu_size(t, id), before + pages);
    tu_check(t);
}

uint64_t tu_size(tu_mm *t, unsigned id) {
    uint64_t pages = UINT64_MAX; /* not 0: a call that sets nothing fails a test of 0 */
    OK(mm_size(t->m, id, &pages));
    return pages;
}

mm_stats tu_stats(tu_mm *t) {
    mm_stats st;
    OK(mm_stats_get(t->m, &st));
    return st;
}

uint8_t *tu_image(mm_memory *mem, size_t *len) {
    *len = (size_t)(mm_memory_size(mem) * MM_PAGE_SIZE);
    uint8_t *img = malloc(*len ? *len : 1);
    cr_assert(img != NULL);
    OK(mm_memory_read(mem, 0, img, *len));
    return img;
}

void tu_assert_image(mm_memory *mem, const uint8_t *image, size_t len, const char *what) {
    size_t now_len;
    uint8_t *now = tu_image(mem, &now_len);
    cr_assert_eq(now_len, len, "[%s] %s: linear memory is %zu bytes, was %zu",
                 tu_design_name(), what, now_len, len);
    for (size_t i = 0; i < len; i++)
        if (now[i] != image[i])
            cr_assert_fail("[%s] %s: byte %zu changed from %02x to %02x", tu_design_name(),
                           what, i, image[i], now[i]);
    free(now);
}

uint64_t tu_seed(const char *test, uint64_t dflt) {
    const char *env = getenv("MMFREE_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : dflt;
    cr_log_info("%s: seed %llu (replay with MMFREE_SEED=%llu)", test,
                (unsigned long long)seed, (unsigned long long)seed);
    return seed;
}

void tu_put_le(uint8_t *p, uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> 8 * i);
}

uint64_t tu_get_le(const uint8_t *p, unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)p[i] << 8 * i;
    return v;
}

void tu_poke(mm_memory *mem, uint64_t off, uint64_t v, unsigned bytes) {
    uint8_t b[8];
    cr_assert(bytes <= sizeof b, "%u bytes: a little-endian field holds 1 to 8", bytes);
    tu_put_le(b, v, bytes);
    OK(mm_memory_write(mem, off, b, bytes));
}

uint64_t tu_peek(mm_memory *mem, uint64_t off, unsigned bytes) {
    uint8_t b[8];
    cr_assert(bytes <= sizeof b, "%u bytes: a little-endian field holds 1 to 8", bytes);
    OK(mm_memory_read(mem, off, b, bytes));
    return tu_get_le(b, bytes);
}
