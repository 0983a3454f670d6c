/*
 * The trivial model every design is compared with: a byte array per
 * memory, grown by pages, freed to nothing. Plain C without Criterion, so
 * the model-based test and the differential fuzzer share it.
 */
#ifndef MM_MODEL_H
#define MM_MODEL_H

#include "mmfree.h"

#include <stddef.h>
#include <stdint.h>

typedef struct mm_model {
    uint64_t size[MM_MAX_MEMORIES]; /* pages */
    uint8_t *bytes[MM_MAX_MEMORIES];
} mm_model;

void model_init(mm_model *md);
void model_destroy(mm_model *md);

/* Each returns the error code a correct manager must return (MM_OK,
 * MM_EINVAL, MM_EBOUNDS, MM_EOVERFLOW) and applies the op when MM_OK.
 * Limits of a design (MM_EFULL) are not the model's business: a caller
 * that gets MM_EFULL from a manager skips the model's grow. */
int model_grow(mm_model *md, unsigned id, uint64_t pages, uint64_t *old_pages);
int model_write(mm_model *md, unsigned id, uint64_t off, const void *buf, size_t len);
int model_read(const mm_model *md, unsigned id, uint64_t off, void *buf, size_t len);
int model_free(mm_model *md, unsigned id);
uint64_t model_total_pages(const mm_model *md);

/** Compares every memory of m with the model: sizes and every byte. Returns
 *  NULL when equal, else a static message naming the first difference. */
const char *model_compare(const mm_model *md, mm *m);
/** A new model holding every size and byte of every memory of m (into
 *  *md, which the caller destroys), or the error of a call that failed. */
int model_capture(mm *m, mm_model *md);
/** A new model with the sizes and bytes of from. */
mm_model model_copy(const mm_model *from);
/** Writes recognizable bytes (64 at both ends of each page, by memory and
 *  page) into memory id of m: what the scripted tests mark memories with. */
int model_mark(mm *m, unsigned id);

#endif
