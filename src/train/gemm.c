/* gemm.c — blocking, packing and threading of the training matmul (see gemm.h). */
#include "train/gemm.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/isa.h"

struct slm_gemm {
    const slm_gemm_kernel *k;
    slm_pool *pool;
    int n_threads;
    size_t per_thread; /* floats per thread: A block, B panel, edge tile */
    float *buf;        /* (n_threads, per_thread), 64-byte aligned */
};

/* Products smaller than this many multiply-adds run on the calling thread. */
#define GEMM_SERIAL_MACS (64 * 64 * 64)

/* nfloats rounded up to whole 64-byte lines */
static size_t round64(size_t nfloats) { return (nfloats + 15) & ~(size_t)15; }

slm_status slm_gemm_new(slm_pool *pool, slm_gemm_isa isa, slm_gemm **out) {
    *out = NULL;
    const slm_gemm_kernel *k = NULL;
    if (isa == SLM_GEMM_AUTO && slm_train_force_scalar()) isa = SLM_GEMM_SCALAR;
    bool avx2_ok = slm_train_cpu_avx2() && slm_gemm_kernel_avx2() != NULL;
    switch (isa) {
    case SLM_GEMM_AUTO: k = avx2_ok ? slm_gemm_kernel_avx2() : slm_gemm_kernel_ref(); break;
    case SLM_GEMM_SCALAR: k = slm_gemm_kernel_ref(); break;
    case SLM_GEMM_AVX2:
        if (!avx2_ok) return slm_err(SLM_ERR_UNSUPPORTED, "%s: this CPU has no AVX2+FMA", __func__);
        k = slm_gemm_kernel_avx2();
        break;
    default: return slm_err(SLM_ERR_ARG, "%s: unknown isa %d", __func__, (int)isa);
    }
    slm_gemm *g = calloc(1, sizeof *g);
    if (!g) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    g->k = k;
    g->pool = pool;
    g->n_threads = slm_pool_size(pool);
    g->per_thread = round64((size_t)k->mc * k->kc) + round64((size_t)k->kc * k->nc) + round64((size_t)k->mr * k->nr);
    g->buf = aligned_alloc(64, g->per_thread * sizeof(float) * (size_t)g->n_threads);
    if (!g->buf) {
        free(g);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    *out = g;
    return SLM_OK;
}

void slm_gemm_free(slm_gemm *g) {
    if (!g) return;
    free(g->buf);
    free(g);
}

const slm_gemm_kernel *slm_gemm_kernel_of(const slm_gemm *g) { return g->k; }
slm_pool *slm_gemm_pool(const slm_gemm *g) { return g->pool; }
int slm_gemm_n_threads(const slm_gemm *g) { return g->n_threads; }

/* ------------------------------------------------------------------------ */
/* Packing                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Full micro-panels go through loops with a compile-time width (one copy per
 * micro-panel width, DEFINE_PACK_FULL below), which the compiler unrolls
 * into straight loads and stores; edge panels take the generic loop and are
 * zero-padded.
 */
#define DEFINE_PACK_FULL(W)                                                                              \
    /* W rows (of A) or columns (of B) starting at src, element (w, p) at src[w*sw + p*sp], */        \
    /* into dst[p*W + w] for p < kc */                                                                 \
    static void pack_full_##W(float *restrict dst, const float *restrict src, int64_t sw, int64_t sp, \
                              int64_t kc) {                                                            \
        if (sw == 1) { /* constant-size memcpy: inlined moves, not a call */                     \
            for (int64_t p = 0; p < kc; p++) memcpy(dst + p * W, src + p * sp, W * sizeof(float));     \
        } else if (sp == 1) {                                                                          \
            const float *r[W];                                                                         \
            for (int w = 0; w < W; w++) r[w] = src + w * sw;                                           \
            for (int64_t p = 0; p < kc; p++)                                                           \
                for (int w = 0; w < W; w++) dst[p * W + w] = r[w][p];                                  \
        } else {                                                                                       \
            for (int64_t p = 0; p < kc; p++)                                                           \
                for (int w = 0; w < W; w++) dst[p * W + w] = src[w * sw + p * sp];                     \
        }                                                                                              \
    }
DEFINE_PACK_FULL(4)
DEFINE_PACK_FULL(6)
DEFINE_PACK_FULL(8)
DEFINE_PACK_FULL(16)

/* n <= W rows/columns, zero-padded to W */
static void pack_edge(float *dst, const float *src, int64_t sw, int64_t sp, int64_t kc, int64_t n, int W) {
    for (int64_t p = 0; p < kc; p++) {
        for (int64_t w = 0; w < n; w++) dst[p * W + w] = src[w * sw + p * sp];
        for (int64_t w = n; w < W; w++) dst[p * W + w] = 0.0f;
    }
}

static void pack_panel(float *dst, const float *src, int64_t sw, int64_t sp, int64_t kc, int64_t n, int W) {
    if (n == W) {
        switch (W) {
        case 4: pack_full_4(dst, src, sw, sp, kc); return;
        case 6: pack_full_6(dst, src, sw, sp, kc); return;
        case 8: pack_full_8(dst, src, sw, sp, kc); return;
        case 16: pack_full_16(dst, src, sw, sp, kc); return;
        default: break;
        }
    }
    pack_edge(dst, src, sw, sp, kc, n, W);
}

/* Rows [0, mc) x cols [0, kc) of A into MR-row micro-panels: dst[(ir/MR)*kc*MR + p*MR + i]. */
static void pack_a(float *dst, const float *A, int64_t rsa, int64_t csa, int64_t mc, int64_t kc, int mr) {
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int64_t m = mc - ir < mr ? mc - ir : mr;
        pack_panel(dst, A + ir * rsa, rsa, csa, kc, m, mr);
        dst += kc * mr;
    }
}

/* Rows [0, kc) x cols [0, nc) of B into NR-column micro-panels: dst[(jr/NR)*kc*NR + p*NR + j]. */
static void pack_b(float *dst, const float *B, int64_t rsb, int64_t csb, int64_t kc, int64_t nc, int nr) {
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t n = nc - jr < nr ? nc - jr : nr;
        pack_panel(dst, B + jr * csb, csb, rsb, kc, n, nr);
        dst += kc * nr;
    }
}

/* ------------------------------------------------------------------------ */
/* The blocked product on one thread                                         */
/* ------------------------------------------------------------------------ */

void slm_gemm_run_serial(slm_gemm *g, int ith, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa,
                         int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                         bool accumulate) {
    SLM_CHECK(ith >= 0 && ith < g->n_threads);
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    const slm_gemm_kernel *k = g->k;
    const int mr = k->mr, nr = k->nr;
    float *apack = g->buf + (size_t)ith * g->per_thread;
    float *bpack = apack + round64((size_t)k->mc * k->kc);
    float *tile = bpack + round64((size_t)k->kc * k->nc);

    /* K blocks of equal size (no thin last block), chosen from K alone so
     * that the summation order does not depend on the thread split. */
    int64_t n_kb = (K + k->kc - 1) / k->kc;
    int64_t kc_blk = (K + n_kb - 1) / n_kb;

    for (int64_t jc = 0; jc < N; jc += k->nc) {
        int64_t nc = N - jc < k->nc ? N - jc : k->nc;
        for (int64_t pc = 0; pc < K; pc += kc_blk) {
            int64_t kc = K - pc < kc_blk ? K - pc : kc_blk;
            bool acc = accumulate || pc > 0;
            pack_b(bpack, B + pc * rsb + jc * csb, rsb, csb, kc, nc, nr);
            for (int64_t ic = 0; ic < M; ic += k->mc) {
                int64_t mc = M - ic < k->mc ? M - ic : k->mc;
                const float *ablk = A + ic * rsa + pc * csa;
                /* row-major A is read in place; other layouts, and the
                 * last partial panel, are packed */
                bool direct = csa == 1;
                int64_t m_full = mc / mr * mr;
                if (!direct) pack_a(apack, ablk, rsa, csa, mc, kc, mr);
                else if (m_full < mc) pack_a(apack + m_full * kc, ablk + m_full * rsa, rsa, csa, mc - m_full, kc, mr);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t n = nc - jr < nr ? nc - jr : nr;
                    const float *bp = bpack + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int64_t m = mc - ir < mr ? mc - ir : mr;
                        const float *ap = apack + ir * kc;
                        int64_t a_rs = 1, a_cs = mr;
                        if (direct && m == mr) ap = ablk + ir * rsa, a_rs = rsa, a_cs = 1;
                        float *c = C + (ic + ir) * ldc + jc + jr;
                        if (m == mr && n == nr) {
                            k->kernel(kc, ap, a_rs, a_cs, bp, c, ldc, acc);
                        } else {
                            k->kernel(kc, ap, a_rs, a_cs, bp, tile, nr, false);
                            for (int64_t i = 0; i < m; i++)
                                for (int64_t j = 0; j < n; j++)
                                    c[i * ldc + j] = acc ? c[i * ldc + j] + tile[i * nr + j] : tile[i * nr + j];
                        }
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Threads: split the larger of M and N in whole tiles                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    slm_gemm *g;
    int64_t M, N, K;
    const float *A;
    int64_t rsa, csa;
    const float *B;
    int64_t rsb, csb;
    float *C;
    int64_t ldc;
    bool accumulate;
    bool split_n; /* else split M */
} gemm_task;

static void gemm_worker(void *arg, int ith, int nth) {
    gemm_task *t = arg;
    const slm_gemm_kernel *k = t->g->k;
    int64_t lo, hi;
    if (t->split_n) {
        slm_split_range((t->N + k->nr - 1) / k->nr, ith, nth, &lo, &hi);
        int64_t n0 = lo * k->nr, n1 = hi * k->nr < t->N ? hi * k->nr : t->N;
        if (n1 <= n0) return;
        slm_gemm_run_serial(t->g, ith, t->M, n1 - n0, t->K, t->A, t->rsa, t->csa, t->B + n0 * t->csb, t->rsb,
                            t->csb, t->C + n0, t->ldc, t->accumulate);
    } else {
        slm_split_range((t->M + k->mr - 1) / k->mr, ith, nth, &lo, &hi);
        int64_t m0 = lo * k->mr, m1 = hi * k->mr < t->M ? hi * k->mr : t->M;
        if (m1 <= m0) return;
        slm_gemm_run_serial(t->g, ith, m1 - m0, t->N, t->K, t->A + m0 * t->rsa, t->rsa, t->csa, t->B, t->rsb,
                            t->csb, t->C + m0 * t->ldc, t->ldc, t->accumulate);
    }
}

void slm_gemm_run(slm_gemm *g, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, bool accumulate) {
    if (g->n_threads == 1 || (double)M * (double)N * (double)K < GEMM_SERIAL_MACS) {
        slm_gemm_run_serial(g, 0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
        return;
    }
    const slm_gemm_kernel *k = g->k;
    gemm_task t = {g, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, false};
    t.split_n = (N + k->nr - 1) / k->nr > (M + k->mr - 1) / k->mr;
    slm_pool_run(g->pool, gemm_worker, &t);
}
