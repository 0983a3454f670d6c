/*
 * The engine of fuzz.h: decoding ops, resolving them against a group's
 * model, applying them to each lane's manager, and every check made after
 * an op.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "rng.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE MM_PAGE_SIZE

fz_counts fz_totals;

/* data: what a step writes or the model read; got: what a lane read. */
static uint8_t data[FZ_MAX_SPAN], got[FZ_MAX_SPAN];
static uint8_t page_a[PAGE], page_b[PAGE];
static const uint8_t zero_page[PAGE];

/* ---- reports -------------------------------------------------------------- */

static const fz_op *current_op;

void fz_fail(const fz_lane *l, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n*** mmfree fuzz divergence [%s, design %s, %u pages/bucket, op #%llu: %s]\n"
            "*** %s\n*** last library error detail (may be older than the op): %s\n",
            l->context, l->d ? l->d->name : "?", l->g ? l->g->bucket_pages : 0,
            (unsigned long long)l->op_no,
            current_op ? fz_op_name(current_op) : "open", msg, mm_error_detail());
    abort();
}

static void expect_err(const fz_lane *l, int err, int want, const char *what) {
    if (err != want)
        fz_fail(l, "%s returned %s, expected %s", what, mm_strerror(err), mm_strerror(want));
}

/* ---- decoding ------------------------------------------------------------- */

uint32_t fz_bucket_pages(uint8_t selector) {
    static const uint32_t sizes[8] = {1, 1, 2, 2, 3, 4, 5, 8};
    return sizes[selector % 8];
}

static const char *const kind_names[FZ_NKINDS] = {"grow",   "free",   "write", "read",
                                                   "reopen", "format", "alien"};

/* Op byte % 32 picks the kind; the weights favour the ops that move
 * bytes, and the bytes libFuzzer likes most (0x00, 0xFF) pick cheap ops. */
static const uint8_t kind_of[32] = {
    FZ_GROW,  FZ_GROW,  FZ_GROW,   FZ_GROW,   FZ_GROW,  FZ_GROW,  FZ_GROW,  FZ_GROW,
    FZ_GROW,  FZ_WRITE, FZ_WRITE,  FZ_WRITE,  FZ_WRITE, FZ_WRITE, FZ_WRITE, FZ_ALIEN,
    FZ_FREE,  FZ_FREE,  FZ_FREE,   FZ_FREE,   FZ_FREE,  FZ_FREE,  FZ_FREE,  FZ_REOPEN,
    FZ_REOPEN, FZ_FORMAT, FZ_READ, FZ_READ,   FZ_READ,  FZ_READ,  FZ_READ,  FZ_READ,
};

/* Mostly ids 0..5, so memories meet; sometimes any valid id (254 too);
 * sometimes an invalid one. */
static unsigned decode_id(uint8_t v) {
    if (v < 0xE8) return v % 6u;
    if (v < 0xFB) return 6u + (unsigned)(v - 0xE8) * 13u;
    if (v == 0xFB) return MM_MAX_MEMORIES - 1;
    return MM_MAX_MEMORIES + (unsigned)(v - 0xFC);
}

fz_op fz_decode(fz_input *in) {
    fz_op op = {.kind = (fz_kind)kind_of[fz_u8(in) % 32]};
    switch (op.kind) {
    case FZ_GROW:
        op.id = decode_id(fz_u8(in));
        op.arg = fz_u8(in);
        break;
    case FZ_FREE:
        op.id = decode_id(fz_u8(in));
        break;
    case FZ_WRITE:
    case FZ_READ:
        op.id = decode_id(fz_u8(in));
        op.off = fz_u16(in);
        op.len = fz_u8(in);
        if (op.kind == FZ_WRITE) op.seed = fz_u8(in);
        break;
    case FZ_REOPEN:
    case FZ_FORMAT:
        op.arg = fz_u8(in);
        break;
    case FZ_ALIEN:
        op.seed = fz_u8(in);
        op.arg = fz_u8(in);
        break;
    case FZ_NKINDS:
        break;
    }
    fz_totals.kinds[op.kind]++;
    return op;
}

const char *fz_op_name(const fz_op *op) {
    static char s[96];
    switch (op->kind) {
    case FZ_GROW:
        snprintf(s, sizeof s, "grow id %u amount 0x%02x", op->id, op->arg);
        break;
    case FZ_FREE:
        snprintf(s, sizeof s, "free id %u", op->id);
        break;
    case FZ_WRITE:
    case FZ_READ:
        snprintf(s, sizeof s, "%s id %u offset selector 0x%04x length selector 0x%02x",
                 kind_names[op->kind], op->id, op->off, op->len);
        break;
    default:
        snprintf(s, sizeof s, "%s 0x%02x 0x%02x", kind_names[op->kind], op->arg, op->seed);
        break;
    }
    return s;
}

/* ---- groups: resolving an op against the model ---------------------------- */

void fz_group_init(fz_group *g, uint32_t bucket_pages, bool can_free) {
    *g = (fz_group){.bucket_pages = bucket_pages, .can_free = can_free};
    model_init(&g->md);
}

void fz_group_destroy(fz_group *g) {
    model_destroy(&g->md);
}

static uint64_t model_size(const fz_group *g, unsigned id) {
    return id < MM_MAX_MEMORIES ? g->md.size[id] : 0;
}

static uint64_t buckets_for(uint64_t pages, uint32_t bucket_pages) {
    return pages / bucket_pages + (pages % bucket_pages != 0);
}

static uint64_t model_buckets(const fz_group *g) {
    uint64_t n = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) n += buckets_for(g->md.size[i], g->bucket_pages);
    return n;
}

/* A big bucket size holds fewer buckets, so that every linear memory
 * stays small enough to copy at each reopen. */
static uint64_t bucket_cap(uint32_t bucket_pages) {
    uint64_t cap = 48u / bucket_pages;
    return cap < FZ_MAX_BUCKETS ? cap : FZ_MAX_BUCKETS;
}

/* The pages a grow op asks for, clamped so the model stays in bounds;
 * *limit for the amounts past what any design addresses. */
static uint64_t grow_pages(const fz_group *g, const fz_op *op, bool *limit) {
    uint32_t b = g->bucket_pages;
    uint64_t size = model_size(g, op->id), pages;
    uint8_t a = op->arg;
    *limit = a == 0xFE && op->id < MM_MAX_MEMORIES;
    if (a == 0xFF) return MM_MAX_PAGES - size + 1; /* past 2^64 bytes */
    if (a == 0xFE) return MM_MAX_PAGES - size;     /* refined per design by limit_pages */
    if (a < 0x80) {
        pages = a & 3u;
    } else if (a < 0xC0) {
        int64_t p = (int64_t)(1 + ((a >> 3) & 3u)) * b + (a & 7) - 4;
        pages = p > 0 ? (uint64_t)p : 0;
    } else {
        /* Up to the end of the last bucket, one short, or one past. */
        int64_t p = (int64_t)((b - size % b) % b) + (a - 0xC0) % 3 - 1;
        pages = p > 0 ? (uint64_t)p : 0;
    }
    if (op->id >= MM_MAX_MEMORIES) return pages;
    uint64_t total = model_total_pages(&g->md);
    if (total >= FZ_MAX_PAGES) return 0;
    if (pages > FZ_MAX_PAGES - total) pages = FZ_MAX_PAGES - total;
    uint64_t others = model_buckets(g) - buckets_for(size, b), cap = bucket_cap(b);
    while (pages && others + buckets_for(size + pages, b) > cap) pages--;
    return pages;
}

/* One bucket more than the design addresses, when that many pages have no
 * byte overflow; else the most pages a memory can have. */
static uint64_t limit_pages(const fz_lane *l, uint64_t size) {
    uint64_t maxb = l->d->max_buckets, b = l->g->bucket_pages;
    return maxb < (MM_MAX_PAGES - size) / b - 1 ? (maxb + 1) * b : MM_MAX_PAGES - size;
}

static size_t span_len(uint8_t v) {
    if (v < 0x80) return 1u + (v & 31u);
    if (v < 0xE0) return (size_t)(v - 0x80 + 1) * 1021u;
    if (v < 0xFF) return (size_t)(v - 0xE0 + 1) * 8191u;
    return 0;
}

/* Inside the memory, astride a bucket edge, astride the end, or far out. */
static uint64_t span_off(const fz_group *g, const fz_op *op, size_t len) {
    uint64_t size = model_size(g, op->id) * PAGE;
    uint64_t x = op->off & 0x3FFFu;
    int64_t delta = (int64_t)(x & 63) - 32;
    switch (op->off >> 14) {
    case 0:
        return size >= len ? ((size - len + 1) * x) >> 14 : 0;
    case 1: {
        uint64_t bb = (uint64_t)g->bucket_pages * PAGE;
        uint64_t edge = ((x >> 6) % (size / bb + 1)) * bb;
        return delta < 0 && (uint64_t)-delta > edge ? 0 : edge + (uint64_t)delta;
    }
    case 2: {
        uint64_t end = size > len ? size - len : 0;
        return delta < 0 && (uint64_t)-delta > end ? 0 : end + (uint64_t)delta;
    }
    default:
        return x & 1 ? UINT64_MAX - ((x >> 1) & 63) : size + (x >> 1);
    }
}

static void fill(uint8_t *p, size_t len, uint8_t seed) {
    mm_rng r = mm_rng_seed(0x66757a7aull * (seed + 1u) + len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = mm_rng_next(&r);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(p + i, &v, n);
    }
}

fz_step fz_group_step(fz_group *g, const fz_op *op) {
    fz_step st = {.op = op, .size = model_size(g, op->id)};
    bool limit;
    switch (op->kind) {
    case FZ_GROW:
        st.pages = grow_pages(g, op, &limit);
        st.want = limit ? FZ_LIMIT : model_grow(&g->md, op->id, st.pages, &st.old);
        break;
    case FZ_FREE:
        if (g->can_free)
            st.want = model_free(&g->md, op->id);
        else
            st.want = op->id < MM_MAX_MEMORIES ? MM_ENOTSUP : MM_EINVAL;
        break;
    case FZ_WRITE:
    case FZ_READ:
        st.len = span_len(op->len);
        st.off = span_off(g, op, st.len);
        if (op->kind == FZ_WRITE) {
            fill(data, st.len, op->seed);
            st.want = model_write(&g->md, op->id, st.off, data, st.len);
        } else {
            st.want = model_read(&g->md, op->id, st.off, data, st.len);
        }
        break;
    case FZ_FORMAT:
        g->bucket_pages = fz_bucket_pages(op->arg);
        model_destroy(&g->md);
        model_init(&g->md);
        break;
    case FZ_REOPEN:
    case FZ_ALIEN:
    case FZ_NKINDS:
        break;
    }
    return st;
}

/* ---- linear-memory images ------------------------------------------------- */

static mm_memory *new_memory(bool as_file, uint64_t cap) {
    mm_memory *mem = NULL;
    int err;
    if (as_file) {
        int fd = memfd_create("mmfree-fuzz", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        err = mm_memory_file(path, cap, &mem);
        close(fd); /* the memory holds its own descriptor */
    } else {
        err = mm_memory_ram(cap, &mem);
    }
    if (err) {
        fprintf(stderr, "fuzz: cannot make a linear memory: %s\n", mm_error_detail());
        abort();
    }
    return mem;
}

mm_memory *fz_copy_memory(mm_memory *src, bool as_file, uint64_t cap) {
    mm_memory *dst = new_memory(as_file, cap ? cap : FZ_LINEAR_CAP);
    uint64_t pages = mm_memory_size(src);
    int err = mm_memory_grow(dst, pages, NULL);
    for (uint64_t p = 0; !err && p < pages; p++) {
        err = mm_memory_read(src, p * PAGE, page_a, PAGE);
        if (!err && memcmp(page_a, zero_page, PAGE) != 0)
            err = mm_memory_write(dst, p * PAGE, page_a, PAGE);
    }
    if (err) {
        fprintf(stderr, "fuzz: cannot copy a linear memory of %llu pages: %s\n",
                (unsigned long long)pages, mm_error_detail());
        abort();
    }
    return dst;
}

mm_memory *fz_memory_from_bytes(const uint8_t *bytes, size_t len, uint64_t cap) {
    mm_memory *dst = new_memory(false, cap ? cap : FZ_LINEAR_CAP);
    int err = mm_memory_grow(dst, len / PAGE, NULL);
    for (size_t off = 0; !err && off < len; off += PAGE)
        if (memcmp(bytes + off, zero_page, PAGE) != 0)
            err = mm_memory_write(dst, off, bytes + off, PAGE);
    if (err) {
        fprintf(stderr, "fuzz: cannot load an image of %zu bytes: %s\n", len, mm_error_detail());
        abort();
    }
    return dst;
}

/* Compares page p of mem with want; on a difference *where gets the byte. */
static bool page_matches(mm_memory *mem, uint64_t p, const uint8_t *want, uint64_t *where) {
    if (mm_memory_read(mem, p * PAGE, page_a, PAGE)) abort();
    if (memcmp(page_a, want, PAGE) == 0) return true;
    size_t i = 0;
    while (page_a[i] == want[i]) i++;
    *where = p * PAGE + i;
    return false;
}

bool fz_same_memory(mm_memory *a, mm_memory *b, uint64_t *where) {
    uint64_t pages = mm_memory_size(a);
    if (pages != mm_memory_size(b)) {
        *where = pages;
        return false;
    }
    for (uint64_t p = 0; p < pages; p++) {
        if (mm_memory_read(b, p * PAGE, page_b, PAGE)) abort();
        if (!page_matches(a, p, page_b, where)) return false;
    }
    return true;
}

bool fz_memory_matches(mm_memory *mem, const uint8_t *bytes, size_t len, uint64_t *where) {
    uint64_t pages = len / PAGE;
    if (pages != mm_memory_size(mem)) {
        *where = pages;
        return false;
    }
    for (uint64_t p = 0; p < pages; p++)
        if (!page_matches(mem, p, bytes + p * PAGE, where)) return false;
    return true;
}

/* The version byte of each design's layout, learnt by formatting an empty
 * memory: the test sees layouts only as bytes, as any reader would. */
static uint8_t layout_version(size_t design_index) {
    static uint8_t known[FZ_MAX_DESIGNS];
    if (!known[design_index]) {
        mm_memory *mem = new_memory(false, 0);
        mm *m;
        uint8_t v = 0;
        if (mm_open(mem, mm_design_get(design_index)->name, 1, 0, &m) == MM_OK) {
            if (mm_memory_read(mem, 3, &v, 1)) v = 0;
            mm_close(m);
        }
        mm_memory_close(mem);
        if (!v) {
            fprintf(stderr, "fuzz: design %s cannot format an empty memory\n",
                    mm_design_get(design_index)->name);
            abort();
        }
        known[design_index] = v;
    }
    return known[design_index];
}

/* ---- lane checks --------------------------------------------------------- */

static mm_stats stats_of(const fz_lane *l) {
    mm_stats st;
    if (mm_stats_get(l->m, &st)) fz_fail(l, "mm_stats_get failed");
    return st;
}

/* Every size equals the model's; the buckets in use are exactly those the
 * sizes need; mm_check passes. */
static void check_state(fz_lane *l) {
    uint64_t in_use = 0;
    uint32_t memories = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = ~0ull;
        int err = mm_size(l->m, i, &size);
        if (err || size != l->g->md.size[i])
            fz_fail(l, "memory %u: size %llu (%s), the model says %llu", i,
                    (unsigned long long)size, mm_strerror(err),
                    (unsigned long long)l->g->md.size[i]);
        in_use += buckets_for(size, l->g->bucket_pages);
        memories += size != 0;
    }
    mm_stats st = stats_of(l);
    if (st.buckets_in_use != in_use || st.memories_in_use != memories)
        fz_fail(l, "stats: %llu buckets in %u memories in use, the sizes need %llu in %u",
                (unsigned long long)st.buckets_in_use, st.memories_in_use,
                (unsigned long long)in_use, memories);
    if (st.buckets_in_use + st.buckets_free + st.buckets_meta != st.buckets_allocated)
        fz_fail(l, "stats: %llu in use + %llu free + %llu metadata != %llu allocated",
                (unsigned long long)st.buckets_in_use, (unsigned long long)st.buckets_free,
                (unsigned long long)st.buckets_meta, (unsigned long long)st.buckets_allocated);
    int err = mm_check(l->m);
    if (err) fz_fail(l, "mm_check: %s: %s", mm_strerror(err), mm_error_detail());
}

void fz_lane_verify(fz_lane *l) {
    check_state(l);
    const char *diff = model_compare(&l->g->md, l->m);
    if (diff) fz_fail(l, "%s", diff);
}

/* Stats a failed op must leave as they were (the write counters aside). */
static void check_unchanged(const fz_lane *l, const mm_stats *before, const char *what) {
    mm_stats now = stats_of(l);
    if (now.memories_in_use != before->memories_in_use ||
        now.buckets_allocated != before->buckets_allocated ||
        now.buckets_in_use != before->buckets_in_use || now.buckets_free != before->buckets_free ||
        now.buckets_meta != before->buckets_meta || now.linear_pages != before->linear_pages ||
        now.header_bytes != before->header_bytes)
        fz_fail(l, "%s changed the stats: %llu/%llu/%llu/%llu buckets allocated/in use/free/"
                "meta and %llu linear pages, were %llu/%llu/%llu/%llu and %llu", what,
                (unsigned long long)now.buckets_allocated, (unsigned long long)now.buckets_in_use,
                (unsigned long long)now.buckets_free, (unsigned long long)now.buckets_meta,
                (unsigned long long)now.linear_pages,
                (unsigned long long)before->buckets_allocated,
                (unsigned long long)before->buckets_in_use,
                (unsigned long long)before->buckets_free,
                (unsigned long long)before->buckets_meta,
                (unsigned long long)before->linear_pages);
}

/* MM_DESIGN_REUSES_ALL: no op carves a new bucket or grows the linear
 * memory while an unallocated bucket is left afterwards. */
static void check_reuse_all(const fz_lane *l, const mm_stats *before, const char *what) {
    if (!(l->d->flags & MM_DESIGN_REUSES_ALL)) return;
    mm_stats now = stats_of(l);
    if ((now.buckets_allocated > before->buckets_allocated ||
         now.linear_pages > before->linear_pages) && now.buckets_free)
        fz_fail(l, "%s carved %llu buckets and grew the linear memory from %llu to %llu pages "
                "while %llu buckets are unallocated", what,
                (unsigned long long)(now.buckets_allocated - before->buckets_allocated),
                (unsigned long long)before->linear_pages, (unsigned long long)now.linear_pages,
                (unsigned long long)now.buckets_free);
}

/* For a lane whose linear memory holds the V1 layout (v1-layout.md): the
 * unallocated buckets above memory id's highest bucket, the only ones a V1
 * writer may give it, since a memory's buckets ascend; a design that
 * cannot free takes none of them (upstream V1 always carves bucket
 * `count`). *is_v1 says whether the layout is V1 at all. */
static uint64_t v1_reusable(const fz_lane *l, unsigned id, bool *is_v1) {
    enum { COUNT = 4, OWNERS = 2080, UNALLOCATED = 255 };
    static uint8_t owners[32768];
    uint8_t head[8];
    *is_v1 = false;
    if (mm_memory_read(l->mem, 0, head, sizeof head) || memcmp(head, "MGR\1", 4) != 0) return 0;
    *is_v1 = true;
    uint32_t count = head[COUNT] | head[COUNT + 1] << 8;
    if (count > sizeof owners || mm_memory_read(l->mem, OWNERS, owners, count))
        fz_fail(l, "the V1 header is unreadable (count %u)", count);
    uint32_t above = 0; /* first bucket id that id may take */
    for (uint32_t b = 0; b < count; b++)
        if (owners[b] == id) above = b + 1;
    uint64_t n = 0;
    if (!(l->d->flags & MM_DESIGN_CAN_FREE)) return 0;
    for (uint32_t b = above; b < count; b++) n += owners[b] == UNALLOCATED;
    return n;
}

/* ---- ops ------------------------------------------------------------------ */

static void lane_grow(fz_lane *l, const fz_step *st) {
    unsigned id = st->op->id;
    uint64_t size = st->size;
    uint64_t pages = st->want == FZ_LIMIT ? limit_pages(l, size) : st->pages;
    uint32_t b = l->g->bucket_pages;
    bool is_v1 = false;
    uint64_t reusable = id < MM_MAX_MEMORIES ? v1_reusable(l, id, &is_v1) : 0;
    mm_stats before = stats_of(l);
    uint64_t old = ~0ull;
    int err = mm_grow(l->m, id, pages, &old);
    if (st->want == FZ_LIMIT) {
        if (err != MM_EOVERFLOW && err != MM_EFULL && err != MM_EGROW)
            fz_fail(l, "a grow by %llu pages (more than %llu buckets) returned %s",
                    (unsigned long long)pages, (unsigned long long)l->d->max_buckets,
                    mm_strerror(err));
        check_unchanged(l, &before, "a refused grow");
        return;
    }
    expect_err(l, err, st->want, "grow");
    if (err) {
        check_unchanged(l, &before, "a refused grow");
        return;
    }
    if (old != st->old)
        fz_fail(l, "grow returned old size %llu, the model %llu", (unsigned long long)old,
                (unsigned long long)st->old);
    /* The new pages read as zero. Every page when a bucket was reused
     * (freed bytes must not show through), else the first and the last
     * (a fresh bucket is zero unless it was mapped wrongly, which later
     * reads catch too). */
    mm_stats now = stats_of(l);
    bool reused = now.buckets_free < before.buckets_free;
    uint64_t tail_end = buckets_for(size, b) * b;
    for (uint64_t p = size; p < size + pages; p++) {
        bool tail = l->g->dirty_buckets && (p < tail_end || reused);
        if (!reused && !tail && p != size && p != size + pages - 1) continue;
        err = mm_read(l->m, id, p * PAGE, page_a, PAGE);
        if (err) fz_fail(l, "reading new page %llu: %s", (unsigned long long)p, mm_strerror(err));
        if (tail)
            model_write(&l->g->md, id, p * PAGE, page_a, PAGE);
        else if (memcmp(page_a, zero_page, PAGE) != 0)
            fz_fail(l, "new page %llu of memory %u does not read as zero", (unsigned long long)p,
                    id);
    }
    uint64_t nnew = buckets_for(size + pages, b) - buckets_for(size, b);
    if (!nnew && (now.buckets_allocated != before.buckets_allocated ||
                  now.linear_pages != before.linear_pages))
        fz_fail(l, "a grow inside the last bucket changed the buckets allocated (%llu -> %llu) "
                "or the linear pages (%llu -> %llu)",
                (unsigned long long)before.buckets_allocated,
                (unsigned long long)now.buckets_allocated,
                (unsigned long long)before.linear_pages, (unsigned long long)now.linear_pages);
    if (is_v1) {
        uint64_t take = nnew < reusable ? nnew : reusable;
        if (now.buckets_allocated - before.buckets_allocated != nnew - take ||
            before.buckets_free - now.buckets_free != take)
            fz_fail(l, "V1 reuse rule: %llu new buckets with %llu unallocated above the "
                    "memory's highest must reuse %llu and carve %llu; allocated went %llu -> "
                    "%llu, free %llu -> %llu", (unsigned long long)nnew,
                    (unsigned long long)reusable, (unsigned long long)take,
                    (unsigned long long)(nnew - take),
                    (unsigned long long)before.buckets_allocated,
                    (unsigned long long)now.buckets_allocated,
                    (unsigned long long)before.buckets_free,
                    (unsigned long long)now.buckets_free);
    }
    check_reuse_all(l, &before, "a grow");
}

static void lane_free(fz_lane *l, const fz_step *st) {
    mm_stats before = stats_of(l);
    int err = mm_free(l->m, st->op->id);
    expect_err(l, err, st->want, "free");
    if (err || st->size == 0) check_unchanged(l, &before, "a free that changes nothing");
    check_reuse_all(l, &before, "a free");
}

static void lane_write(fz_lane *l, const fz_step *st) {
    int err = mm_write(l->m, st->op->id, st->off, data, st->len);
    expect_err(l, err, st->want, "write");
}

static void lane_read(fz_lane *l, const fz_step *st) {
    int err = mm_read(l->m, st->op->id, st->off, got, st->len);
    expect_err(l, err, st->want, "read");
    if (!err && st->len && memcmp(got, data, st->len) != 0) {
        size_t i = 0;
        while (got[i] == data[i]) i++;
        fz_fail(l, "read of %zu bytes at %llu of memory %u: byte %llu is %02x, the model "
                "says %02x", st->len, (unsigned long long)st->off, st->op->id,
                (unsigned long long)(st->off + i), got[i], data[i]);
    }
}

/* Closes the manager and opens a copy of its linear memory: only what was
 * persisted survives. Sometimes a wrong bucket size is asked first, which
 * must be refused with the memory untouched. */
static void lane_reopen(fz_lane *l, const fz_step *st) {
    const fz_op *op = st->op;
    uint32_t b = l->g->bucket_pages;
    mm_memory *copy = fz_copy_memory(l->mem, op->arg & 1, 0);
    mm_close(l->m);
    l->m = NULL;
    unsigned ask_kind = (op->arg >> 1) & 3;
    uint32_t ask = ask_kind & 1 ? b : 0; /* 1, 3: the stored size; 0, 2: none */
    if (ask_kind == 2) {
        int err = mm_open(copy, l->d->name, b + 1, 0, &l->m);
        expect_err(l, err, MM_EBUCKET_SIZE, "open with a wrong bucket size");
        uint64_t where;
        if (!fz_same_memory(copy, l->mem, &where))
            fz_fail(l, "a refused open changed the memory at byte %llu", (unsigned long long)where);
    }
    int err = mm_open(copy, l->d->name, ask, 0, &l->m);
    expect_err(l, err, MM_OK, "reopen");
    mm_memory_close(l->mem);
    l->mem = copy;
    fz_lane_verify(l);
}

/* The group's model is empty already, with the new bucket size. */
static void lane_format(fz_lane *l, const fz_step *st) {
    (void)st;
    mm_close(l->m);
    l->m = NULL;
    int err = mm_open(l->mem, l->d->name, l->g->bucket_pages, MM_OPEN_FORMAT, &l->m);
    expect_err(l, err, MM_OK, "open with MM_OPEN_FORMAT");
    fz_lane_verify(l);
}

/* A refused open of copy by design d left it as the lane's memory. */
static void expect_refused_untouched(fz_lane *l, mm_memory *copy, const mm_design_info *d,
                                     int err) {
    expect_err(l, err, MM_EWRONG_DESIGN, d->name);
    uint64_t where;
    if (!fz_same_memory(copy, l->mem, &where))
        fz_fail(l, "a refused open by %s changed the memory at byte %llu", d->name,
                (unsigned long long)where);
}

/* Opens a copy of the lane's memory under another design: the same layout
 * loads, a V1 layout is refused untouched by a design that reads V1 until
 * MM_OPEN_UPGRADE asks it to upgrade (and stays upgraded when opened
 * again), anything else is refused untouched. */
static void lane_alien(fz_lane *l, const fz_step *st) {
    size_t other = st->op->seed % mm_design_count();
    const mm_design_info *d = mm_design_get(other);
    uint8_t mine = layout_version(l->design_index), theirs = layout_version(other);
    bool loads = mine == theirs, upgrades = !loads && mine == 1 && (d->flags & MM_DESIGN_READS_V1);
    mm_memory *copy = fz_copy_memory(l->mem, st->op->arg & 1, 0);
    for (int round = 0; round < 1 + upgrades; round++) {
        mm *m = NULL;
        int err = mm_open(copy, d->name, 0, 0, &m);
        if (!loads && round == 0) {
            expect_refused_untouched(l, copy, d, err);
            if (!upgrades) break;
            err = mm_open(copy, d->name, 0, MM_OPEN_UPGRADE, &m);
        }
        if (err)
            fz_fail(l, "opening this memory with %s (%s) returned %s", d->name,
                    upgrades ? (round ? "after the upgrade" : "an upgrade") : "same layout",
                    mm_strerror(err));
        const char *diff = model_compare(&l->g->md, m);
        if (diff) fz_fail(l, "opened with %s: %s", d->name, diff);
        err = mm_check(m);
        if (err) fz_fail(l, "opened with %s: mm_check: %s", d->name, mm_error_detail());
        mm_close(m);
    }
    mm_memory_close(copy);
}

/* Indexed by fz_kind. */
static void (*const apply[FZ_NKINDS])(fz_lane *, const fz_step *) = {
    lane_grow, lane_free, lane_write, lane_read, lane_reopen, lane_format, lane_alien,
};

void fz_lane_apply(fz_lane *l, const fz_step *st) {
    static int trace = -1;
    if (trace < 0) trace = getenv("MMFREE_FUZZ_TRACE") != NULL;
    current_op = st->op;
    l->op_no++;
    fz_totals.ops[l->design_index]++;
    apply[st->op->kind](l, st);
    check_state(l);
    if (trace) {
        mm_stats now = stats_of(l);
        const uint64_t *size = l->g->md.size;
        fprintf(stderr, "%-10s #%-3llu %-58s sizes %llu %llu %llu %llu %llu %llu, %llu buckets "
                "(%llu free), %llu pages\n", l->d->name, (unsigned long long)l->op_no,
                fz_op_name(st->op), (unsigned long long)size[0], (unsigned long long)size[1],
                (unsigned long long)size[2], (unsigned long long)size[3],
                (unsigned long long)size[4], (unsigned long long)size[5],
                (unsigned long long)now.buckets_allocated, (unsigned long long)now.buckets_free,
                (unsigned long long)now.linear_pages);
    }
    current_op = NULL;
}

/* ---- lanes ---------------------------------------------------------------- */

void fz_lane_format(fz_lane *l, size_t design_index, fz_group *g, const char *context) {
    *l = (fz_lane){.d = mm_design_get(design_index), .design_index = design_index, .g = g,
                   .context = context};
    l->mem = new_memory(false, FZ_LINEAR_CAP);
    int err = mm_open(l->mem, l->d->name, g->bucket_pages, 0, &l->m);
    expect_err(l, err, MM_OK, "format");
    check_state(l);
}

void fz_lane_adopt(fz_lane *l, size_t design_index, fz_group *g, mm_memory *mem, mm *m,
                   const char *context) {
    *l = (fz_lane){.d = mm_design_get(design_index), .design_index = design_index, .g = g,
                   .mem = mem, .m = m, .context = context};
    fz_group_init(g, mm_bucket_pages(m), l->d->flags & MM_DESIGN_CAN_FREE);
    g->dirty_buckets = true;
    /* Whatever a design accepts, its buckets lie inside the linear memory,
     * so no size can pass the linear memory's pages. */
    uint64_t linear = mm_memory_size(mem);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size = 0;
        if (mm_size(m, i, &size) || size > linear)
            fz_fail(l, "memory %u has %llu pages; the linear memory holds %llu", i,
                    (unsigned long long)size, (unsigned long long)linear);
        model_grow(&g->md, i, size, NULL);
        for (uint64_t p = 0; p < size; p++) {
            int err = mm_read(m, i, p * PAGE, page_a, PAGE);
            if (err) fz_fail(l, "memory %u page %llu: read: %s", i, (unsigned long long)p,
                             mm_strerror(err));
            model_write(&g->md, i, p * PAGE, page_a, PAGE);
        }
    }
    check_state(l);
}

void fz_lane_close(fz_lane *l) {
    mm_close(l->m);
    mm_memory_close(l->mem);
    *l = (fz_lane){0};
}

/* ---- counters --------------------------------------------------------------- */

static const char *report_target;

/* One line of counters; to stderr at exit, and to $MMFREE_FUZZ_STATS
 * (rewritten) at exit and once a minute, so that a long run that ends in
 * a crash or a kill still leaves its figures. */
static void write_counters(bool to_stderr);

static void report(void) {
    write_counters(true);
}

void fz_report_progress(void) {
    static time_t last;
    time_t now = time(NULL);
    if (now - last < 60) return;
    last = now;
    write_counters(false);
}

static void write_counters(bool to_stderr) {
    char line[2048];
    size_t n = 0;
    uint64_t all = 0;
#define ADD(...) n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, __VA_ARGS__)
    ADD("%s: executions=%llu", report_target, (unsigned long long)fz_totals.execs);
    for (size_t i = 0; i < mm_design_count() && i < FZ_MAX_DESIGNS; i++) {
        ADD(" ops.%s=%llu", mm_design_get(i)->name, (unsigned long long)fz_totals.ops[i]);
        all += fz_totals.ops[i];
    }
    ADD(" ops.all=%llu", (unsigned long long)all);
    for (int k = 0; k < FZ_NKINDS; k++)
        ADD(" kind.%s=%llu", kind_names[k], (unsigned long long)fz_totals.kinds[k]);
    if (fz_totals.images) {
        ADD(" images=%llu opened=%llu", (unsigned long long)fz_totals.images,
            (unsigned long long)fz_totals.opened);
        for (int e = 1; e < MM_ELAST; e++)
            if (fz_totals.refused[e]) {
                const char *name = mm_strerror(e);
                size_t w = strcspn(name, ":, ");
                ADD(" refused.%.*s=%llu", (int)w, name, (unsigned long long)fz_totals.refused[e]);
            }
    }
#undef ADD
    if (to_stderr) fprintf(stderr, "%s\n", line);
    const char *path = getenv("MMFREE_FUZZ_STATS");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
}

void fz_report_at_exit(const char *target) {
    if (!report_target) atexit(report);
    report_target = target;
}
