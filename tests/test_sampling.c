/*
 * test_sampling.c — the PRNG (src/base/rng.c) and the token sampler
 * (src/infer/sampling.c).
 *
 * The RNG is pinned by the published xoshiro256** / splitmix64 reference
 * outputs and checked statistically. The sampler's distribution is checked
 * against a brute-force reference written here (full sort, then the filters
 * as slm.h documents them), its draws against that distribution with a
 * chi-square bound, and the penalties to the exact float.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "infer/sampling.h"
#include "slm.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* RNG                                                                       */
/* ------------------------------------------------------------------------ */

TEST(rng_xoshiro256ss_reference_vector) {
    /* Outputs of the reference xoshiro256starstar.c from state {1, 2, 3, 4}. */
    static const uint64_t expect[10] = {
        11520ull,
        0ull,
        1509978240ull,
        1215971899390074240ull,
        1216172134540287360ull,
        607988272756665600ull,
        16172922978634559625ull,
        8476171486693032832ull,
        10595114339597558777ull,
        2904607092377533576ull,
    };
    slm_rng rng = {{1, 2, 3, 4}, 0.0f, 0};
    for (int i = 0; i < 10; i++) {
        uint64_t x = slm_rng_u64(&rng);
        EXPECT(x == expect[i], "output %d: %llu", i, (unsigned long long)x);
    }
}

TEST(rng_seed_is_splitmix64) {
    /* splitmix64 from x = 0: the first four outputs fill the state. */
    slm_rng rng;
    slm_rng_seed(&rng, 0);
    EXPECT(rng.s[0] == 0xE220A8397B1DCDAFull, "%llx", (unsigned long long)rng.s[0]);
    EXPECT(rng.s[1] == 0x6E789E6AA1B965F4ull, "%llx", (unsigned long long)rng.s[1]);
    EXPECT(rng.s[2] == 0x06C45D188009454Full, "%llx", (unsigned long long)rng.s[2]);
    EXPECT(rng.s[3] == 0xF88BB8A8724C81ECull, "%llx", (unsigned long long)rng.s[3]);

    slm_rng a, b;
    slm_rng_seed(&a, 1);
    slm_rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 16; i++) same += slm_rng_u64(&a) == slm_rng_u64(&b);
    EXPECT(same == 0, "seeds 1 and 2 share %d of 16 outputs", same);
}

TEST(rng_uniform_moments) {
    /* 1e6 draws: the standard error of the mean is 2.9e-4 and of the
     * variance 7.5e-5, so these bounds are about 7 sigma. */
    const int n = 1000000;
    slm_rng rng;
    slm_rng_seed(&rng, 12345);
    double s1 = 0, s2 = 0, d1 = 0, d2 = 0;
    int out_of_range = 0;
    for (int i = 0; i < n; i++) {
        float x = slm_rng_f32(&rng);
        double y = slm_rng_f64(&rng);
        out_of_range += !(x >= 0.0f && x < 1.0f) + !(y >= 0.0 && y < 1.0);
        s1 += x;
        s2 += (double)x * x;
        d1 += y;
        d2 += y * y;
    }
    EXPECT(out_of_range == 0, "%d draws outside [0, 1)", out_of_range);
    double mean = s1 / n, var = s2 / n - mean * mean;
    EXPECT(fabs(mean - 0.5) < 2e-3, "f32 mean %f", mean);
    EXPECT(fabs(var - 1.0 / 12) < 5e-4, "f32 variance %f", var);
    mean = d1 / n, var = d2 / n - mean * mean;
    EXPECT(fabs(mean - 0.5) < 2e-3, "f64 mean %f", mean);
    EXPECT(fabs(var - 1.0 / 12) < 5e-4, "f64 variance %f", var);
}

TEST(rng_normal_moments) {
    const int n = 1000000;
    slm_rng rng;
    slm_rng_seed(&rng, 777);
    double s1 = 0, s2 = 0, s4 = 0, lag1 = 0;
    int within1 = 0, nonfinite = 0;
    float prev = 0.0f;
    for (int i = 0; i < n; i++) {
        float x = slm_rng_normal(&rng);
        nonfinite += !isfinite(x);
        lag1 += (double)x * prev; /* the two halves of a pair are independent */
        prev = x;
        s1 += x;
        s2 += (double)x * x;
        s4 += (double)x * x * x * x;
        within1 += fabsf(x) < 1.0f;
    }
    EXPECT(nonfinite == 0);
    double mean = s1 / n, var = s2 / n - mean * mean;
    EXPECT(fabs(mean) < 7e-3, "mean %f", mean);         /* se 1e-3 */
    EXPECT(fabs(var - 1.0) < 1e-2, "variance %f", var); /* se 1.4e-3 */
    EXPECT(fabs(s4 / n - 3.0) < 0.1, "4th moment %f", s4 / n);
    EXPECT(fabs(lag1 / n) < 7e-3, "lag-1 correlation %f", lag1 / n); /* se 1e-3 */
    double frac = (double)within1 / n;
    EXPECT(fabs(frac - 0.682689) < 3e-3, "P(|x|<1) = %f", frac); /* se 4.7e-4 */
}

TEST(rng_below_is_uniform_and_bounded) {
    slm_rng rng;
    slm_rng_seed(&rng, 99);
    int counts[7] = {0};
    const int n = 700000;
    for (int i = 0; i < n; i++) {
        uint64_t x = slm_rng_below(&rng, 7);
        ASSERT(x < 7);
        counts[x]++;
    }
    for (int i = 0; i < 7; i++) /* sd ~293 */
        EXPECT(abs(counts[i] - n / 7) < 2000, "residue %d seen %d times", i, counts[i]);
    EXPECT(slm_rng_below(&rng, 1) == 0);
    EXPECT(slm_rng_below(&rng, 0) == 0);
    const uint64_t big = (1ull << 63) + 12345;
    int high = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = slm_rng_below(&rng, big);
        ASSERT(x < big);
        high += x >= big / 2;
    }
    EXPECT(high > 400 && high < 600, "%d of 1000 in the upper half", high);
}

TEST(rng_state_copy_restores) {
    slm_rng rng;
    slm_rng_seed(&rng, 5);
    (void)slm_rng_normal(&rng); /* leaves a cached deviate in the state */
    slm_rng saved = rng;
    uint64_t a[8];
    float an[3];
    for (int i = 0; i < 8; i++) a[i] = slm_rng_u64(&rng);
    for (int i = 0; i < 3; i++) an[i] = slm_rng_normal(&rng);
    rng = saved;
    for (int i = 0; i < 8; i++) EXPECT(slm_rng_u64(&rng) == a[i], "u64 %d", i);
    for (int i = 0; i < 3; i++) EXPECT(slm_rng_normal(&rng) == an[i], "normal %d", i);
}

/* ------------------------------------------------------------------------ */
/* Sampler helpers                                                           */
/* ------------------------------------------------------------------------ */

static slm_sampler_params params_plain(float temperature, uint64_t seed) {
    slm_sampler_params p = slm_sampler_default_params();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

static void random_logits(slm_rng *rng, float *l, int32_t n, float scale) {
    for (int32_t i = 0; i < n; i++) l[i] = scale * slm_rng_normal(rng);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Pearson chi-square of counts[i] against expected probabilities probs[i]. */
static double chi_square(const int *counts, const double *probs, int k, int n) {
    double chi = 0;
    for (int i = 0; i < k; i++) {
        double e = probs[i] * n;
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

/* ------------------------------------------------------------------------ */
/* Greedy                                                                    */
/* ------------------------------------------------------------------------ */

TEST(sampler_greedy_argmax_lowest_id_on_ties) {
    slm_sampler_params p = slm_sampler_default_params();
    p.temperature = 0.0f;
    slm_sampler *s = slm_sampler_new(&p, 6);
    ASSERT(s);
    const float a[6] = {1.0f, 3.0f, NAN, 3.0f, 2.0f, -INFINITY};
    for (int i = 0; i < 3; i++) EXPECT(slm_sampler_sample(s, a) == 1);
    const float b[6] = {NAN, -1.0f, -1.0f, NAN, -5.0f, -1.0f};
    EXPECT(slm_sampler_sample(s, b) == 1);
    const float c[6] = {0.0f, 1e30f, INFINITY, 5.0f, INFINITY, 0.0f};
    EXPECT(slm_sampler_sample(s, c) == 2);
    const float d[6] = {INFINITY, 1.0f, INFINITY, NAN, 0.0f, 0.0f};
    EXPECT(slm_sampler_sample(s, d) == 0);
    const float none[6] = {NAN, -INFINITY, NAN, -INFINITY, -INFINITY, NAN};
    EXPECT(slm_sampler_sample(s, none) == 0);
    slm_sampler_free(s);

    p.temperature = -1.0f; /* any temperature <= 0 */
    s = slm_sampler_new(&p, 6);
    ASSERT(s);
    EXPECT(slm_sampler_sample(s, a) == 1);
    slm_sampler_free(s);
}

TEST(sampler_top_k1_equals_greedy) {
    const int32_t V = 1000;
    float *l = malloc(V * sizeof(float));
    ASSERT(l);
    slm_rng rng;
    slm_rng_seed(&rng, 3);
    const float temps[] = {0.05f, 0.8f, 1.0f, 10.0f, 1e4f};
    for (int trial = 0; trial < 20; trial++) {
        /* quantised logits: many ties at the top */
        for (int32_t i = 0; i < V; i++) l[i] = floorf(slm_rng_normal(&rng) * 2.0f) / 2.0f;
        slm_sampler_params g = params_plain(0.0f, 1);
        slm_sampler *greedy = slm_sampler_new(&g, V);
        ASSERT(greedy);
        slm_token want = slm_sampler_sample(greedy, l);
        slm_sampler_free(greedy);
        for (int t = 0; t < 5; t++) {
            slm_sampler_params p = slm_sampler_default_params();
            p.temperature = temps[t];
            p.top_k = 1;
            p.seed = (uint64_t)trial * 100 + (uint64_t)t;
            slm_sampler *s = slm_sampler_new(&p, V);
            ASSERT(s);
            EXPECT(slm_sampler_sample(s, l) == want, "trial %d temperature %g", trial, temps[t]);
            slm_sampler_free(s);
        }
    }
    free(l);
}

/* ------------------------------------------------------------------------ */
/* The filtered distribution against a brute-force reference                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    int32_t id;
    float v;
} ref_cand;

static int ref_cmp(const void *pa, const void *pb) {
    const ref_cand *a = pa, *b = pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The documented pipeline, written the slow and obvious way. Fills cand
 * (sorted best first) and returns how many survive top-k; *lo / *hi bound the
 * final count, allowing 1e-5 of slack at the top-p and min-p thresholds where
 * float rounding may legitimately decide either way. */
static int32_t ref_filter(const slm_sampler_params *p, const float *l, int32_t V, ref_cand *cand,
                          int32_t *lo, int32_t *hi) {
    int32_t n = 0;
    for (int32_t i = 0; i < V; i++) {
        float v = l[i];
        if (isnan(v) || v == -INFINITY) continue;
        if (v > FLT_MAX) v = FLT_MAX;
        cand[n++] = (ref_cand){i, v};
    }
    if (n == 0) {
        cand[0] = (ref_cand){0, 0.0f};
        *lo = *hi = 1;
        return 1;
    }
    qsort(cand, (size_t)n, sizeof *cand, ref_cmp);
    if (!(p->temperature > 0.0f) || p->top_k == 1) {
        *lo = *hi = 1;
        return 1;
    }
    if (p->top_k > 0 && p->top_k < V && p->top_k < n) n = p->top_k;
    const float m = cand[0].v;
    double z = 0;
    for (int32_t i = 0; i < n; i++) z += exp((double)(cand[i].v - m));
    int32_t lo_p = n, hi_p = n, lo_m = n, hi_m = n;
    if (p->top_p < 1.0f) {
        double cum = 0;
        lo_p = hi_p = -1;
        for (int32_t i = 0; i < n; i++) {
            cum += exp((double)(cand[i].v - m));
            if (lo_p < 0 && cum / z >= p->top_p - 1e-5) lo_p = i + 1;
            if (hi_p < 0 && cum / z >= p->top_p + 1e-5) hi_p = i + 1;
        }
        if (hi_p < 0) hi_p = n;
        if (lo_p < 0) lo_p = n;
    }
    if (p->min_p > 0.0f) {
        double thr = p->min_p < 1.0f ? p->min_p : 1.0;
        lo_m = hi_m = 0;
        for (int32_t i = 0; i < n; i++) {
            double w = exp((double)(cand[i].v - m));
            lo_m += w >= thr * (1 + 1e-5);
            hi_m += w >= thr * (1 - 1e-5);
        }
        if (lo_m < 1) lo_m = 1;
    }
    *lo = lo_p < lo_m ? lo_p : lo_m;
    *hi = hi_p < hi_m ? hi_p : hi_m;
    return n;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

TEST(sampler_distribution_matches_reference) {
    const int32_t max_v = 3000;
    float *l = malloc(max_v * sizeof(float));
    float *probs = malloc(max_v * sizeof(float));
    slm_token *ids = malloc(max_v * sizeof(slm_token));
    ref_cand *ref = malloc(max_v * sizeof(ref_cand));
    ASSERT(l && probs && ids && ref);

    const int32_t vocab_sizes[] = {1, 2, 7, 64, 65, 600, 3000};
    const int32_t top_ks[] = {0, 1, 2, 5, 40, 1000, 5000};
    const float top_ps[] = {1.0f, 0.95f, 0.5f, 0.0f, 0.999f, 0.3f};
    const float min_ps[] = {0.0f, 0.05f, 0.5f, 1.0f, 2.0f, 1e-4f};
    const float temps[] = {1.0f, 0.5f, 2.0f, 0.8f};
    const float scales[] = {0.05f, 1.0f, 4.0f, 30.0f};
    slm_rng rng;
    slm_rng_seed(&rng, 2024);
    int checked = 0;
    for (int trial = 0; trial < 1500 && !slm_test_failed(); trial++) {
        const int32_t V = vocab_sizes[slm_rng_below(&rng, 7)];
        slm_sampler_params p = slm_sampler_default_params();
        p.top_k = top_ks[slm_rng_below(&rng, 7)];
        p.top_p = top_ps[slm_rng_below(&rng, 6)];
        p.min_p = min_ps[slm_rng_below(&rng, 6)];
        p.temperature = temps[slm_rng_below(&rng, 4)];
        const float scale = scales[slm_rng_below(&rng, 4)];
        random_logits(&rng, l, V, scale);
        if (slm_rng_below(&rng, 3) == 0) /* ties */
            for (int32_t i = 0; i < V; i++) l[i] = roundf(l[i] * 2.0f / scale) * scale / 2.0f;
        if (slm_rng_below(&rng, 4) == 0) { /* non-finite logits */
            for (int32_t i = 0; i < V; i++) {
                uint64_t r = slm_rng_below(&rng, 20);
                if (r == 0) l[i] = NAN;
                else if (r == 1) l[i] = -INFINITY;
                else if (r == 2 && slm_rng_below(&rng, 50) == 0) l[i] = INFINITY;
            }
        }

        int32_t lo, hi;
        ref_filter(&p, l, V, ref, &lo, &hi);
        slm_sampler *s = slm_sampler_new(&p, V);
        ASSERT(s);
        int32_t n = slm_sampler_distribution(s, l, ids, probs);
        slm_sampler_free(s);

        EXPECT(n >= lo && n <= hi, "trial %d: V %d top_k %d top_p %g min_p %g: kept %d, want [%d, %d]",
               trial, V, p.top_k, (double)p.top_p, (double)p.min_p, n, lo, hi);
        if (!(n >= lo && n <= hi)) continue;
        double sum = 0;
        for (int32_t i = 0; i < n; i++) sum += probs[i];
        EXPECT(fabs(sum - 1.0) < 1e-4, "trial %d: probabilities sum to %f", trial, sum);
        const float m = ref[0].v;
        double zt = 0;
        for (int32_t i = 0; i < n; i++) zt += exp((double)(ref[i].v - m) / p.temperature);
        for (int32_t i = 0; i < n; i++) {
            /* find ids[i] among the reference's best n */
            int32_t j = 0;
            while (j < n && ref[j].id != ids[i]) j++;
            if (j == n) {
                EXPECT(0, "trial %d: token %d kept but not in the reference set", trial, ids[i]);
                break;
            }
            double want = n == 1 ? 1.0 : exp((double)(ref[j].v - m) / p.temperature) / zt;
            EXPECT(fabs(probs[i] - want) < 1e-5 + 1e-4 * want, "trial %d: token %d p %g want %g", trial,
                   ids[i], (double)probs[i], want);
        }
        /* ids are distinct, so with every one in the reference the sets match */
        qsort(ids, (size_t)n, sizeof(int32_t), cmp_i32);
        for (int32_t i = 1; i < n; i++) EXPECT(ids[i] != ids[i - 1], "trial %d: duplicate id", trial);
        checked++;
    }
    EXPECT(checked > 1000, "only %d trials checked", checked);
    free(l);
    free(probs);
    free(ids);
    free(ref);
}

/* ------------------------------------------------------------------------ */
/* Known distributions, checked by drawing                                   */
/* ------------------------------------------------------------------------ */

/* Draws n tokens from the same logits with seeds seed0, seed0+1, ... (one
 * sampler each) and counts them by id. */
static void draw_with_seeds(const slm_sampler_params *p, const float *l, int32_t V, int n,
                            uint64_t seed0, int *counts) {
    memset(counts, 0, (size_t)V * sizeof(int));
    for (int i = 0; i < n; i++) {
        slm_sampler_params q = *p;
        q.seed = seed0 + (uint64_t)i;
        slm_sampler *s = slm_sampler_new(&q, V);
        if (!s) return;
        slm_token t = slm_sampler_sample(s, l);
        if (t >= 0 && t < V) counts[t]++;
        slm_sampler_free(s);
    }
}

TEST(sampler_top_p_keeps_expected_set) {
    /* p = {0.0625, 0.0625, 0.25, 0.5, 0.125} by id; top_p 0.8 keeps
     * 0.5 + 0.25 + 0.125 = 0.875 (0.75 would fall short): ids {3, 2, 4},
     * renormalised 4/7, 2/7, 1/7. */
    const float l[5] = {logf(0.0625f), logf(0.0625f), logf(0.25f), logf(0.5f), logf(0.125f)};
    const int n = 20000;
    int counts[5];
    for (int variant = 0; variant < 2; variant++) {
        slm_sampler_params p = params_plain(1.0f, 0);
        p.top_p = 0.8f;
        p.top_k = variant == 0 ? 0 : 4; /* unsorted and top-k-sorted paths */
        draw_with_seeds(&p, l, 5, n, 1000 + (uint64_t)variant * n, counts);
        EXPECT(counts[0] == 0 && counts[1] == 0, "variant %d: dropped tokens drawn %d, %d", variant,
               counts[0], counts[1]);
        EXPECT(counts[2] > 0 && counts[3] > 0 && counts[4] > 0, "variant %d", variant);
        const int kept[3] = {counts[3], counts[2], counts[4]};
        const double want[3] = {4.0 / 7, 2.0 / 7, 1.0 / 7};
        double chi = chi_square(kept, want, 3, n);
        EXPECT(chi < 30.0, "variant %d: chi-square %f (2 dof)", variant, chi); /* p ~ 3e-7 */
    }

    /* top_p 0.6 keeps {3, 2}; top_p <= 0 keeps the best token alone */
    slm_sampler_params p = params_plain(1.0f, 7);
    p.top_p = 0.6f;
    draw_with_seeds(&p, l, 5, 2000, 1, counts);
    EXPECT(counts[0] + counts[1] + counts[4] == 0 && counts[2] > 0 && counts[3] > 0);
    p.top_p = 0.0f;
    draw_with_seeds(&p, l, 5, 500, 1, counts);
    EXPECT(counts[3] == 500, "top_p 0: best drawn %d of 500", counts[3]);
}

TEST(sampler_min_p_removes_expected_tokens) {
    /* weights relative to the best: e^0, e^-1, e^-2 = 0.135, e^-3 = 0.0498,
     * e^-4, e^-0.5; min_p 0.1 drops ids 3 and 4. Temperature 0.7 then
     * sharpens what is left: p ∝ exp(l / 0.7). */
    const float l[6] = {0.0f, -1.0f, -2.0f, -3.0f, -4.0f, -0.5f};
    slm_sampler_params p = params_plain(0.7f, 0);
    p.min_p = 0.1f;
    slm_token ids[6];
    float probs[6];
    slm_sampler *s = slm_sampler_new(&p, 6);
    ASSERT(s);
    int32_t n = slm_sampler_distribution(s, l, ids, probs);
    slm_sampler_free(s);
    EXPECT(n == 4, "kept %d", n);
    for (int32_t i = 0; i < n; i++) EXPECT(ids[i] != 3 && ids[i] != 4, "kept id %d", ids[i]);

    const int draws = 20000;
    int counts[6];
    draw_with_seeds(&p, l, 6, draws, 50000, counts);
    EXPECT(counts[3] == 0 && counts[4] == 0, "dropped tokens drawn %d, %d", counts[3], counts[4]);
    const int kept_ids[4] = {0, 1, 2, 5};
    int kept[4];
    double want[4], z = 0;
    for (int i = 0; i < 4; i++) z += exp(l[kept_ids[i]] / 0.7);
    for (int i = 0; i < 4; i++) {
        kept[i] = counts[kept_ids[i]];
        want[i] = exp(l[kept_ids[i]] / 0.7) / z;
    }
    double chi = chi_square(kept, want, 4, draws);
    EXPECT(chi < 35.0, "chi-square %f (3 dof)", chi);
}

/* ------------------------------------------------------------------------ */
/* Bias and penalties                                                        */
/* ------------------------------------------------------------------------ */

TEST(sampler_penalties_exact_amounts) {
    const slm_token bias_tok[3] = {0, 5, 0};
    const float bias_val[3] = {0.5f, -INFINITY, 0.25f};
    slm_sampler_params p = slm_sampler_default_params();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.penalty_last_n = 4;
    p.bias_tokens = bias_tok;
    p.bias_values = bias_val;
    p.n_bias = 3;
    slm_sampler *s = slm_sampler_new(&p, 7);
    ASSERT(s);

    /* window of 4 after [4, 2, 3, 1, 1, -1, 99]: {2, 3, 1, 1}; 4 has slid out,
     * out-of-range tokens are ignored */
    const slm_token hist[] = {4, 2, 3, 1, 1, -1, 99};
    for (int i = 0; i < 7; i++) slm_sampler_accept(s, hist[i]);
    float l[7] = {1.0f, 2.0f, -1.0f, 0.0f, 3.0f, 4.0f, 6.0f};
    slm_sampler_apply_penalties(s, l);
    EXPECT(l[0] == 1.75f, "%g: bias 0.5 + 0.25, no penalty", (double)l[0]);
    EXPECT(l[1] == -0.25f, "%g: 2/2 - 2*0.5 - 0.25", (double)l[1]);
    EXPECT(l[2] == -2.75f, "%g: -1*2 - 0.5 - 0.25", (double)l[2]);
    EXPECT(l[3] == -0.75f, "%g: 0*2 - 0.5 - 0.25", (double)l[3]);
    EXPECT(l[4] == 3.0f, "%g: slid out of the window", (double)l[4]);
    EXPECT(l[5] == -INFINITY, "%g: banned", (double)l[5]);
    EXPECT(l[6] == 6.0f, "%g: untouched", (double)l[6]);

    /* applying again gives the same (the window's counts are left intact) */
    float l2[7] = {1.0f, 2.0f, -1.0f, 0.0f, 3.0f, 4.0f, 6.0f};
    slm_sampler_apply_penalties(s, l2);
    EXPECT(memcmp(l, l2, sizeof l) == 0);

    /* one more 1 pushes 2 out: window {3, 1, 1, 1} */
    slm_sampler_accept(s, 1);
    float l3[7] = {0.0f, 8.0f, -1.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    slm_sampler_apply_penalties(s, l3);
    EXPECT(l3[1] == 2.25f, "%g: 8/2 - 3*0.5 - 0.25", (double)l3[1]);
    EXPECT(l3[2] == -1.0f, "%g: slid out", (double)l3[2]);

    /* reset clears the history: only the bias is left */
    slm_sampler_reset(s);
    float l4[7] = {1.0f, 2.0f, -1.0f, 0.0f, 3.0f, 4.0f, 6.0f};
    slm_sampler_apply_penalties(s, l4);
    const float want4[7] = {1.75f, 2.0f, -1.0f, 0.0f, 3.0f, -INFINITY, 6.0f};
    for (int i = 0; i < 7; i++) EXPECT(l4[i] == want4[i], "after reset: logit %d = %g", i, (double)l4[i]);

    /* and the banned token is never drawn, at any temperature */
    const float flat[7] = {0};
    for (int i = 0; i < 500; i++) EXPECT(slm_sampler_sample(s, flat) != 5);
    slm_sampler_free(s);
}

TEST(sampler_bias_applies_before_penalties) {
    const slm_token bias_tok[1] = {1};
    const float bias_val[1] = {2.0f};
    slm_sampler_params p = slm_sampler_default_params();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.bias_tokens = bias_tok;
    p.bias_values = bias_val;
    p.n_bias = 1;
    slm_sampler *s = slm_sampler_new(&p, 3);
    ASSERT(s);
    slm_sampler_accept(s, 1);
    float l[3] = {0.0f, 2.0f, 0.0f};
    slm_sampler_apply_penalties(s, l);
    EXPECT(l[1] == 1.25f, "%g: (2 + 2)/2 - 0.5 - 0.25", (double)l[1]);
    slm_sampler_free(s);
}

TEST(sampler_penalties_steer_greedy_and_window_zero_is_off) {
    /* greedy sees the penalised logits */
    slm_sampler_params p = params_plain(0.0f, 1);
    p.repeat_penalty = 4.0f;
    slm_sampler *s = slm_sampler_new(&p, 3);
    ASSERT(s);
    const float l[3] = {1.0f, 2.0f, 1.5f};
    EXPECT(slm_sampler_sample(s, l) == 1);
    slm_sampler_accept(s, 1); /* 2 / 4 = 0.5 */
    EXPECT(slm_sampler_sample(s, l) == 2);
    slm_sampler_accept(s, 2); /* 1.5 / 4 */
    EXPECT(slm_sampler_sample(s, l) == 0);
    slm_sampler_reset(s);
    EXPECT(slm_sampler_sample(s, l) == 1);
    slm_sampler_free(s);

    p.penalty_last_n = 0;
    s = slm_sampler_new(&p, 3);
    ASSERT(s);
    slm_sampler_accept(s, 1);
    EXPECT(slm_sampler_sample(s, l) == 1, "penalty_last_n 0 penalises nothing");
    slm_sampler_free(s);
}

/* ------------------------------------------------------------------------ */
/* Determinism, non-finite input, parameters, speed                          */
/* ------------------------------------------------------------------------ */

/* Runs n_steps of sample + accept over logits drawn from logit_seed. */
static void run_sequence(slm_sampler *s, int32_t V, int n_steps, uint64_t logit_seed, float *l,
                         slm_token *out) {
    slm_rng rng;
    slm_rng_seed(&rng, logit_seed);
    for (int i = 0; i < n_steps; i++) {
        random_logits(&rng, l, V, 2.0f);
        out[i] = slm_sampler_sample(s, l);
        slm_sampler_accept(s, out[i]);
    }
}

TEST(sampler_same_seed_same_tokens) {
    const int32_t V = 2000;
    const int steps = 200;
    float *l = malloc(V * sizeof(float));
    slm_token a[200], b[200], c[200], d[200];
    ASSERT(l);
    slm_sampler_params p = slm_sampler_default_params();
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.1f;
    p.top_k = 0; /* top-p + min-p over the whole vocab */
    p.seed = 42;
    slm_sampler *s1 = slm_sampler_new(&p, V), *s2 = slm_sampler_new(&p, V);
    p.seed = 43;
    slm_sampler *s3 = slm_sampler_new(&p, V);
    ASSERT(s1 && s2 && s3);
    run_sequence(s1, V, steps, 9, l, a);
    run_sequence(s2, V, steps, 9, l, b);
    run_sequence(s3, V, steps, 9, l, c);
    EXPECT(memcmp(a, b, sizeof a) == 0, "same seed, different tokens");
    int differ = 0;
    for (int i = 0; i < steps; i++) differ += a[i] != c[i];
    EXPECT(differ > steps / 4, "seeds 42 and 43 differ in only %d of %d tokens", differ, steps);
    /* reset replays the sequence from the start */
    slm_sampler_reset(s1);
    run_sequence(s1, V, steps, 9, l, d);
    EXPECT(memcmp(a, d, sizeof a) == 0, "reset does not replay");
    slm_sampler_free(s1);
    slm_sampler_free(s2);
    slm_sampler_free(s3);
    free(l);
}

TEST(sampler_nonfinite_logits) {
    slm_sampler_params p = params_plain(1.0f, 11);
    slm_sampler *s = slm_sampler_new(&p, 6);
    ASSERT(s);
    const float a[6] = {NAN, 0.0f, 0.0f, -INFINITY, NAN, 0.0f};
    int seen[6] = {0};
    for (int i = 0; i < 3000; i++) {
        slm_token t = slm_sampler_sample(s, a);
        ASSERT(t >= 0 && t < 6);
        seen[t]++;
    }
    EXPECT(seen[0] == 0 && seen[3] == 0 && seen[4] == 0);
    EXPECT(seen[1] > 800 && seen[2] > 800 && seen[5] > 800, "%d %d %d", seen[1], seen[2], seen[5]);

    const float b[6] = {1e30f, -1e30f, INFINITY, 0.0f, NAN, -FLT_MAX};
    for (int i = 0; i < 100; i++) EXPECT(slm_sampler_sample(s, b) == 2);
    const float none[6] = {NAN, -INFINITY, NAN, -INFINITY, -INFINITY, NAN};
    EXPECT(slm_sampler_sample(s, none) == 0);
    slm_sampler_free(s);

    /* the same through every filter */
    p = slm_sampler_default_params();
    s = slm_sampler_new(&p, 6);
    ASSERT(s);
    for (int i = 0; i < 100; i++) {
        slm_token t = slm_sampler_sample(s, a);
        EXPECT(t == 1 || t == 2 || t == 5, "%d", t);
    }
    EXPECT(slm_sampler_sample(s, none) == 0);
    EXPECT(slm_sampler_sample(s, b) == 2);
    slm_sampler_free(s);
}

TEST(sampler_params_and_errors) {
    slm_sampler_params d = slm_sampler_default_params();
    EXPECT(d.temperature == 0.8f && d.top_k == 40 && d.top_p == 0.95f && d.min_p == 0.05f);
    EXPECT(d.repeat_penalty == 1.0f && d.frequency_penalty == 0.0f && d.presence_penalty == 0.0f);
    EXPECT(d.penalty_last_n == 64 && d.seed == 0xC0FFEEull && d.n_bias == 0);

    slm_sampler *s = slm_sampler_new(NULL, 10); /* NULL = defaults */
    EXPECT(s != NULL);
    slm_sampler_free(s);
    slm_sampler_free(NULL);

    EXPECT(slm_sampler_new(&d, 0) == NULL);
    EXPECT(strstr(slm_last_error(), "n_vocab") != NULL, "%s", slm_last_error());
    slm_sampler_params p = d;
    p.penalty_last_n = -1;
    EXPECT(slm_sampler_new(&p, 10) == NULL);
    p = d;
    p.repeat_penalty = 0.0f;
    EXPECT(slm_sampler_new(&p, 10) == NULL);
    p = d;
    p.temperature = NAN;
    EXPECT(slm_sampler_new(&p, 10) == NULL);
    const slm_token bad_tok[1] = {10};
    const float val[1] = {1.0f};
    p = d;
    p.bias_tokens = bad_tok;
    p.bias_values = val;
    p.n_bias = 1;
    EXPECT(slm_sampler_new(&p, 10) == NULL);
    EXPECT(strstr(slm_last_error(), "bias token 10") != NULL, "%s", slm_last_error());
    p.n_bias = 1;
    p.bias_tokens = NULL;
    EXPECT(slm_sampler_new(&p, 10) == NULL);

    /* the bias arrays are copied: the caller's may go away */
    slm_token tok[1] = {3};
    float bias[1] = {100.0f};
    p = params_plain(1.0f, 1);
    p.bias_tokens = tok;
    p.bias_values = bias;
    p.n_bias = 1;
    s = slm_sampler_new(&p, 5);
    ASSERT(s);
    tok[0] = 0;
    bias[0] = -100.0f;
    const float flat[5] = {0};
    EXPECT(slm_sampler_sample(s, flat) == 3);
    slm_sampler_free(s);
}

TEST(sampler_large_vocab_speed) {
    /* A 152k vocabulary (Qwen-sized): defaults with penalties, and top-p over
     * the whole vocab on a flat distribution (the slowest path). The bounds
     * only catch an accidental O(V^2) or per-token sort gone wrong; they hold
     * under the sanitizers with a wide margin. */
    const int32_t V = 151936;
    float *l = malloc((size_t)V * sizeof(float));
    ASSERT(l);
    slm_rng rng;
    slm_rng_seed(&rng, 8);
    random_logits(&rng, l, V, 3.0f);
    slm_sampler_params p = slm_sampler_default_params();
    p.repeat_penalty = 1.1f;
    slm_sampler *s = slm_sampler_new(&p, V);
    ASSERT(s);
    const int n = 200;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        slm_token t = slm_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
        slm_sampler_accept(s, t);
    }
    double ms_default = (now_ms() - t0) / n;
    slm_sampler_free(s);

    random_logits(&rng, l, V, 0.05f);
    p = params_plain(1.0f, 8);
    p.top_p = 0.95f;
    s = slm_sampler_new(&p, V);
    ASSERT(s);
    t0 = now_ms();
    for (int i = 0; i < 10; i++) {
        slm_token t = slm_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
    }
    double ms_flat = (now_ms() - t0) / 10;
    slm_sampler_free(s);
    free(l);
    printf("    sampling, 151936 tokens: defaults %.3f ms/token, flat top-p %.3f ms/token\n", ms_default,
           ms_flat);
    EXPECT(ms_default < 20.0, "%.3f ms per token", ms_default);
    EXPECT(ms_flat < 500.0, "%.3f ms per token", ms_flat);
}
