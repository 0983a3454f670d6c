/*
 * Differential fuzzer: every registered design runs the same op stream in
 * lockstep, one lane each (fuzz.h), next to the trivial model: one model
 * for the designs that free, one for those that cannot. Every result, size
 * and byte is compared after each op. The input's first byte picks the
 * bucket size; the rest are ops (README.md).
 */
#include "fuzz.h"

#include <stdbool.h>
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
    uint32_t bucket_pages = fz_bucket_pages(fz_u8(&in));
    /* groups[1]: the designs that free; groups[0]: those that cannot. */
    fz_group groups[2];
    fz_lane lanes[FZ_MAX_DESIGNS];
    bool used[2] = {false, false};
    fz_totals.execs++;
    fz_report_progress();
    for (int k = 0; k < 2; k++) fz_group_init(&groups[k], bucket_pages, k == 1);
    for (size_t i = 0; i < n; i++) {
        int k = (mm_design_get(i)->flags & MM_DESIGN_CAN_FREE) != 0;
        used[k] = true;
        fz_lane_format(&lanes[i], i, &groups[k], "fuzz_diff");
    }
    for (int op_no = 0; op_no < MAX_OPS && fz_more(&in); op_no++) {
        fz_op op = fz_decode(&in);
        for (int k = 0; k < 2; k++) {
            if (!used[k]) continue;
            fz_step st = fz_group_step(&groups[k], &op);
            for (size_t i = 0; i < n; i++)
                if (lanes[i].g == &groups[k]) fz_lane_apply(&lanes[i], &st);
        }
    }
    for (size_t i = 0; i < n; i++) {
        fz_lane_verify(&lanes[i]);
        fz_lane_close(&lanes[i]);
    }
    for (int k = 0; k < 2; k++) fz_group_destroy(&groups[k]);
    return 0;
}
