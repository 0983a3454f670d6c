/*
 * The registry: every design, in the order tests, benchmarks and mmrun list
 * them. Adding a design is its file plus one X(name) line in MM_DESIGNS,
 * for a `const struct mm_ops mm_design_<name>`.
 */
#include "mm_internal.h"

#define MM_DESIGNS(X) \
    X(v1)             \
    X(v1reclaim)      \
    X(bitmap15)       \
    X(hbitmap15)      \
    X(list)           \
    X(freestack)

#define DECLARE(name) extern const struct mm_ops mm_design_##name;
MM_DESIGNS(DECLARE)
#define ENTRY(name) &mm_design_##name,
static const struct mm_ops *const designs[] = {MM_DESIGNS(ENTRY)};

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
