/*
 * The interface behind mm_memory: one small table of functions per backing
 * (memory_ram.c, memory_file.c, memory_faulty.c). memory.c checks bounds
 * and caps once, so a backing only moves bytes.
 */
#ifndef MM_MEMORY_INTERNAL_H
#define MM_MEMORY_INTERNAL_H

#include "mm_internal.h"

struct mm_memory_vt {
    /* Grows the storage to new_pages (> pages); new bytes read as zero. */
    int (*grow)(mm_memory *mem, uint64_t new_pages);
    /* Moves bytes; the range is inside the size. NULL when base is set. */
    int (*read)(mm_memory *mem, uint64_t off, void *buf, size_t len);
    int (*write)(mm_memory *mem, uint64_t off, const void *buf, size_t len);
    /* Zeroes whole pages inside the size and releases their storage. */
    int (*discard)(mm_memory *mem, uint64_t first_page, uint64_t pages);
    int (*sync)(mm_memory *mem);
    /* Orders storage: every grow, write and discard before it reaches the
     * storage before any after it (the file's fdatasync). NULL: the
     * backing keeps nothing past the process (RAM). */
    int (*barrier)(mm_memory *mem);
    void (*close)(mm_memory *mem);
};

struct mm_memory {
    const struct mm_memory_vt *vt;
    /* When not NULL, bytes live at base[0 .. pages * 64 KiB) and memory.c
     * copies them directly: the RAM fast path, no indirect call. */
    uint8_t *base;
    uint64_t pages;
    uint64_t max_pages; /* 0: no cap */
    /* Pages the backing holds already (RAM: its reservation, within the
     * cap): a grow up to here only moves `pages`, without the backing. */
    uint64_t ready_pages;
    /* A manager is open over this memory: it alone may grow it, so that the
     * bytes of a RAM memory it caches cannot move under it (mm_open). */
    bool managed;
    /* Opened read-only (mm_memory_file_open): the backing refuses grow,
     * write and discard, and mm_open makes its manager read-only. */
    bool readonly;
};

/** Starts outer, a memory over inner (a fault injector, a dirty-page
 *  counter), as inner shows itself: its size, its cap, and read-only when
 *  inner is, so that a manager over outer is read-only as over inner. */
static inline void mm__memory_wrap(mm_memory *outer, const struct mm_memory_vt *vt,
                                   const mm_memory *inner) {
    outer->vt = vt;
    outer->pages = inner->pages;
    outer->max_pages = inner->max_pages;
    outer->readonly = inner->readonly;
}

/** mm_memory_grow without the managed check: the manager's own grows. */
int mm__memory_grow(mm_memory *mem, uint64_t delta, uint64_t *old_pages);
/** The backing's barrier (durable mode, mm_open's MM_OPEN_SYNC). */
static inline int mm__memory_barrier(mm_memory *mem) {
    return mem->vt->barrier ? mem->vt->barrier(mem) : MM_OK;
}

#endif /* MM_MEMORY_INTERNAL_H */
