/*
 * persist: what mmfree keeps across processes, in one small program.
 *
 *   persist DESIGN FILE
 *
 * Formats FILE as a linear memory managed by DESIGN (whatever FILE held is
 * lost), puts a message in each of two virtual memories, frees the first,
 * closes everything, opens FILE again as a new process would, and prints
 * what it finds. Then it grows a third memory to show where a freed bucket
 * goes. Build it against an installed mmfree with
 *
 *   cc persist.c $(pkg-config --cflags --libs mmfree) -o persist
 *
 * Exit status: 0 success, 1 an mmfree call failed (the error goes to
 * standard error), 2 a usage error.
 */
#include <mmfree.h>

#include <stdio.h>
#include <string.h>

/* Two messages, the second across the edge of its memory's first page: a
 * virtual memory reads and writes at any byte offset, like one big array. */
static const char first_message[] = "kept in memory 0";
static const char second_message[] = "kept in memory 1";
#define SECOND_OFFSET (MM_PAGE_SIZE - 4)

static int fail(const char *what, int err) {
    fprintf(stderr, "persist: %s: %s: %s\n", what, mm_strerror(err), mm_error_detail());
    return 1;
}

/* Opens FILE and a manager of design over it; flags as mm_open takes. */
static int open_file(const char *path, const char *design, unsigned flags, mm_memory **mem,
                     mm **m) {
    int err = mm_memory_file(path, 0, mem);
    if (err) return fail(path, err);
    /* 0: the default bucket size when formatting, the stored one when loading. */
    err = mm_open(*mem, design, 0, flags, m);
    if (err) {
        mm_memory_close(*mem);
        return fail("mm_open", err);
    }
    return 0;
}

static void close_file(mm_memory *mem, mm *m) {
    mm_close(m); /* the manager first: it runs over the memory */
    mm_memory_close(mem);
}

/* Grows memory id to hold the message at offset, then writes it there. */
static int put_message(mm *m, unsigned id, uint64_t offset, const char *message) {
    uint64_t pages = (offset + strlen(message) + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    int err = mm_grow(m, id, pages, NULL);
    if (err) return fail("mm_grow", err);
    err = mm_write(m, id, offset, message, strlen(message));
    if (err) return fail("mm_write", err);
    printf("memory %u: %llu page%s, wrote \"%s\" at byte %llu\n", id, (unsigned long long)pages,
           pages == 1 ? "" : "s", message, (unsigned long long)offset);
    return 0;
}

/* Prints memory id's size and, when it has one, the message at offset. */
static int show_memory(mm *m, unsigned id, uint64_t offset, size_t len) {
    uint64_t pages;
    int err = mm_size(m, id, &pages);
    if (err) return fail("mm_size", err);
    printf("memory %u: %llu page%s", id, (unsigned long long)pages, pages == 1 ? "" : "s");
    if (pages > 0) {
        char text[64] = {0};
        err = mm_read(m, id, offset, text, len < sizeof text ? len : sizeof text - 1);
        if (err) return fail("mm_read", err);
        printf(", reads \"%s\"", text);
    }
    putchar('\n');
    return 0;
}

static int show_buckets(const mm *m, mm_stats *st) {
    int err = mm_stats_get(m, st);
    if (err) return fail("mm_stats_get", err);
    printf("buckets: %llu carved out, %llu in use, %llu free\n",
           (unsigned long long)st->buckets_allocated, (unsigned long long)st->buckets_in_use,
           (unsigned long long)st->buckets_free);
    return 0;
}

static int free_memory(mm *m, unsigned id, const char *design) {
    int err = mm_free(m, id);
    if (err == MM_ENOTSUP) {
        printf("memory %u: not freed, design %s cannot free\n", id, design);
        return 0;
    }
    if (err) return fail("mm_free", err);
    printf("memory %u: freed\n", id);
    return 0;
}

/* Grows memory id by a page and says whether that took a freed bucket:
 * designs that free hand freed buckets to the next grows of any memory
 * before they carve new ones out of the linear memory. */
static int grow_and_tell(mm *m, unsigned id) {
    mm_stats before, after;
    int err = mm_stats_get(m, &before);
    if (!err) err = mm_grow(m, id, 1, NULL);
    if (!err) err = mm_stats_get(m, &after);
    if (err) return fail("mm_grow", err);
    printf("memory %u: 1 page, in %s bucket\n", id,
           after.buckets_allocated == before.buckets_allocated ? "a freed" : "a new");
    return 0;
}

static int check(mm *m) {
    int err = mm_check(m);
    return err ? fail("mm_check", err) : 0;
}

/* The first process: two memories, the first freed. */
static int first_run(const char *path, const char *design) {
    mm_memory *mem;
    mm *m;
    if (open_file(path, design, MM_OPEN_FORMAT, &mem, &m)) return 1;
    int rc = put_message(m, 0, 0, first_message) ||
             put_message(m, 1, SECOND_OFFSET, second_message) || free_memory(m, 0, design);
    /* Closing is enough for the next process; syncing makes it survive a crash. */
    int err = rc ? MM_OK : mm_memory_sync(mem);
    if (err) rc = fail("mm_memory_sync", err);
    close_file(mem, m);
    return rc;
}

/* The second process: what the file holds, and where a new grow goes. */
static int second_run(const char *path, const char *design) {
    mm_memory *mem;
    mm *m;
    if (open_file(path, design, 0, &mem, &m)) return 1;
    printf("reopened %s\n", path);
    mm_stats st;
    int rc = show_memory(m, 0, 0, strlen(first_message)) ||
             show_memory(m, 1, SECOND_OFFSET, strlen(second_message)) || show_buckets(m, &st) ||
             grow_and_tell(m, 2) || show_buckets(m, &st) || check(m);
    close_file(mem, m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: persist DESIGN FILE (FILE is overwritten)\n");
        return 2;
    }
    const char *design = argv[1], *path = argv[2];
    if (!mm_design_find(design)) {
        fprintf(stderr, "persist: no design is named '%s'; the designs are:", design);
        for (size_t i = 0; i < mm_design_count(); i++)
            fprintf(stderr, " %s", mm_design_get(i)->name);
        fputc('\n', stderr);
        return 2;
    }

    /* The header this program was compiled with against the library it
     * runs with: a shared library may be newer than the header. */
    int major, minor, patch;
    mm_version(&major, &minor, &patch);
    printf("mmfree %d.%d.%d (compiled against %d.%d.%d), design %s\n", major, minor, patch,
           MMFREE_VERSION_MAJOR, MMFREE_VERSION_MINOR, MMFREE_VERSION_PATCH, design);
    if (major != MMFREE_VERSION_MAJOR) {
        fprintf(stderr, "persist: the library's major version is not the header's\n");
        return 1;
    }
    return first_run(path, design) || second_run(path, design) ? 1 : 0;
}
