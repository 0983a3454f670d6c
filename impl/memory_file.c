/*
 * A linear memory in a file of exactly size * 64 KiB bytes. Growing is an
 * ftruncate, so pages never written stay holes and cost no disk space;
 * discarding punches holes back. Bytes move with pread/pwrite: the page
 * cache does the caching, and a process that dies leaves what it wrote.
 *
 * One writer per file: the memory holds an open-file-description lock on
 * the whole file for its lifetime, exclusive for a writer and shared for a
 * read-only memory. OFD locks, unlike POSIX record locks, belong to the
 * open file and not to the process, so a second opener in the same process
 * is refused too, and closing some other descriptor of the file does not
 * drop the lock.
 */
#define _GNU_SOURCE
#include "memory_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_memory {
    mm_memory base;
    int fd;
    bool dirty; /* changed since the last barrier */
    char name[MM_QUOTE_BYTES]; /* the path, quoted for error details */
} file_memory;

static int fd_of(mm_memory *mem) {
    return ((file_memory *)mem)->fd;
}

/* Called by every call that changes the file, on its way to the kernel. */
static int changed(mm_memory *mem) {
    ((file_memory *)mem)->dirty = true;
    return fd_of(mem);
}

static const char *name_of(mm_memory *mem) {
    return ((file_memory *)mem)->name;
}

static int file_grow(mm_memory *mem, uint64_t new_pages) {
    if (new_pages > (uint64_t)INT64_MAX / MM_PAGE_SIZE)
        return mm__fail(MM_EGROW, "cannot extend %s to %llu pages: past the largest file",
                        name_of(mem), (unsigned long long)new_pages);
    if (ftruncate(changed(mem), (off_t)(new_pages * MM_PAGE_SIZE)) != 0) {
        char why[MM_ERRNO_TEXT];
        return mm__fail(MM_EGROW, "cannot extend %s to %llu pages: %s", name_of(mem),
                        (unsigned long long)new_pages, mm__errno_text(errno, why));
    }
    return MM_OK;
}

/* A short transfer without an error is the file ending early (another
 * process truncated it): no errno, so it is said in words here. */
static int io_failed(mm_memory *mem, const char *what, size_t len, uint64_t off, ssize_t n) {
    char why[MM_ERRNO_TEXT];
    return mm__fail(MM_EIO, "%s %zu bytes at %llu of %s failed: %s", what, len,
                    (unsigned long long)off, name_of(mem),
                    n < 0 ? mm__errno_text(errno, why) : "the file ends before them");
}

static int file_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd_of(mem), p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return io_failed(mem, "reading", len, off, n);
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return MM_OK;
}

static int file_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(changed(mem), p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return io_failed(mem, "writing", len, off, n);
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return MM_OK;
}

static int file_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    off_t off = (off_t)(first_page * MM_PAGE_SIZE), len = (off_t)(pages * MM_PAGE_SIZE);
    if (fallocate(changed(mem), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
        return MM_OK;
    /* File systems without holes: zero the bytes instead. */
    static const uint8_t zeros[MM_PAGE_SIZE];
    for (uint64_t i = 0; i < pages; i++) {
        int err = file_write(mem, (first_page + i) * MM_PAGE_SIZE, zeros, sizeof zeros);
        if (err) return err;
    }
    return MM_OK;
}

static int file_sync(mm_memory *mem) {
    char why[MM_ERRNO_TEXT];
    if (fsync(fd_of(mem)) != 0)
        return mm__fail(MM_EIO, "fsync of %s failed: %s", name_of(mem),
                        mm__errno_text(errno, why));
    ((file_memory *)mem)->dirty = false;
    return MM_OK;
}

/* fdatasync orders what the manager wrote before it (data, header, grown
 * length, punched holes: all needed to read the file back) before what it
 * writes after, without flushing metadata such as times. Two barriers with
 * nothing written between them cost one: an operation ends on a barrier
 * and the next begins its commit with one. */
static int file_barrier(mm_memory *mem) {
    file_memory *f = (file_memory *)mem;
    if (!f->dirty) return MM_OK;
    char why[MM_ERRNO_TEXT];
    if (fdatasync(f->fd) != 0)
        return mm__fail(MM_EIO, "fdatasync of %s failed: %s", f->name,
                        mm__errno_text(errno, why));
    f->dirty = false;
    return MM_OK;
}

/* A read-only memory's backing: every change is refused. Refusing here, in
 * the backing, keeps the test off the hot paths of memory.c and manager.c. */
static int refuse_grow(mm_memory *mem, uint64_t new_pages) {
    return mm__fail(MM_EREADONLY, "%s is open read-only: growing it to %llu pages was refused",
                    name_of(mem), (unsigned long long)new_pages);
}

static int refuse_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    (void)buf;
    return mm__fail(MM_EREADONLY, "%s is open read-only: writing %zu bytes at %llu was refused",
                    name_of(mem), len, (unsigned long long)off);
}

static int refuse_discard(mm_memory *mem, uint64_t first_page, uint64_t pages) {
    return mm__fail(MM_EREADONLY, "%s is open read-only: discarding pages %llu..+%llu was "
                    "refused", name_of(mem), (unsigned long long)first_page,
                    (unsigned long long)pages);
}

static void file_close(mm_memory *mem) {
    close(fd_of(mem));
    free(mem);
}

static const struct mm_memory_vt file_vt = {
    .grow = file_grow,
    .read = file_read,
    .write = file_write,
    .discard = file_discard,
    .sync = file_sync,
    .barrier = file_barrier,
    .close = file_close,
};

static const struct mm_memory_vt file_readonly_vt = {
    .grow = refuse_grow,
    .read = file_read,
    .write = refuse_write,
    .discard = refuse_discard,
    .sync = file_sync,
    .close = file_close,
};

/* Locks the open descriptor, then checks it is a regular file and reads
 * its length: no writer changes it from the lock on. */
static int lock_file(int fd, bool readonly, const char *name, off_t *length) {
    char why[MM_ERRNO_TEXT];
    struct stat st;
    struct flock lk = {.l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &lk) != 0) {
        if (errno == EAGAIN || errno == EACCES)
            return mm__fail(MM_EBUSY, "%s is open %s in another handle or process: a file "
                            "takes one writer or any number of read-only openers", name,
                            readonly ? "for writing" : "already");
        return mm__fail(MM_EIO, "cannot lock %s: %s", name, mm__errno_text(errno, why));
    }
    if (fstat(fd, &st) != 0)
        return mm__fail(MM_EIO, "cannot stat %s: %s", name, mm__errno_text(errno, why));
    if (!S_ISREG(st.st_mode)) return mm__fail(MM_EIO, "%s is not a regular file", name);
    *length = st.st_size;
    return MM_OK;
}

int mm_memory_file(const char *path, uint64_t max_pages, mm_memory **out) {
    return mm_memory_file_open(path, max_pages, 0, out);
}

int mm_memory_file_open(const char *path, uint64_t max_pages, unsigned flags,
                        mm_memory **out) {
    if (!path || !out) return mm__fail(MM_EINVAL, "path or out is NULL");
    if (flags & ~MM_OPEN_READONLY)
        return mm__fail(MM_EINVAL, "flags 0x%x: a file memory takes MM_OPEN_READONLY only%s",
                        flags, flags & (MM_OPEN_FORMAT | MM_OPEN_SYNC | MM_OPEN_UPGRADE) ?
                        " (MM_OPEN_FORMAT, MM_OPEN_SYNC and MM_OPEN_UPGRADE concern the manager: "
                        "they go to mm_open)" : "");
    bool readonly = flags & MM_OPEN_READONLY;
    char name[MM_QUOTE_BYTES], why[MM_ERRNO_TEXT];
    mm_quote(name, path);
    int fd = readonly ? open(path, O_RDONLY | O_CLOEXEC)
                      : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        /* A writer refused the permission may still read the file. */
        bool hint = !readonly && (errno == EACCES || errno == EROFS);
        return mm__fail(MM_EIO, "cannot open %s%s: %s%s", name, readonly ? " read-only" : "",
                        mm__errno_text(errno, why), hint ? " (MM_OPEN_READONLY reads it)" : "");
    }
    off_t length = 0;
    int err = lock_file(fd, readonly, name, &length);
    if (!err && length % MM_PAGE_SIZE != 0)
        err = mm__fail(MM_ESHORT, "%s holds %lld bytes, not a whole number of 64 KiB pages",
                       name, (long long)length);
    file_memory *f = err ? NULL : calloc(1, sizeof *f);
    if (!err && !f) err = mm__fail(MM_ENOMEM, "cannot allocate a file memory");
    if (err) {
        close(fd); /* and with it the lock */
        return err;
    }
    f->base.vt = readonly ? &file_readonly_vt : &file_vt;
    f->base.pages = (uint64_t)length / MM_PAGE_SIZE;
    f->base.max_pages = max_pages;
    f->base.readonly = readonly;
    f->fd = fd;
    memcpy(f->name, name, sizeof name);
    *out = &f->base;
    return MM_OK;
}
