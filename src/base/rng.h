/*
 * rng.h — the library's one pseudo-random generator: xoshiro256** (Blackman &
 * Vigna), seeded through splitmix64. Used by sampling, weight init and data
 * shuffling; every user owns its own slm_rng, so nothing here is global or
 * locked.
 *
 * The state is a plain struct: copying it saves the generator, copying it back
 * restores it (the cached second normal deviate included), so a run can be
 * checkpointed and resumed bit-exactly.
 *
 * What this deliberately is not: a cryptographic generator, or a source of
 * entropy — the same seed always gives the same stream on every platform.
 */
#ifndef SLM_BASE_RNG_H
#define SLM_BASE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];      /* xoshiro256** state; never all zero */
    float normal_spare; /* second Box-Muller deviate, valid if has_spare */
    uint32_t has_spare;
} slm_rng;

/* Expands a 64-bit seed into the full state (splitmix64); any seed is valid. */
void slm_rng_seed(slm_rng *rng, uint64_t seed);

/* 64 uniformly random bits. */
uint64_t slm_rng_u64(slm_rng *rng);

/* Uniform integer in [0, n), unbiased (rejection); 0 when n == 0. */
uint64_t slm_rng_below(slm_rng *rng, uint64_t n);

/* Uniform in [0, 1): multiples of 2^-24 (f32) or 2^-53 (f64). */
float slm_rng_f32(slm_rng *rng);
double slm_rng_f64(slm_rng *rng);

/* Standard normal N(0, 1) (Box-Muller; pairs are generated and the second is
 * cached in the state). */
float slm_rng_normal(slm_rng *rng);

#endif
