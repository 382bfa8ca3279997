/*
 * gemm_avx512.c — the AVX-512 micro-kernel of the training matmul (see
 * gemm.h): a 12 x 32 tile of C in 24 zmm accumulators; per step of k, two
 * loads of B and twelve broadcasts of A folded into the FMAs as embedded
 * {1to16} memory operands. Compiled for AVX-512F through function
 * attributes (the rest of the library stays baseline x86-64); gemm.c calls
 * it only when cpuid and XCR0 report AVX-512F. Must match gemm_ref.c to
 * rounding: every element is one FMA chain over p = 0..kc-1, then added to C.
 *
 * Why this shape: with 32 registers the tile can hold twice the AVX2
 * kernel's accumulators, so each load of B feeds 12 FMAs and each
 * broadcast 2, and the tile's load/store of C is amortised over twice the
 * work. On Zen 4 a 512-bit FMA issues at the rate of two 256-bit ones (the
 * same peak FLOP/s), but with half the instructions, which is what keeps
 * the front end and the load ports out of the way. 12 rows divide the model
 * widths that are multiples of 12 (288, 768, 1536) and 32 columns divide
 * every width that is a multiple of 32.
 */
#include "train/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdbool.h>

#ifndef AVX512_MR
#define AVX512_MR 12
#endif
#define AVX512_NR 32

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* One step of k: the MR x 32 tile += a(:, p) · b(p, :), where row i of
 * a(:, p) is at A_AT(i). The loops have constant trip counts and unroll
 * completely, so c[][] lives in registers. */
#define KSTEP(A_AT)                                                          \
    do {                                                                     \
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);        \
        _Pragma("GCC unroll 16") for (int i = 0; i < AVX512_MR; i++) {       \
            __m512 ai = _mm512_set1_ps(A_AT(i));                             \
            c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);                      \
            c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);                      \
        }                                                                    \
        b += b_rs;                                                           \
    } while (0)

AVX512 static void kernel_avx512_bs(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                    int64_t b_rs, float *c_out, int64_t ldc, bool accumulate) {
    __m512 c[AVX512_MR][2];
    _Pragma("GCC unroll 16") for (int i = 0; i < AVX512_MR; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
    /* the tile of C is written at the end: ask for its lines now, so that
     * the misses overlap the loop over k */
    _Pragma("GCC unroll 16") for (int i = 0; i < AVX512_MR; i++) {
        __builtin_prefetch(c_out + i * ldc, 1, 3);
        __builtin_prefetch(c_out + i * ldc + 31, 1, 3);
    }
    if (a_rs == 1) {
        /* a packed micro-panel or a column-major A read in place: the MR
         * values of step p are contiguous */
#define CONTIG_AT(i) a[i]
        for (int64_t p = 0; p < kc; p++, a += a_cs) KSTEP(CONTIG_AT);
#undef CONTIG_AT
    } else {
        /* rows of a row-major A read in place (a_cs 1), or any other
         * layout: row i at a + i*a_rs, one running offset */
#define STRIDED_AT(i) a[(i) * a_rs]
        for (int64_t p = 0; p < kc; p++, a += a_cs) KSTEP(STRIDED_AT);
#undef STRIDED_AT
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < AVX512_MR; i++) {
        float *cr = c_out + i * ldc;
        __m512 lo = c[i][0], hi = c[i][1];
        if (accumulate) {
            lo = _mm512_add_ps(_mm512_loadu_ps(cr), lo);
            hi = _mm512_add_ps(_mm512_loadu_ps(cr + 16), hi);
        }
        _mm512_storeu_ps(cr, lo);
        _mm512_storeu_ps(cr + 16, hi);
    }
}

AVX512 static void kernel_avx512(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, float *c,
                                 int64_t ldc, bool accumulate) {
    kernel_avx512_bs(kc, a, a_rs, a_cs, b, AVX512_NR, c, ldc, accumulate);
}

/* 16 x 16 transpose: out[c] lane j = r[j] lane c. Three rounds of
 * shuffles: pairs of floats (unpack*_ps), pairs of pairs (unpack*_pd), then
 * the four 128-bit lanes (shuffle_f32x4, twice). */
AVX512 static inline void transpose16(const __m512 r[16], __m512 out[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + e], lane L: column 4L + e of rows 4g .. 4g+3 */
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int e = 0; e < 4; e++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88), v1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xdd);
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
        __m512 w1 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xdd);
        out[e] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        out[4 + e] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        out[8 + e] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
        out[12 + e] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    }
}

/* The transposing copy of gemm.h's slm_gemm_pack_fn for the two panel
 * widths of this kernel (the forward's B = Wᵀ: 32 rows of W; an A whose
 * row stride is packed: 12 rows), 16 values of k at a time through
 * transpose16; the last kc % 16 by the scalar loop. About 15x faster than
 * the scalar copy, which cost 6-8 % of a GPT-2-sized step. */
AVX512 static bool pack_rows_avx512(float *dst, const float *src, int64_t sw, int64_t kc, int W) {
    if (W != 32 && W != 12) return false;
    const __mmask16 low12 = 0x0fff;
    int64_t p0 = 0;
    for (; p0 + 16 <= kc; p0 += 16) {
        for (int h = 0; h < W; h += 16) {
            __m512 r[16], out[16];
            for (int j = 0; j < 16; j++)
                r[j] = h + j < W ? _mm512_loadu_ps(src + (h + j) * sw + p0) : _mm512_setzero_ps();
            transpose16(r, out);
            if (W == 32)
                for (int c = 0; c < 16; c++) _mm512_storeu_ps(dst + (p0 + c) * 32 + h, out[c]);
            else
                for (int c = 0; c < 16; c++) _mm512_mask_storeu_ps(dst + (p0 + c) * 12, low12, out[c]);
        }
    }
    for (int w = 0; w < W; w++)
        for (int64_t p = p0; p < kc; p++) dst[p * W + w] = src[w * sw + p];
    return true;
}

/* KC so that the shapes of small models (K = 288) take one block; NC so
 * that a B block (at most KC x NC = 320 x 640 floats, 800 KiB; N is cut
 * into equal blocks) stays in L2 while an A micro-panel (12 x KC, 15 KiB,
 * in L1) sweeps it. Column-major A and
 * row-major B are read in place (SLM_GEMM_DIRECT): the kernel reads 12 and
 * 32 contiguous floats per step of k, whole cache lines or nearly. */
static const slm_gemm_kernel g_avx512 = {"avx512", AVX512_MR, AVX512_NR, 144, 320, 640, kernel_avx512,
                                       kernel_avx512_bs, SLM_GEMM_DIRECT, pack_rows_avx512};

const slm_gemm_kernel *slm_gemm_kernel_avx512(void) { return &g_avx512; }

#else

const slm_gemm_kernel *slm_gemm_kernel_avx512(void) { return 0; }

#endif
