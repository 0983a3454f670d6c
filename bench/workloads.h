/*
 * The standardized workloads: one C definition of each, run unchanged by
 * `mmrun run` (callgrind, hyperfine, humans), bench/gbench.cc (wall clock)
 * and tests/test_workloads.c.
 *
 * A workload opens a fresh RAM linear memory and a manager of the named
 * design, does its setup, and runs one or more measured phases (the names
 * are fixed by results/FORMAT.md). Everything outside a phase is setup and
 * is not measured. Each harness measures a phase its own way through the
 * hooks: callgrind toggles collection and dumps a count per phase, Google
 * Benchmark reads the clock. Around each phase, outside what the hooks
 * measure, the workload takes its space figures (mm_wl_space). After its phases a workload checks its own
 * effect (sizes, reuse of freed buckets, bytes read back, mm_check), so a
 * broken run is an error and never a fast figure.
 *
 * A run is a function of (workload, design, N, seed) only: the same inputs
 * perform the same calls in the same order.
 *
 * The workloads (bucket size 1 page unless said otherwise):
 *   grow_pages     N one-page grows of memory 0 (upstream's canbench
 *                  memory_manager_grow, 347,433,966 Wasm instructions at
 *                  N = 32,000).                               phase grow: N ops
 *   grow_one       as grow_pages with 128-page buckets: mostly no new
 *                  bucket.                                    phase grow: N ops
 *   grow_spread    N one-page grows round-robin over the 255 memories.
 *                                                             phase grow: N ops
 *   free_regrow    N one-page grows round-robin over 8 memories; the 8 are
 *                  freed; N grows again. Phases grow (N ops), free (one op
 *                  per bucket released: N), regrow (N ops). Between phases
 *                  every bucket gets a byte written, which a reused bucket
 *                  must read back as zero.
 *   migrate        memory 0 holds N buckets, each with 64 bytes of data;
 *                  phase build: memory 1 grows bucket by bucket, each step
 *                  copying the 64 bytes of the matching bucket of memory 0
 *                  (N ops); phase free: memory 0 is freed (N ops, one per
 *                  bucket); phase grow: memory 1 grows N more buckets (N ops).
 *   migrate_repeat the migration (build + free) 8 times back and forth
 *                  between memories 0 and 1.   phase migrate: 8N ops
 *   churn          seeded random grows (1..8 pages) and frees over 16
 *                  memories, keeping about half of what was allocated in
 *                  use, until N buckets were allocated in total.
 *                                                     phase ops: one per call
 *   worst_scan     memory 0 holds N - 1 buckets and memory 1 the last; then
 *                  N times: free memory 1 (setup, not measured) and grow it
 *                  by one page (measured), so each grow must find the one
 *                  free bucket at the top.                    phase grow: N ops
 *                  The pause around each free stays in the figures: a few
 *                  instructions of callgrind's client requests, two clock
 *                  reads for Google Benchmark, the same for every design.
 *   rw_small       memory 0 of 4 buckets; N 8-byte writes, then N 8-byte
 *                  reads, at seeded random offsets (some cross a bucket
 *                  edge).                                     phase rw: 2N ops
 *   rw_large       upstream's memory_manager_overhead, bounded: five
 *                  memories of 16 MiB (default 128-page buckets, grown
 *                  bucket by bucket round-robin so they interleave), then
 *                  S = max(1, N / 1024) one-MiB spans written round-robin
 *                  over the five, then read back in the same order (phase
 *                  rw: 2S ops of 1 MiB). Upstream moves 500 MiB each way;
 *                  here N = 32,768 moves 32 MiB each way (callgrind counts
 *                  about one instruction per byte copied, so more would
 *                  only slow `make bench`), and the memory in use stays at
 *                  80 MiB whatever N is.
 *   reopen         N one-page grows round-robin over the 255 memories, then
 *                  the manager is closed and opened again, as a new process
 *                  opens it: what the close left for glibc to merge is
 *                  merged before the open (malloc_trim), which also gives
 *                  freed pages back, so the timed harnesses count the
 *                  open's first touches of its pages.  phase load: 1 op
 *   raw            the access patterns of rw_small (phase small, 2N ops) and
 *                  rw_large (phase large, 2S ops) on a bare linear memory:
 *                  the floor those two are divided by. Design "none".
 *
 * A design that cannot run a workload gets MM_WL_NA with the reason: a free
 * on a design without MM_DESIGN_CAN_FREE, more buckets in use at once than
 * its max_buckets (each workload states its peak for N), or, for a design
 * not flagged MM_DESIGN_REUSES_ALL, running out of buckets because it
 * carved new ones instead of reusing freed ones (MM_EFULL when the grows
 * take more buckets in all than it addresses).
 */
#ifndef MM_WORKLOADS_H
#define MM_WORKLOADS_H

#include "mmfree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The design name of the workloads that run on a bare linear memory. */
#define MM_WL_NO_DESIGN "none"
#define MM_WL_MAX_PHASES 3
/** The largest N any workload accepts (2^24). */
#define MM_WL_MAX_N (1ull << 24)

/** What a run did. Checked by the workload itself before it reports. */
typedef struct mm_wl_record {
    uint64_t ops;                  /**< operations in all measured phases */
    uint64_t buckets_new;          /**< data buckets carved out of the linear memory */
    uint64_t buckets_reused;       /**< buckets taken by grows that had been freed */
    uint64_t pages_end;            /**< linear-memory pages at the end */
    uint64_t header_bytes_written; /**< by every handle the run opened */
} mm_wl_record;

/** What a phase cost in space, taken outside it, as results/FORMAT.md names
 *  the figures. */
typedef struct mm_wl_space {
    uint64_t pages_end;            /**< linear-memory pages at the end of the phase */
    uint64_t header_bytes_written; /**< header bytes written during the phase */
    uint64_t dirty_pages;          /**< distinct 4 KiB pages the phase wrote or discarded,
                                    *   when counted (mm_wl_params.count_dirty), else 0 */
    uint64_t heap_bytes;           /**< the manager's heap bytes at the end (0 for raw) */
} mm_wl_space;

typedef enum mm_wl_status {
    MM_WL_OK = 0,
    MM_WL_NA,     /**< the design cannot run this workload (reason says why) */
    MM_WL_FAILED, /**< an error or a failed self-check (reason says which) */
} mm_wl_status;

typedef struct mm_wl_result {
    mm_wl_status status;
    char reason[320];
    mm_wl_record record;
    uint64_t phase_ops[MM_WL_MAX_PHASES]; /**< ops of each phase, in phase order */
    mm_wl_space phase_space[MM_WL_MAX_PHASES]; /**< and what each cost in space */
} mm_wl_result;

/**
 * How a harness measures. Every member may be NULL. begin and end bracket
 * a phase; pause and resume bracket setup work inside a phase (worst_scan's
 * frees). m is the manager the phase runs on (NULL for raw): tests use it
 * to inject faults, harnesses ignore it.
 */
typedef struct mm_wl_hooks {
    void *ctx;
    void (*begin)(void *ctx, unsigned phase, mm *m);
    void (*end)(void *ctx, unsigned phase, uint64_t ops);
    void (*pause)(void *ctx, unsigned phase);
    void (*resume)(void *ctx, unsigned phase);
} mm_wl_hooks;

typedef struct mm_wl_params {
    const char *design; /**< a registered design, or MM_WL_NO_DESIGN for raw */
    uint64_t n;         /**< 1..MM_WL_MAX_N */
    uint64_t seed;      /**< for the workloads that draw random numbers */
    /** Test only: repeats this many extra passes of setup work (reading the
     *  whole linear memory) before each phase and at each pause, to show
     *  that setup is not measured. 0 in every harness. */
    unsigned extra_setup;
    /** Test only: check reuse as if the design were flagged
     *  MM_DESIGN_REUSES_ALL, to show the check fails on one that is not. */
    bool expect_reuse;
    /** Runs over a dirty-page counter (mm_memory_dirty_counter) and fills
     *  each phase's dirty_pages (pages written during a pause, worst_scan's
     *  frees, are not counted). Every access then takes the manager's
     *  general path: a run that times or counts instructions leaves it off,
     *  and the figures come from a second run with it on (the same run:
     *  workloads are deterministic, and counting changes no byte). */
    bool count_dirty;
} mm_wl_params;

struct wl_run;

/** A number of buckets at N: per * ceil(N / div) + fixed. */
typedef struct mm_wl_buckets {
    uint64_t per, div, fixed;
} mm_wl_buckets;

/** The buckets b stands for at n. */
uint64_t mm_workload_buckets(const mm_wl_buckets *b, uint64_t n);

typedef struct mm_workload {
    const char *name;
    const char *summary; /**< one line */
    const char *phases[MM_WL_MAX_PHASES];
    unsigned nphases;
    uint32_t bucket_pages; /**< what the manager is opened with */
    bool needs_free;       /**< needs MM_DESIGN_CAN_FREE */
    bool raw;              /**< a bare linear memory, design MM_WL_NO_DESIGN */
    /** The most buckets in use at once: a design addressing fewer cannot
     *  run the workload (n/a). */
    mm_wl_buckets peak;
    /** The buckets all its grows take: a design that does not reuse every
     *  freed bucket may carve that many, and is n/a when it runs out. */
    mm_wl_buckets taken;
    /** Bytes of RAM a run commits at N (what it writes), so a harness can
     *  skip sizes the machine cannot hold. */
    uint64_t (*resident_bytes)(uint64_t n);
    void (*body)(struct wl_run *run);
} mm_workload;

/** v with thousands separators into buf, as every report writes a figure
 *  (65,536); returns buf. */
const char *mm_workload_grouped(char buf[32], unsigned long long v);

/** The number of workloads, and each in the order harnesses list them. */
size_t mm_workload_count(void);
const mm_workload *mm_workload_get(size_t index);
/** The workload of that name, or NULL. */
const mm_workload *mm_workload_find(const char *name);
/** The index of a phase of w, or -1. */
int mm_workload_phase(const mm_workload *w, const char *phase);

/**
 * Whether design (a registered name, or MM_WL_NO_DESIGN) can run w at n.
 * When it cannot, why (if not NULL) gets the reason in one line. An unknown
 * design or an n outside 1..MM_WL_MAX_N is not n/a but a usage error: the
 * caller checks those first.
 */
bool mm_workload_applicable(const mm_workload *w, const char *design, uint64_t n, char *why,
                            size_t why_len);

/** About how many pages the linear memory of a run of w on design (or
 *  MM_WL_NO_DESIGN) reaches at n, headers aside: the peak for the designs
 *  flagged MM_DESIGN_REUSES_ALL, all the grows take for the others. A
 *  harness checks it against the address space it has (valgrind's). */
uint64_t mm_workload_linear_pages(const mm_workload *w, const char *design, uint64_t n);

/**
 * Runs w once: opens, sets up, runs the phases through hooks (may be NULL),
 * checks the effect and fills *out. Returns out->status: MM_WL_NA without
 * running anything when the design cannot run it; MM_WL_FAILED when a call
 * fails or a self-check does not hold, with the first problem in
 * out->reason.
 */
mm_wl_status mm_workload_run(const mm_workload *w, const mm_wl_params *params,
                             const mm_wl_hooks *hooks, mm_wl_result *out);

#ifdef __cplusplus
}
#endif

#endif
