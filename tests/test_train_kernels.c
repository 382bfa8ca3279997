/*
 * test_train_kernels.c — the training kernels' instruction-set variants
 * against their scalar references, on random inputs (test_train.c holds the
 * layer and model tests):
 *  - the gemm, every micro-kernel this CPU runs (scalar, AVX2, AVX-512):
 *    the packed and the strided-B entry points of each micro-kernel against
 *    the scalar one; whole products against a double-precision triple loop
 *    over edge shapes, the three stride patterns, accumulate, strides that
 *    are multiples of 512 floats (packed instead of read in place) and
 *    products large enough for the threaded path (shared packed B,
 *    rectangles claimed by the threads); the same bits on 1, 2 and 3
 *    threads for each kernel; the row-block variant with its callback;
 *    each kernel's transposing copy;
 *  - the vector tables' optimizer passes: AdamW gives the reference's bits,
 *    the squared norm agrees to rounding, the scaling is exact; their
 *    RMSNorm rows against the reference's;
 *  - gradient clipping and AdamW on 1 and 3 threads: the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"
#include "test.h"
#include "train/gemm.h"
#include "train/optimizer.h"
#include "train/vec.h"
#include "util.h"

static uint64_t g_state = 0x9E3779B97F4A7C15ull;
static float rnd(void) { /* uniform in [-1, 1) */
    g_state ^= g_state >> 12;
    g_state ^= g_state << 25;
    g_state ^= g_state >> 27;
    return (float)((double)((g_state * 0x2545F4914F6CDD1Dull) >> 40) / (double)(1ull << 23)) - 1.0f;
}
static float *rnd_vec(int64_t n) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = rnd();
    return x;
}

static const slm_gemm_isa k_isas[] = {SLM_GEMM_SCALAR, SLM_GEMM_AVX2, SLM_GEMM_AVX512};
#define N_ISAS (int)(sizeof k_isas / sizeof k_isas[0])

/* ======================================================================== */
/* Micro-kernels                                                             */
/* ======================================================================== */

/* Each micro-kernel's two entry points (packed B; B read with a row stride)
 * against the scalar formula, with a row-major, a column-major and a
 * packed A. */
TEST(train_kernels_gemm_micro_vs_scalar) {
    const slm_gemm_kernel *ks[] = {slm_gemm_kernel_ref(), slm_gemm_kernel_avx2(), slm_gemm_kernel_avx512()};
    slm_pool *pool = slm_pool_new(1);
    for (int ki = 0; ki < N_ISAS; ki++) {
        slm_gemm *g = NULL;
        if (!ks[ki] || slm_gemm_new(pool, k_isas[ki], &g) != SLM_OK) continue; /* CPU lacks it */
        slm_gemm_free(g);
        const slm_gemm_kernel *k = ks[ki];
        const int mr = k->mr, nr = k->nr, kc = 37, lda = kc + 3, ldb = nr + 5, ldc = nr + 2;
        /* room for every layout of A below: (mr, lda) row-major, (kc, mr + 1) column-major */
        float *a = rnd_vec((int64_t)mr * lda + (int64_t)kc * (mr + 1));
        float *bp = rnd_vec((int64_t)kc * nr), *bs = rnd_vec((int64_t)kc * ldb);
        float *c0 = rnd_vec((int64_t)mr * ldc), *c = malloc((size_t)mr * ldc * sizeof(float));
        float *ref = malloc((size_t)mr * ldc * sizeof(float));
        for (int p = 0; p < kc; p++) /* the strided B holds the packed one's values */
            for (int j = 0; j < nr; j++) bs[p * ldb + j] = bp[p * nr + j];
        for (int layout = 0; layout < 3; layout++)
            for (int acc = 0; acc < 2; acc++) {
                /* element (i, p) of A: row-major, column-major or packed */
                int64_t a_rs = layout == 0 ? lda : 1, a_cs = layout == 0 ? 1 : layout == 1 ? mr + 1 : mr;
                for (int i = 0; i < mr; i++)
                    for (int j = 0; j < nr; j++) {
                        double s = 0;
                        for (int p = 0; p < kc; p++) s += (double)a[i * a_rs + p * a_cs] * bp[p * nr + j];
                        ref[i * ldc + j] = (float)(acc ? c0[i * ldc + j] + s : s);
                    }
                for (int entry = 0; entry < 2; entry++) {
                    memcpy(c, c0, (size_t)mr * ldc * sizeof(float));
                    if (entry == 0) k->kernel(kc, a, a_rs, a_cs, bp, c, ldc, acc);
                    else k->kernel_bs(kc, a, a_rs, a_cs, bs, ldb, c, ldc, acc);
                    double worst = 0, big = 0;
                    for (int i = 0; i < mr; i++)
                        for (int j = 0; j < nr; j++) {
                            worst = fmax(worst, fabs(c[i * ldc + j] - ref[i * ldc + j]));
                            big = fmax(big, fabs(ref[i * ldc + j]));
                        }
                    EXPECT(worst <= 1e-5 * big, "%s layout %d acc %d entry %d: err %.3g", k->name, layout, acc,
                           entry, worst / big);
                    /* the padding columns of C are not written */
                    for (int i = 0; i < mr; i++)
                        for (int j = nr; j < ldc; j++) EXPECT(c[i * ldc + j] == c0[i * ldc + j]);
                }
            }
        printf("    micro-kernel %-6s %2d x %2d: both entry points, three A layouts\n", k->name, mr, nr);
        free(a), free(bp), free(bs), free(c0), free(c), free(ref);
    }
    slm_pool_free(pool);
}

/* Each kernel's transposing copy, if it has one, against the plain loop. */
TEST(train_kernels_gemm_pack_rows_vs_scalar) {
    const slm_gemm_kernel *ks[] = {slm_gemm_kernel_ref(), slm_gemm_kernel_avx2(), slm_gemm_kernel_avx512()};
    slm_pool *pool = slm_pool_new(1);
    for (int ki = 0; ki < N_ISAS; ki++) {
        slm_gemm *g = NULL;
        if (!ks[ki] || !ks[ki]->pack_rows || slm_gemm_new(pool, k_isas[ki], &g) != SLM_OK) continue;
        slm_gemm_free(g);
        const int widths[] = {ks[ki]->mr, ks[ki]->nr};
        for (int wi = 0; wi < 2; wi++)
            for (int64_t kc = 1; kc <= 70; kc += 23) {
                const int W = widths[wi];
                const int64_t sw = kc + 5;
                float *src = rnd_vec(W * sw), *dst = malloc((size_t)(kc * W + 16) * sizeof(float));
                for (int64_t i = 0; i < kc * W + 16; i++) dst[i] = -7.0f;
                EXPECT(ks[ki]->pack_rows(dst, src, sw, kc, W), "%s W %d", ks[ki]->name, W);
                bool ok = true;
                for (int64_t p = 0; p < kc; p++)
                    for (int w = 0; w < W; w++) ok = ok && dst[p * W + w] == src[w * sw + p];
                for (int64_t i = kc * W; i < kc * W + 16; i++) ok = ok && dst[i] == -7.0f; /* nothing past the end */
                EXPECT(ok, "%s pack_rows W %d kc %lld", ks[ki]->name, W, (long long)kc);
                free(src), free(dst);
            }
        printf("    %s transposing copy: widths %d and %d\n", ks[ki]->name, widths[0], widths[1]);
    }
    slm_pool_free(pool);
}

/* ======================================================================== */
/* Whole products                                                            */
/* ======================================================================== */

/* C = [C0 +] A·B for one shape, stride pattern and padding of the leading
 * dimensions, against a double triple loop; returns the normalised error.
 * pattern 0: A row-major, B given as (N, K) (the forward); 1: A and B
 * row-major (the input gradient); 2: A given as (K, M) (the weight
 * gradient). lda_extra / ldb_extra widen the leading dimensions, so that
 * strides that are multiples of 512 floats can be made. */
static double product_err(slm_gemm *g, int64_t M, int64_t N, int64_t K, int pattern, bool acc, int64_t lda_extra,
                          int64_t ldb_extra, float **out_c) {
    int64_t rsa, csa, rsb, csb, na, nb;
    if (pattern == 2) rsa = 1, csa = M + lda_extra, na = K * csa;
    else rsa = K + lda_extra, csa = 1, na = M * rsa;
    if (pattern == 0) rsb = 1, csb = K + ldb_extra, nb = N * csb;
    else rsb = N + ldb_extra, csb = 1, nb = K * rsb;
    float *A = rnd_vec(na), *B = rnd_vec(nb), *C = rnd_vec(M * N);
    if (out_c) { /* the result only */
        slm_gemm_run(g, M, N, K, A, rsa, csa, B, rsb, csb, C, N, acc);
        free(A), free(B);
        *out_c = C;
        return 0;
    }
    double *ref = malloc((size_t)(M * N > 0 ? M * N : 1) * sizeof(double));
    double md = 0, mr = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = acc ? C[i * N + j] : 0.0;
            for (int64_t p = 0; p < K; p++) s += (double)A[i * rsa + p * csa] * B[p * rsb + j * csb];
            ref[i * N + j] = s;
        }
    slm_gemm_run(g, M, N, K, A, rsa, csa, B, rsb, csb, C, N, acc);
    for (int64_t i = 0; i < M * N; i++) {
        md = fmax(md, fabs(C[i] - ref[i]));
        mr = fmax(mr, fabs(ref[i]));
    }
    free(A), free(B), free(ref), free(C);
    return mr > 0 ? md / mr : md;
}

TEST(train_kernels_gemm_products_vs_double) {
    /* {M, N, K, lda_extra, ldb_extra}: edges of every tile size, K blocks,
     * leading dimensions of 512 and 1024 floats, and sizes that take the
     * threaded path */
    const int64_t cases[][5] = {
        {1, 1, 1, 0, 0},      {11, 31, 7, 0, 0},     {12, 32, 5, 0, 0},    {13, 33, 300, 0, 0},  {25, 65, 1, 0, 0},
        {37, 95, 650, 0, 0},  {24, 64, 512, 0, 0},   {50, 40, 500, 12, 0}, {30, 512, 70, 0, 0},  {20, 60, 24, 0, 448},
        {96, 100, 96, 0, 0},  {200, 150, 333, 0, 0}, {130, 1000, 48, 0, 0}, {1024, 40, 24, 0, 0}, {70, 33, 0, 0, 0},
    };
    slm_pool *pool = slm_pool_new(3);
    for (int ki = 0; ki < N_ISAS; ki++) {
        slm_gemm *g = NULL;
        if (slm_gemm_new(pool, k_isas[ki], &g) != SLM_OK) continue; /* CPU lacks it */
        double worst = 0;
        for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++)
            for (int pattern = 0; pattern < 3; pattern++)
                for (int acc = 0; acc < 2; acc++) {
                    const int64_t *c = cases[s];
                    double e = product_err(g, c[0], c[1], c[2], pattern, acc, c[3], c[4], NULL);
                    worst = fmax(worst, e);
                    EXPECT(e < 1e-5, "%s M=%lld N=%lld K=%lld +%lld +%lld pattern %d acc %d: err %.3g",
                           slm_gemm_kernel_of(g)->name, (long long)c[0], (long long)c[1], (long long)c[2],
                           (long long)c[3], (long long)c[4], pattern, acc, e);
                }
        printf("    gemm %-6s worst normalised error vs double %.2e\n", slm_gemm_kernel_of(g)->name, worst);
        slm_gemm_free(g);
    }
    slm_pool_free(pool);
}

/* The same product on 1, 2 and 3 threads: the same bits, for every kernel
 * and pattern (the threaded path cuts C into rectangles that depend on the
 * thread count; the summation order must not). */
TEST(train_kernels_gemm_thread_count_invariant) {
    slm_pool *pools[3] = {NULL, slm_pool_new(2), slm_pool_new(3)};
    const int64_t shapes[][3] = {{301, 203, 517}, {64, 700, 300}, {1030, 36, 260}};
    for (int ki = 0; ki < N_ISAS; ki++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int pattern = 0; pattern < 3; pattern++) {
                float *c[3] = {NULL, NULL, NULL};
                const char *name = "";
                bool ran = true;
                for (int p = 0; p < 3 && ran; p++) {
                    slm_gemm *g = NULL;
                    if (slm_gemm_new(pools[p], k_isas[ki], &g) != SLM_OK) {
                        ran = false;
                        break;
                    }
                    name = slm_gemm_kernel_of(g)->name;
                    g_state = 12345 + s; /* the same inputs on each pool */
                    product_err(g, shapes[s][0], shapes[s][1], shapes[s][2], pattern, true, 0, 0, &c[p]);
                    slm_gemm_free(g);
                }
                if (ran) {
                    size_t bytes = (size_t)(shapes[s][0] * shapes[s][1]) * sizeof(float);
                    EXPECT(memcmp(c[0], c[1], bytes) == 0, "%s shape %zu pattern %d: 1 vs 2 threads", name, s,
                           pattern);
                    EXPECT(memcmp(c[0], c[2], bytes) == 0, "%s shape %zu pattern %d: 1 vs 3 threads", name, s,
                           pattern);
                }
                free(c[0]), free(c[1]), free(c[2]);
            }
    slm_pool_free(pools[1]);
    slm_pool_free(pools[2]);
}

/* slm_gemm_run_rows: the product of slm_gemm_run, and the callback sees
 * every row exactly once, after the row is complete. */
typedef struct {
    const float *C, *ref;
    int64_t N;
    int *seen;
    int bad;
} rows_ctx;
static void rows_done(void *arg, int64_t i0, int64_t i1) {
    rows_ctx *r = arg;
    for (int64_t i = i0; i < i1; i++) {
        __atomic_add_fetch(&r->seen[i], 1, __ATOMIC_RELAXED);
        if (memcmp(r->C + i * r->N, r->ref + i * r->N, (size_t)r->N * sizeof(float)) != 0)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
    }
}

TEST(train_kernels_gemm_run_rows) {
    slm_pool *pools[2] = {NULL, slm_pool_new(3)};
    const int64_t shapes[][3] = {{2000, 300, 40}, {37, 1000, 64}, {5, 7, 3}};
    for (int ki = 0; ki < N_ISAS; ki++)
        for (int p = 0; p < 2; p++) {
            slm_gemm *g = NULL;
            if (slm_gemm_new(pools[p], k_isas[ki], &g) != SLM_OK) continue;
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                float *A = rnd_vec(M * K), *B = rnd_vec(N * K), *C = malloc((size_t)(M * N) * sizeof(float));
                float *ref = malloc((size_t)(M * N) * sizeof(float));
                slm_gemm_run(g, M, N, K, A, K, 1, B, 1, K, ref, N, false);
                rows_ctx r = {C, ref, N, calloc((size_t)M, sizeof(int)), 0};
                slm_gemm_run_rows(g, M, N, K, A, K, 1, B, 1, K, C, N, false, rows_done, &r);
                bool once = true;
                for (int64_t i = 0; i < M; i++) once = once && r.seen[i] == 1;
                EXPECT(once && r.bad == 0, "%s %lld x %lld x %lld pool %d: rows seen once %d, %d rows differ",
                       slm_gemm_kernel_of(g)->name, (long long)M, (long long)N, (long long)K, p, once, r.bad);
                free(A), free(B), free(C), free(ref), free(r.seen);
            }
            slm_gemm_free(g);
        }
    slm_pool_free(pools[1]);
}

/* ======================================================================== */
/* Optimizer passes                                                          */
/* ======================================================================== */

TEST(train_kernels_vec_optimizer_passes) {
    const slm_train_vec_kernels *tabs[4], *ref = slm_train_vec_ref();
    int nt = slm_train_vec_available(tabs, 4);
    const int64_t n = 1000 + 37; /* a tail for every vector width */
    float *g = rnd_vec(n), *x0 = rnd_vec(n), *m0 = rnd_vec(n), *v0 = rnd_vec(n);
    for (int64_t i = 0; i < n; i++) v0[i] = fabsf(v0[i]) * 1e-3f;
    g[3] = 0.0f;
    slm_adamw_coef c = {.beta1 = 0.9f, .beta2 = 0.95f, .one_minus_beta1 = 1.0f - 0.9f, .one_minus_beta2 = 1.0f - 0.95f,
                        .decay = 1.0f - 1e-3f * 0.1f, .step_size = 1e-3f / 0.1f, .bc2_sqrt = sqrtf(0.05f),
                        .eps = 1e-8f};
    float *xr = malloc(n * sizeof(float)), *mr = malloc(n * sizeof(float)), *vr = malloc(n * sizeof(float));
    memcpy(xr, x0, n * sizeof(float)), memcpy(mr, m0, n * sizeof(float)), memcpy(vr, v0, n * sizeof(float));
    ref->adamw(xr, mr, vr, g, n, &c);
    double ss_ref = 0;
    for (int64_t i = 0; i < n; i++) ss_ref += (double)g[i] * g[i];
    for (int ti = 0; ti < nt; ti++) {
        const slm_train_vec_kernels *vk = tabs[ti];
        float *x = malloc(n * sizeof(float)), *m = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
        memcpy(x, x0, n * sizeof(float)), memcpy(m, m0, n * sizeof(float)), memcpy(v, v0, n * sizeof(float));
        vk->adamw(x, m, v, g, n, &c);
        EXPECT(memcmp(x, xr, n * sizeof(float)) == 0 && memcmp(m, mr, n * sizeof(float)) == 0 &&
                   memcmp(v, vr, n * sizeof(float)) == 0,
               "%s adamw differs from the reference", vk->name);
        for (int64_t len = 0; len <= 40; len++) { /* every tail length */
            double s = vk->sumsq(g + 1, len), sr = 0;
            for (int64_t i = 0; i < len; i++) sr += (double)g[1 + i] * g[1 + i];
            EXPECT(fabs(s - sr) <= 1e-12 * (sr + 1e-30), "%s sumsq n=%lld: %.17g vs %.17g", vk->name, (long long)len,
                   s, sr);
        }
        EXPECT(fabs(vk->sumsq(g, n) - ss_ref) <= 1e-12 * ss_ref, "%s sumsq", vk->name);
        memcpy(x, x0, n * sizeof(float));
        vk->scale(x + 1, n - 2, 0.37f);
        bool ok = x[0] == x0[0] && x[n - 1] == x0[n - 1];
        for (int64_t i = 1; i < n - 1; i++) ok = ok && x[i] == x0[i] * 0.37f;
        EXPECT(ok, "%s scale", vk->name);
        free(x), free(m), free(v);
    }
    free(g), free(x0), free(m0), free(v0), free(xr), free(mr), free(vr);
}

/* The RMSNorm rows of every table against the reference: the norm and the
 * input gradient to rounding (their sums are ordered differently), the
 * gain's gradient to the bit. */
TEST(train_kernels_vec_rmsnorm_rows) {
    const slm_train_vec_kernels *tabs[4], *ref = slm_train_vec_ref();
    int nt = slm_train_vec_available(tabs, 4);
    for (int64_t n = 1; n <= 300; n += 37) {
        float *x = rnd_vec(n), *w = rnd_vec(n), *d = rnd_vec(n), *dx0 = rnd_vec(n);
        float *o_ref = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
        float *dx_ref = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
        double *s_ref = calloc(n, sizeof(double)), *sg = calloc(n, sizeof(double));
        float r_ref = ref->rmsnorm_row(o_ref, x, w, n, 1e-5f);
        memcpy(dx_ref, dx0, n * sizeof(float));
        ref->rmsnorm_backward_row(dx_ref, x, w, d, r_ref, n);
        ref->rmsnorm_gain_row(s_ref, d, x, r_ref, n);
        for (int ti = 0; ti < nt; ti++) {
            const slm_train_vec_kernels *vk = tabs[ti];
            float r = vk->rmsnorm_row(o, x, w, n, 1e-5f);
            EXPECT(fabsf(r - r_ref) <= 1e-6f * r_ref, "%s rstd n=%lld %.9g vs %.9g", vk->name, (long long)n, r, r_ref);
            EXPECT(tu_norm_err(o, o_ref, n) < 1e-6, "%s rmsnorm n=%lld", vk->name, (long long)n);
            memcpy(dx, dx0, n * sizeof(float));
            vk->rmsnorm_backward_row(dx, x, w, d, r_ref, n);
            EXPECT(tu_norm_err(dx, dx_ref, n) < 1e-6, "%s rmsnorm backward n=%lld: %.3g", vk->name, (long long)n,
                   tu_norm_err(dx, dx_ref, n));
            memset(sg, 0, n * sizeof(double));
            vk->rmsnorm_gain_row(sg, d, x, r_ref, n);
            EXPECT(memcmp(sg, s_ref, n * sizeof(double)) == 0, "%s gain n=%lld", vk->name, (long long)n);
        }
        free(x), free(w), free(d), free(dx0), free(o_ref), free(o), free(dx_ref), free(dx), free(s_ref), free(sg);
    }
}

/* Clipping and AdamW over a few tensors on 1 and 3 threads: the same bits. */
TEST(train_kernels_optimizer_thread_count_invariant) {
    const int64_t n = 300007; /* several clipping chunks, odd tails */
    slm_train_param tensors[3] = {{.n_dims = 2, .numel = 200000, .offset = 0},
                                  {.n_dims = 1, .numel = 7, .offset = 200000},
                                  {.n_dims = 2, .numel = 100000, .offset = 200007}};
    slm_pool *p3 = slm_pool_new(3);
    float *x[2], *g[2];
    slm_adamw *opt[2];
    float norm[2];
    for (int r = 0; r < 2; r++) {
        g_state = 777;
        x[r] = rnd_vec(n);
        g[r] = rnd_vec(n);
        ASSERT(slm_adamw_new(NULL, n, &opt[r]) == SLM_OK);
        slm_pool *pool = r == 0 ? NULL : p3;
        norm[r] = slm_grad_clip(pool, g[r], n, 1.0f);
        for (int step = 0; step < 3; step++)
            slm_adamw_step(opt[r], pool, x[r], g[r], tensors, 3, 1e-3f);
    }
    EXPECT(norm[0] == norm[1], "norm %.9g vs %.9g", norm[0], norm[1]);
    EXPECT(memcmp(g[0], g[1], n * sizeof(float)) == 0, "clipped gradients differ");
    EXPECT(memcmp(x[0], x[1], n * sizeof(float)) == 0, "weights differ");
    EXPECT(memcmp(opt[0]->m, opt[1]->m, 2 * n * sizeof(float)) == 0, "moments differ");
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)g[0][i] * g[0][i];
    EXPECT(fabs(sqrt(ss) - 1.0) < 1e-5, "norm after clipping %.7g", sqrt(ss));
    for (int r = 0; r < 2; r++) free(x[r]), free(g[r]), slm_adamw_free(opt[r]);
    slm_pool_free(p3);
}
