/*
 * kernels_avx512_impl.h — the body of the AVX-512 kernel tables, compiled
 * twice: by kernels_avx512.c (AVX-512 F/BW/VL/DQ) as the "avx512" table and
 * by kernels_avx512vnni.c (the same plus VNNI) as "avx512vnni". The includer
 * defines, before including it:
 *   AVX512_TABLE_NAME   the table's name
 *   AVX512_BUILD        the builder function's name
 *   AVX512_VNNI         1 to use vpdpbusd for unsigned x signed byte dots
 *
 * What the kernels compute is documented in kernels_avx2.c and
 * ref/kernels_ref_int.c; they must match the same references. Layout of the
 * work in 512-bit registers:
 *   - float weights: 32 values per step (two accumulators), masked tail;
 *     true tiles of 2 weight rows x up to 4 activation rows;
 *   - legacy blocks: two 32-value blocks per register, so each dot is one
 *     64-byte multiply-add (the signed types use |w| and move w's sign onto
 *     the activations with a masked subtract, as AVX-512 has no vpsignb);
 *     an odd last block runs with a zero second half; true 2 x 4 tiles, so
 *     that an activation pair and its scales are loaded once per 2 rows;
 *   - K-quants: 64 values per register; sub-block scales as int16 vectors
 *     (vpmaddwd), mins and level offsets through bsums, as in AVX2; tiles
 *     row by row (each row still shares its unpacking among 4 activations).
 * Activation quantizers are the AVX2 ones (x86.h), which are exact.
 */
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/kscales.h"
#include "kernels/x86/x86.h"
#include "quant/blocks.h"

/* The ISA is also set here (see kernels_avx2.c for why). */
#if defined(__clang__) && AVX512_VNNI
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), \
                             apply_to = function)
#elif defined(__GNUC__) && AVX512_VNNI
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#endif

const slm_kernel_table *slm_kernels_ref_int_build(void);

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

SLM_INLINE float f16(uint16_t h) { return _cvtsh_ss(h); }

/* Two fp16 values as floats in lanes 0 and 1 of a 128-bit vector (2, 3 zero). */
SLM_INLINE __m128 f16x2(uint16_t a, uint16_t b) {
    return _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(a), b, 1));
}

/* Lane 0 of v in the low 8 float lanes, lane 1 in the high 8. */
SLM_INLINE __m512 spread2(__m128 v) {
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

SLM_INLINE float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* acc + sum over each 4 bytes of u*s (u unsigned, s signed), int32 lanes */
SLM_INLINE __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
#if AVX512_VNNI
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

SLM_INLINE __m512i join256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
SLM_INLINE __m512i zext256(__m256i lo) { return _mm512_inserti64x4(_mm512_setzero_si512(), lo, 0); }
SLM_INLINE __m512 zext256_ps(__m256 lo) { return _mm512_insertf32x8(_mm512_setzero_ps(), lo, 0); }

/* ======================================================================== */
/* Float weights                                                             */
/* ======================================================================== */

SLM_INLINE __m512 load16_f32(const void *w, int64_t i) { return _mm512_loadu_ps((const float *)w + i); }
SLM_INLINE __m512 load16_f16(const void *w, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
}
SLM_INLINE __m512 load16_bf16(const void *w, int64_t i) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
SLM_INLINE __m512 load16m_f32(const void *w, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, (const float *)w + i);
}
SLM_INLINE __m512 load16m_f16(const void *w, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i));
}
SLM_INLINE __m512 load16m_bf16(const void *w, int64_t i, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* A tile of nr weight rows x nx activation rows; 32 values per step in two
 * accumulators per pair, then 16, then a masked tail. */
#define FLOAT_TILE(T)                                                                                     \
    SLM_INLINE void T##_tile(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *out, \
                             size_t os, const int nr, const int nx) {                                     \
        __m512 a0[2][4], a1[2][4];                                                                        \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) a0[r][t] = a1[r][t] = _mm512_setzero_ps();            \
        }                                                                                                 \
        int64_t i = 0;                                                                                    \
        for (; i + 32 <= n; i += 32) {                                                                    \
            __m512 w0[2], w1[2];                                                                          \
            SLM_UNROLL for (int r = 0; r < nr; r++) {                                                     \
                w0[r] = load16_##T(w + (size_t)r * ws, i);                                                \
                w1[r] = load16_##T(w + (size_t)r * ws, i + 16);                                           \
            }                                                                                             \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                     \
                const float *xt = XROW(float, x, xs, t);                                                  \
                const __m512 x0 = _mm512_loadu_ps(xt + i), x1 = _mm512_loadu_ps(xt + i + 16);             \
                SLM_UNROLL for (int r = 0; r < nr; r++) {                                                 \
                    a0[r][t] = _mm512_fmadd_ps(w0[r], x0, a0[r][t]);                                      \
                    a1[r][t] = _mm512_fmadd_ps(w1[r], x1, a1[r][t]);                                      \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        if (i + 16 <= n) {                                                                                \
            SLM_UNROLL for (int r = 0; r < nr; r++) {                                                     \
                const __m512 w0 = load16_##T(w + (size_t)r * ws, i);                                      \
                SLM_UNROLL for (int t = 0; t < nx; t++) a0[r][t] =                                        \
                    _mm512_fmadd_ps(w0, _mm512_loadu_ps(XROW(float, x, xs, t) + i), a0[r][t]);            \
            }                                                                                             \
            i += 16;                                                                                      \
        }                                                                                                 \
        if (i < n) {                                                                                      \
            const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                         \
            SLM_UNROLL for (int r = 0; r < nr; r++) {                                                     \
                const __m512 w0 = load16m_##T(w + (size_t)r * ws, i, m);                                  \
                SLM_UNROLL for (int t = 0; t < nx; t++) a1[r][t] =                                        \
                    _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, XROW(float, x, xs, t) + i), a1[r][t]);   \
            }                                                                                             \
        }                                                                                                 \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os + r] =                             \
                _mm512_reduce_add_ps(_mm512_add_ps(a0[r][t], a1[r][t]));                                  \
        }                                                                                                 \
    }
FLOAT_TILE(f32)
FLOAT_TILE(f16)
FLOAT_TILE(bf16)
SLM_DEFINE_TILE_DOTS(f32, f32_tile)
SLM_DEFINE_TILE_DOTS(f16, f16_tile)
SLM_DEFINE_TILE_DOTS(bf16, bf16_tile)

static float dot_f32(int64_t n, const float *a, const float *b) { return vec_dot_f32(n, a, b); }

/* ======================================================================== */
/* Legacy blocks, two per register                                           */
/* ======================================================================== */

/* Levels of blocks a[0] and (if two) a[1]: [32 of a[0] | 32 of a[1] or 0]. */
SLM_INLINE __m512i nibbles64(const uint8_t *qs0, const uint8_t *qs1, const int two) {
    const __m128i q0 = _mm_loadu_si128((const __m128i *)qs0);
    const __m128i q1 = two ? _mm_loadu_si128((const __m128i *)qs1) : _mm_setzero_si128();
    const __m256i t = _mm256_set_m128i(q1, q0);
    __m512i z = join256(t, _mm256_srli_epi16(t, 4));           /* q0 q1 q0>>4 q1>>4 */
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)); /* q0 q0>>4 q1 q1>>4 */
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

SLM_INLINE __mmask64 qh_mask(const uint8_t *qh0, const uint8_t *qh1, const int two) {
    uint32_t h0, h1 = 0;
    memcpy(&h0, qh0, 4);
    if (two) memcpy(&h1, qh1, 4);
    return (__mmask64)h0 | (__mmask64)h1 << 32;
}

SLM_INLINE __m512i levels_q4_0(const block_q4_0 *a, const int two) {
    return _mm512_sub_epi8(nibbles64(a[0].qs, a[1].qs, two), _mm512_set1_epi8(8));
}
SLM_INLINE __m512i levels_q5_0(const block_q5_0 *a, const int two) {
    const __m512i z = nibbles64(a[0].qs, a[1].qs, two);
    const __mmask64 hi = qh_mask(a[0].qh, a[1].qh, two);
    return _mm512_mask_sub_epi8(z, (__mmask64)~hi, z, _mm512_set1_epi8(16)); /* q - 16 */
}
SLM_INLINE __m512i levels_q8_0(const block_q8_0 *a, const int two) {
    const __m256i q0 = _mm256_loadu_si256((const __m256i *)a[0].qs);
    return two ? join256(q0, _mm256_loadu_si256((const __m256i *)a[1].qs)) : zext256(q0);
}
SLM_INLINE __m512i levels_q4_1(const block_q4_1 *a, const int two) { return nibbles64(a[0].qs, a[1].qs, two); }
SLM_INLINE __m512i levels_q5_1(const block_q5_1 *a, const int two) {
    const __m512i z = nibbles64(a[0].qs, a[1].qs, two);
    return _mm512_mask_add_epi8(z, qh_mask(a[0].qh, a[1].qh, two), z, _mm512_set1_epi8(16));
}

/* Activation levels of blocks b[0], b[1] (Q8_0 and Q8_1 share the loads). */
SLM_INLINE __m512i act64(const int8_t *qs0, const int8_t *qs1, const int two) {
    const __m256i y0 = _mm256_loadu_si256((const __m256i *)qs0);
    return two ? join256(y0, _mm256_loadu_si256((const __m256i *)qs1)) : zext256(y0);
}

/* One step of a tile over blocks i, i+1 (two) or i alone. Per weight row:
 * levels (|w| and the sign mask) and scales; per activation row: its levels
 * and scales, shared by the weight rows. */
#define SIGNED_TILE(T)                                                                                    \
    SLM_INLINE void T##_step(const uint8_t *w, size_t ws, int64_t i, const uint8_t *x, size_t xs,        \
                             __m512 acc[2][4], const int nr, const int nx, const int two) {               \
        __m512i uq[2];                                                                                    \
        __mmask64 neg[2];                                                                                 \
        __m512 dw[2];                                                                                     \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            const block_##T *a = (const block_##T *)(w + (size_t)r * ws) + i;                             \
            const __m512i q = levels_##T(a, two);                                                         \
            uq[r] = _mm512_abs_epi8(q);                                                                   \
            neg[r] = _mm512_movepi8_mask(q);                                                              \
            dw[r] = spread2(f16x2(a[0].d, two ? a[1].d : 0));                                             \
        }                                                                                                 \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                         \
            const block_q8_0 *b = XROW(block_q8_0, x, xs, t) + i;                                         \
            const __m512i y = act64(b[0].qs, b[1].qs, two);                                               \
            const __m512 dy = spread2(f16x2(b[0].d, two ? b[1].d : 0));                                   \
            SLM_UNROLL for (int r = 0; r < nr; r++) {                                                     \
                const __m512i sy = _mm512_mask_sub_epi8(y, neg[r], _mm512_setzero_si512(), y);            \
                const __m512i p = dpbusd(_mm512_setzero_si512(), uq[r], sy);                              \
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[r], dy), acc[r][t]);  \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    SLM_INLINE void T##_tile(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *out, \
                             size_t os, const int nr, const int nx) {                                     \
        const int64_t nb = n / 32;                                                                        \
        __m512 acc[2][4];                                                                                 \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) acc[r][t] = _mm512_setzero_ps();                      \
        }                                                                                                 \
        int64_t i = 0;                                                                                    \
        for (; i + 2 <= nb; i += 2) T##_step(w, ws, i, x, xs, acc, nr, nx, 1);                            \
        if (i < nb) T##_step(w, ws, i, x, xs, acc, nr, nx, 0);                                            \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os + r] = _mm512_reduce_add_ps(acc[r][t]); \
        }                                                                                                 \
    }
SIGNED_TILE(q4_0)
SIGNED_TILE(q5_0)
SIGNED_TILE(q8_0)

/*
 * Q4_0 and Q5_0, four blocks (128 values) per step, for generation, where
 * the weights stream from memory and instructions per byte decide the speed
 * (the two-block step above costs ~30 per row and block pair, this one ~14
 * per row and four blocks; Q5_0, which Q4_K_M files use for the tensors
 * whose rows are not a multiple of 256, went from 14 to 17 GB/s on one
 * core). Within a group, values are taken in halves:
 *   W1 = the 4 blocks' low nibbles  (values 0..15 of each block), unsigned
 *   W2 = their high nibbles (values 16..31)
 *   (Q5_0: + 16 where the block's qh bit of that value is set)
 *   Y1, Y2 = the activation values that meet them
 * gathered from the 18-, 22- and 34-byte blocks with one word permute each.
 * The unsigned levels q meet signed activations y in VPDPBUSD; the level
 * offset z (q - z: Q4_0 8, Q5_0 16) is taken back exactly per int32 lane, as
 * z x the sum of the eight activation bytes the lane multiplied (C,
 * computed once per activation group and shared by the tile's rows). Per
 * lane: (S - C) * d_w * d_y, lane l of block l / 4.
 */
static const uint16_t g_leg4_idx[3][32] __attribute__((aligned(64))) = {
    /* activations, values 0..15 of blocks 0..3 from (x, x + 64) */
    {1, 2, 3, 4, 5, 6, 7, 8, 18, 19, 20, 21, 22, 23, 24, 25, 35, 36, 37, 38, 39, 40, 41, 42, 52, 53, 54, 55, 56, 57, 58, 59},
    /* activations, values 16..31 from (x + 8, x + 72) */
    {5, 6, 7, 8, 9, 10, 11, 12, 22, 23, 24, 25, 26, 27, 28, 29, 39, 40, 41, 42, 43, 44, 45, 46, 56, 57, 58, 59, 60, 61, 62, 63},
    /* activation scales, four lanes each: d of blocks 0..3 (words 0, 17, 34, 51 of x), in the high half */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 17, 17, 17, 34, 34, 34, 34, 51, 51, 51, 51},
};
/* Per weight type, from (p, p + 64): [0] the qs words of blocks 0..3,
 * [1] d of blocks 0..3, four lanes each, [2] (Q5_0) the qh words: low
 * halves of blocks 0..3, then high halves. */
static const uint16_t g_q40_idx[2][32] __attribute__((aligned(64))) = {
    {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 35},
    {0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27},
};
static const uint16_t g_q50_idx[3][32] __attribute__((aligned(64))) = {
    {3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 19, 20, 21, 25, 26, 27, 28, 29, 30, 31, 32, 36, 37, 38, 39, 40, 41, 42, 43},
    {0, 0, 0, 0, 11, 11, 11, 11, 22, 22, 22, 22, 33, 33, 33, 33},
    {1, 12, 23, 34, 2, 13, 24, 35},
};

/* One group of four blocks of nr weight rows (Q4_0: q5 = 0, Q5_0: q5 = 1)
 * against nx activation rows. */
SLM_INLINE void leg4_group(const uint8_t *w, size_t ws, int64_t g, const uint8_t *x, size_t xs, __m512 acc[2][4],
                           const int nr, const int nx, const int q5) {
    const uint16_t(*const widx)[32] = q5 ? g_q50_idx : g_q40_idx;
    const size_t wb = q5 ? 4 * sizeof(block_q5_0) : 4 * sizeof(block_q4_0); /* 88 or 72 bytes */
    const __mmask32 tail = q5 ? 0x0fff : 0x0f;                                /* the words past 64 */
    const __m512i iw = _mm512_load_si512((const void *)widx[0]), isw = _mm512_load_si512((const void *)widx[1]);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i w1[2], w2[2];
    __m512 dw[2];
    SLM_UNROLL for (int r = 0; r < nr; r++) {
        const uint8_t *p = w + (size_t)r * ws + (size_t)g * wb;
        const __m512i a = _mm512_loadu_si512((const void *)p), b = _mm512_maskz_loadu_epi16(tail, p + 64);
        const __m512i q = _mm512_permutex2var_epi16(a, iw, b);
        w1[r] = _mm512_and_si512(q, m4);
        w2[r] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        if (q5) {
            const __m128i h = _mm512_castsi512_si128(
                _mm512_permutex2var_epi16(a, _mm512_load_si512((const void *)widx[2]), b));
            const __m512i sixteen = _mm512_set1_epi8(16);
            w1[r] = _mm512_mask_add_epi8(w1[r], (__mmask64)_mm_cvtsi128_si64(h), w1[r], sixteen);
            w2[r] = _mm512_mask_add_epi8(w2[r], (__mmask64)_mm_extract_epi64(h, 1), w2[r], sixteen);
        }
        dw[r] = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(a, isw, b)));
    }
    const __m512i iy1 = _mm512_load_si512((const void *)g_leg4_idx[0]);
    const __m512i iy2 = _mm512_load_si512((const void *)g_leg4_idx[1]);
    const __m512i isy = _mm512_load_si512((const void *)g_leg4_idx[2]);
    SLM_UNROLL for (int t = 0; t < nx; t++) {
        const uint8_t *y = x + (size_t)t * xs + (size_t)g * 4 * sizeof(block_q8_0);
        const __m512i y0 = _mm512_loadu_si512((const void *)y), y64 = _mm512_loadu_si512((const void *)(y + 64));
        const __m512i y8 = _mm512_loadu_si512((const void *)(y + 8)), y72 = _mm512_loadu_si512((const void *)(y + 72));
        const __m512i y1 = _mm512_permutex2var_epi16(y0, iy1, y64), y2 = _mm512_permutex2var_epi16(y8, iy2, y72);
        const __m512 dy = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(_mm512_permutex2var_epi16(y0, isy, y64), 1));
        const __m512i ones = _mm512_set1_epi8(1);
        const __m512i c = _mm512_slli_epi32(dpbusd(dpbusd(_mm512_setzero_si512(), ones, y1), ones, y2), q5 ? 4 : 3);
        SLM_UNROLL for (int r = 0; r < nr; r++) {
            const __m512i sum = _mm512_sub_epi32(dpbusd(dpbusd(_mm512_setzero_si512(), w1[r], y1), w2[r], y2), c);
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw[r], dy), acc[r][t]);
        }
    }
}

/* Groups of four blocks, then the last 1..3 blocks with the two-block step. */
#define LEG4_TILE(T, Q5)                                                                                  \
    SLM_INLINE void T##_tile4(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *out, \
                              size_t os, const int nr, const int nx) {                                    \
        const int64_t nb = n / 32;                                                                        \
        __m512 acc[2][4];                                                                                 \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) acc[r][t] = _mm512_setzero_ps();                      \
        }                                                                                                 \
        int64_t i = 0;                                                                                    \
        for (; i + 4 <= nb; i += 4) leg4_group(w, ws, i / 4, x, xs, acc, nr, nx, Q5);                    \
        for (; i + 2 <= nb; i += 2) T##_step(w, ws, i, x, xs, acc, nr, nx, 1);                            \
        if (i < nb) T##_step(w, ws, i, x, xs, acc, nr, nx, 0);                                            \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os + r] = _mm512_reduce_add_ps(acc[r][t]); \
        }                                                                                                 \
    }
LEG4_TILE(q4_0, 0)
LEG4_TILE(q5_0, 1)
SLM_DEFINE_TILE_DOTS(q4_0, q4_0_tile4)
SLM_DEFINE_TILE_DOTS(q5_0, q5_0_tile4)
SLM_DEFINE_TILE_DOTS(q8_0, q8_0_tile)

/* Weights with a min: d dy sum q y + m * s_y (s_y of Q8_1). */
#define MIN_TILE(T)                                                                                       \
    SLM_INLINE void T##_step(const uint8_t *w, size_t ws, int64_t i, const uint8_t *x, size_t xs,        \
                             __m512 acc[2][4], __m128 accm[2][4], const int nr, const int nx, const int two) { \
        __m512i q[2];                                                                                     \
        __m512 dw[2];                                                                                     \
        __m128 mw[2];                                                                                     \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            const block_##T *a = (const block_##T *)(w + (size_t)r * ws) + i;                             \
            q[r] = levels_##T(a, two);                                                                    \
            dw[r] = spread2(f16x2(a[0].d, two ? a[1].d : 0));                                             \
            mw[r] = f16x2(a[0].m, two ? a[1].m : 0);                                                      \
        }                                                                                                 \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                         \
            const block_q8_1 *b = XROW(block_q8_1, x, xs, t) + i;                                         \
            const __m512i y = act64(b[0].qs, b[1].qs, two);                                               \
            const __m512 dy = spread2(f16x2(b[0].d, two ? b[1].d : 0));                                   \
            const __m128 sy = f16x2(b[0].s, two ? b[1].s : 0);                                            \
            SLM_UNROLL for (int r = 0; r < nr; r++) {                                                     \
                const __m512i p = dpbusd(_mm512_setzero_si512(), q[r], y);                                \
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[r], dy), acc[r][t]);  \
                accm[r][t] = _mm_fmadd_ps(mw[r], sy, accm[r][t]);                                         \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    SLM_INLINE void T##_tile(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *out, \
                             size_t os, const int nr, const int nx) {                                     \
        const int64_t nb = n / 32;                                                                        \
        __m512 acc[2][4];                                                                                 \
        __m128 accm[2][4];                                                                                \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                     \
                acc[r][t] = _mm512_setzero_ps();                                                          \
                accm[r][t] = _mm_setzero_ps();                                                            \
            }                                                                                             \
        }                                                                                                 \
        int64_t i = 0;                                                                                    \
        for (; i + 2 <= nb; i += 2) T##_step(w, ws, i, x, xs, acc, accm, nr, nx, 1);                      \
        if (i < nb) T##_step(w, ws, i, x, xs, acc, accm, nr, nx, 0);                                      \
        SLM_UNROLL for (int r = 0; r < nr; r++) {                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os + r] =                             \
                _mm512_reduce_add_ps(acc[r][t]) + hsum128(accm[r][t]);                                    \
        }                                                                                                 \
    }
MIN_TILE(q4_1)
MIN_TILE(q5_1)
SLM_DEFINE_TILE_DOTS(q4_1, q4_1_tile)
SLM_DEFINE_TILE_DOTS(q5_1, q5_1_tile)

/* ======================================================================== */
/* K-quants, 64 values per register                                          */
/* ======================================================================== */

/* vpermw indices: 16-value sub-blocks -> register k holds sub-blocks 4k..4k+3,
 * one per 128-bit lane; 32-value sub-blocks -> register c holds 2c, 2c+1. */
static const uint16_t g_idx16[4][32] __attribute__((aligned(64))) = {
#define IDX16(k)                                                                                          \
    {4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,     \
     4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2,       \
     4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3,       \
     4 * k + 3, 4 * k + 3}
    IDX16(0), IDX16(1), IDX16(2), IDX16(3)
#undef IDX16
};
static const uint16_t g_idx32[4][32] __attribute__((aligned(64))) = {
#define IDX32(c)                                                                                          \
    {2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, \
     2 * c, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1,           \
     2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1}
    IDX32(0), IDX32(1), IDX32(2), IDX32(3)
#undef IDX32
};
SLM_INLINE __m512i scales_of(__m512i s16, const uint16_t idx[32]) {
    return _mm512_permutexvar_epi16(_mm512_load_si512((const void *)idx), s16);
}

/* [bits 2s of q | bits 2s+2 of q] for the 32 bytes q: the 2-bit levels of
 * values 32s + l and 32(s+1) + l. */
SLM_INLINE __m512i field2x2(__m256i q, int s) {
    const __m512i z = join256(_mm256_srli_epi16(q, 2 * s), _mm256_srli_epi16(q, 2 * s + 2));
    return _mm512_and_si512(z, _mm512_set1_epi8(3));
}

/* The 64-bit mask of bits b and b+1 of the 32 bytes h (low and high half). */
SLM_INLINE __mmask64 bits2(__m256i h, int b) {
    const __mmask32 lo = _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << b)));
    const __mmask32 hi = _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << (b + 1))));
    return (__mmask64)lo | (__mmask64)hi << 32;
}

/* isum += levels . y, scaled per sub-block (VNNI: the multiply by the
 * scales and the add are one VPDPWSSD, the same exact int32 result) */
SLM_INLINE __m512i madd_scaled(__m512i isum, __m512i lv, __m512i y, __m512i sc) {
#if AVX512_VNNI
    return _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(lv, y), sc);
#else
    return _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(lv, y), sc));
#endif
}

SLM_INLINE void q2_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q2_K *a = w;
    __m512 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(15)));
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(15)));
        const __m512i s512 = zext256(sc16);
        const float dw = f16(a[i].d), mw = f16(a[i].dmin);
        __m512i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * (k >> 1)));
            const __m512i lv = field2x2(q, 2 * (k & 1));
            const __m512i sc = scales_of(s512, g_idx16[k]);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                isum[t] = madd_scaled(isum[t], lv, _mm512_loadu_si512(b->qs + 64 * k), sc);
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), m16);
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(b->d * dw), _mm512_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_set1_ps(b->d * mw), zext256_ps(_mm256_cvtepi32_ps(ms)), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = _mm512_reduce_add_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q2_K)

SLM_INLINE void q3_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q3_K *a = w;
    __m512 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t scs[16];
        slm_unpack_q3k_scales(a[i].scales, scs);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scs));
        const __m512i s512 = zext256(sc16);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        const float dw = f16(a[i].d);
        __m512i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) { /* the level offset: - 4 * sum sc_j Bj */
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
            isum[t] = zext256(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2)));
        }
        for (int k = 0; k < 4; k++) {
            /* values 64k..64k+63: half h = k/2, 2-bit fields 2(k&1), +1; high bits 4h + 2(k&1), +1 */
            const int h = k >> 1, s = 2 * (k & 1);
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            __m512i lv = field2x2(q, s);
            lv = _mm512_mask_add_epi8(lv, bits2(hm, 4 * h + s), lv, _mm512_set1_epi8(4));
            const __m512i sc = scales_of(s512, g_idx16[k]);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                isum[t] = madd_scaled(isum[t], lv, _mm512_loadu_si512(b->qs + 64 * k), sc);
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(b->d * dw), _mm512_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = _mm512_reduce_add_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q3_K)

SLM_INLINE void q45_K_body(int64_t n, const uint8_t *w, size_t block_bytes, const int has_qh, const uint8_t *x,
                           size_t xs, float *out, size_t os, const int nx) {
    __m512 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = w + (size_t)i * block_bytes;
        uint16_t d, dmin;
        memcpy(&d, blk, 2);
        memcpy(&dmin, blk + 2, 2);
        const uint8_t *qs = blk + (has_qh ? 48 : 16);
        uint8_t sc[8], m[8];
        slm_unpack_k4_scales(blk + 4, sc, m);
        const __m128i m8 = _mm_loadl_epi64((const __m128i *)m);
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        const __m512i s512 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
        const __m256i hbits = has_qh ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
        const float dw = f16(d), mw = f16(dmin);
        __m512i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m512i lv = _mm512_and_si512(join256(q, _mm256_srli_epi16(q, 4)), _mm512_set1_epi8(15));
            if (has_qh) lv = _mm512_mask_add_epi8(lv, bits2(hbits, 2 * c), lv, _mm512_set1_epi8(16));
            const __m512i scv = scales_of(s512, g_idx32[c]);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                isum[t] = madd_scaled(isum[t], lv, _mm512_loadu_si512(b->qs + 64 * c), scv);
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), m16);
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(b->d * dw), _mm512_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_set1_ps(b->d * mw), zext256_ps(_mm256_cvtepi32_ps(ms)), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = _mm512_reduce_add_ps(acc[t]);
}
SLM_INLINE void q4_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    q45_K_body(n, w, sizeof(block_q4_K), 0, x, xs, out, os, nx);
}
SLM_INLINE void q5_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    q45_K_body(n, w, sizeof(block_q5_K), 1, x, xs, out, os, nx);
}
SLM_DEFINE_ROW_DOTS(q4_K)
SLM_DEFINE_ROW_DOTS(q5_K)

SLM_INLINE void q6_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q6_K *a = w;
    __m512 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        const __m512i s512 = zext256(sc16);
        const float dw = f16(a[i].d);
        __m512i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) { /* the level offset: - 32 * sum sc_j Bj */
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
            isum[t] = zext256(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5)));
        }
        for (int k = 0; k < 4; k++) {
            /* half h = k/2: low nibbles of ql[0..63] are values 0..63 of the half,
             * high nibbles 64..127; their two high bits are qh bits 0-1 / 2-3
             * (values 0..31 / 32..63), 4-5 / 6-7 (64..95 / 96..127) */
            const int h = k >> 1, e = k & 1;
            const __m512i ql = _mm512_loadu_si512(a[i].ql + 64 * h);
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
            const __m512i lo = _mm512_and_si512(e ? _mm512_srli_epi16(ql, 4) : ql, _mm512_set1_epi8(15));
            const __m512i hi = _mm512_and_si512(field2x2(qh, 2 * e), _mm512_set1_epi8(3));
            const __m512i lv = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
            const __m512i sc = scales_of(s512, g_idx16[k]);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                isum[t] = madd_scaled(isum[t], lv, _mm512_loadu_si512(b->qs + 64 * k), sc);
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(b->d * dw), _mm512_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = _mm512_reduce_add_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q6_K)

/* ======================================================================== */
/* The table                                                                 */
/* ======================================================================== */

static slm_kernel_table g_table;

const slm_kernel_table *AVX512_BUILD(void) {
    slm_kernel_table *t = &g_table;
    *t = *slm_kernels_ref_int_build();
    t->name = AVX512_TABLE_NAME;
#define SET(TYPE, NAME)                         \
    t->vec_dot[SLM_TYPE_##TYPE] = vec_dot_##NAME; \
    t->vec_dot_tile[SLM_TYPE_##TYPE] = vec_dot_tile_##NAME;
    SET(F32, f32)
    SET(F16, f16)
    SET(BF16, bf16)
    SET(Q4_0, q4_0)
    SET(Q4_1, q4_1)
    SET(Q5_0, q5_0)
    SET(Q5_1, q5_1)
    SET(Q8_0, q8_0)
    SET(Q2_K, q2_K)
    SET(Q3_K, q3_K)
    SET(Q4_K, q4_K)
    SET(Q5_K, q5_K)
    SET(Q6_K, q6_K)
#undef SET
    t->from_float[SLM_TYPE_Q8_0] = slm_avx2_quant_row_q8_0;
    t->from_float[SLM_TYPE_Q8_1] = slm_avx2_quant_row_q8_1;
    t->from_float[SLM_TYPE_Q8_K] = slm_avx2_quant_row_q8_K;
    t->dot_f32 = dot_f32;
    slm_avx2_set_attn(t); /* the AVX2 attention kernels: hd = 64 or 128 rows gain little from 512 bits */
#if AVX512_VNNI
    slm_avx512vnni_set_gemm(t);
    slm_avx512vnni_set_gemv_packed(t);
#endif
    return t;
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
