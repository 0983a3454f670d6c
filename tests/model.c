#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void model_init(mm_model *md) {
    memset(md, 0, sizeof *md);
}

void model_destroy(mm_model *md) {
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) free(md->bytes[i]);
    memset(md, 0, sizeof *md);
}

uint64_t model_total_pages(const mm_model *md) {
    uint64_t n = 0;
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) n += md->size[i];
    return n;
}

int model_grow(mm_model *md, unsigned id, uint64_t pages, uint64_t *old_pages) {
    if (id >= MM_MAX_MEMORIES) return MM_EINVAL;
    uint64_t size = md->size[id];
    if (pages > MM_MAX_PAGES - size) return MM_EOVERFLOW;
    if (pages) {
        size_t bytes = (size_t)((size + pages) * MM_PAGE_SIZE);
        uint8_t *p = realloc(md->bytes[id], bytes);
        if (!p) abort(); /* the model only holds what a test can afford */
        memset(p + size * MM_PAGE_SIZE, 0, (size_t)(pages * MM_PAGE_SIZE));
        md->bytes[id] = p;
        md->size[id] = size + pages;
    }
    if (old_pages) *old_pages = size;
    return MM_OK;
}

static int span(const mm_model *md, unsigned id, uint64_t off, size_t len) {
    if (id >= MM_MAX_MEMORIES) return MM_EINVAL;
    uint64_t end = md->size[id] * MM_PAGE_SIZE;
    return off > end || len > end - off ? MM_EBOUNDS : MM_OK;
}

int model_write(mm_model *md, unsigned id, uint64_t off, const void *buf, size_t len) {
    int err = span(md, id, off, len);
    if (!err && len) memcpy(md->bytes[id] + off, buf, len);
    return err;
}

int model_read(const mm_model *md, unsigned id, uint64_t off, void *buf, size_t len) {
    int err = span(md, id, off, len);
    if (!err && len) memcpy(buf, md->bytes[id] + off, len);
    return err;
}

int model_free(mm_model *md, unsigned id) {
    if (id >= MM_MAX_MEMORIES) return MM_EINVAL;
    free(md->bytes[id]);
    md->bytes[id] = NULL;
    md->size[id] = 0;
    return MM_OK;
}

const char *model_compare(const mm_model *md, mm *m) {
    static char msg[160];
    static uint8_t page[MM_PAGE_SIZE];
    for (unsigned id = 0; id < MM_MAX_MEMORIES; id++) {
        uint64_t size = ~0ull;
        if (mm_size(m, id, &size) != MM_OK || size != md->size[id]) {
            snprintf(msg, sizeof msg, "memory %u: size %llu, model %llu", id,
                     (unsigned long long)size, (unsigned long long)md->size[id]);
            return msg;
        }
        for (uint64_t p = 0; p < size; p++) {
            int err = mm_read(m, id, p * MM_PAGE_SIZE, page, sizeof page);
            if (err) {
                snprintf(msg, sizeof msg, "memory %u page %llu: read fails with %s", id,
                         (unsigned long long)p, mm_strerror(err));
                return msg;
            }
            const uint8_t *want = md->bytes[id] + p * MM_PAGE_SIZE;
            if (memcmp(page, want, sizeof page) != 0) {
                size_t i = 0;
                while (page[i] == want[i]) i++;
                snprintf(msg, sizeof msg, "memory %u byte %llu: %02x, model %02x", id,
                         (unsigned long long)(p * MM_PAGE_SIZE + i), page[i], want[i]);
                return msg;
            }
        }
    }
    return NULL;
}

int model_capture(mm *m, mm_model *md) {
    static uint8_t page[MM_PAGE_SIZE];
    model_init(md);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        uint64_t size;
        int err = mm_size(m, i, &size);
        if (!err) model_grow(md, i, size, NULL);
        for (uint64_t p = 0; !err && p < size; p++) {
            err = mm_read(m, i, p * MM_PAGE_SIZE, page, sizeof page);
            if (!err) model_write(md, i, p * MM_PAGE_SIZE, page, sizeof page);
        }
        if (err) {
            model_destroy(md);
            return err;
        }
    }
    return MM_OK;
}

mm_model model_copy(const mm_model *from) {
    mm_model md;
    model_init(&md);
    for (unsigned i = 0; i < MM_MAX_MEMORIES; i++) {
        model_grow(&md, i, from->size[i], NULL);
        if (from->size[i])
            model_write(&md, i, 0, from->bytes[i], (size_t)(from->size[i] * MM_PAGE_SIZE));
    }
    return md;
}

int model_mark(mm *m, unsigned id) {
    uint8_t buf[64];
    uint64_t size;
    int err = mm_size(m, id, &size);
    for (uint64_t p = 0; !err && p < size; p++) {
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + id * 13 + p * 31 + 1);
        err = mm_write(m, id, p * MM_PAGE_SIZE, buf, sizeof buf);
        if (!err) err = mm_write(m, id, (p + 1) * MM_PAGE_SIZE - sizeof buf, buf, sizeof buf);
    }
    return err;
}
