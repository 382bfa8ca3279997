/*
 * test_train.c — the training core (src/train):
 *  - the vector row operations (exp sums, SwiGLU) of every table the CPU
 *    runs against the scalar reference and against double precision;
 *  - the gemm, every micro-kernel the CPU runs, against a double-precision
 *    triple loop over edge shapes, all three stride patterns and accumulate,
 *    and the SIMD kernels against the scalar reference;
 *  - every layer's backward against central finite differences of its
 *    forward (float32, tolerances a wrong formula cannot meet), and the
 *    fused classifier against the unfused linear + cross-entropy;
 *  - the whole model against PyTorch float64 dumps of llama2.c's model
 *    (tests/data/train, from ../shared/golden/train; rules from its README):
 *    logits and activations normalised < 1e-5, loss |d| < 1e-5, every
 *    gradient tensor normalised < 1e-4; gradient accumulation over two
 *    micro-batches gives the same gradients; thread count changes no bit;
 *  - 5 AdamW steps: losses |d| < 1e-5, final weights normalised < 1e-4 and
 *    max|Δ| < 2 % of the largest update, Adam moments (tiny);
 *  - lr schedule, gradient clipping, argument errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"
#include "test.h"
#include "train/gemm.h"
#include "train/layers.h"
#include "train/model.h"
#include "train/optimizer.h"
#include "train/vec.h"
#include "util.h"

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static double rng_uniform(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float rng_normal(void) {
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static float *randn(int64_t n, float scale) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = scale * rng_normal();
    return x;
}
static float *zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* max|a - ref| / max|ref| with a double reference */
static double norm_err_d(const float *a, const double *ref, int64_t n) {
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}

/* A raw little-endian file of float64 (f64 = true) or float32, as doubles;
 * returns the count, -1 if missing. */
static int64_t read_reals(const char *path, bool f64, double **out) {
    size_t len;
    char *s = tu_read_file(path, &len);
    if (!s) return -1;
    size_t es = f64 ? 8 : 4, n = len / es;
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (f64) memcpy(&d[i], s + i * 8, 8);
        else {
            float f;
            memcpy(&f, s + i * 4, 4);
            d[i] = f;
        }
    }
    free(s);
    *out = d;
    return (int64_t)n;
}

static int64_t read_i32(const char *path, int32_t **out) {
    size_t len;
    char *s = tu_read_file(path, &len);
    if (!s) return -1;
    *out = (int32_t *)(void *)s;
    return (int64_t)(len / 4);
}

/* The number after "key": in a flat JSON object (config.json); NAN if absent. */
static double json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* layout.json: [["name", [d0, d1], offset(, decay)], ...] -> checks the
 * model's tensor table against it; returns the number of entries, -1 on a
 * mismatch (reported). */
static int check_layout(const char *path, const slm_train_model *m) {
    char *s = tu_read_file(path, NULL);
    if (!s) return -1;
    int n = 0, bad = 0;
    for (char *p = strstr(s, "[\""); p; p = strstr(p, "[\"")) {
        p += 2;
        char *q = strchr(p, '"');
        if (!q) break;
        *q = 0;
        const char *name = p;
        p = strchr(q + 1, '[') + 1;
        int64_t shape[2] = {1, 1};
        int nd = 0;
        while (*p != ']') {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            if (nd < 2) shape[nd] = v;
            nd++;
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
        p = strchr(p, ',') + 1;
        int64_t offset = strtoll(p, &p, 10);
        if (n >= m->n_tensors) {
            bad++;
            break;
        }
        const slm_train_param *t = &m->tensors[n];
        if (strcmp(t->name, name) != 0 || t->n_dims != nd || t->shape[0] != shape[0] || t->shape[1] != shape[1] ||
            t->offset != offset) {
            if (bad++ < 3)
                slm_test_fail(__FILE__, __LINE__, "%s: entry %d is %s (%dd, %lld x %lld, @%lld), model has %s", path, n,
                              name, nd, (long long)shape[0], (long long)shape[1], (long long)offset, t->name);
        }
        n++;
    }
    free(s);
    if (n != m->n_tensors) {
        slm_test_fail(__FILE__, __LINE__, "%s: %d entries, model has %d tensors", path, n, m->n_tensors);
        bad++;
    }
    return bad ? -1 : n;
}

/* ======================================================================== */
/* gemm                                                                      */
/* ======================================================================== */

/* Checks C = [C0 +] A·B for one shape and stride pattern against a double
 * triple loop; returns the normalised error. pattern 0: A (M,K) row-major,
 * B (K,N) row-major; 1: B given as (N,K) (the forward); 2: A given as (K,M)
 * (the weight gradient). */
static double gemm_case(slm_gemm *g, int64_t M, int64_t N, int64_t K, int pattern, bool acc) {
    float *A = randn(M * K, 1.0f), *B = randn(K * N, 1.0f), *C = randn(M * N, 1.0f);
    double *ref = malloc((size_t)(M * N) * sizeof(double));
    int64_t rsa = K, csa = 1, rsb = N, csb = 1;
    if (pattern == 1) rsb = 1, csb = K;
    if (pattern == 2) rsa = 1, csa = M;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = acc ? C[i * N + j] : 0.0;
            for (int64_t p = 0; p < K; p++) s += (double)A[i * rsa + p * csa] * B[p * rsb + j * csb];
            ref[i * N + j] = s;
        }
    slm_gemm_run(g, M, N, K, A, rsa, csa, B, rsb, csb, C, N, acc);
    double e = norm_err_d(C, ref, M * N);
    free(A);
    free(B);
    free(C);
    free(ref);
    return e;
}

TEST(train_gemm_all_kernels_vs_double) {
    slm_pool *pool = slm_pool_new(3);
    const int64_t shapes[][3] = {{1, 1, 1},   {5, 7, 3},     {6, 16, 1},   {7, 17, 33},    {13, 31, 64},
                                 {64, 64, 64}, {70, 50, 333}, {3, 5, 700}, {150, 20, 40},  {2, 4100, 5},
                                 {290, 9, 17}, {33, 100, 0}};
    slm_gemm_isa isas[] = {SLM_GEMM_SCALAR, SLM_GEMM_AVX2};
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        slm_gemm *g = NULL;
        if (slm_gemm_new(pool, isas[ii], &g) != SLM_OK) continue; /* CPU lacks it */
        double worst = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int pattern = 0; pattern < 3; pattern++)
                for (int acc = 0; acc < 2; acc++) {
                    double e = gemm_case(g, shapes[s][0], shapes[s][1], shapes[s][2], pattern, acc);
                    worst = e > worst ? e : worst;
                    EXPECT(e < 1e-5, "%s M=%lld N=%lld K=%lld pattern %d acc %d: err %.3g",
                           slm_gemm_kernel_of(g)->name, (long long)shapes[s][0], (long long)shapes[s][1],
                           (long long)shapes[s][2], pattern, acc, e);
                }
        printf("    gemm %-6s worst normalised error vs double %.2e\n", slm_gemm_kernel_of(g)->name, worst);
        slm_gemm_free(g);
    }
    slm_pool_free(pool);
}

/* The SIMD kernels against the scalar reference on the same inputs, and
 * thread counts: 1 and 3 threads give identical bits. */
TEST(train_gemm_simd_vs_scalar_and_threads) {
    slm_pool *p1 = NULL, *p3 = slm_pool_new(3);
    slm_gemm *ref = NULL, *fast = NULL, *fast1 = NULL;
    ASSERT(slm_gemm_new(p3, SLM_GEMM_SCALAR, &ref) == SLM_OK);
    ASSERT(slm_gemm_new(p3, SLM_GEMM_AUTO, &fast) == SLM_OK);
    ASSERT(slm_gemm_new(p1, SLM_GEMM_AUTO, &fast1) == SLM_OK);
    const int64_t M = 301, N = 203, K = 517;
    float *A = randn(M * K, 1.0f), *B = randn(N * K, 1.0f);
    float *C0 = zeros(M * N), *C1 = zeros(M * N), *C3 = zeros(M * N);
    slm_gemm_run(ref, M, N, K, A, K, 1, B, 1, K, C0, N, false);
    slm_gemm_run(fast1, M, N, K, A, K, 1, B, 1, K, C1, N, false);
    slm_gemm_run(fast, M, N, K, A, K, 1, B, 1, K, C3, N, false);
    EXPECT(tu_norm_err(C1, C0, M * N) < 1e-6, "%s vs scalar: %.3g", slm_gemm_kernel_of(fast)->name,
           tu_norm_err(C1, C0, M * N));
    EXPECT(memcmp(C1, C3, (size_t)(M * N) * sizeof(float)) == 0, "1 vs 3 threads differ");
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C3);
    slm_gemm_free(ref);
    slm_gemm_free(fast);
    slm_gemm_free(fast1);
    slm_pool_free(p3);
}

/* ======================================================================== */
/* Vector row operations                                                     */
/* ======================================================================== */

TEST(train_vec_tables_vs_reference) {
    const slm_train_vec_kernels *tabs[4];
    int nt = slm_train_vec_available(tabs, 4);
    const int n = 1037; /* not a multiple of any vector width */
    float *x = randn(n, 6.0f), *h3 = randn(n, 1.0f), *dout = randn(n, 1.0f);
    x[5] = -200.0f; /* exp underflows to 0 */
    x[6] = 40.0f;
    for (int ti = 0; ti < nt; ti++) {
        const slm_train_vec_kernels *vk = tabs[ti];
        /* max */
        float mx = vk->max(x, n);
        EXPECT(mx == 40.0f, "%s max %g", vk->name, mx);
        EXPECT(vk->max(x + 7, 3) == slm_train_vec_ref()->max(x + 7, 3), "%s short max", vk->name);
        /* exp_sum, with and without output, against double */
        float *e = zeros(n);
        float s = vk->exp_sum(e, x, n, mx, 0.5f);
        float s2 = vk->exp_sum(NULL, x, n, mx, 1.0f);
        double ref = 0, worst = 0;
        for (int i = 0; i < n; i++) {
            double ei = exp((double)x[i] - mx);
            ref += ei;
            worst = fmax(worst, fabs(e[i] - 0.5 * ei) / (0.5 * ei + 1e-30));
        }
        EXPECT(fabs(s - ref) < 1e-6 * ref && s == s2, "%s exp_sum %.9g vs %.9g", vk->name, s, ref);
        EXPECT(e[5] == 0.0f);
        /* relative error of each exponential, ignoring underflowed values */
        double wr = 0;
        for (int i = 0; i < n; i++) {
            double ei = exp((double)(x[i] - mx)); /* the float difference the kernels see */
            if (ei > 1e-30) wr = fmax(wr, fabs(e[i] - 0.5 * ei) / (0.5 * ei));
        }
        EXPECT(wr < 1e-6, "%s exp relative error %.3g", vk->name, wr);
        /* swiglu against double */
        float *o = zeros(n), *d1 = zeros(n), *d3 = zeros(n);
        vk->swiglu_forward(o, x, h3, n);
        vk->swiglu_backward(d1, d3, dout, x, h3, n);
        double ef = 0, eb1 = 0, eb3 = 0;
        for (int i = 0; i < n; i++) {
            double a = x[i], sg = 1.0 / (1.0 + exp(-a));
            ef = fmax(ef, fabs(o[i] - a * sg * h3[i]));
            eb3 = fmax(eb3, fabs(d3[i] - dout[i] * a * sg));
            eb1 = fmax(eb1, fabs(d1[i] - dout[i] * h3[i] * sg * (1 + a * (1 - sg))));
        }
        printf("    vec %-6s exp rel %.2e  swiglu fwd %.2e bwd %.2e %.2e\n", vk->name, wr, ef, eb1, eb3);
        EXPECT(ef < 1e-4 && eb1 < 1e-4 && eb3 < 1e-4, "%s swiglu %.3g %.3g %.3g", vk->name, ef, eb1, eb3);
        free(e), free(o), free(d1), free(d3);
    }
    free(x), free(h3), free(dout);
}

/* ======================================================================== */
/* Finite differences on every layer                                         */
/* ======================================================================== */

/* loss(ctx) recomputes the layer's forward from its current inputs and
 * returns a scalar (Σ out · r in double). */
typedef double (*fd_loss_fn)(void *ctx);

/* max over i of |central difference - grad[i]| / max|grad|, for the n
 * values of x (perturbed in place and restored). */
static double fd_check(fd_loss_fn f, void *ctx, float *x, int64_t n, const float *grad, float eps) {
    double md = 0, mg = 0;
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        double lp = f(ctx);
        x[i] = x0 - eps;
        double lm = f(ctx);
        x[i] = x0;
        /* the actual step taken, after rounding x0 ± eps to float */
        double h = (double)(x0 + eps) - (double)(x0 - eps);
        double fd = (lp - lm) / h;
        double d = fabs(fd - grad[i]);
        md = d > md || isnan(d) ? (isnan(d) ? INFINITY : d) : md;
        mg = fabs(grad[i]) > mg ? fabs(grad[i]) : mg;
    }
    return mg > 0 ? md / mg : md;
}

static double dot_d(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

#define FD_TOL 2e-3

/* ---- rmsnorm ---- */
typedef struct {
    slm_pool *pool;
    float *x, *w, *out, *rstd, *r;
    int N, C;
} rms_ctx;
static double rms_loss(void *p) {
    rms_ctx *c = p;
    slm_rmsnorm_forward(c->pool, c->out, c->rstd, c->x, c->w, c->N, c->C, 1e-5f);
    return dot_d(c->out, c->r, (int64_t)c->N * c->C);
}

TEST(train_fd_rmsnorm) {
    slm_pool *pool = slm_pool_new(2);
    const int N = 5, C = 12;
    rms_ctx c = {pool, randn(N * C, 1.0f), randn(C, 0.1f), zeros(N * C), zeros(N), randn(N * C, 1.0f), N, C};
    for (int i = 0; i < C; i++) c.w[i] += 1.0f;
    float *dx = zeros(N * C), *dw = zeros(C);
    rms_loss(&c);
    slm_rmsnorm_backward(pool, dx, dw, c.r, c.x, c.w, c.rstd, N, C);
    double ex = fd_check(rms_loss, &c, c.x, N * C, dx, 1e-2f);
    double ew = fd_check(rms_loss, &c, c.w, C, dw, 1e-2f);
    printf("    fd rmsnorm dx %.2e dw %.2e\n", ex, ew);
    EXPECT(ex < FD_TOL, "dx %.3g", ex);
    EXPECT(ew < FD_TOL, "dw %.3g", ew);
    free(c.x), free(c.w), free(c.out), free(c.rstd), free(c.r), free(dx), free(dw);
    slm_pool_free(pool);
}

/* ---- linear ---- */
typedef struct {
    slm_gemm *g;
    float *x, *w, *out, *r;
    int N, C, OC;
} lin_ctx;
static double lin_loss(void *p) {
    lin_ctx *c = p;
    slm_linear_forward(c->g, c->out, c->x, c->w, c->N, c->C, c->OC, false);
    return dot_d(c->out, c->r, (int64_t)c->N * c->OC);
}

TEST(train_fd_linear) {
    slm_pool *pool = slm_pool_new(2);
    slm_gemm_isa isas[] = {SLM_GEMM_SCALAR, SLM_GEMM_AUTO};
    for (int ii = 0; ii < 2; ii++) {
        slm_gemm *g = NULL;
        ASSERT(slm_gemm_new(pool, isas[ii], &g) == SLM_OK);
        const int N = 7, C = 13, OC = 11;
        lin_ctx c = {g, randn(N * C, 1.0f), randn(OC * C, 0.3f), zeros(N * OC), randn(N * OC, 1.0f), N, C, OC};
        float *dx = randn(N * C, 1.0f), *dw = randn(OC * C, 1.0f); /* nonzero: checks += */
        float *dx0 = malloc(N * C * sizeof(float)), *dw0 = malloc(OC * C * sizeof(float));
        memcpy(dx0, dx, N * C * sizeof(float));
        memcpy(dw0, dw, OC * C * sizeof(float));
        lin_loss(&c);
        slm_linear_backward(g, dx, dw, c.r, c.x, c.w, N, C, OC);
        for (int i = 0; i < N * C; i++) dx[i] -= dx0[i];
        for (int i = 0; i < OC * C; i++) dw[i] -= dw0[i];
        double ex = fd_check(lin_loss, &c, c.x, N * C, dx, 5e-2f);
        double ew = fd_check(lin_loss, &c, c.w, OC * C, dw, 5e-2f);
        printf("    fd linear (%s) dx %.2e dw %.2e\n", slm_gemm_kernel_of(g)->name, ex, ew);
        EXPECT(ex < FD_TOL, "dx %.3g", ex);
        EXPECT(ew < FD_TOL, "dw %.3g", ew);
        free(c.x), free(c.w), free(c.out), free(c.r), free(dx), free(dw), free(dx0), free(dw0);
        slm_gemm_free(g);
    }
    slm_pool_free(pool);
}

/* ---- rope ---- */
typedef struct {
    slm_pool *pool;
    float *x, *tmp, *r, *cs, *sn;
    int B, T, H, hd;
} rope_ctx;
static double rope_loss(void *p) {
    rope_ctx *c = p;
    int64_t n = (int64_t)c->B * c->T * c->H * c->hd;
    memcpy(c->tmp, c->x, (size_t)n * sizeof(float));
    slm_rope_forward(c->pool, c->tmp, c->cs, c->sn, c->B, c->T, c->H, c->hd);
    return dot_d(c->tmp, c->r, n);
}

TEST(train_fd_rope) {
    slm_pool *pool = slm_pool_new(2);
    const int B = 2, T = 5, H = 3, hd = 8, n = B * T * H * hd;
    rope_ctx c = {pool, randn(n, 1.0f), zeros(n), randn(n, 1.0f), zeros(T * hd / 2), zeros(T * hd / 2), B, T, H, hd};
    slm_rope_table(c.cs, c.sn, T, hd, 10000.0f);
    float *dx = malloc(n * sizeof(float));
    memcpy(dx, c.r, n * sizeof(float));
    slm_rope_backward(pool, dx, c.cs, c.sn, B, T, H, hd);
    double e = fd_check(rope_loss, &c, c.x, n, dx, 5e-2f);
    printf("    fd rope dx %.2e\n", e);
    EXPECT(e < FD_TOL, "dx %.3g", e);
    /* position 0 is the identity, position 1 rotates pair 0 by 1 radian */
    EXPECT(c.cs[0] == 1.0f && c.sn[0] == 0.0f);
    EXPECT(fabsf(c.cs[hd / 2] - cosf(1.0f)) < 1e-7f && fabsf(c.sn[hd / 2] - sinf(1.0f)) < 1e-7f);
    free(c.x), free(c.tmp), free(c.r), free(c.cs), free(c.sn), free(dx);
    slm_pool_free(pool);
}

/* ---- attention ---- */
typedef struct {
    slm_gemm *g;
    float *q, *k, *v, *out, *att, *r;
    int B, T, H, KV, hd;
} att_ctx;
static double att_loss(void *p) {
    att_ctx *c = p;
    slm_attention_forward(c->g, c->out, c->att, c->q, c->k, c->v, c->B, c->T, c->H, c->KV, c->hd);
    return dot_d(c->out, c->r, (int64_t)c->B * c->T * c->H * c->hd);
}

/* A naive attention in double: the forward must match it (checks the
 * causal mask, scale and GQA head mapping, which finite differences of the
 * same forward cannot). */
static double att_naive_err(const att_ctx *c) {
    int B = c->B, T = c->T, H = c->H, KV = c->KV, hd = c->hd;
    double md = 0, mr = 0, *s = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / (H / KV);
            for (int i = 0; i < T; i++) {
                const float *qi = c->q + (((int64_t)b * T + i) * H + h) * hd;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    const float *kj = c->k + (((int64_t)b * T + j) * KV + kh) * hd;
                    s[j] = 0;
                    for (int d = 0; d < hd; d++) s[j] += (double)qi[d] * kj[d];
                    s[j] /= sqrt((double)hd);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++) o += s[j] / sum * c->v[(((int64_t)b * T + j) * KV + kh) * hd + d];
                    double got = c->out[(((int64_t)b * T + i) * H + h) * hd + d];
                    md = fabs(got - o) > md ? fabs(got - o) : md;
                    mr = fabs(o) > mr ? fabs(o) : mr;
                }
            }
        }
    free(s);
    return md / mr;
}

TEST(train_fd_attention) {
    /* single-threaded: thousands of tiny forwards; the threaded split is
     * covered by the oracle and thread-count tests */
    slm_pool *pool = NULL;
    slm_gemm *g = NULL;
    ASSERT(slm_gemm_new(pool, SLM_GEMM_AUTO, &g) == SLM_OK);
    /* T = 70 crosses the 64-row block of the causal tiling */
    const int B = 1, T = 70, H = 4, KV = 2, hd = 4;
    const int nq = B * T * H * hd, nk = B * T * KV * hd;
    att_ctx c = {g, randn(nq, 1.0f), randn(nk, 1.0f), randn(nk, 1.0f), zeros(nq), zeros(B * H * T * T),
                 randn(nq, 1.0f), B, T, H, KV, hd};
    float *dq = zeros(nq), *dk = zeros(nk), *dv = zeros(nk), *scr = zeros(T * T);
    att_loss(&c);
    double en = att_naive_err(&c);
    slm_attention_backward(g, dq, dk, dv, scr, c.r, c.q, c.k, c.v, c.att, B, T, H, KV, hd);
    double eq = fd_check(att_loss, &c, c.q, nq, dq, 1e-2f);
    double ek = fd_check(att_loss, &c, c.k, nk, dk, 1e-2f);
    double ev = fd_check(att_loss, &c, c.v, nk, dv, 1e-2f);
    printf("    attention forward vs double %.2e; fd dq %.2e dk %.2e dv %.2e\n", en, eq, ek, ev);
    EXPECT(en < 1e-5, "forward vs naive %.3g", en);
    EXPECT(eq < FD_TOL, "dq %.3g", eq);
    EXPECT(ek < FD_TOL, "dk %.3g", ek);
    EXPECT(ev < FD_TOL, "dv %.3g", ev);
    free(c.q), free(c.k), free(c.v), free(c.out), free(c.att), free(c.r), free(dq), free(dk), free(dv), free(scr);
    slm_gemm_free(g);
}

/* ---- swiglu ---- */
typedef struct {
    slm_pool *pool;
    float *h1, *h3, *out, *r;
    int n;
} swi_ctx;
static double swi_loss(void *p) {
    swi_ctx *c = p;
    slm_swiglu_forward(c->pool, c->out, c->h1, c->h3, c->n);
    return dot_d(c->out, c->r, c->n);
}

TEST(train_fd_swiglu) {
    slm_pool *pool = slm_pool_new(2);
    const int n = 50;
    swi_ctx c = {pool, randn(n, 2.0f), randn(n, 1.0f), zeros(n), randn(n, 1.0f), n};
    float *d1 = zeros(n), *d3 = zeros(n);
    swi_loss(&c);
    slm_swiglu_backward(pool, d1, d3, c.r, c.h1, c.h3, n);
    double e1 = fd_check(swi_loss, &c, c.h1, n, d1, 1e-2f);
    double e3 = fd_check(swi_loss, &c, c.h3, n, d3, 1e-2f);
    printf("    fd swiglu dh1 %.2e dh3 %.2e\n", e1, e3);
    EXPECT(e1 < FD_TOL, "dh1 %.3g", e1);
    EXPECT(e3 < FD_TOL, "dh3 %.3g", e3);
    free(c.h1), free(c.h3), free(c.out), free(c.r), free(d1), free(d3);
    slm_pool_free(pool);
}

/* ---- cross-entropy ---- */
typedef struct {
    slm_pool *pool;
    float *logits, *losses, *lse;
    int32_t *targets;
    int N, V;
} ce_ctx;
static double ce_loss(void *p) {
    ce_ctx *c = p;
    int64_t nv;
    double s = slm_cross_entropy_forward(c->pool, c->losses, c->lse, c->logits, c->targets, c->N, c->V, &nv);
    return s / (double)nv;
}

TEST(train_fd_cross_entropy) {
    slm_pool *pool = slm_pool_new(2);
    const int N = 6, V = 9;
    int32_t targets[6] = {3, 0, 8, -1, 5, 5};
    ce_ctx c = {pool, randn(N * V, 2.0f), zeros(N), zeros(N), targets, N, V};
    double l = ce_loss(&c);
    /* the loss in double, directly */
    double ref = 0;
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        double s = 0;
        for (int i = 0; i < V; i++) s += exp((double)c.logits[n * V + i]);
        ref += log(s) - c.logits[n * V + targets[n]];
    }
    ref /= 5;
    EXPECT(fabs(l - ref) < 1e-6, "loss %.9g vs %.9g", l, ref);
    float *d = zeros(N * V);
    slm_cross_entropy_backward(pool, d, c.logits, c.lse, targets, N, V, 1.0f / 5);
    double e = fd_check(ce_loss, &c, c.logits, N * V, d, 1e-2f);
    printf("    fd cross-entropy dlogits %.2e\n", e);
    EXPECT(e < FD_TOL, "dlogits %.3g", e);
    for (int i = 0; i < V; i++) EXPECT(d[3 * V + i] == 0.0f, "ignored row has a gradient");
    /* in place gives the same */
    float *inplace = malloc(N * V * sizeof(float));
    memcpy(inplace, c.logits, N * V * sizeof(float));
    ce_loss(&c); /* lse of the unperturbed logits */
    slm_cross_entropy_backward(pool, inplace, inplace, c.lse, targets, N, V, 1.0f / 5);
    EXPECT(memcmp(inplace, d, N * V * sizeof(float)) == 0, "in-place backward differs");
    free(c.logits), free(c.losses), free(c.lse), free(d), free(inplace);
    slm_pool_free(pool);
}

/* ---- classifier (fused output product + loss) ---- */
typedef struct {
    slm_gemm *g;
    float *xn, *w, *logits, *lse, *losses, *scratch;
    int32_t *targets;
    int N, C, V;
} cls_ctx;
static double cls_loss(void *p) {
    cls_ctx *c = p;
    int64_t nv;
    double s = slm_classifier_forward(c->g, c->logits, c->lse, c->losses, c->scratch, c->xn, c->w, c->targets, c->N,
                                      c->C, c->V, &nv);
    return s / (double)nv;
}

TEST(train_fd_classifier) {
    slm_pool *pool = NULL; /* single-threaded, as the attention check */
    slm_gemm *g = NULL;
    ASSERT(slm_gemm_new(pool, SLM_GEMM_AUTO, &g) == SLM_OK);
    /* V spans two full chunks and a partial one */
    const int N = 5, C = 7, V = 2 * CLS_CHUNK + 300;
    int32_t targets[5] = {3, CLS_CHUNK + 5, -1, V - 1, 2 * CLS_CHUNK};
    cls_ctx c = {g, randn(N * C, 1.0f), randn(V * C, 1.0f), zeros(N * V), zeros(N), zeros(N), zeros(2 * N),
                 targets, N, C, V};
    double l = cls_loss(&c);
    /* against the unfused layers: linear, then cross-entropy */
    float *logits = zeros(N * V), *lse = zeros(N), *losses = zeros(N);
    slm_linear_forward(g, logits, c.xn, c.w, N, C, V, false);
    int64_t nv;
    double l2 = slm_cross_entropy_forward(pool, losses, lse, logits, targets, N, V, &nv) / (double)nv;
    EXPECT(nv == 4);
    EXPECT(fabs(l - l2) < 1e-6, "fused loss %.9g vs unfused %.9g", l, l2);
    EXPECT(tu_norm_err(c.logits, logits, N * V) < 1e-6);
    EXPECT(tu_norm_err(c.lse, lse, N) < 1e-6);
    float *dxn = zeros(N * C), *dw = zeros(V * C), *dchunk = zeros(N * CLS_CHUNK);
    float *dxn2 = zeros(N * C), *dw2 = zeros(V * C);
    slm_classifier_backward(g, dxn, dw, dchunk, c.logits, c.lse, c.xn, c.w, targets, N, C, V, 1.0f / 4);
    slm_cross_entropy_backward(pool, logits, logits, lse, targets, N, V, 1.0f / 4);
    slm_linear_backward(g, dxn2, dw2, logits, c.xn, c.w, N, C, V);
    double ux = tu_norm_err(dxn, dxn2, N * C), uw = tu_norm_err(dw, dw2, V * C);
    EXPECT(ux < 1e-5 && uw < 1e-5, "fused vs unfused gradients: dxn %.3g dw %.3g", ux, uw);
    /* finite differences on xn, and on every 97th weight */
    double ex = fd_check(cls_loss, &c, c.xn, N * C, dxn, 1e-2f);
    double ew = 0;
    for (int i = 0; i < V * C; i += 97) {
        double e = fd_check(cls_loss, &c, c.w + i, 1, dw + i, 1e-2f) * fabs(dw[i]);
        ew = e > ew ? e : ew;
    }
    float mw = 0;
    for (int i = 0; i < V * C; i++) mw = fabsf(dw[i]) > mw ? fabsf(dw[i]) : mw;
    ew /= mw;
    printf("    classifier fused vs unfused dxn %.2e dw %.2e; fd dxn %.2e dw %.2e\n", ux, uw, ex, ew);
    EXPECT(ex < FD_TOL, "dxn %.3g", ex);
    EXPECT(ew < FD_TOL, "dw %.3g", ew);
    free(c.xn), free(c.w), free(c.logits), free(c.lse), free(c.losses), free(c.scratch);
    free(logits), free(lse), free(losses), free(dxn), free(dw), free(dchunk), free(dxn2), free(dw2);
    slm_gemm_free(g);
}

/* ---- embedding ---- */
typedef struct {
    slm_pool *pool;
    float *wte, *out, *r;
    const int32_t *tok;
    int N, C;
} emb_ctx;
static double emb_loss(void *p) {
    emb_ctx *c = p;
    slm_embedding_forward(c->pool, c->out, c->tok, c->wte, c->N, c->C);
    return dot_d(c->out, c->r, (int64_t)c->N * c->C);
}

TEST(train_fd_embedding) {
    slm_pool *pool = slm_pool_new(2);
    const int V = 10, C = 6, N = 8;
    static const int32_t tok[8] = {1, 4, 4, 9, 0, 1, 4, 7}; /* repeats accumulate */
    emb_ctx c = {pool, randn(V * C, 1.0f), zeros(N * C), randn(N * C, 1.0f), tok, N, C};
    float *d = zeros(V * C);
    slm_embedding_backward(pool, d, c.r, tok, N, C);
    double e = fd_check(emb_loss, &c, c.wte, V * C, d, 5e-2f);
    printf("    fd embedding dwte %.2e\n", e);
    EXPECT(e < FD_TOL, "dwte %.3g", e);
    for (int i = 0; i < C; i++) EXPECT(d[2 * C + i] == 0.0f, "unused row has a gradient");
    free(c.wte), free(c.out), free(c.r), free(d);
    slm_pool_free(pool);
}

/* ======================================================================== */
/* The model against PyTorch float64                                         */
/* ======================================================================== */

typedef struct {
    slm_train_config cfg;
    int B, T;
    double loss;
    int32_t *inputs, *targets; /* (B, T) */
} golden_cfg;

/* Reads dir/config.json and dir/tokens.i32. */
static bool load_golden_cfg(const char *dir, golden_cfg *g) {
    char rel[256];
    snprintf(rel, sizeof rel, "train/%s/config.json", dir);
    char *js = tu_read_file(slm_test_data(rel), NULL);
    if (!js) {
        slm_test_fail(__FILE__, __LINE__, "missing %s", slm_test_data(rel));
        return false;
    }
    memset(g, 0, sizeof *g);
    g->cfg.dim = (int32_t)json_num(js, "dim");
    g->cfg.n_layers = (int32_t)json_num(js, "n_layers");
    g->cfg.n_heads = (int32_t)json_num(js, "n_heads");
    g->cfg.n_kv_heads = (int32_t)json_num(js, "n_kv_heads");
    g->cfg.hidden_dim = (int32_t)json_num(js, "hidden_dim");
    g->cfg.vocab_size = (int32_t)json_num(js, "vocab_size");
    g->cfg.seq_len = (int32_t)json_num(js, "max_seq_len");
    g->cfg.norm_eps = (float)json_num(js, "norm_eps");
    g->cfg.rope_theta = (float)json_num(js, "rope_theta");
    g->cfg.tied_embeddings = strstr(js, "\"tied_embeddings\": false") == NULL;
    g->B = (int)json_num(js, "B");
    g->T = (int)json_num(js, "T");
    g->loss = json_num(js, "loss");
    free(js);
    snprintf(rel, sizeof rel, "train/%s/tokens.i32", dir);
    int32_t *tok = NULL;
    int64_t n = read_i32(slm_test_data(rel), &tok);
    if (n != (int64_t)g->B * (g->T + 1)) {
        slm_test_fail(__FILE__, __LINE__, "%s: %lld tokens, want %d x %d", rel, (long long)n, g->B, g->T + 1);
        free(tok);
        return false;
    }
    g->inputs = malloc((size_t)g->B * g->T * sizeof(int32_t));
    g->targets = malloc((size_t)g->B * g->T * sizeof(int32_t));
    for (int b = 0; b < g->B; b++)
        for (int t = 0; t < g->T; t++) {
            g->inputs[b * g->T + t] = tok[b * (g->T + 1) + t];
            g->targets[b * g->T + t] = tok[b * (g->T + 1) + t + 1];
        }
    free(tok);
    return true;
}

static void free_golden_cfg(golden_cfg *g) {
    free(g->inputs);
    free(g->targets);
}

/* Builds the model and loads dir/<weights_file>. */
static slm_train_model *golden_model(const char *dir, const char *weights_file, const golden_cfg *g, slm_pool *pool) {
    slm_train_model *m = NULL;
    if (slm_train_model_new(&g->cfg, g->B, g->T, pool, &m) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "model_new: %s", slm_last_error());
        return NULL;
    }
    char rel[256];
    snprintf(rel, sizeof rel, "train/%s/layout.json", dir);
    check_layout(slm_test_data(rel), m);
    snprintf(rel, sizeof rel, "train/%s/%s", dir, weights_file);
    float *w = NULL;
    int64_t n = tu_read_f32(slm_test_data(rel), &w);
    if (n != m->n_params) {
        slm_test_fail(__FILE__, __LINE__, "%s: %lld floats, model has %lld params", rel, (long long)n,
                      (long long)m->n_params);
        free(w);
        slm_train_model_free(m);
        return NULL;
    }
    memcpy(m->params, w, (size_t)n * sizeof(float));
    free(w);
    return m;
}

static double *golden_reals(const char *dir, const char *file, int64_t want) {
    char rel[256];
    snprintf(rel, sizeof rel, "train/%s/%s", dir, file);
    size_t l = strlen(file);
    bool f64 = l > 4 && strcmp(file + l - 4, ".f64") == 0;
    double *d = NULL;
    int64_t n = read_reals(slm_test_data(rel), f64, &d);
    if (n != want) {
        slm_test_fail(__FILE__, __LINE__, "%s: %lld values, want %lld", rel, (long long)n, (long long)want);
        free(d);
        return NULL;
    }
    return d;
}

/* Worst per-tensor normalised error of grads against dir/grads.E, reported
 * per tensor when above tol. */
static double check_grads(const slm_train_model *m, const double *ref, double tol, const char *what) {
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_train_param *p = &m->tensors[i];
        double e = norm_err_d(m->grads + p->offset, ref + p->offset, p->numel);
        worst = e > worst ? e : worst;
        EXPECT(e < tol, "%s: grad %s normalised error %.3g", what, p->name, e);
    }
    return worst;
}

static void oracle_case(const char *dir, const char *E) {
    golden_cfg gc;
    if (!load_golden_cfg(dir, &gc)) return;
    slm_pool *pool = slm_pool_new(2);
    slm_train_model *m = golden_model(dir, "weights.f32", &gc, pool);
    if (!m) {
        slm_pool_free(pool);
        free_golden_cfg(&gc);
        return;
    }
    const int64_t N = (int64_t)gc.B * gc.T, D = gc.cfg.dim, V = gc.cfg.vocab_size;
    char f[64];
    float loss = 0;
    ASSERT(slm_train_forward(m, gc.inputs, gc.targets, gc.B, gc.T, &loss) == SLM_OK, "%s", slm_last_error());

    /* loss, logits, activations */
    double *ref_loss = golden_reals(dir, "loss.f64", 1);
    double dl = ref_loss ? fabs(loss - ref_loss[0]) : INFINITY;
    EXPECT(dl < 1e-5, "%s: loss %.9g vs %.9g", dir, loss, ref_loss ? ref_loss[0] : NAN);
    EXPECT(fabs(gc.loss - (ref_loss ? ref_loss[0] : 0)) < 1e-12, "config.json and loss.f64 disagree");
    snprintf(f, sizeof f, "logits.%s", E);
    double *ref_logits = golden_reals(dir, f, N * V);
    double el = ref_logits ? norm_err_d(m->acts.logits, ref_logits, N * V) : INFINITY;
    EXPECT(el < 1e-5, "%s: logits normalised error %.3g", dir, el);
    double ea = 0;
    for (int l = -1; l <= gc.cfg.n_layers; l++) {
        const float *mine = m->acts.resid + (l + 1) * N * D; /* resid[l+1]: after block l */
        if (l < 0) snprintf(f, sizeof f, "acts/emb.%s", E);
        else if (l < gc.cfg.n_layers) snprintf(f, sizeof f, "acts/layer%d.%s", l, E);
        else snprintf(f, sizeof f, "acts/final_norm.%s", E), mine = m->acts.xn_final;
        double *ref = golden_reals(dir, f, N * D);
        double e = ref ? norm_err_d(mine, ref, N * D) : INFINITY;
        EXPECT(e < 1e-5, "%s: %s normalised error %.3g", dir, f, e);
        ea = e > ea ? e : ea;
        free(ref);
    }

    /* gradients */
    slm_train_zero_grad(m);
    ASSERT(slm_train_backward(m, 1.0f) == SLM_OK, "%s", slm_last_error());
    snprintf(f, sizeof f, "grads.%s", E);
    double *ref_grads = golden_reals(dir, f, m->n_params);
    double eg = ref_grads ? check_grads(m, ref_grads, 1e-4, dir) : INFINITY;
    printf("    %-11s loss |d| %.2e  logits %.2e  acts %.2e  grads (worst tensor) %.2e\n", dir, dl, el, ea, eg);

    /* gradient accumulation: the batch as B micro-batches of one sequence,
     * each backward scaled by 1/B, gives the same gradients */
    if (ref_grads && gc.B > 1) {
        slm_train_zero_grad(m);
        for (int b = 0; b < gc.B; b++) {
            EXPECT(slm_train_forward(m, gc.inputs + b * gc.T, gc.targets + b * gc.T, 1, gc.T, NULL) == SLM_OK);
            EXPECT(slm_train_backward(m, 1.0f / (float)gc.B) == SLM_OK);
        }
        double e = check_grads(m, ref_grads, 1e-4, "accumulated");
        printf("    %-11s accumulated over %d micro-batches: grads %.2e\n", dir, gc.B, e);
    }
    free(ref_loss);
    free(ref_logits);
    free(ref_grads);
    slm_train_model_free(m);
    slm_pool_free(pool);
    free_golden_cfg(&gc);
}

TEST(train_oracle_tiny) { oracle_case("oracle_tiny", "f64"); }
TEST(train_oracle_260K) { oracle_case("oracle_260K", "f64"); }
TEST(train_oracle_1M) { oracle_case("oracle_1M", "f32"); }

/* The same forward + backward on 1 and 3 threads: identical bits. */
TEST(train_model_thread_count_invariant) {
    golden_cfg gc;
    if (!load_golden_cfg("oracle_260K", &gc)) return;
    slm_pool *p3 = slm_pool_new(3);
    slm_train_model *m1 = golden_model("oracle_260K", "weights.f32", &gc, NULL);
    slm_train_model *m3 = golden_model("oracle_260K", "weights.f32", &gc, p3);
    if (m1 && m3) {
        float l1, l3;
        EXPECT(slm_train_forward(m1, gc.inputs, gc.targets, gc.B, gc.T, &l1) == SLM_OK);
        EXPECT(slm_train_forward(m3, gc.inputs, gc.targets, gc.B, gc.T, &l3) == SLM_OK);
        EXPECT(l1 == l3, "loss %.9g vs %.9g", l1, l3);
        EXPECT(slm_train_backward(m1, 1.0f) == SLM_OK);
        EXPECT(slm_train_backward(m3, 1.0f) == SLM_OK);
        EXPECT(memcmp(m1->grads, m3->grads, (size_t)m1->n_params * sizeof(float)) == 0, "gradients differ");
    }
    slm_train_model_free(m1);
    slm_train_model_free(m3);
    slm_pool_free(p3);
    free_golden_cfg(&gc);
}

/* oracle_tiny/model.bin is llama2.c's legacy export of the same weights: 7
 * int32 (dim, hidden, layers, heads, kv heads, vocab, seq), then the
 * parameters in the order the model uses, so they copy straight in. */
TEST(train_llama2c_legacy_file_layout) {
    golden_cfg gc;
    if (!load_golden_cfg("oracle_tiny", &gc)) return;
    slm_train_model *m = golden_model("oracle_tiny", "weights.f32", &gc, NULL);
    size_t len = 0;
    char *bin = tu_read_file(slm_test_data("train/oracle_tiny/model.bin"), &len);
    if (m && bin) {
        int32_t h[7];
        memcpy(h, bin, sizeof h);
        const slm_train_config *c = &m->cfg;
        EXPECT(h[0] == c->dim && h[1] == c->hidden_dim && h[2] == c->n_layers && h[3] == c->n_heads &&
               h[4] == c->n_kv_heads && h[5] == c->vocab_size && h[6] == c->seq_len);
        ASSERT(len >= sizeof h + (size_t)m->n_params * sizeof(float), "model.bin too short: %zu", len);
        EXPECT(memcmp(bin + sizeof h, m->params, (size_t)m->n_params * sizeof(float)) == 0,
               "model.bin weights differ from weights.f32 in the model's layout");
    }
    free(bin);
    slm_train_model_free(m);
    free_golden_cfg(&gc);
}

/* An untied classifier that starts as a copy of the embedding computes the
 * same loss, and its two gradients add up to the tied model's. */
TEST(train_untied_classifier) {
    golden_cfg gc;
    if (!load_golden_cfg("oracle_tiny", &gc)) return;
    slm_train_model *tied = golden_model("oracle_tiny", "weights.f32", &gc, NULL), *untied = NULL;
    slm_train_config uc = gc.cfg;
    uc.tied_embeddings = false;
    ASSERT(tied && slm_train_model_new(&uc, gc.B, gc.T, NULL, &untied) == SLM_OK);
    const int64_t VD = (int64_t)uc.vocab_size * uc.dim;
    EXPECT(untied->n_params == tied->n_params + VD);
    EXPECT(strcmp(untied->tensors[untied->n_tensors - 1].name, "output.weight") == 0);
    memcpy(untied->params, tied->params, (size_t)tied->n_params * sizeof(float));
    memcpy(untied->w.output, tied->w.tok_emb, (size_t)VD * sizeof(float));
    float lt, lu;
    EXPECT(slm_train_forward(tied, gc.inputs, gc.targets, gc.B, gc.T, &lt) == SLM_OK);
    EXPECT(slm_train_forward(untied, gc.inputs, gc.targets, gc.B, gc.T, &lu) == SLM_OK);
    EXPECT(lt == lu, "loss %.9g vs %.9g", lt, lu);
    EXPECT(slm_train_backward(tied, 1.0f) == SLM_OK);
    EXPECT(slm_train_backward(untied, 1.0f) == SLM_OK);
    float *sum = malloc((size_t)VD * sizeof(float));
    for (int64_t i = 0; i < VD; i++) sum[i] = untied->dw.tok_emb[i] + untied->dw.output[i];
    double e = tu_norm_err(sum, tied->dw.tok_emb, VD);
    EXPECT(e < 1e-6, "tok_emb gradient: %.3g", e);
    e = tu_norm_err(untied->grads + VD, tied->grads + VD, tied->n_params - VD);
    EXPECT(e < 1e-6, "other gradients: %.3g", e);
    free(sum);
    slm_train_model_free(tied);
    slm_train_model_free(untied);
    free_golden_cfg(&gc);
}

/* ======================================================================== */
/* AdamW against PyTorch float64                                             */
/* ======================================================================== */

static void adamw_case(const char *dir, bool moments) {
    golden_cfg gc;
    if (!load_golden_cfg(dir, &gc)) return;
    slm_pool *pool = slm_pool_new(2);
    slm_train_model *m = golden_model(dir, "weights_init.f32", &gc, pool);
    slm_adamw *opt = NULL;
    slm_adamw_params hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    if (!m || slm_adamw_new(&hp, m->n_params, &opt) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "setup failed: %s", slm_last_error());
        goto done;
    }
    double *ref_losses = golden_reals(dir, "losses.f64", 6);
    double *ref_final = golden_reals(dir, "weights_final.f64", m->n_params);
    float *init = malloc((size_t)m->n_params * sizeof(float));
    memcpy(init, m->params, (size_t)m->n_params * sizeof(float));
    double worst_loss = 0;
    for (int k = 0; k <= 5; k++) {
        float loss;
        EXPECT(slm_train_forward(m, gc.inputs, gc.targets, gc.B, gc.T, &loss) == SLM_OK);
        double d = ref_losses ? fabs(loss - ref_losses[k]) : INFINITY;
        worst_loss = d > worst_loss ? d : worst_loss;
        EXPECT(d < 1e-5, "%s: loss_%d %.9g vs %.9g", dir, k, loss, ref_losses ? ref_losses[k] : NAN);
        if (k == 5) break;
        slm_train_zero_grad(m);
        EXPECT(slm_train_backward(m, 1.0f) == SLM_OK);
        slm_adamw_step(opt, pool, m->params, m->grads, m->tensors, m->n_tensors, 1e-3f);
    }
    if (ref_final) {
        double ew = norm_err_d(m->params, ref_final, m->n_params);
        double max_upd = 0, max_d = 0;
        for (int64_t i = 0; i < m->n_params; i++) {
            double u = fabs(ref_final[i] - init[i]), d = fabs(m->params[i] - ref_final[i]);
            max_upd = u > max_upd ? u : max_upd;
            max_d = d > max_d ? d : max_d;
        }
        EXPECT(ew < 1e-4, "%s: final weights normalised error %.3g", dir, ew);
        EXPECT(max_d < 0.02 * max_upd, "%s: max|d| %.3g vs largest update %.3g", dir, max_d, max_upd);
        printf("    %-11s losses |d| %.2e  weights %.2e  max|d| %.2f%% of largest update\n", dir, worst_loss, ew,
               100.0 * max_d / max_upd);
    }
    if (moments) {
        double *rm = golden_reals(dir, "adam_m_final.f64", m->n_params);
        double *rv = golden_reals(dir, "adam_v_final.f64", m->n_params);
        double em = rm ? norm_err_d(opt->m, rm, m->n_params) : INFINITY;
        double ev = rv ? norm_err_d(opt->v, rv, m->n_params) : INFINITY;
        EXPECT(em < 1e-4, "%s: adam m normalised error %.3g", dir, em);
        EXPECT(ev < 1e-4, "%s: adam v normalised error %.3g", dir, ev);
        printf("    %-11s adam moments m %.2e v %.2e\n", dir, em, ev);
        free(rm);
        free(rv);
    }
    free(init);
    free(ref_losses);
    free(ref_final);
done:
    slm_adamw_free(opt);
    slm_train_model_free(m);
    slm_pool_free(pool);
    free_golden_cfg(&gc);
}

TEST(train_adamw_tiny) { adamw_case("adamw_tiny", true); }
TEST(train_adamw_260K) { adamw_case("adamw_260K", false); }

/* ======================================================================== */
/* Optimizer pieces and argument checks                                      */
/* ======================================================================== */

TEST(train_lr_schedule) {
    slm_lr_schedule s = {SLM_LR_COSINE, 1e-3f, 1e-4f, 10, 110};
    EXPECT(fabsf(slm_lr_at(&s, 0) - 1e-4f) < 1e-9f); /* (0+1)/10 of lr_max */
    EXPECT(fabsf(slm_lr_at(&s, 9) - 1e-3f) < 1e-9f);
    EXPECT(fabsf(slm_lr_at(&s, 10) - 1e-3f) < 1e-9f);
    EXPECT(fabsf(slm_lr_at(&s, 60) - 5.5e-4f) < 1e-8f); /* half way: (max + min) / 2 */
    EXPECT(fabsf(slm_lr_at(&s, 110) - 1e-4f) < 1e-9f);
    EXPECT(fabsf(slm_lr_at(&s, 1000) - 1e-4f) < 1e-9f);
    for (int64_t i = 11; i < 110; i++)
        EXPECT(slm_lr_at(&s, i) <= slm_lr_at(&s, i - 1), "not decreasing at %lld", (long long)i);
    slm_lr_schedule c = {SLM_LR_CONSTANT, 3e-4f, 0, 0, 0};
    EXPECT(slm_lr_at(&c, 0) == 3e-4f && slm_lr_at(&c, 12345) == 3e-4f);
}

TEST(train_grad_clip) {
    slm_pool *pool = slm_pool_new(3);
    const int n = 1001;
    float *g = zeros(n);
    for (int i = 0; i < n; i++) g[i] = (i % 7 == 0) ? 3.0f : -1.0f;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)g[i] * g[i];
    float norm = slm_grad_clip(pool, g, n, 0.0f); /* no clipping */
    EXPECT(fabs(norm - sqrt(ss)) < 1e-4 * sqrt(ss));
    EXPECT(g[0] == 3.0f);
    norm = slm_grad_clip(pool, g, n, 1.0f);
    double ss2 = 0;
    for (int i = 0; i < n; i++) ss2 += (double)g[i] * g[i];
    EXPECT(fabs(norm - sqrt(ss)) < 1e-4 * sqrt(ss));
    EXPECT(fabs(sqrt(ss2) - 1.0) < 1e-5, "norm after clipping %.7g", sqrt(ss2));
    norm = slm_grad_clip(pool, g, n, 5.0f); /* already below: unchanged */
    EXPECT(fabs(norm - 1.0) < 1e-5);
    free(g);
    slm_pool_free(pool);
}

TEST(train_model_errors) {
    slm_train_config c = slm_train_config_stories15m();
    c.vocab_size = 64;
    c.seq_len = 16;
    slm_train_model *m = NULL;
    slm_train_config bad = c;
    bad.n_kv_heads = 4; /* does not divide 6 */
    EXPECT(slm_train_model_new(&bad, 2, 16, NULL, &m) == SLM_ERR_ARG && m == NULL);
    bad = c;
    bad.dim = 0;
    EXPECT(slm_train_model_new(&bad, 2, 16, NULL, &m) == SLM_ERR_ARG);
    EXPECT(slm_train_model_new(&c, 2, 17, NULL, &m) == SLM_ERR_ARG, "seq > seq_len");
    ASSERT(slm_train_model_new(&c, 2, 16, NULL, &m) == SLM_OK, "%s", slm_last_error());
    EXPECT(m->n_params == 64 * 288 + 6 * (2 * 288 + 4 * 288 * 288 + 3 * 288 * 768) + 288);
    slm_train_model_init(m, 42);
    int32_t tok[32], tgt[32];
    for (int i = 0; i < 32; i++) tok[i] = tgt[i] = i % 64;
    EXPECT(slm_train_backward(m, 1.0f) == SLM_ERR_ARG, "backward before forward");
    tok[5] = 64;
    EXPECT(slm_train_forward(m, tok, tgt, 2, 16, NULL) == SLM_ERR_ARG, "token out of range");
    tok[5] = 5;
    EXPECT(slm_train_forward(m, tok, tgt, 3, 16, NULL) == SLM_ERR_ARG, "batch too large");
    float loss;
    EXPECT(slm_train_forward(m, tok, tgt, 2, 16, &loss) == SLM_OK);
    EXPECT(isfinite(loss) && loss > 0.0f, "initial loss %.4f", loss);
    slm_train_zero_grad(m);
    EXPECT(slm_train_backward(m, 1.0f) == SLM_OK);
    float *g1 = malloc((size_t)m->n_params * sizeof(float));
    memcpy(g1, m->grads, (size_t)m->n_params * sizeof(float));
    EXPECT(slm_train_backward(m, 1.0f) == SLM_OK); /* accumulates: twice the gradient */
    for (int64_t i = 0; i < m->n_params; i++) g1[i] *= 2.0f;
    double e2 = tu_norm_err(m->grads, g1, m->n_params);
    EXPECT(e2 < 1e-6, "second backward: %.3g", e2);
    free(g1);
    EXPECT(slm_train_forward(m, tok, NULL, 2, 16, NULL) == SLM_OK, "logits only");
    EXPECT(slm_train_backward(m, 1.0f) == SLM_ERR_ARG, "no targets");
    slm_train_model_free(m);
}
