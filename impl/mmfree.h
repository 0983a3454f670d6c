/*
 * mmfree: a persistent memory manager that can free memory.
 *
 * One growable linear memory of 64 KiB pages (like WebAssembly stable
 * memory) is carved into fixed-size buckets, which are handed to up to 255
 * virtual memories. Each virtual memory grows by pages and is read and
 * written at byte offsets as if it were a linear memory of its own. The
 * manager keeps its layout in a header inside the linear memory, so a new
 * process that opens the same linear memory sees every virtual memory as
 * it was.
 *
 * Several designs share this API. A design is picked by name when a
 * manager is opened; mm_design_count()/mm_design_get() list them.
 *
 * Conventions:
 *  - Every function that can fail returns an mm_error (0 is MM_OK).
 *  - A failed call changes nothing that is stored, except where its
 *    documentation says otherwise (MM_EIO from a header write, which also
 *    breaks the handle: MM_EBROKEN).
 *  - mm_error_detail() explains the last error of the calling thread in
 *    one sentence (which byte, which bucket, which limit).
 *  - Handles are not thread-safe; use one per thread or lock around them.
 */
#ifndef MMFREE_H
#define MMFREE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MMFREE_BUILD) && defined(__GNUC__)
#define MM_API __attribute__((visibility("default")))
#else
#define MM_API
#endif

/* ------------------------------------------------------------------------
 * Version
 * ---------------------------------------------------------------------- */

#define MMFREE_VERSION_MAJOR 0
#define MMFREE_VERSION_MINOR 1
#define MMFREE_VERSION_PATCH 0
/** The version as one comparable number: major * 10000 + minor * 100 + patch. */
#define MMFREE_VERSION \
    (MMFREE_VERSION_MAJOR * 10000 + MMFREE_VERSION_MINOR * 100 + MMFREE_VERSION_PATCH)

/** The version of the library linked at run time, as MMFREE_VERSION; the
 *  three parts are stored through the pointers that are not NULL. */
MM_API int mm_version(int *major, int *minor, int *patch);

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

typedef enum mm_error {
    MM_OK = 0,
    MM_EINVAL,        /**< invalid argument: memory id >= 255, a NULL handle or out
                           *   pointer, bucket size > 65535 */
    MM_EDESIGN_UNKNOWN, /**< no design is registered under that name */
    MM_EBOUNDS,       /**< read or write past the end of a virtual or linear memory */
    MM_EOVERFLOW,     /**< a size would overflow or pass the design's maximum */
    MM_EFULL,         /**< every bucket the design can address is in use */
    MM_EGROW,         /**< the linear memory refused to grow (cap reached, disk full) */
    MM_EIO,           /**< reading or writing the linear memory's storage failed */
    MM_ENOMEM,        /**< out of heap memory */
    MM_ENOTSUP,       /**< the design does not support this operation (free on v1) */
    MM_EMAGIC,        /**< the linear memory holds no memory-manager layout */
    MM_EVERSION,      /**< unknown layout version */
    MM_EWRONG_DESIGN, /**< the linear memory holds the layout of another design (or V1,
                           *   opened by a freeing design without MM_OPEN_UPGRADE) */
    MM_EBUCKET_SIZE,  /**< the requested bucket size differs from the stored one */
    MM_ECORRUPT,      /**< the header contradicts itself or the linear memory */
    MM_EINTERRUPTED,  /**< an interrupted V1 upgrade to another design, which this one can
                           *   neither complete nor roll back, or one that left no journal */
    MM_ESHORT,        /**< the storage is not a whole number of pages */
    MM_EBROKEN,       /**< an earlier header write failed; the handle refuses changes */
    MM_ECHECK,        /**< mm_check() found a broken invariant */
    MM_EBUSY,         /**< the file is open in another handle or process (its lock is held) */
    MM_EREADONLY,     /**< the memory is open read-only: a change was refused */
    MM_ELAST          /**< one past the last error code */
} mm_error;

/** A static string for an error code; it begins with the code's name. */
MM_API const char *mm_strerror(int err);

/** The last error of the calling thread, in one sentence with the values
 *  involved ("bucket 7 is owned by memory 3 but the count is 5"). Valid
 *  until the next failing mmfree call on this thread. */
MM_API const char *mm_error_detail(void);

/* ------------------------------------------------------------------------
 * Linear memories: growable arrays of 64 KiB pages
 * ---------------------------------------------------------------------- */

#define MM_PAGE_SIZE 65536u
/** The most pages any linear or virtual memory can hold, so that every byte
 *  offset fits in 64 bits. */
#define MM_MAX_PAGES (UINT64_MAX / MM_PAGE_SIZE)

typedef struct mm_memory mm_memory;

/** A linear memory in RAM, empty. max_pages caps its growth (0: no cap
 *  beyond what the address space allows). Growing costs O(1) amortized:
 *  address space is reserved in doubling steps (a remap moves page tables,
 *  never bytes) and pages are committed on first touch.
 *  Errors: MM_EINVAL (out is NULL), MM_ENOMEM. */
MM_API int mm_memory_ram(uint64_t max_pages, mm_memory **out);

/** mm_memory_file_open(path, max_pages, 0, out): a writer, the file created
 *  when missing. Errors: those of mm_memory_file_open. */
MM_API int mm_memory_file(const char *path, uint64_t max_pages, mm_memory **out);

/**
 * A linear memory backed by the file at path. The file always holds exactly
 * size * 64 KiB bytes; pages never written take no disk space. max_pages as
 * for RAM. flags: 0 or MM_OPEN_READONLY (the mm_open() flags are refused).
 *
 * One writer per file. Without flags the file is opened for reading and
 * writing (created when missing) and the memory takes an exclusive
 * open-file-description lock on it (fcntl F_OFD_SETLK): while it is open,
 * every other opener, in this process or another, fails at once with
 * MM_EBUSY and changes nothing. With MM_OPEN_READONLY the file is opened
 * read-only (it must exist; a file without write permission will do) under
 * a shared lock: any number of read-only memories may share a file, but not
 * with a writer. A read-only memory refuses grow, write and discard with
 * MM_EREADONLY, and a manager opened over it (mm_open) serves mm_size,
 * mm_read, mm_check and mm_stats_get and refuses every change with
 * MM_EREADONLY. The lock lives as long as the memory (mm_memory_close
 * releases it) and is shared by a child that fork() gives the descriptor.
 *
 * Errors: MM_EINVAL (a NULL argument, other flags), MM_EBUSY (the lock is
 * held: a writer has the file, or readers have it and a writer was asked
 * for), MM_EIO (cannot open or lock it, or not a regular file; the detail
 * names the system error in words), MM_ESHORT (length not a whole number of
 * pages; the file is left as it was), MM_ENOMEM.
 */
MM_API int mm_memory_file_open(const char *path, uint64_t max_pages, unsigned flags,
                               mm_memory **out);

/** Faults to inject into a wrapped memory, for tests. */
typedef struct mm_fault_plan {
    uint64_t fail_grow_at;  /**< the n-th grow (1-based) fails with MM_EGROW; 0: never */
    uint64_t fail_write_at; /**< the n-th write (1-based) fails with MM_EIO; 0: never */
    uint64_t max_pages;     /**< grows past this many pages fail; 0: no cap */
    /** Crash simulation. A storage call is a grow, write or discard. Each
     *  goes to the wrapped memory as usual (what the process sees: the page
     *  cache) and, when disk is not NULL, to disk too (what survives the
     *  crash), until storage call crash_at (1-based): from it on a call
     *  reaches disk only if it comes before the next barrier and bit
     *  (call - crash_at) of crash_keep is set. So crash_keep = 0 cuts every
     *  call from crash_at on (a process that dies), and a crash_at just past
     *  a barrier with any crash_keep is any subset of the calls up to the
     *  next barrier reaching the disk (a power loss in durable mode).
     *  disk must start as a copy of the wrapped memory. 0: no crash. */
    uint64_t crash_at;
    uint64_t crash_keep;
    mm_memory *disk;
} mm_fault_plan;

/** What a fault-injecting memory has seen. Failed calls are counted too. */
typedef struct mm_fault_counts {
    uint64_t grows, reads, writes, bytes_written, discards;
    uint64_t calls;       /**< storage calls: grows, writes and discards */
    uint64_t barriers;    /**< barriers: mm_memory_sync, and those a manager opened with
                               *   MM_OPEN_SYNC issues */
    uint64_t lost;        /**< storage calls that did not reach the plan's disk */
    uint64_t disk_errors; /**< storage calls the disk refused: a write past the pages
                               *   that reached it, which a barrier after each grow rules out */
} mm_fault_counts;

/** Wraps inner (which stays owned by the caller and must outlive the
 *  wrapper) so that the calls named in plan fail. The wrapper takes inner's
 *  size when it is made: grow inner only through the wrapper from then on.
 *  Errors: MM_EINVAL (a NULL argument), MM_ENOMEM. */
MM_API int mm_memory_faulty(mm_memory *inner, const mm_fault_plan *plan, mm_memory **out);
/** Changes the plan of a fault-injecting memory; counts restart at 0. */
MM_API void mm_memory_fault_replan(mm_memory *faulty, const mm_fault_plan *plan);
/** The counts of a fault-injecting memory (zeros for any other memory). */
MM_API mm_fault_counts mm_memory_fault_counts(const mm_memory *faulty);
/** Where the barriers fell since the last plan: calls[j] gets the number of
 *  storage calls made before barrier j, for j < cap. Returns the number of
 *  barriers (0 for any other memory); a barrier that fell when the log
 *  could not grow is counted but not logged. */
MM_API size_t mm_memory_fault_barriers(const mm_memory *faulty, uint64_t *calls, size_t cap);

/* Dirty pages. On WebAssembly stable memory and on a file, what a write
 * costs is the pages it dirties, not its bytes. A counting memory wraps
 * another and counts the distinct 4 KiB pages that writes and discards
 * touch; a discard counts as a write of its pages, since it zeroes them and
 * stable memory can only do that by writing the zeros. A grow dirties
 * nothing (new pages read as zero unwritten), nor does a read. The memory
 * it wraps, and every other, pays nothing for it; the counting memory
 * itself has no direct copy, so a manager over it takes its general path
 * for every access (benchmarks count with it in a run of their own). */
#define MM_DIRTY_PAGE_SIZE 4096u
/** Wraps inner (which stays owned by the caller and must outlive the
 *  wrapper) in a memory that counts dirty pages, from 0, counting on. The
 *  wrapper takes inner's size when it is made: grow inner only through the
 *  wrapper from then on. Errors: MM_EINVAL (a NULL argument), MM_ENOMEM. */
MM_API int mm_memory_dirty_counter(mm_memory *inner, mm_memory **out);
/** The distinct 4 KiB pages written or discarded through a counting memory
 *  while counting was on, since it was made or last reset; 0 for any other
 *  memory. */
MM_API uint64_t mm_memory_dirty_pages(const mm_memory *counter);
/** Forgets the pages counted so far (the start of a measured phase). */
MM_API void mm_memory_dirty_reset(mm_memory *counter);
/** Pauses (paused != 0) or resumes counting; what was counted stays, and
 *  pages written while paused are not counted (setup inside a measured
 *  phase). No-op for any other memory. */
MM_API void mm_memory_dirty_pause(mm_memory *counter, int paused);

/** Size in pages. */
MM_API uint64_t mm_memory_size(const mm_memory *mem);
/** Grows by delta pages, which read as zero; *old_pages (when not NULL)
 *  gets the size before. Errors: MM_EGROW (cap or storage refused), with
 *  nothing changed; MM_EINVAL while a manager is open over mem (it alone
 *  grows the memory it manages); MM_EREADONLY. */
MM_API int mm_memory_grow(mm_memory *mem, uint64_t delta, uint64_t *old_pages);
/** Copies len bytes at byte offset off. Errors: MM_EBOUNDS (off + len past
 *  the size; nothing read), MM_EIO. */
MM_API int mm_memory_read(mm_memory *mem, uint64_t off, void *buf, size_t len);
/** Stores len bytes at byte offset off. Errors: MM_EBOUNDS (nothing
 *  written), MM_EIO, MM_EREADONLY. */
MM_API int mm_memory_write(mm_memory *mem, uint64_t off, const void *buf, size_t len);
/** Makes pages [first_page, first_page + pages) read as zero and gives
 *  their storage back (madvise for RAM, a punched hole for files).
 *  Errors: MM_EBOUNDS (past the size; nothing changed), MM_EIO,
 *  MM_EREADONLY. */
MM_API int mm_memory_discard(mm_memory *mem, uint64_t first_page, uint64_t pages);
/** Flushes a file memory to disk (fsync; no-op for RAM): what mm_write
 *  wrote is durable after it. Errors: MM_EIO. */
MM_API int mm_memory_sync(mm_memory *mem);
/** Releases the memory (the file stays on disk). NULL is allowed. */
MM_API void mm_memory_close(mm_memory *mem);

/* ------------------------------------------------------------------------
 * Designs: the registry of interchangeable layouts and policies
 * ---------------------------------------------------------------------- */

/** What a design is and what it can do. */
typedef struct mm_design_info {
    const char *name;        /**< "v1", "bitmap15", ... */
    const char *description; /**< one line */
    uint64_t max_buckets;    /**< the most buckets its layout can address */
    unsigned flags;          /**< MM_DESIGN_* */
} mm_design_info;

#define MM_DESIGN_CAN_FREE 1u   /**< supports mm_free() */
#define MM_DESIGN_READS_V1 2u   /**< opens (and upgrades in place) a V1 layout */
#define MM_DESIGN_REUSES_ALL 4u /**< grows never extend the linear memory while a bucket is free */

/** Number of registered designs. */
MM_API size_t mm_design_count(void);
/** The index-th design, or NULL past the end. */
MM_API const mm_design_info *mm_design_get(size_t index);
/** The design registered under name, or NULL. */
MM_API const mm_design_info *mm_design_find(const char *name);

/* ------------------------------------------------------------------------
 * The memory manager
 * ---------------------------------------------------------------------- */

#define MM_MAX_MEMORIES 255u       /**< memory ids are 0..254 */
#define MM_DEFAULT_BUCKET_PAGES 128u
#define MM_MAX_BUCKET_PAGES 65535u

typedef struct mm mm;

/** Open flags. Those that concern the manager (the layout and the order of
 *  its writes) go to mm_open(): MM_OPEN_FORMAT, MM_OPEN_SYNC and
 *  MM_OPEN_UPGRADE; the one that concerns the file goes to
 *  mm_memory_file_open(): MM_OPEN_READONLY. Each refuses the other's with
 *  MM_EINVAL, saying where the flag goes. */
#define MM_OPEN_FORMAT 1u /**< format the linear memory even if it holds data */
/** Durable mode: the manager orders its writes with barriers (fdatasync for
 *  a file memory) so that a power loss, which may bring any subset of the
 *  writes since the last barrier to the disk, leaves what a process crash
 *  leaves; each grow, free, format and upgrade is on the disk when it
 *  returns. Costs one to three fdatasync calls per operation: after a grow
 *  of the file, before the commit and after it, each skipped when nothing
 *  was written since the last (README has the time). Data written with
 *  mm_write becomes durable at the next operation's first barrier, or with
 *  mm_memory_sync. A flag of the manager, not of the file, because the
 *  manager decides where the barriers fall (around its commits); any memory
 *  with a barrier serves, the fault-injecting one included. */
#define MM_OPEN_SYNC 2u
#define MM_OPEN_READONLY 4u /**< open the file read-only, under a shared lock */
#define MM_OPEN_UPGRADE 8u  /**< upgrade a V1 memory in place to the design opened */

/**
 * Opens a manager of the named design over mem (which the caller keeps
 * owning and must close after the manager). At most one manager is open
 * over a memory at a time, and while it is, only the manager grows it
 * (mm_memory_grow refuses); reads and writes of the memory stay allowed.
 *
 * An empty linear memory, or one that holds only zeros, is formatted with
 * bucket_pages per bucket (0 means MM_DEFAULT_BUCKET_PAGES). A linear
 * memory that holds this design's layout is loaded with its stored bucket
 * size. A V1 layout is upgraded in place, keeping every memory's buckets,
 * sizes and bytes, by the designs flagged MM_DESIGN_READS_V1, and only when
 * flags has MM_OPEN_UPGRADE: afterwards v1 cannot open the memory. Without
 * the flag the open fails with MM_EWRONG_DESIGN and the memory is
 * untouched, so a mistyped design never converts a V1 memory. (The flag
 * changes nothing for any other memory.) Anything else is refused and left
 * untouched, unless flags has MM_OPEN_FORMAT.
 *
 * Crashes: every operation (grow, free, format, upgrade) is atomic. A
 * process that dies in the middle of one, or, with MM_OPEN_SYNC, a power
 * loss, leaves a memory that opens to the state before the operation or
 * after it (a free may also leave the memory at its size with its bytes
 * zeroed). Open completes what needs it: it rewrites what a V1-byte design
 * (v1, v1reclaim) left of an interrupted grow or free so that the header
 * is clean V1 again; it completes an interrupted V1 upgrade from the
 * journal the upgrade wrote first (MM_OPEN_UPGRADE or not: the upgrade was
 * asked for when it started), or, opened by a V1 design, rolls it back to
 * the V1 memory; it formats again a memory whose first format was cut
 * short (it holds only zeros).
 *
 * Over a read-only memory (mm_memory_file_open with MM_OPEN_READONLY) the
 * manager is read-only: it loads the layout as it is and refuses every
 * change (mm_grow, mm_write, mm_free) with MM_EREADONLY. An open that
 * would write fails with MM_EREADONLY before it writes anything: an empty
 * or all-zero memory to format, MM_OPEN_FORMAT, an upgrade, and the
 * completion or roll-back of an interrupted one. What a crash left in a V1
 * memory is not written back: the manager serves the state the repair
 * gives, and mm_check() compares the header as the repair would leave it.
 *
 * Errors: MM_EINVAL (bucket_pages > 65535, flags other than
 * MM_OPEN_FORMAT, MM_OPEN_SYNC and MM_OPEN_UPGRADE, a NULL argument, a
 * manager already open over mem), MM_EDESIGN_UNKNOWN, MM_EMAGIC (no
 * layout), MM_EVERSION, MM_EWRONG_DESIGN (another design's layout, or V1
 * without MM_OPEN_UPGRADE), MM_EBUCKET_SIZE (bucket_pages is not 0 and
 * differs from the stored size), MM_ECORRUPT, MM_EINTERRUPTED (an
 * interrupted upgrade to another design, which this one can neither
 * complete nor roll back, or one that left no journal), MM_EGROW
 * (formatting or an upgrade needed pages that the memory refused),
 * MM_EREADONLY, MM_EIO, MM_ENOMEM.
 */
MM_API int mm_open(mm_memory *mem, const char *design, uint32_t bucket_pages, unsigned flags,
                   mm **out);

/** Releases the manager's heap state; the linear memory stays as it is.
 *  NULL is allowed. */
MM_API void mm_close(mm *m);

/** The design the manager runs. */
MM_API const mm_design_info *mm_design(const mm *m);
/** Pages per bucket. */
MM_API uint32_t mm_bucket_pages(const mm *m);

/** *pages gets the size of memory id in pages. Errors: MM_EINVAL. */
MM_API int mm_size(const mm *m, unsigned id, uint64_t *pages);

/**
 * Grows memory id by pages; *old_pages (when not NULL) gets the size
 * before. New pages read as zero. Buckets that are unallocated are used
 * before the linear memory grows (for the designs that free).
 *
 * Errors: MM_EINVAL, MM_EOVERFLOW (the size would pass 2^64 bytes or the
 * largest the design can address), MM_EFULL (no bucket left), MM_EGROW,
 * MM_ENOMEM, MM_EBROKEN, MM_EREADONLY (a read-only manager), MM_EIO. On any
 * error nothing is changed, except that MM_EIO from a header write (or,
 * with MM_OPEN_SYNC, from a barrier) marks the handle broken; the memory
 * then opens to the size before or after the grow, as after a crash.
 */
MM_API int mm_grow(mm *m, unsigned id, uint64_t pages, uint64_t *old_pages);

/** Reads len bytes at byte offset off of memory id; the span may cross
 *  buckets. m and buf are not checked on this hot path (as memcpy does
 *  not check them): m must be open and buf hold len bytes (NULL only when
 *  len is 0). Errors: MM_EINVAL (id out of range), MM_EBOUNDS (off + len
 *  past the size; nothing read), MM_EIO. */
MM_API int mm_read(mm *m, unsigned id, uint64_t off, void *buf, size_t len);

/** Writes len bytes at byte offset off of memory id; m and buf as for
 *  mm_read. Errors: MM_EINVAL (id out of range), MM_EBOUNDS (nothing
 *  written), MM_EIO, MM_EREADONLY (a read-only manager; nothing written). */
MM_API int mm_write(mm *m, unsigned id, uint64_t off, const void *buf, size_t len);

/**
 * Frees memory id: its size becomes 0 and its buckets unallocated, to be
 * reused by later grows of any memory. Freeing an empty memory succeeds and
 * changes nothing. The buckets' pages are discarded first
 * (mm_memory_discard), then the header records the free: a grow that reuses
 * them reads zeros, as from fresh pages, and a RAM or file memory gives
 * their storage back.
 *
 * Errors: MM_EINVAL (id out of range), MM_ENOTSUP (the design cannot free),
 * MM_EBROKEN, MM_EREADONLY, MM_EIO; nothing changed after any of them but
 * MM_EIO. A free
 * allocates nothing (grows reserve what it needs), so it never fails for
 * lack of heap. After MM_EIO, from the discard or from the header write
 * (the handle is then broken), the memory may keep its size with some or
 * all of its buckets zeroed, as a crash at that point leaves it: freeing
 * never lets old bytes reach a later grow. With MM_OPEN_SYNC the zeroing
 * (a punched hole) is on the disk before the header calls the buckets free.
 */
MM_API int mm_free(mm *m, unsigned id);

/** Walks every invariant of the design and of the manager's tables against
 *  the persisted header. Errors: MM_ECHECK (mm_error_detail() names the
 *  first broken invariant), MM_EIO, MM_ENOMEM. */
MM_API int mm_check(mm *m);

/** Counters and sizes, as mm_stats() reports them. */
typedef struct mm_stats {
    uint32_t memories_in_use;      /**< memories with a size above 0 */
    uint64_t buckets_allocated;    /**< buckets carved out of the linear memory */
    uint64_t buckets_in_use;       /**< buckets that belong to a memory */
    uint64_t buckets_free;         /**< buckets carved out and unallocated */
    uint64_t buckets_meta;         /**< buckets that hold the design's own metadata */
    uint64_t linear_pages;         /**< size of the linear memory in pages */
    uint64_t header_bytes;         /**< bytes the persisted layout occupies now */
    uint64_t header_bytes_written; /**< header bytes written since open */
    uint64_t header_writes;        /**< header write calls since open */
    uint64_t heap_bytes;           /**< bytes the manager holds in the heap now: the
                                    *   handle, its bucket tables' capacity and its
                                    *   design's state (malloc's own overhead aside) */
} mm_stats;

/** Fills *out; heap_bytes is summed here, on demand, not kept by the
 *  operations. Errors: MM_EINVAL. */
MM_API int mm_stats_get(const mm *m, mm_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* MMFREE_H */
