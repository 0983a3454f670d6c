/*
 * A linear memory in a file of exactly size * 64 KiB bytes. Growing is an
 * ftruncate, so pages never written stay holes and cost no disk space;
 * discarding punches holes back. Bytes move with pread/pwrite: the page
 * cache does the caching, and a process that dies leaves what it wrote.
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
} file_memory;

static int fd_of(mm_memory *mem) {
    return ((file_memory *)mem)->fd;
}

/* Called by every call that changes the file, on its way to the kernel. */
static int changed(mm_memory *mem) {
    ((file_memory *)mem)->dirty = true;
    return fd_of(mem);
}

static int file_grow(mm_memory *mem, uint64_t new_pages) {
    if (new_pages > (uint64_t)INT64_MAX / MM_PAGE_SIZE ||
        ftruncate(changed(mem), (off_t)(new_pages * MM_PAGE_SIZE)) != 0)
        return mm__fail(MM_EGROW, "cannot extend the file to %llu pages (errno %d)",
                        (unsigned long long)new_pages, errno);
    return MM_OK;
}

static int file_read(mm_memory *mem, uint64_t off, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd_of(mem), p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return mm__fail(MM_EIO, "reading %zu bytes at %llu failed (errno %d)", len,
                            (unsigned long long)off, n < 0 ? errno : 0);
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return MM_OK;
}

static int file_write(mm_memory *mem, uint64_t off, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(changed(mem), p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return mm__fail(MM_EIO, "writing %zu bytes at %llu failed (errno %d)", len,
                            (unsigned long long)off, n < 0 ? errno : 0);
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
    if (fsync(fd_of(mem)) != 0) return mm__fail(MM_EIO, "fsync failed (errno %d)", errno);
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
    if (fdatasync(f->fd) != 0) return mm__fail(MM_EIO, "fdatasync failed (errno %d)", errno);
    f->dirty = false;
    return MM_OK;
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

int mm_memory_file(const char *path, uint64_t max_pages, mm_memory **out) {
    if (!path || !out) return mm__fail(MM_EINVAL, "path or out is NULL");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return mm__fail(MM_EIO, "cannot open %s (errno %d)", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mm__fail(MM_EIO, "cannot stat %s (errno %d)", path, e);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mm__fail(MM_EIO, "%s is not a regular file", path);
    }
    if (st.st_size % MM_PAGE_SIZE != 0) {
        close(fd);
        return mm__fail(MM_ESHORT, "%s holds %lld bytes, not a whole number of 64 KiB pages",
                        path, (long long)st.st_size);
    }
    file_memory *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return mm__fail(MM_ENOMEM, "cannot allocate a file memory");
    }
    f->base.vt = &file_vt;
    f->base.pages = (uint64_t)st.st_size / MM_PAGE_SIZE;
    f->base.max_pages = max_pages;
    f->fd = fd;
    *out = &f->base;
    return MM_OK;
}
