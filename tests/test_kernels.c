/*
 * test_kernels.c — every kernel table this machine runs against the scalar
 * reference of its scheme (never skipped: the scalar tables always run):
 *  - activation converters (from_float) give the bytes of quant/'s reference
 *    quantizers exactly (and the F16 writer of the KV cache those of F16);
 *  - vec_dot of every weight type, on random rows of several lengths (256 and
 *    4096 among them; quantized both from random floats and as random bytes
 *    with sane fp16 scales), matches the float reference (float weights) or
 *    the integer-scheme reference (quantized weights) within float rounding:
 *    |got - ref| <= 1e-5 * sum |w_i x_i|;
 *  - on data where float rounding cannot occur (small integer levels, unit
 *    scales) every table gives exactly the reference's bits;
 *  - vec_dot_tile gives vec_dot's bits for every pair of every tile shape;
 *  - the attention kernels (q·k over cache rows, Σ p·v) over an F32 and an
 *    F16 cache match the reference within float rounding;
 *  - the interleaved layouts (packed.h) give back every row byte for byte,
 *    and each table's gemv_packed matches vec_dot of the reference on the
 *    unpacked rows (exact data: exactly), writing nothing past its rows.
 * The whole model with each table is in test_kernels_model.c. This file
 * needs only base/, kernels/ and quant/, so the aarch64 cross build
 * (`make test-arm`) runs it under qemu.
 * Random data takes a fresh seed each run (SLM_TEST_SEED=<n> repeats one);
 * every failure message carries it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fp16.h"
#include "base/rng.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "slm.h"
#include "test.h"
#include "util.h"

static uint64_t test_seed(void) {
    static uint64_t seed;
    if (!seed) {
        const char *s = getenv("SLM_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)clock();
        if (!seed) seed = 1;
    }
    return seed;
}

static const int g_weight_types[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
                                     SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q8_0, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
                                     SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};
#define N_WEIGHT_TYPES (int)(sizeof g_weight_types / sizeof g_weight_types[0])

/* ======================================================================== */
/* The tables                                                                */
/* ======================================================================== */

TEST(kernels_tables_match_cpu) {
    const slm_kernel_table *t[8];
    int n = slm_kernels_available(t, 8);
    ASSERT(n >= 2);
    EXPECT(t[0] == slm_kernels_ref() && !strcmp(t[0]->name, "scalar"));
    EXPECT(t[1] == slm_kernels_ref_int() && !strcmp(t[1]->name, "scalar-int"));
    const slm_cpu_features *f = slm_cpu_features_get();
    bool has[6] = {false}; /* avx2, avx512, avx512vnni, neon, neon-dotprod, other */
    static const char *const simd[5] = {"avx2", "avx512", "avx512vnni", "neon", "neon-dotprod"};
    for (int i = 0; i < n; i++) {
        int k = 2 <= i ? 5 : -1;
        for (int j = 0; j < 5 && k >= 0; j++)
            if (!strcmp(t[i]->name, simd[j])) k = j;
        if (k >= 0) has[k] = true;
        for (int w = 0; w < N_WEIGHT_TYPES; w++) EXPECT(t[i]->vec_dot[g_weight_types[w]] != NULL, "(%s)", t[i]->name);
        EXPECT(t[i]->dot_f32 != NULL);
    }
    EXPECT(!has[5], "(a table with an unknown name)");
#if defined(__x86_64__)
    const bool want_avx2 = f->avx2 && f->fma && f->f16c;
    const bool want_avx512 = want_avx2 && f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq;
    const bool want_vnni = want_avx512 && f->avx512vnni;
    EXPECT(has[0] == want_avx2 && has[1] == want_avx512 && has[2] == want_vnni,
           "(cpu avx2 %d avx512 %d vnni %d; tables %d %d %d)", want_avx2, want_avx512, want_vnni, has[0], has[1],
           has[2]);
    EXPECT(!has[3] && !has[4]);
#elif defined(__aarch64__)
    /* every aarch64 CPU has NEON: its table must be there */
    EXPECT(f->neon && has[3] && has[4] == f->dotprod, "(cpu neon %d dotprod %d; tables %d %d)", f->neon, f->dotprod,
           has[3], has[4]);
    EXPECT(!has[0] && !has[1] && !has[2]);
#else
    (void)f;
    EXPECT(n == 2);
#endif
    printf("    tables:");
    for (int i = 0; i < n; i++) printf(" %s", t[i]->name);
    printf("\n");

    /* forcing picks a runnable table; NULL restores the start-up choice */
    const slm_kernel_table *start = slm_kernels();
    EXPECT(slm_kernels_force("scalar") && slm_kernels() == t[0]);
    EXPECT(!slm_kernels_force("no-such-table") && slm_kernels() == t[0]);
    EXPECT(slm_kernels_force(t[n - 1]->name) && slm_kernels() == t[n - 1]);
    EXPECT(slm_kernels_force(NULL) && slm_kernels() == start);
    const char *env = getenv("SLM_KERNELS");
    if (!env || !*env) EXPECT(start == t[n - 1], "(start-up table %s, fastest %s)", start->name, t[n - 1]->name);
}

/* ======================================================================== */
/* Random data                                                               */
/* ======================================================================== */

/* n floats: Gaussian with a random row scale, some exact ties and zeros. */
static void random_floats(slm_rng *r, float *x, int64_t n) {
    float scale = 0.01f + 4.0f * slm_rng_f32(r);
    for (int64_t i = 0; i < n; i++) x[i] = scale * slm_rng_normal(r);
    int kind = (int)slm_rng_below(r, 4);
    if (kind == 1 && n >= 32) { /* a zero block and a tie of both signs for the block extreme */
        memset(x, 0, 32 * sizeof(float));
        if (n >= 64) {
            x[40] = 100.0f;
            x[50] = -100.0f;
        }
    } else if (kind == 2) { /* values on rounding ties of the 8-bit grid */
        for (int64_t i = 0; i < n; i++) x[i] = (float)((int)slm_rng_below(r, 255) - 127) * 0.5f;
    }
}

/* Offsets of the fp16 scale fields in a block of each type (-1: none). */
static void fp16_fields(int type, int off[2]) {
    off[0] = off[1] = -1;
    switch (type) {
    case SLM_TYPE_Q4_0: case SLM_TYPE_Q5_0: case SLM_TYPE_Q8_0: off[0] = 0; break;
    case SLM_TYPE_Q4_1: case SLM_TYPE_Q5_1: case SLM_TYPE_Q4_K: case SLM_TYPE_Q5_K: off[0] = 0; off[1] = 2; break;
    case SLM_TYPE_Q2_K: off[0] = (int)offsetof(block_q2_K, d); off[1] = (int)offsetof(block_q2_K, dmin); break;
    case SLM_TYPE_Q3_K: off[0] = (int)offsetof(block_q3_K, d); break;
    case SLM_TYPE_Q6_K: off[0] = (int)offsetof(block_q6_K, d); break;
    default: break;
    }
}

/* A weight row of n values of type: quantized from random floats, or (for
 * quantized types, one time in three) random bytes with sane fp16 scales,
 * which reaches level patterns a quantizer never writes (Q8_0 -128, Q6_K
 * scale -128, ...). Float types: random values. */
static void random_row(slm_rng *r, int type, int64_t n, void *row, float *tmp) {
    const slm_type_traits *tr = slm_type_traits_get(type);
    if (tr->is_quantized && slm_rng_below(r, 3) == 0) {
        size_t bytes = slm_row_size(type, n);
        uint8_t *p = row;
        for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)slm_rng_u64(r);
        int off[2];
        fp16_fields(type, off);
        for (int64_t b = 0; b < n / tr->blck_size; b++)
            for (int k = 0; k < 2; k++)
                if (off[k] >= 0) {
                    uint16_t h = slm_fp32_to_fp16((slm_rng_f32(r) - 0.3f) * 0.05f);
                    memcpy(p + (size_t)b * tr->type_size + off[k], &h, 2);
                }
        return;
    }
    random_floats(r, tmp, n);
    tr->from_float(tmp, row, n);
}

/* ======================================================================== */
/* Activation converters                                                     */
/* ======================================================================== */

TEST(kernels_from_float_bit_exact) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed);
    const slm_kernel_table *t[8];
    int nt = slm_kernels_available(t, 8);
    const int act[] = {SLM_TYPE_Q8_0, SLM_TYPE_Q8_1, SLM_TYPE_Q8_K, SLM_TYPE_F16 /* the KV cache writer */};
    const int64_t n = 4096;
    float *x = malloc(n * sizeof(float));
    const size_t cap = (size_t)n * sizeof(float); /* more than any converted row */
    uint8_t *want = malloc(cap), *got = malloc(cap);
    ASSERT(x && want && got);
    for (int it = 0; it < 20; it++) {
        random_floats(&r, x, n);
        for (int a = 0; a < 4; a++) {
            size_t bytes = slm_row_size(act[a], n);
            slm_type_traits_get(act[a])->from_float(x, want, n);
            for (int i = 0; i < nt; i++) {
                if (!t[i]->from_float[act[a]]) continue;
                memset(got, 0xAA, bytes);
                t[i]->from_float[act[a]](x, got, n);
                EXPECT(memcmp(got, want, bytes) == 0, "(%s %s: bytes differ from quant/'s; seed %llu iteration %d)",
                       t[i]->name, slm_type_name(act[a]), (unsigned long long)seed, it);
            }
        }
    }
    free(x);
    free(want);
    free(got);
}

/* ======================================================================== */
/* Dot products                                                              */
/* ======================================================================== */

/* sum |w_i| |x_i| over the dequantized rows: the scale of float rounding. */
static double abs_dot(int wtype, const void *w, int xtype, const void *x, int64_t n, float *bw, float *bx) {
    slm_type_traits_get(wtype)->to_float(w, bw, n);
    slm_type_traits_get(xtype)->to_float(x, bx, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)bw[i] * bx[i]);
    return s;
}

static void check_table_dots(const slm_kernel_table *tab, uint64_t seed) {
    slm_rng r;
    uint64_t h = seed;
    for (const char *c = tab->name; *c; c++) h = h * 31 + (uint8_t)*c; /* a stream per table */
    slm_rng_seed(&r, h);
    const int64_t float_lens[] = {1, 7, 16, 17, 33, 256, 1000, 4096, 4099};
    const int64_t legacy_lens[] = {32, 64, 96, 256, 288, 1536, 4096};
    const int64_t k_lens[] = {256, 512, 768, 1536, 4096};
    enum { MAXN = 4099 + 64, NX = SLM_TILE_COLS };
    float *tmp = malloc(MAXN * sizeof(float)), *bw = malloc(MAXN * sizeof(float)), *bx = malloc(MAXN * sizeof(float));
    float *xf = malloc((size_t)NX * MAXN * sizeof(float));
    const size_t wstride = MAXN * 4 + 64; /* weight rows of a tile */
    uint8_t *w = malloc(SLM_TILE_ROWS * wstride), *xc = malloc((size_t)NX * MAXN * 4);
    if (!tmp || !bw || !bx || !xf || !w || !xc) {
        slm_test_fail(__FILE__, __LINE__, "out of memory");
        goto done;
    }
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        const int wt = g_weight_types[k];
        const slm_type_traits *tr = slm_type_traits_get(wt);
        const int vt = tab->vec_dot_type[wt];
        /* the reference of the same scheme */
        const slm_kernel_table *ref = vt == SLM_TYPE_F32 ? slm_kernels_ref() : slm_kernels_ref_int();
        EXPECT(ref->vec_dot_type[wt] == vt, "(%s %s: activation type %d has no reference)", tab->name, tr->name, vt);
        const int64_t *lens = !tr->is_quantized ? float_lens : tr->blck_size == QK_K ? k_lens : legacy_lens;
        const int n_lens = !tr->is_quantized ? 9 : tr->blck_size == QK_K ? 5 : 7;
        for (int li = 0; li < n_lens; li++) {
            const int64_t n = lens[li];
            const size_t xrow = slm_row_size(vt, n);
            for (int rep = 0; rep < 6; rep++) {
                random_row(&r, wt, n, w, tmp);
                for (int j = 0; j < NX; j++) {
                    random_floats(&r, xf + (size_t)j * n, n);
                    if (vt == SLM_TYPE_F32) memcpy(xc + j * xrow, xf + (size_t)j * n, (size_t)n * sizeof(float));
                    else ref->from_float[vt](xf + (size_t)j * n, xc + j * xrow, n);
                }
                float got[NX], want[NX];
                for (int j = 0; j < NX; j++) {
                    got[j] = tab->vec_dot[wt](n, w, xc + j * xrow);
                    want[j] = ref->vec_dot[wt](n, w, xc + j * xrow);
                    double mag = abs_dot(wt, w, vt, xc + j * xrow, n, bw, bx);
                    double err = fabs((double)got[j] - want[j]);
                    EXPECT(err <= 1e-5 * mag || (got[j] == want[j]),
                           "(%s %s n=%lld: got %.9g, reference %.9g, |diff| %.3g > 1e-5 * %.3g; seed %llu)", tab->name,
                           tr->name, (long long)n, got[j], want[j], err, mag, (unsigned long long)seed);
                }
                if (!tab->vec_dot_tile[wt]) continue;
                /* every tile shape, rows w (checked above) and more random rows
                 * wstride bytes apart, results written with strides */
                enum { OS = SLM_TILE_ROWS + 1 };
                float tile_out[SLM_TILE_COLS * OS], want_rc[SLM_TILE_ROWS][NX];
                for (int i = 0; i < SLM_TILE_ROWS; i++) {
                    if (i > 0) random_row(&r, wt, n, w + i * wstride, tmp);
                    for (int j = 0; j < NX; j++) want_rc[i][j] = i == 0 ? got[j] : tab->vec_dot[wt](n, w + i * wstride, xc + j * xrow);
                }
                for (int nr = 1; nr <= SLM_TILE_ROWS; nr++)
                    for (int nx = 1; nx <= SLM_TILE_COLS; nx++) {
                        for (int j = 0; j < SLM_TILE_COLS * OS; j++) tile_out[j] = -12345.0f;
                        tab->vec_dot_tile[wt](n, w, wstride, nr, xc, xrow, nx, tile_out, OS);
                        for (int j = 0; j < SLM_TILE_COLS * OS; j++) {
                            const int col = j / OS, row = j % OS;
                            if (col < nx && row < nr) {
                                const float want_bits = want_rc[row][col];
                                EXPECT(memcmp(&tile_out[j], &want_bits, sizeof(float)) == 0,
                                       "(%s %s n=%lld tile %dx%d [%d][%d]: %.9g, vec_dot %.9g; seed %llu)", tab->name,
                                       tr->name, (long long)n, nr, nx, row, col, tile_out[j], want_bits,
                                       (unsigned long long)seed);
                            } else {
                                EXPECT(tile_out[j] == -12345.0f, "(%s %s tile %dx%d wrote outside its outputs)",
                                       tab->name, tr->name, nr, nx);
                            }
                        }
                    }
            }
        }
    }
    /* dot_f32 against the reference */
    for (int li = 0; li < 9; li++) {
        const int64_t n = float_lens[li];
        random_floats(&r, xf, n);
        random_floats(&r, tmp, n);
        float got = tab->dot_f32(n, xf, tmp), want = slm_kernels_ref()->dot_f32(n, xf, tmp);
        double mag = 0;
        for (int64_t i = 0; i < n; i++) mag += fabs((double)xf[i] * tmp[i]);
        EXPECT(fabs((double)got - want) <= 1e-5 * mag, "(%s dot_f32 n=%lld: %.9g vs %.9g; seed %llu)", tab->name,
               (long long)n, got, want, (unsigned long long)seed);
    }
done:
    free(tmp);
    free(bw);
    free(bx);
    free(xf);
    free(w);
    free(xc);
}

/*
 * Exactness: on data where every float operation is exact (small integer
 * levels, all scales +-1, every partial sum far below 2^24) the order of the
 * float additions cannot matter, so every table must give the reference's
 * bits: the integer sums themselves are pinned, not just their rounding.
 */
static void exact_weights(slm_rng *r, int type, int64_t n, void *row, float *tmp) {
    const slm_type_traits *tr = slm_type_traits_get(type);
    if (!tr->is_quantized) {
        for (int64_t i = 0; i < n; i++) tmp[i] = (float)((int)slm_rng_below(r, 17) - 8);
        tr->from_float(tmp, row, n);
        return;
    }
    uint8_t *p = row;
    for (size_t i = 0; i < slm_row_size(type, n); i++) p[i] = (uint8_t)slm_rng_u64(r);
    int off[2];
    fp16_fields(type, off);
    for (int64_t b = 0; b < n / tr->blck_size; b++)
        for (int k = 0; k < 2; k++)
            if (off[k] >= 0) {
                uint16_t h = k == 0 || slm_rng_below(r, 2) ? 0x3C00 : 0xBC00; /* d = 1, min +-1 */
                memcpy(p + (size_t)b * tr->type_size + off[k], &h, 2);
            }
}

static void exact_activations(slm_rng *r, int vt, int64_t n, void *row) {
    if (vt == SLM_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)row)[i] = (float)((int)slm_rng_below(r, 17) - 8);
    } else if (vt == SLM_TYPE_Q8_K) {
        block_q8_K *y = row;
        for (int64_t b = 0; b < n / QK_K; b++) {
            y[b].d = 1.0f;
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += y[b].qs[16 * j + l] = (int8_t)((int)slm_rng_below(r, 7) - 3);
                y[b].bsums[j] = (int16_t)sum;
            }
        }
    } else { /* Q8_0, Q8_1: d at offset 0, Q8_1's s = d * sum at 2 */
        const size_t bs = slm_type_traits_get(vt)->type_size, qoff = vt == SLM_TYPE_Q8_1 ? 4 : 2;
        for (int64_t b = 0; b < n / 32; b++) {
            uint8_t *blk = (uint8_t *)row + (size_t)b * bs;
            int sum = 0;
            for (int l = 0; l < 32; l++) sum += ((int8_t *)(blk + qoff))[l] = (int8_t)((int)slm_rng_below(r, 7) - 3);
            const uint16_t one = 0x3C00, s16 = slm_fp32_to_fp16((float)sum);
            memcpy(blk, &one, 2);
            if (vt == SLM_TYPE_Q8_1) memcpy(blk + 2, &s16, 2);
        }
    }
}

TEST(kernels_dots_exact_on_exact_data) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x5eed);
    const slm_kernel_table *t[8];
    const int nt = slm_kernels_available(t, 8);
    enum { N = 4096 };
    float *tmp = malloc(N * sizeof(float));
    uint8_t *w = malloc(N * 4), *x = malloc(N * 4 + 64);
    ASSERT(tmp && w && x);
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        const int wt = g_weight_types[k];
        const slm_type_traits *tr = slm_type_traits_get(wt);
        /* one K-quant super-block keeps the worst sum (Q6_K) under 2^24 */
        const int64_t lens[] = {tr->blck_size == QK_K ? QK_K : 32, tr->blck_size == QK_K ? QK_K : 288, N};
        for (int li = 0; li < (tr->blck_size == QK_K ? 1 : 3); li++) {
            const int64_t n = lens[li];
            for (int rep = 0; rep < 4; rep++) {
                exact_weights(&r, wt, n, w, tmp);
                for (int i = 0; i < nt; i++) {
                    const int vt = t[i]->vec_dot_type[wt];
                    const slm_kernel_table *ref = vt == SLM_TYPE_F32 ? slm_kernels_ref() : slm_kernels_ref_int();
                    exact_activations(&r, vt, n, x);
                    const float got = t[i]->vec_dot[wt](n, w, x), want = ref->vec_dot[wt](n, w, x);
                    EXPECT(memcmp(&got, &want, sizeof got) == 0, "(%s %s n=%lld: %.9g, reference %.9g; seed %llu)",
                           t[i]->name, tr->name, (long long)n, got, want, (unsigned long long)seed);
                }
            }
        }
    }
    free(tmp);
    free(w);
    free(x);
}

TEST(kernels_vec_dot_matches_reference) {
    const slm_kernel_table *t[8];
    int nt = slm_kernels_available(t, 8);
    for (int i = 0; i < nt; i++) check_table_dots(t[i], test_seed());
}

/* ======================================================================== */
/* Attention over the KV cache                                               */
/* ======================================================================== */

TEST(kernels_attention_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0xa77e);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref();
    const int nt = slm_kernels_available(t, 8);
    enum { MAXHD = 160, MAXN = 300, MAXQ = 12, SS = MAXN + 5 };
    const int64_t hds[] = {64, 128, 80, 7, 36, 160}, ns[] = {1, 2, 5, 33, 300};
    const int nqs[] = {1, 3, 12};
    const size_t stride = MAXHD * 4 + 12; /* rows stride bytes apart, as in the cache */
    float *qbuf = malloc(MAXQ * MAXHD * sizeof(float)), *kf = malloc(MAXHD * sizeof(float));
    float *p = malloc(MAXQ * SS * sizeof(float)), *got = malloc(MAXQ * SS * sizeof(float));
    float *want = malloc(MAXQ * SS * sizeof(float)), *o0 = malloc(MAXQ * MAXHD * sizeof(float));
    uint8_t *kv = malloc(stride * MAXN);
    double *magk = malloc(MAXQ * MAXN * sizeof(double)), *magv = malloc(MAXQ * MAXHD * sizeof(double));
    ASSERT(qbuf && kf && p && got && want && o0 && kv && magk && magv);
    const int kv_types[] = {SLM_TYPE_F32, SLM_TYPE_F16};
    for (int kt = 0; kt < 2; kt++) {
        const int type = kv_types[kt];
        const slm_type_traits *tr = slm_type_traits_get(type);
        for (int hi = 0; hi < 6; hi++)
            for (int ni = 0; ni < 5; ni++)
                for (int qn = 0; qn < 3; qn++) {
                    const int64_t hd = hds[hi], n = ns[ni];
                    const int nq = nqs[qn];
                    /* queries at scattered places (pointers), outputs likewise, scores SS apart */
                    const float *q[MAXQ];
                    float *outg[MAXQ], *outw[MAXQ];
                    for (int i = 0; i < nq; i++) {
                        q[i] = qbuf + (size_t)(nq - 1 - i) * MAXHD;
                        random_floats(&r, qbuf + (size_t)i * MAXHD, hd);
                        random_floats(&r, o0 + (size_t)i * MAXHD, hd);
                        for (int64_t j = 0; j < n; j++) p[(size_t)i * SS + j] = slm_rng_f32(&r);
                    }
                    for (int64_t j = 0; j < n; j++) {
                        random_floats(&r, kf, hd);
                        tr->from_float(kf, kv + (size_t)j * stride, hd);
                    }
                    /* magnitudes: sum |q k_j| per score, |o0| + sum |p v| per output */
                    float row[MAXHD];
                    for (int i = 0; i < nq; i++)
                        for (int64_t d = 0; d < hd; d++) magv[i * MAXHD + d] = fabs(o0[(size_t)i * MAXHD + d]);
                    for (int64_t j = 0; j < n; j++) {
                        tr->to_float(kv + (size_t)j * stride, row, hd);
                        for (int i = 0; i < nq; i++) {
                            magk[i * MAXN + j] = 0;
                            for (int64_t d = 0; d < hd; d++) {
                                magk[i * MAXN + j] += fabs((double)q[i][d] * row[d]);
                                magv[i * MAXHD + d] += fabs((double)p[(size_t)i * SS + j] * row[d]);
                            }
                        }
                    }
                    ref->attn_qk[type](hd, nq, q, kv, stride, n, want, SS);
                    for (int k = 0; k < nt; k++) {
                        ASSERT(t[k]->attn_qk[type] && t[k]->attn_pv[type], "(%s %s)", t[k]->name, tr->name);
                        t[k]->attn_qk[type](hd, nq, q, kv, stride, n, got, SS);
                        for (int i = 0; i < nq; i++)
                            for (int64_t j = 0; j < n; j++) {
                                const float g = got[(size_t)i * SS + j], w = want[(size_t)i * SS + j];
                                EXPECT(fabs((double)g - w) <= 1e-5 * magk[i * MAXN + j] + 1e-30,
                                       "(%s attn_qk %s hd=%lld n=%lld nq=%d [%d][%lld]: %.9g vs %.9g; seed %llu)",
                                       t[k]->name, tr->name, (long long)hd, (long long)n, nq, i, (long long)j, g, w,
                                       (unsigned long long)seed);
                            }
                    }
                    for (int i = 0; i < nq; i++) {
                        outw[i] = want + (size_t)i * SS;
                        outg[i] = got + (size_t)(nq - 1 - i) * SS;
                        memcpy(outw[i], o0 + (size_t)i * MAXHD, (size_t)hd * sizeof(float));
                    }
                    ref->attn_pv[type](hd, nq, p, SS, kv, stride, n, outw);
                    for (int k = 0; k < nt; k++) {
                        for (int i = 0; i < nq; i++) memcpy(outg[i], o0 + (size_t)i * MAXHD, (size_t)hd * sizeof(float));
                        t[k]->attn_pv[type](hd, nq, p, SS, kv, stride, n, outg);
                        for (int i = 0; i < nq; i++)
                            for (int64_t d = 0; d < hd; d++)
                                EXPECT(fabs((double)outg[i][d] - outw[i][d]) <= 1e-5 * magv[i * MAXHD + d] + 1e-30,
                                       "(%s attn_pv %s hd=%lld n=%lld nq=%d [%d][%lld]: %.9g vs %.9g; seed %llu)",
                                       t[k]->name, tr->name, (long long)hd, (long long)n, nq, i, (long long)d,
                                       outg[i][d], outw[i][d], (unsigned long long)seed);
                    }
                }
    }
    free(qbuf);
    free(kf);
    free(p);
    free(got);
    free(want);
    free(o0);
    free(kv);
    free(magk);
    free(magv);
}

/* ======================================================================== */
/* The bandwidth probe                                                       */
/* ======================================================================== */

TEST(kernels_read_sum_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0xb00);
    const slm_kernel_table *t[8];
    const int nt = slm_kernels_available(t, 8);
    enum { MAXB = 1 << 16 };
    uint64_t *buf = aligned_alloc(64, MAXB);
    ASSERT(buf);
    for (size_t i = 0; i < MAXB / 8; i++) buf[i] = slm_rng_u64(&r);
    const size_t sizes[] = {256, 512, 4096, 256 * 37, MAXB};
    for (int k = 0; k < 5; k++) {
        uint64_t want = 0;
        for (size_t i = 0; i < sizes[k] / 8; i++) want += buf[i];
        for (int i = 0; i < nt; i++) {
            ASSERT(t[i]->read_sum, "(%s)", t[i]->name);
            const uint64_t got = t[i]->read_sum((const uint8_t *)buf, sizes[k]);
            EXPECT(got == want, "(%s read_sum of %zu bytes: %llu, expected %llu; seed %llu)", t[i]->name, sizes[k],
                   (unsigned long long)got, (unsigned long long)want, (unsigned long long)seed);
        }
    }
    free(buf);
}

/* ======================================================================== */
/* Batches through packed panels (gemm entries)                              */
/* ======================================================================== */

/*
 * Every gemm entry against vec_dot of the integer-scheme reference, for
 * every (row, token) pair: weight counts around the panel height (16), token
 * counts around the microkernel width (4), strided outputs; random data
 * within float rounding (1e-5 * sum |w x|), and on exact data (unit scales,
 * small levels: no rounding anywhere) bit for bit. Nothing may be written
 * outside the nr x nx outputs.
 */
TEST(kernels_gemm_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x6e33);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref_int();
    const int nt = slm_kernels_available(t, 8);
    enum { MAXN = 1024, MAXR = 40, MAXX = 9, OS = MAXR + 3 };
    const int64_t nrs[] = {1, 15, 16, 17, 40}, nxs[] = {1, 3, 4, 5, 9};
    float *tmp = malloc(MAXN * sizeof(float)), *bw = malloc(MAXN * sizeof(float)), *bx = malloc(MAXN * sizeof(float));
    uint8_t *w = malloc((size_t)MAXR * MAXN * 4), *x = malloc((size_t)MAXX * MAXN * 4);
    float *out = malloc((size_t)MAXX * OS * sizeof(float));
    void *scratch = malloc(slm_gemm_scratch_size(MAXN, MAXX));
    ASSERT(tmp && bw && bx && w && x && out && scratch);
    int n_checked = 0;
    for (int i = 0; i < nt; i++)
        for (int k = 0; k < N_WEIGHT_TYPES; k++) {
            const int wt = g_weight_types[k];
            if (!t[i]->gemm[wt]) continue;
            const slm_type_traits *tr = slm_type_traits_get(wt);
            const int vt = t[i]->vec_dot_type[wt];
            const int64_t n = tr->blck_size == QK_K ? 512 : 96;
            const size_t wrow = slm_row_size(wt, n), xrow = slm_row_size(vt, n);
            for (int exact = 0; exact < 2; exact++)
                for (int ri = 0; ri < 5; ri++)
                    for (int xi = 0; xi < 5; xi++) {
                        const int64_t nr = nrs[ri], nx = nxs[xi];
                        for (int64_t row = 0; row < nr; row++) {
                            if (exact) exact_weights(&r, wt, n, w + row * wrow, tmp);
                            else random_row(&r, wt, n, w + row * wrow, tmp);
                        }
                        for (int64_t j = 0; j < nx; j++) {
                            if (exact) exact_activations(&r, vt, n, x + j * xrow);
                            else {
                                random_floats(&r, tmp, n);
                                ref->from_float[vt](tmp, x + j * xrow, n);
                            }
                        }
                        for (int j = 0; j < MAXX * OS; j++) out[j] = -12345.0f;
                        t[i]->gemm[wt](n, w, wrow, nr, x, xrow, nx, out, OS, scratch);
                        n_checked++;
                        for (int64_t j = 0; j < MAXX; j++)
                            for (int64_t row = 0; row < OS; row++) {
                                const float got = out[j * OS + row];
                                if (j >= nx || row >= nr) {
                                    EXPECT(got == -12345.0f, "(%s %s gemm %lldx%lld wrote outside its outputs)",
                                           t[i]->name, tr->name, (long long)nr, (long long)nx);
                                    continue;
                                }
                                const float want = ref->vec_dot[wt](n, w + row * wrow, x + j * xrow);
                                if (exact) {
                                    EXPECT(memcmp(&got, &want, sizeof got) == 0,
                                           "(%s %s gemm exact data [%lld][%lld]: %.9g, reference %.9g; seed %llu)",
                                           t[i]->name, tr->name, (long long)row, (long long)j, got, want,
                                           (unsigned long long)seed);
                                } else {
                                    const double mag = abs_dot(wt, w + row * wrow, vt, x + j * xrow, n, bw, bx);
                                    EXPECT(fabs((double)got - want) <= 1e-5 * mag,
                                           "(%s %s gemm %lldx%lld [%lld][%lld]: %.9g, reference %.9g; seed %llu)",
                                           t[i]->name, tr->name, (long long)nr, (long long)nx, (long long)row,
                                           (long long)j, got, want, (unsigned long long)seed);
                                }
                            }
                    }
        }
    printf("    %d gemm calls checked\n", n_checked);
    free(tmp);
    free(bw);
    free(bx);
    free(w);
    free(x);
    free(out);
    free(scratch);
}

/* ======================================================================== */
/* Packed (interleaved) weights                                              */
/* ======================================================================== */

/* Packing then unpacking gives every row back byte for byte; padding rows of
 * the last group are zero. */
TEST(kernels_packed_layout_round_trip) {
    slm_rng r;
    slm_rng_seed(&r, test_seed() ^ 0x9ac4);
    enum { MAXN = 1024, MAXR = 40 };
    uint8_t *w = malloc((size_t)MAXR * MAXN * 4), *back = malloc((size_t)MAXR * MAXN * 4);
    uint8_t *packed = malloc(slm_packed_size((size_t)MAXN * 4, MAXR));
    ASSERT(w && back && packed);
    int n_types = 0;
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        const int wt = g_weight_types[k];
        if (!slm_pack_type(wt)) continue;
        n_types++;
        const slm_type_traits *tr = slm_type_traits_get(wt);
        const int64_t n = tr->blck_size == QK_K ? 768 : 160, nr = 37;
        const size_t row = slm_row_size(wt, n);
        for (size_t i = 0; i < row * nr; i++) w[i] = (uint8_t)slm_rng_u64(&r);
        for (int64_t g = 0; g * SLM_PACK_ROWS < nr; g++) {
            const int gr = (int)(nr - g * SLM_PACK_ROWS < SLM_PACK_ROWS ? nr - g * SLM_PACK_ROWS : SLM_PACK_ROWS);
            slm_pack_rows(wt, n, w + (size_t)g * SLM_PACK_ROWS * row, row, gr, packed + (size_t)g * SLM_PACK_ROWS * row);
            slm_unpack_rows(wt, n, packed + (size_t)g * SLM_PACK_ROWS * row, gr, back + (size_t)g * SLM_PACK_ROWS * row, row);
        }
        EXPECT(memcmp(w, back, row * nr) == 0, "(%s: unpacked rows differ from the originals)", tr->name);
        for (int64_t rr = 0; rr < nr; rr++) { /* one row at a time (the tied embedding's rows) */
            slm_unpack_row(wt, n, packed + (size_t)(rr / SLM_PACK_ROWS) * SLM_PACK_ROWS * row, (int)(rr % SLM_PACK_ROWS), back);
            EXPECT(memcmp(back, w + (size_t)rr * row, row) == 0, "(%s: row %lld alone differs)", tr->name, (long long)rr);
        }
        /* the last group: rows 32..36 real, 37..47 padding, all zero */
        uint8_t *pad = malloc(SLM_PACK_ROWS * row);
        ASSERT(pad);
        slm_unpack_rows(wt, n, packed + 2 * SLM_PACK_ROWS * row, SLM_PACK_ROWS, pad, row);
        size_t nonzero = 0;
        for (size_t i = (size_t)(nr - 32) * row; i < SLM_PACK_ROWS * row; i++) nonzero += pad[i] != 0;
        EXPECT(nonzero == 0, "(%s: %zu bytes of padding rows not zero)", tr->name, nonzero);
        free(pad);
    }
    EXPECT(n_types >= 2, "(only %d types have a packed layout)", n_types);
    free(w);
    free(back);
    free(packed);
}

/* gemv_packed of every table that has one against the reference vec_dot of
 * the same rows unpacked: within 1e-5 * sum |w x| on random data, bit for bit
 * on exact data, for 1..4 tokens and row counts around the group size. */
TEST(kernels_gemv_packed_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x6e7a);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref_int();
    const int nt = slm_kernels_available(t, 8);
    enum { MAXN = 1024, MAXR = 40, MAXX = 4, OS = MAXR + 3 };
    const int64_t nrs[] = {1, 15, 16, 17, 40};
    float *tmp = malloc(MAXN * sizeof(float)), *bw = malloc(MAXN * sizeof(float)), *bx = malloc(MAXN * sizeof(float));
    uint8_t *w = malloc((size_t)MAXR * MAXN * 4), *x = malloc((size_t)MAXX * MAXN * 4);
    uint8_t *packed = malloc(slm_packed_size((size_t)MAXN * 4, MAXR));
    float *out = malloc((size_t)MAXX * OS * sizeof(float));
    ASSERT(tmp && bw && bx && w && x && out && packed);
    int n_checked = 0;
    for (int i = 0; i < nt; i++)
        for (int k = 0; k < N_WEIGHT_TYPES; k++) {
            const int wt = g_weight_types[k];
            if (!t[i]->gemv_packed[wt]) continue;
            EXPECT(slm_pack_type(wt), "(%s has a packed kernel for %s, which has no layout)", t[i]->name,
                   slm_type_traits_get(wt)->name);
            const slm_type_traits *tr = slm_type_traits_get(wt);
            const int vt = t[i]->vec_dot_type[wt];
            for (int len = 0; len < 2; len++)
            for (int exact = 0; exact < 2; exact++)
                for (int ri = 0; ri < 5; ri++)
                    for (int nx = 1; nx <= MAXX; nx++) {
                        const int64_t n = tr->blck_size == QK_K ? (len ? 768 : 256) : (len ? 96 : 32);
                        const size_t wrow = slm_row_size(wt, n), xrow = slm_row_size(vt, n);
                        const int64_t nr = nrs[ri], ng = (nr + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS;
                        for (int64_t row = 0; row < nr; row++) {
                            if (exact) exact_weights(&r, wt, n, w + row * wrow, tmp);
                            else random_row(&r, wt, n, w + row * wrow, tmp);
                        }
                        for (int64_t g = 0; g < ng; g++) {
                            const int gr = (int)(nr - g * SLM_PACK_ROWS < SLM_PACK_ROWS ? nr - g * SLM_PACK_ROWS
                                                                                      : SLM_PACK_ROWS);
                            slm_pack_rows(wt, n, w + (size_t)g * SLM_PACK_ROWS * wrow, wrow, gr,
                                          packed + (size_t)g * SLM_PACK_ROWS * wrow);
                        }
                        for (int j = 0; j < nx; j++) {
                            if (exact) exact_activations(&r, vt, n, x + (size_t)j * xrow);
                            else {
                                random_floats(&r, tmp, n);
                                ref->from_float[vt](tmp, x + (size_t)j * xrow, n);
                            }
                        }
                        for (int j = 0; j < MAXX * OS; j++) out[j] = -12345.0f;
                        t[i]->gemv_packed[wt](n, packed, ng, x, xrow, nx, out, OS, nr);
                        n_checked++;
                        for (int64_t j = 0; j < MAXX; j++)
                            for (int64_t row = 0; row < OS; row++) {
                                const float got = out[j * OS + row];
                                if (j >= nx || row >= nr) {
                                    EXPECT(got == -12345.0f, "(%s %s gemv_packed %lldx%d wrote outside its outputs)",
                                           t[i]->name, tr->name, (long long)nr, nx);
                                    continue;
                                }
                                const float want = ref->vec_dot[wt](n, w + row * wrow, x + j * xrow);
                                if (exact) {
                                    EXPECT(memcmp(&got, &want, sizeof got) == 0,
                                           "(%s %s gemv_packed exact data [%lld][%lld]: %.9g, reference %.9g; seed %llu)",
                                           t[i]->name, tr->name, (long long)row, (long long)j, got, want,
                                           (unsigned long long)seed);
                                } else {
                                    const double mag = abs_dot(wt, w + row * wrow, vt, x + j * xrow, n, bw, bx);
                                    EXPECT(fabs((double)got - want) <= 1e-5 * mag,
                                           "(%s %s gemv_packed %lldx%d [%lld][%lld]: %.9g, reference %.9g; seed %llu)",
                                           t[i]->name, tr->name, (long long)nr, nx, (long long)row, (long long)j, got,
                                           want, (unsigned long long)seed);
                                }
                            }
                    }
        }
    printf("    %d gemv_packed calls checked\n", n_checked);
#if defined(__x86_64__)
    if (slm_cpu_features_get()->avx512vnni) EXPECT(n_checked > 0, "(an AVX-512 VNNI machine ran no packed kernel)");
#endif
    free(tmp);
    free(bw);
    free(bx);
    free(w);
    free(x);
    free(out);
    free(packed);
}

/* gemm_packed builds the gemm's panels from packed groups: the same panels
 * as gemm builds from the rows, so the same bits, for batches of several
 * sizes and row counts around the group size. */
TEST(kernels_gemm_packed_matches_gemm) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x6e7b);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref_int();
    const int nt = slm_kernels_available(t, 8);
    enum { MAXN = 768, MAXR = 40, MAXX = 11, OS = MAXR + 3 };
    const int64_t nrs[] = {1, 16, 17, 40}, nxs[] = {1, 8, 11};
    float *tmp = malloc(MAXN * sizeof(float));
    uint8_t *w = malloc((size_t)MAXR * MAXN * 4), *x = malloc((size_t)MAXX * MAXN * 4);
    uint8_t *packed = malloc(slm_packed_size((size_t)MAXN * 4, MAXR));
    float *got = malloc((size_t)MAXX * OS * sizeof(float)), *want = malloc((size_t)MAXX * OS * sizeof(float));
    void *scratch = malloc(slm_gemm_scratch_size(MAXN, MAXX));
    ASSERT(tmp && w && x && packed && got && want && scratch);
    int n_checked = 0;
    for (int i = 0; i < nt; i++)
        for (int k = 0; k < N_WEIGHT_TYPES; k++) {
            const int wt = g_weight_types[k];
            if (!t[i]->gemm_packed[wt]) continue;
            EXPECT(t[i]->gemm[wt] != NULL && slm_pack_type(wt), "(%s %s)", t[i]->name, slm_type_traits_get(wt)->name);
            const slm_type_traits *tr = slm_type_traits_get(wt);
            const int vt = t[i]->vec_dot_type[wt];
            const int64_t n = tr->blck_size == QK_K ? 768 : 160;
            const size_t wrow = slm_row_size(wt, n), xrow = slm_row_size(vt, n);
            for (int ri = 0; ri < 4; ri++)
                for (int xi = 0; xi < 3; xi++) {
                    const int64_t nr = nrs[ri], nx = nxs[xi], ng = (nr + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS;
                    for (int64_t row = 0; row < nr; row++) random_row(&r, wt, n, w + row * wrow, tmp);
                    for (int64_t g = 0; g < ng; g++) {
                        const int gr = (int)(nr - g * SLM_PACK_ROWS < SLM_PACK_ROWS ? nr - g * SLM_PACK_ROWS : SLM_PACK_ROWS);
                        slm_pack_rows(wt, n, w + (size_t)g * SLM_PACK_ROWS * wrow, wrow, gr,
                                      packed + (size_t)g * SLM_PACK_ROWS * wrow);
                    }
                    for (int64_t j = 0; j < nx; j++) {
                        random_floats(&r, tmp, n);
                        ref->from_float[vt](tmp, x + j * xrow, n);
                    }
                    for (int j = 0; j < MAXX * OS; j++) got[j] = want[j] = -12345.0f;
                    t[i]->gemm[wt](n, w, wrow, nr, x, xrow, nx, want, OS, scratch);
                    t[i]->gemm_packed[wt](n, packed, wrow, nr, x, xrow, nx, got, OS, scratch);
                    n_checked++;
                    EXPECT(memcmp(got, want, sizeof(float) * MAXX * OS) == 0,
                           "(%s %s gemm_packed %lldx%lld differs from gemm on the rows; seed %llu)", t[i]->name,
                           tr->name, (long long)nr, (long long)nx, (unsigned long long)seed);
                }
        }
    printf("    %d gemm_packed calls checked\n", n_checked);
    free(tmp);
    free(w);
    free(x);
    free(packed);
    free(got);
    free(want);
    free(scratch);
}

/* Softmax: every table within 2e-6 relative (per value) of the reference,
 * on scores of all magnitudes (exp's underflow included) and lengths up to
 * 1000: exp within 2 ulp (2.4e-7) plus the sum's rounding, whose order
 * differs (vector lanes vs one by one; measured up to 7e-7 at n = 1000). */
TEST(kernels_softmax_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x50f7);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref();
    const int nt = slm_kernels_available(t, 8);
    enum { MAXN = 1000 };
    float *x = malloc(MAXN * sizeof(float)), *want = malloc(MAXN * sizeof(float)), *got = malloc(MAXN * sizeof(float));
    ASSERT(x && want && got);
    const int64_t ns[] = {1, 3, 8, 9, 64, 1000};
    const float spreads[] = {0.1f, 3.0f, 30.0f, 200.0f};
    for (int si = 0; si < 4; si++)
        for (int ni = 0; ni < 6; ni++) {
            const int64_t n = ns[ni];
            for (int64_t i = 0; i < n; i++) x[i] = spreads[si] * slm_rng_normal(&r);
            memcpy(want, x, (size_t)n * sizeof(float));
            ref->softmax(want, n);
            for (int i = 0; i < nt; i++) {
                ASSERT(t[i]->softmax, "(%s)", t[i]->name);
                memcpy(got, x, (size_t)n * sizeof(float));
                t[i]->softmax(got, n);
                double worst = 0, sum = 0;
                for (int64_t j = 0; j < n; j++) {
                    const double err = fabs((double)got[j] - want[j]);
                    sum += got[j];
                    /* relative where the value is representable; absolute 1e-37 near exp's underflow */
                    const double rel = err / (fabs((double)want[j]) + 1e-30);
                    if (fabs((double)want[j]) > 1e-37 && rel > worst) worst = rel;
                    if (fabs((double)want[j]) <= 1e-37) EXPECT(err <= 1e-37, "(%s softmax underflow)", t[i]->name);
                }
                EXPECT(worst <= 2e-6 && fabs(sum - 1.0) < 1e-5,
                       "(%s softmax n=%lld spread %g: worst relative error %.3g, sum %.9g; seed %llu)", t[i]->name,
                       (long long)n, spreads[si], worst, sum, (unsigned long long)seed);
            }
        }
    free(x);
    free(want);
    free(got);
}

/* SwiGLU: every table within 4e-7 relative of the reference (exp within
 * 2 ulp, one division), 1e-30 absolute where silu underflows (x < -80:
 * exp(x) is denormal and the SIMD exp flushes it to 0). */
TEST(kernels_swiglu_matches_reference) {
    const uint64_t seed = test_seed();
    slm_rng r;
    slm_rng_seed(&r, seed ^ 0x5161);
    const slm_kernel_table *t[8], *ref = slm_kernels_ref();
    const int nt = slm_kernels_available(t, 8);
    enum { N = 1003 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float)), *want = malloc(N * sizeof(float)),
          *got = malloc(N * sizeof(float));
    ASSERT(g && u && want && got);
    const float spreads[] = {0.5f, 4.0f, 40.0f, 150.0f};
    for (int si = 0; si < 4; si++) {
        for (int i = 0; i < N; i++) {
            g[i] = spreads[si] * slm_rng_normal(&r);
            u[i] = slm_rng_normal(&r);
        }
        g[0] = 0.0f;
        g[1] = -0.0f;
        memcpy(want, g, N * sizeof(float));
        ref->swiglu(want, u, N);
        for (int i = 0; i < nt; i++) {
            ASSERT(t[i]->swiglu, "(%s)", t[i]->name);
            memcpy(got, g, N * sizeof(float));
            t[i]->swiglu(got, u, N);
            for (int j = 0; j < N; j++) {
                const double err = fabs((double)got[j] - want[j]);
                EXPECT(err <= 4e-7 * fabs((double)want[j]) + 1e-30,
                       "(%s swiglu(%.9g) * %.9g: %.9g, reference %.9g; seed %llu)", t[i]->name, g[j], u[j], got[j],
                       want[j], (unsigned long long)seed);
            }
        }
    }
    free(g);
    free(u);
    free(want);
    free(got);
}
