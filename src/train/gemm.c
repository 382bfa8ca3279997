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
    float *shared;     /* (shared_cap) B packed once for all threads (slm_gemm_run), grown on demand */
    size_t shared_cap;
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
    bool avx512_ok = slm_train_cpu_avx512() && slm_gemm_kernel_avx512() != NULL;
    switch (isa) {
    case SLM_GEMM_AUTO:
        k = avx512_ok && !slm_train_cap_avx2() ? slm_gemm_kernel_avx512()
            : avx2_ok                          ? slm_gemm_kernel_avx2()
                                               : slm_gemm_kernel_ref();
        break;
    case SLM_GEMM_SCALAR: k = slm_gemm_kernel_ref(); break;
    case SLM_GEMM_AVX2:
        if (!avx2_ok) return slm_err(SLM_ERR_UNSUPPORTED, "%s: this CPU has no AVX2+FMA", __func__);
        k = slm_gemm_kernel_avx2();
        break;
    case SLM_GEMM_AVX512:
        if (!avx512_ok) return slm_err(SLM_ERR_UNSUPPORTED, "%s: this CPU has no AVX-512", __func__);
        k = slm_gemm_kernel_avx512();
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
    free(g->shared);
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
        } else if (sp == 1) { /* row by row: each source line is read once, whole */           \
            for (int w = 0; w < W; w++) {                                                              \
                const float *r = src + w * sw;                                                         \
                for (int64_t p = 0; p < kc; p++) dst[p * W + w] = r[p];                                \
            }                                                                                          \
        } else {                                                                                       \
            for (int64_t p = 0; p < kc; p++)                                                           \
                for (int w = 0; w < W; w++) dst[p * W + w] = src[w * sw + p * sp];                     \
        }                                                                                              \
    }
DEFINE_PACK_FULL(4)
DEFINE_PACK_FULL(6)
DEFINE_PACK_FULL(8)
DEFINE_PACK_FULL(12)
DEFINE_PACK_FULL(16)
DEFINE_PACK_FULL(32)

/* n <= W rows/columns, zero-padded to W */
static void pack_edge(float *dst, const float *src, int64_t sw, int64_t sp, int64_t kc, int64_t n, int W) {
    for (int64_t p = 0; p < kc; p++) {
        for (int64_t w = 0; w < n; w++) dst[p * W + w] = src[w * sw + p * sp];
        for (int64_t w = n; w < W; w++) dst[p * W + w] = 0.0f;
    }
}

static void pack_panel(const slm_gemm_kernel *k, float *dst, const float *src, int64_t sw, int64_t sp, int64_t kc,
                       int64_t n, int W) {
    /* the kernel's own transposing copy (rows contiguous in k), if any */
    if (n == W && sp == 1 && k->pack_rows && k->pack_rows(dst, src, sw, kc, W)) return;
    if (n == W) {
        switch (W) {
        case 4: pack_full_4(dst, src, sw, sp, kc); return;
        case 6: pack_full_6(dst, src, sw, sp, kc); return;
        case 8: pack_full_8(dst, src, sw, sp, kc); return;
        case 12: pack_full_12(dst, src, sw, sp, kc); return;
        case 16: pack_full_16(dst, src, sw, sp, kc); return;
        case 32: pack_full_32(dst, src, sw, sp, kc); return;
        default: break;
        }
    }
    pack_edge(dst, src, sw, sp, kc, n, W);
}

/* Rows [0, mc) x cols [0, kc) of A into MR-row micro-panels: dst[(ir/MR)*kc*MR + p*MR + i]. */
static void pack_a(const slm_gemm_kernel *k, float *dst, const float *A, int64_t rsa, int64_t csa, int64_t mc,
                   int64_t kc, int mr) {
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int64_t m = mc - ir < mr ? mc - ir : mr;
        pack_panel(k, dst, A + ir * rsa, rsa, csa, kc, m, mr);
        dst += kc * mr;
    }
}

/* Rows [0, kc) x cols [0, nc) of B into NR-column micro-panels: dst[(jr/NR)*kc*NR + p*NR + j]. */
static void pack_b(const slm_gemm_kernel *k, float *dst, const float *B, int64_t rsb, int64_t csb, int64_t kc,
                   int64_t nc, int nr) {
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t n = nc - jr < nr ? nc - jr : nr;
        pack_panel(k, dst, B + jr * csb, csb, rsb, kc, n, nr);
        dst += kc * nr;
    }
}

/* ------------------------------------------------------------------------ */
/* The blocked product on one thread                                         */
/* ------------------------------------------------------------------------ */

/* Whether rows this many floats apart, read in place, spread over the cache
 * sets. A stride that is a multiple of 512 floats (2 KiB) puts the MR rows
 * of an A micro-panel in one or two sets of the 8-way L1, and the rows of a
 * B micro-panel in a sixteenth of L2 or less, which then miss on every
 * pass (measured: 20-35 % slower on the 4 and 8 KiB strides of GPT-2-sized
 * layers); such operands are packed instead. */
static bool spread(int64_t stride) { return stride % 512 != 0; }

/* The layout decisions of one product, and its K blocking. */
typedef struct {
    int64_t M, N, K;
    const float *A;
    int64_t rsa, csa;
    const float *B;
    int64_t rsb, csb;
    float *C;
    int64_t ldc;
    bool accumulate;
    bool a_direct, b_direct;
    int64_t kc_blk;        /* K blocks of equal size, from K alone */
    const float *bshared;  /* B packed once for all threads (NULL: each rectangle packs its own) */
    int64_t npad;          /* panels of B x NR: the floats per row of a K block of bshared */
} gemm_plan;

static void plan_init(gemm_plan *pl, const slm_gemm_kernel *k, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t rsa, int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                      bool accumulate) {
    *pl = (gemm_plan){M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, false, false, 0, NULL, 0};
    /* K blocks of equal size (no thin last block), chosen from K alone so
     * that the summation order does not depend on the thread split. */
    int64_t n_kb = (K + k->kc - 1) / k->kc;
    pl->kc_blk = (K + n_kb - 1) / n_kb;
    /* Operands already in a layout the kernel reads are not copied (when
     * the kernel asks for it: SLM_GEMM_DIRECT): a row-major A (csa 1: MR
     * rows, each contiguous in k) or a column-major A (rsa 1: MR
     * contiguous values per k), and a row-major B (csb 1: NR contiguous
     * values per k, read with row stride rsb). Partial edge panels
     * (zero-padded to MR / NR) and other layouts (the forward's B = Wᵀ) are
     * packed. A row-major A is read in place by every kernel. */
    const bool direct = k->flags & SLM_GEMM_DIRECT;
    pl->a_direct = (csa == 1 && spread(pl->rsa)) || (direct && rsa == 1 && spread(csa));
    pl->b_direct = direct && csb == 1 && spread(rsb);
}

/*
 * Rows [i0, i1) x columns [j0, j1) of C (j0 a multiple of NR), all of K.
 * apack (MC x KC), tile (MR x NR) and, without pl->bshared, bpack (KC x NC)
 * are the calling thread's.
 */
static void gemm_rect(const slm_gemm_kernel *k, const gemm_plan *pl, float *apack, float *bpack, float *tile,
                      int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const int mr = k->mr, nr = k->nr;
    const int64_t K = pl->K, kc_blk = pl->kc_blk, rsa = pl->rsa, csa = pl->csa, rsb = pl->rsb, csb = pl->csb;
    const int64_t ldc = pl->ldc;
    /* column blocks of equal size too, in whole micro-panels */
    int64_t n_jb = (j1 - j0 + k->nc - 1) / k->nc;
    int64_t nc_blk = ((j1 - j0 + n_jb - 1) / n_jb + nr - 1) / nr * nr;
    for (int64_t jc = j0; jc < j1; jc += nc_blk) {
        int64_t nc = j1 - jc < nc_blk ? j1 - jc : nc_blk;
        int64_t n_full = nc / nr * nr;
        for (int64_t pc = 0; pc < K; pc += kc_blk) {
            int64_t kc = K - pc < kc_blk ? K - pc : kc_blk;
            bool acc = pl->accumulate || pc > 0;
            const float *bblk = pl->B + pc * rsb + jc * csb;
            const float *bpanels; /* panel jr / NR of this block at bpanels + jr * kc */
            if (pl->bshared) {
                bpanels = pl->bshared + pc * pl->npad + jc * kc;
            } else {
                bpanels = bpack;
                if (!pl->b_direct) pack_b(k, bpack, bblk, rsb, csb, kc, nc, nr);
                else if (n_full < nc)
                    pack_b(k, bpack + n_full * kc, bblk + n_full * csb, rsb, csb, kc, nc - n_full, nr);
            }
            for (int64_t ic = i0; ic < i1; ic += k->mc) {
                int64_t mc = i1 - ic < k->mc ? i1 - ic : k->mc;
                const float *ablk = pl->A + ic * rsa + pc * csa;
                int64_t m_full = mc / mr * mr;
                if (!pl->a_direct) pack_a(k, apack, ablk, rsa, csa, mc, kc, mr);
                else if (m_full < mc)
                    pack_a(k, apack + m_full * kc, ablk + m_full * rsa, rsa, csa, mc - m_full, kc, mr);
                /* one A micro-panel (MR x kc, in L1) against every B
                 * micro-panel of the block (kc x nc, in L2) */
                for (int64_t ir = 0; ir < mc; ir += mr) {
                    int64_t m = mc - ir < mr ? mc - ir : mr;
                    const float *ap = apack + ir * kc;
                    int64_t a_rs = 1, a_cs = mr;
                    if (pl->a_direct && m == mr) ap = ablk + ir * rsa, a_rs = rsa, a_cs = csa;
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        int64_t n = nc - jr < nr ? nc - jr : nr;
                        const float *bp = bpanels + jr * kc;
                        int64_t b_rs = nr;
                        if (pl->b_direct && n == nr) bp = bblk + jr * csb, b_rs = rsb;
                        float *c = pl->C + (ic + ir) * ldc + jc + jr;
                        if (m == mr && n == nr) {
                            k->kernel_bs(kc, ap, a_rs, a_cs, bp, b_rs, c, ldc, acc);
                        } else {
                            k->kernel_bs(kc, ap, a_rs, a_cs, bp, b_rs, tile, nr, false);
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

/* C = [C +] A·B with K <= 0: nothing to add; true if handled */
static bool gemm_trivial(int64_t M, int64_t N, int64_t K, float *C, int64_t ldc, bool accumulate) {
    if (M <= 0 || N <= 0) return true;
    if (K > 0) return false;
    if (!accumulate)
        for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return true;
}

size_t slm_gemm_scratch_floats(const slm_gemm *g) { return g->per_thread; }

void slm_gemm_run_scratch(slm_gemm *g, float *scratch, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa,
                          int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                          bool accumulate) {
    if (gemm_trivial(M, N, K, C, ldc, accumulate)) return;
    const slm_gemm_kernel *k = g->k;
    float *apack = scratch;
    float *bpack = apack + round64((size_t)k->mc * k->kc);
    float *tile = bpack + round64((size_t)k->kc * k->nc);
    gemm_plan pl;
    plan_init(&pl, k, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
    gemm_rect(k, &pl, apack, bpack, tile, 0, M, 0, N);
}

void slm_gemm_run_serial(slm_gemm *g, int ith, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa,
                         int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                         bool accumulate) {
    SLM_CHECK(ith >= 0 && ith < g->n_threads);
    slm_gemm_run_scratch(g, g->buf + (size_t)ith * g->per_thread, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc,
                         accumulate);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A product on the pool runs in two steps:
 *  1. the micro-panels of B that must be packed (all of them for the
 *     forward's B = Wᵀ, only the zero-padded edge panel for a B read in
 *     place) are packed once into a buffer all threads read, one part per
 *     (K block, panel);
 *  2. C is cut into rectangles of whole tiles, about PARTS_PER_THREAD per
 *     thread, which the threads claim one at a time (slm_pool_run_chunks):
 *     a thread that the OS does not schedule (a machine busier than its
 *     cores) holds up only the rectangle it has, and the others take the
 *     rest. Rectangles span M, or N when M has too few tiles.
 * Every element of C is summed in the same order (the K blocks depend on K
 * alone), whatever the rectangles and threads.
 */
#define PARTS_PER_THREAD 4
/* ... and no rectangle smaller than this many multiply-adds */
#define MIN_PART_MACS (1 << 21)

typedef struct {
    slm_gemm *g;
    gemm_plan pl;
    int64_t nJ;            /* panels of B */
    int64_t n_kb;          /* K blocks */
    int64_t tm, tn;        /* tiles per rectangle, in M and N */
    int64_t pm, pn;        /* rectangles in M and N */
    slm_gemm_rows_fn done; /* slm_gemm_run_rows: called after each block of rows */
    void *ctx;
} gemm_task;

static void pack_worker(void *arg, int part, int n_parts) {
    gemm_task *t = arg;
    gemm_plan *pl = &t->pl;
    const int nr = t->g->k->nr;
    /* part = K block x panel; with B read in place only the last panel */
    int64_t per_kb = pl->b_direct ? 1 : t->nJ;
    int64_t kb = part / per_kb, jp = pl->b_direct ? t->nJ - 1 : part % per_kb;
    int64_t pc = kb * pl->kc_blk, kc = pl->K - pc < pl->kc_blk ? pl->K - pc : pl->kc_blk;
    int64_t j = jp * nr, n = pl->N - j < nr ? pl->N - j : nr;
    float *dst = t->g->shared + pc * pl->npad + j * kc;
    pack_panel(t->g->k, dst, pl->B + pc * pl->rsb + j * pl->csb, pl->csb, pl->rsb, kc, n, nr);
    (void)n_parts;
}

static void rect_worker(void *arg, int part, int n_parts) {
    gemm_task *t = arg;
    const slm_gemm_kernel *k = t->g->k;
    const size_t a_floats = round64((size_t)k->mc * k->kc);
    /* the thread's scratch; without a pool, the one thread's buffer */
    const size_t bytes = (a_floats + round64((size_t)k->mr * k->nr)) * sizeof(float);
    float *apack = t->g->pool ? slm_pool_scratch(t->g->pool, bytes) : t->g->buf;
    SLM_CHECK(apack != NULL);
    float *tile = apack + a_floats;
    int64_t pi = part / t->pn, pj = part % t->pn;
    int64_t i0 = pi * t->tm * k->mr, j0 = pj * t->tn * k->nr;
    int64_t i1 = i0 + t->tm * k->mr < t->pl.M ? i0 + t->tm * k->mr : t->pl.M;
    int64_t j1 = j0 + t->tn * k->nr < t->pl.N ? j0 + t->tn * k->nr : t->pl.N;
    if (i0 < i1 && j0 < j1) gemm_rect(k, &t->pl, apack, NULL, tile, i0, i1, j0, j1);
    if (t->done && i0 < i1) t->done(t->ctx, i0, i1);
    (void)n_parts;
}

/* The fallback without a shared buffer: thread ith takes its share of the
 * larger of M and N in whole tiles, with its own buffers. */
static void split_worker(void *arg, int ith, int nth) {
    gemm_task *t = arg;
    slm_gemm *g = t->g;
    const slm_gemm_kernel *k = g->k;
    float *apack = g->buf + (size_t)ith * g->per_thread;
    float *bpack = apack + round64((size_t)k->mc * k->kc);
    float *tile = bpack + round64((size_t)k->kc * k->nc);
    int64_t mt = (t->pl.M + k->mr - 1) / k->mr, lo, hi;
    if (t->nJ > mt) {
        slm_split_range(t->nJ, ith, nth, &lo, &hi);
        int64_t j1 = hi * k->nr < t->pl.N ? hi * k->nr : t->pl.N;
        if (lo * k->nr < j1) gemm_rect(k, &t->pl, apack, bpack, tile, 0, t->pl.M, lo * k->nr, j1);
    } else {
        slm_split_range(mt, ith, nth, &lo, &hi);
        int64_t i1 = hi * k->mr < t->pl.M ? hi * k->mr : t->pl.M;
        if (lo * k->mr < i1) gemm_rect(k, &t->pl, apack, bpack, tile, lo * k->mr, i1, 0, t->pl.N);
    }
}

/* A buffer of at least n floats shared by the threads of one product. */
static float *shared_buffer(slm_gemm *g, size_t n) {
    if (n > g->shared_cap) {
        free(g->shared);
        g->shared = aligned_alloc(64, round64(n) * sizeof(float));
        g->shared_cap = g->shared ? round64(n) : 0;
    }
    return g->shared;
}

/* Step 1: B's packed panels, shared (t->pl.bshared); false if out of memory. */
static bool pack_shared_b(gemm_task *t) {
    const slm_gemm_kernel *k = t->g->k;
    const gemm_plan *pl = &t->pl;
    t->nJ = (pl->N + k->nr - 1) / k->nr;
    t->n_kb = (pl->K + pl->kc_blk - 1) / pl->kc_blk;
    int64_t n_pack = pl->b_direct ? (pl->N % k->nr ? t->n_kb : 0) : t->n_kb * t->nJ;
    if (n_pack == 0) return true;
    t->pl.npad = t->nJ * k->nr;
    t->pl.bshared = shared_buffer(t->g, (size_t)pl->K * (size_t)t->pl.npad);
    if (!t->pl.bshared) return false;
    slm_pool_run_chunks(t->g->pool, pack_worker, t, (int)n_pack);
    return true;
}

void slm_gemm_run(slm_gemm *g, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, bool accumulate) {
    if (g->n_threads == 1 || (double)M * (double)N * (double)K < GEMM_SERIAL_MACS) {
        slm_gemm_run_serial(g, 0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
        return;
    }
    if (gemm_trivial(M, N, K, C, ldc, accumulate)) return;
    const slm_gemm_kernel *k = g->k;
    gemm_task t = {.g = g};
    plan_init(&t.pl, k, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);

    if (!pack_shared_b(&t)) { /* out of memory: one rectangle per thread, each packing its own B */
        slm_pool_run(g->pool, split_worker, &t);
        return;
    }

    /* 2. rectangles of C */
    int64_t mt = (M + k->mr - 1) / k->mr, nt = t.nJ;
    double macs = (double)M * (double)N * (double)K;
    int64_t want = (int64_t)g->n_threads * PARTS_PER_THREAD;
    int64_t by_size = (int64_t)(macs / MIN_PART_MACS);
    if (want > by_size) want = by_size > g->n_threads ? by_size : g->n_threads;
    /* the longer side first, then the other if it has too few tiles */
    int64_t pm, pn;
    if (mt >= nt) {
        pm = mt < want ? mt : want;
        pn = (want + pm - 1) / pm;
        if (pn > nt) pn = nt;
    } else {
        pn = nt < want ? nt : want;
        pm = (want + pn - 1) / pn;
        if (pm > mt) pm = mt;
    }
    t.tm = (mt + pm - 1) / pm;
    t.tn = (nt + pn - 1) / pn;
    t.pm = (mt + t.tm - 1) / t.tm;
    t.pn = (nt + t.tn - 1) / t.tn;
    slm_pool_run_chunks(g->pool, rect_worker, &t, (int)(t.pm * t.pn));
}

/* Rows per block of slm_gemm_run_rows: the block of C (rows x N) in about
 * half of L2, so that the callback finds it there. */
#define ROWS_BLOCK_FLOATS (128 * 1024)

void slm_gemm_run_rows(slm_gemm *g, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                       const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, bool accumulate,
                       slm_gemm_rows_fn done, void *ctx) {
    if (M <= 0) return;
    if (N <= 0 || K <= 0 || (double)M * (double)N * (double)K < GEMM_SERIAL_MACS) {
        slm_gemm_run_serial(g, 0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
        done(ctx, 0, M);
        return;
    }
    const slm_gemm_kernel *k = g->k;
    gemm_task t = {.g = g, .done = done, .ctx = ctx};
    plan_init(&t.pl, k, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
    if (!pack_shared_b(&t)) { /* out of memory: the plain product, then all rows */
        t.pl.bshared = NULL;
        slm_gemm_run_serial(g, 0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
        done(ctx, 0, M);
        return;
    }
    int64_t mt = (M + k->mr - 1) / k->mr;
    int64_t rows = ROWS_BLOCK_FLOATS / N;
    t.tm = rows / k->mr > 1 ? rows / k->mr : 1;
    t.tn = t.nJ;
    t.pm = (mt + t.tm - 1) / t.tm;
    t.pn = 1;
    slm_pool_run_chunks(g->pool, rect_worker, &t, (int)t.pm);
}
