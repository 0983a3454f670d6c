/*
 * Corrupted-memory fuzzer: takes a valid linear-memory image written by
 * one design, corrupts its bytes as the input says (flips, stores of
 * interesting values, truncation), and opens it with a design. The open
 * must either refuse with a clean error and leave every byte and page as
 * it was, or give a manager that passes mm_check and then behaves like the
 * model through a short op sequence, a reopen included. Crashes, hangs,
 * out-of-bounds accesses and huge allocations are caught by the sanitizers
 * and libFuzzer's limits (README.md).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE MM_PAGE_SIZE
#define MAX_OPS 32
#define MAX_MUTATIONS 16
/* Truncation may drop any page; extension adds at most this many. */
#define MAX_EXTRA_PAGES 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the valid images --------------------------------------------------- */

typedef struct image {
    size_t design_index;
    uint32_t bucket_pages;
    uint8_t *bytes;
    size_t len;
    uint64_t header_bytes, meta_buckets;
    /* The pages that hold the header, ascending: page 0 and, for list and
     * freestack, their metadata buckets' pages among the data buckets. */
    uint64_t *hpages;
    size_t nhpages;
} image;

static image images[2 * FZ_MAX_DESIGNS];
static size_t nimages;

static void must(int err, const char *what, const char *design) {
    if (err) {
        fprintf(stderr, "fuzz_open: building the %s image: %s: %s\n", design, what,
                mm_error_detail());
        abort();
    }
}

static void mark_ends(mm *m, unsigned id, const char *design) {
    uint64_t size;
    must(mm_size(m, id, &size), "size", design);
    uint8_t mark[16];
    memset(mark, 0xA0 + (int)id, sizeof mark);
    must(mm_write(m, id, 0, mark, sizeof mark), "write", design);
    must(mm_write(m, id, size * PAGE - sizeof mark, mark, sizeof mark), "write", design);
}

/* Where a data page is tagged while the header pages are looked for. */
#define TAG_AT (PAGE / 2)
static const uint8_t tag[16] = "mmfree-fuzz-tag";

/* Fills img->hpages: on a copy of the image whose free buckets memory 254
 * takes and whose memories are grown to whole buckets, every page of every
 * memory is tagged; the header pages are the first ceil(header_bytes /
 * PAGE) untagged ones (page 0 first). */
static void find_header_pages(image *img, mm_memory *mem, const mm_design_info *d) {
    uint32_t b = img->bucket_pages;
    mm_memory *copy = fz_copy_memory(mem, false, 0);
    mm *m;
    must(mm_open(copy, d->name, b, 0, &m), "open a copy", d->name);
    mm_stats st;
    must(mm_stats_get(m, &st), "stats", d->name);
    if (st.buckets_free) must(mm_grow(m, 254, st.buckets_free * b, NULL), "grow", d->name);
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) {
        uint64_t size;
        must(mm_size(m, id, &size), "size", d->name);
        if (size % b) must(mm_grow(m, id, b - size % b, &size), "grow", d->name);
        size = (size + b - 1) / b * b;
        for (uint64_t p = 0; p < size; p++)
            must(mm_write(m, id, p * PAGE + TAG_AT, tag, sizeof tag), "tag", d->name);
    }
    size_t want = (size_t)((img->header_bytes + PAGE - 1) / PAGE);
    img->hpages = malloc(want * sizeof *img->hpages);
    if (!img->hpages) abort();
    for (uint64_t p = 0; p < img->len / PAGE && img->nhpages < want; p++) {
        uint8_t got[sizeof tag];
        must(mm_memory_read(copy, p * PAGE + TAG_AT, got, sizeof got), "read", d->name);
        if (memcmp(got, tag, sizeof tag) != 0) img->hpages[img->nhpages++] = p;
    }
    if (img->nhpages != want || img->hpages[0] != 0) {
        fprintf(stderr, "fuzz_open: the %s image of %u pages/bucket has %zu header pages "
                "untagged, %zu expected, the first %llu\n", d->name, b, img->nhpages, want,
                img->nhpages ? (unsigned long long)img->hpages[0] : 0ull);
        abort();
    }
    mm_close(m);
    mm_memory_close(copy);
}

/* Several memories, bytes at the start and end of each, and for the
 * designs that free, freed memories whose buckets were partly reused: the
 * header then holds every kind of entry. Memory 5's twelve buckets, one
 * per grow, take list and freestack past the 8 entries their page 0 holds
 * in fuzz builds (MMFREE_FUZZ_SMALL_PAGE0): their images hold a chain of
 * metadata buckets among the data buckets, holding links, records of
 * buckets in use and of free ones, and stack slots. */
static void build_image(size_t design_index, uint32_t b) {
    const mm_design_info *d = mm_design_get(design_index);
    mm_memory *mem;
    mm *m;
    must(mm_memory_ram(0, &mem), "memory", d->name);
    must(mm_open(mem, d->name, b, 0, &m), "open", d->name);
    const uint64_t grows[][2] = {{0, 2 * b + 1}, {1, b}, {2, 1}, {3, b + 1}, {0, 1}};
    for (size_t k = 0; k < sizeof grows / sizeof grows[0]; k++)
        must(mm_grow(m, (unsigned)grows[k][0], grows[k][1], NULL), "grow", d->name);
    for (unsigned id = 0; id < 4; id++) mark_ends(m, id, d->name);
    if (d->flags & MM_DESIGN_CAN_FREE) {
        must(mm_free(m, 1), "free", d->name);
        must(mm_grow(m, 4, 1, NULL), "grow after free", d->name);
        must(mm_free(m, 2), "free", d->name);
    }
    for (int k = 0; k < 12; k++) must(mm_grow(m, 5, b, NULL), "grow", d->name);
    mark_ends(m, 5, d->name);
    if (d->flags & MM_DESIGN_CAN_FREE) {
        must(mm_free(m, 5), "free", d->name);
        must(mm_grow(m, 6, 3 * b, NULL), "grow after free", d->name);
        mark_ends(m, 6, d->name);
    }
    mm_stats st;
    must(mm_stats_get(m, &st), "stats", d->name);
    image *img = &images[nimages++];
    *img = (image){.design_index = design_index, .bucket_pages = b,
                   .len = (size_t)(mm_memory_size(mem) * PAGE), .header_bytes = st.header_bytes,
                   .meta_buckets = st.buckets_meta};
    img->bytes = malloc(img->len);
    if (!img->bytes) abort();
    must(mm_memory_read(mem, 0, img->bytes, img->len), "read", d->name);
    if (!img->header_bytes || img->header_bytes > img->len) img->header_bytes = PAGE;
    mm_close(m);
    find_header_pages(img, mem, d);
    mm_memory_close(mem);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (mm_design_count() > FZ_MAX_DESIGNS) {
        fprintf(stderr, "fuzz_open: %zu designs, raise FZ_MAX_DESIGNS\n", mm_design_count());
        abort();
    }
    size_t with_meta = 0;
    for (size_t i = 0; i < mm_design_count(); i++) {
        build_image(i, 1);
        build_image(i, 3);
        with_meta += images[nimages - 1].meta_buckets && images[nimages - 2].meta_buckets;
    }
#ifdef MMFREE_FUZZ_SMALL_PAGE0
    if (with_meta < 2) {
        fprintf(stderr, "fuzz_open: only %zu designs' images hold metadata buckets: build the "
                "library with -DMMFREE_FUZZ_SMALL_PAGE0 too\n", with_meta);
        abort();
    }
#else
    (void)with_meta;
#endif
    fz_report_at_exit("fuzz_open");
    return 0;
}

/* ---- corruption ----------------------------------------------------------- */

static const uint64_t interesting[] = {
    0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFE, 0xFF, 0x100, 0x101, 0x7FFF, 0x8000, 0x8001, 0xFFFE,
    0xFFFF, 0x10000, 0x10001, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, 0x100000000ull,
    0x0001000000000000ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, UINT64_MAX,
    MM_MAX_PAGES, MM_MAX_PAGES + 1, 255, 254, 32767, 32768, 32769, 65535, 65536,
};
#define NINTERESTING (sizeof interesting / sizeof interesting[0])

static uint64_t value(fz_input *in, uint8_t v, unsigned bytes) {
    if (v & 0x80) return interesting[v % NINTERESTING];
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++) x |= (uint64_t)fz_u8(in) << (8 * i);
    return x;
}

static void store_le(uint8_t *p, uint64_t x, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++) p[i] = (uint8_t)(x >> (8 * i));
}

/* Where a mutation lands: `bytes` bytes, byte x of which is image byte
 * span_byte(x). The header's bytes lie in its pages (hpages); `lead` spans
 * only the first 64 bytes of each header page past page 0, where list's
 * and freestack's metadata buckets keep their entries in fuzz builds. */
typedef struct span {
    const image *img; /* NULL: the span starts at byte 0 */
    bool lead;
    size_t bytes;
} span;

static size_t span_byte(const span *s, size_t x) {
    if (!s->img) return x;
    if (s->lead) return (size_t)s->img->hpages[1 + x / 64] * PAGE + x % 64;
    return (size_t)s->img->hpages[x / PAGE] * PAGE + x % PAGE;
}

/* The bytes from off to the end of the image of len bytes or, in the
 * header, of its run of adjacent pages: a mutation never spills into a
 * data bucket. 0 when a truncation took off's page. */
static size_t span_room(const span *s, size_t off, size_t len) {
    size_t end = len;
    if (s->img) {
        const image *h = s->img;
        size_t k = 0;
        while (h->hpages[k] != off / PAGE) k++;
        while (k + 1 < h->nhpages && h->hpages[k + 1] == h->hpages[k] + 1) k++;
        if ((h->hpages[k] + 1) * PAGE < end) end = (size_t)(h->hpages[k] + 1) * PAGE;
    }
    return off < end ? end - off : 0;
}

/* One mutation: kind byte (low 3 bits: what; high 2 bits: where: page 0,
 * its first 64 bytes, the design's header bytes, or the first 64 bytes of
 * each header page past page 0), a 24-bit offset, a value byte, and for
 * raw values the value's bytes. The buffer has room for MAX_EXTRA_PAGES
 * more pages. */
static void mutate(fz_input *in, uint8_t *bytes, size_t *len, const image *img) {
    uint8_t kind = fz_u8(in);
    uint32_t o = fz_u16(in);
    o |= (uint32_t)fz_u8(in) << 16;
    uint8_t v = fz_u8(in);
    if (!*len) return;
    /* Header bytes only: data buckets hold the user's bytes, which no
     * opener can tell from corruption (a flipped byte past a memory's size
     * would then show up in its next grow). */
    span sp = {.bytes = PAGE};
    if (kind >> 6 == 1) sp.bytes = 64; /* the fields every layout starts with */
    if (kind >> 6 >= 2) sp = (span){.img = img, .bytes = img->header_bytes};
    if (kind >> 6 == 3 && img->nhpages > 1)
        sp = (span){.img = img, .lead = true, .bytes = 64 * (img->nhpages - 1)};
    if (sp.bytes > *len) sp.bytes = *len;
    size_t off = span_byte(&sp, o % sp.bytes), room = span_room(&sp, off, *len);
    if (getenv("MMFREE_FUZZ_TRACE"))
        fprintf(stderr, "mutation: kind %u at byte %zu of %zu, value byte 0x%02x\n", kind & 7u,
                off, *len, v);
    switch (kind & 7) {
    case 0: if (room) bytes[off] ^= v ? v : 1; break;
    case 1: if (room) bytes[off] = v; break;
    case 2: if (room >= 2) store_le(bytes + off, value(in, v, 2), 2); break;
    case 3: if (room >= 4) store_le(bytes + off, value(in, v, 4), 4); break;
    case 4: if (room >= 8) store_le(bytes + off, value(in, v, 8), 8); break;
    case 5: {
        /* Truncate to fewer pages (possibly none), or add zero pages. */
        size_t pages = *len / PAGE;
        if (v < 0x80)
            pages -= (v % pages) + 1;
        else if (*len / PAGE < img->len / PAGE + MAX_EXTRA_PAGES)
            pages += 1;
        if (pages * PAGE > *len) memset(bytes + *len, 0, pages * PAGE - *len);
        *len = pages * PAGE;
        break;
    }
    case 6: {
        /* Copy 16 bytes from elsewhere in the same span: a duplicated entry. */
        size_t from = span_byte(&sp, (size_t)value(in, 0, 2) % sp.bytes);
        size_t n = 16;
        if (n > room) n = room;
        if (n > span_room(&sp, from, *len)) n = span_room(&sp, from, *len);
        memmove(bytes + off, bytes + from, n);
        break;
    }
    default: {
        size_t n = 1 + v % 64;
        if (n > room) n = room;
        memset(bytes + off, v & 1 ? 0xFF : 0, n);
        break;
    }
    }
}

/* ---- one execution ------------------------------------------------------- */

static bool clean_refusal(int err) {
    switch (err) {
    case MM_EMAGIC:
    case MM_EVERSION:
    case MM_EWRONG_DESIGN:
    case MM_EBUCKET_SIZE:
    case MM_ECORRUPT:
    case MM_EINTERRUPTED:
    case MM_EGROW: /* an upgrade asked for more pages than the cap */
        return true;
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {.p = data, .len = size};
    const image *img = &images[fz_u8(&in) % nimages];
    uint8_t who = fz_u8(&in), how = fz_u8(&in);
    size_t opener = who < 0x80 ? img->design_index : who % mm_design_count();
    const char *name = mm_design_get(opener)->name;
    uint32_t ask = (how & 3) == 1 ? img->bucket_pages : (how & 3) == 2 ? img->bucket_pages + 1 : 0;
    unsigned nmut = fz_u8(&in) % (MAX_MUTATIONS + 1);

    static uint8_t *bytes;
    static size_t cap;
    size_t need = img->len + MAX_EXTRA_PAGES * PAGE;
    if (cap < need) {
        free(bytes);
        bytes = malloc(cap = need);
        if (!bytes) abort();
    }
    size_t len = img->len;
    memcpy(bytes, img->bytes, len);
    for (unsigned k = 0; k < nmut; k++) mutate(&in, bytes, &len, img);

    fz_totals.execs++;
    fz_report_progress();
    fz_totals.images++;
    mm_memory *mem = fz_memory_from_bytes(bytes, len, 0);
    mm *m = NULL;
    /* Asked to upgrade, so that a damaged V1 image reaches the upgrade of
     * every design that reads V1 (without the flag they refuse it unread;
     * fuzz_engine.c checks that refusal). */
    int err = mm_open(mem, name, ask, MM_OPEN_UPGRADE, &m);
    char context[96];
    snprintf(context, sizeof context, "fuzz_open, %s image of %u pages/bucket, %u mutations",
             mm_design_get(img->design_index)->name, img->bucket_pages, nmut);
    fz_group group;
    fz_lane lane = {.d = mm_design_get(opener), .design_index = opener, .context = context};
    if (getenv("MMFREE_FUZZ_TRACE"))
        fprintf(stderr, "%s, opened by %s asking %u pages/bucket: %s\n", context, name, ask,
                mm_strerror(err));
    if (err) {
        fz_totals.refused[err < MM_ELAST ? err : 0]++;
        if (!clean_refusal(err))
            fz_fail(&lane, "opening with %s returned %s, not a clean refusal", name,
                    mm_strerror(err));
        if (nmut == 0 && opener == img->design_index && ask != img->bucket_pages + 1)
            fz_fail(&lane, "%s refused its own valid image: %s", name, mm_strerror(err));
        uint64_t where;
        if (!fz_memory_matches(mem, bytes, len, &where))
            fz_fail(&lane, "a refused open changed the memory at byte %llu",
                    (unsigned long long)where);
        mm_memory_close(mem);
        return 0;
    }
    fz_totals.opened++;
    fz_lane_adopt(&lane, opener, &group, mem, m, context);
    for (int k = 0; k < MAX_OPS && fz_more(&in); k++) {
        fz_op op = fz_decode(&in);
        fz_step st = fz_group_step(&group, &op);
        fz_lane_apply(&lane, &st);
    }
    fz_op reopen = {.kind = FZ_REOPEN};
    fz_step st = fz_group_step(&group, &reopen);
    fz_lane_apply(&lane, &st);
    fz_lane_close(&lane);
    fz_group_destroy(&group);
    return 0;
}
