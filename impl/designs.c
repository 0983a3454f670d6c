/*
 * The registry: every design, in the order tests, benchmarks and mmrun list
 * them. Adding a design is its file plus one line here.
 */
#include "mm_internal.h"

extern const struct mm_ops mm_design_v1;
extern const struct mm_ops mm_design_v1reclaim;
extern const struct mm_ops mm_design_bitmap15;
extern const struct mm_ops mm_design_hbitmap15;
extern const struct mm_ops mm_design_list;
extern const struct mm_ops mm_design_freestack;

static const struct mm_ops *const designs[] = {
    &mm_design_v1,
    &mm_design_v1reclaim,
    &mm_design_bitmap15,
    &mm_design_hbitmap15,
    &mm_design_list,
    &mm_design_freestack,
};

#define NDESIGNS (sizeof designs / sizeof designs[0])

size_t mm_design_count(void) {
    return NDESIGNS;
}

const mm_design_info *mm_design_get(size_t index) {
    return index < NDESIGNS ? &designs[index]->info : NULL;
}

const struct mm_ops *mm__registry_find(const char *name) {
    for (size_t i = 0; name && i < NDESIGNS; i++)
        if (strcmp(designs[i]->info.name, name) == 0) return designs[i];
    return NULL;
}

const mm_design_info *mm_design_find(const char *name) {
    const struct mm_ops *ops = mm__registry_find(name);
    return ops ? &ops->info : NULL;
}

/* The design that writes this version byte (the first, when several share
 * V1's), or the one whose interrupted upgrade leaves it. */
const struct mm_ops *mm__registry_by_version(uint8_t version) {
    for (size_t i = 0; i < NDESIGNS; i++)
        if (designs[i]->version == version ||
            (designs[i]->upgrading_version && designs[i]->upgrading_version == version))
            return designs[i];
    return NULL;
}
