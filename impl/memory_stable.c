/*
 * The WebAssembly build's linear memory: a canister's stable memory,
 * reached through host functions shaped like the Internet Computer's
 * system API (module "ic0": stable64_size, stable64_grow, stable64_read,
 * stable64_write; wasm/host.mjs implements them and charges their fees).
 *
 * Only the wasm build compiles this file (the Makefile's wasm section),
 * and it leaves out memory_ram.c (mmap, mremap) and memory_file.c
 * (fallocate, locks), which wasi has not. So here mm_memory_ram() is the
 * stable memory: the one growable memory of 64 KiB pages a canister has
 * that outlives its heap, which is what a memory manager runs on in
 * production. Every read and write is a system call, as on the IC: there
 * is no base pointer for memory.c's direct copies.
 *
 * A module instance has one stable memory, so at most one mm_memory is
 * open over it at a time, and mm_memory_ram() wants it empty (the host
 * gives every run a fresh instance).
 */
#include "memory_internal.h"

#include <stdlib.h>

#define IC0_IMPORT(name) __attribute__((import_module("ic0"), import_name(#name)))

/* The system API's signatures (the IC interface specification), with
 * heap addresses widened to 64 bits as the stable64_* calls take them. */
IC0_IMPORT(stable64_size) uint64_t ic0_stable64_size(void);
/* The old size in pages, or -1 (UINT64_MAX) when the memory cannot grow. */
IC0_IMPORT(stable64_grow) uint64_t ic0_stable64_grow(uint64_t new_pages);
IC0_IMPORT(stable64_read) void ic0_stable64_read(uint64_t dst, uint64_t offset, uint64_t size);
IC0_IMPORT(stable64_write) void ic0_stable64_write(uint64_t offset, uint64_t src, uint64_t size);

/* The stable memory cannot give pages back: discarding writes zeros, one
 * page per call, as a canister would. */
static const uint8_t zero_page[MM_PAGE_SIZE];

static bool in_use;

static int stable_grow(mm_memory *mem, uint64_t new_pages) {
    uint64_t old = ic0_stable64_grow(new_pages - mem->pages);
    if (old == UINT64_MAX)
        return mm__fail(MM_EGROW, "the stable memory refused to grow from %llu to %llu pages",
                        (unsigned long long)mem->pages, (unsigned long long)new_pages);
    if (old != mem->pages)
        return mm__fail(MM_EIO, "the stable memory held %llu pages, not the %llu expected",
                        (unsigned long long)old, (unsigned long long)mem->pages);
    return MM_OK;
}

static int stable_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    (void)mem;
    ic0_stable64_read((uintptr_t)buf, off, len);
    return MM_OK;
}

static int stable_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    (void)mem;
    ic0_stable64_write(off, (uintptr_t)buf, len);
    return MM_OK;
}

static int stable_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    (void)mem;
    for (uint64_t p = first_page; p < first_page + pages; p++)
        ic0_stable64_write(p * MM_PAGE_SIZE, (uintptr_t)zero_page, MM_PAGE_SIZE);
    return MM_OK;
}

static void stable_close(mm_memory *mem) {
    free(mem);
    in_use = false;
}

static const struct mm_memory_vt stable_vt = {
    .grow = stable_grow,
    .read = stable_read,
    .write = stable_write,
    .discard = stable_discard,
    .close = stable_close,
};

int mm_memory_ram(uint64_t max_pages, mm_memory **out) {
    if (!out) return mm__fail(MM_EINVAL, "out is NULL");
    if (in_use) return mm__fail(MM_EINVAL, "the stable memory is already open");
    uint64_t pages = ic0_stable64_size();
    if (pages)
        return mm__fail(MM_EINVAL, "the stable memory already holds %llu pages; a new memory "
                        "needs a fresh instance", (unsigned long long)pages);
    mm_memory *mem = calloc(1, sizeof *mem);
    if (!mem) return mm__fail(MM_ENOMEM, "cannot allocate the stable memory's handle");
    mem->vt = &stable_vt;
    mem->max_pages = max_pages;
    in_use = true;
    *out = mem;
    return MM_OK;
}
