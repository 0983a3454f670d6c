/*
 * The engine both fuzz targets share (README.md has the input encoding).
 *
 * A lane is one manager under test paired with its own copy of the
 * trivial model (tests/model.c). Every lane of a run gets the same op
 * stream; an op is resolved against the lane's model (offsets, clamped
 * grow sizes), applied to the manager and the model, and then checked:
 * same result code, same old size, same bytes read, every size, the bucket
 * counts, mm_check, and the design's reuse rule. The first difference
 * prints what was expected and what came, and aborts, so that libFuzzer
 * (or the replay driver) keeps the input.
 *
 * Plain C17: built with clang and libFuzzer for fuzzing, and with gcc for
 * replaying the corpus in `make test`.
 */
#ifndef MM_FUZZ_H
#define MM_FUZZ_H

#include "model.h"
#include "mmfree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that keep each execution fast: a lane's model never holds more
 * than FZ_MAX_PAGES pages or FZ_MAX_BUCKETS buckets (grows are clamped),
 * and every linear memory is capped at FZ_LINEAR_CAP pages (reaching the
 * cap is reported as a divergence: no design needs that much here). */
#define FZ_MAX_PAGES 16u
#define FZ_MAX_BUCKETS 24u
#define FZ_LINEAR_CAP 32768u
#define FZ_MAX_DESIGNS 16u
/* The longest span a read or write op moves. */
#define FZ_MAX_SPAN (4u * MM_PAGE_SIZE)

/* ---- the input ----------------------------------------------------------- */

/** A cursor over the fuzz input; past the end every byte reads as 0. */
typedef struct fz_input {
    const uint8_t *p;
    size_t len, at;
} fz_input;

static inline uint8_t fz_u8(fz_input *in) {
    return in->at < in->len ? in->p[in->at++] : (uint8_t)(in->at++, 0);
}
static inline uint16_t fz_u16(fz_input *in) {
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | fz_u8(in) << 8);
}
static inline bool fz_more(const fz_input *in) {
    return in->at < in->len;
}

/** The bucket size a selector byte stands for (1..16 pages). */
uint32_t fz_bucket_pages(uint8_t selector);

/* ---- ops ------------------------------------------------------------------ */

typedef enum fz_kind {
    FZ_GROW,
    FZ_FREE,
    FZ_WRITE,
    FZ_READ,
    FZ_REOPEN, /* through a copy of the linear memory: RAM or a memfd file */
    FZ_FORMAT, /* MM_OPEN_FORMAT with a new bucket size; every memory empties */
    FZ_ALIEN,  /* open a copy under another design; the lane goes on unchanged */
    FZ_NKINDS
} fz_kind;

/** One op as decoded, before it is resolved against a lane's model. */
typedef struct fz_op {
    fz_kind kind;
    unsigned id;  /* 0..254, or 255..258 (invalid) */
    uint8_t arg;  /* grow: amount; reopen/alien: flags; format: bucket selector */
    uint8_t seed; /* write: the bytes' seed; alien: design selector */
    uint16_t off; /* read/write: offset selector */
    uint8_t len;  /* read/write: length selector */
} fz_op;

/** Decodes the next op (op byte, then its arguments). */
fz_op fz_decode(fz_input *in);
/** One line naming the op, for divergence reports. */
const char *fz_op_name(const fz_op *op);

/* ---- groups: the model a set of lanes must all match ------------------- */

/** The lanes whose designs free share one model, those that cannot free
 *  another: lockstep means every lane of a group returns what the model
 *  does. */
typedef struct fz_group {
    mm_model md;
    uint32_t bucket_pages;
    bool can_free;
    /* Adopted from a corrupted image (fuzz_open): a size lowered by the
     * corruption leaves bytes in the unused pages of a memory's last bucket
     * and, where the layout derives a chain's length from the size (link15),
     * in buckets that the header now calls free. No header can tell such
     * bytes from data, so a grow into them takes what they hold. */
    bool dirty_buckets;
} fz_group;

void fz_group_init(fz_group *g, uint32_t bucket_pages, bool can_free);
void fz_group_destroy(fz_group *g);

/** An op resolved against a group's model (offsets, clamped grow sizes)
 *  and applied to it, with what every lane must return. */
typedef struct fz_step {
    const fz_op *op;
    int want;      /* the model's result, or FZ_LIMIT */
    uint64_t size; /* the op's memory before the op, in pages */
    uint64_t pages, old; /* grow: pages asked; the old size returned */
    uint64_t off;        /* read, write */
    size_t len;
} fz_step;

/** want for a grow past what a design addresses: MM_EOVERFLOW, MM_EFULL or
 *  MM_EGROW, with nothing changed. */
#define FZ_LIMIT (-1)

/** Resolves op against the group's model and applies it there. */
fz_step fz_group_step(fz_group *g, const fz_op *op);

/* ---- lanes ------------------------------------------------------------- */

typedef struct fz_lane {
    const mm_design_info *d;
    size_t design_index;
    fz_group *g;
    mm_memory *mem;
    mm *m;
    const char *context; /* what the run is, for reports ("fuzz_diff") */
    uint64_t op_no;
} fz_lane;

/** Formats a fresh RAM memory with the lane's design and the group's
 *  bucket size. */
void fz_lane_format(fz_lane *l, size_t design_index, fz_group *g, const char *context);
/** Takes over an open manager (from fuzz_open) as the one lane of group g,
 *  whose model is seeded with every size and byte the manager reads; then
 *  checks the lane's invariants. */
void fz_lane_adopt(fz_lane *l, size_t design_index, fz_group *g, mm_memory *mem, mm *m,
                   const char *context);
/** Applies a step (already applied to the lane's group) to the lane and
 *  checks it; aborts on any divergence. */
void fz_lane_apply(fz_lane *l, const fz_step *st);
/** Full comparison (every byte) and mm_check; aborts on a difference. */
void fz_lane_verify(fz_lane *l);
void fz_lane_close(fz_lane *l);

/** Prints the lane, op and message to stderr and aborts. */
void fz_fail(const fz_lane *l, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

/* ---- linear-memory images ------------------------------------------------ */

/** A new linear memory (RAM, or a memfd-backed file when as_file) holding
 *  the same pages and bytes as src, capped at cap pages (0: FZ_LINEAR_CAP).
 *  Pages that read as zero are not written, so the copy costs what the
 *  memory holds. Aborts when the copy cannot be made. */
mm_memory *fz_copy_memory(mm_memory *src, bool as_file, uint64_t cap);
/** The same, from bytes (len a multiple of the page size). */
mm_memory *fz_memory_from_bytes(const uint8_t *bytes, size_t len, uint64_t cap);
/** Whether two linear memories hold the same pages and bytes; when not,
 *  *where gets the first differing byte (or the page count when sizes
 *  differ). */
bool fz_same_memory(mm_memory *a, mm_memory *b, uint64_t *where);
/** The same, between a linear memory and bytes. */
bool fz_memory_matches(mm_memory *mem, const uint8_t *bytes, size_t len, uint64_t *where);

/* ---- counters, printed at exit ------------------------------------------ */

typedef struct fz_counts {
    uint64_t execs;
    uint64_t ops[FZ_MAX_DESIGNS];    /* ops applied per design */
    uint64_t kinds[FZ_NKINDS];       /* ops decoded per kind */
    uint64_t images;                 /* corrupted images opened (fuzz_open) */
    uint64_t opened;                 /* ... that a design accepted */
    uint64_t refused[MM_ELAST];      /* ... refused, by error code */
} fz_counts;

extern fz_counts fz_totals;

/** Prints fz_totals at exit; with $MMFREE_FUZZ_STATS set, also writes
 *  them to that file at exit and from fz_report_progress. */
void fz_report_at_exit(const char *target);
/** Rewrites the $MMFREE_FUZZ_STATS file when a minute has passed. */
void fz_report_progress(void);

#endif
