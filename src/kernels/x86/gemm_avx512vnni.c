/*
 * gemm_avx512vnni.c — matrix x matrix for prompt processing with AVX-512
 * VNNI (the "avx512vnni" table's gemm entries): quantized weights against a
 * batch of activations in the integer scheme of ref/kernels_ref_int.c (the
 * same Q8_0 / Q8_1 / Q8_K activations and the same exact integer block sums
 * as vec_dot; only the order of the float additions differs, so results
 * match vec_dot within float rounding, not bit for bit).
 *
 * Weights are packed on the fly, 16 rows at a time, into a panel in the
 * calling thread's scratch (L2-sized), then every token of the batch runs
 * over the panel; the mapping is never written and no second copy of the
 * model is kept. Packing costs about 1/nx of the multiply (nx = tokens in
 * the batch), which is why slm_matmul only takes this path for batches.
 *
 * Panel layout, per unit of 32 values (one legacy block, or an eighth of a
 * K-quant super-block): 8 registers of 64 bytes, register g holding values
 * 4g..4g+3 of each of the 16 rows (row r at bytes 4r..4r+3) as unsigned
 * levels, so that one VPDPBUSD with the 4 activation bytes 4g..4g+3
 * broadcast adds 4 products into each row's int32 lane. Levels are made
 * unsigned by an offset z (Q4_0 8, Q5_0 16, Q8_0 128, Q6_K 32, Q3_K 4),
 * taken back exactly in integers: S - z * (sum of the activations). Per
 * sub-block (32 values, or 16 for Q6_K / Q3_K / Q2_K) the panel keeps 16
 * float scales (d, or d * sc_j) and 16 float mins (dmin * m_j; Q4_1 / Q5_1:
 * m, which meets Q8_1's s = dy * sum y).
 *
 * Per token and activation block, as the reference:
 *   legacy:  acc += (d dy) * (S - z B)          Q4_1/Q5_1: acc += (d dy) S + m s
 *   K-quant: acc += dy * sum_j [ d sc_j (S_j - z B_j) - dmin m_j B_j ]
 * The microkernel holds 16 rows x 4 tokens: 8 level registers, loaded once
 * per unit and shared by the 4 tokens, and 4 float accumulators.
 *
 * Float weights (F32, F16, BF16) take float32 activations and a float32
 * panel (see below); they match the float reference within rounding.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/kscales.h"
#include "kernels/packed.h"
#include "kernels/x86/x86.h"
#include "quant/blocks.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#endif

#define PR SLM_GEMM_ROWS /* rows of a panel (16: one per int32 lane) */

SLM_INLINE float f16(uint16_t h) { return _cvtsh_ss(h); }

/* ======================================================================== */
/* Unpacking one row: 32 unsigned levels per unit, scales and mins           */
/* ======================================================================== */

/* What a type needs from the packer and the kernel. */
typedef struct {
    int sb;         /* sub-block size: 32 or 16 */
    int z;          /* level offset (0: none) */
    int has_min;    /* dmin * m_j terms (K-quants) */
    int q8_1;       /* Q4_1 / Q5_1: min times Q8_1's s */
    int kquant;     /* activations are Q8_K (super-blocks of 256) */
} gemm_kind;

/* 16 bytes of nibbles -> 32 levels: byte j low nibble -> j, high -> j + 16 */
SLM_INLINE __m256i nibbles32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/* The 32 bits of qh as bytes: byte j = 0x10 if bit j is set, else 0. */
SLM_INLINE __m256i bit4_bytes(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    return _mm256_maskz_set1_epi8((__mmask32)h, 0x10);
}

/* Row `row` (n values) of a type: levels into lv (n bytes), per sub-block
 * scale and min into sc, mn (n / kind.sb floats). One function per type. */
static void unpack_q4_0(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q4_0 *a = (const block_q4_0 *)row;
    for (int64_t i = 0; i < n / 32; i++) {
        _mm256_storeu_si256((__m256i *)(lv + 32 * i), nibbles32(a[i].qs));
        sc[i] = f16(a[i].d);
        mn[i] = 0;
    }
}
static void unpack_q5_0(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q5_0 *a = (const block_q5_0 *)row;
    for (int64_t i = 0; i < n / 32; i++) {
        _mm256_storeu_si256((__m256i *)(lv + 32 * i), _mm256_or_si256(nibbles32(a[i].qs), bit4_bytes(a[i].qh)));
        sc[i] = f16(a[i].d);
        mn[i] = 0;
    }
}
static void unpack_q8_0(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q8_0 *a = (const block_q8_0 *)row;
    for (int64_t i = 0; i < n / 32; i++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)a[i].qs);
        _mm256_storeu_si256((__m256i *)(lv + 32 * i), _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        sc[i] = f16(a[i].d);
        mn[i] = 0;
    }
}
static void unpack_q4_1(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q4_1 *a = (const block_q4_1 *)row;
    for (int64_t i = 0; i < n / 32; i++) {
        _mm256_storeu_si256((__m256i *)(lv + 32 * i), nibbles32(a[i].qs));
        sc[i] = f16(a[i].d);
        mn[i] = f16(a[i].m);
    }
}
static void unpack_q5_1(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q5_1 *a = (const block_q5_1 *)row;
    for (int64_t i = 0; i < n / 32; i++) {
        _mm256_storeu_si256((__m256i *)(lv + 32 * i), _mm256_or_si256(nibbles32(a[i].qs), bit4_bytes(a[i].qh)));
        sc[i] = f16(a[i].d);
        mn[i] = f16(a[i].m);
    }
}

/* Q4_K / Q5_K: unit u of a super-block is sub-block u: nibbles (u odd: high)
 * of qs[32 (u/2) ..], Q5_K's fifth bit is bit u of qh[l]. */
SLM_INLINE void unpack_q45_K(const uint8_t *row, int64_t n, size_t block_bytes, int has_qh, uint8_t *lv, float *sc,
                             float *mn) {
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = row + (size_t)i * block_bytes;
        uint16_t d16, m16;
        memcpy(&d16, blk, 2);
        memcpy(&m16, blk + 2, 2);
        const float d = f16(d16), dmin = f16(m16);
        uint8_t s[8], m[8];
        slm_unpack_k4_scales(blk + 4, s, m);
        const uint8_t *qh = blk + 16, *qs = blk + (has_qh ? 48 : 16);
        const __m256i hbits = has_qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        for (int u = 0; u < 8; u++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * (u / 2)));
            __m256i l = _mm256_and_si256(u & 1 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(15));
            if (has_qh) {
                const __mmask32 hb = _mm256_test_epi8_mask(hbits, _mm256_set1_epi8((char)(1 << u)));
                l = _mm256_or_si256(l, _mm256_maskz_set1_epi8(hb, 0x10));
            }
            _mm256_storeu_si256((__m256i *)(lv + (size_t)i * QK_K + 32 * u), l);
            sc[i * 8 + u] = d * (float)s[u];
            mn[i * 8 + u] = dmin * (float)m[u];
        }
    }
}
static void unpack_q4_K(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    unpack_q45_K(row, n, sizeof(block_q4_K), 0, lv, sc, mn);
}
static void unpack_q5_K(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    unpack_q45_K(row, n, sizeof(block_q5_K), 1, lv, sc, mn);
}

/* Q6_K: unit u = 4h + k holds values 128h + 32k + l, l < 32 (ref layout). */
static void unpack_q6_K(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q6_K *a = (const block_q6_K *)row;
    const __m256i m15 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = f16(a[i].d);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
            for (int k = 0; k < 4; k++) {
                const __m256i ql = k & 1 ? ql1 : ql0;
                const __m256i lo = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), m15);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3);
                _mm256_storeu_si256((__m256i *)(lv + (size_t)i * QK_K + 128 * h + 32 * k),
                                    _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
            }
        }
        for (int j = 0; j < 16; j++) {
            sc[i * 16 + j] = d * (float)a[i].scales[j];
            mn[i * 16 + j] = 0;
        }
    }
}

/* Q3_K / Q2_K: unit u = 4h + s holds values 128h + 32s + l: 2-bit field s of
 * qs[32h + l] (Q3_K: | hmask bit 4h + s of hmask[l], << 2). */
static void unpack_q3_K(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q3_K *a = (const block_q3_K *)row;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = f16(a[i].d);
        int8_t s[16];
        slm_unpack_q3k_scales(a[i].scales, s);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int f = 0; f < 4; f++) {
                const __m256i l2 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * f), _mm256_set1_epi8(3));
                const __mmask32 hb = _mm256_test_epi8_mask(hm, _mm256_set1_epi8((char)(1 << (4 * h + f))));
                _mm256_storeu_si256((__m256i *)(lv + (size_t)i * QK_K + 128 * h + 32 * f),
                                    _mm256_or_si256(l2, _mm256_maskz_set1_epi8(hb, 4)));
            }
        }
        for (int j = 0; j < 16; j++) {
            sc[i * 16 + j] = d * (float)s[j];
            mn[i * 16 + j] = 0;
        }
    }
}
static void unpack_q2_K(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn) {
    const block_q2_K *a = (const block_q2_K *)row;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = f16(a[i].d), dmin = f16(a[i].dmin);
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int f = 0; f < 4; f++)
                _mm256_storeu_si256((__m256i *)(lv + (size_t)i * QK_K + 128 * h + 32 * f),
                                    _mm256_and_si256(_mm256_srli_epi16(q, 2 * f), _mm256_set1_epi8(3)));
        }
        for (int j = 0; j < 16; j++) {
            sc[i * 16 + j] = d * (float)(a[i].scales[j] & 15);
            mn[i * 16 + j] = dmin * (float)(a[i].scales[j] >> 4);
        }
    }
}

typedef void (*unpack_fn)(const uint8_t *row, int64_t n, uint8_t *lv, float *sc, float *mn);

/* ======================================================================== */
/* Packing a panel of 16 rows                                                */
/* ======================================================================== */

/* Scratch of one gemm call (slm_gemm_scratch_size): */
typedef struct {
    uint8_t *rows;  /* (16, n) levels, row-major, while unpacking */
    float *rsc;     /* (16, n / sb) scales, row-major */
    float *rmn;     /* (16, n / sb) mins */
    uint8_t *panel; /* (n / 32, 8, 16, 4) levels, interleaved */
    float *psc;     /* (n / sb, 16) scales of the panel */
    float *pmn;     /* (n / sb, 16) mins */
    float *dy;      /* (nx, n / block) activation scales */
    float *aux;     /* (nx, n / sb) per sub-block: B (min types), s (Q8_1) */
    int32_t *zb;    /* (nx, n / sb) z * B (offset types) */
} gemm_scratch;

static void pack_panel(unpack_fn unpack, const gemm_kind *k, int64_t n, const uint8_t *w, size_t ws, int nr,
                       gemm_scratch *s) {
    const int64_t nsb = n / k->sb;
    for (int r = 0; r < PR; r++) {
        if (r < nr) {
            unpack(w + (size_t)r * ws, n, s->rows + (size_t)r * n, s->rsc + (size_t)r * nsb, s->rmn + (size_t)r * nsb);
        } else { /* padding rows: zero levels and scales, results discarded */
            memset(s->rows + (size_t)r * n, 0, (size_t)n);
            memset(s->rsc + (size_t)r * nsb, 0, (size_t)nsb * sizeof(float));
            memset(s->rmn + (size_t)r * nsb, 0, (size_t)nsb * sizeof(float));
        }
    }
    /* levels: dword g of unit u of row r -> panel[u][g][r] */
    const __m512i rowidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                              _mm512_set1_epi32((int)(n / 4)));
    for (int64_t u = 0; u < n / 32; u++) {
        const int32_t *base = (const int32_t *)(const void *)(s->rows + 32 * u);
        for (int g = 0; g < 8; g++)
            _mm512_storeu_si512((void *)(s->panel + ((size_t)u * 8 + (size_t)g) * 64),
                                _mm512_i32gather_epi32(_mm512_add_epi32(rowidx, _mm512_set1_epi32(g)), base, 4));
    }
    const __m512i sbidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32((int)nsb));
    for (int64_t j = 0; j < nsb; j++) {
        const __m512i idx = _mm512_add_epi32(sbidx, _mm512_set1_epi32((int)j));
        _mm512_storeu_ps(s->psc + (size_t)j * PR, _mm512_i32gather_ps(idx, s->rsc, 4));
        _mm512_storeu_ps(s->pmn + (size_t)j * PR, _mm512_i32gather_ps(idx, s->rmn, 4));
    }
}

/* ======================================================================== */
/* Activations: scales and sums per token                                    */
/* ======================================================================== */

/* Sum of 32 signed bytes. */
SLM_INLINE int sum32(const int8_t *y) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)y);
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), v);
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(t);
}

static void prepare_acts(const gemm_kind *k, int64_t n, const uint8_t *x, size_t xs, int64_t nx, gemm_scratch *s) {
    const int64_t nsb = n / k->sb;
    for (int64_t t = 0; t < nx; t++) {
        const uint8_t *row = x + (size_t)t * xs;
        float *dy = s->dy + (size_t)t * (n / (k->kquant ? QK_K : 32));
        float *aux = s->aux + (size_t)t * nsb;
        int32_t *zb = s->zb + (size_t)t * nsb;
        if (!k->kquant) {
            for (int64_t b = 0; b < n / 32; b++) {
                if (k->q8_1) {
                    const block_q8_1 *y = (const block_q8_1 *)row + b;
                    dy[b] = f16(y->d);
                    aux[b] = f16(y->s);
                    zb[b] = 0;
                } else {
                    const block_q8_0 *y = (const block_q8_0 *)row + b;
                    dy[b] = f16(y->d);
                    zb[b] = k->z * sum32(y->qs);
                    aux[b] = 0;
                }
            }
            continue;
        }
        for (int64_t b = 0; b < n / QK_K; b++) {
            const block_q8_K *y = (const block_q8_K *)row + b;
            dy[b] = y->d;
            for (int j = 0; j < QK_K / k->sb; j++) {
                const int bsum = k->sb == 16 ? y->bsums[j] : y->bsums[2 * j] + y->bsums[2 * j + 1];
                aux[b * (QK_K / k->sb) + j] = (float)bsum;
                zb[b * (QK_K / k->sb) + j] = k->z * bsum;
            }
        }
    }
}

/* ======================================================================== */
/* The microkernel: one panel x NT tokens                                    */
/* ======================================================================== */

/* Activation row of token t as bytes; the levels of unit u start at
 * ybase(t) + unit_off(u). */
SLM_INLINE const int8_t *act_levels(const gemm_kind *k, const uint8_t *x, size_t xs, int64_t t, int64_t u) {
    const uint8_t *row = x + (size_t)t * xs;
    if (k->kquant) return ((const block_q8_K *)row)[u / 8].qs + 32 * (u % 8);
    if (k->q8_1) return ((const block_q8_1 *)row)[u].qs;
    return ((const block_q8_0 *)row)[u].qs;
}

SLM_INLINE __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* S + the dots of levels lv[g0 .. g0+ng) with the activation bytes y[4g ..
 * 4g+3] broadcast (VPDPBUSD with an embedded broadcast load). */
SLM_INLINE __m512i dot_groups(__m512i S, const __m512i *lv, const int8_t *y, const int g0, const int ng) {
    _Pragma("GCC unroll 8") for (int g = g0; g < g0 + ng; g++) S = _mm512_dpbusd_epi32(S, lv[g], bcast4(y + 4 * g));
    return S;
}

/* Tokens t0 .. t0+NT-1 over the panel in s; SB, Z, MIN, Q81, KQ are the
 * kind's fields as constants (one instantiation per type and NT). */
SLM_INLINE void panel_tokens(const int SB, const int Z, const int MIN, const int Q81, const int KQ, int64_t n,
                             const gemm_scratch *s, const uint8_t *x, size_t xs, int64_t t0, const int NT, float *out,
                             size_t os, int nr) {
    const gemm_kind kd = {SB, Z, MIN, Q81, KQ};
    __m512 acc[4], blk[4];
    SLM_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    const int64_t nsb = n / SB, nblk = n / (KQ ? QK_K : 32);
    const int units_per_blk = KQ ? 8 : 1;
    const float *dy[4], *aux[4];
    const int32_t *zb[4];
    SLM_UNROLL for (int t = 0; t < NT; t++) {
        dy[t] = s->dy + (size_t)(t0 + t) * nblk;
        aux[t] = s->aux + (size_t)(t0 + t) * nsb;
        zb[t] = s->zb + (size_t)(t0 + t) * nsb;
    }
    for (int64_t b = 0; b < nblk; b++) {
        SLM_UNROLL for (int t = 0; t < NT; t++) blk[t] = _mm512_setzero_ps();
        for (int uu = 0; uu < units_per_blk; uu++) {
            const int64_t u = b * units_per_blk + uu;
            const __m512i *pl = (const __m512i *)(const void *)(s->panel + (size_t)u * 512);
            __m512i lv[8];
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) lv[g] = _mm512_load_si512((const void *)(pl + g));
            for (int half = 0; half < (SB == 16 ? 2 : 1); half++) {
                const int64_t j = SB == 16 ? 2 * u + half : u; /* sub-block, also the per-token index */
                const __m512 scv = _mm512_load_ps(s->psc + (size_t)j * PR);
                __m512i S[4];
                SLM_UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *y = act_levels(&kd, x, xs, t0 + t, u);
                    S[t] = dot_groups(_mm512_setzero_si512(), lv, y, SB == 16 ? 4 * half : 0, SB == 16 ? 4 : 8);
                }
                SLM_UNROLL for (int t = 0; t < NT; t++) {
                    if (Z) S[t] = _mm512_sub_epi32(S[t], _mm512_set1_epi32(zb[t][j]));
                    const __m512 f = _mm512_cvtepi32_ps(S[t]);
                    if (!KQ) {
                        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(scv, _mm512_set1_ps(dy[t][b])), f, acc[t]);
                        if (Q81)
                            acc[t] = _mm512_fmadd_ps(_mm512_load_ps(s->pmn + (size_t)j * PR), _mm512_set1_ps(aux[t][j]),
                                                     acc[t]);
                    } else {
                        blk[t] = _mm512_fmadd_ps(scv, f, blk[t]);
                        if (MIN)
                            blk[t] = _mm512_fnmadd_ps(_mm512_load_ps(s->pmn + (size_t)j * PR), _mm512_set1_ps(aux[t][j]),
                                                      blk[t]);
                    }
                }
            }
        }
        if (KQ) SLM_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(dy[t][b]), blk[t], acc[t]);
    }
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
    SLM_UNROLL for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(out + (size_t)t * os, m, acc[t]);
}

/* From packed groups (kernels/packed.h) the panel is built directly: the
 * groups already hold 4 bytes of each of the 16 rows per 64 bytes, in the
 * panel's order, so only levels are unpacked and scales converted. */
typedef void (*panel_fn)(int64_t n, const uint8_t *group, gemm_scratch *s);

SLM_INLINE void gemm_run(unpack_fn unpack, panel_fn from_group, const int SB, const int Z, const int MIN,
                         const int Q81, const int KQ, int64_t n, const uint8_t *w, size_t ws, int64_t nr,
                         const uint8_t *x, size_t xs, int64_t nx, float *out, size_t os, void *scratch) {
    const gemm_kind kd = {SB, Z, MIN, Q81, KQ}, *k = &kd;
    gemm_scratch s;
    const int64_t nsb = n / k->sb;
    uint8_t *p = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    s.panel = p, p += (size_t)n * PR;
    s.rows = p, p += (size_t)n * PR;
    s.rsc = (float *)(void *)p, p += (size_t)nsb * PR * sizeof(float);
    s.rmn = (float *)(void *)p, p += (size_t)nsb * PR * sizeof(float);
    s.psc = (float *)(void *)p, p += (size_t)nsb * PR * sizeof(float);
    s.pmn = (float *)(void *)p, p += (size_t)nsb * PR * sizeof(float);
    s.dy = (float *)(void *)p, p += (size_t)nx * (n / 32) * sizeof(float);
    s.aux = (float *)(void *)p, p += (size_t)nx * nsb * sizeof(float);
    s.zb = (int32_t *)(void *)p;
    prepare_acts(k, n, x, xs, nx, &s);
    for (int64_t r0 = 0; r0 < nr; r0 += PR) {
        const int rows = (int)(nr - r0 < PR ? nr - r0 : PR);
        if (from_group) from_group(n, w + (size_t)r0 * ws, &s); /* r0: a multiple of 16, a whole group */
        else pack_panel(unpack, k, n, w + (size_t)r0 * ws, ws, rows, &s);
        int64_t t = 0;
#define PANEL(NT) panel_tokens(SB, Z, MIN, Q81, KQ, n, &s, x, xs, t, NT, out + (size_t)t * os + r0, os, rows)
        for (; t + 4 <= nx; t += 4) PANEL(4);
        switch (nx - t) {
        case 3: PANEL(3); break;
        case 2: PANEL(2); break;
        case 1: PANEL(1); break;
        default: break;
        }
#undef PANEL
    }
}

/* ======================================================================== */
/* Float weights (F32, F16, BF16) against float32 activations                */
/* ======================================================================== */

/*
 * The panel is float32, (n, 16): value k of the 16 rows in one register, so
 * that FMAs with x[t][k] broadcast from memory accumulate the 16 rows of 8
 * tokens in 8 registers (one panel load per 8 FMAs). Packing gathers the
 * 16 rows' dwords at k (F32), or at k, k+1 (F16, BF16: two halves per
 * dword, split and widened).
 */
#define FNT 8 /* tokens per float microkernel call */

SLM_INLINE void pack_float(const int type, int64_t n, const uint8_t *w, size_t ws, int nr, float *panel) {
    /* rows past nr repeat row 0 (their results are discarded) */
    const __m512i rows = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i idx = _mm512_mullo_epi32(_mm512_mask_blend_epi32((__mmask16)((1u << nr) - 1), _mm512_setzero_si512(), rows),
                                           _mm512_set1_epi32((int)(ws / 4)));
    if (type == SLM_TYPE_F32) {
        for (int64_t k = 0; k < n; k++)
            _mm512_store_ps(panel + k * PR, _mm512_i32gather_ps(idx, (const float *)(const void *)w + k, 4));
        return;
    }
    int64_t k = 0;
    for (; k + 2 <= n; k += 2) {
        const __m512i d = _mm512_i32gather_epi32(idx, (const int32_t *)(const void *)(w + 2 * k), 4);
        const __m256i h0 = _mm512_cvtepi32_epi16(d), h1 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(d, 16));
        if (type == SLM_TYPE_F16) {
            _mm512_store_ps(panel + k * PR, _mm512_cvtph_ps(h0));
            _mm512_store_ps(panel + (k + 1) * PR, _mm512_cvtph_ps(h1));
        } else {
            _mm512_store_ps(panel + k * PR, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h0), 16)));
            _mm512_store_ps(panel + (k + 1) * PR, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h1), 16)));
        }
    }
    for (; k < n; k++) /* odd n: the last value one row at a time */
        for (int r = 0; r < PR; r++) {
            uint16_t h;
            memcpy(&h, w + (size_t)(r < nr ? r : 0) * ws + 2 * k, 2);
            panel[k * PR + r] = type == SLM_TYPE_F16 ? f16(h) : slm_bf16_to_fp32(h);
        }
}

SLM_INLINE void float_tokens(int64_t n, const float *panel, const uint8_t *x, size_t xs, int64_t t0, const int NT,
                             float *out, size_t os, int nr) {
    __m512 acc[FNT];
    const float *xt[FNT];
    SLM_UNROLL for (int t = 0; t < NT; t++) {
        acc[t] = _mm512_setzero_ps();
        xt[t] = (const float *)(const void *)(x + (size_t)(t0 + t) * xs);
    }
    for (int64_t k = 0; k < n; k++) {
        const __m512 wk = _mm512_load_ps(panel + k * PR);
        _Pragma("GCC unroll 8") for (int t = 0; t < NT; t++) acc[t] = _mm512_fmadd_ps(wk, _mm512_set1_ps(xt[t][k]), acc[t]);
    }
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
    SLM_UNROLL for (int t = 0; t < NT; t++) _mm512_mask_storeu_ps(out + (size_t)t * os, m, acc[t]);
}

SLM_INLINE void gemm_float(const int type, int64_t n, const uint8_t *w, size_t ws, int64_t nr, const uint8_t *x,
                           size_t xs, int64_t nx, float *out, size_t os, void *scratch) {
    float *panel = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (int64_t r0 = 0; r0 < nr; r0 += PR) {
        const int rows = (int)(nr - r0 < PR ? nr - r0 : PR);
        pack_float(type, n, w + (size_t)r0 * ws, ws, rows, panel);
        int64_t t = 0;
#define FPANEL(NT) float_tokens(n, panel, x, xs, t, NT, out + (size_t)t * os + r0, os, rows)
        for (; t + FNT <= nx; t += FNT) FPANEL(FNT);
        switch (nx - t) {
        case 7: FPANEL(7); break;
        case 6: FPANEL(6); break;
        case 5: FPANEL(5); break;
        case 4: FPANEL(4); break;
        case 3: FPANEL(3); break;
        case 2: FPANEL(2); break;
        case 1: FPANEL(1); break;
        default: break;
        }
#undef FPANEL
    }
}

/* ======================================================================== */
/* The entries                                                               */
/* ======================================================================== */

#define GEMM_FLOAT_ENTRY(T, TYPE)                                                                                 \
    static void gemm_##T(int64_t n, const void *w, size_t ws, int64_t nr, const void *x, size_t xs, int64_t nx,   \
                         float *out, size_t os, void *scratch) {                                                  \
        gemm_float(TYPE, n, w, ws, nr, x, xs, nx, out, os, scratch);                                              \
    }
GEMM_FLOAT_ENTRY(f32, SLM_TYPE_F32)
GEMM_FLOAT_ENTRY(f16, SLM_TYPE_F16)
GEMM_FLOAT_ENTRY(bf16, SLM_TYPE_BF16)

#define GEMM_ENTRY(T, SB, Z, MIN, Q81, KQ)                                                                        \
    static void gemm_##T(int64_t n, const void *w, size_t ws, int64_t nr, const void *x, size_t xs, int64_t nx,   \
                         float *out, size_t os, void *scratch) {                                                  \
        gemm_run(unpack_##T, NULL, SB, Z, MIN, Q81, KQ, n, w, ws, nr, x, xs, nx, out, os, scratch);              \
    }
GEMM_ENTRY(q4_0, 32, 8, 0, 0, 0)
GEMM_ENTRY(q5_0, 32, 16, 0, 0, 0)
GEMM_ENTRY(q8_0, 32, 128, 0, 0, 0)
GEMM_ENTRY(q4_1, 32, 0, 0, 1, 0)
GEMM_ENTRY(q5_1, 32, 0, 0, 1, 0)
GEMM_ENTRY(q2_K, 16, 0, 1, 0, 1)
GEMM_ENTRY(q3_K, 16, 4, 0, 0, 1)
GEMM_ENTRY(q4_K, 32, 0, 1, 0, 1)
GEMM_ENTRY(q5_K, 32, 0, 1, 0, 1)
GEMM_ENTRY(q6_K, 16, 32, 0, 0, 1)

/* ======================================================================== */
/* Panels from packed groups (the gemm_packed entries)                       */
/* ======================================================================== */

#define PANEL_UNIT(s, u) ((__m512i *)(void *)((s)->panel + (size_t)(u) * 512))

static void panel_q4_0(int64_t n, const uint8_t *grp, gemm_scratch *s) {
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *c = grp + (size_t)b * PR * sizeof(block_q4_0);
        _mm512_storeu_ps(s->psc + (size_t)b * PR, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c)));
        _mm512_storeu_ps(s->pmn + (size_t)b * PR, _mm512_setzero_ps());
        __m512i *pl = PANEL_UNIT(s, b);
        for (int k = 0; k < 4; k++) {
            const __m512i q = _mm512_loadu_si512(c + 32 + 64 * k);
            _mm512_store_si512(pl + k, _mm512_and_si512(q, m4));
            _mm512_store_si512(pl + 4 + k, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        }
    }
}

/* Q5_0: the fifth bits as in gemv_packed_avx512vnni.c (byte k / 2 and 2 +
 * k / 2 of each row's qh word spread over its 4 bytes, bit j picked). */
static void panel_q5_0(int64_t n, const uint8_t *grp, gemm_scratch *s) {
    const __m512i m4 = _mm512_set1_epi8(15), b16 = _mm512_set1_epi8(16);
    const __m512i bits[2] = {_mm512_set1_epi32(0x08040201), _mm512_set1_epi32((int)0x80402010u)};
    const __m512i lane = _mm512_set_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0, 0x0c0c0c0c, 0x08080808, 0x04040404, 0,
                                          0x0c0c0c0c, 0x08080808, 0x04040404, 0, 0x0c0c0c0c, 0x08080808, 0x04040404, 0);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *c = grp + (size_t)b * PR * sizeof(block_q5_0);
        _mm512_storeu_ps(s->psc + (size_t)b * PR, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c)));
        _mm512_storeu_ps(s->pmn + (size_t)b * PR, _mm512_setzero_ps());
        const __m512i qh = _mm512_loadu_si512(c + 32);
        __m512i *pl = PANEL_UNIT(s, b);
        for (int k = 0; k < 4; k++) {
            const __m512i q = _mm512_loadu_si512(c + 96 + 64 * k);
            const __m512i il = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(0x01010101u * (uint32_t)(k / 2))));
            const __m512i ih = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(0x01010101u * (uint32_t)(2 + k / 2))));
            const __mmask64 ml = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, il), bits[k % 2]);
            const __mmask64 mh = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, ih), bits[k % 2]);
            const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            _mm512_store_si512(pl + k, _mm512_mask_add_epi8(lo, ml, lo, b16));
            _mm512_store_si512(pl + 4 + k, _mm512_mask_add_epi8(hi, mh, hi, b16));
        }
    }
}

static void panel_q8_0(int64_t n, const uint8_t *grp, gemm_scratch *s) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *c = grp + (size_t)b * PR * sizeof(block_q8_0);
        _mm512_storeu_ps(s->psc + (size_t)b * PR, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c)));
        _mm512_storeu_ps(s->pmn + (size_t)b * PR, _mm512_setzero_ps());
        __m512i *pl = PANEL_UNIT(s, b);
        for (int k = 0; k < 8; k++) _mm512_store_si512(pl + k, _mm512_xor_si512(_mm512_loadu_si512(c + 32 + 64 * k), flip));
    }
}

/* Q4_K: unit 2c is the low nibbles of packed chunk c, unit 2c + 1 the high;
 * scales and mins decoded lane-wise as in gemv_packed_avx512vnni.c. */
static void panel_q4_K(int64_t n, const uint8_t *grp, gemm_scratch *s) {
    const __m512i m4 = _mm512_set1_epi8(15), m6 = _mm512_set1_epi32(0x3f3f3f3f), m2 = _mm512_set1_epi32(0x03030303),
                  m4w = _mm512_set1_epi32(0x0f0f0f0f), m8 = _mm512_set1_epi32(0xff);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *c = grp + (size_t)i * PR * sizeof(block_q4_K);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c));
        const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + 32)));
        const __m512i w0 = _mm512_loadu_si512(c + 64), w1 = _mm512_loadu_si512(c + 128), w2 = _mm512_loadu_si512(c + 192);
        __m512i o[4];
        o[0] = _mm512_and_si512(w0, m6);
        o[1] = _mm512_or_si512(_mm512_and_si512(w2, m4w), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w0, 6), m2), 4));
        o[2] = _mm512_and_si512(w1, m6);
        o[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w2, 4), m4w),
                               _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w1, 6), m2), 4));
        for (int j = 0; j < 8; j++) {
            const __m512i sc = _mm512_and_si512(_mm512_srli_epi32(o[j / 4], 8 * (j % 4)), m8);
            const __m512i mn = _mm512_and_si512(_mm512_srli_epi32(o[2 + j / 4], 8 * (j % 4)), m8);
            _mm512_storeu_ps(s->psc + (size_t)(8 * i + j) * PR, _mm512_mul_ps(dw, _mm512_cvtepi32_ps(sc)));
            _mm512_storeu_ps(s->pmn + (size_t)(8 * i + j) * PR, _mm512_mul_ps(dmw, _mm512_cvtepi32_ps(mn)));
        }
        for (int ch = 0; ch < 4; ch++) {
            __m512i *lo = PANEL_UNIT(s, 8 * i + 2 * ch), *hi = PANEL_UNIT(s, 8 * i + 2 * ch + 1);
            for (int k = 0; k < 8; k++) {
                const __m512i q = _mm512_loadu_si512(c + 256 + (size_t)ch * 512 + 64 * k);
                _mm512_store_si512(lo + k, _mm512_and_si512(q, m4));
                _mm512_store_si512(hi + k, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
            }
        }
    }
}

/* Q6_K: unit 4h + kk (values 128h + 32kk ..) register g is, for kk < 2, the
 * low nibbles of ql dword 8kk + g of half h, for kk >= 2 the high nibbles of
 * dword 8(kk - 2) + g, with qh dword g's bits 2kk, 2kk + 1 on top. */
static void panel_q6_K(int64_t n, const uint8_t *grp, gemm_scratch *s) {
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *c = grp + (size_t)i * PR * sizeof(block_q6_K), *wd = c + 32;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c));
        for (int j = 0; j < 16; j++) {
            const __m512i sw = _mm512_loadu_si512(wd + 64 * (48 + j / 4));
            const __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(sw, 24 - 8 * (j % 4)), 24);
            _mm512_storeu_ps(s->psc + (size_t)(16 * i + j) * PR, _mm512_mul_ps(dw, _mm512_cvtepi32_ps(sc)));
            _mm512_storeu_ps(s->pmn + (size_t)(16 * i + j) * PR, _mm512_setzero_ps());
        }
        for (int h = 0; h < 2; h++)
            for (int kk = 0; kk < 4; kk++) {
                __m512i *pl = PANEL_UNIT(s, 8 * i + 4 * h + kk);
                for (int g = 0; g < 8; g++) {
                    const __m512i ql = _mm512_loadu_si512(wd + 64 * (16 * h + 8 * (kk & 1) + g));
                    const __m512i qh = _mm512_loadu_si512(wd + 64 * (32 + 8 * h + g));
                    const __m512i nib = kk < 2 ? _mm512_and_si512(ql, m4) : _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
                    /* qh bits 2kk, 2kk + 1 to bits 4, 5 */
                    const __m512i hb = kk < 2 ? _mm512_slli_epi16(qh, 4 - 2 * kk) : _mm512_srli_epi16(qh, 2 * kk - 4);
                    _mm512_store_si512(pl + g, _mm512_or_si512(nib, _mm512_and_si512(hb, m30)));
                }
            }
    }
}

#define GEMM_PACKED_ENTRY(T, SB, Z, MIN, Q81, KQ)                                                                  \
    static void gemm_packed_##T(int64_t n, const void *w, size_t ws, int64_t nr, const void *x, size_t xs,        \
                                int64_t nx, float *out, size_t os, void *scratch) {                                \
        gemm_run(NULL, panel_##T, SB, Z, MIN, Q81, KQ, n, w, ws, nr, x, xs, nx, out, os, scratch);                 \
    }
GEMM_PACKED_ENTRY(q4_0, 32, 8, 0, 0, 0)
GEMM_PACKED_ENTRY(q5_0, 32, 16, 0, 0, 0)
GEMM_PACKED_ENTRY(q8_0, 32, 128, 0, 0, 0)
GEMM_PACKED_ENTRY(q4_K, 32, 0, 1, 0, 1)
GEMM_PACKED_ENTRY(q6_K, 16, 32, 0, 0, 1)

void slm_avx512vnni_set_gemm(slm_kernel_table *t) {
    t->gemm[SLM_TYPE_F32] = gemm_f32;
    t->gemm[SLM_TYPE_F16] = gemm_f16;
    t->gemm[SLM_TYPE_BF16] = gemm_bf16;
    t->gemm[SLM_TYPE_Q4_0] = gemm_q4_0;
    t->gemm[SLM_TYPE_Q5_0] = gemm_q5_0;
    t->gemm[SLM_TYPE_Q8_0] = gemm_q8_0;
    t->gemm[SLM_TYPE_Q4_1] = gemm_q4_1;
    t->gemm[SLM_TYPE_Q5_1] = gemm_q5_1;
    t->gemm[SLM_TYPE_Q2_K] = gemm_q2_K;
    t->gemm[SLM_TYPE_Q3_K] = gemm_q3_K;
    t->gemm[SLM_TYPE_Q4_K] = gemm_q4_K;
    t->gemm[SLM_TYPE_Q5_K] = gemm_q5_K;
    t->gemm[SLM_TYPE_Q6_K] = gemm_q6_K;
    t->gemm_packed[SLM_TYPE_Q4_0] = gemm_packed_q4_0;
    t->gemm_packed[SLM_TYPE_Q5_0] = gemm_packed_q5_0;
    t->gemm_packed[SLM_TYPE_Q8_0] = gemm_packed_q8_0;
    t->gemm_packed[SLM_TYPE_Q4_K] = gemm_packed_q4_K;
    t->gemm_packed[SLM_TYPE_Q6_K] = gemm_packed_q6_K;
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif /* __x86_64__ */
