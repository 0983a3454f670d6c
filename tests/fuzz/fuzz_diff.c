/*
 * Differential fuzzer: every registered design and the trivial model run
 * the same op stream in lockstep, one lane each (fuzz.h), with every
 * result, size and byte compared after each op. The input's first byte
 * picks the bucket size; the rest are ops (README.md).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

/* Enough for any interesting sequence, few enough for fast executions. */
#define MAX_OPS 400

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (mm_design_count() > FZ_MAX_DESIGNS) {
        fprintf(stderr, "fuzz_diff: %zu designs, raise FZ_MAX_DESIGNS\n", mm_design_count());
        abort();
    }
    fz_report_at_exit("fuzz_diff");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {.p = data, .len = size};
    size_t n = mm_design_count();
    fz_lane lanes[FZ_MAX_DESIGNS];
    uint32_t bucket_pages = fz_bucket_pages(fz_u8(&in));
    fz_totals.execs++;
    for (size_t i = 0; i < n; i++) fz_lane_format(&lanes[i], i, bucket_pages, "fuzz_diff");
    for (int k = 0; k < MAX_OPS && fz_more(&in); k++) {
        fz_op op = fz_decode(&in);
        for (size_t i = 0; i < n; i++) fz_lane_apply(&lanes[i], &op);
    }
    for (size_t i = 0; i < n; i++) {
        fz_lane_verify(&lanes[i]);
        fz_lane_close(&lanes[i]);
    }
    return 0;
}
