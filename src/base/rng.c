/*
 * rng.c — xoshiro256** seeded by splitmix64 (see rng.h). Written from the
 * published algorithm descriptions (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", 2018); tests/test_sampling.c checks the
 * first outputs against the reference vectors for state {1, 2, 3, 4} and for
 * splitmix64 seeded with 0.
 */
#include "base/rng.h"

#include <math.h>

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* One splitmix64 step: advances *x by the golden-ratio increment and mixes it. */
static uint64_t splitmix64_next(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void slm_rng_seed(slm_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    /* Four consecutive splitmix64 outputs are distinct (it is a bijection of
     * distinct counters), so the state can never be all zero. */
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64_next(&x);
    rng->normal_spare = 0.0f;
    rng->has_spare = 0;
}

uint64_t slm_rng_u64(slm_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t slm_rng_below(slm_rng *rng, uint64_t n) {
    if (n == 0) return 0;
    /* Reject the lowest (2^64 mod n) values so every residue is equally likely. */
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = slm_rng_u64(rng);
        if (x >= threshold) return x % n;
    }
}

float slm_rng_f32(slm_rng *rng) { return (float)(slm_rng_u64(rng) >> 40) * 0x1.0p-24f; }

double slm_rng_f64(slm_rng *rng) { return (double)(slm_rng_u64(rng) >> 11) * 0x1.0p-53; }

float slm_rng_normal(slm_rng *rng) {
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->normal_spare;
    }
    /* u1 in (0, 1] so log(u1) is finite; tails reach about 8.6 sigma. */
    double u1 = (double)((slm_rng_u64(rng) >> 11) + 1) * 0x1.0p-53;
    double u2 = slm_rng_f64(rng);
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586476925286766559 * u2;
    rng->normal_spare = (float)(r * sin(theta));
    rng->has_spare = 1;
    return (float)(r * cos(theta));
}
