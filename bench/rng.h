/* A seeded, deterministic random source for workloads and tests:
 * splitmix64 (Steele, Lea, Flood 2014), small and good enough to pick ops. */
#ifndef MM_RNG_H
#define MM_RNG_H

#include <stdint.h>

typedef struct mm_rng {
    uint64_t state;
} mm_rng;

static inline mm_rng mm_rng_seed(uint64_t seed) {
    return (mm_rng){seed};
}

static inline uint64_t mm_rng_next(mm_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/** Uniform in [0, bound); bound > 0. The modulo bias is below 2^-40 for the
 *  bounds used here, which is fine for picking ops. */
static inline uint64_t mm_rng_below(mm_rng *r, uint64_t bound) {
    return mm_rng_next(r) % bound;
}

#endif
