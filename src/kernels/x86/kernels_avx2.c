/*
 * kernels_avx2.c — the "avx2" kernel table (AVX2 + FMA + F16C, 256-bit).
 *
 * Float weights (F32, F16 via F16C, BF16) take float32 activations and FMA
 * dot products; they must match the float reference (ref/kernels_ref.c)
 * within float rounding. Quantized weights take the integer scheme of
 * ref/kernels_ref_int.c (activations quantized to Q8_0 / Q8_1 / Q8_K by the
 * exact SIMD quantizers below) and must match its integer block sums; only
 * the order of the float additions differs.
 *
 * 8-bit products: _mm256_maddubs_epi16 multiplies unsigned by signed bytes
 * and adds pairs into int16 (which cannot saturate here: weight levels are at
 * most 63 in magnitude except Q8_0, and |activation| <= 127, so a pair is at
 * most 2*128*127 < 32767). Signed weights use the sign trick: |w| times y
 * with w's sign moved onto y. Sub-block scales of the K-quants are applied by
 * _mm256_madd_epi16 on those int16 pairs, mins and level offsets through the
 * per-16 activation sums of Q8_K (bsums).
 *
 * Tiles (vec_dot_tile) run row by row: with 16 ymm registers there is no room
 * for a second weight row, but each row's unpacked blocks and scales are
 * shared by up to 4 activation rows.
 *
 * Also here: the attention kernels over an F32 / F16 KV cache and the F16
 * row writer of that cache (the AVX-512 tables use these too).
 *
 * Not here: AVX-VNNI (256-bit dpbusd), repacked weight layouts.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/kscales.h"
#include "kernels/x86/x86.h"
#include "quant/blocks.h"

/* The ISA is also set here, not only by the Makefile's flags for *_avx2.c, so
 * that a build that compiles every file alike (the fuzz target) still works;
 * only dispatch.c decides whether these functions run. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

const slm_kernel_table *slm_kernels_ref_int_build(void);

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

SLM_INLINE float f16(uint16_t h) { return _cvtsh_ss(h); }

SLM_INLINE float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SLM_INLINE int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* sum over each 4 bytes of u*s (u unsigned, s signed) -> 8 int32 */
SLM_INLINE __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* 16 bytes of nibbles -> 32 levels: byte j low nibble -> j, high -> j + 16 */
SLM_INLINE __m256i nibbles32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* The 32 bits of qh as bytes: byte j = 0x10 if bit j is set, else 0. */
SLM_INLINE __m256i bit4_bytes(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                                          3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* ======================================================================== */
/* Float weights: F32, F16, BF16 against float32 activations                 */
/* ======================================================================== */

/* Weights as 8 floats at element i of row w. */
SLM_INLINE __m256 load8_f32(const void *w, int64_t i) { return _mm256_loadu_ps((const float *)w + i); }
SLM_INLINE __m256 load8_f16(const void *w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}
SLM_INLINE __m256 load8_bf16(const void *w, int64_t i) {
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
SLM_INLINE float load1_f32(const void *w, int64_t i) { return ((const float *)w)[i]; }
SLM_INLINE float load1_f16(const void *w, int64_t i) {
    uint16_t h;
    memcpy(&h, (const uint16_t *)w + i, 2);
    return f16(h);
}
SLM_INLINE float load1_bf16(const void *w, int64_t i) {
    uint16_t h;
    memcpy(&h, (const uint16_t *)w + i, 2);
    return slm_bf16_to_fp32(h);
}

/* 16 values per step in two accumulators per row, then 8, then a scalar
 * tail added after the horizontal sum. */
#define FLOAT_BODY(T)                                                                                    \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os, \
                             const int nx) {                                                             \
        __m256 a0[4], a1[4];                                                                             \
        SLM_UNROLL for (int t = 0; t < nx; t++) a0[t] = a1[t] = _mm256_setzero_ps();                     \
        int64_t i = 0;                                                                                   \
        for (; i + 16 <= n; i += 16) {                                                                   \
            const __m256 w0 = load8_##T(w, i), w1 = load8_##T(w, i + 8);                                \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                    \
                const float *xt = XROW(float, x, xs, t);                                                 \
                a0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt + i), a0[t]);                             \
                a1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + i + 8), a1[t]);                         \
            }                                                                                            \
        }                                                                                                \
        if (i + 8 <= n) {                                                                                \
            const __m256 w0 = load8_##T(w, i);                                                           \
            SLM_UNROLL for (int t = 0; t < nx; t++) a0[t] =                                              \
                _mm256_fmadd_ps(w0, _mm256_loadu_ps(XROW(float, x, xs, t) + i), a0[t]);                  \
            i += 8;                                                                                      \
        }                                                                                                \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                        \
            const float *xt = XROW(float, x, xs, t);                                                     \
            float s = hsum_ps(_mm256_add_ps(a0[t], a1[t]));                                              \
            for (int64_t j = i; j < n; j++) s += load1_##T(w, j) * xt[j];                                \
            out[(size_t)t * os] = s;                                                                     \
        }                                                                                                \
    }
FLOAT_BODY(f32)
FLOAT_BODY(f16)
FLOAT_BODY(bf16)
SLM_DEFINE_ROW_DOTS(f32)
SLM_DEFINE_ROW_DOTS(f16)
SLM_DEFINE_ROW_DOTS(bf16)

static float dot_f32(int64_t n, const float *a, const float *b) { return vec_dot_f32(n, a, b); }

/* ======================================================================== */
/* Legacy blocks against Q8_0 / Q8_1                                         */
/* ======================================================================== */

/* One body for the five legacy types: LEVELS(a + i) gives the 32 levels of
 * weight block i (signed for Q4_0/Q5_0/Q8_0, unsigned 0..31 for Q4_1/Q5_1). */
SLM_INLINE __m256i levels_q4_0(const block_q4_0 *b) { return _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8)); }
SLM_INLINE __m256i levels_q5_0(const block_q5_0 *b) {
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b->qs), bit4_bytes(b->qh)), _mm256_set1_epi8(16));
}
SLM_INLINE __m256i levels_q8_0(const block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }
SLM_INLINE __m256i levels_q4_1(const block_q4_1 *b) { return nibbles32(b->qs); }
SLM_INLINE __m256i levels_q5_1(const block_q5_1 *b) { return _mm256_or_si256(nibbles32(b->qs), bit4_bytes(b->qh)); }

/* Signed weights: sum (w * y) = sum |w| * (y with the sign of w). */
#define SIGNED_BODY(T)                                                                                   \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os, \
                             const int nx) {                                                             \
        const block_##T *a = w;                                                                          \
        __m256 acc[4];                                                                                   \
        SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();                            \
        for (int64_t i = 0; i < n / 32; i++) {                                                           \
            const __m256i q = levels_##T(a + i);                                                         \
            const __m256i uq = _mm256_sign_epi8(q, q);                                                   \
            const float dw = f16(a[i].d);                                                                \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                    \
                const block_q8_0 *b = XROW(block_q8_0, x, xs, t) + i;                                    \
                const __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)b->qs), q);       \
                const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(uq, y));                                    \
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(b->d)), p, acc[t]);                     \
            }                                                                                            \
        }                                                                                                \
        SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]);                   \
    }
SIGNED_BODY(q4_0)
SIGNED_BODY(q5_0)
SIGNED_BODY(q8_0)
SLM_DEFINE_ROW_DOTS(q4_0)
SLM_DEFINE_ROW_DOTS(q5_0)
SLM_DEFINE_ROW_DOTS(q8_0)

/* Weights with a min: sum (d q + m) * dy y = d dy sum q y + m * s_y. */
#define MIN_BODY(T)                                                                                      \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os, \
                             const int nx) {                                                             \
        const block_##T *a = w;                                                                          \
        __m256 acc[4];                                                                                   \
        float accm[4];                                                                                   \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                        \
            acc[t] = _mm256_setzero_ps();                                                                \
            accm[t] = 0.0f;                                                                              \
        }                                                                                                \
        for (int64_t i = 0; i < n / 32; i++) {                                                           \
            const __m256i q = levels_##T(a + i);                                                         \
            const float dw = f16(a[i].d), mw = f16(a[i].m);                                              \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                    \
                const block_q8_1 *b = XROW(block_q8_1, x, xs, t) + i;                                    \
                const __m256i y = _mm256_loadu_si256((const __m256i *)b->qs);                            \
                const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(q, y));                                     \
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16(b->d)), p, acc[t]);                     \
                accm[t] += mw * f16(b->s);                                                               \
            }                                                                                            \
        }                                                                                                \
        SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]) + accm[t];         \
    }
MIN_BODY(q4_1)
MIN_BODY(q5_1)
SLM_DEFINE_ROW_DOTS(q4_1)
SLM_DEFINE_ROW_DOTS(q5_1)

/* ======================================================================== */
/* K-quants against Q8_K                                                     */
/* ======================================================================== */

/*
 * Each super-block is walked in chunks of 32 values (one ymm of levels,
 * unsigned); per activation row the chunk gives maddubs pairs that one madd
 * multiplies by the chunk's int16 scale vector and sums into int32 lanes
 * (isum). After the super-block: acc += dy*d * isum, and the min / offset
 * part through bsums.
 */

/* For 16-value sub-blocks: the int16 scale vector of chunk k (sub-blocks 2k
 * and 2k+1 in the low and high 128-bit lanes) from 16 int16 scales s16. */
static const uint8_t g_pair_ctrl[4][32] __attribute__((aligned(32))) = {
#define PAIR_CTRL(j)                                                                                 \
    {4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j, \
     4 * j + 1, 4 * j, 4 * j + 1, 4 * j, 4 * j + 1, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3,       \
     4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, 4 * j + 3, 4 * j + 2, \
     4 * j + 3, 4 * j + 2, 4 * j + 3}
    PAIR_CTRL(0), PAIR_CTRL(1), PAIR_CTRL(2), PAIR_CTRL(3)
#undef PAIR_CTRL
};
SLM_INLINE __m256i pair_scales(__m256i s16, int k) {
    const __m256i half = k < 4 ? _mm256_permute2x128_si256(s16, s16, 0x00) : _mm256_permute2x128_si256(s16, s16, 0x11);
    return _mm256_shuffle_epi8(half, _mm256_load_si256((const __m256i *)g_pair_ctrl[k & 3]));
}

/* 2-bit fields s (0..3) of the 32 bytes q: levels of values 32s + l. */
SLM_INLINE __m256i field2(__m256i q, int s) {
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), _mm256_set1_epi8(3));
}

SLM_INLINE void q2_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q2_K *a = w;
    __m256 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(15)));
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(15)));
        const float dw = f16(a[i].d), mw = f16(a[i].dmin);
        __m256i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int s = 0; s < 4; s++) {
                const __m256i lv = field2(q, s), sc = pair_scales(sc16, 4 * h + s);
                SLM_UNROLL for (int t = 0; t < nx; t++) {
                    const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + 128 * h + 32 * s));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lv, y), sc));
                }
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), m16);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * dw), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(b->d * mw), _mm256_cvtepi32_ps(ms), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q2_K)

SLM_INLINE void q3_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q3_K *a = w;
    __m256 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t scs[16];
        slm_unpack_q3k_scales(a[i].scales, scs);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scs));
        const __m256i hm = _mm256_loadu_si256((const __m256i *)a[i].hmask);
        const float dw = f16(a[i].d);
        __m256i isum[4];
        /* the level offset: sum sc_j * (Sj - 4 Bj) */
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
            isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2));
        }
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
            for (int s = 0; s < 4; s++) {
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + s), _mm256_set1_epi8(1));
                const __m256i lv = _mm256_or_si256(field2(q, s), _mm256_slli_epi16(hb, 2));
                const __m256i sc = pair_scales(sc16, 4 * h + s);
                SLM_UNROLL for (int t = 0; t < nx; t++) {
                    const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + 128 * h + 32 * s));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lv, y), sc));
                }
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * dw), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q3_K)

/* Q4_K / Q5_K: chunk c of 32 bytes holds sub-blocks 2c (low nibbles) and
 * 2c+1 (high); Q5_K's fifth bit of sub-block 2c+e is bit 2c+e of qh. */
SLM_INLINE void q45_K_body(int64_t n, const uint8_t *w, size_t block_bytes, int has_qh, const uint8_t *x,
                           size_t xs, float *out, size_t os, const int nx) {
    __m256 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = w + (size_t)i * block_bytes;
        /* both layouts start d | dmin | scales[12]; Q5_K then has qh[32] */
        uint16_t d, dmin;
        memcpy(&d, blk, 2);
        memcpy(&dmin, blk + 2, 2);
        const uint8_t *scales = blk + 4;
        const uint8_t *qh = has_qh ? blk + 16 : NULL;
        const uint8_t *qs = blk + (has_qh ? 48 : 16);
        uint8_t sc[8], m[8];
        slm_unpack_k4_scales(scales, sc, m);
        /* mins as int16 pairs m_j, m_j to meet bsums[2j], bsums[2j+1] */
        const __m128i m8 = _mm_loadl_epi64((const __m128i *)m);
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        const __m256i hbits = has_qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        const float dw = f16(d), mw = f16(dmin);
        __m256i isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i l0 = _mm256_and_si256(q, _mm256_set1_epi8(15));
            __m256i l1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(15));
            if (has_qh) {
                const __m256i one = _mm256_set1_epi8(1);
                l0 = _mm256_or_si256(l0, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
                l1 = _mm256_or_si256(l1,
                                     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
            }
            const __m256i s0 = _mm256_set1_epi16(sc[2 * c]), s1 = _mm256_set1_epi16(sc[2 * c + 1]);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                const __m256i y0 = _mm256_loadu_si256((const __m256i *)(b->qs + 64 * c));
                const __m256i y1 = _mm256_loadu_si256((const __m256i *)(b->qs + 64 * c + 32));
                const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(l0, y0), s0);
                const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(l1, y1), s1);
                isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(p0, p1));
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), m16);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * dw), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(b->d * mw), _mm256_cvtepi32_ps(ms), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
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
    __m256 acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        const float dw = f16(a[i].d);
        __m256i isum[4];
        /* the level offset: sum sc_j * (Sj - 32 Bj) */
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b->bsums), sc16);
            isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
            for (int k = 0; k < 4; k++) {
                /* values 32k + l of this half: nibble of ql0 / ql1 (low for k < 2),
                 * two high bits from qh bits 2k, 2k+1 */
                const __m256i ql = (k & 1) ? ql1 : ql0;
                const __m256i lo = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(15));
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
                const __m256i lv = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
                const __m256i sc = pair_scales(sc16, 4 * h + k);
                SLM_UNROLL for (int t = 0; t < nx; t++) {
                    const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(b->qs + 128 * h + 32 * k));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lv, y), sc));
                }
            }
        }
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(b->d * dw), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
}
SLM_DEFINE_ROW_DOTS(q6_K)

/* ======================================================================== */
/* Activation quantizers (bit-exact with quant/)                             */
/* ======================================================================== */

/* roundf(): to nearest, halves away from zero. v - trunc(v) is exact. */
SLM_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign));
    const __m256 ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(ge, step));
}

/* 32 int32 in four vectors -> 32 int8 in order (values fit). */
SLM_INLINE __m256i pack32(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One 32-value block as in quant_legacy.c: d = amax / 127, q = round(x / d).
 * Returns d; writes the levels and their sum. */
SLM_INLINE float quant_block32(const float *x, int8_t *qs, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[k], vid)));
    if (sum) *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    _mm256_storeu_si256((__m256i *)qs, pack32(q[0], q[1], q[2], q[3]));
    return d;
}

void slm_avx2_quant_row_q8_0(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) y[i].d = slm_fp32_to_fp16(quant_block32(x + 32 * i, y[i].qs, NULL));
}

void slm_avx2_quant_row_q8_1(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum;
        const float d = quant_block32(x + 32 * i, y[i].qs, &sum);
        y[i].d = slm_fp32_to_fp16(d);
        y[i].s = slm_fp32_to_fp16((float)sum * d);
    }
}

/* As quant_k.c: the signed value of largest magnitude (the first on ties)
 * maps to -127; q = nearest-even(x * iscale), at most 127. */
void slm_avx2_quant_row_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *xb = x + (size_t)i * QK_K;
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + k)));
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        const __m256 vamax = _mm256_set1_ps(amax);
        for (int k = 0; k < QK_K; k += 8) {
            const __m256 v = _mm256_loadu_ps(xb + k);
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), vamax, _CMP_EQ_OQ));
            if (hit) {
                max = xb[k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        for (int k = 0; k < QK_K; k += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + k + 8 * j), vis)), top);
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), pack32(q[0], q[1], q[2], q[3]));
        }
        for (int j = 0; j < QK_K / 16; j++) {
            const __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(y[i].qs + 16 * j)));
            y[i].bsums[j] = (int16_t)hsum_epi32(_mm256_madd_epi16(q16, _mm256_set1_epi16(1)));
        }
        y[i].d = 1 / iscale;
    }
}

/* ======================================================================== */
/* Attention over an F32 / F16 KV cache, and the F16 cache writer             */
/* ======================================================================== */

/* Eight sums in one register: lane i = the sum of the lanes of a[i]. */
SLM_INLINE __m256 hsum8x8(const __m256 a[8]) {
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* One body per cache type: load8_f32 / load8_f16 read 8 values of a row.
 * q·k: blocks of eight keys (hd a multiple of 8), one accumulator per key,
 * summed across lanes together; the block's rows stay in L1 while every
 * query runs over them; other keys one by one. Σ p·v: blocks of 16 rows,
 * each query's outputs in eight accumulators (64 values) over the block. */
#define ATTN_BODIES(T)                                                                                        \
    static void attn_qk_##T(int64_t hd, int nq, const float *const *q, const uint8_t *k, size_t stride, int64_t n, \
                            float *s, size_t ss) {                                                            \
        int64_t j = 0;                                                                                        \
        if (hd % 8 == 0)                                                                                      \
            for (; j + 8 <= n; j += 8) {                                                                      \
                const uint8_t *kj = k + (size_t)j * stride;                                                   \
                for (int qi = 0; qi < nq; qi++) {                                                             \
                    __m256 a[8];                                                                              \
                    for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();                                   \
                    for (int64_t d = 0; d < hd; d += 8) {                                                     \
                        const __m256 qv = _mm256_loadu_ps(q[qi] + d);                                         \
                        _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) a[i] =                            \
                            _mm256_fmadd_ps(qv, load8_##T(kj + (size_t)i * stride, d), a[i]);                 \
                    }                                                                                         \
                    _mm256_storeu_ps(s + (size_t)qi * ss + (size_t)j, hsum8x8(a));                            \
                }                                                                                             \
            }                                                                                                 \
        for (; j < n; j++) {                                                                                  \
            const uint8_t *kj = k + (size_t)j * stride;                                                       \
            for (int qi = 0; qi < nq; qi++) {                                                                 \
                __m256 a0 = _mm256_setzero_ps();                                                              \
                int64_t d = 0;                                                                                \
                for (; d + 8 <= hd; d += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q[qi] + d), load8_##T(kj, d), a0); \
                float acc = hsum_ps(a0);                                                                      \
                for (; d < hd; d++) acc += q[qi][d] * load1_##T(kj, d);                                       \
                s[(size_t)qi * ss + (size_t)j] = acc;                                                         \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
    static void attn_pv_##T(int64_t hd, int nq, const float *p, size_t ps, const uint8_t *v, size_t stride,    \
                            int64_t n, float *const *out) {                                                   \
        for (int64_t j0 = 0; j0 < n; j0 += 16) {                                                              \
            const int64_t j1 = j0 + 16 < n ? j0 + 16 : n;                                                     \
            for (int qi = 0; qi < nq; qi++) {                                                                 \
                const float *pq = p + (size_t)qi * ps;                                                        \
                float *o = out[qi];                                                                           \
                int64_t d = 0;                                                                                \
                for (; d + 64 <= hd; d += 64) {                                                               \
                    __m256 a[8];                                                                              \
                    for (int i = 0; i < 8; i++) a[i] = _mm256_loadu_ps(o + d + 8 * i);                        \
                    for (int64_t j = j0; j < j1; j++) {                                                       \
                        const uint8_t *vj = v + (size_t)j * stride;                                           \
                        const __m256 pj = _mm256_set1_ps(pq[j]);                                              \
                        _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) a[i] =                            \
                            _mm256_fmadd_ps(pj, load8_##T(vj, d + 8 * i), a[i]);                              \
                    }                                                                                         \
                    for (int i = 0; i < 8; i++) _mm256_storeu_ps(o + d + 8 * i, a[i]);                        \
                }                                                                                             \
                for (; d + 8 <= hd; d += 8) {                                                                 \
                    __m256 a0 = _mm256_loadu_ps(o + d);                                                       \
                    for (int64_t j = j0; j < j1; j++)                                                         \
                        a0 = _mm256_fmadd_ps(_mm256_set1_ps(pq[j]), load8_##T(v + (size_t)j * stride, d), a0); \
                    _mm256_storeu_ps(o + d, a0);                                                              \
                }                                                                                             \
                for (; d < hd; d++)                                                                           \
                    for (int64_t j = j0; j < j1; j++) o[d] += pq[j] * load1_##T(v + (size_t)j * stride, d);   \
            }                                                                                                 \
        }                                                                                                     \
    }
ATTN_BODIES(f32)
ATTN_BODIES(f16)

/* float -> fp16, round to nearest even (F16C), as slm_fp32_to_fp16. */
static void row_f16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = slm_fp32_to_fp16(x[i]);
}

/* ======================================================================== */
/* The table                                                                 */
/* ======================================================================== */

/* exp(x) for x <= 0 (softmax inputs, max subtracted), Cephes' expf: x =
 * n ln2 + r (ln2 in two parts), e^r by a degree-7 polynomial, times 2^n.
 * Within 2 ulp of expf; below -87.3 the result is 0 (expf: a denormal). */
SLM_INLINE __m256 exp_neg(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

static void softmax(float *x, int64_t n) {
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float mx = _mm_cvtss_f32(m4);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 vs = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        vs = _mm256_add_ps(vs, e);
    }
    float sum = hsum_ps(vs);
    for (; i < n; i++) sum += x[i] = expf(x[i] - mx);
    const float inv = 1.0f / sum;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (; i < n; i++) x[i] *= inv;
}

/* silu(x) = x / (1 + e^-x), with e = exp(-|x|) <= 1 from exp_neg:
 * x >= 0: x / (1 + e);  x < 0: x e / (1 + e). */
static void swiglu(float *g, const float *u, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp_neg(_mm256_or_ps(x, sign)); /* exp(-|x|) */
        const __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, e), x); /* sign bit of x selects x e */
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(num, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* The bandwidth probe: one stream, 128 bytes per step into four
 * accumulators. Measured on Zen 4 (1 GiB, huge pages): as fast as an
 * 8-accumulator or AVX-512 version, faster than two streams per thread or
 * software prefetching. */
static uint64_t read_sum(const uint8_t *p, size_t bytes) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes; i += 128) {
        const __m256i *q = (const __m256i *)(const void *)(p + i);
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(q));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(q + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(q + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(q + 3));
    }
    const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t o[4];
    _mm256_storeu_si256((__m256i *)o, s);
    return o[0] + o[1] + o[2] + o[3];
}

void slm_avx2_set_attn(slm_kernel_table *t) {
    t->attn_qk[SLM_TYPE_F32] = attn_qk_f32;
    t->attn_qk[SLM_TYPE_F16] = attn_qk_f16;
    t->attn_pv[SLM_TYPE_F32] = attn_pv_f32;
    t->attn_pv[SLM_TYPE_F16] = attn_pv_f16;
    t->from_float[SLM_TYPE_F16] = row_f16;
    t->read_sum = read_sum;
    t->softmax = softmax;
    t->swiglu = swiglu;
}

static slm_kernel_table g_avx2;

const slm_kernel_table *slm_kernels_avx2_build(void) {
    slm_kernel_table *t = &g_avx2;
    *t = *slm_kernels_ref_int_build(); /* integer scheme; every entry below replaces one */
    t->name = "avx2";
#define SET(TYPE, NAME)                              \
    t->vec_dot[SLM_TYPE_##TYPE] = vec_dot_##NAME;      \
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
    slm_avx2_set_attn(t);
    return t;
}
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif /* __x86_64__ */
