/*
 * kernels_neon_impl.h — the body of the aarch64 kernel tables, compiled
 * twice: by kernels_neon.c (Advanced SIMD, every aarch64 CPU) as the "neon"
 * table and by kernels_neon_dotprod.c (the same plus the ARMv8.2 dot product
 * instructions) as "neon-dotprod". The includer defines, before including it:
 *   NEON_TABLE_NAME   the table's name
 *   NEON_BUILD        the builder function's name
 *   NEON_DOTPROD      1 to use SDOT for the signed byte dot products
 *
 * The schemes are those of the x86 tables (see kernels_avx2.c and
 * ref/kernels_ref_int.c, whose integer sums every kernel here reproduces):
 *   - float weights (F32, F16, BF16) take float32 activations and FMA dots;
 *     they must match the float reference (ref/kernels_ref.c) within float
 *     rounding;
 *   - quantized weights take activations quantized to Q8_0 / Q8_1 / Q8_K by
 *     the exact quantizers at the end of this file; weight levels are turned
 *     into signed bytes (offsets such as Q4_0's 8 or Q6_K's 32 subtracted
 *     right away, which gives the reference's Sj - 32 Bj exactly), and each
 *     block's dot is an exact int32 sum.
 * Byte products: NEON_DOTPROD uses SDOT (four products summed per int32
 * lane); without it, SMULL widens to int16 (|w*y| <= 128*127 fits) and
 * SADALP adds pairs into int32 lanes. Both give the same integer block sums,
 * so both tables give the same bits.
 *
 * Also the attention kernels over an F32 / F16 KV cache and its F16 writer.
 *
 * Tiles run row by row (SLM_DEFINE_ROW_DOTS): each weight row's unpacked
 * levels and scales are shared by up to 4 activation rows.
 *
 * Not here: repacked (interleaved) weight layouts, SVE, i8mm (SMMLA).
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/arm/arm.h"
#include "kernels/kscales.h"
#include "quant/blocks.h"

#if NEON_DOTPROD && defined(__GNUC__) && !defined(__clang__)
/* The ISA is also set here, not only by the Makefile's flags for *_dotprod.c,
 * so that a build that compiles every file alike still works; only
 * dispatch.c decides whether these functions run. */
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#elif NEON_DOTPROD && defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#endif

const slm_kernel_table *slm_kernels_ref_int_build(void);

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

SLM_INLINE float f16(uint16_t h) {
    __fp16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

/* acc + the dot products of a and b, four bytes per int32 lane. */
SLM_INLINE int32x4_t dot_s8(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if NEON_DOTPROD
    return vdotq_s32(acc, a, b);
#else
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

/* sum of a . b over 32 bytes given as two halves */
SLM_INLINE int dot32_s8(int8x16_t a0, int8x16_t a1, const int8_t *y) {
    return vaddvq_s32(dot_s8(dot_s8(vdupq_n_s32(0), a0, vld1q_s8(y)), a1, vld1q_s8(y + 16)));
}

SLM_INLINE int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* 16 bytes of nibbles -> levels: byte j low nibble -> value j, high -> j + 16 */
SLM_INLINE void nibbles32(const uint8_t *qs, uint8x16_t *lo, uint8x16_t *hi) {
    const uint8x16_t q = vld1q_u8(qs);
    *lo = vandq_u8(q, vdupq_n_u8(15));
    *hi = vshrq_n_u8(q, 4);
}

/* The 32 bits of qh as bytes: byte j = 0x10 if bit j is set, else 0 (values
 * 0..15 in lo, 16..31 in hi). */
SLM_INLINE void bit4_bytes(const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t idx[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                    2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint32_t h;
    memcpy(&h, qh, 4);
    const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(h)), b = vld1q_u8(bit), x10 = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(idx)), b), x10);
    *hi = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(idx + 16)), b), x10);
}

/* ======================================================================== */
/* Float weights: F32, F16, BF16 against float32 activations                 */
/* ======================================================================== */

/* Weights as 4 floats at element i of row w. */
SLM_INLINE float32x4_t load4_f32(const void *w, int64_t i) { return vld1q_f32((const float *)w + i); }
SLM_INLINE float32x4_t load4_f16(const void *w, int64_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)w + i)));
}
SLM_INLINE float32x4_t load4_bf16(const void *w, int64_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)w + i), 16));
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

/* 16 values per step in four accumulators per row, then 4, then a scalar
 * tail added after the horizontal sum. */
#define FLOAT_BODY(T)                                                                                       \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,    \
                             const int nx) {                                                                \
        float32x4_t a[4][4];                                                                                \
        SLM_UNROLL for (int t = 0; t < nx; t++) a[t][0] = a[t][1] = a[t][2] = a[t][3] = vdupq_n_f32(0.0f);  \
        int64_t i = 0;                                                                                      \
        for (; i + 16 <= n; i += 16) {                                                                      \
            const float32x4_t w0 = load4_##T(w, i), w1 = load4_##T(w, i + 4), w2 = load4_##T(w, i + 8),     \
                              w3 = load4_##T(w, i + 12);                                                    \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                       \
                const float *xt = XROW(float, x, xs, t) + i;                                                \
                a[t][0] = vfmaq_f32(a[t][0], w0, vld1q_f32(xt));                                            \
                a[t][1] = vfmaq_f32(a[t][1], w1, vld1q_f32(xt + 4));                                        \
                a[t][2] = vfmaq_f32(a[t][2], w2, vld1q_f32(xt + 8));                                        \
                a[t][3] = vfmaq_f32(a[t][3], w3, vld1q_f32(xt + 12));                                       \
            }                                                                                               \
        }                                                                                                   \
        for (; i + 4 <= n; i += 4) {                                                                        \
            const float32x4_t w0 = load4_##T(w, i);                                                         \
            SLM_UNROLL for (int t = 0; t < nx; t++) a[t][0] =                                               \
                vfmaq_f32(a[t][0], w0, vld1q_f32(XROW(float, x, xs, t) + i));                               \
        }                                                                                                   \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                           \
            const float *xt = XROW(float, x, xs, t);                                                        \
            float s = vaddvq_f32(vaddq_f32(vaddq_f32(a[t][0], a[t][1]), vaddq_f32(a[t][2], a[t][3])));      \
            for (int64_t j = i; j < n; j++) s += load1_##T(w, j) * xt[j];                                   \
            out[(size_t)t * os] = s;                                                                        \
        }                                                                                                   \
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

/* The 32 levels of weight block b as signed bytes: values 0..15 in *l0,
 * 16..31 in *l1 (level offsets subtracted for Q4_0 / Q5_0; Q4_1 / Q5_1 keep
 * 0..31, their minimum goes through the activation sums). */
SLM_INLINE void levels_q4_0(const block_q4_0 *b, int8x16_t *l0, int8x16_t *l1) {
    uint8x16_t lo, hi;
    nibbles32(b->qs, &lo, &hi);
    *l0 = vsubq_s8(s8(lo), vdupq_n_s8(8));
    *l1 = vsubq_s8(s8(hi), vdupq_n_s8(8));
}
SLM_INLINE void levels_q5_0(const block_q5_0 *b, int8x16_t *l0, int8x16_t *l1) {
    uint8x16_t lo, hi, h0, h1;
    nibbles32(b->qs, &lo, &hi);
    bit4_bytes(b->qh, &h0, &h1);
    *l0 = vsubq_s8(s8(vorrq_u8(lo, h0)), vdupq_n_s8(16));
    *l1 = vsubq_s8(s8(vorrq_u8(hi, h1)), vdupq_n_s8(16));
}
SLM_INLINE void levels_q8_0(const block_q8_0 *b, int8x16_t *l0, int8x16_t *l1) {
    *l0 = vld1q_s8(b->qs);
    *l1 = vld1q_s8(b->qs + 16);
}
SLM_INLINE void levels_q4_1(const block_q4_1 *b, int8x16_t *l0, int8x16_t *l1) {
    uint8x16_t lo, hi;
    nibbles32(b->qs, &lo, &hi);
    *l0 = s8(lo);
    *l1 = s8(hi);
}
SLM_INLINE void levels_q5_1(const block_q5_1 *b, int8x16_t *l0, int8x16_t *l1) {
    uint8x16_t lo, hi, h0, h1;
    nibbles32(b->qs, &lo, &hi);
    bit4_bytes(b->qh, &h0, &h1);
    *l0 = s8(vorrq_u8(lo, h0));
    *l1 = s8(vorrq_u8(hi, h1));
}

/* Per block: acc += (dw * dy) * isum, the int32 lanes converted to float
 * (each lane a small exact integer). */
#define SIGNED_BODY(T)                                                                                      \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,    \
                             const int nx) {                                                                \
        const block_##T *a = w;                                                                             \
        float32x4_t acc[4];                                                                                 \
        SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = vdupq_n_f32(0.0f);                                 \
        for (int64_t i = 0; i < n / 32; i++) {                                                              \
            int8x16_t l0, l1;                                                                               \
            levels_##T(a + i, &l0, &l1);                                                                    \
            const float dw = f16(a[i].d);                                                                   \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                       \
                const block_q8_0 *b = XROW(block_q8_0, x, xs, t) + i;                                       \
                const int32x4_t p = dot_s8(dot_s8(vdupq_n_s32(0), l0, vld1q_s8(b->qs)), l1, vld1q_s8(b->qs + 16)); \
                acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(p), dw * f16(b->d));                             \
            }                                                                                               \
        }                                                                                                   \
        SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = vaddvq_f32(acc[t]);                   \
    }
SIGNED_BODY(q4_0)
SIGNED_BODY(q5_0)
SIGNED_BODY(q8_0)
SLM_DEFINE_ROW_DOTS(q4_0)
SLM_DEFINE_ROW_DOTS(q5_0)
SLM_DEFINE_ROW_DOTS(q8_0)

/* Weights with a min: sum (d q + m) * dy y = d dy sum q y + m * s_y. */
#define MIN_BODY(T)                                                                                         \
    SLM_INLINE void T##_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,    \
                             const int nx) {                                                                \
        const block_##T *a = w;                                                                             \
        float32x4_t acc[4];                                                                                 \
        float accm[4];                                                                                      \
        SLM_UNROLL for (int t = 0; t < nx; t++) {                                                           \
            acc[t] = vdupq_n_f32(0.0f);                                                                     \
            accm[t] = 0.0f;                                                                                 \
        }                                                                                                   \
        for (int64_t i = 0; i < n / 32; i++) {                                                              \
            int8x16_t l0, l1;                                                                               \
            levels_##T(a + i, &l0, &l1);                                                                    \
            const float dw = f16(a[i].d), mw = f16(a[i].m);                                                 \
            SLM_UNROLL for (int t = 0; t < nx; t++) {                                                       \
                const block_q8_1 *b = XROW(block_q8_1, x, xs, t) + i;                                       \
                const int32x4_t p = dot_s8(dot_s8(vdupq_n_s32(0), l0, vld1q_s8(b->qs)), l1, vld1q_s8(b->qs + 16)); \
                acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(p), dw * f16(b->d));                             \
                accm[t] += mw * f16(b->s);                                                                  \
            }                                                                                               \
        }                                                                                                   \
        SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = vaddvq_f32(acc[t]) + accm[t];         \
    }
MIN_BODY(q4_1)
MIN_BODY(q5_1)
SLM_DEFINE_ROW_DOTS(q4_1)
SLM_DEFINE_ROW_DOTS(q5_1)

/* ======================================================================== */
/* K-quants against Q8_K                                                     */
/* ======================================================================== */

/*
 * Per super-block and activation row: the integer sum isum = sum_j sc_j * Sj
 * over the sub-blocks (Sj an exact int32 dot of signed levels with the
 * activations), the mins through bsums, then in float, in the reference's
 * order: s += dy * d * isum - dy * dmin * summ.
 */

/* sum m[j] * bsums[j] over 16 sub-blocks (m as uint8, bsums int16). */
SLM_INLINE int mins16(const uint8_t m[16], const int16_t bsums[16]) {
    const uint8x16_t mv = vld1q_u8(m);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mv)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(mv));
    const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t s = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
    s = vmlal_high_s16(s, m0, b0);
    s = vmlal_s16(s, vget_low_s16(m1), vget_low_s16(b1));
    s = vmlal_high_s16(s, m1, b1);
    return vaddvq_s32(s);
}

/* 16 signed levels dotted with 16 activations. */
SLM_INLINE int dot16_s8(int8x16_t l, const int8_t *y) { return vaddvq_s32(dot_s8(vdupq_n_s32(0), l, vld1q_s8(y))); }

/* 2-bit fields s (0..3) of 16 bytes q: (q >> 2s) & 3. */
SLM_INLINE uint8x16_t field2(uint8x16_t q, int s) {
    return vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * s))), vdupq_n_u8(3));
}

SLM_INLINE void q2_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q2_K *a = w;
    float acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[16], m[16];
        for (int j = 0; j < 16; j++) {
            sc[j] = a[i].scales[j] & 15;
            m[j] = a[i].scales[j] >> 4;
        }
        int isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = 0;
        for (int h = 0; h < 2; h++) {
            const uint8x16_t q0 = vld1q_u8(a[i].qs + 32 * h), q1 = vld1q_u8(a[i].qs + 32 * h + 16);
            for (int s = 0; s < 4; s++) {
                /* values 128h + 32s + 0..15 and + 16..31: sub-blocks 8h + 2s, 8h + 2s + 1 */
                const int8x16_t l0 = s8(field2(q0, s)), l1 = s8(field2(q1, s));
                const int j = 8 * h + 2 * s;
                SLM_UNROLL for (int t = 0; t < nx; t++) {
                    const int8_t *y = XROW(block_q8_K, x, xs, t)[i].qs + 16 * j;
                    isum[t] += sc[j] * dot16_s8(l0, y) + sc[j + 1] * dot16_s8(l1, y + 16);
                }
            }
        }
        const float dw = f16(a[i].d), mw = f16(a[i].dmin);
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const int summ = mins16(m, b->bsums);
            acc[t] += b->d * dw * (float)isum[t] - b->d * mw * (float)summ;
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = acc[t];
}
SLM_DEFINE_ROW_DOTS(q2_K)

SLM_INLINE void q3_K_body(int64_t n, const void *w, const uint8_t *x, size_t xs, float *out, size_t os,
                          const int nx) {
    const block_q3_K *a = w;
    float acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        slm_unpack_q3k_scales(a[i].scales, sc);
        const uint8x16_t hm0 = vld1q_u8(a[i].hmask), hm1 = vld1q_u8(a[i].hmask + 16);
        int isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = 0;
        for (int h = 0; h < 2; h++) {
            const uint8x16_t q0 = vld1q_u8(a[i].qs + 32 * h), q1 = vld1q_u8(a[i].qs + 32 * h + 16);
            for (int s = 0; s < 4; s++) {
                /* level = 2-bit field | hmask bit (4h + s) << 2, minus 4 */
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * h + s))), four = vdupq_n_u8(4);
                const uint8x16_t u0 = vorrq_u8(field2(q0, s), vandq_u8(vtstq_u8(hm0, bit), four));
                const uint8x16_t u1 = vorrq_u8(field2(q1, s), vandq_u8(vtstq_u8(hm1, bit), four));
                const int8x16_t l0 = vsubq_s8(s8(u0), vdupq_n_s8(4)), l1 = vsubq_s8(s8(u1), vdupq_n_s8(4));
                const int j = 8 * h + 2 * s;
                SLM_UNROLL for (int t = 0; t < nx; t++) {
                    const int8_t *y = XROW(block_q8_K, x, xs, t)[i].qs + 16 * j;
                    isum[t] += sc[j] * dot16_s8(l0, y) + sc[j + 1] * dot16_s8(l1, y + 16);
                }
            }
        }
        const float dw = f16(a[i].d);
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] += b->d * dw * (float)isum[t];
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = acc[t];
}
SLM_DEFINE_ROW_DOTS(q3_K)

/* Q4_K / Q5_K: chunk c of 32 bytes holds sub-blocks 2c (low nibbles) and
 * 2c+1 (high); Q5_K's fifth bit of sub-block 2c+e is bit 2c+e of qh. */
SLM_INLINE void q45_K_body(int64_t n, const uint8_t *w, size_t block_bytes, int has_qh, const uint8_t *x,
                           size_t xs, float *out, size_t os, const int nx) {
    float acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = w + (size_t)i * block_bytes;
        /* both layouts start d | dmin | scales[12]; Q5_K then has qh[32] */
        uint16_t d, dmin;
        memcpy(&d, blk, 2);
        memcpy(&dmin, blk + 2, 2);
        const uint8_t *qh = has_qh ? blk + 16 : NULL;
        const uint8_t *qs = blk + (has_qh ? 48 : 16);
        uint8_t sc[8], m[16];
        slm_unpack_k4_scales(blk + 4, sc, m);
        /* the min of sub-block j meets bsums 2j and 2j+1 */
        for (int j = 7; j >= 0; j--) m[2 * j] = m[2 * j + 1] = m[j];
        const uint8x16_t h0 = has_qh ? vld1q_u8(qh) : vdupq_n_u8(0), h1 = has_qh ? vld1q_u8(qh + 16) : vdupq_n_u8(0);
        int isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = 0;
        for (int c = 0; c < 4; c++) {
            const uint8x16_t q0 = vld1q_u8(qs + 32 * c), q1 = vld1q_u8(qs + 32 * c + 16);
            uint8x16_t a0 = vandq_u8(q0, vdupq_n_u8(15)), a1 = vandq_u8(q1, vdupq_n_u8(15));
            uint8x16_t b0 = vshrq_n_u8(q0, 4), b1 = vshrq_n_u8(q1, 4);
            if (has_qh) {
                const uint8x16_t x10 = vdupq_n_u8(0x10);
                const uint8x16_t ba = vdupq_n_u8((uint8_t)(1u << (2 * c))), bb = vdupq_n_u8((uint8_t)(2u << (2 * c)));
                a0 = vorrq_u8(a0, vandq_u8(vtstq_u8(h0, ba), x10));
                a1 = vorrq_u8(a1, vandq_u8(vtstq_u8(h1, ba), x10));
                b0 = vorrq_u8(b0, vandq_u8(vtstq_u8(h0, bb), x10));
                b1 = vorrq_u8(b1, vandq_u8(vtstq_u8(h1, bb), x10));
            }
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const int8_t *y = XROW(block_q8_K, x, xs, t)[i].qs + 64 * c;
                isum[t] += sc[2 * c] * dot32_s8(s8(a0), s8(a1), y) + sc[2 * c + 1] * dot32_s8(s8(b0), s8(b1), y + 32);
            }
        }
        const float dw = f16(d), mw = f16(dmin);
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            const int summ = mins16(m, b->bsums);
            acc[t] += b->d * dw * (float)isum[t] - b->d * mw * (float)summ;
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = acc[t];
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
    float acc[4];
    SLM_UNROLL for (int t = 0; t < nx; t++) acc[t] = 0.0f;
    const uint8x16_t m15 = vdupq_n_u8(15), m3 = vdupq_n_u8(3);
    const int8x16_t k32 = vdupq_n_s8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *sc = a[i].scales;
        int isum[4];
        SLM_UNROLL for (int t = 0; t < nx; t++) isum[t] = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qhp = a[i].qh + 32 * h;
            const uint8x16_t ql0 = vld1q_u8(ql), ql1 = vld1q_u8(ql + 16), ql2 = vld1q_u8(ql + 32),
                             ql3 = vld1q_u8(ql + 48);
            const uint8x16_t qh0 = vld1q_u8(qhp), qh1 = vld1q_u8(qhp + 16);
            /* sub-block 8h + k: values 128h + 16k + 0..15, levels minus 32 */
            int8x16_t l[8];
            l[0] = vsubq_s8(s8(vorrq_u8(vandq_u8(ql0, m15), vshlq_n_u8(vandq_u8(qh0, m3), 4))), k32);
            l[1] = vsubq_s8(s8(vorrq_u8(vandq_u8(ql1, m15), vshlq_n_u8(vandq_u8(qh1, m3), 4))), k32);
            l[2] = vsubq_s8(s8(vorrq_u8(vandq_u8(ql2, m15), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh0, 2), m3), 4))), k32);
            l[3] = vsubq_s8(s8(vorrq_u8(vandq_u8(ql3, m15), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh1, 2), m3), 4))), k32);
            l[4] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh0, 4), m3), 4))), k32);
            l[5] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh1, 4), m3), 4))), k32);
            l[6] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(ql2, 4), vshlq_n_u8(vshrq_n_u8(qh0, 6), 4))), k32);
            l[7] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(ql3, 4), vshlq_n_u8(vshrq_n_u8(qh1, 6), 4))), k32);
            SLM_UNROLL for (int t = 0; t < nx; t++) {
                const int8_t *y = XROW(block_q8_K, x, xs, t)[i].qs + 128 * h;
                int s = 0;
                for (int k = 0; k < 8; k++) s += sc[8 * h + k] * dot16_s8(l[k], y + 16 * k);
                isum[t] += s;
            }
        }
        const float dw = f16(a[i].d);
        SLM_UNROLL for (int t = 0; t < nx; t++) {
            const block_q8_K *b = XROW(block_q8_K, x, xs, t) + i;
            acc[t] += b->d * dw * (float)isum[t];
        }
    }
    SLM_UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * os] = acc[t];
}
SLM_DEFINE_ROW_DOTS(q6_K)

/* ======================================================================== */
/* Attention over an F32 / F16 KV cache, and the F16 cache writer             */
/* ======================================================================== */

/* As kernels_avx2.c: q·k per key for every query (the key's row stays in
 * L1); Σ p·v in blocks of 16 rows, 16 outputs per query in registers. */
#define ATTN_BODIES(T)                                                                                        \
    static void attn_qk_##T(int64_t hd, int nq, const float *const *q, const uint8_t *k, size_t stride, int64_t n, \
                            float *s, size_t ss) {                                                            \
        for (int64_t j = 0; j < n; j++) {                                                                     \
            const uint8_t *kj = k + (size_t)j * stride;                                                       \
            for (int qi = 0; qi < nq; qi++) {                                                                 \
                float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);                                   \
                int64_t d = 0;                                                                                \
                for (; d + 8 <= hd; d += 8) {                                                                 \
                    a0 = vfmaq_f32(a0, vld1q_f32(q[qi] + d), load4_##T(kj, d));                               \
                    a1 = vfmaq_f32(a1, vld1q_f32(q[qi] + d + 4), load4_##T(kj, d + 4));                       \
                }                                                                                             \
                float acc = vaddvq_f32(vaddq_f32(a0, a1));                                                    \
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
                for (; d + 16 <= hd; d += 16) {                                                               \
                    float32x4_t a0 = vld1q_f32(o + d), a1 = vld1q_f32(o + d + 4);                             \
                    float32x4_t a2 = vld1q_f32(o + d + 8), a3 = vld1q_f32(o + d + 12);                        \
                    for (int64_t j = j0; j < j1; j++) {                                                       \
                        const uint8_t *vj = v + (size_t)j * stride;                                           \
                        a0 = vfmaq_n_f32(a0, load4_##T(vj, d), pq[j]);                                        \
                        a1 = vfmaq_n_f32(a1, load4_##T(vj, d + 4), pq[j]);                                    \
                        a2 = vfmaq_n_f32(a2, load4_##T(vj, d + 8), pq[j]);                                    \
                        a3 = vfmaq_n_f32(a3, load4_##T(vj, d + 12), pq[j]);                                   \
                    }                                                                                         \
                    vst1q_f32(o + d, a0);                                                                     \
                    vst1q_f32(o + d + 4, a1);                                                                 \
                    vst1q_f32(o + d + 8, a2);                                                                 \
                    vst1q_f32(o + d + 12, a3);                                                                \
                }                                                                                             \
                for (; d + 4 <= hd; d += 4) {                                                                 \
                    float32x4_t a0 = vld1q_f32(o + d);                                                        \
                    for (int64_t j = j0; j < j1; j++) a0 = vfmaq_n_f32(a0, load4_##T(v + (size_t)j * stride, d), pq[j]); \
                    vst1q_f32(o + d, a0);                                                                     \
                }                                                                                             \
                for (; d < hd; d++)                                                                           \
                    for (int64_t j = j0; j < j1; j++) o[d] += pq[j] * load1_##T(v + (size_t)j * stride, d);   \
            }                                                                                                 \
        }                                                                                                     \
    }
ATTN_BODIES(f32)
ATTN_BODIES(f16)

/* float -> fp16, round to nearest even (FCVTN), as slm_fp32_to_fp16. */
static void row_f16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) y[i] = slm_fp32_to_fp16(x[i]);
}

/* exp(x) for x <= 0, as exp_neg of kernels_avx2.c (Cephes' expf). */
SLM_INLINE float32x4_t exp_neg(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.33654f);
    const uint32x4_t under = vcltq_f32(x, lo);
    x = vmaxq_f32(x, lo);
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(p, vreinterpretq_f32_s32(e))), under));
}

static void softmax(float *x, int64_t n) {
    float32x4_t vm = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vm = vmaxq_f32(vm, vld1q_f32(x + i));
    float mx = vmaxvq_f32(vm);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const float32x4_t vmx = vdupq_n_f32(mx);
    float32x4_t vs = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        const float32x4_t e = exp_neg(vsubq_f32(vld1q_f32(x + i), vmx));
        vst1q_f32(x + i, e);
        vs = vaddq_f32(vs, e);
    }
    float sum = vaddvq_f32(vs);
    for (; i < n; i++) sum += x[i] = expf(x[i] - mx);
    const float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= inv;
}

/* silu(x) * u, as kernels_avx2.c: e = exp(-|x|); x >= 0: x / (1 + e), else x e / (1 + e). */
static void swiglu(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        const float32x4_t e = exp_neg(vnegq_f32(vabsq_f32(x)));
        const float32x4_t num = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vmulq_f32(x, e), x);
        vst1q_f32(g + i, vmulq_f32(vdivq_f32(num, vaddq_f32(vdupq_n_f32(1.0f), e)), vld1q_f32(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* The bandwidth probe: one stream, 64 bytes per step into four accumulators. */
static uint64_t read_sum(const uint8_t *p, size_t bytes) {
    uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes; i += 64) {
        const uint64_t *q = (const uint64_t *)(const void *)(p + i);
        a0 = vaddq_u64(a0, vld1q_u64(q));
        a1 = vaddq_u64(a1, vld1q_u64(q + 2));
        a2 = vaddq_u64(a2, vld1q_u64(q + 4));
        a3 = vaddq_u64(a3, vld1q_u64(q + 6));
    }
    return vaddvq_u64(vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3)));
}

/* ======================================================================== */
/* Activation quantizers (bit-exact with quant/; compiled once, in "neon")   */
/* ======================================================================== */

#if !NEON_DOTPROD
/* 32 int32 (already in -127..127) in eight vectors -> 32 int8 in order. */
SLM_INLINE void store32(int8_t *qs, const int32x4_t q[8]) {
    for (int k = 0; k < 2; k++) {
        const int16x8_t a = vcombine_s16(vqmovn_s32(q[4 * k]), vqmovn_s32(q[4 * k + 1]));
        const int16x8_t b = vcombine_s16(vqmovn_s32(q[4 * k + 2]), vqmovn_s32(q[4 * k + 3]));
        vst1q_s8(qs + 16 * k, vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)));
    }
}

/* One 32-value block as in quant_legacy.c: d = amax / 127, q = roundf(x / d)
 * (FCVTAS rounds to nearest with ties away from zero, as roundf). Returns d;
 * writes the levels and their sum. */
SLM_INLINE float quant_block32(const float *x, int8_t *qs, int *sum) {
    float32x4_t v[8], mx = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(x + 4 * k);
        mx = vmaxq_f32(mx, vabsq_f32(v[k]));
    }
    const float amax = vmaxvq_f32(mx);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t q[8];
    for (int k = 0; k < 8; k++) q[k] = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
    if (sum) {
        int32x4_t s = vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]));
        s = vaddq_s32(s, vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7])));
        *sum = vaddvq_s32(s);
    }
    store32(qs, q);
    return d;
}

void slm_neon_quant_row_q8_0(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) y[i].d = slm_fp32_to_fp16(quant_block32(x + 32 * i, y[i].qs, NULL));
}

void slm_neon_quant_row_q8_1(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum;
        const float d = quant_block32(x + 32 * i, y[i].qs, &sum);
        y[i].d = slm_fp32_to_fp16(d);
        y[i].s = slm_fp32_to_fp16((float)sum * d);
    }
}

/* As quant_k.c: the signed value of largest magnitude (the first on ties)
 * maps to -127; q = nearest-even(x * iscale) (FCVTNS), at most 127. */
void slm_neon_quant_row_q8_K(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *xb = x + (size_t)i * QK_K;
        float32x4_t mx = vdupq_n_f32(0.0f);
        for (int k = 0; k < QK_K; k += 4) mx = vmaxq_f32(mx, vabsq_f32(vld1q_f32(xb + k)));
        const float amax = vmaxvq_f32(mx);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        for (int k = 0; k < QK_K; k++)
            if (fabsf(xb[k]) == amax) {
                max = xb[k];
                break;
            }
        const float iscale = -127.0f / max;
        const int32x4_t top = vdupq_n_s32(127);
        for (int k = 0; k < QK_K; k += 32) {
            int32x4_t q[8];
            for (int j = 0; j < 8; j++) q[j] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xb + k + 4 * j), iscale)), top);
            store32(y[i].qs + k, q);
        }
        for (int j = 0; j < QK_K / 16; j++) y[i].bsums[j] = vaddlvq_s8(vld1q_s8(y[i].qs + 16 * j));
        y[i].d = 1 / iscale;
    }
}
#endif

/* ======================================================================== */
/* The table                                                                 */
/* ======================================================================== */

static slm_kernel_table g_table;

const slm_kernel_table *NEON_BUILD(void) {
    slm_kernel_table *t = &g_table;
    *t = *slm_kernels_ref_int_build(); /* integer scheme; every entry below replaces one */
    t->name = NEON_TABLE_NAME;
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
    t->from_float[SLM_TYPE_Q8_0] = slm_neon_quant_row_q8_0;
    t->from_float[SLM_TYPE_Q8_1] = slm_neon_quant_row_q8_1;
    t->from_float[SLM_TYPE_Q8_K] = slm_neon_quant_row_q8_K;
    t->dot_f32 = dot_f32;
    t->attn_qk[SLM_TYPE_F32] = attn_qk_f32;
    t->attn_qk[SLM_TYPE_F16] = attn_qk_f16;
    t->attn_pv[SLM_TYPE_F32] = attn_pv_f32;
    t->attn_pv[SLM_TYPE_F16] = attn_pv_f16;
    t->from_float[SLM_TYPE_F16] = row_f16;
    t->read_sum = read_sum;
    t->softmax = softmax;
    t->swiglu = swiglu;
    return t;
}

#if NEON_DOTPROD && defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#elif NEON_DOTPROD && defined(__clang__)
#pragma clang attribute pop
#endif
