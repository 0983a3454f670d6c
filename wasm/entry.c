/*
 * The entry points the host (wasm/host.mjs) calls in the WebAssembly
 * build: the registries of designs and workloads, one workload run, and
 * the tests that the wasm build runs (wasm/criterion/).
 *
 * Strings go out as pointers to NUL-terminated bytes in the module's
 * memory; designs and workloads come in by index (the design index
 * mm_design_count() stands for "none", the raw workloads' design).
 *
 * A run's phases are measured by the host: the workload's hooks are the
 * host's own imported functions, so between a phase's begin and end only
 * the workload's code and one indirect call on each side execute. The
 * host reads the instruction counters the instrumentation added
 * (wasm/instrument.mjs) as each hook is called.
 */
#include "workloads.h"

#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define HOST_IMPORT(name) __attribute__((import_module("mmfree_host"), import_name(#name)))

HOST_IMPORT(phase_begin) void host_phase_begin(void *ctx, unsigned phase, mm *m);
HOST_IMPORT(phase_end) void host_phase_end(void *ctx, unsigned phase, uint64_t ops);
HOST_IMPORT(pause) void host_pause(void *ctx, unsigned phase);
HOST_IMPORT(resume) void host_resume(void *ctx, unsigned phase);

static mm_wl_result result;

static const char *design_name(uint32_t d) {
    if (d == mm_design_count()) return MM_WL_NO_DESIGN;
    const mm_design_info *info = mm_design_get(d);
    return info ? info->name : NULL;
}

EXPORT(mmw_design_count) uint32_t mmw_design_count(void) {
    return (uint32_t)mm_design_count();
}

/** The d-th design's name; "none" at d == mmw_design_count(); NULL past it. */
EXPORT(mmw_design_name) const char *mmw_design_name(uint32_t d) {
    return design_name(d);
}

EXPORT(mmw_workload_count) uint32_t mmw_workload_count(void) {
    return (uint32_t)mm_workload_count();
}

EXPORT(mmw_workload_name) const char *mmw_workload_name(uint32_t w) {
    const mm_workload *wl = mm_workload_get(w);
    return wl ? wl->name : NULL;
}

EXPORT(mmw_workload_raw) uint32_t mmw_workload_raw(uint32_t w) {
    const mm_workload *wl = mm_workload_get(w);
    return wl && wl->raw;
}

EXPORT(mmw_workload_nphases) uint32_t mmw_workload_nphases(uint32_t w) {
    const mm_workload *wl = mm_workload_get(w);
    return wl ? wl->nphases : 0;
}

EXPORT(mmw_workload_phase) const char *mmw_workload_phase(uint32_t w, uint32_t p) {
    const mm_workload *wl = mm_workload_get(w);
    return wl && p < wl->nphases ? wl->phases[p] : NULL;
}

/** Whether design d can run workload w at n: 1, or 0 with the reason in
 *  mmw_reason(). */
EXPORT(mmw_applicable) uint32_t mmw_applicable(uint32_t w, uint32_t d, uint64_t n) {
    const mm_workload *wl = mm_workload_get(w);
    const char *design = design_name(d);
    result.reason[0] = 0;
    if (!wl || !design || n < 1 || n > MM_WL_MAX_N) {
        strcpy(result.reason, "no such workload, design or N");
        return 0;
    }
    return mm_workload_applicable(wl, design, n, result.reason, sizeof result.reason);
}

/** Bytes of RAM a run of workload w commits at n (what it writes), for the
 *  host's memory budget; 0 for an unknown workload. */
EXPORT(mmw_resident_bytes) uint64_t mmw_resident_bytes(uint32_t w, uint64_t n) {
    const mm_workload *wl = mm_workload_get(w);
    return wl ? wl->resident_bytes(n) : 0;
}

/**
 * Runs workload w on design d at n once, with the host's hooks around its
 * phases; returns the mm_wl_status (MM_WL_OK, MM_WL_NA, MM_WL_FAILED).
 * The reason, the record and each phase's ops stay readable until the
 * next run.
 */
EXPORT(mmw_run) uint32_t mmw_run(uint32_t w, uint32_t d, uint64_t n, uint64_t seed) {
    const mm_workload *wl = mm_workload_get(w);
    const char *design = design_name(d);
    memset(&result, 0, sizeof result);
    if (!wl || !design) {
        result.status = MM_WL_FAILED;
        strcpy(result.reason, "no such workload or design");
        return (uint32_t)result.status;
    }
    mm_wl_hooks hooks = {NULL, host_phase_begin, host_phase_end, host_pause, host_resume};
    mm_wl_params params = {.design = design, .n = n, .seed = seed};
    return (uint32_t)mm_workload_run(wl, &params, &hooks, &result);
}

EXPORT(mmw_reason) const char *mmw_reason(void) {
    return result.reason;
}

/** A field of the last run's record, in mm_wl_record's order: ops,
 *  buckets_new, buckets_reused, pages_end, header_bytes_written. */
EXPORT(mmw_record) uint64_t mmw_record(uint32_t field) {
    const mm_wl_record *r = &result.record;
    const uint64_t fields[] = {r->ops, r->buckets_new, r->buckets_reused, r->pages_end,
                               r->header_bytes_written};
    return field < sizeof fields / sizeof fields[0] ? fields[field] : 0;
}

EXPORT(mmw_phase_ops) uint64_t mmw_phase_ops(uint32_t p) {
    return p < MM_WL_MAX_PHASES ? result.phase_ops[p] : 0;
}
