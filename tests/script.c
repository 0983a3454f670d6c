#include "script.h"

#include "model.h"

#include <string.h>

static int copy_pages(mm *m, unsigned from, unsigned to) {
    static uint8_t page[MM_PAGE_SIZE];
    uint64_t a, b;
    int err = mm_size(m, from, &a);
    if (!err) err = mm_size(m, to, &b);
    for (uint64_t p = 0; !err && p < a && p < b; p++) {
        err = mm_read(m, from, p * MM_PAGE_SIZE, page, sizeof page);
        if (!err) err = mm_write(m, to, p * MM_PAGE_SIZE, page, sizeof page);
    }
    return err;
}

int script_apply(mm_memory *mem, mm **m, const char *design, const script_call *c,
                 unsigned open_flags) {
    switch (c->kind) {
    case C_OPEN:
        mm_close(*m);
        *m = NULL;
        return mm_open(mem, design, (uint32_t)c->pages, c->flags | open_flags, m);
    case C_GROW:
        return mm_grow(*m, c->id, c->pages, NULL);
    case C_FREE:
        return (mm_design(*m)->flags & MM_DESIGN_CAN_FREE) ? mm_free(*m, c->id) : MM_OK;
    case C_MARK:
        return model_mark(*m, c->id);
    case C_COPY:
        return copy_pages(*m, c->id, c->to);
    case C_END:
        break;
    }
    return MM_OK;
}

size_t script_length(const script_call *list) {
    size_t n = 0;
    while (n < SCRIPT_MAX_CALLS && list[n].kind != C_END) n++;
    return n;
}

int script_run(mm_memory *mem, mm **m, const char *design, const script_call *list,
               unsigned open_flags) {
    int err = MM_OK;
    for (size_t i = 0, n = script_length(list); !err && i < n; i++)
        err = script_apply(mem, m, design, &list[i], open_flags);
    return err;
}

int script_restore(const uint8_t *image, size_t len, mm_memory **out) {
    enum { BLOCK = 4096 };
    static const uint8_t zeros[BLOCK];
    mm_memory *ram;
    *out = NULL;
    int err = mm_memory_ram(0, &ram);
    if (err) return err;
    err = mm_memory_grow(ram, len / MM_PAGE_SIZE, NULL);
    for (size_t off = 0; !err && off < len; off += BLOCK)
        if (memcmp(image + off, zeros, BLOCK) != 0)
            err = mm_memory_write(ram, off, image + off, BLOCK);
    if (err) {
        mm_memory_close(ram);
        return err;
    }
    *out = ram;
    return MM_OK;
}

int script_v1_writer(bool frees, const char **name) {
    *name = NULL;
    for (size_t i = 0; i < mm_design_count(); i++) {
        const mm_design_info *d = mm_design_get(i);
        if (!(d->flags & MM_DESIGN_CAN_FREE) != !frees) continue;
        mm_memory *ram;
        mm *m = NULL;
        uint8_t version = 0;
        int err = mm_memory_ram(0, &ram);
        if (err) return err;
        err = mm_open(ram, d->name, 1, 0, &m);
        /* Byte 3, after the magic "MGR", is the layout version. */
        if (!err) err = mm_memory_read(ram, 3, &version, 1);
        mm_close(m);
        mm_memory_close(ram);
        if (err) return err;
        if (version == 1) {
            *name = d->name;
            return MM_OK;
        }
    }
    return MM_OK;
}

int script_setup_writer(script_setup_by by, const char *self, const char **name) {
    *name = by == BY_SELF ? self : NULL;
    return by == BY_V1 || by == BY_V1_FREEING ? script_v1_writer(by == BY_V1_FREEING, name)
                                              : MM_OK;
}
